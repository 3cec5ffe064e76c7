"""Taobao UserBehavior (Alibaba, Tianchi): the head of ``UserBehavior.csv`` that a public
repository holds.

UserBehavior (Zhu et al., "Learning Tree-based Deep Model for Recommender Systems", KDD
2018) logs about 100 million behaviours of about 1 million Taobao users between 2017-11-25
and 2017-12-03 (China time): page views (clicks), add-to-cart, favourite and buy, each with
the item's **category** and a unix **timestamp**. It is the data of the behaviour-sequence
click-through models (DIN, DIEN, BST) and of tree-based deep retrieval. The full file is
3.5 GB; recutils reads its first 84,475 rows (815 users, 55,368 items, 2,914 categories):

* the source is ``mydeep/UserBehavior.csv`` of the repository Haohanblue/mydeep at a
  pinned commit (3,178,496 bytes, checked against its SHA-256), a byte-truncated head of
  the original that stops in the middle of a row (``100370,1968385,1875258,pv``);
* recutils drops that partial last row (25 bytes; every other byte is kept) and stores
  the result as ``UserBehavior_head.csv`` (3,178,471 bytes), checked against its own
  SHA-256. The last user (``100370``) may be incomplete, since the head was cut by bytes.

The file has no header; its fields are ``user_id,item_id,category_id,behavior_type,timestamp``
with ``behavior_type`` one of ``pv``, ``cart``, ``fav``, ``buy``. 35 rows lie outside the
data set's window (the earliest on 2017-09-11): noise of the original that most
pre-processing scripts filter out; ``load_pandas_df(drop_outside_window=True)`` does.

The file is found by :func:`recutils.datasets.download.resolve`: ``local_cache_path``,
``$RECUTILS_DATA_MIRROR/taobao-userbehavior-head/``, the cache
``$RECUTILS_DATA_HOME/taobao-userbehavior-head/``, then a download of the source (unless
``RECUTILS_OFFLINE=1``) from which the head file is written. Alibaba publishes the data
for research without stated licence terms (cite the paper above); recutils never ships it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL
from recutils.datasets._text import read_table
from recutils.datasets.amazon import DEFAULT_CATEGORY_COL
from recutils.datasets.download import (
    PublishedFile,
    RemoteFile,
    check_published,
    download_file,
    resolve,
)
from recutils.datasets.download.integrity import file_digest
from recutils.datasets.download.locking import file_lock
from recutils.datasets.download.lookup import FilesSource, NetworkSettings
from recutils.exceptions import ConfigError, CorruptDataError, DatasetUnavailableError

logger = logging.getLogger(__name__)

#: Output column of the behaviour type (``pv``, ``cart``, ``fav``, ``buy``).
DEFAULT_BEHAVIOR_COL = "behavior"
#: The behaviour types of the file: page view (click), add to cart, favourite, buy.
BEHAVIORS: tuple[str, ...] = ("pv", "cart", "fav", "buy")

FOLDER = "taobao-userbehavior-head"
FILENAME = "UserBehavior_head.csv"
SOURCE_FILENAME = "UserBehavior.csv"
_COMMIT = "ef812addc2c164f1d3ef48564a5c393ec293bc61"
#: The published source: a byte-truncated head of the original ``UserBehavior.csv``.
SOURCE = RemoteFile(
    SOURCE_FILENAME,
    f"https://raw.githubusercontent.com/Haohanblue/mydeep/{_COMMIT}/mydeep/{SOURCE_FILENAME}",
    "9cbce278d485d50954029082dd1b22f0dc78dc38776f58d953f0cbe18d6608b4",
    3_178_496,
)
#: The file recutils reads: the source without its partial last row.
HEAD = RemoteFile(
    FILENAME,
    SOURCE.url,
    "e3013a3a225cf384b66dbbd7557f50829f28bd0de2555e31604eef6891ffa0c7",
    3_178_471,
)
_FIELDS = ("user_id", "item_id", "category_id", "behavior_type", "timestamp")

#: The size of the head: rows, users, items, categories.
N_ROWS, N_USERS, N_ITEMS, N_CATEGORIES = 84_475, 815, 55_368, 2_914
#: Rows per behaviour type in the head.
BEHAVIOR_COUNTS = {"pv": 75_872, "cart": 4_497, "fav": 2_356, "buy": 1_750}
#: The data set's time window, unix seconds: 2017-11-25 00:00 to 2017-12-04 00:00
#: (exclusive) China time (UTC+8).
WINDOW = (1_511_539_200, 1_512_316_800)
#: Rows of the head outside :data:`WINDOW`.
N_OUTSIDE_WINDOW = 35


def write_head(source: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Write ``source`` without its partial last row (the bytes after its last newline) to ``dest``.

    The file is written to ``dest + ".part"`` and renamed only once its SHA-256 is that of
    :data:`HEAD`, so ``dest`` is either the published head or absent.

    Raises:
        CorruptDataError: the result is not the published head (the message names both
            digests).
    """
    source, dest = Path(source), Path(dest)
    raw = source.read_bytes()
    head = raw[: raw.rfind(b"\n") + 1]
    part = dest.with_name(dest.name + ".part")
    part.write_bytes(head)
    actual = file_digest(part)
    if actual != HEAD.sha256:
        part.unlink()
        raise CorruptDataError(
            f"{source} without its partial last row ({len(raw) - len(head)} bytes dropped) is "
            f"not the Taobao head file: expected sha256 {HEAD.sha256}, got {actual}."
        )
    os.replace(part, dest)
    return dest


