"""Beyond-accuracy metrics: coverage, novelty, diversity and serendipity.

Arguments and values follow Microsoft Recommenders 1.2.1: each function takes
``train_df`` (the historical interactions, col_user and col_item) and ``reco_df``
(the recommendations, col_user and col_item, optionally a relevance column).

Policies (checked, with a :class:`recutils.exceptions.DataError` when broken):

* ``reco_df`` has no duplicate (user, item) rows and recommends no item a user
  already has in ``train_df`` (remove seen items first);
* for the similarity-based metrics (diversity, serendipity) ``train_df`` has no
  duplicate (user, item) rows either; coverage and novelty count rows, so repeated
  interactions count as repeated choices (the *item choice model*).

Item similarity :math:`s(i, j)`:

* ``item_sim_measure="item_cooccurrence_count"`` (default): cosine of the items'
  user sets in ``train_df``, :math:`s(i,j)=|U_i\\cap U_j|/\\sqrt{|U_i||U_j|}`
  (Zhang et al., Auralist, WSDM 2012); 0 for items absent from ``train_df``.
* ``item_sim_measure="item_feature_vector"``: cosine of the items' feature vectors in
  ``item_feature_df`` (columns col_item and col_item_features, one vector per item);
  0 for items without a vector or with a zero vector.

Only the similarities that are needed are computed (sparse products restricted to
recommended items, processed in bounded chunks); no items x items or users x items
dense matrix is built.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recutils.evaluation._core import (
    check_same_kind,
    duplicate_error,
    encode_ids,
    find_duplicate_keys,
    float_values,
    in_sorted,
    positions_in_group,
    stable_argsort,
)
from recutils.evaluation._public import public_function, reject_unknown_keywords
from recutils.exceptions import ConfigError, DataError
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)

DEFAULT_ITEM_FEATURES_COL = "features"
DEFAULT_ITEM_SIM_MEASURE = "item_cooccurrence_count"
DEFAULT_SIMILARITY_COL = "sim"  # Microsoft Recommenders' col_sim default (accepted, not used)
ITEM_SIM_MEASURES = ("item_cooccurrence_count", "item_feature_vector")
_CHUNK = 4_000_000  # pairs per chunk


@dataclass
class _Beyond:
    train_df: pd.DataFrame
    reco_df: pd.DataFrame
    t_user: np.ndarray
    t_item: np.ndarray
    r_user: np.ndarray
    r_item: np.ndarray
    f_item: np.ndarray | None
    n_users: int
    n_items: int


def _prepare(
    train_df: pd.DataFrame,
    reco_df: pd.DataFrame,
    col_user: str,
    col_item: str,
    item_feature_df: pd.DataFrame | None = None,
    col_item_features: str | None = None,
    unique_train: bool = False,
) -> _Beyond:
    check_columns(train_df, [col_user, col_item], "train_df")
    check_columns(reco_df, [col_user, col_item], "reco_df")
    for col in (col_user, col_item):
        check_same_kind(train_df[col], reco_df[col], col, "train_df", "reco_df")
    item_series = [train_df[col_item], reco_df[col_item]]
    if item_feature_df is not None:
        check_columns(item_feature_df, [col_item, col_item_features], "item_feature_df")
        check_same_kind(
            train_df[col_item], item_feature_df[col_item], col_item, "train_df", "item_feature_df"
        )
        item_series.append(item_feature_df[col_item])
    (t_user, r_user), n_users = encode_ids(train_df[col_user], reco_df[col_user], name=col_user)
    item_codes, n_items = encode_ids(*item_series, name=col_item)
    t_item, r_item = item_codes[0], item_codes[1]
    f_item = item_codes[2] if item_feature_df is not None else None
    if len(train_df) == 0 or len(reco_df) == 0:
        raise DataError("train_df and reco_df must both have rows for beyond-accuracy metrics.")
    r_key = r_user * n_items + r_item
    if find_duplicate_keys(r_key):
        raise duplicate_error("reco_df", col_user, col_item)
    t_key = t_user * n_items + t_item
    if unique_train and find_duplicate_keys(t_key):
        raise duplicate_error("train_df", col_user, col_item)
    seen = in_sorted(np.sort(t_key), r_key)
    if seen.any():
        raise DataError(
            f"reco_df recommends {int(seen.sum())} (user, item) pair(s) already in train_df; "
            "these metrics need recommendations with seen items removed."
        )
    return _Beyond(train_df, reco_df, t_user, t_item, r_user, r_item, f_item, n_users, n_items)


def _chunks(counts: np.ndarray, budget: int = _CHUNK) -> Iterator[slice]:
    """Consecutive row slices whose ``counts`` sum to at most ``budget`` (one row at least)."""
    ends = np.cumsum(counts)
    start, n = 0, counts.size
    while start < n:
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + budget, side="right"))
        stop = max(stop, start + 1)
        yield slice(start, stop)
        start = stop


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For row j repeated counts[j] times: (row index, 0-based offset within the repeat)."""
    rows = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    firsts = np.cumsum(counts) - counts
    offsets = np.arange(rows.size, dtype=np.int64) - np.repeat(firsts, counts)
    return rows, offsets


