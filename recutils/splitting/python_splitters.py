"""Pandas splitters: random, chronological, stratified, leave-last-k-out, k-fold.

Names, arguments and per-group counts follow Microsoft Recommenders
(``recommenders.datasets.python_splitters``) so code ports one to one.

Common rules
------------
* ``ratio`` is a float in (0, 1), the train share, giving ``[train, test]``, or
  a list of at least two shares in (0, 1) summing to 1, giving one frame per
  entry; anything else raises :class:`~recutils.exceptions.DataError` (see
  :func:`recutils.splitting.split_utils.process_split_ratio`).
* **Rounding at the cut.** In a per-group split, a group (user, or item with
  ``filter_by="item"``) of ``c`` rows ordered by the split's key gives split
  ``j`` the rows ranked ``round(C[j-1] * c)`` to ``round(C[j] * c) - 1``
  (0-based), ``C`` being the cumulative ratios and ``round`` numpy's
  round-half-to-even; this is Microsoft's rule, and the per-group counts are
  identical to Microsoft's. Each split's size differs from ``ratio[j] * c`` by
  less than one row.
* **Tiny groups.** The rule applies to every group, however small: with
  ``ratio=0.75`` a user with 1 row keeps it in train (round(0.75) = 1), one
  with 2 rows keeps both in train (round(1.5) = 2, half to even), one with 3
  rows gets 2 train / 1 test. Use ``min_rating`` to drop small groups first.
* **Output.** Every frame keeps the input's columns, dtypes and index labels
  (like Microsoft); rows keep their input order inside each split, except in the
  stratified split, which returns Microsoft's order (sorted by group, shuffled
  within each group) so that seeded models reproduce Microsoft's results. The input is never
  modified (Microsoft's stratified split adds a ``random`` column to it).
* **Empty input** (or nothing left after ``min_rating``) gives the requested
  number of empty frames with the input's columns and dtypes.
* **Missing values** in the group (or timestamp) column raise
  :class:`~recutils.exceptions.DataError` (Microsoft drops those rows silently).
* **Timestamps stored as text** are parsed, never ordered as text (where ``"10"``
  sorts before ``"8"``): all numbers are compared as numbers, all ISO-8601
  dates/times as instants (UTC); any other text raises
  :class:`~recutils.exceptions.DataError` naming the column and a value.
* Errors: bad ``ratio`` -> :class:`~recutils.exceptions.DataError`; bad
  ``filter_by``, ``min_rating``, ``k``, ``n_folds`` ->
  :class:`~recutils.exceptions.ConfigError`; missing columns ->
  :class:`~recutils.exceptions.ColumnMismatchError`. All are ``ValueError``.

Everything is vectorized: one sort over an integer key (group code, then the
random or chronological key), group sizes by ``np.bincount``, positions within
a group by subtraction, cuts by comparison with the rounded per-group bounds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL, SEED
from recutils.splitting.split_utils import (
    Ratio,
    _assign_by_cut,
    _check_min_rating,
    _check_positive_int,
    _cumulative,
    _empty_splits,
    _frames_from_split_ids,
    _group_codes,
    _group_column,
    _min_rating_mask,
    _order_by_time_within_group,
    _order_random_within_group,
    _positions_within_group,
    _ratio_list,
    _timestamp_values,
)
from recutils.utils.arrays import positions_in_group
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)


def python_random_split(
    data: pd.DataFrame, ratio: Ratio = 0.75, seed: int = SEED
) -> list[pd.DataFrame]:
    """Split rows at random, ignoring users and items.

    Split ``j`` receives ``round(C[j] * n) - round(C[j-1] * n)`` rows of the
    ``n`` input rows (``C`` the cumulative ratios, round half to even), drawn
    by one permutation from ``numpy.random.default_rng(seed)``.

    Microsoft Recommenders uses the same counts for a list ``ratio`` but, for a
    float, scikit-learn's ``floor(ratio * n)`` train rows; recutils applies one
    rule to both, so a float split may have one more train row than Microsoft's.
    The rows drawn differ from Microsoft's (another random generator).

    Args:
        data: Frame to split.
        ratio: Train share in (0, 1), or a list of shares (one per split).
        seed: Random seed; the same seed and data give the same split.

    Returns:
        ``[train, test]`` for a float ratio, else one frame per ratio entry;
        input columns, dtypes and index labels, rows in input order.
    """
    check_columns(data, [], "data")
    cumulative = _cumulative(_ratio_list(ratio))
    n = len(data)
    if n == 0:
        return _empty_splits(data, len(cumulative))
    perm = np.random.default_rng(seed).permutation(n)
    # Rank of every row in the random order; the cut rule is the per-group one
    # with a single group.
    rank = np.empty(n, dtype=np.int64)
    rank[perm] = np.arange(n, dtype=np.int64)
    split = _assign_by_cut(rank, np.zeros(n, dtype=np.int64), np.array([n]), cumulative)
    return _frames_from_split_ids(data, split, len(cumulative))


def _split_by_group(
    data: pd.DataFrame,
    ratio: Ratio,
    min_rating: int,
    filter_by: str,
    col_user: str,
    col_item: str,
    col_timestamp: str | None,
    seed: int | None,
) -> list[pd.DataFrame]:
    """Shared body of the chronological (``col_timestamp``) and stratified splits."""
    group_col = _group_column(filter_by, col_user, col_item)
    _check_min_rating(min_rating)
    cumulative = _cumulative(_ratio_list(ratio))
    check_columns(data, [group_col, col_timestamp], "data")
    n_splits = len(cumulative)
    if len(data) == 0:
        return _empty_splits(data, n_splits)

    stratified = col_timestamp is None
    # The stratified split orders groups by value (Microsoft sorts by the group column):
    # codes numbered in sorted order give that order directly.
    codes, n_groups = _group_codes(data, group_col, sort=stratified)
    times = None if stratified else _timestamp_values(data, col_timestamp)
    positions = None
    if min_rating > 1:
        keep = _min_rating_mask(codes, n_groups, min_rating)
        positions = np.flatnonzero(keep)
        logger.debug(
            "min_rating=%s on %r keeps %d of %d rows",
            min_rating,
            group_col,
            len(positions),
            len(data),
        )
        if len(positions) == 0:
            return _empty_splits(data, n_splits)
        codes = codes[positions]
        if times is not None:
            times = times[positions]

    if stratified:
        # Microsoft's draws: one uniform key per (kept) row from numpy's legacy
        # generator seeded with ``seed``; rows ordered by group value, then key.
        keys = np.random.RandomState(seed).random_sample(len(codes))
        order, sorted_codes = _order_by_uniform_key(codes, n_groups, keys)
        counts = np.bincount(codes, minlength=n_groups)
        rank = positions_in_group(sorted_codes, n_groups, counts)
        split_sorted = _assign_by_cut(rank, sorted_codes, counts, cumulative)
        rows = order if positions is None else positions[order]
        # rows come out in the sorted order, as Microsoft returns them: one stable
        # (radix) sort of the small split ids lists each split's rows in that order
        rows = rows[np.argsort(split_sorted, kind="stable")]
        bounds = np.cumsum(np.bincount(split_sorted, minlength=n_splits))
        frames = [data.take(part) for part in np.split(rows, bounds[:-1])]
    else:
        order = _order_by_time_within_group(codes, n_groups, times)
        sorted_codes, rank, counts = _positions_within_group(codes, n_groups, order)
        split = np.empty(len(codes), dtype=np.int8)
        split[order] = _assign_by_cut(rank, sorted_codes, counts, cumulative)
        frames = _frames_from_split_ids(data, split, n_splits, positions)
    logger.debug("split %d rows by %r into %s", len(data), group_col, [len(f) for f in frames])
    return frames


#: ``RandomState.random_sample`` draws multiples of 2**-53: ``key * 2**53`` is an exact integer.
_KEY_BITS = 53


def _order_by_uniform_key(
    codes: np.ndarray, n_groups: int, keys: np.ndarray, key_bits: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row order by group code, then ``keys``, then input position; and the sorted codes.

    ``keys`` are ``RandomState.random_sample`` draws. One unsigned 64-bit ``np.sort`` (of
    values: several times cheaper than an argsort) does the work: each row's sort key holds
    its group code in the high bits, the leading bits of its key in the middle and its row
    number in the low bits, so the sorted keys give the order directly. Rows whose
    truncated keys collide inside a group (about one pair in 2**28 at 20,000 groups and two
    million rows) are then put in exact (key, position) order, so the result equals a
    stable sort by (code, key), which is Microsoft's ``sort_values([group, random])``.

    Args:
        codes: Group code of every row, in ``[0, n_groups)``.
        n_groups: Number of groups.
        keys: Uniform keys in ``[0, 1)``, multiples of 2**-53.
        key_bits: Bits of the key kept in the sort key (default: all that fit); tests
            lower it to force collisions.
    """
    n = len(codes)
    code_bits = max(int(n_groups - 1).bit_length(), 1)
    row_bits = max(int(n - 1).bit_length(), 1)
    room = 64 - code_bits - row_bits
    bits = min(room, _KEY_BITS) if key_bits is None else min(int(key_bits), room)
    if bits < 1:  # no room for the key beside code and row (not reached below 2**31 rows)
        order = np.lexsort((keys, codes))
        return order, codes[order]
    ikey = (keys * float(2**_KEY_BITS)).astype(np.uint64)
    if bits < _KEY_BITS:
        ikey >>= np.uint64(_KEY_BITS - bits)
    packed = codes.astype(np.uint64) << np.uint64(bits + row_bits)
    packed |= ikey << np.uint64(row_bits)
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    order = (packed & np.uint64((1 << row_bits) - 1)).astype(np.int64)
    group_key = packed >> np.uint64(row_bits)
    ties = np.flatnonzero(group_key[1:] == group_key[:-1])
    if ties.size:
        # Runs of equal (code, truncated key) are contiguous; sorting their union by
        # (code, key, row) keeps every run in place and orders each run exactly.
        members = np.union1d(ties, ties + 1)
        rows = order[members]
        order[members] = rows[np.lexsort((rows, keys[rows], codes[rows]))]
    return order, (group_key >> np.uint64(bits)).astype(np.int64)


