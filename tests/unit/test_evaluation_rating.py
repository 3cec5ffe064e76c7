"""Known answers and edge cases of the rating metrics (MS = Microsoft Recommenders 1.2.1)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import recutils.evaluation as ev
from recutils.exceptions import DataError


@pytest.fixture
def rt() -> pd.DataFrame:
    return pd.DataFrame(
        {"userID": [1, 1, 2, 2, 3], "itemID": [1, 2, 1, 3, 2], "rating": [5.0, 3.0, 4.0, 1.0, 2.0]}
    )


@pytest.fixture
def rp() -> pd.DataFrame:
    # (3, 3) and (9, 9) have no truth; (3, 2) has no prediction: 4 joined pairs
    return pd.DataFrame(
        {
            "userID": [1, 1, 2, 2, 3, 9],
            "itemID": [1, 2, 1, 3, 3, 9],
            "prediction": [4.5, 3.5, 4.0, 2.0, 1.0, 3.0],
        }
    )


# joined: y = 5, 3, 4, 1 ; yhat = 4.5, 3.5, 4, 2 ; errors -0.5, 0.5, 0, 1
def test_rmse_mae(rt, rp):
    assert ev.rmse(rt, rp) == pytest.approx(math.sqrt((0.25 + 0.25 + 0 + 1) / 4))
    assert ev.rmse(rt, rp) == pytest.approx(0.6123724356957945, abs=1e-12)  # MS
    assert ev.mae(rt, rp) == pytest.approx(0.5)


def test_rsquared_exp_var(rt, rp):
    # mean y = 3.25, SS_tot = 3.0625 + 0.0625 + 0.5625 + 5.0625 = 8.75, SS_res = 1.5
    assert ev.rsquared(rt, rp) == pytest.approx(1 - 1.5 / 8.75)
    assert ev.rsquared(rt, rp) == pytest.approx(0.8285714285714285, abs=1e-12)  # MS
    # residuals 0.5, -0.5, 0, -1 : mean -0.25, var = (0.5625 + 0.0625 + 0.0625 + 0.5625) / 4 = 0.3125
    assert ev.exp_var(rt, rp) == pytest.approx(1 - 0.3125 / (8.75 / 4))
    assert ev.exp_var(rt, rp) == pytest.approx(0.8571428571428572, abs=1e-12)  # MS


def test_constant_truth_conventions():
    t = pd.DataFrame({"userID": [1, 2], "itemID": [1, 1], "rating": [3.0, 3.0]})
    p = t.rename(columns={"rating": "prediction"})
    assert ev.rsquared(t, p) == 1.0 and ev.exp_var(t, p) == 1.0
    p2 = p.assign(prediction=[3.0, 4.0])
    assert ev.rsquared(t, p2) == 0.0 and ev.exp_var(t, p2) == 0.0


@pytest.fixture
def binary():
    t = pd.DataFrame(
        {"userID": [1, 1, 1, 2, 2, 2], "itemID": [1, 2, 3, 1, 2, 3], "rating": [1, 0, 1, 0, 1, 0]}
    )
    p = pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2, 2],
            "itemID": [1, 2, 3, 1, 2, 3],
            "prediction": [0.9, 0.3, 0.3, 0.2, 0.6, 0.6],
        }
    )
    return t, p


def test_auc(binary):
    t, p = binary
    # positives 0.9, 0.3, 0.6 vs negatives 0.3, 0.2, 0.6:
    # 0.9 beats 3; 0.3 beats 0.2, ties 0.3 -> 1.5; 0.6 beats 0.3, 0.2, ties 0.6 -> 2.5 ; 7 / 9
    assert ev.auc(t, p) == pytest.approx(7 / 9)
    assert ev.auc(t, p) == pytest.approx(0.7777777777777778, abs=1e-12)  # MS


def test_logloss(binary):
    t, p = binary
    y = np.array([1, 0, 1, 0, 1, 0])
    q = np.array([0.9, 0.3, 0.3, 0.2, 0.6, 0.6])
    expected = -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q))
    assert ev.logloss(t, p) == pytest.approx(expected)
    assert ev.logloss(t, p) == pytest.approx(0.5527113618128084, abs=1e-12)  # MS


def test_logloss_clips_certain_mistakes(binary):
    t, p = binary
    p = p.assign(prediction=[1.0, 0.0, 1.0, 0.0, 1.0, 1.0])  # the last one is a certain mistake
    assert np.isfinite(ev.logloss(t, p))
    assert ev.logloss(t, p) == pytest.approx(-math.log(np.finfo(float).eps) / 6, rel=1e-6)


def test_binary_metrics_check_labels(rt, rp, binary):
    with pytest.raises(DataError, match="binary"):
        ev.auc(rt, rp)
    t, p = binary
    with pytest.raises(DataError, match="probabilities"):
        ev.logloss(t, p.assign(prediction=p.prediction * 2))
    with pytest.raises(DataError, match="one class"):
        ev.auc(t.assign(rating=1), p)


def test_rating_edge_cases(rt, rp):
    with pytest.raises(DataError, match="no .user, item. pair in common"):
        ev.rmse(rt, rp[rp.userID == 9])
    with pytest.raises(DataError, match="NaN"):
        ev.mae(rt, rp.assign(prediction=[1.0, np.nan, 1, 1, 1, 1]))
    with pytest.raises(DataError, match="NaN"):
        ev.mae(rt.assign(rating=[1.0, np.nan, 1, 1, 1]), rp)
    with pytest.raises(DataError, match="duplicate"):
        ev.rmse(rt, pd.concat([rp, rp.iloc[[0]]]))


def test_string_ids_and_column_name_clash(rt, rp):
    t = rt.assign(userID=rt.userID.map(lambda u: f"u{u}"), itemID=rt.itemID.map(lambda i: f"i{i}"))
    p = rp.assign(userID=rp.userID.map(lambda u: f"u{u}"), itemID=rp.itemID.map(lambda i: f"i{i}"))
    assert ev.rmse(t, p) == pytest.approx(ev.rmse(rt, rp))
    # a prediction frame that also carries a "rating" column does not confuse the join
    assert ev.rmse(rt, rp.assign(rating=0.0)) == pytest.approx(ev.rmse(rt, rp))
