"""Amazon Beauty as the BERT4Rec paper pre-processed it: one next-item sequence per user.

The file ``beauty.txt`` of BERT4Rec (Sun et al., CIKM 2019,
https://github.com/FeiSun/BERT4Rec, ``data/beauty.txt``) holds one ``user_id item_id``
line per interaction (space-separated, integer ids re-indexed from 1), the lines of a
user together and in chronological order. It is derived from the Amazon review data of
McAuley et al. (SIGIR 2015; He & McAuley, WWW 2016), 5-core filtered: 40,226 users,
54,542 items, 353,962 interactions. SASRec, BERT4Rec and most later next-item papers
report on it with a leave-one-out split (last item for test, the one before for
validation) and 100 negatives sampled by popularity.

The file has no timestamps. :func:`load_pandas_df` therefore returns each interaction's
**position** in its user's sequence (0, 1, 2, ...) in the timestamp column: an order,
not a time, so the chronological splitters and :func:`recutils.splitting.sequences.build_sequences`
order by it, but a global time split is meaningless on this data.

The file is found by :func:`recutils.datasets.download.fetch_files`: ``local_cache_path``,
``$RECUTILS_DATA_MIRROR/amazon-beauty-bert4rec/``, the cache
``$RECUTILS_DATA_HOME/amazon-beauty-bert4rec/``, then a download from BERT4Rec's repository at
a pinned commit, checked against its SHA-256. The data is published for research (cite
the papers above); recutils never ships it.
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
from recutils.exceptions import ConfigError

logger = logging.getLogger(__name__)

FOLDER = "amazon-beauty-bert4rec"
FILENAME = "beauty.txt"
_COMMIT = "615eaf2004abecda487a38d5b0c72f3dcfcae5b3"
_SHA256 = "f480b7a7403852342ffd8f9809bb30697dd669be31813d0e204b698fec86ef49"
_FILE = RemoteFile(
    FILENAME,
    f"https://raw.githubusercontent.com/FeiSun/BERT4Rec/{_COMMIT}/data/{FILENAME}",
    _SHA256,
    3_912_093,
)

#: The published size of the data: interactions, users, items.
N_INTERACTIONS, N_USERS, N_ITEMS = 353_962, 40_226, 54_542


def read_sequences_file(
    path: str | os.PathLike,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> pd.DataFrame:
    """Parse a ``user_id item_id`` file whose lines are grouped by user, in order.

    This is the format of the SASRec and BERT4Rec data files (``beauty.txt``,
    ``ml-1m.txt``, ``Steam.txt``...).

    Returns:
        ``[col_user, col_item, col_timestamp]`` as int64 in file order, the last column
        holding each row's 0-based position in its user's sequence.

    Raises:
        CorruptDataError: a line without exactly two fields, an id below 1, the lines
            of a user not together (naming file and line), or an empty file.
        DataError: an id is not an integer.
    """
    path = Path(path)
    names = (col_user, col_item, col_timestamp)
    if len(set(names)) != 3:
        raise ConfigError(f"column names must be distinct, got {list(names)}.")
    table = read_table(
        path, " ", ("user", "item"), dtype={"user": "int64", "item": "int64"}, empty_ok=False
    )
    users = table.frame["user"].to_numpy()
    items = table.frame["item"].to_numpy()
    for name, values in (("user", users), ("item", items)):
        table.check(
            path, values < 1, lambda r, n=name, v=values: f"{n} id must be >= 1, found {v[r]}."
        )
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    first_rows = np.unique(users[starts], return_index=True)[1]
    if len(first_rows) != len(starts):
        # A user id that starts a second run: its lines are not together.
        seen_before = np.ones(len(starts), dtype=bool)
        seen_before[first_rows] = False
        row = int(starts[np.flatnonzero(seen_before)[0]])
        table.check(
            path,
            np.arange(len(users)) == row,
            lambda r: (
                f"the lines of user {users[r]} are not together (the file must be "
                "grouped by user, each user's items in order)."
            ),
        )
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(users)]))
    return pd.DataFrame(
        {
            col_user: users,
            col_item: items,
            col_timestamp: np.arange(len(users), dtype=np.int64) - run_start,
        }
    )


def load_pandas_df(
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load BERT4Rec's Amazon Beauty interactions (353,962 rows, 40,226 users, 54,542 items).

    Args:
        local_cache_path: A folder to look in first and to download into.
        col_user, col_item: Output id column names (integer ids from 1, as in the file).
        col_timestamp: Output column holding each row's position in its user's sequence
            (the file has no times; see the module docstring).
        progress: Show a progress bar while downloading.
        verify: Check the file against the SHA-256 of the file at the pinned BERT4Rec
            commit; ``False`` accepts a copy changed on purpose (format checks still apply).

    Returns:
        ``[col_user, col_item, col_timestamp]``, int64, in file order (grouped by user,
        each user's rows in sequence order).

    Raises:
        ConfigError: clashing column names.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: the file is not the published one, or a line is malformed.
    """
    folder = fetch_files(FOLDER, (_FILE,), local_cache_path, progress=progress)
    if verify:
        check_published(
            folder, PublishedFile(FILENAME, (_SHA256,)), dataset="Amazon Beauty (BERT4Rec)"
        )
    df = read_sequences_file(
        folder / FILENAME, col_user=col_user, col_item=col_item, col_timestamp=col_timestamp
    )
    logger.info("loaded Amazon Beauty (BERT4Rec): %d interactions", len(df))
    return df
