"""``evaluate()``: many metrics from one join."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_K,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_THRESHOLD,
    DEFAULT_USER_COL,
)
from recutils.evaluation._core import check_relevancy, prepare
from recutils.evaluation.beyond import DEFAULT_ITEM_FEATURES_COL, DEFAULT_ITEM_SIM_MEASURE
from recutils.evaluation.ranking import _check_ndcg_args
from recutils.evaluation.registry import BEYOND, RANKING, RATING, parse_metric
from recutils.exceptions import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_METRICS = ("ndcg@10", "precision@10", "recall@10", "map@10")


def evaluate(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
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
    train_df: pd.DataFrame | None = None,
    item_feature_df: pd.DataFrame | None = None,
    item_sim_measure: str = DEFAULT_ITEM_SIM_MEASURE,
    col_item_features: str = DEFAULT_ITEM_FEATURES_COL,
) -> dict[str, float]:
    """Compute several metrics from one shared join of truth and predictions.

    The frames are checked and encoded once; the per-user ranking is sorted once and
    every cut-off and metric reads from it. Each value equals what the metric's own
    function returns on the same arguments.

    Args:
        rating_true: Truth (col_user, col_item[, col_rating]).
        rating_pred: Predictions (col_user, col_item, col_prediction).
        metrics: Names such as ``"ndcg@10"``, ``"precision@5"``, ``"rmse"``, ``"gauc"``,
            ``"diversity@10"`` (see :func:`recutils.evaluation.known_metrics`). A ranking
            or beyond-accuracy metric without ``@k`` uses ``k``.
        col_user, col_item, col_rating, col_prediction: Column names.
        k: Default list length.
        relevancy_method, threshold: As in :func:`recutils.evaluation.precision_at_k`.
        score_type, discfun_type: As in :func:`recutils.evaluation.ndcg_at_k`.
        train_df: Training interactions; required by beyond-accuracy metrics, which are
            computed on the top-k lists of the evaluated users (those in both frames)
            taken from ``rating_pred`` as ``reco_df``.
        item_feature_df, item_sim_measure, col_item_features: Item similarity for
            diversity and serendipity (see :mod:`recutils.evaluation.beyond`).

    Returns:
        ``{metric name as given: value}`` in the order given.

    Raises:
        ConfigError: Unknown or malformed metric name (listing the known ones), or a
            beyond-accuracy metric without ``train_df``.
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    parsed = [(text, *parse_metric(text)) for text in metrics]
    kinds = {spec.kind for _, spec, _ in parsed}
    names = {spec.name for _, spec, _ in parsed}
    needs_rating = RATING in kinds or "gauc" in names or ("ndcg" in names and score_type != "binary")
    needs_pred = RATING in kinds or "gauc" in names or relevancy_method is not None
    if "ndcg" in names:
        _check_ndcg_args(score_type, discfun_type)
    if RANKING in kinds or BEYOND in kinds:
        check_relevancy(relevancy_method, k, threshold)
    if BEYOND in kinds and train_df is None:
        raise ConfigError("beyond-accuracy metrics (coverage, novelty, diversity, serendipity) need train_df=.")

    prep = prepare(
        rating_true,
        rating_pred,
        col_user,
        col_item,
        col_rating if needs_rating else None,
        col_prediction if needs_pred else None,
    )
    results: dict[str, float] = {}
    for text, spec, mk in parsed:
        kk = mk if mk is not None else k
        if spec.kind == RATING or not spec.takes_k:
            value = spec.kernel(prep)
        elif spec.kind == RANKING:
            value = spec.kernel(
                prep, kk, relevancy_method=relevancy_method, threshold=threshold,
                score_type=score_type, discfun_type=discfun_type,
            )
        else:
            cutoff = check_relevancy(relevancy_method, kk, threshold)
            top = prep.top(cutoff, by_score=relevancy_method is not None)
            reco_df = rating_pred.iloc[top.pred_row][[col_user, col_item]]
            kwargs = {"col_user": col_user, "col_item": col_item}
            if spec.name in ("diversity", "serendipity"):
                kwargs.update(item_feature_df=item_feature_df, item_sim_measure=item_sim_measure,
                              col_item_features=col_item_features)
            value = spec.function(train_df, reco_df, **kwargs)
        results[text] = float(value)
        logger.debug("%s = %r", text, results[text])
    return results


__all__ = ["evaluate", "DEFAULT_METRICS"]
