"""The Optuna backend of :func:`~recutils.tuning.tune`: storage, sampler, pruner, study, runner.

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

Optuna is imported only when one of these functions runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from recutils.exceptions import ConfigError, DataError, RecUtilsError
from recutils.tuning.objective import Columns, MetricTarget, Objective
from recutils.tuning.space import SearchSpace
from recutils.utils.deps import require
from recutils.utils.progress import progress_bar

logger = logging.getLogger(__name__)

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "percentile", "hyperband", "successive_halving", "none")
SPEC_ATTR = "recutils"
SURPLUS_ATTR = "recutils_surplus"
WORKER_ATTR = "recutils_worker"
GRID_PARAM = "grid_index"
_POLL_SECONDS = 0.5


def load_optuna() -> Any:
    """The ``optuna`` module, or :class:`~recutils.exceptions.MissingDependencyError`."""
    return require("optuna", "tuning")


class _SurplusTrial(Exception):
    """Raised inside a trial taken after the study already had enough trials."""


# --------------------------------------------------------------------------- storage
class StorageError(RecUtilsError, RuntimeError):
    """A tuning storage cannot be opened or read (the database refused the connection,
    a query failed). The message names the storage, its password hidden."""


class CorruptStorageError(StorageError, DataError):
    """The storage's file is not an Optuna database (e.g. random bytes in ``tune.db``)."""


class StudyNotFoundError(ConfigError, KeyError):
    """No study of that name in the storage; the message lists the studies it holds.

    A :class:`~recutils.exceptions.ConfigError` and, as Optuna's own error for a missing
    study, a :class:`KeyError`.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def make_storage(
    storage: Any,
    *,
    heartbeat_interval: int | None = 10,
    grace_period: int | None = None,
    create: bool = True,
) -> Any:
    """An Optuna storage from ``None`` (in memory), a database URL or a storage object.

    SQLite URLs get a 60 s busy timeout (several processes write one file). Database
    storages get a heartbeat every ``heartbeat_interval`` seconds (``None``: off; then a
    killed worker's trial stays ``RUNNING``).

    Args:
        storage: ``None``, an SQLAlchemy URL or an ``optuna.storages.BaseStorage``.
        heartbeat_interval: Seconds between heartbeats, or ``None``.
        grace_period: Seconds after which a silent trial counts as failed (Optuna's
            default: twice the interval).
        create: Whether an SQLite file may be created; ``False`` (reading results)
            requires the file to exist and never creates one.

    Raises:
        ConfigError: a value that is not a URL, a URL SQLAlchemy cannot parse, an unknown
            dialect or driver, a driver that is not installed, an SQLite file in a folder
            that does not exist (or, with ``create=False``, a file that does not exist).
        CorruptStorageError: the SQLite file is not a database.
        StorageError: the database cannot be opened or read.
    """
    optuna = load_optuna()
    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if not isinstance(storage, str) or "://" not in storage:
        raise ConfigError(
            f"storage must be None, a database URL such as 'sqlite:///tune.db' or "
            f"'postgresql+psycopg2://user:pw@host/db', or an optuna storage; got {storage!r}."
        )
    if heartbeat_interval is not None and (
        not isinstance(heartbeat_interval, int) or heartbeat_interval < 1
    ):
        raise ConfigError(
            f"heartbeat_interval must be a positive integer or None, got {heartbeat_interval!r}."
        )
    url, shown = _parse_storage_url(storage)
    engine_kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        _check_sqlite_file(url, shown, create)
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    with _storage_errors(shown), quiet_experimental():
        return optuna.storages.RDBStorage(
            storage,
            engine_kwargs=engine_kwargs,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )


def _parse_storage_url(storage: str) -> tuple[Any, str]:
    """The SQLAlchemy URL of ``storage`` and its text for messages (password hidden).

    Raises:
        ConfigError: SQLAlchemy cannot parse it, or knows no such dialect or driver.
    """
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    try:
        url = make_url(storage)
    except sqlalchemy.exc.ArgumentError as err:
        raise ConfigError(
            f"storage {storage!r} is not a database URL SQLAlchemy can read "
            f"('dialect+driver://user:pw@host/db', e.g. 'sqlite:///tune.db')."
        ) from err
    shown = url.render_as_string(hide_password=True) if url.password else storage
    try:
        url.get_dialect()
    except sqlalchemy.exc.NoSuchModuleError as err:
        raise ConfigError(
            f"storage {shown!r}: SQLAlchemy has no database dialect or driver "
            f"{url.drivername!r} (e.g. 'sqlite', 'postgresql+psycopg2', 'mysql+pymysql'; "
            "a third-party dialect must be installed)."
        ) from err
    return url, shown


def _check_sqlite_file(url: Any, shown: str, create: bool) -> None:
    """Refuse an SQLite file in a missing folder, a folder as the file, and (unless
    ``create``) a file that does not exist. In-memory and ``uri=true`` URLs pass as they are."""
    database = url.database
    if (
        not database
        or database == ":memory:"
        or str(url.query.get("uri", "")).lower() in ("true", "1")
    ):
        return
    path = Path(database)
    if path.is_dir():
        raise ConfigError(f"storage {shown!r}: {str(path)!r} is a folder, not a database file.")
    if not path.parent.is_dir():
        raise ConfigError(
            f"storage {shown!r}: the folder {str(path.parent)!r} does not exist; create it first "
            "(SQLite creates the file, not its folder)."
        )
    if not create and not path.is_file():
        raise ConfigError(f"storage {shown!r}: no database file {str(path)!r}.")


@contextlib.contextmanager
def _storage_errors(shown: str) -> Iterator[None]:
    """Turn SQLAlchemy's (and a missing driver's) errors into recutils errors naming ``shown``."""
    import sqlalchemy.exc

    try:
        yield
    except ImportError as err:
        raise ConfigError(
            f"storage {shown!r}: its database driver is not installed ({err.__cause__ or err}); "
            "install the driver or name another one in the URL ('dialect+driver://...')."
        ) from err
    except sqlalchemy.exc.OperationalError as err:
        raise StorageError(
            f"storage {shown!r} cannot be opened: {getattr(err, 'orig', None) or err}"
        ) from err
    except sqlalchemy.exc.DatabaseError as err:
        raise CorruptStorageError(
            f"storage {shown!r} is not an Optuna study database "
            f"({getattr(err, 'orig', None) or err})."
        ) from err
    except sqlalchemy.exc.SQLAlchemyError as err:
        raise StorageError(f"storage {shown!r} cannot be used: {err}") from err


def storage_label(storage: Any) -> str:
    """``storage`` as messages show it: a URL with its password hidden, or a storage's class."""
    if isinstance(storage, str):
        if "://" in storage:
            with contextlib.suppress(Exception):
                return _parse_storage_url(storage)[1]
        return storage
    return type(storage).__name__


