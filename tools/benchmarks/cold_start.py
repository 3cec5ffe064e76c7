"""Item cold start on MovieLens 100k: DropoutNet against popularity within genre, LightFM and random.

    RECUTILS_DATA_MIRROR=../shared/data nice -n 10 python tools/benchmarks/cold_start.py \\
        --seeds 1 2 3 --out notebooks/06_benchmarks/results_cold_start.csv

Each seed holds a seeded 20% of the items out of training entirely, trains every model on the
other rows, and scores each user with a held-out-item interaction against the held-out items
only: recall@50 (recutils/benchmark/cold_start.py; docs/cold_start.md). DropoutNet's knobs are
chosen per seed on a second cold split of the training items. The table (one row per seed x
model) goes to ``--out``, the tuning table next to it (``*_tuning.csv``); the summary (mean and
sd over seeds), the paired test of DropoutNet against the best baseline and whether the bar
holds are printed. A bad option ends with one ``error:`` line on stderr (exit status 2).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import run_cli  # noqa: E402

from recutils.benchmark.cold_start import (  # noqa: E402
    MODELS,
    K,
    cold_start_bar,
    run_cold_start,
    summarize_cold_start,
)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (2 with one ``error:`` line on a bad input)."""
    return run_cli(_main, argv)


def _main(argv: list[str] | None) -> int:
    from recutils.datasets.movielens import load_item_df, load_pandas_df, load_user_df

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3], help="seeds (default 1 2 3)")
    p.add_argument("--out", required=True, help="results CSV (overwritten)")
    p.add_argument(
        "--models",
        nargs="+",
        default=list(MODELS),
        choices=MODELS,
        metavar="MODEL",
        help=f"models (default: {' '.join(MODELS)})",
    )
    p.add_argument("--size", default="100k", help="MovieLens size (default 100k)")
    p.add_argument(
        "--threads", type=int, default=1, help="torch / LightFM threads per fit (default 1)"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("recutils.nn").setLevel(logging.WARNING)
    logging.getLogger("recutils.models").setLevel(logging.WARNING)
    start = time.perf_counter()
    ratings = load_pandas_df(args.size)
    users = load_user_df(args.size, progress=False)[["userID", "age", "gender", "occupation"]]
    items = load_item_df(args.size, progress=False)
    results, per_user, tuning = run_cold_start(
        ratings, users, items, args.seeds, models=args.models, num_threads=args.threads
    )
    seconds = time.perf_counter() - start
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(out, index=False, float_format="%.6g")
    if not tuning.empty:
        tuning.to_csv(out.with_name(f"{out.stem}_tuning.csv"), index=False, float_format="%.6g")
    print(summarize_cold_start(results).to_string(float_format=lambda x: f"{x:.4f}"))
    if "dropoutnet" in args.models and len(
        set(args.models) - {"dropoutnet", "dropoutnet_rate0", "random"}
    ):
        tests, verdict = cold_start_bar(per_user)
        print(
            tests[
                [
                    "model",
                    "reference",
                    "n_users",
                    "mean_model",
                    "mean_reference",
                    "mean_diff",
                    "cohens_d",
                    "t_pvalue",
                    "wilcoxon_pvalue",
                ]
            ].to_string(index=False, float_format=lambda x: f"{x:.4g}")
        )
        print(verdict)
    print(f"results: {out} ({len(results)} rows), recall@{K}, {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
