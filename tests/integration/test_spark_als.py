"""SparkALS: the contract suite, quality on MovieLens 100k, the Spark path, batch scoring, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from recutils import evaluation as PE  # noqa: E402
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, DataWarning  # noqa: E402
from recutils.models import create_model, list_models  # noqa: E402
from recutils.models.als import SparkALS  # noqa: E402
from recutils.spark import evaluation as SE  # noqa: E402
from recutils.spark.scoring import predict_spark, recommend_k_items_spark  # noqa: E402
from recutils.testing import CHECKS, registry_factory  # noqa: E402

pytestmark = pytest.mark.spark

EXPLICIT = dict(rank=10, max_iter=15, reg_param=0.1, seed=42, num_blocks=2)
IMPLICIT = dict(
    rank=20, max_iter=15, reg_param=0.01, alpha=1.0, implicit_prefs=True, seed=42, num_blocks=2
)


def test_registered() -> None:
    assert "als" in list_models()
    assert isinstance(create_model("als", rank=3, maxIter=2), SparkALS)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_contract(spark, check, tmp_path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        check(registry_factory("als"), tmp_path=tmp_path)


def test_config_and_aliases() -> None:
    m = SparkALS(maxIter=3, regParam=0.2, implicitPrefs=True, coldStartStrategy="drop")
    assert (m.config.max_iter, m.config.reg_param, m.config.implicit_prefs) == (3, 0.2, True)
    with pytest.raises(ConfigError):
        SparkALS(rank=0)
    with pytest.raises(ConfigError):
        SparkALS(cold_start_strategy="skip")
    with pytest.raises(ConfigError):
        SparkALS(nonsense=1)


@pytest.fixture(scope="module")
def protocol_spark(spark, ml100k_protocol):
    train, test = ml100k_protocol
    s_train, s_test = spark.createDataFrame(train).cache(), spark.createDataFrame(test).cache()
    yield train, test, s_train, s_test
    s_train.unpersist()
    s_test.unpersist()


@pytest.fixture(scope="module")
def explicit_model(protocol_spark):
    _, _, s_train, _ = protocol_spark
    return SparkALS(**EXPLICIT).fit(s_train)


@pytest.mark.realdata
def test_explicit_rmse_quality(protocol_spark, explicit_model) -> None:
    train, test, _, s_test = protocol_spark
    pred = explicit_model.predict(s_test.select("userID", "itemID"))
    rmse_spark = SE.rmse(s_test, pred.dropna())
    pandas_pred = explicit_model.predict(test[["userID", "itemID"]]).dropna()
    rmse_pandas = PE.rmse(test, pandas_pred)
    assert rmse_spark <= 0.965, rmse_spark
    assert rmse_pandas == pytest.approx(rmse_spark, abs=1e-5)  # same factors, float32 vs float64


@pytest.mark.realdata
def test_implicit_ndcg_quality(ml100k_protocol) -> None:
    train, test = ml100k_protocol
    model = SparkALS(**IMPLICIT).fit(train)  # the pandas path
    recs = model.recommend_k_items(test, top_k=10, remove_seen=True)
    ndcg = PE.ndcg_at_k(test, recs, k=10)
    assert ndcg >= 0.40, ndcg


@pytest.mark.realdata
def test_spark_recommendations_match_pandas(protocol_spark, explicit_model) -> None:
    train, test, s_train, s_test = protocol_spark
    users = s_test.select("userID").distinct()
    ours = explicit_model.recommend_k_items(users, top_k=10, remove_seen=True).toPandas()
    ref = explicit_model.recommend_k_items(test, top_k=10, remove_seen=True)
    ours = ours.sort_values(["userID", "rank"]).reset_index(drop=True)
    ref = ref.sort_values(["userID", "rank"]).reset_index(drop=True)
    assert len(ours) == len(ref) == 10 * test.userID.nunique()
    np.testing.assert_allclose(ours.prediction, ref.prediction, rtol=1e-9, atol=1e-9)
    assert (ours.itemID.to_numpy() == ref.itemID.to_numpy()).mean() > 0.99  # only near-ties differ
    seen = train.set_index(["userID", "itemID"]).index
    assert not ours.set_index(["userID", "itemID"]).index.isin(seen).any()
    # batch scoring of the same (numpy) model through mapInPandas gives the pandas answer
    batch = recommend_k_items_spark(explicit_model, users, top_k=10).toPandas()
    batch = batch.sort_values(["userID", "rank"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(batch, ref, check_dtype=False)


def test_string_ids_and_batch_scoring_of_any_model(spark) -> None:
    from recutils.models.sar import SAR
    from recutils.testing.contract import toy_interactions

    df = toy_interactions(string_ids=True)
    sdf = spark.createDataFrame(df)
    als = SparkALS(rank=3, max_iter=5, seed=0, num_blocks=1).fit(sdf)  # string ids mapped for ALS
    assert not pd.api.types.is_numeric_dtype(als.user_ids_.dtype)
    recs = als.recommend_k_items(sdf.select("userID").distinct(), top_k=3).toPandas()
    assert set(recs.userID) == set(df.userID) and recs["rank"].max() == 3
    assert recs.itemID.str.startswith("i").all()
    pred = als.predict(
        spark.createDataFrame(pd.DataFrame({"userID": ["u1", "nobody"], "itemID": ["i1", "i1"]}))
    )
    got = pred.toPandas().set_index("userID").prediction
    assert np.isfinite(got["u1"]) and np.isnan(got["nobody"])
    sar = SAR().fit(df)
    batch = recommend_k_items_spark(sar, sdf.select("userID"), top_k=4).toPandas()
    ref = sar.recommend_k_items(df[["userID"]].drop_duplicates(), top_k=4)
    key = ["userID", "rank"]
    pd.testing.assert_frame_equal(
        batch.sort_values(key).reset_index(drop=True),
        ref.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    scored = predict_spark(sar, sdf.select("userID", "itemID")).toPandas()
    assert len(scored) == len(df) and scored.prediction.notna().all()


def test_bad_input(spark) -> None:
    sdf = spark.createDataFrame(
        pd.DataFrame({"userID": [1, 1, 2], "itemID": [1, 1, 2], "rating": [1.0, 2, 3]})
    )
    with pytest.raises(DataError, match="duplicate"):
        SparkALS(max_iter=1).fit(sdf)
    with pytest.raises(ColumnMismatchError):
        SparkALS(max_iter=1).fit(sdf.drop("rating"))
    with pytest.raises(ColumnMismatchError):
        SparkALS(max_iter=1, col_user="user").fit(sdf)
    text = spark.createDataFrame(pd.DataFrame({"userID": [1], "itemID": [2], "rating": ["five"]}))
    with pytest.raises(DataError, match="numeric"):
        SparkALS(max_iter=1).fit(text)


def test_save_load_spark_format(spark, tmp_path) -> None:
    from recutils.models import load_model
    from recutils.testing.contract import toy_interactions

    df = toy_interactions()
    model = SparkALS(rank=3, max_iter=4, seed=0, num_blocks=1).fit(df)
    folder = model.save(tmp_path / "als")
    assert (folder / "manifest.json").is_file() and (folder / "spark_model" / "metadata").exists()
    loaded = load_model(folder)
    pd.testing.assert_frame_equal(
        loaded.recommend_k_items(df, top_k=3), model.recommend_k_items(df, top_k=3)
    )
    users = spark.createDataFrame(df[["userID"]].drop_duplicates())
    a = loaded.recommend_k_items(users, top_k=3).toPandas().sort_values(["userID", "rank"])
    assert len(a) == 3 * df.userID.nunique()


def test_spark_fitted_save_load_keeps_spark_methods(spark, tmp_path) -> None:
    from recutils.models import load_model
    from recutils.testing.contract import toy_interactions

    df = toy_interactions(string_ids=True)
    sdf = spark.createDataFrame(df)
    model = SparkALS(rank=3, max_iter=4, seed=0, num_blocks=1).fit(sdf)
    loaded = load_model(model.save(tmp_path / "als"))
    users = sdf.select("userID").distinct()
    key = ["userID", "rank"]
    a = model.recommend_k_items(users, top_k=3).toPandas().sort_values(key).reset_index(drop=True)
    b = loaded.recommend_k_items(users, top_k=3).toPandas().sort_values(key).reset_index(drop=True)
    np.testing.assert_allclose(a.prediction, b.prediction, rtol=1e-9)
    p = loaded.predict(sdf.select("userID", "itemID")).toPandas()
    assert len(p) == len(df) and p.prediction.notna().all()
