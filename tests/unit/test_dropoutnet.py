"""DropoutNet (``dropoutnet``): the feature-level id dropout (seeded, off in eval), the config
checks, cold items embedded from content only, add_items and its save/load round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")

from recutils.models import create_model, load_model  # noqa: E402
from recutils.models.retrieval import CONFIG_DIR, DropoutNetConfig, DropoutNetModel  # noqa: E402
from recutils.models.retrieval.dropoutnet import DROPOUTNET_PRESET  # noqa: E402
from recutils.nn.components.feature_dropout import FeatureDropout, FeatureDropoutParams  # noqa: E402
from recutils.nn.config_io import read_mapping  # noqa: E402
from recutils.nn.features import OOV  # noqa: E402

GENRES = np.array(["Action", "Comedy", "Drama|Romance", "Action|Comedy"])
TRAIN = {"epochs": 2, "batch_size": 32, "num_threads": 1, "progress": False}


def _items(ids: np.ndarray) -> pd.DataFrame:
    ids = np.asarray(ids)
    return pd.DataFrame(
        {
            "itemID": ids,
            "genres": GENRES[ids % 4],
            "year": 1960.0 + 3 * (ids % 12),
            "title_words": np.where(ids % 2 == 0, "love|story", "dark|night"),
        }
    )


def _frame(n_users: int = 20, n_items: int = 24, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), 6)
    items = (users % 4) + 4 * rng.integers(
        0, n_items // 4, users.size
    )  # each user sticks to one genre
    df = pd.DataFrame({"userID": users, "itemID": items}).drop_duplicates().reset_index(drop=True)
    df["age"] = 20 + df["userID"] % 40
    df["gender"] = np.where(df["userID"] % 2 == 0, "M", "F")
    df["occupation"] = np.where(df["userID"] % 3 == 0, "student", "other")
    return df.merge(_items(np.arange(n_items)), on="itemID")


def _model(**params) -> DropoutNetModel:
    title = {"name": "title_words", "type": "tags", "separator": "|", "side": "item"}
    preset = read_mapping(CONFIG_DIR / DROPOUTNET_PRESET)["features"]
    features = [f for f in preset if f["name"] != "title_words"] + [title]
    return DropoutNetModel(
        features=features, default_embedding_dim=8, seed=3, train=TRAIN, **params
    )


# ------------------------------------------------------------ the component
def _ids_batch(n: int = 1000) -> dict:
    ids = torch.arange(3 * n, dtype=torch.int64).reshape(n, 3) + 2
    return {"ids": ids, "dense": torch.zeros(n, 1)}


def test_feature_dropout_is_off_in_eval_and_at_rate_zero():
    batch = _ids_batch()
    drop = FeatureDropout([0, 2], 0.5).eval()
    assert drop(batch) is batch
    assert FeatureDropout([0], 0.0).train()(batch) is batch


def test_feature_dropout_drops_whole_rows_of_its_columns_only():
    batch = _ids_batch()
    out = FeatureDropout([0, 2], 0.5).train()(batch)
    ids = out["ids"]
    dropped = ids[:, 0] == OOV
    assert torch.equal(dropped, ids[:, 2] == OOV)  # the columns of a row go together
    assert torch.equal(ids[:, 1], batch["ids"][:, 1])  # other columns untouched
    assert torch.equal(ids[~dropped], batch["ids"][~dropped])
    assert 0.4 < dropped.float().mean().item() < 0.6
    assert out["dense"] is batch["dense"]
    assert not torch.equal(batch["ids"], ids)  # the input is not modified
    assert (batch["ids"] >= 2).all()


def test_feature_dropout_is_seeded_by_torch():
    drop = FeatureDropout([1], 0.3).train()
    torch.manual_seed(5)
    a = drop(_ids_batch())["ids"]
    torch.manual_seed(5)
    b = drop(_ids_batch())["ids"]
    torch.manual_seed(6)
    c = drop(_ids_batch())["ids"]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("columns, rate", [([0], 1.0), ([0], -0.1), ([], 0.5), ([-1], 0.5)])
def test_feature_dropout_rejects_bad_arguments(columns, rate):
    with pytest.raises(ValueError):
        FeatureDropout(columns, rate)


@pytest.mark.parametrize(
    "values, match",
    [
        ({"rate": 1.0, "features": ["u"]}, "rate"),
        ({"rate": "x", "features": ["u"]}, "rate"),
        ({"features": []}, "features"),
        ({"features": "u"}, "features"),
    ],
)
def test_feature_dropout_params_are_validated(values, match):
    with pytest.raises(ConfigError, match=match):
        FeatureDropoutParams.from_dict(values)
    assert FeatureDropoutParams.from_dict({"rate": 0.25, "features": ["u"]}).rate == 0.25


# ---------------------------------------------------------------- config
@pytest.mark.parametrize(
    "values, match",
    [
        ({"dropout_rate": 1.0}, "dropout_rate"),
        ({"dropout_rate": -0.5}, "dropout_rate"),
        ({"user_preference": "user_id"}, "user_preference"),
        ({"item_preference": [3]}, "item_preference"),
    ],
)
def test_bad_dropoutnet_config(values, match):
    with pytest.raises(ConfigError, match=match):
        DropoutNetConfig.from_dict(values)


def test_dropoutnet_config_round_trips():
    cfg = DropoutNetConfig.from_dict({"dropout_rate": 0.25, "item_preference": []})
    assert DropoutNetConfig.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()
    assert create_model("dropoutnet").config.dropout_rate == 0.5


@pytest.mark.parametrize(
    "params, match",
    [
        ({"user_preference": ["movie_id"]}, "not read by the user tower"),
        ({"item_preference": ["genres"]}, "single-id features"),
    ],
)
def test_preference_features_are_checked_at_fit(params, match):
    with pytest.raises(ConfigError, match=match):
        _model(**params).fit(_frame())


# --------------------------------------------------------------- the model
def test_fit_is_deterministic_and_the_dropout_changes_training():
    df = _frame()
    a = _model().fit(df)
    b = _model().fit(df)
    plain = _model(dropout_rate=0.0).fit(df)
    np.testing.assert_array_equal(a.item_vectors_, b.item_vectors_)
    assert not np.allclose(a.item_vectors_, plain.item_vectors_)
    assert not a.network_.training and not a.network_.item_dropout.training


def test_eval_embeddings_do_not_drop():
    model = _model().fit(_frame())
    first = model.item_embeddings(_items(np.arange(8)))
    second = model.item_embeddings(_items(np.arange(8)))
    np.testing.assert_array_equal(first, second)  # no random draw outside training


def test_cold_item_is_embedded_from_content_only():
    model = _model().fit(_frame())
    cold = _items(np.array([100, 104, 101]))  # 100 and 104 share their content (ids % 4, % 2 agree)
    cold.loc[1, "year"] = cold.loc[0, "year"]
    vectors = model.item_embeddings(cold)
    assert vectors.shape == (3, model.network_.embedding_dim)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(vectors[0], vectors[1], atol=1e-6)  # the unknown id plays no part
    assert not np.allclose(vectors[0], vectors[2])  # the content does


def test_add_items_joins_the_catalogue_and_survives_save_load(tmp_path):
    df = _frame()
    model = _model().fit(df)
    n = len(model.item_ids_)
    users = np.arange(5)
    before = model.recommend_k_items(users, top_k=5)
    new = _items(np.array([200, 201]))
    assert model.add_items(new) is model
    assert list(model.item_ids_[n:]) == [200, 201]
    assert model.item_vectors_.shape[0] == n + 2
    np.testing.assert_allclose(model.item_vectors_[n:], model.item_embeddings(new), atol=1e-6)
    everything = model.recommend_k_items(users, top_k=n + 2, remove_seen=False)
    assert set(everything["itemID"]) >= {200, 201}
    pred = model.predict(pd.DataFrame({"userID": [0, 1], "itemID": [200, 201]}))
    assert np.isfinite(pred["prediction"]).all()
    top = model.recommend_k_items(users, top_k=5)
    old_only = top[~top["itemID"].isin([200, 201])]
    merged = old_only.merge(before, on=["userID", "itemID"], suffixes=("", "_before"))
    np.testing.assert_allclose(merged["prediction"], merged["prediction_before"], atol=1e-5)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    pd.testing.assert_frame_equal(
        loaded.recommend_k_items(users, top_k=n + 2, remove_seen=False), everything
    )


def test_add_items_rejects_known_and_repeated_ids():
    model = _model().fit(_frame())
    with pytest.raises(DataError, match="already in the catalogue"):
        model.add_items(_items(np.array([1, 300])))
    with pytest.raises(DataError, match="repeats"):
        model.add_items(_items(np.array([300, 300])))
    n = len(model.item_ids_)
    model.add_items(_items(np.array([], dtype=int)))
    assert len(model.item_ids_) == n
