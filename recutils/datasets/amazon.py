"""Amazon review data (McAuley et al.) in the format pre-processed by ReChorus.

ReChorus (Wang et al., https://github.com/THUwangcy/ReChorus) turns the Amazon
5-core review files (``reviews_<Category>_5.json.gz`` and ``meta_<Category>.json.gz``
from http://jmcauley.ucsd.edu/data/amazon/) into implicit-feedback tables with
re-indexed integer ids. Two files per category, both **tab-separated with a
header** despite their ``.csv`` names:

* ``train.csv``: ``user_id  item_id  time`` (unix seconds), one row per purchase
  review; each user's last two interactions are held out by ReChorus (its
  ``dev.csv`` / ``test.csv`` with sampled negatives, not read here);
* ``item_meta.csv``: ``item_id  i_category  r_complement  r_substitute``; the
  category is an integer code, the two relations are Python-style lists of item
  ids (``[6285, 194]``) derived from Amazon's "also bought" / "also viewed" links.

Files are found by :func:`recutils.datasets.download.fetch_files`:
``local_cache_path``, ``$RECUTILS_DATA_MIRROR/<folder>/``, the cache
``$RECUTILS_DATA_HOME/<folder>/``, then a download of each file from ReChorus'
repository at a pinned commit, checked against its SHA-256. The Amazon data is
published for research (cite McAuley et al., SIGIR 2015 and He & McAuley, WWW 2016);
recutils never ships it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL
from recutils.datasets._text import Table, read_table
from recutils.datasets.download import PublishedFile, RemoteFile, check_published, fetch_files
from recutils.exceptions import ConfigError, DataError

logger = logging.getLogger(__name__)

DEFAULT_CATEGORY_COL = "category"
COMPLEMENT_COL = "complements"
SUBSTITUTE_COL = "substitutes"

INTERACTIONS_FILE = "train.csv"
ITEM_META_FILE = "item_meta.csv"
_INTERACTION_FIELDS = ("user_id", "item_id", "time")
_META_FIELDS = ("item_id", "i_category", "r_complement", "r_substitute")

_RECHORUS_COMMIT = "e58d752558634d42be60de561d6f74df748583cc"
_RAW = f"https://raw.githubusercontent.com/THUwangcy/ReChorus/{_RECHORUS_COMMIT}/data"


@dataclass(frozen=True)
class _Category:
    folder: str
    files: tuple[RemoteFile, RemoteFile]


def _files(upstream: str, train: tuple[str, int], meta: tuple[str, int]) -> tuple[RemoteFile, ...]:
    return (
        RemoteFile(INTERACTIONS_FILE, f"{_RAW}/{upstream}/{INTERACTIONS_FILE}", train[0], train[1]),
        RemoteFile(ITEM_META_FILE, f"{_RAW}/{upstream}/{ITEM_META_FILE}", meta[0], meta[1]),
    )


# SHA-256 and sizes of the files at the pinned commit.
_CATEGORIES: dict[str, _Category] = {
    "grocery": _Category(
        "amazon-grocery-rechorus",
        _files(
            "Grocery_and_Gourmet_Food",
            ("75847958fbcfec35dd0a20bda43432c22a5d7e5b5fe571fef0b25ff580b475f4", 2_575_651),
            ("35a7d55fb7024b3cf7937cbc424762bc1cb5ef1f41d49f5955011effcebf144c", 2_275_381),
        ),
    ),
}

#: The categories :func:`load_pandas_df` accepts.
CATEGORIES: tuple[str, ...] = tuple(_CATEGORIES)


def _read(path: Path, fields: tuple[str, ...], dtype: dict) -> Table:
    table = read_table(path, "\t", fields, header=fields, dtype=dtype, empty_ok=False)
    df = table.frame
    empty = df.isna().to_numpy()
    if empty.any():
        col = df.columns[empty.any(axis=0)][0]
        table.check(path, df[col].isna(), lambda r: f"empty {col!r} field.")
    return table


def _check_positive(path: Path, table: Table, columns: tuple[str, ...], floor: int = 1) -> None:
    for col in columns:
        values = table.frame[col].to_numpy()
        table.check(
            path,
            values < floor,
            lambda r, c=col, v=values: f"{c!r} must be >= {floor}, found {v[r]}.",
        )


def read_interactions(
    path: str | os.PathLike,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> pd.DataFrame:
    """Parse a ReChorus interaction file (``user_id  item_id  time``, tab-separated, header).

    Returns:
        ``[col_user, col_item, col_timestamp]`` as int64, in file order.

    Raises:
        CorruptDataError: another header, a line with the wrong number of fields, an
            empty field, a non-positive id or a negative time (naming file and line).
        DataError: a value is not an integer.
    """
    path = Path(path)
    table = _read(path, _INTERACTION_FIELDS, {c: "int64" for c in _INTERACTION_FIELDS})
    _check_positive(path, table, ("user_id", "item_id"))
    _check_positive(path, table, ("time",), floor=0)
    df = table.frame
    df.columns = [col_user, col_item, col_timestamp]
    return df


def _id_lists(values: pd.Series) -> pd.Series:
    """``"[1, 2]"`` -> ``array([1, 2])`` (``"[]"`` -> empty), with one flat parse of every id."""
    text = values.str.strip().str.removeprefix("[").str.removesuffix("]")
    parts = text.str.split(",")
    lengths = np.where(text.str.strip().eq("").to_numpy(), 0, parts.str.len().to_numpy())
    flat = parts[lengths > 0].explode().str.strip()
    try:
        ids = flat.astype("int64").to_numpy()
    except ValueError as err:
        raise DataError(
            f"item relations must be lists of integer ids like '[1, 2]': {err}"
        ) from err
    out = np.empty(len(values), dtype=object)
    out[:] = np.split(ids, np.cumsum(lengths)[:-1])
    return pd.Series(out, index=values.index, dtype=object)


def read_item_meta(
    path: str | os.PathLike,
    *,
    col_item: str = DEFAULT_ITEM_COL,
    col_category: str = DEFAULT_CATEGORY_COL,
    relations: bool = True,
) -> pd.DataFrame:
    """Parse a ReChorus ``item_meta.csv`` (``item_id  i_category  r_complement  r_substitute``).

    Args:
        path: The file.
        col_item, col_category: Output names of the item id and the category code.
        relations: Also return ``complements`` and ``substitutes``, each an int64
            array of item ids per row.

    Raises:
        CorruptDataError: another header, a line with the wrong number of fields, an
            empty field, a non-positive id or a negative category (naming file and line).
        DataError: a value is not an integer, or a relation is not a list of ids.
    """
    path = Path(path)
    table = _read(
        path,
        _META_FIELDS,
        {"item_id": "int64", "i_category": "int64", "r_complement": "str", "r_substitute": "str"},
    )
    _check_positive(path, table, ("item_id",))
    _check_positive(path, table, ("i_category",), floor=0)
    df = table.frame
    out = pd.DataFrame(
        {col_item: df["item_id"].to_numpy(), col_category: df["i_category"].to_numpy()}
    )
    if relations:
        out[COMPLEMENT_COL] = _id_lists(df["r_complement"]).to_numpy()
        out[SUBSTITUTE_COL] = _id_lists(df["r_substitute"]).to_numpy()
    return out


def _resolve(category: str) -> _Category:
    if category not in _CATEGORIES:
        raise ConfigError(f"unknown Amazon category {category!r}; allowed: {list(CATEGORIES)}.")
    return _CATEGORIES[category]


def _path(category: str, filename: str, local_cache_path, progress: bool, verify: bool) -> Path:
    """A category's file, checked against its published SHA-256 when ``verify``."""
    spec = _resolve(category)
    folder = fetch_files(spec.folder, spec.files, local_cache_path, progress=progress)
    if verify:
        remote = next(f for f in spec.files if f.filename == filename)
        check_published(
            folder,
            PublishedFile(filename, (remote.sha256,)),
            dataset=f"Amazon {category} (ReChorus)",
        )
    return folder / filename


