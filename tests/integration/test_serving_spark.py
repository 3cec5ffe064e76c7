"""Batch scoring on Spark (delegated to recutils.spark's mapInPandas scoring) into a store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("pyspark")

from recutils.models.sar import SAR  # noqa: E402
from recutils.serving import batch_recommend_spark, open_store  # noqa: E402
from recutils.testing.contract import toy_interactions  # noqa: E402

pytestmark = pytest.mark.spark


def test_spark_batch_scoring_matches_pandas_and_fills_the_store(spark, tmp_path: Path) -> None:
    data = toy_interactions(n_users=40, n_items=25)
    model = SAR(similarity_type="jaccard").fit(data)
    users = spark.createDataFrame(pd.DataFrame({"userID": data["userID"].unique()}))
    url = f"sqlite:///{tmp_path}/spark.db"
    ranked = batch_recommend_spark(
        model, users, top_k=5, output=tmp_path / "recs.parquet", store=url, chunk_rows=37
    )
    got = ranked.toPandas().sort_values(["userID", "rank"]).reset_index(drop=True)
    expected = model.recommend_k_items(sorted(data["userID"].unique()), top_k=5)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert (tmp_path / "recs.parquet").is_dir()
    store = open_store(url)
    info = store.info()
    assert info.n_users == 40 and info.metadata["engine"] == "spark"
    for user in (0, 17, 39):
        rows = expected[expected["userID"] == user]
        assert [i for i, _ in store.get(user)] == rows["itemID"].tolist()


def test_batch_recommend_hands_spark_users_to_the_spark_module(spark, tmp_path: Path) -> None:
    from recutils.exceptions import ConfigError
    from recutils.serving import batch_recommend
    from recutils.spark.batch import batch_recommend_spark as on_spark

    data = toy_interactions(n_users=30, n_items=20)
    model = SAR(similarity_type="jaccard").fit(data)
    users = spark.createDataFrame(pd.DataFrame({"userID": data["userID"].unique()}))
    url = f"sqlite:///{tmp_path}/dispatch.db"
    ranked = batch_recommend(model, users, top_k=4, store=url, fallback_k=2, progress=False)
    got = ranked.toPandas().sort_values(["userID", "rank"]).reset_index(drop=True)
    direct = on_spark(model, users, top_k=4).toPandas().sort_values(["userID", "rank"])
    pd.testing.assert_frame_equal(got, direct.reset_index(drop=True))
    info = open_store(url).info()
    assert info.n_users == 30 and info.metadata["engine"] == "spark"
    with pytest.raises(ConfigError, match="Parquet"):
        batch_recommend(model, users, output=tmp_path / "r.csv", output_format="csv")


def test_spark_als_round_trips_through_an_artifact(spark, tmp_path: Path) -> None:
    """SparkALS (left out of the unit-tier round trip, which starts no Spark) as an artifact."""
    from recutils.models import create_model
    from recutils.serving import load_model, save_artifact

    toy = toy_interactions()
    model = create_model("als", rank=4, max_iter=5, seed=1).fit(toy)
    path = save_artifact(model, tmp_path / "als", metrics={"rmse": 1.0})
    loaded = load_model(path)
    users = list(toy["userID"].unique()[:5])
    pd.testing.assert_frame_equal(
        loaded.recommend_k_items(users, top_k=3), model.recommend_k_items(users, top_k=3)
    )
    pairs = toy.iloc[:20][["userID", "itemID"]]
    pd.testing.assert_frame_equal(loaded.predict(pairs), model.predict(pairs))
