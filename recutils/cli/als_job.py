"""``recutils als-job``: ALS as a batch job: read ratings, split, fit, recommend, evaluate, write.

Run it locally or hand it to ``spark-submit`` (the module
:mod:`recutils.spark.jobs.als` is the same job as a file Spark can run)::

    recutils als-job --input ratings.csv --output-recs out/recs \\
        --output-metrics out/metrics.json --master local[*]
    python -m recutils.spark.jobs.als --input ratings.csv ...       # the same job
    spark-submit --master spark://HOST:7077 $(python -c "import recutils.spark.jobs.als as m; \\
        print(m.__file__)") --input ... --output-recs ... --output-metrics ...

Input: CSV (with a header line, ``--sep``) or Parquet, chosen from ``--format`` or the
path's extension. Output: the top-k recommendations of every test user as Parquet
(``[col_user, col_item, prediction, rank]``) and a JSON file with the metrics, the
arguments, row counts and timings. Existing outputs are refused unless ``--overwrite``.

Exit codes (:data:`EXIT_CODES`): 0 success, 2 bad arguments, 3 bad input (unreadable
file, missing columns, bad values), 4 an output exists (use ``--overwrite``), 5 the
Spark master cannot be reached, 1 anything else. Logs go to stderr; the last line on
stdout is a one-line JSON summary.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_RATING_COL,
    DEFAULT_TIMESTAMP_COL,
    DEFAULT_USER_COL,
    SEED,
)
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, RecUtilsError

logger = logging.getLogger("recutils.spark.jobs.als")

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INPUT, EXIT_OUTPUT_EXISTS, EXIT_MASTER = 0, 1, 2, 3, 4, 5
EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_ERROR: "unexpected error",
    EXIT_USAGE: "bad arguments",
    EXIT_INPUT: "bad input data",
    EXIT_OUTPUT_EXISTS: "an output path exists (pass --overwrite)",
    EXIT_MASTER: "the Spark master cannot be reached",
}
SPLITS = ("stratified", "random", "chrono", "timestamp")
DEFAULT_METRICS = ("rmse", "mae", "precision@10", "recall@10", "ndcg@10", "map@10")
#: Default metrics with ``--implicit-prefs``: ALS then predicts confidences, not ratings.
DEFAULT_IMPLICIT_METRICS = ("precision@10", "recall@10", "ndcg@10", "map@10")


class OutputExistsError(RecUtilsError, FileExistsError):
    """An output path exists and ``--overwrite`` was not given."""


NAME = "als-job"
HELP = "fit Spark ALS on a ratings file; write recommendations and metrics"
DESCRIPTION = (
    "Fit Spark ALS on a ratings file, write top-k recommendations (Parquet) and metrics (JSON)."
)


def build_parser(prog: str = "python -m recutils.spark.jobs.als") -> argparse.ArgumentParser:
    """The job's command line on its own (``recutils als-job`` adds the same arguments)."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(parser)
    return parser


