"""Benchmark recutils.evaluation on the shape of Microsoft Recommenders' performance test.

Data (scaled to a 2-core machine): numpy ``default_rng(42)``, 1,000 users, 2,000 items,
1,000,000 rows each for the truth (user, item, rating 1-5) and the prediction (user,
item, score uniform in [0, 5)), drawn independently.

Random draws repeat (user, item) pairs (about 21% of rows). recutils refuses duplicate
pairs with a clear error, while Microsoft Recommenders silently counts them several
times, so both frames are de-duplicated (first row kept) and **both libraries are timed
on the same de-duplicated frames** (about 787,000 rows each). With ``--peer-python`` the
peer runs in its own interpreter in the same run, with its internal LRU caches cleared
before every call so that repetitions are not served from cache.

Targets (seconds; a tenth of Microsoft Recommenders 1.2.1 for ranking metrics and a fifth
for rating metrics, as measured on this machine on the benchmark's frames):
precision 0.35, recall 0.4, ndcg 0.5, map 0.5, evaluate (4 ranking metrics) 0.6,
rmse 0.32, mae 0.64.

    python tools/benchmarks/bench_evaluation.py [--repeat 3] [--peer-python /path/to/python]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, parser, report, run_peer  # noqa: E402

import recutils.evaluation as ev  # noqa: E402

N_USERS, N_ITEMS, N_ROWS, K = 1_000, 2_000, 1_000_000, 10

TARGETS = {
    "precision_at_k": 0.35,
    "recall_at_k": 0.4,
    "ndcg_at_k": 0.5,
    "map_at_k": 0.5,
    "evaluate(4 ranking)": 0.6,
    "rmse": 0.32,
    "mae": 0.64,
}


def make_frames(seed: int = 42) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    true = pd.DataFrame(
        {
            "userID": rng.integers(0, N_USERS, N_ROWS),
            "itemID": rng.integers(0, N_ITEMS, N_ROWS),
            "rating": rng.integers(1, 6, N_ROWS).astype(np.float64),
        }
    )
    pred = pd.DataFrame(
        {
            "userID": rng.integers(0, N_USERS, N_ROWS),
            "itemID": rng.integers(0, N_ITEMS, N_ROWS),
            "prediction": rng.random(N_ROWS) * 5.0,
        }
    )
    true = true.drop_duplicates(["userID", "itemID"]).reset_index(drop=True)
    pred = pred.drop_duplicates(["userID", "itemID"]).reset_index(drop=True)
    return true, pred


def main(argv: list[str] | None = None) -> int:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    true, pred = make_frames()
    print(f"truth {len(true):,} rows, prediction {len(pred):,} rows (de-duplicated), k={K}")
    calls = {
        "precision_at_k": lambda: ev.precision_at_k(true, pred, k=K),
        "recall_at_k": lambda: ev.recall_at_k(true, pred, k=K),
        "ndcg_at_k": lambda: ev.ndcg_at_k(true, pred, k=K),
        "map_at_k": lambda: ev.map_at_k(true, pred, k=K),
        "evaluate(4 ranking)": lambda: ev.evaluate(
            true, pred, [f"precision@{K}", f"recall@{K}", f"ndcg@{K}", f"map@{K}"]
        ),
        "rmse": lambda: ev.rmse(true, pred),
        "mae": lambda: ev.mae(true, pred),
    }
    ours = {name: best_time(fn, args.repeat) for name, fn in calls.items()}
    peer = {}
    if args.peer_python:
        clear = (
            "pe.merge_ranking_true_pred.cache_clear(), pe._get_reciprocal_rank.cache_clear(), "
            "pe.merge_rating_true_pred.cache_clear()"
        )
        peer_calls = {
            "precision_at_k": f"({clear}, pe.precision_at_k(true, pred, k={K}))",
            "recall_at_k": f"({clear}, pe.recall_at_k(true, pred, k={K}))",
            "ndcg_at_k": f"({clear}, pe.ndcg_at_k(true, pred, k={K}))",
            "map_at_k": f"({clear}, pe.map_at_k(true, pred, k={K}))",
            "rmse": f"({clear}, pe.rmse(true, pred))",
            "mae": f"({clear}, pe.mae(true, pred))",
        }
        setup = (
            "import warnings; warnings.filterwarnings('ignore')\n"
            "from recommenders.evaluation import python_evaluation as pe\n"
        )
        peer = run_peer(
            args.peer_python, {"true": true, "pred": pred}, setup, peer_calls, args.repeat
        )
    rows = []
    for name, seconds in ours.items():
        row = {
            "metric": name,
            "recutils_s": seconds,
            "target_s": TARGETS[name],
            "ok": seconds <= TARGETS[name],
        }
        if name in peer:
            row["recommenders_s"] = peer[name]
            row["speedup"] = peer[name] / seconds
        rows.append(row)
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
