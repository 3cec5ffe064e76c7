"""``SparkSAR``: SAR fitted and served with Spark DataFrame operations.

One class, two front doors, like :class:`~recutils.models.als.SparkALS`:

* **Spark**: ``fit(spark_df)`` computes the affinities, the co-occurrence (a self-join
  on the user) and the similarity on the cluster (:mod:`recutils.spark.sar`) and keeps
  them there as cached DataFrames; ``recommend_k_items(spark_users)`` and
  ``predict(spark_pairs)`` return Spark DataFrames. No matrix reaches the driver. With
  ``method="blocks"`` (the default) the co-occurrence and the top-k scores are sparse
  products computed by blocks of users on the executors (the scoring blocks each hold a
  copy of the similarity); with ``method="join"`` every product term is a row of a join
  and a ``groupBy`` sum, and the top-k a ``row_number`` window: slower, for a similarity
  too large for one executor's memory.
* **pandas** (the contract every recutils model keeps): ``fit(pandas_df)`` runs the same
  Spark operations on the coded ids and brings the (sparse) affinity and similarity
  back into the :class:`~recutils.models.sar.SAR` state, so ``predict``,
  ``recommend_k_items``, ``score``, ``save`` ... behave exactly as the pandas SAR's.
  After a fit on Spark these methods first collect the fitted tables to the driver
  (once, logged): ``save`` included, which writes the pandas SAR's format.

Semantics are the pandas SAR's (see :mod:`recutils.models.sar.model`): same time decay
(half-life in days, reference time ``time_now`` or the latest training timestamp),
threshold, seven similarity types, ``normalize``, duplicate pairs summed, ties by item
id, items without a co-occurrence path scoring 0, users not seen in training getting
the popularity ranking. On Spark, ``recommend_k_items`` gives unknown users that
ranking without a warning (the frame is lazy), and ``predict`` gives ``NaN`` for
unknown users or items. Scores are float64 on Spark; the pandas SAR scores in
``score_dtype`` (float32 by default), so near-ties may order differently unless
``score_dtype="float64"``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.exceptions import ColumnMismatchError, DataError
from recutils.models.base import TrainData, _factorize, check_top_k
from recutils.models.sar.model import SAR, _csr_from_sorted_keys
from recutils.utils.deps import is_spark_frame
from recutils.utils.validation import check_choice, check_positive_int

logger = logging.getLogger(__name__)

#: Fitted state of the pandas side, built from the Spark tables when first needed.
_LOCAL_STATE = frozenset(
    {
        "user_ids_",
        "item_ids_",
        "seen_",
        "user_affinity_",
        "unity_affinity_",
        "item_similarity_",
        "item_frequencies_",
        "_scoring_dtype",
        "_scoring_affinity",
        "_scoring_unity",
        "_scoring_similarity",
    }
)
_NUMERIC = ("double", "float", "integer", "long", "short", "byte", "decimal")


class SparkSAR(SAR):
    """SAR on Spark (see the module docstring); the parameters of :class:`SAR`.

    Args:
        config: A :class:`~recutils.models.sar.SARConfig`, a mapping or YAML.
        spark: The SparkSession for the pandas front door; default the active one,
            else a local one (:func:`recutils.spark.start_or_get_spark`).
        method: ``"blocks"`` (default): the co-occurrence and the top-k scores as sparse
            products by blocks of users on the executors, each scoring block holding a copy
            of the similarity (:func:`recutils.spark.sar.sar_cooccurrence_upper_blocks`,
            :func:`recutils.spark.sar.sar_top_k_blocks`); ``"join"``: every product term a
            row of a join and a ``groupBy`` sum (:func:`recutils.spark.sar.sar_top_k`), for a
            similarity too large for one executor. Both give the same model and ranking.
        n_blocks: User blocks of ``"blocks"`` (default: the Spark context's default
            parallelism).
        **kwargs: :class:`SAR`'s keyword arguments (column names, config fields).

    Examples:
        >>> model = SparkSAR(similarity_type="jaccard").fit(spark_ratings)  # doctest: +SKIP
        >>> recs = model.recommend_k_items(spark_users, top_k=10)            # doctest: +SKIP
    """

    name: ClassVar[str] = "spark_sar"
    #: Optional modules needed (the contract test skips the model without them).
    requires: ClassVar[tuple[str, ...]] = ("pyspark",)
    #: The contract suite must run this model with a SparkSession (marker ``spark``).
    needs_spark: ClassVar[bool] = True

    def __init__(
        self,
        config: Any = None,
        *,
        spark: Any = None,
        method: str = "blocks",
        n_blocks: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        self.spark = spark
        self.method = check_choice("method", method, ("blocks", "join"), owner="SparkSAR")
        self.n_blocks = (
            None if n_blocks is None else check_positive_int("n_blocks", n_blocks, owner="SparkSAR")
        )

    # ------------------------------------------------------------------ state
    @property
    def is_fitted(self) -> bool:
        """Whether the model was fitted (on pandas or Spark) or loaded."""
        return "user_ids_" in self.__dict__ or "_spark_tables" in self.__dict__

    def __getattr__(self, name: str) -> Any:
        # the pandas side of a model fitted on Spark is collected on first use
        tables = self.__dict__.get("_spark_tables")
        if name in _LOCAL_STATE and tables is not None and "user_ids_" not in self.__dict__:
            logger.info("SparkSAR: collecting the fitted tables to the driver for %s", name)
            self._collect(tables, coded=False)
            if name in self.__dict__:
                return self.__dict__[name]
        return super().__getattr__(name)

    def __getstate__(self) -> dict[str, Any]:
        """The numpy state only (Spark sessions and frames do not pickle)."""
        if "_spark_tables" in self.__dict__ and "user_ids_" not in self.__dict__:
            self._collect(self.__dict__["_spark_tables"], coded=False)
        state = dict(self.__dict__)
        for key in ("spark", "_spark_tables", "_spark_ranked"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("spark", None)

    def _clear_fitted(self) -> None:
        super()._clear_fitted()
        self._release_ranked()
        tables = self.__dict__.pop("_spark_tables", None)
        if tables is not None:
            tables.unpersist()
        for key in [k for k in self.__dict__ if k.startswith("_scoring")]:
            del self.__dict__[key]

    def _release_ranked(self) -> None:
        ranked = self.__dict__.pop("_spark_ranked", None)
        if ranked is not None:
            ranked.unpersist()

    def _session(self) -> Any:
        if self.spark is None:
            from recutils.spark.session import start_or_get_spark

            self.spark = start_or_get_spark()
        return self.spark

    def _fit_options(self) -> dict[str, Any]:
        cfg = self.config
        return dict(
            similarity_type=cfg.similarity_type,
            threshold=cfg.threshold,
            half_life_days=cfg.time_decay_coefficient if cfg.timedecay_formula else None,
            time_now=cfg.time_now,
            method=self.__dict__.get("method", "blocks"),
            n_blocks=self.__dict__.get("n_blocks"),
        )

    # ------------------------------------------------------------------ pandas front door
    def _fit(self, data: TrainData) -> None:
        from recutils.spark import sar as S

        columns = {S.USER: data.user_idx, S.ITEM: data.item_idx, S.RATING: data.rating}
        if self.config.timedecay_formula:
            columns[S.TIME] = data.timestamp
        events = self._session().createDataFrame(pd.DataFrame(columns))
        tables = S.fit_sar(events, **self._fit_options())
        try:
            self._collect(tables, coded=True)
        finally:
            tables.unpersist()

    def _collect(self, tables: Any, *, coded: bool) -> None:
        """Set the pandas SAR's state from fitted Spark tables (ids are codes when ``coded``)."""
        from recutils.spark import sar as S

        aff = tables.affinity.toPandas()
        sim = tables.similarity.toPandas()
        freq = tables.frequencies.toPandas()
        if coded:
            n_users, n_items = len(self.user_ids_), len(self.item_ids_)
            u = aff[S.USER].to_numpy(dtype=np.int64)
            i = aff[S.ITEM].to_numpy(dtype=np.int64)
            si, sj = (sim[c].to_numpy(dtype=np.int64) for c in (S.ITEM, S.OTHER))
            fi = freq[S.ITEM].to_numpy(dtype=np.int64)
        else:
            u, user_ids = _factorize(aff[S.USER].rename(self.col_user))
            i, item_ids = _factorize(aff[S.ITEM].rename(self.col_item))
            n_users, n_items = len(user_ids), len(item_ids)
            si, sj, fi = (
                item_ids.get_indexer(pd.Index(col))
                for col in (sim[S.ITEM], sim[S.OTHER], freq[S.ITEM])
            )
        keys = u * n_items + i
        order = np.argsort(keys, kind="stable")
        shape = (n_users, n_items)
        affinity = _csr_from_sorted_keys(
            keys[order], aff["affinity"].to_numpy(np.float64)[order], shape
        )
        unity = _csr_from_sorted_keys(keys[order], aff["unity"].to_numpy(np.float64)[order], shape)
        similarity = sp.coo_matrix(
            (sim["sim"].to_numpy(np.float64), (si, sj)), shape=(n_items, n_items)
        ).tocsr()
        similarity.sort_indices()
        frequencies = np.zeros(n_items, dtype=np.float64)
        frequencies[fi] = freq["freq"].to_numpy(np.float64)
        if not coded:
            self.user_ids_, self.item_ids_ = user_ids, item_ids
            self.seen_ = sp.csr_matrix(
                (
                    np.ones(affinity.nnz, dtype=np.int8),
                    affinity.indices.copy(),
                    affinity.indptr.copy(),
                ),
                shape=shape,
            )
        self.user_affinity_, self.unity_affinity_ = affinity, unity
        self.item_similarity_, self.item_frequencies_ = similarity, frequencies
        self.time_now_ = tables.time_now
        self.rating_min_, self.rating_max_ = tables.rating_min, tables.rating_max
        self._build_dense()

    # ------------------------------------------------------------------ dispatch
    def fit(self, df: Any) -> SparkSAR:
        """Fit on a pandas frame (the contract) or a Spark DataFrame (stays on the cluster).

        Raises:
            ColumnMismatchError: a required column is missing.
            DataError: an empty frame, missing ids, missing, NaN or infinite ratings,
                non-numeric ratings or timestamps.
        """
        if is_spark_frame(df):
            return self._fit_spark(df)
        super().fit(df)
        return self

    def recommend_k_items(
        self,
        users: Any,
        top_k: int = 10,
        remove_seen: bool = True,  # type: ignore[override]
        *,
        sort_top_k: bool = True,
        normalize: bool | None = None,
    ) -> Any:
        """Top-k items per user; a Spark DataFrame of users gives a Spark DataFrame
        ``[col_user, col_item, col_prediction, col_rank]`` (see :meth:`SAR.recommend_k_items`)."""
        if is_spark_frame(users):
            return self._recommend_spark(users, check_top_k(top_k), bool(remove_seen), normalize)
        return super().recommend_k_items(
            users, top_k, remove_seen, sort_top_k=sort_top_k, normalize=normalize
        )

    def predict(self, df: Any, normalize: bool | None = None) -> Any:  # type: ignore[override]
        """SAR scores of (user, item) rows; a Spark DataFrame gives a Spark DataFrame
        ``[col_user, col_item, col_prediction]`` (``NaN`` for unknown users or items)."""
        if is_spark_frame(df):
            return self._predict_spark(df, normalize)
        return super().predict(df, normalize=normalize)

    # ------------------------------------------------------------------ Spark front door
    def _fit_spark(self, df: Any) -> SparkSAR:
        from recutils.spark import sar as S
        from recutils.spark._utils import F, check_no_nulls, check_spark_columns

        self._clear_fitted()
        use_rating = self.col_rating is not None
        decay = self.config.timedecay_formula
        cols = (
            [self.col_user, self.col_item]
            + ([self.col_rating] if use_rating else [])
            + ([self.col_timestamp] if decay else [])
        )
        check_spark_columns(df, cols, "train")
        types = {c: df.schema[c].dataType.typeName() for c in cols}
        if use_rating and types[self.col_rating] not in _NUMERIC:
            raise DataError(f"{self.col_rating} must be numeric, got {types[self.col_rating]}.")
        if decay and types[self.col_timestamp] not in _NUMERIC + (
            "timestamp",
            "timestamp_ntz",
            "date",
        ):
            raise DataError(
                f"timestamps must be numeric or datetime, got {types[self.col_timestamp]}."
            )
        check_no_nulls(df, cols, "train", "SAR needs every id, rating and timestamp")
        rating = F.col(self.col_rating).cast("double") if use_rating else F.lit(1.0)
        checks = [F.count(F.lit(1)).alias("rows")]
        if use_rating:
            bad = F.isnan(rating) | (F.abs(rating) == F.lit(float("inf")))
            checks.append(F.sum(bad.cast("long")).alias("bad"))
        row = df.agg(*checks).first()
        if not row["rows"]:
            raise DataError("cannot fit on an empty frame.")
        if use_rating and row["bad"]:
            raise DataError(
                f"{self.col_rating} has {row['bad']} NaN or infinite value(s); drop or "
                "impute them before fit."
            )
        selected = [
            F.col(self.col_user).alias(S.USER),
            F.col(self.col_item).alias(S.ITEM),
            rating.alias(S.RATING),
        ]
        if decay:
            ts = F.col(self.col_timestamp)
            if types[self.col_timestamp] == "date":
                ts = ts.cast("timestamp")
            selected.append(ts.cast("double").alias(S.TIME))
        self.spark = df.sparkSession
        tables = S.fit_sar(df.select(*selected), **self._fit_options())
        self._spark_tables = tables
        self.time_now_ = tables.time_now
        self.rating_min_, self.rating_max_ = tables.rating_min, tables.rating_max
        logger.info("fitted SparkSAR on Spark: %d items", tables.n_items)
        return self

    def _tables(self) -> Any:
        """The fitted Spark tables (built from the numpy state after a pandas fit or a load)."""
        self._check_fitted()
        tables = self.__dict__.get("_spark_tables")
        if tables is not None:
            return tables
        from recutils.spark import sar as S

        spark = self._session()
        aff, sim = self.user_affinity_.tocoo(), self.item_similarity_.tocoo()
        users, items = np.asarray(self.user_ids_), np.asarray(self.item_ids_)
        affinity = spark.createDataFrame(
            pd.DataFrame(
                {
                    S.USER: users[aff.row],
                    S.ITEM: items[aff.col],
                    "affinity": aff.data,
                    "unity": self.unity_affinity_.tocoo().data,
                }
            )
        )
        similarity = spark.createDataFrame(
            pd.DataFrame(
                {
                    S.ITEM: items[sim.row],
                    S.OTHER: items[sim.col],
                    "sim": sim.data.astype(np.float64),
                }
            )
        )
        frequencies = spark.createDataFrame(
            pd.DataFrame(
                {S.ITEM: items, "freq": np.asarray(self.item_frequencies_, dtype=np.float64)}
            )
        )
        tables = S.SARTables(
            affinity.cache(),
            similarity.cache(),
            frequencies.cache(),
            n_items=len(items),
            time_now=self.time_now_,
            rating_min=self.rating_min_,
            rating_max=self.rating_max_,
        )
        self._spark_tables = tables
        return tables

    def _output(self, frame: Any, *columns: tuple[str, str]) -> Any:
        from recutils.spark._utils import F

        return frame.select(*[F.col(src).alias(dst) for src, dst in columns])

    def _recommend_spark(
        self, users: Any, k: int, remove_seen: bool, normalize: bool | None
    ) -> Any:
        from recutils.spark import sar as S
        from recutils.spark._utils import F, check_spark_columns

        check_spark_columns(users, [self.col_user], "users")
        tables = self._tables()
        req = users.select(F.col(self.col_user).alias(S.USER)).distinct()
        norm = self.config.normalize if normalize is None else bool(normalize)
        self._release_ranked()
        if self.__dict__.get("method", "blocks") == "blocks":
            known = S.sar_top_k_blocks(
                req,
                tables,
                k,
                remove_seen=remove_seen,
                normalize=norm,
                n_blocks=self.__dict__.get("n_blocks"),
            )
        else:
            known, ranked = S.sar_top_k(req, tables, k, remove_seen=remove_seen, normalize=norm)
            # the top-k rows per user, cached by sar_top_k: released on the next call
            self._spark_ranked = ranked
        unknown = req.join(tables.affinity.select(S.USER), on=S.USER, how="left_anti")
        ranked = known.unionByName(S.popularity_top_k(unknown, tables, k))
        return self._output(
            ranked,
            (S.USER, self.col_user),
            (S.ITEM, self.col_item),
            ("score", self.col_prediction),
            ("rank", self.col_rank),
        )

    def _predict_spark(self, df: Any, normalize: bool | None) -> Any:
        from recutils.spark import sar as S
        from recutils.spark._utils import F, check_spark_columns

        check_spark_columns(df, [self.col_user, self.col_item], "pairs")
        if self.col_user == self.col_item:
            raise ColumnMismatchError("col_user and col_item must differ.")
        pairs = df.select(F.col(self.col_user).alias(S.USER), F.col(self.col_item).alias(S.ITEM))
        norm = self.config.normalize if normalize is None else bool(normalize)
        scored = S.sar_predict(pairs, self._tables(), normalize=norm)
        out = pairs.join(scored, on=[S.USER, S.ITEM], how="left")
        return self._output(
            out, (S.USER, self.col_user), (S.ITEM, self.col_item), ("score", self.col_prediction)
        )


__all__ = ["SparkSAR"]
