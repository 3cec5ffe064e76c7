"""SAR on MovieLens 100k reaches Microsoft Recommenders' quality (real data, skipped without it).

Protocol of Microsoft's SAR quick start: stratified split by item (ratio 0.75,
seed 42), SAR jaccard with a 30-day time decay, top 10, seen items removed.
Microsoft Recommenders 1.2.1 reports MAP 0.1140, nDCG@10 0.3938, precision@10
0.3406, recall@10 0.1854 on *its* split.

* On Microsoft's own split (its training rows, stored as a line mask of u.data in
  tests/resources, made by tools/sar_reference_fixtures.py) recutils must reach
  the published figures (it reproduces them to 4 decimals).
* On our splitter's split (a different RNG), Microsoft's SAR itself gets MAP
  0.1136, nDCG@10 0.3863, precision@10 0.3329, recall@10 0.1878 (measured with
  tools/benchmarks/quality_sar_movielens.py --peer-python); recutils must be
  within 1% of those (identical in practice) and reach the issue's MAP and recall
  floors. The issue's nDCG/precision floors (0.3899 / 0.3372) are above what either
  implementation gets on this split: split noise (seeds 40-46 give nDCG 0.386-0.399).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import download as dl
from recutils.datasets.movielens import load_pandas_df
from recutils.evaluation import (
    map_at_k,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from recutils.models.sar import SAR
from recutils.splitting import python_stratified_split

pytestmark = pytest.mark.realdata

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
PARAMS = {"similarity_type": "jaccard", "time_decay_coefficient": 30, "timedecay_formula": True}
FLOORS = {"map": 0.1129, "ndcg": 0.3899, "precision": 0.3372, "recall": 0.1835}
MS_PUBLISHED = {"map": 0.1140, "ndcg": 0.3938, "precision": 0.3406, "recall": 0.1854}
MS_ON_OUR_SPLIT = {"map": 0.1136, "ndcg": 0.3863, "precision": 0.3329, "recall": 0.1878}


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def _metrics(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    model = SAR(**PARAMS).fit(train)
    top = model.recommend_k_items(test, top_k=10, remove_seen=True)
    assert top.groupby("userID").size().max() == 10
    return {
        "map": mean_average_precision(test, top, k=10),
        "map_at_k": map_at_k(test, top, k=10),
        "ndcg": ndcg_at_k(test, top, k=10),
        "precision": precision_at_k(test, top, k=10),
        "recall": recall_at_k(test, top, k=10),
    }


def test_sar_ml100k_on_microsoft_split(require_dataset) -> None:
    require_dataset("ml-100k")
    data = load_pandas_df("100k", progress=False)
    with np.load(RESOURCES / "ml100k_ms_stratified_split_seed42.npz", allow_pickle=False) as z:
        mask = np.unpackbits(z["train"])[: int(z["n_rows"])].astype(bool)
    assert len(data) == mask.size
    got = _metrics(data[mask], data[~mask])
    for name, floor in FLOORS.items():
        assert got[name] >= floor, (name, got)
        assert got[name] == pytest.approx(MS_PUBLISHED[name], abs=1e-4), (name, got)


def test_sar_ml100k_on_our_split(require_dataset) -> None:
    require_dataset("ml-100k")
    data = load_pandas_df("100k", progress=False)
    train, test = python_stratified_split(data, ratio=0.75, min_rating=1, filter_by="item",
                                          seed=42)
    got = _metrics(train, test)
    assert got["map"] >= FLOORS["map"] and got["recall"] >= FLOORS["recall"], got
    for name, ms in MS_ON_OUR_SPLIT.items():
        assert got[name] >= 0.99 * ms, (name, got)
    assert got["map_at_k"] >= got["map"]
