"""Vectorized building blocks on integer codes, shared by splitting, evaluation and datasets.

Ids become int64 codes (:func:`factorize`, :func:`encode_ids`); rows are ordered
within groups by one sort of a composite int64 key (:func:`stable_argsort`,
:func:`group_order`); positions inside groups come from a ``bincount``
(:func:`group_starts`, :func:`positions_in_group`); membership and lookups in a
sorted key array use one ``searchsorted`` (:func:`search_sorted`,
:func:`in_sorted`); :func:`top_k_per_row` selects the best columns of each row of a score
matrix (the ranking kernel of every model). No Python loop runs over rows or groups.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from recutils.exceptions import DataError

#: Composite keys (``key * n + row``) must stay below this to fit in int64.
KEY_LIMIT = 2**62


# --------------------------------------------------------------------------- codes
def factorize(
    values: pd.Series,
    *,
    sort: bool = False,
    missing: Callable[[int], str],
) -> tuple[np.ndarray, int]:
    """Integer codes ``0..n-1`` of ``values`` (order of first appearance, or sorted).

    Args:
        values: The ids.
        sort: Codes follow the natural order of the ids.
        missing: Builds the :class:`DataError` message from the number of missing ids.

    Raises:
        DataError: ``values`` holds missing values (NaN/None/NA).
    """
    codes, uniques = pd.factorize(values, sort=sort, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    if codes.size and codes.min() < 0:
        raise DataError(missing(int(np.count_nonzero(codes < 0))))
    return codes, len(uniques)


def encode_ids(
    *series: pd.Series, name: str = "id", sort: bool = False
) -> tuple[list[np.ndarray], int]:
    """Encode id columns of several frames jointly into int64 codes in ``[0, n)``.

    Equal ids get equal codes across frames. With ``sort=True`` the codes follow the
    natural order of the ids. Integer ids in a compact range are offset instead of
    hashed (same order, much faster).

    Raises:
        DataError: An id is missing (NaN/None).
    """
    sizes = [len(s) for s in series]
    total = sum(sizes)
    if all(s.dtype.kind in "iu" and isinstance(s.dtype, np.dtype) for s in series) and total:
        arrays = [s.to_numpy() for s in series]
        nonempty = [a for a in arrays if a.size]
        lo = min(int(a.min()) for a in nonempty)
        hi = max(int(a.max()) for a in nonempty)
        if hi - lo < 4 * total + 1024:
            return [a.astype(np.int64, copy=False) - lo for a in arrays], hi - lo + 1
    if total == 0:
        return [np.zeros(0, dtype=np.int64) for _ in series], 0
    joined = pd.concat([s.reset_index(drop=True) for s in series], ignore_index=True)
    codes, n = factorize(
        joined,
        sort=sort,
        missing=lambda _: (
            f"{name} column contains missing values (NaN/None); every row needs an id."
        ),
    )
    out, start = [], 0
    for size in sizes:
        out.append(codes[start : start + size])
        start += size
    return out, n


# --------------------------------------------------------------------------- ordering
def stable_argsort(key: np.ndarray, key_max: int, *, distinct: bool = False) -> np.ndarray:
    """Stable argsort of non-negative int64 ``key`` (all < ``key_max``).

    Uses one ``np.sort`` of ``key * n + row`` when that fits in int64 (ties keep row
    order). ``distinct=True`` promises that no two keys are equal, so any sort
    algorithm gives the stable order.
    """
    n = key.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if distinct:
        return np.argsort(key)
    if key_max * n < KEY_LIMIT:
        comp = key.astype(np.int64, copy=False) * n + np.arange(n, dtype=np.int64)
        return np.sort(comp) % n
    return np.argsort(key, kind="stable")


def group_order(
    codes: np.ndarray,
    n_groups: int,
    within: np.ndarray | None = None,
    span: int | None = None,
    *,
    distinct: bool = False,
) -> np.ndarray:
    """Row order grouped by ``codes``, then by ``within``, then by input position.

    Args:
        codes: Group code of each row, in ``[0, n_groups)``.
        n_groups: Number of groups.
        within: Order inside a group: integers in ``[0, span)`` (one composite-key
            sort), or any sortable values when ``span`` is ``None`` (two stable sorts).
        span: Upper bound of integer ``within`` values, or ``None``.
        distinct: ``within`` never repeats inside a group (a permutation), so any
            sort algorithm gives the same order.
    """
    if within is None:
        return stable_argsort(codes, max(n_groups, 1))
    if span is not None and within.dtype.kind in "iu" and n_groups * span < KEY_LIMIT:
        key = codes * span + within
        return stable_argsort(key, max(n_groups * span, 1), distinct=distinct)
    by_within = np.argsort(within, kind="stable")
    return by_within[np.argsort(codes[by_within], kind="stable")]


def group_starts(sorted_codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Start offset of each group in an array sorted by group code."""
    counts = np.bincount(sorted_codes, minlength=n_groups)
    return np.cumsum(counts) - counts


