"""Helpers for the local processes recutils starts (services, Spark daemons)."""

from __future__ import annotations

import socket
import subprocess

__all__ = ["free_port", "stop_process"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (bound once and released).

    Another process may take the port before the caller binds it; callers that start a
    server on it retry or report the failure.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> int | None:
    """SIGTERM ``proc`` if it still runs, then SIGKILL after ``grace`` seconds.

    Returns:
        The exit status.
    """
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
    return proc.returncode
