"""The Standard VAE on MovieLens 100k beats popularity by far (real data).

Microsoft Recommenders' ``standard_vae_deep_dive`` reports on the full MovieLens 1M with
held-out users, which ``../shared/data`` does not hold, so the bar here is the project's:
Microsoft's benchmark protocol (``python_stratified_split(ratio=0.75, min_rating=1,
filter_by="item", seed=42)``, top 10, seen items removed) and a clear margin over the
popularity baseline (nDCG@10 0.25 on this protocol). Measured with the model's defaults
(one hidden layer of 200, a 70-wide code, 100 epochs, ``anneal_cap=0.2``): nDCG@10 0.4690,
MAP 0.1482.
"""

from __future__ import annotations

import pandas as pd
import pytest

from recutils.datasets import download as dl
from recutils.evaluation import mean_average_precision, ndcg_at_k
from recutils.models.baselines import Popularity

pytestmark = pytest.mark.realdata
pytest.importorskip("torch")

from recutils.models.vae import StandardVAE  # noqa: E402


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def test_standard_vae_ml100k(ml100k_protocol) -> None:
    train, test = ml100k_protocol
    users = pd.DataFrame({"userID": test["userID"].unique()})
    model = StandardVAE(seed=42).fit(train)
    top = model.recommend_k_items(users, top_k=10, remove_seen=True)
    assert top.groupby("userID").size().max() == 10
    seen = set(zip(train["userID"], train["itemID"]))
    assert not any(p in seen for p in zip(top["userID"], top["itemID"]))
    assert model.history_["beta"].iloc[-1] == pytest.approx(0.2)
    popular = Popularity().fit(train).recommend_k_items(users, top_k=10, remove_seen=True)
    got = ndcg_at_k(test, top, k=10)
    assert got >= 0.44, got
    assert got >= ndcg_at_k(test, popular, k=10) + 0.15
    assert mean_average_precision(test, top, k=10) >= 0.13
