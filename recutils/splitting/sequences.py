"""Next-item data: per-user chronological sequences, leave-one-out splits, padding.

A next-item recommender learns from the **order** of each user's interactions. This
module turns an interaction frame into that order and splits it the way the next-item
literature evaluates (SASRec, BERT4Rec and their successors):

* :func:`build_sequences` gives each user's items in time order (ties broken by input
  row order, like every chronological splitter of :mod:`recutils.splitting`) as a
  :class:`Sequences` object: one flat item array and per-user offsets (CSR layout), so
  40,000 users cost three arrays, not 40,000 Python lists;
* :func:`sequential_split` holds out each user's last item for test and, with
  ``valid=True``, the one before it for validation (``k`` items each for
  leave-last-k-out); users too short to give a training prefix stay in train;
* :func:`time_split` is the global temporal split (one cut time for everybody);
* :func:`pad_sequences` left-pads and truncates sequences to ``max_len`` for a model.

Everything is vectorized (one stable group sort; no loop over users).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError
from recutils.splitting.split_utils import (
    _check_positive_int,
    _empty_splits,
    _frames_from_split_ids,
    _group_codes,
    _order_by_time_within_group,
    _positions_within_group,
    _timestamp_values,
)
from recutils.utils.validation import check_columns

__all__ = [
    "check_histories",
    "recency_weights",
    "Sequences",
    "build_sequences",
    "sequential_split",
    "time_split",
    "pad_sequences",
]


@dataclass(frozen=True)
class Sequences:
    """Each user's items in order, stored flat.

    Attributes:
        users: The user ids, one per sequence (sorted).
        items: Every sequence's items one after the other (``items[offsets[i]:offsets[i + 1]]``
            is user ``users[i]``'s sequence, oldest first).
        offsets: int64 array of ``len(users) + 1`` positions into ``items``.
    """

    users: np.ndarray
    items: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        offsets = np.asarray(self.offsets)
        if offsets.ndim != 1 or len(offsets) != len(self.users) + 1:
            raise DataError(
                f"offsets must have len(users) + 1 = {len(self.users) + 1} entries, "
                f"got {offsets.shape}."
            )
        if len(offsets) and (
            offsets[0] != 0 or offsets[-1] != len(self.items) or np.any(np.diff(offsets) < 0)
        ):
            raise DataError("offsets must start at 0, never decrease and end at len(items).")

    def __len__(self) -> int:
        return len(self.users)

    @property
    def lengths(self) -> np.ndarray:
        """Length of every sequence."""
        return np.diff(self.offsets)

    def sequence(self, i: int) -> np.ndarray:
        """The ``i``-th user's items, oldest first."""
        return self.items[self.offsets[i] : self.offsets[i + 1]]

    def row_ids(self) -> np.ndarray:
        """For every entry of :attr:`items`, the index of its sequence."""
        return np.repeat(np.arange(len(self.users)), self.lengths)

    def positions(self) -> np.ndarray:
        """For every entry of :attr:`items`, its 0-based position in its sequence."""
        return np.arange(len(self.items)) - np.repeat(self.offsets[:-1], self.lengths)

    def to_frame(
        self,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
        col_position: str = "position",
    ) -> pd.DataFrame:
        """One row per entry: ``[col_user, col_item, col_position]``."""
        return pd.DataFrame(
            {
                col_user: np.repeat(self.users, self.lengths),
                col_item: self.items,
                col_position: self.positions(),
            }
        )


def _check_order_column(data: pd.DataFrame, col_timestamp: str | None) -> None:
    if col_timestamp is not None and col_timestamp not in data.columns:
        raise ColumnMismatchError(
            f"data has no {col_timestamp!r} column to order interactions by (columns: "
            f"{list(data.columns)}). Pass col_timestamp=<the time column>, or "
            "col_timestamp=None if the rows of each user are already in order."
        )


def _user_order(data: pd.DataFrame, col_user: str, col_timestamp: str | None):
    """Codes (sorted by user value), group count, and the rows grouped by user, then time."""
    codes, n_groups = _group_codes(data, col_user, sort=True)
    if col_timestamp is None:
        times = np.zeros(len(data), dtype=np.int64)  # stable: input order within a user
    else:
        times = _timestamp_values(data, col_timestamp)
    order = _order_by_time_within_group(codes, n_groups, times)
    return codes, n_groups, order


