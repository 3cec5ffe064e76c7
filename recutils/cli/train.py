"""``recutils train``: train a click-through model from a config and evaluate it.

EasyRec's train-and-evaluate in one command::

    recutils train --config wide_deep_movielens.yaml --data train.csv --eval-data eval.csv

* ``--config``: a YAML config of :class:`~recutils.models.deep.DeepRankModel` (``features``,
  ``model_config``, ``train``, ...), an EasyRec ``.config`` file, or the file name of a
  shipped config (``recutils/models/deep/configs``, ``recutils/models/ctr/configs``).
* Training settings: the config's ``train:`` section; an EasyRec file has none, so they
  are :class:`~recutils.nn.config.TrainConfig`'s defaults unless ``--train-config FILE``
  (a YAML file: its ``train:`` section, or the whole file) gives them. ``--epochs`` and
  ``--set KEY=VALUE`` (dotted keys, YAML values: ``--set train.optimizers.0.lr=0.01``,
  ``--set label_threshold=4``) change single values last. The command prints where the
  settings came from.
* Data: ``.csv`` or ``.parquet`` with the label column (``--label``, 0/1, or a rating
  with ``--set label_threshold=4``), the id columns and the feature columns the config
  names. Without ``--eval-data`` a random ``--eval-fraction`` of the rows (seeded) is
  held out. Early stopping uses the config's ``train.validation_fraction`` of the
  training part, as :meth:`DeepRankModel.fit` does.

It prints the training history (one row per epoch), the best epoch and the evaluation
rows' AUC and logloss; ``--save DIR`` writes the fitted model, ``--metrics-out FILE`` the
figures as JSON (with the history, the number of processes and the training samples
per second).

Several processes: ``torchrun --nproc-per-node N -m recutils train ...`` runs the same
command data-parallel (:mod:`recutils.nn.distributed`: gloo on CPUs, NCCL on GPUs,
``--backend``; ``train.batch_size`` is the global batch). Every rank trains and
evaluates; rank 0 alone prints, saves and writes the metrics. A rank that cannot reach
the others stops after ``--dist-timeout`` seconds with an error. Exit status 0, 1 on a recutils error (one line on stderr), 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from recutils.cli._args import positive_int
from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recutils.exceptions import ConfigError, RecUtilsError

logger = logging.getLogger(__name__)

NAME = "train"
HELP = "train a click-through model from a config (YAML or EasyRec) and evaluate it"
DESCRIPTION = (
    "Train recutils.models.deep.DeepRankModel from a config (a YAML or EasyRec .config file, or "
    "the name of a shipped config such as wide_deep_movielens.yaml) on a .csv or .parquet file, "
    "then print the history, the best epoch and AUC / logloss on the evaluation rows "
    "(--eval-data, or a held-out --eval-fraction of --data)."
)
DEFAULT_LABEL = "label"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``recutils train``."""
    parser.add_argument(
        "--config",
        required=True,
        help="YAML or EasyRec .config file, or a shipped config's file name",
    )
    parser.add_argument("--data", required=True, type=Path, help="training rows (.csv or .parquet)")
    parser.add_argument(
        "--eval-data",
        type=Path,
        default=None,
        help="evaluation rows (.csv or .parquet); default: hold out --eval-fraction of --data",
    )
    parser.add_argument(
        "--eval-fraction",
        type=float,
        default=0.2,
        help="share of --data held out for evaluation without --eval-data (default 0.2)",
    )
    parser.add_argument(
        "--label", default=DEFAULT_LABEL, help=f"label column (default {DEFAULT_LABEL})"
    )
    parser.add_argument(
        "--col-user", default=DEFAULT_USER_COL, help=f"user id column (default {DEFAULT_USER_COL})"
    )
    parser.add_argument(
        "--col-item", default=DEFAULT_ITEM_COL, help=f"item id column (default {DEFAULT_ITEM_COL})"
    )
    parser.add_argument(
        "--train-config",
        default=None,
        help="YAML file (or shipped config name) with the training settings: its train: "
        "section, or the whole file; for an EasyRec config, which has none",
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=None, help="train.epochs (overrides the config)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one config value, dotted key and YAML value, e.g. train.batch_size=512 "
        "or train.optimizers.0.lr=0.01 (repeatable)",
    )
    parser.add_argument(
        "--seed", type=int, default=42, help="seed of the evaluation split (default 42)"
    )
    parser.add_argument(
        "--save", type=Path, default=None, help="write the fitted model to this folder"
    )
    parser.add_argument(
        "--metrics-out", type=Path, default=None, help="write the figures to this JSON file"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "gloo", "nccl"],
        help="process-group backend under torchrun (default auto: nccl with GPUs, else gloo)",
    )
    parser.add_argument(
        "--dist-timeout",
        type=float,
        default=300.0,
        help="seconds a process waits for the others under torchrun (default 300)",
    )


