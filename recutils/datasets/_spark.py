"""Spark frames from the pandas loaders (pyspark is imported inside :func:`to_spark_frame` only).

The ``load_spark_df`` functions of :mod:`recutils.datasets.movielens` and
:mod:`recutils.datasets.criteo` read the data through their pandas twins -- the same
mirror (``RECUTILS_DATA_MIRROR``), cache, checksums and value checks -- and hand the
frame to Spark, so both give the same rows and columns.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from recutils.exceptions import ConfigError
from recutils.utils.deps import require


def to_spark_frame(spark: Any, frame: pd.DataFrame, schema: Any = None) -> Any:
    """``frame`` as a Spark DataFrame, optionally renamed and cast by ``schema``.

    Args:
        spark: A ``SparkSession``.
        frame: The pandas frame (its columns in order).
        schema: ``None`` (Spark types inferred from the pandas dtypes), or a
            ``pyspark.sql.types.StructType`` whose fields name and type the leading
            columns (Microsoft Recommenders' ``schema`` argument; fewer fields keep only
            those columns).

    Raises:
        ConfigError: ``schema`` is not a ``StructType`` or has more fields than the frame
            has columns.
    """
    types = require("pyspark.sql.types", "spark")
    if schema is None:
        return spark.createDataFrame(frame)
    if not isinstance(schema, types.StructType):
        raise ConfigError(
            f"schema must be a pyspark StructType or None, got {type(schema).__name__}."
        )
    if len(schema.fields) > frame.shape[1]:
        raise ConfigError(
            f"schema has {len(schema.fields)} fields; the data has "
            f"{frame.shape[1]} columns {list(frame.columns)}."
        )
    functions = require("pyspark.sql.functions", "spark")
    names = list(frame.columns[: len(schema.fields)])
    sdf = spark.createDataFrame(frame[names])
    return sdf.select(
        [
            functions.col(f"`{name}`").cast(field.dataType).alias(field.name)
            for name, field in zip(names, schema.fields)
        ]
    )


__all__ = ["to_spark_frame"]
