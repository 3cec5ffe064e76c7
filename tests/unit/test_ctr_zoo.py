"""The zoo: every model is a shipped config, listed and built by name with the user's features."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

pytest.importorskip("torch")

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.models import create_model, get_model_class, list_models, load_model  # noqa: E402
from recutils.models.ctr import PRESETS, ZooModel, list_presets, preset_config  # noqa: E402
from recutils.models.deep import DeepRankModel, example_config_path  # noqa: E402
from recutils.nn.config import ModelConfig  # noqa: E402
from recutils.testing import toy_interactions  # noqa: E402

ZOO = ["autoint", "dcn", "dcnv2", "deepfm", "dlrm", "fibinet", "fm", "highway", "masknet", "multitower", "ppnet",
       "wide_deep", "xdeepfm"]


def test_every_zoo_model_is_registered_and_shipped_as_a_config():
    assert sorted(PRESETS) == ZOO and list_presets() == PRESETS
    assert set(ZOO) <= set(list_models())
    for name in ZOO:
        cls = get_model_class(name)
        assert issubclass(cls, ZooModel) and cls.name == name
        assert example_config_path(PRESETS[name]).is_file()
        # the class adds no architecture: the model config is the shipped YAML's
        shipped = yaml.safe_load(example_config_path(PRESETS[name]).read_text())["model_config"]
        assert create_model(name).config.model_config == ModelConfig.from_dict(shipped)


def test_unknown_names_list_the_zoo():
    with pytest.raises(ConfigError, match="deepfm"):
        create_model("deep_fm")
    with pytest.raises(ConfigError, match="known: .*xdeepfm"):
        preset_config("xdeep")


def test_overrides_merge_into_the_preset():
    model = create_model("deepfm", train={"epochs": 3}, seed=7, col_rating="label")
    assert model.config.train.epochs == 3 and model.config.seed == 7
    shipped = preset_config("deepfm")["train"]
    assert [o.to_dict()["weight_decay"] for o in model.config.train.optimizers] == [
        o.get("weight_decay", 0.0) for o in shipped["optimizers"]]  # kept, not reset to defaults
    assert model.col_rating == "label"


def test_user_features_and_groups_and_unknown_group():
    df = toy_interactions()
    df["city"] = np.where(df["userID"] % 2 == 0, "a", "b")
    model = create_model(
        "deepfm", features=[{"name": "user", "column": "@user"}, {"name": "item", "column": "@item"}],
        feature_groups={"wide": ["user", "item", "city"], "deep": ["user", "item", "city"]},
        label_threshold=4.0, train={"epochs": 1, "validation_fraction": 0.0, "early_stopping_metric": None,
                                    "progress": False})
    model.fit(df)  # "city" has no config: inferred from the frame
    assert model.encoder_.features["city"].type == "categorical"
    assert model.predict(df.head(5))["prediction"].between(0, 1).all()
    with pytest.raises(ConfigError, match="groups: \\['wide', 'deep'\\]"):
        create_model("deepfm", feature_groups={"towers": ["user"]})


def test_saved_zoo_model_loads_as_its_class(tmp_path):
    model = get_model_class("dcnv2")(**get_model_class("dcnv2").contract_case().params).fit(toy_interactions())
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded).__name__ == "DCNv2" and isinstance(loaded, DeepRankModel)
    pairs = toy_interactions().head(7)
    np.testing.assert_allclose(loaded.predict(pairs)["prediction"], model.predict(pairs)["prediction"])
