"""Click sessions for session-based (next-click) recommendation: YOOCHOOSE and DIGINETICA.

Two small public samples, each returned as a long frame ``[col_user, col_item,
col_timestamp]`` whose **user column holds the session id**, sorted by session, then
click time (clicks at the same time keep their file order), with a fresh ``RangeIndex``.
Times are float64 unix seconds.

* **rsc15** (:func:`load_rsc15`): session-rec's ``rsc15-100k`` sample of the RecSys
  Challenge 2015 click log (YOOCHOOSE), already split by session-rec (Ludewig, Latifi
  and Jannach): ``yoochoose-clicks-100k_train_full.txt`` (70,278 clicks, 17,794 sessions,
  2,933 items, 2014-04-01 to 2014-04-07) and ``yoochoose-clicks-100k_test.txt`` (13,568
  clicks, 3,416 sessions, the following day; every test item occurs in train).
  Tab-separated ``SessionId ItemId Time`` with a header. The files come from
  ``rn5l/session-rec`` at a pinned commit, checked against their SHA-256.
* **diginetica** (:func:`load_diginetica`): the sample of the CIKM Cup 2016 item views
  that SR-GNN ships (``sample_train-item-views.csv``: ``;``-separated
  ``session_id;user_id;item_id;timeframe;eventdate``, 12,391 views, 2,986 sessions,
  7,139 items). A click's time is its ``eventdate`` (midnight UTC) plus ``timeframe``
  (milliseconds since the session's start); clicks are ordered by ``timeframe`` within
  a session, as SR-GNN's ``preprocess.py`` does. :func:`diginetica_split` splits it
  the way SR-GNN does: sessions of length 1 dropped, a session's date is the date of
  its last click, the sessions of the last 7 dates are the test set (a session dated
  exactly 7 days before the last date trains; SR-GNN drops those), test clicks on
  items unseen in training dropped, then test sessions shorter than 2 dropped. SR-GNN
  also drops items with fewer than 5 clicks before splitting; on this 12k-row sample
  that leaves almost nothing, so ``min_item_support`` defaults to 1 (no filter).

:func:`split_sessions_by_time` is the split behind both (and behind the validation
split of the next-click benchmark: the last day of the training sessions). Files are
found by :func:`recutils.datasets.download.fetch_files`: ``local_cache_path``,
``$RECUTILS_DATA_MIRROR/<folder>/``, the cache, then a download (unless
``RECUTILS_OFFLINE=1``). Both data sets are research-only (cite Ben-Shimon et al.,
RecSys Challenge 2015, and the CIKM Cup 2016 / Wu et al., SR-GNN, AAAI 2019);
recutils never ships them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL
from recutils.datasets._text import read_table
from recutils.datasets.download import PublishedFile, RemoteFile, check_published, fetch_files
from recutils.exceptions import ConfigError, DataError
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)

#: Seconds per day.
DAY = 86_400.0

RSC15_FOLDER = "yoochoose-rsc15"
_RSC15_COMMIT = "5dcd583cbd8d44703a5248b9a308945f24b91390"
_RSC15_URL = (
    f"https://raw.githubusercontent.com/rn5l/session-rec/{_RSC15_COMMIT}/data/rsc15/prepared/"
)
#: session-rec's rsc15-100k training clicks (2014-04-01 to 2014-04-07).
RSC15_TRAIN = RemoteFile(
    "yoochoose-clicks-100k_train_full.txt",
    _RSC15_URL + "yoochoose-clicks-100k_train_full.txt",
    "9842c90358298ee784fcf0c9dccb2eeb283ab04368e53bdeee896747f4c03e1e",
    2_146_008,
)
#: session-rec's rsc15-100k test clicks (the following day).
RSC15_TEST = RemoteFile(
    "yoochoose-clicks-100k_test.txt",
    _RSC15_URL + "yoochoose-clicks-100k_test.txt",
    "380410c606403531019e1ec0b4d192ef90492d594b9b5a91633b860618dd7136",
    414_350,
)
#: Clicks, sessions and items of the rsc15-100k files (train, test).
RSC15_SIZES = {"train": (70_278, 17_794, 2_933), "test": (13_568, 3_416, 1_771)}
_RSC15_HEADER = ("SessionId", "ItemId", "Time")

DIGINETICA_FOLDER = "diginetica-sample-srgnn"
_SRGNN_COMMIT = "e21cfa431f74c25ae6e4ae9261deefe11d1cb488"
#: SR-GNN's sample of the DIGINETICA item views.
DIGINETICA_FILE = RemoteFile(
    "sample_train-item-views.csv",
    f"https://raw.githubusercontent.com/CRIPAC-DIG/SR-GNN/{_SRGNN_COMMIT}/datasets/sample_train-item-views.csv",
    "98da96e05c87ef12b739e4bfd9bc7b4864106ee77371f1db9eb4413e3f78d37e",
    395_354,
)
#: Views, sessions and items of the DIGINETICA sample.
DIGINETICA_SIZE = (12_391, 2_986, 7_139)
_DIGINETICA_HEADER = ("session_id", "user_id", "item_id", "timeframe", "eventdate")
#: Test window of SR-GNN's DIGINETICA split, in days.
DIGINETICA_TEST_DAYS = 7


def _names(col_user: str, col_item: str, col_timestamp: str) -> list[str]:
    names = [col_user, col_item, col_timestamp]
    if len(set(names)) != 3:
        raise ConfigError(f"column names must be distinct, got {names}.")
    return names


def _click_order(
    df: pd.DataFrame, col_user: str, col_timestamp: str, *extra: np.ndarray
) -> pd.DataFrame:
    """``df`` sorted stably by session, then time (and ``extra`` keys before time), fresh index."""
    keys = (*extra, df[col_timestamp].to_numpy(), df[col_user].to_numpy())
    return df.iloc[np.lexsort(keys)].reset_index(drop=True)


def read_rsc15_file(
    path: str | os.PathLike,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> pd.DataFrame:
    """Parse a session-rec click file (tab-separated, header ``SessionId ItemId Time``).

    Returns:
        ``[col_user, col_item, col_timestamp]``: session and item ids int64, time float64
        unix seconds, in click order (session, then time; ties keep file order).

    Raises:
        ConfigError: clashing column names.
        CorruptDataError: wrong header, a line without three fields, a negative id or time,
            or no data (the message names file and line).
        DataError: a value is not a number.
    """
    path = Path(path)
    names = _names(col_user, col_item, col_timestamp)
    table = read_table(
        path,
        "\t",
        _RSC15_HEADER,
        header=_RSC15_HEADER,
        empty_ok=False,
        dtype={"SessionId": "int64", "ItemId": "int64", "Time": "float64"},
    )
    for field in _RSC15_HEADER:
        values = table.frame[field].to_numpy()
        table.check(
            path, ~(values >= 0), lambda r, f=field, v=values: f"{f!r} must be >= 0, found {v[r]}."
        )
    df = table.frame.set_axis(names, axis=1)
    return _click_order(df, col_user, col_timestamp)


def load_rsc15(
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    progress: bool = True,
    verify: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """session-rec's YOOCHOOSE ``rsc15-100k`` split: ``(train, test)`` click frames.

    Args:
        local_cache_path: A folder to look in first and to download into.
        col_user: Output column of the session id.
        col_item, col_timestamp: Output column names (time: float64 unix seconds).
        progress: Show a progress bar while downloading.
        verify: Check both files against their published SHA-256.

    Returns:
        ``(train, test)``, each ``[col_user, col_item, col_timestamp]`` in click order
        (see the module docstring; sizes in :data:`RSC15_SIZES`).

    Raises:
        ConfigError: clashing column names.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: a file is not the published one, or a line is malformed.
    """
    folder = fetch_files(
        RSC15_FOLDER, (RSC15_TRAIN, RSC15_TEST), local_cache_path, progress=progress
    )
    frames = []
    for remote in (RSC15_TRAIN, RSC15_TEST):
        if verify:
            check_published(
                folder,
                PublishedFile(remote.filename, (remote.sha256,)),
                dataset="YOOCHOOSE rsc15-100k",
            )
        frames.append(
            read_rsc15_file(
                folder / remote.filename,
                col_user=col_user,
                col_item=col_item,
                col_timestamp=col_timestamp,
            )
        )
    logger.info(
        "loaded YOOCHOOSE rsc15-100k: %d train and %d test clicks", len(frames[0]), len(frames[1])
    )
    return frames[0], frames[1]


def read_diginetica_file(
    path: str | os.PathLike,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> pd.DataFrame:
    """Parse a DIGINETICA ``train-item-views.csv`` (``;``-separated, with its header).

    The anonymous ``user_id`` is dropped; a click's time is ``eventdate`` (midnight UTC)
    plus ``timeframe`` milliseconds.

    Returns:
        ``[col_user, col_item, col_timestamp]``: session and item ids int64, time float64
        unix seconds, sorted by session, then ``timeframe`` (ties keep file order).

    Raises:
        ConfigError: clashing column names.
        CorruptDataError: wrong header, a line without five fields, a negative id or
            timeframe, a date that is not ``YYYY-MM-DD``, or no data.
        DataError: an id or timeframe is not an integer.
    """
    path = Path(path)
    names = _names(col_user, col_item, col_timestamp)
    table = read_table(
        path,
        ";",
        _DIGINETICA_HEADER,
        header=_DIGINETICA_HEADER,
        empty_ok=False,
        dtype={
            "session_id": "int64",
            "user_id": "str",
            "item_id": "int64",
            "timeframe": "int64",
            "eventdate": "str",
        },
    )
    df = table.frame
    for field in ("session_id", "item_id", "timeframe"):
        values = df[field].to_numpy()
        table.check(
            path, values < 0, lambda r, f=field, v=values: f"{f!r} must be >= 0, found {v[r]}."
        )
    dates = pd.to_datetime(df["eventdate"], format="%Y-%m-%d", errors="coerce")
    table.check(
        path,
        dates.isna().to_numpy(),
        lambda r: f"eventdate {df['eventdate'].iloc[r]!r} is not a YYYY-MM-DD date.",
    )
    seconds = (
        dates.to_numpy().astype("datetime64[s]").astype(np.int64).astype(np.float64)
        + df["timeframe"].to_numpy() / 1000.0
    )
    out = pd.DataFrame(
        {
            col_user: df["session_id"].to_numpy(),
            col_item: df["item_id"].to_numpy(),
            col_timestamp: seconds,
        }
    )
    # SR-GNN orders a session's clicks by timeframe (the date is per session)
    return _click_order(out, col_user, col_timestamp, df["timeframe"].to_numpy())[names]


def _drop_short_sessions(df: pd.DataFrame, col_user: str, min_length: int) -> pd.DataFrame:
    sizes = df.groupby(col_user, sort=False)[col_user].transform("size").to_numpy()
    return df[sizes >= min_length].reset_index(drop=True)


def split_sessions_by_time(
    df: pd.DataFrame,
    days: float,
    *,
    whole_days: bool = False,
    min_session_length: int = 2,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split whole sessions by time: the sessions of the last ``days`` are the test set.

    A session's time is its last click's time (``whole_days``: that time's date, midnight
    UTC, as SR-GNN dates sessions). With ``T`` the latest session time, a session is a
    test session when its time is after ``T - days * 86400``, else a training session
    (session-rec's rule; with ``whole_days`` the test set is the last ``days`` dates).
    Test clicks on items absent from the training sessions are dropped, then test
    sessions shorter than ``min_session_length``.

    Args:
        df: Clicks ``[col_user (session), col_item, col_timestamp]`` (seconds), never modified.
        days: The test window (> 0).
        whole_days: Date sessions by day instead of by second.
        min_session_length: Shortest test session kept (>= 1).
        col_user, col_item, col_timestamp: Column names.

    Returns:
        ``(train, test)`` in the row order of ``df``, fresh indexes.

    Raises:
        ColumnMismatchError: a column is missing.
        ConfigError: ``days <= 0`` or ``min_session_length < 1``.
        DataError: no training session is left.
    """
    check_columns(df, [col_user, col_item, col_timestamp], name="df")
    if not days > 0:
        raise ConfigError(f"days must be > 0, got {days!r}.")
    if (
        isinstance(min_session_length, bool)
        or not isinstance(min_session_length, int)
        or min_session_length < 1
    ):
        raise ConfigError(
            f"min_session_length must be a positive integer, got {min_session_length!r}."
        )
    ends = (
        df.groupby(col_user, sort=False)[col_timestamp].transform("max").to_numpy(dtype=np.float64)
    )
    if whole_days:
        ends = np.floor(ends / DAY) * DAY
    is_test = ends > ends.max() - days * DAY
    train = df[~is_test].reset_index(drop=True)
    if train.empty:
        raise DataError(
            f"every session lies in the last {days} day(s): no training session is left."
        )
    test = df[is_test]
    test = test[test[col_item].isin(pd.unique(train[col_item]))]
    test = _drop_short_sessions(test, col_user, min_session_length)
    return train, test


