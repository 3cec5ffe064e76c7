"""The metrics of :mod:`recutils.evaluation` on Spark DataFrames.

Same function names, arguments and definitions as the pandas module (read the
docstrings there for the formulas and Microsoft Recommenders' quirks kept: the user
set of nDCG, R-precision's user set, ``by_threshold`` as a count, ...); the values
equal the pandas results on the same input to floating-point rounding (parity tests
on MovieLens 100k check 1e-9). Only the container differs:

* inputs are Spark DataFrames; scalar metrics return a Python ``float``; per-user or
  per-item metrics (:func:`user_diversity`, :func:`historical_item_novelty`, ...)
  return Spark DataFrames sorted like the pandas ones;
* **ties** between equal scores are broken by input row order, taken as the order
  of ``monotonically_increasing_id`` (partition, then position): for a frame created
  from pandas or read from one file this is the pandas tie-break exactly;
* each metric is one aggregation over one join; :func:`evaluate` shares the join,
  the per-user ranking and the per-user statistics between metrics (one Spark job per
  list length ``k``);
* checks: missing columns (:class:`ColumnMismatchError`), duplicate (user, item)
  rows, null/NaN scores, seen items in recommendations (:class:`DataError`), each one
  small Spark job; pass ``check=False`` where the data are known to be clean.

No users x items frame is built: ranking metrics work on the predictions given, and
the item-similarity metrics compute co-occurrence only for the recommended items.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
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
from recutils.evaluation.beyond import (
    DEFAULT_ITEM_FEATURES_COL,
    DEFAULT_ITEM_SIM_MEASURE,
    ITEM_SIM_MEASURES,
)
from recutils.evaluation.ranking import _check_ndcg_args
from recutils.evaluation.registry import BEYOND, RANKING, RATING, parse_metric
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, DataWarning
from recutils.spark._utils import TMP, F, check_spark_columns, with_row_id
from recutils.utils.deps import require

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

Window = require("pyspark.sql.window", "spark").Window
T = require("pyspark.sql.types", "spark")

logger = logging.getLogger(__name__)

_ROW = TMP + "row"
_RANK = TMP + "rank"
_HIT = TMP + "hit"
_NTRUE = TMP + "n_true"
_TRUE = TMP + "true"
_PRED = TMP + "pred"
_EPS = 2.220446049250313e-16  # float64 machine epsilon, as scikit-learn's log_loss


# --------------------------------------------------------------------------- checks
def _is_numeric_type(dtype) -> bool:
    return isinstance(dtype, (T.NumericType, T.BooleanType))


def _check_same_kind(a: DataFrame, b: DataFrame, col: str, name_a: str, name_b: str) -> None:
    ta, tb = a.schema[col].dataType, b.schema[col].dataType
    if _is_numeric_type(ta) != _is_numeric_type(tb):
        raise ColumnMismatchError(
            f"column {col!r} has type {ta.simpleString()} in {name_a} but {tb.simpleString()} in "
            f"{name_b}; ids must be of the same kind (both numeric or both strings) to be matched."
        )


def _check_ids(df: DataFrame, cols: Sequence[str], name: str) -> None:
    cond = None
    for c in cols:
        cond = F.col(c).isNull() if cond is None else (cond | F.col(c).isNull())
    if cond is not None and df.filter(cond).limit(1).count():
        raise DataError(f"{name} has missing (null) ids in {list(cols)}; every row needs an id.")


def _check_frame(df: DataFrame, col_user: str, col_item: str, col_value: str | None, name: str,
                 what: str) -> None:
    """Null ids, duplicate (user, item) rows and null/NaN values, in one Spark job."""
    if col_value is not None and not _is_numeric_type(df.schema[col_value].dataType):
        raise DataError(f"{name}[{col_value!r}] must hold numbers ({what}); got "
                        f"{df.schema[col_value].dataType.simpleString()}.")
    if col_value is not None:
        v = F.col(col_value).cast("double")
        bad = F.sum((v.isNull() | F.isnan(v)).cast("long"))
    else:
        bad = F.lit(0).cast("long")
    groups = df.groupBy(col_user, col_item).agg(F.count(F.lit(1)).alias("c"), bad.alias("bad"))
    null_id = F.col(col_user).isNull() | F.col(col_item).isNull()
    row = groups.agg(
        F.max("c").alias("dup"), F.sum("bad").alias("bad"),
        F.sum(F.when(null_id, F.col("c")).otherwise(0)).alias("null_ids"),
    ).first()
    if row["null_ids"]:
        raise DataError(f"{name} has {row['null_ids']} row(s) with a missing (null) "
                        f"{col_user!r} or {col_item!r}; every row needs an id.")
    if row["dup"] is not None and row["dup"] > 1:
        raise DataError(
            f"{name} has duplicate ({col_user!r}, {col_item!r}) rows; each (user, item) pair may "
            f"appear at most once. De-duplicate first, e.g. {name}.dropDuplicates([{col_user!r}, "
            f"{col_item!r}])."
        )
    if row["bad"]:
        raise DataError(
            f"{name}[{col_value!r}] has {row['bad']} null/NaN value(s); {what} must all be numbers. "
            "Drop or fill them before evaluating."
        )


# --------------------------------------------------------------------------- prepared inputs
class _Prepared:
    """Truth and predictions checked once, with lazily built shared parts."""

    def __init__(
        self,
        rating_true: DataFrame,
        rating_pred: DataFrame,
        col_user: str,
        col_item: str,
        col_rating: str | None,
        col_prediction: str | None,
        check: bool = True,
    ) -> None:
        check_spark_columns(rating_true, [col_user, col_item, col_rating], "rating_true")
        check_spark_columns(rating_pred, [col_user, col_item, col_prediction], "rating_pred")
        for col in (col_user, col_item):
            _check_same_kind(rating_true, rating_pred, col, "rating_true", "rating_pred")
        self.col_user, self.col_item = col_user, col_item
        self.col_rating, self.col_prediction = col_rating, col_prediction
        if check:
            _check_frame(rating_true, col_user, col_item, col_rating, "rating_true", "true ratings")
            _check_frame(rating_pred, col_user, col_item, col_prediction, "rating_pred", "predictions")
        true_cols = [F.col(col_user), F.col(col_item)]
        if col_rating is not None:
            true_cols.append(F.col(col_rating).cast("double").alias(_TRUE))
        self.truth = rating_true.select(*true_cols)
        pred = with_row_id(rating_pred, _ROW)
        pred_cols = [F.col(col_user), F.col(col_item), F.col(_ROW)]
        if col_prediction is not None:
            # + 0.0 turns -0.0 into 0.0, so that equal scores tie as in pandas
            pred_cols.append((F.col(col_prediction).cast("double") + F.lit(0.0)).alias(_PRED))
        self.pred = pred.select(*pred_cols)
        self._n_true: DataFrame | None = None
        self._counts: tuple[int, int] | None = None

    # ---- users
    @property
    def n_true(self) -> DataFrame:
        """Per truth user: number of relevant rows."""
        if self._n_true is None:
            self._n_true = self.truth.groupBy(self.col_user).agg(F.count(F.lit(1)).alias(_NTRUE))
        return self._n_true

    def counts(self) -> tuple[int, int]:
        """(users of rating_true, users in both frames)."""
        if self._counts is None:
            pred_users = self.pred.select(self.col_user).distinct().withColumn(TMP + "p", F.lit(1))
            row = (
                self.n_true.join(pred_users, on=self.col_user, how="left")
                .agg(F.count(F.lit(1)).alias("n"), F.count(TMP + "p").alias("c"))
                .first()
            )
            self._counts = (int(row["n"] or 0), int(row["c"] or 0))
            if self._counts[1] == 0:
                warnings.warn(
                    "rating_true and rating_pred have no user in common (or one is empty); "
                    "ranking metrics are 0.0.",
                    DataWarning,
                    stacklevel=4,
                )
        return self._counts

    # ---- rating join
    def joined(self) -> DataFrame:
        """(true, predicted) of the (user, item) pairs present in both frames."""
        return self.truth.join(self.pred, on=[self.col_user, self.col_item], how="inner")

    # ---- ranking
    def ranked(self, cutoff: int | None, by_score: bool) -> DataFrame:
        """Prediction rows of common users with their 1-based rank, hit flag and n_true."""
        pred = self.pred.join(self.n_true, on=self.col_user, how="inner")
        if by_score:
            order = [F.col(_PRED).desc(), F.col(_ROW).asc()]
        else:
            order = [F.col(_ROW).asc()]
        ranked = pred.withColumn(_RANK, F.row_number().over(Window.partitionBy(self.col_user).orderBy(*order)))
        if cutoff is not None:
            ranked = ranked.filter(F.col(_RANK) <= F.lit(cutoff))
        truth = self.truth.withColumn(_HIT, F.lit(1))
        return ranked.join(truth, on=[self.col_user, self.col_item], how="left").fillna(0, subset=[_HIT])

    def user_stats(
        self,
        k: int,
        relevancy_method: str | None,
        threshold,
        score_type: str = "binary",
        discfun_type: str = "loge",
    ) -> DataFrame:
        """One row per common user: hits, n_true, reciprocal sums, first hit, DCG."""
        cutoff = check_relevancy(relevancy_method, k, threshold)
        ranked = self.ranked(cutoff, by_score=relevancy_method is not None)
        hit = F.col(_HIT)
        rank = F.col(_RANK).cast("double")
        nth = F.sum(hit).over(
            Window.partitionBy(self.col_user).orderBy(_RANK).rowsBetween(Window.unboundedPreceding, 0)
        )
        log = F.log if discfun_type == "loge" else F.log2
        gain = F.lit(1.0) if score_type == "binary" else _gain(F.col(_TRUE), score_type)
        ranked = ranked.withColumn(TMP + "nth", nth)
        return ranked.groupBy(self.col_user).agg(
            F.first(_NTRUE).alias(_NTRUE),
            F.sum(hit).alias("hits"),
            F.sum(F.when(hit == 1, F.col(TMP + "nth") / rank).otherwise(0.0)).alias("rr"),
            F.min(F.when(hit == 1, rank)).alias("first"),
            F.sum(F.when((hit == 1) & (F.col(_RANK) <= F.col(_NTRUE)), 1).otherwise(0)).alias("rprec"),
            F.sum(F.when(hit == 1, gain / log(F.lit(1.0) + rank)).otherwise(0.0)).alias("dcg"),
        )

    def idcg(self, k: int, score_type: str, discfun_type: str) -> DataFrame:
        """Per truth user: ideal DCG of the user's k best true gains."""
        log = F.log if discfun_type == "loge" else F.log2
        if score_type == "binary":
            disc = [0.0]
            for j in range(1, k + 1):
                disc.append(disc[-1] + 1.0 / (math.log(1.0 + j) if discfun_type == "loge"
                                              else math.log2(1.0 + j)))
            table = F.array(*[F.lit(v) for v in disc])
            return self.n_true.select(
                self.col_user, F.element_at(table, F.least(F.col(_NTRUE), F.lit(k)).cast("int") + 1)
                .alias("idcg")
            )
        w = Window.partitionBy(self.col_user).orderBy(F.col(_TRUE).desc())
        best = self.truth.withColumn(_RANK, F.row_number().over(w)).filter(F.col(_RANK) <= k)
        return best.groupBy(self.col_user).agg(
            F.sum(_gain(F.col(_TRUE), score_type) / log(F.lit(1.0) + F.col(_RANK).cast("double")))
            .alias("idcg")
        )


