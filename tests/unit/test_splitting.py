"""Known-answer, error and contract tests of recutils.splitting.

Expected values marked "MS" were produced by Microsoft Recommenders 1.2.1 on the
same frames and are hard-coded here (it is not a dependency).
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ColumnMismatchError, ConfigError, DataError
from recutils.splitting import (
    kfold_assignments,
    leave_last_k_out,
    min_rating_filter_pandas,
    process_split_ratio,
    python_chrono_split,
    python_kfold_split,
    python_random_split,
    python_stratified_split,
    split_pandas_data_with_ratios,
)


@pytest.fixture
def small() -> pd.DataFrame:
    """User 1 has 6 rows (tied timestamps), user 2 has 2 (tied), user 3 has 1."""
    return pd.DataFrame(
        {
            "userID": [1, 1, 1, 1, 1, 1, 2, 2, 3],
            "itemID": list(range(9)),
            "rating": [1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0, 4.0],
            "timestamp": [5, 5, 3, 3, 1, 9, 2, 2, 1],
        }
    )


def make_log(n: int = 3000, n_users: int = 80, n_items: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "userID": rng.integers(0, n_users, n),
            "itemID": rng.integers(0, n_items, n),
            "rating": rng.integers(1, 6, n).astype(float),
            "timestamp": rng.integers(0, 200, n),
        }
    )


def ms_counts(sizes: np.ndarray, ratios: list[float]) -> np.ndarray:
    """Per-group counts by Microsoft's rule, written independently: Python round()."""
    cum = np.cumsum(ratios)
    bounds = np.array(
        [[0] + [round(float(c) * int(s)) for c in cum[:-1]] + [int(s)] for s in sizes]
    )
    return np.diff(bounds, axis=1)


ALL_SPLITTERS = {
    "random": lambda d: python_random_split(d, 0.75),
    "chrono": lambda d: python_chrono_split(d, 0.75),
    "stratified": lambda d: python_stratified_split(d, 0.75),
    "stratified_multi": lambda d: python_stratified_split(d, [0.6, 0.2, 0.2], min_rating=2),
    "chrono_item": lambda d: python_chrono_split(d, [0.5, 0.5], filter_by="item"),
    "leave_last": lambda d: leave_last_k_out(d, k=1),
    "kfold": lambda d: [f for pair in python_kfold_split(d, n_folds=3) for f in pair],
    "ratios": lambda d: split_pandas_data_with_ratios(d, [0.5, 0.5], shuffle=True),
    "min_rating": lambda d: [min_rating_filter_pandas(d, min_rating=2)],
}


# ----------------------------------------------------------------------------- chrono
def test_chrono_known_answer_matches_ms(small):
    train, test = python_chrono_split(small, ratio=0.75)
    # MS 1.2.1: train index {0,2,3,4,6,7,8}, test {1,5}. User 1 (6 rows): round(4.5) = 4
    # train; the tie at t=5 goes to the earlier row (0) in train. User 2: round(1.5) = 2.
    assert sorted(train.index) == [0, 2, 3, 4, 6, 7, 8]
    assert sorted(test.index) == [1, 5]
    # Rows keep input order inside a split.
    assert list(train.index) == [0, 2, 3, 4, 6, 7, 8]


def test_chrono_three_way_known_answer(small):
    train, val, test = python_chrono_split(small, ratio=[0.7, 0.15, 0.15])
    assert list(train.index) == [0, 2, 3, 4, 6, 8]
    assert list(val.index) == [1, 7]
    assert list(test.index) == [5]


def test_chrono_ties_broken_by_input_order():
    df = pd.DataFrame({"userID": [7] * 4, "itemID": [10, 11, 12, 13], "timestamp": [1, 1, 1, 1]})
    train, test = python_chrono_split(df, ratio=0.5)
    assert list(train["itemID"]) == [10, 11]
    assert list(test["itemID"]) == [12, 13]


