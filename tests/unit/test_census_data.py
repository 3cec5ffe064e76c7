"""Census-Income (KDD) and UCI Adult loaders: parsing, labels, splits, label checks, and the
real files of the data mirror (``realdata`` tests, skipped without the mirror)."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import census
from recutils.datasets import download as dl
from recutils.exceptions import (
    ColumnMismatchError,
    ConfigError,
    CorruptDataError,
    DataError,
    DatasetUnavailableError,
)

LABELS = list(census.LABELS)


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    """Never download, never touch the user's cache."""
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


# --------------------------------------------------------------------------- synthetic files

#: The second line of census-income.test, field by field (42 fields).
_CENSUS_ROW = [
    "44",
    "Self-employed-not incorporated",
    "37",
    "12",
    "Associates degree-occup /vocational",
    "0",
    "Not in universe",
    "Married-civilian spouse present",
    "Business and repair services",
    "Professional specialty",
    "White",
    "All other",
    "Female",
    "Not in universe",
    "Not in universe",
    "PT for econ reasons usually PT",
    "0",
    "0",
    "2500",
    "Joint both under 65",
    "Not in universe",
    "Not in universe",
    "Spouse of householder",
    "Spouse of householder",
    "1462.33",
    "?",
    "?",
    "?",
    "Not in universe under 1 year old",
    "?",
    "1",
    "Not in universe",
    "United-States",
    "United-States",
    "United-States",
    "Native- Born in the United States",
    "0",
    "Not in universe",
    "2",
    "26",
    "95",
    "- 50000.",
]


def census_line(
    age: int = 44,
    marital: str = "Married-civilian spouse present",
    income: str = "- 50000.",
    citizenship: str | None = None,
) -> str:
    row = list(_CENSUS_ROW)
    row[0], row[7], row[41] = str(age), marital, income
    if citizenship is not None:
        row[35] = citizenship
    return ", ".join(row)


def write_census(folder: Path, lines: list[str]) -> Path:
    target = folder / census.CENSUS_FOLDER
    target.mkdir(parents=True)
    with gzip.open(target / census.CENSUS_FILENAME, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return folder


_ADULT_TRAIN = [
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, "
    "Male, 2174, 0, 40, United-States, <=50K",
    "50, Self-emp-not-inc, 83311, Bachelors, 13, Married-civ-spouse, Exec-managerial, Husband, "
    "White, Male, 0, 0, 13, United-States, >50K",
    "38, ?, 215646, HS-grad, 9, Divorced, ?, Not-in-family, White, Male, 0, 0, 40, ?, <=50K",
]
_ADULT_TEST = [
    "|1x3 Cross validator",
    "25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, "
    "0, 0, 40, United-States, <=50K.",
    "38, Private, 89814, HS-grad, 9, Married-civ-spouse, Farming-fishing, Husband, White, Male, "
    "0, 0, 50, Peru, >50K.",
]


def write_adult(
    folder: Path, train: list[str] = _ADULT_TRAIN, test: list[str] = _ADULT_TEST
) -> Path:
    target = folder / census.ADULT_FOLDER
    target.mkdir(parents=True)
    (target / census.ADULT_TRAIN_FILENAME).write_text("\n".join(train) + "\n\n")
    (target / census.ADULT_TEST_FILENAME).write_text("\n".join(test) + "\n\n")
    return folder


# --------------------------------------------------------------------------- check_binary_labels


def test_check_binary_labels_accepts_int_float_and_bool():
    frame = pd.DataFrame(
        {
            "a": [0, 1, 1],
            "b": [1.0, 0.0, 0.0],
            "c": [True, False, True],
            "d": pd.Categorical([1, 0, 1]),
        }
    )
    assert census.check_binary_labels(frame, ["a", "b", "c", "d"]) is None
    assert census.check_binary_labels(frame, "a") is None


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([0.0, np.nan, 1.0], r"'y' has 1 missing value\(s\) \(first at index 11\)"),
        (
            [0, 2, 1],
            r"'y' \(int64\) must hold only 0 and 1; 1 row\(s\) do not \(first at index 11\)",
        ),
        ([0.0, 0.5, -1.0], r"2 row\(s\) do not .*\[0.5, -1.0\]"),
        (["0", "1", "1"], r"'y' \(str\) must hold only 0 and 1; 3 row\(s\)"),
    ],
)
def test_check_binary_labels_names_the_column_and_the_bad_rows(values, match):
    frame = pd.DataFrame({"x": [0, 1, 0], "y": values}, index=[10, 11, 12])
    if not any(isinstance(v, str) for v in values):
        frame["y"] = frame["y"].astype(np.asarray(values).dtype)
    with pytest.raises(DataError, match=match):
        census.check_binary_labels(frame, ["x", "y"])


