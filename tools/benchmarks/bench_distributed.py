"""Data-parallel training throughput: the zoo's DeepFM on MovieLens 100k on 1 vs N processes.

    python tools/benchmarks/bench_distributed.py [--processes 1,2] [--epochs 1] [--batch-size 1024]
                                                 [--threads 1] [--out FILE.json]

Each run is ``torchrun --standalone --nproc-per-node N -m recutils train --config
deepfm_movielens.yaml`` (gloo on CPU, NCCL on GPUs: ``--backend``) on MovieLens 100k as
click-through rows (``recutils.datasets.movielens_features.movielens_ctr_frame``, through
``RECUTILS_DATA_MIRROR``), 20% held out for evaluation, no early-stopping validation
(``train.validation_fraction=0``), the same global batch on every process count.

Samples/s = global batches x batch size / wall seconds of ``model.fit`` on rank 0 (the
command's ``samples_per_second``); the AUC on the held-out rows is printed beside it, so
that the runs can be seen to train the same model. Each process uses ``--threads`` torch
threads: on a 2-core machine, 2 processes x 1 thread use both cores, as 1 process x 2
threads would.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(processes: int, data: Path, workdir: Path, args: argparse.Namespace) -> dict:
    """One ``torchrun`` run of ``recutils train``; its metrics."""
    metrics = workdir / f"metrics-{processes}.json"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(processes),
        "-m",
        "recutils",
        "train",
        "--config",
        "deepfm_movielens.yaml",
        "--data",
        str(data),
        "--no-progress",
        "--backend",
        args.backend,
        "--set",
        f"train.batch_size={args.batch_size}",
        "--set",
        f"train.epochs={args.epochs}",
        "--set",
        "train.validation_fraction=0",
        "--set",
        f"train.num_threads={args.threads}",
        "--set",
        f"train.device={args.device}",
        "--metrics-out",
        str(metrics),
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.threads),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    subprocess.run(cmd, check=True, env=env, cwd=workdir, stdout=subprocess.DEVNULL)
    return json.loads(metrics.read_text())


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per process count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--processes", default="1,2", help="process counts, comma-separated (default 1,2)"
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1024, help="global batch (default 1024)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads per process (default 1)"
    )
    parser.add_argument("--device", default="auto", help="train.device (default auto)")
    parser.add_argument("--backend", default="auto", choices=["auto", "gloo", "nccl"])
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    from recutils.datasets.movielens_features import movielens_ctr_frame

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "ml100k_ctr.parquet"
        movielens_ctr_frame("100k").to_parquet(data)
        for n in (int(x) for x in args.processes.split(",")):
            figures = run(n, data, work, args)
            rows.append(
                {
                    "processes": n,
                    "samples_per_second": figures["samples_per_second"],
                    "train_seconds": figures["train_seconds"],
                    "auc": figures["auc"],
                    "train_rows": figures["train_rows"],
                }
            )
            print(
                f"{n} process(es): {figures['samples_per_second']:,.0f} samples/s, "
                f"fit {figures['train_seconds']:.1f} s, AUC {figures['auc']:.4f}",
                flush=True,
            )
    if args.out is not None:
        args.out.write_text(
            json.dumps(
                {
                    "device": args.device,
                    "threads_per_process": args.threads,
                    "batch_size": args.batch_size,
                    "epochs": args.epochs,
                    "runs": rows,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
