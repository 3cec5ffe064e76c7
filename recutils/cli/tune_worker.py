"""``recutils tune-worker``: run trials of a shared tuning study from any machine.

Every worker attaches to the same study by storage URL and name and runs trials until
the study holds ``--n-trials`` finished trials (or ``--timeout`` seconds pass)::

    # once, anywhere: create the study (or let the first worker create it)
    recutils tune-worker --storage postgresql+psycopg2://user:pw@db/tuning \\
        --study svd-ml100k --model surprise_svd --space svd_space.yaml --metric rmse \\
        --train train.parquet --valid valid.parquet --n-trials 100

    # on each machine (same data files; model, space and metric come from the study)
    recutils tune-worker --storage postgresql+psycopg2://user:pw@db/tuning \\
        --study svd-ml100k --train train.parquet --valid valid.parquet --n-trials 100

Data files are ``.csv`` or ``.parquet``. Without ``--valid`` the training file is split
by ``--split`` (a splitter name, stratified 75/25 by default) with the study's seed, so
every worker sees the same split. Exit status 0 when the worker stopped normally, 2 on
a recutils error. ``python -m recutils.tuning.worker`` runs the same command.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from recutils.exceptions import ConfigError, DataError, RecUtilsError

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger("recutils.tuning.worker")

NAME = "tune-worker"
HELP = "run trials of a shared tuning study (database storage)"
DESCRIPTION = "Run trials of a shared recutils tuning study."


def read_frame(path: str | Path) -> pd.DataFrame:
    """A DataFrame from a ``.csv`` or ``.parquet`` file."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {str(path)!r} does not exist.")
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise DataError(f"data files are .csv or .parquet, got {path.name!r}.")


def build_parser(prog: str = "python -m recutils.tuning.worker") -> argparse.ArgumentParser:
    """The worker's command line on its own (``recutils tune-worker`` adds the same arguments)."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's options."""
    parser.add_argument(
        "--storage",
        default="sqlite:///recutils_tuning.db",
        help="SQLAlchemy URL of the study database (default: %(default)s).",
    )
    parser.add_argument("--study", required=True, help="Study name.")
    parser.add_argument("--train", required=True, help="Training data (.csv or .parquet).")
    parser.add_argument("--valid", help="Validation data; default: split --train with --split.")
    parser.add_argument(
        "--split",
        default=None,
        help='Splitter spec as JSON, e.g. \'{"name": "python_chrono_split", "ratio": 0.8}\'.',
    )
    parser.add_argument(
        "--n-trials", type=int, default=None, help="Finished trials the study should hold."
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="Seconds after which no trial starts."
    )
    parser.add_argument("--model", help="Model name (only to create the study).")
    parser.add_argument("--space", help="Search-space YAML file (only to create the study).")
    parser.add_argument(
        "--metric", default=None, help="Metric (only to create the study; default ndcg@10)."
    )
    parser.add_argument("--sampler", default="tpe", choices=["tpe", "random", "grid"])
    parser.add_argument("--pruner", default="median")
    parser.add_argument(
        "--seed", type=int, default=None, help="Seed (default: the study's, else 42)."
    )
    parser.add_argument(
        "--worker-index",
        type=int,
        default=None,
        help="Distinct per worker: offsets the sampler seed (default: the process id).",
    )
    parser.add_argument("--heartbeat-interval", type=int, default=10)
    parser.add_argument("--grace-period", type=int, default=None)
    parser.add_argument(
        "--model-kwargs", default=None, help="JSON of extra model constructor arguments."
    )
    parser.add_argument(
        "--register",
        action="append",
        default=[],
        metavar="NAME=MODULE:CLASS",
        help="register a model of your own before running (repeatable; the module "
        "must be importable, e.g. on PYTHONPATH, on every worker)",
    )
    parser.add_argument("--progress", action="store_true", help="Show a progress bar.")
    parser.add_argument("--log-level", default="INFO")


