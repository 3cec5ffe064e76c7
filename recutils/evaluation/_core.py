"""Shared internals of the evaluation package: checks, id encoding and the one join.

Everything here works on integer codes: user and item ids of the two frames are
encoded once (jointly, so that equal ids get equal codes), a (user, item) pair
becomes one int64 key, and sorting is done with ``np.sort`` on composite int64
keys (``key * n_rows + row``), which is both fast and stable. No users x items
matrix is ever built: memory stays linear in the number of rows.
"""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recutils.exceptions import ColumnMismatchError, DataError, DataWarning
from recutils.utils.arrays import (  # noqa: F401 (re-exported: imported from here elsewhere)
    encode_ids,
    group_starts,
    in_sorted,
    positions_in_group,
    search_sorted,
    stable_argsort,
)
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)

RELEVANCY_METHODS = ("top_k", "by_threshold", None)


# --------------------------------------------------------------------------- helpers
def _is_numeric(s: pd.Series) -> bool:
    """Numeric or boolean ids; a categorical column is judged by its categories' dtype."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


#: Largest integer id that float64 holds exactly (integers above it may share a float).
_FLOAT_EXACT_INT = 2**53


def _base_kind(s: pd.Series) -> str:
    """numpy kind of the ids (``"i"``/``"u"``/``"f"``/``"b"``/...), categories judged by theirs."""
    dtype = s.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    return getattr(dtype, "kind", "O")


def _lossy_as_float(s: pd.Series) -> bool:
    """True when some id of ``s`` does not survive a round trip through float64 unchanged.

    Integer ids must lie within +-2**53; float ids must be whole numbers (NaN ids are
    reported later, by the id encoding).
    """
    values = (
        s.to_numpy()
        if not isinstance(s.dtype, pd.CategoricalDtype)
        else s.cat.categories.to_numpy()
    )
    if values.size == 0:
        return False
    if values.dtype.kind in "iu":
        return bool(((values > _FLOAT_EXACT_INT) | (values < -_FLOAT_EXACT_INT)).any())
    v = values.astype(np.float64)
    v = v[~np.isnan(v)]
    return bool((v != np.trunc(v)).any() | (np.abs(v) > _FLOAT_EXACT_INT).any())


def check_same_kind(a: pd.Series, b: pd.Series, col: str, name_a: str, name_b: str) -> None:
    """Raise when an id column is of a different kind in the two frames.

    Numeric and string/object ids are never matched (``"1"`` is not ``1``). Integer ids
    in one frame and float ids in the other (a prediction frame that went through NaN,
    say) are matched **by value** (``3 == 3.0``) when that is exact: every float id a
    whole number and every id within +-2**53. Otherwise a :class:`ColumnMismatchError`
    says to cast, because the match would silently be wrong (two integer ids above 2**53
    can round to one float; ``3.5`` can match no integer id). Microsoft Recommenders
    refuses every int/float pair with ``ColumnTypeMismatchError``.
    """
    if _is_numeric(a) != _is_numeric(b):
        raise ColumnMismatchError(
            f"column {col!r} has dtype {a.dtype} in {name_a} but {b.dtype} in {name_b}; "
            "ids must be of the same kind (both numeric or both strings/objects) to be matched."
        )
    kinds = {_base_kind(a), _base_kind(b)}
    if "f" in kinds and kinds & {"i", "u"} and (_lossy_as_float(a) or _lossy_as_float(b)):
        raise inexact_id_match_error(
            col,
            f"{name_a}: {a.dtype}, {name_b}: {b.dtype}",
            f"{name_b}[{col!r}] = {name_b}[{col!r}].astype({name_a}[{col!r}].dtype)",
        )


def inexact_id_match_error(col: str, types: str, cast: str) -> ColumnMismatchError:
    """The error of integer ids matched against float ids where the match is not exact.

    Shared by the pandas and Spark evaluations; ``types`` names both frames' types and
    ``cast`` is the statement that fixes it.
    """
    return ColumnMismatchError(
        f"column {col!r} has integer ids in one frame and float ids in the other "
        f"({types}), and matching them by value is not exact "
        "(a float id that is not a whole number, or an id beyond 2**53). Cast both to one dtype "
        f"first, e.g. {cast}."
    )


def dense_desc_rank(score: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense rank of ``score`` in descending order (0 = highest; equal scores share a rank)."""
    n = score.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    order = np.argsort(score)
    s_sorted = score[order]
    steps = np.empty(n, dtype=np.int64)
    steps[0] = 0
    np.cumsum(s_sorted[1:] != s_sorted[:-1], out=steps[1:])
    n_unique = int(steps[-1]) + 1
    rank = np.empty(n, dtype=np.int64)
    rank[order] = n_unique - 1 - steps
    return rank, n_unique


