"""Batch scoring: top-k lists for all (or given) users, in bounded-memory chunks.

:func:`batch_recommend` runs any fitted recutils model's ``recommend_k_items`` over
chunks of users (``chunk_size`` users at a time, so memory is bounded by one chunk's
score matrix and its output), with a tqdm bar, and streams every chunk to

* a Parquet file (one row group per chunk, through ``pyarrow.parquet.ParquetWriter``)
  or a CSV file, written to a temporary name and renamed when complete; and/or
* a :mod:`store <recutils.serving.stores>`: a new set, published atomically at the end,
  with the popularity fallback for users the set does not hold.

:func:`batch_recommend` given a Spark DataFrame of users (or
:func:`batch_recommend_spark`) hands the work to :mod:`recutils.spark.batch`, imported
then and only then: this module never imports pyspark.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_K
from recutils.exceptions import ConfigError, DataWarning, NotFittedError
from recutils.models.base import check_top_k
from recutils.models.topk import popularity_fallback
from recutils.serving.stores import RecommendationStore, StoreSetInfo, open_store
from recutils.utils.deps import is_spark_frame
from recutils.utils.progress import progress_bar

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame as SparkDataFrame

logger = logging.getLogger(__name__)

#: Default users per chunk.
DEFAULT_CHUNK_SIZE = 2048
_FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class BatchResult:
    """What a batch run produced.

    Attributes:
        n_users: Users scored (users given but skipped by the model not counted).
        n_rows: Rows written.
        seconds: Wall time.
        output: The file written, or ``None``.
        store_set: The store set published, or ``None``.
    """

    n_users: int
    n_rows: int
    seconds: float
    output: Path | None = None
    store_set: StoreSetInfo | None = None


def _chunks(users: pd.Index, size: int) -> Iterator[pd.Index]:
    for start in range(0, len(users), size):
        yield users[start : start + size]


def _output_format(path: Path, output_format: str | None) -> str:
    fmt = (output_format or path.suffix.lstrip(".")).lower()
    if fmt == "pq":
        fmt = "parquet"
    if fmt not in _FORMATS:
        raise ConfigError(f"output format {fmt!r} (from {str(path)!r}); allowed: {list(_FORMATS)}.")
    return fmt


class _FileSink:
    """Streams chunks to Parquet or CSV under a temporary name; renamed on close."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:12]}"
        self._writer: Any = None
        self._schema: Any = None
        self._first = True

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            frame.to_csv(
                self.tmp, mode="w" if self._first else "a", header=self._first, index=False
            )
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._schema = table.schema
                self._writer = pq.ParquetWriter(str(self.tmp), self._schema)
            else:
                table = table.cast(self._schema)
            self._writer.write_table(table)
        self._first = False

    def close(self, columns: Sequence[str]) -> None:
        if self._first:  # nothing written: an empty file with the columns
            self._first = True
            self.write(pd.DataFrame({c: pd.Series(dtype="float64") for c in columns}))
        if self._writer is not None:
            self._writer.close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # pragma: no cover - best effort
                pass
        self.tmp.unlink(missing_ok=True)


