"""Property tests (hypothesis): bounds, perfect rankings, row-permutation and relabelling invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import recutils.evaluation as ev

RANKING = [
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "mean_average_precision",
    "r_precision_at_k",
    "hit_ratio_at_k",
    "mrr_at_k",
]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def frames(draw, ties: bool = True):
    """Random truth and prediction frames with unique (user, item) pairs."""
    n_users = draw(st.integers(1, 6))
    n_items = draw(st.integers(1, 12))
    cells = [(u, i) for u in range(n_users) for i in range(n_items)]
    t_cells = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=len(cells), unique=True))
    p_cells = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=len(cells), unique=True))
    ratings = draw(st.lists(st.integers(1, 5), min_size=len(t_cells), max_size=len(t_cells)))
    if ties:
        scores = draw(st.lists(st.integers(0, 3), min_size=len(p_cells), max_size=len(p_cells)))
        scores = [float(s) for s in scores]
    else:
        scores = draw(
            st.lists(
                st.floats(0, 1, allow_nan=False),
                min_size=len(p_cells),
                max_size=len(p_cells),
                unique=True,
            )
        )
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
    k = draw(st.integers(1, 15))
    return truth, pred, k


def _all(truth, pred, k):
    out = {f: getattr(ev, f)(truth, pred, k=k) for f in RANKING}
    out["ndcg_raw"] = ev.ndcg_at_k(truth, pred, k=k, score_type="raw")
    out["ndcg_exp_log2"] = ev.ndcg_at_k(truth, pred, k=k, score_type="exp", discfun_type="log2")
    return out


@SETTINGS
@given(frames())
def test_ranking_metrics_are_bounded(data):
    truth, pred, k = data
    for name, value in _all(truth, pred, k).items():
        assert 0.0 <= value <= 1.0 + 1e-12, name


@SETTINGS
@given(frames(), st.data())
def test_perfect_ranking_scores_one(data, draw):
    truth, _, _ = data
    pred = truth.rename(columns={"rating": "prediction"})  # relevant items only, best rated first
    max_r = int(truth.groupby("userID").size().max())
    min_r = int(truth.groupby("userID").size().min())
    k = draw.draw(st.integers(max_r, max_r + 5))
    for name in (
        "recall_at_k",
        "ndcg_at_k",
        "map_at_k",
        "mean_average_precision",
        "r_precision_at_k",
        "hit_ratio_at_k",
        "mrr_at_k",
    ):
        assert getattr(ev, name)(truth, pred, k=k) == pytest.approx(1.0), name
    assert ev.ndcg_at_k(truth, pred, k=k, score_type="raw") == pytest.approx(1.0)
    assert ev.ndcg_at_k(truth, pred, k=k, score_type="exp") == pytest.approx(1.0)
    assert ev.precision_at_k(truth, pred, k=min_r) == pytest.approx(1.0)
    assert ev.rmse(truth, pred) == 0.0 and ev.rsquared(truth, pred) == 1.0


@SETTINGS
@given(frames(ties=False), st.randoms(use_true_random=False))
def test_row_permutation_changes_nothing(data, rnd):
    """Without tied scores, row order is irrelevant (with ties, row order is the tie-break)."""
    truth, pred, k = data
    t2 = truth.sample(frac=1.0, random_state=rnd.randint(0, 2**31))
    p2 = pred.sample(frac=1.0, random_state=rnd.randint(0, 2**31))
    a, b = _all(truth, pred, k), _all(t2, p2, k)
    for name in a:
        assert a[name] == pytest.approx(b[name], abs=1e-12), name


@SETTINGS
@given(frames(ties=True), st.randoms(use_true_random=False))
def test_relabelling_ids_changes_nothing(data, rnd):
    """Renaming users and items (here to shuffled strings) keeps every value, ties included."""
    truth, pred, k = data
    users = sorted(set(truth.userID) | set(pred.userID))
    items = sorted(set(truth.itemID) | set(pred.itemID))
    new_u = dict(zip(users, rnd.sample([f"u{j}" for j in range(100)], len(users))))
    new_i = dict(zip(items, rnd.sample(range(1000, 5000), len(items))))

    def relabel(df):
        return df.assign(userID=df.userID.map(new_u), itemID=df.itemID.map(new_i))

    a, b = _all(truth, pred, k), _all(relabel(truth), relabel(pred), k)
    for name in a:
        assert a[name] == pytest.approx(b[name], abs=1e-12), name


@SETTINGS
@given(frames(ties=True))
def test_evaluate_matches_functions(data):
    truth, pred, k = data
    names = [f"precision@{k}", f"recall@{k}", f"ndcg@{k}", f"map@{k}", f"mrr@{k}"]
    res = ev.evaluate(truth, pred, names)
    assert res[f"precision@{k}"] == ev.precision_at_k(truth, pred, k=k)
    assert res[f"ndcg@{k}"] == ev.ndcg_at_k(truth, pred, k=k)
    assert res[f"map@{k}"] == ev.map_at_k(truth, pred, k=k)


@st.composite
def beyond_frames(draw):
    n_users, n_items = draw(st.integers(1, 5)), draw(st.integers(2, 10))
    cells = [(u, i) for u in range(n_users) for i in range(n_items)]
    chosen = draw(st.lists(st.sampled_from(cells), min_size=2, max_size=len(cells), unique=True))
    split = draw(st.integers(1, len(chosen) - 1))
    train = pd.DataFrame(chosen[:split], columns=["userID", "itemID"])
    reco = pd.DataFrame(chosen[split:], columns=["userID", "itemID"])
    return train, reco


@SETTINGS
@given(beyond_frames(), st.randoms(use_true_random=False))
def test_beyond_bounds_and_permutation(data, rnd):
    train, reco = data
    div, ser = ev.diversity(train, reco), ev.serendipity(train, reco)
    assert np.isnan(div) or -1e-12 <= div <= 1 + 1e-12
    assert np.isnan(ser) or -1e-12 <= ser <= 1 + 1e-12
    assert ev.catalog_coverage(train, reco) >= 0 and ev.distributional_coverage(train, reco) >= 0
    t2 = train.sample(frac=1.0, random_state=rnd.randint(0, 2**31))
    r2 = reco.sample(frac=1.0, random_state=rnd.randint(0, 2**31))
    assert ev.novelty(train, reco) == pytest.approx(ev.novelty(t2, r2))
    np.testing.assert_allclose(ev.diversity(t2, r2), div)
    np.testing.assert_allclose(ev.serendipity(t2, r2), ser)