def _gain(values, score_type: str):
    if score_type == "raw":
        return values
    return F.pow(F.lit(2.0), values) - F.lit(1.0)


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
            out[name] = 0.0 if n_common == 0 or n_users == 0 else float(row["r_precision_sum"]) / n_users
        elif name == "ndcg":
            if n_common == 0 or total_hits == 0:
                out[name] = 0.0
                continue
            idcg = prep.idcg(k, score_type, discfun_type)
            per_user = idcg.join(stats.select(prep.col_user, "dcg"), on=prep.col_user, how="left")
            ratio = F.coalesce(F.col("dcg"), F.lit(0.0)) / F.col("idcg")
            valid = F.col("idcg") != 0
            r = per_user.agg(
                F.sum(F.when(valid, ratio)).alias("s"), F.sum(F.when(valid, 1).otherwise(0)).alias("n")
            ).first()
            out[name] = float(r["s"]) / int(r["n"]) if r["n"] else 0.0
        else:  # pragma: no cover - guarded by the callers
            raise ConfigError(f"not a ranking metric: {name!r}")
    return out


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
        "n": float(row["n"]), "sse": float(row["sse"]), "sae": float(row["sae"]),
        "ss_tot": float(ss_tot), "var_y": float(row["var_y"]), "var_res": float(row["var_res"]),
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


