"""StandardVAE beyond the contract suite: loss, network options, annealing, config, save/load."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.models import create_model, list_models, load_model  # noqa: E402
from recutils.models.vae import MultiVAE, StandardVAE, StandardVAEConfig  # noqa: E402
from recutils.models.vae.model import _UserRowEpochs  # noqa: E402
from recutils.models.vae.network import MultiVAENetwork  # noqa: E402
from recutils.testing.contract import toy_interactions  # noqa: E402

SMALL = {"hidden_dims": [16], "latent_dim": 8, "n_epochs": 4, "batch_size": 8, "seed": 1}


def test_registered() -> None:
    assert "standard_vae" in list_models()
    assert isinstance(create_model("standard_vae", latent_dim=4), StandardVAE)


def test_defaults_are_microsofts_network() -> None:
    c = StandardVAEConfig()
    assert (
        c.hidden_dims,
        c.latent_dim,
        c.dropout,
        c.decoder_dropout,
        c.batch_size,
        c.learning_rate,
    ) == ([200], 70, 0.5, 0.5, 100, 1e-3)
    net = StandardVAE()._build_network(5, 30)
    assert net.normalize is False and net.decoder_drop is not None
    assert net.decoder_drop.p == 0.5


def test_network_reads_the_raw_row_and_drops_out_the_decoder() -> None:
    torch.manual_seed(0)
    raw = MultiVAENetwork(6, [4], 3, dropout=0.0, normalize=False, decoder_dropout=0.5)
    torch.manual_seed(0)
    normed = MultiVAENetwork(6, [4], 3, dropout=0.0)
    x = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0, 1.0]])
    # same weights: with normalization the encoder reads x / |x| = x / 2, without it x itself
    torch.testing.assert_close(raw.encode(x / 2.0)[0], normed.encode(x)[0])
    assert not torch.allclose(raw.encode(x)[0], normed.encode(x)[0])
    raw.train()
    z = torch.zeros(200, 3)
    assert not torch.equal(raw.decode(z), raw.decode(z, dropout=False))  # dropout in training
    raw.eval()
    torch.testing.assert_close(raw.decode(z), raw.decode(z, dropout=False))
    torch.testing.assert_close(raw.score(x), raw.decode(raw.encode(x)[0]))


def test_logistic_loss_is_the_binary_cross_entropy_of_the_softmax() -> None:
    users, items = np.array([0, 0, 1]), np.array([0, 2, 1])
    source = _UserRowEpochs(
        users, items, 2, 3, 2, 0, torch.device("cpu"), lambda step: 0.0, likelihood="logistic"
    )
    logits = torch.tensor([[0.5, -1.0, 2.0], [0.0, 1.0, -0.5]])

    class Fixed(torch.nn.Module):
        def forward(self, x):
            return logits, torch.tensor(3.0)

    got = float(source.loss(Fixed(), np.array([0, 1])))
    pi = torch.softmax(logits, 1).numpy()
    x = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    expected = -(x * np.log(pi) + (1 - x) * np.log(1 - pi)).sum(1).mean()  # beta 0: no KL
    assert got == pytest.approx(expected, rel=1e-5)
    multinomial = _UserRowEpochs(users, items, 2, 3, 2, 0, torch.device("cpu"), lambda step: 0.5)
    assert float(multinomial.loss(Fixed(), np.array([0, 1]))) == pytest.approx(
        -(x * np.log(pi)).sum(1).mean() + 0.5 * 3.0, rel=1e-5
    )


def test_default_annealing_reaches_the_cap_after_80_percent_of_the_steps() -> None:
    df = toy_interactions()  # 30 users: 4 steps per epoch of 8
    model = StandardVAE(**{**SMALL, "n_epochs": 10}, anneal_cap=0.5).fit(df)
    assert model._beta(0, 40) == 0.0
    assert model._beta(16, 40) == pytest.approx(0.25)
    assert model._beta(32, 40) == pytest.approx(0.5)
    assert model._beta(39, 40) == pytest.approx(0.5)
    beta = model.history_["beta"].to_numpy()
    assert beta[-1] == pytest.approx(0.5) and beta[0] < 0.1
    fixed = StandardVAE(**SMALL, total_anneal_steps=1, anneal_cap=0.3)
    assert fixed._beta(1, 1000) == pytest.approx(0.3)


def test_fit_ranks_unseen_items_and_differs_from_multi_vae() -> None:
    df = toy_interactions()
    model = StandardVAE(**SMALL).fit(df)
    assert list(model.history_.columns[:5]) == ["epoch", "step", "beta", "nll", "kl"]
    assert np.isfinite(model.history_["nll"]).all()
    top = model.recommend_k_items(df["userID"].unique(), top_k=5)
    seen = set(zip(df["userID"], df["itemID"]))
    assert not any(p in seen for p in zip(top["userID"], top["itemID"]))
    multi = (
        MultiVAE(**SMALL, total_anneal_steps=10)
        .fit(df)
        .recommend_k_items(df["userID"].unique(), top_k=5)
    )
    assert not np.allclose(top["prediction"].to_numpy(), multi["prediction"].to_numpy())


def test_save_load_round_trip(tmp_path) -> None:
    df = toy_interactions(string_ids=True)
    model = StandardVAE(**SMALL).fit(df)
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, StandardVAE)
    assert loaded.config.to_dict() == model.config.to_dict()
    users = list(df["userID"].unique())
    pd.testing.assert_frame_equal(loaded.recommend_k_items(users), model.recommend_k_items(users))


@pytest.mark.parametrize(
    "bad",
    [
        {"decoder_dropout": 1.0},
        {"decoder_dropout": -0.1},
        {"anneal_cap": -1.0},
        {"total_anneal_steps": 0},
        {"latent_dim": 0},
        {"hidden_dims": [0]},
        {"dropout": 1.0},
    ],
)
def test_bad_config_raises(bad) -> None:
    with pytest.raises(ConfigError):
        StandardVAE(**bad)


def test_config_round_trips() -> None:
    cfg = StandardVAEConfig(total_anneal_steps=50, decoder_dropout=0.2)
    assert StandardVAEConfig.from_dict(cfg.to_dict()) == cfg
    assert math.isclose(StandardVAEConfig.from_dict({}).anneal_cap, 0.2)
