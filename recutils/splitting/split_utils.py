"""Building blocks shared by the pandas splitters.

Everything here is vectorized numpy/pandas: groups are turned into integer codes
with :func:`pandas.factorize`, group sizes come from :func:`numpy.bincount`, and
rows are ordered within their group by a single sort on an integer key. No Python
loop runs over rows or groups.

Public helpers keep the names and arguments of Microsoft Recommenders
(``process_split_ratio``, ``min_rating_filter_pandas``,
``split_pandas_data_with_ratios``) so that code ports one to one; the
differences are listed in each docstring.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_USER_COL, SEED
from recutils.exceptions import ConfigError, DataError
from recutils.utils.arrays import KEY_LIMIT, encode_ids, factorize, group_order, positions_in_group
from recutils.utils.validation import check_columns, check_positive_int

logger = logging.getLogger(__name__)

_FILTER_BY = ("user", "item")
# Ratio lists may miss 1 by floating-point residue (0.7 + 0.2 + 0.1), not more.
_SUM_TOLERANCE = 1e-6

Ratio = float | Sequence[float]


# --------------------------------------------------------------------------- ratios
def _check_one_ratio(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DataError(
            f"{where} must be a number in the open interval (0, 1), got {value!r} "
            f"({type(value).__name__})."
        )
    x = float(value)
    if not (0.0 < x < 1.0):  # also rejects NaN
        raise DataError(f"{where} must be in the open interval (0, 1), got {value!r}.")
    return x


def process_split_ratio(ratio: Ratio) -> tuple[bool, float | list[float]]:
    """Validate a split ratio and tell whether it asks for more than two splits.

    Args:
        ratio: Either one number in (0, 1), the share of the first (train) split,
            or a list/tuple/array of at least two numbers, each in (0, 1), one
            per split, summing to 1 (within 1e-6; the residue is divided out).
            Microsoft Recommenders silently normalises a list that does not sum
            to 1 (``[0.6, 0.3]`` becomes ``[2/3, 1/3]``); recutils raises instead,
            since such a list is almost always a typo.

    Returns:
        ``(multi, ratio)``: ``(False, ratio)`` for a single number,
        ``(True, normalised_list)`` for a list, like Microsoft Recommenders.

    Raises:
        DataError: ``ratio`` is of the wrong type, has fewer than two entries,
            or holds a value outside the open interval (0, 1) (NaN included).
            Microsoft Recommenders accepts list entries above 1 (``[70, 15, 15]``)
            as weights; recutils asks for shares in (0, 1) instead.
    """
    if isinstance(ratio, numbers.Real) and not isinstance(ratio, bool):
        return False, _check_one_ratio(ratio, "ratio")
    if isinstance(ratio, (list, tuple, np.ndarray, pd.Series)):
        values = list(ratio) if isinstance(ratio, (list, tuple)) else np.ravel(ratio).tolist()
        if len(values) < 2:
            raise DataError(
                f"a ratio list needs at least two entries in (0, 1), one per split, got "
                f"{ratio!r}; pass a single float in (0, 1) such as 0.75 for a train/test split."
            )
        values = [_check_one_ratio(v, f"ratio[{i}]") for i, v in enumerate(values)]
        total = math.fsum(values)
        if abs(total - 1.0) > _SUM_TOLERANCE:
            raise DataError(
                f"split ratios must sum to 1, got {ratio!r} (sum {total:g}); "
                "for example [0.7, 0.15, 0.15]."
            )
        # Remove floating-point residue so the last cut falls exactly at the end.
        return True, [v / total for v in values]
    raise DataError(
        f"ratio must be a float in (0, 1) or a list of floats in (0, 1), got {ratio!r} "
        f"({type(ratio).__name__})."
    )


def _ratio_list(ratio: Ratio) -> list[float]:
    """``ratio`` as a list of shares summing to 1 (``[r, 1 - r]`` for a float)."""
    multi, value = process_split_ratio(ratio)
    if multi:
        return value  # type: ignore[return-value]
    return [value, 1.0 - value]  # type: ignore[list-item, operator]


def _cumulative(ratios: list[float]) -> np.ndarray:
    """Cumulative shares, computed like Microsoft Recommenders (``np.cumsum``)."""
    return np.cumsum(np.asarray(ratios, dtype=np.float64))


# --------------------------------------------------------------------------- arguments
def _group_column(filter_by: object, col_user: str, col_item: str) -> str:
    if filter_by == "user":
        return col_user
    if filter_by == "item":
        return col_item
    raise ConfigError(f"filter_by must be one of {list(_FILTER_BY)}, got {filter_by!r}.")


def _check_min_rating(min_rating: object) -> None:
    """``min_rating`` is a count of rows: an integer >= 1 (``2.0`` is accepted, ``2.5`` is not)."""
    if (
        isinstance(min_rating, bool)
        or not isinstance(min_rating, numbers.Real)
        or not math.isfinite(float(min_rating))
        or float(min_rating) != int(min_rating)
        or min_rating < 1
    ):
        raise ConfigError(f"min_rating must be an integer >= 1, got {min_rating!r}.")


def _check_positive_int(value: object, name: str, minimum: int) -> int:
    return check_positive_int(name, value, minimum)


# --------------------------------------------------------------------------- groups
def _group_codes(data: pd.DataFrame, col: str, sort: bool = False) -> tuple[np.ndarray, int]:
    """Integer codes ``0..n_groups-1`` of ``data[col]`` (order of first appearance,
    or with ``sort`` the order of the values).

    Integer ids (which cannot be missing) go through
    :func:`recutils.utils.arrays.encode_ids`: in a compact range they are offset, not
    hashed, so their codes follow their values and some codes may have no row.

    Raises:
        DataError: the column holds missing values (Microsoft Recommenders drops
            those rows silently; recutils refuses to lose rows).
    """
    series = data[col]
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu":
        (codes,), n_groups = encode_ids(series, name=col, sort=True)
        return codes, n_groups
    return factorize(
        series,
        sort=sort,
        missing=lambda n: (
            f"column {col!r} has {n} missing value(s); every row needs a "
            f"{col!r} to be split. Drop or fill them first."
        ),
    )


def _positions_within_group(
    codes: np.ndarray, n_groups: int, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For rows sorted by ``order`` (grouped, ordered within each group):

    Returns:
        ``(sorted_codes, rank, counts)``: the group code of each sorted row, its
        0-based position inside its group, and the size of every group.
    """
    counts = np.bincount(codes, minlength=n_groups)
    sorted_codes = codes[order]
    return sorted_codes, positions_in_group(sorted_codes, n_groups, counts), counts


