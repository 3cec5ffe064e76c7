"""Session click loaders: the rsc15 and DIGINETICA formats, the time splits, and the real files
of the data mirror (``realdata`` tests, skipped without the mirror)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import sessions
from recutils.exceptions import ColumnMismatchError, ConfigError, CorruptDataError, DataError

DAY = 86_400.0


def _write(path, text: str):
    path.write_text(text)
    return path


def test_read_rsc15_orders_clicks_by_session_then_time(tmp_path):
    path = _write(
        tmp_path / "c.txt",
        "SessionId\tItemId\tTime\n5\t10\t3.5\n2\t11\t9.0\n5\t12\t1.25\n2\t10\t9.0\n",
    )
    df = sessions.read_rsc15_file(path, col_user="s", col_item="i", col_timestamp="t")
    assert list(df.columns) == ["s", "i", "t"]
    assert df["s"].tolist() == [2, 2, 5, 5]
    assert df["i"].tolist() == [11, 10, 12, 10]  # a tie at 9.0 keeps file order
    assert df["t"].tolist() == [9.0, 9.0, 1.25, 3.5]
    assert df.index.equals(pd.RangeIndex(4))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Session\tItemId\tTime\n1\t2\t3\n", "expected the header"),
        ("SessionId\tItemId\tTime\n1\t2\n", "line 2: 2 fields"),
        ("SessionId\tItemId\tTime\n1\t-2\t3\n", "line 2: 'ItemId' must be >= 0"),
        ("SessionId\tItemId\tTime\n", "no data rows"),
    ],
)
def test_read_rsc15_names_the_bad_line(tmp_path, text, match):
    with pytest.raises(CorruptDataError, match=match):
        sessions.read_rsc15_file(_write(tmp_path / "c.txt", text))


def test_read_rsc15_rejects_clashing_columns(tmp_path):
    path = _write(tmp_path / "c.txt", "SessionId\tItemId\tTime\n1\t2\t3\n")
    with pytest.raises(ConfigError, match="distinct"):
        sessions.read_rsc15_file(path, col_user="x", col_item="x")


DIGI = (
    "session_id;user_id;item_id;timeframe;eventdate\n"
    "1;NA;100;5000;2016-01-02\n"
    "1;NA;101;1000;2016-01-02\n"
    "2;7;102;0;2016-01-01\n"
)


def test_read_diginetica_orders_by_timeframe_and_adds_it_to_the_date(tmp_path):
    df = sessions.read_diginetica_file(_write(tmp_path / "d.csv", DIGI))
    assert df["userID"].tolist() == [1, 1, 2]
    assert df["itemID"].tolist() == [101, 100, 102]
    day2 = pd.Timestamp("2016-01-02").timestamp()
    np.testing.assert_allclose(df["timestamp"].to_numpy(), [day2 + 1.0, day2 + 5.0, day2 - DAY])


def test_read_diginetica_rejects_a_bad_date(tmp_path):
    path = _write(tmp_path / "d.csv", DIGI.replace("2016-01-01", "01/01/2016"))
    with pytest.raises(CorruptDataError, match="line 4: eventdate '01/01/2016'"):
        sessions.read_diginetica_file(path)


def _clicks(rows):
    return pd.DataFrame(rows, columns=["userID", "itemID", "timestamp"])


def test_split_by_time_puts_late_sessions_in_test_and_drops_unseen_items_and_short_sessions():
    df = _clicks(
        [
            (1, 10, 0.0),
            (1, 11, 10.0),  # ends day 0: train
            (2, 11, 2 * DAY),
            (2, 12, 2 * DAY + 5),  # ends day 2: train (before the window)
            (3, 10, 3 * DAY),
            (3, 99, 3 * DAY + 1),
            (3, 11, 3 * DAY + 2),  # test; 99 unseen: dropped
            (4, 12, 3.5 * DAY),
            (4, 98, 3.5 * DAY + 1),  # test; left with one click: dropped
        ]
    )
    train, test = sessions.split_sessions_by_time(df, 1.0)
    assert train["userID"].tolist() == [1, 1, 2, 2]
    assert test["userID"].tolist() == [3, 3]
    assert test["itemID"].tolist() == [10, 11]
    assert df.shape == (9, 3)  # input untouched


def test_split_by_whole_days_counts_dates_not_seconds():
    df = _clicks(
        [
            (1, 10, 0.0),
            (1, 11, 1.0),
            (2, 10, 1 * DAY + 100),
            (2, 11, 1 * DAY + 200),
            (3, 10, 2 * DAY + 50),
            (3, 11, 2 * DAY + 60),
        ]
    )
    # by seconds, session 2 ends within one day of session 3's end; by dates it is the day before
    assert sessions.split_sessions_by_time(df, 1.0)[1]["userID"].unique().tolist() == [2, 3]
    assert sessions.split_sessions_by_time(df, 1.0, whole_days=True)[1][
        "userID"
    ].unique().tolist() == [3]


def test_split_errors():
    df = _clicks([(1, 10, 0.0), (1, 11, 1.0)])
    with pytest.raises(ConfigError, match="days"):
        sessions.split_sessions_by_time(df, 0)
    with pytest.raises(DataError, match="no training session"):
        sessions.split_sessions_by_time(df, 1.0)
    with pytest.raises(ColumnMismatchError):
        sessions.split_sessions_by_time(df.drop(columns="timestamp"), 1.0)


def test_diginetica_split_drops_single_clicks_and_rare_items():
    base = pd.Timestamp("2016-01-01").timestamp()
    df = _clicks(
        [
            (1, 10, base),
            (1, 11, base + 1),
            (2, 10, base + 10 * DAY),
            (2, 11, base + 10 * DAY + 1),
            (2, 12, base + 10 * DAY + 2),
            (3, 13, base + 10 * DAY),
        ]
    )
    train, test = sessions.diginetica_split(df)
    assert train["userID"].unique().tolist() == [1]
    assert test["itemID"].tolist() == [10, 11]  # item 12 unseen in train, session 3 of one click
    train, test = sessions.diginetica_split(df, min_item_support=2)
    assert sorted(pd.concat([train, test])["itemID"].unique()) == [10, 11]
    with pytest.raises(ConfigError, match="min_item_support"):
        sessions.diginetica_split(df, min_item_support=0)


@pytest.mark.realdata
def test_rsc15_real_files_as_in_provenance(require_dataset):
    require_dataset(sessions.RSC15_FOLDER)
    train, test = sessions.load_rsc15(progress=False)
    for name, df in (("train", train), ("test", test)):
        assert (len(df), df["userID"].nunique(), df["itemID"].nunique()) == sessions.RSC15_SIZES[
            name
        ]
        assert df["timestamp"].dtype == np.float64
        t = df["timestamp"].to_numpy()
        same = df["userID"].to_numpy()[1:] == df["userID"].to_numpy()[:-1]
        assert (t[1:][same] >= t[:-1][same]).all()  # click order within a session
    assert set(test["itemID"]) <= set(train["itemID"])
    assert train["timestamp"].max() < test["timestamp"].min()


@pytest.mark.realdata
def test_diginetica_real_file_and_split(require_dataset):
    require_dataset(sessions.DIGINETICA_FOLDER)
    full = sessions.load_diginetica(split=False, progress=False)
    assert (
        len(full),
        full["userID"].nunique(),
        full["itemID"].nunique(),
    ) == sessions.DIGINETICA_SIZE
    train, test = sessions.load_diginetica(progress=False)
    assert set(test["itemID"]) <= set(train["itemID"])
    assert test.groupby("userID").size().min() >= 2
    assert not set(train["userID"]) & set(test["userID"])
    last = np.floor(full["timestamp"].max() / DAY)
    assert (np.floor(test.groupby("userID")["timestamp"].max() / DAY) > last - 7).all()
    assert (len(train), len(test), test["userID"].nunique()) == (10_315, 403, 112)