def build_sequences(
    data: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str | None = DEFAULT_TIMESTAMP_COL,
) -> Sequences:
    """Each user's items in time order.

    Args:
        data: Interactions.
        col_user, col_item: Id columns.
        col_timestamp: The column to order by (numbers, datetimes, or text holding
            numbers or ISO-8601 instants); rows with the same time keep their input
            order. ``None``: the rows of each user are already in order.

    Returns:
        :class:`Sequences` with users sorted by id.

    Raises:
        ColumnMismatchError: a column is missing (the message says how to order by
            input rows instead of a time column).
        DataError: missing user ids, items or times.
    """
    check_columns(data, [col_user, col_item], "data")
    _check_order_column(data, col_timestamp)
    if data[col_item].isna().any():
        raise DataError(f"column {col_item!r} has missing values; every interaction needs an item.")
    if len(data) == 0:
        return Sequences(
            data[col_user].to_numpy()[:0],
            data[col_item].to_numpy()[:0],
            np.zeros(1, dtype=np.int64),
        )
    codes, n_groups, order = _user_order(data, col_user, col_timestamp)
    counts = np.bincount(codes, minlength=n_groups)
    offsets = np.zeros(int(np.count_nonzero(counts)) + 1, dtype=np.int64)
    np.cumsum(counts[counts > 0], out=offsets[1:])
    users = data[col_user].to_numpy()[order[offsets[:-1]]]
    return Sequences(users, data[col_item].to_numpy()[order], offsets)


def sequential_split(
    data: pd.DataFrame,
    k: int = 1,
    valid: bool = True,
    col_user: str = DEFAULT_USER_COL,
    col_timestamp: str | None = DEFAULT_TIMESTAMP_COL,
    min_train: int = 1,
) -> list[pd.DataFrame]:
    """Leave-one-out (``k=1``) or leave-last-k-out split with an optional validation part.

    Each user's interactions are put in time order (ties by input row); the last ``k``
    go to test and, with ``valid``, the ``k`` before them to validation; the rest is
    train. A user needs ``min_train`` training interactions besides the held-out ones
    (``k + min_train`` rows, or ``2k + min_train`` with ``valid``); shorter users
    stay **entirely in train** (their items still teach the model; they are never
    evaluated), as in SASRec's and BERT4Rec's data code. In particular a user with one
    interaction is never evaluated.

    Args:
        data: Interactions.
        k: Interactions held out per user in each of test (and validation), >= 1.
        valid: Also hold out a validation part (``[train, valid, test]``), else
            ``[train, test]``.
        col_user: User column.
        col_timestamp: Order column; ``None`` if each user's rows are already in order.
        min_train: Training interactions a user must keep to be held out, >= 1.

    Returns:
        ``[train, valid, test]`` (or ``[train, test]``) with the input's columns, dtypes
        and index labels, rows in input order.

    Raises:
        ConfigError: ``k`` or ``min_train`` not an integer >= 1.
        ColumnMismatchError: a column is missing.
        DataError: missing users or times.
    """
    k = _check_positive_int(k, "k", 1)
    min_train = _check_positive_int(min_train, "min_train", 1)
    check_columns(data, [col_user], "data")
    _check_order_column(data, col_timestamp)
    n_splits = 3 if valid else 2
    if len(data) == 0:
        return _empty_splits(data, n_splits)
    codes, n_groups, order = _user_order(data, col_user, col_timestamp)
    sorted_codes, rank, counts = _positions_within_group(codes, n_groups, order)
    size = counts[sorted_codes]
    from_end = size - rank  # 1 for a user's last interaction
    held = k * (n_splits - 1)
    eligible = size >= held + min_train
    split_sorted = np.zeros(len(rank), dtype=np.int8)
    split_sorted[eligible & (from_end <= k)] = n_splits - 1
    if valid:
        split_sorted[eligible & (from_end > k) & (from_end <= 2 * k)] = 1
    split = np.empty(len(codes), dtype=np.int8)
    split[order] = split_sorted
    return _frames_from_split_ids(data, split, n_splits)


def time_split(
    data: pd.DataFrame,
    cutoff: float | pd.Timestamp | None = None,
    ratio: float | None = None,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    drop_cold: bool = True,
) -> list[pd.DataFrame]:
    """Global temporal split: everything before one cut time is train, the rest test.

    Give either ``cutoff`` (a time of ``col_timestamp``'s kind; rows at exactly the
    cutoff go to test) or ``ratio`` (the train share: the cutoff is the time of the
    row at that quantile of the sorted times, so ties at the cut go to test together).
    Unlike per-user splits, no future interaction of another user leaks into train.

    Args:
        data: Interactions.
        cutoff: The first test time.
        ratio: Train share in (0, 1), when ``cutoff`` is not given.
        col_user, col_item, col_timestamp: Columns.
        drop_cold: Drop test rows whose user or item has no train row (a model has
            no history or no embedding for them); ``False`` keeps them.

    Returns:
        ``[train, test]`` with the input's columns and index labels, rows in input order.

    Raises:
        ConfigError: neither or both of ``cutoff`` / ``ratio``, or ``ratio`` outside (0, 1).
        ColumnMismatchError: a column is missing.
        DataError: missing times, or a ``cutoff`` not comparable with the times.
    """
    if (cutoff is None) == (ratio is None):
        raise ConfigError("give exactly one of cutoff (a time) or ratio (the train share).")
    check_columns(data, [col_user, col_item, col_timestamp], "data")
    if len(data) == 0:
        return _empty_splits(data, 2)
    times = _timestamp_values(data, col_timestamp)  # also refuses missing times
    if ratio is not None:
        if isinstance(ratio, bool) or not isinstance(ratio, (float, int)) or not 0 < ratio < 1:
            raise ConfigError(f"ratio must be in (0, 1), got {ratio!r}.")
        ordered = np.sort(times, kind="stable")
        is_test = times >= ordered[min(int(np.floor(ratio * len(times))), len(times) - 1)]
    else:
        column = data[col_timestamp]
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            raise DataError(
                f"{col_timestamp!r} holds text; convert it (pd.to_datetime or "
                "pd.to_numeric) to split at a cutoff time, or pass ratio=."
            )
        try:
            is_test = (column >= cutoff).to_numpy(dtype=bool)
        except TypeError as err:
            raise DataError(
                f"cutoff {cutoff!r} cannot be compared with {col_timestamp!r} ({column.dtype})."
            ) from err
    if drop_cold:
        train_users = pd.unique(data[col_user].to_numpy()[~is_test])
        train_items = pd.unique(data[col_item].to_numpy()[~is_test])
        warm = (
            data[col_user].isin(train_users).to_numpy()
            & data[col_item].isin(train_items).to_numpy()
        )
        keep = ~is_test | warm
        split = np.where(is_test, 1, 0).astype(np.int8)[keep]
        return _frames_from_split_ids(data, split, 2, np.flatnonzero(keep))
    return _frames_from_split_ids(data, is_test.astype(np.int8), 2)


