"""Spark splitters against their pandas twins (same counts per group, same chronological rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from recutils.exceptions import ColumnMismatchError, ConfigError, DataError  # noqa: E402
from recutils.spark import (  # noqa: E402
    spark_chrono_split,
    spark_random_split,
    spark_stratified_split,
    spark_timestamp_split,
)
from recutils.splitting import (  # noqa: E402
    python_chrono_split,
    python_random_split,
    python_stratified_split,
    split_pandas_data_with_ratios,
)

pytestmark = pytest.mark.spark

KEY = ["userID", "itemID"]


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(KEY).reset_index(drop=True)


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 600
    df = (
        pd.DataFrame(
            {
                "userID": rng.integers(0, 40, n),
                "itemID": rng.integers(0, 60, n),
                "rating": rng.integers(1, 6, n).astype(float),
                "timestamp": rng.integers(0, 50, n),  # many ties in time
            }
        )
        .drop_duplicates(KEY)
        .reset_index(drop=True)
    )
    return df


@pytest.mark.parametrize("ratio", [0.75, [0.6, 0.25, 0.15], 0.5])
@pytest.mark.parametrize("filter_by", ["user", "item"])
def test_chrono_split_equals_pandas_rows(spark, toy, ratio, filter_by) -> None:
    sdf = spark.createDataFrame(toy)
    ours = spark_chrono_split(sdf, ratio=ratio, filter_by=filter_by, min_rating=2)
    theirs = python_chrono_split(toy, ratio=ratio, filter_by=filter_by, min_rating=2)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        pd.testing.assert_frame_equal(_sorted(a.toPandas()), _sorted(b), check_dtype=False)


@pytest.mark.parametrize("filter_by", ["user", "item"])
def test_stratified_split_same_counts_per_group(spark, toy, filter_by) -> None:
    group = "userID" if filter_by == "user" else "itemID"
    sdf = spark.createDataFrame(toy)
    ours = [
        f.toPandas()
        for f in spark_stratified_split(
            sdf, ratio=[0.7, 0.2, 0.1], filter_by=filter_by, min_rating=3, seed=7
        )
    ]
    theirs = python_stratified_split(
        toy, ratio=[0.7, 0.2, 0.1], filter_by=filter_by, min_rating=3, seed=7
    )
    for a, b in zip(ours, theirs):
        assert a.groupby(group).size().sort_index().equals(b.groupby(group).size().sort_index())
    union = pd.concat(ours)
    assert not union.duplicated(KEY).any()
    # deterministic under the seed, different under another seed
    again = spark_stratified_split(
        sdf, ratio=[0.7, 0.2, 0.1], filter_by=filter_by, min_rating=3, seed=7
    )
    pd.testing.assert_frame_equal(_sorted(again[0].toPandas()), _sorted(ours[0]))
    other = spark_stratified_split(
        sdf, ratio=[0.7, 0.2, 0.1], filter_by=filter_by, min_rating=3, seed=8
    )
    assert not _sorted(other[0].toPandas()).equals(_sorted(ours[0]))


def test_random_split_exact_counts(spark, toy) -> None:
    sdf = spark.createDataFrame(toy).repartition(3)
    ours = [f.toPandas() for f in spark_random_split(sdf, ratio=[0.5, 0.3, 0.2], seed=1)]
    theirs = python_random_split(toy, ratio=[0.5, 0.3, 0.2], seed=1)
    assert [len(a) for a in ours] == [len(b) for b in theirs]
    pd.testing.assert_frame_equal(_sorted(pd.concat(ours)), _sorted(toy), check_dtype=False)
    # the same rows whatever the partitioning
    again = spark_random_split(
        spark.createDataFrame(toy).repartition(5), ratio=[0.5, 0.3, 0.2], seed=1
    )
    pd.testing.assert_frame_equal(_sorted(again[1].toPandas()), _sorted(ours[1]))


def test_timestamp_split_equals_time_sorted_cut(spark, toy) -> None:
    ours = spark_timestamp_split(spark.createDataFrame(toy), ratio=0.8)
    theirs = split_pandas_data_with_ratios(toy.sort_values("timestamp", kind="stable"), [0.8, 0.2])
    for a, b in zip(ours, theirs):
        pd.testing.assert_frame_equal(_sorted(a.toPandas()), _sorted(b), check_dtype=False)


def test_bad_arguments(spark, toy) -> None:
    sdf = spark.createDataFrame(toy)
    with pytest.raises(ColumnMismatchError):
        spark_chrono_split(sdf.drop("timestamp"))
    with pytest.raises(ConfigError):
        spark_stratified_split(sdf, filter_by="items")
    with pytest.raises(ConfigError):
        spark_stratified_split(sdf, min_rating=0)
    with pytest.raises(DataError):
        spark_random_split(sdf, ratio=1.5)
    with pytest.raises(DataError):
        spark_random_split(sdf, ratio=[0.6, 0.3])
    with_null = spark.createDataFrame(
        toy.assign(userID=toy.userID.astype("float").where(toy.index != 3))
    )
    with pytest.raises(DataError, match="missing"):
        spark_chrono_split(with_null)


@pytest.mark.realdata
def test_movielens_parity(spark, ml100k) -> None:
    sdf = spark.createDataFrame(ml100k).cache()
    tr, te = spark_chrono_split(sdf, ratio=0.75)
    ptr, pte = python_chrono_split(ml100k, ratio=0.75)
    pd.testing.assert_frame_equal(_sorted(te.toPandas()), _sorted(pte), check_dtype=False)
    assert tr.count() == len(ptr)
    st, _ = spark_stratified_split(sdf, ratio=0.75, filter_by="item", seed=42)
    pst, _ = python_stratified_split(ml100k, ratio=0.75, filter_by="item", seed=42)
    assert (
        st.groupBy("itemID")
        .count()
        .toPandas()
        .set_index("itemID")["count"]
        .sort_index()
        .equals(pst.groupby("itemID").size().sort_index())
    )
    sdf.unpersist()


def test_string_timestamps_8_9_10_split_with_10_last(spark) -> None:
    # text timestamps used to order as text, so "10" came before "8" and the split
    # put a user's latest row in train
    pdf = pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2, 2],
            "itemID": [1, 2, 3, 1, 2, 3],
            "rating": [1.0] * 6,
            "timestamp": [
                "8",
                "9",
                "10",
                "2024-01-02T00:00:00",
                "2024-01-01T00:00:00",
                "2024-01-03T00:00:00",
            ],
        }
    )
    numeric = spark.createDataFrame(pdf.iloc[:3])
    train, test = spark_chrono_split(numeric, ratio=2 / 3)
    assert test.toPandas()["timestamp"].tolist() == ["10"]
    iso = spark.createDataFrame(pdf.iloc[3:])
    train, test = spark_chrono_split(iso, ratio=2 / 3)
    assert test.toPandas()["itemID"].tolist() == [3]
    mixed = spark.createDataFrame(pdf.assign(timestamp=["8", "9", "yesterday", "1", "2", "3"]))
    with pytest.raises(DataError, match="yesterday"):
        spark_chrono_split(mixed, ratio=0.5)
