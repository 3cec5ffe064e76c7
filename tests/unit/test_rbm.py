"""RBM: config checks, the CD schedule, the network's pieces, fit/score behaviour, save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError
from recutils.testing import toy_interactions

torch = pytest.importorskip("torch")

from recutils.models.rbm import RBM, RBMConfig  # noqa: E402
from recutils.models.rbm.network import MultinomialRBM  # noqa: E402

SMALL = {"hidden_units": 8, "n_epochs": 3, "batch_size": 8, "learning_rate": 0.5, "seed": 0}


@pytest.mark.parametrize("bad", [{"hidden_units": 0}, {"keep_prob": 0.0}, {"keep_prob": 1.5},
                                 {"cd_schedule": [70, 50]}, {"cd_schedule": [0, 50]},
                                 {"model_unrated": "yes"}, {"learning_rate": 0}])
def test_bad_config_raises(bad):
    with pytest.raises(ConfigError):
        RBMConfig(**bad)


def test_gibbs_steps_follow_the_schedule():
    c = RBMConfig(n_epochs=10, cd_schedule=[50, 70, 80, 90, 100])
    assert [c.gibbs_steps(e) for e in range(10)] == [1, 1, 1, 1, 1, 2, 2, 3, 4, 5]


def test_config_round_trips():
    c = RBMConfig(hidden_units=12, cd_schedule=[40, 100], model_unrated=False)
    assert RBMConfig.from_dict(c.to_dict()) == c


def test_free_energy_matches_its_formula():
    torch.manual_seed(0)
    net = MultinomialRBM(n_items=3, n_classes=3, n_hidden=4)
    states = torch.tensor([[0, 1, 2], [2, 2, 0]])
    v = net.one_hot(states)
    expected = -(v @ net.visible_bias) - torch.log1p(torch.exp(v @ net.weight + net.hidden_bias)).sum(1)
    torch.testing.assert_close(net.free_energy(v), expected)


def test_masked_units_stay_unrated_in_gibbs_sampling():
    torch.manual_seed(0)
    net = MultinomialRBM(n_items=5, n_classes=4, n_hidden=3, mask_class0=True)
    states = torch.tensor([[0, 1, 0, 3, 2], [2, 0, 0, 0, 1]])
    after = net.gibbs(states, steps=3)
    assert ((after == 0) == (states == 0)).all()
    assert (after[states > 0] >= 1).all()
    probs = net.class_probs(states)
    torch.testing.assert_close(probs[..., 0], torch.zeros(2, 5))


def test_rating_scale_is_learned_and_scores_are_expected_ratings():
    df = toy_interactions()
    df["rating"] = df["rating"] / 2  # a half-star scale
    model = RBM(**SMALL).fit(df)
    np.testing.assert_array_equal(model.rating_values_, np.unique(df["rating"]))
    pred = model.predict(df.iloc[:20])["prediction"]
    assert ((pred >= 0) & (pred <= df["rating"].max())).all()


def test_masked_model_predicts_within_the_rating_range():
    df = toy_interactions()
    model = RBM(**SMALL, model_unrated=False).fit(df)
    pred = model.predict(df.iloc[:20])["prediction"]
    assert ((pred >= 1) & (pred <= 5)).all()


def test_nan_ratings_are_refused():
    df = toy_interactions()
    df.loc[0, "rating"] = np.nan
    with pytest.raises(DataError, match="NaN"):
        RBM(**SMALL).fit(df)


def test_history_has_one_row_per_epoch_with_the_gibbs_steps():
    model = RBM(**{**SMALL, "n_epochs": 4}, cd_schedule=[50, 100]).fit(toy_interactions())
    assert model.history_["gibbs_steps"].tolist() == [1, 1, 2, 2]
    assert np.isfinite(model.history_["rmse"]).all()


def test_training_lowers_reconstruction_error():
    df = toy_interactions(n_users=40, n_rows=400)
    model = RBM(hidden_units=16, n_epochs=30, batch_size=8, learning_rate=1.0, seed=0).fit(df)
    rmse = model.history_["rmse"].to_numpy()
    assert rmse[-5:].mean() < rmse[:3].mean()


def test_save_load_rejects_codes_outside_the_scale(tmp_path):
    model = RBM(**SMALL).fit(toy_interactions())
    folder = model.save(tmp_path / "m")
    arrays = dict(np.load(folder / "arrays.npz"))
    arrays["ratings_codes"] = arrays["ratings_codes"] + 10
    np.savez(folder / "arrays.npz", **arrays)
    with pytest.raises(ConfigError, match="ratings_codes"):
        RBM.load(folder)


def test_recommendations_do_not_depend_on_id_sorting():
    df = toy_interactions()
    renamed = df.assign(userID="u" + df["userID"].astype(str), itemID="i" + df["itemID"].astype(str))
    a = RBM(**SMALL).fit(df).recommend_k_items(df, top_k=3)
    b = RBM(**SMALL).fit(renamed).recommend_k_items(renamed, top_k=3)
    np.testing.assert_allclose(a["prediction"], b["prediction"], rtol=1e-5)
    assert isinstance(b, pd.DataFrame)
