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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from recutils.exceptions import MissingDependencyError, ModelFitError


def check_workers_have(spark: Any, module: str = "torch", tasks: int = 2) -> None:
    """Run ``tasks`` Spark tasks that look for ``module`` on the executors.

    Raises:
        MissingDependencyError: an executor's Python cannot import ``module`` (the message
            names the hosts' Python and what to install).
    """
    sc = spark.sparkContext

    def probe(_: int) -> tuple[bool, str]:  # runs on an executor: self-contained
        import importlib.util
        import sys

        return importlib.util.find_spec(module) is not None, sys.executable

    found = sc.parallelize(range(tasks), tasks).map(probe)
    missing = sorted({exe for ok, exe in found.collect() if not ok})
    if missing:
        raise MissingDependencyError(
            module,
            "torch",
            f"the Spark executors' Python ({', '.join(missing)}) cannot import {module!r}: install it on every "
            "worker, or point PYSPARK_PYTHON at an environment that has it, before training with "
            "TorchDistributor",
        )


def _train_main(argv: list[str]) -> int:
    """One ``torchrun`` process: ``recutils train`` with ``argv`` (the process group is joined inside)."""
    import argparse
    import sys

    from recutils.cli import train

    parser = argparse.ArgumentParser(prog="recutils train")
    train.add_arguments(parser)
    return train.run_command(parser.parse_args(argv), sys.stdout)


def train_on_spark(
    spark: Any,
    argv: Sequence[str],
    num_processes: int = 2,
    local_mode: bool = False,
    use_gpu: bool = False,
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
        status = distributor.run(_train_main, list(map(str, argv)))
    except RuntimeError as err:
        raise ModelFitError(
            f"distributed training through TorchDistributor failed: {err}"
        ) from None
    if status:
        raise ModelFitError(
            f"recutils train exited with status {status} on rank 0 (see its output above)."
        )
    return 0


__all__ = ["check_workers_have", "train_on_spark"]
