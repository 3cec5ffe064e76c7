"""DeepRankModel: the Recommender wrapper (fit, predict, recommend, save/load, consistency)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recutils.exceptions import ConfigError, DataError, DataWarning  # noqa: E402
from recutils.models import create_model, list_models  # noqa: E402
from recutils.models.deep import DeepRankModel  # noqa: E402
from recutils.models.deep.config import example_config_path  # noqa: E402

TRAIN = {"epochs": 3, "batch_size": 128, "progress": False, "num_threads": 1}
CONFIG = f"""
features:
  - {{name: user_id, column: "@user"}}
  - {{name: item_id, column: "@item"}}
  - {{name: city}}
  - {{name: genres, type: tags}}
  - {{name: price, type: numeric}}
default_embedding_dim: 4
model_config:
  feature_groups:
    - {{group_name: wide, feature_names: [user_id, item_id, city, genres, price], wide_deep: WIDE}}
    - {{group_name: deep, feature_names: [user_id, item_id, city, genres, price], wide_deep: DEEP}}
  backbone:
    blocks:
      - {{name: wide, inputs: [{{feature_group_name: wide}}], input_layer: {{only_output_feature_list: true}}}}
      - name: deep_logit
        inputs: [{{feature_group_name: deep}}]
        layer: {{class_name: MLP, params: {{hidden_units: [16, 1], use_final_bn: false, final_activation: linear}}}}
      - name: final_logit
        inputs: [{{block_name: wide, input_fn: "lambda x: tf.add_n(x)"}}, {{block_name: deep_logit}}]
        merge_inputs_into_list: true
        layer: {{class_name: Add}}
    concat_blocks: [final_logit]
