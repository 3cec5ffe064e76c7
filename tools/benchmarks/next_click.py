"""Next-click benchmark on session data: HR@20 and MRR@20 of every test-session prefix.

    python tools/benchmarks/next_click.py --dataset rsc15 \
        --models popularity itemknn comet_i2i pdn --seeds 1 2 3

Writes ``notebooks/06_benchmarks/results_next_click.csv`` (replacing the rows of the same data set
and models, keeping the others) and prints the table with the mean and standard deviation over
seeds. ``--validation`` evaluates on the last day of the training sessions instead (for tuning;
nothing is written unless ``--out`` is given).
Protocol: :mod:`recutils.benchmark.next_click`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import run_cli  # noqa: E402

RESULTS = (
    Path(__file__).resolve().parents[2] / "notebooks" / "06_benchmarks" / "results_next_click.csv"
)


def _value(text: str) -> object:
    """A ``--set`` value: YAML (``20``, ``0.3``, ``true``, ``[32, 16]``), and ``1e-3`` as a number."""
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def run(argv: list[str] | None = None) -> int:
    from recutils.benchmark.next_click import (
        NEXT_CLICK_DATASETS,
        NEXT_CLICK_MODELS,
        run_next_click_benchmark,
    )

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=NEXT_CLICK_DATASETS, default="rsc15")
    p.add_argument(
        "--models", nargs="+", choices=NEXT_CLICK_MODELS, default=list(NEXT_CLICK_MODELS)
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--validation", action="store_true", help="score the validation split (tuning)")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="MODEL.KEY=VALUE",
        help="parameter overrides, e.g. comet_i2i.history_decay=0.3",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"results file (default {RESULTS.name}; none with --validation)",
    )
    args = p.parse_args(argv)
    params: dict[str, dict] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        model, dot, name = key.partition(".")
        if not (sep and dot and model and name):
            p.error(f"--set {item!r}: expected MODEL.KEY=VALUE")
        params.setdefault(model, {})[name] = _value(value)
    results = run_next_click_benchmark(
        args.dataset, args.models, args.seeds, validation=args.validation, params=params
    )
    numbers = results.drop(columns=["dataset", "seed"])
    summary = numbers.groupby("model", sort=False).agg(["mean", "std"])
    with pd.option_context("display.width", 200, "display.float_format", "{:.4f}".format):
        print(results.to_string(index=False))
        print(summary.to_string())
    out = args.out or (None if args.validation else RESULTS)
    if out is not None:
        if out.exists():
            old = pd.read_csv(out)
            keep = ~(old["dataset"].eq(args.dataset) & old["model"].isin(args.models))
            results = pd.concat([old[keep], results], ignore_index=True)
        results.to_csv(out, index=False, float_format="%.4f")
        print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