def _auc(prep: _Prepared) -> float:
    j = prep.joined()
    if j.limit(1).count() == 0:
        raise DataError("rating_true and rating_pred have no (user, item) pair in common; auc is undefined.")
    _binary_checked(j, "auc")
    groups = j.groupBy(_PRED).agg(
        F.sum(F.col(_TRUE)).alias("pos"), F.count(F.lit(1)).alias("size")
    )
    before = F.sum("size").over(
        Window.orderBy(_PRED).rowsBetween(Window.unboundedPreceding, -1)
    )
    groups = groups.withColumn("before", F.coalesce(before, F.lit(0)))
    midrank = F.col("before") + (F.col("size") + F.lit(1.0)) / 2.0
    row = groups.agg(
        F.sum(F.col("pos") * midrank).alias("rank_pos"),
        F.sum("pos").alias("n_pos"),
        F.sum("size").alias("n"),
    ).first()
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


def _gauc(prep: _Prepared) -> float:
    j = prep.joined()
    _binary_checked(j, "gauc")
    u = prep.col_user
    groups = j.groupBy(u, _PRED).agg(F.sum(F.col(_TRUE)).alias("pos"), F.count(F.lit(1)).alias("size"))
    before = F.sum("size").over(
        Window.partitionBy(u).orderBy(_PRED).rowsBetween(Window.unboundedPreceding, -1)
    )
    groups = groups.withColumn("before", F.coalesce(before, F.lit(0)))
    midrank = F.col("before") + (F.col("size") + F.lit(1.0)) / 2.0
    users = groups.groupBy(u).agg(
        F.sum(F.col("pos") * midrank).alias("rank_pos"),
        F.sum("pos").cast("double").alias("n_pos"),
        F.sum("size").cast("double").alias("n_imp"),
    ).withColumn("n_neg", F.col("n_imp") - F.col("n_pos"))
    valid = users.filter((F.col("n_pos") > 0) & (F.col("n_neg") > 0))
    auc_u = (F.col("rank_pos") - F.col("n_pos") * (F.col("n_pos") + 1) / 2.0) / (F.col("n_pos") * F.col("n_neg"))
    row = valid.agg(F.sum(F.col("n_imp") * auc_u).alias("s"), F.sum("n_imp").alias("w")).first()
    if not row["w"]:
        raise DataError("gauc is undefined: no user has both a positive and a negative label.")
    return float(row["s"]) / float(row["w"])


# --------------------------------------------------------------------------- public rating API
def _rating_metric(name, rating_true, rating_pred, col_user, col_item, col_rating, col_prediction, check):
    prep = _Prepared(rating_true, rating_pred, col_user, col_item, col_rating, col_prediction, check)
    return _rating_value(name, prep, {})


