"""Metrics by name: ``evaluate()`` (many metrics from one join), the per-user table,
``score_arrays()`` (a point-wise metric of two arrays) and the metric plan that
``evaluate()`` here and on Spark share."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_K,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_THRESHOLD,
    DEFAULT_USER_COL,
)
from recutils.evaluation._core import check_relevancy, float_array, prepare, warn_no_common_users
from recutils.evaluation._public import reject_unknown_keywords
from recutils.evaluation.beyond import DEFAULT_ITEM_FEATURES_COL, DEFAULT_ITEM_SIM_MEASURE
from recutils.evaluation.ranking import PER_USER_METRICS, _by_user, _check_ndcg_args
from recutils.evaluation.rating import _joined
from recutils.evaluation.registry import BEYOND, METRICS, RANKING, RATING, MetricSpec, parse_metric
from recutils.exceptions import ConfigError, DataError

logger = logging.getLogger(__name__)

DEFAULT_METRICS = ("ndcg@10", "precision@10", "recall@10", "map@10")

#: Beyond-accuracy metrics that take the item-similarity arguments.
_SIMILARITY_METRICS = ("diversity", "serendipity")


# --------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class PlannedMetric:
    """One requested metric: the text as given, its registry entry and its list length."""

    text: str
    spec: MetricSpec
    k: int


@dataclass(frozen=True)
class MetricPlan:
    """What :func:`plan_metrics` found out about a list of metric names.

    Attributes:
        metrics: The metrics in the order given.
        needs_rating: Whether the true rating column is read (point-wise metrics, gauc,
            nDCG with non-binary gains).
        needs_prediction: Whether the prediction column is read (point-wise metrics,
            gauc, and ranking by score: ``relevancy_method`` not None).
    """

    metrics: tuple[PlannedMetric, ...]
    needs_rating: bool
    needs_prediction: bool

    def ranking_names_by_k(self) -> dict[int, list[str]]:
        """Canonical names of the list metrics (ranking metrics taking k), by list length."""
        out: dict[int, list[str]] = {}
        for m in self.metrics:
            if m.spec.kind == RANKING and m.spec.takes_k and m.spec.name not in out.get(m.k, []):
                out.setdefault(m.k, []).append(m.spec.name)
        return out


def plan_metrics(
    metrics: str | Sequence[str],
    *,
    k: int,
    relevancy_method: str | None,
    threshold,
    score_type: str,
    discfun_type: str,
    has_train_df: bool,
) -> MetricPlan:
    """Resolve metric names through the registry and check the arguments they use.

    The one planning step of :func:`evaluate`, :func:`ranking_metrics_by_user` and
    :func:`recutils.spark.evaluation.evaluate`: names (``"ndcg@10"``, aliases) are
    parsed with :func:`~recutils.evaluation.parse_metric`, a metric without ``@k``
    takes ``k``, and the arguments are checked once, before any data is read.

    Raises:
        ConfigError: Unknown or malformed name, bad ``score_type``/``discfun_type`` with
            nDCG, or a beyond-accuracy metric without ``train_df``.
        DataError: Bad ``k``, ``relevancy_method`` or ``threshold`` with a list metric.
    """
    if isinstance(metrics, str):
        metrics = [metrics]
    planned = []
    for text in metrics:
        spec, mk = parse_metric(text)
        planned.append(PlannedMetric(text, spec, mk if mk is not None else k))
    kinds = {m.spec.kind for m in planned}
    names = {m.spec.name for m in planned}
    if "ndcg" in names:
        _check_ndcg_args(score_type, discfun_type)
    if RANKING in kinds or BEYOND in kinds:
        check_relevancy(relevancy_method, k, threshold)
    if BEYOND in kinds and not has_train_df:
        raise ConfigError(
            "beyond-accuracy metrics (coverage, novelty, diversity, serendipity) need train_df=."
        )
    return MetricPlan(
        metrics=tuple(planned),
        needs_rating=RATING in kinds
        or "gauc" in names
        or ("ndcg" in names and score_type != "binary"),
        needs_prediction=RATING in kinds or "gauc" in names or relevancy_method is not None,
    )


def beyond_options(
    spec: MetricSpec,
    col_user: str,
    col_item: str,
    item_feature_df,
    item_sim_measure: str,
    col_item_features: str,
) -> dict:
    """The keywords of a beyond-accuracy metric's function, from ``evaluate()``'s arguments."""
    kwargs = {"col_user": col_user, "col_item": col_item}
    if spec.name in _SIMILARITY_METRICS:
        kwargs.update(
            item_feature_df=item_feature_df,
            item_sim_measure=item_sim_measure,
            col_item_features=col_item_features,
        )
    return kwargs


# --------------------------------------------------------------------------- evaluate
@reject_unknown_keywords
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
    plan = plan_metrics(
        metrics,
        k=k,
        relevancy_method=relevancy_method,
        threshold=threshold,
        score_type=score_type,
        discfun_type=discfun_type,
        has_train_df=train_df is not None,
    )
    prep = prepare(
        rating_true,
        rating_pred,
        col_user,
        col_item,
        col_rating if plan.needs_rating else None,
        col_prediction if plan.needs_prediction else None,
    )
    if any(m.spec.kind != RATING for m in plan.metrics):
        warn_no_common_users(prep, col_user, stacklevel=3)
    results: dict[str, float] = {}
    for m in plan.metrics:
        text, spec = m.text, m.spec
        if spec.pointwise:
            value = spec.array_kernel(*_joined(prep))
        elif not spec.takes_k:
            value = spec.kernel(prep)
        elif spec.kind == RANKING:
            value = spec.kernel(
                prep,
                m.k,
                relevancy_method=relevancy_method,
                threshold=threshold,
                score_type=score_type,
                discfun_type=discfun_type,
            )
        else:
            cutoff = check_relevancy(relevancy_method, m.k, threshold)
            top = prep.top(cutoff, by_score=relevancy_method is not None)
            reco_df = rating_pred.iloc[top.pred_row][[col_user, col_item]]
            value = spec.function(
                train_df,
                reco_df,
                **beyond_options(
                    spec, col_user, col_item, item_feature_df, item_sim_measure, col_item_features
                ),
            )
        results[text] = float(value)
        logger.debug("%s = %r", text, results[text])
    return results


# --------------------------------------------------------------------------- per user
@reject_unknown_keywords
def ranking_metrics_by_user(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    metrics: Sequence[str] = ("ndcg@10", "precision@10", "recall@10", "mean_average_precision@10"),
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
    relevancy_method: str | None = "top_k",
    k: int = DEFAULT_K,
    threshold: int = DEFAULT_THRESHOLD,
    score_type: str = "binary",
    discfun_type: str = "loge",
) -> pd.DataFrame:
    """Ranking metrics per user, for paired comparisons of two models user by user.

    One row per user of ``rating_true`` (sorted by user), one column per metric named as
    given (``"ndcg@10"``; without ``@k`` the argument ``k`` is used), and a boolean
    column ``"has_predictions"``. Supported metrics: ``precision``, ``recall``,
    ``ndcg``, ``map`` (:func:`map_at_k`), ``mean_average_precision``, ``hit_ratio``
    and ``mrr``, with the same definitions, ranks and tie-breaking as the aggregate
    functions, so that:

    * the aggregate (e.g. :func:`precision_at_k`) equals the mean of the column over
      the users with ``has_predictions`` (the users both frames share);
    * :func:`ndcg_at_k` equals the mean of its column over *every* row (Microsoft
      Recommenders' convention), NaN rows (ideal DCG of 0 with non-binary gains) left out.

    Users without predictions get 0 in every column.

    Raises:
        ConfigError: A metric without a per-user form, or a malformed name.
        DataError, ColumnMismatchError: As for the aggregate metrics.
    """
    plan = plan_metrics(
        metrics,
        k=k,
        relevancy_method=relevancy_method,
        threshold=threshold,
        score_type=score_type,
        discfun_type=discfun_type,
        has_train_df=False,
    )
    for m in plan.metrics:
        if m.spec.name not in PER_USER_METRICS:
            raise ConfigError(
                f"metric {m.text!r} has no per-user form; available: {list(PER_USER_METRICS)}."
            )
    prep = prepare(
        rating_true,
        rating_pred,
        col_user,
        col_item,
        col_rating if plan.needs_rating else None,
        col_prediction if plan.needs_prediction else None,
    )
    warn_no_common_users(prep, col_user, stacklevel=3)
    users, first = np.unique(prep.t_user, return_index=True)  # truth users, first row of each
    out = pd.DataFrame({col_user: rating_true[col_user].to_numpy()[first]})
    common = prep.common[users]
    for m in plan.metrics:
        values = _by_user(
            prep, m.spec.name, m.k, relevancy_method, threshold, score_type, discfun_type
        )[users]
        if m.spec.name != "ndcg":
            values = np.where(common, values, 0.0)
        out[m.text] = values
    out["has_predictions"] = common
    return out.sort_values(col_user, kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- arrays
@reject_unknown_keywords
def score_arrays(name: str, y_true, y_pred) -> float:
    """A point-wise metric of the registry on two aligned arrays.

    ``score_arrays("auc", labels, probabilities)`` is :func:`recutils.evaluation.auc` of
    frames that give every row its own (user, item) pair, computed by the same kernel
    on the arrays directly (so the values are the same to the last bit).

    Args:
        name: A point-wise metric or alias (``"rmse"``, ``"mae"``, ``"rsquared"``,
            ``"exp_var"``, ``"auc"``, ``"logloss"``, ``"ece"``); no ``@k``.
        y_true: True ratings or 0/1 labels, 1-d array-like.
        y_pred: Predictions (probabilities for ``logloss`` and ``ece``), same length.

    Raises:
        ConfigError: Unknown name, or a metric that needs users or lists (``ndcg``,
            ``gauc`` ...: use :func:`evaluate`).
        DataError: Arrays not 1-d, of different lengths, empty, non-numeric or with NaN,
            and whatever the metric itself checks (binary labels, probabilities ...).
    """
    spec, _ = parse_metric(name)
    if not spec.pointwise:
        pointwise = [n for n, s in METRICS.items() if s.pointwise]
        raise ConfigError(
            f"score_arrays computes point-wise metrics ({', '.join(pointwise)}); {name!r} needs users "
            "or ranked lists: use evaluate() with frames."
        )
    y = float_array(y_true, "y_true", "true values")
    p = float_array(y_pred, "y_pred", "predictions")
    if y.ndim != 1 or y.shape != p.shape:
        raise DataError(
            f"y_true and y_pred must be 1-d of one length, got shapes {y.shape} and {p.shape}."
        )
    if y.size == 0:
        raise DataError(f"y_true and y_pred are empty; {spec.name} is undefined.")
    return float(spec.array_kernel(y, p))


__all__ = [
    "evaluate",
    "DEFAULT_METRICS",
    "ranking_metrics_by_user",
    "score_arrays",
    "plan_metrics",
    "MetricPlan",
    "PlannedMetric",
]