def _option(group: Any, *flags: str, help: str = "", **kwargs: Any) -> None:
    """Add an option whose help ends with its default (argparse fills in ``%(default)s``)."""
    default = kwargs.get("default")
    if default is not None and default is not False and kwargs.get("action") != "store_true":
        help = f"{help} (default: %(default)s)" if help else "default: %(default)s"
    group.add_argument(*flags, help=help, **kwargs)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The job's options, by group; each option's help shows its default."""
    add_data_arguments(p)
    als = p.add_argument_group("ALS")
    _option(als, "--rank", type=int, default=10, help="number of latent factors")
    _option(als, "--max-iter", type=int, default=15, help="ALS iterations")
    _option(als, "--reg-param", type=float, default=0.1, help="regularization")
    _option(als, "--alpha", type=float, default=1.0, help="confidence weight (--implicit-prefs)")
    _option(
        als,
        "--implicit-prefs",
        action="store_true",
        help="treat ratings as implicit feedback (confidences); the default metrics are "
        "then ranking metrics only: " + ",".join(DEFAULT_IMPLICIT_METRICS),
    )
    _option(als, "--nonnegative", action="store_true", help="non-negative factors")
    _option(
        als,
        "--cold-start-strategy",
        choices=("nan", "drop"),
        default="drop",
        help="predictions for users/items unseen in training",
    )
    _option(
        als,
        "--num-blocks",
        type=int,
        default=None,
        help="user and item blocks (default: Spark's, 10)",
    )
    ev = p.add_argument_group("evaluation")
    _option(ev, "--top-k", type=int, default=10, help="recommendations per test user")
    _option(
        ev,
        "--metrics",
        default=None,
        help="comma-separated metric names (recutils.evaluation names); default "
        f"{','.join(DEFAULT_METRICS)}, or {','.join(DEFAULT_IMPLICIT_METRICS)} with "
        "--implicit-prefs (RMSE/MAE compare implicit confidences with ratings, which "
        "means little; name them to get them anyway)",
    )
    add_spark_arguments(p, "recutils-als")


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Input, output, column and split options (shared with ``recutils sar-job``)."""
    io = p.add_argument_group("input and output")
    _option(io, "--input", required=True, help="ratings file or folder (CSV or Parquet)")
    _option(
        io,
        "--format",
        choices=("csv", "parquet"),
        default=None,
        help="input format (default: from the extension: .csv/.tsv/.txt/.data are CSV, "
        "anything else and folders Parquet)",
    )
    _option(
        io,
        "--sep",
        default=",",
        help="CSV field separator; --sep '\\t' for tab-separated files such as MovieLens u.data",
    )
    _option(
        io,
        "--no-header",
        action="store_true",
        help="the CSV has no header line: its columns are taken as --col-user, "
        "--col-item, --col-rating, --col-timestamp in that order",
    )
    _option(io, "--output-recs", required=True, help="Parquet folder for the recommendations")
    _option(io, "--output-metrics", required=True, help="JSON file for the metrics")
    _option(io, "--overwrite", action="store_true", help="replace existing outputs")
    cols = p.add_argument_group("columns")
    _option(cols, "--col-user", default=DEFAULT_USER_COL, help="user id column")
    _option(cols, "--col-item", default=DEFAULT_ITEM_COL, help="item id column")
    _option(cols, "--col-rating", default=DEFAULT_RATING_COL, help="rating column (numeric)")
    _option(
        cols,
        "--col-timestamp",
        default=DEFAULT_TIMESTAMP_COL,
        help="time column, needed by --split chrono/timestamp only",
    )
    sp = p.add_argument_group("split")
    _option(sp, "--split", choices=SPLITS, default="stratified", help="how to split train/test")
    _option(sp, "--ratio", type=float, default=0.75, help="train share")
    _option(
        sp,
        "--min-rating",
        type=int,
        default=1,
        help="stratified/chrono: keep users (or items) with at least this many ratings",
    )
    _option(
        sp,
        "--filter-by",
        choices=("user", "item"),
        default="user",
        help="stratified/chrono: split per user or per item",
    )
    _option(sp, "--seed", type=int, default=SEED, help="seed of the split and of ALS")


def add_spark_arguments(p: argparse.ArgumentParser, app_name: str) -> None:
    """Spark and logging options (shared with ``recutils sar-job``)."""
    sk = p.add_argument_group("Spark")
    _option(
        sk,
        "--master",
        default=None,
        help="Spark master URL (default: the one spark-submit gives, else local[*])",
    )
    _option(sk, "--app-name", default=app_name, help="Spark application name")
    _option(sk, "--driver-memory", default="2g", help="driver memory")
    _option(
        sk,
        "--shuffle-partitions",
        type=int,
        default=None,
        help="spark.sql.shuffle.partitions (default: 2 x cores for a local master)",
    )
    _option(
        p,
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="log level on stderr",
    )


