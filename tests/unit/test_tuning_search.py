"""tune(): objective direction, samplers and seeds, results frame, best config, splitter specs."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("optuna")

from recutils.datasets.synthetic import make_interactions  # noqa: E402
from recutils.exceptions import ConfigError, StateError  # noqa: E402
from recutils.models.registry import create_model  # noqa: E402
from recutils.splitting import python_stratified_split  # noqa: E402
from recutils.tuning import MetricTarget, split_from_spec, tune  # noqa: E402
from recutils.tuning.objective import evaluate_model  # noqa: E402

BIAS_SPACE = {
    "reg_user": {"type": "float", "low": 0.1, "high": 50.0, "log": True},
    "reg_item": {"type": "float", "low": 0.1, "high": 50.0, "log": True},
    "n_iter": 5,
}
KNN_SPACE = {
    "k": {"type": "int", "low": 2, "high": 50},
    "shrink": {"type": "float", "low": 0.0, "high": 50.0},
}


@pytest.fixture(scope="module")
def data():
    ratings = make_interactions(n_users=120, n_items=80, n_interactions=3000, seed=3).ratings
    return python_stratified_split(ratings, ratio=0.75, seed=1)


def test_metric_direction_from_registry():
    assert MetricTarget.parse("rmse").direction == "minimize"
    assert MetricTarget.parse("ndcg@5").direction == "maximize"
    assert MetricTarget.parse("ndcg@5").k == 5 and MetricTarget.parse("ndcg").k == 10
    with pytest.raises(ConfigError, match="unknown metric"):
        MetricTarget.parse("ndgc@10")


@pytest.mark.parametrize("metric", ["rmse", "ndcg@10"])
def test_best_value_follows_direction(data, metric):
    train, valid = data
    space = BIAS_SPACE if metric == "rmse" else KNN_SPACE
    model = "bias" if metric == "rmse" else "itemknn"
    result = tune(
        model, space, train, valid, metric=metric, n_trials=6, sampler="random", progress=False
    )
    values = result.trials["value"]
    expected = values.min() if metric == "rmse" else values.max()
    assert result.best_value == pytest.approx(expected)
    assert result.study.direction.name == ("MINIMIZE" if metric == "rmse" else "MAXIMIZE")
    # the objective's value is what evaluate() gives for the best parameters
    model_obj = create_model(model, **result.best_params).fit(train)
    assert evaluate_model(model_obj, train, valid, metric) == pytest.approx(result.best_value)


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_determinism_under_seed(data, sampler):
    train, valid = data
    runs = [
        tune(
            "bias",
            BIAS_SPACE,
            train,
            valid,
            metric="rmse",
            n_trials=12,
            sampler=sampler,
            seed=7,
            progress=False,
        ).trials
        for _ in range(2)
    ]
    cols = ["number", "value", "params_reg_user", "params_reg_item"]
    pd.testing.assert_frame_equal(runs[0][cols], runs[1][cols])
    other = tune(
        "bias",
        BIAS_SPACE,
        train,
        valid,
        metric="rmse",
        n_trials=3,
        sampler=sampler,
        seed=8,
        progress=False,
    ).trials
    assert not other["params_reg_user"].equals(runs[0]["params_reg_user"].iloc[:3])


def test_results_frame_and_best_config(data, tmp_path):
    train, valid = data
    seen = []
    result = tune("bias", BIAS_SPACE, train, valid, metric="rmse", n_trials=4, progress=seen.append)
    frame = result.trials
    assert list(frame.columns) == [
        "number",
        "state",
        "value",
        "params_reg_user",
        "params_reg_item",
        "duration",
        "datetime_start",
    ]
    assert frame["number"].tolist() == [0, 1, 2, 3]
    assert (frame["state"] == "COMPLETE").all() and (frame["duration"] > 0).all()
    assert [s["number"] for s in seen] == [0, 1, 2, 3] and seen[-1][
        "best_value"
    ] == result.best_value
    best = result.best_params
    assert best["n_iter"] == 5 and set(best) == {"reg_user", "reg_item", "n_iter"}
    path = result.write_best_config(tmp_path / "best.yaml")
    model = create_model("bias", config=path)
    assert model.config.reg_user == pytest.approx(best["reg_user"]) and model.config.n_iter == 5
    final = result.fit_best(train, valid)
    assert final.is_fitted and final.n_users_ >= create_model("bias").fit(train).n_users_


def test_grid_sampler_sweeps_lists(data):
    train, valid = data
    space = {"k": [5, 10, 20], "shrink": [0.0, 10.0], "binary": True}
    result = tune(
        "itemknn", space, train, valid, metric="precision@5", sampler="grid", progress=False
    )
    frame = result.trials
    assert len(frame) == 6 and (frame["state"] == "COMPLETE").all()
    points = sorted(zip(frame["params_k"], frame["params_shrink"]))
    assert points == [(5, 0.0), (5, 10.0), (10, 0.0), (10, 10.0), (20, 0.0), (20, 10.0)]
    with pytest.raises(ConfigError, match="grid search sweeps lists"):
        tune("itemknn", KNN_SPACE, train, valid, sampler="grid", progress=False)


def test_seed_goes_to_models_with_a_seed_field(data):
    train, valid = data
    result = tune(
        "random", {"seed": [1, 2]}, train, valid, metric="ndcg@5", sampler="grid", progress=False
    )
    assert set(result.trials["params_seed"]) == {1, 2}
    popular = tune(
        "popularity",
        {"half_life_days": [None, 30.0]},
        train,
        valid,
        metric="ndcg@5",
        sampler="grid",
        progress=False,
    )
    assert "seed" not in popular.best_params


def test_splitter_spec(data):
    ratings = pd.concat(data, ignore_index=True)
    train, valid = split_from_spec(
        ratings, {"name": "python_stratified_split", "ratio": 0.8}, seed=3
    )
    expected = python_stratified_split(ratings, ratio=0.8, seed=3)
    pd.testing.assert_frame_equal(train, expected[0])
    with pytest.raises(ConfigError, match="unknown splitter"):
        split_from_spec(ratings, {"name": "eval('1')"})
    with pytest.raises(ConfigError, match="takes no argument"):
        split_from_spec(ratings, {"name": "python_random_split", "min_rating": 2})
    with pytest.raises(ConfigError, match="two parts"):
        split_from_spec(ratings, {"name": "python_random_split", "ratio": [0.6, 0.2, 0.2]})
    result = tune(
        "bias",
        BIAS_SPACE,
        ratings,
        split={"name": "python_random_split", "ratio": 0.8},
        metric="rmse",
        n_trials=2,
        progress=False,
    )
    assert len(result.trials) == 2


def test_errors(data):
    train, valid = data
    with pytest.raises(ConfigError, match="reg_usr"):
        tune("bias", {"reg_usr": [1.0]}, train, valid, metric="rmse", n_trials=1, progress=False)
    with pytest.raises(ConfigError, match="n_trials, timeout"):
        tune("bias", BIAS_SPACE, train, valid, metric="rmse", progress=False)
    with pytest.raises(ConfigError, match="unknown sampler"):
        tune(
            "bias",
            BIAS_SPACE,
            train,
            valid,
            metric="rmse",
            n_trials=1,
            sampler="cmaes-ish",
            progress=False,
        )
    with pytest.raises(ConfigError, match="database storage"):
        tune("bias", BIAS_SPACE, train, valid, metric="rmse", n_trials=1, workers=2, progress=False)
    with pytest.raises(ConfigError, match="study_name"):
        tune(
            "bias",
            BIAS_SPACE,
            train,
            valid,
            metric="rmse",
            n_trials=1,
            storage="sqlite:///:memory:",
            progress=False,
        )
    empty = tune("bias", BIAS_SPACE, train, valid, metric="rmse", n_trials=0, progress=False)
    with pytest.raises(StateError):
        _ = empty.best_params


def test_timeout_budget(data):
    train, valid = data
    result = tune("bias", BIAS_SPACE, train, valid, metric="rmse", timeout=1.0, progress=False)
    assert len(result.trials) >= 1


def test_threads_reach_exact_count(data):
    train, valid = data
    result = tune(
        "bias", BIAS_SPACE, train, valid, metric="rmse", n_trials=7, n_jobs=3, progress=False
    )
    assert (result.trials["state"] == "COMPLETE").sum() == 7


def test_resume_study_in_sqlite(data, tmp_path):
    train, valid = data
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    first = tune(
        "bias",
        BIAS_SPACE,
        train,
        valid,
        metric="rmse",
        n_trials=3,
        storage=url,
        study_name="s",
        progress=False,
    )
    first_trials = first.trials
    assert len(first_trials) == 3
    second = tune(
        "bias",
        BIAS_SPACE,
        train,
        valid,
        metric="rmse",
        n_trials=5,
        storage=url,
        study_name="s",
        progress=False,
    )
    assert second.trials["number"].tolist() == [0, 1, 2, 3, 4]
    pd.testing.assert_frame_equal(first_trials, second.trials.iloc[:3])
    # the resumed run draws new points instead of replaying the first run's
    assert not set(second.trials["params_reg_user"].iloc[3:]) & set(first_trials["params_reg_user"])
    with pytest.raises(ConfigError, match="created with metric"):
        tune(
            "bias",
            BIAS_SPACE,
            train,
            valid,
            metric="mae",
            n_trials=5,
            storage=url,
            study_name="s",
            progress=False,
        )
    from recutils.tuning import load_result

    loaded = load_result(url, "s")
    assert loaded.best_params == second.best_params and loaded.model == "bias"


# ----------------------------------------------------------------------------- grouped settings


def test_grouped_settings_give_the_same_study_as_flat_keywords(data):
    from recutils.tuning import EvaluationSettings, RunSettings, SearchSettings

    train, valid = data
    flat = tune(
        "bias",
        BIAS_SPACE,
        train,
        valid,
        metric="rmse",
        n_trials=5,
        sampler="random",
        seed=7,
        progress=False,
    ).trials
    grouped = tune(
        "bias",
        BIAS_SPACE,
        train,
        valid,
        search=SearchSettings(sampler="random"),
        evaluation=EvaluationSettings(metric="rmse"),
        run=RunSettings(n_trials=5, seed=7, progress=False),
    ).trials
    cols = ["number", "value", "params_reg_user", "params_reg_item"]
    pd.testing.assert_frame_equal(flat[cols], grouped[cols])


def test_flat_keyword_overrides_its_group_and_unknown_keywords_are_named():
    from recutils.tuning.settings import FLAT_KEYWORDS, RunSettings, group_settings

    search, evaluation, run = group_settings(
        run=RunSettings(n_trials=9, seed=1), n_trials=3, metric="rmse", pruner="none"
    )
    assert (run.n_trials, run.seed) == (3, 1)
    assert evaluation.metric == "rmse" and search.pruner == "none"
    assert len(FLAT_KEYWORDS) == 24 and FLAT_KEYWORDS["storage"] == "run"
    with pytest.raises(ConfigError, match="n_trial"):
        group_settings(n_trial=3)
    with pytest.raises(ConfigError, match="RunSettings"):
        group_settings(run={"n_trials": 3})