def study_names(storage: Any, label: str | None = None) -> list[str]:
    """Names of the studies an Optuna storage object holds, sorted.

    Raises:
        StorageError, CorruptStorageError: the database cannot be read (``label`` names it).
    """
    optuna = load_optuna()
    with _storage_errors(label or storage_label(storage)):
        return sorted(optuna.get_all_study_names(storage=storage))


# --------------------------------------------------------------------------- pieces
@contextlib.contextmanager
def quiet_experimental() -> Iterator[None]:
    """Silence Optuna's ExperimentalWarning (heartbeats) inside the block."""
    optuna = load_optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


@contextlib.contextmanager
def quiet_optuna(progress: Any) -> Iterator[None]:
    """With ``progress`` False (or None), Optuna's own INFO lines ("A new study created",
    "Trial 0 finished with value ...") are silenced inside the block: its verbosity is
    WARNING there and restored afterwards. Warnings and errors still show."""
    if progress is not False and progress is not None:
        yield
        return
    optuna = load_optuna()
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(max(before, optuna.logging.WARNING))
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def make_sampler(sampler: Any, seed: int | None, n_grid: int | None = None) -> Any:
    """``"tpe"`` (default), ``"random"``, ``"grid"`` (over ``n_grid`` points) or a sampler."""
    optuna = load_optuna()
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
    optuna = load_optuna()
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


def state_name(state: Any) -> str:
    """A trial or study state's name (``"COMPLETE"``)."""
    return getattr(state, "name", str(state))


