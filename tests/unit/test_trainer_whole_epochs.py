"""The trainer's history reports whole epochs and ``best_epoch_`` (it used to report
fractions such as 1.985915 when EasyRec's step count ended the last epoch early)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from _nn_helpers import toy_encoded, toy_model, toy_specs  # noqa: E402

from recutils.nn.backbone import build_rank_network  # noqa: E402
from recutils.nn.data import TensorData  # noqa: E402
from recutils.nn.trainer import Trainer, best_epoch, compute_num_steps  # noqa: E402


def _data(n: int):
    net = build_rank_network(toy_model(0.0), toy_specs(), seed=1)
    enc, y = toy_encoded(n)
    full = TensorData.from_encoded(enc, net.backbone.layout, y)
    cut = int(n * 0.8)
    return net, full.subset(np.arange(cut)), full.subset(np.arange(cut, n))


def test_history_epochs_are_whole_when_the_step_rule_ends_the_last_epoch_early() -> None:
    # 520 training rows in batches of 64: 9 steps an epoch, but EasyRec's rule gives
    # ceil(520 * 2 / 64) = 17 steps for 2 epochs, so the second stops a step short; it used to
    # be reported as epoch 17 / 9 = 1.888...
    net, train, valid = _data(650)
    cfg = {"batch_size": 64, "epochs": 2, "progress": False, "num_threads": 1, "patience": 5}
    assert len(train) == 520 and compute_num_steps(len(train), Trainer(net, cfg).config) == 17
    trainer = Trainer(net, cfg, seed=0)
    hist = trainer.fit(train, valid)
    assert hist["step"].tolist() == [9, 17]
    assert hist["epoch"].tolist() == [1, 2]
    assert all(isinstance(e, (int, np.integer)) for e in hist["epoch"])
    best = int(hist["valid_auc"].idxmax())
    assert trainer.best_epoch_ == hist["epoch"].iloc[best]


def test_rows_within_an_epoch_carry_that_epoch() -> None:
    net, train, valid = _data(650)
    cfg = {
        "batch_size": 64,
        "epochs": 2,
        "eval_every_steps": 4,
        "progress": False,
        "num_threads": 1,
        "patience": 10,
    }
    hist = Trainer(net, cfg, seed=0).fit(train, valid)
    assert hist["step"].tolist() == [4, 8, 12, 16, 17]
    assert hist["epoch"].tolist() == [1, 1, 2, 2, 2]


def test_best_epoch_is_none_without_validation() -> None:
    net, train, _ = _data(650)
    trainer = Trainer(
        net, {"batch_size": 64, "epochs": 1, "progress": False, "early_stopping_metric": None}
    )
    trainer.fit(train)
    assert trainer.best_epoch_ is None


def test_best_epoch_helper_takes_the_first_row_with_the_kept_value() -> None:
    hist = pd.DataFrame({"epoch": [1, 2, 3, 4], "valid_auc": [0.7, 0.8, 0.8, 0.75]})
    assert best_epoch(hist, "valid_auc", 0.8) == 2
    assert best_epoch(hist, "valid_auc", None) is None
    assert best_epoch(hist, "valid_logloss", 0.8) is None


def test_deep_rank_model_reports_whole_epochs_and_keeps_best_epoch_through_save(tmp_path) -> None:
    from recutils.datasets.synthetic import make_interactions
    from recutils.models.deep import DeepRankModel

    df = make_interactions(80, 50, 1500, seed=3).ratings
    model = DeepRankModel(
        label_threshold=4.0,
        default_embedding_dim=4,
        train={"epochs": 3, "batch_size": 100, "progress": False, "patience": 5},
    )
    model.fit(df)
    assert model.history_["epoch"].tolist() == [1, 2, 3]
    assert model.best_epoch_ == int(
        model.history_["epoch"].iloc[int(model.history_["valid_auc"].idxmax())]
    )
    model.save(tmp_path / "m")
    loaded = DeepRankModel.load(tmp_path / "m")
    assert loaded.best_epoch_ == model.best_epoch_
    assert loaded.history_["epoch"].tolist() == [1, 2, 3]
