"""``tune()``: an Optuna study over any registered model, in memory or in a database.

Storage is a URL: ``None`` keeps the study in memory (one process); ``"sqlite:///tune.db"``
(the default of the worker command) keeps it in an SQLite file, so a study interrupted
by a killed process resumes where it stopped; any SQLAlchemy URL
(``"postgresql+psycopg2://user:pw@host/db"``) lets workers on many machines share one
study. Database storages use Optuna's heartbeat: the trial of a killed worker is marked
``FAIL`` once its heartbeat is ``grace_period`` seconds old, and its number is drawn
again by the next worker.

``n_trials`` counts *finished* trials (complete or pruned) of the whole study, over all
workers and all resumptions: ``tune(..., n_trials=30)`` on a study holding 12 finished
trials runs 18 more. A worker takes a trial only while the finished and running trials
number fewer than ``n_trials``; when two workers race for the last slot the later one
marks its trial ``FAIL`` with the user attribute ``recutils_surplus`` before training
anything (such trials are left out of :attr:`TuningResult.trials`), so no finished trial
is lost or counted twice.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from recutils.constants import SEED
from recutils.exceptions import ConfigError, ModelFitError, StateError
from recutils.tuning.objective import (
    PARAMS_ATTR,
    Columns,
    MetricTarget,
    Objective,
    check_frames,
    is_spark_frame,
    resolve_data,
)
from recutils.tuning.space import SearchSpace, as_search_space, nest_params
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "percentile", "hyperband", "successive_halving", "none")
SPEC_ATTR = "recutils"
SURPLUS_ATTR = "recutils_surplus"
WORKER_ATTR = "recutils_worker"
GRID_PARAM = "grid_index"
_POLL_SECONDS = 0.5


def _optuna() -> Any:
    return require("optuna", "tuning")


class _SurplusTrial(Exception):
    """Raised inside a trial taken after the study already had enough trials."""


# --------------------------------------------------------------------------- pieces
def make_storage(storage: Any, *, heartbeat_interval: int | None = 10,
                 grace_period: int | None = None) -> Any:
    """An Optuna storage from ``None`` (in memory), a database URL or a storage object.

    SQLite URLs get a 60 s busy timeout (several processes write one file). Database
    storages get a heartbeat every ``heartbeat_interval`` seconds (``None``: off; then a
    killed worker's trial stays ``RUNNING``).
    """
    optuna = _optuna()
    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if not isinstance(storage, str) or "://" not in storage:
        raise ConfigError(
            f"storage must be None, a database URL such as 'sqlite:///tune.db' or "
            f"'postgresql+psycopg2://user:pw@host/db', or an optuna storage; got {storage!r}.")
    engine_kwargs: dict[str, Any] = {}
    if storage.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    if heartbeat_interval is not None and (not isinstance(heartbeat_interval, int)
                                           or heartbeat_interval < 1):
        raise ConfigError(f"heartbeat_interval must be a positive integer or None, got {heartbeat_interval!r}.")
    with _quiet_experimental():
        return optuna.storages.RDBStorage(storage, engine_kwargs=engine_kwargs,
                                          heartbeat_interval=heartbeat_interval,
                                          grace_period=grace_period)


@contextlib.contextmanager
def _quiet_experimental() -> Iterator[None]:
    """Silence Optuna's ExperimentalWarning (heartbeats) inside the block."""
    optuna = _optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def make_sampler(sampler: Any, seed: int | None, n_grid: int | None = None) -> Any:
    """``"tpe"`` (default), ``"random"``, ``"grid"`` (over ``n_grid`` points) or a sampler."""
    optuna = _optuna()
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sampler == "grid":
        return optuna.samplers.GridSampler({GRID_PARAM: list(range(int(n_grid or 0)))}, seed=seed)
    raise ConfigError(f"unknown sampler {sampler!r}; known: {list(SAMPLERS)} or an optuna sampler.")


def make_pruner(pruner: Any) -> Any:
    """``"median"`` (default), ``"percentile"``, ``"hyperband"``, ``"successive_halving"``,
    ``"none"``/``None`` or an Optuna pruner."""
    optuna = _optuna()
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner is None or pruner == "none":
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if pruner == "percentile":
        return optuna.pruners.PercentilePruner(25.0, n_startup_trials=3, n_warmup_steps=1)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    raise ConfigError(f"unknown pruner {pruner!r}; known: {list(PRUNERS)} or an optuna pruner.")


def _state_name(state: Any) -> str:
    return getattr(state, "name", str(state))


def _is_surplus(trial: Any) -> bool:
    return bool(trial.user_attrs.get(SURPLUS_ATTR, False))


class _GridObjective:
    """Wraps an :class:`Objective` so each trial takes one point of a fixed grid."""

    def __init__(self, objective: Objective, grid: list[dict[str, Any]]) -> None:
        self.objective = objective
        self.grid = grid

    def __call__(self, trial: Any) -> float:
        index = trial.suggest_categorical(GRID_PARAM, list(range(len(self.grid))))
        point = self.grid[index]
        return self.objective(_FixedTrial(trial, point))


class _FixedTrial:
    """A trial whose ``suggest_*`` return preset values (grid points)."""

    def __init__(self, trial: Any, values: Mapping[str, Any]) -> None:
        self._trial = trial
        self._values = values

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._values[name]

    suggest_float = suggest_int
    suggest_categorical = suggest_int


# ------------------------------------------------------------------------- the loop
class _Runner:
    """Runs trials of one study until it holds ``n_trials`` finished trials or time is up."""

    def __init__(self, study: Any, objective: Callable[[Any], float], n_trials: int | None,
                 timeout: float | None, catch: tuple[type[BaseException], ...],
                 callbacks: Sequence[Callable[[Any, Any], None]], report: Callable[[Any], None] | None
                 ) -> None:
        self.study = study
        self.objective = objective
        self.n_trials = n_trials
        self.deadline = None if timeout is None else time.monotonic() + float(timeout)
        self.catch = tuple(catch) + (_SurplusTrial,)
        self.callbacks = list(callbacks)
        self.report = report
        self._lock = threading.Lock()

    def _counts(self) -> tuple[int, int]:
        optuna = _optuna()
        TS = optuna.trial.TrialState
        finished = running = 0
        for t in self.study.get_trials(deepcopy=False):
            if t.state in (TS.COMPLETE, TS.PRUNED):
                finished += 1
            elif t.state in (TS.RUNNING, TS.WAITING):
                running += 1
        return finished, running

    def _guarded(self, trial: Any) -> float:
        trial.set_user_attr(WORKER_ATTR, f"{socket.gethostname()}:{os.getpid()}")
        if self.n_trials is not None:
            optuna = _optuna()
            TS = optuna.trial.TrialState
            ahead = sum(1 for t in self.study.get_trials(deepcopy=False)
                        if t.number < trial.number and t.state in (TS.COMPLETE, TS.PRUNED, TS.RUNNING,
                                                                     TS.WAITING))
            if ahead >= self.n_trials:
                trial.set_user_attr(SURPLUS_ATTR, True)
                raise _SurplusTrial(f"trial {trial.number}: the study already has {ahead} trials")
        return self.objective(trial)

    def _after(self, study: Any, trial: Any) -> None:
        if _is_surplus(trial):
            return
        for cb in self.callbacks:
            cb(study, trial)
        if self.report is not None:
            with self._lock:
                self.report(trial)

    def run(self) -> None:
        optuna = _optuna()
        heartbeat = _heartbeat_on(self.study)
        while True:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                logger.info("time budget spent")
                return
            if heartbeat:
                with _quiet_experimental():
                    optuna.storages.fail_stale_trials(self.study)
            if self.n_trials is not None:
                finished, running = self._counts()
                if finished >= self.n_trials:
                    return
                if finished + running >= self.n_trials:
                    time.sleep(_POLL_SECONDS)  # others hold the last trials: wait for them
                    continue
            if getattr(self.study, "_stop_flag", False):
                return
            with _quiet_experimental():
                self.study.optimize(self._guarded, n_trials=1, catch=self.catch, callbacks=[self._after])
            if _grid_exhausted(self.study):
                return


def _heartbeat_on(study: Any) -> bool:
    storage = getattr(study, "_storage", None)
    get = getattr(storage, "get_heartbeat_interval", None)
    return bool(get is not None and get() is not None)


def _grid_exhausted(study: Any) -> bool:
    optuna = _optuna()
    sampler = study.sampler
    if not isinstance(sampler, optuna.samplers.GridSampler):
        return False
    TS = optuna.trial.TrialState
    done = {t.params.get(GRID_PARAM) for t in study.get_trials(deepcopy=False, states=(TS.COMPLETE, TS.PRUNED))}
    return len(done) >= len(sampler._all_grids)


def _progress_reporter(progress: bool | Callable[[dict[str, Any]], None], study: Any,
                       n_trials: int | None, direction_max: bool) -> tuple[Callable[[Any], None] | None,
                                                                           Callable[[], None]]:
    """A per-trial reporter and a closer for ``progress`` (True: tqdm bar; a callable: called
    with a dict per finished trial; False: nothing)."""
    if progress is False or progress is None:
        return None, lambda: None
    state = {"best": None}

    def info(trial: Any) -> dict[str, Any]:
        value = trial.value if trial.values else None
        if value is not None and _state_name(trial.state) == "COMPLETE" and (
                state["best"] is None or (value > state["best"] if direction_max else value < state["best"])):
            state["best"] = value
        return {"number": trial.number, "state": _state_name(trial.state), "value": value,
                "best_value": state["best"], "n_trials": n_trials}

    if callable(progress):
        return (lambda trial: progress(info(trial))), lambda: None
    from tqdm.auto import tqdm

    bar = tqdm(total=n_trials, desc="tuning", unit="trial", leave=False)

    def report(trial: Any) -> None:
        data = info(trial)
        bar.update(1)
        if data["best_value"] is not None:
            bar.set_postfix({"best": f"{data['best_value']:.5g}"})

    return report, bar.close


# -------------------------------------------------------------------------- results
class TuningResult:
    """A finished (or running) study with what is needed to use its best parameters.

    Attributes:
        study: The ``optuna.Study``.
        model: Registered model name.
        space: The :class:`SearchSpace`.
        metric: The :class:`~recutils.tuning.objective.MetricTarget`.
        model_kwargs: Constructor arguments fixed for every trial.
        seed: Seed given to models whose config takes one (unless the space sets it).
    """

    def __init__(self, study: Any, model: str, space: SearchSpace, metric: MetricTarget,
                 model_kwargs: Mapping[str, Any] | None = None, seed: int | None = SEED,
                 columns: Columns | None = None) -> None:
        self.study = study
        self.model = model
        self.space = space
        self.metric = metric
        self.model_kwargs = dict(model_kwargs or {})
        self.seed = seed
        self.columns = columns or Columns()

    def __repr__(self) -> str:
        done = self.trials
        best = f", best {self.metric.text}={self.best_value:.6g}" if (done["state"] == "COMPLETE").any() else ""
        return f"TuningResult(model={self.model!r}, {len(done)} trials{best})"

    @property
    def study_name(self) -> str:
        return self.study.study_name

    @property
    def direction(self) -> str:
        return self.metric.direction

    def _real_trials(self) -> list[Any]:
        return [t for t in self.study.get_trials(deepcopy=False) if not _is_surplus(t)]

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial: ``number``, ``state``, ``value``, ``params_<name>`` for each
        searched parameter, ``duration`` (seconds), ``datetime_start``; sorted by number.
        Surplus trials (see the module docstring) are left out."""
        names = self.space.searched
        rows = []
        for t in self._real_trials():
            params = t.user_attrs.get(PARAMS_ATTR, {})
            duration = None
            if t.datetime_start is not None and t.datetime_complete is not None:
                duration = (t.datetime_complete - t.datetime_start).total_seconds()
            row = {"number": t.number, "state": _state_name(t.state),
                   "value": t.value if t.values else None}
            row.update({f"params_{n}": params.get(n) for n in names})
            row["duration"] = duration
            row["datetime_start"] = t.datetime_start
            rows.append(row)
        columns = ["number", "state", "value", *[f"params_{n}" for n in names], "duration", "datetime_start"]
        frame = pd.DataFrame(rows, columns=columns)
        if len(frame):
            frame["value"] = frame["value"].astype(float)
            frame["duration"] = frame["duration"].astype(float)
        return frame.sort_values("number", ignore_index=True)

    def _best_trial(self) -> Any:
        optuna = _optuna()
        done = [t for t in self._real_trials() if t.state == optuna.trial.TrialState.COMPLETE]
        if not done:
            raise StateError(f"study {self.study_name!r} has no complete trial yet.")
        best = done[0]
        for t in done[1:]:
            if self.metric.better(t.value, best.value):
                best = t
        return best

    @property
    def best_trial_number(self) -> int:
        return int(self._best_trial().number)

    @property
    def best_value(self) -> float:
        """The best validation value of a complete trial."""
        return float(self._best_trial().value)

    @property
    def best_flat_params(self) -> dict[str, Any]:
        """The best trial's drawn parameters, flat names (``train.epochs``)."""
        return dict(self._best_trial().user_attrs.get(PARAMS_ATTR, {}))

    @property
    def best_params(self) -> dict[str, Any]:
        """The best parameters as model keyword arguments (nested, fixed values and seed
        included): ``create_model(result.model, **result.best_params)``."""
        params = nest_params(self.best_flat_params)
        from recutils.models.registry import get_model_class

        if self.seed is not None and "seed" not in params and \
                "seed" in get_model_class(self.model).config_class.field_names():
            params["seed"] = self.seed
        return params

    def best_config_yaml(self) -> str:
        """The best parameters as a config YAML for the model (loadable with
        ``create_model(model, config=path)``); comments name the model, metric and value."""
        import yaml

        header = (f"# recutils tuning: best parameters of model {self.model!r}\n"
                  f"# study {self.study_name!r}, trial {self.best_trial_number}, "
                  f"{self.metric.text}={self.best_value!r} ({self.direction})\n")
        return header + yaml.safe_dump(_plain(self.best_params), sort_keys=True)

    def write_best_config(self, path: str | Path) -> Path:
        """Write :meth:`best_config_yaml` to ``path``; return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.best_config_yaml(), encoding="utf-8")
        logger.info("best config written to %s", path)
        return path

    def best_model(self, **overrides: Any) -> Any:
        """An unfitted model with the best parameters (``overrides`` win)."""
        from recutils.models.registry import create_model

        kwargs = {**self.columns.model_kwargs(), **self.model_kwargs, **self.best_params, **overrides}
        return create_model(self.model, **kwargs)

    def fit_best(self, train: Any, valid: Any | None = None, **overrides: Any) -> Any:
        """Train the final model with the best parameters on ``train`` + ``valid``."""
        data = train
        if valid is not None:
            if is_spark_frame(train):
                data = train.unionByName(valid)
            else:
                data = pd.concat([train, valid], ignore_index=True)
        model = self.best_model(**overrides)
        logger.info("fitting %s with the best parameters on %s rows", self.model,
                    "Spark" if is_spark_frame(data) else len(data))
        return model.fit(data)

    def plot_optimization_history(self, ax: Any = None) -> Any:
        """Each complete trial's value and the best so far (matplotlib)."""
        import matplotlib.pyplot as plt

        frame = self.trials
        done = frame[frame["state"] == "COMPLETE"]
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        ax.scatter(done["number"], done["value"], s=18, label="trial")
        best = done["value"].cummax() if self.metric.higher_is_better else done["value"].cummin()
        ax.step(done["number"], best, where="post", color="C3", label="best so far")
        ax.set_xlabel("trial")
        ax.set_ylabel(self.metric.text)
        ax.set_title(f"{self.model}: optimization history")
        ax.legend()
        return ax

    def param_importances(self) -> dict[str, float]:
        """Optuna's fANOVA importance of each searched parameter (needs 2+ complete trials)."""
        optuna = _optuna()
        return dict(optuna.importance.get_param_importances(self.study))

    def plot_intermediate_values(self, ax: Any = None) -> Any:
        """Each trial's reported values by step (epoch), pruned trials dashed (matplotlib)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        labelled: set[str] = set()
        for t in self.study.get_trials(deepcopy=False):
            if not t.intermediate_values:
                continue
            steps = sorted(t.intermediate_values)
            state = t.state.name.lower()
            pruned = state == "pruned"
            ax.plot(steps, [t.intermediate_values[s] for s in steps], marker="o", ms=3, lw=1,
                    ls="--" if pruned else "-", color="C3" if pruned else "C0", alpha=0.8,
                    label=None if state in labelled else state)
            labelled.add(state)
        ax.set_xlabel("step (epoch)")
        ax.set_ylabel(f"intermediate {self.metric.text}")
        ax.set_title(f"{self.model}: intermediate values")
        if labelled:
            ax.legend()
        return ax

    def plot_param_importances(self, ax: Any = None) -> Any:
        """Horizontal bars of :meth:`param_importances` (matplotlib)."""
        import matplotlib.pyplot as plt

        imp = self.param_importances()
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.5 + 0.5 * max(len(imp), 1)))
        names = list(imp)[::-1]
        ax.barh(names, [imp[n] for n in names])
        ax.set_xlabel("importance")
        ax.set_title(f"{self.model}: parameter importance")
        return ax


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


# ------------------------------------------------------------------------------ tune
def _spec(model: str, space: SearchSpace, metric: MetricTarget, sampler: Any, seed: int | None,
          model_kwargs: Mapping[str, Any], columns: Columns) -> dict[str, Any]:
    return {"model": model, "metric": metric.text, "space": space.to_dict(),
            "sampler": sampler if isinstance(sampler, str) else type(sampler).__name__,
            "seed": seed, "model_kwargs": _plain(dict(model_kwargs)),
            "columns": columns.model_kwargs()}


def _open_study(storage: Any, study_name: str | None, direction: str, sampler: Any, pruner: Any,
                spec: Mapping[str, Any]) -> Any:
    optuna = _optuna()
    if storage is not None and study_name is None:
        raise ConfigError("a study in a database needs a study_name (workers and resumptions find it by name).")
    study = optuna.create_study(storage=storage, sampler=sampler, pruner=pruner,
                                study_name=study_name, direction=direction, load_if_exists=True)
    existing = study.user_attrs.get(SPEC_ATTR)
    if existing is None:
        study.set_user_attr(SPEC_ATTR, dict(spec))
    else:
        for key in ("model", "metric", "space"):
            if existing.get(key) != spec.get(key):
                raise ConfigError(
                    f"study {study.study_name!r} was created with {key}={existing.get(key)!r}, not "
                    f"{spec.get(key)!r}; use another study_name or the same settings.")
        logger.info("resuming study %r with %d trial(s)", study.study_name, len(study.trials))
    if _state_name(study.direction) != direction.upper():
        raise ConfigError(f"study {study.study_name!r} has direction {study.direction}, not {direction}.")
    return study


def tune(
    model: str,
    space: SearchSpace | Mapping[str, Any] | str | Path,
    train: Any,
    valid: Any | None = None,
    *,
    split: Mapping[str, Any] | str | None = None,
    metric: str = "ndcg@10",
    n_trials: int | None = None,
    timeout: float | None = None,
    sampler: str | Any = "tpe",
    pruner: str | Any | None = "median",
    storage: str | Any | None = None,
    study_name: str | None = None,
    seed: int | None = SEED,
    n_jobs: int = 1,
    workers: int = 1,
    model_kwargs: Mapping[str, Any] | None = None,
    report_every: int = 1,
    remove_seen: bool = True,
    eval_kwargs: Mapping[str, Any] | None = None,
    catch: Sequence[type[BaseException]] = (ModelFitError,),
    callbacks: Sequence[Callable[[Any, Any], None]] = (),
    progress: bool | Callable[[dict[str, Any]], None] = True,
    heartbeat_interval: int | None = 10,
    grace_period: int | None = None,
    col_user: str | None = None,
    col_item: str | None = None,
    col_rating: str | None = None,
    col_prediction: str | None = None,
) -> TuningResult:
    """Search the hyper-parameters of a registered model; return a :class:`TuningResult`.

    Each trial draws parameters from ``space``, builds ``create_model(model, **params)``,
    fits it on ``train`` and scores ``metric`` on ``valid``.

    Args:
        model: A registered model name (:func:`recutils.models.registry.list_models`).
        space: A :class:`SearchSpace`, its dict form, YAML text or a YAML file; names
            are checked against the model's config (``ConfigError`` otherwise).
        train: Training interactions (pandas; Spark for ``als``).
        valid: Validation interactions. None: ``train`` is split with ``split``.
        split: A splitter spec (``{"name": "python_chrono_split", "ratio": 0.8}``) used
            when ``valid`` is None; default a stratified 75/25 split.
        metric: A metric of the registry (``"ndcg@10"``, ``"rmse"`` ...); the direction
            comes from the registry.
        n_trials: Finished trials the study should hold (all workers, all runs). None:
            the grid size for ``sampler="grid"``, else unlimited (give ``timeout``).
        timeout: Seconds after which no new trial starts (per process).
        sampler: ``"tpe"``, ``"random"``, ``"grid"`` (lists swept, scalars fixed; int and
            float ranges are not allowed) or an optuna sampler.
        pruner: ``"median"`` (default), ``"percentile"``, ``"hyperband"``,
            ``"successive_halving"``, ``"none"`` or an optuna pruner. Only models that
            report intermediate values (:data:`~recutils.tuning.objective.ITERATIVE_MODELS`,
            and deep models whose trainer reports each epoch's validation value for a
            rating metric such as ``auc``) are pruned.
        storage: None (memory), a database URL (``"sqlite:///tune.db"``, a PostgreSQL
            URL ...) or an optuna storage.
        study_name: Name of the study (required with a database).
        seed: Seed of the sampler and of the models (when the space does not set it).
        n_jobs: Threads running trials in this process.
        workers: Processes running trials (needs a database storage); this process is
            one of them.
        model_kwargs: Constructor arguments for every trial besides the config
            (``progress=False``, ``col_timestamp=...``).
        report_every: Epochs between intermediate reports of iterative models.
        remove_seen: Remove training items from ranked lists.
        eval_kwargs: Extra arguments of ``evaluate`` (``relevancy_method`` ...).
        catch: Exceptions that fail a trial without stopping the study.
        callbacks: Optuna callbacks ``(study, frozen_trial)`` after each trial.
        progress: True: a tqdm bar; a callable: called with a dict per finished trial
            (``number``, ``state``, ``value``, ``best_value``, ``n_trials``); False: silent.
        heartbeat_interval, grace_period: Heartbeat of database storages (seconds).
        col_user, col_item, col_rating, col_prediction: Column names (recutils defaults).

    Raises:
        ConfigError: unknown model, metric, sampler, pruner or space parameter; bad
            budget; a database study created with another model, metric or space.
    """
    optuna = _optuna()
    space = as_search_space(space).validate(model, config=(model_kwargs or {}).get("config"))
    target = MetricTarget.parse(metric)
    cols = Columns(**{k: v for k, v in {"col_user": col_user, "col_item": col_item,
                                        "col_rating": col_rating,
                                        "col_prediction": col_prediction}.items() if v is not None})
    for name, value in (("n_jobs", n_jobs), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    if n_trials is not None and (isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0):
        raise ConfigError(f"n_trials must be a non-negative integer or None, got {n_trials!r}.")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError(f"timeout must be a positive number of seconds or None, got {timeout!r}.")
    grid = space.grid() if sampler == "grid" else None
    if grid is not None and n_trials is None:
        n_trials = len(grid)
    if n_trials is None and timeout is None:
        raise ConfigError("give n_trials, timeout or both (or sampler='grid').")
    if workers > 1 and (storage is None or isinstance(storage, optuna.storages.InMemoryStorage)):
        raise ConfigError("workers > 1 needs a database storage, e.g. storage='sqlite:///tune.db'.")
    if workers > 1 and is_spark_frame(train):
        raise ConfigError(
            "workers > 1 cannot run on Spark DataFrames (a Spark frame lives in this process's "
            "session and cannot be sent to another process); Spark already spreads each trial "
            "over the cluster: use workers=1, or start tune() on each machine with the same storage.")
    train, valid = resolve_data(train, valid, split, seed)
    required = [cols.col_user, cols.col_item] + ([cols.col_rating] if target.kind == "rating" else [])
    check_frames(train, valid, required)
    objective = Objective(model=model, space=space, train=train, valid=valid, metric=target,
                          model_kwargs=dict(model_kwargs or {}), seed=seed, prune=True,
                          report_every=report_every, remove_seen=remove_seen, columns=cols,
                          eval_kwargs=dict(eval_kwargs or {}))
    spec = _spec(model, space, target, sampler, seed, objective.model_kwargs, cols)
    store = make_storage(storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    study = _open_study(store, study_name, target.direction,
                        make_sampler(sampler, seed, len(grid) if grid is not None else None),
                        make_pruner(pruner), spec)
    resumed = len(study.get_trials(deepcopy=False))
    if resumed and isinstance(sampler, str) and seed is not None:
        # a resumed study must not replay the draws of its first run
        study.sampler = make_sampler(sampler, _worker_seed(seed, resumed),
                                     len(grid) if grid is not None else None)
    job = _WorkerJob(objective=objective, grid=grid, storage=storage, study_name=study.study_name,
                     sampler=sampler if isinstance(sampler, str) else "tpe", pruner=pruner
                     if (pruner is None or isinstance(pruner, str)) else "median", seed=seed,
                     n_trials=n_trials, timeout=timeout, catch=tuple(catch),
                     heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    processes = []
    if workers > 1:
        ctx = multiprocessing.get_context("spawn")
        for index in range(1, workers):
            proc = ctx.Process(target=_worker_main, args=(job, index), daemon=False)
            proc.start()
            processes.append(proc)
        logger.info("started %d worker process(es) on study %r", len(processes), study.study_name)
    report, close = _progress_reporter(progress, study, n_trials, target.higher_is_better)
    run_objective = _GridObjective(objective, grid) if grid is not None else objective
    try:
        runners = [_Runner(study, run_objective, n_trials, timeout, tuple(catch), callbacks, report)
                   for _ in range(n_jobs)]
        if n_jobs == 1:
            runners[0].run()
        else:
            with ThreadPoolExecutor(n_jobs) as pool:
                for fut in [pool.submit(r.run) for r in runners]:
                    fut.result()
    finally:
        close()
        for proc in processes:
            proc.join()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        logger.warning("%d worker process(es) exited with codes %s", len(failed), failed)
    return TuningResult(study, model, space, target, objective.model_kwargs, seed, cols)


class _WorkerJob:
    """What a worker process needs (picklable)."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)


def _worker_seed(seed: int | None, index: int) -> int | None:
    return None if seed is None else int(seed) + 7919 * int(index)


def _worker_main(job: _WorkerJob, index: int) -> None:
    run_worker_job(job, index)


def run_worker_job(job: _WorkerJob, index: int, progress: bool | Callable[[dict[str, Any]], None] = False
                   ) -> None:
    """Run trials of ``job`` in this process (worker ``index`` > 0 gets its own sampler seed)."""
    optuna = _optuna()
    store = make_storage(job.storage, heartbeat_interval=job.heartbeat_interval,
                         grace_period=job.grace_period)
    seed = _worker_seed(job.seed, index)
    sampler = make_sampler(job.sampler, seed, len(job.grid) if job.grid is not None else None)
    study = optuna.load_study(study_name=job.study_name, storage=store, sampler=sampler,
                              pruner=make_pruner(job.pruner))
    report, close = _progress_reporter(progress, study, job.n_trials,
                                       job.objective.metric.higher_is_better)
    run_objective = _GridObjective(job.objective, job.grid) if job.grid is not None else job.objective
    try:
        _Runner(study, run_objective, job.n_trials, job.timeout, job.catch, (), report).run()
    finally:
        close()


def load_result(storage: str | Any, study_name: str) -> TuningResult:
    """The :class:`TuningResult` of a study in a database (created by :func:`tune` or a worker).

    Raises:
        ConfigError: the study was not created by recutils (no stored spec).
    """
    optuna = _optuna()
    store = make_storage(storage, heartbeat_interval=None)
    study = optuna.load_study(study_name=study_name, storage=store)
    spec = study.user_attrs.get(SPEC_ATTR)
    if not spec:
        raise ConfigError(f"study {study_name!r} holds no recutils tuning spec.")
    return TuningResult(study, spec["model"], SearchSpace.from_dict(spec["space"]),
                        MetricTarget.parse(spec["metric"]), spec.get("model_kwargs", {}),
                        spec.get("seed"), Columns(**spec.get("columns", {})))


__all__ = [
    "PRUNERS",
    "SAMPLERS",
    "TuningResult",
    "load_result",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "run_worker_job",
    "tune",
]
