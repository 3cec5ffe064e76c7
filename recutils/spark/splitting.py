"""Spark twins of :mod:`recutils.splitting`: random, chronological, stratified, timestamp.

Same names (``spark_`` instead of ``python_``), arguments and per-group counts as the
pandas splitters, so a pipeline moves between the two unchanged:

* ``ratio``: a float in (0, 1) (the train share) or a list of shares summing to 1,
  checked by the same code as the pandas splitters;
* **rounding at the cut**: split ``j`` of a group of ``c`` rows (ordered by the
  split's key) holds the ranks ``round(C[j-1] c)`` to ``round(C[j] c) - 1``, ``C``
  the cumulative ratios, round half to even (Spark's ``bround``, numpy's ``round``),
  so the per-group counts are those of the pandas twin;
* **ties in time** are broken by input row order, the order of
  ``monotonically_increasing_id`` (partition, then position in the partition): for a
  frame created from pandas or read from one file that is the file's row order, so
  :func:`spark_chrono_split` returns exactly the rows :func:`python_chrono_split` does;
* the random splits draw each row's position from a 64-bit hash of the seed and the
  row's values (not ``rand()``), so the result depends only on the seed and the data,
  never on how Spark partitioned it or on re-computation of a lazy frame. The rows
  drawn differ from the pandas twins' (another generator); the counts do not;
* missing values in the group or timestamp column raise :class:`DataError`; missing
  columns :class:`ColumnMismatchError`; bad ``filter_by``/``min_rating``
  :class:`ConfigError`, as in pandas.

Outputs are lazy Spark DataFrames with the input's columns (Spark frames have no
row order; sort them to compare). Every splitter runs as per-group windows
(``partitionBy(group)``), except the global ones (random, timestamp), which sort
once (range partitioning) and number the rows from per-partition counts, never
moving all rows to one partition.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL, SEED
from recutils.exceptions import DataError
from recutils.spark._utils import TMP, F, check_no_nulls, check_spark_columns, with_row_id
from recutils.splitting.split_utils import (
    Ratio,
    _check_min_rating,
    _group_column,
    _ratio_list,
)
from recutils.utils.deps import require

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

Window = require("pyspark.sql.window", "spark").Window

logger = logging.getLogger(__name__)

_ROW = TMP + "row"
_KEY = TMP + "key"
_RANK = TMP + "rank"
_CNT = TMP + "cnt"
_SPLIT = TMP + "split"
_PID = TMP + "pid"
_POS = TMP + "pos"


def _cumulative(ratio: Ratio) -> list[float]:
    return [float(c) for c in np.cumsum(np.asarray(_ratio_list(ratio), dtype=np.float64))]


def _split_column(rank, count, cumulative: list[float]):
    """Split id from a 0-based rank and the group size (the pandas cut rule)."""
    split = F.lit(0)
    for threshold in cumulative[:-1]:
        bound = F.bround(F.lit(threshold) * count.cast("double"), 0)
        split = split + (rank >= bound).cast("int")
    return split


def _frames(df: DataFrame, columns: list[str], n_splits: int) -> list[DataFrame]:
    return [df.filter(F.col(_SPLIT) == j).select(*columns) for j in range(n_splits)]


def _hash_key(data: DataFrame, seed: int):
    """A 64-bit pseudo-random key from the seed and every column of the row."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}.")
    return F.xxhash64(F.lit(int(seed)), *[F.col(c) for c in data.columns])


def _n_buckets(data: DataFrame) -> int:
    return max(int(data.sparkSession.conf.get("spark.sql.shuffle.partitions") or 1), 1)


def _global_split(data: DataFrame, keys: list, bucket, cumulative: list[float]) -> list[DataFrame]:
    """Cut the rows ordered by ``keys`` (a total order) at the global rounded bounds.

    ``bucket`` is an integer expression that is a non-decreasing function of the first
    key (fixed before any Spark job runs, so every query sees the same buckets). Rows
    are numbered inside each bucket by a window, and the buckets' sizes (one small
    aggregation collected to the driver) give each bucket's offset: global positions
    without moving every row to one partition. Spark's own range partitioning is not
    used because its sampled bounds change from one query to the next.
    """
    columns = list(data.columns)
    df = data.withColumn(_PID, bucket.cast("int"))
    key_cols = []
    for i, key in enumerate(keys):
        df = df.withColumn(_KEY + str(i), key)
        key_cols.append(_KEY + str(i))
    counts = sorted((r[_PID], r["count"]) for r in df.groupBy(_PID).count().collect())
    n = sum(c for _, c in counts)
    if n == 0:
        return [data.limit(0) for _ in cumulative]
    pairs, start = [], 0
    for b, c in counts:
        pairs += [F.lit(int(b)), F.lit(int(start))]
        start += c
    offset = F.element_at(F.create_map(*pairs), F.col(_PID)).cast("long")
    pos = F.row_number().over(Window.partitionBy(_PID).orderBy(*key_cols)) - 1
    split = _split_column(offset + pos, F.lit(n), cumulative)
    return _frames(df.withColumn(_SPLIT, split), columns, len(cumulative))