def is_surplus(trial: Any) -> bool:
    """True for a trial taken after the study already had enough trials."""
    return bool(trial.user_attrs.get(SURPLUS_ATTR, False))


class GridObjective:
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
class Runner:
    """Runs trials of one study until it holds ``n_trials`` finished trials or time is up."""

    def __init__(
        self,
        study: Any,
        objective: Callable[[Any], float],
        n_trials: int | None,
        timeout: float | None,
        catch: tuple[type[BaseException], ...],
        callbacks: Sequence[Callable[[Any, Any], None]],
        report: Callable[[Any], None] | None,
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
        optuna = load_optuna()
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
            optuna = load_optuna()
            TS = optuna.trial.TrialState
            ahead = sum(
                1
                for t in self.study.get_trials(deepcopy=False)
                if t.number < trial.number
                and t.state in (TS.COMPLETE, TS.PRUNED, TS.RUNNING, TS.WAITING)
            )
            if ahead >= self.n_trials:
                trial.set_user_attr(SURPLUS_ATTR, True)
                raise _SurplusTrial(f"trial {trial.number}: the study already has {ahead} trials")
        return self.objective(trial)

    def _after(self, study: Any, trial: Any) -> None:
        if is_surplus(trial):
            return
        for cb in self.callbacks:
            cb(study, trial)
        if self.report is not None:
            with self._lock:
                self.report(trial)

    def run(self) -> None:
        optuna = load_optuna()
        heartbeat = _heartbeat_on(self.study)
        while True:
            if self.deadline is not None and time.monotonic() >= self.deadline:
                logger.info("time budget spent")
                return
            if heartbeat:
                with quiet_experimental():
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
            with quiet_experimental():
                self.study.optimize(
                    self._guarded, n_trials=1, catch=self.catch, callbacks=[self._after]
                )
            if _grid_exhausted(self.study):
                return


def _heartbeat_on(study: Any) -> bool:
    storage = getattr(study, "_storage", None)
    get = getattr(storage, "get_heartbeat_interval", None)
    return bool(get is not None and get() is not None)


def _grid_exhausted(study: Any) -> bool:
    optuna = load_optuna()
    sampler = study.sampler
    if not isinstance(sampler, optuna.samplers.GridSampler):
        return False
    TS = optuna.trial.TrialState
    done = {
        t.params.get(GRID_PARAM)
        for t in study.get_trials(deepcopy=False, states=(TS.COMPLETE, TS.PRUNED))
    }
    return len(done) >= len(sampler._all_grids)


def progress_reporter(
    progress: bool | Callable[[dict[str, Any]], None],
    study: Any,
    n_trials: int | None,
    direction_max: bool,
) -> tuple[Callable[[Any], None] | None, Callable[[], None]]:
    """A per-trial reporter and a closer for ``progress`` (True: tqdm bar; a callable: called
    with a dict per finished trial; False: nothing)."""
    if progress is False or progress is None:
        return None, lambda: None
    state = {"best": None}

    def info(trial: Any) -> dict[str, Any]:
        value = trial.value if trial.values else None
        if (
            value is not None
            and state_name(trial.state) == "COMPLETE"
            and (
                state["best"] is None
                or (value > state["best"] if direction_max else value < state["best"])
            )
        ):
            state["best"] = value
        return {
            "number": trial.number,
            "state": state_name(trial.state),
            "value": value,
            "best_value": state["best"],
            "n_trials": n_trials,
        }

    if callable(progress):
        return (lambda trial: progress(info(trial))), lambda: None
    bar = progress_bar(total=n_trials, desc="tuning", unit="trial", leave=False)

    def report(trial: Any) -> None:
        data = info(trial)
        bar.update(1)
        if data["best_value"] is not None:
            bar.set_postfix({"best": f"{data['best_value']:.5g}"})

    return report, bar.close


# --------------------------------------------------------------------------- studies
def plain(value: Any) -> Any:
    """``value`` with numpy scalars turned into Python ones and tuples into lists (for YAML/JSON)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


def study_spec(
    model: str,
    space: SearchSpace,
    metric: MetricTarget,
    sampler: Any,
    seed: int | None,
    model_kwargs: Mapping[str, Any],
    columns: Columns,
) -> dict[str, Any]:
    """What a study is about, stored in its user attributes (workers and results read it)."""
    return {
        "model": model,
        "metric": metric.text,
        "space": space.to_dict(),
        "sampler": sampler if isinstance(sampler, str) else type(sampler).__name__,
        "seed": seed,
        "model_kwargs": plain(dict(model_kwargs)),
        "columns": columns.model_kwargs(),
    }


def open_study(
    storage: Any,
    study_name: str | None,
    direction: str,
    sampler: Any,
    pruner: Any,
    spec: Mapping[str, Any],
) -> Any:
    """Create the study, or load it and check it was created with the same model, metric,
    space and direction.

    Raises:
        ConfigError: a database study without a name, or one created with other settings.
    """
    optuna = load_optuna()
    if storage is not None and study_name is None:
        raise ConfigError(
            "a study in a database needs a study_name (workers and resumptions find it by name)."
        )
    study = optuna.create_study(
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        study_name=study_name,
        direction=direction,
        load_if_exists=True,
    )
    existing = study.user_attrs.get(SPEC_ATTR)
    if existing is None:
        study.set_user_attr(SPEC_ATTR, dict(spec))
    else:
        for key in ("model", "metric", "space"):
            if existing.get(key) != spec.get(key):
                raise ConfigError(
                    f"study {study.study_name!r} was created with {key}={existing.get(key)!r}, not "
                    f"{spec.get(key)!r}; use another study_name or the same settings."
                )
        logger.info("resuming study %r with %d trial(s)", study.study_name, len(study.trials))
    if state_name(study.direction) != direction.upper():
        raise ConfigError(
            f"study {study.study_name!r} has direction {study.direction}, not {direction}."
        )
    return study


# --------------------------------------------------------------------------- workers
class WorkerJob:
    """What a worker process needs (picklable)."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)


def worker_seed(seed: int | None, index: int) -> int | None:
    """The sampler seed of worker ``index`` (and of a resumed run), distinct per worker."""
    return None if seed is None else int(seed) + 7919 * int(index)


def worker_main(job: WorkerJob, index: int) -> None:
    """Target of the worker processes :func:`~recutils.tuning.tune` spawns."""
    run_worker_job(job, index)


def run_worker_job(
    job: WorkerJob, index: int, progress: bool | Callable[[dict[str, Any]], None] = False
) -> None:
    """Run trials of ``job`` in this process (worker ``index`` > 0 gets its own sampler seed);
    Optuna's per-trial INFO lines are silenced unless ``progress`` (see :func:`quiet_optuna`)."""
    with quiet_optuna(progress):
        _run_worker_job(job, index, progress)


def _run_worker_job(
    job: WorkerJob, index: int, progress: bool | Callable[[dict[str, Any]], None]
) -> None:
    optuna = load_optuna()
    store = make_storage(
        job.storage, heartbeat_interval=job.heartbeat_interval, grace_period=job.grace_period
    )
    seed = worker_seed(job.seed, index)
    sampler = make_sampler(job.sampler, seed, len(job.grid) if job.grid is not None else None)
    study = optuna.load_study(
        study_name=job.study_name, storage=store, sampler=sampler, pruner=make_pruner(job.pruner)
    )
    report, close = progress_reporter(
        progress, study, job.n_trials, job.objective.metric.higher_is_better
    )
    run_objective = (
        GridObjective(job.objective, job.grid) if job.grid is not None else job.objective
    )
    try:
        Runner(study, run_objective, job.n_trials, job.timeout, job.catch, (), report).run()
    finally:
        close()


__all__ = [
    "CorruptStorageError",
    "GRID_PARAM",
    "PRUNERS",
    "SAMPLERS",
    "SPEC_ATTR",
    "SURPLUS_ATTR",
    "StorageError",
    "StudyNotFoundError",
    "WORKER_ATTR",
    "GridObjective",
    "Runner",
    "WorkerJob",
    "load_optuna",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "open_study",
    "progress_reporter",
    "quiet_optuna",
    "run_worker_job",
    "storage_label",
    "study_names",
    "study_spec",
    "worker_seed",
]
