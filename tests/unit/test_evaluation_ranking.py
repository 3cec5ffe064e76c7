"""Known answers and edge cases of the ranking metrics.

Reference values marked "MS" were computed with Microsoft Recommenders 1.2.1 on the
same frames; the others are worked out by hand in the comments.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import recutils.evaluation as ev
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, DataWarning

LN = math.log


@pytest.fixture
def truth() -> pd.DataFrame:
    # user 4 is only in the truth
    return pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2, 3, 3, 3, 4],
            "itemID": [1, 2, 3, 1, 4, 2, 5, 6, 1],
            "rating": [5, 4, 3, 5, 1, 2, 3, 4, 5],
        }
    )


@pytest.fixture
def pred() -> pd.DataFrame:
    # user 1 has a three-way tie (items 3, 2, 7 in that row order); user 5 only predicted
    return pd.DataFrame(
        {
            "userID": [1, 1, 1, 1, 2, 2, 2, 3, 3, 5],
            "itemID": [3, 2, 7, 1, 1, 4, 9, 8, 9, 1],
            "prediction": [1.0, 1.0, 1.0, 0.5, 0.9, 0.8, 0.95, 0.4, 0.3, 1.0],
        }
    )


# Top-3 lists of the common users 1, 2, 3:
#   u1: 3 (hit), 2 (hit), 7        relevant {1, 2, 3}
#   u2: 9, 1 (hit), 4 (hit)        relevant {1, 4}
#   u3: 8, 9                       relevant {2, 5, 6}
def test_precision_recall_k3(truth, pred):
    assert ev.precision_at_k(truth, pred, k=3) == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert ev.recall_at_k(truth, pred, k=3) == pytest.approx((2 / 3 + 2 / 2 + 0) / 3)


def test_map_k3(truth, pred):
    u1 = (1 / 1 + 2 / 2) / 3
    u2 = (1 / 2 + 2 / 3) / 2
    assert ev.map_at_k(truth, pred, k=3) == pytest.approx((u1 + u2) / 3)
    assert ev.mean_average_precision(truth, pred, k=3) == pytest.approx((u1 + u2) / 3)


def test_map_variants_differ_by_normaliser(truth, pred):
    # k=1: u1 hits at rank 1. map@k divides by min(3, 1) = 1, map by |R_u| = 3.
    assert ev.map_at_k(truth, pred, k=1) == pytest.approx(1 / 3)
    assert ev.mean_average_precision(truth, pred, k=1) == pytest.approx((1 / 3) / 3)


def test_ndcg_k3_binary(truth, pred):
    u1 = (1 / LN(2) + 1 / LN(3)) / (1 / LN(2) + 1 / LN(3) + 1 / LN(4))
    u2 = (1 / LN(3) + 1 / LN(4)) / (1 / LN(2) + 1 / LN(3))
    # MS quirk: mean over all users of the truth (1, 2, 3, 4), user 4 has no prediction
    expected = (u1 + u2 + 0 + 0) / 4
    assert ev.ndcg_at_k(truth, pred, k=3) == pytest.approx(expected)
    assert ev.ndcg_at_k(truth, pred, k=3) == pytest.approx(0.3646967601514731, abs=1e-12)  # MS


@pytest.mark.parametrize(
    "score_type,discfun,expected",
    [
        ("binary", "loge", 0.3646967601514731),
        ("binary", "log2", 0.3646967601514731),
        ("raw", "loge", 0.315291113680417),
        ("raw", "log2", 0.31529111368041707),
        ("exp", "loge", 0.2521599028958994),
        ("exp", "log2", 0.25215990289589946),
    ],
)
def test_ndcg_score_types_ms(truth, pred, score_type, discfun, expected):
    got = ev.ndcg_at_k(truth, pred, k=3, score_type=score_type, discfun_type=discfun)
    assert got == pytest.approx(expected, abs=1e-12)


def test_ndcg_raw_by_hand(truth, pred):
    # u1 hits 3 (rating 3) at rank 1, 2 (rating 4) at rank 2; ideal 5, 4, 3
    u1 = (3 / LN(2) + 4 / LN(3)) / (5 / LN(2) + 4 / LN(3) + 3 / LN(4))
    # u2 hits 1 (5) at rank 2, 4 (1) at rank 3; ideal 5, 1
    u2 = (5 / LN(3) + 1 / LN(4)) / (5 / LN(2) + 1 / LN(3))
    assert ev.ndcg_at_k(truth, pred, k=3, score_type="raw") == pytest.approx((u1 + u2) / 4)


def test_r_precision_quirk(truth, pred):
    # u1: R=3, 2 hits in top 3 -> 2/3; u2: R=2, 1 hit in top 2 -> 1/2; u3 has no hit and is left out
    assert ev.r_precision_at_k(truth, pred, k=3) == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_hit_ratio_and_mrr(truth, pred):
    assert ev.hit_ratio_at_k(truth, pred, k=3) == pytest.approx(2 / 3)
    assert ev.mrr_at_k(truth, pred, k=3) == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert ev.hit_ratio_at_k(truth, pred, k=1) == pytest.approx(1 / 3)
    assert ev.mrr_at_k(truth, pred, k=1) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "func,kwargs,expected",
    [
        ("precision_at_k", {"k": 10}, 0.16666666666666666),
        ("recall_at_k", {"k": 10}, 0.6666666666666666),
        ("map_at_k", {"k": 10}, 0.5),
        ("mean_average_precision", {"k": 10}, 0.5),
        ("r_precision_at_k", {"k": 10}, 0.5833333333333333),
        ("ndcg_at_k", {"k": 10}, 0.41522359677661),
        (
            "precision_at_k",
            {"k": 3, "relevancy_method": "by_threshold", "threshold": 2},
            0.3333333333333333,
        ),
        (
            "recall_at_k",
            {"k": 3, "relevancy_method": "by_threshold", "threshold": 2},
            0.38888888888888884,
        ),
        (
            "map_at_k",
            {"k": 3, "relevancy_method": "by_threshold", "threshold": 2},
            0.3055555555555555,
        ),
        (
            "mean_average_precision",
            {"k": 3, "relevancy_method": "by_threshold", "threshold": 2},
            0.3055555555555555,
        ),
        (
            "r_precision_at_k",
            {"k": 3, "relevancy_method": "by_threshold", "threshold": 2},
            0.5833333333333333,
        ),
        (
            "ndcg_at_k",
            {"k": 3, "relevancy_method": "by_threshold", "threshold": 2},
            0.2880533610557908,
        ),
        ("precision_at_k", {"k": 2, "relevancy_method": None}, 0.8333333333333334),
        ("recall_at_k", {"k": 2, "relevancy_method": None}, 0.6666666666666666),
        ("map_at_k", {"k": 2, "relevancy_method": None}, 0.7916666666666666),
        ("mean_average_precision", {"k": 2, "relevancy_method": None}, 0.6388888888888888),
        ("r_precision_at_k", {"k": 2, "relevancy_method": None}, 0.8333333333333333),
        ("ndcg_at_k", {"k": 2, "relevancy_method": None}, 0.5660170306431477),
    ],
)
def test_known_answers_ms(truth, pred, func, kwargs, expected):
    """Values of Microsoft Recommenders 1.2.1 on the same frames (k > list length, by_threshold, None)."""
    assert getattr(ev, func)(truth, pred, **kwargs) == pytest.approx(expected, abs=1e-12)


def test_relevancy_none_uses_row_order(truth, pred):
    # None: the rows are the ranked list; u1's list is 3, 2, 7, 1 (all 4 rows, no cut)
    # hits u1: 3, 2, 1 -> 3; u2: 1, 4 -> 2; u3: 0 ; precision divides by k=2 (MS)
    assert ev.precision_at_k(truth, pred, k=2, relevancy_method=None) == pytest.approx(
        (3 / 2 + 2 / 2) / 3
    )


def test_tie_break_is_row_order(truth, pred):
    # u1's three tied items: the first rows (3, 2) win at k=2 -> 2 hits
    assert ev.precision_at_k(truth, pred[pred.userID == 1], k=2) == pytest.approx(1.0)
    # reversing the row order makes 7 and 2 win -> 1 hit
    rev = pred[pred.userID == 1].iloc[::-1]
    assert ev.precision_at_k(truth, rev, k=2) == pytest.approx(0.5)


def test_get_top_k_items_matches_ms_layout(pred):
    top = ev.get_top_k_items(pred, col_rating="prediction", k=2)
    assert top.columns.tolist() == ["userID", "itemID", "prediction", "rank"]
    assert top["userID"].tolist() == [1, 1, 2, 2, 3, 3, 5]
    assert top["itemID"].tolist() == [3, 2, 9, 1, 8, 9, 1]
    assert top["rank"].tolist() == [1, 2, 1, 2, 1, 2, 1]
    assert top.index.tolist() == list(range(7))


def test_get_top_k_items_none_keeps_order_and_input(pred):
    before = pred.copy()
    top = ev.get_top_k_items(pred, col_rating="prediction", k=None)
    pd.testing.assert_frame_equal(pred, before)  # input untouched
    assert top["rank"].tolist() == [1, 2, 3, 4, 1, 2, 3, 1, 2, 1]


def test_get_top_k_items_string_users():
    df = pd.DataFrame({"u": ["b", "a", "b", "a"], "s": [1.0, 2.0, 3.0, 2.0]})
    top = ev.get_top_k_items(df, col_user="u", col_rating="s", k=1)
    assert top["u"].tolist() == ["a", "b"] and top["s"].tolist() == [2.0, 3.0]


# ---------------------------------------------------------------- edge cases
def test_user_without_relevant_item_counts_zero(truth, pred):
    # user 3 is in both frames but none of its predictions is relevant
    p = ev.precision_at_k(truth, pred, k=3)
    p_without_u3 = ev.precision_at_k(truth[truth.userID != 3], pred[pred.userID != 3], k=3)
    assert p == pytest.approx(p_without_u3 * 2 / 3)


def test_users_in_one_frame_only_are_ignored(truth, pred):
    # users 4 (truth only) and 5 (prediction only) do not change precision/recall/map
    both_t = truth[truth.userID.isin([1, 2, 3])]
    both_p = pred[pred.userID.isin([1, 2, 3])]
    for f in ("precision_at_k", "recall_at_k", "map_at_k", "mrr_at_k", "hit_ratio_at_k"):
        assert getattr(ev, f)(truth, pred, k=3) == pytest.approx(
            getattr(ev, f)(both_t, both_p, k=3)
        )
    # ndcg keeps MS' quirk: user 4 (truth only) counts as 0
    assert ev.ndcg_at_k(truth, pred, k=3) == pytest.approx(
        ev.ndcg_at_k(both_t, both_p, k=3) * 3 / 4
    )


def test_fewer_than_k_predictions_and_k_beyond_catalogue():
    truth = pd.DataFrame({"userID": [1, 1], "itemID": [1, 2]})
    pred = pd.DataFrame({"userID": [1, 1], "itemID": [1, 2], "prediction": [0.2, 0.1]})
    # perfect list of 2 items; precision@5 is 2/5 (divided by k), recall 1, ndcg 1, map 1
    assert ev.precision_at_k(truth, pred, k=5) == pytest.approx(0.4)
    assert ev.recall_at_k(truth, pred, k=1000) == pytest.approx(1.0)
    assert ev.ndcg_at_k(truth, pred, k=1000) == pytest.approx(1.0)
    assert ev.map_at_k(truth, pred, k=1000) == pytest.approx(1.0)


def test_duplicate_prediction_rows_raise(truth, pred):
    dup = pd.concat([pred, pred.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="duplicate.*drop_duplicates"):
        ev.precision_at_k(truth, dup)


def test_duplicate_truth_rows_raise(truth, pred):
    dup = pd.concat([truth, truth.iloc[[0]]], ignore_index=True)
    with pytest.raises(DataError, match="rating_true has duplicate"):
        ev.ndcg_at_k(dup, pred)


def test_nan_prediction_raises(truth, pred):
    bad = pred.copy()
    bad.loc[2, "prediction"] = np.nan
    with pytest.raises(DataError, match="NaN"):
        ev.recall_at_k(truth, bad)
    # with relevancy_method=None the scores are not read
    assert ev.recall_at_k(truth, bad, relevancy_method=None) >= 0


def test_empty_frames_give_zero(truth, pred):
    with pytest.warns(DataWarning):
        assert ev.precision_at_k(truth.iloc[:0], pred) == 0.0
    with pytest.warns(DataWarning):
        assert ev.ndcg_at_k(truth, pred.iloc[:0]) == 0.0
    # no user in common
    assert ev.map_at_k(truth[truth.userID == 4], pred[pred.userID == 5]) == 0.0


def test_missing_column_and_type_mismatch(truth, pred):
    with pytest.raises(ColumnMismatchError, match="prediction"):
        ev.precision_at_k(truth, pred.drop(columns="prediction"))
    p2 = pred.assign(userID=pred.userID.astype(str))
    with pytest.raises(ColumnMismatchError, match="same kind"):
        ev.precision_at_k(truth, p2)


def test_bad_arguments(truth, pred):
    with pytest.raises(DataError, match="relevancy_method"):
        ev.precision_at_k(truth, pred, relevancy_method="bogus")
    with pytest.raises(DataError, match="k must be"):
        ev.precision_at_k(truth, pred, k=0)
    with pytest.raises(ConfigError, match="score_type"):
        ev.ndcg_at_k(truth, pred, score_type="nope")
    with pytest.raises(ConfigError, match="discfun_type"):
        ev.ndcg_at_k(truth, pred, discfun_type="log10")


def test_non_default_columns(truth, pred):
    t = truth.rename(columns={"userID": "u", "itemID": "i", "rating": "r"})
    p = pred.rename(columns={"userID": "u", "itemID": "i", "prediction": "s"})
    got = ev.ndcg_at_k(
        t, p, col_user="u", col_item="i", col_rating="r", col_prediction="s", k=3, score_type="raw"
    )
    assert got == pytest.approx(ev.ndcg_at_k(truth, pred, k=3, score_type="raw"))


def test_inputs_not_mutated(truth, pred):
    t0, p0 = truth.copy(), pred.copy()
    ev.evaluate(truth, pred, ["ndcg@3", "map@3", "rmse"])
    pd.testing.assert_frame_equal(truth, t0)
    pd.testing.assert_frame_equal(pred, p0)


# ---------------------------------------------------------------- gauc
def test_gauc_by_hand():
    truth = pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2, 2, 3, 3],
            "itemID": [1, 2, 3, 1, 2, 3, 1, 2],
            "rating": [1, 0, 1, 0, 1, 0, 1, 1],
        }
    )
    pred = pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2, 2, 3, 3],
            "itemID": [1, 2, 3, 1, 2, 3, 1, 2],
            "prediction": [0.9, 0.3, 0.3, 0.2, 0.6, 0.6] + [0.5, 0.1],
        }
    )
    # u1: positives 0.9, 0.3 vs negative 0.3 -> (1 + 0.5) / 2 = 0.75, 3 impressions
    # u2: positive 0.6 vs negatives 0.2, 0.6 -> (1 + 0.5) / 2 = 0.75, 3 impressions
    # u3: only positives -> left out
    assert ev.gauc(truth, pred) == pytest.approx(0.75)
    pred2 = pred.copy()
    pred2.loc[3, "prediction"] = 0.7  # u2: 0.6 vs 0.7, 0.6 -> 0.25
    assert ev.gauc(truth, pred2) == pytest.approx((3 * 0.75 + 3 * 0.25) / 6)


def test_gauc_needs_both_classes():
    t = pd.DataFrame({"userID": [1, 1], "itemID": [1, 2], "rating": [1, 1]})
    p = pd.DataFrame({"userID": [1, 1], "itemID": [1, 2], "prediction": [0.1, 0.2]})
    with pytest.raises(DataError, match="both a positive and a negative"):
        ev.gauc(t, p)


def test_categorical_ids_match_numeric_ids(truth, pred):
    """Bug: a categorical id column was rejected against numeric ids (judged by 'category',
    not by its categories' dtype)."""
    expected = ev.precision_at_k(truth, pred, k=2)
    cat_truth = truth.astype({"userID": "category", "itemID": "category"})
    assert ev.precision_at_k(cat_truth, pred, k=2) == pytest.approx(expected)
    assert ev.precision_at_k(truth, pred.astype({"userID": "category"}), k=2) == pytest.approx(
        expected
    )
    assert ev.rmse(cat_truth, pred) == pytest.approx(ev.rmse(truth, pred))
    # categories of strings are still strings: no silent match of "1" with 1
    with pytest.raises(ColumnMismatchError, match="userID"):
        ev.precision_at_k(truth.astype({"userID": str}).astype({"userID": "category"}), pred, k=2)


@pytest.mark.parametrize("threshold", [float("nan"), None, float("inf"), "3", 2.5, 0])
def test_bad_threshold_is_a_recutils_error(truth, pred, threshold):
    """Bug: threshold NaN/None let a raw ValueError/TypeError through check_relevancy."""
    with pytest.raises(DataError, match="threshold"):
        ev.precision_at_k(truth, pred, k=2, relevancy_method="by_threshold", threshold=threshold)
