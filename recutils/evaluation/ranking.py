"""Ranking (top-k) metrics, with the arguments and values of Microsoft Recommenders.

Conventions shared by every function here
-----------------------------------------
* ``rating_true`` lists the relevant (user, item) pairs; ``rating_pred`` the scored
  candidates. Neither may hold duplicate (user, item) rows (:class:`DataError`, with
  the ``drop_duplicates`` call that fixes it); NaN predictions raise as well.
* **Users.** Only users present in *both* frames are evaluated, and averages are
  taken over them (:math:`|U|` below). Users with no relevant item found count as 0.
  Exception, kept from Microsoft Recommenders for one-to-one comparison:
  :func:`ndcg_at_k` averages over every user of ``rating_true`` (users without
  predictions count as 0).
* **Ranks.** ``relevancy_method="top_k"``: each user's predictions are sorted by
  score, highest first, and the first ``k`` kept. **Ties** are broken by row order:
  among equal scores the row that comes first in ``rating_pred`` ranks higher (a
  stable sort, exactly as Microsoft Recommenders' ``get_top_k_items``). The result is
  deterministic, independent of id labels, and - when scores have ties - dependent
  on row order. ``"by_threshold"``: the same, but the first ``threshold`` items are
  kept (Microsoft Recommenders' quirk: ``threshold`` is a *count* of items, not a
  score; ``k`` is still the divisor of precision and the cut of the ideal DCG).
  ``None``: ``rating_pred`` already holds each user's ranked list; ranks follow row
  order within each user and no cut is made.
* A user with fewer than ``k`` predictions is still divided by ``k`` in precision
  (so that user's best possible precision is below 1); ``k`` larger than the
  catalogue is allowed.
* Empty frames, or no user in common, give 0.0 (and a :class:`DataWarning`).

Notation: :math:`L_u` is user :math:`u`'s ranked list after the cut, :math:`R_u` the
relevant items of :math:`u` in ``rating_true``, :math:`\\mathrm{rel}_u(i)=1` when
:math:`i\\in R_u`, and :math:`\\mathrm{rank}_u(i)` the 1-based position of :math:`i` in :math:`L_u`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_K,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RANK_COL,
    DEFAULT_RATING_COL,
    DEFAULT_THRESHOLD,
    DEFAULT_USER_COL,
)
from recutils.evaluation._core import (
    Prepared,
    TopK,
    check_relevancy,
    dense_desc_rank,
    encode_ids,
    float_values,
    positions_in_group,
    prepare,
    stable_argsort,
    warn_no_common_users,
)
from recutils.evaluation._public import public_function, reject_unknown_keywords
from recutils.evaluation.rating import _binary_labels, _joined, _midranks, rating_metric
from recutils.exceptions import ConfigError, DataError
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)

SCORE_TYPES = ("binary", "raw", "exp")
DISCFUN_TYPES = ("loge", "log2")


# ---------------------------------------------------------------- kernels on prepared data
def _top(prep: Prepared, k: int, relevancy_method: str | None, threshold) -> TopK:
    cutoff = check_relevancy(relevancy_method, k, threshold)
    return prep.top(cutoff, by_score=relevancy_method is not None)


def _hits_per_user(prep: Prepared, top: TopK) -> np.ndarray:
    return np.bincount(top.user[top.hit], minlength=prep.n_users)


def _precision(
    prep: Prepared, k: int, relevancy_method="top_k", threshold=DEFAULT_THRESHOLD, **_
) -> float:
    top = _top(prep, k, relevancy_method, threshold)
    n = prep.n_common
    if n == 0 or not top.hit.any():
        return 0.0
    return float(_hits_per_user(prep, top).sum() / k / n)


def _recall(
    prep: Prepared, k: int, relevancy_method="top_k", threshold=DEFAULT_THRESHOLD, **_
) -> float:
    top = _top(prep, k, relevancy_method, threshold)
    n = prep.n_common
    if n == 0 or not top.hit.any():
        return 0.0
    hits = _hits_per_user(prep, top)
    users = hits > 0
    return float((hits[users] / prep.n_true[users]).sum() / n)


def _hit_ratio(
    prep: Prepared, k: int, relevancy_method="top_k", threshold=DEFAULT_THRESHOLD, **_
) -> float:
    top = _top(prep, k, relevancy_method, threshold)
    n = prep.n_common
    if n == 0:
        return 0.0
    return float((_hits_per_user(prep, top) > 0).sum() / n)


def _mrr(
    prep: Prepared, k: int, relevancy_method="top_k", threshold=DEFAULT_THRESHOLD, **_
) -> float:
    top = _top(prep, k, relevancy_method, threshold)
    n = prep.n_common
    if n == 0 or not top.hit.any():
        return 0.0
    hu, hr = top.user[top.hit], top.rank[top.hit]  # sorted by (user, rank)
    first = np.ones(hu.size, dtype=bool)
    first[1:] = hu[1:] != hu[:-1]
    return float((1.0 / hr[first]).sum() / n)


def _reciprocal_rank_sums(prep: Prepared, top: TopK) -> np.ndarray:
    """Per user, :math:`\\sum_{hits} (\\text{hits so far}) / \\text{rank}`."""
    hu, hr = top.user[top.hit], top.rank[top.hit]
    nth_hit = positions_in_group(hu, prep.n_users) + 1
    return np.bincount(hu, weights=nth_hit / hr, minlength=prep.n_users)


def _map_at_k(
    prep: Prepared, k: int, relevancy_method="top_k", threshold=DEFAULT_THRESHOLD, **_
) -> float:
    top = _top(prep, k, relevancy_method, threshold)
    n = prep.n_common
    if n == 0 or not top.hit.any():
        return 0.0
    rr = _reciprocal_rank_sums(prep, top)
    users = _hits_per_user(prep, top) > 0
    return float((rr[users] / np.minimum(prep.n_true[users], k)).sum() / n)


def _map(
    prep: Prepared, k: int, relevancy_method="top_k", threshold=DEFAULT_THRESHOLD, **_
) -> float:
    top = _top(prep, k, relevancy_method, threshold)
    n = prep.n_common
    if n == 0 or not top.hit.any():
        return 0.0
    rr = _reciprocal_rank_sums(prep, top)
    users = _hits_per_user(prep, top) > 0
    return float((rr[users] / prep.n_true[users]).sum() / n)


def _r_precision(
    prep: Prepared, k: int, relevancy_method="top_k", threshold=DEFAULT_THRESHOLD, **_
) -> float:
    top = _top(prep, k, relevancy_method, threshold)
    if prep.n_common == 0 or not top.hit.any():
        return 0.0
    n_rel = prep.n_true
    within = top.hit & (top.rank <= n_rel[top.user])
    cnt = np.bincount(top.user[within], minlength=prep.n_users)
    users = cnt > 0
    if not users.any():
        return 0.0
    return float(np.mean(cnt[users] / n_rel[users]))


def _gains(values: np.ndarray, score_type: str) -> np.ndarray:
    if score_type == "binary":
        return np.ones_like(values)
    if score_type == "raw":
        return values
    return np.power(2.0, values) - 1.0


def _check_ndcg_args(score_type: str, discfun_type: str) -> None:
    if score_type not in SCORE_TYPES:
        raise ConfigError(
            f"score_type={score_type!r} is not supported; use one of {list(SCORE_TYPES)}."
        )
    if discfun_type not in DISCFUN_TYPES:
        raise ConfigError(
            f"discfun_type={discfun_type!r} is not supported; use one of {list(DISCFUN_TYPES)}."
        )


def _ndcg(
    prep: Prepared,
    k: int,
    relevancy_method="top_k",
    threshold=DEFAULT_THRESHOLD,
    score_type: str = "binary",
    discfun_type: str = "loge",
    **_,
) -> float:
    _check_ndcg_args(score_type, discfun_type)
    top = _top(prep, k, relevancy_method, threshold)
    if prep.n_common == 0 or not top.hit.any():
        return 0.0
    ndcg = _ndcg_by_user(prep, top, k, score_type, discfun_type)[prep.n_true > 0]
    ndcg = ndcg[
        ~np.isnan(ndcg)
    ]  # 0/0 (a user whose every gain is 0) is skipped, as pandas' mean does
    return float(ndcg.mean()) if ndcg.size else 0.0


def _gauc(prep: Prepared, **_) -> float:
    y, p = _joined(prep)
    labels = _binary_labels(y, "gauc")
    user = prep.p_user[prep.join_rows()[1]]
    srank, n_unique = dense_desc_rank(-p)  # ascending dense rank of scores
    order = stable_argsort(user * n_unique + srank, prep.n_users * max(n_unique, 1))
    u_sorted = user[order]
    key_sorted = (user * n_unique + srank)[order]
    start = np.cumsum(np.bincount(u_sorted, minlength=prep.n_users))
    start = np.concatenate([[0], start[:-1]])
    ranks = _midranks(key_sorted) - start[u_sorted]  # 1-based mid-ranks within the user
    lab = labels[order]
    n_imp = np.bincount(u_sorted, minlength=prep.n_users).astype(np.float64)
    n_pos = np.bincount(u_sorted, weights=lab, minlength=prep.n_users)
    n_neg = n_imp - n_pos
    rank_pos = np.bincount(u_sorted, weights=ranks * lab, minlength=prep.n_users)
    valid = (n_pos > 0) & (n_neg > 0)
    if not valid.any():
        raise DataError("gauc is undefined: no user has both a positive and a negative label.")
    auc_u = (rank_pos[valid] - n_pos[valid] * (n_pos[valid] + 1) / 2.0) / (
        n_pos[valid] * n_neg[valid]
    )
    return float(np.sum(n_imp[valid] * auc_u) / np.sum(n_imp[valid]))


# ---------------------------------------------------------------- per-user kernels
#: Metrics :func:`ranking_metrics_by_user` computes per user -> the aggregate they average to.
PER_USER_METRICS = (
    "precision",
    "recall",
    "ndcg",
    "map",
    "mean_average_precision",
    "hit_ratio",
    "mrr",
)


def _by_user(
    prep: Prepared,
    name: str,
    k: int,
    relevancy_method: str | None = "top_k",
    threshold=DEFAULT_THRESHOLD,
    score_type: str = "binary",
    discfun_type: str = "loge",
) -> np.ndarray:
    """Per user code, the value whose mean over users is the aggregate metric.

    Users without predictions get 0 (NaN for nDCG's 0/0 case, which the aggregate
    skips). The aggregate is the mean over the users with predictions (nDCG: over
    every user of ``rating_true``), see :func:`ranking_metrics_by_user`.
    """
    top = _top(prep, k, relevancy_method, threshold)
    hits = _hits_per_user(prep, top).astype(np.float64)
    n_true = prep.n_true.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "precision":
            return hits / k
        if name == "recall":
            return np.where(hits > 0, hits / n_true, 0.0)
        if name == "hit_ratio":
            return (hits > 0).astype(np.float64)
        if name == "mrr":
            out = np.zeros(prep.n_users)
            hu, hr = top.user[top.hit], top.rank[top.hit]
            first = np.ones(hu.size, dtype=bool)
            first[1:] = hu[1:] != hu[:-1]
            out[hu[first]] = 1.0 / hr[first]
            return out
        if name in ("map", "mean_average_precision"):
            rr = _reciprocal_rank_sums(prep, top)
            denom = np.minimum(n_true, k) if name == "map" else n_true
            return np.where(hits > 0, rr / denom, 0.0)
    if name == "ndcg":
        return _ndcg_by_user(prep, top, k, score_type, discfun_type)
    raise ConfigError(f"no per-user form of {name!r}; available: {list(PER_USER_METRICS)}.")


def _ndcg_by_user(
    prep: Prepared, top: TopK, k: int, score_type: str, discfun_type: str
) -> np.ndarray:
    _check_ndcg_args(score_type, discfun_type)
    log = np.log if discfun_type == "loge" else np.log2
    true_vals = np.ones(prep.t_user.size) if score_type == "binary" else prep.true_values()
    dcg = np.bincount(
        top.user[top.hit],
        weights=_gains(true_vals[top.true_row[top.hit]], score_type) / log(1.0 + top.rank[top.hit]),
        minlength=prep.n_users,
    )
    if score_type == "binary":
        disc = np.concatenate([[0.0], np.cumsum(1.0 / log(2.0 + np.arange(k)))])
        idcg = disc[np.minimum(prep.n_true, k)]
    else:
        vrank, n_unique = dense_desc_rank(true_vals)
        order = stable_argsort(prep.t_user * n_unique + vrank, prep.n_users * max(n_unique, 1))
        users_sorted = prep.t_user[order]
        irank = positions_in_group(users_sorted, prep.n_users) + 1
        keep = irank <= k
        idcg = np.bincount(
            users_sorted[keep],
            weights=_gains(true_vals[order][keep], score_type) / log(1.0 + irank[keep]),
            minlength=prep.n_users,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        return dcg / idcg


# ---------------------------------------------------------------- public API
def _ranking_prep(
    rating_true, rating_pred, col_user, col_item, col_rating, col_prediction, relevancy_method
):
    """:func:`prepare` for a public ranking metric, warning when the frames share no user
    (the warning points at the metric's caller: public wrapper, metric, this function)."""
    prep = prepare(
        rating_true,
        rating_pred,
        col_user,
        col_item,
        col_rating,
        col_prediction if relevancy_method is not None else None,
    )
    warn_no_common_users(prep, col_user, stacklevel=4)
    return prep


_ARGS_DOC = """
    Args:
        rating_true: Relevant pairs (col_user, col_item); no duplicate pairs.
        rating_pred: Scored candidates (col_user, col_item, col_prediction); no duplicate pairs.
        col_user, col_item, col_prediction: Column names.
        relevancy_method: ``"top_k"`` (default), ``"by_threshold"`` or ``None`` (see the module notes).
        k: Length of the list (positive integer).
        threshold: With ``"by_threshold"``, the number of items kept per user.
        col_rating: Accepted and not read (Microsoft Recommenders passes one keyword set,
            ``col_rating`` included, to every ranking metric).

    Raises:
        UnknownKeywordError: A keyword outside this list (e.g. ``top_k=``).
"""


def _list_metric(name: str, kernel: Callable[..., float], doc: str) -> Callable[..., float]:
    """The public function ``name``: ``kernel`` on each user's list cut at k.

    Every list metric but nDCG has this signature (Microsoft Recommenders', whose
    ``**_`` is replaced by the one keyword it is there for, ``col_rating``); only the
    kernel and the docstring differ.
    """

    def metric(
        rating_true: pd.DataFrame,
        rating_pred: pd.DataFrame,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
        col_prediction: str = DEFAULT_PREDICTION_COL,
        relevancy_method: str | None = "top_k",
        k: int = DEFAULT_K,
        threshold: int = DEFAULT_THRESHOLD,
        *,
        col_rating: str = DEFAULT_RATING_COL,
    ) -> float:
        prep = _ranking_prep(
            rating_true, rating_pred, col_user, col_item, None, col_prediction, relevancy_method
        )
        return kernel(prep, k, relevancy_method, threshold)

    return public_function(metric, name, doc + _ARGS_DOC, __name__)


precision_at_k = _list_metric(
    "precision_at_k",
    _precision,
    """
    Precision at k, :math:`\\frac{1}{|U|}\\sum_u \\frac{|L_u\\cap R_u|}{k}` (Spark's definition).

    The divisor is always ``k``, even for users with fewer than k predictions.
    """,
)

recall_at_k = _list_metric(
    "recall_at_k",
    _recall,
    """
    Recall at k, :math:`\\frac{1}{|U|}\\sum_u \\frac{|L_u\\cap R_u|}{|R_u|}`.

    The divisor is :math:`|R_u|`, not :math:`\\min(|R_u|, k)`: a user with more than k
    relevant items cannot reach 1 (Microsoft Recommenders' definition).
    """,
)

map_at_k = _list_metric(
    "map_at_k",
    _map_at_k,
    """
    Mean average precision at k (Spark MLlib's ``meanAveragePrecisionAt``).

    .. math::
        \\mathrm{MAP@k} = \\frac{1}{|U|}\\sum_u \\frac{1}{\\min(|R_u|, k)}
        \\sum_{i\\in L_u\\cap R_u} P_u@\\mathrm{rank}_u(i)

    where :math:`P_u@n` is the precision of the first :math:`n` items of :math:`L_u`.
    """,
)

mean_average_precision = _list_metric(
    "mean_average_precision",
    _map,
    """
    Mean average precision normalised by all relevant items (Microsoft Recommenders' ``map``).

    .. math::
        \\mathrm{MAP} = \\frac{1}{|U|}\\sum_u \\frac{1}{|R_u|}\\sum_{i\\in L_u\\cap R_u} P_u@\\mathrm{rank}_u(i)

    Only the first ``k`` ranks are looked at (with ``"top_k"``), but the divisor is
    :math:`|R_u|`, so this is at most :func:`map_at_k`.
    """,
)

r_precision_at_k = _list_metric(
    "r_precision_at_k",
    _r_precision,
    """
    R-precision capped at k, as Microsoft Recommenders 1.2.1 computes it.

    .. math::
        \\text{R-prec} = \\operatorname{mean}_{u\\in U^+}
        \\frac{|\\{i\\in L_u\\cap R_u : \\mathrm{rank}_u(i)\\le |R_u|\\}|}{|R_u|}

    Quirk kept for comparability: the mean runs only over :math:`U^+`, the users with at
    least one relevant item within their first :math:`|R_u|` ranks (users without such a
    hit are *left out*, not counted as 0), so this is not bounded by precision. When
    :math:`|R_u|>k` only k ranks exist. If no user has such a hit the result is 0.0
    (Microsoft Recommenders returns NaN there).
    """,
)

hit_ratio_at_k = _list_metric(
    "hit_ratio_at_k",
    _hit_ratio,
    """
    Hit ratio at k, :math:`\\frac{1}{|U|}\\sum_u \\mathbb{1}[L_u\\cap R_u\\neq\\emptyset]`.

    The share of users with at least one relevant item in their list (not in
    Microsoft Recommenders 1.2.1; same user and rank conventions).
    """,
)

mrr_at_k = _list_metric(
    "mrr_at_k",
    _mrr,
    """
    Mean reciprocal rank at k, :math:`\\frac{1}{|U|}\\sum_u 1/\\min_{i\\in L_u\\cap R_u}\\mathrm{rank}_u(i)`.

    Users with no relevant item in their list count as 0 (not in Microsoft
    Recommenders 1.2.1; same user and rank conventions).
    """,
)


@reject_unknown_keywords
def ndcg_at_k(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
    relevancy_method: str | None = "top_k",
    k: int = DEFAULT_K,
    threshold: int = DEFAULT_THRESHOLD,
    score_type: str = "binary",
    discfun_type: str = "loge",
) -> float:
    """Normalized discounted cumulative gain at k.

    .. math::
        \\mathrm{DCG}_u = \\sum_{i\\in L_u\\cap R_u} \\frac{g(r_{ui})}{d(1+\\mathrm{rank}_u(i))},\\qquad
        \\mathrm{IDCG}_u = \\sum_{j=1}^{\\min(k,|R_u|)} \\frac{g(r_u^{(j)})}{d(1+j)},\\qquad
        \\mathrm{nDCG} = \\operatorname{mean}_u \\frac{\\mathrm{DCG}_u}{\\mathrm{IDCG}_u}

    with :math:`r_{ui}` the true rating, :math:`r_u^{(j)}` the user's j-th largest true
    rating, gain :math:`g(r)=1` (``score_type="binary"``, default), :math:`g(r)=r`
    (``"raw"``) or :math:`g(r)=2^r-1` (``"exp"``), and discount :math:`d=\\ln`
    (``discfun_type="loge"``, default) or :math:`\\log_2` (``"log2"``). The ideal list is
    built from all of the user's relevant items with the same gain and discount.

    Quirks kept from Microsoft Recommenders 1.2.1 (for one-to-one comparison):

    * the mean runs over **every user of rating_true**, also those without any
      prediction (they count as 0), unlike the other ranking metrics;
    * a user whose ideal DCG is 0 (all gains 0) is left out of the mean;
    * with ``relevancy_method="by_threshold"`` the DCG covers ``threshold`` ranks but
      the ideal DCG only ``k`` ranks, so values above 1 are possible.

    ``col_rating`` is needed only for ``"raw"`` and ``"exp"``.
    """
    _check_ndcg_args(score_type, discfun_type)
    prep = _ranking_prep(
        rating_true,
        rating_pred,
        col_user,
        col_item,
        col_rating if score_type != "binary" else None,
        col_prediction,
        relevancy_method,
    )
    return _ndcg(
        prep, k, relevancy_method, threshold, score_type=score_type, discfun_type=discfun_type
    )


gauc = rating_metric(
    "gauc",
    _gauc,
    """
    Group AUC: per-user AUC weighted by the user's number of impressions.

    .. math:: \\mathrm{GAUC} = \\frac{\\sum_{u\\in V} n_u\\,\\mathrm{AUC}_u}{\\sum_{u\\in V} n_u}

    over the joined (user, item) pairs, where ``col_rating`` holds 0/1 labels,
    :math:`n_u` is the number of joined pairs (impressions) of user :math:`u`,
    :math:`\\mathrm{AUC}_u` is the Mann-Whitney AUC of the user's scores (ties count
    one half, see :func:`recutils.evaluation.auc`), and :math:`V` the users with both a
    positive and a negative label (AUC is undefined for the others, which are left out).
    Not in Microsoft Recommenders 1.2.1 (this is the definition of Zhou et al., DIN, 2018).
    """,
)


@reject_unknown_keywords
def get_top_k_items(
    dataframe: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_rating: str = DEFAULT_RATING_COL,
    k: int | None = DEFAULT_K,
    *,
    col_rank: str = DEFAULT_RANK_COL,
) -> pd.DataFrame:
    """Each user's ``k`` highest-scored rows, with a 1-based rank column.

    Rows are sorted by user (ascending) then ``col_rating`` (descending); among equal
    scores the row that comes first in ``dataframe`` ranks higher (stable sort). The
    index is reset. With ``k=None`` the frame is taken as already ranked: rows keep
    their order and index and the rank is the position of each row among its user's
    rows. The input is never modified (Microsoft Recommenders adds the rank column to
    the input in place when ``k=None``).

    Args:
        dataframe: Frame with ``col_user`` and ``col_rating`` (the score to rank by).
        col_user: User column.
        col_rating: Score column (for predictions pass ``col_rating="prediction"``).
        k: Number of rows kept per user, or None.
        col_rank: Name of the rank column added (keyword only; Microsoft Recommenders'
            signature ends at ``k`` and always names it ``"rank"``).

    Returns:
        A new frame with every input column and ``col_rank``.
    """
    if k is None:
        check_columns(dataframe, [col_user], "dataframe")
        (codes,), n = encode_ids(dataframe[col_user], name=col_user)
        order = stable_argsort(codes, max(n, 1))
        rank = np.empty(codes.size, dtype=np.int64)
        rank[order] = positions_in_group(codes[order], n) + 1
        out = dataframe.copy()
        out[col_rank] = rank
        return out
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise DataError(f"k must be a positive integer or None, got {k!r}.")
    check_columns(dataframe, [col_user, col_rating], "dataframe")
    (codes,), n = encode_ids(dataframe[col_user], name=col_user, sort=True)
    score = float_values(dataframe, col_rating, "dataframe", "scores") + 0.0
    srank, n_unique = dense_desc_rank(score)
    order = stable_argsort(codes * n_unique + srank, max(n * n_unique, 1))
    rank = positions_in_group(codes[order], n) + 1
    keep = rank <= k
    out = dataframe.iloc[order[keep]].reset_index(drop=True)
    out[col_rank] = rank[keep]
    return out


__all__ = [
    "precision_at_k",
    "PER_USER_METRICS",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "mean_average_precision",
    "r_precision_at_k",
    "hit_ratio_at_k",
    "mrr_at_k",
    "gauc",
    "get_top_k_items",
]