def test_check_binary_labels_rejects_nullable_missing_and_missing_columns():
    frame = pd.DataFrame({"y": pd.array([1, None, 0], dtype="Int8")})
    with pytest.raises(DataError, match="'y' has 1 missing"):
        census.check_binary_labels(frame, ["y"])
    with pytest.raises(ColumnMismatchError, match="purchase"):
        census.check_binary_labels(frame, ["purchase"])


# --------------------------------------------------------------------------- census: parsing


def test_census_parses_fields_labels_and_dtypes(tmp_path):
    lines = [
        census_line(30, "Never married", "- 50000."),
        census_line(52, "Divorced", "50000+.", citizenship="Foreign born- Not a citizen of U S "),
        census_line(19, "Never married", "50000+."),
    ]
    folder = write_census(tmp_path, lines)
    df = census.load_census_income(local_cache_path=folder, verify=False, progress=False)
    assert list(df.columns) == [
        *census.CENSUS_ATTRIBUTES[:24],
        "instance_weight",
        *census.CENSUS_ATTRIBUTES[24:],
        *LABELS,
    ]
    assert df["income_50k"].tolist() == [0, 1, 1] and df["never_married"].tolist() == [1, 0, 1]
    assert (df["income_50k"].dtype, df["never_married"].dtype) == (np.int8, np.int8)
    assert df["age"].tolist() == [30, 52, 19] and df["age"].dtype == np.int64
    assert df["instance_weight"].dtype == np.float64 and df["instance_weight"].iloc[0] == 1462.33
    for col in census.CENSUS_CATEGORICAL:
        assert isinstance(df[col].dtype, pd.CategoricalDtype), col
    assert df["year"].cat.categories.tolist() == [95]  # integer codes keep integer categories
    # "?" is missing; the separator's space is dropped, a value's own trailing space kept
    assert df["migration_code_change_in_msa"].isna().all()
    assert df["citizenship"].iloc[1] == "Foreign born- Not a citizen of U S "
    assert df["class_of_worker"].iloc[0] == "Self-employed-not incorporated"
    assert df.index.equals(pd.RangeIndex(3))


def test_census_feature_lists_partition_the_columns():
    features = set(census.CENSUS_CATEGORICAL) | set(census.CENSUS_NUMERIC)
    assert len(census.CENSUS_ATTRIBUTES) == 40 and len(census.CENSUS_NUMERIC) == 7
    assert len(census.CENSUS_CATEGORICAL) == 32
    assert not features & set(census.CENSUS_NON_FEATURES)
    assert {"marital_stat", "instance_weight"} <= set(census.CENSUS_NON_FEATURES)
    assert features | set(census.CENSUS_NON_FEATURES) == {
        *census.CENSUS_ATTRIBUTES,
        "instance_weight",
        *LABELS,
    }


def test_census_line_with_a_missing_field_is_named(tmp_path):
    short = census_line().rsplit(", ", 2)[0] + ", - 50000."  # 41 fields
    folder = write_census(tmp_path, [census_line(), census_line(), short])
    with pytest.raises(
        CorruptDataError, match=r"census-income.test.gz, line 3: 41 fields, expected 42"
    ):
        census.load_census_income(local_cache_path=folder, verify=False, progress=False)


def test_census_line_with_an_extra_field_is_named(tmp_path):
    folder = write_census(tmp_path, [census_line(), census_line() + ", 1"])
    with pytest.raises(CorruptDataError, match=r"line 2: 43 fields, expected 42"):
        census.load_census_income(local_cache_path=folder, verify=False, progress=False)


