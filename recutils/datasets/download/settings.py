"""Where data sets are looked for and how downloads behave: environment settings."""

from __future__ import annotations

import os
from pathlib import Path

from recutils.exceptions import ConfigError

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
_TRUE = {"1", "true", "yes", "on"}


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
    """Return the folder named by ``$RECUTILS_DATA_MIRROR``, or ``None`` when unset.

    Raises:
        ConfigError: the variable names a path that is not an existing folder (a
            mistyped mirror is reported, never silently passed over).
    """
    value = os.environ.get(ENV_DATA_MIRROR)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise ConfigError(
            f"{ENV_DATA_MIRROR}={value!r}: {path} {what}. Point it at a folder of data sets "
            f"(e.g. ml-100k/ or ml-100k.zip inside), or unset it."
        )
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
