"""Vowpal Wabbit wrapper: scores equal VW's own on the same text, features, reserved
characters, losses, save/load of VW's model file, config errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError
from recutils.models import load_model, persistence
from recutils.models.vowpal import VowpalWabbit, VowpalWabbitConfig, escape_reserved
from recutils.testing import toy_interactions

vw = pytest.importorskip("vowpalwabbit")


def _genre_world(n_users: int = 80, n_items: int = 40, seed: int = 0) -> tuple[pd.DataFrame, ...]:
    """Users of taste A rate even items 5 and odd items 1, users of taste B the reverse."""
    rng = np.random.default_rng(seed)
    taste = np.where(np.arange(n_users) % 2 == 0, "A", "B")
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, 12, replace=False):
            likes = (i % 2 == 0) == (taste[u] == "A")
            rows.append((u, int(i), 5.0 if likes else 1.0))
    df = pd.DataFrame(rows, columns=["userID", "itemID", "rating"])
    users = pd.DataFrame({"userID": np.arange(n_users), "taste": taste})
    items = pd.DataFrame(
        {
            "itemID": np.arange(n_items),
            "genre": np.where(np.arange(n_items) % 2 == 0, "even|genre", "odd: genre"),
        }
    )
    return df, users, items


def test_scores_are_vw_predictions_of_the_example_text() -> None:
    df = toy_interactions()
    model = VowpalWabbit(bits=18).fit(df)
    # the same examples through a fresh workspace give the same model and predictions
    ws = vw.Workspace(arg_list=model.config.vw_args())
    u = model.user_ids_.get_indexer(df["userID"])
    i = model.item_ids_.get_indexer(df["itemID"])
    for rating, un, it in zip(df["rating"], model.user_namespace_[u], model.item_namespace_[i]):
        ws.learn(f"{rating!r} {un} {it}")
    pred = model.predict(df.iloc[:20])["prediction"].to_numpy()
    own = [
        ws.predict(f"{un} {it}")
        for un, it in zip(model.user_namespace_[u[:20]], model.item_namespace_[i[:20]])
    ]
    np.testing.assert_array_equal(pred, own)
    assert model.n_examples_ == len(df)


def test_vw_codes_follow_first_appearance_not_id_order() -> None:
    df = pd.DataFrame(
        {"userID": ["u10", "u2", "u10"], "itemID": ["b", "a", "a"], "rating": [4.0, 3.0, 5.0]}
    )
    model = VowpalWabbit(bits=18).fit(df)
    assert list(model.user_ids_) == ["u10", "u2"]
    assert list(model.user_namespace_) == ["|user 0", "|user 1"]
    assert list(model.item_namespace_) == ["|item 1", "|item 0"]  # "a" sorts first, "b" came first


def test_ids_with_reserved_characters_need_no_escaping() -> None:
    df = toy_interactions(string_ids=True)
    odd = df.assign(userID="user |:" + df["userID"] + " \n", itemID="x:" + df["itemID"])
    a = VowpalWabbit(bits=18).fit(df)
    b = VowpalWabbit(bits=18).fit(odd)
    np.testing.assert_array_equal(a.predict(df)["prediction"], b.predict(odd)["prediction"])


def test_quadratic_crosses_learn_the_pair_beyond_the_linear_model() -> None:
    df, _, _ = _genre_world()
    linear = VowpalWabbit(bits=20, quadratic=[], passes=5, shuffle=True, seed=1).fit(df)
    crossed = VowpalWabbit(bits=20, quadratic=["ui"], passes=5, shuffle=True, seed=1).fit(df)
    err = {
        name: float(np.mean((m.predict(df)["prediction"] - df["rating"]) ** 2))
        for name, m in (("linear", linear), ("crossed", crossed))
    }
    assert err["crossed"] < 0.5 * err["linear"], err


def test_user_and_item_features_generalise_to_unseen_pairs() -> None:
    df, users, items = _genre_world()
    train = df.sample(frac=0.8, random_state=0)
    test = df.drop(train.index)
    test = test[test.userID.isin(train.userID) & test.itemID.isin(train.itemID)]
    params = {"bits": 20, "passes": 5, "shuffle": True, "seed": 3}
    plain = VowpalWabbit(**params).fit(train)
    featured = VowpalWabbit(**params).fit(train, user_features=users, item_features=items)
    # the taste x genre crosses of "-q ui" carry what the id crosses of unseen pairs cannot
    rmse = {
        name: float(
            np.sqrt(
                np.mean((m.predict(test)["prediction"].to_numpy() - test["rating"].to_numpy()) ** 2)
            )
        )
        for name, m in (("plain", plain), ("featured", featured))
    }
    assert rmse["featured"] < 0.5 * rmse["plain"], rmse
    assert featured.user_namespace_[0].endswith(" taste=A")
    # reserved characters in values were percent-encoded, not split into features
    assert featured.item_namespace_[featured.item_ids_.get_loc(0)].endswith("genre=even%7Cgenre")
    assert featured.item_namespace_[featured.item_ids_.get_loc(1)].endswith("genre=odd%3A%20genre")


def test_numeric_features_are_values_and_missing_ones_are_left_out() -> None:
    df = toy_interactions()
    feats = pd.DataFrame(
        {"userID": [0, 1, 2], "age": [31.0, np.nan, 20.5], "city": ["Paris", None, "Lyon"]}
    )
    model = VowpalWabbit(bits=18).fit(df, user_features=feats)
    texts = dict(zip(model.user_ids_, model.user_namespace_))
    code = {u: t.split()[1] for u, t in texts.items()}
    assert texts[0] == f"|user {code[0]} age:31.0 city=Paris"
    assert texts[1] == f"|user {code[1]}"
    assert texts[2] == f"|user {code[2]} age:20.5 city=Lyon"
    assert texts[3] == f"|user {code[3]}"  # not in the frame: the id feature only


@pytest.mark.parametrize("bad", ["a|b", "a:b", "a b", "a\nb", "a\tb"])
def test_reserved_characters_in_feature_values_raise_under_reserved_error(bad: str) -> None:
    df = toy_interactions()
    feats = pd.DataFrame({"itemID": [0, 1], "genre": ["ok", bad]})
    with pytest.raises(DataError, match="genre.*reserves"):
        VowpalWabbit(bits=18, reserved="error").fit(df, item_features=feats)
    model = VowpalWabbit(bits=18).fit(df, item_features=feats)
    text = model.item_namespace_[model.item_ids_.get_loc(1)]
    assert text.split(" ")[2].startswith("genre=a%") and len(text.split(" ")) == 3


def test_reserved_characters_in_feature_column_names() -> None:
    df = toy_interactions()
    feats = pd.DataFrame({"itemID": [0, 1], "my genre": ["x", "y"]})
    with pytest.raises(DataError, match="column name"):
        VowpalWabbit(bits=18, reserved="error").fit(df, item_features=feats)
    model = VowpalWabbit(bits=18).fit(df, item_features=feats)
    assert model.item_namespace_[model.item_ids_.get_loc(0)].endswith(" my%20genre=x")


def test_escaping_is_injective() -> None:
    values = pd.Series(["a b", "a%20b", "a|b", "a%7Cb", "%", "%25"])
    escaped = escape_reserved(values)
    assert escaped.is_unique
    assert not escaped.str.contains(r"[|: \t\n]", regex=True).any()


def test_feature_frame_errors() -> None:
    df = toy_interactions()
    with pytest.raises(DataError, match="repeats the id"):
        VowpalWabbit(bits=18).fit(df, user_features=pd.DataFrame({"userID": [0, 0], "a": [1, 2]}))
    with pytest.raises(DataError, match="DataFrame"):
        VowpalWabbit(bits=18).fit(df, user_features=[1, 2])
    with pytest.raises(ValueError, match="userID"):
        VowpalWabbit(bits=18).fit(df, user_features=pd.DataFrame({"id": [0], "a": [1]}))


def test_logistic_loss_gives_probabilities_of_liking() -> None:
    df, users, items = _genre_world()
    model = VowpalWabbit(loss="logistic", bits=20, passes=5, shuffle=True, seed=0).fit(
        df, user_features=users, item_features=items
    )
    pred = model.predict(df)["prediction"].to_numpy()
    assert ((pred > 0) & (pred < 1)).all()
    liked = df["rating"].to_numpy() >= 3
    assert pred[liked].mean() > 0.8 and pred[~liked].mean() < 0.2


def test_lrq_and_shuffle_are_seeded() -> None:
    df = toy_interactions()
    a = VowpalWabbit(bits=18, lrq=["ui3"], passes=3, shuffle=True, seed=5).fit(df)
    b = VowpalWabbit(bits=18, lrq=["ui3"], passes=3, shuffle=True, seed=5).fit(df)
    c = VowpalWabbit(bits=18, lrq=["ui3"], passes=3, shuffle=True, seed=6).fit(df)
    pa, pb, pc = (m.predict(df)["prediction"].to_numpy() for m in (a, b, c))
    np.testing.assert_array_equal(pa, pb)
    assert not np.array_equal(pa, pc)
    assert a.n_examples_ == 3 * len(df)


def test_save_load_round_trip_with_features_and_checksum(tmp_path) -> None:
    df, users, items = _genre_world()
    model = VowpalWabbit(bits=18, lrq=["ui2"], seed=0).fit(
        df, user_features=users, item_features=items
    )
    folder = model.save(tmp_path / "vw")
    manifest = json.loads((folder / "manifest.json").read_text())
    info = manifest["state"]["vw_model"]
    assert (
        info["file"] == "vw_model.bin" and info["bytes"] == (folder / "vw_model.bin").stat().st_size
    )
    assert not list(folder.glob("*.pkl"))
    loaded = load_model(folder)
    assert isinstance(loaded, VowpalWabbit)
    pd.testing.assert_frame_equal(loaded.predict(df), model.predict(df))
    pd.testing.assert_frame_equal(
        loaded.recommend_k_items([0, 1], top_k=5), model.recommend_k_items([0, 1], top_k=5)
    )
    # a tampered VW file is refused before VW reads it
    blob = bytearray((folder / "vw_model.bin").read_bytes())
    blob[-1] ^= 0xFF
    (folder / "vw_model.bin").write_bytes(bytes(blob))
    with pytest.raises(persistence.ArtifactIntegrityError, match="SHA-256"):
        VowpalWabbit.load(folder)
    (folder / "vw_model.bin").unlink()
    with pytest.raises(persistence.ArtifactError, match="missing"):
        VowpalWabbit.load(folder)


def test_saved_namespace_text_is_checked(tmp_path) -> None:
    model = VowpalWabbit(bits=18).fit(toy_interactions())
    folder = model.save(tmp_path / "vw")
    arrays = dict(np.load(folder / "arrays.npz", allow_pickle=False))
    text = arrays["user_namespace"].astype(object)
    text[0] = "|user 0 |item 3"
    arrays["user_namespace"] = text.astype(str)
    np.savez(folder / "arrays.npz", **arrays)
    with pytest.raises(persistence.ArtifactArrayError, match="user_namespace"):
        VowpalWabbit.load(folder)


def test_unfitted_save_and_load(tmp_path) -> None:
    folder = VowpalWabbit(bits=20).save(tmp_path / "empty")
    loaded = VowpalWabbit.load(folder)
    assert loaded.config.bits == 20 and not loaded.is_fitted


@pytest.mark.parametrize(
    "params, match",
    [
        ({"loss": "hinge"}, "loss"),
        ({"quadratic": "ui"}, "quadratic"),
        ({"quadratic": ["ux"]}, "quadratic"),
        ({"lrq": ["ui"]}, "lrq"),
        ({"lrq": ["ui0"]}, "lrq"),
        ({"bits": 31}, "bits"),
        ({"bits": 0}, "bits"),
        ({"passes": 0}, "passes"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"l2": -1.0}, "l2"),
        ({"positive_threshold": float("nan")}, "positive_threshold"),
        ({"reserved": "drop"}, "reserved"),
        ({"shuffle": 1}, "shuffle"),
    ],
)
def test_config_errors(params, match) -> None:
    with pytest.raises(ConfigError, match=match):
        VowpalWabbitConfig(**params)


def test_config_round_trip_and_vw_args() -> None:
    cfg = VowpalWabbitConfig(loss="logistic", quadratic=["ui", "uu"], lrq=["ui7"], l2=1e-6, seed=3)
    assert VowpalWabbitConfig.from_dict(cfg.to_dict()) == cfg
    args = cfg.vw_args()
    assert args[:3] == ["--quiet", "--loss_function", "logistic"]
    assert ["-q", "ui"] == args[args.index("-q") : args.index("-q") + 2]
    assert "--lrq" in args and "--l2" in args and "--random_seed" in args
    assert "-f" not in args and "-d" not in args  # nothing read or written by VW itself
