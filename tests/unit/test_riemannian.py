"""RLRMC and GeoIMC: hand-written gradients, recovery of low-rank data, features, errors."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.exceptions import ConfigError, DataError, MissingDependencyError, NotFittedError
from recutils.models import create_model, load_model
from recutils.models.riemannian import RLRMC, GeoIMC, GeoIMCConfig, RLRMCConfig
from recutils.models.riemannian.common import ObservedLoss, random_start, spd_sqrt


def _low_rank(
    n_users: int = 60, n_items: int = 50, rank: int = 2, share: float = 0.5, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Ratings ``3 + P Q^T`` of a rank-``rank`` matrix; a ``share`` of the cells for training
    (every user and item keeps at least one), the rest for testing."""
    rng = np.random.default_rng(seed)
    full = 3.0 + rng.normal(size=(n_users, rank)) @ rng.normal(size=(rank, n_items))
    users, items = np.meshgrid(np.arange(n_users), np.arange(n_items), indexing="ij")
    mask = rng.random(full.shape) < share
    mask[np.arange(n_users), np.arange(n_users) % n_items] = True
    mask[np.arange(n_items) % n_users, np.arange(n_items)] = True
    frame = pd.DataFrame({"userID": users.ravel(), "itemID": items.ravel(), "rating": full.ravel()})
    return (
        frame[mask.ravel()].reset_index(drop=True),
        frame[~mask.ravel()].reset_index(drop=True),
        full,
    )


def _rmse(model, test: pd.DataFrame) -> float:
    pred = model.predict(test[["userID", "itemID"]])["prediction"].to_numpy()
    return float(np.sqrt(np.mean((pred - test["rating"].to_numpy()) ** 2)))


# ------------------------------------------------------------------ the loss (no pymanopt)
@pytest.mark.parametrize("features", [False, True])
def test_gradient_matches_finite_differences(features: bool) -> None:
    rng = np.random.default_rng(3)
    n_rows, n_cols, rank = 9, 7, 3
    y = sp.random(n_rows, n_cols, density=0.5, random_state=4, format="csr")
    left = sp.random(n_rows, 5, density=0.6, random_state=5, format="csr") if features else None
    right = rng.normal(size=(n_cols, 6)) if features else None
    p, q = (5, 6) if features else (n_rows, n_cols)
    loss = ObservedLoss(y, left, right, reg=0.3, weight=0.7)
    point = [rng.normal(size=(p, rank)), rng.normal(size=(rank, rank)), rng.normal(size=(q, rank))]
    point[1] = point[1] + point[1].T
    grads = loss.gradient(*point)
    eps = 1e-6
    for k, grad in enumerate(grads):
        direction = rng.normal(size=point[k].shape)
        if k == 1:
            direction = direction + direction.T
        plus = [x.copy() for x in point]
        minus = [x.copy() for x in point]
        plus[k] += eps * direction
        minus[k] -= eps * direction
        numeric = (loss.cost(*plus) - loss.cost(*minus)) / (2 * eps)
        assert np.isclose(numeric, float(np.sum(grad * direction)), rtol=1e-5, atol=1e-7)


def test_cost_is_the_weighted_squared_error_plus_the_penalty_on_b() -> None:
    y = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]))
    u, b, v = np.eye(2)[:, :1], np.array([[2.0]]), np.eye(2)[:, :1]
    # prediction u b v^T = [[2, 0], [0, 0]]: residuals 2 - 1 (cell 0,0) and 0 - 2 (cell 1,1)
    loss = ObservedLoss(y, None, None, reg=0.5, weight=0.25)
    assert loss.cost(u, b, v) == pytest.approx(0.5 * 0.25 * (1.0 + 4.0) + 0.5 * 0.5 * 4.0)


def test_cached_residuals_follow_the_point() -> None:
    y = sp.csr_matrix(np.array([[1.0, 2.0], [3.0, 4.0]]))
    loss = ObservedLoss(y, None, None, reg=0.0, weight=1.0)
    u, b, v = random_start(np.random.default_rng(0), 2, 2, 1)
    first = loss.cost(u, b, v)
    assert loss.cost(u, 2 * b, v) != first  # a new array is a new point
    assert loss.cost(u, b, v) == first


