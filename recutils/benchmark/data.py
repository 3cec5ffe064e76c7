"""Data sets a benchmark spec can name (name -> loader of a long ratings frame)."""

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


__all__ = ["DATASETS", "load_dataset"]
