"""Evaluation: rating, ranking and beyond-accuracy metrics, a registry and ``evaluate()``.

The functions take the arguments of Microsoft Recommenders'
``recommenders.evaluation.python_evaluation`` and return the same values on the same
input (quirks kept and documented in each docstring), computed with vectorized
numpy: ids are encoded once, rankings sorted once, and no users x items matrix is built.

* Rating metrics: :func:`rmse`, :func:`mae`, :func:`rsquared`, :func:`exp_var`,
  :func:`auc`, :func:`logloss`; calibration: :func:`expected_calibration_error`
  (``"ece"``) and :func:`reliability_table`.
* Ranking metrics: :func:`precision_at_k`, :func:`recall_at_k`, :func:`ndcg_at_k`,
  :func:`map_at_k`, :func:`mean_average_precision` (Microsoft Recommenders' ``map``),
  :func:`r_precision_at_k`, :func:`hit_ratio_at_k`, :func:`mrr_at_k`, :func:`gauc`,
  :func:`get_top_k_items`, and :func:`ranking_metrics_by_user` (the same metrics user by
  user, for paired tests).
* The joins the metrics compute on, as Microsoft Recommenders exposes them:
  :func:`merge_rating_true_pred` and :func:`merge_ranking_true_pred`.
* Beyond-accuracy metrics: :func:`catalog_coverage`, :func:`distributional_coverage`,
  :func:`novelty`, :func:`historical_item_novelty`, :func:`diversity`,
  :func:`user_diversity`, :func:`serendipity`, :func:`user_serendipity`,
  :func:`user_item_serendipity`.
* :func:`evaluate` computes many metrics from one join; :data:`METRICS` is the
  registry (name -> :class:`MetricSpec` with ``higher_is_better`` and ``kind``);
  :func:`score_arrays` computes a point-wise metric by name from two arrays (labels and
  predictions, e.g. in a training loop).
* Next-item evaluation (:mod:`recutils.evaluation.next_item`): HR@k, NDCG@k, MRR@k
  of a held-out next item under full ranking and under sampled ranking
  (:func:`evaluate_next_item`, :func:`draw_negatives`, :class:`NextItemResult`).
* Every public metric function names the keywords it accepts: an unknown one raises
  :class:`UnknownKeywordError` (a ``ConfigError`` and a ``TypeError``).
"""

from recutils.evaluation._public import UnknownKeywordError
from recutils.evaluation.beyond import (
    catalog_coverage,
    distributional_coverage,
    diversity,
    historical_item_novelty,
    novelty,
    serendipity,
    user_diversity,
    user_item_serendipity,
    user_serendipity,
)
from recutils.evaluation.calibration import expected_calibration_error, reliability_table
from recutils.evaluation.evaluate import (
    DEFAULT_METRICS,
    evaluate,
    ranking_metrics_by_user,
    score_arrays,
)
from recutils.evaluation.merge import merge_ranking_true_pred, merge_rating_true_pred
from recutils.evaluation.next_item import (
    NegativeSample,
    NextItemResult,
    draw_negatives,
    evaluate_next_item,
    next_item_metrics,
)
from recutils.evaluation.ranking import (
    gauc,
    get_top_k_items,
    hit_ratio_at_k,
    map_at_k,
    mean_average_precision,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    r_precision_at_k,
    recall_at_k,
)
from recutils.evaluation.rating import auc, exp_var, logloss, mae, rmse, rsquared
from recutils.evaluation.registry import (
    METRICS,
    MetricSpec,
    get_metric,
    known_metrics,
    parse_metric,
)

__all__ = [
    "NegativeSample",
    "NextItemResult",
    "draw_negatives",
    "evaluate_next_item",
    "next_item_metrics",
    "rmse",
    "mae",
    "rsquared",
    "exp_var",
    "auc",
    "logloss",
    "expected_calibration_error",
    "reliability_table",
    "precision_at_k",
    "recall_at_k",
    "ndcg_at_k",
    "map_at_k",
    "mean_average_precision",
    "r_precision_at_k",
    "hit_ratio_at_k",
    "mrr_at_k",
    "gauc",
    "get_top_k_items",
    "ranking_metrics_by_user",
    "merge_rating_true_pred",
    "merge_ranking_true_pred",
    "catalog_coverage",
    "distributional_coverage",
    "novelty",
    "historical_item_novelty",
    "diversity",
    "user_diversity",
    "serendipity",
    "user_serendipity",
    "user_item_serendipity",
    "evaluate",
    "score_arrays",
    "UnknownKeywordError",
    "DEFAULT_METRICS",
    "METRICS",
    "MetricSpec",
    "get_metric",
    "known_metrics",
    "parse_metric",
]
