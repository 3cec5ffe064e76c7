"""Shared parts of :mod:`recutils.spark.evaluation`: checks and the prepared inputs."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from recutils.evaluation._core import _FLOAT_EXACT_INT, check_relevancy, inexact_id_match_error
from recutils.exceptions import ColumnMismatchError, DataError, DataWarning
from recutils.spark._utils import TMP, F, check_spark_columns, with_row_id
from recutils.utils.deps import require

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

Window = require("pyspark.sql.window", "spark").Window
T = require("pyspark.sql.types", "spark")

_ROW = TMP + "row"
_RANK = TMP + "rank"
_HIT = TMP + "hit"
_NTRUE = TMP + "n_true"
_TRUE = TMP + "true"
_PRED = TMP + "pred"
_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_FLOAT = (T.FloatType, T.DoubleType)


# --------------------------------------------------------------------------- checks
def _is_numeric_type(dtype) -> bool:
    return isinstance(dtype, (T.NumericType, T.BooleanType))


def _lossy_as_float(df: DataFrame, col: str) -> bool:
    """True when ``df[col]``'s ids cannot all be matched exactly against the other kind.

    Integer ids must lie within +-2**53; float ids must be whole numbers (NaN and null
    ids are reported by the other checks). One Spark job, stopped at the first bad row.
    """
    v = F.col(col)
    if isinstance(df.schema[col].dataType, _INTEGRAL):
        bad = (v > F.lit(_FLOAT_EXACT_INT)) | (v < F.lit(-_FLOAT_EXACT_INT))
    else:
        d = v.cast("double")
        bad = ~F.isnan(d) & (
            (d % F.lit(1.0) != F.lit(0.0)) | (F.abs(d) > F.lit(float(_FLOAT_EXACT_INT)))
        )
    return df.filter(bad).limit(1).count() > 0


def _check_same_kind(a: DataFrame, b: DataFrame, col: str, name_a: str, name_b: str) -> None:
    """Raise when an id column is of a different kind in the two frames.

    The rule of :func:`recutils.evaluation._core.check_same_kind`: numeric and string ids
    never match; integer ids (``IntegerType``, ``LongType``, ...) against float ids
    (``FloatType``, ``DoubleType``) match by value when that is exact (every float id a
    whole number, every id within +-2**53), else :class:`ColumnMismatchError` names the
    cast. Only a mixed pair costs a Spark job.
    """
    ta, tb = a.schema[col].dataType, b.schema[col].dataType
    if _is_numeric_type(ta) != _is_numeric_type(tb):
        raise ColumnMismatchError(
            f"column {col!r} has type {ta.simpleString()} in {name_a} but {tb.simpleString()} in "
            f"{name_b}; ids must be of the same kind (both numeric or both strings) to be matched."
        )
    mixed = (isinstance(ta, _INTEGRAL) and isinstance(tb, _FLOAT)) or (
        isinstance(ta, _FLOAT) and isinstance(tb, _INTEGRAL)
    )
    if mixed and (_lossy_as_float(a, col) or _lossy_as_float(b, col)):
        raise inexact_id_match_error(
            col,
            f"{name_a}: {ta.simpleString()}, {name_b}: {tb.simpleString()}",
            f"{name_b} = {name_b}.withColumn({col!r}, {name_b}[{col!r}].astype({ta.simpleString()!r}))",
        )


def _check_ids(df: DataFrame, cols: Sequence[str], name: str) -> None:
    cond = None
    for c in cols:
        cond = F.col(c).isNull() if cond is None else (cond | F.col(c).isNull())
    if cond is not None and df.filter(cond).limit(1).count():
        raise DataError(f"{name} has missing (null) ids in {list(cols)}; every row needs an id.")


def _check_frame(
    df: DataFrame, col_user: str, col_item: str, col_value: str | None, name: str, what: str
) -> None:
    """Null ids, duplicate (user, item) rows and null/NaN values, in one Spark job."""
    if col_value is not None and not _is_numeric_type(df.schema[col_value].dataType):
        raise DataError(
            f"{name}[{col_value!r}] must hold numbers ({what}); got "
            f"{df.schema[col_value].dataType.simpleString()}."
        )
    if col_value is not None:
        v = F.col(col_value).cast("double")
        bad = F.sum((v.isNull() | F.isnan(v)).cast("long"))
    else:
        bad = F.lit(0).cast("long")
    groups = df.groupBy(col_user, col_item).agg(F.count(F.lit(1)).alias("c"), bad.alias("bad"))
    null_id = F.col(col_user).isNull() | F.col(col_item).isNull()
    row = groups.agg(
        F.max("c").alias("dup"),
        F.sum("bad").alias("bad"),
        F.sum(F.when(null_id, F.col("c")).otherwise(0)).alias("null_ids"),
    ).first()
    if row["null_ids"]:
        raise DataError(
            f"{name} has {row['null_ids']} row(s) with a missing (null) "
            f"{col_user!r} or {col_item!r}; every row needs an id."
        )
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
            _check_frame(
                rating_pred, col_user, col_item, col_prediction, "rating_pred", "predictions"
            )
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
        ranked = pred.withColumn(
            _RANK, F.row_number().over(Window.partitionBy(self.col_user).orderBy(*order))
        )
        if cutoff is not None:
            ranked = ranked.filter(F.col(_RANK) <= F.lit(cutoff))
        truth = self.truth.withColumn(_HIT, F.lit(1))
        return ranked.join(truth, on=[self.col_user, self.col_item], how="left").fillna(
            0, subset=[_HIT]
        )

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
            Window.partitionBy(self.col_user)
            .orderBy(_RANK)
            .rowsBetween(Window.unboundedPreceding, 0)
        )
        log = F.log if discfun_type == "loge" else F.log2
        gain = F.lit(1.0) if score_type == "binary" else _gain(F.col(_TRUE), score_type)
        ranked = ranked.withColumn(TMP + "nth", nth)
        return ranked.groupBy(self.col_user).agg(
            F.first(_NTRUE).alias(_NTRUE),
            F.sum(hit).alias("hits"),
            F.sum(F.when(hit == 1, F.col(TMP + "nth") / rank).otherwise(0.0)).alias("rr"),
            F.min(F.when(hit == 1, rank)).alias("first"),
            F.sum(F.when((hit == 1) & (F.col(_RANK) <= F.col(_NTRUE)), 1).otherwise(0)).alias(
                "rprec"
            ),
            F.sum(F.when(hit == 1, gain / log(F.lit(1.0) + rank)).otherwise(0.0)).alias("dcg"),
        )

    def idcg(self, k: int, score_type: str, discfun_type: str) -> DataFrame:
        """Per truth user: ideal DCG of the user's k best true gains."""
        log = F.log if discfun_type == "loge" else F.log2
        if score_type == "binary":
            disc = [0.0]
            for j in range(1, k + 1):
                disc.append(
                    disc[-1]
                    + 1.0 / (math.log(1.0 + j) if discfun_type == "loge" else math.log2(1.0 + j))
                )
            table = F.array(*[F.lit(v) for v in disc])
            return self.n_true.select(
                self.col_user,
                F.element_at(table, F.least(F.col(_NTRUE), F.lit(k)).cast("int") + 1).alias("idcg"),
            )
        w = Window.partitionBy(self.col_user).orderBy(F.col(_TRUE).desc())
        best = self.truth.withColumn(_RANK, F.row_number().over(w)).filter(F.col(_RANK) <= k)
        return best.groupBy(self.col_user).agg(
            F.sum(
                _gain(F.col(_TRUE), score_type) / log(F.lit(1.0) + F.col(_RANK).cast("double"))
            ).alias("idcg")
        )


def _gain(values, score_type: str):
    if score_type == "raw":
        return values
    return F.pow(F.lit(2.0), values) - F.lit(1.0)