@pytest.mark.parametrize(
    "size,expected_train", [(1, 1), (2, 2), (3, 2), (4, 3), (5, 4), (6, 4), (10, 8)]
)
def test_tiny_groups_round_half_to_even(size, expected_train):
    df = pd.DataFrame({"userID": [0] * size, "itemID": range(size), "timestamp": range(size)})
    for splitter in (python_chrono_split, python_stratified_split):
        train, test = splitter(df, ratio=0.75)
        assert len(train) == expected_train
        assert len(test) == size - expected_train


def test_chrono_per_group_counts_equal_ms_rule():
    df = make_log()
    ratios = [0.7, 0.15, 0.15]
    splits = python_chrono_split(df, ratio=ratios)
    sizes = df.groupby("userID").size()
    got = np.stack(
        [s.groupby("userID").size().reindex(sizes.index, fill_value=0) for s in splits], 1
    )
    np.testing.assert_array_equal(got, ms_counts(sizes.to_numpy(), ratios))


def test_chrono_test_after_train_per_user():
    df = make_log()
    train, test = python_chrono_split(df, ratio=0.8)
    last_train = train.groupby("userID")["timestamp"].max()
    first_test = test.groupby("userID")["timestamp"].min()
    assert (first_test >= last_train.reindex(first_test.index)).all()


@pytest.mark.parametrize(
    "convert",
    [
        lambda t: t.astype(float),
        lambda t: pd.to_datetime(t, unit="s"),
        lambda t: pd.to_datetime(t, unit="s").dt.tz_localize("Europe/Paris"),
        lambda t: t.astype("uint32"),
        lambda t: t.astype("Int64"),
        lambda t: t * 10**14,  # unique key would overflow: stable sort on (group, time)
        lambda t: t * 10**15 - 4 * 10**18,  # any key would overflow: general two-sort path
        lambda t: pd.to_timedelta(t, unit="s"),
    ],
    ids=[
        "float",
        "datetime",
        "tz-aware",
        "uint32",
        "nullable-int",
        "large-int",
        "huge-int",
        "timedelta",
    ],
)
def test_chrono_timestamp_dtypes_agree(convert):
    df = make_log(n=800, seed=3)
    expected = [sorted(s.index) for s in python_chrono_split(df, ratio=[0.5, 0.3, 0.2])]
    other = df.assign(timestamp=convert(df["timestamp"]))
    got = python_chrono_split(other, ratio=[0.5, 0.3, 0.2])
    assert [sorted(s.index) for s in got] == expected
    assert all(s["timestamp"].dtype == other["timestamp"].dtype for s in got)


# ----------------------------------------------------------------------------- stratified
def test_stratified_per_group_counts_equal_ms_rule():
    df = make_log()
    for ratios in ([0.75, 0.25], [0.7, 0.15, 0.15], [0.5, 0.5]):
        ratio = ratios[0] if len(ratios) == 2 else ratios
        splits = python_stratified_split(df, ratio=ratio, seed=5)
        sizes = df.groupby("userID").size()
        got = np.stack(
            [s.groupby("userID").size().reindex(sizes.index, fill_value=0) for s in splits], 1
        )
        np.testing.assert_array_equal(got, ms_counts(sizes.to_numpy(), ratios))


def _ms_stratified_reference(df, ratios, seed, min_rating, group):
    """Microsoft Recommenders 1.2.1's stratified split, restated in plain pandas: a
    legacy-RandomState uniform key per row left after min_rating, rows sorted by
    (group, key), group i's rows ranked 1..c, split j = ranks in
    (round(C[j-1] * c), round(C[j] * c)]."""
    kept = df[df.groupby(group)[group].transform("size") >= min_rating].copy()
    kept["random"] = np.random.RandomState(seed).rand(len(kept))
    kept = kept.sort_values([group, "random"])
    count = kept.groupby(group)[group].transform("size")
    rank = kept.groupby(group).cumcount() + 1
    out, prev = [], None
    for threshold in np.cumsum(ratios):
        cond = rank <= (threshold * count).round()
        if prev is not None:
            cond &= rank > (prev * count).round()
        out.append(kept[cond].drop(columns="random"))
        prev = threshold
    return out