def pad_sequences(
    sequences: Sequences | list,
    max_len: int,
    pad: int = 0,
    side: str = "left",
) -> np.ndarray:
    """Integer sequences as one ``[n, max_len]`` matrix, truncated to their last ``max_len`` items.

    Args:
        sequences: A :class:`Sequences` of integer item codes, or a list of integer arrays.
        max_len: Width of the output, >= 1. Longer sequences keep their most recent
            ``max_len`` items (the documented behaviour, not an error).
        pad: The padding value; it must not be a real item code.
        side: ``"left"`` (items end at the last column: the latest item is always at
            ``[:, -1]``, as causal models read them) or ``"right"``.

    Returns:
        int64 matrix; empty sequences are all ``pad``.

    Raises:
        ConfigError: ``max_len`` < 1 or ``side`` not left/right.
        DataError: a sequence holds the padding value, or non-integer items.
    """
    max_len = _check_positive_int(max_len, "max_len", 1)
    if side not in ("left", "right"):
        raise ConfigError(f"side must be 'left' or 'right', got {side!r}.")
    if not isinstance(sequences, Sequences):
        arrays = [np.asarray(s).ravel() for s in sequences]
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
        sequences = Sequences(np.arange(len(arrays)), flat, offsets)
    items = np.asarray(sequences.items)
    if items.size and items.dtype.kind not in "iu":
        raise DataError(f"sequences must hold integer item codes, got dtype {items.dtype}.")
    if items.size and np.any(items == pad):
        raise DataError(
            f"the padding value {pad} is also a real item code in the sequences; "
            "code items from 1 (or choose another pad)."
        )
    lengths = sequences.lengths
    n = len(sequences)
    out = np.full((n, max_len), pad, dtype=np.int64)
    keep = np.minimum(lengths, max_len)
    from_end = np.repeat(lengths, lengths) - sequences.positions()  # 1 for the last item
    take = from_end <= max_len
    rows = sequences.row_ids()[take]
    if side == "left":
        cols = max_len - from_end[take]
    else:
        cols = keep[rows] - from_end[take]
    out[rows, cols] = items[take]
    return out


def check_histories(histories: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``histories`` as a list of 1-d arrays; :class:`DataError` when one is empty."""
    out = [np.asarray(h).ravel() for h in histories]
    empty = [i for i, h in enumerate(out) if h.size == 0]
    if empty:
        raise DataError(
            f"histories must not be empty; history {empty[0]} is ({len(empty)} empty in all)."
        )
    return out


def recency_weights(
    item_ids: pd.Index, histories: Sequence[np.ndarray], decay: float
) -> sp.csr_matrix:
    """The histories as a CSR ``[len(histories), len(item_ids)]`` of recency weights.

    The ``a``-th known click from the end (``a = 0``: the last known click) weighs
    ``decay ** a``; unknown ids are ignored; a repeated item sums its weights. ``decay=0``
    keeps only the last known click (weight 1); a history with no known item is an empty row.

    Raises:
        DataError: a history is empty.
    """
    histories = check_histories(histories)
    lengths = np.array([h.size for h in histories], dtype=np.int64)
    flat = np.concatenate(histories) if histories else np.empty(0)
    rows = np.repeat(np.arange(len(histories)), lengths)
    cols = item_ids.get_indexer(pd.Index(flat)) if flat.size else np.empty(0, np.int64)
    known = cols >= 0
    seen = np.cumsum(known)  # known clicks up to and including each position
    ends = np.cumsum(lengths) - 1
    total = seen[ends[rows]] if flat.size else seen
    age = (total - seen)[known]
    weights = np.power(float(decay), age.astype(np.float64))
    matrix = sp.csr_matrix(
        (weights, (rows[known], cols[known])), shape=(len(histories), len(item_ids))
    )
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    return matrix
