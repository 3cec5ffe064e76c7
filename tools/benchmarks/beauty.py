"""The next-item benchmark on Amazon Beauty: every model of a spec, several seeds, full and sampled metrics.

    RECUTILS_DATA_MIRROR=../shared/data python tools/benchmarks/beauty.py \\
        --spec beauty --out notebooks/06_benchmarks/results_beauty.csv

``--spec`` is a built-in next-item spec (``beauty``: recutils/benchmark/specs/beauty.yaml) or a
YAML file. Results go to ``--out`` (one row per model x seed: HR, NDCG and MRR at each k under
full and sampled ranking, fit and evaluation seconds), every user's full and sampled rank
beside it (``<stem>_per_user.csv.gz``, for paired tests) and a description of the machine to
``<stem>_machine.json``. Rows already in ``--out`` for the same model, parameters and seed
are kept: add a model to the spec and run the same command to extend the table. With
``--checkpoint-dir DIR`` every run also writes a checkpoint per epoch, and a run killed
part-way resumes at its last finished epoch when the command is started again (its
``fit_s`` counts the time of every process that trained it). A wrong model name or option
ends with one ``error:`` line on stderr (exit status 2).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MachineRecord, run_cli  # noqa: E402

from recutils.benchmark.next_item import POPULARITY, load_next_item_spec, run_next_item_benchmark
from recutils.exceptions import ConfigError


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (2 with one ``error:`` line on a bad input)."""
    return run_cli(_main, argv)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", default="beauty", help="built-in next-item spec name or YAML file")
    p.add_argument("--out", required=True, help="results CSV (resumed when it exists)")
    p.add_argument("--models", nargs="*", default=None, help="run only these models of the spec")
    p.add_argument("--seeds", nargs="*", type=int, default=None, help="override the spec's seeds")
    p.add_argument("--note", default="", help="free text stored with the machine description")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads per fit (default: the models')"
    )
    p.add_argument(
        "--checkpoint-dir",
        default=None,
        help="per-epoch checkpoints of every run (one sub-folder each): a run killed part-way "
        "resumes at its last finished epoch when the same command is started again",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    spec = load_next_item_spec(args.spec)
    from recutils.models import list_models

    if args.models is not None:
        unknown = sorted(set(args.models) - {m.name for m in spec.models})
        if unknown:
            raise ConfigError(
                f"models {unknown} are not in the spec; it has {[m.name for m in spec.models]}."
            )
        spec.models = [m for m in spec.models if m.name in args.models]
        if spec.reference not in args.models:
            spec.reference = None
    for m in spec.models:
        if m.model != POPULARITY and m.model not in list_models():
            raise ConfigError(f"spec entry {m.name!r}: unknown model {m.model!r}.")
    if args.seeds:
        spec.seeds = list(args.seeds)
    out = Path(args.out)
    stem = out.name.removesuffix(".csv")
    per_user = out.with_name(stem + "_per_user.csv.gz")
    record = MachineRecord(out, "tools/benchmarks/beauty.py", argv or sys.argv[1:], args.note)
    results = run_next_item_benchmark(
        spec,
        results_path=out,
        per_user_path=per_user,
        progress=not args.no_progress,
        num_threads=args.threads,
        checkpoint_dir=args.checkpoint_dir,
    )
    record.finish(len(results))
    metrics = [c for c in results.columns if c.startswith(("full_", "sampled_"))]
    summary = results.groupby("model", sort=False)[metrics + ["fit_s"]].agg(["mean", "std"])
    print(summary.to_string(float_format=lambda x: f"{x:.4f}"))
    print(f"results: {out}, per user: {per_user}, machine: {record.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
