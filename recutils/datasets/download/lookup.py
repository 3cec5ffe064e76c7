"""The one lookup cascade shared by :func:`fetch_dataset` and :func:`fetch_files`.

:func:`resolve` walks the places a data set may already be, in a fixed order,
and downloads only when none of them has it:

1. the explicit ``local_cache_path`` argument (which must exist);
2. the mirror folder ``$RECUTILS_DATA_MIRROR``;
3. the cache ``$RECUTILS_DATA_HOME``;
4. a download (into ``local_cache_path`` when it names a folder, else the
   cache), unless ``$RECUTILS_OFFLINE`` is set.

What "has it" means depends on how a data set is published, so each kind
brings a :class:`Source` that answers for each place: :class:`ArchiveSource`
(one upstream archive, extracted once) and :class:`FilesSource` (files
published one by one). The order, the record of where was looked and the
offline rule live only in :func:`resolve`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from recutils.datasets.download import cache, transfer
from recutils.datasets.download.archives import check_archive
from recutils.datasets.download.locking import file_lock
from recutils.datasets.download.settings import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ENV_ALLOW_UNVERIFIED,
    ENV_DATA_HOME,
    ENV_DATA_MIRROR,
    ENV_OFFLINE,
    allow_unverified_default,
    default_max_seconds,
    get_data_home,
    get_mirror,
    is_offline,
)
from recutils.datasets.download.specs import RemoteArchive, RemoteFile
from recutils.exceptions import CorruptDataError, DatasetUnavailableError

logger = logging.getLogger(__name__)

_ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar")


@dataclass(frozen=True)
class NetworkSettings:
    """How a download behaves (see :func:`~recutils.datasets.download.download_file`).

    ``max_seconds=None`` is resolved at once to :func:`default_max_seconds`, so a
    bad ``$RECUTILS_DOWNLOAD_MAX_SECONDS`` is reported before any lookup.
    """

    progress: bool = True
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_seconds is None:
            object.__setattr__(self, "max_seconds", default_max_seconds(self.timeout))

    @property
    def lock_wait(self) -> float:
        """How long to wait for another process's lock on the same data set: the
        holder's download is bounded by ``max_seconds``, its extraction by a margin."""
        return self.max_seconds + 600.0


class Source(Protocol):
    """What :func:`resolve` asks of one kind of data set, place by place.

    Each ``find_*`` method returns the folder holding the files, or ``None``; it
    may add notes to ``looked`` (the list quoted when nothing is found).
    """

    def find_local(self, local: Path, looked: list[str]) -> tuple[Path | None, Path | None]:
        """Look in ``local_cache_path``: ``(folder found, folder to download into)``."""

    def find_in_mirror(self, mirror: Path) -> Path | None:
        """Look in the mirror folder."""

    def find_in_cache(self, home: Path, looked: list[str]) -> Path | None:
        """Look in the cache folder."""

    def download(self, root: Path, looked: list[str]) -> Path:
        """Download into ``root`` and return the folder holding the files."""

    def unavailable(self, looked: list[str], why: str) -> DatasetUnavailableError:
        """The error raised when nothing works, saying what would help."""


def resolve(source: Source, local_cache_path: str | os.PathLike | None) -> Path:
    """Return the folder of ``source``'s files: local path, mirror, cache, then download.

    Raises:
        DatasetUnavailableError: ``local_cache_path`` is given but does not exist
            (never silently passed over), or no place has the files and
            ``$RECUTILS_OFFLINE`` forbids the download (or ``source`` cannot
            download them).
        ConfigError: ``$RECUTILS_DATA_MIRROR`` names something that is not a folder.
    """
    looked: list[str] = []
    download_root: Path | None = None
    if local_cache_path is not None:
        local = Path(local_cache_path).expanduser()
        if not local.exists():
            raise DatasetUnavailableError(
                f"local_cache_path {local} does not exist. Pass an existing folder (holding "
                f"the files, the extracted folder or the archive; a download goes there) or "
                f"the archive's path, or leave local_cache_path out to use {ENV_DATA_MIRROR} "
                f"and the cache {ENV_DATA_HOME}."
            )
        found, download_root = source.find_local(local, looked)
        if found is not None:
            return found
    mirror = get_mirror()
    if mirror is not None:
        looked.append(f"{ENV_DATA_MIRROR}={mirror}")
        found = source.find_in_mirror(mirror)
        if found is not None:
            return found
    else:
        looked.append(f"{ENV_DATA_MIRROR} (unset)")
    home = get_data_home()
    looked.append(f"cache {home}")
    found = source.find_in_cache(home, looked)
    if found is not None:
        return found
    if is_offline():
        raise source.unavailable(looked, f"{ENV_OFFLINE} is set, so no download")
    return source.download(download_root or home, looked)


