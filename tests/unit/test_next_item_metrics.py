"""Next-item metrics: ranks under full and sampled ranking, HR/NDCG/MRR, negative sampling."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.evaluation.next_item import (
    draw_negatives,
    evaluate_next_item,
    metric_from_ranks,
    next_item_metrics,
    sampled_ranks,
    target_ranks,
)
from recutils.exceptions import ConfigError, DataError


def test_known_answer_ranks_and_metrics():
    scores = np.array(
        [
            [0.9, 0.5, 0.1, 0.7],  # target 1: items 0 and 3 above -> rank 2
            [0.2, 0.2, 0.2, 0.2],  # all tied: ties count against -> rank 3
            [0.1, 0.3, 0.8, 0.4],
        ]
    )  # target 2 is the best -> rank 0
    ranks = target_ranks(scores, np.array([1, 0, 2]))
    assert ranks.tolist() == [2, 3, 0]
    # excluding seen item 0 for user 0 lifts its target to rank 1; excluding the target does nothing
    seen = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]))
    assert target_ranks(scores, np.array([1, 0, 2]), exclude=seen).tolist() == [1, 3, 0]
    m = next_item_metrics(np.array([2, 3, 0]), k=[1, 3])
    assert m["HR@1"] == pytest.approx(1 / 3)
    assert m["HR@3"] == pytest.approx(2 / 3)
    assert m["NDCG@3"] == pytest.approx((1 / np.log2(4) + 1) / 3)
    assert m["MRR@3"] == pytest.approx((1 / 3 + 1) / 3)
    assert metric_from_ranks(np.array([0, 9, 10]), "ndcg", 10).tolist() == pytest.approx(
        [1.0, 1 / np.log2(11), 0.0]
    )


def test_sampled_ranks_and_bad_input():
    assert sampled_ranks(np.array([0.5, 0.1]), np.array([[0.4, 0.6], [0.1, 0.0]])).tolist() == [
        1,
        1,
    ]
    with pytest.raises(DataError, match="NaN"):
        target_ranks(np.array([[np.nan, 1.0]]), np.array([0]))
    with pytest.raises(DataError):
        target_ranks(np.ones((2, 3)), np.array([0, 3]))
    with pytest.raises(ConfigError):
        metric_from_ranks(np.array([0]), "auc", 10)
    with pytest.raises(DataError):
        next_item_metrics(np.array([], dtype=np.int64))


def test_draw_negatives_excludes_history_has_no_repeats_and_is_seeded():
    rng = np.random.default_rng(0)
    n_users, n_items = 300, 400
    exclude = sp.random(n_users, n_items, density=0.1, format="csr", random_state=1)
    popularity = rng.pareto(1.0, n_items) + 0.01
    a = draw_negatives(n_items, exclude, 100, "popularity", popularity, seed=3)
    b = draw_negatives(n_items, exclude, 100, "popularity", popularity, seed=3)
    np.testing.assert_array_equal(a.items, b.items)
    assert a.items.shape == (n_users, 100)
    assert not np.asarray(exclude[np.repeat(np.arange(n_users), 100), a.items.ravel()]).any()
    assert all(len(np.unique(row)) == 100 for row in a.items)
    # popularity sampling favours popular items, uniform does not
    u = draw_negatives(n_items, exclude, 100, "uniform", seed=3)
    top = np.argsort(popularity)[-40:]
    assert np.isin(a.items, top).mean() > 2 * np.isin(u.items, top).mean()


def test_draw_negatives_refuses_users_without_enough_items():
    exclude = sp.csr_matrix(np.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]]))
    with pytest.raises(DataError, match="row 0 has only 2"):
        draw_negatives(5, exclude, 3, "uniform")
    with pytest.raises(ConfigError):
        draw_negatives(5, exclude, 2, "popularity")
    with pytest.raises(ConfigError):
        draw_negatives(5, exclude, 2, "zipf")


def test_evaluate_next_item_batches_agree_with_one_pass():
    rng = np.random.default_rng(5)
    n_users, n_items = 57, 80
    scores = rng.random((n_users, n_items))
    targets = rng.integers(0, n_items, n_users)
    history = sp.random(n_users, n_items, density=0.05, format="csr", random_state=2)
    exclude = (
        history
        + sp.csr_matrix((np.ones(n_users), (np.arange(n_users), targets)), shape=history.shape)
    ).tocsr()
    neg = draw_negatives(n_items, exclude, 20, "uniform", seed=1)
    result = evaluate_next_item(
        lambda rows: scores[rows],
        targets,
        n_items,
        exclude=history,
        negatives=neg,
        k=(5, 10),
        batch_size=8,
    )
    np.testing.assert_array_equal(result.full_ranks, target_ranks(scores, targets, history))
    expected = sampled_ranks(
        scores[np.arange(n_users), targets], np.take_along_axis(scores, neg.items, axis=1)
    )
    np.testing.assert_array_equal(result.sampled_ranks, expected)
    table = result.table()
    assert table.index.tolist() == ["full", "sampled"]
    # sampled ranking is never harder than full ranking for the same scores
    assert (table.loc["sampled"] >= table.loc["full"]).all()
    assert result.per_user("hr", 10, "sampled").shape == (n_users,)
    with pytest.raises(DataError):
        evaluate_next_item(lambda rows: scores[rows, :10], targets, n_items)