def positions_in_group(
    sorted_codes: np.ndarray, n_groups: int, counts: np.ndarray | None = None
) -> np.ndarray:
    """0-based position of each element within its group (array sorted by group code).

    ``counts`` (the size of every group), when already known, saves a ``bincount``.
    """
    if counts is None:
        starts = group_starts(sorted_codes, n_groups)
    else:
        starts = np.cumsum(counts) - counts
    return np.arange(sorted_codes.size, dtype=np.int64) - starts[sorted_codes]


# --------------------------------------------------------------------------- sorted lookups
def search_sorted(sorted_keys: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pos, found)``: where each of ``keys`` sits in ``sorted_keys`` and whether it is there.

    ``pos`` is a valid index into ``sorted_keys`` (clipped) wherever ``found``;
    everything is False for an empty ``sorted_keys``.
    """
    keys = np.asarray(keys)
    if sorted_keys.size == 0:
        return np.zeros(keys.shape, dtype=np.int64), np.zeros(keys.shape, dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    np.minimum(pos, sorted_keys.size - 1, out=pos)
    return pos, sorted_keys[pos] == keys


def in_sorted(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Membership of ``keys`` in the sorted array ``sorted_keys``."""
    return search_sorted(sorted_keys, keys)[1]


# --------------------------------------------------------------------------- labels
def join_flags(flags: np.ndarray, names: np.ndarray, sep: str = "|") -> pd.Series:
    """Turn a boolean rows x names matrix into ``sep``-joined strings ("" for none), vectorized.

    Names are joined in column order; the loop runs over the columns (labels), never rows.
    """
    out = np.full(flags.shape[0], "", dtype=object)
    for j in range(flags.shape[1]):
        rows = np.flatnonzero(flags[:, j])
        if rows.size:
            prev = out[rows]
            out[rows] = np.where(prev == "", names[j], prev + (sep + str(names[j])))
    return pd.Series(out, dtype="str")


# --------------------------------------------------------------------------- top-k
def top_k_per_row(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` column indices and values of each row, best first.

    Order: value descending, ties by column index ascending (deterministic).
    ``NaN`` counts as ``-inf``. Uses :func:`numpy.argpartition` (O(n_items) per
    row) and sorts only the ``k`` survivors. ``scores`` may be modified in place
    (NaN replaced).

    Returns:
        ``(idx, val)`` of shape ``(n_rows, min(k, n_cols))``; rows with fewer than
        ``k`` finite scores end with ``-inf`` entries for the caller to drop.
    """
    n, m = scores.shape
    k = min(int(k), m)
    if n == 0 or k == 0:
        return np.empty((n, 0), dtype=np.int64), np.empty((n, 0), dtype=scores.dtype)
    nan = np.isnan(scores)
    if nan.any():
        scores[nan] = -np.inf
    if k < m:
        idx = np.argpartition(scores, m - k, axis=1)[:, m - k :]
        val = np.take_along_axis(scores, idx, axis=1)
        kth = val.min(axis=1)
        # rows where the k-th value is tied with items left out: choose the
        # lowest indices among the ties, so the result does not depend on argpartition
        n_eq_in = (val == kth[:, None]).sum(axis=1)
        n_eq_all = (scores == kth[:, None]).sum(axis=1)
        amb = np.flatnonzero(n_eq_all > n_eq_in)
        if amb.size:
            sub = scores[amb]
            kk = kth[amb][:, None]
            greater = sub > kk
            equal = sub == kk
            need = k - greater.sum(axis=1)
            take = greater | (equal & (np.cumsum(equal, axis=1) <= need[:, None]))
            rows, cols = np.nonzero(take)
            idx[amb] = cols.reshape(amb.size, k)
            val[amb] = sub[rows, cols].reshape(amb.size, k)
    else:
        idx = np.broadcast_to(np.arange(m, dtype=np.int64), (n, m)).copy()
        val = scores.copy()
    order = np.argsort(idx, axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    val = np.take_along_axis(val, order, axis=1)
    order = np.argsort(-val, axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1).astype(np.int64), np.take_along_axis(
        val, order, axis=1
    )


__all__ = [
    "KEY_LIMIT",
    "encode_ids",
    "factorize",
    "group_order",
    "group_starts",
    "in_sorted",
    "join_flags",
    "positions_in_group",
    "search_sorted",
    "stable_argsort",
    "top_k_per_row",
]
