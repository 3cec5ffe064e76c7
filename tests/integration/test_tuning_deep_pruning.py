"""Pruning a deep CTR model: the trainer reports each epoch's validation AUC to the pruner."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("torch")

from recutils.datasets.synthetic import make_interactions  # noqa: E402
from recutils.models.registry import create_model  # noqa: E402
from recutils.splitting import python_stratified_split  # noqa: E402
from recutils.tuning import evaluate_model, tune  # noqa: E402

EPOCHS = 4
SPACE = {
    "default_embedding_dim": [4, 8],
    "train.optimizers.0.lr": {"type": "float", "low": 1e-3, "high": 5e-2, "log": True},
    "model_config.backbone.blocks.1.layer.params.hidden_units.0": [16, 32],
    "train.epochs": EPOCHS,
    "train.batch_size": 256,
    "train.patience": 10,  # no early stopping: every trial could report every epoch
    "train.progress": False,
    "train.num_threads": 1,
}


@pytest.fixture(scope="module")
def data():
    ratings = make_interactions(n_users=150, n_items=100, n_interactions=5000, seed=2).ratings
    ratings["rating"] = (ratings["rating"] >= 4).astype(float)  # click-through labels
    return python_stratified_split(ratings, ratio=0.75, seed=1)


class PruneAfterTwo(optuna.pruners.BasePruner):
    """Prunes every trial but the first once it has reported two epochs; records what it saw."""

    def __init__(self) -> None:
        self.seen: dict[int, dict[int, float]] = {}

    def prune(self, study, trial) -> bool:
        self.seen[trial.number] = dict(trial.intermediate_values)
        return trial.number > 0 and len(trial.intermediate_values) >= 2


def test_deep_ctr_trials_report_each_epoch_and_are_pruned(data):
    train, valid = data
    pruner = PruneAfterTwo()
    result = tune(
        "deep_rank",
        SPACE,
        train,
        valid,
        metric="auc",
        n_trials=3,
        pruner=pruner,
        sampler="random",
        seed=5,
        progress=False,
    )
    study_trials = result.study.get_trials()
    states = [t.state.name for t in study_trials]
    assert states == ["COMPLETE", "PRUNED", "PRUNED"]
    assert sorted(study_trials[0].intermediate_values) == list(range(1, EPOCHS + 1))
    assert all(sorted(t.intermediate_values) == [1, 2] for t in study_trials[1:])
    assert pruner.seen[2] == study_trials[2].intermediate_values  # the pruner saw the reported AUCs
    assert all(0.0 <= v <= 1.0 for t in study_trials for v in t.intermediate_values.values())
    # the best configuration trains a final model that scores what its trial scored
    model = create_model("deep_rank", **result.best_params).fit(train)
    assert model.history_["valid_auc"].tolist() == list(
        study_trials[0].intermediate_values.values()
    )
    assert evaluate_model(model, train, valid, "auc") == pytest.approx(result.best_value, rel=1e-9)
    assert result.best_value > 0.55
