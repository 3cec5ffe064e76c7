"""The multi-task benchmark on census income: the census presets x seeds, per-task test AUC, DeLong, the bars.

    RECUTILS_DATA_MIRROR=../shared/data nice python tools/benchmarks/multitask_census.py \\
        --seeds 1 2 3 --out notebooks/06_benchmarks/results_census.csv

Every model (``single_task_income``, ``single_task_marital``, ``simple_multitask``, ``mmoe``,
``ple``, ``dbmtl``: the presets ``recutils/models/multitask/configs/*_census.yaml``) is
trained on the census train split with each seed, early-stopped on the valid split and
scored on the test split (:mod:`recutils.benchmark.multitask`). Results go to ``--out``
(one row per model x seed x task), the test scores of every run beside it
(``<stem>_scores.npz``, about 2 MB, to resume the paired tests; not committed: without it a
run refits), the DeLong tests and the bar verdicts
to ``<stem>_tests.csv`` and ``<stem>_bars.csv``, and a description of the machine to
``<stem>_machine.json``. Runs already in ``--out`` (same model, seed and config) are
kept: run the same command again to finish an interrupted run. A wrong model name ends
with one ``error:`` line on stderr (exit status 2).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MachineRecord, run_cli  # noqa: E402

from recutils.benchmark.multitask import census_models, run_multitask_benchmark  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (2 with one ``error:`` line on a bad input)."""
    return run_cli(_main, argv)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="results CSV (resumed when it exists)")
    p.add_argument(
        "--seeds", nargs="+", type=int, default=[1, 2, 3], help="seeds of the weights and batches"
    )
    p.add_argument("--models", nargs="*", default=None, help="run only these models (default: all)")
    p.add_argument("--epochs", type=int, default=None, help="override every model's most epochs")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per fit (default 1)")
    p.add_argument("--note", default="", help="free text stored with the machine description")
    p.add_argument("--progress", action="store_true", help="training progress bars")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    models = census_models(args.models)
    out = Path(args.out)
    stem = out.name.removesuffix(".csv")
    record = MachineRecord(
        out, "tools/benchmarks/multitask_census.py", argv or sys.argv[1:], args.note
    )

    def show(rows):
        print(
            rows[["model", "seed", "task", "auc", "logloss", "fit_s", "epochs"]].to_string(
                index=False, header=False, float_format=lambda x: f"{x:.4f}"
            ),
            flush=True,
        )

    bench = run_multitask_benchmark(
        models,
        args.seeds,
        results_path=out,
        epochs=args.epochs,
        num_threads=args.threads,
        progress=args.progress,
        on_run=show,
    )
    record.finish(len(bench.results))
    tests_path, bars_path = out.with_name(stem + "_tests.csv"), out.with_name(stem + "_bars.csv")
    bench.tests.to_csv(tests_path, index=False)
    bench.bars.to_csv(bars_path, index=False)
    fmt = {"float_format": lambda x: f"{x:.4f}"}
    print("\nTest AUC and logloss, mean and sd over seeds:")
    print(bench.summary().to_string(index=False, **fmt))
    print("\nDeLong tests on the seed-averaged test scores (Holm per task and reference):")
    print(bench.tests.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print("\nBars:")
    for bar in bench.bars.itertuples(index=False):
        verdict = "MET" if bar.met else "NOT MET"
        print(
            f"  ({bar.bar}) {bar.model} vs {bar.reference} on {bar.task}: {bar.auc_model:.4f} +- "
            f"{bar.sd_model:.4f} vs {bar.auc_reference:.4f} +- {bar.sd_reference:.4f} "
            f"(diff {bar.diff:+.4f}, Holm p {bar.pvalue_holm:.3g}): {verdict} [{bar.rule}]"
        )
    print(f"results: {out}, tests: {tests_path}, bars: {bars_path}, machine: {record.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
