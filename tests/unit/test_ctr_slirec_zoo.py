"""The sequential zoo on Amazon Grocery (SLi-Rec, A2SVD, SUM, the GRU over the history): shipped configs built by name, trained
on frames with history lists, saved and loaded, exported to ONNX, reading the history (and SLi-Rec
the time gaps); and their history-free DeepFM reference."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")

from recutils.models import create_model, get_model_class, list_models  # noqa: E402
from recutils.models.ctr import (  # noqa: E402
    BEHAVIOUR_PRESETS,
    PRESETS,
    SEQUENTIAL_REFERENCE,
    BehaviourZooModel,
    behaviour_toy_frame,
    preset_config,
    preset_path,
)
from recutils.models.deep import DeepRankModel, example_config_path  # noqa: E402
from recutils.nn.config import ModelConfig  # noqa: E402
from recutils.testing import CHECKS, registry_factory  # noqa: E402

NAMES = ["a2svd", "gru_history", "slirec", "sum"]
COMPONENT = {
    "a2svd": "AttentiveAsyncSVD",
    "gru_history": "HistoryGRU",
    "slirec": "SLiRec",
    "sum": "UserMemory",
}
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


def _history_group(config: dict) -> dict:
    return next(g for g in config["model_config"]["feature_groups"] if g["wide_deep"] == "SEQUENCE")


def test_sequential_models_are_registered_as_behaviour_presets():
    assert set(NAMES) <= set(BEHAVIOUR_PRESETS) and not set(NAMES) & set(PRESETS)
    assert set(NAMES) <= set(list_models())
    for name in NAMES:
        cls = get_model_class(name)
        assert issubclass(cls, BehaviourZooModel) and cls.name == name
        assert preset_path(name) == example_config_path(f"{name}_grocery.yaml")
        shipped = yaml.safe_load(preset_path(name).read_text())["model_config"]
        assert create_model(name).config.model_config == ModelConfig.from_dict(shipped)


@pytest.mark.parametrize("name", NAMES)
def test_presets_follow_microsofts_sequential_settings(name):
    cfg = preset_config(name)
    features = {f["name"]: f for f in cfg["features"]}
    history = _history_group(cfg)
    ids = [n for n in history["feature_names"] if not features[n].get("numeric", False)]
    sequences = [n for n in ids if features[n].get("type") == "sequence"]
    targets = [n for n in ids if n not in sequences]
    # every history field shares its table (and width) with the target's field
    assert [features[n]["embedding_name"] for n in sequences] == [
        features[n]["embedding_name"] for n in targets
    ]
    assert [features[n]["embedding_dim"] for n in sequences] == [
        features[n]["embedding_dim"] for n in targets
    ]
    assert [features[n]["column"] for n in sequences] == ["hist_itemID", "hist_category"]
    assert [features[n]["embedding_dim"] for n in targets] == [32, 8]
    assert {f.get("max_length") for f in cfg["features"] if f.get("type") == "sequence"} == {50}
    assert _block(cfg, COMPONENT[name])["inputs"] == [{"feature_group_name": history["group_name"]}]
    assert _block(cfg, "MLP")["layer"]["params"]["hidden_units"] == [100, 64]
    train = cfg["train"]
    assert train["batch_size"] == 400 and train["optimizers"] == [
        {"name": "adam", "lr": 0.001, "params": "all"}
    ]
    # the user is read from the history: no user-id embedding
    assert all(f.get("column") != "@user" for f in cfg["features"])


def test_only_slirec_reads_the_time_gaps():
    for name in NAMES:
        cfg = preset_config(name)
        features = {f["name"]: f for f in cfg["features"]}
        numeric = [
            features[n] for n in _history_group(cfg)["feature_names"] if features[n].get("numeric")
        ]
        if name == "slirec":
            assert [f["column"] for f in numeric] == ["hist_time_gap_hours"]
        else:
            assert numeric == []


def test_the_reference_is_a_history_free_deepfm(frame):
    reference = yaml.safe_load(example_config_path(SEQUENTIAL_REFERENCE).read_text())
    assert all(f.get("type") != "sequence" for f in reference["features"])
    assert [f["column"] for f in reference["features"]] == ["@user", "@item", "category"]
    classes = {
        b["layer"]["class_name"]
        for b in reference["model_config"]["backbone"]["blocks"]
        if "layer" in b
    }
    assert {"FirstOrder", "FM", "MLP"} <= classes
    assert reference["train"] == preset_config("slirec")["train"]
    model = DeepRankModel.from_example(SEQUENTIAL_REFERENCE, col_rating="label", train=FAST).fit(
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
        hist_time_gap_hours=[list(reversed(h))[:1] for h in rows["hist_time_gap_hours"]],
    )
    for name, model in fitted.items():
        a = model.predict(rows)["prediction"].to_numpy()
        b = model.predict(other)["prediction"].to_numpy()
        assert np.abs(a - b).max() > 1e-4, name


def test_slirec_reads_the_time_gaps(fitted, frame):
    """Only the times change: SLi-Rec's score moves, the others' (which read no times) do not."""
    rows = frame[frame["hist_itemID"].map(len) >= 2].head(20).reset_index(drop=True)
    later = rows.assign(
        hist_time_gap_hours=[[g * 10.0 + 100.0 for g in h] for h in rows["hist_time_gap_hours"]]
    )
    for name, model in fitted.items():
        diff = np.abs(
            model.predict(rows)["prediction"].to_numpy()
            - model.predict(later)["prediction"].to_numpy()
        )
        if name == "slirec":
            assert diff.max() > 1e-4
        else:
            np.testing.assert_array_equal(diff, 0.0)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("name", NAMES)
def test_contract(name, check, tmp_path):
    """The contract suite (also run over every registered model by test_contract.py); SLi-Rec's
    case reads a numeric sequence too."""
    check(registry_factory(name), tmp_path=tmp_path)


def test_slirecs_contract_case_gives_its_history_times():
    params = get_model_class("slirec").contract_case().params
    times = [f for f in params["features"] if f.get("numeric")]
    assert [f["name"] for f in times] == ["hist_time"]
    assert "hist_time" in params["feature_groups"]["history"]
    assert all(
        not f.get("numeric") for f in get_model_class("a2svd").contract_case().params["features"]
    )