def resolve_config(text: str, option: str = "--config") -> Path:
    """The config file ``text`` names: an existing file, else a shipped config's file name.

    Raises:
        ConfigError: neither (the message lists the shipped configs).
    """
    from recutils.nn.config_io import list_shipped_configs, shipped_config_path

    path = Path(text)
    if path.is_file():
        return path
    if "/" not in text and "\\" not in text and text in list_shipped_configs():
        return shipped_config_path(text)
    raise ConfigError(
        f"{option} {text!r}: no such file, and not a shipped config; shipped: "
        f"{list_shipped_configs()}."
    )


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["train.epochs=3", "train.optimizers.0.lr=0.01"]`` as a nested mapping (YAML values).

    Raises:
        ConfigError: an item without ``=`` or with an empty key.
    """
    import yaml

    nested: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise ConfigError(
                f"--set {item!r}: expected KEY=VALUE with a dotted KEY, e.g. train.epochs=3."
            )
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(
                    f"--set {item!r}: {part!r} is set to a value and used as a section."
                )
        node[parts[-1]] = yaml.safe_load(value) if value.strip() else None
    return nested


def _train_source(config: Path, train_config: str | None) -> tuple[dict[str, Any], str]:
    """Training settings from ``train_config`` (or none) and a sentence saying where they come from."""
    from recutils.nn.config_io import read_mapping, source_kind

    if train_config is not None:
        values = read_mapping(resolve_config(str(train_config), "--train-config"))
        settings = values["train"] if isinstance(values.get("train"), Mapping) else values
        return dict(settings), f"training settings: {train_config}"
    if source_kind(config) == "easyrec":
        return {}, (
            "training settings: recutils' defaults (TrainConfig; an EasyRec file has no "
            "train section: give --train-config FILE or --set train.KEY=VALUE)"
        )
    if "train" in read_mapping(config):
        return {}, f"training settings: the train section of {config.name}"
    return (
        {},
        f"training settings: recutils' defaults (TrainConfig; {config.name} has no train section)",
    )


def build_model(args: argparse.Namespace) -> tuple[Any, list[str]]:
    """The unfitted :class:`DeepRankModel` of the command's options and lines describing it."""
    from recutils.models.deep import DeepRankModel
    from recutils.nn.config_io import merge_config

    config = resolve_config(str(args.config))
    train, where = _train_source(config, args.train_config)
    changes: dict[str, Any] = {"train": train} if train else {}
    if args.epochs is not None:
        changes = merge_config(changes, {"train": {"epochs": args.epochs}})
    changes = merge_config(changes, parse_overrides(args.overrides))
    if args.no_progress:
        changes = merge_config(changes, {"train": {"progress": False}})
    model = DeepRankModel(
        config, col_user=args.col_user, col_item=args.col_item, col_rating=args.label, **changes
    )
    t = model.config.train
    lines = [
        f"Config: {config}",
        f"  {where}",
        f"  epochs {t.epochs}, batch size {t.batch_size}, early stopping on "
        f"{t.early_stopping_metric or 'nothing'} (patience {t.patience}, "
        f"validation fraction {t.validation_fraction})",
    ]
    return model, lines