@pytest.mark.parametrize(
    "ratios,seed,min_rating,group",
    [
        ([0.75, 0.25], 42, 1, "itemID"),
        ([0.6, 0.2, 0.2], 7, 3, "userID"),
        ([0.5, 0.5], 0, 20, "itemID"),
    ],
)
def test_stratified_is_microsofts_split_row_for_row(ratios, seed, min_rating, group):
    df = make_log(seed=seed)
    df.index = df.index * 3 + 100  # labels that are not positions
    ratio = ratios[0] if len(ratios) == 2 else ratios
    filter_by = "item" if group == "itemID" else "user"
    ours = python_stratified_split(
        df, ratio=ratio, seed=seed, min_rating=min_rating, filter_by=filter_by
    )
    theirs = _ms_stratified_reference(df, ratios, seed, min_rating, group)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        pd.testing.assert_frame_equal(a, b)  # same rows, same order, same index labels


def test_stratified_leaves_global_numpy_state_alone():
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    python_stratified_split(make_log(), 0.75, seed=1)
    np.testing.assert_array_equal(np.random.rand(3), expected)


def test_stratified_filter_by_item_groups_items():
    df = make_log()
    train, test = python_stratified_split(df, ratio=0.6, filter_by="item")
    sizes = df.groupby("itemID").size()
    got = train.groupby("itemID").size().reindex(sizes.index, fill_value=0)
    np.testing.assert_array_equal(got, ms_counts(sizes.to_numpy(), [0.6, 0.4])[:, 0])


def test_stratified_seed_determinism():
    df = make_log()
    a = python_stratified_split(df, 0.75, seed=1)
    b = python_stratified_split(df, 0.75, seed=1)
    c = python_stratified_split(df, 0.75, seed=2)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert set(a[1].index) != set(c[1].index)


def test_min_rating_drops_small_users_before_split(small):
    train, test = python_stratified_split(small, ratio=0.5, min_rating=2)
    kept = pd.concat([train, test])
    assert set(kept["userID"]) == {1, 2}
    assert len(kept) == 8
    train, test = python_chrono_split(small, ratio=0.5, min_rating=3)
    assert list(train.index) == [2, 3, 4] and list(test.index) == [0, 1, 5]


def test_min_rating_removing_everything_gives_empty_frames(small):
    splits = python_chrono_split(small, ratio=0.5, min_rating=100)
    assert [len(s) for s in splits] == [0, 0]
    assert all(list(s.columns) == list(small.columns) for s in splits)


@pytest.mark.parametrize("bad", [[0.6, 0.3, 0.3], [0.5, 0.3], (0.2, 0.2)])
def test_ratio_list_not_summing_to_one_is_an_error(bad):
    with pytest.raises(DataError, match="sum to 1"):
        python_stratified_split(make_log(), ratio=bad, seed=3)
    with pytest.raises(DataError, match="sum to 1"):
        python_chrono_split(make_log(), ratio=bad)


def test_ratio_list_summing_to_one_up_to_rounding_is_accepted():
    multi, values = process_split_ratio([0.7, 0.2, 0.1])
    assert multi and math.fsum(values) == pytest.approx(1.0, abs=1e-15)
    assert values == pytest.approx([0.7, 0.2, 0.1])
    assert process_split_ratio([0.5, 0.25, 0.25]) == (True, [0.5, 0.25, 0.25])
    assert process_split_ratio(0.75) == (False, 0.75)
    assert process_split_ratio((0.5, 0.5)) == (True, [0.5, 0.5])


# ----------------------------------------------------------------------------- random
def test_random_split_counts_and_coverage():
    df = make_log(n=10)
    train, test = python_random_split(df, ratio=0.75)
    assert (len(train), len(test)) == (8, 2)  # round(7.5) = 8, half to even (sklearn: floor = 7)
    assert sorted(train.index.tolist() + test.index.tolist()) == list(range(10))
    parts = python_random_split(make_log(n=1000), ratio=[0.7, 0.2, 0.1], seed=9)
    assert [len(p) for p in parts] == [700, 200, 100]


