"""The metrics of :mod:`recutils.evaluation` on Spark DataFrames.

Same function names, arguments and definitions as the pandas module (read the
docstrings there for the formulas and Microsoft Recommenders' quirks kept: the user
set of nDCG, R-precision's user set, ``by_threshold`` as a count, ...); the values
equal the pandas results on the same input to floating-point rounding (parity tests
on MovieLens 100k check 1e-9). Only the container differs:

* inputs are Spark DataFrames; scalar metrics return a Python ``float``; per-user or
  per-item metrics (:func:`user_diversity`, :func:`historical_item_novelty`, ...)
  return Spark DataFrames sorted like the pandas ones;
* **ties** between equal scores are broken by input row order, taken as the order
  of ``monotonically_increasing_id`` (partition, then position): for a frame created
  from pandas or read from one file this is the pandas tie-break exactly;
* each metric is one aggregation over one join; :func:`evaluate` shares the join,
  the per-user ranking and the per-user statistics between metrics (one Spark job per
  list length ``k``);
* checks: missing columns (:class:`ColumnMismatchError`), duplicate (user, item)
  rows, null/NaN scores, seen items in recommendations (:class:`DataError`), each one
  small Spark job; pass ``check=False`` where the data are known to be clean.

No users x items frame is built: ranking metrics work on the predictions given, and
the item-similarity metrics compute co-occurrence only for the recommended items.
"""

# The public names are those of the modules, which mirror recutils.evaluation's.
from recutils.spark.evaluation import beyond, ranking, rating
from recutils.spark.evaluation.beyond import *  # noqa: F403
from recutils.spark.evaluation.evaluate import evaluate
from recutils.spark.evaluation.ranking import *  # noqa: F403
from recutils.spark.evaluation.rating import *  # noqa: F403

__all__ = [*rating.__all__, *ranking.__all__, *beyond.__all__, "evaluate"]
