"""The ``recutils`` command line (also ``python -m recutils``).

Subcommands, one module each (each has ``NAME``, ``HELP``, ``DESCRIPTION``,
``add_arguments(parser)`` and ``run_command(args, out) -> exit status``):

* ``recutils quickstart`` (:mod:`recutils.cli.quick_start`): SAR, popularity and
  item-KNN on MovieLens (a labelled synthetic stand-in when none is available),
  compared by MAP, nDCG, precision, recall, coverage and timings; top-k lists to a CSV.
* ``recutils models`` (:mod:`recutils.cli.models`): the registered models, each with
  its kind and the pip extra it needs.
* ``recutils train --config CONFIG --data FILE`` (:mod:`recutils.cli.train`): train a
  click-through model from a YAML or EasyRec config and evaluate it.
* ``recutils serve --artifact PATH | --store URL`` (:mod:`recutils.cli.serve`): the HTTP
  recommendation service (:mod:`recutils.serving.app`).
* ``recutils als-job`` (:mod:`recutils.cli.als_job`): Spark ALS as a batch job (also
  ``python -m recutils.spark.jobs.als`` and ``spark-submit`` of that file).
* ``recutils sar-job`` (:mod:`recutils.cli.sar_job`): SAR on Spark as a batch job (also
  ``python -m recutils.spark.jobs.sar`` and ``spark-submit`` of that file).
* ``recutils tune-worker`` (:mod:`recutils.cli.tune_worker`): a worker of a shared tuning
  study (also ``python -m recutils.tuning.worker``).

Building the parser imports no optional library; each subcommand imports what it
needs when it runs. The library never prints; this package is where recutils talks
to a terminal.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from recutils.cli import als_job, models, quick_start, sar_job, serve, train, tune_worker
from recutils.cli.quick_start import (
    DEFAULT_OUTPUT,
    SYNTHETIC_LABEL,
    SYNTHETIC_SIZE,
    load_quickstart_data,
    quickstart,
)

logger = logging.getLogger(__name__)

#: The subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS = (quick_start, models, train, serve, als_job, sar_job, tune_worker)
# Options of the top-level parser; a subcommand's namespace is handed over without them.
_GLOBAL_DESTS = ("command", "func", "verbose")


def _add_subcommand(sub: argparse._SubParsersAction, module) -> None:
    parser = sub.add_parser(module.NAME, help=module.HELP, description=module.DESCRIPTION)
    module.add_arguments(parser)
    parser.set_defaults(func=module.run_command)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``recutils`` command."""
    from recutils import __version__

    parser = argparse.ArgumentParser(
        prog="recutils",
        description="recutils: recommender systems toolkit. Try `recutils quickstart`.",
    )
    parser.add_argument("--version", action="version", version=f"recutils {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log progress (-v: info, -vv: debug) to stderr",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        _add_subcommand(sub, module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recutils`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if args.verbose:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose > 1 else logging.INFO,
            format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    own = argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in _GLOBAL_DESTS})
    return int(func(own, sys.stdout))


__all__ = [
    "DEFAULT_OUTPUT",
    "SUBCOMMANDS",
    "SYNTHETIC_LABEL",
    "SYNTHETIC_SIZE",
    "build_parser",
    "load_quickstart_data",
    "main",
    "quickstart",
]
