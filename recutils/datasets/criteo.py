"""Criteo Display Advertising Challenge (DAC, 2014) data in its raw format.

Each line is one ad impression: 40 tab-separated fields, the click label
(0/1), 13 integer count features ``I1..I13`` and 26 hashed categorical
features ``C1..C26`` (8 hex digits); a missing value is an empty field. Some
copies strip trailing empty fields; those rows are padded with missing values, as
long as the label and the 13 integer fields are there (14 fields at least).

:func:`load_pandas_df` loads Criteo's public ~100,000-row sample
(``dac_sample.tar.gz`` holding ``dac_sample.txt``) from ``local_cache_path``,
the mirror ``$RECUTILS_DATA_MIRROR`` (folder ``criteo/dac_sample.txt`` or the
archive), the cache, or a download; :func:`read_dac` reads any file in the
format. The Criteo data terms allow non-commercial use only and forbid
redistribution: recutils never ships the files.

:func:`criteo_ctr_frame` shapes the rows for the Recommender interface: the raw rows
have no user or item, so each row becomes its own user (``userID`` = row number) shown
one item (``itemID`` = 0), which fits the point-wise metrics.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recutils.datasets._text import Table, read_table
from recutils.datasets.download import RemoteArchive, fetch_dataset
from recutils.exceptions import ConfigError

logger = logging.getLogger(__name__)

LABEL_COL = "label"
INT_COLS: tuple[str, ...] = tuple(f"I{i}" for i in range(1, 14))
CAT_COLS: tuple[str, ...] = tuple(f"C{i}" for i in range(1, 27))
#: label, I1..I13, C1..C26
DEFAULT_HEADER: tuple[str, ...] = (LABEL_COL, *INT_COLS, *CAT_COLS)

SAMPLE = RemoteArchive(
    name="criteo",
    url="https://labs.criteo.com/wp-content/uploads/2015/04/dac_sample.tar.gz",
    archive_folder="",
)
SAMPLE_FILE = "dac_sample.txt"
_SIZES = {"sample": (SAMPLE, SAMPLE_FILE)}
SIZES: tuple[str, ...] = tuple(_SIZES)


def _check_header(header: Sequence[str]) -> list[str]:
    header = list(header)
    if len(header) != len(DEFAULT_HEADER) or len(set(header)) != len(header):
        raise ConfigError(
            f"header must be {len(DEFAULT_HEADER)} distinct names (label, 13 integer, 26 "
            f"categorical columns), got {len(header)}: {header[:5]}..."
        )
    return header


def read_dac(
    path: str | os.PathLike,
    nrows: int | None = None,
    header: Sequence[str] = DEFAULT_HEADER,
    *,
    categorical: bool = False,
) -> pd.DataFrame:
    """Read a file in the raw DAC format (plain or ``.gz``).

    Args:
        path: The file (``train.txt``, ``dac_sample.txt``, a head of it, ...).
        nrows: Read only the first ``nrows`` rows.
        header: 40 column names, in file order (label, I1..I13, C1..C26).
        categorical: Return the 26 categorical columns as ``category`` dtype
            instead of strings.

    Returns:
        A frame with the label as int8, the 13 integer features as float64
        (NaN when missing; counts can exceed float32's exact range) and the 26
        categorical features as strings (NaN when missing) or categories.

    Raises:
        CorruptDataError: a line has fewer than 14 or more than 40 fields, a label other
            than 0/1, a fractional integer feature or a categorical value that is not 8
            hex digits (the message names file and line).
        DataError: the file cannot be read, or a value is not a number.
    """
    header = _check_header(header)
    path = Path(path)
    label, ints, cats = header[0], header[1:14], header[14:]
    dtype: dict[str, object] = {
        label: "float64",
        **{c: "float64" for c in ints},
        **{c: "str" for c in cats},
    }
    table = read_table(
        path,
        "\t",
        header,
        dtype=dtype,
        nrows=nrows,
        fields=(1 + len(INT_COLS), len(DEFAULT_HEADER)),
        empty_ok=nrows == 0,
    )
    _check_values(path, table, label, ints, cats)
    df = table.frame
    labels = df[label].to_numpy()
    df[label] = labels.astype(np.int8)
    if categorical:
        df[cats] = df[cats].astype("category")
    logger.info("read %d DAC rows from %s", len(df), path)
    return df


def _check_values(path: Path, table: Table, label: str, ints: list[str], cats: list[str]) -> None:
    """Label 0/1, integer features integral, categorical features 8 hex digits."""
    df = table.frame
    labels = df[label].to_numpy()
    table.check(
        path,
        ~np.isin(labels, (0.0, 1.0)),
        lambda r: f"label must be 0 or 1, found {float(labels[r])!r}.",
    )
    counts = df[ints].to_numpy()
    with np.errstate(invalid="ignore"):
        fractional = (counts - np.floor(counts)) > 0  # False for NaN (a missing value)
    table.check(
        path,
        fractional.any(axis=1),
        lambda r: f"integer features must be whole numbers, found {counts[r]}.",
    )
    for col in cats:
        values = df[col]
        uniques = pd.Series(values.dropna().unique(), dtype="str")
        bad = set(uniques[~uniques.str.fullmatch(r"[0-9a-fA-F]{8}")])
        table.check(
            path,
            values.isin(bad).to_numpy(),
            lambda r, c=col, v=values: f"{c} must be 8 hex digits, found {v.iloc[r]!r}.",
        )


def load_pandas_df(
    size: str = "sample",
    local_cache_path: str | os.PathLike | None = None,
    header: Sequence[str] = DEFAULT_HEADER,
    *,
    nrows: int | None = None,
    categorical: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Load Criteo DAC data as a DataFrame (see :func:`read_dac` for the dtypes).

    Args:
        size: ``"sample"``: Criteo's public ~100,000-row sample (``dac_sample.txt``
            from ``dac_sample.tar.gz``). The full 45-million-row release is not
            downloaded by recutils; read it with :func:`read_dac`.
        local_cache_path: A folder (holding ``dac_sample.txt`` or the archive;
            a download goes there) or the archive's path.
        header: 40 column names.
        nrows: Read only the first ``nrows`` rows.
        categorical: Categorical columns as ``category`` dtype.
        progress: Show a progress bar while downloading.

    Raises:
        ConfigError: unknown size or bad header.
        DatasetUnavailableError: not found and not downloadable.
    """
    if size not in _SIZES:
        raise ConfigError(f"unknown Criteo size {size!r}; allowed: {list(SIZES)}.")
    spec, filename = _SIZES[size]
    folder = fetch_dataset(spec, [filename], local_cache_path, progress=progress)
    return read_dac(folder / filename, nrows=nrows, header=header, categorical=categorical)


def load_spark_df(
    spark: Any,
    size: str = "sample",
    header: Sequence[str] = DEFAULT_HEADER,
    local_cache_path: str | os.PathLike | None = None,
    dbfs_datapath: str | None = None,
    dbutils: Any = None,
    *,
    nrows: int | None = None,
    progress: bool = True,
) -> Any:
    """Criteo DAC data as a Spark DataFrame (Microsoft Recommenders' name and arguments).

    The rows and columns of :func:`load_pandas_df` (label and integer features
    ``bigint``, missing values null; categorical features strings) read from the same
    mirror and cache, handed to ``spark``. pyspark is imported here only.

    Args:
        spark: A ``SparkSession``.
        size, header, local_cache_path, nrows, progress: As for :func:`load_pandas_df`.
        dbfs_datapath, dbutils: Databricks' DBFS folder and utilities; accepted and
            ignored (the file is read on the driver).

    Raises:
        ConfigError: unknown size or bad header.
        DatasetUnavailableError: not found and not downloadable.
        MissingDependencyError: pyspark is not installed.
    """
    from recutils.datasets._spark import to_spark_frame

    del dbfs_datapath, dbutils
    frame = load_pandas_df(size, local_cache_path, header, nrows=nrows, progress=progress)
    return to_spark_frame(spark, frame)


def criteo_ctr_frame(
    rows: pd.DataFrame, *, col_user: str = DEFAULT_USER_COL, col_item: str = DEFAULT_ITEM_COL
) -> pd.DataFrame:
    """``rows`` (never modified) with a user per row and a single item, label as float.

    Raises:
        ConfigError: ``rows`` lacks a DAC column.
    """
    missing = [c for c in (LABEL_COL, *INT_COLS, *CAT_COLS) if c not in rows.columns]
    if missing:
        raise ConfigError(f"Criteo rows need the DAC columns; missing {missing}.")
    out = rows.reset_index(drop=True).copy()
    out[col_user] = np.arange(len(out), dtype=np.int64)
    out[col_item] = 0
    out[LABEL_COL] = out[LABEL_COL].astype("float64")
    return out


__all__ = [
    "CAT_COLS",
    "DEFAULT_HEADER",
    "INT_COLS",
    "LABEL_COL",
    "SIZES",
    "criteo_ctr_frame",
    "load_pandas_df",
    "load_spark_df",
    "read_dac",
]
