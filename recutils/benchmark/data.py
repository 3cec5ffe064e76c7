"""Data sets a benchmark spec can name (name -> loader of a long ratings frame), and the item
side data of each (``(data set, name)`` -> loader of one row per item) that a model entry can
ask for with ``item_features``."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from recutils.exceptions import ConfigError


def _movielens(size: str) -> pd.DataFrame:
    from recutils.datasets.movielens import load_pandas_df

    return load_pandas_df(size, progress=False)


#: name -> ``loader(data_size) -> DataFrame[userID, itemID, rating, timestamp]``.
DATASETS: dict[str, Callable[[str], pd.DataFrame]] = {"movielens": _movielens}


def _movielens_item_text(size: str) -> pd.DataFrame:
    from recutils.datasets.movielens_text import movielens_item_text

    return movielens_item_text(size, progress=False)


#: data set -> side-data name -> ``loader(data_size) -> DataFrame[itemID, ...]`` (one row per
#: item). MovieLens ``text``: ``title``, ``genres`` and ``tags`` (``""`` for sizes without tags).
ITEM_FEATURES: dict[str, dict[str, Callable[[str], pd.DataFrame]]] = {
    "movielens": {"text": _movielens_item_text},
}


def load_dataset(name: str, size: str) -> pd.DataFrame:
    """Load data set ``name`` at ``size`` (MovieLens reads ``RECUTILS_DATA_MIRROR`` first).

    Raises:
        ConfigError: unknown name.
        DatasetUnavailableError: the files cannot be found or downloaded.
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}.")
    return DATASETS[name](size)


def check_item_features(dataset: str, name: str) -> None:
    """Raise :class:`ConfigError` unless data set ``dataset`` has item side data ``name``."""
    known = ITEM_FEATURES.get(dataset, {})
    if name not in known:
        raise ConfigError(f"dataset {dataset!r} has no item side data {name!r}; known: {sorted(known)}.")


def load_item_features(dataset: str, name: str, size: str) -> pd.DataFrame:
    """Load the item side data ``name`` of data set ``dataset`` at ``size``.

    Raises:
        ConfigError: unknown data set or side-data name.
        DatasetUnavailableError: the files cannot be found or downloaded.
    """
    check_item_features(dataset, name)
    return ITEM_FEATURES[dataset][name](size)


__all__ = ["DATASETS", "ITEM_FEATURES", "check_item_features", "load_dataset", "load_item_features"]