def rmse(
    rating_true: DataFrame,
    rating_pred: DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
    check: bool = True,
) -> float:
    """Root mean squared error over the joined (user, item) pairs (see :func:`recutils.evaluation.rmse`).

    Args:
        rating_true: True ratings (col_user, col_item, col_rating); no duplicate pairs.
        rating_pred: Predictions (col_user, col_item, col_prediction); no duplicate pairs.
        col_user, col_item, col_rating, col_prediction: Column names.
        check: Check for duplicates and null values first (one small job each).
    """
    return _rating_metric("rmse", rating_true, rating_pred, col_user, col_item, col_rating,
                          col_prediction, check)


def mae(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL, col_rating: str = DEFAULT_RATING_COL,
        col_prediction: str = DEFAULT_PREDICTION_COL, check: bool = True) -> float:
    """Mean absolute error (see :func:`recutils.evaluation.mae`); arguments as :func:`rmse`."""
    return _rating_metric("mae", rating_true, rating_pred, col_user, col_item, col_rating,
                          col_prediction, check)


def rsquared(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
             col_item: str = DEFAULT_ITEM_COL, col_rating: str = DEFAULT_RATING_COL,
             col_prediction: str = DEFAULT_PREDICTION_COL, check: bool = True) -> float:
    """Coefficient of determination (see :func:`recutils.evaluation.rsquared`); arguments as :func:`rmse`."""
    return _rating_metric("rsquared", rating_true, rating_pred, col_user, col_item, col_rating,
                          col_prediction, check)


def exp_var(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
            col_item: str = DEFAULT_ITEM_COL, col_rating: str = DEFAULT_RATING_COL,
            col_prediction: str = DEFAULT_PREDICTION_COL, check: bool = True) -> float:
    """Explained variance (see :func:`recutils.evaluation.exp_var`); arguments as :func:`rmse`."""
    return _rating_metric("exp_var", rating_true, rating_pred, col_user, col_item, col_rating,
                          col_prediction, check)


def auc(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL, col_rating: str = DEFAULT_RATING_COL,
        col_prediction: str = DEFAULT_PREDICTION_COL, check: bool = True) -> float:
    """ROC AUC over all joined pairs, ties one half (see :func:`recutils.evaluation.auc`)."""
    return _rating_metric("auc", rating_true, rating_pred, col_user, col_item, col_rating,
                          col_prediction, check)


def logloss(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
            col_item: str = DEFAULT_ITEM_COL, col_rating: str = DEFAULT_RATING_COL,
            col_prediction: str = DEFAULT_PREDICTION_COL, check: bool = True) -> float:
    """Binary cross-entropy (see :func:`recutils.evaluation.logloss`); arguments as :func:`rmse`."""
    return _rating_metric("logloss", rating_true, rating_pred, col_user, col_item, col_rating,
                          col_prediction, check)


def gauc(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
         col_item: str = DEFAULT_ITEM_COL, col_rating: str = DEFAULT_RATING_COL,
         col_prediction: str = DEFAULT_PREDICTION_COL, check: bool = True) -> float:
    """Group AUC weighted by impressions (see :func:`recutils.evaluation.gauc`)."""
    prep = _Prepared(rating_true, rating_pred, col_user, col_item, col_rating, col_prediction, check)
    return _gauc(prep)


# --------------------------------------------------------------------------- public ranking API
def _ranking_metric(name: str, rating_true, rating_pred, col_user, col_item, col_rating,
                    col_prediction, relevancy_method, k, threshold, score_type="binary",
                    discfun_type="loge", check=True) -> float:
    check_relevancy(relevancy_method, k, threshold)
    prep = _Prepared(rating_true, rating_pred, col_user, col_item, col_rating,
                     col_prediction if relevancy_method is not None else None, check)
    return _ranking_metrics(prep, [name], k, relevancy_method, threshold, score_type,
                            discfun_type)[name]


def precision_at_k(
    rating_true: DataFrame,
    rating_pred: DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
    relevancy_method: str | None = "top_k",
    k: int = DEFAULT_K,
    threshold: int = DEFAULT_THRESHOLD,
    check: bool = True,
    **_,
) -> float:
    """Precision at k (see :func:`recutils.evaluation.precision_at_k`).

    Args:
        rating_true: Relevant pairs (col_user, col_item); no duplicate pairs.
        rating_pred: Scored candidates (col_user, col_item, col_prediction); no duplicates.
        col_user, col_item, col_prediction: Column names.
        relevancy_method: ``"top_k"``, ``"by_threshold"`` or None (rows already ranked,
            in input row order per user).
        k: List length.
        threshold: With ``"by_threshold"``, the number of items kept per user.
        check: Check duplicates and null values first.
    """
    return _ranking_metric("precision", rating_true, rating_pred, col_user, col_item, None,
                           col_prediction, relevancy_method, k, threshold, check=check)


def recall_at_k(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
                col_item: str = DEFAULT_ITEM_COL, col_prediction: str = DEFAULT_PREDICTION_COL,
                relevancy_method: str | None = "top_k", k: int = DEFAULT_K,
                threshold: int = DEFAULT_THRESHOLD, check: bool = True, **_) -> float:
    """Recall at k (see :func:`recutils.evaluation.recall_at_k`); arguments as :func:`precision_at_k`."""
    return _ranking_metric("recall", rating_true, rating_pred, col_user, col_item, None,
                           col_prediction, relevancy_method, k, threshold, check=check)