def spark_random_split(data: DataFrame, ratio: Ratio = 0.75, seed: int = SEED) -> list[DataFrame]:
    """Split rows at random, ignoring users and items (twin of ``python_random_split``).

    Split ``j`` receives exactly ``round(C[j] n) - round(C[j-1] n)`` of the ``n`` rows
    (round half to even), unlike Spark's ``randomSplit``, whose sizes only approximate
    the ratios.

    Args:
        data: Spark DataFrame to split.
        ratio: Train share in (0, 1), or a list of shares (one per split).
        seed: Random seed; the same seed and data give the same split.

    Returns:
        ``[train, test]`` for a float ratio, else one frame per ratio entry.
    """
    check_spark_columns(data, [], "data")
    cumulative = _cumulative(ratio)
    return _random_global(data, seed, cumulative)


def _random_global(data: DataFrame, seed: int, cumulative: list[float]) -> list[DataFrame]:
    key = _hash_key(data, seed)
    n_buckets = _n_buckets(data)
    # The hash is uniform over the int64 range: equal-width buckets of it are balanced.
    bucket = F.least(
        F.floor((key.cast("double") / float(2**64) + 0.5) * n_buckets), F.lit(n_buckets - 1)
    )
    # Equal hashes only happen between identical rows, which are interchangeable; the
    # columns themselves make the order total anyway.
    return _global_split(data, [key] + [F.col(c) for c in data.columns], bucket, cumulative)