def test_random_split_seed():
    df = make_log(n=500)
    a, b, c = (python_random_split(df, 0.5, seed=s)[0] for s in (4, 4, 5))
    pd.testing.assert_frame_equal(a, b)
    assert set(a.index) != set(c.index)


def test_split_pandas_data_with_ratios_without_shuffle_cuts_blocks():
    df = make_log(n=10)
    a, b, c = split_pandas_data_with_ratios(df, [0.5, 0.3, 0.2])
    assert list(a.index) == [0, 1, 2, 3, 4]
    assert list(b.index) == [5, 6, 7]
    assert list(c.index) == [8, 9]
    with pytest.raises(DataError, match="list"):
        split_pandas_data_with_ratios(df, 0.5)


def test_min_rating_filter_pandas(small):
    out = min_rating_filter_pandas(small, min_rating=2)
    assert list(out.index) == [0, 1, 2, 3, 4, 5, 6, 7]
    out = min_rating_filter_pandas(small, min_rating=3, filter_by="user")
    assert set(out["userID"]) == {1}
    df = small.assign(itemID=[0, 0, 1, 1, 1, 2, 2, 2, 2])
    out = min_rating_filter_pandas(df, min_rating=3, filter_by="item")
    assert list(out.index) == [2, 3, 4, 5, 6, 7, 8]
    pd.testing.assert_frame_equal(min_rating_filter_pandas(small), small)


# ----------------------------------------------------------------------------- leave-last-k-out
def test_leave_last_k_out_known_answer(small):
    train, test = leave_last_k_out(small, k=1)
    # User 1: latest is row 5 (t=9). User 2: tie at t=2, the later row (7) is "latest".
    # User 3 has only k=1 row: stays in train.
    assert list(test.index) == [5, 7]
    assert list(train.index) == [0, 1, 2, 3, 4, 6, 8]
    train, test = leave_last_k_out(small, k=2)
    # User 1: t=9 (row 5) and the later of the t=5 tie (row 1); user 2 (2 rows) stays.
    assert list(test.index) == [1, 5]


def test_leave_last_k_out_sizes():
    df = make_log()
    k = 3
    train, test = leave_last_k_out(df, k=k)
    sizes = df.groupby("userID").size()
    per_user = test.groupby("userID").size().reindex(sizes.index, fill_value=0)
    np.testing.assert_array_equal(per_user, np.where(sizes > k, k, 0))
    last_train = train.groupby("userID")["timestamp"].max()
    first_test = test.groupby("userID")["timestamp"].min()
    assert (first_test >= last_train.reindex(first_test.index)).all()


# ----------------------------------------------------------------------------- k-fold
def test_kfold_partitions_rows_and_balances_users():
    df = make_log()
    n_folds = 4
    folds = list(python_kfold_split(df, n_folds=n_folds, seed=1))
    assert len(folds) == n_folds
    tests = [t for _, t in folds]
    all_test = np.concatenate([t.index.to_numpy() for t in tests])
    assert sorted(all_test) == list(df.index)
    for train, test in folds:
        assert len(train) + len(test) == len(df)
        assert not set(train.index) & set(test.index)
    per_fold = np.stack(
        [t.groupby("userID").size().reindex(df["userID"].unique(), fill_value=0) for t in tests], 1
    )
    assert (per_fold.max(1) - per_fold.min(1) <= 1).all()


def test_kfold_small_users_land_in_random_folds():
    df = pd.DataFrame({"userID": np.arange(4000), "itemID": 0})
    fold = kfold_assignments(df, n_folds=5, seed=0)
    counts = np.bincount(fold, minlength=5)
    assert counts.min() > 700  # about 800 each, not all in fold 0


