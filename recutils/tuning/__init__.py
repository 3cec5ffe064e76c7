"""Hyper-parameter tuning of any registered model (``pip install "recutils[tuning]"``).

* :mod:`recutils.tuning.space`: search spaces as data (int / float linear or log /
  categorical / fixed / conditional), validated against the model's config class, and
  :func:`generate_param_grid` (Microsoft Recommenders' grid semantics).
* :mod:`recutils.tuning.objective`: one objective for every model
  (``create_model -> fit(train) -> evaluate(valid, metric)``), splitter specs.
* :mod:`recutils.tuning.search`: :func:`tune` (Optuna: TPE, random or grid; pruning;
  in-memory or database storage; threads and worker processes) returning a
  :class:`TuningResult`, with its settings grouped in :mod:`recutils.tuning.settings`
  (:class:`SearchSettings`, :class:`EvaluationSettings`, :class:`RunSettings`; the old flat
  keywords still work).
* :mod:`recutils.tuning.backend`: the Optuna storage, sampler, pruner, study and trial loop.
* :mod:`recutils.tuning.result`: :class:`TuningResult`; :func:`load_result` reads a study
  back from its database.
* ``recutils tune-worker`` (or ``python -m recutils.tuning.worker``): a worker for studies
  shared by many machines.

Optuna is imported only when a study runs (the space and grid helpers need only PyYAML).

Examples:
    >>> from recutils.tuning import SearchSpace, generate_param_grid
    >>> SearchSpace({"n_factors": {"type": "int", "low": 8, "high": 64}}).validate("surprise_svd").names
    ['n_factors']
    >>> len(generate_param_grid({"k": [10, 20], "shrink": [0.0, 1.0], "seed": 1}))
    4
"""

from __future__ import annotations

import importlib
from typing import Any

from recutils.tuning.objective import (
    DEFAULT_SPLIT,
    ITERATIVE_MODELS,
    SPLITTERS,
    MetricTarget,
    Objective,
    evaluate_model,
    split_from_spec,
)
from recutils.tuning.settings import EvaluationSettings, RunSettings, SearchSettings
from recutils.tuning.space import (
    Param,
    SearchSpace,
    as_search_space,
    generate_param_grid,
    nest_params,
)

# Names whose modules import pandas-heavy or optional machinery: resolved on first use.
_LAZY = {
    "tune": "search",
    "TuningResult": "result",
    "load_result": "result",
    "make_sampler": "backend",
    "make_pruner": "backend",
    "make_storage": "backend",
    "SAMPLERS": "backend",
    "PRUNERS": "backend",
    "StorageError": "backend",
    "CorruptStorageError": "backend",
    "StudyNotFoundError": "backend",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"recutils.tuning.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'recutils.tuning' has no attribute {name!r}")


def __dir__() -> list[str]:
    # the public names (those resolved on first use included), not the typing helpers
    return sorted(__all__)


__all__ = [
    "CorruptStorageError",
    "DEFAULT_SPLIT",
    "EvaluationSettings",
    "ITERATIVE_MODELS",
    "SPLITTERS",
    "MetricTarget",
    "Objective",
    "Param",
    "PRUNERS",
    "RunSettings",
    "SAMPLERS",
    "SearchSettings",
    "SearchSpace",
    "StorageError",
    "StudyNotFoundError",
    "TuningResult",
    "as_search_space",
    "evaluate_model",
    "generate_param_grid",
    "load_result",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "nest_params",
    "split_from_spec",
    "tune",
]
