"""Trainer: determinism, early stopping, optimizers, num_steps, resume after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _nn_helpers import toy_encoded, toy_model, toy_specs  # noqa: E402

from recutils.nn.backbone import build_rank_network  # noqa: E402
from recutils.nn.config import TrainConfig  # noqa: E402
from recutils.nn.data import TensorData  # noqa: E402
from recutils.nn.trainer import Trainer, compute_num_steps, metric_value  # noqa: E402

HERE = Path(__file__).resolve().parent
FAST = {"batch_size": 64, "epochs": 3, "progress": False, "num_threads": 1}


def _setup(dropout=0.2, n=600, seed=5):
    net = build_rank_network(toy_model(dropout), toy_specs(), seed=seed)
    enc, y = toy_encoded(n)
    full = TensorData.from_encoded(enc, net.backbone.layout, y)
    return net, full.subset(np.arange(int(n * 0.8))), full.subset(np.arange(int(n * 0.8), n))


def test_deterministic_under_seed_and_global_rng_untouched():
    state = torch.get_rng_state()
    results = []
    for _ in range(2):
        net, train, valid = _setup()
        Trainer(net, FAST, seed=3).fit(train, valid)
        results.append(net.state_dict())
    assert all(torch.equal(results[0][k], results[1][k]) for k in results[0])
    assert torch.equal(state, torch.get_rng_state())
    net, train, valid = _setup()
    Trainer(net, FAST, seed=4).fit(train, valid)
    assert not all(torch.equal(results[0][k], net.state_dict()[k]) for k in results[0])


def test_history_learning_and_metric():
    net, train, valid = _setup(dropout=0.0)
    trainer = Trainer(
        net,
        {**FAST, "epochs": 6, "patience": 10, "optimizers": [{"name": "adam", "lr": 0.02}]},
        seed=0,
    )
    hist = trainer.fit(train, valid)
    assert list(hist.columns) == ["step", "epoch", "train_loss", "lr", "seconds", "valid_auc"]
    assert len(hist) == 6 and hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    assert hist["valid_auc"].max() > 0.6
    # the restored weights are the best epoch's
    assert trainer.evaluate(valid) == pytest.approx(hist["valid_auc"].max())


def test_early_stopping_stops():
    net, train, valid = _setup(dropout=0.0)
    cfg = {
        **FAST,
        "epochs": 50,
        "patience": 0,
        "optimizers": [{"name": "adam", "lr": 0.2}],
        "early_stopping_metric": "logloss",
    }
    hist = Trainer(net, cfg, seed=0).fit(train, valid)
    assert len(hist) < 50
    assert hist["valid_logloss"].idxmin() == len(hist) - 2  # stopped one evaluation after the best


def test_num_steps_rule_and_schedule():
    assert compute_num_steps(1000, TrainConfig(batch_size=100, epochs=3)) == 30
    assert compute_num_steps(1000, TrainConfig(batch_size=100, epochs=3, num_workers=2)) == 15
    assert compute_num_steps(1000, TrainConfig(num_steps=7)) == 7
    net, train, valid = _setup()
    hist = Trainer(
        net,
        {
            **FAST,
            "num_steps": 9,
            "eval_every_steps": 3,
            "lr_schedule": "step",
            "lr_decay_steps": 3,
            "lr_decay_rate": 0.5,
        },
        seed=0,
    ).fit(train, valid)
    assert hist["step"].tolist() == [3, 6, 9]
    assert hist["lr"].tolist() == pytest.approx([0.0005, 0.00025, 0.000125])


def test_multiple_optimizers_and_l2_as_weight_decay():
    net, train, valid = _setup()
    trainer = Trainer(
        net,
        {
            **FAST,
            "optimizers": [
                {"name": "adagrad", "lr": 0.1, "params": "embedding"},
                {"name": "adam", "lr": 0.001, "params": "dense"},
            ],
        },
    )
    opts = trainer._make_optimizers()
    assert [type(o).__name__ for o in opts] == ["Adagrad", "Adam"]
    decays = sorted(g["weight_decay"] for g in opts[1].param_groups)
    assert decays == [0.0, pytest.approx(2e-4)]  # 2 * l2_regularization on weight matrices only
    n_params = sum(len(g["params"]) for o in opts for g in o.param_groups)
    assert n_params == len(list(net.parameters()))
    trainer.fit(train, valid)


def test_metric_value_uses_recutils_evaluation():
    y = np.array([0, 1, 1, 0], dtype=float)
    p = np.array([0.1, 0.8, 0.6, 0.7])
    assert metric_value("auc", y, p) == pytest.approx(0.75)


def _run(model_dir, out, sleep):
    return [sys.executable, str(HERE / "_nn_train_script.py"), str(model_dir), str(out), str(sleep)]


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1])}
    ref = tmp_path / "ref.npz"
    subprocess.run(_run(tmp_path / "ref", ref, 0), check=True, env=env, timeout=300)
    out = tmp_path / "resumed.npz"
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(_run(run_dir, out, 0.1), env=env)
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            ckpts = [p for p in run_dir.glob("ckpt-*.pt")] if run_dir.exists() else []
            if any(int(p.stem.split("-")[1]) >= 15 for p in ckpts):
                break
            if proc.poll() is not None:
                pytest.fail("the training process ended before it could be killed")
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint appeared")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists()
    killed_at = max(int(p.stem.split("-")[1]) for p in run_dir.glob("ckpt-*.pt"))
    assert killed_at < 40  # 4 epochs x 20 steps: it was interrupted
    subprocess.run(_run(run_dir, out, 0), check=True, env=env, timeout=300)
    with np.load(ref) as a, np.load(out) as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# ---------------------------------------------------------------- sparse / multiple optimizers
SPARSE_YAML = """
batch_size: 64
epochs: 6
progress: false
num_threads: 1
patience: 10
optimizers:
  - {name: %s, lr: 0.05, params: embedding%s}
  - {name: adam, lr: 0.01, params: dense}
