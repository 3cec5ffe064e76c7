"""Census data with two labels per row, the multi-task benchmarks of MMoE and its successors.

* :func:`load_census_income`: UCI **Census-Income (KDD)** (Lane and Kohavi, 2000; the
  1994/1995 Current Population Surveys), the data set of the MMoE paper (Ma et al., "Modeling
  Task Relationships in Multi-task Learning with Multi-gate Mixture-of-Experts", KDD 2018)
  and most MMoE/PLE examples. Its two tasks: income above $50,000 (``income_50k``) and
  marital status "Never married" (``never_married``; the paper's second task).
* :func:`load_uci_adult`: UCI **Adult** (Kohavi, KDD 1996), a smaller extract of the 1994
  survey with the same two labels, a light multi-task fixture.
* :func:`check_binary_labels`: the label check a multi-task model runs on its input.

**Only the published test file of Census-Income (KDD) is used.** UCI publishes a train file
(``census-income.data``, 199,523 rows, about 100 MB) and a test file
(``census-income.test``, 99,762 rows); only the test file's gzip (3.3 MB) is pinned here,
so :func:`load_census_income` draws its train/valid/test splits from the **test file**:
stratified on ``income_50k``, seeded (numpy's legacy ``RandomState``, whose stream is the same
on every machine), 60/20/20 by default. Figures measured this way are not comparable with
papers trained on the 199,523-row train file.

Columns: the 40 attributes of ``census-income.names`` in file order, snake_case
(``class of worker`` -> ``class_of_worker``, ``fill inc questionnaire for veteran's admin``
-> ``fill_inc_questionnaire_for_veterans_admin``), with the survey's sampling weight
``instance_weight`` kept in its place (UCI: it must not be used by a classifier), then the
two labels. :data:`CENSUS_CATEGORICAL` and :data:`CENSUS_NUMERIC` list the feature columns;
:data:`CENSUS_NON_FEATURES` lists the others: the weight, the labels, and ``marital_stat``
itself, which gives the ``never_married`` label away (the MMoE paper leaves it out of the
features too). Adult has the same layout (:data:`ADULT_CATEGORICAL`, :data:`ADULT_NUMERIC`,
:data:`ADULT_NON_FEATURES`; its sampling weight is ``fnlwgt``).

Categorical columns have pandas' ``category`` dtype, built from every row of the data set
(both Adult files), so the splits share one category list; integer-coded attributes
(``detailed_industry_recode``, ``year``, ...) have integer categories. ``?`` (unknown) is a
missing value. Numeric columns are int64 (``instance_weight`` and ``fnlwgt``: float64 and
int64), labels int8.

The files are found by :func:`recutils.datasets.download.fetch_files`: ``local_cache_path``,
``$RECUTILS_DATA_MIRROR/census-income-kdd/`` (``uci-adult/``), the cache
``$RECUTILS_DATA_HOME/<folder>/``, then a download from the UCI repository, checked against
the SHA-256 of the published files. UCI publishes both for research (cite the donors and the
UCI repository); recutils never ships them.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from recutils.datasets._text import check_rows, corrupt, layout, read_bytes
from recutils.datasets.download import PublishedFile, RemoteFile, check_published, fetch_files
from recutils.exceptions import DataError
from recutils.splitting import python_stratified_split
from recutils.utils.validation import check_choice, check_columns

logger = logging.getLogger(__name__)

#: Label column: 1 for income above $50,000 (census ``50000+.``, Adult ``>50K``).
INCOME_COL = "income_50k"
#: Label column: 1 for marital status "Never married" (Adult: ``Never-married``).
NEVER_MARRIED_COL = "never_married"
#: The two label columns, in output order.
LABELS: tuple[str, ...] = (INCOME_COL, NEVER_MARRIED_COL)

# --------------------------------------------------------------------------- Census-Income (KDD)

CENSUS_FOLDER = "census-income-kdd"
CENSUS_FILENAME = "census-income.test.gz"
_UCI = "https://archive.ics.uci.edu/ml/machine-learning-databases"
CENSUS_FILE = RemoteFile(
    CENSUS_FILENAME,
    f"{_UCI}/census-income-mld/{CENSUS_FILENAME}",
    "5ac4cacd3ca9f1ecb10de1a0a41e4ac68fdc419e3fec190f5c0c6cc03b2ea659",
    3_261_416,
)

#: The 42 fields of ``census-income.test``: 40 attributes, the sampling weight (field 25)
#: and the income label (last).
_CENSUS_FIELDS: tuple[str, ...] = (
    "age",
    "class_of_worker",
    "detailed_industry_recode",
    "detailed_occupation_recode",
    "education",
    "wage_per_hour",
    "enroll_in_edu_inst_last_wk",
    "marital_stat",
    "major_industry_code",
    "major_occupation_code",
    "race",
    "hispanic_origin",
    "sex",
    "member_of_a_labor_union",
    "reason_for_unemployment",
    "full_or_part_time_employment_stat",
    "capital_gains",
    "capital_losses",
    "dividends_from_stocks",
    "tax_filer_stat",
    "region_of_previous_residence",
    "state_of_previous_residence",
    "detailed_household_and_family_stat",
    "detailed_household_summary_in_household",
    "instance_weight",
    "migration_code_change_in_msa",
    "migration_code_change_in_reg",
    "migration_code_move_within_reg",
    "live_in_this_house_1_year_ago",
    "migration_prev_res_in_sunbelt",
    "num_persons_worked_for_employer",
    "family_members_under_18",
    "country_of_birth_father",
    "country_of_birth_mother",
    "country_of_birth_self",
    "citizenship",
    "own_business_or_self_employed",
    "fill_inc_questionnaire_for_veterans_admin",
    "veterans_benefits",
    "weeks_worked_in_year",
    "year",
    "income",
)
#: The 40 attributes of ``census-income.names``, in file order.
CENSUS_ATTRIBUTES: tuple[str, ...] = tuple(
    f for f in _CENSUS_FIELDS if f not in ("instance_weight", "income")
)
#: The survey's sampling weight: kept as a column, never a feature.
CENSUS_WEIGHT_COL = "instance_weight"
#: The 7 continuous attributes (int64).
CENSUS_NUMERIC: tuple[str, ...] = (
    "age",
    "wage_per_hour",
    "capital_gains",
    "capital_losses",
    "dividends_from_stocks",
    "num_persons_worked_for_employer",
    "weeks_worked_in_year",
)
#: Nominal attributes written as integer codes in the file (integer categories).
_CENSUS_CODED: tuple[str, ...] = (
    "detailed_industry_recode",
    "detailed_occupation_recode",
    "own_business_or_self_employed",
    "veterans_benefits",
    "year",
)
#: Columns that are not features: the weight, the labels and ``marital_stat`` (it gives
#: ``never_married`` away).
CENSUS_NON_FEATURES: tuple[str, ...] = (CENSUS_WEIGHT_COL, "marital_stat", *LABELS)
#: The 32 nominal feature columns (``category`` dtype): every nominal attribute but
#: ``marital_stat``.
CENSUS_CATEGORICAL: tuple[str, ...] = tuple(
    f for f in CENSUS_ATTRIBUTES if f not in CENSUS_NUMERIC and f not in CENSUS_NON_FEATURES
)

#: Rows of the test file, and its positives per label (``census-income.names`` and a count).
CENSUS_N_ROWS = 99_762
CENSUS_LABEL_COUNTS = {INCOME_COL: 6_186, NEVER_MARRIED_COL: 43_143}
#: The splits :func:`load_census_income` accepts.
CENSUS_SPLITS: tuple[str, ...] = ("all", "train", "valid", "test")
#: Default seed of the census splits (the MMoE paper's year).
CENSUS_SEED = 2018
#: Default shares of the train, valid and test splits.
CENSUS_FRACTIONS: tuple[float, float, float] = (0.6, 0.2, 0.2)

# --------------------------------------------------------------------------- UCI Adult

ADULT_FOLDER = "uci-adult"
ADULT_TRAIN_FILENAME = "adult.data"
ADULT_TEST_FILENAME = "adult.test"
ADULT_FILES: tuple[RemoteFile, ...] = (
    RemoteFile(
        ADULT_TRAIN_FILENAME,
        f"{_UCI}/adult/{ADULT_TRAIN_FILENAME}",
        "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
        3_974_305,
    ),
    RemoteFile(
        ADULT_TEST_FILENAME,
        f"{_UCI}/adult/{ADULT_TEST_FILENAME}",
        "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
        2_003_153,
    ),
)
_ADULT_FIELDS: tuple[str, ...] = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)
#: The 14 attributes of ``adult.names``, in file order.
ADULT_ATTRIBUTES: tuple[str, ...] = _ADULT_FIELDS[:-1]
#: The survey's sampling weight, as in the census data: kept as a column, never a feature.
ADULT_WEIGHT_COL = "fnlwgt"
#: The continuous features (int64).
ADULT_NUMERIC: tuple[str, ...] = (
    "age",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
)
#: Columns that are not features: the weight, the labels and ``marital_status``.
ADULT_NON_FEATURES: tuple[str, ...] = (ADULT_WEIGHT_COL, "marital_status", *LABELS)
#: The nominal feature columns (``category`` dtype).
ADULT_CATEGORICAL: tuple[str, ...] = tuple(
    f for f in ADULT_ATTRIBUTES if f not in ADULT_NUMERIC and f not in ADULT_NON_FEATURES
)
#: Rows of ``adult.data`` and ``adult.test``.
ADULT_N_ROWS = {"train": 32_561, "test": 16_281}
#: Rows with income above $50K per file.
ADULT_N_INCOME_50K = {"train": 7_841, "test": 3_846}
#: The splits :func:`load_uci_adult` accepts.
ADULT_SPLITS: tuple[str, ...] = ("train", "test", "all")


# --------------------------------------------------------------------------- labels


def check_binary_labels(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Check that every column of ``columns`` holds only 0 and 1 (bool, int or float).

    Multi-task models call this on their label columns before training, so a missing
    or non-binary label is reported by name instead of turning into a NaN loss.

    Args:
        frame: The data.
        columns: The label columns.

    Raises:
        ColumnMismatchError: a column is missing.
        DataError: a column holds NaN or a value other than 0 and 1; the message names the
            column, how many rows are bad, the first bad row's index and a few bad values.
    """
    columns = [columns] if isinstance(columns, str) else list(columns)
    check_columns(frame, columns, "frame")
    for column in columns:
        values = frame[column]
        missing = values.isna().to_numpy()
        if missing.any():
            first = values.index[np.flatnonzero(missing)[:1]].tolist()[0]
            raise DataError(
                f"label column {column!r} has {int(missing.sum())} missing value(s) (first at "
                f"index {first!r}); labels must be 0 or 1."
            )
        if pd.api.types.is_bool_dtype(values.dtype):
            continue
        bad = ~values.isin((0, 1)).to_numpy()  # text "1" is not 1: only numbers pass
        if bad.any():
            first = values.index[np.flatnonzero(bad)[:1]].tolist()[0]
            examples = pd.unique(values.to_numpy()[bad])[:5].tolist()
            raise DataError(
                f"label column {column!r} ({values.dtype}) must hold only 0 and 1; "
                f"{int(bad.sum())} row(s) do not (first at index {first!r}), e.g. {examples}."
            )


