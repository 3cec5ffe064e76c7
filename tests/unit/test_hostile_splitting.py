"""Chronological splitters on timestamps stored as text.

Text must never be ordered as text ("10" < "8"): numbers are compared as numbers,
ISO-8601 dates/times as instants, and anything else is refused with a DataError that
names the column and a value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recutils.exceptions import DataError
from recutils.splitting import leave_last_k_out, python_chrono_split

TEXT_DTYPES = [object, "str"]


def log(times: list, users: list | None = None) -> pd.DataFrame:
    users = users if users is not None else [1] * len(times)
    return pd.DataFrame({"userID": users, "itemID": range(len(times)), "timestamp": times})


def index_sets(frames: list[pd.DataFrame]) -> list[list]:
    return [sorted(f.index) for f in frames]


@pytest.mark.parametrize("dtype", TEXT_DTYPES, ids=["object", "str"])
def test_string_timestamps_8_9_10_split_with_10_last(dtype: object) -> None:
    df = log(["10", "8", "9"]).astype({"timestamp": dtype})
    train, test = leave_last_k_out(df, k=1)
    assert test["timestamp"].tolist() == ["10"]
    assert sorted(train["timestamp"]) == ["8", "9"]
    train, test = python_chrono_split(df, ratio=0.67)
    assert test["timestamp"].tolist() == ["10"]
    assert test["timestamp"].dtype == df["timestamp"].dtype  # values come back untouched


@pytest.mark.parametrize("dtype", TEXT_DTYPES, ids=["object", "str"])
def test_numeric_string_timestamps_split_like_the_numbers(dtype: object) -> None:
    rng = np.random.default_rng(7)
    n = 600
    df = log(rng.integers(0, 5000, n).tolist(), rng.integers(0, 40, n).tolist())
    text = df.assign(timestamp=df["timestamp"].astype(str).astype(dtype))
    ratios = [0.5, 0.3, 0.2]
    assert index_sets(python_chrono_split(text, ratios)) == index_sets(
        python_chrono_split(df, ratios)
    )
    assert index_sets(leave_last_k_out(text, k=2)) == index_sets(leave_last_k_out(df, k=2))
    floats = df.assign(timestamp=(df["timestamp"] / 10).map(repr).astype(dtype))
    assert index_sets(leave_last_k_out(floats, k=2)) == index_sets(leave_last_k_out(df, k=2))


def test_iso_8601_string_timestamps_split_like_the_instants() -> None:
    rng = np.random.default_rng(3)
    n = 400
    instants = pd.to_datetime(rng.integers(0, 10**8, n), unit="s", utc=True)
    df = log(list(instants), rng.integers(0, 25, n).tolist())
    # every other value written in another offset: the same instant, a different text
    text = [
        t.tz_convert("Asia/Kolkata").isoformat() if i % 2 else t.isoformat()
        for i, t in enumerate(instants)
    ]
    as_text = df.assign(timestamp=pd.Series(text, dtype="str"))
    assert index_sets(python_chrono_split(as_text, 0.75)) == index_sets(
        python_chrono_split(df, 0.75)
    )
    assert index_sets(leave_last_k_out(as_text)) == index_sets(leave_last_k_out(df))


def test_iso_dates_with_offsets_order_by_instant_not_by_text() -> None:
    # 10:00+02:00 is 08:00 UTC, before 09:00Z although its text sorts after it
    df = log(["2024-01-05T10:00:00+02:00", "2024-01-05T09:00:00Z", "2024-01-04"])
    assert leave_last_k_out(df)[1].index.tolist() == [1]


@pytest.mark.parametrize("bad", ["Jan 9", "", "nan", "inf", "yesterday", "2024-13-01"])
def test_other_string_timestamps_are_refused_naming_column_and_value(bad: str) -> None:
    df = log(["8", "9", bad, "10"]).rename(columns={"timestamp": "when"})
    for split in (
        lambda d: leave_last_k_out(d, col_timestamp="when"),
        lambda d: python_chrono_split(d, 0.5, col_timestamp="when"),
    ):
        with pytest.raises(DataError, match="'when'") as info:
            split(df)
        assert repr(bad) in str(info.value)


def test_numbers_mixed_with_dates_are_refused() -> None:
    with pytest.raises(DataError, match=r"'2024-01-05'|'8'"):
        leave_last_k_out(log(["8", "9", "2024-01-05", "2024-01-06", "2024-01-07"]))


def test_categorical_timestamps() -> None:
    unordered = log(["10", "8", "9"]).astype({"timestamp": "category"})
    assert leave_last_k_out(unordered)[1]["timestamp"].tolist() == ["10"]
    ordered = log(["late", "early", "middle"]).astype(
        {"timestamp": pd.CategoricalDtype(["early", "middle", "late"], ordered=True)}
    )
    assert leave_last_k_out(ordered)[1]["timestamp"].tolist() == ["late"]


@settings(max_examples=40, deadline=None)
@given(times=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=40), k=st.integers(1, 3))
def test_text_of_integers_splits_like_the_integers(times: list[int], k: int) -> None:
    users = [t % 3 for t in times]
    df = log(times, users)
    text = df.assign(timestamp=[str(t) for t in times])
    assert index_sets(leave_last_k_out(text, k=k)) == index_sets(leave_last_k_out(df, k=k))
    assert index_sets(python_chrono_split(text, 0.6)) == index_sets(python_chrono_split(df, 0.6))
