"""Small helpers shared by the Spark modules (column checks, row ids)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from recutils.exceptions import ColumnMismatchError, DataError
from recutils.utils.deps import is_spark_frame, require

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

F = require("pyspark.sql.functions", "spark")
_sql = require("pyspark.sql", "spark")

#: Prefix of the helper columns added (and dropped) inside recutils.spark.
TMP = "__recutils_"


def is_spark_df(obj: object) -> bool:
    """True for a pyspark DataFrame (classic or Connect)."""
    return isinstance(obj, _sql.DataFrame) or is_spark_frame(obj)


def check_spark_columns(df: object, columns: Iterable[str | None], name: str = "data") -> None:
    """Raise :class:`ColumnMismatchError` when ``df`` is not a Spark DataFrame or lacks a column."""
    if not is_spark_df(df):
        raise ColumnMismatchError(f"{name} must be a Spark DataFrame, got {type(df).__name__}.")
    wanted = [c for c in columns if c is not None]
    have = list(df.columns)  # type: ignore[attr-defined]
    missing = [c for c in wanted if c not in have]
    if missing:
        raise ColumnMismatchError(
            f"{name} is missing column(s) {missing}; it has {have}. Pass the right names with "
            "col_user=, col_item=, col_rating=, col_timestamp= or col_prediction=."
        )


def check_no_nulls(df: DataFrame, columns: Iterable[str], name: str, why: str) -> None:
    """Raise :class:`DataError` naming the first column holding a null (one Spark job)."""
    cols = [c for c in columns if c is not None]
    if not cols:
        return
    row = df.select([F.sum(F.col(c).isNull().cast("long")).alias(c) for c in cols]).first()
    for c in cols:
        n_missing = (row[c] or 0) if row is not None else 0
        if n_missing:
            raise DataError(
                f"column {c!r} of {name} has {n_missing} missing value(s); {why}. Drop or fill them first."
            )


def with_row_id(df: DataFrame, name: str = TMP + "row") -> DataFrame:
    """Add an increasing row id: the input row order (partition, then position in it).

    For a frame created from pandas or read from one file this is the input order,
    which is what the pandas functions use to break ties.
    """
    return df.withColumn(name, F.monotonically_increasing_id())


def tmp_columns(df: DataFrame) -> list[str]:
    """Names of the helper columns of ``df``."""
    return [c for c in df.columns if c.startswith(TMP)]
