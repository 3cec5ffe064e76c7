"""Property tests (hypothesis) of recutils.splitting on small random logs.

Small id and time ranges make tiny groups and tied timestamps common.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recutils.splitting import (
    kfold_assignments,
    leave_last_k_out,
    python_chrono_split,
    python_random_split,
    python_stratified_split,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def logs(draw, max_rows: int = 60) -> pd.DataFrame:
    n = draw(st.integers(0, max_rows))
    ints = st.lists(st.integers(0, 6), min_size=n, max_size=n)
    users, items = draw(ints), draw(ints)
    times = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    df = pd.DataFrame(
        {"userID": users, "itemID": items, "rating": np.arange(n, dtype=float), "timestamp": times}
    ).astype({"userID": "int64", "itemID": "int64", "timestamp": "int64"})
    # A shuffled, non-default index checks that labels travel with their rows.
    df.index = pd.Index(draw(st.permutations(range(1000, 1000 + n))), dtype="int64")
    return df


ratios = st.one_of(
    st.floats(0.05, 0.95),
    # Lists of shares summing to 1: positive weights, normalised.
    st.lists(st.floats(0.05, 0.9), min_size=2, max_size=4).map(lambda w: [x / sum(w) for x in w]),
)


def as_list(ratio) -> list[float]:
    if isinstance(ratio, float):
        return [ratio, 1.0 - ratio]
    total = sum(ratio)
    return [r / total for r in ratio]


def assert_partition(df: pd.DataFrame, parts: list[pd.DataFrame]) -> None:
    """The union of the parts is exactly the input: nothing lost, nothing duplicated."""
    union = pd.concat(parts) if parts else df.iloc[:0]
    assert union.index.is_unique
    pd.testing.assert_frame_equal(union.sort_index(), df.sort_index())


def assert_group_ratios(df, parts, ratio, col):
    shares = as_list(ratio)
    sizes = df.groupby(col).size()
    for part, share in zip(parts, shares, strict=True):
        got = part.groupby(col).size().reindex(sizes.index, fill_value=0)
        assert (np.abs(got - share * sizes) <= 1 + 1e-9).all()


@SETTINGS
@given(
    df=logs(),
    ratio=ratios,
    seed=st.integers(0, 2**32 - 1),
    filter_by=st.sampled_from(["user", "item"]),
)
def test_stratified_partition_and_ratios(df, ratio, seed, filter_by):
    parts = python_stratified_split(df, ratio=ratio, seed=seed, filter_by=filter_by)
    assert len(parts) == len(as_list(ratio))
    assert_partition(df, parts)
    assert_group_ratios(df, parts, ratio, "userID" if filter_by == "user" else "itemID")
    again = python_stratified_split(df, ratio=ratio, seed=seed, filter_by=filter_by)
    for a, b in zip(parts, again, strict=True):
        pd.testing.assert_frame_equal(a, b)


@SETTINGS
@given(df=logs(), ratio=ratios, filter_by=st.sampled_from(["user", "item"]))
def test_chrono_partition_ratios_and_order(df, ratio, filter_by):
    col = "userID" if filter_by == "user" else "itemID"
    parts = python_chrono_split(df, ratio=ratio, filter_by=filter_by)
    assert_partition(df, parts)
    assert_group_ratios(df, parts, ratio, col)
    # Within a group, every timestamp of split j is >= every timestamp of splits < j.
    for j in range(1, len(parts)):
        before = pd.concat(parts[:j]).groupby(col)["timestamp"].max()
        after = parts[j].groupby(col)["timestamp"].min()
        common = after.index.intersection(before.index)
        assert (after[common] >= before[common]).all()


@SETTINGS
@given(df=logs(), ratio=ratios, seed=st.integers(0, 2**32 - 1))
def test_random_partition_and_sizes(df, ratio, seed):
    parts = python_random_split(df, ratio=ratio, seed=seed)
    assert_partition(df, parts)
    for part, share in zip(parts, as_list(ratio), strict=True):
        assert abs(len(part) - share * len(df)) <= 1 + 1e-9
    again = python_random_split(df, ratio=ratio, seed=seed)
    assert [list(p.index) for p in parts] == [list(p.index) for p in again]


@SETTINGS
@given(df=logs(), k=st.integers(1, 4))
def test_leave_last_k_out_properties(df, k):
    train, test = leave_last_k_out(df, k=k)
    assert_partition(df, [train, test])
    sizes = df.groupby("userID").size()
    per_user = test.groupby("userID").size().reindex(sizes.index, fill_value=0)
    np.testing.assert_array_equal(per_user.to_numpy(), np.where(sizes > k, k, 0))
    last = train.groupby("userID")["timestamp"].max()
    first = test.groupby("userID")["timestamp"].min()
    assert (first >= last.reindex(first.index)).all()


@SETTINGS
@given(df=logs(), n_folds=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_kfold_properties(df, n_folds, seed):
    fold = kfold_assignments(df, n_folds=n_folds, seed=seed)
    assert fold.shape == (len(df),)
    assert ((fold >= 0) & (fold < n_folds)).all()
    counts = pd.crosstab(df["userID"].to_numpy(), fold)
    counts = counts.reindex(columns=range(n_folds), fill_value=0)
    assert (counts.max(axis=1) - counts.min(axis=1) <= 1).all()


@settings(max_examples=25, deadline=None)
@given(seeds=st.lists(st.integers(0, 2**32 - 1), min_size=2, max_size=2, unique=True))
def test_different_seeds_differ_on_nontrivial_data(seeds):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"userID": rng.integers(0, 20, 400), "itemID": rng.integers(0, 50, 400)})
    a, b = (python_stratified_split(df, 0.7, seed=s)[1] for s in seeds)
    assert set(a.index) != set(b.index)
    a, b = (python_random_split(df, 0.7, seed=s)[1] for s in seeds)
    assert set(a.index) != set(b.index)
    a, b = (kfold_assignments(df, n_folds=3, seed=s) for s in seeds)
    assert (a != b).any()


@pytest.mark.parametrize("splitter", [python_chrono_split, python_stratified_split])
@SETTINGS
@given(df=logs(), min_rating=st.integers(1, 5))
def test_min_rating_keeps_exactly_the_warm_users(splitter, df, min_rating):
    parts = splitter(df, ratio=0.6, min_rating=min_rating)
    sizes = df.groupby("userID").size()
    warm = df[df["userID"].isin(sizes.index[sizes >= min_rating])]
    assert_partition(warm, parts)
