"""Behaviour-sequence click-through models against the same features without the history.

    RECUTILS_DATA_MIRROR=../shared/data python tools/benchmarks/behaviour_ctr.py \\
        --setting taobao --out notebooks/06_benchmarks/results_behaviour_ctr.csv

``--setting taobao``: DIN, DIEN and BST against the history-free MLP on the Taobao
UserBehavior head split by time (test day 2017-12-03); ``--setting grocery``: SLi-Rec,
A2SVD, SUM and a GRU over the history against the history-free DeepFM on Amazon Grocery in
Microsoft Recommenders' leave-last-out setting. Every model is its shipped config with its
own early stopping (10% of the training rows); see :mod:`recutils.benchmark.behaviour_ctr`.

Results go to ``--out`` (one row per setting x model x seed; both settings share the
file), each user's AUC to ``<stem>_per_user.csv.gz`` (the paired tests) and a description
of the machine to ``<stem>_machine.json``. Runs already in ``--out`` with the same size,
history length and config are kept: run the same command again to finish an interrupted
run. ``--users N`` keeps the first N users by id (default: every user). The summary, the
paired tests and the bars are printed at the end. A bad input ends with one ``error:`` line
on stderr (exit status 2).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MachineRecord, run_cli  # noqa: E402

from recutils.benchmark.behaviour_ctr import (  # noqa: E402
    SETTINGS,
    behaviour_markdown,
    run_behaviour_benchmark,
)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (2 with one ``error:`` line on a bad input)."""
    return run_cli(_main, argv)


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", required=True, choices=sorted(SETTINGS), help="data and models")
    p.add_argument("--out", required=True, help="results CSV (resumed when it exists)")
    p.add_argument("--models", nargs="*", default=None, help="run only these models")
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3], help="model seeds")
    p.add_argument("--users", type=int, default=None, help="keep the first N users by id")
    p.add_argument("--max-len", type=int, default=50, help="latest behaviours in a history")
    p.add_argument("--epochs", type=int, default=None, help="most epochs (default: the configs')")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per fit (default 1)")
    p.add_argument("--note", default="", help="free text stored with the machine description")
    p.add_argument("--progress", action="store_true", help="training progress bars")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    out = Path(args.out)
    per_user = out.with_name(out.name.removesuffix(".csv") + "_per_user.csv.gz")
    record = MachineRecord(
        out, "tools/benchmarks/behaviour_ctr.py", argv or sys.argv[1:], args.note
    )

    def show(row: dict) -> None:
        print(
            f"{row['setting']} {row['model']:18s} seed {row['seed']}  AUC {row['auc']:.4f}  "
            f"gAUC {row['gauc']:.4f}  logloss {row['logloss']:.4f}  epochs {row['epochs']}  "
            f"{row['fit_s']:.0f} s",
            flush=True,
        )

    results, values = run_behaviour_benchmark(
        args.setting,
        args.seeds,
        models=args.models,
        n_users=args.users,
        max_len=args.max_len,
        epochs=args.epochs,
        num_threads=args.threads,
        results_path=out,
        per_user_path=per_user,
        progress=args.progress,
        on_run=show,
    )
    record.finish(len(results))
    print()
    print(behaviour_markdown(results, values))
    print(f"results: {out}, per user: {per_user}, machine: {record.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