def find_duplicate_keys(key: np.ndarray) -> bool:
    """True when ``key`` has a repeated value."""
    if key.size < 2:
        return False
    k = np.sort(key)
    return bool((k[1:] == k[:-1]).any())


def duplicate_error(name: str, col_user: str, col_item: str) -> DataError:
    return DataError(
        f"{name} has duplicate ({col_user!r}, {col_item!r}) rows; each (user, item) pair may appear "
        f"at most once. De-duplicate first, e.g. {name}.drop_duplicates([{col_user!r}, {col_item!r}])."
    )


def float_array(values, label: str, what: str) -> np.ndarray:
    """``values`` (array-like or Series) as float64, with a clear error on NaN or non-numbers."""
    try:
        if isinstance(values, (pd.Series, pd.Index)):
            out = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        dtype = getattr(values, "dtype", type(values).__name__)
        raise DataError(f"{label} must hold numbers ({what}); got dtype {dtype}.") from exc
    if np.isnan(out).any():
        n_bad = int(np.isnan(out).sum())
        raise DataError(
            f"{label} has {n_bad} NaN value(s); {what} must all be numbers. "
            "Drop or fill them before evaluating."
        )
    return out


def float_values(df: pd.DataFrame, col: str, name: str, what: str) -> np.ndarray:
    """Column as float64, with a clear error on NaN or non-numeric values."""
    return float_array(df[col], f"{name}[{col!r}]", what)


def check_relevancy(relevancy_method: str | None, k: int, threshold) -> int | None:
    """Validate the ranking arguments; return the per-user cut-off (None: no cut-off)."""
    if relevancy_method not in RELEVANCY_METHODS:
        raise DataError(
            f"relevancy_method={relevancy_method!r} is not supported; use one of {list(RELEVANCY_METHODS)}."
        )
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise DataError(f"k must be a positive integer, got {k!r}.")
    if relevancy_method == "top_k":
        return int(k)
    if relevancy_method == "by_threshold":
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, numbers.Real)
            or not math.isfinite(float(threshold))
            or float(threshold) != int(threshold)
            or threshold < 1
        ):
            raise DataError(
                "with relevancy_method='by_threshold' the threshold is the number of top items kept per "
                f"user (as in Microsoft Recommenders) and must be a positive integer, got {threshold!r}."
            )
        return int(threshold)
    return None


# --------------------------------------------------------------------------- prepared data
@dataclass
class TopK:
    """The ranked prediction rows of common users up to a cut-off, sorted by (user, rank)."""

    user: np.ndarray  # user code per row
    rank: np.ndarray  # 1-based rank within the user
    hit: np.ndarray  # bool: the (user, item) pair is in the truth
    true_row: np.ndarray  # row of the truth frame for hits, -1 otherwise
    pred_row: np.ndarray  # row of the prediction frame