def ndcg_at_k(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
              col_item: str = DEFAULT_ITEM_COL, col_rating: str = DEFAULT_RATING_COL,
              col_prediction: str = DEFAULT_PREDICTION_COL, relevancy_method: str | None = "top_k",
              k: int = DEFAULT_K, threshold: int = DEFAULT_THRESHOLD, score_type: str = "binary",
              discfun_type: str = "loge", check: bool = True, **_) -> float:
    """nDCG at k, averaged over every user of rating_true (see :func:`recutils.evaluation.ndcg_at_k`).

    ``score_type`` ``"binary"``/``"raw"``/``"exp"`` and ``discfun_type`` ``"loge"``/``"log2"``
    as in pandas; ``col_rating`` is read only for ``"raw"`` and ``"exp"``.
    """
    _check_ndcg_args(score_type, discfun_type)
    return _ranking_metric("ndcg", rating_true, rating_pred, col_user, col_item,
                           col_rating if score_type != "binary" else None, col_prediction,
                           relevancy_method, k, threshold, score_type, discfun_type, check)


def map_at_k(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
             col_item: str = DEFAULT_ITEM_COL, col_prediction: str = DEFAULT_PREDICTION_COL,
             relevancy_method: str | None = "top_k", k: int = DEFAULT_K,
             threshold: int = DEFAULT_THRESHOLD, check: bool = True, **_) -> float:
    """MAP at k, divisor min(|R_u|, k) (see :func:`recutils.evaluation.map_at_k`)."""
    return _ranking_metric("map", rating_true, rating_pred, col_user, col_item, None,
                           col_prediction, relevancy_method, k, threshold, check=check)


def mean_average_precision(rating_true: DataFrame, rating_pred: DataFrame,
                           col_user: str = DEFAULT_USER_COL, col_item: str = DEFAULT_ITEM_COL,
                           col_prediction: str = DEFAULT_PREDICTION_COL,
                           relevancy_method: str | None = "top_k", k: int = DEFAULT_K,
                           threshold: int = DEFAULT_THRESHOLD, check: bool = True, **_) -> float:
    """MAP with divisor |R_u| (see :func:`recutils.evaluation.mean_average_precision`)."""
    return _ranking_metric("mean_average_precision", rating_true, rating_pred, col_user, col_item,
                           None, col_prediction, relevancy_method, k, threshold, check=check)


def r_precision_at_k(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
                     col_item: str = DEFAULT_ITEM_COL, col_prediction: str = DEFAULT_PREDICTION_COL,
                     relevancy_method: str | None = "top_k", k: int = DEFAULT_K,
                     threshold: int = DEFAULT_THRESHOLD, check: bool = True, **_) -> float:
    """R-precision capped at k, over users with a hit (see :func:`recutils.evaluation.r_precision_at_k`)."""
    return _ranking_metric("r_precision", rating_true, rating_pred, col_user, col_item, None,
                           col_prediction, relevancy_method, k, threshold, check=check)


def hit_ratio_at_k(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
                   col_item: str = DEFAULT_ITEM_COL, col_prediction: str = DEFAULT_PREDICTION_COL,
                   relevancy_method: str | None = "top_k", k: int = DEFAULT_K,
                   threshold: int = DEFAULT_THRESHOLD, check: bool = True, **_) -> float:
    """Share of users with a relevant item in their list (see :func:`recutils.evaluation.hit_ratio_at_k`)."""
    return _ranking_metric("hit_ratio", rating_true, rating_pred, col_user, col_item, None,
                           col_prediction, relevancy_method, k, threshold, check=check)


def mrr_at_k(rating_true: DataFrame, rating_pred: DataFrame, col_user: str = DEFAULT_USER_COL,
             col_item: str = DEFAULT_ITEM_COL, col_prediction: str = DEFAULT_PREDICTION_COL,
             relevancy_method: str | None = "top_k", k: int = DEFAULT_K,
             threshold: int = DEFAULT_THRESHOLD, check: bool = True, **_) -> float:
    """Mean reciprocal rank at k (see :func:`recutils.evaluation.mrr_at_k`)."""
    return _ranking_metric("mrr", rating_true, rating_pred, col_user, col_item, None,
                           col_prediction, relevancy_method, k, threshold, check=check)


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


