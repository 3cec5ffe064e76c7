"""Time cornac BPR fit and ranking of all users on MovieLens 100k, against Microsoft Recommenders.

    RECUTILS_DATA_MIRROR=../shared/data python tools/benchmarks/bench_cornac_bpr.py
    ... --peer-python PEER_PYTHON  # an interpreter with recommenders==1.2.1

Data: MovieLens 100k, ``python_stratified_split(ratio=0.75, min_rating=1,
filter_by="item", seed=42)``. BPR: k=200, max_iter=200, learning_rate=0.01,
lambda_reg=0.001, seed=42 (cornac trains on one thread under a seed).

* recutils "rank_all_users": ``recommend_k_items(all test users, top_k=10,
  remove_seen=True)`` (the ranking that is evaluated), from the learned factors.
* peer "rank_all_users": Microsoft Recommenders 1.2.1's
  ``recommenders.models.cornac.cornac_utils.predict_ranking(model, train,
  remove_seen=True)`` (scores every user x item pair, what its notebook then
  evaluates), on a cornac BPR fitted the same way in the peer's environment.

Target: ranking all users 3x faster than the peer's 2.7 s on the reference
machine (and, with ``--peer-python``, 3x faster than the peer in the same run).
Fits are timed once each (cornac's SGD dominates both).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_time, parser, report, run_peer  # noqa: E402

from recutils.datasets.movielens import load_pandas_df  # noqa: E402
from recutils.evaluation import mean_average_precision, ndcg_at_k  # noqa: E402
from recutils.models.cornac import CornacBPR  # noqa: E402
from recutils.splitting import python_stratified_split  # noqa: E402

PARAMS = {"k": 200, "max_iter": 200, "learning_rate": 0.01, "lambda_reg": 0.001, "seed": 42}
REFERENCE_PEER = {"rank_all_users": 2.7}
SPEEDUP = 3.0

_PEER_SETUP = f"""
import cornac
from recommenders.models.cornac.cornac_utils import predict_ranking
_ds = cornac.data.Dataset.from_uir(train[["userID", "itemID", "rating"]].itertuples(index=False),
                                   seed=42)
bpr = cornac.models.BPR(**{PARAMS!r}, verbose=False).fit(_ds)
"""


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    os.environ.setdefault(
        "RECUTILS_DATA_MIRROR", str(Path(__file__).resolve().parents[3] / "shared" / "data")
    )
    data = load_pandas_df("100k", progress=False)
    train, test = python_stratified_split(data, ratio=0.75, min_rating=1, filter_by="item", seed=42)
    train = train[["userID", "itemID", "rating"]].reset_index(drop=True)
    model = CornacBPR(**PARAMS)
    t0 = time.perf_counter()
    model.fit(train)
    fit_s = time.perf_counter() - t0
    users = pd.DataFrame({"userID": test["userID"].unique()})
    rank_s = best_time(
        lambda: model.recommend_k_items(users, top_k=10, remove_seen=True), repeat=args.repeat
    )
    top = model.recommend_k_items(users, top_k=10, remove_seen=True)
    print(
        f"MovieLens 100k: {len(train):,} training rows, {len(users):,} users ranked; "
        f"MAP {mean_average_precision(test, top, k=10):.4f}, "
        f"nDCG@10 {ndcg_at_k(test, top, k=10):.4f}"
    )

    rows = [
        {"call": "fit", "recutils_s": fit_s},
        {
            "call": "rank_all_users",
            "recutils_s": rank_s,
            "target_s": REFERENCE_PEER["rank_all_users"] / SPEEDUP,
            "meets_target": rank_s <= REFERENCE_PEER["rank_all_users"] / SPEEDUP,
        },
    ]
    if args.peer_python:
        peer = run_peer(
            args.peer_python,
            {"train": train},
            _PEER_SETUP,
            {
                "rank_all_users": "predict_ranking(bpr, train, usercol='userID', "
                "itemcol='itemID', remove_seen=True)"
            },
            repeat=args.repeat,
        )
        rows[1]["peer_s"] = peer["rank_all_users"]
        rows[1]["speedup"] = peer["rank_all_users"] / rank_s
        rows[1]["meets_3x_peer"] = rows[1]["speedup"] >= SPEEDUP
    report(rows)


if __name__ == "__main__":
    main()
