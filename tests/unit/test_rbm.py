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


@pytest.mark.parametrize(
    "bad",
    [
        {"hidden_units": 0},
        {"keep_prob": 0.0},
        {"keep_prob": 1.5},
        {"cd_schedule": [70, 50]},
        {"cd_schedule": [0, 50]},
        {"model_unrated": "yes"},
        {"frequency_bias": 1},
        {"learning_rate": 0},
    ],
)
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
    expected = -(v @ net.visible_bias) - torch.log1p(
        torch.exp(v @ net.weight + net.hidden_bias)
    ).sum(1)
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
    renamed = df.assign(
        userID="u" + df["userID"].astype(str), itemID="i" + df["itemID"].astype(str)
    )
    a = RBM(**SMALL).fit(df).recommend_k_items(df, top_k=3)
    b = RBM(**SMALL).fit(renamed).recommend_k_items(renamed, top_k=3)
    np.testing.assert_allclose(a["prediction"], b["prediction"], rtol=1e-5)
    assert isinstance(b, pd.DataFrame)


def test_visible_biases_start_at_the_log_of_smoothed_state_frequencies():
    # item 20 (first seen second) is rated 5 by three users of four, item 10 rated 1 by one
    train = pd.DataFrame(
        {
            "userID": [1, 2, 3, 4, 1],
            "itemID": [10, 20, 20, 20, 30],
            "rating": [1.0, 5.0, 5.0, 5.0, 3.0],
        }
    )
    model = RBM(**{**SMALL, "n_epochs": 1, "learning_rate": 1e-12}).fit(train)
    counts = model._class_counts(4, 3, 4)  # classes: unrated, 1, 3, 5
    internal = model.item_order_[model.item_ids_.get_indexer([10, 20, 30])]
    np.testing.assert_array_equal(counts[internal], [[3, 1, 0, 0], [1, 0, 0, 3], [3, 0, 1, 0]])
    bias = model.network_.visible_bias.detach().numpy().reshape(3, 4)
    expected = np.log((counts + 1) / (counts + 1).sum(1, keepdims=True))
    np.testing.assert_allclose(bias, expected, atol=1e-6)
    zero = RBM(**{**SMALL, "n_epochs": 1, "learning_rate": 1e-12, "frequency_bias": False}).fit(
        train
    )
    assert np.abs(zero.network_.visible_bias.detach().numpy()).max() < 1e-6


def test_frequency_bias_ignores_the_unrated_class_when_it_is_masked():
    net = MultinomialRBM(n_items=2, n_classes=3, n_hidden=2, mask_class0=True)
    net.init_visible_bias(torch.tensor([[5.0, 1.0, 3.0], [0.0, 0.0, 0.0]]))
    probs = net.visible_bias.detach().reshape(2, 3)[:, 1:].exp()
    np.testing.assert_allclose(probs[0].numpy() / probs[0].sum().item(), [2 / 6, 4 / 6], rtol=1e-6)
    np.testing.assert_allclose(probs[1].numpy() / probs[1].sum().item(), [0.5, 0.5], rtol=1e-6)


def test_visible_ratings_replace_the_training_rows_when_scoring():
    from recutils.exceptions import ColumnMismatchError

    df = toy_interactions()
    model = RBM(**SMALL).fit(df)
    users = df["userID"].unique()[:5]
    plain = model.recommend_k_items(users, top_k=3)
    # the training rows themselves (shuffled) give the same lists as scoring without them
    same = model.recommend_k_items(users, top_k=3, visible=df.sample(frac=1.0, random_state=0))
    pd.testing.assert_frame_equal(plain, same)
    # only user 0's first rating visible (plus an unknown item): their scores change, and a
    # user without visible rows still gets a list, scored from an empty row
    first = df[df["userID"] == users[0]].head(1)
    extra = pd.DataFrame(
        {"userID": [users[0]], "itemID": [-99], "rating": [first["rating"].iloc[0]]}
    )
    folded = model.recommend_k_items(users[:2], top_k=3, visible=pd.concat([first, extra]))
    assert folded.groupby("userID").size().tolist() == [3, 3]
    assert not np.allclose(folded["prediction"].to_numpy(), plain["prediction"].to_numpy()[:6])
    # training items are still removed
    seen = set(zip(df["userID"], df["itemID"]))
    assert not any(p in seen for p in zip(folded["userID"], folded["itemID"]))
    with pytest.raises(DataError, match="training rating values"):
        model.recommend_k_items(users, visible=first.assign(rating=first["rating"] + 0.5))
    with pytest.raises(ColumnMismatchError):
        model.recommend_k_items(users, visible=first.drop(columns="rating"))
    with pytest.raises(DataError, match="ratings DataFrame"):
        model.recommend_k_items(users, visible=[1, 2])