# --------------------------------------------------------------------------- beyond accuracy
class _Beyond:
    """Checked train and recommendation frames for the beyond-accuracy metrics."""

    def __init__(self, train_df, reco_df, col_user, col_item, item_feature_df=None,
                 col_item_features=None, unique_train=False, check=True):
        check_spark_columns(train_df, [col_user, col_item], "train_df")
        check_spark_columns(reco_df, [col_user, col_item], "reco_df")
        for col in (col_user, col_item):
            _check_same_kind(train_df, reco_df, col, "train_df", "reco_df")
        if item_feature_df is not None:
            check_spark_columns(item_feature_df, [col_item, col_item_features], "item_feature_df")
        self.train, self.reco = train_df, reco_df
        self.u, self.i = col_user, col_item
        self.features, self.col_features = item_feature_df, col_item_features
        if check:
            if train_df.limit(1).count() == 0 or reco_df.limit(1).count() == 0:
                raise DataError("train_df and reco_df must both have rows for beyond-accuracy metrics.")
            _check_frame(reco_df, col_user, col_item, None, "reco_df", "")
            if unique_train:
                _check_frame(train_df, col_user, col_item, None, "train_df", "")
            else:
                _check_ids(train_df, [col_user, col_item], "train_df")
            seen = reco_df.select(col_user, col_item).join(
                train_df.select(col_user, col_item).distinct(), on=[col_user, col_item], how="inner"
            ).count()
            if seen:
                raise DataError(
                    f"reco_df recommends {seen} (user, item) pair(s) already in train_df; these "
                    "metrics need recommendations with seen items removed."
                )

    # ---- similarity of item pairs
    def pair_similarity(self, pairs: DataFrame, measure: str) -> DataFrame:
        """``pairs`` (columns a, b: item ids) with a column ``sim``."""
        if measure not in ITEM_SIM_MEASURES:
            raise ConfigError(
                f"item_sim_measure={measure!r} is not supported; use one of {list(ITEM_SIM_MEASURES)}."
            )
        if measure == "item_cooccurrence_count":
            return self._cooccurrence(pairs)
        if self.features is None:
            raise ConfigError(
                "item_sim_measure='item_feature_vector' needs item_feature_df with columns "
                f"[col_item, {self.col_features!r}]."
            )
        return self._feature_cosine(pairs)

    def _cooccurrence(self, pairs: DataFrame) -> DataFrame:
        u, i = self.u, self.i
        train = self.train.select(u, i)
        count = train.groupBy(i).agg(F.count(F.lit(1)).alias("c"))
        needed_a = pairs.select(F.col("a").alias(i)).distinct()
        left = train.join(needed_a, on=i, how="inner").select(u, F.col(i).alias("a"))
        right = train.select(u, F.col(i).alias("b"))
        co = left.join(right, on=u, how="inner").groupBy("a", "b").agg(F.count(F.lit(1)).alias("co"))
        out = pairs.join(co, on=["a", "b"], how="left")
        out = out.join(count.select(F.col(i).alias("a"), F.col("c").alias("ca")), on="a", how="left")
        out = out.join(count.select(F.col(i).alias("b"), F.col("c").alias("cb")), on="b", how="left")
        denom = F.sqrt(F.col("ca").cast("double") * F.col("cb").cast("double"))
        sim = F.when(denom > 0, F.coalesce(F.col("co"), F.lit(0)).cast("double") / denom).otherwise(0.0)
        return out.withColumn("sim", F.coalesce(sim, F.lit(0.0))).drop("co", "ca", "cb")

    def _feature_cosine(self, pairs: DataFrame) -> DataFrame:
        i, fcol = self.i, self.col_features
        if self.features.groupBy(i).count().filter(F.col("count") > 1).limit(1).count():
            raise DataError("item_feature_df has duplicate items; give one feature vector per item.")
        vec = F.col(fcol).cast("array<double>")
        norm = F.sqrt(F.aggregate(F.transform(vec, lambda x: x * x), F.lit(0.0), lambda acc, x: acc + x))
        feats = self.features.select(F.col(i), vec.alias("v"), norm.alias("n"))
        fa = feats.select(F.col(i).alias("a"), F.col("v").alias("va"), F.col("n").alias("na"))
        fb = feats.select(F.col(i).alias("b"), F.col("v").alias("vb"), F.col("n").alias("nb"))
        out = pairs.join(fa, on="a", how="left").join(fb, on="b", how="left")
        dot = F.aggregate(F.zip_with("va", "vb", lambda x, y: x * y), F.lit(0.0), lambda acc, x: acc + x)
        ok = F.col("va").isNotNull() & F.col("vb").isNotNull() & (F.col("na") > 0) & (F.col("nb") > 0)
        sim = F.when(ok, dot / (F.col("na") * F.col("nb"))).otherwise(0.0)
        return out.withColumn("sim", sim).drop("va", "vb", "na", "nb")

    # ---- per-user / per-pair tables
    def user_diversity(self, measure: str) -> DataFrame:
        u, i = self.u, self.i
        r1 = self.reco.select(u, F.col(i).alias("a"))
        r2 = self.reco.select(u, F.col(i).alias("b"))
        pairs = r1.join(r2, on=u, how="inner").filter(F.col("a") < F.col("b"))
        sims = self.pair_similarity(pairs.select("a", "b").distinct(), measure)
        per_pair = pairs.join(sims, on=["a", "b"], how="left")
        return (
            per_pair.groupBy(u)
            .agg((F.lit(1.0) - F.avg(F.coalesce(F.col("sim"), F.lit(0.0)))).alias("user_diversity"))
            .orderBy(u)
        )

    def user_item_serendipity(self, measure: str, col_relevance: str | None) -> DataFrame:
        u, i = self.u, self.i
        rel = F.lit(1.0) if col_relevance is None else F.col(col_relevance).cast("double")
        if col_relevance is not None:
            check_spark_columns(self.reco, [col_relevance], "reco_df")
        reco = self.reco.select(u, F.col(i).alias("a"), rel.alias(TMP + "rel"))
        hist = self.train.select(u, F.col(i).alias("b"))
        triples = reco.join(hist, on=u, how="inner")
        sims = self.pair_similarity(triples.select("a", "b").distinct(), measure)
        per = triples.join(sims, on=["a", "b"], how="left")
        return (
            per.groupBy(u, "a")
            .agg(((F.lit(1.0) - F.avg(F.coalesce(F.col("sim"), F.lit(0.0)))) * F.first(TMP + "rel"))
                 .alias("user_item_serendipity"))
            .withColumnRenamed("a", i)
            .orderBy(u, i)
        )