def _order_random_within_group(
    codes: np.ndarray, n_groups: int, rng: np.random.Generator
) -> np.ndarray:
    """Row order grouped by code and random inside each group.

    One random permutation of the rows gives every row a distinct tie-breaker,
    so the order depends only on the seed and the data, not on the sort algorithm.
    """
    n = len(codes)
    return group_order(codes, n_groups, rng.permutation(n), n, distinct=True)


def _timestamp_values(data: pd.DataFrame, col: str) -> np.ndarray:
    """Timestamps as a numpy array whose order is the chronological order.

    Numbers, datetimes and timedeltas keep their order. Text (``str``/``object``
    columns, unordered categoricals) is parsed first, never compared as text (where
    ``"10"`` sorts before ``"8"``): see :func:`_parse_time_text`. Ordered categoricals
    follow their categories' order.

    Raises:
        DataError: missing timestamps, or text that is not all numbers or all ISO-8601.
    """
    series = data[col]
    n_missing = int(series.isna().sum())
    if n_missing:
        raise DataError(
            f"column {col!r} has {n_missing} missing timestamp(s); a chronological split "
            "needs every row's time. Drop or fill them first."
        )
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) and not dtype.ordered:
        return _parse_time_text(series.astype(object), col)
    if dtype == np.dtype(object) or pd.api.types.is_string_dtype(dtype):
        return _parse_time_text(series, col)
    return _ordered_values(series)