def test_random_start_is_on_the_manifold() -> None:
    u, b, v = random_start(np.random.default_rng(1), 20, 15, 4)
    assert np.allclose(u.T @ u, np.eye(4)) and np.allclose(v.T @ v, np.eye(4))
    assert np.allclose(b, b.T) and np.linalg.eigvalsh(b).min() >= 1.0 - 1e-9
    root = spd_sqrt(b)
    assert np.allclose(root @ root, b)


# ------------------------------------------------------------------- configs (no pymanopt)
@pytest.mark.parametrize(
    "bad",
    [
        {"rank": 0},
        {"regularization": -1.0},
        {"init": "pca"},
        {"max_iterations": 0},
        {"max_time": 0},
        {"num_threads": 0},
        {"mean_center": "yes"},
        {"seed": -1},
        {"tolerance": 1},
    ],
)
def test_rlrmc_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ConfigError):
        RLRMCConfig.from_dict(bad)


@pytest.mark.parametrize(
    "bad", [{"feature_sep": ""}, {"cold_start": 1}, {"normalize_features": None}, {"init": "svd"}]
)
def test_geoimc_config_rejects_bad_values(bad: dict) -> None:
    with pytest.raises(ConfigError):
        GeoIMCConfig.from_dict(bad)


def test_configs_round_trip_and_defaults_are_microsofts() -> None:
    rl, geo = RLRMCConfig(), GeoIMCConfig()
    assert (rl.rank, rl.regularization, rl.init, rl.max_iterations) == (10, 1e-3, "svd", 100)
    assert (geo.rank, geo.regularization, geo.normalize_features) == (300, 1e-3, True)
    assert (geo.max_iterations, geo.mean_center) == (150, False)
    assert RLRMCConfig.from_dict(rl.to_dict()) == rl
    assert GeoIMCConfig.from_dict(geo.to_dict()) == geo


def test_missing_pymanopt_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pymanopt", None)
    train, _, _ = _low_rank()
    with pytest.raises(MissingDependencyError, match="pymanopt"):
        RLRMC(rank=2, max_iterations=2).fit(train)


# ---------------------------------------------------------------------- fits (pymanopt)
@pytest.fixture
def pymanopt():
    return pytest.importorskip("pymanopt")


@pytest.mark.parametrize("init", ["svd", "random"])
def test_rlrmc_completes_a_low_rank_matrix(pymanopt, init: str) -> None:
    train, test, _ = _low_rank()
    model = RLRMC(rank=2, regularization=0.0, max_iterations=300, init=init, seed=0).fit(train)
    assert _rmse(model, test) < 0.05
    assert model.history_["iterations"] <= 300
    assert model.offset_ == pytest.approx(train["rating"].mean())


def test_rlrmc_scores_are_the_predicted_ratings_and_reproducible(pymanopt) -> None:
    train, test, _ = _low_rank(seed=1)
    a = RLRMC(rank=2, max_iterations=30, seed=5).fit(train)
    b = RLRMC(rank=2, max_iterations=30, seed=5).fit(train)
    pa = a.predict(test[["userID", "itemID"]])["prediction"].to_numpy()
    assert np.array_equal(pa, b.predict(test[["userID", "itemID"]])["prediction"].to_numpy())
    full = a._score_users(np.arange(a.n_users_))
    u = a.user_ids_.get_indexer(test["userID"])
    i = a.item_ids_.get_indexer(test["itemID"])
    assert np.allclose(full[u, i], pa)


def test_rank_larger_than_the_matrix_is_a_data_error(pymanopt) -> None:
    train = pd.DataFrame({"userID": [1, 1, 2], "itemID": [1, 2, 1], "rating": [5.0, 3.0, 4.0]})
    with pytest.raises(DataError, match="rank=3"):
        RLRMC(rank=3).fit(train)
    with pytest.raises(DataError, match="rank=3"):
        GeoIMC(rank=3).fit(train)


def test_not_fitted_and_duplicates(pymanopt) -> None:
    with pytest.raises(NotFittedError):
        RLRMC().predict(pd.DataFrame({"userID": [1], "itemID": [1]}))
    dup = pd.DataFrame({"userID": [1, 1], "itemID": [1, 1], "rating": [5.0, 3.0]})
    with pytest.raises(DataError, match="duplicate"):
        RLRMC(rank=1).fit(dup)