def spark_timestamp_split(
    data: DataFrame,
    ratio: Ratio = 0.75,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> list[DataFrame]:
    """Split all rows at global points in time: the earliest ``ratio`` of rows to train.

    Rows are ordered by ``col_timestamp`` over the whole data set (ties by input row
    order, see the module notes) and cut at the rounded bounds ``round(C[j] n)``:
    the pandas twin is :func:`recutils.splitting.split_pandas_data_with_ratios` applied
    to the frame sorted stably by time. Unlike the per-user chronological split, a
    user may end up only in test; the test set is entirely "in the future" of train.

    Args:
        data: Interactions.
        ratio: Train share in (0, 1), or a list of shares.
        col_user, col_item: Accepted for symmetry with the other splitters (unused).
        col_timestamp: Timestamp column (any orderable Spark type).

    Returns:
        ``[train, test]`` for a float ratio, else one frame per ratio entry.

    Raises:
        ColumnMismatchError: the timestamp column is missing.
        DataError: bad ``ratio``; missing timestamps.
    """
    check_spark_columns(data, [col_timestamp], "data")
    cumulative = _cumulative(ratio)
    check_no_nulls(data, [col_timestamp], "data", "a chronological split needs every row's time")
    row = with_row_id(data, _ROW)
    time = _time_value(data, col_timestamp)
    frames = _global_split(
        row, [time, F.col(_ROW)], _time_buckets(data, col_timestamp, time), cumulative
    )
    return [f.drop(_ROW) for f in frames]


def _time_value(data: DataFrame, col_timestamp: str):
    """The timestamp column as a value that orders by time.

    Numbers, timestamps and dates order as they are. Text would order as text (``"10"``
    before ``"8"``), so, as in the pandas splitters, text holding only numbers is
    compared as numbers, text holding only ISO-8601 dates/times as instants, and any
    other text is refused.

    Raises:
        DataError: a text column that is neither all numbers nor all ISO-8601 times.
    """
    column = F.col(col_timestamp)
    if data.schema[col_timestamp].dataType.typeName() != "string":
        return column
    for parsed in (column.try_cast("double"), F.unix_micros(column.try_cast("timestamp"))):
        bad = data.filter(column.isNotNull() & parsed.isNull()).select(column).limit(1).collect()
        if not bad:
            return parsed
    example = (
        data.filter(
            column.isNotNull()
            & column.try_cast("double").isNull()
            & column.try_cast("timestamp").isNull()
        )
        .select(column)
        .limit(1)
        .collect()
    )
    shown = example[0][0] if example else bad[0][0]
    raise DataError(
        f"{col_timestamp} holds text that is neither numbers nor ISO-8601 times "
        f"(e.g. {shown!r}); convert it to numbers or datetimes first."
    )


def _time_buckets(data: DataFrame, col_timestamp: str, as_number):
    """Bucket number of each row: how many approximate time quantiles it reaches
    (``as_number``: the column as :func:`_time_value` orders it)."""
    dtype = data.schema[col_timestamp].dataType.typeName()
    if dtype in ("timestamp", "timestamp_ntz", "date"):
        as_number = (
            F.unix_micros(F.col(col_timestamp).cast("timestamp"))
            if dtype != "date"
            else F.unix_date(F.col(col_timestamp))
        )
    as_number = as_number.cast("double")
    n_buckets = _n_buckets(data)
    if n_buckets == 1:
        return F.lit(0)
    probs = [i / n_buckets for i in range(1, n_buckets)]
    bounds = sorted(set(data.select(as_number.alias("t")).approxQuantile("t", probs, 0.001)))
    bucket = F.lit(0)
    for b in bounds:
        bucket = bucket + (as_number >= F.lit(float(b))).cast("int")
    return bucket


def _split_by_group(
    data: DataFrame,
    ratio: Ratio,
    min_rating: int,
    filter_by: str,
    col_user: str,
    col_item: str,
    col_timestamp: str | None,
    seed: int | None,
) -> list[DataFrame]:
    group_col = _group_column(filter_by, col_user, col_item)
    _check_min_rating(min_rating)
    cumulative = _cumulative(ratio)
    check_spark_columns(data, [group_col, col_timestamp], "data")
    check_no_nulls(
        data,
        [group_col, col_timestamp],
        "data",
        "every row needs a group and (for a chronological split) a time to be split",
    )
    columns = list(data.columns)
    if col_timestamp is not None:
        df = with_row_id(data, _ROW)
        order = [_time_value(data, col_timestamp), F.col(_ROW)]
    else:
        df = data.withColumn(_KEY, _hash_key(data, seed))  # type: ignore[arg-type]
        order = [F.col(_KEY)] + [F.col(c) for c in columns]
    group = Window.partitionBy(group_col)
    df = df.withColumn(_CNT, F.count(F.lit(1)).over(group))
    if min_rating > 1:
        df = df.filter(F.col(_CNT) >= F.lit(int(min_rating)))
    df = df.withColumn(_RANK, F.row_number().over(group.orderBy(*order)) - 1)
    df = df.withColumn(_SPLIT, _split_column(F.col(_RANK), F.col(_CNT), cumulative))
    return _frames(df, columns, len(cumulative))


def spark_chrono_split(
    data: DataFrame,
    ratio: Ratio = 0.75,
    min_rating: int = 1,
    filter_by: str = "user",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> list[DataFrame]:
    """Split each user's (or item's) rows in time order, earliest to train.

    Twin of :func:`recutils.splitting.python_chrono_split`: same arguments, same
    cut rule, ties in time broken by input row order, so on a frame created from
    pandas the result holds exactly the pandas twin's rows.

    Args:
        data: Interactions.
        ratio: Train share in (0, 1), or a list of shares.
        min_rating: Drop users (items) with fewer rows first; 1 keeps all.
        filter_by: ``"user"`` or ``"item"``.
        col_user, col_item, col_timestamp: Column names.

    Returns:
        ``[train, test]`` for a float ratio, else one frame per ratio entry.

    Raises:
        DataError: bad ``ratio``; missing group or timestamp values.
        ConfigError: bad ``filter_by`` or ``min_rating``.
        ColumnMismatchError: a needed column is missing.
    """
    return _split_by_group(
        data, ratio, min_rating, filter_by, col_user, col_item, col_timestamp, None
    )


def spark_stratified_split(
    data: DataFrame,
    ratio: Ratio = 0.75,
    min_rating: int = 1,
    filter_by: str = "user",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    seed: int = SEED,
) -> list[DataFrame]:
    """Split each user's (or item's) rows at random, keeping the ratio per group.

    Twin of :func:`recutils.splitting.python_stratified_split`: the per-group counts
    are identical; the rows drawn differ (a hash of the seed and the row instead of
    numpy's generator) and depend only on the seed and the data.

    Args:
        data: Interactions.
        ratio: Train share in (0, 1), or a list of shares.
        min_rating: Drop users (items) with fewer rows first; 1 keeps all.
        filter_by: ``"user"`` or ``"item"``.
        col_user, col_item: Column names.
        seed: Random seed.

    Returns:
        ``[train, test]`` for a float ratio, else one frame per ratio entry.

    Raises:
        DataError: bad ``ratio``; missing group values.
        ConfigError: bad ``filter_by`` or ``min_rating``.
        ColumnMismatchError: the group column is missing.
    """
    return _split_by_group(data, ratio, min_rating, filter_by, col_user, col_item, None, seed)


__all__ = [
    "spark_random_split",
    "spark_chrono_split",
    "spark_stratified_split",
    "spark_timestamp_split",
]
