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
GroupLens publishes no checksum for that archive, so every file a loader reads is
checked against the SHA-256 of the published file instead (:data:`FILE_SHA256`),
wherever it was found (``verify=False`` accepts a copy changed on purpose).
The data is for non-commercial use (readme.txt, "License"); recutils never ships it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_RATING_COL, DEFAULT_USER_COL
from recutils.datasets._text import Table, read_table
from recutils.datasets.download import PublishedFile, RemoteArchive, check_published, fetch_dataset
from recutils.exceptions import ConfigError

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


def _read(path: Path, fields: tuple[str, ...], dtype: dict, ids: tuple[str, ...]) -> Table:
    """Parse a HetRec file with its header; the ``ids`` columns must be positive."""
    table = read_table(path, "\t", fields, header=fields, dtype=dtype, empty_ok=False)
    for col in ids:
        values = table.frame[col].to_numpy()
        table.check(
            path,
            values < 1,
            lambda r, c=col, v=values: f"{c!r} must be a positive id, found {v[r]}.",
        )
    return table


def read_user_artists(
    path: str | os.PathLike,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
) -> pd.DataFrame:
    """Parse ``user_artists.dat``: ``[col_user, col_item]`` int64 and the play count as float64.

    Raises:
        CorruptDataError: another header, a line with the wrong number of fields, a
            non-positive id, an empty or non-integer count or a count < 1 (naming file
            and line).
        DataError: a value is not a number.
    """
    path = Path(path)
    fields = ("userID", "artistID", "weight")
    table = _read(
        path,
        fields,
        {"userID": "int64", "artistID": "int64", "weight": "float64"},
        ids=("userID", "artistID"),
    )
    df = table.frame
    weight = df["weight"].to_numpy()
    table.check(
        path,
        ~(weight >= 1) | (weight != np.round(weight)),
        lambda r: f"play counts must be integers >= 1, found {float(weight[r])!r}.",
    )
    df.columns = [col_user, col_item, col_rating]
    return df


def read_user_friends(
    path: str | os.PathLike,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_friend: str = DEFAULT_FRIEND_COL,
) -> pd.DataFrame:
    """Parse ``user_friends.dat``: ``[col_user, col_friend]`` int64 (each friendship twice)."""
    fields = ("userID", "friendID")
    df = _read(Path(path), fields, {c: "int64" for c in fields}, ids=fields).frame
    df.columns = [col_user, col_friend]
    return df


def read_artists(
    path: str | os.PathLike,
    *,
    col_item: str = DEFAULT_ITEM_COL,
    col_name: str = DEFAULT_NAME_COL,
) -> pd.DataFrame:
    """Parse ``artists.dat``: ``[col_item, col_name, "url"]`` (the picture URL is dropped)."""
    df = _read(
        Path(path),
        ("id", "name", "url", "pictureURL"),
        {"id": "int64", "name": "str", "url": "str", "pictureURL": "str"},
        ids=("id",),
    ).frame
    return pd.DataFrame(
        {
            col_item: df["id"].to_numpy(),
            col_name: df["name"].fillna("").astype("str").to_numpy(),
            "url": df["url"].fillna("").astype("str").to_numpy(),
        }
    )


def _file(filename: str, local_cache_path, progress: bool, verify: bool) -> Path:
    folder = fetch_dataset(ARCHIVE, [filename], local_cache_path, progress=progress)
    if verify:
        check_published(
            folder, PublishedFile(filename, (FILE_SHA256[filename],)), dataset="Last.fm HetRec 2011"
        )
    return folder / filename


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
    verify: bool = True,
) -> pd.DataFrame:
    """Load the user-artist play counts: ``[col_user, col_item, col_rating]``.

    ``col_rating`` holds the play count (float64, 1 to 352,698; heavy-tailed: a
    confidence, not a rating). 92,834 rows, 1,892 users, 17,632 artists.

    ``verify``: check the file against the SHA-256 of the published one
    (:data:`FILE_SHA256`); ``False`` accepts a copy changed on purpose (the format
    and value checks still apply). The same holds for the other loaders here.

    Raises:
        ConfigError: clashing column names.
        DatasetUnavailableError: not found and not downloadable.
        CorruptDataError: the file is not the published one (naming it, the expected
            and the actual digest), or a line is malformed (naming file and line).
    """
    _distinct([col_user, col_item, col_rating])
    path = _file(USER_ARTISTS_FILE, local_cache_path, progress, verify)
    df = read_user_artists(path, col_user=col_user, col_item=col_item, col_rating=col_rating)
    logger.info("loaded Last.fm HetRec 2011: %d user-artist rows", len(df))
    return df


def load_friends_df(
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_friend: str = DEFAULT_FRIEND_COL,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load the friendships: ``[col_user, col_friend]``, both directions (25,434 rows).

    ``verify``: see :func:`load_pandas_df`.
    """
    _distinct([col_user, col_friend])
    path = _file(USER_FRIENDS_FILE, local_cache_path, progress, verify)
    return read_user_friends(path, col_user=col_user, col_friend=col_friend)


def load_item_df(
    local_cache_path: str | os.PathLike | None = None,
    *,
    col_item: str = DEFAULT_ITEM_COL,
    col_name: str = DEFAULT_NAME_COL,
    progress: bool = True,
    verify: bool = True,
) -> pd.DataFrame:
    """Load the artists: ``[col_item, col_name, "url"]`` (17,632 rows).

    ``verify``: see :func:`load_pandas_df`.
    """
    _distinct([col_item, col_name, "url"])
    path = _file(ARTISTS_FILE, local_cache_path, progress, verify)
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
