"""MovieLens as click-through data, in the shape the shipped deep-model configs expect."""

from __future__ import annotations

import os

import pandas as pd

from recutils.constants import DEFAULT_LABEL_COL, DEFAULT_RATING_COL, DEFAULT_USER_COL


def movielens_ctr_frame(size: str = "100k", *, label_threshold: float = 4.0,
                        local_cache_path: str | os.PathLike | None = None,
                        col_label: str = DEFAULT_LABEL_COL, progress: bool = False) -> pd.DataFrame:
    """MovieLens ratings with user and item features and a 0/1 label.

    Columns: ``userID``, ``itemID``, ``rating``, ``timestamp``, ``genres`` (``'|'``-joined),
    ``year``, ``age``, ``gender``, ``occupation``, ``zip_code`` and ``col_label``
    (``rating >= label_threshold`` as float 0/1), in the ratings file order.
    """
    from recutils.datasets import movielens

    ratings = movielens.load_pandas_df(size, local_cache_path=local_cache_path, genres_col="genres",
                                       year_col="year", progress=progress)
    users = movielens.load_user_df(size, local_cache_path=local_cache_path, progress=progress)
    df = ratings.merge(users, on=DEFAULT_USER_COL, how="left", validate="many_to_one")
    df[col_label] = (df[DEFAULT_RATING_COL] >= label_threshold).astype("float64")
    return df.sort_index().reset_index(drop=True)


__all__ = ["movielens_ctr_frame"]
