"""NCF, LightGCN, Multi-VAE / Multi-DAE and the graph component, beyond the contract suite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recutils.exceptions import ConfigError, DataError  # noqa: E402
from recutils.models import create_model, list_models  # noqa: E402
from recutils.models.lightgcn import LightGCN  # noqa: E402
from recutils.models.ncf import NCF  # noqa: E402
from recutils.models.ncf.network import NCFNetwork, neumf_from_pretrained  # noqa: E402
from recutils.models.torch_cf import sample_unseen_items, sample_unseen_per_user  # noqa: E402
from recutils.models.vae import MultiDAE, MultiVAE  # noqa: E402
from recutils.nn.components.graph import (  # noqa: E402
    GraphPropagation,
    normalized_adjacency,
    sparse_dense_mm,
)
from recutils.testing.contract import toy_interactions  # noqa: E402

SMALL = {
    "ncf": {"n_factors": 4, "layer_sizes": [8, 4], "n_epochs": 2, "batch_size": 128},
    "lightgcn": {"embedding_dim": 8, "n_layers": 2, "n_epochs": 2, "batch_size": 64},
    "multi_vae": {
        "hidden_dims": [16],
        "latent_dim": 8,
        "n_epochs": 3,
        "batch_size": 8,
        "total_anneal_steps": 5,
        "anneal_cap": 0.3,
    },
    "multi_dae": {"hidden_dims": [16], "latent_dim": 8, "n_epochs": 3, "batch_size": 8},
}


def test_registered() -> None:
    assert {"ncf", "lightgcn", "multi_vae", "multi_dae"} <= set(list_models())


# ----------------------------------------------------------------------- sampling
def test_sample_unseen_items_never_returns_a_positive_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    n_users, n_items = 50, 12
    users = rng.integers(0, n_users, 400)
    items = rng.integers(0, n_items, 400)
    pos = np.unique(users * n_items + items)
    # user 0 has every item but one: rejection alone rarely finds it
    pos = np.unique(np.concatenate([pos, np.arange(1, n_items)]))
    pos = pos[pos != 0]
    ask = np.repeat(np.arange(n_users), 30)
    a = sample_unseen_items(ask, pos, n_items, np.random.default_rng(3), max_rounds=2)
    b = sample_unseen_items(ask, pos, n_items, np.random.default_rng(3), max_rounds=2)
    np.testing.assert_array_equal(a, b)
    assert not np.isin(ask * n_items + a, pos).any()
    assert (a[ask == 0] == 0).all()  # the one unseen item of user 0
    assert a.min() >= 0 and a.max() < n_items


def test_sample_unseen_items_is_uniform_over_unseen() -> None:
    pos = np.array([0, 1, 2], dtype=np.int64)  # user 0 saw items 0..2 of 10
    draws = sample_unseen_items(np.zeros(70_000, dtype=np.int64), pos, 10, np.random.default_rng(1))
    counts = np.bincount(draws, minlength=10)
    assert counts[:3].sum() == 0
    np.testing.assert_allclose(counts[3:] / 70_000, 1 / 7, atol=0.01)


def test_sample_unseen_items_raises_for_a_user_with_every_item() -> None:
    pos = np.arange(5, dtype=np.int64)  # user 0 has all 5 items
    with pytest.raises(DataError, match="every one of the 5 items"):
        sample_unseen_items(
            np.zeros(3, dtype=np.int64), pos, 5, np.random.default_rng(0), max_rounds=3
        )


def test_sample_unseen_per_user_draws_distinct_unseen_items() -> None:
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    n_users, n_items = 40, 15
    dense = rng.random((n_users, n_items)) < 0.3
    dense[0] = True
    dense[0, [4, 9]] = False  # user 0: two unseen items
    seen = sp.csr_matrix(dense.astype(np.int8))
    counts = np.full(n_users, 6)
    counts[1] = 0
    users, items = sample_unseen_per_user(seen, counts, np.random.default_rng(5), budget=100)
    u2, i2 = sample_unseen_per_user(seen, counts, np.random.default_rng(5), budget=100)
    np.testing.assert_array_equal(items, i2)
    np.testing.assert_array_equal(users, np.repeat(np.arange(n_users), counts))
    assert not dense[users, items].any()
    # distinct per user while enough unseen items remain; user 0 cycles through its two
    for u in range(2, n_users):
        got = items[users == u]
        assert len(set(got)) == min(6, n_items - dense[u].sum())
    assert sorted(items[users == 0]) == [4, 4, 4, 9, 9, 9]
    dense[3] = True
    with pytest.raises(DataError, match="every one of the 15 items"):
        sample_unseen_per_user(sp.csr_matrix(dense.astype(np.int8)), counts, rng)


# -------------------------------------------------------------------------- graph
def _dense_norm(users, items, n_users, n_items):
    r = np.zeros((n_users, n_items))
    r[users, items] = 1
    a = np.block([[np.zeros((n_users, n_users)), r], [r.T, np.zeros((n_items, n_items))]])
    d = a.sum(1)
    inv = np.where(d > 0, d, 1) ** -0.5 * (d > 0)
    return inv[:, None] * a * inv[None, :]


def test_normalized_adjacency_matches_the_dense_formula() -> None:
    users = np.array([0, 0, 1, 2, 2, 2, 0])
    items = np.array([0, 1, 1, 0, 2, 3, 0])  # (0, 0) repeated: counts once; user 3 isolated
    adj = normalized_adjacency(users, items, 4, 5)
    assert adj.layout == torch.sparse_csr
    np.testing.assert_allclose(adj.to_dense().numpy(), _dense_norm(users, items, 4, 5), atol=1e-6)


def test_graph_propagation_layers_and_gradient() -> None:
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 6, 20), rng.integers(0, 7, 20)
    adj = normalized_adjacency(users, items, 6, 7)
    dense = torch.from_numpy(_dense_norm(users, items, 6, 7)).float()
    ego = torch.randn(13, 4, requires_grad=True)
    prop = GraphPropagation(adj, n_layers=2)
    out = prop(ego)
    expected = (ego + dense @ ego + dense @ (dense @ ego)) / 3
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    weights = torch.randn(13, 4)
    (out * weights).sum().backward()
    grad = ego.grad.clone()
    ego.grad = None
    (expected * weights).sum().backward()
    torch.testing.assert_close(grad, ego.grad, atol=1e-5, rtol=1e-5)
    assert "adjacency" not in prop.state_dict()  # rebuilt from data, never saved
    with pytest.raises(ValueError, match="layer_weights"):
        GraphPropagation(adj, 2, layer_weights=[0.5, 0.5])


def test_sparse_dense_mm_uses_the_transpose_for_non_symmetric_matrices() -> None:
    m = torch.tensor([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]])
    x = torch.randn(3, 2, requires_grad=True)
    g = torch.randn(2, 2)
    (sparse_dense_mm(m.to_sparse_csr(), x, m.t().contiguous().to_sparse_csr()) * g).sum().backward()
    torch.testing.assert_close(x.grad, m.t() @ g)


# ---------------------------------------------------------------------------- NCF
@pytest.mark.parametrize("model_type", ["gmf", "mlp", "neumf"])
def test_ncf_score_users_equals_pairwise_forward(model_type: str) -> None:
    torch.manual_seed(0)
    net = NCFNetwork(5, 7, model_type, 3, [8, 6, 4]).eval()
    for p in net.parameters():  # move away from the near-zero init
        torch.nn.init.normal_(p)
    users = torch.tensor([0, 3, 4])
    full = net.score_users(users)
    pairs = net(users.repeat_interleave(7), torch.arange(7).repeat(3)).reshape(3, 7)
    torch.testing.assert_close(full, pairs, atol=1e-5, rtol=1e-5)


def test_neumf_from_pretrained_fuses_the_two_logits() -> None:
    torch.manual_seed(0)
    gmf = NCFNetwork(4, 6, "gmf", 3, [8, 4])
    mlp = NCFNetwork(4, 6, "mlp", 3, [8, 4])
    for p in [*gmf.parameters(), *mlp.parameters()]:
        torch.nn.init.normal_(p)
    fused = neumf_from_pretrained(gmf, mlp, alpha=0.3)
    u, i = torch.tensor([0, 1, 3]), torch.tensor([5, 0, 2])
    torch.testing.assert_close(fused(u, i), 0.3 * gmf(u, i) + 0.7 * mlp(u, i))


def test_ncf_pretraining_trains_gmf_mlp_then_neumf() -> None:
    df = toy_interactions()
    model = NCF(**SMALL["ncf"], pretrain=True, pretrain_epochs=1, seed=1).fit(df)
    assert model.history_["stage"].tolist() == [0, 1, 2, 2]  # gmf, mlp, neumf x2
    assert np.isfinite(model.history_["loss"]).all()
    pred = model.predict(df.iloc[:5])
    assert pred["prediction"].notna().all()


def test_ncf_learns_and_predict_matches_ranking_scores() -> None:
    df = toy_interactions()
    model = NCF(**{**SMALL["ncf"], "n_epochs": 5, "learning_rate": 0.01}, seed=0).fit(df)
    assert model.history_["loss"].iloc[-1] < model.history_["loss"].iloc[0]
    rec = model.recommend_k_items(df, top_k=3, remove_seen=False)
    pred = model.predict(rec[["userID", "itemID"]])
    np.testing.assert_allclose(pred["prediction"], rec["prediction"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"model_type": "deep"}, "model_type"),
        ({"layer_sizes": [7, 4]}, "even"),
        ({"layer_sizes": [8]}, "layer_sizes"),
        ({"pretrain": True, "model_type": "gmf"}, "neumf"),
        ({"n_neg": 0}, "n_neg"),
        ({"alpha": 1.5}, "alpha"),
        ({"device": "tpu"}, "device"),
        ({"num_threads": 0}, "num_threads"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"epochs": 3}, "unknown parameter"),
    ],
)
def test_ncf_config_errors(bad: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        NCF(**bad)


# ----------------------------------------------------------------------- LightGCN
def test_lightgcn_factors_are_the_propagated_embeddings_and_survive_save_load(tmp_path) -> None:
    df = toy_interactions()
    model = LightGCN(**SMALL["lightgcn"], seed=0).fit(df)
    assert model.history_["bpr_loss"].iloc[-1] < np.log(2)  # better than chance
    ego = model.network_.weight.detach().numpy()
    n_users = len(model.user_ids_)
    # recompute by hand with a dense adjacency built from the training rows
    u = model.user_order_[model.user_ids_.get_indexer(df["userID"])]
    i = model.item_order_[model.item_ids_.get_indexer(df["itemID"])]
    a = _dense_norm(u, i, n_users, len(model.item_ids_))
    final = (ego + a @ ego + a @ (a @ ego)) / 3
    np.testing.assert_allclose(model.user_factors_, final[:n_users][model.user_order_], atol=1e-5)
    np.testing.assert_allclose(model.item_factors_, final[n_users:][model.item_order_], atol=1e-5)
    loaded = LightGCN.load(model.save(tmp_path / "m"))
    np.testing.assert_allclose(loaded.user_factors_, model.user_factors_, atol=1e-6)


def test_lightgcn_without_layers_scores_with_the_ego_embeddings() -> None:
    df = toy_interactions()
    model = LightGCN(**{**SMALL["lightgcn"], "n_layers": 0}, seed=0).fit(df)
    ego = model.network_.weight.detach().numpy()
    np.testing.assert_allclose(model.user_factors_, ego[: len(model.user_ids_)][model.user_order_])


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"n_layers": -1}, "n_layers"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"decay": -1.0}, "decay"),
        ({"seed": -3}, "seed"),
    ],
)
def test_lightgcn_config_errors(bad: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LightGCN(**bad)


# -------------------------------------------------------------------- VAE and DAE
def test_multi_vae_anneals_the_kl_weight_to_its_cap() -> None:
    df = toy_interactions()  # 30 users, batch 8: 4 steps per epoch
    model = MultiVAE(**SMALL["multi_vae"], seed=0).fit(df)
    steps = model.history_["step"].to_numpy()
    np.testing.assert_array_equal(steps, [4, 8, 12])
    np.testing.assert_allclose(model.history_["beta"], np.minimum(0.3, (steps - 1) / 5))
    assert (model.history_["kl"] > 0).all()


def test_multi_dae_has_no_kl_and_rejects_annealing_settings() -> None:
    df = toy_interactions()
    model = MultiDAE(**SMALL["multi_dae"], seed=0).fit(df)
    assert (model.history_["kl"] == 0).all()
    assert model.history_["nll"].iloc[-1] < model.history_["nll"].iloc[0]
    with pytest.raises(ConfigError, match="anneal_cap"):
        MultiDAE(anneal_cap=0.2)


def test_multi_vae_scores_users_from_their_training_rows() -> None:
    df = toy_interactions()
    model = MultiVAE(**SMALL["multi_vae"], seed=0).fit(df)
    net = model.network_
    code = 3
    row = np.zeros((1, len(model.item_ids_)), dtype=np.float32)
    seen_items = model.seen_[code].indices
    row[0, model.item_order_[seen_items]] = 1.0
    with torch.no_grad():
        logits = net.decode(net.encode(torch.from_numpy(row), dropout=False)[0]).numpy()[0]
    expected = logits[model.item_order_]
    np.testing.assert_allclose(model._score_users(np.array([code]))[0], expected, rtol=1e-5)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"dropout": 1.0}, "dropout"),
        ({"hidden_dims": [0]}, "hidden_dims"),
        ({"anneal_cap": -0.1}, "anneal_cap"),
        ({"total_anneal_steps": 0}, "total_anneal_steps"),
        ({"latent_dim": 1.5}, "latent_dim"),
    ],
)
def test_multi_vae_config_errors(bad: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        MultiVAE(**bad)


# --------------------------------------------------------------------------- shared
@pytest.mark.parametrize("name", list(SMALL))
def test_fit_leaves_the_global_torch_rng_alone(name: str) -> None:
    df = toy_interactions()
    torch.manual_seed(123)
    before = torch.get_rng_state().clone()
    create_model(name, **SMALL[name], seed=5).fit(df)
    assert torch.equal(before, torch.get_rng_state())


@pytest.mark.parametrize("name", list(SMALL))
def test_different_seeds_give_different_models(name: str) -> None:
    df = toy_interactions()
    a = create_model(name, **SMALL[name], seed=1).fit(df).predict(df.iloc[:20])
    b = create_model(name, **SMALL[name], seed=2).fit(df).predict(df.iloc[:20])
    assert not np.allclose(a["prediction"], b["prediction"])


@pytest.mark.parametrize("name", list(SMALL))
def test_progress_bar_can_be_turned_on(name: str, capsys) -> None:
    df = toy_interactions()
    model = create_model(name, **SMALL[name], progress=True).fit(df)
    assert len(model.history_) >= SMALL[name]["n_epochs"]
    assert isinstance(model.recommend_k_items(df, top_k=2), pd.DataFrame)


@pytest.mark.parametrize("name", list(SMALL))
def test_fit_resumes_from_its_checkpoints_with_the_same_result(name: str, tmp_path) -> None:
    df = toy_interactions()
    params = {**SMALL[name], "n_epochs": 4, "seed": 3}
    if name == "ncf":
        params.update(pretrain=True, pretrain_epochs=2)
    straight = create_model(name, **params).fit(df)
    folder = str(tmp_path / "ckpt")
    create_model(name, **{**params, "n_epochs": 2}, model_dir=folder).fit(df)  # "interrupted"
    resumed = create_model(name, **params, model_dir=folder).fit(df)
    assert len(resumed.history_) == len(straight.history_)
    for key, value in straight.network_.state_dict().items():
        torch.testing.assert_close(resumed.network_.state_dict()[key], value, rtol=0, atol=0)
    files = sorted(p.name for p in (tmp_path / "ckpt").rglob("ckpt-*.pt"))
    assert files and all(f.startswith("ckpt-") for f in files)
    with pytest.raises(ConfigError, match="model_dir"):
        create_model(name, model_dir=3)