train: {TRAIN}
"""


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n_users, n_items, n = 40, 30, 1500
    users = rng.integers(0, n_users, n)
    items = rng.integers(0, n_items, n)
    city = np.array(["paris", "rome", "oslo"])[np.arange(n_users) % 3][users]
    genres = np.array(["a|b", "b", "c|a", ""])[np.arange(n_items) % 4][items]
    price = (np.arange(n_items) * 1.5)[items]
    logit = (users % 2) - (items % 3 == 0) + (city == "rome")
    label = (rng.random(n) < 1 / (1 + np.exp(-2 * logit))).astype(float)
    df = pd.DataFrame(
        {
            "userID": users,
            "itemID": items,
            "city": city,
            "genres": genres,
            "price": price,
            "rating": label,
        }
    )
    return df.drop_duplicates(["userID", "itemID"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def model(data) -> DeepRankModel:
    return DeepRankModel(config=CONFIG).fit(data)


def test_registered():
    assert "deep_rank" in list_models()
    assert isinstance(create_model("deep_rank", config=CONFIG), DeepRankModel)


def test_fit_predict_recommend(model, data):
    pred = model.predict(data)
    assert len(pred) == len(data) and pred["prediction"].between(0, 1).all()
    assert model.history_["valid_auc"].notna().all()
    rec = model.recommend_k_items(data["userID"].unique()[:5], top_k=4)
    assert rec.groupby("userID").size().max() <= 4
    seen = set(zip(data["userID"], data["itemID"]))
    assert not any(p in seen for p in zip(rec["userID"], rec["itemID"]))


def test_train_serve_consistency(model, data):
    """Scores from the frame's own feature columns equal scores from the fitted tables
    (what recommend_k_items uses), and one row scores as inside a batch."""
    full = model.predict(data)["prediction"].to_numpy()
    ids_only = model.predict(data[["userID", "itemID"]])["prediction"].to_numpy()
    np.testing.assert_allclose(full, ids_only, rtol=1e-6)
    row = model.predict(data.iloc[[7]])["prediction"].iloc[0]
    assert row == pytest.approx(full[7], rel=1e-6)
    rec = model.recommend_k_items([data["userID"].iloc[0]], top_k=3, remove_seen=False)
    pairs = rec[["userID", "itemID"]].merge(
        data[["itemID", "city", "genres", "price"]].drop_duplicates("itemID"), on="itemID"
    )
    pairs["city"] = data.loc[data["userID"] == data["userID"].iloc[0], "city"].iloc[0]
    again = model.predict(pairs)
    np.testing.assert_allclose(
        np.sort(again["prediction"].to_numpy()), np.sort(rec["prediction"].to_numpy()), rtol=1e-6
    )


def test_save_load_round_trip(model, data, tmp_path):
    model.save(tmp_path / "m")
    loaded = DeepRankModel.load(tmp_path / "m")
    pd.testing.assert_frame_equal(model.predict(data), loaded.predict(data))
    pd.testing.assert_frame_equal(model.history_, loaded.history_, check_dtype=False)
    assert loaded.config == model.config
    assert not list((tmp_path / "m").glob("*.pt")) and not list((tmp_path / "m").glob("*.pkl"))


def test_unknown_rows(model, data):
    pairs = pd.DataFrame(
        {
            "userID": [data["userID"].iloc[0], 999],
            "itemID": [999, data["itemID"].iloc[0]],
            "city": ["paris", "nowhere"],
            "genres": ["a", "z"],
            "price": [1.0, 2.0],
        }
    )
    with pytest.warns(DataWarning):
        assert model.predict(pairs)["prediction"].isna().all()
    scored = model.predict(pairs, score_unknown=True)["prediction"]
    assert scored.notna().all() and scored.between(0, 1).all()


def test_labels_checked(data):
    bad = data.assign(rating=data["rating"] * 5)
    with pytest.raises(DataError, match="label_threshold"):
        DeepRankModel(config=CONFIG).fit(bad)
    m = DeepRankModel(config=CONFIG, label_threshold=2.5).fit(bad)
    assert m.predict(bad.iloc[:3])["prediction"].notna().all()


def test_missing_feature_column(data):
    with pytest.raises(Exception, match="city"):
        DeepRankModel(config=CONFIG).fit(data.drop(columns=["city"]))


def test_unknown_config_keys():
    with pytest.raises(ConfigError, match="featurez"):
        DeepRankModel(config={"featurez": []})


def test_from_easyrec_text_infers_features(data):
    text = example_config_path("wide_deep_movielens.config").read_text()
    body = text[text.index("model_config: {") :]
    body = body.replace("'user_id'", "'userID'").replace("'movie_id'", "'itemID'")
    for name in ("job_id", "age", "gender", "year"):
        body = body.replace(f"    feature_names: '{name}'\n", "")
    body = body.replace("'genres'", "'genres'\n    feature_names: 'city'")
    body = body.replace("[256, 256, 256, 1]", "[8, 1]")
    m = DeepRankModel.from_easyrec(body, train=TRAIN, default_embedding_dim=4)
    m.fit(data)
    kinds = {n: s.type for n, s in m.encoder_.specs.items()}
    assert kinds == {
        "userID": "categorical",
        "itemID": "categorical",
        "genres": "tags",
        "city": "categorical",
    }


def test_light_import():
    code = (
        "import sys, recutils, recutils.nn, recutils.nn.config, recutils.nn.features, "
        "recutils.nn.easyrec; "
        "recutils.nn.config.ModelConfig; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_callbacks_pass_through_to_the_trainer(data):
    rows = []

    class Record:
        def on_evaluate(self, row, trainer):
            rows.append(dict(row))
            return len(rows) == 2  # stop after two validations

    m = DeepRankModel(config=CONFIG, callbacks=[Record()]).fit(data)
    assert len(rows) == 2 and len(m.history_) == 2
    assert [r["valid_auc"] for r in rows] == m.history_["valid_auc"].tolist()


def test_nested_params_merge_into_the_config():
    from recutils.models.deep.model import merge_config

    base = DeepRankModel.from_example("wide_deep_movielens.yaml").config
    m = DeepRankModel.from_example(
        "wide_deep_movielens.yaml",
        train={"epochs": 3, "optimizers": {"1": {"lr": 0.01}}},
        model_config={
            "backbone": {"blocks": {"1": {"layer": {"params": {"hidden_units": {"0": 64}}}}}}
        },
    )
    cfg = m.config
    assert (
        cfg.train.epochs == 3
        and cfg.train.early_stopping_metric == base.train.early_stopping_metric
    )
    assert [o.lr for o in cfg.train.optimizers] == [0.001, 0.01]
    assert cfg.train.optimizers[0].weight_decay == 0.002  # untouched siblings are kept
    assert cfg.model_config.backbone.blocks[1].layer.params["hidden_units"] == [64, 256, 256, 1]
    with pytest.raises(ConfigError, match="out of range"):
        merge_config({"a": [1]}, {"a": {"3": 2}})


def test_merge_config_has_one_home_and_easyrec_files_are_configs():
    from recutils.models.deep.model import merge_config
    from recutils.nn import config_io

    assert merge_config is config_io.merge_config  # the old import path re-exports the one merge
    path = example_config_path("wide_deep_movielens.config")
    by_file = DeepRankModel(config=path, seed=5).config
    assert by_file == DeepRankModel.from_easyrec(path, seed=5).config
    assert by_file == DeepRankModel.from_example("wide_deep_movielens.config", seed=5).config
    assert by_file.model_config == DeepRankModel.from_example().config.model_config


def test_fit_never_stashes_the_frame_on_the_model(data):
    """fit used to put the training frame in self.__dict__['_fit_frame'] for _fit to read."""
    seen = {}

    class Inspecting(DeepRankModel):
        def _fit(self, train_data):
            seen["dict"] = set(self.__dict__)
            seen["frame_columns"] = list(train_data.frame.columns)
            seen["rows"] = len(train_data.frame) == train_data.user_idx.size
            super()._fit(train_data)

        def _score_pairs(self, user_idx, item_idx, *, frame=None, **kwargs):
            seen["scoring_columns"] = list(frame.columns)
            seen["kwargs"] = dict(kwargs)
            return super()._score_pairs(user_idx, item_idx, frame=frame, **kwargs)

    model = Inspecting(config=CONFIG).fit(data.assign(unused=1))
    assert "_fit_frame" not in seen["dict"] and "_fit_frame" not in model.__dict__
    assert seen["frame_columns"] == ["userID", "itemID", "city", "genres", "price"]
    assert seen["rows"]
    model.predict(data.assign(unused=1).iloc[:10])
    assert seen["scoring_columns"] == ["userID", "itemID", "city", "genres", "price"]
    assert seen["kwargs"] == {}  # no hidden _frame keyword any more
