"""Time SAR on Spark against the pandas SAR: fit and top-10 for 5,000 users, same data, one run.

    python tools/benchmarks/bench_spark_sar.py                      # 1M rows, local[2]
    python tools/benchmarks/bench_spark_sar.py --rows 100000        # a smaller log
    python tools/benchmarks/bench_spark_sar.py --master spark://HOST:7077   # a cluster

The log: :func:`recutils.datasets.synthetic.make_interactions` (seed 42) with ``--rows``
distinct (user, item) ratings, ``--users`` users and ``--items`` items (Zipf-like item
popularity, log-normal user activity). Both models use ``similarity_type="jaccard"`` and
a 30-day time decay; ``recommend_k_items`` serves the first 5,000 users, top 10, seen items
removed. The pandas SAR scores in float64 (as Spark does).

Timed, best of ``--repeat``:

* ``fit``: :class:`~recutils.models.sar.SparkSAR` ``.fit(spark_frame)`` computes and caches
  the affinity and similarity frames (the data frame itself is cached first, untimed);
  ``SAR.fit(pandas_frame)``;
* ``recommend``: the Spark top-10 written to Spark's ``noop`` sink (every row computed,
  nothing collected); the pandas SAR's ``recommend_k_items``.

Also printed: the number of stored similarity pairs and the size of the pandas SAR's
item x item similarity (sparse, and the dense scoring copy when it is kept), the memory
that grows with ``n_items ** 2`` on one machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_time, parser, run_cli  # noqa: E402

PARAMS = {"similarity_type": "jaccard", "timedecay_formula": True, "time_decay_coefficient": 30}
N_USERS_SERVED = 5_000


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="ratings in the synthetic log")
    p.add_argument("--users", type=int, default=20_000, help="users in the synthetic log")
    p.add_argument("--items", type=int, default=5_000, help="items in the synthetic log")
    p.add_argument("--master", default="local[2]", help="Spark master URL")
    p.add_argument("--shuffle-partitions", type=int, default=8)
    p.add_argument("--driver-memory", default="4g")
    args = p.parse_args(argv)

    import pandas as pd

    from recutils.datasets.synthetic import make_interactions
    from recutils.models.sar import SAR, SparkSAR
    from recutils.spark import start_or_get_spark

    t = time.perf_counter()
    data = make_interactions(args.users, args.items, args.rows, seed=42).ratings
    users = data["userID"].drop_duplicates().iloc[:N_USERS_SERVED]
    print(
        f"log: {len(data):,} rows, {data['userID'].nunique():,} users, "
        f"{data['itemID'].nunique():,} items (made in {time.perf_counter() - t:.1f} s); "
        f"serving {len(users):,} users",
        flush=True,
    )

    pandas_model = SAR(**PARAMS, score_dtype="float64")
    times = {("pandas", "fit"): best_time(lambda: pandas_model.fit(data), repeat=args.repeat)}
    times[("pandas", "recommend")] = best_time(
        lambda: pandas_model.recommend_k_items(users, top_k=10, remove_seen=True),
        repeat=args.repeat,
    )
    sim = pandas_model.item_similarity_
    dense = getattr(pandas_model, "_scoring_similarity", None)
    dense_mib = (
        dense.nbytes / 2**20 if hasattr(dense, "shape") and not hasattr(dense, "nnz") else 0.0
    )
    sparse_mib = (sim.data.nbytes + sim.indices.nbytes + sim.indptr.nbytes) / 2**20
    print(
        f"pandas SAR: {sim.nnz:,} similarity pairs, {sparse_mib:.0f} MiB sparse + "
        f"{dense_mib:.0f} MiB dense scoring copy",
        flush=True,
    )

    spark = start_or_get_spark(
        "recutils-bench-sar",
        master=args.master,
        memory=args.driver_memory,
        shuffle_partitions=args.shuffle_partitions,
        log_level="ERROR",
    )
    frame = spark.createDataFrame(data).cache()
    frame.count()
    served = spark.createDataFrame(pd.DataFrame({"userID": users})).cache()
    served.count()
    models: list = []

    def spark_fit() -> None:
        if models:
            models.pop()._clear_fitted()  # release the previous run's cached frames
        models.append(SparkSAR(**PARAMS).fit(frame))

    def spark_recommend() -> None:
        recs = models[-1].recommend_k_items(served, top_k=10, remove_seen=True)
        recs.write.format("noop").mode("overwrite").save()

    times[("spark", "fit")] = best_time(spark_fit, repeat=args.repeat)
    times[("spark", "recommend")] = best_time(spark_recommend, repeat=args.repeat)
    print(
        f"Spark SAR: {models[-1]._spark_tables.similarity.count():,} similarity pairs "
        f"(master {spark.sparkContext.master}, "
        f"{spark.conf.get('spark.sql.shuffle.partitions')} shuffle partitions)"
    )

    print(f"\n| step (best of {args.repeat}) | pandas SAR (s) | Spark SAR (s) | Spark / pandas |")
    print("|---|---:|---:|---:|")
    for step in ("fit", "recommend"):
        a, b = times[("pandas", step)], times[("spark", step)]
        label = "recommend 5k users, top 10" if step == "recommend" else "fit"
        print(f"| {label} | {a:.2f} | {b:.2f} | {b / a:.1f}x |")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
