"""Rating (point-wise) metrics: truth and prediction joined on (user, item).

Every function takes ``(rating_true, rating_pred, col_user=..., col_item=...,
col_rating=..., col_prediction=...)`` as Microsoft Recommenders does. The two frames
are inner-joined on (user, item); pairs present in only one frame are ignored.
Duplicate (user, item) rows in either frame, NaN ratings or predictions, and an
empty join raise :class:`recutils.exceptions.DataError`.

In the formulas, :math:`y_j` is the true rating and :math:`\\hat y_j` the prediction
of the :math:`n` joined pairs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_USER_COL,
)
from recutils.evaluation._core import Prepared, prepare
from recutils.evaluation._public import public_function
from recutils.exceptions import DataError

logger = logging.getLogger(__name__)


def _joined(prep: Prepared) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = prep.rating_join()
    if y_true.size == 0:
        raise DataError(
            "rating_true and rating_pred have no (user, item) pair in common; rating metrics are undefined."
        )
    return y_true, y_pred


def _binary_labels(y: np.ndarray, metric: str) -> np.ndarray:
    bad = (y != 0) & (y != 1)
    if bad.any():
        raise DataError(
            f"{metric} needs binary true labels (0 or 1) in col_rating; found e.g. {y[bad][:3].tolist()}."
        )
    return y.astype(bool)


def _midranks(sorted_values: np.ndarray, start: int = 0) -> np.ndarray:
    """1-based ranks of a sorted array, ties sharing the mean of their ranks."""
    n = sorted_values.size
    new_run = np.empty(n, dtype=bool)
    new_run[:1] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=new_run[1:])
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_end = np.append(run_start[1:], n) - 1
    return (run_start + run_end)[run_id] / 2.0 + 1.0


# ---------------------------------------------------------------- kernels on (true, predicted) arrays
def _rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y - p) ** 2)))


def _mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(y - p)))


def _rsquared(y: np.ndarray, p: np.ndarray) -> float:
    ss_res = float(np.sum((y - p) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def _exp_var(y: np.ndarray, p: np.ndarray) -> float:
    var_res = float(np.var(y - p))
    var_true = float(np.var(y))
    if var_true == 0.0:
        return 1.0 if var_res == 0.0 else 0.0
    return 1.0 - var_res / var_true


def binary_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUC of bool ``labels`` against ``scores`` (ties count one half)."""
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise DataError("AUC is undefined when the true labels hold only one class.")
    order = np.argsort(scores)
    ranks = _midranks(scores[order])
    rank_sum = float(ranks[labels[order]].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return binary_auc(_binary_labels(y, "auc"), p)


def check_probabilities(p: np.ndarray, metric: str) -> None:
    """Raise unless every prediction is a probability in [0, 1]."""
    if (p < 0).any() or (p > 1).any():
        raise DataError(f"{metric} needs predictions that are probabilities in [0, 1].")


def _logloss(y: np.ndarray, p: np.ndarray) -> float:
    labels = _binary_labels(y, "logloss")
    check_probabilities(p, "logloss")
    if labels.all() or not labels.any():
        raise DataError("logloss is undefined here: the true labels hold only one class.")
    eps = np.finfo(np.float64).eps
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(np.where(labels, np.log(p), np.log1p(-p))))


# ---------------------------------------------------------------- public API
def _pointwise(kernel: Callable[[np.ndarray, np.ndarray], float]) -> Callable[[Prepared], float]:
    """``kernel`` of the (true, predicted) values of the joined pairs."""
    return lambda prep: kernel(*_joined(prep))


def rating_metric(
    name: str, compute: Callable[[Prepared], float], doc: str
) -> Callable[..., float]:
    """The public function ``name``: ``compute`` on the checked and encoded frames.

    Every rating metric (and gauc) has this signature (Microsoft Recommenders'); only
    the computation and the docstring differ.
    """

    def metric(
        rating_true: pd.DataFrame,
        rating_pred: pd.DataFrame,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
        col_rating: str = DEFAULT_RATING_COL,
        col_prediction: str = DEFAULT_PREDICTION_COL,
    ) -> float:
        return compute(
            prepare(rating_true, rating_pred, col_user, col_item, col_rating, col_prediction)
        )

    return public_function(metric, name, doc, __name__)


rmse = rating_metric(
    "rmse",
    _pointwise(_rmse),
    """
    Root mean squared error, :math:`\\sqrt{\\frac1n\\sum_j (y_j-\\hat y_j)^2}`.

    Args:
        rating_true: True ratings (col_user, col_item, col_rating); no duplicate pairs.
        rating_pred: Predictions (col_user, col_item, col_prediction); no duplicate pairs.
        col_user, col_item, col_rating, col_prediction: Column names.

    Returns:
        RMSE over the (user, item) pairs present in both frames (>= 0, lower is better).
    """,
)

mae = rating_metric(
    "mae",
    _pointwise(_mae),
    """
    Mean absolute error, :math:`\\frac1n\\sum_j |y_j-\\hat y_j|` (lower is better).

    Arguments as :func:`rmse`.
    """,
)

rsquared = rating_metric(
    "rsquared",
    _pointwise(_rsquared),
    """
    Coefficient of determination :math:`R^2 = 1 - \\sum_j (y_j-\\hat y_j)^2 / \\sum_j (y_j-\\bar y)^2`.

    At most 1 and unbounded below (a prediction worse than the mean is negative).
    When all true ratings are equal, returns 1.0 for a perfect prediction and 0.0
    otherwise (scikit-learn's convention, used by Microsoft Recommenders).
    Arguments as :func:`rmse`.
    """,
)

exp_var = rating_metric(
    "exp_var",
    _pointwise(_exp_var),
    """
    Explained variance :math:`1 - \\mathrm{Var}(y-\\hat y) / \\mathrm{Var}(y)` (population variances).

    Like :func:`rsquared` but blind to a constant bias. Same convention when
    :math:`\\mathrm{Var}(y)=0`. Arguments as :func:`rmse`.
    """,
)

auc = rating_metric(
    "auc",
    _pointwise(_auc),
    """
    Area under the ROC curve over all joined pairs, regardless of users.

    Labels ``col_rating`` must be 0/1; scores any real numbers. Computed as the
    Mann-Whitney statistic

    .. math:: AUC = \\frac{\\sum_{j: y_j=1} r_j - n_+(n_++1)/2}{n_+ n_-}

    with :math:`r_j` the 1-based rank of :math:`\\hat y_j` among all scores (tied scores
    get the mean of their ranks, i.e. a tie counts one half). Equal to scikit-learn's
    ``roc_auc_score`` used by Microsoft Recommenders. For the per-user version see
    :func:`recutils.evaluation.gauc`. One class only raises :class:`DataError`.
    """,
)

logloss = rating_metric(
    "logloss",
    _pointwise(_logloss),
    """
    Binary cross-entropy :math:`-\\frac1n\\sum_j [y_j\\ln p_j + (1-y_j)\\ln(1-p_j)]`.

    Labels must be 0/1 with both classes present, predictions probabilities in [0, 1];
    :math:`p_j` is clipped to :math:`[\\epsilon, 1-\\epsilon]` with :math:`\\epsilon` the float64
    machine epsilon (as scikit-learn's ``log_loss``). Lower is better.
    """,
)


__all__ = ["rmse", "mae", "rsquared", "exp_var", "auc", "logloss"]