def _split(args: argparse.Namespace, data: Any) -> tuple[Any, Any, str]:
    from recutils.cli.tune_worker import read_frame
    from recutils.splitting import python_random_split

    if args.eval_data is not None:
        return data, read_frame(args.eval_data), f"evaluation rows: {args.eval_data}"
    if not 0.0 < args.eval_fraction < 1.0:
        raise ConfigError(f"--eval-fraction must be in (0, 1), got {args.eval_fraction}.")
    train, test = python_random_split(data, ratio=1.0 - args.eval_fraction, seed=args.seed)
    return (
        train,
        test,
        f"evaluation rows: a random {args.eval_fraction:g} of {args.data} (seed {args.seed})",
    )


def train_and_evaluate(args: argparse.Namespace, out: TextIO) -> dict[str, Any]:
    """Fit and evaluate as the options say, printing progress to ``out``; return the figures."""
    from recutils.cli.tune_worker import read_frame
    from recutils.evaluation import auc, logloss

    world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    model, lines = build_model(args)
    data = read_frame(args.data)
    train, test, where = _split(args, data)
    if world_size > 1:
        lines.append(
            f"  data-parallel on {world_size} processes (global batch {model.config.train.batch_size})"
        )
    print("\n".join(lines), file=out)
    print(
        f"Data: {args.data}: {len(data):,} rows; {len(train):,} train, {len(test):,} evaluation "
        f"({where})",
        file=out,
    )
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    history = model.history_
    shown = [c for c in ("epoch", "step", "train_loss") if c in history.columns]
    shown += [c for c in history.columns if str(c).startswith("valid_")] + ["seconds"]
    print("\nHistory (one row per epoch):", file=out)
    print(history[shown].to_string(index=False, float_format=lambda v: f"{v:.4f}"), file=out)
    cols = {"col_user": args.col_user, "col_item": args.col_item, "col_rating": args.label}
    pred = model.predict(test, score_unknown=True)
    figures = {
        "auc": float(auc(test, pred, **cols)),
        "logloss": float(logloss(test, pred, **cols)),
        "best_epoch": model.best_epoch_,
        "epochs_run": int(history["epoch"].max()),
        "train_rows": len(train),
        "eval_rows": len(test),
        "world_size": world_size,
        "train_seconds": seconds,
        "samples_per_second": float(history["step"].max() * model.config.train.batch_size / seconds)
        if "step" in history.columns and seconds > 0
        else None,
        "history": json.loads(history.to_json(orient="records")),
    }
    best = (
        "none (no validation)"
        if model.best_epoch_ is None
        else f"{model.best_epoch_} of {figures['epochs_run']} (its weights are kept)"
    )
    print(f"\nBest epoch: {best}", file=out)
    print(
        f"Evaluation ({len(test):,} rows): AUC {figures['auc']:.4f}, logloss {figures['logloss']:.4f}",
        file=out,
    )
    if args.save is not None:
        model.save(args.save)
        print(f"Saved the model to {args.save} (recutils.models.load_model)", file=out)
    if args.metrics_out is not None:
        args.metrics_out.parent.mkdir(parents=True, exist_ok=True)
        args.metrics_out.write_text(json.dumps(figures, indent=2) + "\n")
    return figures


def run_command(args: argparse.Namespace, out: TextIO) -> int:
    """``recutils train``; return the exit status (1 on a recutils error, said in one line).

    Under ``torchrun`` (``WORLD_SIZE`` > 1) it first joins the process group; ranks other
    than 0 print nothing and write no files.
    """
    try:
        if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
            train_and_evaluate(args, out)
            return 0
        from recutils.nn import distributed

        context = distributed.init_from_env(args.backend, args.dist_timeout)
        try:
            if context is not None and not context.is_main:
                args = argparse.Namespace(
                    **{**vars(args), "save": None, "metrics_out": None, "no_progress": True}
                )
                out = io.StringIO()
            train_and_evaluate(args, out)
        finally:
            distributed.shutdown()
    except RecUtilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


__all__ = [
    "DEFAULT_LABEL",
    "add_arguments",
    "build_model",
    "parse_overrides",
    "resolve_config",
    "run_command",
    "train_and_evaluate",
]
