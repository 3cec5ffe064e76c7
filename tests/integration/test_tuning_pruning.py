"""Pruning an iterative model: LightFM trained epoch by epoch reports nDCG to the pruner."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("lightfm")

from recutils.datasets.synthetic import make_interactions  # noqa: E402
from recutils.splitting import python_stratified_split  # noqa: E402
from recutils.tuning import tune  # noqa: E402

SPACE = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 0.2, "log": True},
    "no_components": {"type": "int", "low": 4, "high": 16},
    "epochs": 6,
    "loss": "warp",
}


@pytest.fixture(scope="module")
def data():
    ratings = make_interactions(n_users=150, n_items=100, n_interactions=4000, seed=2).ratings
    return python_stratified_split(ratings, ratio=0.75, seed=1)


class RecordingPruner(optuna.pruners.BasePruner):
    """Prunes every trial but the first once it has reported two epochs; records what it saw."""

    def __init__(self) -> None:
        self.seen: dict[int, dict[int, float]] = {}

    def prune(self, study, trial) -> bool:
        self.seen[trial.number] = dict(trial.intermediate_values)
        return trial.number > 0 and len(trial.intermediate_values) >= 2


def test_pruner_sees_every_epoch_and_prunes(data):
    train, valid = data
    pruner = RecordingPruner()
    result = tune(
        "lightfm",
        SPACE,
        train,
        valid,
        metric="ndcg@10",
        n_trials=3,
        pruner=pruner,
        sampler="random",
        progress=False,
    )
    frame = result.trials
    assert frame["state"].tolist() == ["COMPLETE", "PRUNED", "PRUNED"]
    study_trials = result.study.get_trials()
    assert sorted(study_trials[0].intermediate_values) == [1, 2, 3, 4, 5, 6]
    assert all(sorted(t.intermediate_values) == [1, 2] for t in study_trials[1:])
    assert (
        pruner.seen[1] == study_trials[1].intermediate_values
    )  # the pruner saw the reported values
    # the complete trial's value is its last epoch's, which equals a model trained 6 epochs at once
    from recutils.models.registry import create_model
    from recutils.tuning import evaluate_model

    model = create_model("lightfm", **result.best_params).fit(train)
    assert evaluate_model(model, train, valid, "ndcg@10") == pytest.approx(
        result.best_value, rel=1e-6
    )


def test_median_pruner_stops_bad_trials(data):
    train, valid = data
    result = tune(
        "lightfm",
        SPACE,
        train,
        valid,
        metric="ndcg@10",
        n_trials=10,
        sampler="random",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
        seed=3,
        progress=False,
    )
    frame = result.trials
    assert (frame["state"] == "PRUNED").sum() >= 1
    pruned = frame[frame["state"] == "PRUNED"]
    best = frame[frame["state"] == "COMPLETE"]["value"].max()
    assert (pruned["value"] < best).all()  # a pruned trial was behind the best one
