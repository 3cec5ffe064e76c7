"""LightFM wrapper: scores equal LightFM's own predict, features, cold-start items, errors."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import (
    ColumnMismatchError,
    ConfigError,
    DataError,
    MissingDependencyError,
    NotFittedError,
)
from recutils.models import create_model, load_model
from recutils.models.lightfm import (
    LOSSES,
    LightFMConfig,
    LightFMRecommender,
    build_feature_matrix,
    movielens_item_features,
    movielens_user_features,
)
from recutils.testing import toy_interactions

pytest.importorskip("lightfm")


def _genre_world(n_users: int = 120, n_items: int = 60, per_user: int = 12, seed: int = 0):
    """Users prefer one of two genres; 90% of their interactions are in it."""
    rng = np.random.default_rng(seed)
    item_genre = np.where(np.arange(n_items) % 2 == 0, "A", "B")
    user_pref = np.where(rng.random(n_users) < 0.5, "A", "B")
    rows = []
    for u in range(n_users):
        same = np.flatnonzero(item_genre == user_pref[u])
        other = np.flatnonzero(item_genre != user_pref[u])
        n_same = int(round(per_user * 0.9))
        items = np.concatenate(
            [
                rng.choice(same, n_same, replace=False),
                rng.choice(other, per_user - n_same, replace=False),
            ]
        )
        rows += [(u, i, float(rng.integers(3, 6))) for i in items]
    df = pd.DataFrame(rows, columns=["userID", "itemID", "rating"])
    items = pd.DataFrame(
        {
            "itemID": np.arange(n_items),
            "genre": item_genre,
            "year": np.where(np.arange(n_items) < n_items // 2, "old", "new"),
        }
    )
    users = pd.DataFrame({"userID": np.arange(n_users), "pref_hint": user_pref})
    return df, items, users, user_pref, item_genre


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("features", [False, True])
def test_vectorized_scores_equal_lightfm_predict(loss: str, features: bool) -> None:
    df, items, users, _, _ = _genre_world()
    kw = {"item_features": items, "user_features": users} if features else {}
    model = LightFMRecommender(
        loss=loss,
        no_components=8,
        epochs=3,
        seed=1,
        positive_threshold=4 if loss == "logistic" else None,
    ).fit(df, **kw)
    interactions, weights, uf, itf, u_lf, i_lf = model._train_inputs
    u = np.repeat(np.arange(model.n_users_), model.n_items_)
    i = np.tile(np.arange(model.n_items_), model.n_users_)
    ref = model.model_.predict(
        u_lf[u].astype(np.int32),
        i_lf[i].astype(np.int32),
        user_features=uf,
        item_features=itf,
        num_threads=1,
    )
    got = model._score_users(np.arange(model.n_users_)).ravel()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    pairs = pd.DataFrame({"userID": model.user_ids_[u], "itemID": model.item_ids_[i]})
    np.testing.assert_allclose(
        model.predict(pairs)["prediction"].to_numpy(), ref, rtol=1e-5, atol=1e-5
    )


def test_cold_start_items_are_scored_from_features_better_than_chance() -> None:
    df, items, users, user_pref, item_genre = _genre_world()
    cold = np.arange(40, 60)  # never seen in training
    train = df[~df["itemID"].isin(cold)]
    model = LightFMRecommender(
        loss="warp", no_components=8, epochs=20, seed=0, learning_rate=0.05
    ).fit(train, item_features=items)
    assert sorted(model.cold_items_.tolist()) == cold.tolist()
    assert model.n_items_ == 60
    # every user gets a ranking of the cold items; AUC of "preferred genre" vs not
    rec = model.recommend_k_items(np.arange(120), top_k=60)
    assert set(cold) <= set(rec["itemID"])
    pairs = pd.DataFrame(
        {"userID": np.repeat(np.arange(120), cold.size), "itemID": np.tile(cold, 120)}
    )
    scores = model.predict(pairs)["prediction"].to_numpy().reshape(120, cold.size)
    aucs = []
    for u in range(120):
        good = item_genre[cold] == user_pref[u]
        diff = scores[u][good][:, None] - scores[u][~good][None, :]
        aucs.append((diff > 0).mean() + 0.5 * (diff == 0).mean())
    assert np.mean(aucs) > 0.8, np.mean(aucs)
    # pure CF cannot tell: without features the cold items are unknown
    cf = LightFMRecommender(no_components=8, epochs=5, seed=0).fit(train)
    assert cf.n_items_ == 40


def test_hybrid_beats_pure_cf_on_held_out_pairs() -> None:
    df, items, users, _, _ = _genre_world(per_user=6, seed=2)
    rng = np.random.default_rng(0)
    test_mask = rng.random(len(df)) < 0.3
    train, test = df[~test_mask], df[test_mask]
    # users with all interactions in test are unknown to both models
    test = test[test["userID"].isin(train["userID"])]

    def hit_rate(model: LightFMRecommender) -> float:
        rec = model.recommend_k_items(test, top_k=10)
        hits = rec.merge(test, on=["userID", "itemID"])
        return len(hits) / len(test)

    params = {"no_components": 8, "epochs": 15, "seed": 0}
    cf = LightFMRecommender(**params).fit(train)
    hybrid = LightFMRecommender(**params).fit(train, item_features=items, user_features=users)
    assert hit_rate(hybrid) > hit_rate(cf)


def test_feature_frames_missing_ids_or_columns_raise() -> None:
    df, items, users, _, _ = _genre_world()
    with pytest.raises(DataError, match=r"item_features lacks 5 of the 60 item id"):
        LightFMRecommender(epochs=1, cold_start=False).fit(df, item_features=items.iloc[5:])
    with pytest.raises(DataError, match=r"user_features lacks 1 of"):
        LightFMRecommender(epochs=1).fit(df, user_features=users.iloc[1:])
    with pytest.raises(DataError, match="repeated"):
        LightFMRecommender(epochs=1).fit(df, item_features=pd.concat([items, items.iloc[:1]]))
    with pytest.raises(ColumnMismatchError, match="itemID"):
        LightFMRecommender(epochs=1).fit(df, item_features=items.rename(columns={"itemID": "x"}))
    with pytest.raises(DataError, match="DataFrame"):
        LightFMRecommender(epochs=1).fit(df, item_features=items.to_numpy())
    with pytest.raises(DataError, match="no item features"):
        LightFMRecommender(epochs=1, item_identity_features=False).fit(df)


def test_unknown_loss_lists_the_allowed_ones() -> None:
    with pytest.raises(
        ConfigError,
        match=r"unknown loss 'wrap'; allowed: \['warp', 'bpr', "
        r"'logistic', 'warp-kos'\]",
    ):
        LightFMRecommender(loss="wrap")
    with pytest.raises(ConfigError, match="allowed"):
        LightFMRecommender(learning_schedule="sgd")
    with pytest.raises(ConfigError, match="warp-kos"):
        LightFMRecommender(loss="warp-kos", use_sample_weight=True)
    with pytest.raises(ConfigError, match="num_threads"):
        LightFMRecommender(num_threads=0)
    with pytest.raises(ConfigError, match="allowed"):
        LightFMRecommender(n_components=3)
    cfg = LightFMConfig(loss="bpr", seed=3)
    assert LightFMConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.lightfm_kwargs()["random_state"] == 3


def test_threads_and_seed_are_passed_to_lightfm(monkeypatch) -> None:
    import lightfm

    seen: dict = {}
    original = lightfm.LightFM.fit_partial
    original_init = lightfm.LightFM.__init__

    def spy(self, *args, **kwargs):
        seen["num_threads"] = kwargs["num_threads"]
        return original(self, *args, **kwargs)

    def spy_init(self, *args, **kwargs):
        seen["random_state"] = kwargs["random_state"]
        return original_init(self, *args, **kwargs)

    monkeypatch.setattr(lightfm.LightFM, "fit_partial", spy)
    monkeypatch.setattr(lightfm.LightFM, "__init__", spy_init)
    LightFMRecommender(num_threads=2, seed=11, epochs=1).fit(toy_interactions())
    assert seen == {"num_threads": 2, "random_state": 11}


def test_save_load_with_features_and_cold_items(tmp_path) -> None:
    df, items, users, _, _ = _genre_world()
    train = df[df["itemID"] < 50]
    model = LightFMRecommender(no_components=6, epochs=3, seed=0).fit(
        train, item_features=items, user_features=users
    )
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, LightFMRecommender)
    assert loaded.cold_items_.tolist() == list(range(50, 60))
    pd.testing.assert_frame_equal(
        model.recommend_k_items(df, top_k=8), loaded.recommend_k_items(df, top_k=8)
    )
    with pytest.raises(NotFittedError, match="fitted in this session"):
        loaded.fit_partial(1)


def test_fit_partial_continues_training() -> None:
    df, items, _, _, _ = _genre_world()
    a = LightFMRecommender(no_components=6, epochs=2, seed=0).fit(df, item_features=items)
    a.fit_partial(3)
    b = LightFMRecommender(no_components=6, epochs=5, seed=0).fit(df, item_features=items)
    assert a.epochs_ == b.epochs_ == 5
    np.testing.assert_allclose(a.item_embeddings_, b.item_embeddings_, rtol=1e-5, atol=1e-6)


def test_positive_threshold_and_weights_read_ratings() -> None:
    df = toy_interactions()
    model = LightFMRecommender(loss="logistic", positive_threshold=4, epochs=2, seed=0).fit(df)
    interactions = model._train_inputs[0]
    assert set(np.unique(interactions.data)) == {-1.0, 1.0}
    assert (interactions.data == 1).sum() == (df["rating"] >= 4).sum()
    weighted = LightFMRecommender(use_sample_weight=True, epochs=1, seed=0).fit(df)
    assert weighted._train_inputs[1].data.sum() == pytest.approx(df["rating"].sum())
    # without them the rating column is not needed
    LightFMRecommender(epochs=1, seed=0).fit(df.drop(columns="rating"))


def test_feature_matrix_encoding() -> None:
    frame = pd.DataFrame({"id": [2, 1], "tags": ["x|y", None], "w": [0.5, 2.0], "n": [3, 3]})
    m, names = build_feature_matrix(
        frame, pd.Index([1, 2]), "id", "item", identity=True, normalize=False
    )
    assert names == ["id=1", "id=2", "tags=x", "tags=y", "w", "n=3"]
    np.testing.assert_array_equal(m.toarray(), [[1, 0, 0, 0, 2.0, 1], [0, 1, 1, 1, 0.5, 1]])
    m, _ = build_feature_matrix(frame, pd.Index([1, 2]), "id", "item", identity=False)
    np.testing.assert_allclose(np.asarray(m.sum(axis=1)).ravel(), 1.0, rtol=1e-6)


def test_movielens_feature_frames() -> None:
    users = pd.DataFrame(
        {
            "userID": [1, 2, 3],
            "age": [17, 18, 60],
            "gender": ["M", "F", "M"],
            "occupation": ["a", "b", "a"],
            "zip_code": ["1", "2", "3"],
        }
    )
    items = pd.DataFrame(
        {
            "itemID": [1, 2],
            "title": ["x", "y"],
            "genres": ["A|B", ""],
            "year": pd.array([1995, None], dtype="Int64"),
        }
    )
    u = movielens_user_features(users)
    assert u.columns.tolist() == ["userID", "age", "gender", "occupation"]
    assert u["age"].tolist() == ["<18", "18-24", "56+"]
    i = movielens_item_features(items)
    assert i["year"].tolist() == ["1990s", "unknown"]
    assert movielens_item_features(items, year_bucket=5)["year"].tolist()[0] == "1995-1999"


def test_unknown_users_get_item_bias_ranking() -> None:
    df = toy_interactions()
    model = LightFMRecommender(epochs=2, seed=0).fit(df)
    with pytest.warns(Warning, match="fallback"):
        rec = model.recommend_k_items([-5], top_k=3)
    order = np.argsort(-model.item_biases_.astype(np.float64), kind="stable")[:3]
    assert rec["itemID"].tolist() == model.item_ids_[order].tolist()


def test_registry_and_missing_dependency(monkeypatch) -> None:
    assert type(create_model("lightfm")) is LightFMRecommender
    monkeypatch.setitem(sys.modules, "lightfm", None)
    with pytest.raises(MissingDependencyError, match=r"recutils\[lightfm\]"):
        LightFMRecommender(epochs=1).fit(toy_interactions())


def test_fit_never_changes_the_class_attribute_needs_rating() -> None:
    """Fitting used to assign needs_rating on the instance (shadowing the class attribute)."""
    df = toy_interactions()
    assert LightFMRecommender.needs_rating is False
    for params in ({"use_sample_weight": True}, {"positive_threshold": 4, "loss": "logistic"}, {}):
        model = LightFMRecommender(epochs=1, seed=0, **params)
        model.fit(df)
        assert "needs_rating" not in model.__dict__
        assert LightFMRecommender.needs_rating is False
        assert model._needs_rating() is bool(params)
    assert "_pending_features" not in model.__dict__


def test_feature_frames_reach_fit_through_train_data() -> None:
    df = toy_interactions()
    items = pd.DataFrame({"itemID": list(range(25)), "genre": ["a", "b", "c", "d", "e"] * 5})
    seen = {}

    class Recording(LightFMRecommender):
        def _fit(self, data):
            seen["item_features"] = data.item_features
            seen["n_items"] = data.n_items
            super()._fit(data)

    model = Recording(epochs=1, seed=0).fit(df, item_features=items)
    assert seen["item_features"] is items and seen["n_items"] == 25
    assert model.cold_items_.tolist() == list(range(df["itemID"].max() + 1, 25))
    assert not [k for k in model.__dict__ if "pending" in k]