# --------------------------------------------------------------------------- parsing


def _read_uci_table(
    path: Path,
    fields: Sequence[str],
    integers: Sequence[str],
    floats: Sequence[str],
    label_values: Mapping[str, int],
    *,
    skiprows: int = 0,
) -> pd.DataFrame:
    """Parse a UCI ``", "``-separated file (no header, ``?`` for unknown) with pandas' C parser.

    The last field is the label; it becomes 0/1 (int8) in ``fields[-1]`` by ``label_values``.
    Text fields are returned as strings without the separator's space (a trailing space of
    the value itself is kept, as in the file).

    Raises:
        CorruptDataError: a line with the wrong number of fields or an unknown label, naming
            the file and the line.
        DataError: the file cannot be read, or a number field is not a number.
    """
    raw = read_bytes(path)
    dtype = {name: "int64" for name in integers} | {name: "float64" for name in floats}
    label = fields[-1]
    try:
        frame = pd.read_csv(
            io.BytesIO(raw),
            sep=",",
            skipinitialspace=True,
            header=None,
            names=list(fields),
            skiprows=skiprows,
            dtype=dtype,
            engine="c",
            quoting=csv.QUOTE_NONE,
            keep_default_na=False,
            na_values=["?", ""],
            encoding="latin-1",
        )
    except (ValueError, pd.errors.ParserError) as err:
        _check_field_counts(path, raw, len(fields), skiprows)
        raise DataError(
            f"cannot parse {path} as {len(fields)} ', '-separated fields: {err}"
        ) from err
    text = frame[label].to_numpy(dtype=object)
    codes = np.full(len(frame), -1, dtype=np.int8)
    for value, code in label_values.items():  # two labels, not rows
        codes[text == value] = code
    if (codes < 0).any():
        # a short line is padded with NaN by pandas: report its field count first
        lines = _check_field_counts(path, raw, len(fields), skiprows)
        check_rows(
            path,
            lines,
            codes < 0,
            lambda r: f"label {text[r]!r} is not one of {sorted(label_values)}.",
        )
    frame[label] = codes
    return frame


