"""Known answers and edge cases of the beyond-accuracy metrics (MS = Microsoft Recommenders 1.2.1).

Training data: u1 {A, B}, u2 {A, C}, u3 {B, C, D}; recommendations: u1 [C, D], u2 [B, D], u3 [A].
Item counts: A 2, B 2, C 2, D 1 (7 rows). Co-occurrence cosine similarities:
s(A,B) = s(A,C) = s(B,C) = 1/2, s(B,D) = s(C,D) = 1/sqrt(2), s(A,D) = 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import recutils.evaluation as ev
from recutils.exceptions import ConfigError, DataError

R2 = 1 / math.sqrt(2)


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {"userID": [1, 1, 2, 2, 3, 3, 3], "itemID": ["A", "B", "A", "C", "B", "C", "D"]}
    )


@pytest.fixture
def reco() -> pd.DataFrame:
    return pd.DataFrame({"userID": [1, 1, 2, 2, 3], "itemID": ["C", "D", "B", "D", "A"]})


@pytest.fixture
def feats() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "itemID": ["A", "B", "C", "D"],
            "features": [
                np.array([1.0, 0.0]),
                np.array([1.0, 1.0]),
                np.array([0.0, 1.0]),
                np.array([3.0, 4.0]),
            ],
        }
    )


def test_coverage(train, reco):
    assert ev.catalog_coverage(train, reco) == pytest.approx(1.0)
    assert ev.catalog_coverage(train, reco[reco.itemID != "A"]) == pytest.approx(3 / 4)
    # item shares 1/5, 2/5, 1/5, 1/5
    expected = -(3 * 0.2 * math.log2(0.2) + 0.4 * math.log2(0.4))
    assert ev.distributional_coverage(train, reco) == pytest.approx(expected)
    assert ev.distributional_coverage(train, reco) == pytest.approx(
        1.9219280948873623, abs=1e-12
    )  # MS


def test_novelty(train, reco):
    nov = ev.historical_item_novelty(train, reco)
    assert nov["itemID"].tolist() == ["A", "B", "C", "D"]
    np.testing.assert_allclose(nov["item_novelty"], [-math.log2(2 / 7)] * 3 + [-math.log2(1 / 7)])
    expected = (3 * -math.log2(2 / 7) + 2 * -math.log2(1 / 7)) / 5
    assert ev.novelty(train, reco) == pytest.approx(expected)
    assert ev.novelty(train, reco) == pytest.approx(2.207354922057604, abs=1e-12)  # MS


def test_novelty_unknown_item_quirk(train, reco):
    # an item absent from train contributes 0 but counts in the denominator (MS)
    extra = pd.concat([reco, pd.DataFrame({"userID": [3], "itemID": ["Z"]})], ignore_index=True)
    assert ev.novelty(train, extra) == pytest.approx(ev.novelty(train, reco) * 5 / 6)


def test_diversity(train, reco):
    ud = ev.user_diversity(train, reco)
    assert ud["userID"].tolist() == [1, 2]  # user 3 has a single recommendation
    np.testing.assert_allclose(ud["user_diversity"], [1 - R2, 1 - R2])
    assert ev.diversity(train, reco) == pytest.approx(0.29289321881345254, abs=1e-12)  # MS


def test_serendipity(train, reco):
    uis = ev.user_item_serendipity(train, reco)
    assert list(zip(uis.userID, uis.itemID)) == [(1, "C"), (1, "D"), (2, "B"), (2, "D"), (3, "A")]
    expected = [1 - 0.5, 1 - R2 / 2, 1 - 0.5, 1 - R2 / 2, 1 - 1 / 3]
    np.testing.assert_allclose(uis["user_item_serendipity"], expected)
    us = ev.user_serendipity(train, reco)
    np.testing.assert_allclose(us["user_serendipity"], [(0.5 + 1 - R2 / 2) / 2] * 2 + [2 / 3])
    assert ev.serendipity(train, reco) == pytest.approx(0.6043710920244644, abs=1e-12)  # MS


def test_serendipity_relevance(train, reco):
    rel = reco.assign(relevance=[1.0, 0.0, 1.0, 1.0, 0.0])
    uis = ev.user_item_serendipity(train, rel, col_relevance="relevance")
    np.testing.assert_allclose(uis["user_item_serendipity"], [0.5, 0.0, 0.5, 1 - R2 / 2, 0.0])


def test_feature_similarity(train, reco, feats):
    # s(C, D) = 4/5, s(B, D) = 7 / (5 sqrt 2)
    ud = ev.user_diversity(
        train, reco, item_feature_df=feats, item_sim_measure="item_feature_vector"
    )
    np.testing.assert_allclose(ud["user_diversity"], [1 - 0.8, 1 - 7 / (5 * math.sqrt(2))])
    d = ev.diversity(train, reco, item_feature_df=feats, item_sim_measure="item_feature_vector")
    assert d == pytest.approx(0.10502525316941674, abs=1e-12)  # MS
    s = ev.serendipity(train, reco, item_feature_df=feats, item_sim_measure="item_feature_vector")
    assert s == pytest.approx(0.4288267600997607, abs=1e-12)  # MS


def test_beyond_checks(train, reco, feats):
    seen = pd.concat([reco, train.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="already in train_df"):
        ev.novelty(train, seen)
    with pytest.raises(DataError, match="reco_df has duplicate"):
        ev.diversity(train, pd.concat([reco, reco.iloc[[0]]], ignore_index=True))
    with pytest.raises(DataError, match="train_df has duplicate"):
        ev.serendipity(pd.concat([train, train.iloc[[0]]], ignore_index=True), reco)
    with pytest.raises(ConfigError, match="item_feature_df"):
        ev.diversity(train, reco, item_sim_measure="item_feature_vector")
    with pytest.raises(ConfigError, match="item_sim_measure"):
        ev.diversity(train, reco, item_sim_measure="jaccard")
    with pytest.raises(DataError, match="must both have rows"):
        ev.catalog_coverage(train, reco.iloc[:0])


def test_no_pairs_gives_nan(train):
    reco = pd.DataFrame({"userID": [1, 2], "itemID": ["C", "B"]})
    assert math.isnan(ev.diversity(train, reco))


def test_chunking_gives_same_answer(train, reco, monkeypatch):
    import recutils.evaluation.beyond as beyond

    full = (ev.diversity(train, reco), ev.serendipity(train, reco))
    monkeypatch.setattr(beyond, "_CHUNK", 1)
    assert (ev.diversity(train, reco), ev.serendipity(train, reco)) == pytest.approx(full)


def test_categorical_ids_match_numeric_and_string_ids(train, reco):
    """Bug: beyond._prepare rejected a categorical id column against plain ids."""
    expected = ev.catalog_coverage(train, reco)
    cat_reco = reco.astype({"userID": "category", "itemID": "category"})
    assert ev.catalog_coverage(train, cat_reco) == pytest.approx(expected)
    assert ev.novelty(train.astype({"itemID": "category"}), reco) == pytest.approx(
        ev.novelty(train, reco)
    )
    seen = pd.concat([reco, train.iloc[:1]], ignore_index=True).astype({"userID": "category"})
    with pytest.raises(DataError, match="already in train_df"):  # the seen check still works
        ev.catalog_coverage(train, seen)
