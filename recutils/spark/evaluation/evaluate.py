"""``evaluate()`` on Spark DataFrames; see :func:`recutils.evaluation.evaluate`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_K,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_THRESHOLD,
    DEFAULT_USER_COL,
)
from recutils.evaluation._core import check_relevancy
from recutils.evaluation._public import reject_unknown_keywords
from recutils.evaluation.beyond import DEFAULT_ITEM_FEATURES_COL, DEFAULT_ITEM_SIM_MEASURE
from recutils.evaluation.evaluate import DEFAULT_METRICS, beyond_options, plan_metrics
from recutils.evaluation.registry import RANKING, RATING
from recutils.spark.evaluation._common import _Prepared
from recutils.spark.evaluation.beyond import _BEYOND_FUNCS
from recutils.spark.evaluation.ranking import _gauc, _ranking_metrics
from recutils.spark.evaluation.rating import _rating_value

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)


@reject_unknown_keywords
def evaluate(
    rating_true: DataFrame,
    rating_pred: DataFrame,
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
    k: int = DEFAULT_K,
    relevancy_method: str | None = "top_k",
    threshold: int = DEFAULT_THRESHOLD,
    score_type: str = "binary",
    discfun_type: str = "loge",
    train_df: DataFrame | None = None,
    item_feature_df: DataFrame | None = None,
    item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
    col_item_features: str = DEFAULT_ITEM_FEATURES_COL,
    check: bool = True,
) -> dict[str, float]:
    """Several metrics on Spark DataFrames, sharing checks, joins and per-user statistics.

    Metric names and arguments as :func:`recutils.evaluation.evaluate` (``"ndcg@10"``,
    ``"rmse"``, ``"diversity@10"`` ...). Ranking metrics of the same ``k`` come from one
    Spark aggregation. Beyond-accuracy metrics use each evaluated user's top-k list
    from ``rating_pred`` as ``reco_df`` and need ``train_df``.

    Returns:
        ``{metric name as given: value}`` in the order given.
    """
    plan = plan_metrics(
        metrics,
        k=k,
        relevancy_method=relevancy_method,
        threshold=threshold,
        score_type=score_type,
        discfun_type=discfun_type,
        has_train_df=train_df is not None,
    )
    prep = _Prepared(
        rating_true,
        rating_pred,
        col_user,
        col_item,
        col_rating if plan.needs_rating else None,
        col_prediction if plan.needs_prediction else None,
        check,
    )
    ranking_values = {
        kk: _ranking_metrics(
            prep, sorted(names), kk, relevancy_method, threshold, score_type, discfun_type
        )
        for kk, names in plan.ranking_names_by_k().items()
    }
    cache: dict = {}
    results: dict[str, float] = {}
    for m in plan.metrics:
        text, spec = m.text, m.spec
        if spec.name == "gauc":
            value = _gauc(prep)
        elif spec.kind == RATING:
            value = _rating_value(spec.name, prep, cache)
        elif spec.kind == RANKING:
            value = ranking_values[m.k][spec.name]
        else:
            cutoff = check_relevancy(relevancy_method, m.k, threshold)
            ranked = prep.ranked(cutoff, by_score=relevancy_method is not None)
            reco_df = ranked.select(col_user, col_item)
            options = beyond_options(
                spec, col_user, col_item, item_feature_df, item_sim_measure, col_item_features
            )
            value = _BEYOND_FUNCS[spec.name](train_df, reco_df, check=check, **options)
        results[text] = float(value)
        logger.debug("%s = %r", text, results[text])
    return results


__all__ = ["evaluate"]
