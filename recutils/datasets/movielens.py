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
``.md5`` file for ``latest-small``). Each file a loader reads is then checked against
the digest of GroupLens' published file where one is on record (``verify=True``), and
always for its format and value ranges. MovieLens 100K/1M terms forbid redistribution:
recutils never ships the files.

The data sets are described in F. Maxwell Harper and Joseph A. Konstan. 2015.
The MovieLens Datasets: History and Context. ACM TiiS 5, 4, Article 19.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
from recutils.datasets._text import Table, read_table
from recutils.datasets.download import (
    PublishedFile,
    RemoteArchive,
    check_published,
    fetch_dataset,
    verified_extraction,
)
from recutils.exceptions import ConfigError, CorruptDataError, DataWarning
from recutils.utils.arrays import join_flags

logger = logging.getLogger(__name__)

DEFAULT_HEADER: tuple[str, ...] = (
    DEFAULT_USER_COL,
    DEFAULT_ITEM_COL,
    DEFAULT_RATING_COL,
    DEFAULT_TIMESTAMP_COL,
)

GENRES_100K: tuple[str, ...] = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)

# ml-1m README, "Occupation is chosen from the following choices".
OCCUPATIONS_1M: tuple[str, ...] = (
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
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
    """One MovieLens size: its archive, files and what its published files are.

    ``published``: digests of the published files (see :class:`PublishedFile`);
    ``scale``: the allowed rating values; ``n_ratings``: the published number of
    ratings, checked when no digest pins the ratings file; ``reissued``: GroupLens
    re-issues the archive under the same name (ml-latest-small), so a folder
    extracted from an archive whose published MD5 was checked is accepted even when
    its files match none of the versions pinned here.
    """

    archive: RemoteArchive
    ratings: _FileSpec
    items: _FileSpec
    users: _FileSpec | None = None
    published: dict[str, PublishedFile] = field(default_factory=dict)
    scale: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 5.0)
    n_ratings: int | None = None
    reissued: bool = False


def _sha256(files: dict[str, str]) -> dict[str, PublishedFile]:
    return {name: PublishedFile(name, (digest,)) for name, digest in files.items()}


_HALF_STARS: tuple[float, ...] = tuple(np.arange(1, 11) / 2.0)


def _archive(
    name: str, folder: str | None = None, *, md5: str | None = None, size: int | None = None
) -> RemoteArchive:
    url = f"{_BASE_URL}/{name}.zip"
    return RemoteArchive(
        name=name, url=url, archive_folder=folder, md5=md5, size=size, md5_url=url + ".md5"
    )


# MD5s published by GroupLens next to the archives (``<archive>.zip.md5``); these
# archives are frozen, so their values are pinned. ml-latest-small is updated over
# time: its published ``.md5`` is fetched at download time instead.
#
# SHA-256 of the files the loaders read, as GroupLens publishes them inside the
# archives (ml-100k, ml-1m's movies.dat/users.dat, the October 2016 ml-latest-small).
# ml-1m's ratings.dat is known only by its git blob id (the same blob in several
# public copies of ml-1m). No digest of the ml-10m/ml-20m files is on record: those
# are checked by their published number of ratings and by value ranges.
_SIZES: dict[str, _SizeSpec] = {
    "100k": _SizeSpec(
        _archive("ml-100k", md5="0e33842e24a9c977be4e0107933c0723", size=4_924_029),
        ratings=_FileSpec("u.data", "\t"),
        items=_FileSpec("u.item", "|"),
        users=_FileSpec("u.user", "|"),
        published=_sha256(
            {
                "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
                "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
                "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
            }
        ),
        n_ratings=100_000,
    ),
    "1m": _SizeSpec(
        _archive("ml-1m", md5="c4d9eecfca2ab87c1945afe126590906"),
        ratings=_FileSpec("ratings.dat", "::"),
        items=_FileSpec("movies.dat", "::"),
        users=_FileSpec("users.dat", "::"),
        published={
            **_sha256(
                {
                    "movies.dat": "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9",
                    "users.dat": "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3",
                }
            ),
            "ratings.dat": PublishedFile(
                "ratings.dat", ("77a7c4b150f588c23bb9e1f068aa996c0b413695",), "git-blob"
            ),
        },
        n_ratings=1_000_209,
    ),
    "10m": _SizeSpec(
        _archive("ml-10m", folder="ml-10M100K", md5="ce571fd55effeba0271552578f2648bd"),
        ratings=_FileSpec("ratings.dat", "::"),
        items=_FileSpec("movies.dat", "::"),
        scale=_HALF_STARS,
        n_ratings=10_000_054,
    ),
    "20m": _SizeSpec(
        _archive("ml-20m", md5="cd245b17a1ae2cc31bb14903e1204af3"),
        ratings=_FileSpec("ratings.csv", ",", skiprows=1),
        items=_FileSpec("movies.csv", ","),
        scale=_HALF_STARS,
        n_ratings=20_000_263,
    ),
    "latest-small": _SizeSpec(
        _archive("ml-latest-small"),
        ratings=_FileSpec("ratings.csv", ",", skiprows=1),
        items=_FileSpec("movies.csv", ","),
        published=_sha256(
            {
                "ratings.csv": "b4239649fbf90ebf405c56c3ae1d929d9e7c86fc1a3a80cbef1c884df593ef73",
                "movies.csv": "43d1736d3c688eb5b7856473c36d86a1c345676cab256c91720c1f6984d263b5",
            }
        ),
        scale=_HALF_STARS,
        reissued=True,
    ),
}