def _feature_world(seed: int = 0):
    """Ratings decided by features: ``rating = 3 + taste(user group) * kind(item group)``."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 80, 40
    user_group = rng.integers(0, 4, n_users)
    item_group = np.arange(n_items) % 4
    effect = np.array(
        [
            [1.5, -1.5, 0.5, -0.5],
            [-1.5, 1.5, -0.5, 0.5],
            [0.5, -0.5, 1.5, -1.5],
            [-0.5, 0.5, -1.5, 1.5],
        ]
    )
    cells = [
        (u, i, 3.0 + effect[user_group[u], item_group[i]])
        for u in range(n_users)
        for i in range(n_items)
        if rng.random() < 0.4
    ]
    df = pd.DataFrame(cells, columns=["userID", "itemID", "rating"])
    users = pd.DataFrame({"userID": np.arange(n_users), "group": user_group.astype(str)})
    items = pd.DataFrame(
        {
            "itemID": np.arange(n_items + 4),  # 4 items never rated
            "kind": (np.arange(n_items + 4) % 4).astype(str),
        }
    )
    return df, users, items, effect, user_group


def test_geoimc_learns_from_features_and_scores_cold_items(pymanopt) -> None:
    df, users, items, effect, user_group = _feature_world()
    model = GeoIMC(
        rank=4,
        regularization=0.0,
        mean_center=True,
        max_iterations=300,
        user_identity_features=False,
        item_identity_features=False,
        min_gradient_norm=0.0,
        seed=0,
    ).fit(df, user_features=users, item_features=items)
    assert sorted(model.cold_items_) == [40, 41, 42, 43]
    assert model.user_feature_names_ == [f"group={g}" for g in "0123"]
    cold = pd.DataFrame(
        {"userID": np.repeat(np.arange(80), 4), "itemID": np.tile([40, 41, 42, 43], 80)}
    )
    pred = model.predict(cold)["prediction"].to_numpy()
    truth = 3.0 + effect[np.repeat(user_group, 4), np.tile([0, 1, 2, 3], 80)]
    assert np.sqrt(np.mean((pred - truth) ** 2)) < 0.05
    # a cold item can be recommended: the user's best kind among the unseen items
    top = model.recommend_k_items([0], top_k=50, remove_seen=True)
    assert set(top["itemID"]) >= {40, 41, 42, 43}


def test_geoimc_without_features_uses_identities(pymanopt) -> None:
    train, test, _ = _low_rank(n_users=40, n_items=30)
    model = GeoIMC(
        rank=2,
        regularization=0.0,
        mean_center=True,
        max_iterations=400,
        min_gradient_norm=0.0,
        seed=0,
    ).fit(train)
    assert len(model.user_feature_names_) == 40  # one indicator per user
    assert _rmse(model, test) < 0.3
    with pytest.raises(DataError, match="needs item features"):
        GeoIMC(rank=2, item_identity_features=False).fit(train)


def test_geoimc_feature_frames_are_checked(pymanopt) -> None:
    df, users, items, _, _ = _feature_world()
    with pytest.raises(DataError, match="lacks"):
        GeoIMC(rank=2).fit(df, user_features=users.iloc[1:])
    with pytest.raises(DataError, match="repeated"):
        GeoIMC(rank=2).fit(df, item_features=pd.concat([items, items.head(1)]))
    with pytest.raises(DataError, match="DataFrame"):
        GeoIMC(rank=2).fit(df, user_features=users.to_numpy())


def test_geoimc_save_load_keeps_cold_items_and_scores(pymanopt, tmp_path) -> None:
    df, users, items, _, _ = _feature_world(1)
    model = create_model("geoimc", rank=3, max_iterations=20, seed=2).fit(
        df, user_features=users, item_features=items
    )
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, GeoIMC)
    assert list(loaded.cold_items_) == list(model.cold_items_)
    pairs = pd.DataFrame({"userID": [0, 1, 2], "itemID": [41, 3, 42]})
    assert np.array_equal(loaded.predict(pairs)["prediction"], model.predict(pairs)["prediction"])
    assert loaded.history_ == model.history_