class _HeadSource(FilesSource):
    """The head file where it already is (local, mirror, cache), else written from the source."""

    def download(self, root: Path, looked: list[str]) -> Path:
        """Download the source into ``root/FOLDER/``, write the head beside it, drop the source."""
        network, target = self.network, root / self.name
        with file_lock(root, self.name, network.lock_wait):
            head = target / FILENAME
            if not (head.is_file() and head.stat().st_size == HEAD.size):
                source = target / SOURCE_FILENAME
                try:
                    download_file(
                        SOURCE.url,
                        source,
                        size=SOURCE.size,
                        sha256=SOURCE.sha256,
                        timeout=network.timeout,
                        retries=network.retries,
                        progress=network.progress,
                        max_seconds=network.max_seconds,
                    )
                except DatasetUnavailableError as err:
                    raise DatasetUnavailableError(
                        f"data set {self.name!r}: downloading {SOURCE.url} failed ({err}). "
                        f"Looked in: {'; '.join(looked)}. Put {FILENAME} in "
                        f"$RECUTILS_DATA_MIRROR/{self.name}/, or pass local_cache_path=."
                    ) from err
                write_head(source, head)
                source.unlink()
        return target


def fetch_head(local_cache_path: str | os.PathLike | None = None, *, progress: bool = True) -> Path:
    """The folder holding ``UserBehavior_head.csv``: local path, mirror, cache, or a download
    of the source followed by :func:`write_head`.

    Raises:
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: the downloaded source or the head written from it is not the
            published file.
    """
    source = _HeadSource(FOLDER, [HEAD], NetworkSettings(progress=progress))
    return resolve(source, local_cache_path)


def read_behaviors(
    path: str | os.PathLike,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_category: str = DEFAULT_CATEGORY_COL,
    col_behavior: str = DEFAULT_BEHAVIOR_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> pd.DataFrame:
    """Parse a UserBehavior file (``user_id,item_id,category_id,behavior_type,timestamp``).

    Returns:
        The five columns in file order: ids and times int64, the behaviour as text.

    Raises:
        CorruptDataError: a line without five fields, a negative id or time, or a behaviour
            other than :data:`BEHAVIORS` (naming file and line), or an empty file.
        DataError: a number field is not an integer.
    """
    path = Path(path)
    names = [col_user, col_item, col_category, col_behavior, col_timestamp]
    if len(set(names)) != len(names):
        raise ConfigError(f"column names must be distinct, got {names}.")
    dtype = {f: "int64" for f in _FIELDS if f != "behavior_type"} | {"behavior_type": "str"}
    table = read_table(path, ",", _FIELDS, dtype=dtype, empty_ok=False)
    df = table.frame
    for field in ("user_id", "item_id", "category_id", "timestamp"):
        values = df[field].to_numpy()
        table.check(
            path, values < 0, lambda r, f=field, v=values: f"{f!r} must be >= 0, found {v[r]}."
        )
    behavior = df["behavior_type"]
    table.check(
        path,
        ~behavior.isin(BEHAVIORS).to_numpy(),
        lambda r: f"behaviour {behavior.iloc[r]!r} is not one of {list(BEHAVIORS)}.",
    )
    df.columns = names
    return df


def load_pandas_df(
    local_cache_path: str | os.PathLike | None = None,
    *,
    drop_outside_window: bool = False,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_category: str = DEFAULT_CATEGORY_COL,
    col_behavior: str = DEFAULT_BEHAVIOR_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load the Taobao UserBehavior head (84,475 behaviours, 815 users, 55,368 items).

    Args:
        local_cache_path: A folder to look in first and to download into.
        drop_outside_window: Drop the 35 rows whose time lies outside the data set's
            window 2017-11-25 to 2017-12-03, China time (:data:`WINDOW`).
        col_user, col_item, col_category, col_behavior, col_timestamp: Output column names.
        progress: Show a progress bar while downloading.
        verify: Check the file against the SHA-256 of the published head; ``False``
            accepts a copy changed on purpose (the format checks still apply).

    Returns:
        ``[col_user, col_item, col_category, col_behavior, col_timestamp]`` (ids and unix
        seconds as int64, the behaviour as text), sorted stably by user, then time (rows
        at the same second keep their file order), with a fresh ``RangeIndex``.

    Raises:
        ConfigError: clashing column names.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: the file is not the published head, or a line is malformed.
    """
    folder = fetch_head(local_cache_path, progress=progress)
    if verify:
        check_published(
            folder, PublishedFile(FILENAME, (HEAD.sha256,)), dataset="Taobao UserBehavior head"
        )
    df = read_behaviors(
        folder / FILENAME,
        col_user=col_user,
        col_item=col_item,
        col_category=col_category,
        col_behavior=col_behavior,
        col_timestamp=col_timestamp,
    )
    times = df[col_timestamp].to_numpy()
    if drop_outside_window:
        inside = (times >= WINDOW[0]) & (times < WINDOW[1])
        logger.info("dropped %d Taobao rows outside the data set's window", int((~inside).sum()))
        df, times = df[inside], times[inside]
    order = np.lexsort((times, df[col_user].to_numpy()))  # stable: ties keep file order
    df = df.iloc[order].reset_index(drop=True)
    logger.info("loaded Taobao UserBehavior head: %d behaviours", len(df))
    return df


__all__ = [
    "BEHAVIORS",
    "BEHAVIOR_COUNTS",
    "DEFAULT_BEHAVIOR_COL",
    "FILENAME",
    "FOLDER",
    "HEAD",
    "N_CATEGORIES",
    "N_ITEMS",
    "N_OUTSIDE_WINDOW",
    "N_ROWS",
    "N_USERS",
    "SOURCE",
    "WINDOW",
    "fetch_head",
    "load_pandas_df",
    "read_behaviors",
    "write_head",
]
