"""Obtain data set files: local path, mirror, cache or download (standard library only).

A data set is described by a :class:`RemoteArchive`: the URL of its upstream
archive (a ``.zip`` or ``.tar.gz``), the folder name it is known by, and
whatever checksums are really known. :func:`fetch_dataset` returns a folder
that holds the files a loader needs, looking in this order:

1. ``local_cache_path`` (an argument): a folder that holds the files, the
   archive or the archive's extracted folder, or the path of the archive itself
   (extracted next to it, or into the cache under a folder named after the
   archive's path when its folder is read-only);
2. the mirror ``$RECUTILS_DATA_MIRROR``: a local folder where each data set
   stands either as its upstream archive (``ml-100k.zip``) or as that
   archive's extracted folder (``ml-100k/u.data``, ...);
3. the cache ``$RECUTILS_DATA_HOME`` (default ``$XDG_CACHE_HOME/recutils`` or
   ``~/.cache/recutils``), holding archives downloaded before and their
   extracted folders;
4. a download into ``local_cache_path`` (when it names a folder) or the cache,
   unless ``RECUTILS_OFFLINE=1``.

Downloads use a connect/read timeout, an overall deadline (``max_seconds``, or
``$RECUTILS_DOWNLOAD_MAX_SECONDS``) and a minimum transfer rate, are retried on
transient errors (timeouts, resets, cut connections, 5xx), are written to a
``.part`` file that is renamed only once complete and verified, and are checked
by size, checksum and an archive integrity test. The MD5 of an archive is
pinned in its spec where the publisher's value is fixed, else fetched from the
published ``.md5`` file; when that fetch fails the download is refused unless
``allow_unverified=True`` or ``$RECUTILS_ALLOW_UNVERIFIED=1``.

Extraction happens once per archive: the extracted folder holds a marker file
(:data:`MARKER`) recording its source archive (path, size, mtime, MD5 checked)
and the size of every extracted file. A later load accepts the folder after a
``stat`` of each file (so a truncated or deleted file is noticed and the folder
is extracted again from the archive, or downloaded again); it does not re-hash
the archive. Extraction runs under a file lock (``fcntl`` on POSIX, an
``O_EXCL`` lock file elsewhere), into a temporary folder that is renamed into
place; a folder another process is reading is renamed aside, never deleted in
place. A corrupt archive found in the cache is deleted and fetched again; a
corrupt archive given explicitly (mirror, ``local_cache_path``) or freshly
downloaded raises :class:`~recutils.exceptions.CorruptDataError` naming the
file. When nothing works, :class:`~recutils.exceptions.DatasetUnavailableError`
says which settings would help.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import json
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from recutils.exceptions import ConfigError, CorruptDataError, DatasetUnavailableError

logger = logging.getLogger(__name__)

ENV_DATA_HOME = "RECUTILS_DATA_HOME"
ENV_DATA_MIRROR = "RECUTILS_DATA_MIRROR"
ENV_OFFLINE = "RECUTILS_OFFLINE"
ENV_ALLOW_UNVERIFIED = "RECUTILS_ALLOW_UNVERIFIED"
ENV_MAX_SECONDS = "RECUTILS_DOWNLOAD_MAX_SECONDS"

DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
#: Average bytes per second below which a transfer is abandoned (after a grace
#: period of ``3 * timeout`` seconds).
DEFAULT_MIN_RATE = 10 * 1024
#: Name of the file that records where an extracted folder came from.
MARKER = ".recutils-extracted.json"
_MARKER_VERSION = 1
_CHUNK = 1 << 20
_TRUE = {"1", "true", "yes", "on"}
# tarfile's extraction filters exist from Python 3.10.12 / 3.11.4 on.
_TAR_HAS_FILTER = hasattr(tarfile, "data_filter")
_LOCK_POLL = 0.05
_LOCK_STALE = 6 * 3600.0  # an O_EXCL lock file older than this is left over from a crash


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


def allow_unverified_default() -> bool:
    """True when ``$RECUTILS_ALLOW_UNVERIFIED`` is 1/true/yes (see :func:`fetch_dataset`)."""
    return os.environ.get(ENV_ALLOW_UNVERIFIED, "").strip().lower() in _TRUE


def default_max_seconds(timeout: float = DEFAULT_TIMEOUT) -> float:
    """Overall deadline of one download: ``$RECUTILS_DOWNLOAD_MAX_SECONDS``, else
    ``max(60, 30 * timeout)`` seconds."""
    value = os.environ.get(ENV_MAX_SECONDS, "").strip()
    if value:
        try:
            seconds = float(value)
        except ValueError as err:
            raise ConfigError(
                f"{ENV_MAX_SECONDS}={value!r} must be a number of seconds > 0."
            ) from err
        if not seconds > 0:
            raise ConfigError(f"{ENV_MAX_SECONDS}={value!r} must be a number of seconds > 0.")
        return seconds
    return max(60.0, 30.0 * float(timeout))


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
        md5: Known MD5 of the archive, if any (never guessed): the publisher's value.
        sha256: Known SHA-256 of the archive, if any.
        size: Known size in bytes, if any.
        md5_url: URL of a published checksum file (GroupLens puts
            ``<archive>.md5`` next to each MovieLens zip); fetched before a
            download when ``md5`` is not known. When it cannot be fetched the
            download is refused unless unverified archives are allowed.
        aliases: Other names the extracted folder may have.
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


# --------------------------------------------------------------------------- download


class _ShortRead(Exception):
    """The connection ended before the announced number of bytes arrived."""


class _TooSlow(Exception):
    """The transfer passed its deadline or fell below the minimum rate."""


# Errors worth another attempt (unless _is_permanent says otherwise).
_TRANSIENT = (TimeoutError, urllib.error.URLError, OSError, http.client.HTTPException, _ShortRead)


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
    max_seconds: float | None = None,
    min_rate: float = DEFAULT_MIN_RATE,
) -> Path:
    """Download ``url`` to ``dest`` atomically and verify it.

    The data goes to ``dest + ".part"``, which is renamed to ``dest`` only
    after the byte count matches ``Content-Length`` (and ``size``) and the
    checksums match; the ``.part`` file never outlives a failure. Transient
    errors (timeouts, resets, a connection cut before ``Content-Length`` bytes,
    ``http.client`` errors, 5xx) are retried ``retries`` times with exponential
    backoff (``backoff * 2**attempt`` s); errors retrying cannot fix (404,
    unknown host, missing ``file://`` path) fail at once.

    ``timeout`` bounds each socket operation; ``max_seconds`` bounds the whole
    call, retries included, and a transfer whose average rate stays below
    ``min_rate`` bytes/s after ``3 * timeout`` seconds is abandoned, so a server
    that trickles bytes cannot hold a caller forever.

    Args:
        url: ``http(s)://`` or ``file://`` URL.
        dest: Destination file path; its folder is created.
        size, md5, sha256: Known size/checksums to verify, if any.
        timeout: Socket timeout in seconds for the connection and each read.
        retries: Extra attempts after the first on transient errors.
        backoff: Base delay between attempts, in seconds.
        progress: Show a tqdm progress bar.
        max_seconds: Overall deadline in seconds; default
            :func:`default_max_seconds` (``$RECUTILS_DOWNLOAD_MAX_SECONDS`` or
            ``max(60, 30 * timeout)``).
        min_rate: Minimum average rate in bytes/s (0 turns the check off).

    Returns:
        ``dest`` as a :class:`~pathlib.Path`.

    Raises:
        DatasetUnavailableError: the file could not be fetched (with the cause
            and, for a deadline or rate failure, what to set).
        CorruptDataError: it was fetched but failed verification.
    """
    if not re.match(r"^(https?|file)://", url):
        raise ConfigError(f"unsupported URL {url!r}: allowed schemes are http, https and file.")
    if max_seconds is None:
        max_seconds = default_max_seconds(timeout)
    if not max_seconds > 0:
        raise ConfigError(f"max_seconds must be > 0, got {max_seconds!r}.")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    deadline = time.monotonic() + max_seconds
    done = False
    try:
        for attempt in range(retries + 1):
            try:
                _download_once(url, part, timeout=timeout, progress=progress, deadline=deadline,
                               max_seconds=max_seconds, min_rate=min_rate)
                break
            except _TooSlow as err:
                raise DatasetUnavailableError(
                    f"could not download {url}: {err}. Pass max_seconds= / set {ENV_MAX_SECONDS} "
                    f"to a larger number of seconds, or put the file in {ENV_DATA_MIRROR}."
                ) from err
            except _TRANSIENT as err:
                part.unlink(missing_ok=True)
                delay = backoff * (2**attempt)
                if (
                    _is_permanent(err)
                    or attempt == retries
                    or time.monotonic() + delay >= deadline
                ):
                    raise DatasetUnavailableError(
                        f"could not download {url} ({attempt + 1} attempt(s)): "
                        f"{type(err).__name__}: {err}"
                    ) from err
                logger.warning(
                    "download of %s failed (%s); retry %d/%d in %.1fs",
                    url, err, attempt + 1, retries, delay,
                )
                time.sleep(delay)
        try:
            verify_file(part, size=size, md5=md5, sha256=sha256)
        except CorruptDataError as err:
            raise CorruptDataError(f"download of {url} is corrupt ({dest.name}): {err}") from err
        os.replace(part, dest)
        done = True
    finally:
        if not done:
            part.unlink(missing_ok=True)
    logger.info("downloaded %s to %s", url, dest)
    return dest


def _download_once(
    url: str,
    part: Path,
    *,
    timeout: float,
    progress: bool,
    deadline: float,
    max_seconds: float,
    min_rate: float,
) -> None:
    from tqdm.auto import tqdm  # core dependency; imported here to keep import light

    start = time.monotonic()
    grace = 3.0 * float(timeout)
    with _open_url(url, timeout) as response:
        length = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        total = int(length) if length and length.isdigit() else None
        # read1 returns after one socket read, so the clock is checked between
        # reads even when a server trickles bytes slower than `timeout` per read.
        read = getattr(response, "read1", None) or response.read
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
                now = time.monotonic()
                if now > deadline:
                    raise _TooSlow(
                        f"not complete after max_seconds={max_seconds:g} "
                        f"({received} of {total if total is not None else '?'} bytes received)"
                    )
                elapsed = now - start
                if min_rate and elapsed > grace and received / elapsed < min_rate:
                    raise _TooSlow(
                        f"{received / elapsed:.0f} bytes/s after {elapsed:.1f}s, below "
                        f"min_rate={min_rate:g} bytes/s"
                    )
                chunk = read(_CHUNK)
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if total is not None and received != total:
        raise _ShortRead(
            f"received {received} bytes of {total} announced by {url} (connection cut)"
        )


def fetch_md5(url: str, *, timeout: float = DEFAULT_TIMEOUT) -> str | None:
    """Fetch a published checksum file and return the first 32-hex-digit token in it.

    Accepts both ``md5sum`` (``<hex>  <file>``) and BSD (``MD5 (<file>) = <hex>``)
    styles. Returns ``None`` (and logs why) when it cannot be fetched or parsed.
    """
    try:
        with _open_url(url, timeout) as response:
            text = response.read(4096).decode("ascii", errors="replace")
    except (*_TRANSIENT, ValueError) as err:
        logger.warning("could not fetch checksum %s: %s", url, err)
        return None
    match = re.search(r"\b([0-9a-fA-F]{32})\b", text)
    if not match:
        logger.warning("no MD5 found in %s", url)
        return None
    return match.group(1).lower()


# --------------------------------------------------------------------------- locking


def _poll(try_once, give_up: float, message: str) -> None:
    """Call ``try_once`` until it returns True; raise DatasetUnavailableError after ``give_up``."""
    while not try_once():
        if time.monotonic() > give_up:
            raise DatasetUnavailableError(message)
        time.sleep(_LOCK_POLL)


@contextmanager
def _file_lock(root: Path, name: str, wait: float) -> Iterator[None]:
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
            _poll(try_flock, give_up, f"timed out after {wait:g}s waiting for {path}, held by "
                                      "another process preparing the same data set.")
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

    _poll(try_create, give_up, f"timed out after {wait:g}s waiting for the lock file {path}; "
                               "if no other process is preparing this data set, delete it.")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- extracted folders


def _has_files(folder: Path, required: Sequence[str]) -> bool:
    return folder.is_dir() and all((folder / name).is_file() for name in required)


def _find_folder(root: Path, spec: RemoteArchive, required: Sequence[str]) -> Path | None:
    for name in spec.folder_names:
        if _has_files(root / name, required):
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


def _manifest(folder: Path) -> dict[str, int]:
    """Size of every file under ``folder`` (marker excluded), by relative POSIX path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.name != MARKER:
            out[path.relative_to(folder).as_posix()] = path.stat().st_size
    return out


def _extraction_state(target: Path, required: Sequence[str], archive: Path | None) -> str:
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
        return "foreign" if _has_files(target, required) else "damaged"
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
    return "ok" if _has_files(target, required) else "damaged"


def _usable(state: str) -> bool:
    return state in ("ok", "foreign")


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


def _verify_archive(spec: RemoteArchive, archive: Path, md5: str | None = None) -> str | None:
    """Check size, checksums and integrity; return the MD5 that was checked (if any)."""
    md5 = md5 or _archive_md5(spec, archive)
    verify_file(archive, size=spec.size, md5=md5, sha256=spec.sha256)
    check_archive(archive)
    return md5.lower() if md5 else None


def _replace_folder(source: Path, target: Path) -> None:
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


def _extract_into(
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
            if _has_files(candidate, required):
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
        _replace_folder(source, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("extracted %s to %s", archive, target)
    return target


def _from_archive(
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
    if _extraction_state(target, required, archive) == "ok":
        return target
    with _file_lock(root, spec.name, lock_wait):
        state = _extraction_state(target, required, archive)
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
            _sidecar(archive).unlink(missing_ok=True)
            return None
        return _extract_into(spec, archive, root, required, md5)


def _local_archive_root(archive: Path) -> Path:
    """Where an archive given as ``local_cache_path`` is extracted: next to it, or (read-only
    folder) in the cache under a folder named after the archive's path."""
    parent = archive.parent
    if os.access(parent, os.W_OK | os.X_OK):
        return parent
    tag = hashlib.sha1(str(archive.resolve()).encode()).hexdigest()[:12]
    return get_data_home() / "local" / f"{archive.name}-{tag}"


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
    max_seconds: float | None = None,
    allow_unverified: bool | None = None,
) -> Path:
    """Return a folder holding every file in ``required`` for the data set ``spec``.

    Looks in ``local_cache_path``, the mirror, the cache, then downloads (see the
    module docstring for the details and the order).

    Args:
        spec: The data set's archive description.
        required: File names (relative to the data set folder) the caller needs.
        local_cache_path: A folder (holding the files, the extracted folder or the
            archive; a download goes there) or the path of the archive itself
            (extracted next to it, never over the shared cache's folder).
        progress: Show a progress bar while downloading.
        timeout, retries, max_seconds: Network settings for :func:`download_file`.
        allow_unverified: Download even when ``spec`` pins no MD5 and its published
            ``.md5`` cannot be fetched (only the archive integrity test then
            applies). Default: ``$RECUTILS_ALLOW_UNVERIFIED``, else ``False``.

    Raises:
        DatasetUnavailableError: not found anywhere and not downloadable, or the
            published checksum could not be fetched; the message says what to set.
        CorruptDataError: an archive given explicitly (``local_cache_path`` or
            mirror) or freshly downloaded is corrupt.
    """
    required = list(required)
    looked: list[str] = []
    download_root: Path | None = None
    if max_seconds is None:
        max_seconds = default_max_seconds(timeout)
    lock_wait = max_seconds + 600.0  # the holder's download is bounded by max_seconds

    def use(archive: Path, root: Path, on_corrupt: str) -> Path | None:
        return _from_archive(spec, archive, root, required, on_corrupt=on_corrupt,
                             lock_wait=lock_wait)

    # 1. explicit local path
    if local_cache_path is not None:
        local = Path(local_cache_path).expanduser()
        if local.is_file() or local.suffix.lower() in (".zip", ".gz", ".tgz", ".tar"):
            looked.append(f"local_cache_path archive {local}")
            if local.is_file():
                return use(local, _local_archive_root(local), "raise")
        else:
            looked.append(f"local_cache_path {local}")
            if _has_files(local, required):
                return local
            found = _find_folder(local, spec, required)
            if found is not None and _usable(_extraction_state(found, required, None)):
                return found
            archive = local / spec.filename
            if archive.is_file():
                found = use(archive, local, "delete")
                if found is not None:
                    return found
            download_root = local

    # 2. mirror: used in place when extracted; an archive is extracted into the cache once
    mirror = get_mirror()
    if mirror is not None:
        looked.append(f"{ENV_DATA_MIRROR}={mirror}")
        found = _find_folder(mirror, spec, required)
        if found is not None:
            return found
        archive = mirror / spec.filename
        if archive.is_file():
            return use(archive, get_data_home(), "raise")  # a mirror cannot be refetched
    else:
        looked.append(f"{ENV_DATA_MIRROR} (unset)")

    # 3. cache
    home = get_data_home()
    looked.append(f"cache {home}")
    for name in spec.folder_names:
        state = _extraction_state(home / name, required, None)
        if _usable(state):
            return home / name
        if state != "missing":
            looked.append(f"{home / name} ({state}: a file is missing or has the wrong size)")
    cached = home / spec.filename
    if cached.is_file():
        found = use(cached, home, "delete")
        if found is not None:
            return found

    # 4. download
    if is_offline():
        raise _unavailable(spec, required, looked, f"{ENV_OFFLINE} is set, so no download")
    root = download_root or home
    with _file_lock(root, spec.name, lock_wait):
        archive = root / spec.filename
        if archive.is_file():  # another process downloaded it while we waited
            state = _extraction_state(root / spec.name, required, archive)
            if state == "ok":
                return root / spec.name
        md5 = spec.md5
        if md5 is None and spec.md5_url:
            md5 = fetch_md5(spec.md5_url, timeout=timeout)
            if md5 is None:
                allowed = allow_unverified_default() if allow_unverified is None else allow_unverified
                if not allowed:
                    raise _unavailable(
                        spec, required, looked,
                        f"its published checksum {spec.md5_url} could not be fetched, so the "
                        f"download could not be verified (to accept it unverified, pass "
                        f"allow_unverified=True or set {ENV_ALLOW_UNVERIFIED}=1)",
                    )
                logger.warning("downloading %s without a checksum (allowed by the caller)",
                               spec.url)
        try:
            download_file(
                spec.url, archive, size=spec.size, md5=md5, sha256=spec.sha256,
                timeout=timeout, retries=retries, progress=progress, max_seconds=max_seconds,
            )
        except DatasetUnavailableError as err:
            raise _unavailable(spec, required, looked, f"download failed ({err})") from err
        except CorruptDataError as err:
            raise CorruptDataError(
                f"downloaded {spec.filename} from {spec.url} is corrupt: {err}"
            ) from err
        try:
            check_archive(archive)
        except CorruptDataError as err:
            archive.unlink(missing_ok=True)
            raise CorruptDataError(
                f"downloaded {spec.filename} from {spec.url} is corrupt: {err}"
            ) from err
        if md5 is not None and not spec.md5:
            _sidecar(archive).write_text(f"{md5}  {spec.filename}\n")
        return _extract_into(spec, archive, root, required, md5)



# --------------------------------------------------------------------------- single files


@dataclass(frozen=True)
class RemoteFile:
    """One file published on its own (not inside an archive) and how to check it.

    Attributes:
        filename: The file's name in the data set folder (``"train.csv"``).
        url: Where to download it (``https://``, ``http://`` or ``file://``); pin a
            commit or version in the URL so the checksum stays true.
        sha256: Known SHA-256 of the file, if any (never guessed).
        size: Known size in bytes, if any.
    """

    filename: str
    url: str
    sha256: str | None = None
    size: int | None = None


def _files_state(folder: Path, files: Sequence[RemoteFile]) -> list[RemoteFile]:
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


def fetch_files(
    name: str,
    files: Sequence[RemoteFile],
    local_cache_path: str | os.PathLike | None = None,
    *,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    max_seconds: float | None = None,
) -> Path:
    """Return a folder holding every file of ``files``, for data published file by file.

    The counterpart of :func:`fetch_dataset` for data sets whose files are published
    one by one (a repository's files at a pinned commit) rather than as an archive.
    Looks in the same order: ``local_cache_path`` (the folder itself or its
    ``name/`` subfolder), the mirror ``$RECUTILS_DATA_MIRROR/name/``, the cache
    ``$RECUTILS_DATA_HOME/name/``, then downloads the missing files (into
    ``local_cache_path/name/`` when given, else the cache) unless
    ``RECUTILS_OFFLINE=1``. Each download is written to a ``.part`` file and
    renamed only after its size and SHA-256 match (:func:`download_file`); a
    cached file of the wrong known size is downloaded again.

    Args:
        name: The data set's folder name in a mirror or the cache.
        files: The files the caller needs.
        local_cache_path: A folder to look in first and to download into.
        progress, timeout, retries, max_seconds: See :func:`download_file`.

    Raises:
        DatasetUnavailableError: not found and not downloadable (the message says
            what to set).
        CorruptDataError: a downloaded file failed its size or checksum check.
    """
    files = list(files)
    required = [f.filename for f in files]
    looked: list[str] = []
    download_root: Path | None = None
    if max_seconds is None:
        max_seconds = default_max_seconds(timeout)
    if local_cache_path is not None:
        local = Path(local_cache_path).expanduser()
        looked.append(f"local_cache_path {local}")
        for folder in (local, local / name):
            if _has_files(folder, required):
                return folder
        download_root = local
    mirror = get_mirror()
    if mirror is not None:
        looked.append(f"{ENV_DATA_MIRROR}={mirror}")
        if _has_files(mirror / name, required):
            return mirror / name
    else:
        looked.append(f"{ENV_DATA_MIRROR} (unset)")
    home = get_data_home()
    looked.append(f"cache {home}")
    if not _files_state(home / name, files):
        return home / name
    root = download_root or home
    target = root / name
    if is_offline():
        raise DatasetUnavailableError(
            f"data set {name!r} (files {required}) is not available: {ENV_OFFLINE} is set, so "
            f"no download. Looked in: {'; '.join(looked)}. To fix, do one of: set "
            f"{ENV_DATA_MIRROR} to a folder holding {name}/ with these files; set "
            f"{ENV_DATA_HOME} to a cache folder that holds them; pass local_cache_path= a "
            f"folder holding them; or allow the download of "
            f"{', '.join(f.url for f in files)} (network access, {ENV_OFFLINE} unset)."
        )
    with _file_lock(root, name, max_seconds + 600.0):
        for remote in _files_state(target, files):
            try:
                download_file(
                    remote.url, target / remote.filename, size=remote.size, sha256=remote.sha256,
                    timeout=timeout, retries=retries, progress=progress, max_seconds=max_seconds,
                )
            except DatasetUnavailableError as err:
                raise DatasetUnavailableError(
                    f"data set {name!r}: downloading {remote.filename} failed ({err}). Looked "
                    f"in: {'; '.join(looked)}. Set {ENV_DATA_MIRROR} to a folder holding "
                    f"{name}/{remote.filename}, or pass local_cache_path=."
                ) from err
    return target


__all__ = [
    "ENV_ALLOW_UNVERIFIED",
    "ENV_DATA_HOME",
    "ENV_DATA_MIRROR",
    "ENV_MAX_SECONDS",
    "ENV_OFFLINE",
    "MARKER",
    "RemoteArchive",
    "RemoteFile",
    "allow_unverified_default",
    "check_archive",
    "default_max_seconds",
    "download_file",
    "extract_archive",
    "fetch_dataset",
    "fetch_files",
    "fetch_md5",
    "file_hash",
    "get_data_home",
    "get_mirror",
    "is_offline",
    "verify_file",
]
