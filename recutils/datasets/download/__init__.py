"""Obtain data set files: local path, mirror, cache or download (standard library only).

A data set is described by a :class:`RemoteArchive`: the URL of its upstream
archive (a ``.zip`` or ``.tar.gz``), the folder name it is known by, and
whatever checksums are really known. :func:`fetch_dataset` returns a folder
that holds the files a loader needs, looking in this order:

1. ``local_cache_path`` (an argument, which must exist): a folder that holds the files, the
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

The package is split by job: :mod:`.settings` (environment switches),
:mod:`.specs` (:class:`RemoteArchive`, :class:`RemoteFile`), :mod:`.transfer`
(HTTP/``file://`` downloads), :mod:`.archives` (checksums, integrity, safe
extraction), :mod:`.integrity` (published digests of the files loaders read, hashed
once per process), :mod:`.locking` (one lock per data set), :mod:`.cache` (extracted
folders and their markers) and :mod:`.lookup` (the one lookup cascade that
:func:`fetch_dataset` and :func:`fetch_files` share). Every public name is
importable from here.
"""

from __future__ import annotations

from recutils.datasets.download.archives import (
    check_archive,
    extract_archive,
    file_hash,
    verify_file,
)
from recutils.datasets.download.cache import MARKER, verified_extraction
from recutils.datasets.download.integrity import (
    PublishedFile,
    check_published,
    clear_digest_cache,
    file_digest,
)
from recutils.datasets.download.lookup import fetch_dataset, fetch_files, resolve
from recutils.datasets.download.settings import (
    DEFAULT_MIN_RATE,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ENV_ALLOW_UNVERIFIED,
    ENV_DATA_HOME,
    ENV_DATA_MIRROR,
    ENV_MAX_SECONDS,
    ENV_OFFLINE,
    allow_unverified_default,
    default_max_seconds,
    get_data_home,
    get_mirror,
    is_offline,
)
from recutils.datasets.download.specs import RemoteArchive, RemoteFile
from recutils.datasets.download.transfer import download_file, fetch_md5

__all__ = [
    "ENV_ALLOW_UNVERIFIED",
    "ENV_DATA_HOME",
    "ENV_DATA_MIRROR",
    "ENV_MAX_SECONDS",
    "ENV_OFFLINE",
    "MARKER",
    "PublishedFile",
    "DEFAULT_MIN_RATE",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "RemoteArchive",
    "RemoteFile",
    "allow_unverified_default",
    "check_archive",
    "check_published",
    "clear_digest_cache",
    "default_max_seconds",
    "download_file",
    "extract_archive",
    "fetch_dataset",
    "fetch_files",
    "fetch_md5",
    "file_digest",
    "file_hash",
    "get_data_home",
    "get_mirror",
    "is_offline",
    "resolve",
    "verified_extraction",
    "verify_file",
]
