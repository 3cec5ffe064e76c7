"""Obtain data set files: local path, mirror, cache or download (standard library only).

A data set is described by a :class:`RemoteArchive`: the URL of its upstream
archive (a ``.zip`` or ``.tar.gz``), the folder name it is known by, and
whatever checksums are really known. :func:`fetch_dataset` returns a folder
that holds the files a loader needs, looking in this order:

1. ``local_cache_path`` (an argument): a folder that holds the files, the
   archive or the archive's extracted folder, or the path of the archive itself;
2. the mirror ``$RECUTILS_DATA_MIRROR``: a local folder where each data set
   stands either as its upstream archive (``ml-100k.zip``) or as that
   archive's extracted folder (``ml-100k/u.data``, ...);
3. the cache ``$RECUTILS_DATA_HOME`` (default ``$XDG_CACHE_HOME/recutils`` or
   ``~/.cache/recutils``), holding archives downloaded before and their
   extracted folders;
4. a download into ``local_cache_path`` (when it names a folder) or the cache,
   unless ``RECUTILS_OFFLINE=1``.

Downloads use a short connect/read timeout and a few retries, are written to
a ``.part`` file that is renamed only once complete and verified, and are
checked by size, checksum (where known) and an archive integrity test.
Archives are extracted into a temporary folder that is renamed into place, so
an extracted folder in the cache is always complete. A corrupt archive found
in the cache is deleted and fetched again; a corrupt download raises
:class:`~recutils.exceptions.CorruptDataError` naming the file. When nothing
works, :class:`~recutils.exceptions.DatasetUnavailableError` says which
settings would help.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import socket
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recutils.exceptions import ConfigError, CorruptDataError, DatasetUnavailableError

logger = logging.getLogger(__name__)

ENV_DATA_HOME = "RECUTILS_DATA_HOME"
ENV_DATA_MIRROR = "RECUTILS_DATA_MIRROR"
ENV_OFFLINE = "RECUTILS_OFFLINE"

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
_CHUNK = 1 << 20
_TRUE = {"1", "true", "yes", "on"}


# --------------------------------------------------------------------------- settings


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the cache folder for downloaded data sets (created if missing).

    Args:
        data_home: An explicit folder; otherwise ``$RECUTILS_DATA_HOME``, else
            ``$XDG_CACHE_HOME/recutils``, else ``~/.cache/recutils``.
    """
    if data_home is None:
        data_home = os.environ.get(ENV_DATA_HOME) or None
    if data_home is None:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path.home() / ".cache"
        data_home = base / "recutils"
    path = Path(data_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def get_mirror() -> Path | None:
    """Return the folder named by ``$RECUTILS_DATA_MIRROR``, or ``None`` when unset."""
    value = os.environ.get(ENV_DATA_MIRROR)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        logger.warning("%s=%s is not a folder; ignoring it", ENV_DATA_MIRROR, value)
        return None
    return path


def is_offline() -> bool:
    """True when ``$RECUTILS_OFFLINE`` is set to 1/true/yes: never touch the network."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in _TRUE


# --------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class RemoteArchive:
    """Where a data set's upstream archive lives and how to check it.

    Attributes:
        name: The data set's folder name in a mirror or the cache (``"ml-100k"``).
        url: URL of the archive (``https://``, ``http://`` or ``file://``).
        archive_folder: The top folder inside the archive when it differs from
            ``name`` (``"ml-10M100K"`` for ``ml-10m.zip``); ``""`` when the files
            sit at the archive's top level.
        md5: Known MD5 of the archive, if any (never guessed).
        sha256: Known SHA-256 of the archive, if any.
        size: Known size in bytes, if any.
        md5_url: URL of a published checksum file (GroupLens puts
            ``<archive>.md5`` next to each MovieLens zip); fetched after a
            download when ``md5`` is not known. A failure to fetch it is logged
            and the archive integrity test still applies.
    """

    name: str
    url: str
    archive_folder: str | None = None
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None
    md5_url: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def filename(self) -> str:
        """The archive's file name, taken from the URL."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def folder_names(self) -> tuple[str, ...]:
        """Names the extracted folder may have (``name`` first)."""
        names = [self.name]
        if self.archive_folder:
            names.append(self.archive_folder)
        names.extend(self.aliases)
        return tuple(dict.fromkeys(names))


# --------------------------------------------------------------------------- checks


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


def _safe_target(root: Path, member: str) -> Path:
    target = (root / member).resolve()
    if not target.is_relative_to(root.resolve()):
        raise CorruptDataError(f"archive member {member!r} would be written outside {root}.")
    return target


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a zip or tar archive into ``dest`` (created), refusing unsafe paths.

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
                tf.extractall(dest, filter="data")
    except CorruptDataError:
        raise
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as err:
        raise CorruptDataError(f"could not extract {archive}: {err}") from err
    return dest


# --------------------------------------------------------------------------- download


class _PermanentError(Exception):
    """A download error that retrying will not fix."""


def _open_url(url: str, timeout: float):
    request = urllib.request.Request(url, headers={"User-Agent": "recutils"})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (scheme checked)


def _is_permanent(err: BaseException) -> bool:
    if isinstance(err, urllib.error.HTTPError):
        return err.code < 500 and err.code not in (408, 429)
    if isinstance(err, urllib.error.URLError):
        reason = err.reason
        if isinstance(reason, socket.gaierror):
            # No name resolution: the network is blocked or the name is wrong.
            return getattr(reason, "errno", None) != socket.EAI_AGAIN
        if isinstance(reason, (FileNotFoundError, PermissionError, IsADirectoryError)):
            return True
        if isinstance(reason, str) and "unknown url type" in reason:
            return True
    return False


def download_file(
    url: str,
    dest: str | os.PathLike,
    *,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    backoff: float = 0.5,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` atomically and verify it.

    The data goes to ``dest + ".part"``, which is renamed to ``dest`` only
    after the byte count matches ``Content-Length`` (and ``size``) and the
    checksums match. Network errors (timeouts, resets, 5xx) are retried
    ``retries`` times with exponential backoff (``backoff * 2**attempt`` s);
    errors retrying cannot fix (404, unknown host, missing ``file://`` path)
    fail at once.

    Args:
        url: ``http(s)://`` or ``file://`` URL.
        dest: Destination file path; its folder is created.
        size, md5, sha256: Known size/checksums to verify, if any.
        timeout: Socket timeout in seconds for the connection and each read.
        retries: Extra attempts after the first on transient errors.
        backoff: Base delay between attempts, in seconds.
        progress: Show a tqdm progress bar.

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        DatasetUnavailableError: the file could not be fetched (with the cause).
        CorruptDataError: it was fetched but failed verification (the ``.part``
            file is removed).
    """
    if not re.match(r"^(https?|file)://", url):
        raise ConfigError(f"unsupported URL {url!r}: allowed schemes are http, https and file.")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last_error: BaseException | None = None
    for attempt in range(retries + 1):
        try:
            _download_once(url, part, timeout=timeout, progress=progress)
            break
        except CorruptDataError:
            part.unlink(missing_ok=True)
            raise
        except (TimeoutError, urllib.error.URLError, OSError) as err:
            part.unlink(missing_ok=True)
            last_error = err
            if _is_permanent(err) or attempt == retries:
                break
            delay = backoff * (2**attempt)
            logger.warning(
                "download of %s failed (%s); retry %d/%d in %.1fs",
                url, err, attempt + 1, retries, delay,
            )
            time.sleep(delay)
    if not part.exists():
        raise DatasetUnavailableError(f"could not download {url}: {last_error}") from last_error
    try:
        verify_file(part, size=size, md5=md5, sha256=sha256)
    except CorruptDataError as err:
        part.unlink(missing_ok=True)
        raise CorruptDataError(f"download of {url} is corrupt ({dest.name}): {err}") from err
    os.replace(part, dest)
    logger.info("downloaded %s to %s", url, dest)
    return dest


def _download_once(url: str, part: Path, *, timeout: float, progress: bool) -> None:
    from tqdm.auto import tqdm  # core dependency; imported here to keep import light

    with _open_url(url, timeout) as response:
        length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        total = int(length) if length and length.isdigit() else None
        received = 0
        with open(part, "wb") as out, tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.name[: -len(".part")],
            disable=not progress,
            leave=False,
        ) as bar:
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise CorruptDataError(
            f"{part.name[: -len('.part')]}: received {received} bytes of {total} "
            f"announced by {url} (connection cut)."
        )


def fetch_md5(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """Fetch a published checksum file and return the first 32-hex-digit token in it.

    Accepts both ``md5sum`` (``<hex>  <file>``) and BSD (``MD5 (<file>) = <hex>``)
    styles. Returns ``None`` (and logs why) when it cannot be fetched or parsed.
    """
    try:
        with _open_url(url, timeout) as response:
            text = response.read(4096).decode("ascii", errors="replace")
    except (TimeoutError, urllib.error.URLError, OSError) as err:
        logger.warning("could not fetch checksum %s: %s", url, err)
        return None
    match = re.search(r"\b([0-9a-fA-F]{32})\b", text)
    if not match:
        logger.warning("no MD5 found in %s", url)
        return None
    return match.group(1).lower()


# --------------------------------------------------------------------------- resolution


def _has_files(folder: Path, required: Sequence[str]) -> bool:
    return folder.is_dir() and all((folder / name).is_file() for name in required)


def _find_folder(root: Path, spec: RemoteArchive, required: Sequence[str]) -> Path | None:
    for name in spec.folder_names:
        if _has_files(root / name, required):
            return root / name
    return None


def _sidecar(archive: Path) -> Path:
    return archive.with_name(archive.name + ".md5")


def _archive_md5(spec: RemoteArchive, archive: Path) -> str | None:
    if spec.md5:
        return spec.md5
    side = _sidecar(archive)
    if side.is_file():
        match = re.search(r"[0-9a-fA-F]{32}", side.read_text(errors="replace"))
        return match.group(0).lower() if match else None
    return None


def _verify_archive(spec: RemoteArchive, archive: Path) -> None:
    verify_file(archive, size=spec.size, md5=_archive_md5(spec, archive), sha256=spec.sha256)
    check_archive(archive)


def _extract_into(spec: RemoteArchive, archive: Path, root: Path, required: Sequence[str]) -> Path:
    """Extract ``archive`` and move the folder holding ``required`` to ``root/spec.name``."""
    root.mkdir(parents=True, exist_ok=True)
    target = root / spec.name
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-", dir=root))
    try:
        extract_archive(archive, tmp)
        source = None
        subfolders = sorted(p for p in tmp.iterdir() if p.is_dir())
        for candidate in [tmp / n for n in spec.folder_names] + [tmp] + subfolders:
            if _has_files(candidate, required):
                source = candidate
                break
        if source is None:
            raise DatasetUnavailableError(
                f"archive {archive} does not contain {list(required)} "
                f"(looked in {[*spec.folder_names, '<top level>']})."
            )
        if target.exists():
            shutil.rmtree(target)
        os.replace(source, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("extracted %s to %s", archive, target)
    return target


def _unavailable(spec: RemoteArchive, required: Sequence[str], looked: list[str], why: str):
    return DatasetUnavailableError(
        f"data set {spec.name!r} (files {list(required)}) is not available: {why}. "
        f"Looked in: {'; '.join(looked) or 'nowhere'}. To fix, do one of: "
        f"set {ENV_DATA_MIRROR} to a folder holding {spec.name}/ (extracted) or "
        f"{spec.filename}; set {ENV_DATA_HOME} to a cache folder that holds them; "
        f"pass local_cache_path= a folder or archive holding them; or allow the download "
        f"of {spec.url} (network access, {ENV_OFFLINE} unset)."
    )


def fetch_dataset(
    spec: RemoteArchive,
    required: Sequence[str],
    local_cache_path: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Path:
    """Return a folder holding every file in ``required`` for the data set ``spec``.

    Looks in ``local_cache_path``, the mirror, the cache, then downloads (see the
    module docstring for the details and the order).

    Args:
        spec: The data set's archive description.
        required: File names (relative to the data set folder) the caller needs.
        local_cache_path: A folder (holding the files, the extracted folder or the
            archive; a download goes there) or the path of the archive itself.
        progress: Show a progress bar while downloading.
        timeout, retries: Network settings for :func:`download_file`.

    Raises:
        DatasetUnavailableError: not found anywhere and not downloadable; the
            message says what to set.
        CorruptDataError: an archive given explicitly (``local_cache_path`` or
            mirror) or freshly downloaded is corrupt.
    """
    required = list(required)
    looked: list[str] = []
    download_root: Path | None = None

    # 1. explicit local path
    if local_cache_path is not None:
        local = Path(local_cache_path).expanduser()
        if local.is_file() or local.suffix.lower() in (".zip", ".gz", ".tgz", ".tar"):
            looked.append(f"local_cache_path archive {local}")
            if local.is_file():
                check_archive(local)
                return _extract_into(spec, local, get_data_home(), required)
        else:
            looked.append(f"local_cache_path {local}")
            if _has_files(local, required):
                return local
            found = _find_folder(local, spec, required)
            if found is not None:
                return found
            archive = local / spec.filename
            if archive.is_file():
                try:
                    _verify_archive(spec, archive)
                    return _extract_into(spec, archive, local, required)
                except CorruptDataError as err:
                    logger.warning("%s; deleting it and fetching it again", err)
                    archive.unlink(missing_ok=True)
            download_root = local

    # 2. mirror
    mirror = get_mirror()
    if mirror is not None:
        looked.append(f"{ENV_DATA_MIRROR}={mirror}")
        found = _find_folder(mirror, spec, required)
        if found is not None:
            return found
        archive = mirror / spec.filename
        if archive.is_file():
            _verify_archive(spec, archive)  # a corrupt mirror cannot be refetched: raise
            return _extract_into(spec, archive, get_data_home(), required)
    else:
        looked.append(f"{ENV_DATA_MIRROR} (unset)")

    # 3. cache
    home = get_data_home()
    looked.append(f"cache {home}")
    found = _find_folder(home, spec, required)
    if found is not None:
        return found
    cached = home / spec.filename
    if cached.is_file():
        try:
            _verify_archive(spec, cached)
            return _extract_into(spec, cached, home, required)
        except CorruptDataError as err:
            logger.warning("cached archive is corrupt (%s); deleting it and fetching it again", err)
            cached.unlink(missing_ok=True)
            _sidecar(cached).unlink(missing_ok=True)

    # 4. download
    if is_offline():
        raise _unavailable(spec, required, looked, f"{ENV_OFFLINE} is set, so no download")
    root = download_root or home
    archive = root / spec.filename
    try:
        download_file(
            spec.url, archive, size=spec.size, md5=spec.md5, sha256=spec.sha256,
            timeout=timeout, retries=retries, progress=progress,
        )
    except DatasetUnavailableError as err:
        raise _unavailable(spec, required, looked, f"download failed ({err})") from err
    md5 = spec.md5
    if md5 is None and spec.md5_url:
        md5 = fetch_md5(spec.md5_url, timeout=timeout)
    try:
        if md5 is not None:
            verify_file(archive, md5=md5)
        check_archive(archive)
    except CorruptDataError as err:
        archive.unlink(missing_ok=True)
        raise CorruptDataError(
            f"downloaded {spec.filename} from {spec.url} is corrupt: {err}"
        ) from err
    if md5 is not None:
        _sidecar(archive).write_text(f"{md5}  {spec.filename}\n")
    return _extract_into(spec, archive, root, required)


__all__ = [
    "ENV_DATA_HOME",
    "ENV_DATA_MIRROR",
    "ENV_OFFLINE",
    "RemoteArchive",
    "check_archive",
    "download_file",
    "extract_archive",
    "fetch_dataset",
    "fetch_md5",
    "file_hash",
    "get_data_home",
    "get_mirror",
    "is_offline",
    "verify_file",
]
