"""Baselines on MovieLens 100k, Microsoft's SAR protocol (real data, skipped without it).

Stratified split by item (ratio 0.75, min_rating 1, seed 42), top 10, seen items
removed. Measured (recutils 0.1.0):

==============================  ======  =======  ============  =========
model                           MAP     nDCG@10  precision@10  recall@10
==============================  ======  =======  ============  =========
SAR (jaccard, 30-day decay)     0.1140  0.3938   0.3406        0.1854
item-KNN (k=20, shrink=10)      0.1170  0.4081   0.3568        0.1918
popularity                      0.0560  0.2524   0.2287        0.1132
popularity (half-life 30 days)  0.0507  0.2076   0.1913        0.1110
bias (as a ranker)              0.0127  0.1006   0.0988        0.0340
random (seed 42)                0.0021  0.0187   0.0178        0.0063
==============================  ======  =======  ============  =========

Bias baseline as a rating predictor: RMSE 0.9424, MAE 0.7459 (the global mean
alone: RMSE 1.1265, MAE 0.9451). Floors sit a little under the measured values.
"""

from __future__ import annotations

import pandas as pd
import pytest

from recutils.datasets import download as dl
from recutils.evaluation import evaluate, mae, rmse
from recutils.models import create_model

pytestmark = pytest.mark.realdata

METRICS = ["mean_average_precision@10", "ndcg@10", "precision@10", "recall@10"]


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def _ranking(split, name: str, **params) -> dict[str, float]:
    train, test = split
    model = create_model(name, **params).fit(train)
    top = model.recommend_k_items(test, top_k=10, remove_seen=True)
    got = evaluate(test, top, METRICS)
    return {
        "map": got[METRICS[0]],
        "ndcg": got["ndcg@10"],
        "precision": got["precision@10"],
        "recall": got["recall@10"],
    }


def test_baselines_rank_as_measured(ml100k_protocol) -> None:
    sar = _ranking(
        ml100k_protocol,
        "sar",
        similarity_type="jaccard",
        time_decay_coefficient=30,
        timedecay_formula=True,
    )
    knn = _ranking(ml100k_protocol, "itemknn")
    pop = _ranking(ml100k_protocol, "popularity")
    pop_decay = _ranking(ml100k_protocol, "popularity", half_life_days=30)
    rnd = _ranking(ml100k_protocol, "random", seed=42)
    assert (
        knn["map"] >= 0.115
        and knn["ndcg"] >= 0.395
        and knn["precision"] >= 0.34
        and knn["recall"] >= 0.185
    ), knn
    assert (
        pop["map"] >= 0.054
        and pop["ndcg"] >= 0.245
        and pop["precision"] >= 0.22
        and pop["recall"] >= 0.11
    ), pop
    assert pop_decay["ndcg"] >= 0.20, pop_decay
    assert rnd["ndcg"] <= 0.04 and rnd["precision"] <= 0.04, rnd
    for name in ("map", "ndcg", "precision", "recall"):
        assert sar[name] > pop[name] > rnd[name], name
        assert knn[name] > pop[name], name


def test_bias_rating_prediction(ml100k_protocol) -> None:
    train, test = ml100k_protocol
    model = create_model("bias").fit(train)
    pred = model.predict(test)
    assert pred["prediction"].notna().all()  # the stratified split keeps every test user/item
    got_rmse, got_mae = rmse(test, pred), mae(test, pred)
    assert got_rmse <= 0.955 and got_mae <= 0.76, (got_rmse, got_mae)
    mean_only = pd.DataFrame(
        {"userID": test["userID"], "itemID": test["itemID"], "prediction": train["rating"].mean()}
    )
    assert got_rmse < rmse(test, mean_only) - 0.1
    clipped = create_model("bias", clip=True).fit(train).predict(test)
    assert rmse(test, clipped) <= got_rmse
