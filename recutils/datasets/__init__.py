"""Data sets: loaders, downloads, synthetic data, sparse matrices, negative sampling.

Submodules (imported lazily, so ``import recutils.datasets`` stays light):

* :mod:`~recutils.datasets.download`: mirror, cache and download resolution
  (``RECUTILS_DATA_MIRROR``, ``RECUTILS_DATA_HOME``, ``RECUTILS_OFFLINE``);
* :mod:`~recutils.datasets.movielens`: MovieLens 100k/1m/10m/20m/latest-small
  and synthetic ``mock<N>``;
* :mod:`~recutils.datasets.movielens_features`: MovieLens user/item feature frames and
  MovieLens as click-through data (ratings joined with features, 0/1 label);
* :mod:`~recutils.datasets.criteo`: Criteo DAC raw-format reader, sample loader and the
  frame the click-through models take;
* :mod:`~recutils.datasets.amazon`: Amazon reviews as pre-processed by ReChorus
  (implicit purchases with time and item category);
* :mod:`~recutils.datasets.beauty`: Amazon Beauty as BERT4Rec pre-processed it (one
  ordered item sequence per user, for next-item models);
* :mod:`~recutils.datasets.sessions`: click sessions (YOOCHOOSE rsc15-100k, DIGINETICA sample) for
  next-click models;
* :mod:`~recutils.datasets.taobao`: the head of Taobao UserBehavior (user, item, category,
  behaviour type, time);
* :mod:`~recutils.datasets.census`: UCI Census-Income (KDD) and UCI Adult with two labels
  per row (income, never married), the multi-task benchmark of MMoE;
* :mod:`~recutils.datasets.multitask_samples`: tiny Ali-CCP and AliExpress samples with click
  and conversion labels (shape and API tests of multi-task models only);
* :mod:`~recutils.datasets.behaviour_ctr`: click-through samples with behaviour histories
  (DIN-style, and Microsoft Recommenders' leave-last-out sequential setting);
* :mod:`~recutils.datasets.lastfm`: Last.fm HetRec 2011 play counts and friendships;
* :mod:`~recutils.datasets.kg`: item knowledge graphs (ml-100k KB4Rec/Freebase, MKR's Satori KGs):
  triples with entity/relation vocabularies and item -> entity links;
* :mod:`~recutils.datasets.synthetic`: MovieLens-like synthetic logs;
* :mod:`~recutils.datasets.sparse`: CSR matrices with id maps, the dense
  ``AffinityMatrix`` (Microsoft Recommenders' API), k-core
  filtering, negative sampling;
* :mod:`~recutils.datasets.pandas_helpers`: Microsoft Recommenders' frame helpers
  (``user_item_pairs``, ``filter_by``, ``negative_feedback_sampler``, ``LibffmConverter``).
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = (
    "download",
    "movielens",
    "movielens_features",
    "criteo",
    "amazon",
    "beauty",
    "taobao",
    "sessions",
    "census",
    "multitask_samples",
    "behaviour_ctr",
    "lastfm",
    "kg",
    "synthetic",
    "sparse",
    "pandas_helpers",
)
_FUNCTIONS = {
    "make_interactions": "synthetic",
    "SyntheticData": "synthetic",
    "AffinityMatrix": "sparse",
    "InteractionMatrix": "sparse",
    "to_csr": "sparse",
    "from_csr": "sparse",
    "filter_k_core": "sparse",
    "sample_negatives": "sparse",
    "fetch_dataset": "download",
    "fetch_files": "download",
    "get_data_home": "download",
    "movielens_ctr_frame": "movielens_features",
    "movielens_item_features": "movielens_features",
    "movielens_user_features": "movielens_features",
    "criteo_ctr_frame": "criteo",
    "load_kg": "kg",
    "history_samples": "behaviour_ctr",
    "leave_last_out_samples": "behaviour_ctr",
    "user_item_pairs": "pandas_helpers",
    "filter_by": "pandas_helpers",
    "negative_feedback_sampler": "pandas_helpers",
    "LibffmConverter": "pandas_helpers",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _FUNCTIONS:
        module = importlib.import_module(f"{__name__}.{_FUNCTIONS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES, *_FUNCTIONS])


__all__ = [*_SUBMODULES, *_FUNCTIONS]
