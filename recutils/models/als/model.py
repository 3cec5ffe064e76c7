"""``SparkALS``: Spark MLlib's alternating least squares behind the recutils contract.

One class, two front doors:

* **pandas** (the contract every recutils model keeps): ``fit(pandas_df)`` codes the
  ids with :class:`~recutils.models.base.BaseRecommender` (any hashable ids, strings
  included), trains Spark's ALS on the integer codes in the active (or a new local)
  SparkSession, and copies the factors back to numpy. ``predict`` and
  ``recommend_k_items`` then run in numpy like every other model (remove-seen and
  top-k by the base class), and ``save`` writes the factors in ``.npz`` next to the
  manifest plus Spark's own model folder.
* **Spark**: the same methods accept Spark DataFrames and stay on the cluster:
  ``fit(spark_df)`` trains on the frame as is, ``predict(spark_pairs)`` and
  ``recommend_k_items(spark_users)`` return Spark DataFrames. ALS needs integer ids
  in the int32 range: ids of any other type (strings, longs beyond int32) are mapped
  to consecutive integers by a Spark id table built at fit time and mapped back in
  the outputs, so callers never see the codes.

``recommend_k_items(..., remove_seen=True)`` on Spark never builds the users x items
cross join: the item factors are broadcast once, each partition of requested users
(their factors and their training items, gathered by one ``groupBy``) is scored in
numpy inside ``mapInPandas`` (block product, seen items masked, ``argpartition``),
and only the top k rows per user ever exist as Spark rows. The item factor matrix
must fit in executor memory (n_items x rank doubles).

Parameters use recutils' snake_case; Spark's names (``maxIter``, ``regParam``,
``implicitPrefs``, ``coldStartStrategy``) are accepted as aliases.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.config import BaseConfig
from recutils.constants import SEED
from recutils.exceptions import ConfigError, DataError, ModelFitError
from recutils.models import persistence
from recutils.models.base import (
    MANIFEST,
    BaseRecommender,
    ContractCase,
    KnownAnswer,
    TrainData,
    check_top_k,
)
from recutils.models.factors import check_factor_arrays
from recutils.utils.deps import is_spark_frame
from recutils.utils.validation import check_number, check_positive_int, is_int

logger = logging.getLogger(__name__)

SPARK_MODEL_DIR = "spark_model"
_COLD_START = ("nan", "drop")
_INT32_MAX = 2**31 - 1

#: Spark's parameter names -> recutils config fields.
SPARK_ALIASES: dict[str, str] = {
    "maxIter": "max_iter",
    "regParam": "reg_param",
    "implicitPrefs": "implicit_prefs",
    "coldStartStrategy": "cold_start_strategy",
    "numBlocks": "num_blocks",
}


@dataclass
class ALSConfig(BaseConfig):
    """Parameters of :class:`SparkALS` (Spark's names in parentheses).

    Attributes:
        rank: Number of latent factors (``rank``).
        max_iter: Alternating iterations (``maxIter``).
        reg_param: L2 regularization (``regParam``).
        alpha: Confidence scale of implicit feedback (``alpha``); used only with
            ``implicit_prefs``.
        implicit_prefs: Treat ratings as implicit feedback strengths (``implicitPrefs``):
            the model then predicts preference scores (about 0..1), not ratings,
            which ranks much better on top-k metrics.
        nonnegative: Non-negative least squares (``nonnegative``).
        cold_start_strategy: ``"nan"`` (unknown users/items get NaN, the contract)
            or ``"drop"`` (such rows are dropped from Spark predictions).
        seed: Random seed of the factor initialisation (``seed``).
        num_blocks: User and item blocks (``numUserBlocks``/``numItemBlocks``);
            None: Spark's default of 10.

    The defaults (rank 10, 15 iterations, ``reg_param`` 0.1) are not the MovieLens
    benchmark's (``recutils/benchmark/specs/movielens.yaml``: 20 iterations,
    ``reg_param`` 0.05), which restate Microsoft Recommenders' ALS benchmark so that its
    published figure can be compared, not a tuned optimum: on the tuning notebook's
    split (``tuning_spark_als``, its test parameters) the benchmark's settings predict
    worse (RMSE 0.962) than these defaults (0.935).
    """

    rank: int = 10
    max_iter: int = 15
    reg_param: float = 0.1
    alpha: float = 1.0
    implicit_prefs: bool = False
    nonnegative: bool = False
    cold_start_strategy: str = "nan"
    seed: int = SEED
    num_blocks: int | None = None

    def __post_init__(self) -> None:
        for name in ("rank", "max_iter"):
            value = getattr(self, name)
            check_positive_int(name, value)
        if self.num_blocks is not None:
            check_positive_int("num_blocks", self.num_blocks)
        for name in ("reg_param", "alpha"):
            check_number(name, getattr(self, name))
        if self.cold_start_strategy not in _COLD_START:
            raise ConfigError(
                f"cold_start_strategy must be one of {list(_COLD_START)}, got {self.cold_start_strategy!r}."
            )
        if not is_int(self.seed):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}.")


def _spark():
    from recutils.spark._utils import F, is_spark_df
    from recutils.spark.session import start_or_get_spark

    return F, is_spark_df, start_or_get_spark


class SparkALS(BaseRecommender):
    """Alternating least squares (Spark MLlib) for explicit or implicit feedback.

    Args:
        config: An :class:`ALSConfig`, a mapping or YAML; keyword parameters override it.
        spark: The SparkSession to train in; default the active one, else a local one
            started with :func:`recutils.spark.start_or_get_spark`.
        col_user, col_item, col_rating, col_prediction: Column names.
        **params: :class:`ALSConfig` fields, in snake_case or Spark's camelCase.
    """

    name: ClassVar[str] = "als"
    config_class: ClassVar[type[BaseConfig]] = ALSConfig
    #: Optional modules needed (the contract test skips the model without them).
    requires: ClassVar[tuple[str, ...]] = ("pyspark",)
    #: Spark ML spellings of config fields (``maxIter`` ...), accepted by the constructor.
    keyword_aliases: ClassVar[dict[str, str]] = SPARK_ALIASES
    #: The contract suite must run this model with a SparkSession (marker ``spark``).
    needs_spark: ClassVar[bool] = True

    def __init__(self, config: Any = None, *, spark: Any = None, **params: Any) -> None:
        columns = {
            k: params.pop(k)
            for k in list(params)
            if k.startswith("col_") or k in ("progress", "n_jobs")
        }
        params = {SPARK_ALIASES.get(k, k): v for k, v in params.items()}
        super().__init__(config, **columns, **params)
        self.spark = spark

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        """Drop the JVM-side objects (for broadcasting the numpy model to executors)."""
        state = dict(self.__dict__)
        if "user_ids_" in state:
            state["_seen_matrix"] = self.seen_  # collected once if it lives on Spark
        for key in (
            "spark",
            "spark_model_",
            "_spark_train",
            "_spark_maps",
            "_spark_model_path",
            "_spark_user_block",
            "_spark_user_plain",
            "_spark_item_matrix",
            "_spark_user_factors",
        ):
            state.pop(key, None)
        return state

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        self.__dict__.update(state)

    # ------------------------------------------------------------------ Spark helpers
    def _session(self):
        if self.spark is None:
            _, _, start = _spark()
            self.spark = start()
        return self.spark

    def _estimator(self):
        from pyspark.ml.recommendation import ALS

        c: ALSConfig = self.config  # type: ignore[assignment]
        kwargs: dict[str, Any] = dict(
            rank=int(c.rank),
            maxIter=int(c.max_iter),
            regParam=float(c.reg_param),
            alpha=float(c.alpha),
            implicitPrefs=bool(c.implicit_prefs),
            nonnegative=bool(c.nonnegative),
            coldStartStrategy=c.cold_start_strategy,
            seed=int(c.seed),
            userCol="user",
            itemCol="item",
            ratingCol="rating",
        )
        if c.num_blocks is not None:
            kwargs.update(numUserBlocks=int(c.num_blocks), numItemBlocks=int(c.num_blocks))
        return ALS(**kwargs)

    def _fit_spark_codes(self, frame) -> Any:
        """Train ALS on a Spark frame with int columns user, item and float rating."""
        estimator = self._estimator()  # bad parameters raise here, not as a fit failure
        try:
            return estimator.fit(frame)
        except Exception as err:  # noqa: BLE001 - surface Spark failures as one error type
            raise ModelFitError(f"Spark ALS failed to fit: {err}") from err

    # ------------------------------------------------------------------ seen items
    @property
    def seen_(self) -> Any:
        """Training items per user (CSR, positions of ``user_ids_`` x ``item_ids_``).

        After a fit on Spark it is collected from the cluster on first use only.
        """
        seen = self.__dict__.get("_seen_matrix")
        if seen is not None:
            return seen
        train = self.__dict__.get("_spark_train")
        if train is None or "user_ids_" not in self.__dict__:
            from recutils.exceptions import NotFittedError

            raise NotFittedError("SparkALS.seen_ is not available: call fit() first.")
        import scipy.sparse as sp

        pdf = train.toPandas()
        pos = {}
        for code in ("user", "item"):
            codes = self._position[code]
            inverse = np.full(int(codes.max()) + 1 if codes.size else 0, -1, dtype=np.int64)
            inverse[codes] = np.arange(codes.size)
            pos[code] = inverse[pdf[code].to_numpy(dtype=np.int64)]
        seen = sp.csr_matrix(
            (np.ones(len(pdf), dtype=np.int8), (pos["user"], pos["item"])),
            shape=(len(self.user_ids_), len(self.item_ids_)),
        )
        self.__dict__["_seen_matrix"] = seen
        return seen

    @seen_.setter
    def seen_(self, value: Any) -> None:
        self.__dict__["_seen_matrix"] = value

    def _reset(self) -> None:
        for attr in [a for a in self.__dict__ if a.endswith("_") and not a.startswith("_")]:
            del self.__dict__[attr]
        for key in ("_spark_user_block", "_spark_user_plain"):
            table = self.__dict__.pop(key, None)
            if table is not None:
                table.unpersist()
        for attr in (
            "_seen_matrix",
            "_spark_train",
            "_spark_maps",
            "_position",
            "_spark_model_path",
            "_spark_item_matrix",
            "_als_codes",
            "_spark_user_factors",
        ):
            self.__dict__.pop(attr, None)

    # ------------------------------------------------------------------ pandas path
    def _fit(self, data: TrainData) -> None:
        spark = self._session()
        rating = data.rating if (self.col_rating is not None) else np.ones_like(data.rating)
        # ALS ids in order of first appearance: Spark's blocking and initialisation depend
        # on the ids, and this order is the same whatever the id labels (ints, strings).
        u_als, u_codes = pd.factorize(data.user_idx)
        i_als, i_codes = pd.factorize(data.item_idx)
        pdf = pd.DataFrame(
            {
                "user": u_als.astype(np.int32),
                "item": i_als.astype(np.int32),
                "rating": rating.astype(np.float32),
            }
        )
        frame = spark.createDataFrame(pdf)
        model = self._fit_spark_codes(frame)
        self.spark_model_ = model
        self._copy_factors(
            model,
            data.n_users,
            data.n_items,
            np.asarray(u_codes, dtype=np.int64),
            np.asarray(i_codes, dtype=np.int64),
        )

    def _copy_factors(
        self, model, n_users: int, n_items: int, user_codes: np.ndarray, item_codes: np.ndarray
    ) -> None:
        """Bring the factor tables into dense numpy arrays indexed by position.

        ``*_codes[j]`` is the position (in ``user_ids_``/``item_ids_``) of ALS id ``j``.
        """
        rank = int(model.rank)
        self._als_codes = {"user": user_codes, "item": item_codes}
        for attr, table, n, codes in (
            ("user_factors_", model.userFactors, n_users, user_codes),
            ("item_factors_", model.itemFactors, n_items, item_codes),
        ):
            pdf = table.toPandas()
            arr = np.zeros((n, rank), dtype=np.float64)
            if len(pdf):
                arr[codes[pdf["id"].to_numpy(dtype=np.int64)]] = np.vstack(
                    pdf["features"].to_numpy()
                )
            setattr(self, attr, arr)

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        return self.user_factors_[user_idx] @ self.item_factors_.T

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        return np.einsum("ij,ij->i", self.user_factors_[user_idx], self.item_factors_[item_idx])

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"user_factors": self.user_factors_, "item_factors": self.item_factors_}
        codes = self.__dict__.get("_als_codes")
        if codes is not None:
            arrays.update(als_user_codes=codes["user"], als_item_codes=codes["item"])
        return arrays, {}

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        check_factor_arrays(arrays, n_users, n_items)
        if "als_user_codes" in arrays:
            persistence.check_array(arrays, "als_user_codes", persistence.INTEGER, (n_users,))
            persistence.check_array(arrays, "als_item_codes", persistence.INTEGER, (n_items,))
        self.user_factors_ = np.asarray(arrays["user_factors"], dtype=np.float64)
        self.item_factors_ = np.asarray(arrays["item_factors"], dtype=np.float64)
        if "als_user_codes" in arrays:
            self._als_codes = {
                "user": np.asarray(arrays["als_user_codes"], dtype=np.int64),
                "item": np.asarray(arrays["als_item_codes"], dtype=np.int64),
            }
        else:  # saved after a fit on Spark: no Spark model comes back, ALS ids = positions
            self._als_codes = {
                "user": np.arange(self.user_factors_.shape[0], dtype=np.int64),
                "item": np.arange(self.item_factors_.shape[0], dtype=np.int64),
            }

    # ------------------------------------------------------------------ dispatch
    def fit(self, df: Any) -> SparkALS:
        """Fit on a pandas or Spark DataFrame of interactions (never modified); return ``self``.

        Raises:
            ColumnMismatchError: a required column is missing.
            DataError: empty input, NaN ratings or ids, duplicate (user, item) rows.
            ModelFitError: Spark's ALS failed.
        """
        self._reset()
        if is_spark_frame(df):
            return self._fit_spark(df)
        super().fit(df)
        return self

    def predict(self, df: Any, **kwargs: Any) -> Any:
        """Score (user, item) rows: a pandas frame in numpy (contract), a Spark frame on Spark.

        On Spark the result has columns ``[col_user, col_item, col_prediction]``; with
        ``cold_start_strategy="nan"`` unknown ids get NaN, with ``"drop"`` they are dropped.
        """
        if is_spark_frame(df):
            return self._predict_spark(df)
        return super().predict(df, **kwargs)

    def recommend_k_items(
        self, users: Any, top_k: int = 10, remove_seen: bool = True, **kwargs: Any
    ) -> Any:
        """Top-k items per user (pandas, or a Spark DataFrame of users -> Spark DataFrame).

        The Spark path returns ``[col_user, col_item, col_prediction, col_rank]`` for the
        requested users known to the model, without a users x items cross join.
        """
        if is_spark_frame(users):
            return self._recommend_spark(users, check_top_k(top_k), bool(remove_seen))
        return super().recommend_k_items(users, top_k=top_k, remove_seen=remove_seen, **kwargs)

    # ------------------------------------------------------------------ Spark path
    def _fit_spark(self, df) -> SparkALS:
        from recutils.spark._utils import check_no_nulls, check_spark_columns

        F = _spark()[0]
        use_rating = self.col_rating is not None
        cols = [self.col_user, self.col_item] + ([self.col_rating] if use_rating else [])
        check_spark_columns(df, cols, "train")
        check_no_nulls(df, cols, "train", "ALS needs every id and rating")
        if use_rating:
            dtype = df.schema[self.col_rating].dataType.typeName()
            if dtype not in ("double", "float", "integer", "long", "short", "byte", "decimal"):
                raise DataError(f"{self.col_rating} must be numeric, got {dtype}.")
        self.spark = df.sparkSession
        maps = {}
        coded = df
        for col, code in ((self.col_user, "user"), (self.col_item, "item")):
            coded, table = self._encode(coded, col, code)
            maps[code] = table
        rating = F.col(self.col_rating).cast("float") if use_rating else F.lit(1.0).cast("float")
        frame = coded.select(F.col("user"), F.col("item"), rating.alias("rating"))
        stats = (
            frame.groupBy("user", "item")
            .count()
            .agg(F.count(F.lit(1)).alias("pairs"), F.max("count").alias("dup"))
            .first()
        )
        if not stats["pairs"]:
            raise DataError("cannot fit on an empty frame.")
        if stats["dup"] > 1:
            raise DataError(
                f"duplicate ({self.col_user}, {self.col_item}) rows; SparkALS needs one row per "
                "pair: aggregate them first (e.g. groupBy(user, item).agg(sum(rating)))."
            )
        self._spark_maps = maps
        self._spark_train = frame.select("user", "item")
        model = self._fit_spark_codes(frame)
        self.spark_model_ = model
        # The numpy side (pandas predict/recommend, save) from the factor tables.
        user_ids = self._ids_by_code(model.userFactors, maps["user"])
        item_ids = self._ids_by_code(model.itemFactors, maps["item"])
        self.user_ids_ = pd.Index(user_ids["id"].to_numpy())
        self.item_ids_ = pd.Index(item_ids["id"].to_numpy())
        self._position = {"user": user_ids["code"].to_numpy(), "item": item_ids["code"].to_numpy()}
        rank = int(model.rank)
        self.user_factors_ = (
            np.vstack(user_ids["features"].to_numpy()).astype(np.float64)
            if len(user_ids)
            else np.zeros((0, rank))
        )
        self.item_factors_ = (
            np.vstack(item_ids["features"].to_numpy()).astype(np.float64)
            if len(item_ids)
            else np.zeros((0, rank))
        )
        logger.info("fitted SparkALS on Spark: %d users, %d items", len(user_ids), len(item_ids))
        return self

    def _ids_by_code(self, factors, table) -> pd.DataFrame:
        """Factor table with original ids, sorted by original id (the base class's coding)."""
        F = _spark()[0]
        f = factors.select(F.col("id").alias("code"), "features")
        if table is not None:
            f = f.join(
                table.select(F.col("code"), F.col("id").alias("orig")), on="code"
            ).withColumnRenamed("orig", "id")
        else:
            f = f.withColumn("id", F.col("code"))
        pdf = f.toPandas()
        try:
            pdf = pdf.sort_values("id", kind="stable").reset_index(drop=True)
        except TypeError:  # pragma: no cover - unsortable mixed ids
            pass
        return pdf

    def _encode(self, df, col: str, code: str):
        """Add an int32 column ``code`` for ``col``; return (frame, id table or None)."""
        F = _spark()[0]
        dtype = df.schema[col].dataType.typeName()
        if dtype in ("integer", "short", "byte"):
            return df.withColumn(code, F.col(col).cast("int")), None
        if dtype == "long":
            row = df.agg(F.min(col).alias("lo"), F.max(col).alias("hi")).first()
            if row["lo"] is not None and row["lo"] >= 0 and row["hi"] <= _INT32_MAX:
                return df.withColumn(code, F.col(col).cast("int")), None
        from pyspark.sql.window import Window

        logger.info("mapping %s ids of type %s to int32 codes for ALS", col, dtype)
        table = df.select(F.col(col).alias("id")).distinct()
        table = table.withColumn(
            "code", (F.row_number().over(Window.orderBy("id")) - 1).cast("int")
        )
        table = table.cache()
        mapped = df.join(table.withColumnRenamed("id", col).withColumnRenamed("code", code), on=col)
        return mapped, table

    def _require_spark_model(self):
        """Spark's ALSModel: the fitted one, or loaded from ``spark_model/``; None if neither."""
        self._check_fitted()
        model = self.__dict__.get("spark_model_")
        if model is None:
            path = self.__dict__.get("_spark_model_path")
            if path is None:
                return None
            from pyspark.ml.recommendation import ALSModel

            self._session()
            model = ALSModel.load(str(path))
            self.spark_model_ = model
        return model

    def _factor_tables(self):
        """(user factor Spark frame [id, features], item codes, item matrix), ids = ALS ids."""
        model = self._require_spark_model()
        cached = self.__dict__.get("_spark_item_matrix")
        if model is not None:
            users = model.userFactors
            if cached is None:
                item_pdf = model.itemFactors.toPandas()
                item_codes = item_pdf["id"].to_numpy(dtype=np.int64)
                item_matrix = (
                    np.vstack(item_pdf["features"].to_numpy()).astype(np.float64)
                    if len(item_pdf)
                    else np.zeros((0, int(model.rank)))
                )
                cached = self._spark_item_matrix = (item_codes, item_matrix)
            return users, cached[0], cached[1]
        # no ALSModel (a model loaded through the registry): the numpy factors
        codes = self._als_codes
        users = self.__dict__.get("_spark_user_factors")
        if users is None:
            pdf = pd.DataFrame(
                {
                    "id": np.arange(codes["user"].size, dtype=np.int32),
                    "features": list(self.user_factors_[codes["user"]]),
                }
            )
            users = self._session().createDataFrame(pdf, "id int, features array<double>")
            self._spark_user_factors = users
        if cached is None:
            cached = self._spark_item_matrix = (
                np.arange(codes["item"].size, dtype=np.int64),
                self.item_factors_[codes["item"]],
            )
        return users, cached[0], cached[1]

    def _code_frame(self, df, col: str, code: str):
        """Attach the int code of ``col`` (inner join with the id table when ids were mapped)."""
        F = _spark()[0]
        maps = self.__dict__.get("_spark_maps")
        if maps is None:  # fitted on pandas, or loaded: ALS ids from the numpy side
            return df.join(F.broadcast(self._als_table(col, code)), on=col, how="left")
        table = maps[code]
        if table is None:
            return df.withColumn(code, F.col(col).cast("int"))
        return df.join(
            table.withColumnRenamed("id", col).withColumnRenamed("code", code), on=col, how="left"
        )

    def _als_table(self, col: str, code: str):
        """Spark frame ``[col, code]``: original id -> ALS id (pandas-fitted models)."""
        ids = np.asarray(self.user_ids_ if code == "user" else self.item_ids_)
        codes = self._als_codes[code]
        return self._session().createDataFrame(
            pd.DataFrame({col: ids[codes], code: np.arange(codes.size, dtype=np.int32)})
        )

    def _decode(self, df, code: str, col: str):
        F = _spark()[0]
        maps = self.__dict__.get("_spark_maps")
        if maps is None:
            return df.join(F.broadcast(self._als_table(col, code)), on=code, how="inner").drop(code)
        table = maps[code]
        if table is None:
            return df.withColumn(col, F.col(code)).drop(code) if col != code else df
        return df.join(
            table.withColumnRenamed("id", col).withColumnRenamed("code", code), on=code, how="inner"
        ).drop(code)

    def _predict_spark(self, df):
        from recutils.spark._utils import check_spark_columns

        F = _spark()[0]
        self._check_fitted()
        check_spark_columns(df, [self.col_user, self.col_item], "pairs")
        model = self._require_spark_model()
        if model is None:  # numpy factors, scored batch-wise on the executors
            from recutils.spark.scoring import predict_spark

            out = predict_spark(self, df)
            if self.config.cold_start_strategy == "drop":
                out = out.filter(~F.isnan(self.col_prediction))
            return out
        pairs = df.select(self.col_user, self.col_item)
        pairs = self._code_frame(pairs, self.col_user, "user")
        pairs = self._code_frame(pairs, self.col_item, "item")
        known = F.col("user").isNotNull() & F.col("item").isNotNull()
        scored = model.transform(pairs.filter(known))
        out = scored.select(
            self.col_user,
            self.col_item,
            F.col("prediction").cast("double").alias(self.col_prediction),
        )
        if self.config.cold_start_strategy == "nan":
            unknown = pairs.filter(~known).select(
                self.col_user, self.col_item, F.lit(float("nan")).alias(self.col_prediction)
            )
            out = out.unionByName(unknown)
        return out

    def _seen_spark(self):
        """Training (user code, item code) pairs as a Spark frame."""
        train = self.__dict__.get("_spark_train")
        if train is not None:
            return train
        seen = self.seen_.tocoo()
        inverse = {}
        for code in ("user", "item"):
            codes = self._als_codes[code]
            inv = np.zeros(codes.size, dtype=np.int32)
            inv[codes] = np.arange(codes.size, dtype=np.int32)
            inverse[code] = inv
        pdf = pd.DataFrame({"user": inverse["user"][seen.row], "item": inverse["item"][seen.col]})
        train = self._session().createDataFrame(pdf)
        self._spark_train = train
        return train

    def _recommend_spark(self, users, top_k: int, remove_seen: bool):
        """Top-k on Spark: one scoring pass per block of users, never a cross join.

        The item factors are broadcast once; each partition of requested users (with
        their factors and, for ``remove_seen``, their training items gathered by one
        ``groupBy``; this user table is built once per fit and cached) is scored in
        numpy by ``mapInPandas``: a block matrix product,
        seen items masked, ``argpartition`` for the top k (ties: lower item code first).
        """
        from recutils.spark._utils import check_spark_columns
        from recutils.spark.scoring import topk_from_factors

        F = _spark()[0]
        self._check_fitted()
        check_spark_columns(users, [self.col_user], "users")
        user_factors, item_codes, item_matrix = self._factor_tables()
        req = self._code_frame(users.select(self.col_user).distinct(), self.col_user, "user")
        req = req.filter(F.col("user").isNotNull()).select("user")
        key = "_spark_user_block" if remove_seen else "_spark_user_plain"
        table = self.__dict__.get(key)
        if table is None:  # built once per fit and kept on the cluster
            table = user_factors.select(F.col("id").alias("user"), F.col("features"))
            if remove_seen:
                seen = self._seen_spark().groupBy("user").agg(F.collect_list("item").alias("seen"))
                table = table.join(seen, on="user", how="left")
            else:
                table = table.withColumn("seen", F.lit(None).cast("array<int>"))
            table = table.cache()
            self.__dict__[key] = table
        block = table.join(req, on="user", how="left_semi")
        ranked = topk_from_factors(block, item_codes, item_matrix, top_k, col_rank=self.col_rank)
        ranked = self._decode(ranked, "user", self.col_user)
        ranked = self._decode(ranked, "item", self.col_item)
        return ranked.select(
            self.col_user,
            self.col_item,
            F.col("score").alias(self.col_prediction),
            F.col(self.col_rank),
        )

    def recommend_k_items_crossjoin(self, users, top_k: int = 10, remove_seen: bool = True):
        """The textbook Spark recipe, kept as a baseline for the benchmark: users x items
        cross join, ``transform``, anti-join of seen pairs, window top-k. Spark frames only."""
        from pyspark.sql.window import Window

        F = _spark()[0]
        model = self._require_spark_model()
        if model is None:
            raise DataError("the cross-join baseline needs Spark's ALS model; fit the model first.")
        req = self._code_frame(users.select(self.col_user).distinct(), self.col_user, "user")
        req = req.filter(F.col("user").isNotNull()).select("user")
        items = model.itemFactors.select(F.col("id").alias("item"))
        pairs = req.crossJoin(items)
        if remove_seen:
            pairs = pairs.join(self._seen_spark(), on=["user", "item"], how="left_anti")
        scored = model.transform(pairs).withColumnRenamed("prediction", "score")
        w = Window.partitionBy("user").orderBy(F.col("score").desc(), F.col("item").asc())
        ranked = scored.withColumn(self.col_rank, F.row_number().over(w)).filter(
            F.col(self.col_rank) <= top_k
        )
        ranked = self._decode(ranked, "user", self.col_user)
        ranked = self._decode(ranked, "item", self.col_item)
        return ranked.select(
            self.col_user,
            self.col_item,
            F.col("score").cast("double").alias(self.col_prediction),
            F.col(self.col_rank),
        )

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path) -> Path:
        """Write the manifest, the factors (``.npz``) and Spark's own model folder.

        The Spark folder (``spark_model/``, ``ALSModel.save``) is written when the
        model holds a Spark model; it is what ``load`` hands to Spark for
        cluster-side scoring, while the ``.npz`` factors serve the pandas methods.
        """
        folder = super().save(path)
        model = self.__dict__.get("spark_model_")
        if model is not None and self.__dict__.get("_spark_maps") is None:
            model.write().overwrite().save(str(Path(folder).resolve() / SPARK_MODEL_DIR))
            manifest_path = Path(folder) / MANIFEST
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            manifest["spark_model"] = SPARK_MODEL_DIR
            manifest_path.write_text(
                json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8"
            )
        elif model is not None:
            logger.warning(
                "SparkALS fitted on Spark with mapped ids: Spark's model folder is not "
                "written (the id tables stay on the cluster); the factors are saved."
            )
        return folder

    @classmethod
    def load(cls, path: str | Path) -> SparkALS:
        """Rebuild a saved model; Spark's model folder is loaded lazily when first needed."""
        model = super().load(path)
        spark_dir = Path(path) / SPARK_MODEL_DIR
        if spark_dir.is_dir():
            model._spark_model_path = spark_dir.resolve()
        return model  # type: ignore[return-value]

    # ------------------------------------------------------------------ contract
    @classmethod
    def contract_case(cls) -> ContractCase:
        return ContractCase(
            params={"rank": 4, "max_iter": 5, "reg_param": 0.05, "seed": 1, "num_blocks": 2},
            known_answer=_known_answer(),
            stochastic=True,
        )


def _known_answer() -> KnownAnswer:
    """Two disjoint blocks of four users and four items; each user saw three items of its block.

    Implicit ALS of rank 2 separates the blocks, so every user's best unseen item is the
    fourth item of its own block (score about 0.97; the other block's items score about 0).
    """
    rows = []
    for items, users in (([10, 11, 12, 13], [1, 2, 3, 4]), ([20, 21, 22, 23], [5, 6, 7, 8])):
        for user, left_out in zip(users, items):
            rows += [(user, item, 1.0) for item in items if item != left_out]
    train = pd.DataFrame(rows, columns=["userID", "itemID", "rating"])
    expected = {1: [10], 2: [11], 3: [12], 4: [13], 5: [20], 6: [21], 7: [22], 8: [23]}
    return KnownAnswer(
        train=train,
        users=list(expected),
        top_k=1,
        remove_seen=True,
        expected=expected,
        params={
            "rank": 2,
            "max_iter": 15,
            "reg_param": 0.01,
            "implicit_prefs": True,
            "alpha": 10.0,
            "seed": 0,
            "num_blocks": 1,
        },
    )


__all__ = ["SparkALS", "ALSConfig", "SPARK_ALIASES"]