def _check_field_counts(path: Path, raw: bytes, n_fields: int, skiprows: int) -> np.ndarray:
    """The file line of every data row; :class:`CorruptDataError` at a line without
    ``n_fields`` fields. Scans every byte, so it runs only once a problem was seen."""
    where = layout(raw, b",")
    lines, counts = where.lines[skiprows:], where.fields[skiprows:]
    bad = np.flatnonzero(counts != n_fields)
    if bad.size:
        row = int(bad[0])
        raise corrupt(
            path, int(lines[row]), f"{counts[row]} fields, expected {n_fields} (', '-separated)."
        )
    return lines


def _to_categories(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Give ``columns`` of ``frame`` the ``category`` dtype, in place."""
    for column in columns:  # a few dozen columns, not rows
        frame[column] = frame[column].astype("category")


# --------------------------------------------------------------------------- Census-Income


def read_census_income(path: str | os.PathLike) -> pd.DataFrame:
    """Parse a Census-Income (KDD) file in UCI's format (``census-income.data`` or ``.test``,
    plain or ``.gz``).

    Returns:
        The 40 attributes and ``instance_weight`` in file order, then ``income_50k`` and
        ``never_married`` (int8); categorical columns as ``category``, ``?`` missing; a
        ``RangeIndex`` (the 0-based row of the file).

    Raises:
        CorruptDataError: a line without 42 fields, or an income other than ``- 50000.``
            and ``50000+.`` (naming file and line).
        DataError: the file cannot be read, or a number field is not a number.
    """
    path = Path(path)
    frame = _read_uci_table(
        path,
        _CENSUS_FIELDS,
        (*CENSUS_NUMERIC, *_CENSUS_CODED),
        (CENSUS_WEIGHT_COL,),
        {"- 50000.": 0, "50000+.": 1},
    )
    frame = frame.rename(columns={"income": INCOME_COL})
    frame[NEVER_MARRIED_COL] = (frame["marital_stat"] == "Never married").to_numpy(np.int8)
    _to_categories(frame, [f for f in CENSUS_ATTRIBUTES if f not in CENSUS_NUMERIC])
    return frame


def _check_fractions(fractions: Sequence[float]) -> list[float]:
    if not isinstance(fractions, (list, tuple)) or len(fractions) != 3:
        raise DataError(
            f"fractions must be three shares (train, valid, test) in (0, 1) summing to 1, got "
            f"{fractions!r}; for example (0.6, 0.2, 0.2)."
        )
    return list(fractions)


def split_census_income(
    frame: pd.DataFrame,
    *,
    seed: int = CENSUS_SEED,
    fractions: Sequence[float] = CENSUS_FRACTIONS,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split a loaded census frame into train, valid and test, stratified on ``income_50k``.

    The draw is :func:`recutils.splitting.python_stratified_split` with ``income_50k`` as the
    group: each income class is shuffled with numpy's legacy ``RandomState(seed)`` (the same
    stream on every machine and numpy version) and cut at the rounded shares, so the splits
    depend only on the seed, the shares and the rows. Each split keeps the rows in their
    input order and their index (the row number in the file, for a frame of
    :func:`load_census_income`).

    Args:
        frame: A frame with an ``income_50k`` column (:func:`load_census_income` ``"all"``).
        seed: Seed of the shuffle.
        fractions: Shares of train, valid and test, each in (0, 1), summing to 1.

    Returns:
        ``(train, valid, test)``, disjoint, together every row of ``frame``.

    Raises:
        ColumnMismatchError: no ``income_50k`` column.
        DataError: bad ``fractions``, or missing income labels.
    """
    check_columns(frame, [INCOME_COL], "frame")
    shares = _check_fractions(fractions)
    strata = pd.DataFrame({INCOME_COL: frame[INCOME_COL].to_numpy()})
    parts = python_stratified_split(
        strata, ratio=shares, filter_by="user", col_user=INCOME_COL, seed=seed
    )
    # the splitter lists rows grouped by class: put each split back in input order
    train, valid, test = (frame.iloc[np.sort(part.index.to_numpy())] for part in parts)
    return train, valid, test


