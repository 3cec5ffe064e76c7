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
from recutils.nn.config import ModelConfig, OptimizerConfig  # noqa: E402
from recutils.testing import toy_interactions  # noqa: E402

ZOO = [
    "autoint",
    "dcn",
    "dcnv2",
    "deepfm",
    "dlrm",
    "ffm",
    "fibinet",
    "fm",
    "highway",
    "masknet",
    "multitower",
    "ppnet",
    "wide_deep",
    "xdeepfm",
]


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
        o.get("weight_decay", 0.0) for o in shipped["optimizers"]
    ]  # kept, not reset to defaults
    assert model.col_rating == "label"


def test_user_features_and_groups_and_unknown_group():
    df = toy_interactions()
    df["city"] = np.where(df["userID"] % 2 == 0, "a", "b")
    model = create_model(
        "deepfm",
        features=[{"name": "user", "column": "@user"}, {"name": "item", "column": "@item"}],
        feature_groups={"wide": ["user", "item", "city"], "deep": ["user", "item", "city"]},
        label_threshold=4.0,
        train={
            "epochs": 1,
            "validation_fraction": 0.0,
            "early_stopping_metric": None,
            "progress": False,
        },
    )
    model.fit(df)  # "city" has no config: inferred from the frame
    assert model.encoder_.features["city"].type == "categorical"
    assert model.predict(df.head(5))["prediction"].between(0, 1).all()
    with pytest.raises(ConfigError, match="groups: \\['wide', 'deep'\\]"):
        create_model("deepfm", feature_groups={"towers": ["user"]})


def test_saved_zoo_model_loads_as_its_class(tmp_path):
    model = get_model_class("dcnv2")(**get_model_class("dcnv2").contract_case().params).fit(
        toy_interactions()
    )
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded).__name__ == "DCNv2" and isinstance(loaded, DeepRankModel)
    pairs = toy_interactions().head(7)
    np.testing.assert_allclose(
        loaded.predict(pairs)["prediction"], model.predict(pairs)["prediction"]
    )


def test_zoo_configs_resolve_as_their_yaml_through_the_one_path():
    """Each zoo model's default config is its shipped YAML read by config_io (as before the move)."""
    from recutils.models.ctr import preset_path
    from recutils.models.deep import DeepRankConfig
    from recutils.nn.config_io import load_config_with

    for name in ZOO:
        path = preset_path(name)
        expected = load_config_with(path, DeepRankConfig).to_dict()
        assert create_model(name).config.to_dict() == expected, name
        assert DeepRankConfig.from_dict(yaml.safe_load(path.read_text())).to_dict() == expected, (
            name
        )
        assert get_model_class(name)(config=path).config.to_dict() == expected, name


def test_zoo_list_position_override_bug_train_optimizers_0_lr():
    """Bug: a zoo model rejected ``train.optimizers.0.lr`` ("TrainConfig.optimizers must be a list")."""
    shipped = preset_config("deepfm")["train"]["optimizers"]
    model = create_model("deepfm", train={"optimizers": {"0": {"lr": 0.01}}, "epochs": 2})
    optimizers = [o.to_dict() for o in model.config.train.optimizers]
    assert optimizers[0] == {**OptimizerConfig(**shipped[0]).to_dict(), "lr": 0.01}
    assert optimizers[1] == OptimizerConfig(**shipped[1]).to_dict()  # the other optimizer is kept
    assert model.config.train.epochs == 2
    with pytest.raises(ConfigError, match="position out of range"):
        create_model("deepfm", train={"optimizers": {"2": {"lr": 0.01}}})


def test_zoo_model_tuned_over_train_optimizers_0_lr():
    """The tuning path (search space over ``train.optimizers.0.lr``) reaches the optimizer config."""
    pytest.importorskip("optuna")
    from recutils.datasets.synthetic import make_interactions
    from recutils.splitting import python_stratified_split
    from recutils.tuning import tune

    ratings = make_interactions(n_users=40, n_items=30, n_interactions=600, seed=2).ratings
    ratings["rating"] = (ratings["rating"] >= 4).astype(float)
    train, valid = python_stratified_split(ratings, ratio=0.75, seed=1)
    case = get_model_class("deepfm").contract_case().params
    space = {
        "train.optimizers.0.lr": {"type": "float", "low": 1e-3, "high": 5e-2, "log": True},
        "train.epochs": 1,
        "train.batch_size": 128,
        "train.num_threads": 1,
        "train.progress": False,
        "train.validation_fraction": 0.0,
        "train.early_stopping_metric": None,
    }
    result = tune(
        "deepfm",
        space,
        train,
        valid,
        metric="auc",
        n_trials=2,
        sampler="random",
        pruner=None,
        seed=3,
        model_kwargs={"features": case["features"], "feature_groups": case["feature_groups"]},
        progress=False,
    )
    assert [t.state.name for t in result.study.get_trials()] == ["COMPLETE", "COMPLETE"]
    lr = result.best_params["train"]["optimizers"]["0"]["lr"]
    model = create_model(
        "deepfm",
        feature_groups=case["feature_groups"],
        features=case["features"],
        **result.best_params,
    )
    dense_lr = preset_config("deepfm")["train"]["optimizers"][1]["lr"]
    assert [o.lr for o in model.config.train.optimizers] == [lr, dense_lr]