def batch_recommend(
    model: Any,
    users: Sequence[Any] | np.ndarray | pd.Series | pd.Index | SparkDataFrame | None = None,
    *,
    top_k: int = DEFAULT_K,
    remove_seen: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    output: str | Path | None = None,
    output_format: str | None = None,
    store: RecommendationStore | str | None = None,
    store_metadata: Mapping[str, Any] | None = None,
    fallback_k: int | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> BatchResult | SparkDataFrame:
    """Top-``top_k`` for every user (or ``users``) in chunks, to a file and/or a store.

    Args:
        model: A fitted recutils model.
        users: User ids (duplicates served once); default every training user. A Spark
            DataFrame with the model's user column is scored on Spark (see Returns).
        top_k: Items per user.
        remove_seen: Exclude each user's training items.
        chunk_size: Users per chunk (bounds memory: one chunk's scores and output).
        output: A ``.parquet`` or ``.csv`` file (written under a temporary name and
            renamed when complete).
        output_format: ``"parquet"`` or ``"csv"`` when the suffix does not say.
        store: A store or a store URL; a new set is published atomically at the end.
        store_metadata: Extra metadata for the store set (the model name is added).
        fallback_k: Length of the stored popularity fallback (default ``top_k``).
        progress: Show a tqdm bar over users.
        **kwargs: Passed to ``recommend_k_items``.

    Returns:
        A :class:`BatchResult`; for a Spark DataFrame of ``users``, the ranked Spark
        frame of :func:`recutils.spark.batch.batch_recommend_spark` (``output`` is then a
        Parquet folder; ``chunk_size``, ``output_format`` and ``progress`` do not apply).

    Raises:
        ConfigError: bad ``top_k``/``chunk_size``/format, or neither output nor store;
            ``recommend_k_items`` keywords or a non-Parquet format with Spark users.
        NotFittedError: an unfitted model.
    """
    if is_spark_frame(users):
        if kwargs or (output_format or "parquet").lower() not in ("parquet", "pq"):
            raise ConfigError(
                "Spark users are scored by recutils.spark.batch.batch_recommend_spark, which "
                f"writes Parquet and takes no recommend_k_items keywords (got {sorted(kwargs)}, "
                f"output_format={output_format!r})."
            )
        return batch_recommend_spark(
            model,
            users,
            top_k=top_k,
            remove_seen=remove_seen,
            output=output,
            store=store,
            store_metadata=store_metadata,
            fallback_k=fallback_k,
        )
    k = check_top_k(top_k)
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if output is None and store is None:
        raise ConfigError("batch_recommend needs an output file, a store, or both.")
    if not getattr(model, "is_fitted", False):
        raise NotFittedError(f"{type(model).__name__} must be fitted before batch scoring.")
    requested = pd.Index(pd.unique(pd.Series(model.user_ids_ if users is None else list(users))))
    sink = None
    if output is not None:
        path = Path(output)
        sink = _FileSink(path, _output_format(path, output_format))
    own_store = isinstance(store, (str, Path))
    st = open_store(store) if own_store else store
    cols = dict(
        col_user=model.col_user,
        col_item=model.col_item,
        col_prediction=model.col_prediction,
        col_rank=getattr(model, "col_rank", "rank"),
    )
    writer = st.writer(**cols) if st is not None else None
    t0 = time.perf_counter()
    n_users = n_rows = 0
    skipped = 0
    try:
        with progress_bar(
            total=len(requested),
            unit="user",
            enabled=progress,
            desc=f"batch {type(model).__name__}",
        ) as bar:
            for chunk in _chunks(requested, int(chunk_size)):
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", DataWarning)
                    frame = model.recommend_k_items(
                        list(chunk), top_k=k, remove_seen=remove_seen, **kwargs
                    )
                skipped += sum(1 for w in caught if issubclass(w.category, DataWarning))
                frame = frame[[c for c in cols.values() if c in frame.columns]]
                if sink is not None:
                    sink.write(frame)
                if writer is not None:
                    n_users += writer.write_frame(frame)
                else:
                    n_users += int(frame[model.col_user].nunique())
                n_rows += len(frame)
                bar.update(len(chunk))
        if skipped:
            logger.warning(
                "%d chunk(s) had users unknown to the model (model's policy applied)", skipped
            )
        if sink is not None:
            sink.close(list(cols.values()))
        store_set = None
        if writer is not None:
            meta = {
                "model": getattr(model, "name", type(model).__name__),
                "top_k": k,
                **dict(store_metadata or {}),
            }
            store_set = writer.commit(
                fallback=popularity_fallback(model, fallback_k or k), metadata=meta
            )
    except BaseException:
        if sink is not None:
            sink.discard()
        if writer is not None:
            writer.abort()
        raise
    finally:
        if own_store and st is not None:
            st.close()
    seconds = time.perf_counter() - t0
    logger.info("batch scoring: %d users, %d rows in %.2f s", n_users, n_rows, seconds)
    return BatchResult(
        n_users=n_users,
        n_rows=n_rows,
        seconds=seconds,
        output=None if sink is None else sink.path,
        store_set=store_set,
    )


def batch_recommend_spark(model: Any, users: SparkDataFrame, **kwargs: Any) -> SparkDataFrame:
    """Batch scoring of a Spark DataFrame of users: :func:`recutils.spark.batch.batch_recommend_spark`.

    Kept here so the name resolves from :mod:`recutils.serving`; pyspark is imported
    only when this is called. Keywords: ``top_k``, ``remove_seen``, ``output`` (a
    Parquet folder), ``store``, ``store_metadata``, ``chunk_rows``, ``fallback_k``.
    """
    from recutils.spark.batch import batch_recommend_spark as on_spark

    return on_spark(model, users, **kwargs)


__all__ = ["BatchResult", "batch_recommend", "batch_recommend_spark", "popularity_fallback"]
