"""Last.fm listening data of the HetRec 2011 workshop (``hetrec2011-lastfm-2k``).

1,892 Last.fm users, their 50 most listened artists with play counts, and their
friendships, published by GroupLens for the 2nd HetRec workshop (Cantador,
Brusilovsky and Kuflik, RecSys 2011). Files (tab-separated with a header row;
``user_artists.dat``, ``user_friends.dat`` and ``tags.dat`` end lines with CRLF;
text is ISO-8859-1 where it is not UTF-8):

* ``user_artists.dat``: ``userID  artistID  weight`` (weight = play count);
  92,834 rows, 1,892 users, 17,632 artists;
* ``user_friends.dat``: ``userID  friendID``; 25,434 rows, both directions of each
  of the 12,717 friendships;
* ``artists.dat``: ``id  name  url  pictureURL``; 17,632 artists.

Files are found by :func:`recutils.datasets.download.fetch_dataset`:
``local_cache_path``, ``$RECUTILS_DATA_MIRROR/hetrec2011-lastfm-2k/`` (or the zip
there), the cache, then a download of GroupLens' ``hetrec2011-lastfm-2k.zip``.
GroupLens publishes no checksum for that archive, so the files recutils extracts
from it are checked against the SHA-256 of the published files instead
(:data:`FILE_SHA256`; a copy made by hand in a mirror is trusted as it is).
The data is for non-commercial use (readme.txt, "License"); recutils never ships it.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_RATING_COL, DEFAULT_USER_COL
from recutils.datasets.download import MARKER, RemoteArchive, fetch_dataset, verify_file
from recutils.exceptions import ConfigError, DataError

logger = logging.getLogger(__name__)

DEFAULT_FRIEND_COL = "friendID"
DEFAULT_NAME_COL = "name"

ARCHIVE = RemoteArchive(
    name="hetrec2011-lastfm-2k",
    url="https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
    archive_folder="",
)
USER_ARTISTS_FILE = "user_artists.dat"
USER_FRIENDS_FILE = "user_friends.dat"
ARTISTS_FILE = "artists.dat"

#: SHA-256 of the published files, checked on the files recutils extracts itself.
FILE_SHA256: dict[str, str] = {
    USER_ARTISTS_FILE: "001400dc3c7d2667fca6e4ea6dc6acc31a9dd28ad5cd0f74cea988c019934d3b",
    USER_FRIENDS_FILE: "9a3a8f7fa5f5ec832335e5b58ed69a4cf27c6f6f6afcde62134810eea46445a7",
    ARTISTS_FILE: "c173881362c6b28551368fecb3c0be5a6a30a6cd859e1f5775413dfe46d48648",
}


def _read(path: Path, fields: tuple[str, ...], dtype: dict) -> pd.DataFrame:
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path}: {err}") from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        df = pd.read_csv(io.StringIO(text), sep="\t", header=0, dtype=dtype, engine="c",
                         quoting=3, keep_default_na=False, na_values=[""])
    except (ValueError, pd.errors.ParserError) as err:
        raise DataError(f"cannot parse {path} as tab-separated {list(fields)}: {err}") from err
    if tuple(df.columns) != fields:
        raise DataError(f"{path}: expected the header {list(fields)}, found {list(df.columns)}.")
    return df


def read_user_artists(
    path: str | os.PathLike,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
) -> pd.DataFrame:
    """Parse ``user_artists.dat``: ``[col_user, col_item]`` int64 and the play count as float64.

    Raises:
        DataError: unparsable file, another header, an empty field or a count < 1.
    """
    path = Path(path)
    fields = ("userID", "artistID", "weight")
    df = _read(path, fields, {"userID": "int64", "artistID": "int64", "weight": "float64"})
    bad = df["weight"].isna() | (df["weight"] < 1)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise DataError(f"{path}: play counts must be >= 1, found {df['weight'].iloc[row]!r} "
                        f"on data row {row + 1}.")
    df.columns = [col_user, col_item, col_rating]
    return df


def read_user_friends(
    path: str | os.PathLike, *, col_user: str = DEFAULT_USER_COL,
    col_friend: str = DEFAULT_FRIEND_COL,
) -> pd.DataFrame:
    """Parse ``user_friends.dat``: ``[col_user, col_friend]`` int64 (each friendship twice)."""
    df = _read(Path(path), ("userID", "friendID"), {"userID": "int64", "friendID": "int64"})
    df.columns = [col_user, col_friend]
    return df


def read_artists(
    path: str | os.PathLike, *, col_item: str = DEFAULT_ITEM_COL,
    col_name: str = DEFAULT_NAME_COL,
) -> pd.DataFrame:
    """Parse ``artists.dat``: ``[col_item, col_name, "url"]`` (the picture URL is dropped)."""
    df = _read(Path(path), ("id", "name", "url", "pictureURL"),
               {"id": "int64", "name": "str", "url": "str", "pictureURL": "str"})
    return pd.DataFrame({col_item: df["id"].to_numpy(),
                         col_name: df["name"].fillna("").astype("str").to_numpy(),
                         "url": df["url"].fillna("").astype("str").to_numpy()})


def _file(filename: str, local_cache_path, progress: bool) -> Path:
    folder = fetch_dataset(ARCHIVE, [filename], local_cache_path, progress=progress)
    path = folder / filename
    if (folder / MARKER).is_file():  # extracted by recutils from the archive: check the file
        verify_file(path, sha256=FILE_SHA256[filename])
    return path


def _distinct(names: list[str]) -> None:
    if len(set(names)) != len(names):
        raise ConfigError(f"column names must be distinct, got {names}.")


def load_pandas_df(
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    progress: bool = True,
) -> pd.DataFrame:
    """Load the user-artist play counts: ``[col_user, col_item, col_rating]``.

    ``col_rating`` holds the play count (float64, 1 to 352,698; heavy-tailed: a
    confidence, not a rating). 92,834 rows, 1,892 users, 17,632 artists.

    Raises:
        ConfigError: clashing column names.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: a file extracted from the downloaded archive fails its checksum.
    """
    _distinct([col_user, col_item, col_rating])
    path = _file(USER_ARTISTS_FILE, local_cache_path, progress)
    df = read_user_artists(path, col_user=col_user, col_item=col_item, col_rating=col_rating)
    logger.info("loaded Last.fm HetRec 2011: %d user-artist rows", len(df))
    return df


def load_friends_df(
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_friend: str = DEFAULT_FRIEND_COL,
    progress: bool = True,
) -> pd.DataFrame:
    """Load the friendships: ``[col_user, col_friend]``, both directions (25,434 rows)."""
    _distinct([col_user, col_friend])
    path = _file(USER_FRIENDS_FILE, local_cache_path, progress)
    return read_user_friends(path, col_user=col_user, col_friend=col_friend)


def load_item_df(
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_item: str = DEFAULT_ITEM_COL,
    col_name: str = DEFAULT_NAME_COL,
    progress: bool = True,
) -> pd.DataFrame:
    """Load the artists: ``[col_item, col_name, "url"]`` (17,632 rows)."""
    _distinct([col_item, col_name, "url"])
    path = _file(ARTISTS_FILE, local_cache_path, progress)
    return read_artists(path, col_item=col_item, col_name=col_name)


__all__ = [
    "ARCHIVE",
    "DEFAULT_FRIEND_COL",
    "DEFAULT_NAME_COL",
    "FILE_SHA256",
    "load_friends_df",
    "load_item_df",
    "load_pandas_df",
    "read_artists",
    "read_user_artists",
    "read_user_friends",
]