@dataclass
class Prepared:
    """Truth and prediction frames encoded once; every metric reads from here.

    Build with :func:`prepare`. Lazily computed parts (ranking order, rating join,
    top-k cut-offs) are cached so that :func:`recutils.evaluation.evaluate` pays
    for each only once.
    """

    n_users: int
    n_items: int
    t_user: np.ndarray
    t_item: np.ndarray
    p_user: np.ndarray
    p_item: np.ndarray
    t_key_sorted: np.ndarray
    t_row_sorted: np.ndarray
    rating_true: pd.DataFrame
    rating_pred: pd.DataFrame
    col_rating: str | None
    col_prediction: str | None
    _cache: dict = field(default_factory=dict)

    # ---- users
    @property
    def n_true(self) -> np.ndarray:
        if "n_true" not in self._cache:
            self._cache["n_true"] = np.bincount(self.t_user, minlength=self.n_users)
        return self._cache["n_true"]

    @property
    def n_pred(self) -> np.ndarray:
        if "n_pred" not in self._cache:
            self._cache["n_pred"] = np.bincount(self.p_user, minlength=self.n_users)
        return self._cache["n_pred"]

    @property
    def common(self) -> np.ndarray:
        """Bool per user code: the user has rows in both frames."""
        if "common" not in self._cache:
            self._cache["common"] = (self.n_true > 0) & (self.n_pred > 0)
        return self._cache["common"]

    @property
    def n_common(self) -> int:
        return int(self.common.sum())

    # ---- values
    def true_values(self) -> np.ndarray:
        if "true_values" not in self._cache:
            if self.col_rating is None:
                raise ColumnMismatchError("this metric needs col_rating in rating_true.")
            self._cache["true_values"] = float_values(
                self.rating_true, self.col_rating, "rating_true", "true ratings"
            )
        return self._cache["true_values"]

    def pred_values(self) -> np.ndarray:
        if "pred_values" not in self._cache:
            self._cache["pred_values"] = float_values(
                self.rating_pred, self.col_prediction, "rating_pred", "predictions"
            )
        return self._cache["pred_values"]

    def lookup_true(self, user: np.ndarray, item: np.ndarray) -> np.ndarray:
        """Row of the truth frame holding each (user, item) pair, -1 where absent."""
        pos, found = search_sorted(self.t_key_sorted, user * self.n_items + item)
        if self.t_key_sorted.size == 0:
            return np.full(found.size, -1, dtype=np.int64)
        return np.where(found, self.t_row_sorted[pos], -1)

    # ---- the rating join
    def join_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(truth row, prediction row) of every (user, item) pair present in both frames.

        One stable sort of both frames' keys together: as neither frame repeats a key,
        equal neighbours are exactly the matches, the truth row first.
        """
        if "join_rows" not in self._cache:
            n_t = self.t_user.size
            keys = np.concatenate(
                [self.t_user * self.n_items + self.t_item, self.p_user * self.n_items + self.p_item]
            )
            order = stable_argsort(keys, max(self.n_users * self.n_items, 1))
            sorted_keys = keys[order]
            j = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
            self._cache["join_rows"] = (order[j], order[j + 1] - n_t)
        return self._cache["join_rows"]

    def rating_join(self) -> tuple[np.ndarray, np.ndarray]:
        """(true, predicted) values of the (user, item) pairs present in both frames."""
        if "rating_join" not in self._cache:
            t_rows, p_rows = self.join_rows()
            self._cache["rating_join"] = (self.true_values()[t_rows], self.pred_values()[p_rows])
        return self._cache["rating_join"]

    # ---- ranking
    def ranked(self, by_score: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Prediction rows of common users sorted by (user, -score, row) or (user, row).

        Returns (pred_row, user, rank) arrays, rank 1-based. Among equal scores the row
        that comes first in ``rating_pred`` ranks first (as a stable sort in Microsoft
        Recommenders' ``get_top_k_items``).
        """
        ck = ("ranked", by_score)
        if ck not in self._cache:
            rows = np.flatnonzero(self.common[self.p_user])
            user = self.p_user[rows]
            if by_score:
                score = self.pred_values()[rows] + 0.0  # -0.0 -> 0.0: equal scores tie
                srank, n_unique = dense_desc_rank(score)
                key = user * n_unique + srank
                order = stable_argsort(key, self.n_users * max(n_unique, 1))
            else:
                order = stable_argsort(user, self.n_users)
            pred_row = rows[order]
            user_sorted = user[order]
            rank = positions_in_group(user_sorted, self.n_users) + 1
            self._cache[ck] = (pred_row, user_sorted, rank)
        return self._cache[ck]

    def top(self, cutoff: int | None, by_score: bool) -> TopK:
        """Ranked rows up to ``cutoff`` (None: all rows) with their hits in the truth."""
        ck = ("top", cutoff, by_score)
        if ck not in self._cache:
            pred_row, user, rank = self.ranked(by_score)
            if cutoff is not None:
                keep = rank <= cutoff
                pred_row, user, rank = pred_row[keep], user[keep], rank[keep]
            true_row = self.lookup_true(user, self.p_item[pred_row])
            self._cache[ck] = TopK(user, rank, true_row >= 0, true_row, pred_row)
        return self._cache[ck]


