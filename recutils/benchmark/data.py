"""Data sets a benchmark spec can name (name -> loader of a long ratings frame), and the
per-user / per-item side features of those that have them."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from recutils.exceptions import ConfigError


def _movielens(size: str) -> pd.DataFrame:
    from recutils.datasets.movielens import load_pandas_df

    return load_pandas_df(size, progress=False)


#: name -> ``loader(data_size) -> DataFrame[userID, itemID, rating, timestamp]``.
DATASETS: dict[str, Callable[[str], pd.DataFrame]] = {"movielens": _movielens}


def load_dataset(name: str, size: str) -> pd.DataFrame:
    """Load data set ``name`` at ``size`` (MovieLens reads ``RECUTILS_DATA_MIRROR`` first).

    Raises:
        ConfigError: unknown name.
        DatasetUnavailableError: the files cannot be found or downloaded.
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}.")
    return DATASETS[name](size)


def _movielens_side_features(size: str) -> dict[str, pd.DataFrame]:
    from recutils.datasets.movielens import load_item_df, load_user_df
    from recutils.datasets.movielens_features import (
        movielens_item_features,
        movielens_user_features,
    )

    return {"user_features": movielens_user_features(load_user_df(size, progress=False)),
            "item_features": movielens_item_features(load_item_df(size, progress=False))}


#: name -> ``loader(data_size) -> {"user_features": frame, "item_features": frame}``, the
#: keyword arguments that a model spec with ``side_features: true`` gets in ``fit``.
SIDE_FEATURES: dict[str, Callable[[str], dict[str, pd.DataFrame]]] = {
    "movielens": _movielens_side_features}


def load_side_features(name: str, size: str) -> dict[str, pd.DataFrame]:
    """The side-feature frames of data set ``name`` at ``size``, as ``fit`` keyword arguments
    (MovieLens: :func:`~recutils.datasets.movielens_features.movielens_user_features` (age
    bucket, gender, occupation) and
    :func:`~recutils.datasets.movielens_features.movielens_item_features` (genres, year
    bucket)).

    Raises:
        ConfigError: the data set has no side features.
    """
    if name not in SIDE_FEATURES:
        raise ConfigError(f"dataset {name!r} has no side features; datasets with them: "
                          f"{sorted(SIDE_FEATURES)}.")
    return SIDE_FEATURES[name](size)


__all__ = ["DATASETS", "SIDE_FEATURES", "load_dataset", "load_side_features"]