def test_census_unknown_income_label_is_named(tmp_path):
    folder = write_census(tmp_path, [census_line(), census_line(income="50000-."), census_line()])
    with pytest.raises(CorruptDataError, match=r"line 2: label '50000-.' is not one of"):
        census.load_census_income(local_cache_path=folder, verify=False, progress=False)


def test_census_non_number_in_a_number_field_is_a_data_error(tmp_path):
    folder = write_census(tmp_path, [census_line(), census_line().replace("44", "forty", 1)])
    with pytest.raises(DataError, match="cannot parse"):
        census.load_census_income(local_cache_path=folder, verify=False, progress=False)


def test_census_checks_the_published_digest(tmp_path):
    folder = write_census(tmp_path, [census_line()])
    with pytest.raises(CorruptDataError, match=f"expected sha256 {census.CENSUS_FILE.sha256}"):
        census.load_census_income(local_cache_path=folder, progress=False)


def test_census_absent_says_where_it_looked(monkeypatch, tmp_path):
    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "mirror"))
    with pytest.raises(
        DatasetUnavailableError, match=r"'census-income-kdd'.*census-income.test.gz"
    ):
        census.load_census_income(progress=False)
    with pytest.raises(DatasetUnavailableError, match=r"'uci-adult'.*adult.data"):
        census.load_uci_adult(progress=False)


def test_census_bad_arguments(tmp_path):
    folder = write_census(tmp_path, [census_line()])
    with pytest.raises(ConfigError, match=r"split='validation' is not supported"):
        census.load_census_income("validation", local_cache_path=folder, verify=False)
    with pytest.raises(DataError, match="three shares"):
        census.load_census_income(
            "train", fractions=(0.8, 0.2), local_cache_path=folder, verify=False
        )
    with pytest.raises(DataError, match="must sum to 1"):
        census.load_census_income(
            "train", fractions=(0.6, 0.2, 0.3), local_cache_path=folder, verify=False
        )


# --------------------------------------------------------------------------- census: splits


