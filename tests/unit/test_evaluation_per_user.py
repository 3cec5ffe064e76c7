"""Per-user ranking metrics: a hand-checked case, and their means equal the aggregate metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recutils.evaluation as ev
from recutils.exceptions import ConfigError

AGGREGATE = {
    "precision": ev.precision_at_k,
    "recall": ev.recall_at_k,
    "map": ev.map_at_k,
    "mean_average_precision": ev.mean_average_precision,
    "hit_ratio": ev.hit_ratio_at_k,
    "mrr": ev.mrr_at_k,
}


def _toy():
    # user 1: relevant {a, b, c}; ranked a (hit), x, b (hit)
    # user 2: relevant {d}; ranked y, z  (no hit)
    # user 3: relevant {e}; no predictions at all
    truth = pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 3],
            "itemID": ["a", "b", "c", "d", "e"],
            "rating": [5.0, 4.0, 3.0, 5.0, 4.0],
        }
    )
    pred = pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2],
            "itemID": ["a", "x", "b", "y", "z"],
            "prediction": [0.9, 0.8, 0.7, 0.6, 0.5],
        }
    )
    return truth, pred


def test_known_answer() -> None:
    truth, pred = _toy()
    out = ev.ranking_metrics_by_user(
        truth,
        pred,
        [
            "precision@3",
            "recall@3",
            "ndcg@3",
            "map@3",
            "mean_average_precision@3",
            "mrr@3",
            "hit_ratio@3",
        ],
    )
    assert out["userID"].tolist() == [1, 2, 3]
    assert out["has_predictions"].tolist() == [True, True, False]
    u1 = out.iloc[0]
    assert u1["precision@3"] == pytest.approx(2 / 3)
    assert u1["recall@3"] == pytest.approx(2 / 3)
    dcg = 1 / math.log(2) + 1 / math.log(4)
    idcg = 1 / math.log(2) + 1 / math.log(3) + 1 / math.log(4)
    assert u1["ndcg@3"] == pytest.approx(dcg / idcg)
    assert u1["map@3"] == pytest.approx((1 + 2 / 3) / 3)
    assert u1["mean_average_precision@3"] == pytest.approx((1 + 2 / 3) / 3)
    assert u1["mrr@3"] == pytest.approx(1.0)
    assert u1["hit_ratio@3"] == 1.0
    for col in ["precision@3", "recall@3", "ndcg@3", "map@3", "mrr@3", "hit_ratio@3"]:
        assert out.loc[1:, col].tolist() == [0.0, 0.0]
    # The aggregates: precision over users with predictions, nDCG over every user of the truth.
    assert out.loc[out["has_predictions"], "precision@3"].mean() == pytest.approx(
        ev.precision_at_k(truth, pred, k=3)
    )
    assert out["ndcg@3"].mean() == pytest.approx(ev.ndcg_at_k(truth, pred, k=3))


def test_k_default_and_errors() -> None:
    truth, pred = _toy()
    out = ev.ranking_metrics_by_user(truth, pred, "precision", k=1)
    assert out["precision"].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(ConfigError, match="no per-user form"):
        ev.ranking_metrics_by_user(truth, pred, ["rmse"])
    with pytest.raises(ConfigError, match="unknown metric"):
        ev.ranking_metrics_by_user(truth, pred, ["nope@3"])


@st.composite
def frames(draw):
    n_users, n_items = draw(st.integers(1, 6)), draw(st.integers(1, 10))
    cells = [(u, i) for u in range(n_users) for i in range(n_items)]
    t_cells = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=len(cells), unique=True))
    p_cells = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=len(cells), unique=True))
    ratings = draw(st.lists(st.integers(1, 5), min_size=len(t_cells), max_size=len(t_cells)))
    scores = draw(st.lists(st.integers(0, 3), min_size=len(p_cells), max_size=len(p_cells)))
    truth = pd.DataFrame(
        {
            "userID": [c[0] for c in t_cells],
            "itemID": [c[1] for c in t_cells],
            "rating": np.array(ratings, dtype=float),
        }
    )
    pred = pd.DataFrame(
        {
            "userID": [c[0] for c in p_cells],
            "itemID": [c[1] for c in p_cells],
            "prediction": np.array(scores, dtype=float),
        }
    )
    return truth, pred, draw(st.integers(1, 12)), draw(st.sampled_from(["binary", "raw", "exp"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_means_equal_the_aggregates(case) -> None:
    truth, pred, k, score_type = case
    names = [f"{m}@{k}" for m in AGGREGATE] + [f"ndcg@{k}"]
    out = ev.ranking_metrics_by_user(truth, pred, names, k=k, score_type=score_type)
    assert len(out) == truth["userID"].nunique()
    common = out[out["has_predictions"]]
    for name, fn in AGGREGATE.items():
        expected = fn(truth, pred, k=k)
        got = common[f"{name}@{k}"].mean() if len(common) else 0.0
        assert got == pytest.approx(expected, abs=1e-12), name
    nd = out[f"ndcg@{k}"].dropna()
    expected = ev.ndcg_at_k(truth, pred, k=k, score_type=score_type)
    assert (nd.mean() if len(nd) else 0.0) == pytest.approx(expected, abs=1e-12)