def _unavailable_error(
    name: str,
    required: Sequence[str],
    looked: list[str],
    why: str,
    *,
    mirror_holds: str,
    local_holds: str,
    urls: str,
) -> DatasetUnavailableError:
    return DatasetUnavailableError(
        f"data set {name!r} (files {list(required)}) is not available: {why}. "
        f"Looked in: {'; '.join(looked) or 'nowhere'}. To fix, do one of: "
        f"set {ENV_DATA_MIRROR} to a folder holding {mirror_holds}; set {ENV_DATA_HOME} to a "
        f"cache folder that holds them; pass local_cache_path= {local_holds}; or allow the "
        f"download of {urls} (network access, {ENV_OFFLINE} unset)."
    )


# --------------------------------------------------------------------------- one archive


@dataclass
class ArchiveSource:
    """A data set published as one archive (:class:`RemoteArchive`), extracted once."""

    spec: RemoteArchive
    required: list[str]
    network: NetworkSettings = field(default_factory=NetworkSettings)
    allow_unverified: bool | None = None

    def _use(self, archive: Path, root: Path, on_corrupt: str) -> Path | None:
        return cache.from_archive(
            self.spec,
            archive,
            root,
            self.required,
            on_corrupt=on_corrupt,
            lock_wait=self.network.lock_wait,
        )

    def find_local(self, local: Path, looked: list[str]) -> tuple[Path | None, Path | None]:
        """A folder (the files, the extracted folder or the archive, and where a
        download goes) or the archive itself (extracted next to it)."""
        if local.is_file() or local.suffix.lower() in _ARCHIVE_SUFFIXES:
            looked.append(f"local_cache_path archive {local}")
            if local.is_file():  # given explicitly, so a corrupt one raises
                return self._use(local, cache.local_archive_root(local), "raise"), None
            return None, None
        looked.append(f"local_cache_path {local}")
        if cache.has_files(local, self.required):
            return local, local
        found = cache.find_folder(local, self.spec, self.required)
        if found is not None and cache.usable(cache.extraction_state(found, self.required, None)):
            return found, local
        archive = local / self.spec.filename
        if archive.is_file():
            return self._use(archive, local, "delete"), local
        return None, local

    def find_in_mirror(self, mirror: Path) -> Path | None:
        """Used in place when extracted; an archive is extracted into the cache once."""
        found = cache.find_folder(mirror, self.spec, self.required)
        if found is not None:
            return found
        archive = mirror / self.spec.filename
        if archive.is_file():
            return self._use(archive, get_data_home(), "raise")  # a mirror cannot be refetched
        return None

    def find_in_cache(self, home: Path, looked: list[str]) -> Path | None:
        """An intact extracted folder, else a cached archive (deleted when corrupt)."""
        for name in self.spec.folder_names:
            state = cache.extraction_state(home / name, self.required, None)
            if cache.usable(state):
                return home / name
            if state != "missing":
                looked.append(f"{home / name} ({state}: a file is missing or has the wrong size)")
        cached = home / self.spec.filename
        if cached.is_file():
            return self._use(cached, home, "delete")
        return None

    def unavailable(self, looked: list[str], why: str) -> DatasetUnavailableError:
        """Name the mirror layouts, the archive path option and the URL."""
        spec = self.spec
        return _unavailable_error(
            spec.name,
            self.required,
            looked,
            why,
            mirror_holds=f"{spec.name}/ (extracted) or {spec.filename}",
            local_holds="a folder or archive holding them",
            urls=spec.url,
        )

    def _checksum(self, looked: list[str]) -> str | None:
        spec = self.spec
        if spec.md5 is not None or not spec.md5_url:
            return spec.md5
        md5 = transfer.fetch_md5(spec.md5_url, timeout=self.network.timeout)
        if md5 is None:
            allowed = (
                allow_unverified_default()
                if self.allow_unverified is None
                else self.allow_unverified
            )
            if not allowed:
                raise self.unavailable(
                    looked,
                    f"its published checksum {spec.md5_url} could not be fetched, so the "
                    f"download could not be verified (to accept it unverified, pass "
                    f"allow_unverified=True or set {ENV_ALLOW_UNVERIFIED}=1)",
                )
            logger.warning("downloading %s without a checksum (allowed by the caller)", spec.url)
        return md5

    def download(self, root: Path, looked: list[str]) -> Path:
        """Download, verify and extract the archive under ``root`` (under its lock)."""
        spec, network = self.spec, self.network
        with file_lock(root, spec.name, network.lock_wait):
            archive = root / spec.filename
            if archive.is_file():  # another process downloaded it while we waited
                state = cache.extraction_state(root / spec.name, self.required, archive)
                if state == "ok":
                    return root / spec.name
            md5 = self._checksum(looked)
            try:
                transfer.download_file(
                    spec.url,
                    archive,
                    size=spec.size,
                    md5=md5,
                    sha256=spec.sha256,
                    timeout=network.timeout,
                    retries=network.retries,
                    progress=network.progress,
                    max_seconds=network.max_seconds,
                )
            except DatasetUnavailableError as err:
                raise self.unavailable(looked, f"download failed ({err})") from err
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
                cache.sidecar(archive).write_text(f"{md5}  {spec.filename}\n")
            return cache.extract_into(spec, archive, root, self.required, md5)


