"""load_spark_df of MovieLens and Criteo: the same rows and columns as the pandas loaders,
read from the same mirror; Microsoft's schema argument renames and casts."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from recutils.exceptions import ConfigError

pytestmark = [pytest.mark.spark, pytest.mark.realdata]
pytest.importorskip("pyspark")


def _spark_to_pandas(sdf) -> pd.DataFrame:
    return pd.DataFrame(sdf.collect(), columns=sdf.columns)


def test_movielens_spark_equals_pandas(spark, ml100k) -> None:
    from recutils.datasets.movielens import load_spark_df

    sdf = load_spark_df(spark, "100k", title_col="title")
    assert sdf.count() == 100_000
    assert sdf.columns == ["userID", "itemID", "rating", "timestamp", "title"]
    dtypes = dict(sdf.dtypes)
    assert dtypes["userID"] == "bigint" and dtypes["rating"] == "double"
    got = (
        _spark_to_pandas(sdf.drop("title")).sort_values(["userID", "itemID"]).reset_index(drop=True)
    )
    want = ml100k.sort_values(["userID", "itemID"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want[got.columns], check_dtype=False)


def test_movielens_spark_schema_renames_and_casts(spark, ml100k) -> None:
    from pyspark.sql.types import FloatType, IntegerType, StructField, StructType

    from recutils.datasets.movielens import load_spark_df

    schema = StructType(
        [
            StructField("u", IntegerType()),
            StructField("i", IntegerType()),
            StructField("r", FloatType()),
        ]
    )
    sdf = load_spark_df(spark, "100k", schema=schema)
    assert sdf.dtypes == [("u", "int"), ("i", "int"), ("r", "float")]
    assert sdf.count() == 100_000
    with pytest.raises(ConfigError, match="StructType"):
        load_spark_df(spark, "100k", schema="u int")


def test_criteo_spark_equals_pandas(spark, require_dataset, tmp_path) -> None:
    from recutils.datasets import criteo

    # the mirror holds the head of Criteo's train.txt; served here as the sample file
    folder = require_dataset("criteo")
    shutil.copy(folder / "dac_train_head1000.txt", tmp_path / "dac_sample.txt")
    pdf = criteo.load_pandas_df("sample", local_cache_path=tmp_path, progress=False)
    sdf = criteo.load_spark_df(spark, "sample", local_cache_path=tmp_path, progress=False)
    assert sdf.count() == len(pdf) == 1000
    assert sdf.columns == list(pdf.columns)
    got = _spark_to_pandas(sdf)
    for col in pdf.columns:
        left = got[col].astype(object).where(got[col].notna(), None).tolist()
        right = pdf[col].astype(object).where(pdf[col].notna(), None).tolist()
        assert left == right, col
