"""surprise wrappers: vectorized scores equal surprise's own ``predict``; policies and errors."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError, DataWarning, MissingDependencyError
from recutils.models import create_model, load_model
from recutils.models.surprise import (
    SurpriseKNNBaseline,
    SurpriseNMF,
    SurpriseSVD,
    SurpriseSVDConfig,
    SurpriseSVDpp,
)
from recutils.testing import toy_interactions

pytest.importorskip("surprise")


def _ratings(
    n_users: int = 40, n_items: int = 25, density: float = 0.35, seed: int = 3
) -> pd.DataFrame:
    """Random ratings on 1..5 in a shuffled row order (so surprise's inner ids differ)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[:, 0] = True  # every user rates something
    mask[0, :] = True  # every item is rated
    u, i = np.nonzero(mask)
    df = pd.DataFrame(
        {
            "userID": u * 7 + 100,
            "itemID": i * 3 + 5,
            "rating": rng.integers(1, 6, u.size).astype(float),
        }
    )
    return df.sample(frac=1.0, random_state=1).reset_index(drop=True)


def _all_pairs(df: pd.DataFrame) -> pd.DataFrame:
    users, items = df["userID"].unique(), df["itemID"].unique()
    return pd.DataFrame(
        {"userID": np.repeat(users, items.size), "itemID": np.tile(items, users.size)}
    )


def _surprise_estimates(model, pairs: pd.DataFrame, clip: bool) -> np.ndarray:
    u = model.user_ids_.get_indexer(pairs["userID"])
    i = model.item_ids_.get_indexer(pairs["itemID"])
    return np.array([model.algo_.predict(int(a), int(b), clip=clip).est for a, b in zip(u, i)])


MODELS = {
    "svd": (SurpriseSVD, {"n_factors": 6, "n_epochs": 10, "seed": 1}),
    "svd_unbiased": (SurpriseSVD, {"n_factors": 6, "n_epochs": 10, "biased": False, "seed": 1}),
    "svdpp": (SurpriseSVDpp, {"n_factors": 5, "n_epochs": 5, "seed": 2}),
    "nmf": (SurpriseNMF, {"n_factors": 4, "n_epochs": 20, "seed": 3}),
    "nmf_biased": (SurpriseNMF, {"n_factors": 4, "n_epochs": 20, "biased": True, "seed": 3}),
    "knn_user_msd": (SurpriseKNNBaseline, {"k": 5}),
    "knn_item_msd": (SurpriseKNNBaseline, {"k": 4, "sim_options": {"user_based": False}}),
    "knn_item_pb": (
        SurpriseKNNBaseline,
        {
            "k": 6,
            "min_k": 3,
            "sim_options": {"name": "pearson_baseline", "user_based": False, "shrinkage": 10},
        },
    ),
    "knn_user_pb_sgd": (
        SurpriseKNNBaseline,
        {
            "k": 8,
            "min_k": 2,
            "sim_options": {"name": "pearson_baseline", "user_based": True},
            "bsl_options": {"method": "sgd", "n_epochs": 5},
        },
    ),
    "knn_user_cosine_bigk": (SurpriseKNNBaseline, {"k": 100, "sim_options": {"name": "cosine"}}),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_vectorized_scores_equal_surprise_predict(name: str) -> None:
    cls, params = MODELS[name]
    df = _ratings()
    model = cls(**params).fit(df)
    pairs = _all_pairs(df)  # seen and unseen pairs
    # predict: clipped like surprise's predict(clip=True)
    got = model.predict(pairs)["prediction"].to_numpy()
    np.testing.assert_allclose(got, _surprise_estimates(model, pairs, clip=True), rtol=0, atol=1e-9)
    # the ranking scores: unclipped, equal to predict(clip=False)
    rows = model._score_users(np.arange(model.n_users_))
    u = model.user_ids_.get_indexer(pairs["userID"])
    i = model.item_ids_.get_indexer(pairs["itemID"])
    np.testing.assert_allclose(
        rows[u, i], _surprise_estimates(model, pairs, clip=False), rtol=0, atol=1e-9
    )


def test_knn_min_k_and_ties_are_surprise_rules() -> None:
    # msd on integer ratings has many exact ties; min_k large forces baseline-only rows
    df = _ratings(n_users=30, n_items=12, density=0.5, seed=9)
    for user_based in (True, False):
        model = SurpriseKNNBaseline(k=3, min_k=3, sim_options={"user_based": user_based}).fit(df)
        pairs = _all_pairs(df)
        got = model.predict(pairs)["prediction"].to_numpy()
        np.testing.assert_allclose(got, _surprise_estimates(model, pairs, clip=True), atol=1e-9)
        # the vectorized ranking kernel breaks the ties as surprise does (list order)
        rows = model._score_users(np.arange(model.n_users_))
        u = model.user_ids_.get_indexer(pairs["userID"])
        i = model.item_ids_.get_indexer(pairs["itemID"])
        np.testing.assert_allclose(
            rows[u, i], _surprise_estimates(model, pairs, clip=False), rtol=0, atol=1e-9
        )
        # and ranks a subset of users (in any order, repeated) as it ranks them all
        some = np.array([5, 0, 5, 17])
        np.testing.assert_array_equal(model._score_users(some), rows[some])


def test_save_load_without_surprise_object(tmp_path) -> None:
    df = _ratings()
    for cls, params in (MODELS["svdpp"], MODELS["knn_item_pb"], MODELS["knn_user_msd"]):
        model = cls(**params).fit(df)
        model.save(tmp_path / cls.name)
        loaded = load_model(tmp_path / cls.name)
        assert type(loaded) is cls and "algo_" not in loaded.__dict__
        pairs = _all_pairs(df)
        pd.testing.assert_frame_equal(model.predict(pairs), loaded.predict(pairs))
        pd.testing.assert_frame_equal(
            model.recommend_k_items(df, top_k=4), loaded.recommend_k_items(df, top_k=4)
        )


def test_recommendations_rank_unseen_items_by_score() -> None:
    df = _ratings()
    model = SurpriseSVD(n_factors=6, n_epochs=10, seed=1).fit(df)
    rec = model.recommend_k_items(df, top_k=25)
    user = df["userID"].iloc[0]
    mine = rec[rec["userID"] == user]
    unseen = set(df["itemID"]) - set(df.loc[df["userID"] == user, "itemID"])
    assert set(mine["itemID"]) == unseen
    pred = model.predict(mine[["userID", "itemID"]].reset_index(drop=True))
    # predict is clipped, the ranking scores are not: they agree wherever in scale
    inside = mine["prediction"].between(1, 5).to_numpy()
    np.testing.assert_allclose(
        pred["prediction"].to_numpy()[inside], mine["prediction"].to_numpy()[inside], atol=1e-12
    )


def test_clip_ranking_clips_recommendation_scores() -> None:
    df = _ratings()
    model = SurpriseSVD(n_factors=6, n_epochs=30, lr_all=0.05, seed=1, clip_ranking=True).fit(df)
    rec = model.recommend_k_items(df, top_k=25, remove_seen=False)
    assert rec["prediction"].between(1, 5).all()


def test_unknown_user_gets_surprise_unknown_user_estimate() -> None:
    df = _ratings()
    model = SurpriseSVD(n_factors=4, n_epochs=5, seed=0).fit(df)
    with pytest.warns(DataWarning):
        rec = model.recommend_k_items([-1], top_k=3)
    best = model.item_ids_[np.argsort(-model.item_bias_, kind="stable")[:3]]
    assert rec["itemID"].tolist() == best.tolist()
    expected = model.algo_.predict("nobody", 0, clip=False).est  # mu + b_i of item code 0
    assert expected == pytest.approx(model.global_mean_ + model.item_bias_[0], abs=1e-12)
    unbiased = SurpriseNMF(n_factors=3, n_epochs=3, seed=0).fit(df)
    with pytest.warns(DataWarning, match="skipped"):
        assert unbiased.recommend_k_items([-1], top_k=3).empty


@pytest.mark.parametrize("scale", [(1, 5), (2.0, 5.0)])
def test_ratings_outside_the_scale_raise(scale) -> None:
    df = _ratings()
    df.loc[3, "rating"] = 0.5 if scale == (1, 5) else 1.0
    with pytest.raises(DataError, match="outside rating_scale"):
        SurpriseSVD(rating_scale=scale, n_epochs=1).fit(df)


def test_rating_scale_none_uses_training_range() -> None:
    df = _ratings()
    df["rating"] = df["rating"] * 2  # 2..10
    model = SurpriseSVD(rating_scale=None, n_epochs=2, seed=0).fit(df)
    assert model.rating_scale_ == (2.0, 10.0)
    assert model.predict(df)["prediction"].between(2, 10).all()
    with pytest.raises(DataError, match="rating_scale"):
        SurpriseSVD(n_epochs=2).fit(df)  # default (1, 5)


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="allowed"):
        SurpriseSVD(n_factor=3)  # typo
    with pytest.raises(ConfigError, match="rating_scale"):
        SurpriseSVD(rating_scale=(5, 1))
    with pytest.raises(ConfigError, match="n_factors"):
        SurpriseSVD(n_factors=0)
    with pytest.raises(ConfigError, match="pearson_baseline"):
        SurpriseKNNBaseline(sim_options={"name": "euclid"})
    with pytest.raises(ConfigError, match="allowed"):
        SurpriseKNNBaseline(bsl_options={"methd": "als"})
    cfg = SurpriseSVDConfig(n_factors=7, rating_scale=[0, 10])
    assert SurpriseSVDConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.algo_kwargs()["random_state"] is None and "seed" not in cfg.algo_kwargs()


def test_duplicates_raise() -> None:
    df = _ratings()
    with pytest.raises(DataError, match="duplicate"):
        SurpriseSVD(n_epochs=1).fit(pd.concat([df, df.iloc[:2]]))


def test_registry_names() -> None:
    for name, cls in (
        ("surprise_svd", SurpriseSVD),
        ("surprise_svdpp", SurpriseSVDpp),
        ("surprise_nmf", SurpriseNMF),
        ("surprise_knnbaseline", SurpriseKNNBaseline),
    ):
        assert type(create_model(name)) is cls


def test_missing_surprise_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "surprise", None)  # import surprise -> ImportError
    with pytest.raises(MissingDependencyError, match=r"recutils\[surprise\]"):
        SurpriseSVD(n_epochs=1).fit(toy_interactions())
    model = SurpriseSVD()  # constructing (and importing recutils) still works
    assert model.config.n_factors == 100


def test_seed_makes_fits_identical_and_other_seeds_differ() -> None:
    df = _ratings()
    a = SurpriseSVD(n_factors=4, n_epochs=3, seed=5).fit(df)
    b = SurpriseSVD(n_factors=4, n_epochs=3, seed=5).fit(df)
    c = SurpriseSVD(n_factors=4, n_epochs=3, seed=6).fit(df)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    assert not np.allclose(a.user_factors_, c.user_factors_)


def test_no_print(capsys) -> None:
    df = _ratings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SurpriseKNNBaseline(sim_options={"name": "pearson_baseline"}).fit(df)
    assert capsys.readouterr().out == ""
