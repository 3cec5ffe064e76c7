"""``recutils sar-job``: SAR on Spark as a batch job: read, split, fit, recommend, evaluate, write.

The twin of ``recutils als-job`` (:mod:`recutils.cli.als_job`: same input, split, output
and Spark options, same exit codes and one-line JSON summary); the model is
:class:`~recutils.models.sar.SparkSAR`, fitted and served on the cluster::

    recutils sar-job --input ratings.parquet --output-recs out/recs \\
        --output-metrics out/metrics.json --similarity-type jaccard --time-decay 30
    python -m recutils.spark.jobs.sar --input ...                     # the same job
    spark-submit --master spark://HOST:7077 $(python -c "import recutils.spark.jobs.sar as m; \\
        print(m.__file__)") --input ... --output-recs ... --output-metrics ...
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

from recutils.cli import als_job
from recutils.cli.als_job import _option
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError

NAME = "sar-job"
HELP = "fit SAR on Spark on a ratings file; write recommendations and metrics"
DESCRIPTION = (
    "Fit SAR with Spark DataFrame operations on a ratings file, write top-k "
    "recommendations (Parquet) and ranking metrics (JSON)."
)
DEFAULT_METRICS = ("precision@10", "recall@10", "ndcg@10", "map@10")
SIMILARITIES = (
    "jaccard",
    "lift",
    "cosine",
    "cooccurrence",
    "inclusion index",
    "mutual information",
    "lexicographers mutual information",
)


def build_parser(prog: str = "python -m recutils.spark.jobs.sar") -> argparse.ArgumentParser:
    """The job's command line on its own (``recutils sar-job`` adds the same arguments)."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The job's options: those of ``als-job`` for data and Spark, SAR's own in between."""
    als_job.add_data_arguments(p)
    sar = p.add_argument_group("SAR")
    _option(
        sar,
        "--similarity-type",
        choices=SIMILARITIES,
        default="jaccard",
        help="item-item similarity",
    )
    _option(
        sar,
        "--time-decay",
        type=float,
        default=None,
        help="half-life in days of the time decay of affinities (needs --col-timestamp); "
        "default: no decay",
    )
    _option(sar, "--threshold", type=int, default=1, help="minimum co-occurrence count")
    _option(
        sar,
        "--method",
        choices=("blocks", "join"),
        default="blocks",
        help="sparse products by blocks of users (the similarity must fit an executor) or "
        "every product term a row of a join",
    )
    ev = p.add_argument_group("evaluation")
    _option(ev, "--top-k", type=int, default=10, help="recommendations per test user")
    _option(
        ev,
        "--metrics",
        default=",".join(DEFAULT_METRICS),
        help="comma-separated ranking metric names (recutils.evaluation names)",
    )
    als_job.add_spark_arguments(p, "recutils-sar")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The job's body; returns the summary written to the metrics file."""
    from recutils.evaluation.registry import parse_metric
    from recutils.models.sar import SparkSAR
    from recutils.spark import evaluation as E
    from recutils.spark.session import start_or_get_spark

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    als_job.check_outputs(args)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    for m in metrics:
        if parse_metric(m)[0].kind == "rating":
            raise ConfigError(
                f"metric {m!r} rates predicted ratings; SAR's scores are not "
                "ratings: use ranking metrics."
            )
    model = SparkSAR(
        similarity_type=args.similarity_type,
        threshold=args.threshold,
        method=args.method,
        timedecay_formula=args.time_decay is not None,
        time_decay_coefficient=args.time_decay or 30.0,
        col_user=args.col_user,
        col_item=args.col_item,
        col_rating=args.col_rating,
        col_timestamp=args.col_timestamp,
    )
    spark = start_or_get_spark(
        app_name=args.app_name,
        master=args.master,
        memory=args.driver_memory,
        shuffle_partitions=args.shuffle_partitions,
    )
    timings["start_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    df = als_job.read_ratings(spark, args)
    if args.time_decay is not None and args.col_timestamp not in df.columns:
        raise ColumnMismatchError(
            f"--time-decay needs the time column {args.col_timestamp!r}; "
            f"the input has {df.columns}."
        )
    train, test = als_job.split(df, args)
    train, test = train.cache(), test.cache()
    n_train, n_test = train.count(), test.count()
    if n_train == 0 or n_test == 0:
        raise DataError(f"the split left {n_train} train and {n_test} test rows; need both.")
    timings["read_split_s"] = time.perf_counter() - t

    t = time.perf_counter()
    model.fit(train)
    timings["fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    recs = model.recommend_k_items(test.select(args.col_user).distinct(), top_k=args.top_k).cache()
    n_recs = recs.count()
    timings["recommend_s"] = time.perf_counter() - t

    t = time.perf_counter()
    values = E.evaluate(
        test.select(args.col_user, args.col_item, args.col_rating),
        recs,
        metrics,
        col_user=args.col_user,
        col_item=args.col_item,
        col_rating=args.col_rating,
        k=args.top_k,
        train_df=train.select(args.col_user, args.col_item),
    )
    timings["evaluate_s"] = time.perf_counter() - t
    return als_job.write_outputs(
        spark,
        args,
        recs,
        train,
        test,
        values=values,
        metrics=metrics,
        rows={"train": n_train, "test": n_test, "recommendations": n_recs},
        timings=timings,
        t0=t0,
    )


def run_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run the job with parsed ``args`` (exit codes and summary line of ``als-job``)."""
    return als_job.run_command(args, out, body=run)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the job, return the exit code (see ``als_job.EXIT_CODES``)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    return run_command(args, sys.stdout)


__all__ = [
    "DEFAULT_METRICS",
    "SIMILARITIES",
    "add_arguments",
    "build_parser",
    "main",
    "run",
    "run_command",
]
