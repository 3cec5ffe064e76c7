"""Spark side of recutils: session, splitters, evaluation and batch scoring.

Importing this package imports pyspark (``pip install "recutils[spark]"``); the rest
of recutils never does. Names mirror the pandas modules: ``spark_*_split`` are the
twins of ``recutils.splitting``; :mod:`recutils.spark.evaluation` holds the metrics
of :mod:`recutils.evaluation` on Spark DataFrames (same names and definitions).
"""

from recutils.utils.deps import require

require("pyspark", "spark")

from recutils.spark.session import (  # noqa: E402
    SparkMasterUnreachableError,
    check_master_reachable,
    start_or_get_spark,
)
from recutils.spark.splitting import (  # noqa: E402
    spark_chrono_split,
    spark_random_split,
    spark_stratified_split,
    spark_timestamp_split,
)

__all__ = [
    "start_or_get_spark",
    "check_master_reachable",
    "SparkMasterUnreachableError",
    "spark_random_split",
    "spark_chrono_split",
    "spark_stratified_split",
    "spark_timestamp_split",
]
