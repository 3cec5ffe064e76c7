"""Seconds per epoch and time to rank all users for the PyTorch CF models on MovieLens 100k.

    RECUTILS_DATA_MIRROR=../shared/data python tools/benchmarks/bench_deep_cf.py
    ... --models ncf lightgcn --epochs 3

Data: MovieLens 100k, ``python_stratified_split(ratio=0.75, min_rating=1,
filter_by="item", seed=42)``. Settings: those of Microsoft Recommenders' benchmark
for NCF (NeuMF, n_factors 4, layers [16, 8, 4], batch 1024, lr 1e-3) and LightGCN
(3 layers, 64 dimensions, batch 1024, decay 1e-4, lr 5e-3), the paper's Multi-VAE /
Multi-DAE ([600] hidden, 200 latent, batch 100), each for ``--epochs`` epochs (the
quality figures need more: see ``tests/smoke/test_deep_cf_movielens.py``).

Printed per model: mean seconds per training epoch (from the model's ``history_``),
the whole fit, and the best of ``--repeat`` rankings of every test user
(``recommend_k_items(top_k=10, remove_seen=True)``), plus MAP and nDCG@10 of that
short fit. Timings depend on the machine's load: compare models measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_time  # noqa: E402

from recutils.datasets.movielens import load_pandas_df  # noqa: E402
from recutils.evaluation import mean_average_precision, ndcg_at_k  # noqa: E402
from recutils.models import create_model  # noqa: E402
from recutils.splitting import python_stratified_split  # noqa: E402

SETTINGS = {
    "ncf": {
        "model_type": "neumf",
        "n_factors": 4,
        "layer_sizes": [16, 8, 4],
        "batch_size": 1024,
        "learning_rate": 1e-3,
        "n_neg": 4,
    },
    "lightgcn": {
        "n_layers": 3,
        "embedding_dim": 64,
        "batch_size": 1024,
        "decay": 1e-4,
        "learning_rate": 5e-3,
    },
    "multi_vae": {
        "hidden_dims": [600],
        "latent_dim": 200,
        "batch_size": 100,
        "total_anneal_steps": 2000,
        "anneal_cap": 0.2,
    },
    "multi_dae": {"hidden_dims": [600], "latent_dim": 200, "batch_size": 100},
}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--epochs", type=int, default=3, help="training epochs per model")
    p.add_argument("--repeat", type=int, default=3, help="timed rankings (best is kept)")
    p.add_argument("--threads", type=int, default=1, help="torch threads while fitting")
    args = p.parse_args(argv)

    data = load_pandas_df("100k", progress=False)
    train, test = python_stratified_split(data, ratio=0.75, min_rating=1, filter_by="item", seed=42)
    users = pd.DataFrame({"userID": test["userID"].unique()})
    rows = []
    for name in args.models:
        model = create_model(
            name, **SETTINGS[name], n_epochs=args.epochs, seed=42, num_threads=args.threads
        )
        start = time.perf_counter()
        model.fit(train)
        fit = time.perf_counter() - start
        top = model.recommend_k_items(users, top_k=10, remove_seen=True)
        rank = best_time(
            lambda m=model: m.recommend_k_items(users, top_k=10, remove_seen=True), args.repeat
        )
        rows.append(
            {
                "model": name,
                "epochs": args.epochs,
                "s_per_epoch": float(model.history_["seconds"].mean()),
                "fit_s": fit,
                "rank_all_users_s": rank,
                "map": mean_average_precision(test, top, k=10),
                "ndcg_at_10": ndcg_at_k(test, top, k=10),
            }
        )
    print(f"MovieLens 100k: {len(train):,} training rows, {len(users)} users ranked")
    print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
