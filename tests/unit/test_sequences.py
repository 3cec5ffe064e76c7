"""Next-item data: sequences, leave-one-out / leave-last-k-out, time split, padding, the Beauty file format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import beauty
from recutils.exceptions import ColumnMismatchError, ConfigError, CorruptDataError, DataError
from recutils.splitting.sequences import (
    Sequences,
    build_sequences,
    pad_sequences,
    sequential_split,
    time_split,
)


@pytest.fixture
def log() -> pd.DataFrame:
    # user 7: times 5, 1, 3, 3 (a tie at 3: input order decides), user 2: one row, user 9: 3 rows
    return pd.DataFrame(
        {
            "userID": [7, 2, 7, 9, 7, 9, 7, 9],
            "itemID": [50, 20, 10, 91, 30, 92, 31, 93],
            "timestamp": [5, 4, 1, 10, 3, 11, 3, 12],
        }
    )


def test_build_sequences_orders_by_time_ties_by_input_row(log):
    seqs = build_sequences(log)
    assert seqs.users.tolist() == [2, 7, 9]
    assert [seqs.sequence(i).tolist() for i in range(3)] == [[20], [10, 30, 31, 50], [91, 92, 93]]
    assert seqs.lengths.tolist() == [1, 4, 3]
    frame = seqs.to_frame()
    assert frame["position"].tolist() == [0, 0, 1, 2, 3, 0, 1, 2]


def test_build_sequences_without_a_time_column_needs_an_explicit_choice(log):
    with pytest.raises(ColumnMismatchError, match="col_timestamp=None"):
        build_sequences(log.drop(columns="timestamp"))
    seqs = build_sequences(log.drop(columns="timestamp"), col_timestamp=None)
    assert seqs.sequence(1).tolist() == [50, 10, 30, 31]  # input order


def test_build_sequences_text_times_are_parsed_not_sorted_as_text():
    df = pd.DataFrame({"userID": [1, 1, 1], "itemID": [1, 2, 3], "timestamp": ["10", "8", "9"]})
    assert build_sequences(df).sequence(0).tolist() == [2, 3, 1]


def test_build_sequences_refuses_missing_values(log):
    bad = log.copy()
    bad.loc[0, "itemID"] = np.nan
    with pytest.raises(DataError, match="missing"):
        build_sequences(bad)
    bad = log.copy()
    bad["timestamp"] = bad["timestamp"].astype(float)
    bad.loc[1, "timestamp"] = np.nan
    with pytest.raises(DataError, match="missing timestamp"):
        build_sequences(bad)


def test_leave_one_out_with_validation(log):
    train, valid, test = sequential_split(log)
    # user 7 (4 rows): 10, 30 train; 31 valid; 50 test. user 9 (3 rows): 91 / 92 / 93.
    # user 2 (1 row) is too short to hold anything out: it stays in train.
    assert sorted(test["itemID"]) == [50, 93]
    assert sorted(valid["itemID"]) == [31, 92]
    assert sorted(train["itemID"]) == [10, 20, 30, 91]
    assert len(train) + len(valid) + len(test) == len(log)
    assert list(train.index) == sorted(train.index)  # input order kept


def test_leave_last_k_out_and_min_train(log):
    train, test = sequential_split(log, k=2, valid=False)
    assert sorted(test["itemID"]) == [31, 50, 92, 93]
    train, test = sequential_split(log, k=2, valid=False, min_train=2)
    assert sorted(test["itemID"]) == [31, 50]  # user 9 has 3 rows < 2 + 2
    with pytest.raises(ConfigError):
        sequential_split(log, k=0)
    assert [len(f) for f in sequential_split(log.iloc[:0])] == [0, 0, 0]


def test_time_split_by_cutoff_and_ratio(log):
    train, test = time_split(log, cutoff=5, drop_cold=False)
    assert (train["timestamp"] < 5).all() and (test["timestamp"] >= 5).all()
    assert len(train) + len(test) == len(log)
    # drop_cold: user 9 (first row at 10) has no train row, so its test rows go
    train, test = time_split(log, cutoff=5)
    assert 9 not in set(test["userID"])
    train, test = time_split(log, ratio=0.5, drop_cold=False)
    assert train["timestamp"].max() < test["timestamp"].min()
    with pytest.raises(ConfigError):
        time_split(log)
    with pytest.raises(ConfigError):
        time_split(log, ratio=1.5)
    with pytest.raises(DataError):
        time_split(log, cutoff="yesterday")
    dated = log.assign(timestamp=pd.to_datetime(log["timestamp"], unit="D"))
    train, test = time_split(dated, cutoff=pd.Timestamp("1970-01-06"), drop_cold=False)
    assert len(test) == 4


def test_pad_sequences_left_right_truncate():
    seqs = [
        np.array([1, 2, 3]),
        np.array([4]),
        np.array([], dtype=np.int64),
        np.array([5, 6, 7, 8, 9]),
    ]
    left = pad_sequences(seqs, 4)
    assert left.tolist() == [[0, 1, 2, 3], [0, 0, 0, 4], [0, 0, 0, 0], [6, 7, 8, 9]]
    right = pad_sequences(seqs, 4, side="right")
    assert right.tolist() == [[1, 2, 3, 0], [4, 0, 0, 0], [0, 0, 0, 0], [6, 7, 8, 9]]
    as_obj = Sequences(np.array([1, 2]), np.array([3, 4, 5]), np.array([0, 2, 3]))
    assert pad_sequences(as_obj, 2, pad=-1).tolist() == [[3, 4], [-1, 5]]


def test_pad_sequences_refuses_a_padding_id_that_is_an_item():
    with pytest.raises(DataError, match="padding value 0"):
        pad_sequences([np.array([0, 1])], 3)
    with pytest.raises(DataError, match="integer"):
        pad_sequences([np.array([1.5])], 3)
    with pytest.raises(ConfigError):
        pad_sequences([np.array([1])], 0)


def test_sequences_checks_its_offsets():
    with pytest.raises(DataError):
        Sequences(np.array([1]), np.array([1, 2]), np.array([0, 1]))


def test_beauty_file_format(tmp_path):
    path = tmp_path / "beauty.txt"
    path.write_text("1 1\n1 2\n1 3\n2 5\n2 1\n")
    df = beauty.read_sequences_file(path)
    assert df.columns.tolist() == ["userID", "itemID", "timestamp"]
    assert df["timestamp"].tolist() == [0, 1, 2, 0, 1]
    path.write_text("1 1\n2 2\n1 3\n")
    with pytest.raises(CorruptDataError, match="line 3.*not together"):
        beauty.read_sequences_file(path)
    path.write_text("1 1\n1 0\n")
    with pytest.raises(CorruptDataError, match="line 2"):
        beauty.read_sequences_file(path)
    path.write_text("1 1 4\n")
    with pytest.raises(CorruptDataError):
        beauty.read_sequences_file(path)
