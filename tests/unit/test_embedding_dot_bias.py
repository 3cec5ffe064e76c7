"""EmbeddingDotBias beyond the contract suite: formula, schedule, config, bad input, save/load."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recutils.exceptions import ConfigError, DataError  # noqa: E402
from recutils.models import create_model, list_models, load_model  # noqa: E402
from recutils.models.dotbias import EmbeddingDotBias, EmbeddingDotBiasConfig, one_cycle  # noqa: E402
from recutils.models.dotbias.network import EmbeddingDotBiasNetwork  # noqa: E402
from recutils.nn.trainer import Callback  # noqa: E402
from recutils.testing.contract import toy_interactions  # noqa: E402

SMALL = {"n_factors": 4, "n_epochs": 2, "batch_size": 32, "learning_rate": 0.05, "seed": 3}


def test_registered() -> None:
    assert "embedding_dot_bias" in list_models()
    assert isinstance(create_model("embedding_dot_bias", n_factors=3), EmbeddingDotBias)


def test_network_is_the_sigmoid_range_of_dot_plus_biases() -> None:
    torch.manual_seed(0)
    net = EmbeddingDotBiasNetwork(3, 4, 2, y_range=(1.0, 5.0))
    u, i = torch.tensor([0, 2, 1]), torch.tensor([3, 0, 1])
    p, q = net.user_factors.weight.detach(), net.item_factors.weight.detach()
    bu, bi = net.user_bias.weight.detach()[:, 0], net.item_bias.weight.detach()[:, 0]
    raw = (p[u] * q[i]).sum(1) + bu[u] + bi[i]
    expected = 1.0 + 4.0 * torch.sigmoid(raw)
    torch.testing.assert_close(net(u, i), expected)
    # the full score rows hold the same values
    torch.testing.assert_close(net.score(u)[torch.arange(3), i], expected)


def test_initial_weights_are_small_and_truncated() -> None:
    torch.manual_seed(0)
    net = EmbeddingDotBiasNetwork(500, 600, 40)
    w = net.item_factors.weight.detach()
    assert w.abs().max() <= 0.02 + 1e-7
    assert 0.005 < float(w.std()) < 0.01


def test_one_cycle_follows_fastai_defaults() -> None:
    assert one_cycle(0, 1000, 0.01) == pytest.approx((0.01 / 25, 0.95))
    assert one_cycle(250, 1000, 0.01) == pytest.approx((0.01, 0.85))
    assert one_cycle(1000, 1000, 0.01) == pytest.approx((0.01 / 1e5, 0.95))
    # halfway through the warm-up: halfway between the ends (half cosine)
    lr, beta1 = one_cycle(125, 1000, 0.01)
    assert lr == pytest.approx((0.01 / 25 + 0.01) / 2)
    assert beta1 == pytest.approx(0.9)
    lrs = [one_cycle(s, 100, 1.0)[0] for s in range(101)]
    assert np.all(np.diff(lrs[:25]) > 0) and np.all(np.diff(lrs[25:]) < 0)


def test_fit_predicts_ratings_inside_y_range_and_learns() -> None:
    df = toy_interactions()
    model = EmbeddingDotBias(
        n_factors=4,
        n_epochs=30,
        batch_size=16,
        learning_rate=0.05,
        weight_decay=0.0,
        y_range=[0.5, 5.5],
        seed=0,
    ).fit(df)
    pred = model.predict(df)["prediction"].to_numpy()
    assert ((pred > 0.5) & (pred < 5.5)).all()
    # training error far below that of the global mean
    train_rmse = math.sqrt(np.mean((pred - df["rating"].to_numpy()) ** 2))
    assert train_rmse < 0.6 * float(df["rating"].std())
    hist = model.history_
    assert list(hist["epoch"]) == list(range(1, 31))
    assert hist["loss"].iloc[-1] < hist["loss"].iloc[0]
    # one-cycle: the last step's rate is close to learning_rate / 1e5
    assert hist["lr"].iloc[-1] < 1e-4


def test_constant_rate_without_one_cycle() -> None:
    model = EmbeddingDotBias(**SMALL, one_cycle=False).fit(toy_interactions())
    assert (model.history_["lr"] == SMALL["learning_rate"]).all()


def test_predict_agrees_with_score_rows() -> None:
    df = toy_interactions()
    model = EmbeddingDotBias(**SMALL).fit(df)
    top = model.recommend_k_items(df["userID"].unique()[:5], top_k=3, remove_seen=False)
    again = model.predict(top[["userID", "itemID"]])
    np.testing.assert_allclose(again["prediction"], top["prediction"], rtol=1e-6)


def test_same_seed_same_model_and_resume_matches(tmp_path) -> None:
    df = toy_interactions()
    a = EmbeddingDotBias(**SMALL).fit(df).predict(df)
    b = EmbeddingDotBias(**SMALL).fit(df).predict(df)
    pd.testing.assert_frame_equal(a, b)

    # a fit interrupted in its second epoch resumes from the first epoch's checkpoint,
    # continuing the one-cycle schedule, and ends where an uninterrupted fit does
    class Interrupt(Callback):
        def on_evaluate(self, row, trainer):
            if row["epoch"] == 2:
                raise KeyboardInterrupt

    ckpt = str(tmp_path / "ckpt")
    with pytest.raises(KeyboardInterrupt):
        EmbeddingDotBias(**SMALL, model_dir=ckpt, callbacks=[Interrupt()]).fit(df)
    resumed = EmbeddingDotBias(**SMALL, model_dir=ckpt).fit(df).predict(df)
    np.testing.assert_allclose(resumed["prediction"], a["prediction"], rtol=1e-6)


def test_save_load_round_trip(tmp_path) -> None:
    df = toy_interactions(string_ids=True)
    model = EmbeddingDotBias(**SMALL).fit(df)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, EmbeddingDotBias)
    assert loaded.config.to_dict() == model.config.to_dict()
    pd.testing.assert_frame_equal(loaded.predict(df), model.predict(df))
    users = list(df["userID"].unique()[:4])
    pd.testing.assert_frame_equal(loaded.recommend_k_items(users), model.recommend_k_items(users))


@pytest.mark.parametrize(
    "bad",
    [
        {"y_range": [5.0, 1.0]},
        {"y_range": [1.0]},
        {"y_range": [0.0, float("inf")]},
        {"y_range": "0,5"},
        {"n_factors": 0},
        {"batch_size": 0},
        {"learning_rate": 0.0},
        {"weight_decay": -0.1},
        {"one_cycle": "yes"},
        {"n_epochs": 1.5},
    ],
)
def test_bad_config_raises(bad) -> None:
    with pytest.raises(ConfigError):
        EmbeddingDotBias(**bad)


def test_config_round_trips() -> None:
    cfg = EmbeddingDotBiasConfig(y_range=(1, 5), n_factors=8)
    assert cfg.y_range == [1.0, 5.0]
    assert EmbeddingDotBiasConfig.from_dict(cfg.to_dict()) == cfg


def test_bad_training_data_raises() -> None:
    df = toy_interactions()
    with pytest.raises(DataError):  # a repeated (user, item) pair
        EmbeddingDotBias(**SMALL).fit(pd.concat([df, df.iloc[:1]], ignore_index=True))
    nan = df.copy()
    nan.loc[0, "rating"] = np.nan
    with pytest.raises(DataError):
        EmbeddingDotBias(**SMALL).fit(nan)
    with pytest.raises(ValueError):  # ratings are required
        EmbeddingDotBias(**SMALL).fit(df.drop(columns="rating"))