"""


@pytest.mark.parametrize(
    "name,extra,cls", [("sparse_adam", "", "SparseAdam"), ("adagrad", ", sparse: true", "Adagrad")]
)
def test_sparse_embedding_optimizer_from_yaml(name, extra, cls):
    import yaml

    cfg = TrainConfig.from_dict(yaml.safe_load(SPARSE_YAML % (name, extra)))
    assert cfg.optimizers[0].sparse and not cfg.optimizers[1].sparse
    net, train, valid = _setup(dropout=0.0)
    trainer = Trainer(net, cfg, seed=0)
    opts = trainer._make_optimizers()
    assert [type(o).__name__ for o in opts] == [cls, "Adam"]
    # the right parameters go to the right optimizer: the tables to the sparse one, the rest to Adam
    tables = {id(p) for p in net.backbone.bank.parameters()}
    assert {id(p) for g in opts[0].param_groups for p in g["params"]} == tables
    dense = {id(p) for g in opts[1].param_groups for p in g["params"]}
    assert dense == {id(p) for p in net.parameters()} - tables
    # the tables' gradients are sparse: only the rows looked up in the batch
    trainer._set_sparse(trainer._sparse_embeddings())
    batch = train.batch(slice(0, 16))
    net.train()
    (net(batch).sum() + net.regularization_loss()).backward()
    for p in net.backbone.bank.parameters():
        assert p.grad.is_sparse
        rows = p.grad.coalesce().indices()[0].unique()
        assert 0 < len(rows) < p.shape[0]
    assert all(not p.grad.is_sparse for p in net.parameters() if id(p) not in tables)
    # training still learns
    hist = Trainer(net, cfg, seed=0).fit(train, valid)
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
    assert hist["valid_auc"].max() > 0.6


def test_sparse_optimizer_config_errors():
    from recutils.exceptions import ConfigError
    from recutils.nn.config import OptimizerConfig

    with pytest.raises(ConfigError, match="params: embedding"):
        OptimizerConfig(name="sparse_adam", params="dense")
    with pytest.raises(ConfigError, match="weight_decay"):
        OptimizerConfig(name="adagrad", sparse=True, params="embedding", weight_decay=0.01)
    with pytest.raises(ConfigError, match="cannot take sparse"):
        OptimizerConfig(name="adam", sparse=True, params="embedding")
    with pytest.raises(ConfigError, match="cover only"):
        TrainConfig(optimizers=[OptimizerConfig(name="sparse_adam", params="embedding")])


# ---------------------------------------------------------------- callbacks
def test_on_evaluate_callback_sees_rows_and_stops_training():
    from recutils.nn.trainer import Callback

    class StopAfterTwo(Callback):
        def __init__(self):
            self.rows = []

        def on_evaluate(self, row, trainer):
            self.rows.append(dict(row))
            return len(self.rows) == 2

    steps = []
    cb = StopAfterTwo()
    net, train, valid = _setup()
    hist = Trainer(
        net,
        {**FAST, "epochs": 5, "patience": 10},
        seed=0,
        callbacks=[cb, lambda step, tr: steps.append(step)],
    ).fit(train, valid)
    assert len(hist) == 2 and [r["step"] for r in cb.rows] == hist["step"].tolist()
    assert all("valid_auc" in r for r in cb.rows)
    assert steps == list(
        range(1, int(hist["step"].iloc[-1]) + 1)
    )  # plain functions: after every step


def test_callback_exception_leaves_fit_and_bad_callback_is_rejected():
    from recutils.exceptions import ConfigError

    class Pruned(Exception):
        pass

    class Raise:
        def on_evaluate(self, row, trainer):
            raise Pruned(row["step"])

    net, train, valid = _setup()
    with pytest.raises(Pruned):
        Trainer(net, FAST, seed=0, callbacks=[Raise()]).fit(train, valid)
    with pytest.raises(ConfigError, match="callback"):
        Trainer(net, FAST, callbacks=[42])


# ---------------------------------------------------------------- weight averaging
def test_weight_average_known_answer():
    from recutils.nn.trainer import WeightAverage

    lin = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        lin.weight.fill_(0.0)
    ema = WeightAverage(lin, 0.5)
    expected = 0.0
    for t, w in enumerate([1.0, 2.0, 4.0], start=1):
        with torch.no_grad():
            lin.weight.fill_(w)
        ema.update()
        d = min(0.5, (1 + t) / (10 + t))
        expected = d * expected + (1 - d) * w
    assert ema.shadow[0].item() == pytest.approx(expected)
    with ema.averaged():
        assert lin.weight.item() == pytest.approx(expected)
    assert lin.weight.item() == 4.0  # the raw weights come back after the block
    saved = ema.state()
    ema.update()
    ema.load_state(saved)
    assert ema.updates == 3 and ema.shadow[0].item() == pytest.approx(expected)
    ema.copy_to_model()
    assert lin.weight.item() == pytest.approx(expected)


def test_trainer_ema_leaves_the_average_in_the_model():
    # no validation: the model ends with the average of the weights after each step
    net, train, _ = _setup(dropout=0.0)
    decay = 0.9
    avg = {
        n: p.detach().clone() for n, p in net.named_parameters()
    }  # starts at the initial weights
    count = [0]

    def track(step, trainer):
        count[0] += 1
        d = min(decay, (1 + count[0]) / (10 + count[0]))
        for name, p in trainer.model.named_parameters():
            avg[name] = d * avg[name] + (1 - d) * p.detach()

    Trainer(
        net, {**FAST, "ema_decay": decay, "early_stopping_metric": None}, seed=1, callbacks=[track]
    ).fit(train)
    assert count[0] > 10
    final = dict(net.named_parameters())
    for name in avg:
        torch.testing.assert_close(final[name].detach(), avg[name], rtol=1e-5, atol=1e-6)


def test_trainer_ema_early_stopping_restores_the_best_average():
    net, train, valid = _setup(dropout=0.0)
    trainer = Trainer(
        net,
        {
            **FAST,
            "epochs": 5,
            "patience": 10,
            "ema_decay": 0.95,
            "optimizers": [{"name": "adam", "lr": 0.02}],
        },
        seed=0,
    )
    hist = trainer.fit(train, valid)
    assert trainer.evaluate(valid) == pytest.approx(hist["valid_auc"].max())
    plain, train2, valid2 = _setup(dropout=0.0)
    Trainer(
        plain,
        {**FAST, "epochs": 5, "patience": 10, "optimizers": [{"name": "adam", "lr": 0.02}]},
        seed=0,
    ).fit(train2, valid2)
    assert not all(
        torch.equal(a, b) for a, b in zip(net.state_dict().values(), plain.state_dict().values())
    )


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.2, True, "0.9"])
def test_ema_decay_validation(bad):
    from recutils.exceptions import ConfigError

    with pytest.raises(ConfigError, match="ema_decay"):
        TrainConfig(ema_decay=bad)
