"""Benchmarks: many registered models, several protocols and seeds, one tidy table.

Microsoft Recommenders' benchmark fits each model once on one split; small differences
in such a table carry no information. Here every model runs over several seeds (split
and model), the table shows mean and standard deviation, and each model is tested
against a reference model user by user (paired t-test and Wilcoxon, effect size).

* :class:`BenchmarkSpec` / :class:`ModelSpec` / :func:`load_spec`: what to run, as YAML
  (built-in: ``"movielens"``).
* :func:`run_benchmark`: one row per model x protocol x seed (metrics, fit and scoring
  time, peak memory); resumable from a CSV.
* :func:`summarize`, :func:`paired_tests`, :func:`load_reference`,
  :func:`compare_to_reference`: the statistics.
* :func:`markdown_table`, :func:`benchmark_markdown`, :func:`machine_info`: reports.

Only numpy, pandas and scipy are imported here; models are imported when run.
"""

from recutils.benchmark.protocols import PROTOCOLS, Protocol, get_protocol
from recutils.benchmark.report import benchmark_markdown, machine_info, markdown_table
from recutils.benchmark.run import (
    default_per_user_path,
    metric_columns,
    per_user_metric_names,
    result_columns,
    run_benchmark,
    run_one,
)
from recutils.benchmark.spec import BenchmarkSpec, ModelSpec, load_spec
from recutils.benchmark.stats import compare_to_reference, load_reference, paired_tests, summarize

__all__ = [
    "BenchmarkSpec",
    "ModelSpec",
    "load_spec",
    "PROTOCOLS",
    "Protocol",
    "get_protocol",
    "run_benchmark",
    "run_one",
    "result_columns",
    "metric_columns",
    "per_user_metric_names",
    "default_per_user_path",
    "summarize",
    "paired_tests",
    "load_reference",
    "compare_to_reference",
    "markdown_table",
    "benchmark_markdown",
    "machine_info",
]
