"""The ALS batch job as a module and a file Spark can run: ``recutils als-job`` by another path.

The job lives in :mod:`recutils.cli.als_job`; this module keeps its older entry points
working, with the same arguments, outputs and exit codes::

    python -m recutils.spark.jobs.als --input ratings.csv --output-recs out/recs \\
        --output-metrics out/metrics.json --master local[*]
    spark-submit --master spark://HOST:7077 $(python -c "import recutils.spark.jobs.als as m; \\
        print(m.__file__)") --input ... --output-recs ... --output-metrics ...
"""

from __future__ import annotations

import os
import sys

from recutils.cli.als_job import (
    DEFAULT_IMPLICIT_METRICS,
    DEFAULT_METRICS,
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_INPUT,
    EXIT_MASTER,
    EXIT_OK,
    EXIT_OUTPUT_EXISTS,
    EXIT_USAGE,
    PANDAS_WARNING,
    SPLITS,
    OutputExistsError,
    add_arguments,
    build_parser,
    check_outputs,
    job_metrics,
    main,
    one_column_message,
    read_ratings,
    run,
    run_command,
    split,
)

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
    "build_parser",
    "check_outputs",
    "job_metrics",
    "main",
    "one_column_message",
    "read_ratings",
    "run",
    "run_command",
    "split",
]

if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses in the tests
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