#: The sizes :func:`load_pandas_df` accepts (``mock<N>`` for any positive N).
SIZES: tuple[str, ...] = (*_SIZES, "mock100")

_MOCK_RE = re.compile(r"^mock(\d+)$")
# the last "(YYYY)" (or "(YYYY-)", "(YYYY-YYYY)") in the title
_YEAR_RE = r"^.*\((\d{4})(?:[-\u2013]\d{0,4})?\)"


# --------------------------------------------------------------------------- parsing


def read_ratings(
    path: str | os.PathLike,
    sep: str = "\t",
    *,
    skiprows: int = 0,
    header: Sequence[str] | None = None,
    scale: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Parse a MovieLens ratings file: ``user<sep>item<sep>rating<sep>timestamp`` lines.

    Handles any separator, including ml-1m/ml-10m's ``::`` (replaced by a free
    one-character separator so pandas' fast C parser reads it), and gzip files
    (``.gz``). Every line must have the four fields; user and item ids must be
    positive, timestamps non-negative integers (seconds since 1970), and ratings in
    ``scale`` when given.

    Args:
        path: The file (``u.data``, ``ratings.dat``, ``ratings.csv``, ``*.gz``).
        sep: Field separator (``"\\t"``, ``"::"``, ``","``).
        skiprows: Lines to skip first (1 for the CSV files' header line).
        header: Output column names, 2 to 4 of them, for the leading fields
            (default ``(userID, itemID, rating, timestamp)``).
        scale: The allowed rating values (``(1, 2, 3, 4, 5)`` for ml-100k/ml-1m,
            half stars ``0.5 .. 5`` for the others); ``None`` checks none.

    Returns:
        A frame with ids and timestamp as int64 and rating as float64.

    Raises:
        CorruptDataError: the file holds no rating, a line has the wrong number of
            fields or a value out of range (the message names file and line).
        DataError: the file cannot be read or a value is not a number.
    """
    header = _check_header(header)
    path = Path(path)
    names = list(DEFAULT_HEADER)
    table = read_table(
        path,
        sep,
        names,
        skiprows=skiprows,
        dtype={names[0]: "int64", names[1]: "int64", names[2]: "float64", names[3]: "int64"},
        empty_ok=False,
    )
    _check_ratings(path, table, scale)
    df = table.frame.iloc[:, : len(header)]
    df.columns = list(header)
    return df


def _check_ratings(path: Path, table: Table, scale: Sequence[float] | None) -> None:
    user, item, rating, stamp = (table.frame[c].to_numpy() for c in DEFAULT_HEADER)
    table.check(
        path,
        (user < 1) | (item < 1),
        lambda r: f"user and item ids must be positive, found {user[r]} and {item[r]}.",
    )
    table.check(
        path,
        stamp < 0,
        lambda r: f"timestamps must be seconds since 1970 (>= 0), found {stamp[r]}.",
    )
    if scale is not None:
        allowed = [float(v) for v in scale]
        table.check(
            path,
            ~np.isin(rating, allowed),
            lambda r: f"rating {float(rating[r])!r} is outside the published scale {allowed}.",
        )


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
    """Return [itemID, title, genres, year] from a size's item file.

    Raises:
        CorruptDataError: a line with the wrong number of fields, a non-positive id,
            an empty title, or genres missing (ml-100k: a flag other than 0/1).
    """
    if size == "100k":
        names = ["item", "title", "release", "video", "url", *GENRES_100K]
        table = read_table(
            path, "|", names, dtype={"item": "int64", "title": "str"}, empty_ok=False
        )
        raw = table.frame
        flag_values = raw[list(GENRES_100K)].to_numpy(dtype=np.float64)
        table.check(
            path,
            ~np.isin(flag_values, (0.0, 1.0)).all(axis=1),
            lambda r: f"the 19 genre flags must be 0 or 1, found {flag_values[r]}.",
        )
        genres = join_flags(flag_values.astype(bool), np.array(GENRES_100K, dtype=object))
    else:
        sep = "::" if path.suffix == ".dat" else ","
        table = read_table(
            path,
            sep,
            ["item", "title", "genres"],
            skiprows=1 if sep == "," else 0,
            dtype={"item": "int64", "title": "str", "genres": "str"},
            quoting_csv=sep == ",",
            empty_ok=False,
        )
        raw = table.frame
        table.check(path, raw["genres"].isna(), lambda r: "the genres field is empty.")
        genres = raw["genres"].replace("(no genres listed)", "")
    items = raw["item"].to_numpy()
    table.check(path, items < 1, lambda r: f"item ids must be positive, found {items[r]}.")
    titles = raw["title"].fillna("").str.strip()
    table.check(path, titles.eq("").to_numpy(), lambda r: "the title field is empty.")
    return pd.DataFrame(
        {
            DEFAULT_ITEM_COL: items,
            DEFAULT_TITLE_COL: titles.to_numpy(),
            DEFAULT_GENRE_COL: pd.Series(genres).astype("str").to_numpy(),
            DEFAULT_YEAR_COL: _year_from_title(titles).to_numpy(),
        }
    ).astype({DEFAULT_TITLE_COL: "str", DEFAULT_GENRE_COL: "str", DEFAULT_YEAR_COL: "Int64"})


def _parse_users(size: str, path: Path) -> pd.DataFrame:
    """Return [userID, age, gender, occupation, zip_code] from a size's user file.

    Raises:
        CorruptDataError: a line with the wrong number of fields, a non-positive id or
            age, or (ml-1m) an occupation code outside 0..20.
    """
    if size == "100k":
        table = read_table(
            path,
            "|",
            ["user", "age", "gender", "occupation", "zip_code"],
            dtype={
                "user": "int64",
                "age": "int64",
                "gender": "str",
                "occupation": "str",
                "zip_code": "str",
            },
            empty_ok=False,
        )
        raw = table.frame
        occupation = raw["occupation"]
    else:
        table = read_table(
            path,
            "::",
            ["user", "gender", "age", "occupation", "zip_code"],
            dtype={
                "user": "int64",
                "age": "int64",
                "gender": "str",
                "occupation": "int64",
                "zip_code": "str",
            },
            empty_ok=False,
        )
        raw = table.frame
        codes = raw["occupation"].to_numpy()
        table.check(
            path,
            (codes < 0) | (codes >= len(OCCUPATIONS_1M)),
            lambda r: f"occupation codes must be 0..20, found {codes[r]}.",
        )
        occupation = pd.Series(np.array(OCCUPATIONS_1M, dtype=object)[codes], dtype="str")
    users, ages = raw["user"].to_numpy(), raw["age"].to_numpy()
    table.check(
        path,
        (users < 1) | (ages < 1),
        lambda r: f"user ids and ages must be positive, found {users[r]} and {ages[r]}.",
    )
    return pd.DataFrame(
        {
            DEFAULT_USER_COL: users,
            "age": ages,
            "gender": raw["gender"].astype("str").to_numpy(),
            "occupation": pd.Series(occupation).astype("str").to_numpy(),
            "zip_code": raw["zip_code"].astype("str").to_numpy(),
        }
    ).astype({"gender": "str", "occupation": "str", "zip_code": "str"})


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
    return make_interactions(
        n_users=n_users, n_items=n_items, n_interactions=n, n_groups=min(3, n_users), seed=seed
    )


def _fetch(size: str, filename: str, local_cache_path, progress: bool, verify: bool) -> Path:
    """The path of one of a size's files, checked against its published digest.

    With ``verify``, a pinned file must match one of its published digests; for a
    re-issued size (ml-latest-small), a folder extracted from an archive whose
    published MD5 was checked is trusted as it is (a newer release).
    """
    spec = _SIZES[size]
    folder = fetch_dataset(spec.archive, [filename], local_cache_path, progress=progress)
    published = spec.published.get(filename)
    if verify and published is not None:
        if not (spec.reissued and verified_extraction(folder)):
            check_published(folder, published, dataset=f"MovieLens {size}")
    return folder / filename


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
    verify: bool = True,
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
        verify: Check the files against GroupLens' published digests (and the
            published number of ratings where no digest is on record);
            ``False`` accepts a copy changed on purpose (a subset, ...). The
            format and value checks (fields per line, positive ids, timestamps
            >= 0, ratings on the size's scale, titles and genres present) always
            apply.

    Returns:
        Ratings (user/item/timestamp int64, rating float64), in file order.

    Raises:
        ConfigError: unknown size or bad header.
        DatasetUnavailableError: the files are nowhere to be found and cannot
            be downloaded, or ``local_cache_path`` does not exist (the message
            says what to set).
        CorruptDataError: an archive failed its integrity check; a file is not the
            published one (naming it, the expected and the actual digest); a line
            has the wrong number of fields or a value out of range (naming file
            and line); the ratings file is empty.
    """
    size = _resolve_size(size)
    header = _check_header(header)
    wanted = {
        DEFAULT_TITLE_COL: title_col,
        DEFAULT_GENRE_COL: genres_col,
        DEFAULT_YEAR_COL: year_col,
    }
    wanted = {k: v for k, v in wanted.items() if v is not None}
    clash = set(wanted.values()) & set(header)
    if clash or len(set(wanted.values())) != len(wanted):
        raise ConfigError(
            f"title/genres/year column names {list(wanted.values())} clash with "
            f"each other or with the header {header}."
        )
    if _MOCK_RE.match(size):
        data = _mock(size, seed)
        ratings = data.ratings.iloc[:, : len(header)].copy()
        ratings.columns = header
        items = data.items[[DEFAULT_ITEM_COL, *DEFAULT_HEADER_ITEM_FEATURES]]
    else:
        spec = _SIZES[size]
        path = _fetch(size, spec.ratings.name, local_cache_path, progress, verify)
        ratings = read_ratings(
            path, spec.ratings.sep, skiprows=spec.ratings.skiprows, header=header, scale=spec.scale
        )
        if verify and spec.n_ratings is not None and len(ratings) != spec.n_ratings:
            raise CorruptDataError(
                f"{path} holds {len(ratings)} ratings; MovieLens {size} as published holds "
                f"{spec.n_ratings}: the file is truncated or is not the published one. "
                f"Delete the folder {path.parent} and load again to download it, or pass "
                f"verify=False for a copy changed on purpose."
            )
        items = None
        if wanted:
            items = _load_items_raw(size, local_cache_path, progress, verify)
    if wanted:
        features = items[[DEFAULT_ITEM_COL, *wanted]].rename(
            columns={DEFAULT_ITEM_COL: header[1], **wanted}
        )
        ratings = ratings.merge(features, on=header[1], how="left", validate="many_to_one")
    logger.info("loaded MovieLens %s: %d ratings", size, len(ratings))
    return ratings


def load_spark_df(
    spark: Any,
    size: str = "100k",
    header: Sequence[str] | None = None,
    schema: Any = None,
    local_cache_path: str | os.PathLike | None = None,
    dbutils: Any = None,
    title_col: str | None = None,
    genres_col: str | None = None,
    year_col: str | None = None,
    seed: int | None = SEED,
    *,
    progress: bool = True,
    verify: bool = True,
) -> Any:
    """MovieLens ratings as a Spark DataFrame (Microsoft Recommenders' name and arguments).

    The rows and columns of :func:`load_pandas_df` with the same arguments -- read from
    the same mirror (``RECUTILS_DATA_MIRROR``) and cache, with the same checks -- handed
    to ``spark``. pyspark is imported here only.

    Args:
        spark: A ``SparkSession`` (e.g. :func:`recutils.spark.start_or_get_spark`).
        size, header, local_cache_path, title_col, genres_col, year_col, seed, progress, verify: As
            for :func:`load_pandas_df`.
        schema: ``None``: Spark types from the pandas dtypes (ids and timestamps
            ``bigint``, ratings ``double``). A ``StructType``: its fields rename and cast
            the leading columns (fewer fields keep only those), as Microsoft's.
        dbutils: Databricks utilities; accepted and ignored (the file is read on the
            driver, so no copy to DBFS is needed).

    Raises:
        ConfigError: as :func:`load_pandas_df`, or a ``schema`` that is not a
            ``StructType`` or has more fields than the data has columns.
        MissingDependencyError: pyspark is not installed.
    """
    from recutils.datasets._spark import to_spark_frame

    del dbutils
    frame = load_pandas_df(
        size,
        header=header,
        local_cache_path=local_cache_path,
        title_col=title_col,
        genres_col=genres_col,
        year_col=year_col,
        seed=seed,
        progress=progress,
        verify=verify,
    )
    return to_spark_frame(spark, frame, schema)


def _load_items_raw(size: str, local_cache_path, progress: bool, verify: bool) -> pd.DataFrame:
    return _parse_items(
        size, _fetch(size, _SIZES[size].items.name, local_cache_path, progress, verify)
    )


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
    verify: bool = True,
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
        verify: See :func:`load_pandas_df`.

    Raises:
        CorruptDataError: see :func:`load_pandas_df`.
    """
    size = _resolve_size(size)
    if _MOCK_RE.match(size):
        items = _mock(size, seed).items[[DEFAULT_ITEM_COL, *DEFAULT_HEADER_ITEM_FEATURES]].copy()
    else:
        items = _load_items_raw(size, local_cache_path, progress, verify)
    return items.rename(
        columns={
            DEFAULT_ITEM_COL: col_item,
            DEFAULT_TITLE_COL: title_col,
            DEFAULT_GENRE_COL: genres_col,
            DEFAULT_YEAR_COL: year_col,
        }
    )


def load_user_df(
    size: str = "100k",
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_user: str = DEFAULT_USER_COL,
    seed: int | None = SEED,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load the user table: ``[col_user, age, gender, occupation, zip_code]``.

    Only ``100k``, ``1m`` and the ``mock`` sizes have one. In ml-100k ``age`` is
    in years; in ml-1m it is the code of an age range (1: under 18, 18: 18-24,
    25: 25-34, 35: 35-44, 45: 45-49, 50: 50-55, 56: 56+) and the occupation
    code is mapped to its name from the ml-1m README.

    ``verify``: see :func:`load_pandas_df`.

    Raises:
        ConfigError: the size has no user file (the message lists those that do).
        CorruptDataError: see :func:`load_pandas_df`.
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
        users = _parse_users(
            size, _fetch(size, spec.users.name, local_cache_path, progress, verify)
        )
    return users.rename(columns={DEFAULT_USER_COL: col_user})


__all__ = [
    "DEFAULT_HEADER",
    "GENRES_100K",
    "OCCUPATIONS_1M",
    "SIZES",
    "load_item_df",
    "load_pandas_df",
    "load_spark_df",
    "load_user_df",
    "read_ratings",
]
