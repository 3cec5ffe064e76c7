"""File checks and archives: checksums, integrity tests, safe extraction."""

from __future__ import annotations

import hashlib
import os
import tarfile
import zipfile
import zlib
from pathlib import Path

from recutils.exceptions import CorruptDataError

_CHUNK = 1 << 20
# tarfile's extraction filters exist from Python 3.10.12 / 3.11.4 on.
_TAR_HAS_FILTER = hasattr(tarfile, "data_filter")


def file_hash(path: str | os.PathLike, algorithm: str = "md5") -> str:
    """Return the hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(
    path: str | os.PathLike,
    *,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
) -> None:
    """Check a file's size and checksums; raise :class:`CorruptDataError` on mismatch."""
    path = Path(path)
    if not path.is_file():
        raise CorruptDataError(f"{path} is missing or not a file.")
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise CorruptDataError(
            f"{path} has {actual_size} bytes, expected {size}: truncated or wrong file."
        )
    for algorithm, expected in (("md5", md5), ("sha256", sha256)):
        if expected:
            actual = file_hash(path, algorithm)
            if actual.lower() != expected.lower():
                raise CorruptDataError(
                    f"{path} failed its {algorithm} check: got {actual}, expected {expected}."
                )


def check_archive(path: str | os.PathLike) -> None:
    """Test a ``.zip`` or ``.tar(.gz)`` archive's integrity by reading every member.

    Raises:
        CorruptDataError: naming the file, when it cannot be read completely.
    """
    path = Path(path)
    name = path.name.lower()
    try:
        if name.endswith(".zip"):
            if not zipfile.is_zipfile(path):
                raise CorruptDataError(f"{path} is not a valid zip archive (truncated or corrupt).")
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
            if bad is not None:
                raise CorruptDataError(f"{path} is corrupt: member {bad!r} fails its CRC check.")
        else:
            with tarfile.open(path, "r:*") as tf:
                for member in tf:
                    if member.isfile():
                        fh = tf.extractfile(member)
                        if fh is not None:
                            while fh.read(_CHUNK):
                                pass
    except CorruptDataError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, ValueError) as err:
        raise CorruptDataError(f"{path} is corrupt or truncated: {err}") from err


def _within(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _safe_target(root: Path, member: str) -> Path:
    target = (root / member).resolve()
    if not target.is_relative_to(root.resolve()):
        raise CorruptDataError(f"archive member {member!r} would be written outside {root}.")
    return target


def _safe_tar_members(tf: tarfile.TarFile, dest: Path) -> list[tarfile.TarInfo]:
    """The checks of ``filter="data"``, also for Pythons without tar filters.

    Refuses members written outside ``dest``, links pointing outside it and
    device/FIFO members; drops set-uid/set-gid/sticky and group/other write bits.
    """
    members = []
    for member in tf.getmembers():
        _safe_target(dest, member.name)
        if member.ischr() or member.isblk() or member.isfifo() or member.isdev():
            raise CorruptDataError(f"archive member {member.name!r} is a device or FIFO.")
        if member.issym() or member.islnk():
            link = member.linkname
            base = (dest / member.name).parent if member.issym() else dest
            if os.path.isabs(link) or not _within(base / link, dest):
                raise CorruptDataError(
                    f"archive member {member.name!r} links to {link!r}, outside {dest}."
                )
        if member.mode is not None:
            member.mode &= 0o755
        members.append(member)
    return members


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a zip or tar archive into ``dest`` (created), refusing unsafe paths.

    Tar members are checked one by one (paths and links inside ``dest``, no
    devices), then extracted with ``filter="data"`` where Python has it
    (3.10.12+, 3.11.4+).

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.
    """
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _safe_target(dest, info.filename)
                zf.extractall(dest)
        else:
            with tarfile.open(archive, "r:*") as tf:
                members = _safe_tar_members(tf, dest)
                if _TAR_HAS_FILTER:
                    tf.extractall(dest, members=members, filter="data")
                else:
                    tf.extractall(dest, members=members)
    except CorruptDataError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as err:
        raise CorruptDataError(f"could not extract {archive}: {err}") from err
    return dest