# --------------------------------------------------------------------------- single files


@dataclass
class FilesSource:
    """A data set published file by file (:class:`RemoteFile`), in a folder ``name/``."""

    name: str
    files: list[RemoteFile]
    network: NetworkSettings = field(default_factory=NetworkSettings)

    @property
    def required(self) -> list[str]:
        """The file names the caller needs."""
        return [f.filename for f in self.files]

    def find_local(self, local: Path, looked: list[str]) -> tuple[Path | None, Path | None]:
        """The folder itself or its ``name/`` subfolder; a download goes to ``local/name/``."""
        looked.append(f"local_cache_path {local}")
        for folder in (local, local / self.name):
            if cache.has_files(folder, self.required):
                return folder, local
        return None, local

    def find_in_mirror(self, mirror: Path) -> Path | None:
        """``mirror/name/`` when it holds every file."""
        folder = mirror / self.name
        return folder if cache.has_files(folder, self.required) else None

    def find_in_cache(self, home: Path, looked: list[str]) -> Path | None:
        """``home/name/`` when every file is there with its known size."""
        folder = home / self.name
        return None if cache.missing_files(folder, self.files) else folder

    def unavailable(self, looked: list[str], why: str) -> DatasetUnavailableError:
        """Name the mirror layout and every file's URL."""
        return _unavailable_error(
            self.name,
            self.required,
            looked,
            why,
            mirror_holds=f"{self.name}/ with these files",
            local_holds="a folder holding them",
            urls=", ".join(f.url for f in self.files),
        )

    def download(self, root: Path, looked: list[str]) -> Path:
        """Download the missing or wrong-sized files into ``root/name/`` (under its lock)."""
        network, target = self.network, root / self.name
        with file_lock(root, self.name, network.lock_wait):
            for remote in cache.missing_files(target, self.files):
                try:
                    transfer.download_file(
                        remote.url,
                        target / remote.filename,
                        size=remote.size,
                        sha256=remote.sha256,
                        timeout=network.timeout,
                        retries=network.retries,
                        progress=network.progress,
                        max_seconds=network.max_seconds,
                    )
                except DatasetUnavailableError as err:
                    raise DatasetUnavailableError(
                        f"data set {self.name!r}: downloading {remote.filename} failed ({err}). "
                        f"Looked in: {'; '.join(looked)}. Set {ENV_DATA_MIRROR} to a folder "
                        f"holding {self.name}/{remote.filename}, or pass local_cache_path=."
                    ) from err
        return target


# --------------------------------------------------------------------------- entry points


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

    Looks in ``local_cache_path``, the mirror, the cache, then downloads (see
    :mod:`recutils.datasets.download` for the details and :func:`resolve` for
    the order).

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
    network = NetworkSettings(progress, timeout, retries, max_seconds)
    source = ArchiveSource(spec, list(required), network, allow_unverified)
    return resolve(source, local_cache_path)


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
    one by one (a repository's files at a pinned commit) rather than as an archive,
    through the same lookup (:func:`resolve`): ``local_cache_path`` (the folder
    itself or its ``name/`` subfolder), the mirror ``$RECUTILS_DATA_MIRROR/name/``,
    the cache ``$RECUTILS_DATA_HOME/name/``, then a download of the missing files
    (into ``local_cache_path/name/`` when given, else the cache) unless
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
    network = NetworkSettings(progress, timeout, retries, max_seconds)
    return resolve(FilesSource(name, list(files), network), local_cache_path)
