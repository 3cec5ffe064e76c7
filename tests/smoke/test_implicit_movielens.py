"""implicit ALS and BPR on MovieLens 100k (real data, skipped without it or without implicit).

Protocol of Microsoft Recommenders' benchmark: ``python_stratified_split(ratio=0.75,
min_rating=1, filter_by="item", seed=42)``, top 10, seen items removed, metrics
from ``recutils.evaluation``. Measured (implicit 0.7.3, seed 42, one thread):

* ALS, factors=20, regularization=0.5, alpha=3, 15 iterations, binary confidence:
  MAP 0.1444, nDCG@10 0.4649, precision@10 0.4039, recall@10 0.2264 (fit ~0.5 s).
  The required floor is nDCG@10 >= 0.42.
* BPR, factors=100, learning_rate=0.01, regularization=0.01, 100 iterations:
  MAP 0.0815, nDCG@10 0.3144, precision@10 0.2725, recall@10 0.1515 (no floor in
  the requirements; a sanity floor here).
"""

from __future__ import annotations

import pytest

from recutils.datasets import download as dl
from recutils.evaluation import mean_average_precision, ndcg_at_k, precision_at_k, recall_at_k
from recutils.models.implicit import ImplicitALS, ImplicitBPR

pytestmark = pytest.mark.realdata
pytest.importorskip("implicit")

ALS_PARAMS = {"factors": 20, "regularization": 0.5, "alpha": 3.0, "iterations": 15, "seed": 42}
BPR_PARAMS = {
    "factors": 100,
    "learning_rate": 0.01,
    "regularization": 0.01,
    "iterations": 100,
    "seed": 42,
}


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def _metrics(model, train, test) -> dict[str, float]:
    top = model.fit(train).recommend_k_items(test, top_k=10, remove_seen=True)
    assert top.groupby("userID").size().max() == 10
    return {
        "map": mean_average_precision(test, top, k=10),
        "ndcg": ndcg_at_k(test, top, k=10),
        "precision": precision_at_k(test, top, k=10),
        "recall": recall_at_k(test, top, k=10),
    }


def test_implicit_als_ml100k(ml100k_protocol) -> None:
    train, test = ml100k_protocol
    got = _metrics(ImplicitALS(**ALS_PARAMS), train, test)
    assert got["ndcg"] >= 0.42, got
    assert got["map"] >= 0.13 and got["precision"] >= 0.37 and got["recall"] >= 0.20, got


def test_implicit_bpr_ml100k(ml100k_protocol) -> None:
    train, test = ml100k_protocol
    got = _metrics(ImplicitBPR(**BPR_PARAMS), train, test)
    assert got["ndcg"] >= 0.28 and got["map"] >= 0.07, got