def _json(text: str | None, what: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{what} is not valid JSON: {err}") from err


def _register(entries: list[str]) -> None:
    """Register ``NAME=MODULE:CLASS`` entries in the model registry (``--register``)."""
    from recutils.models.registry import register_model

    for entry in entries:
        name, sep, target = entry.partition("=")
        if not sep or not name or ":" not in target:
            raise ConfigError(f"--register takes NAME=MODULE:CLASS, got {entry!r}.")
        register_model(name.strip(), target.strip())


def run(args: argparse.Namespace) -> int:
    """Run one worker; return the exit status."""
    import os

    from recutils.tuning.backend import (
        SPEC_ATTR,
        WorkerJob,
        make_pruner,
        make_sampler,
        make_storage,
        open_study,
        run_worker_job,
        study_spec,
    )
    from recutils.tuning.objective import (
        Columns,
        MetricTarget,
        Objective,
        check_frames,
        resolve_data,
    )
    from recutils.tuning.space import SearchSpace
    from recutils.utils.deps import require

    optuna = require("optuna", "tuning")
    _register(args.register)
    store = make_storage(
        args.storage, heartbeat_interval=args.heartbeat_interval, grace_period=args.grace_period
    )
    try:
        spec = optuna.load_study(study_name=args.study, storage=store).user_attrs.get(SPEC_ATTR)
    except KeyError:
        spec = None
    if spec is None:
        if not (args.model and args.space):
            raise ConfigError(
                f"study {args.study!r} does not exist yet: give --model and --space to create it."
            )
        space = SearchSpace.from_yaml(args.space).validate(args.model)
        metric = MetricTarget.parse(args.metric or "ndcg@10")
        seed = 42 if args.seed is None else args.seed
        model_kwargs = _json(args.model_kwargs, "--model-kwargs") or {}
        columns = Columns()
        grid_n = len(space.grid()) if args.sampler == "grid" else None
        open_study(
            store,
            args.study,
            metric.direction,
            make_sampler(args.sampler, seed, grid_n),
            make_pruner(args.pruner),
            study_spec(args.model, space, metric, args.sampler, seed, model_kwargs, columns),
        )
        model = args.model
        sampler = args.sampler
    else:
        model = spec["model"]
        space = SearchSpace.from_dict(spec["space"])
        metric = MetricTarget.parse(spec["metric"])
        seed = spec.get("seed") if args.seed is None else args.seed
        model_kwargs = spec.get("model_kwargs", {})
        columns = Columns(**spec.get("columns", {}))
        sampler = spec.get("sampler", "tpe")
        if sampler not in ("tpe", "random", "grid"):
            sampler = "tpe"
        if args.model and args.model != model:
            raise ConfigError(f"study {args.study!r} tunes {model!r}, not {args.model!r}.")
    train = read_frame(args.train)
    valid = read_frame(args.valid) if args.valid else None
    split = (
        _json(args.split, "--split")
        if args.split and args.split.lstrip().startswith("{")
        else args.split
    )
    train, valid = resolve_data(train, valid, split, seed)
    check_frames(train, valid, [columns.col_user, columns.col_item])
    objective = Objective(
        model=model,
        space=space,
        train=train,
        valid=valid,
        metric=metric,
        model_kwargs=dict(model_kwargs),
        seed=seed,
        columns=columns,
    )
    grid = space.grid() if sampler == "grid" else None
    n_trials = (
        args.n_trials if args.n_trials is not None else (len(grid) if grid is not None else None)
    )
    if n_trials is None and args.timeout is None:
        raise ConfigError("give --n-trials, --timeout or both.")
    job = WorkerJob(
        objective=objective,
        grid=grid,
        storage=args.storage,
        study_name=args.study,
        sampler=sampler,
        pruner=args.pruner,
        seed=seed,
        n_trials=n_trials,
        timeout=args.timeout,
        catch=(),
        heartbeat_interval=args.heartbeat_interval,
        grace_period=args.grace_period,
    )
    from recutils.exceptions import ModelFitError

    job.catch = (ModelFitError,)
    index = args.worker_index if args.worker_index is not None else os.getpid()
    run_worker_job(job, index, progress=args.progress)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m recutils.tuning.worker`` (argparse exits on bad arguments)."""
    return run_command(build_parser().parse_args(argv), sys.stdout)


def run_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run one worker with parsed ``args`` (logs to stderr); return the exit status."""
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(processName)s %(name)s %(levelname)s %(message)s",
    )
    try:
        return run(args)
    except RecUtilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


__all__ = ["add_arguments", "build_parser", "main", "read_frame", "run", "run_command"]