def test_kfold_seed_and_laziness():
    df = make_log(n=400)
    a = kfold_assignments(df, n_folds=3, seed=2)
    np.testing.assert_array_equal(a, kfold_assignments(df, n_folds=3, seed=2))
    assert (a != kfold_assignments(df, n_folds=3, seed=3)).any()
    with pytest.raises(ConfigError, match="n_folds"):
        python_kfold_split(df, n_folds=1)  # raised at call time, not at first next()


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "ratio",
    [
        0.0,
        1.0,
        1.5,
        -0.25,
        float("nan"),
        1,
        [0.5, 0.0],
        [0.5, -0.1],
        [0.7, 1.3],
        [0.5],
        [],
        "0.75",
        None,
        True,
    ],
)
def test_bad_ratio_raises_data_error_naming_value(small, ratio):
    for splitter in (python_random_split, python_chrono_split, python_stratified_split):
        with pytest.raises(DataError) as info:
            splitter(small, ratio=ratio)
        message = str(info.value)
        assert "(0, 1)" in message  # states what is allowed
        if ratio not in ([], None) and not isinstance(ratio, list):
            assert repr(ratio) in message or str(ratio) in message


def test_bad_ratio_error_is_value_error(small):
    with pytest.raises(ValueError, match=r"\[1\].*1\.3"):
        python_chrono_split(small, ratio=[0.7, 1.3])


@pytest.mark.parametrize("filter_by", ["users", "", None, "timestamp"])
def test_unknown_filter_by(small, filter_by):
    for splitter in (python_chrono_split, python_stratified_split):
        with pytest.raises(ConfigError, match=r"'user', 'item'") as info:
            splitter(small, filter_by=filter_by)
        assert repr(filter_by) in str(info.value)
    with pytest.raises(ConfigError):
        min_rating_filter_pandas(small, filter_by=filter_by)


@pytest.mark.parametrize("min_rating", [0, -1, 0.5, "2", None])
def test_bad_min_rating(small, min_rating):
    with pytest.raises(ConfigError, match="min_rating"):
        python_stratified_split(small, min_rating=min_rating)


@pytest.mark.parametrize("k", [0, -2, 1.5, None])
def test_bad_k(small, k):
    with pytest.raises(ConfigError, match="k must be"):
        leave_last_k_out(small, k=k)


def test_missing_columns(small):
    with pytest.raises(ColumnMismatchError, match="timestamp"):
        python_chrono_split(small.drop(columns="timestamp"))
    with pytest.raises(ColumnMismatchError, match="user"):
        python_stratified_split(small, col_user="user")
    with pytest.raises(ColumnMismatchError, match="itemID"):
        python_stratified_split(small.drop(columns="itemID"), filter_by="item")
    with pytest.raises(ColumnMismatchError):
        leave_last_k_out(small, col_timestamp="ts")
    with pytest.raises(ColumnMismatchError):
        python_random_split(small.to_numpy())


def test_missing_group_or_time_values_raise(small):
    with_nan_user = small.astype({"userID": float})
    with_nan_user.loc[0, "userID"] = np.nan
    with pytest.raises(DataError, match="userID.*1 missing"):
        python_stratified_split(with_nan_user)
    with_nan_time = small.astype({"timestamp": float})
    with_nan_time.loc[3, "timestamp"] = np.nan
    with pytest.raises(DataError, match="timestamp"):
        python_chrono_split(with_nan_time)
    with pytest.raises(DataError, match="timestamp"):
        leave_last_k_out(with_nan_time)


# ----------------------------------------------------------------------------- contract
@pytest.mark.parametrize("name", sorted(ALL_SPLITTERS))
def test_input_not_mutated(name):
    df = make_log(n=300)
    df.index = df.index * 3 + 100
    original = df.copy(deep=True)
    ALL_SPLITTERS[name](df)
    pd.testing.assert_frame_equal(df, original)


@pytest.mark.parametrize("name", sorted(ALL_SPLITTERS))
def test_columns_dtypes_and_index_kept(name):
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame(
        {
            "userID": pd.array([f"u{i}" for i in rng.integers(0, 15, n)], dtype="str"),
            "itemID": pd.Categorical([f"i{i}" for i in rng.integers(0, 10, n)]),
            "rating": rng.random(n).astype(np.float32),
            "timestamp": pd.to_datetime(rng.integers(0, 10**6, n), unit="s"),
            "extra": pd.array(rng.integers(0, 3, n), dtype="Int16"),
        },
        index=pd.Index([f"row{i}" for i in range(n)]),
    )
    parts = ALL_SPLITTERS[name](df)
    for part in parts:
        assert list(part.columns) == list(df.columns)
        pd.testing.assert_series_equal(part.dtypes, df.dtypes)
        pd.testing.assert_frame_equal(part, df.loc[part.index])  # original labels, same rows
    if name not in ("kfold", "min_rating"):
        union = pd.concat(parts)
        assert sorted(union.index) == sorted(df.index)