def diginetica_split(
    df: pd.DataFrame,
    *,
    test_days: int = DIGINETICA_TEST_DAYS,
    min_item_support: int = 1,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SR-GNN's split of DIGINETICA views (see the module docstring).

    Sessions of one click are dropped, then items with fewer than ``min_item_support``
    clicks and the sessions they leave shorter than 2; the sessions of the last
    ``test_days`` dates test (:func:`split_sessions_by_time` with ``whole_days``).

    Raises:
        ConfigError: ``min_item_support < 1``.
        DataError: nothing trains.
    """
    if (
        isinstance(min_item_support, bool)
        or not isinstance(min_item_support, int)
        or min_item_support < 1
    ):
        raise ConfigError(f"min_item_support must be a positive integer, got {min_item_support!r}.")
    df = _drop_short_sessions(df, col_user, 2)
    if min_item_support > 1:
        support = df.groupby(col_item, sort=False)[col_item].transform("size").to_numpy()
        df = _drop_short_sessions(df[support >= min_item_support], col_user, 2)
    if df.empty:
        raise DataError("no session of two clicks or more is left.")
    return split_sessions_by_time(
        df,
        test_days,
        whole_days=True,
        col_user=col_user,
        col_item=col_item,
        col_timestamp=col_timestamp,
    )


def load_diginetica(
    local_cache_path: str | os.PathLike | None = None,
    *,
    split: bool = True,
    min_item_support: int = 1,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    progress: bool = True,
    verify: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame] | pd.DataFrame:
    """SR-GNN's DIGINETICA sample: ``(train, test)`` (SR-GNN's 7-day split), or every view.

    Args:
        local_cache_path: A folder to look in first and to download into.
        split: Return :func:`diginetica_split`'s ``(train, test)``; False: the whole file.
        min_item_support: See :func:`diginetica_split`.
        col_user: Output column of the session id.
        col_item, col_timestamp: Output column names (time: float64 unix seconds).
        progress: Show a progress bar while downloading.
        verify: Check the file against its published SHA-256.

    Raises:
        ConfigError: clashing column names.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: the file is not the published one, or a line is malformed.
    """
    folder = fetch_files(DIGINETICA_FOLDER, (DIGINETICA_FILE,), local_cache_path, progress=progress)
    if verify:
        check_published(
            folder,
            PublishedFile(DIGINETICA_FILE.filename, (DIGINETICA_FILE.sha256,)),
            dataset="DIGINETICA sample (SR-GNN)",
        )
    df = read_diginetica_file(
        folder / DIGINETICA_FILE.filename,
        col_user=col_user,
        col_item=col_item,
        col_timestamp=col_timestamp,
    )
    if not split:
        return df
    train, test = diginetica_split(
        df,
        min_item_support=min_item_support,
        col_user=col_user,
        col_item=col_item,
        col_timestamp=col_timestamp,
    )
    logger.info("loaded DIGINETICA sample: %d train and %d test clicks", len(train), len(test))
    return train, test


__all__ = [
    "DAY",
    "DIGINETICA_FILE",
    "DIGINETICA_FOLDER",
    "DIGINETICA_SIZE",
    "DIGINETICA_TEST_DAYS",
    "RSC15_FOLDER",
    "RSC15_SIZES",
    "RSC15_TEST",
    "RSC15_TRAIN",
    "diginetica_split",
    "load_diginetica",
    "load_rsc15",
    "read_diginetica_file",
    "read_rsc15_file",
    "split_sessions_by_time",
]
