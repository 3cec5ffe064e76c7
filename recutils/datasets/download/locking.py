"""An exclusive lock per data set folder, across processes."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from recutils.exceptions import DatasetUnavailableError

logger = logging.getLogger(__name__)

_LOCK_POLL = 0.05
_LOCK_STALE = 6 * 3600.0  # an O_EXCL lock file older than this is left over from a crash


def _poll(try_once, give_up: float, message: str) -> None:
    """Call ``try_once`` until it returns True; raise DatasetUnavailableError after ``give_up``."""
    while not try_once():
        if time.monotonic() > give_up:
            raise DatasetUnavailableError(message)
        time.sleep(_LOCK_POLL)


@contextmanager
def file_lock(root: Path, name: str, wait: float) -> Iterator[None]:
    """Hold an exclusive lock named ``name`` in folder ``root`` for the block.

    ``fcntl.flock`` where available (released by the OS if the process dies);
    otherwise an ``O_EXCL`` lock file, taken over when older than a few hours.
    Waits at most ``wait`` seconds, then raises :class:`DatasetUnavailableError`.
    """
    root.mkdir(parents=True, exist_ok=True)
    give_up = time.monotonic() + wait
    if fcntl is not None:
        path = root / f".{name}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

        def try_flock() -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        try:
            _poll(
                try_flock,
                give_up,
                f"timed out after {wait:g}s waiting for {path}, held by "
                "another process preparing the same data set.",
            )
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        return
    path = root / f".{name}.lockfile"

    def try_create() -> bool:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                if time.time() - path.stat().st_mtime > _LOCK_STALE:
                    logger.warning("removing stale lock file %s", path)
                    path.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            return False
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True

    _poll(
        try_create,
        give_up,
        f"timed out after {wait:g}s waiting for the lock file {path}; "
        "if no other process is preparing this data set, delete it.",
    )
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
