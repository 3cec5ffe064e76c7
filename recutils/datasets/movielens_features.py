"""MovieLens side features: per-user and per-item feature frames, and click-through data.

* :func:`movielens_user_features` / :func:`movielens_item_features`: one row per user
  (age bucket, gender, occupation) or item (``'|'``-joined genres, release-year bucket),
  the frames hybrid models such as LightFM take as side features;
* :func:`movielens_ctr_frame`: the ratings joined with item and user features and a 0/1
  label, in the shape the shipped deep-model configs expect.

Pandas only (the loaders of :mod:`recutils.datasets.movielens` are imported when used).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_GENRE_COL,
    DEFAULT_ITEM_COL,
    DEFAULT_LABEL_COL,
    DEFAULT_RATING_COL,
    DEFAULT_USER_COL,
    DEFAULT_YEAR_COL,
)
from recutils.exceptions import DataError
from recutils.utils.validation import check_columns

#: Age buckets of MovieLens 1M (lower bounds), used for ml-100k ages in years.
AGE_BUCKETS: tuple[tuple[int, str], ...] = (
    (0, "<18"),
    (18, "18-24"),
    (25, "25-34"),
    (35, "35-44"),
    (45, "45-49"),
    (50, "50-55"),
    (56, "56+"),
)


def movielens_user_features(users: pd.DataFrame, col_user: str = DEFAULT_USER_COL) -> pd.DataFrame:
    """``[col_user, age, gender, occupation]`` with ages in MovieLens 1M buckets.

    Args:
        users: :func:`recutils.datasets.movielens.load_user_df` output (ml-100k: age in
            years; ml-1m ages are already bucket codes and are kept as categories).
    """
    check_columns(users, [col_user, "age", "gender", "occupation"], name="users")
    age = users["age"].to_numpy()
    bounds = np.array([b for b, _ in AGE_BUCKETS])
    labels = np.array([name for _, name in AGE_BUCKETS], dtype=object)
    bucket = labels[np.searchsorted(bounds, age, side="right") - 1]
    return pd.DataFrame(
        {
            col_user: users[col_user].to_numpy(),
            "age": pd.Series(bucket, dtype="str").to_numpy(),
            "gender": users["gender"].astype("str").to_numpy(),
            "occupation": users["occupation"].astype("str").to_numpy(),
        }
    )


def movielens_item_features(
    items: pd.DataFrame,
    col_item: str = DEFAULT_ITEM_COL,
    genres_col: str = DEFAULT_GENRE_COL,
    year_col: str = DEFAULT_YEAR_COL,
    year_bucket: int = 10,
) -> pd.DataFrame:
    """``[col_item, genres, year]``: ``'|'``-joined genres and the release year bucket.

    Args:
        items: :func:`recutils.datasets.movielens.load_item_df` output.
        year_bucket: Width of the year buckets in years (``"1990s"`` for 10);
            unknown years give ``"unknown"``.
    """
    check_columns(items, [col_item, genres_col, year_col], name="items")
    if isinstance(year_bucket, bool) or not isinstance(year_bucket, int) or year_bucket < 1:
        raise DataError(f"year_bucket must be a positive integer, got {year_bucket!r}.")
    start = pd.array(items[year_col], dtype="Int64") // year_bucket * year_bucket
    label = [
        "unknown"
        if pd.isna(s)
        else (f"{s}s" if year_bucket == 10 else f"{s}-{s + year_bucket - 1}")
        for s in start
    ]
    return pd.DataFrame(
        {
            col_item: items[col_item].to_numpy(),
            "genres": items[genres_col].fillna("").astype("str").to_numpy(),
            "year": pd.Series(label, dtype="str").to_numpy(),
        }
    )


def movielens_ctr_frame(
    size: str = "100k",
    *,
    label_threshold: float = 4.0,
    local_cache_path: str | os.PathLike | None = None,
    col_label: str = DEFAULT_LABEL_COL,
    progress: bool = False,
) -> pd.DataFrame:
    """MovieLens ratings with user and item features and a 0/1 label.

    Columns: ``userID``, ``itemID``, ``rating``, ``timestamp``, ``genres`` (``'|'``-joined),
    ``year``, ``age``, ``gender``, ``occupation``, ``zip_code`` and ``col_label``
    (``rating >= label_threshold`` as float 0/1), in the ratings file order.
    """
    from recutils.datasets import movielens

    ratings = movielens.load_pandas_df(
        size,
        local_cache_path=local_cache_path,
        genres_col="genres",
        year_col="year",
        progress=progress,
    )
    users = movielens.load_user_df(size, local_cache_path=local_cache_path, progress=progress)
    df = ratings.merge(users, on=DEFAULT_USER_COL, how="left", validate="many_to_one")
    df[col_label] = (df[DEFAULT_RATING_COL] >= label_threshold).astype("float64")
    return df.sort_index().reset_index(drop=True)


__all__ = [
    "AGE_BUCKETS",
    "movielens_ctr_frame",
    "movielens_item_features",
    "movielens_user_features",
]