def warn_no_common_users(prep: Prepared, col_user: str, stacklevel: int) -> None:
    """One :class:`DataWarning` when both frames have rows but share no user.

    Ranking metrics average over the users of both frames, so they are then 0.0 with
    nothing evaluated: most often the ids differ in form (``"1"`` and ``1`` are matched
    only when both columns are of one kind, ``col_user`` names another column, ...).
    Empty frames have their own warning in :func:`prepare`.
    """
    if prep.t_user.size and prep.p_user.size and prep.n_common == 0:
        warnings.warn(
            f"rating_true and rating_pred share no user in {col_user!r} (e.g. "
            f"{prep.rating_true[col_user].drop_duplicates().iloc[:3].tolist()} and "
            f"{prep.rating_pred[col_user].drop_duplicates().iloc[:3].tolist()}); ranking metrics are 0.0.",
            DataWarning,
            stacklevel=stacklevel + 1,
        )


def prepare(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    col_user: str,
    col_item: str,
    col_rating: str | None,
    col_prediction: str | None,
) -> Prepared:
    """Check both frames and encode them once.

    Checks: required columns, id columns of the same kind, no missing ids, no duplicate
    (user, item) rows in either frame (a :class:`DataError` says how to de-duplicate).
    NaN values are checked when a metric first reads ratings or predictions.
    """
    check_columns(rating_true, [col_user, col_item, col_rating], "rating_true")
    check_columns(rating_pred, [col_user, col_item, col_prediction], "rating_pred")
    for col in (col_user, col_item):
        check_same_kind(rating_true[col], rating_pred[col], col, "rating_true", "rating_pred")
    (t_user, p_user), n_users = encode_ids(
        rating_true[col_user], rating_pred[col_user], name=col_user
    )
    (t_item, p_item), n_items = encode_ids(
        rating_true[col_item], rating_pred[col_item], name=col_item
    )
    key_max = max(n_users * n_items, 1)
    t_key = t_user * n_items + t_item
    t_row_sorted = stable_argsort(t_key, key_max)
    t_key_sorted = t_key[t_row_sorted]
    if t_key_sorted.size > 1 and (t_key_sorted[1:] == t_key_sorted[:-1]).any():
        raise duplicate_error("rating_true", col_user, col_item)
    if find_duplicate_keys(p_user * n_items + p_item):
        raise duplicate_error("rating_pred", col_user, col_item)
    if len(rating_true) == 0 or len(rating_pred) == 0:
        warnings.warn(
            "rating_true or rating_pred is empty; ranking metrics are 0.0 and rating metrics undefined.",
            DataWarning,
            stacklevel=3,
        )
    return Prepared(
        n_users=n_users,
        n_items=n_items,
        t_user=t_user,
        t_item=t_item,
        p_user=p_user,
        p_item=p_item,
        t_key_sorted=t_key_sorted,
        t_row_sorted=t_row_sorted,
        rating_true=rating_true,
        rating_pred=rating_pred,
        col_rating=col_rating,
        col_prediction=col_prediction,
    )
