"""Grouped settings of :func:`~recutils.tuning.tune`: what to search, how to evaluate, how to run.

``tune()`` once took 24 flat keywords; they now live in three dataclasses, and every
flat keyword still works, mapped onto the field of the same name in its group
(:data:`FLAT_KEYWORDS`). These two calls are the same::

    tune("surprise_svd", space, train, metric="rmse", n_trials=20, seed=1)
    tune("surprise_svd", space, train, evaluation=EvaluationSettings(metric="rmse"),
         run=RunSettings(n_trials=20, seed=1))

A flat keyword given with its group overrides that group's field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recutils.constants import SEED
from recutils.exceptions import ConfigError, ModelFitError
from recutils.utils.validation import is_int


@dataclass(frozen=True)
class SearchSettings:
    """What to search, besides the model and its space.

    Attributes:
        sampler: ``"tpe"``, ``"random"``, ``"grid"`` (lists swept, scalars fixed; int and
            float ranges are not allowed) or an optuna sampler.
        pruner: ``"median"`` (default), ``"percentile"``, ``"hyperband"``,
            ``"successive_halving"``, ``"none"`` or an optuna pruner. Only models that
            report intermediate values (:data:`~recutils.tuning.objective.ITERATIVE_MODELS`,
            and deep models whose trainer reports each epoch's validation value for a
            rating metric such as ``auc``) are pruned.
        model_kwargs: Constructor arguments for every trial besides the config
            (``progress=False``, ``col_timestamp=...``).
    """

    sampler: str | Any = "tpe"
    pruner: str | Any | None = "median"
    model_kwargs: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class EvaluationSettings:
    """How each trial is scored.

    Attributes:
        metric: A metric of the registry (``"ndcg@10"``, ``"rmse"`` ...); the direction
            comes from the registry.
        split: A splitter spec (``{"name": "python_chrono_split", "ratio": 0.8}``) used
            when ``valid`` is None; default a stratified 75/25 split.
        remove_seen: Remove training items from ranked lists.
        eval_kwargs: Extra arguments of ``evaluate`` (``relevancy_method`` ...).
        report_every: Epochs between intermediate reports of iterative models.
        col_user, col_item, col_rating, col_prediction: Column names (recutils defaults).
    """

    metric: str = "ndcg@10"
    split: Mapping[str, Any] | str | None = None
    remove_seen: bool = True
    eval_kwargs: Mapping[str, Any] | None = None
    report_every: int = 1
    col_user: str | None = None
    col_item: str | None = None
    col_rating: str | None = None
    col_prediction: str | None = None

    def column_kwargs(self) -> dict[str, str]:
        """The column names that were set (the others keep the recutils defaults)."""
        names = ("col_user", "col_item", "col_rating", "col_prediction")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


@dataclass(frozen=True)
class RunSettings:
    """How the study runs.

    Attributes:
        n_trials: Finished trials the study should hold (all workers, all runs). None:
            the grid size for ``sampler="grid"``, else unlimited (give ``timeout``).
        timeout: Seconds after which no new trial starts (per process).
        n_jobs: Threads running trials in this process.
        workers: Processes running trials (needs a database storage); this process is
            one of them.
        storage: None (memory), a database URL (``"sqlite:///tune.db"``, a PostgreSQL
            URL ...) or an optuna storage.
        study_name: Name of the study (required with a database).
        seed: Seed of the sampler and of the models (when the space does not set it).
        progress: True: a tqdm bar; a callable: called with a dict per finished trial
            (``number``, ``state``, ``value``, ``best_value``, ``n_trials``); False: silent,
            Optuna's own per-trial INFO log lines included.
        catch: Exceptions that fail a trial without stopping the study.
        callbacks: Optuna callbacks ``(study, frozen_trial)`` after each trial.
        heartbeat_interval, grace_period: Heartbeat of database storages (seconds).
    """

    n_trials: int | None = None
    timeout: float | None = None
    n_jobs: int = 1
    workers: int = 1
    storage: str | Any | None = None
    study_name: str | None = None
    seed: int | None = SEED
    progress: bool | Callable[[dict[str, Any]], None] = True
    catch: Sequence[type[BaseException]] = (ModelFitError,)
    callbacks: Sequence[Callable[[Any, Any], None]] = ()
    heartbeat_interval: int | None = 10
    grace_period: int | None = None

    def validate(self) -> None:
        """Check the counts and the time budget.

        Raises:
            ConfigError: ``n_jobs``/``workers`` not a positive integer, ``n_trials``
                negative or not an integer, ``timeout`` not a positive number.
        """
        for name, value in (("n_jobs", self.n_jobs), ("workers", self.workers)):
            if not is_int(value) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
        n_trials, timeout = self.n_trials, self.timeout
        if n_trials is not None and (not is_int(n_trials) or n_trials < 0):
            raise ConfigError(f"n_trials must be a non-negative integer or None, got {n_trials!r}.")
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ConfigError(
                f"timeout must be a positive number of seconds or None, got {timeout!r}."
            )


_GROUPS: dict[str, type] = {
    "search": SearchSettings,
    "evaluation": EvaluationSettings,
    "run": RunSettings,
}

#: Each flat keyword of ``tune()`` and the group (argument name) that holds it.
FLAT_KEYWORDS: dict[str, str] = {
    field.name: group for group, cls in _GROUPS.items() for field in dataclasses.fields(cls)
}


def group_settings(
    search: SearchSettings | None = None,
    evaluation: EvaluationSettings | None = None,
    run: RunSettings | None = None,
    **flat: Any,
) -> tuple[SearchSettings, EvaluationSettings, RunSettings]:
    """The three groups, defaults filled in and flat keywords applied on top.

    Raises:
        ConfigError: a group of the wrong type, or a keyword that is no setting (the
            message lists the known ones).
    """
    unknown = sorted(set(flat) - set(FLAT_KEYWORDS))
    if unknown:
        raise ConfigError(
            f"unknown tune() keyword(s) {unknown}; known: {sorted(FLAT_KEYWORDS)} "
            f"and the groups {list(_GROUPS)}."
        )
    given = {"search": search, "evaluation": evaluation, "run": run}
    out = []
    for group, cls in _GROUPS.items():
        value = given[group]
        if value is None:
            value = cls()
        elif not isinstance(value, cls):
            raise ConfigError(f"{group}= must be a {cls.__name__}, got {type(value).__name__}.")
        overrides = {k: v for k, v in flat.items() if FLAT_KEYWORDS[k] == group}
        out.append(dataclasses.replace(value, **overrides) if overrides else value)
    return out[0], out[1], out[2]


__all__ = ["FLAT_KEYWORDS", "EvaluationSettings", "RunSettings", "SearchSettings", "group_settings"]