def load_census_income(
    split: str = "all",
    *,
    seed: int = CENSUS_SEED,
    fractions: Sequence[float] = CENSUS_FRACTIONS,
    local_cache_path: str | os.PathLike | None = None,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load UCI Census-Income (KDD): the 99,762-row published test file, or a split of it.

    The train file is not used (see the module docstring): ``"train"``, ``"valid"`` and
    ``"test"`` are drawn from the published **test** file by :func:`split_census_income`,
    stratified on ``income_50k``, seeded and deterministic across machines. To get all
    three from one read, load ``"all"`` and call :func:`split_census_income`.

    Args:
        split: ``"all"`` (every row), ``"train"``, ``"valid"`` or ``"test"``.
        seed: Seed of the split (ignored for ``"all"``).
        fractions: Shares of train, valid and test (ignored for ``"all"``).
        local_cache_path: A folder to look in first and to download into.
        progress: Show a progress bar while downloading.
        verify: Check the file against the SHA-256 of UCI's ``census-income.test.gz``;
            ``False`` accepts a copy changed on purpose (the format checks still apply).

    Returns:
        The 40 attributes and ``instance_weight`` in file order, then ``income_50k`` (1 for
        ``50000+.``) and ``never_married`` (1 for "Never married"), int8. Features:
        :data:`CENSUS_CATEGORICAL` (``category``) and :data:`CENSUS_NUMERIC` (int64); never
        use :data:`CENSUS_NON_FEATURES` as inputs. The index is the 0-based row of the file.

    Raises:
        ConfigError: an unknown ``split``.
        DataError: bad ``fractions``.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: the file is not the published one, or a line is malformed.
    """
    check_choice("split", split, CENSUS_SPLITS)
    if split != "all":
        _check_fractions(fractions)
    folder = fetch_files(CENSUS_FOLDER, (CENSUS_FILE,), local_cache_path, progress=progress)
    if verify:
        check_published(
            folder,
            PublishedFile(CENSUS_FILENAME, (CENSUS_FILE.sha256,)),
            dataset="Census-Income (KDD)",
        )
    frame = read_census_income(folder / CENSUS_FILENAME)
    logger.info("loaded Census-Income (KDD) test file: %d rows", len(frame))
    if split == "all":
        return frame
    train, valid, test = split_census_income(frame, seed=seed, fractions=fractions)
    return {"train": train, "valid": valid, "test": test}[split]


# --------------------------------------------------------------------------- UCI Adult


def read_uci_adult(path: str | os.PathLike) -> pd.DataFrame:
    """Parse ``adult.data`` or ``adult.test`` (its first line ``|1x3 Cross validator`` and the
    trailing ``.`` of its labels are handled).

    Returns:
        The 14 attributes in file order (text as strings, ``?`` missing), then
        ``income_50k`` and ``never_married`` (int8), with a ``RangeIndex``.

    Raises:
        CorruptDataError: a line without 15 fields, or an income other than ``<=50K`` and
            ``>50K`` (with or without a trailing ``.``), naming file and line.
        DataError: the file cannot be read, or a number field is not a number.
    """
    path = Path(path)
    skiprows = 1 if read_bytes(path, 1).startswith(b"|") else 0
    labels = {"<=50K": 0, ">50K": 1, "<=50K.": 0, ">50K.": 1}
    frame = _read_uci_table(
        path, _ADULT_FIELDS, (*ADULT_NUMERIC, ADULT_WEIGHT_COL), (), labels, skiprows=skiprows
    )
    frame = frame.rename(columns={"income": INCOME_COL})
    frame[NEVER_MARRIED_COL] = (frame["marital_status"] == "Never-married").to_numpy(np.int8)
    return frame


def load_uci_adult(
    split: str = "train",
    *,
    local_cache_path: str | os.PathLike | None = None,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load UCI Adult: ``adult.data`` (``"train"``, 32,561 rows), ``adult.test`` (``"test"``,
    16,281 rows) or both (``"all"``, train rows first).

    Both files are read either way, so every split has the same category lists.

    Args:
        split: ``"train"``, ``"test"`` or ``"all"``.
        local_cache_path: A folder to look in first and to download into.
        progress: Show a progress bar while downloading.
        verify: Check the files against the SHA-256 of UCI's files; ``False`` accepts
            copies changed on purpose (the format checks still apply).

    Returns:
        The 14 attributes in file order, then ``income_50k`` (1 for ``>50K``) and
        ``never_married`` (1 for ``Never-married``), int8. Features:
        :data:`ADULT_CATEGORICAL` (``category``, ``?`` missing) and :data:`ADULT_NUMERIC`
        (int64); never use :data:`ADULT_NON_FEATURES` as inputs. The index is the row's
        position in ``"all"`` (``adult.test``'s rows follow ``adult.data``'s).

    Raises:
        ConfigError: an unknown ``split``.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: a file is not the published one, or a line is malformed.
    """
    check_choice("split", split, ADULT_SPLITS)
    folder = fetch_files(ADULT_FOLDER, ADULT_FILES, local_cache_path, progress=progress)
    if verify:
        for remote in ADULT_FILES:
            check_published(
                folder, PublishedFile(remote.filename, (remote.sha256,)), dataset="UCI Adult"
            )
    train = read_uci_adult(folder / ADULT_TRAIN_FILENAME)
    test = read_uci_adult(folder / ADULT_TEST_FILENAME)
    frame = pd.concat([train, test], ignore_index=True)
    _to_categories(
        frame, [f for f in ADULT_ATTRIBUTES if f not in ADULT_NUMERIC and f != ADULT_WEIGHT_COL]
    )
    logger.info("loaded UCI Adult: %d train and %d test rows", len(train), len(test))
    if split == "train":
        return frame.iloc[: len(train)]
    if split == "test":
        return frame.iloc[len(train) :]
    return frame


__all__ = [
    "ADULT_ATTRIBUTES",
    "ADULT_CATEGORICAL",
    "ADULT_FILES",
    "ADULT_FOLDER",
    "ADULT_NON_FEATURES",
    "ADULT_NUMERIC",
    "ADULT_N_INCOME_50K",
    "ADULT_N_ROWS",
    "ADULT_SPLITS",
    "ADULT_WEIGHT_COL",
    "CENSUS_ATTRIBUTES",
    "CENSUS_CATEGORICAL",
    "CENSUS_FILE",
    "CENSUS_FOLDER",
    "CENSUS_FRACTIONS",
    "CENSUS_LABEL_COUNTS",
    "CENSUS_NON_FEATURES",
    "CENSUS_NUMERIC",
    "CENSUS_N_ROWS",
    "CENSUS_SEED",
    "CENSUS_SPLITS",
    "CENSUS_WEIGHT_COL",
    "INCOME_COL",
    "LABELS",
    "NEVER_MARRIED_COL",
    "check_binary_labels",
    "load_census_income",
    "load_uci_adult",
    "read_census_income",
    "read_uci_adult",
    "split_census_income",
]