def _labelled(n: int, positives: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    income = np.zeros(n, dtype=np.int8)
    income[rng.choice(n, positives, replace=False)] = 1
    return pd.DataFrame({"income_50k": income, "row": np.arange(n)})


def test_split_census_income_is_stratified_disjoint_and_in_file_order():
    frame = _labelled(1000, 100)
    train, valid, test = census.split_census_income(frame, seed=3)
    assert (len(train), len(valid), len(test)) == (600, 200, 200)
    assert [int(p["income_50k"].sum()) for p in (train, valid, test)] == [60, 20, 20]
    rows = np.concatenate([p["row"].to_numpy() for p in (train, valid, test)])
    assert np.array_equal(np.sort(rows), np.arange(1000))  # disjoint, and every row once
    for part in (train, valid, test):
        assert part.index.is_monotonic_increasing
        assert (part.index == part["row"]).all()  # the index is the row of the input


def test_split_census_income_is_seeded():
    frame = _labelled(500, 40)
    first = census.split_census_income(frame, seed=7, fractions=(0.5, 0.25, 0.25))
    again = census.split_census_income(frame, seed=7, fractions=(0.5, 0.25, 0.25))
    other = census.split_census_income(frame, seed=8, fractions=(0.5, 0.25, 0.25))
    for a, b in zip(first, again):
        assert a.equals(b) and a.index.equals(b.index)
    assert not first[0].index.equals(other[0].index)


def test_split_census_income_draws_numpys_legacy_stream():
    """A known answer: the split must not change with the machine or the numpy version."""
    frame = _labelled(20, 4)
    train, valid, test = census.split_census_income(frame, seed=2018)
    assert (valid.index.tolist(), test.index.tolist()) == (VALID_20, TEST_20)


VALID_20 = [5, 6, 8, 10]
TEST_20 = [0, 2, 11, 15]


def test_split_census_income_needs_the_income_column():
    with pytest.raises(ColumnMismatchError, match="income_50k"):
        census.split_census_income(pd.DataFrame({"label": [0, 1]}))


# --------------------------------------------------------------------------- Adult: parsing


def test_adult_handles_the_junk_line_trailing_periods_and_unknowns(tmp_path):
    folder = write_adult(tmp_path)
    train = census.load_uci_adult("train", local_cache_path=folder, verify=False, progress=False)
    test = census.load_uci_adult("test", local_cache_path=folder, verify=False, progress=False)
    both = census.load_uci_adult("all", local_cache_path=folder, verify=False, progress=False)
    assert list(train.columns) == [*census.ADULT_ATTRIBUTES, *LABELS]
    assert train["income_50k"].tolist() == [0, 1, 0] and test["income_50k"].tolist() == [0, 1]
    assert train["never_married"].tolist() == [1, 0, 0] and test["never_married"].tolist() == [1, 0]
    assert train.index.tolist() == [0, 1, 2] and test.index.tolist() == [3, 4]
    pd.testing.assert_frame_equal(both, pd.concat([train, test]))
    assert train.loc[2, ["workclass", "occupation", "native_country"]].isna().all()
    # one category list for every split, built from both files
    assert train["native_country"].dtype == test["native_country"].dtype
    assert train["native_country"].cat.categories.tolist() == ["Peru", "United-States"]
    assert train["age"].dtype == np.int64 and train["fnlwgt"].dtype == np.int64


def test_adult_feature_lists_partition_the_columns():
    features = set(census.ADULT_CATEGORICAL) | set(census.ADULT_NUMERIC)
    assert not features & set(census.ADULT_NON_FEATURES)
    assert features | set(census.ADULT_NON_FEATURES) == {*census.ADULT_ATTRIBUTES, *LABELS}


def test_adult_unknown_label_and_short_line_are_named(tmp_path):
    bad = [*_ADULT_TEST[:2], _ADULT_TEST[2].replace(">50K.", "50K+")]
    with pytest.raises(CorruptDataError, match=r"adult.test, line 3: label '50K\+' is not one of"):
        census.load_uci_adult(
            "test",
            local_cache_path=write_adult(tmp_path / "a", test=bad),
            verify=False,
            progress=False,
        )
    short = [_ADULT_TRAIN[0], _ADULT_TRAIN[1].replace("13, United-States, ", "")]
    with pytest.raises(CorruptDataError, match=r"adult.data, line 2: 13 fields, expected 15"):
        census.load_uci_adult(
            local_cache_path=write_adult(tmp_path / "b", train=short), verify=False, progress=False
        )


def test_adult_bad_split(tmp_path):
    with pytest.raises(ConfigError, match="allowed: \\['all', 'test', 'train'\\]"):
        census.load_uci_adult("valid", local_cache_path=write_adult(tmp_path), verify=False)


# --------------------------------------------------------------------------- real files

#: Rows per marital status in census-income.test (PROVENANCE.md).
CENSUS_MARITAL = {
    "Never married": 43_143,
    "Married-civilian spouse present": 42_093,
    "Divorced": 6_450,
    "Widowed": 5_325,
    "Separated": 1_696,
    "Married-spouse absent": 716,
    "Married-A F spouse present": 339,
}


@pytest.fixture(scope="module")
def census_all(data_mirror):
    if not (data_mirror / census.CENSUS_FOLDER).is_dir():  # require_dataset is per test
        reason = f"{census.CENSUS_FOLDER} not in {data_mirror}"
        if os.environ.get("RECUTILS_REQUIRE_DATA", "") == "1":
            pytest.fail(reason + " and RECUTILS_REQUIRE_DATA=1 requires it")
        pytest.skip(reason)
    return census.load_census_income(progress=False)


@pytest.mark.realdata
def test_census_real_counts_as_in_provenance(require_dataset, census_all):
    folder = require_dataset(census.CENSUS_FOLDER)
    dl.verify_file(
        folder / census.CENSUS_FILENAME,
        size=census.CENSUS_FILE.size,
        sha256=census.CENSUS_FILE.sha256,
    )
    df = census_all
    assert df.shape == (census.CENSUS_N_ROWS, 43)
    assert df[LABELS].sum().to_dict() == census.CENSUS_LABEL_COUNTS
    assert df["marital_stat"].value_counts().to_dict() == CENSUS_MARITAL
    assert df["year"].value_counts().to_dict() == {95: 49_946, 94: 49_816}
    assert df[list(census.CENSUS_NUMERIC)].dtypes.eq(np.int64).all()
    assert df[list(census.CENSUS_NUMERIC)].notna().all().all()
    assert df["instance_weight"].dtype == np.float64 and (df["instance_weight"] > 0).all()
    assert df["class_of_worker"].cat.categories.size == 9
    # the 1995 rows have no migration answers: "?" is missing
    assert df["migration_code_change_in_msa"].isna().sum() == 49_946
    census.check_binary_labels(df, LABELS)


@pytest.mark.realdata
def test_census_real_splits(require_dataset, census_all):
    require_dataset(census.CENSUS_FOLDER)
    valid = census.load_census_income("valid", progress=False)
    test = census.load_census_income("test", progress=False)
    train, again_valid, again_test = census.split_census_income(census_all)
    assert again_valid.index.equals(valid.index) and again_test.index.equals(test.index)
    assert (len(train), len(valid), len(test)) == (59_858, 19_952, 19_952)
    assert [int(p["income_50k"].sum()) for p in (train, valid, test)] == [3_712, 1_237, 1_237]
    rows = np.concatenate([p.index.to_numpy() for p in (train, valid, test)])
    assert np.array_equal(np.sort(rows), np.arange(census.CENSUS_N_ROWS))
    # a split holds the rows of the file: same values at the same row numbers
    assert valid.equals(census_all.loc[valid.index])  # (assert_frame_equal: 30 s here)
    # the default seed's draw, pinned: the same on every machine
    assert valid.index[:5].tolist() == VALID_HEAD
    other = census.split_census_income(census_all, seed=1)[2]
    assert len(other) == len(test) and not other.index.equals(test.index)


VALID_HEAD = [7, 10, 12, 16, 18]


@pytest.mark.realdata
def test_census_real_download_path(require_dataset, monkeypatch, tmp_path):
    """The download path: UCI's gzip (a copy, served from a file URL) is fetched, checked
    against the pinned SHA-256 and read."""
    folder = require_dataset(census.CENSUS_FOLDER)
    upstream = tmp_path / "upstream" / census.CENSUS_FILENAME
    upstream.parent.mkdir()
    shutil.copyfile(folder / census.CENSUS_FILENAME, upstream)
    monkeypatch.setattr(
        census,
        "CENSUS_FILE",
        dl.RemoteFile(
            census.CENSUS_FILENAME,
            upstream.as_uri(),
            census.CENSUS_FILE.sha256,
            census.CENSUS_FILE.size,
        ),
    )
    monkeypatch.delenv(dl.ENV_OFFLINE)
    (tmp_path / "empty-mirror").mkdir()
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "empty-mirror"))
    target = tmp_path / "local"
    target.mkdir()
    df = census.load_census_income(local_cache_path=target, progress=False)
    assert len(df) == census.CENSUS_N_ROWS
    assert (target / census.CENSUS_FOLDER / census.CENSUS_FILENAME).is_file()


@pytest.mark.realdata
def test_adult_real_counts_as_in_provenance(require_dataset):
    folder = require_dataset(census.ADULT_FOLDER)
    for remote in census.ADULT_FILES:
        dl.verify_file(folder / remote.filename, size=remote.size, sha256=remote.sha256)
    train = census.load_uci_adult("train", progress=False)
    test = census.load_uci_adult("test", progress=False)
    assert (len(train), len(test)) == (census.ADULT_N_ROWS["train"], census.ADULT_N_ROWS["test"])
    assert int(train["income_50k"].sum()) == census.ADULT_N_INCOME_50K["train"]
    assert int(test["income_50k"].sum()) == census.ADULT_N_INCOME_50K["test"]
    assert (int(train["never_married"].sum()), int(test["never_married"].sum())) == (10_683, 5_434)
    unknown = train[["workclass", "occupation", "native_country"]].isna().sum()
    assert unknown.tolist() == [1_836, 1_843, 583]
    for col in census.ADULT_CATEGORICAL:
        assert train[col].dtype == test[col].dtype, col
    assert train["workclass"].cat.categories.size == 8
    assert test.index[0] == census.ADULT_N_ROWS["train"]
    census.check_binary_labels(test, LABELS)
