"""News models (NRMS, NAML, LSTUR, NPA): they learn a synthetic topic signal from impressions,
score unknown users from their history, sample negatives within impressions, and refuse bad labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError

pytestmark = pytest.mark.unit
pytest.importorskip("torch")

from recutils.evaluation.impressions import evaluate_impressions  # noqa: E402
from recutils.models import create_model  # noqa: E402
from recutils.models.news import NRMS, tiny_news_corpus  # noqa: E402
from recutils.models.news.base import _ImpressionEpochs, _right_aligned  # noqa: E402

TRAIN, NEWS = tiny_news_corpus()
TEST, _ = tiny_news_corpus(seed=1)


def _fit(name: str, **params):
    cls_params = create_model(name).contract_case().params
    return create_model(name, **{**cls_params, "n_epochs": 30, **params}).fit(TRAIN, NEWS)


@pytest.mark.parametrize("name", ["nrms", "naml", "lstur", "npa"])
def test_model_learns_the_topic_signal(name: str) -> None:
    model = _fit(name)
    pred = model.predict(TEST)
    scores = evaluate_impressions(TEST.assign(prediction=pred["prediction"].to_numpy()))
    assert scores["auc"] > 0.9
    assert model.history_["loss"].iloc[-1] < model.history_["loss"].iloc[0]


def test_unknown_user_with_history_is_scored() -> None:
    model = _fit("nrms", n_epochs=2)
    rows = TEST.iloc[:5].assign(userID="never-seen")
    pred = model.predict(rows)
    assert np.isfinite(pred["prediction"]).all()
    # without the history column an unknown user gets NaN, as every model's predict
    with pytest.warns(Warning):
        assert model.predict(rows.drop(columns="history"))["prediction"].isna().all()


def test_news_table_adds_fresh_news_to_the_catalogue() -> None:
    seen = TRAIN[TRAIN["itemID"] != "N0"]
    model = NRMS(**NRMS.contract_case().params).fit(seen, NEWS)
    assert "N0" in set(model.item_ids_)
    assert np.isfinite(model.predict(TEST[TEST["itemID"] == "N0"])["prediction"]).all()


def test_negatives_come_from_the_same_impression() -> None:
    model = NRMS(**NRMS.contract_case().params)
    # two impressions: negatives {5, 6, 7} and {8}
    source = _ImpressionEpochs(
        model,
        np.array([1, 2]),
        np.array([1, 2]),
        np.zeros((2, 3), np.int64),
        np.array([5, 6, 7, 8]),
        np.array([0, 3, 4]),
        np.array([0, 1]),
        10,
        0,
        None,
    )
    neg = source.negatives(np.random.default_rng(0))
    assert neg.shape == (2, 4)
    assert {5, 6, 7} <= set(neg[0].tolist())  # all of a short impression, then uniform fill
    assert 8 in neg[1].tolist()
    assert 2 not in neg[1].tolist()  # the uniform fill never draws the positive


def test_right_aligned_histories_keep_the_latest() -> None:
    out = _right_aligned(np.array([0, 0, 0, 2]), np.array([1, 2, 3, 9]), 3, 2)
    assert out.tolist() == [[2, 3], [0, 0], [0, 9]]


def test_bad_labels_and_configs_are_refused() -> None:
    with pytest.raises(DataError, match="must be 0"):
        NRMS(**NRMS.contract_case().params).fit(TRAIN.assign(label=2), NEWS)
    with pytest.raises(DataError, match="no click"):
        NRMS(**NRMS.contract_case().params).fit(TRAIN.assign(label=0), NEWS)
    with pytest.raises(ConfigError, match="long_short"):
        create_model("lstur", long_short="both")
    with pytest.raises(ConfigError, match="window_size"):
        create_model("naml", window_size=2)


@pytest.mark.parametrize("name", ["nrms", "npa"])
def test_add_news_ranks_fresh_news_by_their_text_and_survives_save_load(
    name: str, tmp_path
) -> None:
    # N20..N23 are published after fit: only add_news puts them in the catalogue
    fresh_ids = ["N20", "N21", "N22", "N23"]
    train = TRAIN[~TRAIN["itemID"].isin(fresh_ids)]
    history_ids = set(" ".join(train["history"]).split())
    assert not history_ids & set(fresh_ids)
    model = create_model(
        name, **{**create_model(name).contract_case().params, "n_epochs": 30, "seed": 0}
    ).fit(train, NEWS[~NEWS["itemID"].isin(fresh_ids)])
    assert not set(fresh_ids) & set(model.item_ids_)
    fresh = NEWS[NEWS["itemID"].isin(fresh_ids)].assign(category="brand-new-category")
    model.add_news(fresh)
    assert set(fresh_ids) <= set(model.item_ids_)
    # users who like sports (even user numbers) score the fresh sports news (even N) above the finance ones
    rows = TEST[TEST["itemID"].isin(fresh_ids)]
    assert len(rows) >= 4
    pred = model.predict(rows)["prediction"].to_numpy()
    assert np.isfinite(pred).all()
    likes_item = (rows["userID"].str[1:].astype(int) % 2) == (
        rows["itemID"].str[1:].astype(int) % 2
    )
    assert pred[likes_item.to_numpy()].mean() > pred[~likes_item.to_numpy()].mean()
    top = model.recommend_k_items(TRAIN[["userID"]].drop_duplicates(), top_k=len(model.item_ids_))
    assert set(fresh_ids) <= set(top["itemID"])
    # the saved model keeps the fresh news and adds more with the same encoding
    model.save(tmp_path / "m")
    loaded = create_model(name).load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(rows)["prediction"], pred, rtol=1e-6)
    more = NEWS[NEWS["itemID"] == "N20"].assign(itemID="N99")
    model.add_news(more)
    loaded.add_news(more)
    probe = rows.assign(itemID="N99")
    np.testing.assert_allclose(
        loaded.predict(probe)["prediction"], model.predict(probe)["prediction"], rtol=1e-6
    )
    np.testing.assert_allclose(
        model.predict(probe)["prediction"],
        model.predict(rows.assign(itemID="N20"))["prediction"],
        rtol=1e-6,
    )


def test_add_news_refuses_bad_input() -> None:
    from recutils.exceptions import ColumnMismatchError, NotFittedError

    with pytest.raises(NotFittedError):
        NRMS().add_news(NEWS.iloc[:1])
    model = _fit("nrms", n_epochs=1)
    with pytest.raises(DataError, match="already in the catalogue"):
        model.add_news(NEWS.iloc[:1])
    with pytest.raises(DataError, match="repeats"):
        model.add_news(pd.concat([NEWS.iloc[:1].assign(itemID="X")] * 2))
    with pytest.raises(ColumnMismatchError):
        model.add_news(NEWS.drop(columns="itemID"))
    assert model.add_news(NEWS.iloc[:0]) is model
