"""Batch scoring on Spark: any fitted recutils model over a Spark DataFrame of users.

:func:`recommend_k_items_spark` and :func:`predict_spark` ship a fitted model (any
:class:`~recutils.models.base.BaseRecommender`, or anything with the same methods)
to the executors **once**, as a Spark broadcast variable, and call its pandas
``recommend_k_items`` / ``predict`` on each Arrow batch of the input with
``mapInPandas``. The model is serialised by Spark's broadcast (pickle) for transport
between the driver and its executors only; nothing is read back from disk.

:func:`topk_from_factors` is the factor-model kernel used by
:class:`recutils.models.als.SparkALS`: a broadcast item matrix, per-partition block
products and ``argpartition``, with seen items masked.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RANK_COL,
    DEFAULT_USER_COL,
)
from recutils.exceptions import ConfigError
from recutils.spark._utils import check_spark_columns

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

_BLOCK_ROWS = 2048


def _spark_type(values: Any) -> str:
    """Spark SQL type of an id array/index (bigint, double, string, boolean)."""
    dtype = pd.Index(values).dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    return "string"


def topk_from_factors(
    block: DataFrame,
    item_codes: np.ndarray,
    item_matrix: np.ndarray,
    top_k: int,
    col_rank: str = DEFAULT_RANK_COL,
) -> DataFrame:
    """Top-k items per user from factors, on Spark.

    Args:
        block: Spark frame with ``user`` (int code), ``features`` (array of floats)
            and ``seen`` (array of item codes to exclude, or null).
        item_codes: Item code of each row of ``item_matrix``.
        item_matrix: Item factors (n_items x rank), broadcast once.
        top_k: Items per user.
        col_rank: Name of the rank column.

    Returns:
        Spark frame ``[user, item, score, col_rank]`` (codes; rank 1..k; ties go to the
        lower item code).
    """
    spark = block.sparkSession
    order = np.argsort(item_codes, kind="stable")
    codes_sorted = np.ascontiguousarray(item_codes[order], dtype=np.int64)
    matrix_sorted = np.ascontiguousarray(item_matrix[order], dtype=np.float64)
    bc = spark.sparkContext.broadcast((codes_sorted, matrix_sorted))
    k_max = int(min(top_k, codes_sorted.size))

    def score(batches):
        codes, v = bc.value
        n_items = codes.size
        for pdf in batches:
            for start in range(0, len(pdf), _BLOCK_ROWS):
                part = pdf.iloc[start : start + _BLOCK_ROWS]
                if len(part) == 0 or n_items == 0:
                    continue
                u = np.vstack(part["features"].to_numpy()).astype(np.float64)
                scores = u @ v.T
                for row, seen in enumerate(part["seen"].to_numpy()):
                    if seen is not None and len(seen):
                        wanted = np.asarray(seen, dtype=np.int64)
                        pos = np.searchsorted(codes, wanted)
                        inside = pos < n_items
                        pos, wanted = pos[inside], wanted[inside]
                        scores[row, pos[codes[pos] == wanted]] = -np.inf
                k = min(k_max, n_items)
                if k < n_items:
                    idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
                else:
                    idx = np.tile(np.arange(n_items), (len(part), 1))
                val = np.take_along_axis(scores, idx, axis=1)
                # sort the k survivors: score descending, item position ascending
                o = np.lexsort((idx, -val), axis=1)
                idx = np.take_along_axis(idx, o, axis=1)
                val = np.take_along_axis(val, o, axis=1)
                users = np.repeat(part["user"].to_numpy(dtype=np.int64), idx.shape[1])
                ranks = np.tile(np.arange(1, idx.shape[1] + 1), len(part))
                flat_val = val.ravel()
                keep = np.isfinite(flat_val)
                # ranks after dropping seen (-inf) entries stay consecutive: -inf sort last
                yield pd.DataFrame(
                    {
                        "user": users[keep].astype(np.int32),
                        "item": codes[idx.ravel()][keep].astype(np.int32),
                        "score": flat_val[keep],
                        col_rank: ranks[keep].astype(np.int32),
                    }
                )

    schema = f"user int, item int, score double, `{col_rank}` int"
    return block.select("user", "features", "seen").mapInPandas(score, schema)


def recommend_k_items_spark(
    model: Any,
    users: DataFrame,
    top_k: int = 10,
    remove_seen: bool = True,
    col_user: str | None = None,
) -> DataFrame:
    """Run ``model.recommend_k_items`` over a Spark DataFrame of users.

    The fitted model is broadcast once; each Arrow batch of distinct users is handed
    to the model's pandas ``recommend_k_items`` inside ``mapInPandas``.

    Args:
        model: A fitted recutils model (pandas contract), e.g. SAR or SparkALS.
        users: Spark frame with a user column (duplicates are removed).
        top_k: Items per user.
        remove_seen: Exclude the users' training items.
        col_user: User column (default: the model's ``col_user``).

    Returns:
        Spark frame ``[col_user, col_item, col_prediction, col_rank]`` of the model's
        columns; users unknown to the model get no rows (as in pandas).
    """
    if not getattr(model, "is_fitted", True):
        from recutils.exceptions import NotFittedError

        raise NotFittedError(f"{type(model).__name__} must be fitted before batch scoring.")
    col_user = col_user or getattr(model, "col_user", DEFAULT_USER_COL)
    col_item = getattr(model, "col_item", DEFAULT_ITEM_COL)
    col_pred = getattr(model, "col_prediction", DEFAULT_PREDICTION_COL)
    col_rank = getattr(model, "col_rank", DEFAULT_RANK_COL)
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
        raise ConfigError(f"top_k must be a positive integer, got {top_k!r}.")
    check_spark_columns(users, [col_user], "users")
    spark = users.sparkSession
    bc = spark.sparkContext.broadcast(model)
    user_type = _spark_type(model.user_ids_)
    item_type = _spark_type(model.item_ids_)
    schema = (
        f"`{col_user}` {user_type}, `{col_item}` {item_type}, `{col_pred}` double, `{col_rank}` int"
    )
    k = int(top_k)

    def run(batches):
        import warnings

        m = bc.value
        for pdf in batches:
            if len(pdf) == 0:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = m.recommend_k_items(pdf[[col_user]], top_k=k, remove_seen=remove_seen)
            yield out[[col_user, col_item, col_pred, col_rank]].astype(
                {col_pred: "float64", col_rank: "int32"}
            )

    frame = users.select(col_user).distinct()
    if user_type == "bigint":
        frame = frame.withColumn(col_user, frame[col_user].cast("bigint"))
    return frame.mapInPandas(run, schema)


def predict_spark(model: Any, pairs: DataFrame) -> DataFrame:
    """Run ``model.predict`` over a Spark DataFrame of (user, item) pairs (broadcast once).

    Returns:
        Spark frame ``[col_user, col_item, col_prediction]``, one row per input row;
        unknown users or items give NaN.
    """
    col_user = getattr(model, "col_user", DEFAULT_USER_COL)
    col_item = getattr(model, "col_item", DEFAULT_ITEM_COL)
    col_pred = getattr(model, "col_prediction", DEFAULT_PREDICTION_COL)
    check_spark_columns(pairs, [col_user, col_item], "pairs")
    bc = pairs.sparkSession.sparkContext.broadcast(model)
    schema = (
        f"`{col_user}` {_spark_type(model.user_ids_)}, `{col_item}` {_spark_type(model.item_ids_)}, "
        f"`{col_pred}` double"
    )

    def run(batches):
        import warnings

        m = bc.value
        for pdf in batches:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = m.predict(pdf[[col_user, col_item]])
            yield out[[col_user, col_item, col_pred]].astype({col_pred: "float64"})

    return pairs.select(col_user, col_item).mapInPandas(run, schema)


__all__ = ["recommend_k_items_spark", "predict_spark", "topk_from_factors"]
