"""ESMM's sample-selection bias on the constructed entire-space task: ESMM against a naive CVR model.

    RECUTILS_DATA_MIRROR=../shared/data python tools/benchmarks/esmm_bias.py \\
        --seeds 1 2 3 --out notebooks/06_benchmarks/results_esmm_bias.csv

Each seed draws impressions on MovieLens 100k ids with known click and conversion
probabilities (recutils/datasets/entire_space.py), fits ESMM on every training impression and
a CVR model of the same network on the clicked ones, chooses each model's embedding weight decay
on validation impressions, and scores both models' pCVR against the true p(conversion | click)
over every test impression (recutils/benchmark/esmm_bias.py; docs/esmm_bias.md). The table
(one row per seed x model x scope, with the calibration bins) goes to ``--out``; the summary
(mean and sd over seeds) and whether the bar holds (ESMM's ECE over the entire space below the
naive model's) are printed. A bad option ends with one ``error:`` line on stderr (exit status 2).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import run_cli  # noqa: E402

from recutils.benchmark.esmm_bias import (  # noqa: E402
    ESMM_WEIGHT_DECAYS,
    N_IMPRESSIONS,
    NAIVE_WEIGHT_DECAYS,
    esmm_bar,
    run_esmm_bias,
    summarize_esmm_bias,
)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (2 with one ``error:`` line on a bad input)."""
    return run_cli(_main, argv)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3], help="seeds (default 1 2 3)")
    p.add_argument("--out", required=True, help="results CSV (overwritten)")
    p.add_argument(
        "--impressions",
        type=int,
        default=N_IMPRESSIONS,
        help=f"impressions per seed (default {N_IMPRESSIONS})",
    )
    p.add_argument(
        "--esmm-weight-decays",
        nargs="+",
        type=float,
        default=list(ESMM_WEIGHT_DECAYS),
        help="ESMM's candidate embedding weight decays, chosen on validation",
    )
    p.add_argument(
        "--naive-weight-decays",
        nargs="+",
        type=float,
        default=list(NAIVE_WEIGHT_DECAYS),
        help="the naive CVR model's candidate embedding weight decays, chosen on validation",
    )
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per fit (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("recutils.nn").setLevel(logging.WARNING)  # one line per fit, not per epoch
    start = time.perf_counter()
    results = run_esmm_bias(
        args.seeds,
        args.impressions,
        esmm_weight_decays=args.esmm_weight_decays,
        naive_weight_decays=args.naive_weight_decays,
        num_threads=args.threads,
        progress=not args.no_progress,
    )
    seconds = time.perf_counter() - start
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(out, index=False, float_format="%.6g")
    summary = summarize_esmm_bias(results)
    columns = [c for c in summary.columns if c.startswith(("cvr_", "ctcvr_", "mean_"))]
    print(summary[["n_seeds", *columns]].to_string(float_format=lambda x: f"{x:.4f}"))
    _, verdict = esmm_bar(results)
    print(verdict)
    print(f"results: {out} ({len(results)} rows), {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
