"""Benchmark the Spark side on MovieLens 100k (Microsoft Recommenders' benchmark split).

Prints, best of ``--repeat`` runs on one local SparkSession (``--master``, default local[2]):

* ``SparkALS.recommend_k_items(users, top_k=10, remove_seen=True)`` for every user, our
  way (broadcast item factors, per-partition block scoring in ``mapInPandas``, no cross
  join) against the textbook way (users x items cross join, ``transform``, anti-join of
  seen pairs, window top-k); target: at least 3x faster;
* the Spark ranking evaluation at k=10 on the ALS top-10 lists: ``ndcg_at_k`` alone and
  ``evaluate`` of precision/recall/ndcg/map together.

Each timed call computes every output row (Spark's ``noop`` sink, no result cache) or
collects the metric values. Needs MovieLens 100k through the loaders' mirror setting.

    python tools/benchmarks/bench_spark.py [--repeat 3] [--master local[2]]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, parser  # noqa: E402

TARGET_SPEEDUP = 3.0


def main() -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--master", default="local[2]")
    p.add_argument("--shuffle-partitions", type=int, default=4)
    args = p.parse_args()

    from recutils.datasets import movielens
    from recutils.models.als import SparkALS
    from recutils.spark import evaluation as E
    from recutils.spark import start_or_get_spark
    from recutils.splitting import python_stratified_split

    spark = start_or_get_spark(
        "recutils-bench",
        master=args.master,
        shuffle_partitions=args.shuffle_partitions,
        log_level="ERROR",
    )
    df = movielens.load_pandas_df("100k", progress=False)
    train, test = python_stratified_split(df, ratio=0.75, min_rating=1, filter_by="item", seed=42)
    s_train, s_test = spark.createDataFrame(train).cache(), spark.createDataFrame(test).cache()
    s_train.count(), s_test.count()
    model = SparkALS(rank=10, max_iter=15, reg_param=0.1, seed=42, num_blocks=2).fit(s_train)
    users = spark.createDataFrame(df[["userID"]].drop_duplicates()).cache()
    n_users = users.count()

    def run(frame):
        # the "noop" sink computes every row and writes nothing (no cache reuse between runs)
        frame.write.format("noop").mode("overwrite").save()

    def ours():
        run(model.recommend_k_items(users, top_k=10, remove_seen=True))

    def cross():
        run(model.recommend_k_items_crossjoin(users, top_k=10, remove_seen=True))

    ours()  # warm up: Python workers, the cached seen lists and item factors
    t_ours = best_time(ours, args.repeat)
    t_cross = best_time(cross, args.repeat)
    recs = model.recommend_k_items(users, top_k=10, remove_seen=True).cache()
    recs.count()
    t_ndcg = best_time(lambda: E.ndcg_at_k(s_test, recs, k=10, check=False), args.repeat)
    t_eval = best_time(
        lambda: E.evaluate(
            s_test, recs, ["precision@10", "recall@10", "ndcg@10", "map@10"], check=False
        ),
        args.repeat,
    )
    t_eval_checked = best_time(
        lambda: E.evaluate(s_test, recs, ["precision@10", "recall@10", "ndcg@10", "map@10"]),
        args.repeat,
    )
    speedup = t_cross / t_ours
    print(
        f"MovieLens 100k, {n_users} users, master {spark.sparkContext.master}, best of {args.repeat}"
    )
    print(f"recommend_k_items(top_k=10, remove_seen=True), block scoring : {t_ours:8.2f} s")
    print(f"cross join + anti-join + window top-k (baseline)            : {t_cross:8.2f} s")
    print(
        f"speed-up                                                     : {speedup:8.1f} x "
        f"(target >= {TARGET_SPEEDUP:.0f} x) {'OK' if speedup >= TARGET_SPEEDUP else 'MISSED'}"
    )
    print(f"Spark ndcg_at_k(k=10)                                        : {t_ndcg:8.2f} s")
    print(f"Spark evaluate(precision, recall, ndcg, map @10)             : {t_eval:8.2f} s")
    print(f"  the same with input checks (duplicates, nulls)             : {t_eval_checked:8.2f} s")
    return 0 if speedup >= TARGET_SPEEDUP else 1


if __name__ == "__main__":
    sys.exit(main())
