"""Data sets a benchmark spec can name (name -> loader of a long ratings frame), and the side
data of each (``(data set, name)`` -> loader of the keyword arguments ``fit`` takes with it)
that a model entry asks for with ``side_data``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError


def _movielens(size: str) -> pd.DataFrame:
    from recutils.datasets.movielens import load_pandas_df

    return load_pandas_df(size, progress=False)


#: name -> ``loader(data_size) -> DataFrame[userID, itemID, rating, timestamp]``.
DATASETS: dict[str, Callable[[str], pd.DataFrame]] = {"movielens": _movielens}


def _movielens_text(size: str) -> dict[str, pd.DataFrame]:
    from recutils.datasets.movielens_text import movielens_item_text

    return {"item_features": movielens_item_text(size, progress=False)}


def _movielens_features(size: str) -> dict[str, pd.DataFrame]:
    from recutils.datasets.movielens import load_item_df, load_user_df
    from recutils.datasets.movielens_features import (
        movielens_item_features,
        movielens_user_features,
    )

    return {
        "user_features": movielens_user_features(load_user_df(size, progress=False)),
        "item_features": movielens_item_features(load_item_df(size, progress=False)),
    }


def _movielens_kg(size: str) -> dict[str, object]:
    from recutils.datasets.kg import load_kg

    if size != "100k":
        raise ConfigError(
            f"the MovieLens knowledge graph (KB4Rec) is linked to ml-100k only, not {size!r}."
        )
    return {"kg": load_kg("ml-100k", progress=False)}


#: data set -> side-data name -> ``loader(data_size) -> {fit keyword: frame}``. MovieLens
#: ``text``: ``item_features`` with ``title``, ``genres`` and ``tags`` (``""`` for sizes without
#: tags); ``features``: ``user_features`` (age bucket, gender, occupation) and ``item_features``
#: (genres, year bucket), one row per id; ``kg``: the ml-100k knowledge graph (``kg=``, a
#: :class:`~recutils.datasets.kg.KnowledgeGraph`; 100k only).
SIDE_DATA: dict[str, dict[str, Callable[[str], dict[str, pd.DataFrame]]]] = {
    "movielens": {"text": _movielens_text, "features": _movielens_features, "kg": _movielens_kg},
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


def check_side_data(dataset: str, name: str) -> None:
    """Raise :class:`ConfigError` unless data set ``dataset`` has side data ``name``."""
    known = SIDE_DATA.get(dataset, {})
    if name not in known:
        raise ConfigError(f"dataset {dataset!r} has no side data {name!r}; known: {sorted(known)}.")


def load_side_data(dataset: str, name: str, size: str) -> dict[str, pd.DataFrame]:
    """Load the side data ``name`` of data set ``dataset`` at ``size``, as ``fit`` keyword arguments.

    Raises:
        ConfigError: unknown data set or side-data name.
        DatasetUnavailableError: the files cannot be found or downloaded.
    """
    check_side_data(dataset, name)
    return SIDE_DATA[dataset][name](size)


def sample_rows_of(frame: pd.DataFrame, sample_rows: int | None, seed: int) -> pd.DataFrame:
    """``sample_rows`` rows of ``frame`` drawn with ``seed`` (without replacement, in frame
    order); the whole frame when None or not smaller than it.

    Raises:
        ConfigError: ``sample_rows`` is not an integer >= 10 or None.
    """
    if sample_rows is None:
        return frame
    if (
        isinstance(sample_rows, bool)
        or not isinstance(sample_rows, (int, np.integer))
        or sample_rows < 10
    ):
        raise ConfigError(f"sample_rows must be an integer >= 10 or None, got {sample_rows!r}.")
    if sample_rows >= len(frame):
        return frame
    keep = np.sort(np.random.default_rng(seed).choice(len(frame), int(sample_rows), replace=False))
    return frame.iloc[keep]


__all__ = [
    "DATASETS",
    "SIDE_DATA",
    "check_side_data",
    "load_dataset",
    "load_side_data",
    "sample_rows_of",
]
