"""Evaluation protocols: how a data set is split for a benchmark, as a registry.

Each protocol turns ``(data, seed)`` into ``(train, test)``. Both use k from the spec.

* ``ms_stratified``: Microsoft Recommenders' benchmark protocol,
  ``python_stratified_split(ratio=0.75, min_rating=1, filter_by="item", seed=seed)``:
  each item's ratings are split 75/25 at random, so the split changes with the seed.
* ``chrono``: a temporal protocol, ``python_chrono_split(ratio=0.75, min_rating=1,
  filter_by="user")``: each user's earliest 75% of ratings train, the latest 25% test.
  The split is deterministic; seeds vary the models only.
* ``chrono80``: the same with 80/20 (the retrieval benchmark's protocol).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL
from recutils.exceptions import ConfigError
from recutils.splitting import python_chrono_split, python_stratified_split


@dataclass(frozen=True)
class Protocol:
    """A named split.

    Attributes:
        name: Registry name.
        description: One line for reports.
        split: ``(data, seed) -> (train, test)``.
        seeded: Whether the split depends on the seed.
    """

    name: str
    description: str
    split: Callable[[pd.DataFrame, int], tuple[pd.DataFrame, pd.DataFrame]]
    seeded: bool


def _ms_stratified(data: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = python_stratified_split(
        data,
        ratio=0.75,
        min_rating=1,
        filter_by="item",
        col_user=DEFAULT_USER_COL,
        col_item=DEFAULT_ITEM_COL,
        seed=seed,
    )
    return train, test


def _chrono_split(ratio: float) -> Callable[[pd.DataFrame, int], tuple[pd.DataFrame, pd.DataFrame]]:
    def split(data: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        train, test = python_chrono_split(
            data,
            ratio=ratio,
            min_rating=1,
            filter_by="user",
            col_user=DEFAULT_USER_COL,
            col_item=DEFAULT_ITEM_COL,
            col_timestamp=DEFAULT_TIMESTAMP_COL,
        )
        return train, test

    return split


_chrono = _chrono_split(0.75)


#: name -> protocol.
PROTOCOLS: dict[str, Protocol] = {
    "ms_stratified": Protocol(
        "ms_stratified",
        "Microsoft Recommenders' protocol: stratified split per item, 75/25, seeded",
        _ms_stratified,
        seeded=True,
    ),
    "chrono": Protocol(
        "chrono",
        "temporal: each user's earliest 75% of ratings train, the latest 25% test",
        _chrono,
        seeded=False,
    ),
    "chrono80": Protocol(
        "chrono80",
        "temporal: each user's earliest 80% of ratings train, the latest 20% test",
        _chrono_split(0.8),
        seeded=False,
    ),
}


def get_protocol(name: str) -> Protocol:
    """The protocol registered as ``name``.

    Raises:
        ConfigError: unknown name (the message lists the known ones).
    """
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; known: {sorted(PROTOCOLS)}.")
    return PROTOCOLS[name]


__all__ = ["Protocol", "PROTOCOLS", "get_protocol"]
