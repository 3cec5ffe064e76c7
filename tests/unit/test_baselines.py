"""Baselines (popularity, random, bias, item-KNN): hand-computed answers and bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, DataWarning
from recutils.models import create_model, load_model
from recutils.models.baselines import (
    BiasBaseline,
    BiasConfig,
    ItemKNN,
    ItemKNNConfig,
    Popularity,
    PopularityConfig,
    RandomRecommender,
    fit_biases,
    item_knn_similarity,
)
from recutils.models.baselines.itemknn import keep_top_k_per_row
from recutils.testing import toy_interactions

DAY = 86400


# ----------------------------------------------------------------- registry
@pytest.mark.parametrize(
    "name, cls",
    [
        ("popularity", Popularity),
        ("random", RandomRecommender),
        ("bias", BiasBaseline),
        ("itemknn", ItemKNN),
    ],
)
def test_create_model(name, cls) -> None:
    model = create_model(name)
    assert type(model) is cls and model.name == name
    assert isinstance(model.config, cls.config_class)


def test_create_model_with_params_and_yaml() -> None:
    m = create_model("itemknn", k=5, shrink=2.5)
    assert (m.config.k, m.config.shrink) == (5, 2.5)
    m = create_model("popularity", config="half_life_days: 7")
    assert m.config.half_life_days == 7
    with pytest.raises(ConfigError, match="neighbours"):
        create_model("itemknn", neighbours=5)


@pytest.mark.parametrize("cls", [PopularityConfig, BiasConfig, ItemKNNConfig])
def test_config_round_trip(cls) -> None:
    cfg = cls()
    assert cls.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("popularity", {"half_life_days": 0}),
        ("popularity", {"half_life_days": -3}),
        ("popularity", {"half_life_days": "30"}),
        ("popularity", {"time_now": "now"}),
        ("random", {"seed": -1}),
        ("random", {"seed": 1.5}),
        ("bias", {"reg_user": -1}),
        ("bias", {"reg_item": float("nan")}),
        ("bias", {"n_iter": 0}),
        ("bias", {"clip": "yes"}),
        ("itemknn", {"k": 0}),
        ("itemknn", {"k": 2.5}),
        ("itemknn", {"shrink": -1}),
        ("itemknn", {"binary": 1}),
        ("itemknn", {"block_items": 0}),
    ],
)
def test_bad_config(name, kwargs) -> None:
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        create_model(name, **kwargs)


# --------------------------------------------------------------- popularity
def test_popularity_counts_by_hand() -> None:
    df = pd.DataFrame({"userID": [1, 1, 2, 2, 3, 3, 3], "itemID": [10, 20, 10, 30, 10, 20, 40]})
    m = Popularity().fit(df)  # no rating/timestamp columns needed
    np.testing.assert_array_equal(m.item_popularity_, [3, 2, 1, 1])
    rec = m.recommend_k_items([1, 2], top_k=2)
    assert rec["itemID"].tolist() == [30, 40, 20, 40]  # ties (30, 40) by id
    assert rec["prediction"].tolist() == [1.0, 1.0, 2.0, 1.0]
    pred = m.predict(pd.DataFrame({"userID": [3, 1], "itemID": [20, 40]}))
    assert pred["prediction"].tolist() == [2.0, 1.0]


def test_popularity_time_decay_by_hand() -> None:
    # t_now = 60 days; half-life 30 days: weights 1 (t=60d), 0.5 (t=30d), 0.25 (t=0)
    df = pd.DataFrame(
        {
            "userID": [1, 2, 3, 4],
            "itemID": ["a", "a", "b", "c"],
            "timestamp": [0, 0, 30 * DAY, 60 * DAY],
        }
    )
    m = Popularity(half_life_days=30).fit(df)
    np.testing.assert_allclose(m.item_popularity_, [0.5, 0.5, 1.0])
    assert m.time_now_ == 60 * DAY
    assert m.recommend_k_items([4], top_k=2)["itemID"].tolist() == ["a", "b"]
    assert m.recommend_k_items([1], top_k=1)["itemID"].tolist() == ["c"]
    # explicit time_now: events after it weigh 1
    m = Popularity(half_life_days=30, time_now=30 * DAY).fit(df)
    np.testing.assert_allclose(m.item_popularity_, [1.0, 1.0, 1.0])
    # without decay the plain counts
    np.testing.assert_allclose(Popularity().fit(df).item_popularity_, [2, 1, 1])


def test_popularity_decay_needs_timestamp() -> None:
    df = pd.DataFrame({"userID": [1], "itemID": [1]})
    with pytest.raises(ColumnMismatchError, match="timestamp"):
        Popularity(half_life_days=3).fit(df)


def test_popularity_duplicates_count_every_row_and_nan_ratings_ignored() -> None:
    df = pd.DataFrame(
        {"userID": [1, 1, 2, 3], "itemID": [1, 1, 2, 3], "rating": [np.nan, 1.0, 2.0, 3.0]}
    )
    m = Popularity().fit(df)
    np.testing.assert_array_equal(m.item_popularity_, [2, 1, 1])
    assert m.seen_.nnz == 3


def test_popularity_unknown_users_get_the_ranking_with_a_warning() -> None:
    df = toy_interactions()
    m = Popularity().fit(df)
    with pytest.warns(DataWarning, match="fallback"):
        rec = m.recommend_k_items(["nobody"], top_k=3)
    top = np.argsort(-m.item_popularity_, kind="stable")[:3]
    assert rec["itemID"].tolist() == m.item_ids_[top].tolist()


# ------------------------------------------------------------------- random
def test_random_is_seeded_uniform_and_consistent() -> None:
    df = toy_interactions(n_users=200, n_items=20, n_rows=400)
    a = RandomRecommender(seed=1).fit(df)
    b = RandomRecommender(seed=1).fit(df)
    c = RandomRecommender(seed=2).fit(df)
    ra, rb, rc = (m.recommend_k_items(df, top_k=5, remove_seen=False) for m in (a, b, c))
    pd.testing.assert_frame_equal(ra, rb)
    assert not ra["itemID"].equals(rc["itemID"])
    # each user's scores are a permutation of 1, 1 - 1/n, ..., 1/n
    scores = a._score_users(np.arange(a.n_users_))
    n = a.n_items_
    np.testing.assert_allclose(
        np.sort(scores, axis=1), np.tile(np.arange(1, n + 1) / n, (a.n_users_, 1))
    )
    # predict agrees with the ranking
    pred = a.predict(ra[["userID", "itemID"]])
    np.testing.assert_allclose(pred["prediction"], ra["prediction"])
    # roughly uniform: the top item is spread over the catalogue (chi-square-ish bound)
    first = scores.argmax(axis=1)
    counts = np.bincount(first, minlength=n)
    assert counts.max() < 30 and (counts > 0).sum() >= 15


def test_random_ignores_id_order() -> None:
    df = toy_interactions()
    renamed = df.assign(
        userID="u" + df["userID"].astype(str), itemID="i" + df["itemID"].astype(str)
    )
    ra = RandomRecommender(seed=5).fit(df).recommend_k_items(df, top_k=4)
    rb = RandomRecommender(seed=5).fit(renamed).recommend_k_items(renamed, top_k=4)
    assert ("i" + ra["itemID"].astype(str)).tolist() == rb["itemID"].tolist()


def test_random_skips_unknown_users() -> None:
    m = RandomRecommender().fit(toy_interactions())
    with pytest.warns(DataWarning, match="skipped"):
        rec = m.recommend_k_items(["nobody", 0], top_k=3)
    assert set(rec["userID"]) == {0}


# --------------------------------------------------------------------- bias
def test_bias_one_round_by_hand() -> None:
    # mu = 16/5 = 3.2; items a ((5-3.2) + (3-3.2)) / 2 = 0.8, b 1-3.2 = -2.2, c -0.2, d 0.8
    # users 1: ((5-3.2-0.8) + (1-3.2+2.2)) / 2 = 0.5; 2: ((3-3.2-0.8) + 0) / 2 = -0.5; 3: 0
    df = pd.DataFrame(
        {
            "userID": [1, 1, 2, 2, 3],
            "itemID": ["a", "b", "a", "c", "d"],
            "rating": [5.0, 1.0, 3.0, 3.0, 4.0],
        }
    )
    m = BiasBaseline(reg_user=0, reg_item=0, n_iter=1).fit(df)
    assert m.global_mean_ == pytest.approx(3.2)
    np.testing.assert_allclose(m.item_bias_, [0.8, -2.2, -0.2, 0.8])
    np.testing.assert_allclose(m.user_bias_, [0.5, -0.5, 0], atol=1e-12)
    pred = m.predict(pd.DataFrame({"userID": [2, 3], "itemID": ["d", "b"]}))
    np.testing.assert_allclose(pred["prediction"], [3.2 - 0.5 + 0.8, 3.2 + 0 - 2.2])


def test_bias_regularization_by_hand() -> None:
    df = pd.DataFrame({"userID": [1, 2], "itemID": ["a", "a"], "rating": [5.0, 3.0]})
    m = BiasBaseline(reg_user=2, reg_item=0, n_iter=1).fit(df)
    # mu 4; b_a = 0; user 1: (5-4)/(2+1) = 1/3, user 2: -1/3
    np.testing.assert_allclose(m.user_bias_, [1 / 3, -1 / 3])
    m = BiasBaseline(reg_user=0, reg_item=1, n_iter=1).fit(
        pd.DataFrame({"userID": [1, 2], "itemID": ["a", "b"], "rating": [5.0, 3.0]})
    )
    # mu 4; b_a = 1/2, b_b = -1/2; users: 5-4-1/2 = 1/2, 3-4+1/2 = -1/2
    np.testing.assert_allclose(m.item_bias_, [0.5, -0.5])
    np.testing.assert_allclose(m.user_bias_, [0.5, -0.5])


def test_bias_alternating_converges_to_the_joint_minimiser() -> None:
    df = toy_interactions(n_users=40, n_items=25, n_rows=300, seed=3)
    m = BiasBaseline(reg_user=3.0, reg_item=5.0, n_iter=500, tol=1e-12).fit(df)
    # normal equations of the regularized least squares, solved directly
    u = m.user_ids_.get_indexer(df["userID"])
    i = m.item_ids_.get_indexer(df["itemID"])
    nu, ni = m.n_users_, m.n_items_
    a = sp.hstack(
        [
            sp.csr_matrix((np.ones(len(df)), (np.arange(len(df)), u)), shape=(len(df), nu)),
            sp.csr_matrix((np.ones(len(df)), (np.arange(len(df)), i)), shape=(len(df), ni)),
        ]
    )
    reg = sp.diags(np.r_[np.full(nu, 3.0), np.full(ni, 5.0)])
    y = df["rating"].to_numpy() - df["rating"].mean()
    x = sp.linalg.spsolve((a.T @ a + reg).tocsc(), a.T @ y)
    np.testing.assert_allclose(m.user_bias_, x[:nu], atol=1e-6)
    np.testing.assert_allclose(m.item_bias_, x[nu:], atol=1e-6)
    assert m.n_iter_ < 500


def test_fit_biases_function_and_loss_decreases() -> None:
    df = toy_interactions(seed=4)
    u = pd.factorize(df["userID"], sort=True)[0]
    i = pd.factorize(df["itemID"], sort=True)[0]
    r = df["rating"].to_numpy()
    losses = []
    for n in (1, 2, 5, 20):
        mu, bu, bi, _ = fit_biases(u, i, r, u.max() + 1, i.max() + 1, 2.0, 2.0, n, 0.0)
        losses.append(((r - mu - bu[u] - bi[i]) ** 2).sum() + 2 * (bu**2).sum() + 2 * (bi**2).sum())
    assert all(a >= b - 1e-9 for a, b in zip(losses, losses[1:]))


def test_bias_clip_and_unknown_users() -> None:
    df = pd.DataFrame({"userID": [1, 1, 2], "itemID": [1, 2, 1], "rating": [5.0, 5.0, 1.0]})
    m = BiasBaseline(reg_user=0, reg_item=0, n_iter=1, clip=True).fit(df)
    scores = m._score_users(np.arange(2))
    assert scores.min() >= 1.0 and scores.max() <= 5.0
    with pytest.warns(DataWarning, match="fallback"):
        rec = m.recommend_k_items([99], top_k=2)
    assert rec["itemID"].tolist() == [2, 1]  # mu + b_i: b_2 (5) > b_1 (5, 1)


def test_bias_bad_data() -> None:
    dup = pd.DataFrame({"userID": [1, 1], "itemID": [1, 1], "rating": [4.0, 5.0]})
    with pytest.raises(DataError, match="duplicate"):
        BiasBaseline().fit(dup)
    nan = pd.DataFrame({"userID": [1, 2], "itemID": [1, 1], "rating": [4.0, np.nan]})
    with pytest.raises(DataError, match="NaN"):
        BiasBaseline().fit(nan)
    with pytest.raises(ColumnMismatchError, match="rating"):
        BiasBaseline().fit(nan.drop(columns="rating"))


# ------------------------------------------------------------------ item-KNN
def _knn_toy() -> pd.DataFrame:
    # users 1 {a, b}, 2 {a, b, c}, 3 {b, c}, 4 {c, d}
    return pd.DataFrame(
        {
            "userID": [1, 1, 2, 2, 2, 3, 3, 4, 4],
            "itemID": ["a", "b", "a", "b", "c", "b", "c", "c", "d"],
        }
    )


R6, R3 = math.sqrt(6), math.sqrt(3)


def test_itemknn_similarity_by_hand() -> None:
    # counts a 2, b 3, c 3, d 1; co-counts ab 2, ac 1, bc 2, cd 1
    m = ItemKNN(k=None, shrink=0).fit(_knn_toy())
    s = m.item_similarity_.toarray()
    expected = np.array(
        [
            [0, 2 / R6, 1 / R6, 0],
            [2 / R6, 0, 2 / 3, 0],
            [1 / R6, 2 / 3, 0, 1 / R3],
            [0, 0, 1 / R3, 0],
        ]
    )
    np.testing.assert_allclose(s, expected)
    # shrink 1 adds 1 to every denominator |i||j|
    s1 = ItemKNN(k=None, shrink=1).fit(_knn_toy()).item_similarity_.toarray()
    np.testing.assert_allclose(
        s1,
        [
            [0, 2 / (R6 + 1), 1 / (R6 + 1), 0],
            [2 / (R6 + 1), 0, 2 / 4, 0],
            [1 / (R6 + 1), 2 / 4, 0, 1 / (R3 + 1)],
            [0, 0, 1 / (R3 + 1), 0],
        ],
    )


def test_itemknn_neighbourhood_and_scores_by_hand() -> None:
    # shrink 1: s_ab .580, s_ac .290, s_bc .5, s_cd .366. k=1: a->b, b->a, c->b, d->c
    m = ItemKNN(k=1, shrink=1).fit(_knn_toy())
    s = m.item_similarity_.toarray()
    assert (s > 0).sum(axis=1).tolist() == [1, 1, 1, 1]
    assert s.argmax(axis=1).tolist() == [1, 0, 1, 2]
    # user 3 {b, c}: a <- S[b, a] = 2/(sqrt6+1); d <- nothing (c kept only b) = 0
    rec = m.recommend_k_items([3], top_k=2)
    assert rec["itemID"].tolist() == ["a", "d"]
    np.testing.assert_allclose(rec["prediction"], [2 / (R6 + 1), 0.0])
    # predict: user 1 {a, b} on c with k=2 = s_ac + s_bc
    m2 = ItemKNN(k=2, shrink=1).fit(_knn_toy())
    pred = m2.predict(pd.DataFrame({"userID": [1, 4], "itemID": ["c", "a"]}))
    np.testing.assert_allclose(pred["prediction"], [1 / (R6 + 1) + 0.5, 0.0])


def test_keep_top_k_keeps_ties() -> None:
    rows = np.array([0, 0, 0, 0, 1, 1])
    vals = np.array([0.5, 0.9, 0.5, 0.1, 0.2, 0.3])
    assert keep_top_k_per_row(rows, vals, 2).tolist() == [True, True, True, False, True, True]
    assert keep_top_k_per_row(rows, vals, 1).tolist() == [False, True, False, False, False, True]
    assert keep_top_k_per_row(rows, vals, None).all()


def test_itemknn_blocks_match_one_block() -> None:
    df = toy_interactions(n_users=60, n_items=40, n_rows=500, seed=2)
    a = ItemKNN(k=5, shrink=3).fit(df)
    b = ItemKNN(k=5, shrink=3, block_items=7, dense_similarity_max_mb=0).fit(df)
    assert (a.item_similarity_ != b.item_similarity_).nnz == 0
    pd.testing.assert_frame_equal(
        a.recommend_k_items(df, top_k=5), b.recommend_k_items(df, top_k=5)
    )


def test_itemknn_matches_dense_reference() -> None:
    df = toy_interactions(n_users=50, n_items=30, n_rows=400, seed=5)
    m = ItemKNN(k=4, shrink=2, binary=False).fit(df)
    x = m.user_item_.toarray()
    c = x.T @ x
    n = np.sqrt(np.diag(c))
    s = c / (np.outer(n, n) + 2)
    np.fill_diagonal(s, 0)
    kth = -np.sort(-s, axis=1)[:, 3]
    s[s < kth[:, None]] = 0
    np.testing.assert_allclose(m.item_similarity_.toarray(), s, atol=1e-12)
    np.testing.assert_allclose(m._score_users(np.arange(m.n_users_)), x @ s, atol=1e-12)
    assert item_knn_similarity(sp.csr_matrix(x), 4, 2.0).nnz == (s > 0).sum()


def test_itemknn_policies() -> None:
    df = _knn_toy().assign(rating=[np.nan] * 9)
    ItemKNN().fit(df)  # binary: ratings not read, NaN ignored
    with pytest.raises(DataError, match="NaN"):
        ItemKNN(binary=False).fit(df)
    dup = pd.concat([_knn_toy(), _knn_toy().iloc[:2]], ignore_index=True)
    a, b = ItemKNN(k=None, shrink=0).fit(dup), ItemKNN(k=None, shrink=0).fit(_knn_toy())
    np.testing.assert_allclose(a.item_similarity_.toarray(), b.item_similarity_.toarray())
    m = ItemKNN().fit(_knn_toy())
    with pytest.warns(DataWarning, match="fallback"):
        rec = m.recommend_k_items(["new"], top_k=2)
    assert rec["itemID"].tolist() == ["b", "c"]  # most users


# ---------------------------------------------------------- shared bad input
@pytest.mark.parametrize("name", ["popularity", "random", "bias", "itemknn"])
def test_top_k_must_be_positive(name) -> None:
    m = create_model(name).fit(toy_interactions())
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ConfigError, match="top_k"):
            m.recommend_k_items([0], top_k=bad)


@pytest.mark.parametrize("name", ["popularity", "random", "bias", "itemknn"])
def test_unknown_items_predict_nan_with_one_warning(name, tmp_path) -> None:
    df = toy_interactions()
    m = create_model(name).fit(df)
    pairs = pd.DataFrame({"userID": [0, 0, "x"], "itemID": [0, "zz", 0]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pred = m.predict(pairs)
    assert np.isfinite(pred["prediction"][0]) and pred["prediction"][1:].isna().all()
    assert sum(issubclass(w.category, DataWarning) for w in caught) == 1
    loaded = load_model(m.save(tmp_path / name))
    assert type(loaded) is type(m)


@pytest.mark.parametrize("name", ["popularity", "random", "bias", "itemknn"])
def test_empty_frame_and_missing_columns(name) -> None:
    m = create_model(name)
    with pytest.raises(DataError, match="empty"):
        m.fit(toy_interactions().iloc[:0])
    with pytest.raises(ColumnMismatchError):
        m.fit(toy_interactions().drop(columns="itemID"))