def load_pandas_df(
    category: str = "grocery",
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    col_category: str | None = None,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load a category's interactions (implicit feedback: one row per review).

    Args:
        category: One of :data:`CATEGORIES` (``"grocery"``: Grocery and Gourmet Food,
            121,892 interactions, 14,681 users, 8,687 items, 2000-08 to 2014-07).
        local_cache_path: A folder to look in first and to download into.
        col_user, col_item, col_timestamp: Output column names.
        col_category: When given, the item's category code is merged in under this name.
        progress: Show a progress bar while downloading.
        verify: Check each file read against the SHA-256 of the file published at the
            pinned ReChorus commit; ``False`` accepts a copy changed on purpose (the
            format and value checks still apply).

    Returns:
        ``[col_user, col_item, col_timestamp(, col_category)]``, int64, in file order.

    Raises:
        ConfigError: unknown category or clashing column names.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: a file is not the published one (naming it, the expected and
            the actual digest), or a line is malformed (naming file and line).
        DataError: a file cannot be parsed.
    """
    names = [col_user, col_item, col_timestamp] + ([col_category] if col_category else [])
    if len(set(names)) != len(names):
        raise ConfigError(f"column names must be distinct, got {names}.")
    path = _path(category, INTERACTIONS_FILE, local_cache_path, progress, verify)
    df = read_interactions(path, col_user=col_user, col_item=col_item, col_timestamp=col_timestamp)
    if col_category:
        meta_path = _path(category, ITEM_META_FILE, local_cache_path, progress, verify)
        meta = read_item_meta(
            meta_path, col_item=col_item, col_category=col_category, relations=False
        )
        df = df.merge(meta, on=col_item, how="left", validate="many_to_one")
        df[col_category] = df[col_category].astype("Int64")
    logger.info("loaded Amazon %s: %d interactions", category, len(df))
    return df


def load_item_df(
    category: str = "grocery",
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_item: str = DEFAULT_ITEM_COL,
    col_category: str = DEFAULT_CATEGORY_COL,
    relations: bool = True,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load a category's item table: ``[col_item, col_category(, complements, substitutes)]``.

    See :func:`read_item_meta`; the Grocery table has 8,713 items in 57 category codes.
    ``verify``: see :func:`load_pandas_df`.
    """
    path = _path(category, ITEM_META_FILE, local_cache_path, progress, verify)
    return read_item_meta(path, col_item=col_item, col_category=col_category, relations=relations)


__all__ = [
    "CATEGORIES",
    "COMPLEMENT_COL",
    "DEFAULT_CATEGORY_COL",
    "SUBSTITUTE_COL",
    "load_item_df",
    "load_pandas_df",
    "read_interactions",
    "read_item_meta",
]
