"""Local network helpers shared by the processes recutils starts (services, Spark daemons)."""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (bound once and released).

    Another process may take the port before the caller binds it; callers that start a
    server on it retry or report the failure.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
