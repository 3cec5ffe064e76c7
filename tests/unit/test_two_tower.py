"""Two-tower retrieval (``MatchModel`` / ``dssm``): config checks, the losses by hand, learning
on clustered data, embeddings, similar items, the index and its version, save/load."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError
from recutils.nn.config import MatchConfig, ModelConfig

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")

from recutils.models import create_model, load_model  # noqa: E402
from recutils.nn.data import BatchLayout, TensorData  # noqa: E402
from recutils.nn.match import ITEM_INDEX, ITEM_LOGQ, build_match_network  # noqa: E402
from tests.unit._nn_helpers import toy_encoded, toy_specs  # noqa: E402


def _config(match: dict | None = None, item_width: int = 8) -> dict:
    return {
        "model_name": "tt",
        "model_class": "MatchModel",
        "feature_groups": [
            {"group_name": "user", "feature_names": ["u", "x"]},
            {"group_name": "item", "feature_names": ["i", "tags"]},
        ],
        "backbone": {
            "blocks": [
                {
                    "name": "user_tower",
                    "inputs": [{"feature_group_name": "user"}],
                    "layer": {
                        "class_name": "MLP",
                        "params": {"hidden_units": [8], "use_final_bn": False},
                    },
                },
                {
                    "name": "item_tower",
                    "inputs": [{"feature_group_name": "item"}],
                    "layer": {
                        "class_name": "MLP",
                        "params": {"hidden_units": [item_width], "use_final_bn": False},
                    },
                },
            ],
            "concat_blocks": ["user_tower", "item_tower"],
        },
        "model_params": {
            "match": {
                "user_block": "user_tower",
                "item_block": "item_tower",
                "output_dim": 4,
                **(match or {}),
            }
        },
    }


def _net(match: dict | None = None, **kw):
    return build_match_network(ModelConfig.from_dict(_config(match, **kw)), toy_specs(), seed=0)


def _batch(n: int = 16):
    encoded, _ = toy_encoded(n)
    data = TensorData.from_encoded(encoded, BatchLayout.from_specs(toy_specs()))
    batch = dict(data.tensors)
    batch[ITEM_INDEX] = torch.tensor(encoded["i"])
    batch[ITEM_LOGQ] = torch.log(torch.linspace(0.01, 0.2, n))
    return batch


# ---------------------------------------------------------------- config
@pytest.mark.parametrize(
    "values, match",
    [
        ({"user_block": "a", "item_block": "a"}, "each tower needs a block of its own"),
        ({"user_block": "a", "item_block": "b", "similarity": "l1"}, "similarity 'l1'"),
        ({"user_block": "a", "item_block": "b", "loss": "softmax"}, "loss 'softmax'"),
        ({"user_block": "a", "item_block": "b", "temperature": 0}, "temperature must be > 0"),
        (
            {"user_block": "a", "item_block": "b", "hard_negatives": 4},
            "hard_negatives needs loss: sampled_softmax",
        ),
        (
            {
                "user_block": "a",
                "item_block": "b",
                "loss": "sampled_softmax",
                "num_negatives": 4,
                "hard_negatives": 8,
            },
            "cannot exceed num_negatives",
        ),
    ],
)
def test_bad_match_params(values, match):
    with pytest.raises(ConfigError, match=match):
        MatchConfig.from_dict(values)


def test_match_model_structure_errors():
    cfg = _config()
    cfg["model_params"]["match"]["item_block"] = "nope"
    with pytest.raises(ConfigError, match="block 'nope' does not exist"):
        ModelConfig.from_dict(cfg)
    cfg = _config()
    del cfg["model_params"]["match"]
    with pytest.raises(ConfigError, match="needs model_params.match"):
        ModelConfig.from_dict(cfg)
    with pytest.raises(ConfigError, match="the two widths must agree"):
        _net({"output_dim": None}, item_width=6)
    shared = _config()
    shared["backbone"]["blocks"][1]["inputs"] = [{"block_name": "user_tower"}]
    with pytest.raises(ConfigError, match="share the block"):
        build_match_network(ModelConfig.from_dict(shared), toy_specs())
    both = _config()
    both["backbone"]["blocks"][1]["inputs"] = [{"feature_group_name": "user"}]
    with pytest.raises(ConfigError, match="feed both towers"):
        build_match_network(ModelConfig.from_dict(both), toy_specs())


# ---------------------------------------------------------------- losses
def test_in_batch_softmax_with_logq_and_accidental_hits_by_hand():
    net = _net({"temperature": 0.5}).train()
    batch = _batch()
    batch[ITEM_INDEX][3] = batch[ITEM_INDEX][5]  # rows 3 and 5 share their positive item
    out = net(batch)
    with torch.no_grad():
        u, v = net.user_embeddings(batch), net.item_embeddings(batch)
        logits = (u @ v.T / 0.5 - batch[ITEM_LOGQ][None, :]).numpy()
    items = batch[ITEM_INDEX].numpy()
    expected = []
    for r in range(len(items)):
        keep = (items != items[r]) | (np.arange(len(items)) == r)
        row = logits[r][keep]
        target = row[np.flatnonzero(np.flatnonzero(keep) == r)[0]]
        expected.append(np.log(np.exp(row - row.max()).sum()) + row.max() - target)
    assert float(net.compute_loss(out, torch.ones(16)).detach()) == pytest.approx(
        float(np.mean(expected)), rel=1e-4
    )


def test_pairwise_losses_by_hand_and_accidental_hits_dropped():
    for loss, margin in (("bpr", 1.0), ("hinge", 0.7)):
        net = _net({"loss": loss, "margin": margin, "negative_sampling": "uniform"})
        net.set_catalogue(
            TensorData.from_encoded(
                toy_encoded(32)[0], BatchLayout.from_specs(toy_specs())
            ).tensors,
            np.full(32, np.log(1 / 32)),
        )
        net.train()
        torch.manual_seed(0)
        out = net(_batch())
        diff = (out["pos"] - out["neg"]).detach().numpy()
        keep = out["valid"].numpy()
        per = -np.log(1 / (1 + np.exp(-diff))) if loss == "bpr" else np.maximum(0, margin - diff)
        assert float(net.compute_loss(out, torch.ones(16)).detach()) == pytest.approx(
            float(per[keep].mean()), rel=1e-4
        )


def test_sampled_softmax_needs_the_catalogue_and_keeps_the_hardest_negatives():
    net = _net({"loss": "sampled_softmax", "num_negatives": 8, "hard_negatives": 3}).train()
    with pytest.raises(DataError, match="set_catalogue"):
        net(_batch())
    net.set_catalogue(
        TensorData.from_encoded(toy_encoded(32)[0], BatchLayout.from_specs(toy_specs())).tensors,
        np.log(np.full(32, 1 / 32)),
    )
    out = net(_batch())
    assert out["logits"].shape == (16, 4) and (out["target"] == 0).all()
    assert torch.isfinite(net.compute_loss(out, torch.ones(16)))


def test_eval_mode_scores_pairs():
    net = _net({"similarity": "cosine", "temperature": 0.1}).eval()
    batch = _batch()
    with torch.no_grad():
        scores = net(batch)
        u, v = net.user_embeddings(batch), net.item_embeddings(batch)
    torch.testing.assert_close(u.norm(dim=1), torch.ones(16))
    torch.testing.assert_close(scores, (u * v).sum(1) / 0.1)


# ----------------------------------------------------------------- model
@pytest.fixture(scope="module")
def clustered() -> pd.DataFrame:
    """60 users in 3 taste groups, each interacting with the 20 items of its group's cluster."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(60), 12)
    items = (users % 3) * 20 + rng.integers(0, 20, users.size)
    frame = pd.DataFrame({"userID": users, "itemID": items, "rating": 5.0})
    return frame.drop_duplicates(["userID", "itemID"]).reset_index(drop=True)


