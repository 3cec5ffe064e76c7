"""Choose tfrs_retrieval's settings for the retrieval benchmark on a validation split.

The benchmark's protocol ``chrono80`` trains on each user's earliest 80% of MovieLens 100k
ratings and tests on the latest 20%. Here only the training part is used: it is split
again per user in time (earliest 80% fit, latest 20% validate), each setting of a small
grid is fitted on the first part, and its recall@50 (seen items removed) is measured on
the second part; the test part is never read. The grid: the logQ correction off / on
(on: also with accidental hits removed), epochs 3 / 10 / 20, Adagrad learning rate
0.05 / 0.1 / 0.2; the rest as in the spec's entry (ids only, embedding 32, batch 256,
one thread)::

    RECUTILS_DATA_MIRROR=../shared/data nice -n 10 python tools/benchmarks/tfrs_validation.py \\
        --out notebooks/06_benchmarks/results_retrieval_tfrs_validation.csv

Rows already in ``--out`` (same setting and seed) are kept, so an interrupted run resumes.
Popularity's recall@50 on the same validation part is written as a reference row
(``model`` = ``popularity``). The best setting by recall@50 is printed last.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd  # noqa: E402
from common import run_cli  # noqa: E402

METRIC = "recall@50"
K = 50
#: Settings shared by every fit (the spec's entry, ids only).
BASE = {
    "embedding_dim": 32,
    "batch_size": 256,
    "optimizer": "adagrad",
    "num_threads": 1,
    "progress": False,
}
#: (logq_correction, remove_accidental_hits) arms of the grid.
LOSS_ARMS = ((False, False), (True, False), (True, True))
EPOCHS = (3, 10, 20)
LEARNING_RATES = (0.05, 0.1, 0.2)
KEYS = ["logq_correction", "remove_accidental_hits", "epochs", "learning_rate", "seed"]
MODEL = "tfrs_retrieval"


def validation_split(size: str = "100k") -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(fit, valid)``: the chrono80 training part of MovieLens ``size``, split again per
    user in time 80/20 (the same protocol applied to the training part)."""
    from recutils.benchmark.data import load_dataset
    from recutils.benchmark.protocols import get_protocol

    chrono80 = get_protocol("chrono80")
    train, _ = chrono80.split(load_dataset("movielens", size), 0)
    return chrono80.split(train, 0)


def grid() -> list[dict]:
    """Every setting of the grid (:data:`LOSS_ARMS` x :data:`EPOCHS` x :data:`LEARNING_RATES`)."""
    return [
        {
            "logq_correction": logq,
            "remove_accidental_hits": hits,
            "epochs": epochs,
            "learning_rate": lr,
        }
        for (logq, hits), epochs, lr in itertools.product(LOSS_ARMS, EPOCHS, LEARNING_RATES)
    ]


def _record(done: pd.DataFrame, row: dict, out: Path) -> pd.DataFrame:
    """``done`` with ``row`` appended, written to ``out`` (so that a stopped run resumes)."""
    print(row, flush=True)
    done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    done.to_csv(out, index=False)
    return done


def validate(out: Path, seed: int = 1, size: str = "100k") -> pd.DataFrame:
    """Popularity's recall@50 on the validation part (once), then each setting of
    :func:`grid` not yet in ``out``; returns every row of ``out``."""
    from recutils.evaluation import recall_at_k
    from recutils.models import create_model

    fit, valid = validation_split(size)
    users = valid["userID"].unique()
    sizes = {"n_fit": len(fit), "n_valid": len(valid)}
    done = pd.read_csv(out) if out.exists() else pd.DataFrame(columns=["model", *KEYS])
    if not (done["model"] == "popularity").any():
        top = (
            create_model("popularity").fit(fit).recommend_k_items(users, top_k=K, remove_seen=True)
        )
        done = _record(
            done, {"model": "popularity", METRIC: recall_at_k(valid, top, k=K), **sizes}, out
        )
    ours = done[done["model"] == MODEL]
    have = {tuple(r) for r in ours[KEYS].astype(object).itertuples(index=False)}
    for setting in grid():
        key = tuple({**setting, "seed": seed}[k] for k in KEYS)
        if key in have:
            continue
        start = time.perf_counter()
        model = create_model(MODEL, **BASE, **setting, seed=seed).fit(fit)
        fit_s = time.perf_counter() - start
        top = model.recommend_k_items(users, top_k=K, remove_seen=True)
        row = {
            "model": MODEL,
            **setting,
            "seed": seed,
            METRIC: recall_at_k(valid, top, k=K),
            "fit_s": fit_s,
            "final_loss": model.loss_history_[-1],
            **sizes,
        }
        done = _record(done, row, out)
    return done


def _main(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--out",
        type=Path,
        default=Path("notebooks/06_benchmarks/results_retrieval_tfrs_validation.csv"),
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the fits")
    p.add_argument("--size", default="100k", help="MovieLens size")
    args = p.parse_args(argv)
    results = validate(args.out, args.seed, args.size)
    ranked = results[results["model"] == MODEL].sort_values(METRIC, ascending=False)
    popularity = results.loc[results["model"] == "popularity", METRIC].iloc[0]
    print(ranked.to_string(index=False))
    best = ranked.iloc[0]
    print(
        "best:",
        {k: best[k] for k in KEYS[:-1]},
        f"{METRIC} {best[METRIC]:.4f}",
        f"(popularity {popularity:.4f})",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run; return the exit status (2 with one ``error:`` line on stderr on a bad input)."""
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
