"""Search spaces: parsing, validation against model configs, grids, conditional parameters."""

from __future__ import annotations

import pytest

from recutils.exceptions import ConfigError
from recutils.tuning import SearchSpace, generate_param_grid, nest_params


class FakeTrial:
    """Returns the low end of ranges and the first (or a chosen) categorical value."""

    def __init__(self, choose: dict | None = None) -> None:
        self.choose = choose or {}
        self.asked: list[str] = []

    def suggest_int(self, name, low, high, *, step=1, log=False):
        self.asked.append(name)
        return self.choose.get(name, low)

    def suggest_float(self, name, low, high, *, step=None, log=False):
        self.asked.append(name)
        return self.choose.get(name, low)

    def suggest_categorical(self, name, choices):
        self.asked.append(name)
        return self.choose.get(name, choices[0])


SPACE_YAML = """
n_factors: {type: int, low: 8, high: 64, step: 8}
lr_all: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
biased: [true, false]
n_epochs: 10
"""


def test_yaml_kinds_and_round_trip():
    space = SearchSpace.from_yaml(SPACE_YAML)
    p = space.params
    assert p["n_factors"].kind == "int" and p["n_factors"].step == 8
    assert p["lr_all"].kind == "float" and p["lr_all"].log
    assert p["biased"].kind == "categorical" and p["biased"].choices == (True, False)
    assert p["n_epochs"].is_fixed and p["n_epochs"].value == 10
    assert space.searched == ["n_factors", "lr_all", "biased"]
    assert SearchSpace(space.to_dict()) == space
    assert SearchSpace.from_yaml(space.to_yaml()) == space