def catalog_coverage(train_df: DataFrame, reco_df: DataFrame, col_user: str = DEFAULT_USER_COL,
                     col_item: str = DEFAULT_ITEM_COL, check: bool = True) -> float:
    """Distinct recommended items / distinct training items (see :func:`recutils.evaluation.catalog_coverage`)."""
    _Beyond(train_df, reco_df, col_user, col_item, check=check)
    n_reco = reco_df.select(col_item).distinct().count()
    n_train = train_df.select(col_item).distinct().count()
    return float(n_reco / n_train)


def distributional_coverage(train_df: DataFrame, reco_df: DataFrame, col_user: str = DEFAULT_USER_COL,
                            col_item: str = DEFAULT_ITEM_COL, check: bool = True) -> float:
    """Entropy (bits) of the recommended items (see :func:`recutils.evaluation.distributional_coverage`)."""
    _Beyond(train_df, reco_df, col_user, col_item, check=check)
    n = reco_df.count()
    counts = reco_df.groupBy(col_item).agg(F.count(F.lit(1)).alias("c"))
    p = F.col("c").cast("double") / F.lit(float(n))
    return float(-counts.agg(F.sum(p * F.log2(p)).alias("h")).first()["h"])


def historical_item_novelty(train_df: DataFrame, reco_df: DataFrame, col_user: str = DEFAULT_USER_COL,
                            col_item: str = DEFAULT_ITEM_COL, check: bool = True) -> DataFrame:
    """Novelty -log2(n_i / N) of every training item, ``[col_item, "item_novelty"]`` sorted by item."""
    _Beyond(train_df, reco_df, col_user, col_item, check=check)
    n = train_df.count()
    return (
        train_df.groupBy(col_item)
        .agg(F.count(F.lit(1)).alias("c"))
        .select(col_item, (-F.log2(F.col("c").cast("double") / F.lit(float(n)))).alias("item_novelty"))
        .orderBy(col_item)
    )


def novelty(train_df: DataFrame, reco_df: DataFrame, col_user: str = DEFAULT_USER_COL,
            col_item: str = DEFAULT_ITEM_COL, check: bool = True) -> float:
    """Mean novelty of the recommendations (see :func:`recutils.evaluation.novelty`)."""
    nov = historical_item_novelty(train_df, reco_df, col_user, col_item, check=check)
    row = reco_df.select(col_item).join(nov, on=col_item, how="left").agg(
        F.sum(F.coalesce(F.col("item_novelty"), F.lit(0.0))).alias("s"), F.count(F.lit(1)).alias("n")
    ).first()
    return float(row["s"]) / int(row["n"])


def user_diversity(train_df: DataFrame, reco_df: DataFrame, item_feature_df: DataFrame | None = None,
                   item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
                   col_item_features: str = DEFAULT_ITEM_FEATURES_COL, col_user: str = DEFAULT_USER_COL,
                   col_item: str = DEFAULT_ITEM_COL, check: bool = True) -> DataFrame:
    """Intra-list diversity per user, ``[col_user, "user_diversity"]`` sorted by user.

    See :func:`recutils.evaluation.user_diversity`; users with one recommendation are left out.
    """
    data = _Beyond(train_df, reco_df, col_user, col_item, item_feature_df, col_item_features,
                   unique_train=item_sim_measure == "item_cooccurrence_count", check=check)
    return data.user_diversity(item_sim_measure)


def diversity(train_df: DataFrame, reco_df: DataFrame, item_feature_df: DataFrame | None = None,
              item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
              col_item_features: str = DEFAULT_ITEM_FEATURES_COL, col_user: str = DEFAULT_USER_COL,
              col_item: str = DEFAULT_ITEM_COL, check: bool = True) -> float:
    """Mean of :func:`user_diversity` (NaN when no user has two recommendations)."""
    df = user_diversity(train_df, reco_df, item_feature_df, item_sim_measure, col_item_features,
                        col_user, col_item, check)
    value = df.agg(F.avg("user_diversity").alias("d")).first()["d"]
    return float("nan") if value is None else float(value)


def user_item_serendipity(train_df: DataFrame, reco_df: DataFrame, item_feature_df: DataFrame | None = None,
                          item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
                          col_item_features: str = DEFAULT_ITEM_FEATURES_COL,
                          col_user: str = DEFAULT_USER_COL, col_item: str = DEFAULT_ITEM_COL,
                          col_relevance: str | None = None, check: bool = True) -> DataFrame:
    """Serendipity of each recommended pair, ``[col_user, col_item, "user_item_serendipity"]``.

    See :func:`recutils.evaluation.user_item_serendipity`; users without history are left out.
    """
    data = _Beyond(train_df, reco_df, col_user, col_item, item_feature_df, col_item_features,
                   unique_train=item_sim_measure == "item_cooccurrence_count", check=check)
    return data.user_item_serendipity(item_sim_measure, col_relevance)


def user_serendipity(train_df: DataFrame, reco_df: DataFrame, item_feature_df: DataFrame | None = None,
                     item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
                     col_item_features: str = DEFAULT_ITEM_FEATURES_COL, col_user: str = DEFAULT_USER_COL,
                     col_item: str = DEFAULT_ITEM_COL, col_relevance: str | None = None,
                     check: bool = True) -> DataFrame:
    """Mean serendipity per user, ``[col_user, "user_serendipity"]`` sorted by user."""
    per = user_item_serendipity(train_df, reco_df, item_feature_df, item_sim_measure, col_item_features,
                                col_user, col_item, col_relevance, check)
    return (per.groupBy(col_user).agg(F.avg("user_item_serendipity").alias("user_serendipity"))
            .orderBy(col_user))


