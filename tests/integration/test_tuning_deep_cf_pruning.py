"""Pruning deep CF models: NCF, LightGCN and Multi-VAE report each epoch's validation ranking metric to the pruner."""

from __future__ import annotations

import pytest

optuna = pytest.importorskip("optuna")
pytest.importorskip("torch")

from recutils.datasets.synthetic import make_interactions  # noqa: E402
from recutils.models.registry import create_model  # noqa: E402
from recutils.splitting import python_stratified_split  # noqa: E402
from recutils.tuning import evaluate_model, tune  # noqa: E402

EPOCHS = 3
SPACE = {
    "learning_rate": {"type": "float", "low": 1e-3, "high": 5e-2, "log": True},
    "n_factors": [4, 8],
    "layer_sizes": {"type": "fixed", "value": [8, 4]},
    "n_epochs": EPOCHS,
    "batch_size": 256,
}


@pytest.fixture(scope="module")
def data():
    ratings = make_interactions(n_users=100, n_items=60, n_interactions=2000, seed=3).ratings
    return python_stratified_split(ratings, ratio=0.75, seed=1)


class PruneAfterOne(optuna.pruners.BasePruner):
    """Prunes every trial but the first once it has reported one epoch."""

    def __init__(self) -> None:
        self.seen: dict[int, dict[int, float]] = {}

    def prune(self, study, trial) -> bool:
        self.seen[trial.number] = dict(trial.intermediate_values)
        return trial.number > 0 and len(trial.intermediate_values) >= 1


def test_ncf_trials_report_each_epoch_and_are_pruned(data):
    train, valid = data
    pruner = PruneAfterOne()
    result = tune(
        "ncf",
        SPACE,
        train,
        valid,
        metric="ndcg@10",
        n_trials=2,
        pruner=pruner,
        sampler="random",
        seed=5,
        progress=False,
    )
    trials = result.study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED"]
    assert sorted(trials[0].intermediate_values) == list(range(1, EPOCHS + 1))
    assert sorted(trials[1].intermediate_values) == [1]
    assert pruner.seen[1] == trials[1].intermediate_values
    # the completed trial's last report is the value of its fitted model
    model = create_model("ncf", **result.best_params).fit(train, valid=valid)
    assert model.history_["valid_ndcg@10"].tolist() == list(trials[0].intermediate_values.values())
    assert evaluate_model(model, train, valid, "ndcg@10") == pytest.approx(
        result.best_value, rel=1e-9
    )


LR = {"type": "float", "low": 1e-3, "high": 5e-2, "log": True}
OTHER_SPACES = {
    "lightgcn": {
        "learning_rate": LR,
        "embedding_dim": [4, 8],
        "n_layers": 1,
        "n_epochs": EPOCHS,
        "batch_size": 256,
    },
    "multi_vae": {"learning_rate": LR, "n_epochs": EPOCHS, "batch_size": 32},
}


@pytest.mark.parametrize("name", sorted(OTHER_SPACES))
def test_lightgcn_and_multi_vae_report_each_epoch_and_are_pruned(data, name):
    """LightGCN and Multi-VAE join the per-epoch pruning as NCF does: one report per epoch,
    the values of the model's own validation history, and a pruned second trial."""
    train, valid = data
    pruner = PruneAfterOne()
    result = tune(
        name,
        OTHER_SPACES[name],
        train,
        valid,
        metric="ndcg@10",
        n_trials=2,
        pruner=pruner,
        sampler="random",
        seed=5,
        progress=False,
    )
    trials = result.study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED"]
    assert sorted(trials[0].intermediate_values) == list(range(1, EPOCHS + 1))
    assert sorted(trials[1].intermediate_values) == [1]
    model = create_model(name, **result.best_params).fit(train, valid=valid)
    assert model.history_["valid_ndcg@10"].tolist() == list(trials[0].intermediate_values.values())
    assert evaluate_model(model, train, valid, "ndcg@10") == pytest.approx(
        result.best_value, rel=1e-9
    )