def job_metrics(args: argparse.Namespace) -> list[str]:
    """The metric names the job computes: ``--metrics``, else the defaults for explicit or
    implicit (``--implicit-prefs``) feedback."""
    if args.metrics is None:
        return list(DEFAULT_IMPLICIT_METRICS if args.implicit_prefs else DEFAULT_METRICS)
    return [m.strip() for m in args.metrics.split(",") if m.strip()]


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _local(path: str) -> Path:
    return Path(path[len("file://") :] if path.startswith("file://") else path)


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse existing local outputs unless ``--overwrite`` (remote paths: Spark's own check)."""
    if args.overwrite:
        return
    for path in (args.output_recs, args.output_metrics):
        if _is_local(path) and _local(path).exists():
            raise OutputExistsError(f"output {path!r} exists; pass --overwrite to replace it.")


def read_ratings(spark: Any, args: argparse.Namespace) -> Any:
    """Read the ratings as a Spark DataFrame with the expected column types."""
    from pyspark.sql import functions as F

    fmt = args.format
    if fmt is None:
        suffix = Path(args.input.rstrip("/")).suffix.lower()
        fmt = "csv" if suffix in (".csv", ".tsv", ".txt", ".data") else "parquet"
    if _is_local(args.input) and not _local(args.input).exists():
        raise DataError(f"input {args.input!r} does not exist.")
    if fmt == "csv":
        reader = spark.read.option("sep", args.sep).option("inferSchema", "true")
        reader = reader.option("header", "false" if args.no_header else "true")
        df = reader.csv(args.input)
        if args.no_header:
            names = [args.col_user, args.col_item, args.col_rating, args.col_timestamp]
            df = df.toDF(*(names[: len(df.columns)] + df.columns[len(names) :]))
    else:
        df = spark.read.parquet(args.input)
    needed = [args.col_user, args.col_item, args.col_rating]
    if args.split in ("chrono", "timestamp"):
        needed.append(args.col_timestamp)
    missing = [c for c in needed if c not in df.columns]
    if missing and fmt == "csv" and len(df.columns) == 1:
        first = df.columns[0] if not args.no_header else str(df.first()[0])
        raise ColumnMismatchError(one_column_message(first, args.sep))
    if missing:
        raise ColumnMismatchError(
            f"input is missing column(s) {missing}; it has {df.columns}. Name them with "
            "--col-user/--col-item/--col-rating/--col-timestamp."
        )
    rating_type = df.schema[args.col_rating].dataType.typeName()
    if rating_type not in ("double", "float", "integer", "long", "short", "decimal"):
        raise DataError(f"column {args.col_rating!r} must be numeric, got {rating_type}.")
    return df.withColumn(args.col_rating, F.col(args.col_rating).cast("double"))


_SEPARATORS = {"\t": "'\\t'", ";": "';'", "|": "'|'", " ": "' '", ",": "','"}


def one_column_message(first_line: str, sep: str) -> str:
    """The error for a CSV read as a single column: the separator is probably wrong, so
    name the separator the first line seems to use."""
    shown = first_line if len(first_line) <= 60 else first_line[:57] + "..."
    found = [flag for char, flag in _SEPARATORS.items() if char in first_line and char != sep]
    hint = (
        f"it looks separated by {found[0]}: pass --sep {found[0]}"
        if found
        else "pass the file's field separator with --sep"
    )
    return (
        f"the input was read as one column ({shown!r}) with --sep {sep!r}; {hint}"
        " (for MovieLens u.data: --sep '\\t' --no-header)."
    )


def split(df: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """Train and test frames by the chosen splitter."""
    from recutils.spark import splitting as S

    if args.split == "random":
        return tuple(S.spark_random_split(df, ratio=args.ratio, seed=args.seed))  # type: ignore[return-value]
    if args.split == "timestamp":
        return tuple(
            S.spark_timestamp_split(
                df,
                ratio=args.ratio,
                col_user=args.col_user,  # type: ignore
                col_item=args.col_item,
                col_timestamp=args.col_timestamp,
            )
        )
    common = dict(
        ratio=args.ratio,
        min_rating=args.min_rating,
        filter_by=args.filter_by,
        col_user=args.col_user,
        col_item=args.col_item,
    )
    if args.split == "chrono":
        return tuple(S.spark_chrono_split(df, col_timestamp=args.col_timestamp, **common))  # type: ignore
    return tuple(S.spark_stratified_split(df, seed=args.seed, **common))  # type: ignore[return-value]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The job's body; returns the summary written to the metrics file."""
    from pyspark.sql import functions as F

    from recutils.models.als import SparkALS
    from recutils.spark import evaluation as E
    from recutils.spark.session import start_or_get_spark

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    check_outputs(args)
    metrics = job_metrics(args)
    from recutils.evaluation.registry import parse_metric

    for m in metrics:
        parse_metric(m)  # unknown names fail before Spark starts
    if args.implicit_prefs and any(parse_metric(m)[0].kind == "rating" for m in metrics):
        logger.warning(
            "--implicit-prefs: ALS predicts confidences, not ratings, so the rating "
            "metrics (%s) compare unlike scales",
            args.metrics,
        )
    spark = start_or_get_spark(
        app_name=args.app_name,
        master=args.master,
        memory=args.driver_memory,
        shuffle_partitions=args.shuffle_partitions,
    )
    timings["start_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    df = read_ratings(spark, args)
    train, test = split(df, args)
    train = train.cache()
    test = test.cache()
    n_train, n_test = train.count(), test.count()
    if n_train == 0 or n_test == 0:
        raise DataError(f"the split left {n_train} train and {n_test} test rows; need both.")
    timings["read_split_s"] = time.perf_counter() - t
    logger.info("train %d rows, test %d rows", n_train, n_test)

    t = time.perf_counter()
    model = SparkALS(
        rank=args.rank,
        max_iter=args.max_iter,
        reg_param=args.reg_param,
        alpha=args.alpha,
        implicit_prefs=args.implicit_prefs,
        nonnegative=args.nonnegative,
        cold_start_strategy=args.cold_start_strategy,
        seed=args.seed,
        num_blocks=args.num_blocks,
        col_user=args.col_user,
        col_item=args.col_item,
        col_rating=args.col_rating,
    ).fit(train)
    timings["fit_s"] = time.perf_counter() - t

    t = time.perf_counter()
    users = test.select(args.col_user).distinct()
    recs = model.recommend_k_items(users, top_k=args.top_k, remove_seen=True).cache()
    n_recs = recs.count()
    timings["recommend_s"] = time.perf_counter() - t

    t = time.perf_counter()
    rating_metrics = [m for m in metrics if parse_metric(m)[0].kind == "rating"]
    other_metrics = [m for m in metrics if m not in rating_metrics]
    values: dict[str, float] = {}
    truth = test.select(args.col_user, args.col_item, args.col_rating)
    if rating_metrics:
        pred = model.predict(test.select(args.col_user, args.col_item)).filter(
            ~F.isnan("prediction")
        )
        values.update(
            E.evaluate(
                truth,
                pred,
                rating_metrics,
                col_user=args.col_user,
                col_item=args.col_item,
                col_rating=args.col_rating,
                k=args.top_k,
            )
        )
    if other_metrics:
        values.update(
            E.evaluate(
                truth,
                recs,
                other_metrics,
                col_user=args.col_user,
                col_item=args.col_item,
                col_rating=args.col_rating,
                k=args.top_k,
                train_df=train.select(args.col_user, args.col_item),
            )
        )
    timings["evaluate_s"] = time.perf_counter() - t

    return write_outputs(
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


def write_outputs(
    spark: Any,
    args: argparse.Namespace,
    recs: Any,
    train: Any,
    test: Any,
    *,
    values: dict[str, float],
    metrics: list[str],
    rows: dict[str, int],
    timings: dict[str, float],
    t0: float,
) -> dict[str, Any]:
    """The end of a Spark job (ALS, SAR): write the recommendations as Parquet and the summary
    as JSON (a local file, or one JSON line through Spark on a remote file system), release the
    cached frames, and return the summary."""
    t = time.perf_counter()
    recs.write.mode("overwrite" if args.overwrite else "errorifexists").parquet(args.output_recs)
    timings["write_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - t0
    summary = {
        "status": "ok",
        "metrics": values,
        "rows": rows,
        "timings": timings,
        "master": spark.sparkContext.master,
        "spark_version": spark.version,
        "args": {**vars(args), "metrics": ",".join(metrics)},
    }
    out = args.output_metrics
    if _is_local(out):
        path = _local(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(summary, indent=2, sort_keys=True, default=str), encoding="utf-8"
        )
    else:  # a remote file system: write through Spark as one JSON line
        spark.createDataFrame(
            [(json.dumps(summary, sort_keys=True, default=str),)], "value string"
        ).coalesce(1).write.mode("overwrite" if args.overwrite else "errorifexists").text(out)
    recs.unpersist()
    train.unpersist()
    test.unpersist()
    return summary


#: What PySpark prints on every pandas conversion when pandas is newer than it was tested with.
PANDAS_WARNING = "PySpark does not yet fully support pandas"


def _quiet_pandas_warning() -> None:
    """Hide PySpark's pandas-version ``FutureWarning`` (printed again on every conversion)
    and say once, at INFO, why. Call it inside ``warnings.catch_warnings()``."""
    import pandas as pd

    warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)
    if int(pd.__version__.split(".")[0]) >= 3:
        logger.info(
            "pandas %s is newer than PySpark tests with; PySpark's repeated "
            "FutureWarning about it is hidden (recutils' Spark tests check its results "
            "against the pandas implementations)",
            pd.__version__,
        )


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the job, return the exit code (see :data:`EXIT_CODES`)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad arguments, 0 on --help
        return int(exc.code or 0)
    return run_command(args, sys.stdout)


def run_command(
    args: argparse.Namespace,
    out: TextIO,
    body: Callable[[argparse.Namespace], dict[str, Any]] | None = None,
) -> int:
    """Run the job with parsed ``args``; print a one-line JSON summary to ``out`` and return
    the exit code (see :data:`EXIT_CODES`). ``body``: the job's work (default :func:`run`;
    ``recutils sar-job`` passes its own)."""
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from recutils.spark.session import SparkMasterUnreachableError

    code, summary = EXIT_OK, None
    try:
        with warnings.catch_warnings():
            _quiet_pandas_warning()
            summary = (body or run)(args)
    except SparkMasterUnreachableError as err:
        code, message = EXIT_MASTER, str(err)
    except OutputExistsError as err:
        code, message = EXIT_OUTPUT_EXISTS, str(err)
    except (ColumnMismatchError, DataError) as err:
        code, message = EXIT_INPUT, str(err)
    except ConfigError as err:
        code, message = EXIT_USAGE, str(err)
    except Exception as err:  # noqa: BLE001 - the job reports every failure with an exit code
        text = str(err)
        if "already exists" in text:
            code, message = (
                EXIT_OUTPUT_EXISTS,
                f"an output exists; pass --overwrite ({text.splitlines()[0]})",
            )
        elif "PATH_NOT_FOUND" in text or "Path does not exist" in text:
            code, message = EXIT_INPUT, text.splitlines()[0]
        else:
            logger.exception("the job failed")
            code, message = (
                EXIT_ERROR,
                f"{type(err).__name__}: {text.splitlines()[0] if text else ''}",
            )
    if code != EXIT_OK:
        logger.error("%s (exit code %d: %s)", message, code, EXIT_CODES[code])
        print(json.dumps({"status": "error", "exit_code": code, "error": message}), file=out)
    elif summary is not None:
        print(
            json.dumps(
                {
                    "status": "ok",
                    "metrics": summary["metrics"],
                    "rows": summary["rows"],
                    "total_s": round(summary["timings"]["total_s"], 2),
                }
            ),
            file=out,
        )
    out.flush()
    return code


__all__ = [
    "DEFAULT_IMPLICIT_METRICS",
    "DEFAULT_METRICS",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_INPUT",
    "EXIT_MASTER",
    "EXIT_OK",
    "EXIT_OUTPUT_EXISTS",
    "EXIT_USAGE",
    "OutputExistsError",
    "PANDAS_WARNING",
    "SPLITS",
    "add_arguments",
    "add_data_arguments",
    "add_spark_arguments",
    "build_parser",
    "check_outputs",
    "job_metrics",
    "main",
    "one_column_message",
    "read_ratings",
    "run",
    "run_command",
    "split",
    "write_outputs",
]