def serendipity(train_df: DataFrame, reco_df: DataFrame, item_feature_df: DataFrame | None = None,
                item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
                col_item_features: str = DEFAULT_ITEM_FEATURES_COL, col_user: str = DEFAULT_USER_COL,
                col_item: str = DEFAULT_ITEM_COL, col_relevance: str | None = None,
                check: bool = True) -> float:
    """Mean of :func:`user_serendipity` over users (NaN when no user has history)."""
    df = user_serendipity(train_df, reco_df, item_feature_df, item_sim_measure, col_item_features,
                          col_user, col_item, col_relevance, check)
    value = df.agg(F.avg("user_serendipity").alias("s")).first()["s"]
    return float("nan") if value is None else float(value)


_BEYOND_FUNCS = {
    "catalog_coverage": catalog_coverage,
    "distributional_coverage": distributional_coverage,
    "novelty": novelty,
    "diversity": diversity,
    "serendipity": serendipity,
}


# --------------------------------------------------------------------------- evaluate
def evaluate(
    rating_true: DataFrame,
    rating_pred: DataFrame,
    metrics: Sequence[str] = ("ndcg@10", "precision@10", "recall@10", "map@10"),
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
    k: int = DEFAULT_K,
    relevancy_method: str | None = "top_k",
    threshold: int = DEFAULT_THRESHOLD,
    score_type: str = "binary",
    discfun_type: str = "loge",
    train_df: DataFrame | None = None,
    item_feature_df: DataFrame | None = None,
    item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
    col_item_features: str = DEFAULT_ITEM_FEATURES_COL,
    check: bool = True,
) -> dict[str, float]:
    """Several metrics on Spark DataFrames, sharing checks, joins and per-user statistics.

    Metric names and arguments as :func:`recutils.evaluation.evaluate` (``"ndcg@10"``,
    ``"rmse"``, ``"diversity@10"`` ...). Ranking metrics of the same ``k`` come from one
    Spark aggregation. Beyond-accuracy metrics use each evaluated user's top-k list
    from ``rating_pred`` as ``reco_df`` and need ``train_df``.

    Returns:
        ``{metric name as given: value}`` in the order given.
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    parsed = [(text, *parse_metric(text)) for text in metrics]
    kinds = {spec.kind for _, spec, _ in parsed}
    names = {spec.name for _, spec, _ in parsed}
    needs_rating = RATING in kinds or "gauc" in names or ("ndcg" in names and score_type != "binary")
    needs_pred = RATING in kinds or "gauc" in names or relevancy_method is not None
    if "ndcg" in names:
        _check_ndcg_args(score_type, discfun_type)
    if RANKING in kinds or BEYOND in kinds:
        check_relevancy(relevancy_method, k, threshold)
    if BEYOND in kinds and train_df is None:
        raise ConfigError("beyond-accuracy metrics (coverage, novelty, diversity, serendipity) need train_df=.")
    prep = _Prepared(rating_true, rating_pred, col_user, col_item,
                     col_rating if needs_rating else None, col_prediction if needs_pred else None, check)
    cache: dict = {}
    ranking_by_k: dict[int, list[str]] = {}
    for _, spec, mk in parsed:
        if spec.kind == RANKING and spec.takes_k:
            ranking_by_k.setdefault(mk if mk is not None else k, []).append(spec.name)
    ranking_values = {
        kk: _ranking_metrics(prep, sorted(set(ns)), kk, relevancy_method, threshold, score_type, discfun_type)
        for kk, ns in ranking_by_k.items()
    }
    results: dict[str, float] = {}
    for text, spec, mk in parsed:
        kk = mk if mk is not None else k
        if spec.name == "gauc":
            value = _gauc(prep)
        elif spec.kind == RATING:
            value = _rating_value(spec.name, prep, cache)
        elif spec.kind == RANKING:
            value = ranking_values[kk][spec.name]
        else:
            cutoff = check_relevancy(relevancy_method, kk, threshold)
            ranked = prep.ranked(cutoff, by_score=relevancy_method is not None)
            reco_df = ranked.select(col_user, col_item)
            kwargs = {"col_user": col_user, "col_item": col_item, "check": check}
            if spec.name in ("diversity", "serendipity"):
                kwargs.update(item_feature_df=item_feature_df, item_sim_measure=item_sim_measure,
                              col_item_features=col_item_features)
            value = _BEYOND_FUNCS[spec.name](train_df, reco_df, **kwargs)
        results[text] = float(value)
        logger.debug("%s = %r", text, results[text])
    return results


__all__ = [
    "rmse", "mae", "rsquared", "exp_var", "auc", "logloss", "gauc",
    "precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "mean_average_precision",
    "r_precision_at_k", "hit_ratio_at_k", "mrr_at_k", "get_top_k_items",
    "catalog_coverage", "distributional_coverage", "novelty", "historical_item_novelty",
    "diversity", "user_diversity", "serendipity", "user_serendipity", "user_item_serendipity",
    "evaluate",
]
