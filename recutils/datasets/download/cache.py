"""Extracted folders in a cache: marker files, state checks, extraction once per archive."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from recutils.datasets.download.archives import check_archive, extract_archive, verify_file
from recutils.datasets.download.locking import file_lock
from recutils.datasets.download.settings import get_data_home
from recutils.datasets.download.specs import RemoteArchive, RemoteFile
from recutils.exceptions import CorruptDataError, DatasetUnavailableError

logger = logging.getLogger(__name__)

#: Name of the file that records where an extracted folder came from.
MARKER = ".recutils-extracted.json"
_MARKER_VERSION = 1


def has_files(folder: Path, required: Sequence[str]) -> bool:
    """True when ``folder`` is a folder holding every file named in ``required``."""
    return folder.is_dir() and all((folder / name).is_file() for name in required)


def find_folder(root: Path, spec: RemoteArchive, required: Sequence[str]) -> Path | None:
    """The folder under ``root``, by any of ``spec``'s names, that holds ``required``."""
    for name in spec.folder_names:
        if has_files(root / name, required):
            return root / name
    return None


def _source_of(archive: Path) -> dict:
    st = archive.stat()
    return {"path": str(archive.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _read_marker(folder: Path) -> dict | None:
    try:
        marker = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("version") != _MARKER_VERSION:
        return None
    if not isinstance(marker.get("files"), dict) or not isinstance(marker.get("source"), dict):
        return None
    return marker


def verified_extraction(folder: Path) -> bool:
    """True when ``folder`` was extracted by recutils from an archive whose MD5 was checked."""
    marker = _read_marker(Path(folder))
    return marker is not None and bool(marker.get("md5"))


def _manifest(folder: Path) -> dict[str, int]:
    """Size of every file under ``folder`` (marker excluded), by relative POSIX path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.name != MARKER:
            out[path.relative_to(folder).as_posix()] = path.stat().st_size
    return out


def extraction_state(target: Path, required: Sequence[str], archive: Path | None) -> str:
    """How usable ``target`` is, with ``stat`` calls only.

    ``"ok"``: extracted by recutils (from ``archive`` when given) and every file
    has its recorded size; ``"foreign"``: no marker (a folder made by hand or by
    an older recutils) but the required files are there; ``"missing"``;
    ``"stale"``: extracted from another archive; ``"damaged"``: a file is missing
    or has the wrong size.
    """
    if not target.is_dir():
        return "missing"
    marker = _read_marker(target)
    if marker is None:
        return "foreign" if has_files(target, required) else "damaged"
    if archive is not None:
        try:
            source = _source_of(archive)
        except OSError:
            return "stale"
        if marker["source"] != source:
            return "stale"
    for rel, size in marker["files"].items():
        try:
            if (target / rel).stat().st_size != size:
                return "damaged"
        except OSError:
            return "damaged"
    return "ok" if has_files(target, required) else "damaged"


def usable(state: str) -> bool:
    """True for the :func:`extraction_state` values whose folder may be read as is."""
    return state in ("ok", "foreign")


def sidecar(archive: Path) -> Path:
    """The ``.md5`` file kept next to a downloaded archive."""
    return archive.with_name(archive.name + ".md5")


def _archive_md5(spec: RemoteArchive, archive: Path) -> str | None:
    if spec.md5:
        return spec.md5
    side = sidecar(archive)
    if side.is_file():
        match = re.search(r"[0-9a-fA-F]{32}", side.read_text(errors="replace"))
        return match.group(0).lower() if match else None
    return None


def _verify_archive(spec: RemoteArchive, archive: Path, md5: str | None = None) -> str | None:
    """Check size, checksums and integrity; return the MD5 that was checked (if any)."""
    md5 = md5 or _archive_md5(spec, archive)
    verify_file(archive, size=spec.size, md5=md5, sha256=spec.sha256)
    check_archive(archive)
    return md5.lower() if md5 else None


def replace_folder(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``; an existing ``target`` is renamed aside, then deleted.

    Readers holding files of the old folder open keep reading them; a folder
    put in place meanwhile by another process (ENOTEMPTY/EEXIST) is kept.
    """
    aside = None
    if target.exists():
        aside = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        try:
            os.replace(target, aside)
        except FileNotFoundError:
            aside = None
    try:
        os.replace(source, target)
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        logger.info("another process extracted %s first; keeping its copy", target)
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)


def extract_into(
    spec: RemoteArchive, archive: Path, root: Path, required: Sequence[str], md5: str | None
) -> Path:
    """Extract ``archive`` and move the folder holding ``required`` to ``root/spec.name``.

    The folder gets a :data:`MARKER` (source archive, checked MD5, file sizes)
    before it is renamed into place, so a folder with a marker is complete.
    """
    root.mkdir(parents=True, exist_ok=True)
    target = root / spec.name
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=root))
    try:
        extract_archive(archive, tmp)
        source = None
        subfolders = sorted(p for p in tmp.iterdir() if p.is_dir())
        for candidate in [tmp / n for n in spec.folder_names] + [tmp] + subfolders:
            if has_files(candidate, required):
                source = candidate
                break
        if source is None:
            raise DatasetUnavailableError(
                f"archive {archive} does not contain {list(required)} "
                f"(looked in {[*spec.folder_names, '<top level>']})."
            )
        marker = {
            "version": _MARKER_VERSION,
            "source": _source_of(archive),
            "md5": md5,
            "files": _manifest(source),
        }
        (source / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True))
        replace_folder(source, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("extracted %s to %s", archive, target)
    return target


def from_archive(
    spec: RemoteArchive,
    archive: Path,
    root: Path,
    required: Sequence[str],
    *,
    on_corrupt: str,
    lock_wait: float,
) -> Path | None:
    """The folder extracted from ``archive`` under ``root``, extracting it if needed.

    A folder already extracted from this very archive (same path, size and
    mtime) with intact files is returned without touching the archive;
    otherwise, under the lock, the archive is verified once (size, checksum,
    integrity) and extracted. A corrupt archive raises (``on_corrupt="raise"``)
    or is deleted with its ``.md5`` sidecar and ``None`` returned
    (``on_corrupt="delete"``: a cache entry that can be fetched again).
    """
    target = root / spec.name
    if extraction_state(target, required, archive) == "ok":
        return target
    with file_lock(root, spec.name, lock_wait):
        state = extraction_state(target, required, archive)
        if state == "ok":  # another process extracted it while we waited
            return target
        if state == "damaged":
            logger.warning("%s is incomplete or damaged; extracting %s again", target, archive)
        try:
            md5 = _verify_archive(spec, archive)
        except CorruptDataError as err:
            if on_corrupt == "raise":
                raise
            logger.warning("%s; deleting it and fetching it again", err)
            archive.unlink(missing_ok=True)
            sidecar(archive).unlink(missing_ok=True)
            return None
        return extract_into(spec, archive, root, required, md5)


def local_archive_root(archive: Path) -> Path:
    """Where an archive given as ``local_cache_path`` is extracted: next to it, or (read-only
    folder) in the cache under a folder named after the archive's path."""
    parent = archive.parent
    if os.access(parent, os.W_OK | os.X_OK):
        return parent
    tag = hashlib.sha1(str(archive.resolve()).encode()).hexdigest()[:12]
    return get_data_home() / "local" / f"{archive.name}-{tag}"


def missing_files(folder: Path, files: Sequence[RemoteFile]) -> list[RemoteFile]:
    """The files of ``files`` missing from ``folder`` or of the wrong known size (``stat`` only)."""
    todo = []
    for remote in files:
        path = folder / remote.filename
        try:
            ok = path.is_file() and (remote.size is None or path.stat().st_size == remote.size)
        except OSError:
            ok = False
        if not ok:
            todo.append(remote)
    return todo
