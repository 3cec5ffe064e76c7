"""NCF, LightGCN and Multi-VAE on MovieLens 100k (real data; skipped without it or without torch).

Protocol of Microsoft Recommenders' benchmark: ``python_stratified_split(ratio=0.75,
min_rating=1, filter_by="item", seed=42)``, top 10 with seen (training) items removed,
MAP (``mean_average_precision``, Microsoft's "MAP") and nDCG@10 from
``recutils.evaluation``. Microsoft's table: NCF (NeuMF) MAP 0.1086, nDCG@10 0.3988;
LightGCN 0.1216, 0.4176. The floors asserted here are those of the model's
documentation (NCF 0.105 / 0.395, LightGCN 0.120 / 0.415, Multi-VAE nDCG@10 0.40);
the values measured with these exact settings are next to each test.
"""

from __future__ import annotations

import pandas as pd
import pytest

from recutils.datasets import download as dl
from recutils.evaluation import mean_average_precision, ndcg_at_k

pytestmark = pytest.mark.realdata
pytest.importorskip("torch")

from recutils.models.lightgcn import LightGCN  # noqa: E402
from recutils.models.ncf import NCF  # noqa: E402
from recutils.models.vae import MultiVAE  # noqa: E402

#: Microsoft's NCF benchmark settings (NeuMF, 4 negatives per positive), with the paper's
#: pre-training: GMF and MLP train 15 epochs each with the same settings, then NeuMF starts
#: from their weights for 15 epochs.
NCF_PARAMS = {
    "model_type": "neumf",
    "n_factors": 4,
    "layer_sizes": [16, 8, 4],
    "n_epochs": 15,
    "batch_size": 1024,
    "learning_rate": 1e-3,
    "n_neg": 4,
    "pretrain": True,
    "seed": 42,
}
#: Microsoft's LightGCN benchmark settings.
LIGHTGCN_PARAMS = {
    "n_layers": 3,
    "embedding_dim": 64,
    "batch_size": 1024,
    "decay": 1e-4,
    "n_epochs": 20,
    "learning_rate": 5e-3,
    "seed": 42,
}
#: A narrower network than the paper's ([600] hidden, 200 latent) for 943 users, with the
#: paper's dropout and cap and an annealing horizon of 20 epochs (10 steps per epoch).
#: Measured: nDCG@10 0.4279, MAP 0.1275. On another random 75/25 split the paper's
#: architecture with 50 epochs and a 1000-step horizon reached nDCG@10 0.4330 (MAP 0.1362)
#: but cost about 3x as much, and over-fit with more epochs (100: 0.4034; 200: 0.3784).
VAE_PARAMS = {
    "hidden_dims": [200],
    "latent_dim": 50,
    "dropout": 0.5,
    "batch_size": 100,
    "n_epochs": 30,
    "learning_rate": 1e-3,
    "anneal_cap": 0.2,
    "total_anneal_steps": 200,
    "seed": 42,
}


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def _metrics(model, train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    users = pd.DataFrame({"userID": test["userID"].unique()})
    top = model.fit(train).recommend_k_items(users, top_k=10, remove_seen=True)
    assert top.groupby("userID").size().max() == 10
    seen = set(zip(train["userID"], train["itemID"]))
    assert not any(p in seen for p in zip(top["userID"], top["itemID"]))
    return {"map": mean_average_precision(test, top, k=10), "ndcg": ndcg_at_k(test, top, k=10)}


def test_ncf_neumf_ml100k(ml100k_protocol) -> None:
    # measured: MAP 0.1140, nDCG@10 0.4049 (seed 43: 0.1100, 0.3982). Without pre-training
    # NeuMF gets 0.1088 / 0.3931 (seed 43: 0.3904, seed 44: 0.3765): at 15 epochs the
    # spread between seeds is about 0.015 nDCG, and Microsoft's figure is one run too.
    train, test = ml100k_protocol
    got = _metrics(NCF(**NCF_PARAMS), train, test)
    assert got["map"] >= 0.105, got
    assert got["ndcg"] >= 0.395, got


def test_lightgcn_ml100k(ml100k_protocol) -> None:
    # measured: MAP 0.1216, nDCG@10 0.4260 after Microsoft's 20 epochs
    train, test = ml100k_protocol
    got = _metrics(LightGCN(**LIGHTGCN_PARAMS), train, test)
    assert got["map"] >= 0.120, got
    assert got["ndcg"] >= 0.415, got


def test_multi_vae_ml100k(ml100k_protocol) -> None:
    # measured: nDCG@10 0.4279, MAP 0.1275
    train, test = ml100k_protocol
    got = _metrics(MultiVAE(**VAE_PARAMS), train, test)
    assert got["ndcg"] >= 0.40, got