def test_yaml_file(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(SPACE_YAML)
    assert (
        SearchSpace.from_yaml(path)
        == SearchSpace.from_yaml(str(path))
        == SearchSpace.from_yaml(SPACE_YAML)
    )


def test_validate_against_model_config():
    SearchSpace.from_yaml(SPACE_YAML).validate("surprise_svd")
    with pytest.raises(ConfigError) as err:
        SearchSpace({"n_factor": [8, 16]}).validate("surprise_svd")
    assert "n_factor" in str(err.value) and "n_factors" in str(err.value)  # names the allowed ones


def test_validate_unknown_model():
    with pytest.raises(ConfigError, match="unknown model"):
        SearchSpace({"k": [1]}).validate("no_such_model")


def test_validate_mapping_field_subkeys():
    SearchSpace({"sim_options.name": ["msd", "cosine"], "k": [20, 40]}).validate(
        "surprise_knnbaseline"
    )
    with pytest.raises(ConfigError, match="not a nested config"):
        SearchSpace({"k.x": [1]}).validate("surprise_knnbaseline")


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"type": "int", "low": 5, "high": 1}, "above high"),
        ({"type": "int", "low": 1.5, "high": 3}, "integers"),
        ({"type": "float", "low": 0.0, "high": 1.0, "log": True}, "low > 0"),
        ({"type": "float", "low": 0.1, "high": 1.0, "step": 0.1, "log": True}, "step"),
        ({"type": "categorical", "choices": []}, "non-empty"),
        ({"type": "uniform", "low": 0, "high": 1}, "unknown type"),
        ({"type": "int", "low": 0, "high": 1, "scale": "log"}, "unknown key"),
        ({"low": 0, "high": 1}, "needs a 'type'"),
        ({"type": "fixed"}, "needs a 'value'"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(ConfigError, match=match):
        SearchSpace({"x": spec})


def test_conditional_parameters():
    space = SearchSpace(
        {
            "loss": ["warp", "bpr", "logistic"],
            "max_sampled": {"type": "int", "low": 5, "high": 30, "when": {"loss": "warp"}},
            "learning_rate": {
                "type": "float",
                "low": 0.01,
                "high": 0.1,
                "when": {"loss": ["bpr", "warp"]},
            },
        }
    ).validate("lightfm")
    warp = FakeTrial({"loss": "warp"})
    assert space.suggest(warp) == {"loss": "warp", "max_sampled": 5, "learning_rate": 0.01}
    logistic = FakeTrial({"loss": "logistic"})
    assert space.suggest(logistic) == {"loss": "logistic"}
    assert logistic.asked == ["loss"]  # inactive parameters are never drawn
    grid_space = SearchSpace(
        {
            "loss": ["warp", "bpr"],
            "max_sampled": {"type": "categorical", "choices": [5, 10], "when": {"loss": "warp"}},
        }
    )
    assert grid_space.grid() == [
        {"loss": "warp", "max_sampled": 5},
        {"loss": "warp", "max_sampled": 10},
        {"loss": "bpr"},
    ]


def test_conditional_declared_before_parent_and_chains():
    space = SearchSpace(
        {
            "c": {"type": "categorical", "choices": [1, 2], "when": {"b": True}},
            "b": {"type": "categorical", "choices": [True, False], "when": {"a": "x"}},
            "a": ["x", "y"],
        }
    )
    assert space.suggest(FakeTrial({"a": "x", "b": True})) == {"a": "x", "b": True, "c": 1}
    assert space.suggest(FakeTrial({"a": "y"})) == {"a": "y"}


@pytest.mark.parametrize(
    "params, match",
    [
        ({"a": {"type": "fixed", "value": 1, "when": {"missing": 1}}}, "unknown parameter"),
        (
            {
                "a": {"type": "int", "low": 0, "high": 3},
                "b": {"type": "fixed", "value": 1, "when": {"a": 1}},
            },
            "categorical or fixed parent",
        ),
        (
            {"a": ["x", "y"], "b": {"type": "fixed", "value": 1, "when": {"a": "z"}}},
            "can never hold",
        ),
        (
            {
                "a": {"type": "categorical", "choices": [1], "when": {"b": 1}},
                "b": {"type": "categorical", "choices": [1], "when": {"a": 1}},
            },
            "cycle",
        ),
        ({"train": {"type": "fixed", "value": 1}, "train.epochs": 3}, "both"),
    ],
)
def test_bad_conditions(params, match):
    with pytest.raises(ConfigError, match=match):
        SearchSpace(params)


def test_booleans_are_not_numbers_in_conditions():
    space = SearchSpace(
        {"a": [1, True], "b": {"type": "fixed", "value": "on", "when": {"a": True}}}
    )
    assert space.suggest(FakeTrial({"a": 1})) == {"a": 1}
    assert space.suggest(FakeTrial({"a": True})) == {"a": True, "b": "on"}


def test_grid_needs_lists():
    with pytest.raises(ConfigError, match="grid search sweeps lists"):
        SearchSpace({"x": {"type": "int", "low": 0, "high": 3}}).grid()


def test_generate_param_grid_semantics():
    grid = generate_param_grid(
        {"b": [1, 2], "a": ["x", "y", "z"], "fixed": 0.5, "tup": (1, 2), "d": {"k": 1}}
    )
    assert len(grid) == 6
    # sorted keys, the last key (b) turns fastest; non-lists copied into every point
    assert [(g["a"], g["b"]) for g in grid] == [
        ("x", 1),
        ("x", 2),
        ("y", 1),
        ("y", 2),
        ("z", 1),
        ("z", 2),
    ]
    assert all(g["fixed"] == 0.5 and g["tup"] == (1, 2) and g["d"] == {"k": 1} for g in grid)
    assert generate_param_grid({"a": 1}) == [{"a": 1}]
    assert generate_param_grid({"a": []}) == []


def test_space_grid_matches_generate_param_grid():
    params = {"n_factors": [10, 20], "lr_all": [0.01, 0.02, 0.05], "n_epochs": 5}
    assert SearchSpace(params).grid() == generate_param_grid(params)


def test_nest_params():
    assert nest_params({"train.epochs": 3, "train.batch_size": 8, "seed": 1}) == {
        "train": {"epochs": 3, "batch_size": 8},
        "seed": 1,
    }


def test_list_positions_in_nested_paths():
    pytest.importorskip("torch")
    space = {
        "train.optimizers.0.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        "model_config.backbone.blocks.1.layer.params.hidden_units.0": [32, 64],
    }
    SearchSpace(space).validate("deep_rank")
    assert nest_params({"train.optimizers.0.lr": 0.01}) == {
        "train": {"optimizers": {"0": {"lr": 0.01}}}
    }
    with pytest.raises(ConfigError, match="out of range"):
        SearchSpace({"train.optimizers.3.lr": 0.01}).validate("deep_rank")
