"""MovieLens loaders (GroupLens Research, https://grouplens.org/datasets/movielens/).

Sizes and their files:

=============  ===========================  ====================  ==================
size           ratings                      items                 users
=============  ===========================  ====================  ==================
``100k``       ``u.data`` (tab)             ``u.item`` (``|``,    ``u.user`` (``|``)
                                            latin-1, 19 flags)
``1m``         ``ratings.dat`` (``::``)     ``movies.dat``        ``users.dat``
``10m``        ``ratings.dat`` (``::``)     ``movies.dat``        --
``20m``        ``ratings.csv`` (header)     ``movies.csv``        --
``latest-small`` ``ratings.csv`` (header,   ``movies.csv``        --
               half stars)
``mock<N>``    synthetic, N ratings (``mock100``), same schema, made by
               :mod:`recutils.datasets.synthetic`; never touches disk or network
=============  ===========================  ====================  ==================

Files are found by :func:`recutils.datasets.download.fetch_dataset`:
``local_cache_path``, then ``$RECUTILS_DATA_MIRROR``, then the cache
``$RECUTILS_DATA_HOME``, then a download from files.grouplens.org, checked against
GroupLens' published MD5 (pinned for the frozen archives, fetched from the
``.md5`` file for ``latest-small``). MovieLens 100K/1M terms forbid redistribution:
recutils never ships the files.

The data sets are described in F. Maxwell Harper and Joseph A. Konstan. 2015.
The MovieLens Datasets: History and Context. ACM TiiS 5, 4, Article 19.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_GENRE_COL,
    DEFAULT_ITEM_COL,
    DEFAULT_RATING_COL,
    DEFAULT_TIMESTAMP_COL,
    DEFAULT_TITLE_COL,
    DEFAULT_USER_COL,
    DEFAULT_YEAR_COL,
    SEED,
)
from recutils.datasets.download import RemoteArchive, fetch_dataset
from recutils.exceptions import ConfigError, DataError, DataWarning
from recutils.utils.arrays import join_flags

logger = logging.getLogger(__name__)

DEFAULT_HEADER: tuple[str, ...] = (
    DEFAULT_USER_COL,
    DEFAULT_ITEM_COL,
    DEFAULT_RATING_COL,
    DEFAULT_TIMESTAMP_COL,
)

GENRES_100K: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)

# ml-1m README, "Occupation is chosen from the following choices".
OCCUPATIONS_1M: tuple[str, ...] = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)

DEFAULT_HEADER_ITEM_FEATURES: tuple[str, ...] = (
    DEFAULT_TITLE_COL,
    DEFAULT_GENRE_COL,
    DEFAULT_YEAR_COL,
)
USER_FEATURE_COLS: tuple[str, ...] = ("age", "gender", "occupation", "zip_code")

_BASE_URL = "https://files.grouplens.org/datasets/movielens"


@dataclass(frozen=True)
class _FileSpec:
    name: str
    sep: str
    skiprows: int = 0


@dataclass(frozen=True)
class _SizeSpec:
    archive: RemoteArchive
    ratings: _FileSpec
    items: _FileSpec
    users: _FileSpec | None = None


def _archive(
    name: str, folder: str | None = None, *, md5: str | None = None, size: int | None = None
) -> RemoteArchive:
    url = f"{_BASE_URL}/{name}.zip"
    return RemoteArchive(name=name, url=url, archive_folder=folder, md5=md5, size=size,
                         md5_url=url + ".md5")


# MD5s published by GroupLens next to the archives (``<archive>.zip.md5``); these
# archives are frozen, so their values are pinned. ml-latest-small is updated over
# time: its published ``.md5`` is fetched at download time instead.
_SIZES: dict[str, _SizeSpec] = {
    "100k": _SizeSpec(
        _archive("ml-100k", md5="0e33842e24a9c977be4e0107933c0723", size=4_924_029),
        ratings=_FileSpec("u.data", "\t"),
        items=_FileSpec("u.item", "|"),
        users=_FileSpec("u.user", "|"),
    ),
    "1m": _SizeSpec(
        _archive("ml-1m", md5="c4d9eecfca2ab87c1945afe126590906"),
        ratings=_FileSpec("ratings.dat", "::"),
        items=_FileSpec("movies.dat", "::"),
        users=_FileSpec("users.dat", "::"),
    ),
    "10m": _SizeSpec(
        _archive("ml-10m", folder="ml-10M100K", md5="ce571fd55effeba0271552578f2648bd"),
        ratings=_FileSpec("ratings.dat", "::"),
        items=_FileSpec("movies.dat", "::"),
    ),
    "20m": _SizeSpec(
        _archive("ml-20m", md5="cd245b17a1ae2cc31bb14903e1204af3"),
        ratings=_FileSpec("ratings.csv", ",", skiprows=1),
        items=_FileSpec("movies.csv", ","),
    ),
    "latest-small": _SizeSpec(
        _archive("ml-latest-small"),
        ratings=_FileSpec("ratings.csv", ",", skiprows=1),
        items=_FileSpec("movies.csv", ","),
    ),
}

#: The sizes :func:`load_pandas_df` accepts (``mock<N>`` for any positive N).
SIZES: tuple[str, ...] = (*_SIZES, "mock100")

_MOCK_RE = re.compile(r"^mock(\d+)$")
# the last "(YYYY)" (or "(YYYY-)", "(YYYY-YYYY)") in the title
_YEAR_RE = r"^.*\((\d{4})(?:[-\u2013]\d{0,4})?\)"


# --------------------------------------------------------------------------- parsing


def _read_bytes(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read {path}: {err}") from err


def _decode(raw: bytes) -> str:
    """UTF-8 when valid, else latin-1 (the encoding of ml-100k/ml-1m item files)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _single_char_sep(text: str, sep: str) -> tuple[str, str]:
    """Turn a multi-character separator into a one-character one pandas' C parser reads."""
    if len(sep) == 1:
        return text, sep
    for candidate in ("\t", "\x1f", "\x1e", "\x1d"):
        if candidate not in text:
            return text.replace(sep, candidate), candidate
    raise DataError(f"cannot find a free one-character separator to replace {sep!r}.")


