"""Trainer.fit_epochs (batch source + loss), the shared RunConfig, and the CF models on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recutils.datasets.synthetic import make_interactions  # noqa: E402
from recutils.exceptions import ConfigError  # noqa: E402
from recutils.models import create_model  # noqa: E402
from recutils.models.deep.config import DeepRankConfig  # noqa: E402
from recutils.models.ncf import NCF, NCFConfig  # noqa: E402
from recutils.nn.run import RunConfig  # noqa: E402
from recutils.nn.trainer import BatchSource, Callback, EarlyStopping, Trainer  # noqa: E402
from recutils.splitting import python_stratified_split  # noqa: E402
from recutils.tuning import ITERATIVE_MODELS  # noqa: E402


class LinearSource:
    """y = X w + noise; each epoch the rows in a permutation drawn from (seed, epoch)."""

    def __init__(self, n: int = 200, batch_size: int = 32, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.x = torch.from_numpy(rng.normal(size=(n, 3)).astype(np.float32))
        self.w = torch.tensor([1.5, -2.0, 0.5])
        self.y = self.x @ self.w + 0.01 * torch.from_numpy(rng.normal(size=n).astype(np.float32))
        self.n, self.batch_size, self.seed = n, batch_size, seed

    def epoch_batches(self, epoch: int):
        order = torch.from_numpy(np.random.default_rng([self.seed, epoch]).permutation(self.n))
        return [order[s : s + self.batch_size] for s in range(0, self.n, self.batch_size)]


def mse(model, idx):
    src = mse.source
    return torch.nn.functional.mse_loss(model(src.x[idx]).squeeze(1), src.y[idx])


def _toy(**config):
    source = LinearSource()
    mse.source = source
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    cfg = {
        "progress": False,
        "early_stopping_metric": None,
        "device": "cpu",
        "optimizers": [{"name": "sgd", "lr": 0.05}],
        **config,
    }
    return source, model, cfg


def test_custom_batch_source_and_loss_train_a_toy_model() -> None:
    source, model, cfg = _toy()
    assert isinstance(source, BatchSource)
    steps, rows = [], []

    class Recorder(Callback):
        def on_step(self, step, trainer):
            steps.append(step)

        def on_evaluate(self, row, trainer):
            rows.append(dict(row))

    trainer = Trainer(model, cfg, seed=1, callbacks=[Recorder()])
    hist = trainer.fit_epochs(source, mse, 8)
    assert list(hist.columns) == ["epoch", "loss", "seconds"]
    assert hist["epoch"].tolist() == list(range(1, 9))
    assert hist["loss"].iloc[-1] < 0.01 < hist["loss"].iloc[0]
    assert steps == list(range(1, 8 * 7 + 1))  # 200 rows / 32 = 7 steps per epoch
    assert [r["epoch"] for r in rows] == list(range(1, 9))
    torch.testing.assert_close(model.weight.detach()[0], source.w, atol=0.02, rtol=0)
    assert not model.training


def test_fit_epochs_callback_returning_true_stops_after_that_epoch() -> None:
    source, model, cfg = _toy()

    class StopAtThree(Callback):
        def on_evaluate(self, row, trainer):
            return row["epoch"] >= 3

    hist = Trainer(model, cfg, callbacks=[StopAtThree()]).fit_epochs(source, mse, 10)
    assert hist["epoch"].tolist() == [1, 2, 3]


def test_fit_epochs_resumed_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path) -> None:
    source, straight, cfg = _toy(optimizers=[{"name": "adam", "lr": 0.01}])
    Trainer(straight, cfg, seed=2).fit_epochs(source, mse, 6)
    _, part, _ = _toy()
    Trainer(part, cfg, seed=2, model_dir=tmp_path).fit_epochs(source, mse, 3)  # "interrupted"
    _, resumed, _ = _toy()
    trainer = Trainer(resumed, cfg, seed=2, model_dir=tmp_path)
    hist = trainer.fit_epochs(source, mse, 6)
    assert hist["epoch"].tolist() == list(range(1, 7))
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, rtol=0, atol=0)
    assert [p.name for p in trainer.checkpoints()] == ["ckpt-5.pt", "ckpt-6.pt"]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_fit_epochs_mixed_precision_autocasts_the_loss_and_still_trains(
    precision, tmp_path
) -> None:
    source, model, cfg = _toy(precision=precision)
    seen = []

    def loss(net, idx):
        seen.append(torch.is_autocast_enabled("cpu"))
        return mse(net, idx)

    trainer = Trainer(model, cfg, seed=1, model_dir=tmp_path)
    hist = trainer.fit_epochs(source, loss, 8)
    assert seen and all(seen)  # the loss ran under autocast
    assert model.weight.dtype == torch.float32  # the weights stay float32
    assert hist["loss"].iloc[-1] < 0.01 < hist["loss"].iloc[0]
    saved = torch.load(trainer.checkpoints()[-1], weights_only=True)
    # fp16 steps through a GradScaler, whose state is checkpointed (none for bf16)
    assert (saved["scaler"] is not None) == (precision == "fp16")
    # the same fit as float32 up to the low precision's rounding (fp16: a few early steps
    # are skipped while the scaler finds its scale)
    _, fp32_model, fp32_cfg = _toy()
    Trainer(fp32_model, fp32_cfg, seed=1).fit_epochs(source, mse, 8)
    torch.testing.assert_close(model.weight, fp32_model.weight, atol=0.01, rtol=0)


def test_fit_epochs_early_stopping_restores_the_best_epoch() -> None:
    source, model, cfg = _toy(patience=1)
    values = iter([0.5, 0.7, 0.6, 0.65, 0.9])
    snapshots = []

    def validate() -> float:
        snapshots.append(model.weight.detach().clone())
        return next(values)

    hist = Trainer(model, cfg).fit_epochs(
        source, mse, 5, validate=validate, metric="score", early_stopping=True
    )
    assert hist["valid_score"].tolist() == [0.5, 0.7, 0.6, 0.65]  # two epochs without improvement
    torch.testing.assert_close(model.weight.detach(), snapshots[1], rtol=0, atol=0)
    with pytest.raises(ConfigError, match="validate"):
        Trainer(model, cfg).fit_epochs(source, mse, 2, early_stopping=True)


def test_early_stopping_rule() -> None:
    rule = EarlyStopping(higher_is_better=False, patience=1, min_delta=0.1)
    assert rule.is_better(1.0) and not rule.record(1.0, True)
    assert not rule.is_better(0.95)  # not by min_delta
    assert not rule.record(0.95, False) and rule.record(0.97, False)
    assert rule.best == 1.0 and rule.bad == 2


# ------------------------------------------------------------------- run settings
def test_run_settings_are_one_config_with_each_models_defaults(tmp_path) -> None:
    model = create_model("ncf", seed=3, device="cpu", num_threads=1, model_dir=str(tmp_path))
    assert isinstance(model.config, RunConfig)
    assert model.config.run_settings() == RunConfig(
        seed=3, device="cpu", num_threads=1, model_dir=str(tmp_path)
    )
    assert NCFConfig.from_dict(model.config.to_dict()) == model.config
    for name in ("ncf", "lightgcn", "multi_vae", "multi_dae"):
        config = create_model(name).config
        assert (config.device, config.num_threads) == ("cpu", 1)
    deep = DeepRankConfig()
    assert (deep.device, deep.num_threads, deep.train.device, deep.train.num_threads) == (
        None,
        None,
        "auto",
        None,
    )
    set_ = DeepRankConfig.from_dict({"device": "cpu", "num_threads": 2, "model_dir": "m"})
    assert (set_.train.device, set_.train.num_threads) == ("cpu", 2)
    assert DeepRankConfig.from_dict(set_.to_dict()) == set_
    with pytest.raises(ConfigError, match="device"):
        DeepRankConfig(device="tpu")
    with pytest.raises(ConfigError, match="num_threads"):
        create_model("lightgcn", num_threads=0)


def test_iterative_models_come_from_the_class_attribute() -> None:
    from recutils.models.lightfm.model import LightFMRecommender

    assert LightFMRecommender.epochs_field == "epochs"
    assert ITERATIVE_MODELS["lightfm"] == "epochs" and "lightfm" in ITERATIVE_MODELS
    assert (
        NCF.epochs_field == "n_epochs" and "ncf" not in ITERATIVE_MODELS
    )  # reports per epoch instead
    with pytest.raises(TypeError):
        ITERATIVE_MODELS["ncf"] = "n_epochs"  # type: ignore[index]


# ----------------------------------------------------------------- CF validation
@pytest.fixture(scope="module")
def split():
    ratings = make_interactions(n_users=120, n_items=80, n_interactions=2500, seed=4).ratings
    return python_stratified_split(ratings, ratio=0.75, seed=1)


SMALL = {
    "ncf": {"n_factors": 4, "layer_sizes": [8, 4], "batch_size": 256, "learning_rate": 0.01},
    "lightgcn": {"embedding_dim": 8, "n_layers": 1, "batch_size": 256, "learning_rate": 0.01},
    "multi_vae": {"hidden_dims": [16], "latent_dim": 8, "batch_size": 32, "total_anneal_steps": 10},
}


@pytest.mark.parametrize("name", list(SMALL))
def test_cf_fit_with_valid_reports_the_ranking_metric_each_epoch(name, split) -> None:
    from recutils.evaluation import ndcg_at_k

    train, valid = split
    rows = []

    class Recorder(Callback):
        def on_evaluate(self, row, trainer):
            rows.append(dict(row))

    params = {**SMALL[name], "n_epochs": 3, "seed": 0}
    model = create_model(name, **params, callbacks=[Recorder()]).fit(train, valid=valid)
    values = model.history_["valid_ndcg@10"]
    assert len(values) == 3 and values.between(0, 1).all()
    assert [r["valid_ndcg@10"] for r in rows] == values.tolist()
    top = model.recommend_k_items(valid["userID"].unique(), top_k=10)
    assert ndcg_at_k(valid, top, k=10) == pytest.approx(values.iloc[-1], rel=1e-9)
    # validation reads the model, it does not change training
    plain = create_model(name, **params).fit(train)
    pd.testing.assert_frame_equal(
        plain.history_.drop(columns="seconds"),
        model.history_.drop(columns=["seconds", "valid_ndcg@10"]),
    )


def test_cf_early_stopping_keeps_the_best_epoch(split) -> None:
    train, valid = split
    params = {
        **SMALL["ncf"],
        "n_epochs": 40,
        "learning_rate": 0.05,
        "seed": 0,
        "patience": 1,
        "valid_metric": "recall@5",
    }
    model = NCF(**params).fit(train, valid=valid)
    hist = model.history_["valid_recall@5"]
    assert len(hist) < 40  # stopped
    assert hist.idxmax() == len(hist) - 3  # two epochs without improvement after the best
    from recutils.evaluation import recall_at_k

    top = model.recommend_k_items(valid["userID"].unique(), top_k=5)
    assert recall_at_k(valid, top, k=5) == pytest.approx(hist.max(), rel=1e-9)
    with pytest.raises(ConfigError, match="valid_metric"):
        NCF(valid_metric="rmse")
