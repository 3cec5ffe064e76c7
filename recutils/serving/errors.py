"""The error a request gets from the service (its own module, so that every serving module
can raise it without importing the service)."""

from __future__ import annotations

from recutils.exceptions import RecUtilsError


class ServiceError(RecUtilsError, ValueError):
    """A request the service refuses; ``status`` is the HTTP status it maps to (4xx)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


__all__ = ["ServiceError"]
