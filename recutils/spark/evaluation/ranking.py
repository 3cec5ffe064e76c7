"""Ranking (top-k) metrics on Spark DataFrames; see :mod:`recutils.evaluation.ranking`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_K,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RANK_COL,
    DEFAULT_RATING_COL,
    DEFAULT_THRESHOLD,
    DEFAULT_USER_COL,
)
from recutils.evaluation._core import check_relevancy
from recutils.evaluation._public import public_function, reject_unknown_keywords
from recutils.evaluation.ranking import _ARGS_DOC, _check_ndcg_args
from recutils.exceptions import ConfigError, DataError
from recutils.spark._utils import F, check_spark_columns, with_row_id
from recutils.spark.evaluation._common import _NTRUE, _ROW, Window, _Prepared
from recutils.spark.evaluation.rating import _binary_checked, _positive_rank_sums, _rating_metric

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


def _ranking_metrics(
    prep: _Prepared,
    names: Sequence[str],
    k: int,
    relevancy_method: str | None,
    threshold,
    score_type: str = "binary",
    discfun_type: str = "loge",
) -> dict[str, float]:
    """Every ranking metric of ``names`` at one k, from one per-user aggregation."""
    n_truth_users, n_common = prep.counts()
    stats = prep.user_stats(k, relevancy_method, threshold, score_type, discfun_type)
    nt = F.col(_NTRUE).cast("double")
    hits = F.col("hits").cast("double")
    aggs = {
        "precision": F.sum(hits) / F.lit(float(k)),
        "recall": F.sum(hits / nt),
        "map": F.sum(F.col("rr") / F.least(nt, F.lit(float(k)))),
        "mean_average_precision": F.sum(F.col("rr") / nt),
        "hit_ratio": F.sum(F.when(hits > 0, 1.0).otherwise(0.0)),
        "mrr": F.sum(F.when(F.col("first").isNotNull(), 1.0 / F.col("first")).otherwise(0.0)),
        "r_precision_sum": F.sum(F.when(F.col("rprec") > 0, F.col("rprec") / nt)),
        "r_precision_n": F.sum(F.when(F.col("rprec") > 0, 1).otherwise(0)),
        "total_hits": F.sum(hits),
    }
    row = stats.agg(*[expr.alias(name) for name, expr in aggs.items()]).first()
    total_hits = float(row["total_hits"] or 0.0)
    out: dict[str, float] = {}
    for name in names:
        if name in ("precision", "recall", "map", "mean_average_precision", "hit_ratio", "mrr"):
            if n_common == 0 or (total_hits == 0 and name != "hit_ratio"):
                out[name] = 0.0
            else:
                out[name] = float(row[name] or 0.0) / n_common
        elif name == "r_precision":
            n_users = int(row["r_precision_n"] or 0)
            out[name] = (
                0.0 if n_common == 0 or n_users == 0 else float(row["r_precision_sum"]) / n_users
            )
        elif name == "ndcg":
            if n_common == 0 or total_hits == 0:
                out[name] = 0.0
                continue
            idcg = prep.idcg(k, score_type, discfun_type)
            per_user = idcg.join(stats.select(prep.col_user, "dcg"), on=prep.col_user, how="left")
            ratio = F.coalesce(F.col("dcg"), F.lit(0.0)) / F.col("idcg")
            valid = F.col("idcg") != 0
            r = per_user.agg(
                F.sum(F.when(valid, ratio)).alias("s"),
                F.sum(F.when(valid, 1).otherwise(0)).alias("n"),
            ).first()
            out[name] = float(r["s"]) / int(r["n"]) if r["n"] else 0.0
        else:  # pragma: no cover - guarded by the callers
            raise ConfigError(f"not a ranking metric: {name!r}")
    return out


def _gauc(prep: _Prepared) -> float:
    j = prep.joined()
    _binary_checked(j, "gauc")
    users = (
        _positive_rank_sums(j, [prep.col_user])
        .select(
            "rank_pos",
            F.col("n_pos").cast("double").alias("n_pos"),
            F.col("n").cast("double").alias("n_imp"),
        )
        .withColumn("n_neg", F.col("n_imp") - F.col("n_pos"))
    )
    valid = users.filter((F.col("n_pos") > 0) & (F.col("n_neg") > 0))
    auc_u = (F.col("rank_pos") - F.col("n_pos") * (F.col("n_pos") + 1) / 2.0) / (
        F.col("n_pos") * F.col("n_neg")
    )
    row = valid.agg(F.sum(F.col("n_imp") * auc_u).alias("s"), F.sum("n_imp").alias("w")).first()
    if not row["w"]:
        raise DataError("gauc is undefined: no user has both a positive and a negative label.")
    return float(row["s"]) / float(row["w"])


# --------------------------------------------------------------------------- public ranking API
def _ranking_metric(
    name: str,
    rating_true,
    rating_pred,
    col_user,
    col_item,
    col_rating,
    col_prediction,
    relevancy_method,
    k,
    threshold,
    score_type="binary",
    discfun_type="loge",
    check=True,
) -> float:
    check_relevancy(relevancy_method, k, threshold)
    prep = _Prepared(
        rating_true,
        rating_pred,
        col_user,
        col_item,
        col_rating,
        col_prediction if relevancy_method is not None else None,
        check,
    )
    return _ranking_metrics(prep, [name], k, relevancy_method, threshold, score_type, discfun_type)[
        name
    ]


_SPARK_ARGS_DOC = _ARGS_DOC.replace(
    "\n\n    Raises:",
    """
        check: Check duplicates and null values first (one small job each).

    Raises:""",
)


def _list_metric(name: str, metric_name: str, doc: str) -> Callable[..., float]:
    """The public function ``name``: the list metric ``metric_name`` of each user's top k.

    Every list metric but nDCG has this signature: the pandas one plus ``check``.
    """

    def metric(
        rating_true: DataFrame,
        rating_pred: DataFrame,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
        col_prediction: str = DEFAULT_PREDICTION_COL,
        relevancy_method: str | None = "top_k",
        k: int = DEFAULT_K,
        threshold: int = DEFAULT_THRESHOLD,
        check: bool = True,
        *,
        col_rating: str = DEFAULT_RATING_COL,
    ) -> float:
        return _ranking_metric(
            metric_name,
            rating_true,
            rating_pred,
            col_user,
            col_item,
            None,
            col_prediction,
            relevancy_method,
            k,
            threshold,
            check=check,
        )

    return public_function(metric, name, doc + _SPARK_ARGS_DOC, __name__)


precision_at_k = _list_metric(
    "precision_at_k",
    "precision",
    """
    Precision at k (see :func:`recutils.evaluation.precision_at_k`).

    ``relevancy_method=None`` takes the rows as already ranked, in input row order per user.
    """,
)
recall_at_k = _list_metric(
    "recall_at_k",
    "recall",
    """
    Recall at k (see :func:`recutils.evaluation.recall_at_k`).""",
)
map_at_k = _list_metric(
    "map_at_k",
    "map",
    """
    MAP at k, divisor min(|R_u|, k) (see :func:`recutils.evaluation.map_at_k`).""",
)
mean_average_precision = _list_metric(
    "mean_average_precision",
    "mean_average_precision",
    """
    MAP with divisor |R_u| (see :func:`recutils.evaluation.mean_average_precision`).""",
)
r_precision_at_k = _list_metric(
    "r_precision_at_k",
    "r_precision",
    """
    R-precision capped at k, over users with a hit (see :func:`recutils.evaluation.r_precision_at_k`).""",
)
hit_ratio_at_k = _list_metric(
    "hit_ratio_at_k",
    "hit_ratio",
    """
    Share of users with a relevant item in their list (see :func:`recutils.evaluation.hit_ratio_at_k`).""",
)
mrr_at_k = _list_metric(
    "mrr_at_k",
    "mrr",
    """
    Mean reciprocal rank at k (see :func:`recutils.evaluation.mrr_at_k`).""",
)


@reject_unknown_keywords
def ndcg_at_k(
    rating_true: DataFrame,
    rating_pred: DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
    relevancy_method: str | None = "top_k",
    k: int = DEFAULT_K,
    threshold: int = DEFAULT_THRESHOLD,
    score_type: str = "binary",
    discfun_type: str = "loge",
    check: bool = True,
) -> float:
    """nDCG at k, averaged over every user of rating_true (see :func:`recutils.evaluation.ndcg_at_k`).

    ``score_type`` ``"binary"``/``"raw"``/``"exp"`` and ``discfun_type`` ``"loge"``/``"log2"``
    as in pandas; ``col_rating`` is read only for ``"raw"`` and ``"exp"``.
    """
    _check_ndcg_args(score_type, discfun_type)
    return _ranking_metric(
        "ndcg",
        rating_true,
        rating_pred,
        col_user,
        col_item,
        col_rating if score_type != "binary" else None,
        col_prediction,
        relevancy_method,
        k,
        threshold,
        score_type,
        discfun_type,
        check,
    )


gauc = _rating_metric(
    "gauc",
    _gauc,
    """
    Group AUC weighted by impressions (see :func:`recutils.evaluation.gauc`).""",
)


@reject_unknown_keywords
def get_top_k_items(
    dataframe: DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_rating: str = DEFAULT_RATING_COL,
    k: int | None = DEFAULT_K,
    col_rank: str = DEFAULT_RANK_COL,
) -> DataFrame:
    """Each user's ``k`` highest-scored rows with a 1-based rank column.

    Ties between equal scores go to the row that comes first in ``dataframe`` (input
    row order, see the module notes). With ``k=None`` the frame is taken as already
    ranked: the rank is the position of each row among its user's rows.
    Twin of :func:`recutils.evaluation.get_top_k_items`; the result is sorted by user
    then rank.
    """
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise DataError(f"k must be a positive integer or None, got {k!r}.")
    check_spark_columns(dataframe, [col_user] if k is None else [col_user, col_rating], "dataframe")
    df = with_row_id(dataframe, _ROW)
    if k is None:
        order = [F.col(_ROW)]
    else:
        order = [(F.col(col_rating).cast("double") + F.lit(0.0)).desc(), F.col(_ROW)]
    out = df.withColumn(col_rank, F.row_number().over(Window.partitionBy(col_user).orderBy(*order)))
    if k is not None:
        out = out.filter(F.col(col_rank) <= k)
    return out.orderBy(col_user, col_rank).drop(_ROW)


__all__ = [
    "precision_at_k",
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