def _ordered_values(series: pd.Series) -> np.ndarray:
    """Values of a numeric, datetime, timedelta or ordered column as an ordered array."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in "iub":
            values = series.to_numpy()
            if dtype.kind == "u" and len(values) and values.max() > np.iinfo(np.int64).max:
                return values
            return values.astype(np.int64, copy=False)
        if dtype.kind in "mM":
            return series.to_numpy().view(np.int64)
        if dtype.kind == "f":
            return series.to_numpy()
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(dtype):
        return series.to_numpy(dtype=np.float64)
    # Anything else with an order pandas knows (tz-aware datetimes, ordered
    # categoricals): rank the distinct values.
    ranks, _ = pd.factorize(series, sort=True)
    return np.asarray(ranks, dtype=np.int64)


def _parse_time_text(series: pd.Series, col: str) -> np.ndarray:
    """Timestamps stored as text (or Python objects) as ordered values.

    All numbers (``"8"``, ``"1.7e9"``, ints and floats in an object column) are
    compared as numbers; otherwise all ISO-8601 dates/times (``"2024-01-05"``,
    ``"2024-01-05T10:00:00+02:00"``; with an offset they are converted to UTC, without
    one they are taken as UTC) as instants. A mix, or any other text, is refused.
    """
    numbers = pd.to_numeric(series, errors="coerce")
    number_ok = numbers.notna().to_numpy() & np.isfinite(numbers.to_numpy(dtype=np.float64))
    if number_ok.all():
        return _ordered_values(pd.Series(numbers.to_numpy()))
    times = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    time_ok = times.notna().to_numpy()
    if time_ok.all():
        return times.dt.tz_convert(None).to_numpy().view(np.int64)
    failed = ~time_ok if time_ok.sum() >= number_ok.sum() else ~number_ok
    example = series.iloc[int(np.flatnonzero(failed)[0])]
    raise DataError(
        f"column {col!r} holds timestamps as {series.dtype} values that are neither all "
        f"numbers nor all ISO-8601 dates/times, e.g. {example!r}; a chronological split "
        "cannot order them. Convert the column first (pd.to_datetime with a format, or "
        "pd.to_numeric)."
    )


def _order_by_time_within_group(codes: np.ndarray, n_groups: int, times: np.ndarray) -> np.ndarray:
    """Row order grouped by code, then by time, then by input position (stable)."""
    if times.dtype.kind == "i" and len(times):
        lo = int(times.min())
        span = int(times.max()) - lo + 1
        if n_groups * span < KEY_LIMIT:  # else times - lo could overflow
            return group_order(codes, n_groups, times - lo, span)
    return group_order(codes, n_groups, times)


def _assign_by_cut(
    rank: np.ndarray, sorted_codes: np.ndarray, counts: np.ndarray, cumulative: np.ndarray
) -> np.ndarray:
    """Split number of each sorted row from its 0-based rank within its group.

    Split ``j`` of a group of size ``c`` holds the ranks from
    ``round(cumulative[j-1] * c)`` (inclusive) to ``round(cumulative[j] * c)``
    (exclusive), where ``round`` is numpy's round-half-to-even, exactly the rule
    of Microsoft Recommenders. The last cut is the group size itself, so no row
    is ever dropped by floating point error.
    """
    split = np.zeros(len(rank), dtype=np.int8)
    counts_f = counts.astype(np.float64)
    for threshold in cumulative[:-1]:  # loop over the few splits, not rows or groups
        bound = np.round(threshold * counts_f).astype(np.int64)
        split += rank >= bound[sorted_codes]
    return split


def _frames_from_split_ids(
    data: pd.DataFrame, split: np.ndarray, n_splits: int, positions: np.ndarray | None = None
) -> list[pd.DataFrame]:
    """One frame per split id, rows in input order, original index kept."""
    frames = []
    for j in range(n_splits):
        idx = np.flatnonzero(split == j)
        if positions is not None:
            idx = positions[idx]
        frames.append(data.take(idx))
    return frames


def _empty_splits(data: pd.DataFrame, n_splits: int) -> list[pd.DataFrame]:
    return [data.iloc[:0].copy() for _ in range(n_splits)]


# --------------------------------------------------------------------------- public helpers
def _min_rating_mask(codes: np.ndarray, n_groups: int, min_rating: float) -> np.ndarray:
    counts = np.bincount(codes, minlength=n_groups)
    return counts[codes] >= min_rating


def min_rating_filter_pandas(
    data: pd.DataFrame,
    min_rating: int = 1,
    filter_by: str = "user",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> pd.DataFrame:
    """Keep the rows of users (or items) with at least ``min_rating`` rows.

    Args:
        data: Interactions, one row each.
        min_rating: Minimum number of rows a user (item) needs to be kept; 1
            keeps everything.
        filter_by: ``"user"`` to count rows per ``col_user``, ``"item"`` per
            ``col_item``.
        col_user: User column.
        col_item: Item column.

    Returns:
        A new frame with the input's columns, dtypes and index labels, rows in
        input order. The input is not modified.

    Raises:
        ConfigError: ``filter_by`` is not ``"user"``/``"item"`` or ``min_rating`` < 1.
        ColumnMismatchError: the counted column is missing.
        DataError: the counted column holds missing values (Microsoft
            Recommenders' groupby drops such rows silently).
    """
    col = _group_column(filter_by, col_user, col_item)
    _check_min_rating(min_rating)
    check_columns(data, [col], "data")
    codes, n_groups = _group_codes(data, col)
    if min_rating <= 1 or len(data) == 0:
        return data.copy()
    keep = _min_rating_mask(codes, n_groups, min_rating)
    logger.debug("min_rating=%s on %r keeps %d of %d rows", min_rating, col, keep.sum(), len(keep))
    return data.take(np.flatnonzero(keep))


def split_pandas_data_with_ratios(
    data: pd.DataFrame, ratios: Sequence[float], seed: int = SEED, shuffle: bool = False
) -> list[pd.DataFrame]:
    """Cut a frame into consecutive (or, with ``shuffle``, random) parts.

    Split ``j`` gets the rows at positions ``round(c[j-1] * n)`` to
    ``round(c[j] * n)`` of the (shuffled) row order, ``c`` being the cumulative
    ratios and ``round`` round-half-to-even, as in Microsoft Recommenders.

    Differences from Microsoft Recommenders, on purpose: no ``split_index`` column is added (the
    output keeps the input's columns); with ``shuffle=True`` each part keeps the
    input row order (Microsoft returns the rows shuffled).

    Args:
        data: Frame to split.
        ratios: At least two shares in (0, 1) summing to 1.
        seed: Seed of ``numpy.random.default_rng`` for ``shuffle``.
        shuffle: Assign rows to parts at random instead of by position.

    Returns:
        ``len(ratios)`` frames with the input's columns, dtypes and index labels.
    """
    check_columns(data, [], "data")
    multi, values = process_split_ratio(ratios)
    if not multi:
        raise DataError(f"ratios must be a list of at least two shares, got {ratios!r}.")
    cumulative = _cumulative(values)  # type: ignore[arg-type]
    n = len(data)
    if n == 0:
        return _empty_splits(data, len(cumulative))
    bounds = [round(float(c) * n) for c in cumulative[:-1]] + [n]
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    split = np.empty(n, dtype=np.int8)
    start = 0
    for j, stop in enumerate(bounds):  # loop over the few splits
        split[order[start:stop]] = j
        start = stop
    return _frames_from_split_ids(data, split, len(bounds))


__all__ = [
    "process_split_ratio",
    "min_rating_filter_pandas",
    "split_pandas_data_with_ratios",
]
