"""User-item matrices, k-core filtering and negative sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.datasets.sparse import (
    InteractionMatrix,
    filter_k_core,
    from_csr,
    sample_negatives,
    to_csr,
)
from recutils.datasets.synthetic import make_interactions
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError


@pytest.fixture
def small() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "userID": ["b", "a", "a", "c"],
            "itemID": [20, 10, 30, 10],
            "rating": [5.0, 3.0, 4.0, 1.0],
        }
    )


@pytest.fixture(scope="module")
def synth() -> pd.DataFrame:
    return make_interactions(n_users=300, n_items=200, n_interactions=6000, seed=2).ratings


# ----------------------------------------------------------------------------- to_csr / from_csr


def test_to_csr_known_answer(small):
    m = to_csr(small, col_rating="rating")
    assert isinstance(m, InteractionMatrix)
    assert list(m.user_ids) == ["a", "b", "c"] and list(m.item_ids) == [10, 20, 30]
    np.testing.assert_array_equal(
        m.matrix.toarray(), [[3.0, 0.0, 4.0], [0.0, 5.0, 0.0], [1.0, 0.0, 0.0]]
    )
    assert m.shape == (3, 3)
    np.testing.assert_array_equal(m.user_index(["c", "zz", "a"]), [2, -1, 0])
    np.testing.assert_array_equal(m.item_index([30]), [2])


def test_round_trip(synth):
    m = to_csr(synth, col_rating="rating")
    back = m.to_df()
    expected = synth[["userID", "itemID", "rating"]].sort_values(["userID", "itemID"])
    pd.testing.assert_frame_equal(
        back.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False
    )
    again = from_csr(m.matrix, m.user_ids, m.item_ids, col_user="u", col_item="i", col_rating=None)
    assert list(again.columns) == ["u", "i"] and len(again) == len(synth)


def test_implicit_and_fixed_universe(small):
    m = to_csr(small, user_ids=["c", "b", "a", "d"], item_ids=[30, 20, 10, 40])
    assert m.shape == (4, 4)
    assert m.matrix[0, 2] == 1.0 and m.matrix[2, 0] == 1.0 and m.matrix[3].nnz == 0
    with pytest.raises(DataError, match="not in the given user_ids"):
        to_csr(small, user_ids=["a", "b"])


def test_duplicate_policies():
    df = pd.DataFrame({"userID": [1, 1, 2], "itemID": [5, 5, 5], "rating": [2.0, 4.0, 1.0]})
    with pytest.raises(DataError, match="duplicate"):
        to_csr(df, col_rating="rating")
    assert to_csr(df, col_rating="rating", duplicates="sum").matrix[0, 0] == 6.0
    assert to_csr(df, col_rating="rating", duplicates="first").matrix[0, 0] == 2.0
    assert to_csr(df, col_rating="rating", duplicates="last").matrix[0, 0] == 4.0
    with pytest.raises(ConfigError, match="allowed"):
        to_csr(df, duplicates="max")


def test_nan_and_missing_columns(small):
    bad = small.assign(rating=[1.0, np.nan, 2.0, 3.0])
    with pytest.raises(DataError, match="NaN"):
        to_csr(bad, col_rating="rating")
    with pytest.raises(ColumnMismatchError, match="user"):
        to_csr(small, col_user="user")
    with pytest.raises(ColumnMismatchError):
        filter_k_core(small, 1, col_item="item")
    with pytest.raises(ColumnMismatchError):
        sample_negatives(small, col_user="nope")


def test_from_csr_shape_mismatch(small):
    m = to_csr(small)
    with pytest.raises(DataError, match="shape"):
        from_csr(m.matrix, ["a"], m.item_ids)


# ----------------------------------------------------------------------------- k-core


def _naive_k_core(df: pd.DataFrame, k: int) -> pd.DataFrame:
    out = df
    while True:
        u = out.groupby("userID")["itemID"].transform("size")
        i = out.groupby("itemID")["userID"].transform("size")
        nxt = out[(u >= k) & (i >= k)]
        if len(nxt) == len(out):
            return nxt
        out = nxt


def test_k_core_needs_iteration():
    # user 3 has 2 rows, but item 30 only survives through user 3; dropping it cascades
    df = pd.DataFrame(
        {
            "userID": [1, 1, 2, 2, 3, 3],
            "itemID": [10, 20, 10, 20, 10, 30],
        }
    )
    out = filter_k_core(df, 2)
    assert out.index.tolist() == [0, 1, 2, 3]
    assert filter_k_core(df, 3).empty


def test_k_core_matches_naive_and_property(synth):
    for k in (2, 10, 25):
        out = filter_k_core(synth, k)
        pd.testing.assert_frame_equal(out, _naive_k_core(synth, k))
        if len(out):
            assert out["userID"].value_counts().min() >= k
            assert out["itemID"].value_counts().min() >= k


def test_k_core_separate_item_threshold_and_bad_k(small):
    out = filter_k_core(small, 1, k_item=2)
    assert set(out["itemID"]) == {10}
    with pytest.raises(ConfigError, match="positive"):
        filter_k_core(small, 0)


# ----------------------------------------------------------------------------- negatives


def test_negatives_never_positive_distinct_and_counted(synth):
    neg = sample_negatives(synth, n_neg=1, seed=3)
    pos = set(zip(synth["userID"], synth["itemID"]))
    assert not any(p in pos for p in zip(neg["userID"], neg["itemID"]))
    assert not neg.duplicated().any()
    pd.testing.assert_series_equal(
        neg["userID"].value_counts().sort_index(),
        synth["userID"].value_counts().sort_index(),
    )
    assert set(neg["itemID"]) <= set(synth["itemID"])
    # users in order of first appearance
    assert neg["userID"].drop_duplicates().tolist() == synth["userID"].drop_duplicates().tolist()


def test_negatives_seeded(synth):
    a = sample_negatives(synth, n_neg=1, seed=11)
    pd.testing.assert_frame_equal(a, sample_negatives(synth, n_neg=1, seed=11))
    assert not a.equals(sample_negatives(synth, n_neg=1, seed=12))


def test_popularity_sampling_prefers_popular_items(synth):
    neg = sample_negatives(synth, n_neg=30, method="popularity", per="user", seed=0)
    uni = sample_negatives(synth, n_neg=30, method="uniform", per="user", seed=0)
    counts = synth["itemID"].value_counts()
    top = set(counts.index[:20])
    assert neg["itemID"].isin(top).mean() > 2 * uni["itemID"].isin(top).mean()
    pos = set(zip(synth["userID"], synth["itemID"]))
    assert not any(p in pos for p in zip(neg["userID"], neg["itemID"]))


def test_per_user_and_item_pool():
    df = pd.DataFrame({"userID": [1, 1, 2], "itemID": ["x", "y", "x"]})
    neg = sample_negatives(df, n_neg=3, per="user", items=["x", "y", "z", "w", "v"], seed=1)
    assert neg.groupby("userID").size().tolist() == [3, 3]
    assert set(neg.loc[neg["userID"] == 1, "itemID"]) == {"z", "w", "v"}
    assert "x" not in set(neg.loc[neg["userID"] == 2, "itemID"])


def test_dense_user_completed_exactly():
    df = pd.DataFrame({"userID": [1] * 5 + [2], "itemID": [1, 2, 3, 4, 5, 6]})
    neg = sample_negatives(df, n_neg=1, items=range(1, 11), seed=0, max_rounds=0)
    assert sorted(neg.loc[neg["userID"] == 1, "itemID"]) == [6, 7, 8, 9, 10]
    assert neg.loc[neg["userID"] == 2, "itemID"].isin([1, 2, 3, 4, 5, 7, 8, 9, 10]).all()


def test_too_few_negatives_is_clear_error():
    df = pd.DataFrame({"userID": [1, 1, 2], "itemID": [1, 2, 1]})
    with pytest.raises(DataError, match=r"1 needs 2 but has 0"):
        sample_negatives(df, n_neg=1)
    with pytest.raises(ConfigError, match="allowed"):
        sample_negatives(df, method="hard")
    with pytest.raises(ConfigError, match="allowed"):
        sample_negatives(df, per="item")


def test_no_function_mutates_its_input(synth):
    before = synth.copy(deep=True)
    to_csr(synth, col_rating="rating")
    filter_k_core(synth, 5)
    sample_negatives(synth, n_neg=1, seed=0)
    sample_negatives(synth, n_neg=1, method="popularity", seed=0)
    pd.testing.assert_frame_equal(synth, before)


# ----------------------------------------------------------------------------- review fixes


@pytest.mark.parametrize(
    "ids",
    [
        [1.0, np.nan, 2.0],
        pd.array(["a", None, "b"], dtype="str"),
        ["a", None, "b"],
    ],
)
def test_to_csr_missing_ids_raise_data_error(ids):
    """Bug: to_csr accepted NaN ids silently (a NaN row) and let None in str ids raise TypeError."""
    df = pd.DataFrame({"userID": ids, "itemID": [1, 2, 3]})
    with pytest.raises(DataError, match=r"userID has 1 missing id"):
        to_csr(df)
    with pytest.raises(DataError, match=r"itemID has 1 missing id"):
        to_csr(df.rename(columns={"userID": "itemID", "itemID": "userID"}))


def test_to_csr_mixed_int_and_str_ids_raise_data_error():
    """Bug: ints mixed with strings gave a raw TypeError from the sort of the ids."""
    df = pd.DataFrame({"userID": [1, "a"], "itemID": [1, 2]})
    with pytest.raises(DataError, match=r"userID mixes id types.*int, str"):
        to_csr(df)


def test_filter_k_core_missing_ids_raise_data_error_naming_column():
    """Bug: NaN ids made filter_k_core fail with a raw ValueError from np.bincount."""
    df = pd.DataFrame({"userID": [1, 1, 2], "itemID": [1.0, np.nan, 1.0]})
    with pytest.raises(DataError, match="itemID has 1 missing id"):
        filter_k_core(df, k=1)


def test_dense_users_completed_vectorized_and_fast():
    """Bug: _complete_exactly looped over leftover users in Python (11.5 s for 20k users)."""
    import time

    rng = np.random.default_rng(0)
    n_users, n_items = 20_000, 30
    users = np.repeat(np.arange(n_users), 10)
    items = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :10].ravel()
    df = pd.DataFrame({"userID": users, "itemID": items})
    start = time.perf_counter()
    neg = sample_negatives(df, n_neg=2, per="interaction", seed=1)
    assert time.perf_counter() - start < 8  # about 1 s; the per-user loop took 11-17 s
    # every user needs all 20 of its negatives: exactly its complement
    assert len(neg) == 2 * len(df)
    both = pd.concat([df, neg], ignore_index=True)
    assert not both.duplicated().any()
    assert (both.groupby("userID").size() == n_items).all()


def test_exact_completion_follows_the_weights_in_draw_order():
    from recutils.datasets.sparse import _complete_exactly

    rng = np.random.default_rng(0)
    n = 40_000
    empty = np.empty(0, dtype=np.int64)
    one = _complete_exactly(np.arange(n), empty, empty, np.array([1.0, 3.0, 0.0]), 3, rng)
    assert one.size == n and np.all(one // 3 == np.arange(n))
    assert abs(np.mean(one % 3 == 1) - 0.75) < 0.01 and not np.any(one % 3 == 2)
    # two of three items with weights 1, 1, 8: the first drawn is item 2 with probability 0.8
    two = _complete_exactly(
        np.repeat(np.arange(n), 2), empty, empty, np.array([1.0, 1.0, 8.0]), 3, rng, budget=1000
    )
    first = two.reshape(n, 2)[:, 0] % 3
    assert abs(np.mean(first == 2) - 0.8) < 0.01
    # taken keys (positives, accepted negatives) are never drawn
    taken = np.arange(n) * 3 + 2
    three = _complete_exactly(np.arange(n), taken, empty, np.ones(3), 3, rng)
    assert not np.isin(three, taken).any()