def _read_table(
    path: Path,
    sep: str,
    names: Sequence[str],
    *,
    skiprows: int = 0,
    dtype: dict | None = None,
    quoting_csv: bool = False,
) -> pd.DataFrame:
    text = _decode(_read_bytes(path))
    text, sep1 = _single_char_sep(text, sep)
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep=sep1,
            header=None,
            names=list(names),
            skiprows=skiprows,
            dtype=dtype,
            engine="c",
            quoting=0 if quoting_csv else 3,  # QUOTE_MINIMAL for CSV, QUOTE_NONE otherwise
            keep_default_na=False,
            na_values=[""],
        )
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(f"cannot parse {path} as {sep!r}-separated {list(names)}: {err}") from err


def read_ratings(
    path: str | os.PathLike,
    sep: str = "\t",
    *,
    skiprows: int = 0,
    header: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Parse a MovieLens ratings file: ``user<sep>item<sep>rating<sep>timestamp`` lines.

    Handles any separator, including ml-1m/ml-10m's ``::`` (replaced by a free
    one-character separator so pandas' fast C parser reads it), and gzip files
    (``.gz``).

    Args:
        path: The file (``u.data``, ``ratings.dat``, ``ratings.csv``, ``*.gz``).
        sep: Field separator (``"\\t"``, ``"::"``, ``","``).
        skiprows: Lines to skip first (1 for the CSV files' header line).
        header: Output column names, 2 to 4 of them, for the leading fields
            (default ``(userID, itemID, rating, timestamp)``).

    Returns:
        A frame with ids and timestamp as int64 and rating as float64.

    Raises:
        DataError: the file cannot be read or parsed.
    """
    header = _check_header(header)
    path = Path(path)
    names = list(DEFAULT_HEADER)
    df = _read_table(
        path, sep, names, skiprows=skiprows,
        dtype={names[0]: "int64", names[1]: "int64", names[2]: "float64", names[3]: "int64"},
        quoting_csv=sep == ",",
    )
    df = df.iloc[:, : len(header)]
    df.columns = list(header)
    return df


def _check_header(header: Sequence[str] | None) -> list[str]:
    if header is None:
        return list(DEFAULT_HEADER)
    if isinstance(header, str):
        raise ConfigError(f"header must be a sequence of column names, got the string {header!r}.")
    header = list(header)
    if len(header) < 2:
        raise ConfigError(
            f"header must name at least the user and item columns, got {header}; "
            f"default is {list(DEFAULT_HEADER)}."
        )
    if len(header) > 4:
        warnings.warn(
            f"header has {len(header)} names but ratings have 4 fields; keeping {header[:4]}.",
            DataWarning,
            stacklevel=3,
        )
        header = header[:4]
    if len(set(header)) != len(header):
        raise ConfigError(f"header has duplicate names: {header}.")
    return header


def _year_from_title(titles: pd.Series) -> pd.Series:
    return titles.str.extract(_YEAR_RE, expand=False).astype("Int64")


def _parse_items(size: str, path: Path) -> pd.DataFrame:
    """Return [itemID, title, genres, year] from a size's item file."""
    if size == "100k":
        names = ["item", "title", "release", "video", "url", *GENRES_100K]
        raw = _read_table(path, "|", names, dtype={"item": "int64", "title": "str"})
        flags = raw[list(GENRES_100K)].fillna(0).to_numpy(dtype=bool)
        genres = join_flags(flags, np.array(GENRES_100K, dtype=object))
    else:
        sep = "::" if path.suffix == ".dat" else ","
        raw = _read_table(
            path, sep, ["item", "title", "genres"], skiprows=1 if sep == "," else 0,
            dtype={"item": "int64", "title": "str", "genres": "str"}, quoting_csv=sep == ",",
        )
        genres = raw["genres"].fillna("").replace("(no genres listed)", "")
    titles = raw["title"].fillna("").str.strip()
    return pd.DataFrame({
        DEFAULT_ITEM_COL: raw["item"].to_numpy(),
        DEFAULT_TITLE_COL: titles.to_numpy(),
        DEFAULT_GENRE_COL: pd.Series(genres).astype("str").to_numpy(),
        DEFAULT_YEAR_COL: _year_from_title(titles).to_numpy(),
    }).astype({DEFAULT_TITLE_COL: "str", DEFAULT_GENRE_COL: "str", DEFAULT_YEAR_COL: "Int64"})


def _parse_users(size: str, path: Path) -> pd.DataFrame:
    """Return [userID, age, gender, occupation, zip_code] from a size's user file."""
    if size == "100k":
        raw = _read_table(
            path, "|", ["user", "age", "gender", "occupation", "zip_code"],
            dtype={"user": "int64", "age": "int64", "gender": "str", "occupation": "str",
                   "zip_code": "str"},
        )
        occupation = raw["occupation"]
    else:
        raw = _read_table(
            path, "::", ["user", "gender", "age", "occupation", "zip_code"],
            dtype={"user": "int64", "age": "int64", "gender": "str", "occupation": "int64",
                   "zip_code": "str"},
        )
        codes = raw["occupation"].to_numpy()
        if codes.min() < 0 or codes.max() >= len(OCCUPATIONS_1M):
            raise DataError(
                f"{path}: occupation codes must be 0..20, found {codes.min()}..{codes.max()}."
            )
        occupation = pd.Series(np.array(OCCUPATIONS_1M, dtype=object)[codes], dtype="str")
    return pd.DataFrame({
        DEFAULT_USER_COL: raw["user"].to_numpy(),
        "age": raw["age"].to_numpy(),
        "gender": raw["gender"].astype("str").to_numpy(),
        "occupation": pd.Series(occupation).astype("str").to_numpy(),
        "zip_code": raw["zip_code"].astype("str").to_numpy(),
    }).astype({"gender": "str", "occupation": "str", "zip_code": "str"})


# --------------------------------------------------------------------------- public API


def _resolve_size(size: str) -> str:
    if not isinstance(size, str):
        raise ConfigError(
            f"size must be a string, got {size!r}; allowed: {list(SIZES)} or 'mock<N>'."
        )
    key = size.strip().lower()
    if key in _SIZES or _MOCK_RE.match(key):
        if _MOCK_RE.match(key) and int(_MOCK_RE.match(key).group(1)) == 0:
            raise ConfigError("mock sizes need a positive number of ratings, e.g. 'mock100'.")
        return key
    raise ConfigError(f"unknown MovieLens size {size!r}; allowed: {list(SIZES)} or 'mock<N>'.")


def _mock(size: str, seed: int | None):
    from recutils.datasets.synthetic import make_interactions

    n = int(_MOCK_RE.match(size).group(1))
    n_users = max(10, int(np.sqrt(n)) + 1)
    n_items = max(20, 4 * n // n_users + 1)
    return make_interactions(n_users=n_users, n_items=n_items, n_interactions=n,
                             n_groups=min(3, n_users), seed=seed)


def _fetch(size: str, files: Sequence[str], local_cache_path, progress: bool) -> Path:
    return fetch_dataset(_SIZES[size].archive, files, local_cache_path, progress=progress)


def load_pandas_df(
    size: str = "100k",
    header: Sequence[str] | None = None,
    local_cache_path: str | os.PathLike | None = None,
    title_col: str | None = None,
    genres_col: str | None = None,
    year_col: str | None = None,
    seed: int | None = SEED,
    *,
    progress: bool = True,
) -> pd.DataFrame:
    """Load MovieLens ratings as a DataFrame, optionally with item features.

    Args:
        size: One of ``"100k"``, ``"1m"``, ``"10m"``, ``"20m"``, ``"latest-small"``
            or ``"mock<N>"`` (synthetic, e.g. ``"mock100"``).
        header: Names of the leading rating columns, 2 to 4 of
            (user, item, rating, timestamp); default
            ``(userID, itemID, rating, timestamp)``. A shorter header keeps only
            those leading columns; more than 4 names warn and are cut to 4.
        local_cache_path: A folder (or archive path) to look in first, and to
            download into (see :func:`recutils.datasets.download.fetch_dataset`).
        title_col, genres_col, year_col: When given, the item title, the genres
            (``'|'``-joined, ``""`` when none) and the release year parsed from
            the title's last ``(YYYY)`` (nullable ``Int64``) are merged in
            under these names (left join on the item column).
        seed: Seed of the synthetic ``mock`` sizes; ignored otherwise.
        progress: Show a progress bar while downloading.

    Returns:
        Ratings (user/item/timestamp int64, rating float64), in file order.

    Raises:
        ConfigError: unknown size or bad header.
        DatasetUnavailableError: the files are nowhere to be found and cannot
            be downloaded (the message says what to set).
        CorruptDataError: an archive failed its integrity check.
    """
    size = _resolve_size(size)
    header = _check_header(header)
    wanted = {
        DEFAULT_TITLE_COL: title_col, DEFAULT_GENRE_COL: genres_col, DEFAULT_YEAR_COL: year_col
    }
    wanted = {k: v for k, v in wanted.items() if v is not None}
    clash = set(wanted.values()) & set(header)
    if clash or len(set(wanted.values())) != len(wanted):
        raise ConfigError(f"title/genres/year column names {list(wanted.values())} clash with "
                          f"each other or with the header {header}.")
    if _MOCK_RE.match(size):
        data = _mock(size, seed)
        ratings = data.ratings.iloc[:, : len(header)].copy()
        ratings.columns = header
        items = data.items[[DEFAULT_ITEM_COL, *DEFAULT_HEADER_ITEM_FEATURES]]
    else:
        spec = _SIZES[size]
        folder = _fetch(size, [spec.ratings.name], local_cache_path, progress)
        ratings = read_ratings(folder / spec.ratings.name, spec.ratings.sep,
                               skiprows=spec.ratings.skiprows, header=header)
        items = None
        if wanted:
            items = _load_items_raw(size, local_cache_path, progress)
    if wanted:
        features = items[[DEFAULT_ITEM_COL, *wanted]].rename(
            columns={DEFAULT_ITEM_COL: header[1], **wanted}
        )
        ratings = ratings.merge(features, on=header[1], how="left", validate="many_to_one")
    logger.info("loaded MovieLens %s: %d ratings", size, len(ratings))
    return ratings


def _load_items_raw(size: str, local_cache_path, progress: bool) -> pd.DataFrame:
    spec = _SIZES[size]
    folder = _fetch(size, [spec.items.name], local_cache_path, progress)
    return _parse_items(size, folder / spec.items.name)


def load_item_df(
    size: str = "100k",
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_item: str = DEFAULT_ITEM_COL,
    title_col: str = DEFAULT_TITLE_COL,
    genres_col: str = DEFAULT_GENRE_COL,
    year_col: str = DEFAULT_YEAR_COL,
    seed: int | None = SEED,
    progress: bool = True,
) -> pd.DataFrame:
    """Load the item table: ``[col_item, title_col, genres_col, year_col]``.

    Titles are decoded (UTF-8 when valid, else latin-1, the encoding of the
    ml-100k/ml-1m files) and stripped; ml-100k's 19 genre flags become a
    ``'|'``-joined string in ``u.genre`` order (``""`` when none); ``year`` is
    the last ``(YYYY)`` in the title, nullable ``Int64``.

    Args:
        size: Any size of :func:`load_pandas_df`.
        local_cache_path: See :func:`load_pandas_df`.
        col_item, title_col, genres_col, year_col: Output column names.
        seed: Seed of the ``mock`` sizes.
        progress: Show a progress bar while downloading.
    """
    size = _resolve_size(size)
    if _MOCK_RE.match(size):
        items = _mock(size, seed).items[[DEFAULT_ITEM_COL, *DEFAULT_HEADER_ITEM_FEATURES]].copy()
    else:
        items = _load_items_raw(size, local_cache_path, progress)
    return items.rename(columns={
        DEFAULT_ITEM_COL: col_item, DEFAULT_TITLE_COL: title_col,
        DEFAULT_GENRE_COL: genres_col, DEFAULT_YEAR_COL: year_col,
    })


def load_user_df(
    size: str = "100k",
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_user: str = DEFAULT_USER_COL,
    seed: int | None = SEED,
    progress: bool = True,
) -> pd.DataFrame:
    """Load the user table: ``[col_user, age, gender, occupation, zip_code]``.

    Only ``100k``, ``1m`` and the ``mock`` sizes have one. In ml-100k ``age`` is
    in years; in ml-1m it is the code of an age range (1: under 18, 18: 18-24,
    25: 25-34, 35: 35-44, 45: 45-49, 50: 50-55, 56: 56+) and the occupation
    code is mapped to its name from the ml-1m README.

    Raises:
        ConfigError: the size has no user file (the message lists those that do).
    """
    size = _resolve_size(size)
    if _MOCK_RE.match(size):
        users = _mock(size, seed).users[[DEFAULT_USER_COL, *USER_FEATURE_COLS]].copy()
    else:
        spec = _SIZES[size]
        if spec.users is None:
            with_users = [k for k, v in _SIZES.items() if v.users is not None]
            raise ConfigError(
                f"MovieLens {size!r} has no user file; sizes with user features: "
                f"{with_users} and 'mock<N>'."
            )
        folder = _fetch(size, [spec.users.name], local_cache_path, progress)
        users = _parse_users(size, folder / spec.users.name)
    return users.rename(columns={DEFAULT_USER_COL: col_user})


__all__ = [
    "DEFAULT_HEADER",
    "GENRES_100K",
    "OCCUPATIONS_1M",
    "SIZES",
    "load_item_df",
    "load_pandas_df",
    "load_user_df",
    "read_ratings",
]
