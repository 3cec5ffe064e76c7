"""Rating (point-wise) metrics on Spark DataFrames; see :mod:`recutils.evaluation.rating`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_USER_COL,
)
from recutils.evaluation._public import public_function
from recutils.exceptions import ConfigError, DataError
from recutils.spark._utils import F
from recutils.spark.evaluation._common import _PRED, _TRUE, Window, _Prepared

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

_EPS = 2.220446049250313e-16  # float64 machine epsilon, as scikit-learn's log_loss


# --------------------------------------------------------------------------- rating metrics
def _rating_stats(prep: _Prepared) -> dict[str, float]:
    j = prep.joined()
    y, p = F.col(_TRUE), F.col(_PRED)
    row = j.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum((y - p) * (y - p)).alias("sse"),
        F.sum(F.abs(y - p)).alias("sae"),
        F.avg(y).alias("mean_y"),
        F.var_pop(y).alias("var_y"),
        F.var_pop(y - p).alias("var_res"),
    ).first()
    if not row["n"]:
        raise DataError(
            "rating_true and rating_pred have no (user, item) pair in common; rating metrics are undefined."
        )
    mean_y = float(row["mean_y"])
    ss_tot = j.agg(F.sum((y - F.lit(mean_y)) * (y - F.lit(mean_y))).alias("t")).first()["t"]
    return {
        "n": float(row["n"]),
        "sse": float(row["sse"]),
        "sae": float(row["sae"]),
        "ss_tot": float(ss_tot),
        "var_y": float(row["var_y"]),
        "var_res": float(row["var_res"]),
    }


def _rating_value(name: str, prep: _Prepared, cache: dict) -> float:
    if name in ("auc", "logloss"):
        return _auc(prep) if name == "auc" else _logloss(prep)
    if "rating" not in cache:
        cache["rating"] = _rating_stats(prep)
    s = cache["rating"]
    if name == "rmse":
        return math.sqrt(s["sse"] / s["n"])
    if name == "mae":
        return s["sae"] / s["n"]
    if name == "rsquared":
        if s["ss_tot"] == 0.0:
            return 1.0 if s["sse"] == 0.0 else 0.0
        return 1.0 - s["sse"] / s["ss_tot"]
    if name == "exp_var":
        if s["var_y"] == 0.0:
            return 1.0 if s["var_res"] == 0.0 else 0.0
        return 1.0 - s["var_res"] / s["var_y"]
    raise ConfigError(f"not a rating metric: {name!r}")  # pragma: no cover


def _binary_checked(j: DataFrame, metric: str) -> None:
    bad = j.filter((F.col(_TRUE) != 0) & (F.col(_TRUE) != 1)).limit(3).collect()
    if bad:
        raise DataError(
            f"{metric} needs binary true labels (0 or 1) in col_rating; found e.g. "
            f"{[r[_TRUE] for r in bad]}."
        )


def _positive_rank_sums(j: DataFrame, by: Sequence[str] = ()) -> DataFrame:
    """Per group of ``by`` (no column: one group), the sum of the positives' 1-based
    mid-ranks of the scores (ties share the mean rank), the positives and the rows."""
    groups = j.groupBy(*by, _PRED).agg(
        F.sum(F.col(_TRUE)).alias("pos"), F.count(F.lit(1)).alias("size")
    )
    window = Window.partitionBy(*by).orderBy(_PRED) if by else Window.orderBy(_PRED)
    before = F.sum("size").over(window.rowsBetween(Window.unboundedPreceding, -1))
    groups = groups.withColumn("before", F.coalesce(before, F.lit(0)))
    midrank = F.col("before") + (F.col("size") + F.lit(1.0)) / 2.0
    return groups.groupBy(*by).agg(
        F.sum(F.col("pos") * midrank).alias("rank_pos"),
        F.sum("pos").alias("n_pos"),
        F.sum("size").alias("n"),
    )


def _auc(prep: _Prepared) -> float:
    j = prep.joined()
    if j.limit(1).count() == 0:
        raise DataError(
            "rating_true and rating_pred have no (user, item) pair in common; auc is undefined."
        )
    _binary_checked(j, "auc")
    row = _positive_rank_sums(j).first()
    n_pos = float(row["n_pos"])
    n_neg = float(row["n"]) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise DataError("AUC is undefined when the true labels hold only one class.")
    return (float(row["rank_pos"]) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _logloss(prep: _Prepared) -> float:
    j = prep.joined()
    if j.limit(1).count() == 0:
        raise DataError(
            "rating_true and rating_pred have no (user, item) pair in common; logloss is undefined."
        )
    _binary_checked(j, "logloss")
    row = j.agg(
        F.sum(F.when((F.col(_PRED) < 0) | (F.col(_PRED) > 1), 1).otherwise(0)).alias("bad"),
        F.sum(F.col(_TRUE)).alias("pos"),
        F.count(F.lit(1)).alias("n"),
    ).first()
    if row["bad"]:
        raise DataError("logloss needs predictions that are probabilities in [0, 1].")
    if row["pos"] == 0 or row["pos"] == row["n"]:
        raise DataError("logloss is undefined here: the true labels hold only one class.")
    p = F.least(F.greatest(F.col(_PRED), F.lit(_EPS)), F.lit(1.0 - _EPS))
    loss = F.when(F.col(_TRUE) == 1, F.log(p)).otherwise(F.log1p(-p))
    return float(-j.agg(F.avg(loss).alias("l")).first()["l"])


# --------------------------------------------------------------------------- public rating API
def _rating_metric(
    name: str, compute: Callable[[_Prepared], float], doc: str
) -> Callable[..., float]:
    """The public function ``name``: ``compute`` on the checked frames.

    Every rating metric (and gauc) has this signature, the pandas one plus ``check``.
    """

    def metric(
        rating_true: DataFrame,
        rating_pred: DataFrame,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
        col_rating: str = DEFAULT_RATING_COL,
        col_prediction: str = DEFAULT_PREDICTION_COL,
        check: bool = True,
    ) -> float:
        return compute(
            _Prepared(
                rating_true, rating_pred, col_user, col_item, col_rating, col_prediction, check
            )
        )

    return public_function(metric, name, doc, __name__)


def _from_stats(name: str) -> Callable[[_Prepared], float]:
    return lambda prep: _rating_value(name, prep, {})


rmse = _rating_metric(
    "rmse",
    _from_stats("rmse"),
    """
    Root mean squared error over the joined (user, item) pairs (see :func:`recutils.evaluation.rmse`).

    Args:
        rating_true: True ratings (col_user, col_item, col_rating); no duplicate pairs.
        rating_pred: Predictions (col_user, col_item, col_prediction); no duplicate pairs.
        col_user, col_item, col_rating, col_prediction: Column names.
        check: Check for duplicates and null values first (one small job each).
    """,
)
mae = _rating_metric(
    "mae",
    _from_stats("mae"),
    """
    Mean absolute error (see :func:`recutils.evaluation.mae`); arguments as :func:`rmse`.""",
)
rsquared = _rating_metric(
    "rsquared",
    _from_stats("rsquared"),
    """
    Coefficient of determination (see :func:`recutils.evaluation.rsquared`); arguments as :func:`rmse`.""",
)
exp_var = _rating_metric(
    "exp_var",
    _from_stats("exp_var"),
    """
    Explained variance (see :func:`recutils.evaluation.exp_var`); arguments as :func:`rmse`.""",
)
auc = _rating_metric(
    "auc",
    _auc,
    """
    ROC AUC over all joined pairs, ties one half (see :func:`recutils.evaluation.auc`).""",
)
logloss = _rating_metric(
    "logloss",
    _logloss,
    """
    Binary cross-entropy (see :func:`recutils.evaluation.logloss`); arguments as :func:`rmse`.""",
)


__all__ = ["rmse", "mae", "rsquared", "exp_var", "auc", "logloss"]
