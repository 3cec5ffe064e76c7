"""Spark metrics equal the pandas metrics of recutils.evaluation to 1e-9 (MovieLens 100k)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from recutils import evaluation as PE  # noqa: E402
from recutils.exceptions import ColumnMismatchError, DataError  # noqa: E402
from recutils.spark import evaluation as SE  # noqa: E402

pytestmark = pytest.mark.spark
TOL = 1e-9
RANKING = [
    "precision",
    "recall",
    "ndcg",
    "map",
    "mean_average_precision",
    "r_precision",
    "hit_ratio",
    "mrr",
]


@pytest.fixture(scope="module")
def frames(spark, ml100k_protocol):
    """Test truth, scored candidates with many tied scores, and a recommendation list."""
    train, test = ml100k_protocol
    rng = np.random.default_rng(0)
    users = np.sort(test.userID.unique())
    items = np.sort(train.itemID.unique())
    cand = pd.DataFrame(
        {"userID": np.repeat(users, 40), "itemID": rng.choice(items, users.size * 40)}
    )
    hits = test.sample(frac=0.3, random_state=1)[["userID", "itemID"]]
    pred = pd.concat([cand, hits]).drop_duplicates(["userID", "itemID"]).reset_index(drop=True)
    pred["prediction"] = np.round(rng.random(len(pred)) * 5, 1)  # one decimal: ties everywhere
    rated = test[["userID", "itemID"]].copy()
    rated["prediction"] = np.round(rng.random(len(rated)) * 5, 2)
    labels = test.assign(rating=(test.rating >= 4).astype(float))
    probs = rated.assign(prediction=rated.prediction / 5)
    # recommendations without seen items: popular unseen items, 10 per user
    pop = train.groupby("itemID").size().sort_values(ascending=False).index[:200].to_numpy()
    reco = pd.DataFrame(
        {
            "userID": np.repeat(users, 30),
            "itemID": np.concatenate([rng.choice(pop, 30, replace=False) for _ in users]),
        }
    )
    seen = train.set_index(["userID", "itemID"]).index
    reco = reco[~reco.set_index(["userID", "itemID"]).index.isin(seen)].groupby("userID").head(10)
    reco = reco.reset_index(drop=True).assign(score=lambda d: rng.random(len(d)))
    pandas = dict(
        train=train, test=test, pred=pred, rated=rated, labels=labels, probs=probs, reco=reco
    )
    sparks = {k: spark.createDataFrame(v).cache() for k, v in pandas.items()}
    yield pandas, sparks
    for v in sparks.values():
        v.unpersist()


@pytest.mark.realdata
@pytest.mark.parametrize("relevancy_method,k", [("top_k", 10), ("by_threshold", 5), (None, 10)])
def test_ranking_metrics_parity(frames, relevancy_method, k) -> None:
    p, s = frames
    names = [f"{n}@{k}" for n in RANKING]
    ours = SE.evaluate(
        s["test"], s["pred"], names, relevancy_method=relevancy_method, threshold=15, check=False
    )
    theirs = PE.evaluate(
        p["test"], p["pred"], names, relevancy_method=relevancy_method, threshold=15
    )
    for name in names:
        assert ours[name] == pytest.approx(theirs[name], abs=TOL), name


@pytest.mark.realdata
@pytest.mark.parametrize("score_type,discfun", [("raw", "log2"), ("exp", "loge")])
def test_ndcg_gains_parity(frames, score_type, discfun) -> None:
    p, s = frames
    ours = SE.ndcg_at_k(s["test"], s["pred"], score_type=score_type, discfun_type=discfun, k=10)
    theirs = PE.ndcg_at_k(p["test"], p["pred"], score_type=score_type, discfun_type=discfun, k=10)
    assert ours == pytest.approx(theirs, abs=TOL)


@pytest.mark.realdata
def test_single_functions_and_top_k(frames) -> None:
    p, s = frames
    for fn in ("precision_at_k", "recall_at_k", "map_at_k", "mrr_at_k"):
        assert getattr(SE, fn)(s["test"], s["pred"], k=10) == pytest.approx(
            getattr(PE, fn)(p["test"], p["pred"], k=10), abs=TOL
        ), fn
    ours = SE.get_top_k_items(s["pred"], col_rating="prediction", k=5).toPandas()
    theirs = PE.get_top_k_items(p["pred"], col_rating="prediction", k=5)
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs, check_dtype=False)


@pytest.mark.realdata
def test_rating_metrics_parity(frames) -> None:
    p, s = frames
    names = ["rmse", "mae", "rsquared", "exp_var"]
    ours = SE.evaluate(s["test"], s["rated"], names)
    theirs = PE.evaluate(p["test"], p["rated"], names)
    for name in names:
        assert ours[name] == pytest.approx(theirs[name], abs=TOL), name
    for fn in ("auc", "logloss", "gauc"):
        assert getattr(SE, fn)(s["labels"], s["probs"]) == pytest.approx(
            getattr(PE, fn)(p["labels"], p["probs"]), abs=TOL
        ), fn


@pytest.mark.realdata
def test_beyond_accuracy_parity(spark, frames) -> None:
    p, s = frames
    train, reco = p["train"][["userID", "itemID"]], p["reco"]
    s_train = s["train"].select("userID", "itemID")
    assert SE.catalog_coverage(s_train, s["reco"]) == pytest.approx(
        PE.catalog_coverage(train, reco), abs=TOL
    )
    for fn in (
        "distributional_coverage",
        "novelty",
        "diversity",
        "serendipity",
    ):  # inputs checked above
        assert getattr(SE, fn)(s_train, s["reco"], check=False) == pytest.approx(
            getattr(PE, fn)(train, reco), abs=TOL
        ), fn
    assert SE.serendipity(s_train, s["reco"], col_relevance="score", check=False) == pytest.approx(
        PE.serendipity(train, reco, col_relevance="score"), abs=TOL
    )
    ours = SE.user_diversity(s_train, s["reco"], check=False).toPandas()
    theirs = PE.user_diversity(train, reco)
    np.testing.assert_allclose(ours.user_diversity, theirs.user_diversity, atol=TOL)
    assert (ours.userID.to_numpy() == theirs.userID.to_numpy()).all()
    # item feature vectors
    rng = np.random.default_rng(5)
    items = np.sort(train.itemID.unique())
    feats = pd.DataFrame({"itemID": items, "features": [rng.random(4).tolist() for _ in items]})
    kw = dict(item_sim_measure="item_feature_vector")
    assert SE.diversity(
        s_train, s["reco"], item_feature_df=spark.createDataFrame(feats), check=False, **kw
    ) == pytest.approx(PE.diversity(train, reco, item_feature_df=feats, **kw), abs=TOL)


def test_checks(spark) -> None:
    truth = spark.createDataFrame(
        pd.DataFrame({"userID": [1, 1, 2], "itemID": [1, 2, 1], "rating": [5.0, 3, 4]})
    )
    dup = spark.createDataFrame(
        pd.DataFrame({"userID": [1, 1], "itemID": [1, 1], "prediction": [1.0, 2.0]})
    )
    with pytest.raises(DataError, match="duplicate"):
        SE.rmse(truth, dup)
    nan = spark.createDataFrame(
        pd.DataFrame({"userID": [1], "itemID": [1], "prediction": [np.nan]})
    )
    with pytest.raises(DataError, match="NaN"):
        SE.precision_at_k(truth, nan)
    with pytest.raises(ColumnMismatchError):
        SE.rmse(truth.drop("rating"), truth.withColumnRenamed("rating", "prediction"))
    seen = spark.createDataFrame(pd.DataFrame({"userID": [1], "itemID": [1]}))
    with pytest.raises(DataError, match="already in train_df"):
        SE.novelty(truth, seen)
    # a perfect ranking, hand-checked: precision@2 = (2/2 + 1/2) / 2
    pred = spark.createDataFrame(
        pd.DataFrame(
            {"userID": [1, 1, 2, 2], "itemID": [1, 2, 1, 3], "prediction": [0.9, 0.8, 0.7, 0.6]}
        )
    )
    assert SE.precision_at_k(truth, pred, k=2) == pytest.approx(0.75)


@pytest.mark.parametrize("name", SE.__all__)
def test_spark_metric_functions_reject_unknown_keywords(name) -> None:
    """Bug: the Spark ranking functions swallowed unknown keywords (``top_k=5`` gave @10)."""
    from recutils.evaluation import UnknownKeywordError

    with pytest.raises(UnknownKeywordError, match=r"\['top_k'\]"):
        getattr(SE, name)(None, None, top_k=5)  # checked before anything is read
    assert getattr(SE, name).__name__ == name


def test_spark_ranking_functions_accept_col_rating(frames) -> None:
    p, s = frames
    ours = SE.precision_at_k(s["test"], s["pred"], col_rating="rating", k=5, check=False)
    assert ours == pytest.approx(PE.precision_at_k(p["test"], p["pred"], k=5), abs=TOL)
