"""evaluate() and the metric registry."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import recutils.evaluation as ev
from recutils.evaluation.registry import METRICS, parse_metric
from recutils.exceptions import ConfigError


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    n = 3000
    truth = pd.DataFrame(
        {
            "userID": rng.integers(0, 60, n),
            "itemID": rng.integers(0, 200, n),
            "rating": rng.integers(1, 6, n).astype(float),
        }
    )
    truth = truth.drop_duplicates(["userID", "itemID"])
    pred = pd.DataFrame(
        {
            "userID": rng.integers(0, 60, n),
            "itemID": rng.integers(0, 200, n),
            "prediction": np.round(rng.random(n) * 5, 1),
        }
    )
    pred = pred.drop_duplicates(["userID", "itemID"])
    # a few exact matches so the rating join is not empty
    pred = pd.concat([pred, truth.iloc[:50].rename(columns={"rating": "prediction"})])
    pred = pred.drop_duplicates(["userID", "itemID"], keep="last").reset_index(drop=True)
    return truth, pred


@pytest.mark.parametrize("relevancy_method", ["top_k", "by_threshold", None])
def test_evaluate_equals_individual_functions(frames, relevancy_method):
    truth, pred = frames
    names = [
        "ndcg@10",
        "precision@10",
        "recall@5",
        "map@10",
        "mean_average_precision@10",
        "r_precision@10",
        "hit_ratio@10",
        "mrr@10",
        "rmse",
        "mae",
        "rsquared",
        "exp_var",
        "ndcg",
    ]
    res = ev.evaluate(
        truth,
        pred,
        names,
        relevancy_method=relevancy_method,
        threshold=7,
        score_type="exp",
        discfun_type="log2",
    )
    assert list(res) == names
    kw = {"relevancy_method": relevancy_method, "threshold": 7}
    assert res["ndcg@10"] == ev.ndcg_at_k(
        truth, pred, k=10, score_type="exp", discfun_type="log2", **kw
    )
    assert res["ndcg"] == res["ndcg@10"]  # default k=10
    assert res["precision@10"] == ev.precision_at_k(truth, pred, k=10, **kw)
    assert res["recall@5"] == ev.recall_at_k(truth, pred, k=5, **kw)
    assert res["map@10"] == ev.map_at_k(truth, pred, k=10, **kw)
    assert res["mean_average_precision@10"] == ev.mean_average_precision(truth, pred, k=10, **kw)
    assert res["r_precision@10"] == ev.r_precision_at_k(truth, pred, k=10, **kw)
    assert res["hit_ratio@10"] == ev.hit_ratio_at_k(truth, pred, k=10, **kw)
    assert res["mrr@10"] == ev.mrr_at_k(truth, pred, k=10, **kw)
    assert res["rmse"] == ev.rmse(truth, pred)
    assert res["mae"] == ev.mae(truth, pred)


def test_evaluate_beyond_and_binary(frames):
    truth, pred = frames
    train = truth.iloc[:0]
    train = pd.DataFrame({"userID": [0, 1, 2], "itemID": [1000, 1001, 1000]})
    res = ev.evaluate(
        truth,
        pred,
        [
            "catalog_coverage@5",
            "novelty@5",
            "diversity@5",
            "serendipity@5",
            "distributional_coverage@5",
        ],
        train_df=train,
    )
    reco = ev.get_top_k_items(pred[pred.userID.isin(truth.userID)], col_rating="prediction", k=5)
    assert res["novelty@5"] == pytest.approx(ev.novelty(train, reco[["userID", "itemID"]]))
    assert res["catalog_coverage@5"] == pytest.approx(
        ev.catalog_coverage(train, reco[["userID", "itemID"]])
    )
    with pytest.raises(ConfigError, match="train_df"):
        ev.evaluate(truth, pred, ["novelty@5"])
    tb = truth.assign(rating=(truth.rating >= 4).astype(float))
    pb = pred.assign(prediction=pred.prediction / 5)
    res = ev.evaluate(tb, pb, ["auc", "logloss", "gauc"])
    assert res["auc"] == ev.auc(tb, pb) and res["gauc"] == ev.gauc(tb, pb)


def test_unknown_metric_lists_known_ones(frames):
    truth, pred = frames
    with pytest.raises(ConfigError, match="Known metrics: .*ndcg.*precision"):
        ev.evaluate(truth, pred, ["ndgc@10"])
    with pytest.raises(ConfigError, match="cannot parse"):
        ev.evaluate(truth, pred, ["ndcg@ten"])
    with pytest.raises(ConfigError, match="takes no"):
        ev.evaluate(truth, pred, ["rmse@10"])
    with pytest.raises(ConfigError, match="at least 1"):
        parse_metric("ndcg@0")


def test_registry_table():
    assert {
        "rmse",
        "mae",
        "rsquared",
        "exp_var",
        "auc",
        "logloss",
        "ece",
        "precision",
        "recall",
        "ndcg",
        "map",
        "mean_average_precision",
        "r_precision",
        "hit_ratio",
        "mrr",
        "gauc",
        "catalog_coverage",
        "distributional_coverage",
        "novelty",
        "diversity",
        "serendipity",
    } == set(METRICS)
    assert "map" not in dir(ev) or not callable(getattr(ev, "map", None))  # no function named map
    spec, k = parse_metric("NDCG@20")
    assert spec.name == "ndcg" and k == 20 and spec.higher_is_better and spec.kind == "ranking"
    assert parse_metric("rmse")[0].higher_is_better is False
    assert parse_metric("precision_at_k@5")[0].function is ev.precision_at_k
    assert parse_metric("map@5")[0].function is ev.map_at_k
    assert ev.known_metrics("beyond") == [
        "catalog_coverage",
        "distributional_coverage",
        "novelty",
        "diversity",
        "serendipity",
    ]
    with pytest.raises(ConfigError):
        ev.known_metrics("other")


def test_import_is_light():
    code = (
        "import sys, recutils.evaluation; "
        "bad = [m for m in ('sklearn', 'torch', 'pyspark', 'tensorflow', 'matplotlib') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
