"""Distillation on MovieLens click-through: teacher, MLP student alone and with KD, Rocket Launching, the bar.

    RECUTILS_DATA_MIRROR=../shared/data nice python tools/benchmarks/distillation_movielens.py \\
        --seeds 1 2 3 --out notebooks/06_benchmarks/results_distillation.csv

For each seed (weights and batches; the 80/20 split is the zoo's, seed 42, for every seed):
logistic regression, the teacher (the zoo's xDeepFM), the shipped MLP student alone and with
its ``kd`` term (the teacher's probabilities of the training rows), and Rocket Launching's
light net are trained on the training part (early stopping on 10% of it) and score the test
rows; the forward of each network on the encoded test rows and its ``predict`` are timed
(best of ``--repeat``, ``--threads`` threads, in the same run); see
:mod:`recutils.benchmark.distillation`. Results go to ``--out`` (one row per model and
seed), a description of the machine to ``<stem>_machine.json``; seeds already in ``--out``
with the same configs are kept (run the same command again to finish an interrupted run).

``--tune`` runs the settings search instead: on a validation part of the training rows
(10%, never the test rows), one teacher and the students of a small grid (loss weight,
temperature, width; Rocket Launching's hint weight), their validation AUCs to ``--out``.
A bad input ends with one ``error:`` line on stderr (exit status 2).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MachineRecord, run_cli  # noqa: E402

from recutils.benchmark.distillation import (  # noqa: E402
    RETENTION_BAR,
    SPEEDUP_BAR,
    run_distillation_benchmark,
    tune_distillation,
)

_FLOAT = {"float_format": lambda x: f"{x:.4f}"}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (2 with one ``error:`` line on a bad input)."""
    return run_cli(_main, argv)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="results CSV (resumed when it exists)")
    p.add_argument(
        "--seeds", nargs="+", type=int, default=[1, 2, 3], help="seeds of the weights and batches"
    )
    p.add_argument("--epochs", type=int, default=None, help="override every model's most epochs")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads for fitting and timing (default 1)",
    )
    p.add_argument("--repeat", type=int, default=5, help="timed repetitions, best kept (default 5)")
    p.add_argument(
        "--tune", action="store_true", help="search the students' settings on a validation part"
    )
    p.add_argument("--note", default="", help="free text stored with the machine description")
    p.add_argument("--progress", action="store_true", help="training progress bars")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    out = Path(args.out)
    script = "tools/benchmarks/distillation_movielens.py"
    if args.tune:
        record = MachineRecord(out, script, argv or sys.argv[1:], args.note)
        table = tune_distillation(
            seed=args.seeds[0],
            epochs=args.epochs,
            num_threads=args.threads,
            results_path=out,
            on_run=lambda row: print(row, flush=True),
        )
        record.finish(len(table))
        print(table.to_string(index=False, **_FLOAT))
        return 0
    record = MachineRecord(out, script, argv or sys.argv[1:], args.note)

    def show(rows):
        print(
            rows[
                [
                    "model",
                    "seed",
                    "auc",
                    "logloss",
                    "epochs",
                    "parameters",
                    "forward_rows_per_s",
                    "predict_rows_per_s",
                ]
            ].to_string(index=False, header=False, **_FLOAT),
            flush=True,
        )

    bench = run_distillation_benchmark(
        args.seeds,
        results_path=out,
        epochs=args.epochs,
        num_threads=args.threads,
        repeat=args.repeat,
        progress=args.progress,
        on_seed=show,
    )
    record.finish(len(bench.results))
    print("\nTest AUC, rows/s, gain retention and speed-up, mean and sd over seeds:")
    print(bench.summary().to_string(index=False, **_FLOAT))
    print(
        f"\nThe bar: retention >= {RETENTION_BAR:.0%} of the teacher's AUC gain over logistic regression "
        f"(of the mean AUCs) and a forward >= {SPEEDUP_BAR:g}x faster:"
    )
    for bar in bench.bar.itertuples(index=False):
        verdict = "MET" if bar.met else "NOT MET"
        print(
            f"  {bar.model}: AUC {bar.auc_student:.4f} +- {bar.auc_student_sd:.4f} (teacher {bar.auc_teacher:.4f}, "
            f"LR {bar.auc_lr:.4f}), retention {bar.retention:.1%} (per seed sd {bar.retention_sd:.1%}), "
            f"speed-up {bar.speedup:.1f}x +- {bar.speedup_sd:.1f}: {verdict}"
        )
    print(f"results: {out}, machine: {record.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
