"""CoMetricLearningI2I (an item-to-item MatchModel): circle loss, session pairs, the
item-to-item config checks, what it learns, the next-click protocol, embeddings, index,
save/load and its preset."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recutils.benchmark.next_click import NextClickScorer, evaluate_next_click  # noqa: E402
from recutils.exceptions import ConfigError, DataError, NotFittedError  # noqa: E402
from recutils.models import create_model, get_model_class  # noqa: E402
from recutils.models.base import BaseRecommender  # noqa: E402
from recutils.models.retrieval.comet_i2i import (  # noqa: E402
    PRESET,
    CoMetricLearningI2I,
    session_pairs,
)
from recutils.nn.config import MatchConfig  # noqa: E402
from recutils.nn.config_io import read_mapping  # noqa: E402
from recutils.nn.losses import circle_loss  # noqa: E402

FAST = {
    "embedding_dim": 8,
    "n_epochs": 30,
    "batch_size": 32,
    "learning_rate": 0.05,
    "seed": 3,
    "num_threads": 1,
    "progress": False,
}


def _sessions(n_sessions: int = 120, length: int = 4, seed: int = 0) -> pd.DataFrame:
    """Sessions that click only inside one of two item groups (0-4 or 5-9)."""
    rng = np.random.default_rng(seed)
    group = np.arange(n_sessions) % 2
    items = rng.integers(0, 5, size=(n_sessions, length)) + 5 * group[:, None]
    return pd.DataFrame(
        {
            "userID": np.repeat(np.arange(n_sessions), length),
            "itemID": items.ravel(),
            "timestamp": np.tile(np.arange(length, dtype=float), n_sessions),
        }
    )


@pytest.fixture(scope="module")
def fitted() -> CoMetricLearningI2I:
    return CoMetricLearningI2I(**FAST).fit(_sessions())


def test_circle_loss_matches_the_formula():
    v = torch.nn.functional.normalize(
        torch.tensor([[1.0, 0.2], [0.8, 0.6], [-0.3, 1.0], [0.1, -1.0]]), dim=1
    )
    labels = torch.tensor([0, 0, 1, 1])
    items = torch.tensor([1, 2, 3, 4])
    m, gamma = 0.25, 8.0
    s = (v @ v.T).numpy()
    expected = []
    for i in range(4):
        pos = [j for j in range(4) if j != i and labels[j] == labels[i]]
        neg = [j for j in range(4) if labels[j] != labels[i]]
        sum_n = sum(math.exp(gamma * max(s[i, j] + m, 0) * (s[i, j] - m)) for j in neg)
        sum_p = sum(math.exp(-gamma * max(1 + m - s[i, j], 0) * (s[i, j] - 1 + m)) for j in pos)
        expected.append(math.log1p(sum_n * sum_p))
    got = circle_loss(v, labels, items, m, gamma)
    assert got.item() == pytest.approx(np.mean(expected), rel=1e-5)
    # a negative that is the anchor's own item is not a negative
    same_item = circle_loss(v, labels, torch.tensor([1, 2, 1, 4]), m, gamma)
    assert same_item.item() != pytest.approx(got.item())
    with pytest.raises(DataError, match="labels shape"):
        circle_loss(v, labels[:3], items, m, gamma)


def test_the_old_import_path_of_circle_loss_still_resolves():
    from recutils.models.retrieval import comet_i2i

    assert comet_i2i.circle_loss is circle_loss


def test_session_pairs_within_the_window_and_never_across_sessions():
    sessions = np.array([0, 0, 0, 1, 1])
    items = np.array([5, 6, 5, 7, 8])
    a, p = session_pairs(sessions, items, window=2)
    assert sorted(zip(a.tolist(), p.tolist())) == [(5, 6), (6, 5), (7, 8)]  # (5, 5) left out


def test_learns_that_items_of_a_group_are_similar(fitted):
    v = fitted.item_embeddings(pd.DataFrame({"itemID": np.arange(10)}))
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)
    sim = v @ v.T
    group = np.arange(10) // 5
    same = group[:, None] == group[None, :]
    off = ~np.eye(10, dtype=bool)
    assert sim[same & off].mean() > sim[~same].mean() + 0.5
    near = fitted.similar_items([0, 7], k=4)
    assert list(near.columns) == ["itemID", "similar_item", "score", "rank"]
    assert set(near[near["itemID"] == 0]["similar_item"]) == {1, 2, 3, 4}
    assert set(near[near["itemID"] == 7]["similar_item"]) == {5, 6, 8, 9}


def test_score_histories_is_the_next_click_protocol(fitted):
    assert isinstance(fitted, NextClickScorer)
    v = fitted.item_vectors_
    col = fitted.item_ids_.get_indexer
    scores = fitted.score_histories([np.array([1, 99, 2]), np.array([8])])
    decay = fitted.config.history_decay
    np.testing.assert_allclose(
        scores[0], (v[col([2])[0]] + decay * v[col([1])[0]]) @ v.T, rtol=1e-5
    )
    np.testing.assert_allclose(scores[1], v[col([8])[0]] @ v.T, rtol=1e-5)
    with pytest.raises(DataError, match="empty"):
        fitted.score_histories([np.array([], dtype=int)])
    test = _sessions(20, seed=9)
    assert evaluate_next_click(fitted, test, k=5)["HR@5"] > 0.8  # the five items of the group
    with pytest.raises(NotFittedError):
        CoMetricLearningI2I().score_histories([np.array([1])])


def test_recommendations_follow_the_users_recent_items(fitted):
    rec = fitted.recommend_k_items([0, 1], top_k=3, remove_seen=False)
    for user, lo in ((0, 0), (1, 5)):  # session 0 clicked group 0, session 1 group 1
        assert set(rec[rec["userID"] == user]["itemID"]) <= set(range(lo, lo + 5))


def test_user_embeddings_reproduce_the_recommendation_scores_and_an_index_top_k(fitted):
    users = pd.DataFrame({"userID": [0, 1, 7]})
    vectors = fitted.user_embeddings(users)
    assert vectors.shape == (3, 8) and vectors.dtype == np.float32
    expected = fitted._score_users(fitted.user_ids_.get_indexer(users["userID"]))
    np.testing.assert_allclose(vectors @ fitted.item_vectors_.T, expected, rtol=1e-5, atol=1e-5)
    ids, _ = fitted.build_index().search(vectors, 3)
    top = fitted.recommend_k_items([0, 1, 7], top_k=3, remove_seen=False)
    for row, user in zip(ids, [0, 1, 7]):
        assert set(row) == set(top[top["userID"] == user]["itemID"])
    with pytest.raises(DataError, match="unknown user.*score_histories"):
        fitted.user_embeddings(pd.DataFrame({"userID": [10_000]}))


def test_recent_items_are_the_last_clicks_in_time_order():
    df = pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2],
            "itemID": [3, 4, 5, 4, 3],
            "timestamp": [2.0, 1.0, 3.0, 0.0, 1.0],
        }
    )
    model = CoMetricLearningI2I(**{**FAST, "n_epochs": 1, "history_len": 2}).fit(df)
    recent = [
        model.item_ids_[model.recent_items_[a:b]].tolist()
        for a, b in zip(model.recent_indptr_[:-1], model.recent_indptr_[1:])
    ]
    users = model.user_ids_.tolist()
    assert recent[users.index(1)] == [3, 5]
    assert recent[users.index(2)] == [4, 3]


def test_index_save_load_and_registry(fitted, tmp_path):
    index = fitted.build_index()
    ids, _ = index.search(fitted.item_vectors_[:2], 3)
    assert ids[:, 0].tolist() == fitted.item_ids_[:2].tolist()
    fitted.save(tmp_path / "m")
    loaded = BaseRecommender.load(tmp_path / "m")
    histories = [np.array([1, 2]), np.array([9])]
    np.testing.assert_allclose(loaded.score_histories(histories), fitted.score_histories(histories))
    assert loaded.model_version() == fitted.model_version()
    assert get_model_class("comet_i2i") is CoMetricLearningI2I
    with pytest.raises(DataError, match="unknown item"):
        fitted.item_embeddings(pd.DataFrame({"itemID": [99]}))


def test_preset_and_config_checks():
    model = CoMetricLearningI2I(PRESET)
    c = model.config
    match = c.model_config.model_params.match
    assert (
        model.config.to_dict() == CoMetricLearningI2I().config.to_dict()
    )  # the preset is the default
    assert (match.loss, match.similarity, match.user_block, match.margin, match.gamma) == (
        "circle",
        "cosine",
        "",
        0.25,
        64.0,
    )
    assert (
        c.window,
        c.train.epochs,
        c.default_embedding_dim,
        c.train.optimizers[0].lr,
        c.train.batch_size,
        c.history_decay,
        c.history_len,
    ) == (1, 20, 64, 0.005, 512, 0.5, 10)
    with pytest.raises(ConfigError, match="history_decay"):
        CoMetricLearningI2I(history_decay=1.5)
    with pytest.raises(ConfigError, match="early_stopping_metric"):
        CoMetricLearningI2I(train={"early_stopping_metric": "auc"})
    with pytest.raises(ConfigError, match="gamma"):
        CoMetricLearningI2I(gamma=0.0)
    with pytest.raises(DataError, match="two different items"):
        CoMetricLearningI2I(**FAST).fit(
            pd.DataFrame({"userID": [1, 2], "itemID": [1, 1], "timestamp": [0, 1]})
        )


def test_flat_hyper_parameters_land_in_the_config():
    c = CoMetricLearningI2I(
        embedding_dim=8,
        n_epochs=3,
        batch_size=7,
        learning_rate=0.1,
        weight_decay=0.01,
        margin=0.3,
        gamma=32.0,
    ).config
    match = c.model_config.model_params.match
    assert (
        c.default_embedding_dim,
        c.train.epochs,
        c.train.batch_size,
        match.margin,
        match.gamma,
    ) == (8, 3, 7, 0.3, 32.0)
    assert [(o.lr, o.weight_decay) for o in c.train.optimizers] == [(0.1, 0.01)]
    made = create_model(
        "comet_i2i", n_epochs=2, num_threads=1, progress=False
    )  # the registry accepts them
    assert made.config.train.epochs == 2


def test_match_config_item_to_item_mode_is_circle_loss_without_a_user_tower():
    item_only = MatchConfig(item_block="items", loss="circle", similarity="cosine")
    assert item_only.item_to_item and not MatchConfig(user_block="u", item_block="i").item_to_item
    with pytest.raises(ConfigError, match="user_block"):
        MatchConfig(user_block="users", item_block="items", loss="circle", similarity="cosine")
    with pytest.raises(ConfigError, match="loss: circle"):
        MatchConfig(item_block="items", loss="in_batch_softmax")
    with pytest.raises(ConfigError, match="similarity: cosine"):
        MatchConfig(item_block="items", loss="circle", similarity="dot")
    with pytest.raises(ConfigError, match="item_block"):
        MatchConfig(item_block="", loss="circle", similarity="cosine")


def test_the_network_has_the_item_tower_only(fitted):
    network = fitted.network_
    assert network.user_groups == [] and network.item_groups == ["item"]
    with pytest.raises(ConfigError, match="no user tower"):
        network.user_embeddings({})
    pairs = {"item_index": torch.tensor([0, 1]), "positive_index": torch.tensor([1, 7])}
    with torch.no_grad():
        scores = network.eval()(pairs).numpy()  # eval mode: each (anchor, positive) pair's cosine
    v = fitted.item_vectors_
    np.testing.assert_allclose(scores, [v[0] @ v[1], v[1] @ v[7]], rtol=1e-5, atol=1e-6)


def _config_with(item_features: list[str], tower: dict | None = None) -> dict:
    cfg = read_mapping(PRESET)
    cfg["model_config"]["feature_groups"][0]["feature_names"] = item_features
    if tower is not None:
        cfg["model_config"]["backbone"]["blocks"][0] = {
            "name": "item_tower",
            "inputs": [{"feature_group_name": "item"}],
            "layer": tower,
        }
    return cfg


def test_an_mlp_item_tower_gives_its_last_width():
    cfg = _config_with(
        ["item_id"],
        {"class_name": "MLP", "params": {"hidden_units": [16, 6], "use_final_bn": False}},
    )
    model = CoMetricLearningI2I(cfg, **{**FAST, "n_epochs": 1}).fit(_sessions(10))
    assert model.item_vectors_.shape == (10, 6)
    np.testing.assert_allclose(np.linalg.norm(model.item_vectors_, axis=1), 1.0, rtol=1e-5)


def test_item_content_features_feed_the_tower_and_survive_save_load(tmp_path):
    df = _sessions(40)
    df["category"] = np.where(df["itemID"] < 5, "x", "y")  # an item-side column of the frame
    cfg = _config_with(["item_id", "category"])
    cfg["features"].append({"name": "category", "side": "item"})
    model = CoMetricLearningI2I(cfg, **{**FAST, "n_epochs": 2}).fit(df)
    assert model.network_.item_groups == ["item"] and model.item_table_.keys() == {
        "item_id",
        "category",
    }
    plain = CoMetricLearningI2I(**{**FAST, "n_epochs": 2}).fit(df)
    assert model.item_vectors_.shape == (10, 16)  # two 8-wide embeddings, concatenated
    assert plain.item_vectors_.shape == (10, 8)
    model.save(tmp_path / "m")
    loaded = BaseRecommender.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.item_vectors_, model.item_vectors_)
    histories = [np.array([1, 2])]
    np.testing.assert_allclose(loaded.score_histories(histories), model.score_histories(histories))
    with pytest.raises(
        ConfigError, match="category"
    ):  # a feature of the item tower must be an item feature
        bad = _config_with(["item_id", "category"])
        bad["features"].append({"name": "category"})
        CoMetricLearningI2I(bad, **{**FAST, "n_epochs": 1}).fit(df)
