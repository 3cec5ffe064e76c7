"""HTTP(S) and ``file://`` transfers: atomic, verified, retried, bounded in time."""

from __future__ import annotations

import http.client
import logging
import os
import re
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from recutils.datasets.download.archives import _CHUNK, verify_file
from recutils.datasets.download.settings import (
    DEFAULT_MIN_RATE,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ENV_DATA_MIRROR,
    ENV_MAX_SECONDS,
    default_max_seconds,
)
from recutils.exceptions import ConfigError, CorruptDataError, DatasetUnavailableError

logger = logging.getLogger(__name__)


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
                _download_once(
                    url,
                    part,
                    timeout=timeout,
                    progress=progress,
                    deadline=deadline,
                    max_seconds=max_seconds,
                    min_rate=min_rate,
                )
                break
            except _TooSlow as err:
                raise DatasetUnavailableError(
                    f"could not download {url}: {err}. Pass max_seconds= / set {ENV_MAX_SECONDS} "
                    f"to a larger number of seconds, or put the file in {ENV_DATA_MIRROR}."
                ) from err
            except _TRANSIENT as err:
                part.unlink(missing_ok=True)
                delay = backoff * (2**attempt)
                if _is_permanent(err) or attempt == retries or time.monotonic() + delay >= deadline:
                    raise DatasetUnavailableError(
                        f"could not download {url} ({attempt + 1} attempt(s)): "
                        f"{type(err).__name__}: {err}"
                    ) from err
                logger.warning(
                    "download of %s failed (%s); retry %d/%d in %.1fs",
                    url,
                    err,
                    attempt + 1,
                    retries,
                    delay,
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
        with (
            open(part, "wb") as out,
            tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name[: -len(".part")],
                disable=not progress,
                leave=False,
            ) as bar,
        ):
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
