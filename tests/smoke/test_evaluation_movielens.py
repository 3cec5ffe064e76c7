"""Evaluation metrics on real MovieLens 100k: a popularity ranking, checked against a plain
per-user Python computation and against plausible ranges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import recutils.evaluation as ev

pytestmark = [pytest.mark.realdata]
K = 10


_SPLIT: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}


@pytest.fixture
def ml100k_split(require_dataset):
    """The stratified split, computed once per module (function-scoped so that it can use
    ``require_dataset``, which fails instead of skipping under RECUTILS_REQUIRE_DATA=1)."""
    from recutils.datasets.movielens import load_pandas_df
    from recutils.splitting import python_stratified_split

    require_dataset("ml-100k")
    if "split" not in _SPLIT:
        df = load_pandas_df(size="100k")
        _SPLIT["split"] = python_stratified_split(df, ratio=0.75, seed=42)
    return _SPLIT["split"]


@pytest.fixture
def popularity(ml100k_split):
    """Score = number of training ratings of the item; seen items removed; 200 candidates a user."""
    train, test = ml100k_split
    counts = train.groupby("itemID").size()
    top_items = counts.sort_values(ascending=False, kind="stable").index.to_numpy()[:300]
    users = np.sort(train["userID"].unique())
    cand = pd.DataFrame(
        {"userID": np.repeat(users, top_items.size), "itemID": np.tile(top_items, users.size)}
    )
    seen = cand.merge(train[["userID", "itemID"]], how="left", indicator=True)["_merge"] == "both"
    cand = cand[~seen.to_numpy()].reset_index(drop=True)
    cand["prediction"] = counts.reindex(cand["itemID"]).to_numpy().astype(float)
    return cand


def _plain(test: pd.DataFrame, pred: pd.DataFrame, k: int) -> dict[str, float]:
    """Straightforward per-user loops (ties: earlier row first)."""
    rel = {u: set(g["itemID"]) for u, g in test.groupby("userID")}
    lists = {}
    for u, g in pred.groupby("userID", sort=False):
        order = sorted(range(len(g)), key=lambda j: (-g["prediction"].iloc[j], j))
        lists[u] = [g["itemID"].iloc[j] for j in order[:k]]
    users = [u for u in rel if u in lists]
    prec = rec = ap = nd = 0.0
    for u in users:
        hits = [i in rel[u] for i in lists[u]]
        prec += sum(hits) / k
        rec += sum(hits) / len(rel[u])
        found, s = 0, 0.0
        for r, h in enumerate(hits, start=1):
            if h:
                found += 1
                s += found / r
        ap += s / min(len(rel[u]), k)
        dcg = sum(1 / math.log(1 + r) for r, h in enumerate(hits, start=1) if h)
        idcg = sum(1 / math.log(1 + r) for r in range(1, min(k, len(rel[u])) + 1))
        nd += dcg / idcg
    n = len(users)
    # every test user has predictions here, so the ndcg user set is the same
    return {"precision": prec / n, "recall": rec / n, "map": ap / n, "ndcg": nd / n}


def test_popularity_metrics_match_plain_computation(ml100k_split, popularity):
    _, test = ml100k_split
    got = ev.evaluate(test, popularity, [f"precision@{K}", f"recall@{K}", f"map@{K}", f"ndcg@{K}"])
    want = _plain(test, popularity, K)
    for name in ("precision", "recall", "map", "ndcg"):
        assert got[f"{name}@{K}"] == pytest.approx(want[name], abs=1e-9), name
    # plausible values of a popularity baseline on ML-100k (75/25 stratified split)
    assert 0.10 < got[f"precision@{K}"] < 0.30
    assert 0.03 < got[f"recall@{K}"] < 0.20
    assert 0.10 < got[f"ndcg@{K}"] < 0.40
    assert 0.05 < got[f"map@{K}"] < 0.25


def test_beyond_and_rating_metrics_on_ml100k(ml100k_split, popularity):
    train, test = ml100k_split
    reco = ev.get_top_k_items(popularity, col_rating="prediction", k=K)[["userID", "itemID"]]
    cov = ev.catalog_coverage(train, reco)
    n_items = train["itemID"].nunique()
    assert cov == pytest.approx(reco["itemID"].nunique() / n_items)
    assert cov < 0.1  # popularity recommends few distinct items
    assert 0 < ev.novelty(train, reco) < 10
    assert 0 <= ev.diversity(train, reco) <= 1
    # user-mean baseline for ratings
    means = train.groupby("userID")["rating"].mean()
    pred = test[["userID", "itemID"]].assign(prediction=means.reindex(test["userID"]).to_numpy())
    rmse = ev.rmse(test, pred)
    assert rmse == pytest.approx(
        float(np.sqrt(np.mean((test["rating"].to_numpy() - pred["prediction"].to_numpy()) ** 2)))
    )
    assert 0.9 < rmse < 1.2