@pytest.mark.parametrize("name", sorted(ALL_SPLITTERS))
def test_empty_input_gives_empty_frames(name, small):
    empty = small.iloc[:0]
    parts = ALL_SPLITTERS[name](empty)
    assert len(parts) >= 1
    for part in parts:
        assert len(part) == 0
        pd.testing.assert_series_equal(part.dtypes, small.dtypes)


def test_empty_input_split_counts(small):
    empty = small.iloc[:0]
    assert len(python_chrono_split(empty, [0.5, 0.3, 0.2])) == 3
    assert len(python_random_split(empty, 0.5)) == 2
    assert len(list(python_kfold_split(empty, n_folds=4))) == 4


def test_non_default_column_names(small):
    df = small.rename(columns={"userID": "u", "itemID": "i", "timestamp": "t"})
    train, test = python_chrono_split(df, 0.75, col_user="u", col_item="i", col_timestamp="t")
    assert sorted(test.index) == [1, 5]
    train, test = leave_last_k_out(df, col_user="u", col_timestamp="t")
    assert list(test.index) == [5, 7]
    train, test = python_stratified_split(df, 0.5, filter_by="item", col_user="u", col_item="i")
    # Every item has one row and round(0.5 * 1) = 0 (half to even): all go to test, as in MS.
    assert (len(train), len(test)) == (0, 9)
    folds = list(python_kfold_split(df, n_folds=2, col_user="u"))
    assert len(folds) == 2


def test_duplicate_index_labels_are_kept():
    df = make_log(n=50)
    df.index = [0] * 50
    train, test = python_stratified_split(df, 0.5)
    assert len(train) + len(test) == 50


def test_import_pulls_in_only_numpy_pandas_scipy():
    code = (
        "import sys, recutils.splitting\n"
        "bad = [m for m in ('torch', 'tensorflow', 'pyspark', 'sklearn', 'recommenders') "
        "if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("key_bits", [None, 1, 3, 8])
def test_stratified_sort_key_collisions_keep_the_exact_order(key_bits):
    """The stratified order sorts one 64-bit key holding the group code and the key's
    leading bits; rows whose truncated keys collide (forced here by keeping 1-8 bits,
    and by repeated keys) must still come out in exact (group, key, row) order."""
    from recutils.splitting.python_splitters import _order_by_uniform_key

    rng = np.random.default_rng(3)
    n, n_groups = 5_000, 37
    codes = rng.integers(0, n_groups, n)
    keys = np.random.RandomState(0).random_sample(n)
    keys[rng.integers(0, n, 500)] = keys[rng.integers(0, n, 500)]  # exact repeats too
    order, sorted_codes = _order_by_uniform_key(codes, n_groups, keys, key_bits=key_bits)
    expected = np.lexsort((np.arange(n), keys, codes))
    np.testing.assert_array_equal(order, expected)
    np.testing.assert_array_equal(sorted_codes, codes[expected])


def test_stratified_with_many_groups_is_microsofts_split():
    """Beyond 2**11 groups only part of each key fits beside the group code."""
    rng = np.random.default_rng(11)
    df = pd.DataFrame(
        {
            "userID": rng.integers(0, 6_000, 40_000),
            "itemID": rng.integers(0, 900, 40_000),
            "rating": rng.integers(1, 6, 40_000).astype(float),
        }
    )
    df = df.drop_duplicates(["userID", "itemID"]).reset_index(drop=True)
    ours = python_stratified_split(df, ratio=0.75, seed=9)
    theirs = _ms_stratified_reference(df, [0.75, 0.25], 9, 1, "userID")
    for a, b in zip(ours, theirs):
        pd.testing.assert_frame_equal(a, b)
