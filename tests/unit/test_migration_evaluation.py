"""Microsoft Recommenders' evaluation names and keywords, with values computed by hand.

Truth: u1 {10, 20, 30}, u2 {10}, u3 {40} (u3 has no prediction).
Predictions: u1 scores 10: 0.9, 40: 0.8, 20: 0.7, 50: 0.1; u2 scores 20: 0.5, 10: 0.4;
u4 scores 10: 0.3 (u4 has no truth).
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

import recutils.evaluation as ev
from recutils.exceptions import ColumnMismatchError, DataError, UnknownKeywordError


@pytest.fixture
def truth() -> pd.DataFrame:
    return pd.DataFrame(
        {"userID": [1, 1, 1, 2, 3], "itemID": [10, 20, 30, 10, 40], "rating": [5, 4, 3, 2, 1]}
    )


@pytest.fixture
def pred() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "userID": [1, 2, 1, 1, 4, 2, 1],
            "itemID": [20, 10, 10, 40, 10, 20, 50],
            "prediction": [0.7, 0.4, 0.9, 0.8, 0.3, 0.5, 0.1],
        }
    )


# ---------------------------------------------------------------- merge_rating_true_pred
def test_merge_rating_true_pred_pairs_in_truth_order(truth, pred):
    y_true, y_pred = ev.merge_rating_true_pred(truth, pred)
    # pairs in both: (1,10) (1,20) (2,10), in truth row order; dtypes kept
    assert y_true.tolist() == [5, 4, 2] and y_true.dtype == np.int64
    assert y_pred.tolist() == [0.9, 0.7, 0.4]
    assert (y_true.name, y_pred.name) == ("rating", "prediction")
    assert y_true.index.tolist() == [0, 1, 2]
    assert ev.rmse(truth, pred) == pytest.approx(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def test_merge_rating_true_pred_suffixes_shared_names(truth, pred):
    y_true, y_pred = ev.merge_rating_true_pred(truth.assign(prediction=0.0), pred.assign(rating=0))
    assert (y_true.name, y_pred.name) == ("rating_true", "prediction_pred")
    assert y_true.tolist() == [5, 4, 2] and y_pred.tolist() == [0.9, 0.7, 0.4]


def test_merge_rating_true_pred_refuses_duplicates(truth, pred):
    with pytest.raises(DataError, match="drop_duplicates"):
        ev.merge_rating_true_pred(pd.concat([truth, truth.iloc[:1]]), pred)


# ---------------------------------------------------------------- merge_ranking_true_pred
def test_merge_ranking_true_pred_top_k(truth, pred):
    hit, count, n_users = ev.merge_ranking_true_pred(
        truth, pred, "userID", "itemID", "prediction", "top_k", k=2
    )
    # u1's top 2: 10 (hit), 40; u2's top 2: 20, 10 (hit); common users: 1 and 2
    assert hit.to_dict("list") == {"userID": [1, 2], "itemID": [10, 10], "rank": [1, 2]}
    assert count.to_dict("list") == {"userID": [1, 2], "hit": [1, 1], "actual": [3, 1]}
    assert n_users == 2
    assert hit["rank"].dtype == np.int64 and count["hit"].dtype == np.int64


def test_merge_ranking_true_pred_by_threshold_and_none(truth, pred):
    hit, count, _ = ev.merge_ranking_true_pred(
        truth, pred, "userID", "itemID", "prediction", "by_threshold", k=10, threshold=3
    )
    assert hit.to_dict("list") == {"userID": [1, 1, 2], "itemID": [10, 20, 10], "rank": [1, 3, 2]}
    assert count["hit"].tolist() == [2, 1]
    # None: the frame is already ranked; ranks are row positions per user, rows keep their order
    hit, _, _ = ev.merge_ranking_true_pred(truth, pred, "userID", "itemID", "prediction", None)
    assert hit.to_dict("list") == {"userID": [1, 2, 1], "itemID": [20, 10, 10], "rank": [1, 1, 2]}


def test_merge_ranking_true_pred_takes_the_metrics_keyword_set(truth, pred):
    args = dict(
        col_user="userID",
        col_item="itemID",
        col_rating="rating",
        col_prediction="prediction",
        relevancy_method="top_k",
        k=2,
    )
    hit, _, n_users = ev.merge_ranking_true_pred(truth, pred, **args)
    assert ev.precision_at_k(truth, pred, **args) == pytest.approx(len(hit) / 2 / n_users)
    with pytest.raises(UnknownKeywordError, match="top_k"):
        ev.merge_ranking_true_pred(truth, pred, top_k=2)


# ---------------------------------------------------------------- get_top_k_items
def test_get_top_k_items_has_microsoft_signature(pred):
    params = list(inspect.signature(ev.get_top_k_items).parameters)
    assert params[:4] == ["dataframe", "col_user", "col_rating", "k"]
    top = ev.get_top_k_items(pred, "userID", "prediction", 2)
    assert top.to_dict("list") == {
        "userID": [1, 1, 2, 2, 4],
        "itemID": [10, 40, 20, 10, 10],
        "prediction": [0.9, 0.8, 0.5, 0.4, 0.3],
        "rank": [1, 2, 1, 2, 1],
    }
    assert top["rank"].dtype == np.int64


# ---------------------------------------------------------------- beyond-accuracy keywords
@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {"userID": [1, 1, 2, 2, 3, 3, 3], "itemID": ["A", "B", "A", "C", "B", "C", "D"]}
    )


@pytest.fixture
def reco() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "userID": [1, 1, 2, 2, 3],
            "itemID": ["C", "D", "B", "D", "A"],
            "relevance": [1.0, 0.0, 1.0, 1.0, 0.0],
        }
    )


@pytest.mark.parametrize(
    "name",
    ["diversity", "user_diversity", "serendipity", "user_serendipity", "user_item_serendipity"],
)
def test_beyond_metrics_accept_col_sim_and_col_relevance(train, reco, name):
    func = getattr(ev, name)
    plain = func(train, reco)
    with_keywords = func(train, reco, col_sim="similarity_column", col_relevance=None)
    if isinstance(plain, pd.DataFrame):
        pd.testing.assert_frame_equal(plain, with_keywords)
    else:
        assert with_keywords == plain
    with pytest.raises(UnknownKeywordError):
        func(train, reco, col_similarity="sim")


def test_col_sim_is_ignored_and_col_relevance_weighs_serendipity(train, reco):
    # s(C,A)=s(C,B)=1/2 -> ser(u1, C) = 1 - 1/2 = 1/2; u1's D: s(D,A)=0, s(D,B)=1/sqrt(2)
    ser = ev.user_item_serendipity(train, reco, col_sim="x", col_relevance="relevance")
    row = ser[(ser.userID == 1) & (ser.itemID == "C")]["user_item_serendipity"].item()
    assert row == pytest.approx(0.5)
    assert ser[ser.itemID == "D"]["user_item_serendipity"].iloc[0] == 0.0  # relevance 0
    # diversity does not read relevance, whatever the column says
    assert ev.diversity(train, reco, col_relevance="relevance") == ev.diversity(train, reco)


# ---------------------------------------------------------------- int ids against float ids
def test_int_and_float_ids_match_by_value_when_exact(truth, pred):
    """Issue: int ids in the truth and float ids in the predictions.

    The behaviour chosen: matched by value (3 == 3.0) when that is exact, refused when not.
    """
    as_float = pred.assign(userID=pred.userID.astype(float), itemID=pred.itemID.astype(float))
    assert ev.precision_at_k(truth, as_float, k=2) == ev.precision_at_k(truth, pred, k=2)
    assert ev.rmse(truth, as_float) == ev.rmse(truth, pred)
    y_true, _ = ev.merge_rating_true_pred(truth, as_float)
    assert y_true.tolist() == [5, 4, 2]


def test_float_ids_that_are_not_whole_numbers_are_refused(truth, pred):
    bad = pred.assign(itemID=pred.itemID + 0.5)
    for call in (
        lambda: ev.precision_at_k(truth, bad),
        lambda: ev.rmse(truth, bad),
        lambda: ev.merge_rating_true_pred(truth, bad),
    ):
        with pytest.raises(ColumnMismatchError, match=r"astype"):
            call()


def test_int_ids_beyond_float_precision_are_refused_against_float_ids():
    big = 2**53 + 1  # float64(2**53 + 1) == float64(2**53): two ids would become one
    truth = pd.DataFrame({"userID": [big, big - 1], "itemID": [1, 1], "rating": [1.0, 2.0]})
    pred = pd.DataFrame({"userID": [float(big - 1)], "itemID": [1], "prediction": [1.0]})
    with pytest.raises(ColumnMismatchError, match="2\\*\\*53"):
        ev.rmse(truth, pred)
    # the same ids as integers on both sides are fine
    assert ev.rmse(truth, pred.assign(userID=[big - 1])) == pytest.approx(1.0)


def test_beyond_metrics_apply_the_same_id_rule(train, reco):
    t = train.assign(itemID=train.itemID.map({"A": 1, "B": 2, "C": 3, "D": 4}))
    r = reco.assign(itemID=reco.itemID.map({"A": 1, "B": 2, "C": 3, "D": 4}))
    assert ev.novelty(t, r.assign(itemID=r.itemID.astype(float))) == ev.novelty(t, r)
    with pytest.raises(ColumnMismatchError, match="astype"):
        ev.novelty(t, r.assign(itemID=r.itemID + 0.25))
