"""Batch scoring on Spark to a Parquet folder and/or a recommendation store.

The Spark twin of :func:`recutils.serving.batch.batch_recommend`, which hands Spark
frames of users to :func:`batch_recommend_spark` here (so :mod:`recutils.serving`
never imports pyspark). Scoring itself is
:func:`recutils.spark.scoring.recommend_k_items_spark` (the model broadcast once,
``mapInPandas`` per Arrow batch).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pyspark.sql import functions as F

from recutils.constants import DEFAULT_K
from recutils.models.base import check_top_k
from recutils.models.topk import popularity_fallback
from recutils.serving.stores import RecommendationStore, open_store
from recutils.spark.scoring import recommend_k_items_spark

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame


def batch_recommend_spark(
    model: Any,
    users: DataFrame,
    *,
    top_k: int = DEFAULT_K,
    remove_seen: bool = True,
    output: str | Path | None = None,
    store: RecommendationStore | str | None = None,
    store_metadata: Mapping[str, Any] | None = None,
    chunk_rows: int = 50_000,
    fallback_k: int | None = None,
) -> DataFrame:
    """Batch scoring on Spark, through :func:`recutils.spark.scoring.recommend_k_items_spark`.

    Args:
        model: A fitted recutils model (broadcast once to the executors).
        users: Spark frame with the model's user column.
        top_k, remove_seen: As in :func:`recutils.serving.batch.batch_recommend`.
        output: A Parquet folder written by Spark (overwritten).
        store: A store (or URL) filled from the driver, users streamed partition by
            partition (``toLocalIterator``), published atomically at the end.
        store_metadata: Extra metadata for the store set.
        chunk_rows: Rows per store write.
        fallback_k: Length of the stored popularity fallback (default ``top_k``).

    Returns:
        The Spark frame ``[col_user, col_item, col_prediction, col_rank]``.
    """
    k = check_top_k(top_k)
    ranked = recommend_k_items_spark(model, users, top_k=k, remove_seen=remove_seen)
    if output is not None:
        ranked.write.mode("overwrite").parquet(str(output))
    if store is not None:
        cu, ci, cp = model.col_user, model.col_item, model.col_prediction
        cr = getattr(model, "col_rank", "rank")
        # one row per user (its whole list), so a store chunk never splits a user
        grouped = ranked.groupBy(cu).agg(
            F.sort_array(
                F.collect_list(
                    F.struct(F.col(cr).alias("r"), F.col(ci).alias("i"), F.col(cp).alias("p"))
                )
            ).alias("recs")
        )
        own = isinstance(store, (str, Path))
        st = open_store(store) if own else store
        try:
            with st.writer(col_user=cu, col_item=ci, col_prediction=cp, col_rank=cr) as writer:
                rows: list[tuple[Any, Any, float, int]] = []
                for row in grouped.toLocalIterator():
                    rows.extend((row[cu], rec["i"], rec["p"], rec["r"]) for rec in row["recs"])
                    if len(rows) >= chunk_rows:
                        writer.write_frame(pd.DataFrame(rows, columns=[cu, ci, cp, cr]))
                        rows = []
                if rows:
                    writer.write_frame(pd.DataFrame(rows, columns=[cu, ci, cp, cr]))
                writer.commit(
                    fallback=popularity_fallback(model, fallback_k or k),
                    metadata={
                        "model": getattr(model, "name", type(model).__name__),
                        "top_k": k,
                        "engine": "spark",
                        **dict(store_metadata or {}),
                    },
                )
        finally:
            if own:
                st.close()
    return ranked


__all__ = ["batch_recommend_spark"]