class _Similarity:
    """Item-item similarity for given pairs of item codes."""

    def __init__(
        self, data: _Beyond, measure: str, item_feature_df, col_item_features, needed_rows
    ):
        if measure not in ITEM_SIM_MEASURES:
            raise ConfigError(
                f"item_sim_measure={measure!r} is not supported; use one of {list(ITEM_SIM_MEASURES)}."
            )
        self.measure = measure
        n_items = data.n_items
        if measure == "item_cooccurrence_count":
            x = sp.csr_matrix(
                (np.ones(data.t_item.size, dtype=np.float64), (data.t_item, data.t_user)),
                shape=(n_items, max(data.n_users, 1)),
            )
            self.count = np.bincount(data.t_item, minlength=n_items).astype(np.float64)
            self.rows = np.flatnonzero(np.bincount(needed_rows, minlength=n_items))
            self.row_pos = np.full(n_items, -1, dtype=np.int64)
            self.row_pos[self.rows] = np.arange(self.rows.size)
            # co-occurrence counts of the needed items with every item: |rows| x n_items, sparse
            self.co = (x[self.rows] @ x.T).tocsr()
        else:
            if item_feature_df is None:
                raise ConfigError(
                    "item_sim_measure='item_feature_vector' needs item_feature_df with columns "
                    f"[col_item, {col_item_features!r}]."
                )
            if find_duplicate_keys(data.f_item):
                raise DataError(
                    "item_feature_df has duplicate items; give one feature vector per item."
                )
            try:
                feats = np.vstack(
                    [
                        np.asarray(v, dtype=np.float64).ravel()
                        for v in item_feature_df[col_item_features]
                    ]
                )
            except ValueError as exc:
                raise DataError(
                    f"item_feature_df[{col_item_features!r}] must hold numeric vectors of equal length."
                ) from exc
            norms = np.linalg.norm(feats, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                unit = np.where(norms[:, None] > 0, feats / norms[:, None], 0.0)
            self.unit = unit
            self.feat_row = np.full(n_items, -1, dtype=np.int64)
            self.feat_row[data.f_item] = np.arange(data.f_item.size)

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if self.measure == "item_cooccurrence_count":
            pa = self.row_pos[a]
            if (pa < 0).any():  # pragma: no cover - callers put every `a` in needed_rows
                raise RuntimeError("similarity asked for an item outside the prepared rows")
            co = np.asarray(self.co[pa, b]).ravel()
            denom = np.sqrt(self.count[a] * self.count[b])
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(denom > 0, co / denom, 0.0)
        ra, rb = self.feat_row[a], self.feat_row[b]
        ok = (ra >= 0) & (rb >= 0)
        out = np.zeros(a.size)
        out[ok] = np.einsum("ij,ij->i", self.unit[ra[ok]], self.unit[rb[ok]])
        return out


def _first_rows(codes: np.ndarray, n: int) -> np.ndarray:
    """Row of the first occurrence of each code (-1 where absent)."""
    first = np.full(n, -1, dtype=np.int64)
    order = stable_argsort(codes, max(n, 1))
    sc = codes[order]
    new = np.ones(sc.size, dtype=bool)
    new[1:] = sc[1:] != sc[:-1]
    first[sc[new]] = order[new]
    return first


def _similarity_inputs(
    train_df, reco_df, col_user, col_item, item_feature_df, item_sim_measure, col_item_features
) -> tuple[_Beyond, _Similarity]:
    """Checked frames and the item similarity of the diversity and serendipity metrics."""
    data = _prepare(
        train_df,
        reco_df,
        col_user,
        col_item,
        item_feature_df,
        col_item_features,
        unique_train=item_sim_measure == "item_cooccurrence_count",
    )
    return data, _Similarity(
        data, item_sim_measure, item_feature_df, col_item_features, data.r_item
    )


def _user_frame(
    data: _Beyond, users: np.ndarray, col_user: str, column: str, values: np.ndarray
) -> pd.DataFrame:
    """``[col_user, column]`` for the user codes ``users``, sorted by user."""
    first = _first_rows(data.r_user, data.n_users)[users]
    out = pd.DataFrame({col_user: data.reco_df[col_user].iloc[first].to_numpy(), column: values})
    return out.sort_values(col_user, kind="stable").reset_index(drop=True)


def _pandas_mean(df: pd.DataFrame, column: str) -> float:
    return float(df[column].mean()) if len(df) else float("nan")


def mean_of(
    per_user: Callable,
    column: str,
    name: str,
    doc: str,
    module: str = __name__,
    average: Callable[[Any, str], float] = _pandas_mean,
) -> Callable[..., float]:
    """The public function ``name``: the ``average`` of ``per_user``'s ``column`` (NaN when
    empty), with ``per_user``'s signature; pandas and Spark define diversity and
    serendipity this way."""

    @functools.wraps(per_user)
    def mean(*args, **kwargs) -> float:
        return average(per_user(*args, **kwargs), column)

    mean.__signature__ = inspect.signature(per_user).replace(return_annotation="float")
    return public_function(mean, name, doc, module)


# ---------------------------------------------------------------- coverage and novelty
@reject_unknown_keywords
def catalog_coverage(
    train_df: pd.DataFrame,
    reco_df: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> float:
    """Catalog coverage, :math:`|I_{reco}| / |I_{train}|` (Shani and Gunawardana, 2010).

    The share of distinct training items that appear in some recommendation list.
    Microsoft Recommenders' definition counts *every* distinct recommended item in
    the numerator, including items absent from ``train_df``, so values above 1 are
    possible when recommendations contain unseen items; kept as is.
    """
    data = _prepare(train_df, reco_df, col_user, col_item)
    n_reco = np.count_nonzero(np.bincount(data.r_item, minlength=data.n_items))
    n_train = np.count_nonzero(np.bincount(data.t_item, minlength=data.n_items))
    return float(n_reco / n_train)


@reject_unknown_keywords
def distributional_coverage(
    train_df: pd.DataFrame,
    reco_df: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> float:
    """Distributional coverage: entropy of the recommended items, in bits.

    .. math:: -\\sum_{i} p(i)\\log_2 p(i),\\qquad p(i) = \\frac{\\#\\text{rows of reco\\_df with item } i}{\\#\\text{rows of reco\\_df}}

    (Shani and Gunawardana, 2010, formula 21). Higher means recommendations spread
    more evenly over more items; at most :math:`\\log_2` of the number of items.
    """
    data = _prepare(train_df, reco_df, col_user, col_item)
    counts = np.bincount(data.r_item, minlength=data.n_items)
    p = counts[counts > 0] / data.r_item.size
    return float(-np.sum(p * np.log2(p)))


@reject_unknown_keywords
def historical_item_novelty(
    train_df: pd.DataFrame,
    reco_df: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> pd.DataFrame:
    """Novelty of every training item, :math:`\\mathrm{nov}(i) = -\\log_2 \\frac{n_i}{N}`.

    :math:`n_i` is the number of rows of ``train_df`` with item :math:`i` and :math:`N` the
    number of rows (item choice model, Castells et al., ECIR 2011).

    Returns:
        DataFrame with columns ``[col_item, "item_novelty"]`` sorted by item.
    """
    data = _prepare(train_df, reco_df, col_user, col_item)
    counts = np.bincount(data.t_item, minlength=data.n_items)
    items = np.flatnonzero(counts)
    first = _first_rows(data.t_item, data.n_items)[items]
    out = pd.DataFrame(
        {
            col_item: train_df[col_item].iloc[first].to_numpy(),
            "item_novelty": -np.log2(counts[items] / data.t_item.size),
        }
    )
    return out.sort_values(col_item, kind="stable").reset_index(drop=True)


@reject_unknown_keywords
def novelty(
    train_df: pd.DataFrame,
    reco_df: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> float:
    """Mean novelty of the recommendations, :math:`\\frac{1}{|reco|}\\sum_{(u,i)\\in reco} \\mathrm{nov}(i)`.

    With :math:`\\mathrm{nov}` from :func:`historical_item_novelty` (Castells et al., 2011).
    Quirk kept from Microsoft Recommenders: a recommended item absent from ``train_df``
    has no novelty value and contributes 0 while still counting in the denominator.
    """
    data = _prepare(train_df, reco_df, col_user, col_item)
    counts = np.bincount(data.t_item, minlength=data.n_items).astype(np.float64)
    c = counts[data.r_item]
    with np.errstate(divide="ignore"):
        nov = np.where(c > 0, -np.log2(c / data.t_item.size), 0.0)
    return float(nov.sum() / data.r_item.size)


# ---------------------------------------------------------------- diversity
def _user_diversity_arrays(data: _Beyond, sim: _Similarity) -> tuple[np.ndarray, np.ndarray]:
    order = stable_argsort(data.r_user, max(data.n_users, 1))
    users = data.r_user[order]
    items = data.r_item[order]
    pos = positions_in_group(users, data.n_users)
    n_u = np.bincount(users, minlength=data.n_users)
    partners = n_u[users] - 1 - pos  # pairs (j, later rows of the same user)
    sim_sum = np.zeros(data.n_users)
    pair_cnt = np.zeros(data.n_users)
    for chunk in _chunks(partners):
        first, offset = _expand(partners[chunk])
        first = first + chunk.start
        second = first + 1 + offset
        s = sim(items[first], items[second])
        sim_sum += np.bincount(users[first], weights=s, minlength=data.n_users)
        pair_cnt += np.bincount(users[first], minlength=data.n_users)
    return sim_sum, pair_cnt


@reject_unknown_keywords
def user_diversity(
    train_df: pd.DataFrame,
    reco_df: pd.DataFrame,
    item_feature_df: pd.DataFrame | None = None,
    item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
    col_item_features: str = DEFAULT_ITEM_FEATURES_COL,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_sim: str = DEFAULT_SIMILARITY_COL,
    col_relevance: str | None = None,
) -> pd.DataFrame:
    """Intra-list diversity of each user's recommendations.

    .. math:: \\mathrm{div}(u) = 1 - \\frac{2}{|L_u|(|L_u|-1)}\\sum_{i<j\\in L_u} s(i,j)

    (Zhang et al. 2012, formula 3; Ziegler et al. 2005), the mean dissimilarity over
    the unordered pairs of distinct recommended items. Users with a single
    recommendation have no pair and are left out.

    ``col_sim`` and ``col_relevance`` are accepted for Microsoft Recommenders' keyword
    set and ignored: no similarity column is built, and diversity does not weigh items by
    relevance (theirs does not either).

    Returns:
        DataFrame ``[col_user, "user_diversity"]`` sorted by user.
    """
    data, sim = _similarity_inputs(
        train_df, reco_df, col_user, col_item, item_feature_df, item_sim_measure, col_item_features
    )
    sim_sum, pair_cnt = _user_diversity_arrays(data, sim)
    users = np.flatnonzero(pair_cnt > 0)
    return _user_frame(
        data, users, col_user, "user_diversity", 1.0 - sim_sum[users] / pair_cnt[users]
    )


diversity = mean_of(
    user_diversity,
    "user_diversity",
    "diversity",
    """
    Mean of :func:`user_diversity` over users with at least two recommendations.

    NaN when no user has two recommended items (nothing to compare).
    """,
)


# ---------------------------------------------------------------- serendipity
def _relevance(reco_df: pd.DataFrame, col_relevance: str | None) -> np.ndarray:
    if col_relevance is None:
        return np.ones(len(reco_df))
    check_columns(reco_df, [col_relevance], "reco_df")
    return float_values(reco_df, col_relevance, "reco_df", "relevance values")


def _item_serendipity_arrays(data: _Beyond, sim: _Similarity, relevance: np.ndarray):
    """Per reco row: serendipity and whether the user has a history (else NaN)."""
    t_order = stable_argsort(data.t_user, max(data.n_users, 1))
    t_items_sorted = data.t_item[t_order]
    hist = np.bincount(data.t_user, minlength=data.n_users)
    start = np.cumsum(hist) - hist
    counts = hist[data.r_user]
    sim_sum = np.zeros(data.r_user.size)
    for chunk in _chunks(counts):
        rows, offset = _expand(counts[chunk])
        rows = rows + chunk.start
        t_items = t_items_sorted[start[data.r_user[rows]] + offset]
        s = sim(data.r_item[rows], t_items)
        sim_sum += np.bincount(rows, weights=s, minlength=data.r_user.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = sim_sum / counts
    return (1.0 - avg) * relevance, counts > 0


@reject_unknown_keywords
def user_item_serendipity(
    train_df: pd.DataFrame,
    reco_df: pd.DataFrame,
    item_feature_df: pd.DataFrame | None = None,
    item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
    col_item_features: str = DEFAULT_ITEM_FEATURES_COL,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_sim: str = DEFAULT_SIMILARITY_COL,
    col_relevance: str | None = None,
) -> pd.DataFrame:
    """Serendipity of each recommended (user, item) pair.

    .. math:: \\mathrm{ser}(u, i) = \\Big(1 - \\frac{1}{|H_u|}\\sum_{j\\in H_u} s(i,j)\\Big)\\,\\mathrm{rel}(u,i)

    with :math:`H_u` the user's items in ``train_df`` and :math:`\\mathrm{rel}` the
    ``col_relevance`` column of ``reco_df`` (1 for every row when None) (Zhang et al.
    2012; E. Yan, 2020). Users without history are left out. Microsoft Recommenders
    casts relevance to float16 first; here it stays float64 (equal for 0/1 relevance).
    ``col_sim`` is accepted for Microsoft Recommenders' keyword set and ignored (it names
    an internal column there).

    Returns:
        DataFrame ``[col_user, col_item, "user_item_serendipity"]`` sorted by user then item.
    """
    data, sim = _similarity_inputs(
        train_df, reco_df, col_user, col_item, item_feature_df, item_sim_measure, col_item_features
    )
    ser, has_hist = _item_serendipity_arrays(data, sim, _relevance(reco_df, col_relevance))
    out = pd.DataFrame(
        {
            col_user: reco_df[col_user].to_numpy()[has_hist],
            col_item: reco_df[col_item].to_numpy()[has_hist],
            "user_item_serendipity": ser[has_hist],
        }
    )
    return out.sort_values([col_user, col_item], kind="stable").reset_index(drop=True)


@reject_unknown_keywords
def user_serendipity(
    train_df: pd.DataFrame,
    reco_df: pd.DataFrame,
    item_feature_df: pd.DataFrame | None = None,
    item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
    col_item_features: str = DEFAULT_ITEM_FEATURES_COL,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_sim: str = DEFAULT_SIMILARITY_COL,
    col_relevance: str | None = None,
) -> pd.DataFrame:
    """Mean :func:`user_item_serendipity` over each user's recommendations.

    .. math:: \\mathrm{ser}(u) = \\frac{1}{|L_u|}\\sum_{i\\in L_u}\\mathrm{ser}(u,i)

    ``col_sim`` is accepted and ignored, as in :func:`user_item_serendipity`.

    Returns:
        DataFrame ``[col_user, "user_serendipity"]`` sorted by user.
    """
    data, sim = _similarity_inputs(
        train_df, reco_df, col_user, col_item, item_feature_df, item_sim_measure, col_item_features
    )
    ser, has_hist = _item_serendipity_arrays(data, sim, _relevance(reco_df, col_relevance))
    u = data.r_user[has_hist]
    total = np.bincount(u, weights=ser[has_hist], minlength=data.n_users)
    cnt = np.bincount(u, minlength=data.n_users)
    users = np.flatnonzero(cnt > 0)
    return _user_frame(data, users, col_user, "user_serendipity", total[users] / cnt[users])


serendipity = mean_of(
    user_serendipity,
    "user_serendipity",
    "serendipity",
    """
    Mean of :func:`user_serendipity` over users (each user weighs the same).

    NaN when no recommended user has a history in ``train_df``.
    """,
)


__all__ = [
    "catalog_coverage",
    "distributional_coverage",
    "historical_item_novelty",
    "novelty",
    "user_diversity",
    "diversity",
    "user_item_serendipity",
    "user_serendipity",
    "serendipity",
    "DEFAULT_ITEM_FEATURES_COL",
    "DEFAULT_ITEM_SIM_MEASURE",
    "DEFAULT_SIMILARITY_COL",
]
