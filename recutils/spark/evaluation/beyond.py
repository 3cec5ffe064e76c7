"""Beyond-accuracy metrics on Spark DataFrames; see :mod:`recutils.evaluation.beyond`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recutils.evaluation._public import reject_unknown_keywords
from recutils.evaluation.beyond import (
    DEFAULT_ITEM_FEATURES_COL,
    DEFAULT_ITEM_SIM_MEASURE,
    ITEM_SIM_MEASURES,
    mean_of,
)
from recutils.exceptions import ConfigError, DataError
from recutils.spark._utils import TMP, F, check_spark_columns
from recutils.spark.evaluation._common import _check_frame, _check_ids, _check_same_kind

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


class _Beyond:
    """Checked train and recommendation frames for the beyond-accuracy metrics."""

    def __init__(
        self,
        train_df,
        reco_df,
        col_user,
        col_item,
        item_feature_df=None,
        col_item_features=None,
        unique_train=False,
        check=True,
    ):
        check_spark_columns(train_df, [col_user, col_item], "train_df")
        check_spark_columns(reco_df, [col_user, col_item], "reco_df")
        for col in (col_user, col_item):
            _check_same_kind(train_df, reco_df, col, "train_df", "reco_df")
        if item_feature_df is not None:
            check_spark_columns(item_feature_df, [col_item, col_item_features], "item_feature_df")
            _check_same_kind(train_df, item_feature_df, col_item, "train_df", "item_feature_df")
        self.train, self.reco = train_df, reco_df
        self.u, self.i = col_user, col_item
        self.features, self.col_features = item_feature_df, col_item_features
        if check:
            if train_df.limit(1).count() == 0 or reco_df.limit(1).count() == 0:
                raise DataError(
                    "train_df and reco_df must both have rows for beyond-accuracy metrics."
                )
            _check_frame(reco_df, col_user, col_item, None, "reco_df", "")
            if unique_train:
                _check_frame(train_df, col_user, col_item, None, "train_df", "")
            else:
                _check_ids(train_df, [col_user, col_item], "train_df")
            seen = (
                reco_df.select(col_user, col_item)
                .join(
                    train_df.select(col_user, col_item).distinct(),
                    on=[col_user, col_item],
                    how="inner",
                )
                .count()
            )
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
        co = (
            left.join(right, on=u, how="inner").groupBy("a", "b").agg(F.count(F.lit(1)).alias("co"))
        )
        out = pairs.join(co, on=["a", "b"], how="left")
        out = out.join(
            count.select(F.col(i).alias("a"), F.col("c").alias("ca")), on="a", how="left"
        )
        out = out.join(
            count.select(F.col(i).alias("b"), F.col("c").alias("cb")), on="b", how="left"
        )
        denom = F.sqrt(F.col("ca").cast("double") * F.col("cb").cast("double"))
        sim = F.when(denom > 0, F.coalesce(F.col("co"), F.lit(0)).cast("double") / denom).otherwise(
            0.0
        )
        return out.withColumn("sim", F.coalesce(sim, F.lit(0.0))).drop("co", "ca", "cb")

    def _feature_cosine(self, pairs: DataFrame) -> DataFrame:
        i, fcol = self.i, self.col_features
        if self.features.groupBy(i).count().filter(F.col("count") > 1).limit(1).count():
            raise DataError(
                "item_feature_df has duplicate items; give one feature vector per item."
            )
        vec = F.col(fcol).cast("array<double>")
        norm = F.sqrt(
            F.aggregate(F.transform(vec, lambda x: x * x), F.lit(0.0), lambda acc, x: acc + x)
        )
        feats = self.features.select(F.col(i), vec.alias("v"), norm.alias("n"))
        fa = feats.select(F.col(i).alias("a"), F.col("v").alias("va"), F.col("n").alias("na"))
        fb = feats.select(F.col(i).alias("b"), F.col("v").alias("vb"), F.col("n").alias("nb"))
        out = pairs.join(fa, on="a", how="left").join(fb, on="b", how="left")
        dot = F.aggregate(
            F.zip_with("va", "vb", lambda x, y: x * y), F.lit(0.0), lambda acc, x: acc + x
        )
        ok = (
            F.col("va").isNotNull()
            & F.col("vb").isNotNull()
            & (F.col("na") > 0)
            & (F.col("nb") > 0)
        )
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
            .agg(
                (
                    (F.lit(1.0) - F.avg(F.coalesce(F.col("sim"), F.lit(0.0))))
                    * F.first(TMP + "rel")
                ).alias("user_item_serendipity")
            )
            .withColumnRenamed("a", i)
            .orderBy(u, i)
        )


@reject_unknown_keywords
def catalog_coverage(
    train_df: DataFrame,
    reco_df: DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    check: bool = True,
) -> float:
    """Distinct recommended items / distinct training items (see :func:`recutils.evaluation.catalog_coverage`)."""
    _Beyond(train_df, reco_df, col_user, col_item, check=check)
    n_reco = reco_df.select(col_item).distinct().count()
    n_train = train_df.select(col_item).distinct().count()
    return float(n_reco / n_train)


@reject_unknown_keywords
def distributional_coverage(
    train_df: DataFrame,
    reco_df: DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    check: bool = True,
) -> float:
    """Entropy (bits) of the recommended items (see :func:`recutils.evaluation.distributional_coverage`)."""
    _Beyond(train_df, reco_df, col_user, col_item, check=check)
    n = reco_df.count()
    counts = reco_df.groupBy(col_item).agg(F.count(F.lit(1)).alias("c"))
    p = F.col("c").cast("double") / F.lit(float(n))
    return float(-counts.agg(F.sum(p * F.log2(p)).alias("h")).first()["h"])


@reject_unknown_keywords
def historical_item_novelty(
    train_df: DataFrame,
    reco_df: DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    check: bool = True,
) -> DataFrame:
    """Novelty -log2(n_i / N) of every training item, ``[col_item, "item_novelty"]`` sorted by item."""
    _Beyond(train_df, reco_df, col_user, col_item, check=check)
    n = train_df.count()
    return (
        train_df.groupBy(col_item)
        .agg(F.count(F.lit(1)).alias("c"))
        .select(
            col_item, (-F.log2(F.col("c").cast("double") / F.lit(float(n)))).alias("item_novelty")
        )
        .orderBy(col_item)
    )


@reject_unknown_keywords
def novelty(
    train_df: DataFrame,
    reco_df: DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    check: bool = True,
) -> float:
    """Mean novelty of the recommendations (see :func:`recutils.evaluation.novelty`)."""
    nov = historical_item_novelty(train_df, reco_df, col_user, col_item, check=check)
    row = (
        reco_df.select(col_item)
        .join(nov, on=col_item, how="left")
        .agg(
            F.sum(F.coalesce(F.col("item_novelty"), F.lit(0.0))).alias("s"),
            F.count(F.lit(1)).alias("n"),
        )
        .first()
    )
    return float(row["s"]) / int(row["n"])


@reject_unknown_keywords
def user_diversity(
    train_df: DataFrame,
    reco_df: DataFrame,
    item_feature_df: DataFrame | None = None,
    item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
    col_item_features: str = DEFAULT_ITEM_FEATURES_COL,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    check: bool = True,
) -> DataFrame:
    """Intra-list diversity per user, ``[col_user, "user_diversity"]`` sorted by user.

    See :func:`recutils.evaluation.user_diversity`; users with one recommendation are left out.
    """
    data = _Beyond(
        train_df,
        reco_df,
        col_user,
        col_item,
        item_feature_df,
        col_item_features,
        unique_train=item_sim_measure == "item_cooccurrence_count",
        check=check,
    )
    return data.user_diversity(item_sim_measure)


def _spark_mean(df: DataFrame, column: str) -> float:
    value = df.agg(F.avg(column).alias("m")).first()["m"]
    return float("nan") if value is None else float(value)


diversity = mean_of(
    user_diversity,
    "user_diversity",
    "diversity",
    """
    Mean of :func:`user_diversity` (NaN when no user has two recommendations).""",
    __name__,
    _spark_mean,
)


@reject_unknown_keywords
def user_item_serendipity(
    train_df: DataFrame,
    reco_df: DataFrame,
    item_feature_df: DataFrame | None = None,
    item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
    col_item_features: str = DEFAULT_ITEM_FEATURES_COL,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_relevance: str | None = None,
    check: bool = True,
) -> DataFrame:
    """Serendipity of each recommended pair, ``[col_user, col_item, "user_item_serendipity"]``.

    See :func:`recutils.evaluation.user_item_serendipity`; users without history are left out.
    """
    data = _Beyond(
        train_df,
        reco_df,
        col_user,
        col_item,
        item_feature_df,
        col_item_features,
        unique_train=item_sim_measure == "item_cooccurrence_count",
        check=check,
    )
    return data.user_item_serendipity(item_sim_measure, col_relevance)


@reject_unknown_keywords
def user_serendipity(
    train_df: DataFrame,
    reco_df: DataFrame,
    item_feature_df: DataFrame | None = None,
    item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
    col_item_features: str = DEFAULT_ITEM_FEATURES_COL,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_relevance: str | None = None,
    check: bool = True,
) -> DataFrame:
    """Mean serendipity per user, ``[col_user, "user_serendipity"]`` sorted by user."""
    per = user_item_serendipity(
        train_df,
        reco_df,
        item_feature_df,
        item_sim_measure,
        col_item_features,
        col_user,
        col_item,
        col_relevance,
        check,
    )
    return (
        per.groupBy(col_user)
        .agg(F.avg("user_item_serendipity").alias("user_serendipity"))
        .orderBy(col_user)
    )


serendipity = mean_of(
    user_serendipity,
    "user_serendipity",
    "serendipity",
    """
    Mean of :func:`user_serendipity` over users (NaN when no user has history).""",
    __name__,
    _spark_mean,
)


_BEYOND_FUNCS = {
    "catalog_coverage": catalog_coverage,
    "distributional_coverage": distributional_coverage,
    "novelty": novelty,
    "diversity": diversity,
    "serendipity": serendipity,
}


__all__ = [
    "catalog_coverage",
    "distributional_coverage",
    "novelty",
    "historical_item_novelty",
    "diversity",
    "user_diversity",
    "serendipity",
    "user_serendipity",
    "user_item_serendipity",
]
