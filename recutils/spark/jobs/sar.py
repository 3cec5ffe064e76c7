"""The SAR batch job as a file Spark can run: ``recutils sar-job`` by another path.

The job lives in :mod:`recutils.cli.sar_job`::

    python -m recutils.spark.jobs.sar --input ratings.csv --output-recs out/recs \\
        --output-metrics out/metrics.json --master local[*]
    spark-submit --master spark://HOST:7077 $(python -c "import recutils.spark.jobs.sar as m; \\
        print(m.__file__)") --input ... --output-recs ... --output-metrics ...
"""

from __future__ import annotations

import os
import sys

from recutils.cli.sar_job import add_arguments, build_parser, main, run, run_command

__all__ = ["add_arguments", "build_parser", "main", "run", "run_command"]

if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses in the tests
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
