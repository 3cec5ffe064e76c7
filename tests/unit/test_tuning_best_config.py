"""Tuning as the docs show it: the search space checked before the first trial, the best
config written complete (and loaded back), Optuna quiet with ``progress=False``, and
``recutils.tuning.__all__``."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

optuna = pytest.importorskip("optuna")

import recutils.tuning as tuning  # noqa: E402
from recutils.datasets.synthetic import make_interactions  # noqa: E402
from recutils.exceptions import ConfigError  # noqa: E402
from recutils.models import create_model  # noqa: E402
from recutils.splitting import python_random_split  # noqa: E402
from recutils.tuning import SearchSpace, tune  # noqa: E402


@pytest.fixture(scope="module")
def data():
    ratings = make_interactions(100, 60, 2000, seed=2).ratings
    return python_random_split(ratings, ratio=0.8, seed=1)


def test_a_key_inside_a_component_is_checked_before_the_first_trial(data) -> None:
    pytest.importorskip("torch")
    train, valid = data
    trials = []
    space = {
        "model_config.backbone.blocks.1.layer.params.dropout_ratez": {
            "type": "float",
            "low": 0.0,
            "high": 0.5,
        }
    }
    with pytest.raises(
        ConfigError, match=r"dropout_ratez.*before the first trial.*allowed: \['hidden_units'"
    ):
        tune(
            "deep_rank",
            space,
            train,
            valid,
            metric="auc",
            n_trials=2,
            progress=trials.append,
            model_kwargs={"label_threshold": 4.0},
        )
    assert trials == []


def test_a_bad_choice_is_named_before_the_first_trial() -> None:
    with pytest.raises(ConfigError, match="'similarity_type': the value 'cosin'"):
        SearchSpace({"similarity_type": ["jaccard", "cosin"]}).validate("sar")
    # a good space passes, conditions respected
    SearchSpace(
        {
            "similarity_type": ["jaccard", "lift"],
            "time_decay_coefficient": {"type": "float", "low": 1, "high": 60},
        }
    ).validate("sar")


def test_write_best_config_writes_a_complete_config_the_model_loads_back(data, tmp_path) -> None:
    """It used to write only the searched keys, with list positions ({'optimizers': {'0': ...}}),
    which the model rejected."""
    pytest.importorskip("torch")
    train, valid = data
    space = {
        "train.optimizers.0.lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
        "default_embedding_dim": [4, 8],
    }
    fixed = {
        "label_threshold": 4.0,
        "train": {
            "epochs": 1,
            "batch_size": 256,
            "progress": False,
            "validation_fraction": 0.0,
            "early_stopping_metric": None,
        },
    }
    result = tune(
        "deep_rank",
        space,
        train,
        valid,
        metric="ndcg@10",
        n_trials=2,
        progress=False,
        seed=3,
        model_kwargs=fixed,
    )
    path = result.write_best_config(tmp_path / "best.yaml")
    text = path.read_text()
    assert "optimizers:\n" in text and "'0'" not in text and "model_config:" in text
    loaded = create_model("deep_rank", config=path)
    assert loaded.config == result.best_model().config
    assert loaded.config.train.optimizers[0].lr == pytest.approx(
        result.best_flat_params["train.optimizers.0.lr"]
    )
    assert loaded.config.train.epochs == 1 and loaded.config.label_threshold == 4.0


def test_best_config_of_a_flat_model_round_trips(data, tmp_path) -> None:
    train, valid = data
    result = tune(
        "bias",
        {"reg_user": {"type": "float", "low": 0.1, "high": 10.0, "log": True}},
        train,
        valid,
        metric="rmse",
        n_trials=2,
        progress=False,
        seed=1,
    )
    loaded = create_model("bias", config=result.write_best_config(tmp_path / "b.yaml"))
    assert loaded.config == result.best_model().config
    assert set(result.best_config()) == set(type(loaded.config).field_names())


_RUN = """
import optuna
from recutils.datasets.synthetic import make_interactions
from recutils.splitting import python_random_split
from recutils.tuning import tune
train, valid = python_random_split(make_interactions(50, 40, 600, seed=1).ratings, ratio=0.8, seed=1)
before = optuna.logging.get_verbosity()
tune("bias", {"reg_user": {"type": "float", "low": 0.1, "high": 10.0}}, train, valid, metric="rmse",
     n_trials=2, progress=PROGRESS, seed=1)
assert optuna.logging.get_verbosity() == before, "verbosity not restored"
"""


@pytest.mark.parametrize("progress, shown", [(False, False), ("lambda row: None", True)])
def test_optuna_trial_lines_are_silenced_with_progress_false(progress, shown) -> None:
    code = _RUN.replace("PROGRESS", str(progress))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert ("Trial 0 finished" in run.stderr) is shown, run.stderr


def test_all_lists_the_public_names() -> None:
    public = {
        n
        for n in dir(tuning)
        if not n.startswith("_") and not isinstance(getattr(tuning, n), types.ModuleType)
    }
    assert public == set(tuning.__all__)
    for name in (
        "tune",
        "TuningResult",
        "load_result",
        "SearchSpace",
        "Param",
        "generate_param_grid",
        "SearchSettings",
        "EvaluationSettings",
        "RunSettings",
        "ITERATIVE_MODELS",
    ):
        assert name in tuning.__all__
    namespace: dict = {}
    exec("from recutils.tuning import *", namespace)  # noqa: S102 - the star import users write
    assert set(tuning.__all__) <= set(namespace)


def test_drawn_nested_values_keep_the_fixed_ones_of_the_same_section() -> None:
    """A drawn ``train.optimizers.0.lr`` used to replace a fixed ``train={"epochs": 1}`` whole
    (the constructor arguments were merged at the top level only)."""
    from recutils.tuning.objective import Columns, model_arguments

    merged = model_arguments(
        Columns(),
        {"train": {"epochs": 1}, "label_threshold": 4.0},
        {"train": {"optimizers": {"0": {"lr": 0.01}}}, "seed": 3},
    )
    assert merged["train"] == {"epochs": 1, "optimizers": {"0": {"lr": 0.01}}}
    assert (
        merged["label_threshold"] == 4.0 and merged["seed"] == 3 and merged["col_user"] == "userID"
    )


def test_history_plot_ticks_are_whole_trial_numbers(data) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, valid = data
    result = tune(
        "sar",
        {"similarity_type": ["jaccard", "lift", "cosine"]},
        train,
        valid,
        metric="ndcg@10",
        n_trials=3,
        sampler="grid",
        progress=False,
    )
    ax = result.plot_optimization_history()
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    plt.close("all")
