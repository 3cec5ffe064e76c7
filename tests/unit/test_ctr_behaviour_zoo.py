"""The behaviour-sequence zoo (DIN, DIEN, BST): shipped configs built by name, trained on frames
with history lists, saved and loaded, exported to ONNX; and their history-free reference."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.models import create_model, get_model_class, list_models  # noqa: E402
from recutils.models.ctr import (  # noqa: E402
    BEHAVIOUR_PRESETS,
    BEHAVIOUR_REFERENCE,
    PRESETS,
    BehaviourZooModel,
    behaviour_toy_frame,
    list_presets,
    preset_config,
    preset_path,
)
from recutils.models.deep import DeepRankModel, example_config_path  # noqa: E402
from recutils.nn.config import ModelConfig  # noqa: E402

NAMES = ["bst", "dien", "din"]
COMPONENT = {"din": "TargetAttention", "dien": "InterestEvolution", "bst": "BSTBlock"}
FAST = {
    "epochs": 20,
    "batch_size": 64,
    "optimizers": {"0": {"lr": 0.01}},
    "progress": False,
    "num_threads": 1,
    "validation_fraction": 0.0,
    "early_stopping_metric": None,
}


@pytest.fixture(scope="module")
def frame():
    return behaviour_toy_frame()


@pytest.fixture(scope="module")
def fitted(frame):
    return {name: create_model(name, col_rating="label", train=FAST).fit(frame) for name in NAMES}


def _block(config: dict, component: str) -> dict:
    return next(
        b
        for b in config["model_config"]["backbone"]["blocks"]
        if b["layer"]["class_name"] == component
    )


def test_behaviour_models_are_registered_apart_from_the_user_item_zoo():
    assert (
        set(NAMES) <= set(BEHAVIOUR_PRESETS) and list_presets(behaviour=True) == BEHAVIOUR_PRESETS
    )
    assert (
        not set(NAMES) & set(PRESETS) and list_presets() == PRESETS
    )  # the user-item zoo is unchanged
    assert set(NAMES) <= set(list_models())
    for name in NAMES:
        cls = get_model_class(name)
        assert issubclass(cls, BehaviourZooModel) and cls.name == name
        assert preset_path(name) == example_config_path(f"{name}_taobao.yaml")
        shipped = yaml.safe_load(preset_path(name).read_text())["model_config"]
        assert create_model(name).config.model_config == ModelConfig.from_dict(shipped)
    with pytest.raises(ConfigError, match="known: .*dien.*din"):
        preset_config("dinn")


@pytest.mark.parametrize("name", NAMES)
def test_presets_pair_every_history_field_with_the_target_in_one_table(name):
    cfg = preset_config(name)
    features = {f["name"]: f for f in cfg["features"]}
    history = next(g for g in cfg["model_config"]["feature_groups"] if g["wide_deep"] == "SEQUENCE")
    sequences = [n for n in history["feature_names"] if features[n].get("type") == "sequence"]
    targets = [n for n in history["feature_names"] if n not in sequences]
    assert [features[n]["embedding_name"] for n in sequences] == [
        features[n]["embedding_name"] for n in targets
    ]
    assert {features[n]["max_length"] for n in sequences} == {50}
    block = _block(cfg, COMPONENT[name])
    assert block["inputs"] == [{"feature_group_name": history["group_name"]}]
    top = _block(cfg, "MLP")["layer"]["params"]
    assert top["hidden_units"] == [200, 80]
    assert (
        cfg["train"]["early_stopping_metric"] == "auc"
        and cfg["train"]["optimizers"][0]["name"] == "adam"
    )


def test_component_settings_are_the_papers():
    din = _block(preset_config("din"), "TargetAttention")["layer"]["params"]
    assert din["activation"] == "dice" and din["normalization"] == "none"
    assert (
        _block(preset_config("dien"), "InterestEvolution")["layer"]["params"][
            "auxiliary_loss_weight"
        ]
        == 1.0
    )
    assert _block(preset_config("bst"), "BSTBlock")["layer"]["params"]["max_len"] == 50


def test_the_reference_has_the_same_features_without_the_history(frame):
    reference = yaml.safe_load(example_config_path(BEHAVIOUR_REFERENCE).read_text())
    din = preset_config("din")
    assert all(f.get("type") != "sequence" for f in reference["features"])

    def plain(features: list[dict]) -> list[dict]:
        return [
            {k: v for k, v in f.items() if k != "embedding_name"}
            for f in features
            if f.get("type") != "sequence"
        ]

    assert reference["features"] == plain(din["features"])
    assert _block(reference, "MLP")["layer"]["params"] == _block(din, "MLP")["layer"]["params"]
    assert reference["train"] == din["train"]
    model = DeepRankModel.from_example(BEHAVIOUR_REFERENCE, col_rating="label", train=FAST).fit(
        frame
    )
    assert np.isfinite(model.predict(frame)["prediction"]).all()


@pytest.mark.parametrize("name", NAMES)
def test_each_preset_trains_predicts_round_trips_and_exports(name, fitted, frame, tmp_path):
    from tests.unit._nn_helpers import check_fit_round_trip_and_export

    assert type(fitted[name]) is get_model_class(name)
    # users favour one category (80% of their behaviours): the clicks are learnable
    check_fit_round_trip_and_export(fitted[name], frame, tmp_path, min_auc=0.6)


def test_the_history_changes_the_score(fitted, frame):
    """The same (user, target) with another history scores differently: the history is read."""
    rows = frame[frame["hist_itemID"].map(len) >= 2].head(20).reset_index(drop=True)
    other = rows.assign(
        hist_itemID=[list(reversed(h))[:1] for h in rows["hist_itemID"]],
        hist_category=[list(reversed(h))[:1] for h in rows["hist_category"]],
    )
    for name, model in fitted.items():
        a = model.predict(rows)["prediction"].to_numpy()
        b = model.predict(other)["prediction"].to_numpy()
        assert np.abs(a - b).max() > 1e-4, name


def test_behaviour_toy_frame_is_seeded_and_has_history_lists():
    a, b = behaviour_toy_frame(seed=3), behaviour_toy_frame(seed=3)
    assert a.equals(b) and not a.equals(behaviour_toy_frame(seed=4))
    assert {"hist_itemID", "hist_category", "hist_behavior", "category", "label"} <= set(a.columns)
    assert a["hist_itemID"].map(len).between(1, 4).all() and set(a["label"]) == {0, 1}


def test_parallel_histories_of_different_lengths_are_refused(fitted, frame):
    """Items and categories of one history describe the same behaviours: a row whose lists
    differ in length is refused at scoring and at fitting, naming the group and the row."""
    from recutils.exceptions import DataError

    rows = frame[frame["hist_itemID"].map(len) >= 2].head(5).reset_index(drop=True)
    bad = rows.assign(
        hist_category=[list(h)[1:] if i == 3 else h for i, h in enumerate(rows["hist_category"])]
    )
    model = fitted["din"]
    assert np.isfinite(model.predict(rows)["prediction"]).all()
    with pytest.raises(
        DataError, match=r"group 'history'.*1 row\(s\) differ in length \(first: row 3"
    ):
        model.predict(bad)
    shifted = frame.copy()
    shifted.loc[7, "hist_category"] = list(shifted.loc[7, "hist_category"]) + [0]
    with pytest.raises(DataError, match="hist_itemID.*hist_category"):
        create_model("din", col_rating="label", train=FAST).fit(shifted)