TOY = {
    "features": [{"name": "user", "column": "@user"}, {"name": "item", "column": "@item"}],
    "feature_groups": {"user": ["user"], "item": ["item"]},
    "default_embedding_dim": 8,
    "train": {
        "epochs": 30,
        "batch_size": 64,
        "progress": False,
        "num_threads": 1,
        "validation_fraction": 0.0,
        "early_stopping_metric": None,
        "optimizers": [{"name": "adam", "lr": 0.01}],
    },
}


@pytest.mark.parametrize("loss", ["in_batch_softmax", "sampled_softmax", "bpr"])
def test_each_loss_learns_the_taste_groups(clustered, loss):
    model = create_model(
        "dssm",
        **copy.deepcopy(TOY),
        model_config={"model_params": {"match": {"loss": loss, "num_negatives": 32}}},
    ).fit(clustered)
    top = model.recommend_k_items(
        clustered[["userID"]].drop_duplicates(), top_k=5, remove_seen=True
    )
    in_group = (top["itemID"] // 20) == (top["userID"] % 3)
    assert in_group.mean() > 0.9  # random: 1/3


@pytest.fixture(scope="module")
def fitted(clustered):
    return create_model("dssm", **copy.deepcopy(TOY)).fit(clustered)


def test_embeddings_similar_items_and_index(fitted, clustered, tmp_path):
    d = fitted.network_.embedding_dim
    assert fitted.item_vectors_.shape == (60, d)
    users = fitted.user_embeddings(pd.DataFrame({"userID": [0, 1, 999]}))
    assert users.shape == (3, d) and np.isfinite(users).all()
    np.testing.assert_allclose(
        fitted.item_embeddings(pd.DataFrame({"itemID": [5, 44]})),
        fitted.item_vectors_[fitted.item_ids_.get_indexer([5, 44])],
        rtol=1e-5,
    )
    similar = fitted.similar_items([3, 45], k=5)
    assert (similar["itemID"] != similar["similar_item"]).all()
    assert ((similar["similar_item"] // 20) == (similar["itemID"] // 20)).mean() > 0.9
    with pytest.raises(DataError, match="unknown item"):
        fitted.similar_items([1000])
    with pytest.raises(DataError, match="k must be between"):
        fitted.similar_items([3], k=60)
    # the index returns the model's own top-k
    index = fitted.build_index()
    ids, _ = index.search(fitted.user_embeddings(pd.DataFrame({"userID": [0, 1, 2]})), 5)
    top = fitted.recommend_k_items(pd.DataFrame({"userID": [0, 1, 2]}), top_k=5, remove_seen=False)
    assert [list(r) for r in ids] == [
        top.loc[top.userID == u, "itemID"].tolist() for u in (0, 1, 2)
    ]
    index.save(tmp_path / "index")
    from recutils.retrieval import IndexVersionError, load_index

    assert (
        load_index(tmp_path / "index", expected_model_version=fitted.model_version()).n_items == 60
    )
    with pytest.raises(IndexVersionError):
        load_index(tmp_path / "index", expected_model_version="another-model")


def test_save_load_keeps_the_embeddings(fitted, clustered, tmp_path):
    fitted.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_allclose(loaded.item_vectors_, fitted.item_vectors_, rtol=1e-6)
    assert loaded.model_version() == fitted.model_version()
    pd.testing.assert_frame_equal(
        loaded.predict(clustered.head(50)), fitted.predict(clustered.head(50))
    )


def test_a_tower_reading_the_other_side_is_refused(clustered):
    params = copy.deepcopy(TOY)
    params["feature_groups"] = {"user": ["user", "item"], "item": ["item"]}
    with pytest.raises(ConfigError, match="feature 'item'|listed twice|feed both"):
        create_model("dssm", **params).fit(clustered)
    params["feature_groups"] = {"user": ["item"], "item": ["user"]}
    with pytest.raises(ConfigError, match="feeds the user tower but is an item feature"):
        create_model("dssm", **params).fit(clustered)


def test_label_threshold_keeps_positive_rows_only(clustered):
    frame = clustered.assign(rating=np.where(np.arange(len(clustered)) % 2 == 0, 5.0, 1.0))
    with pytest.raises(DataError, match="no row has rating >= label_threshold"):
        create_model("dssm", **copy.deepcopy(TOY), label_threshold=6.0).fit(frame)
    model = create_model(
        "dssm",
        **{**copy.deepcopy(TOY), "train": {**TOY["train"], "epochs": 1}},
        label_threshold=4.0,
    ).fit(frame)
    assert model.item_vectors_.shape[0] == clustered["itemID"].nunique()


def test_recall_validator_by_hand():
    import scipy.sparse as sp

    from recutils.models.retrieval import RecallValidator

    class Stub(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def user_embeddings(self, batch):
            return batch["dense"][:, :2]

        def item_embeddings(self, batch):
            return batch["dense"][:, 2:]

    layout = BatchLayout(dense_features=["a", "b", "c", "d"])
    zeros2 = np.zeros(2, dtype=np.float32)
    users = {
        "a": np.array([1.0, 0.0], np.float32),
        "b": np.array([0.0, 1.0], np.float32),
        "c": zeros2,
        "d": zeros2,
    }
    zeros4 = np.zeros(4, dtype=np.float32)
    items = {
        "a": zeros4,
        "b": zeros4,
        "c": np.array([3, 2, 1, 0], np.float32),
        "d": np.array([0, 1, 2, 3], np.float32),
    }
    # user 0 prefers items 0 > 1 > 2 > 3 (item 0 seen); user 1 prefers 3 > 2 > 1 > 0 (nothing seen)
    seen = sp.csr_matrix(([1.0], ([0], [0])), shape=(2, 4))
    relevant = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 1, 1], [1, 3, 0])), shape=(2, 4))
    stub = Stub().train()
    value, extra = RecallValidator(users, relevant, seen, items, layout, k=1)(stub)
    assert value == pytest.approx((1 / 1 + 1 / 2) / 2) and extra == {}
    assert stub.training  # the mode is restored
    # k=3: user 0 finds its one item; user 1 finds item 3 but not item 0, its last choice
    assert RecallValidator(users, relevant, seen, items, layout, k=3)(stub)[0] == pytest.approx(
        (1 + 1 / 2) / 2
    )


def test_validation_recall_drives_early_stopping(clustered):
    params = copy.deepcopy(TOY)
    params["train"].update(
        {"validation_fraction": 0.2, "early_stopping_metric": "auc", "patience": 30, "epochs": 30}
    )
    model = create_model("dssm", **params, validation_k=5).fit(clustered)
    values = model.history_["valid_recall@5"]
    # 5 of about 52 unseen items: random about 0.1; every pick in the user's group: about 0.4
    assert values.between(0, 1).all() and values.max() > 0.25
    assert model.best_epoch_ == int(model.history_.loc[values.idxmax(), "epoch"])
    auc = create_model("dssm", **params, validation_metric="auc").fit(clustered)
    assert "valid_auc" in auc.history_.columns
    with pytest.raises(ConfigError, match="validation_metric 'ndcg'"):
        create_model("dssm", validation_metric="ndcg")
