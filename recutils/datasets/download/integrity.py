"""Published-file checks: the digest of each file a loader reads, hashed once per process.

A data set's files are pinned by their published digests (:class:`PublishedFile`):
SHA-256 where the publisher's file is known byte for byte, or the git blob id
(``git hash-object``) where that is the only digest on record. :func:`check_published`
compares a file with its pins and raises :class:`~recutils.exceptions.CorruptDataError`
naming the file, the expected and actual digests and how to get a good copy.

Hashing costs time on big files, so a verdict is kept per process, keyed by the
file's path, device, inode, size, modification and change times: a file is hashed
again only when any of them changes (a rewrite, a truncation, a ``touch``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from recutils.datasets.download.archives import _CHUNK
from recutils.datasets.download.settings import ENV_DATA_MIRROR
from recutils.exceptions import ConfigError, CorruptDataError

#: Digest kinds :class:`PublishedFile` accepts.
ALGORITHMS: tuple[str, ...] = ("sha256", "git-blob")

_VERDICTS: dict[tuple, str] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class PublishedFile:
    """The known digests of one published file.

    Attributes:
        name: The file's name in the data set folder (``"u.data"``).
        digests: Hex digests of every known published version of the file (one for a
            frozen release, several where the publisher re-issued it).
        algorithm: ``"sha256"``, or ``"git-blob"`` (the id ``git hash-object`` prints:
            SHA-1 of ``b"blob <size>\\0"`` and the content).
    """

    name: str
    digests: tuple[str, ...]
    algorithm: str = "sha256"

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ConfigError(
                f"unknown digest algorithm {self.algorithm!r}; allowed: {list(ALGORITHMS)}."
            )
        if not self.digests:
            raise ConfigError(f"{self.name}: a published file needs at least one digest.")


def _digest(path: Path, algorithm: str, size: int) -> str:
    if algorithm == "git-blob":
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(f"blob {size}\0".encode())
    else:
        digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """The hex digest of ``path``, computed once per process for an unchanged file.

    The verdict is keyed by the resolved path, device, inode, size and the
    modification and change times (nanoseconds), so a file changed in any way is
    hashed again.
    """
    path = Path(path)
    st = path.stat()
    key = (
        str(path.resolve()),
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        algorithm,
    )
    with _LOCK:
        known = _VERDICTS.get(key)
    if known is not None:
        return known
    actual = _digest(path, algorithm, st.st_size)
    with _LOCK:
        _VERDICTS[key] = actual
    return actual


def clear_digest_cache() -> None:
    """Forget every digest computed in this process (the next check hashes again)."""
    with _LOCK:
        _VERDICTS.clear()


def check_published(folder: str | os.PathLike, published: PublishedFile, *, dataset: str) -> Path:
    """Check that ``folder/published.name`` is one of the published versions of the file.

    Returns:
        The file's path.

    Raises:
        CorruptDataError: the file is missing or its digest matches none of the
            published ones; the message names the file, the expected and the actual
            digest, and how to get a good copy.
    """
    path = Path(folder) / published.name
    if not path.is_file():
        raise CorruptDataError(f"{path} ({dataset}) is missing or not a file.")
    actual = file_digest(path, published.algorithm)
    expected = [d.lower() for d in published.digests]
    if actual in expected:
        return path
    wanted = expected[0] if len(expected) == 1 else " or ".join(expected)
    raise CorruptDataError(
        f"{path} is not the published {dataset} file {published.name!r}: expected "
        f"{published.algorithm} {wanted}, got {actual} ({path.stat().st_size} bytes). The file "
        f"is damaged, truncated or was changed. To download it again, delete the folder "
        f"{path.parent} (and the archive beside it, if any) and load again; in a mirror "
        f"({ENV_DATA_MIRROR}) replace it with the published file."
    )


__all__ = [
    "ALGORITHMS",
    "PublishedFile",
    "check_published",
    "clear_digest_cache",
    "file_digest",
]
