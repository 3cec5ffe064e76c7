"""Ranking every MovieLens 100k user with surprise's KNNBaseline: the vectorized kernel against the per-item loop.

    python tools/benchmarks/bench_surprise.py [--repeat 3]

Data: MovieLens 100k (through ``RECUTILS_DATA_MIRROR``), Microsoft Recommenders' protocol
(``python_stratified_split(ratio=0.75, filter_by="item", seed=42)``). For each KNNBaseline
setting (k=40: user-based and item-based, ``msd`` (surprise's default) and
``pearson_baseline`` (the deep-dive notebook's)), the script times the scores of every item
for every user (``_score_users``, what ``recommend_k_items`` ranks), with

* ``kernel``: :class:`recutils.models.surprise._knn.NeighbourTerms` (one integer sort key
  per (anchor, group, member), one ``np.sort``);
* ``loop``: the per-group rule as it was computed before, one partition per item
  (user-based) or per user (item-based), kept here as the reference,

and prints the largest difference between the two (target: below 1e-9) and the speed-up.
Target: all users ranked in under 1 s.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_time, parser, report  # noqa: E402

from recutils.models.surprise import SurpriseKNNBaseline  # noqa: E402

TARGET_S = 1.0
SETTINGS = [
    ("user", "msd"),
    ("user", "pearson_baseline"),
    ("item", "msd"),
    ("item", "pearson_baseline"),
]


def loop_scores(model: SurpriseKNNBaseline, users: np.ndarray) -> np.ndarray:
    """Scores of every item for ``users`` by the per-group loop (the reference)."""
    k, min_k = model.config.k, model.config.min_k
    out = (model.global_mean_ + model.user_bias_[users])[:, None] + model.item_bias_[None, :]
    ptr, nb, resid = model._grp_ptr, model._grp_nb, model._grp_resid
    if model.config.user_based:
        sim_rows = model.similarity_[users]
        for item in np.flatnonzero(np.diff(ptr)):
            sl = slice(ptr[item], ptr[item + 1])
            out[:, item] += model._neighbour_term(sim_rows[:, nb[sl]], resid[sl], k, min_k)
    else:
        for row, user in enumerate(users):
            sl = slice(ptr[user], ptr[user + 1])
            out[row] += model._neighbour_term(model.similarity_[:, nb[sl]], resid[sl], k, min_k)
    return out


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    if not os.environ.get("RECUTILS_DATA_MIRROR") and Path("../shared/data/ml-100k").exists():
        os.environ["RECUTILS_DATA_MIRROR"] = str(Path("../shared/data").resolve())
    from recutils.datasets import movielens
    from recutils.splitting import python_stratified_split

    train, _ = python_stratified_split(
        movielens.load_pandas_df("100k"), 0.75, filter_by="item", seed=42
    )
    rows = []
    for based, name in SETTINGS:
        model = SurpriseKNNBaseline(k=40, sim_options={"name": name, "user_based": based == "user"})
        start = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - start
        users = np.arange(model.n_users_)
        ours = model._raw_scores(users)
        ref = loop_scores(model, users)
        kernel = best_time(lambda: model._raw_scores(users), repeat=args.repeat)  # noqa: B023
        loop = best_time(lambda: loop_scores(model, users), repeat=1)  # noqa: B023
        rows.append(
            {
                "setting": f"{based}-based {name}",
                "users": users.size,
                "fit_s": fit_s,
                "kernel_s": kernel,
                "loop_s": loop,
                "loop/kernel": loop / kernel,
                "max_abs_diff": float(np.abs(ours - ref).max()),
                "under_1s": kernel < TARGET_S,
            }
        )
    print(
        f"MovieLens 100k, stratified by item (seed 42): {len(train):,} training ratings; "
        f"scores of all items for all users, best of {args.repeat}"
    )
    report(rows)


if __name__ == "__main__":
    main()
