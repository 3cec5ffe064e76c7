"""The MovieLens benchmark: every model of a spec, both protocols, several seeds.

    RECUTILS_DATA_MIRROR=../shared/data python tools/benchmarks/movielens.py \\
        --spec movielens --out notebooks/06_benchmarks/results_ml100k.csv \\
        --note "2 cores shared with other jobs"

``--spec`` is a built-in spec name (``movielens``: recutils/benchmark/specs/movielens.yaml)
or a YAML file. Results go to ``--out`` (one row per model x protocol x seed), the per-user
values beside it (``<stem>_per_user.csv.gz``) and a description of the machine to
``<stem>_machine.json`` (one entry per invocation). Rows already in ``--out`` for the same
model, protocol, seed and parameters are kept, not recomputed: add a model to the spec
and run the same command to extend the table. A run that fails is logged and skipped.
Afterwards, ``python tools/update_readme_benchmark.py`` regenerates the README table.

A small run to a scratch file (seconds; docs/benchmarks.md has more)::

    python tools/benchmarks/movielens.py --models sar popularity --seeds 1 \
        --protocols chrono --out /tmp/bench/results.csv

A wrong model name, spec or option value ends with one line on stderr (``error: ...``,
exit status 2) before anything is written.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MachineRecord, run_cli  # noqa: E402

from recutils.benchmark import (
    BenchmarkSpec,
    default_per_user_path,
    load_spec,
    paired_tests,
    run_benchmark,
    summarize,
)
from recutils.exceptions import ConfigError


def check_models(spec: BenchmarkSpec) -> None:
    """Every model of ``spec`` is a registered name (checked by name, nothing imported).

    Raises:
        ConfigError: naming the spec entry, the unknown model and the registered ones.
    """
    from recutils.models import list_models

    known = list_models()
    for m in spec.models:
        if m.model not in known:
            entry = f"spec entry {m.name!r}: " if m.name != m.model else ""
            raise ConfigError(
                f"{entry}unknown model {m.model!r}; registered models (recutils models): {known}."
            )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (2 with one ``error:`` line on a bad input)."""
    return run_cli(_main, argv)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", default="movielens", help="built-in spec name or YAML file")
    p.add_argument("--out", required=True, help="results CSV (resumed when it exists)")
    p.add_argument("--models", nargs="*", default=None, help="run only these models of the spec")
    p.add_argument("--seeds", nargs="*", type=int, default=None, help="override the spec's seeds")
    p.add_argument("--protocols", nargs="*", default=None, help="override the spec's protocols")
    p.add_argument("--data-size", default=None, help="override the spec's data size (e.g. 1m)")
    p.add_argument("--note", default="", help="free text stored with the machine description")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    spec = load_spec(args.spec)
    changes = {"data_size": args.data_size} if args.data_size else {}
    spec = spec.select(models=args.models, seeds=args.seeds, protocols=args.protocols, **changes)
    check_models(spec)
    out = Path(args.out)
    record = MachineRecord(out, "tools/benchmarks/movielens.py", argv or sys.argv[1:], args.note)
    results, per_user = run_benchmark(
        spec, results_path=out, progress=not args.no_progress, on_error="skip", return_per_user=True
    )
    record.finish(len(results))
    summary = summarize(results)
    cols = [
        "protocol",
        "model",
        "n_seeds",
        "mean_average_precision_mean",
        f"ndcg@{spec.k}_mean",
        f"ndcg@{spec.k}_sd",
        "rmse_mean",
        "fit_s_mean",
    ]
    print(summary[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    if spec.reference is not None and len(per_user):
        tests = paired_tests(per_user, reference=spec.reference, metrics=[f"ndcg@{spec.k}"])
        print(
            tests[
                [
                    "protocol",
                    "model",
                    "mean_diff",
                    "cohens_d",
                    "t_pvalue",
                    "wilcoxon_pvalue",
                    "significant",
                ]
            ].to_string(index=False)
        )
    print(f"results: {out}, per user: {default_per_user_path(out)}, machine: {record.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
