"""Run ``recutils train`` data-parallel on a Spark cluster with ``TorchDistributor``.

:func:`train_on_spark` hands the same training function as the command line
(:func:`recutils.cli.train.run_command`, parsed from the same arguments) to
:class:`pyspark.ml.torch.distributor.TorchDistributor`, which starts ``torchrun`` in
``num_processes`` Spark barrier tasks (``local_mode=False``: on the executors) or on the
driver (``local_mode=True``); each process joins the gloo group from the variables
``torchrun`` sets and trains its shard (:mod:`recutils.nn.distributed`). The files in the
arguments (``--config``, ``--data``, ``--save``, ``--metrics-out``) must be readable and
writable at the same paths on every executor (a shared file system).

Before training it checks that the executors can import torch (:func:`check_workers_have`),
since a cluster without it fails deep inside ``torchrun`` otherwise.

From a shell, ``spark-submit`` runs this file (the arguments after ``--`` are those of
``recutils train``)::

    spark-submit --master spark://HOST:7077 \
        $(python -c "import recutils.spark.distributed as m; print(m.__file__)") \
        --num-processes 2 --ranks-out /shared/ranks -- \
        --config /shared/model.yaml --data /shared/rows.parquet --backend gloo \
        --save /shared/model --metrics-out /shared/metrics.json

``python -m recutils.spark.distributed --master local[2] ...`` does the same without
``spark-submit``. ``--ranks-out DIR`` has every process write ``rank-<RANK>.json`` (rank,
world size, host, process id and working directory: on a standalone cluster the
executor's folder under the worker's work directory), which shows where each rank ran.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from recutils.exceptions import MissingDependencyError, ModelFitError


def check_workers_have(spark: Any, module: str | Sequence[str] = "torch", tasks: int = 2) -> None:
    """Run ``tasks`` Spark tasks (one job) that look for ``module`` (a name, or several
    names looked for at once) on the executors.

    Raises:
        MissingDependencyError: an executor's Python cannot import a module (the message
            names the modules, the hosts' Python and what to install).
    """
    sc = spark.sparkContext
    names = [module] if isinstance(module, str) else list(module)

    def probe(_: int) -> tuple[list[str], str]:  # runs on an executor: self-contained
        import importlib.util
        import sys

        return [m for m in names if importlib.util.find_spec(m) is None], sys.executable

    found = sc.parallelize(range(tasks), tasks).map(probe).collect()
    lacking = sorted({m for gone, _ in found for m in gone})
    if lacking:
        pythons = sorted({exe for gone, exe in found if gone})
        raise MissingDependencyError(
            lacking[0],
            "torch",
            f"the Spark executors' Python ({', '.join(pythons)}) cannot import "
            f"{', '.join(repr(m) for m in lacking)}: install it on every worker, or point "
            "PYSPARK_PYTHON at an environment that has it, before training with TorchDistributor",
        )


def _report_rank(folder: str) -> None:
    """Write ``rank-<RANK>.json``: where this process runs (from the variables ``torchrun`` sets)."""
    rank = int(os.environ.get("RANK", "0") or 0)
    info = {
        "rank": rank,
        "world_size": int(os.environ.get("WORLD_SIZE", "1") or 1),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "parent_pid": os.getppid(),
        "cwd": os.getcwd(),
    }
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    (path / f"rank-{rank}.json").write_text(json.dumps(info) + "\n")


def _train_main(argv: list[str], ranks_out: str | None = None) -> int:
    """One ``torchrun`` process: ``recutils train`` with ``argv`` (the process group is joined
    inside); with ``ranks_out``, first :func:`_report_rank` there."""
    from recutils.cli import train

    if ranks_out is not None:
        _report_rank(ranks_out)

    parser = argparse.ArgumentParser(prog="recutils train")
    train.add_arguments(parser)
    return train.run_command(parser.parse_args(argv), sys.stdout)


def train_on_spark(
    spark: Any,
    argv: Sequence[str],
    num_processes: int = 2,
    local_mode: bool = False,
    use_gpu: bool = False,
    ranks_out: str | os.PathLike | None = None,
) -> int:
    """``recutils train ARGV`` on ``num_processes`` processes through TorchDistributor.

    Args:
        spark: The active session (its cluster runs the processes).
        argv: The arguments of ``recutils train`` (without ``train``), e.g.
            ``["--config", "deepfm_movielens.yaml", "--data", "/shared/rows.parquet"]``.
        num_processes: Processes (one Spark barrier task each when ``local_mode`` is False,
            so the cluster needs that many free task slots).
        local_mode: Run the processes on the driver instead of the executors.
        use_gpu: One GPU per process (``spark.task.resource.gpu.amount`` must be set).
        ranks_out: A folder (shared, like the data) where every process writes
            ``rank-<RANK>.json``: rank, world size, host, process ids and working directory.

    Returns:
        Rank 0's exit status (0).

    Raises:
        MissingDependencyError: the executors cannot import torch.
        ModelFitError: training failed on a rank (the message carries its output's tail).
    """
    from pyspark.ml.torch.distributor import TorchDistributor

    if not local_mode:
        check_workers_have(spark, "torch", tasks=num_processes)
    distributor = TorchDistributor(
        num_processes=num_processes, local_mode=local_mode, use_gpu=use_gpu
    )
    try:
        status = distributor.run(
            _train_main, list(map(str, argv)), None if ranks_out is None else str(ranks_out)
        )
    except RuntimeError as err:
        raise ModelFitError(
            f"distributed training through TorchDistributor failed: {err}"
        ) from None
    if status:
        raise ModelFitError(
            f"recutils train exited with status {status} on rank 0 (see its output above)."
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``spark-submit .../distributed.py`` / ``python -m recutils.spark.distributed``."""
    p = argparse.ArgumentParser(
        prog="python -m recutils.spark.distributed",
        description="recutils train on Spark executors through TorchDistributor; the arguments "
        "after -- are those of recutils train.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--num-processes", type=int, default=2, help="training processes (task slots)")
    p.add_argument(
        "--local-mode", action="store_true", help="run the processes on the driver instead"
    )
    p.add_argument(
        "--master",
        default=None,
        help="Spark master URL (default: the one spark-submit was given, else $SPARK_MASTER)",
    )
    p.add_argument("--ranks-out", default=None, help="folder for each process's rank-<RANK>.json")
    p.add_argument(
        "train_args", nargs=argparse.REMAINDER, help="-- then recutils train's arguments"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Start (or join) the Spark session, then :func:`train_on_spark`; 1 on a recutils error."""
    from recutils.exceptions import RecUtilsError
    from recutils.spark import start_or_get_spark

    args = build_parser().parse_args(argv)
    train_args = list(args.train_args)
    if train_args[:1] == ["--"]:
        train_args = train_args[1:]
    if not train_args:
        build_parser().error("give recutils train's arguments after --")
    try:
        spark = start_or_get_spark("recutils-train", master=args.master, log_level="WARN")
        try:
            return train_on_spark(
                spark,
                train_args,
                num_processes=args.num_processes,
                local_mode=args.local_mode,
                ranks_out=args.ranks_out,
            )
        finally:
            spark.stop()
    except RecUtilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


__all__ = ["build_parser", "check_workers_have", "main", "train_on_spark"]

if __name__ == "__main__":  # pragma: no cover - exercised through spark-submit in the tests
    # the functions Spark ships to the executors are then the importable module's, not __main__'s
    from recutils.spark.distributed import main as _main

    sys.exit(_main())
