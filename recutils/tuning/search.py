"""``tune()``: an Optuna study over any registered model, in memory or in a database.

What the study searches, how trials are scored and how it runs are three groups of
settings (:mod:`recutils.tuning.settings`); the Optuna machinery (storage, sampler,
pruner, study, the trial loop, worker processes) is :mod:`recutils.tuning.backend`,
and the result object :mod:`recutils.tuning.result`. Their public names are importable
from here too.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from recutils.exceptions import ConfigError
from recutils.tuning.backend import (
    PRUNERS,
    SAMPLERS,
    GridObjective,
    Runner,
    WorkerJob,
    load_optuna,
    make_pruner,
    make_sampler,
    make_storage,
    open_study,
    progress_reporter,
    quiet_optuna,
    run_worker_job,
    study_spec,
    worker_main,
    worker_seed,
)
from recutils.tuning.objective import (
    Columns,
    MetricTarget,
    Objective,
    check_frames,
    is_spark_frame,
    resolve_data,
)
from recutils.tuning.result import TuningResult, load_result
from recutils.tuning.settings import (
    FLAT_KEYWORDS,
    EvaluationSettings,
    RunSettings,
    SearchSettings,
    group_settings,
)
from recutils.tuning.space import SearchSpace, as_search_space

logger = logging.getLogger(__name__)


def tune(
    model: str,
    space: SearchSpace | Mapping[str, Any] | str | Path,
    train: Any,
    valid: Any | None = None,
    *,
    search: SearchSettings | None = None,
    evaluation: EvaluationSettings | None = None,
    run: RunSettings | None = None,
    **settings: Any,
) -> TuningResult:
    """Search the hyper-parameters of a registered model; return a :class:`TuningResult`.

    Each trial draws parameters from ``space``, builds ``create_model(model, **params)``,
    fits it on ``train`` and scores the metric on ``valid``.

    Args:
        model: A registered model name (:func:`recutils.models.registry.list_models`).
        space: A :class:`SearchSpace`, its dict form, YAML text or a YAML file; names
            are checked against the model's config (``ConfigError`` otherwise).
        train: Training interactions (pandas; Spark for ``als``).
        valid: Validation interactions. None: ``train`` is split with the evaluation's
            ``split``.
        search: What to search: ``sampler``, ``pruner``, ``model_kwargs``
            (:class:`~recutils.tuning.settings.SearchSettings`).
        evaluation: How trials are scored: ``metric`` (default ``"ndcg@10"``),
            ``split``, ``remove_seen``, ``eval_kwargs``, ``report_every`` and the
            ``col_*`` names (:class:`~recutils.tuning.settings.EvaluationSettings`).
        run: How the study runs: ``n_trials``, ``timeout``, ``n_jobs``, ``workers``,
            ``storage``, ``study_name``, ``seed``, ``progress``, ``catch``,
            ``callbacks``, ``heartbeat_interval``, ``grace_period``
            (:class:`~recutils.tuning.settings.RunSettings`).
        **settings: Any field of the three groups as a flat keyword, as in earlier
            versions (``metric="rmse", n_trials=20, seed=1``); it overrides the same
            field of a group given alongside. See each group for the meaning.

    Raises:
        ConfigError: unknown model, metric, sampler, pruner, space parameter or keyword;
            bad budget; a database study created with another model, metric or space.
    """
    search, evaluation, run = group_settings(search, evaluation, run, **settings)
    with quiet_optuna(run.progress):
        return _tune(model, space, train, valid, search, evaluation, run)


def _tune(
    model: str,
    space: SearchSpace | Mapping[str, Any] | str | Path,
    train: Any,
    valid: Any | None,
    search: SearchSettings,
    evaluation: EvaluationSettings,
    run: RunSettings,
) -> TuningResult:
    optuna = load_optuna()
    sampler, pruner, seed = search.sampler, search.pruner, run.seed
    space = as_search_space(space).validate(model, config=(search.model_kwargs or {}).get("config"))
    target = MetricTarget.parse(evaluation.metric)
    cols = Columns(**evaluation.column_kwargs())
    run.validate()
    n_trials = run.n_trials
    grid = space.grid() if sampler == "grid" else None
    if grid is not None and n_trials is None:
        n_trials = len(grid)
    if n_trials is None and run.timeout is None:
        raise ConfigError("give n_trials, timeout or both (or sampler='grid').")
    storage, workers = run.storage, run.workers
    if workers > 1 and (storage is None or isinstance(storage, optuna.storages.InMemoryStorage)):
        raise ConfigError("workers > 1 needs a database storage, e.g. storage='sqlite:///tune.db'.")
    if workers > 1 and is_spark_frame(train):
        raise ConfigError(
            "workers > 1 cannot run on Spark DataFrames (a Spark frame lives in this process's "
            "session and cannot be sent to another process); Spark already spreads each trial "
            "over the cluster: use workers=1, or start tune() on each machine with the same storage."
        )
    train, valid = resolve_data(train, valid, evaluation.split, seed)
    required = [cols.col_user, cols.col_item] + (
        [cols.col_rating] if target.kind == "rating" else []
    )
    check_frames(train, valid, required)
    objective = Objective(
        model=model,
        space=space,
        train=train,
        valid=valid,
        metric=target,
        model_kwargs=dict(search.model_kwargs or {}),
        seed=seed,
        prune=True,
        report_every=evaluation.report_every,
        remove_seen=evaluation.remove_seen,
        columns=cols,
        eval_kwargs=dict(evaluation.eval_kwargs or {}),
    )
    spec = study_spec(model, space, target, sampler, seed, objective.model_kwargs, cols)
    n_grid = len(grid) if grid is not None else None
    store = make_storage(
        storage, heartbeat_interval=run.heartbeat_interval, grace_period=run.grace_period
    )
    study = open_study(
        store,
        run.study_name,
        target.direction,
        make_sampler(sampler, seed, n_grid),
        make_pruner(pruner),
        spec,
    )
    resumed = len(study.get_trials(deepcopy=False))
    if resumed and isinstance(sampler, str) and seed is not None:
        # a resumed study must not replay the draws of its first run
        study.sampler = make_sampler(sampler, worker_seed(seed, resumed), n_grid)
    catch = tuple(run.catch)
    job = WorkerJob(
        objective=objective,
        grid=grid,
        storage=storage,
        study_name=study.study_name,
        sampler=sampler if isinstance(sampler, str) else "tpe",
        pruner=pruner if (pruner is None or isinstance(pruner, str)) else "median",
        seed=seed,
        n_trials=n_trials,
        timeout=run.timeout,
        catch=catch,
        heartbeat_interval=run.heartbeat_interval,
        grace_period=run.grace_period,
    )
    processes = []
    if workers > 1:
        ctx = multiprocessing.get_context("spawn")
        for index in range(1, workers):
            proc = ctx.Process(target=worker_main, args=(job, index), daemon=False)
            proc.start()
            processes.append(proc)
        logger.info("started %d worker process(es) on study %r", len(processes), study.study_name)
    report, close = progress_reporter(run.progress, study, n_trials, target.higher_is_better)
    run_objective = GridObjective(objective, grid) if grid is not None else objective
    try:
        runners = [
            Runner(study, run_objective, n_trials, run.timeout, catch, run.callbacks, report)
            for _ in range(run.n_jobs)
        ]
        if run.n_jobs == 1:
            runners[0].run()
        else:
            with ThreadPoolExecutor(run.n_jobs) as pool:
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


__all__ = [
    "FLAT_KEYWORDS",
    "PRUNERS",
    "SAMPLERS",
    "EvaluationSettings",
    "RunSettings",
    "SearchSettings",
    "TuningResult",
    "load_result",
    "make_pruner",
    "make_sampler",
    "make_storage",
    "run_worker_job",
    "tune",
]