def python_chrono_split(
    data: pd.DataFrame,
    ratio: Ratio = 0.75,
    min_rating: int = 1,
    filter_by: str = "user",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> list[pd.DataFrame]:
    """Split each user's (or item's) rows in time order: earliest to train.

    Within a group, rows are ordered by ``col_timestamp``; **ties are broken by
    input row order** (the earlier row counts as earlier), which is also what
    Microsoft Recommenders' sort does in practice. The cut follows the module's
    rounding rule, so every test timestamp of a group is >= its train
    timestamps, and the per-group counts equal Microsoft's.

    Timestamps may be integers, floats, numpy datetimes/timedeltas, any dtype
    pandas can order (tz-aware datetimes, ordered categoricals), or text holding
    numbers (``"8"``, ``"10"``) or ISO-8601 dates/times, which is parsed first (see
    the module's rules).

    Args:
        data: Interactions.
        ratio: Train share in (0, 1), or a list of shares (one per split).
        min_rating: Drop users (items) with fewer rows first; 1 keeps all.
        filter_by: ``"user"`` or ``"item"``: the group used both for
            ``min_rating`` and for the per-group split (as in Microsoft).
        col_user: User column.
        col_item: Item column.
        col_timestamp: Timestamp column.

    Returns:
        ``[train, test]`` for a float ratio, else one frame per ratio entry.

    Raises:
        DataError: bad ``ratio``; missing values in the group or timestamp column;
            text timestamps that are not all numbers or all ISO-8601.
        ConfigError: bad ``filter_by`` or ``min_rating``.
        ColumnMismatchError: the group or timestamp column is missing.
    """
    return _split_by_group(
        data, ratio, min_rating, filter_by, col_user, col_item, col_timestamp, None
    )


def python_stratified_split(
    data: pd.DataFrame,
    ratio: Ratio = 0.75,
    min_rating: int = 1,
    filter_by: str = "user",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    seed: int = SEED,
) -> list[pd.DataFrame]:
    """Split each user's (or item's) rows at random, keeping the ratio per group.

    The split is **row for row Microsoft Recommenders' split for the same seed**:
    every row (left after ``min_rating``) draws a uniform key from numpy's legacy
    generator (``np.random.RandomState(seed)``, which is what Microsoft's
    ``np.random.seed(seed); np.random.rand(n)`` draws), rows are ordered by group
    value and then by key, and each group is cut by the module's rounding rule.
    Unlike the other splitters, rows come out in that order (grouped by the
    ``filter_by`` column in sorted order, shuffled inside each group), as
    Microsoft returns them: models that number users and items by first
    appearance (cornac does) then train exactly as they do on Microsoft's frames,
    and a seeded fit reproduces Microsoft's figures. The result depends only on
    the seed and the data (rows and their order); the global numpy state is
    neither read nor changed.

    Args:
        data: Interactions.
        ratio: Train share in (0, 1), or a list of shares (one per split).
        min_rating: Drop users (items) with fewer rows first; 1 keeps all.
        filter_by: ``"user"`` or ``"item"``: the group used both for
            ``min_rating`` and for the per-group split.
        col_user: User column.
        col_item: Item column.
        seed: Random seed.

    Returns:
        ``[train, test]`` for a float ratio, else one frame per ratio entry.

    Raises:
        DataError: bad ``ratio``; missing values in the group column.
        ConfigError: bad ``filter_by`` or ``min_rating``.
        ColumnMismatchError: the group column is missing.
    """
    return _split_by_group(data, ratio, min_rating, filter_by, col_user, col_item, None, seed)


def leave_last_k_out(
    data: pd.DataFrame,
    k: int = 1,
    col_user: str = DEFAULT_USER_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> list[pd.DataFrame]:
    """Put each user's ``k`` latest interactions in test, the rest in train.

    Rows of a user are ordered by ``col_timestamp`` (text holding numbers or
    ISO-8601 dates/times is parsed first, as in :func:`python_chrono_split`);
    **ties are broken by input row order: of two rows with the same time, the
    later row in the input counts as the later interaction** (the same order as
    :func:`python_chrono_split`).
    Users with ``k`` or fewer interactions stay entirely in train (they would
    otherwise have nothing to learn from), so they are absent from test.

    Args:
        data: Interactions.
        k: Number of latest interactions per user held out, >= 1.
        col_user: User column.
        col_timestamp: Timestamp column.

    Returns:
        ``[train, test]`` with the input's columns, dtypes and index labels,
        rows in input order; two empty frames for an empty input.

    Raises:
        ConfigError: ``k`` is not an integer >= 1.
        DataError: missing values in the user or timestamp column; text timestamps
            that are not all numbers or all ISO-8601.
        ColumnMismatchError: a column is missing.
    """
    k = _check_positive_int(k, "k", 1)
    check_columns(data, [col_user, col_timestamp], "data")
    if len(data) == 0:
        return _empty_splits(data, 2)
    codes, n_groups = _group_codes(data, col_user)
    times = _timestamp_values(data, col_timestamp)
    order = _order_by_time_within_group(codes, n_groups, times)
    sorted_codes, rank, counts = _positions_within_group(codes, n_groups, order)
    size = counts[sorted_codes]
    test_sorted = (size - rank <= k) & (size > k)
    split = np.empty(len(codes), dtype=np.int8)
    split[order] = test_sorted
    return _frames_from_split_ids(data, split, 2)


def python_kfold_split(
    data: pd.DataFrame,
    n_folds: int = 5,
    seed: int = SEED,
    filter_by: str = "user",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """K-fold cross-validation stratified per user (or item).

    Each user's rows are shuffled with ``numpy.random.default_rng(seed)`` and
    dealt round-robin to the folds starting at a random fold drawn per user:
    fold = (position in the shuffled order + offset) mod ``n_folds``. Hence

    * every row is in the test part of exactly one fold;
    * a user's rows are spread evenly: each fold holds ``floor(c / n_folds)`` or
      ``ceil(c / n_folds)`` of a user's ``c`` rows;
    * a user with fewer than ``n_folds`` rows appears in the test part of only
      ``c`` folds, chosen at random (not always the first ones), and is in
      train in the others.

    The folds are computed (and the arguments checked) when the function is
    called; the frames are built lazily as the iterator is consumed.

    Args:
        data: Interactions.
        n_folds: Number of folds, >= 2.
        seed: Random seed.
        filter_by: ``"user"`` or ``"item"``: the group to stratify on.
        col_user: User column.
        col_item: Item column.

    Returns:
        An iterator of ``n_folds`` ``(train, test)`` pairs; input columns, dtypes
        and index labels, rows in input order. An empty input gives ``n_folds``
        pairs of empty frames.

    Raises:
        ConfigError: bad ``n_folds`` or ``filter_by``.
        DataError: missing values in the group column.
        ColumnMismatchError: the group column is missing.
    """
    n_folds = _check_positive_int(n_folds, "n_folds", 2)
    group_col = _group_column(filter_by, col_user, col_item)
    check_columns(data, [group_col], "data")
    fold = kfold_assignments(
        data, n_folds=n_folds, seed=seed, filter_by=filter_by, col_user=col_user, col_item=col_item
    )

    def _folds() -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
        for f in range(n_folds):
            in_test = fold == f
            yield data.take(np.flatnonzero(~in_test)), data.take(np.flatnonzero(in_test))

    return _folds()


def kfold_assignments(
    data: pd.DataFrame,
    n_folds: int = 5,
    seed: int = SEED,
    filter_by: str = "user",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> np.ndarray:
    """Fold number (``0..n_folds-1``) of every row, as used by :func:`python_kfold_split`.

    Returns:
        An ``int64`` array aligned with the rows of ``data`` (by position).
    """
    n_folds = _check_positive_int(n_folds, "n_folds", 2)
    group_col = _group_column(filter_by, col_user, col_item)
    check_columns(data, [group_col], "data")
    if len(data) == 0:
        return np.zeros(0, dtype=np.int64)
    codes, n_groups = _group_codes(data, group_col)
    rng = np.random.default_rng(seed)
    order = _order_random_within_group(codes, n_groups, rng)
    sorted_codes, rank, _ = _positions_within_group(codes, n_groups, order)
    offset = rng.integers(0, n_folds, size=n_groups)
    fold = np.empty(len(codes), dtype=np.int64)
    fold[order] = (rank + offset[sorted_codes]) % n_folds
    return fold


__all__ = [
    "python_random_split",
    "python_chrono_split",
    "python_stratified_split",
    "leave_last_k_out",
    "python_kfold_split",
    "kfold_assignments",
]
