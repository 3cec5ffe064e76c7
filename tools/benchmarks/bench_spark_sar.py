"""Time SAR on Spark against the pandas SAR over a sweep of log sizes: fit and top-10 for 5,000 users.

    python tools/benchmarks/bench_spark_sar.py                       # 100k, 300k, 1M rows; pandas,
                                                                     # local[2], a 2-worker cluster
    python tools/benchmarks/bench_spark_sar.py --sizes 100000 --engines pandas local
    python tools/benchmarks/bench_spark_sar.py --master spark://HOST:7077   # an existing cluster
    python tools/benchmarks/bench_spark_sar.py --out notebooks/06_benchmarks/results_spark_sar.csv

The logs: :func:`recutils.datasets.synthetic.make_interactions` (seed 42), ``--users`` users
and ``--items`` items (20,000 and 5,000: the 1M-row log is 50 ratings per user), with each
of ``--sizes`` distinct (user, item) ratings (Zipf-like item popularity, log-normal user
activity); the smaller logs are sparser samples of the same population. Both models use
``similarity_type="jaccard"`` and a 30-day time decay; ``recommend_k_items`` serves the first
5,000 users of the log, top 10, seen items removed. The pandas SAR scores in float64 (as Spark
does).

Engines (``--engines``):

* ``pandas``: :class:`~recutils.models.sar.SAR` in this process;
* ``local``: :class:`~recutils.models.sar.SparkSAR` on ``local[2]`` (one JVM, 2 task slots);
* ``standalone``: SparkSAR on a standalone cluster: ``--master spark://...`` when given, else a
  master and ``--workers`` workers (``--worker-cores`` cores each) that this script starts on
  127.0.0.1 (:class:`recutils.spark.standalone.LocalStandaloneCluster`) and stops at the end;
  the driver is this process, the executors are separate JVMs, shuffles cross processes.

Timed, best of ``--repeat``:

* ``fit``: ``SparkSAR.fit(spark_frame)`` computes and caches the affinity and similarity frames
  (the data frame itself is cached first, untimed); ``SAR.fit(pandas_frame)``;
* ``recommend``: the Spark top-10 written to Spark's ``noop`` sink (every row computed, nothing
  collected); the pandas SAR's ``recommend_k_items``.

SparkSAR runs with ``--method`` (``blocks``, its default: the co-occurrence and the scores as
sparse products by blocks of users on the executors; ``join``: every product term a row of a
join), recorded in the ``method`` column.

An engine whose fit + recommend took more than ``--skip-after`` seconds at one size is not run at
the larger sizes (the table says so); Ctrl-C stops the engine being timed and ends the run with
what was measured. One row per (size, engine) goes to ``--out`` as soon as it is measured (with a
``<stem>_machine.json`` beside it), so a killed run keeps what it measured too; at the end the
ratios of every row of the file are set against the pandas row of the same size.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import MachineRecord, best_time, parser, run_cli  # noqa: E402

PARAMS = {"similarity_type": "jaccard", "timedecay_formula": True, "time_decay_coefficient": 30}
N_USERS_SERVED = 5_000
ENGINES = ("pandas", "local", "standalone")
COLUMNS = [
    "rows",
    "users",
    "items",
    "engine",
    "master",
    "method",
    "fit_s",
    "recommend_s",
    "fit_vs_pandas",
    "recommend_vs_pandas",
    "similarity_pairs",
    "repeat",
]


def make_log(rows: int, users: int, items: int, seed: int = 42) -> tuple[Any, Any]:
    """The synthetic log of ``rows`` ratings and the users served (its first 5,000 users)."""
    from recutils.datasets.synthetic import make_interactions

    data = make_interactions(users, items, rows, seed=seed).ratings
    served = data["userID"].drop_duplicates().iloc[:N_USERS_SERVED]
    return data, served


def time_pandas(data: Any, served: Any, repeat: int = 1, top_k: int = 10) -> dict[str, Any]:
    """Fit and recommend seconds (best of ``repeat``) and similarity pairs of the pandas SAR."""
    from recutils.models.sar import SAR

    model = SAR(**PARAMS, score_dtype="float64")
    fit_s = best_time(lambda: model.fit(data), repeat=repeat)
    rec_s = best_time(
        lambda: model.recommend_k_items(served, top_k=top_k, remove_seen=True), repeat=repeat
    )
    return {
        "fit_s": fit_s,
        "recommend_s": rec_s,
        "similarity_pairs": int(model.item_similarity_.nnz),
    }


def time_spark(
    spark: Any, data: Any, served: Any, repeat: int = 1, top_k: int = 10, method: str = "blocks"
) -> dict[str, Any]:
    """Fit and recommend seconds (best of ``repeat``) and similarity pairs of SparkSAR on
    ``spark`` with its ``method`` (``"blocks"`` or ``"join"``)."""
    import pandas as pd

    from recutils.models.sar import SparkSAR

    frame = spark.createDataFrame(data).cache()
    frame.count()
    users = spark.createDataFrame(pd.DataFrame({"userID": served.to_numpy()})).cache()
    users.count()
    models: list = []

    def fit() -> None:
        if models:
            models.pop()._clear_fitted()  # release the previous run's cached frames
        models.append(SparkSAR(**PARAMS, method=method).fit(frame))

    def recommend() -> None:
        recs = models[-1].recommend_k_items(users, top_k=top_k, remove_seen=True)
        recs.write.format("noop").mode("overwrite").save()

    try:
        fit_s = best_time(fit, repeat=repeat)
        rec_s = best_time(recommend, repeat=repeat)
        pairs = int(models[-1]._spark_tables.similarity.count())
    finally:
        if models:
            models.pop()._clear_fitted()
        frame.unpersist()
        users.unpersist()
    return {"fit_s": fit_s, "recommend_s": rec_s, "similarity_pairs": pairs}


def add_ratios(rows: list[dict]) -> list[dict]:
    """Set ``fit_vs_pandas`` / ``recommend_vs_pandas`` (engine time / pandas time at the same size)."""
    pandas = {r["rows"]: r for r in rows if r["engine"] == "pandas"}
    for r in rows:
        base = pandas.get(r["rows"])
        for step in ("fit", "recommend"):
            r[f"{step}_vs_pandas"] = (
                r[f"{step}_s"] / base[f"{step}_s"]
                if base and base[f"{step}_s"] > 0
                else float("nan")
            )
    return rows


def table(rows: list[dict], skipped: Sequence[tuple[int, str, str]] = ()) -> str:
    """A markdown table of the measured rows (and a line per skipped size and engine)."""
    lines = [
        "| rows | engine | fit (s) | recommend 5k users (s) | fit / pandas | recommend / pandas |"
        " similarity pairs |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        engine = f"{r['engine']} ({r['method']})" if r.get("method") else r["engine"]
        lines.append(
            f"| {r['rows']:,} | {engine} | {r['fit_s']:.2f} | {r['recommend_s']:.2f} | "
            f"{r['fit_vs_pandas']:.1f}x | {r['recommend_vs_pandas']:.1f}x | "
            f"{r['similarity_pairs']:,} |"
        )
    for size, engine, why in skipped:
        lines.append(f"| {size:,} | {engine} | not run: {why} | | | | |")
    return "\n".join(lines)


def sweep(
    sizes: Sequence[int],
    engines: Sequence[str],
    sessions: dict[str, Callable[[], Any]],
    users: int,
    items: int,
    repeat: int = 1,
    skip_after: float = float("inf"),
    on_row: Callable[[dict], None] | None = None,
    log: Callable[[str], None] = print,
    method: str = "blocks",
) -> tuple[list[dict], list[tuple[int, str, str]]]:
    """Time every engine at every size, smallest size first.

    Args:
        sizes: Ratings in each log.
        engines: Names among :data:`ENGINES`.
        sessions: Engine -> a function that returns its (started) SparkSession; called when the
            engine is first needed; the engine's previous session is stopped before the next
            engine's starts (one SparkContext per process).
        users, items: The population of every log.
        repeat: Timed repetitions (best kept).
        skip_after: Seconds of fit + recommend at one size after which an engine is not run
            at the larger sizes.
        on_row: Called with each measured row (before the ratios are known).
        log: Where progress lines go.
        method: SparkSAR's ``method`` for the Spark engines.

    Returns:
        The measured rows (ratios set) and the skipped (size, engine, reason) triples.
    """
    rows: list[dict] = []
    skipped: list[tuple[int, str, str]] = []
    too_slow: dict[str, str] = {}
    current: list[Any] = []  # [engine, session] of the running Spark session

    def session_for(engine: str) -> Any:
        if current and current[0] == engine:
            return current[1]
        if current:
            current.pop().stop()
            current.pop()
        spark = sessions[engine]()
        current.extend([engine, spark])
        return spark

    stopped = False
    try:
        for size in sorted(sizes):
            t = time.perf_counter()
            data, served = make_log(size, users, items)
            log(
                f"log: {len(data):,} rows, {data['userID'].nunique():,} users, "
                f"{data['itemID'].nunique():,} items (made in {time.perf_counter() - t:.1f} s)"
            )
            for engine in engines:
                if engine in too_slow:
                    skipped.append((size, engine, too_slow[engine]))
                    continue
                if stopped:
                    skipped.append((size, engine, "the run was stopped (Ctrl-C)"))
                    continue
                try:
                    if engine == "pandas":
                        figures, master = time_pandas(data, served, repeat), "(in process)"
                    else:
                        spark = session_for(engine)
                        figures = time_spark(spark, data, served, repeat, method=method)
                        master = spark.sparkContext.master
                except KeyboardInterrupt:
                    stopped = True  # keep what was measured; the rest is reported as not run
                    skipped.append((size, engine, "the run was stopped (Ctrl-C)"))
                    continue
                row = {
                    "rows": len(data),
                    "users": int(data["userID"].nunique()),
                    "items": int(data["itemID"].nunique()),
                    "engine": engine,
                    "master": master,
                    "method": "" if engine == "pandas" else method,
                    **figures,
                    "repeat": repeat,
                }
                rows.append(row)
                log(
                    f"  {engine:<10} fit {row['fit_s']:8.2f} s  recommend {row['recommend_s']:8.2f} s"
                    f"  ({row['similarity_pairs']:,} similarity pairs)"
                )
                if on_row is not None:
                    on_row(row)
                total = row["fit_s"] + row["recommend_s"]
                if total > skip_after:
                    too_slow[engine] = f"{total:.0f} s at {len(data):,} rows > --skip-after"
    finally:
        if current:
            current[1].stop()
    return add_ratios(rows), skipped


def main(argv: list[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.set_defaults(repeat=1)
    p.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    p.add_argument("--users", type=int, default=20_000, help="users in the synthetic logs")
    p.add_argument("--items", type=int, default=5_000, help="items in the synthetic logs")
    p.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    p.add_argument(
        "--method",
        choices=("blocks", "join"),
        default="blocks",
        help="SparkSAR's method: sparse products by blocks of users, or joins",
    )
    p.add_argument(
        "--master", default=None, help="the standalone engine's master URL (default: start one)"
    )
    p.add_argument("--workers", type=int, default=2, help="workers of the cluster started here")
    p.add_argument("--worker-cores", type=int, default=1)
    p.add_argument("--worker-memory", default="2g", help="memory of each worker started here")
    p.add_argument("--executor-memory", default="2g")
    p.add_argument("--shuffle-partitions", type=int, default=4)
    p.add_argument("--driver-memory", default="4g")
    p.add_argument("--skip-after", type=float, default=float("inf"), metavar="SECONDS")
    p.add_argument("--out", type=Path, default=None, help="results CSV (rows appended)")
    p.add_argument("--note", default="", help="a note for the machine record (e.g. the load)")
    args = p.parse_args(argv)

    import pandas as pd

    from recutils.spark import start_or_get_spark

    cluster = None
    common = {
        "memory": args.driver_memory,
        "shuffle_partitions": args.shuffle_partitions,
        "log_level": "ERROR",
    }

    def local() -> Any:
        return start_or_get_spark("recutils-bench-sar", master="local[2]", **common)

    def standalone() -> Any:
        nonlocal cluster
        url = args.master if args.master is not None else cluster.url if cluster else None
        if url is None:  # started once, kept for every size
            from recutils.spark.standalone import LocalStandaloneCluster

            cluster = LocalStandaloneCluster(
                workers=args.workers, cores=args.worker_cores, memory=args.worker_memory
            ).start()
            url = cluster.url
            print(f"started {cluster.workers} workers x {cluster.cores} core at {url}", flush=True)
        return start_or_get_spark(
            "recutils-bench-sar",
            master=url,
            config={"spark.executor.memory": args.executor_memory},
            **common,
        )

    record = None
    written = 0
    if args.out is not None:
        record = MachineRecord(
            args.out, "tools/benchmarks/bench_spark_sar.py", sys.argv[1:], args.note
        )

    def on_row(row: dict) -> None:
        nonlocal written
        if args.out is None:
            return
        frame = pd.DataFrame([row]).reindex(columns=COLUMNS)
        new = not args.out.exists()
        frame.to_csv(args.out, mode="a", header=new, index=False)
        written += 1

    try:
        rows, skipped = sweep(
            args.sizes,
            args.engines,
            {"local": local, "standalone": standalone},
            args.users,
            args.items,
            repeat=args.repeat,
            skip_after=args.skip_after,
            on_row=on_row,
            log=lambda line: print(line, flush=True),
            method=args.method,
        )
    finally:
        if cluster is not None:
            cluster.close()
        if record is not None:
            record.finish(written)
    if args.out is not None and written:
        # the ratios are known once the run is over: set them on every row of the file (against
        # the latest pandas row of the same size, e.g. from a later pandas-only run)
        saved = pd.read_csv(args.out)
        pandas = saved[saved["engine"] == "pandas"].drop_duplicates("rows", keep="last")
        base = saved["rows"].map(pandas.set_index("rows")["fit_s"])
        saved["fit_vs_pandas"] = saved["fit_s"] / base
        base = saved["rows"].map(pandas.set_index("rows")["recommend_s"])
        saved["recommend_vs_pandas"] = saved["recommend_s"] / base
        saved.to_csv(args.out, index=False, float_format="%.4g")
    print(f"\nbest of {args.repeat}; engine time / pandas time at the same size\n")
    print(table(rows, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
