"""Calibration of predicted probabilities: reliability table and expected calibration error.

A click model is *calibrated* when, among the impressions it scores near ``p``, a
share ``p`` is clicked. Ranking metrics (AUC, gAUC) are blind to calibration (any
increasing transform of the scores leaves them unchanged); an ad auction that
multiplies the click probability by a bid is not. Log loss mixes both; these
functions isolate calibration.

Predictions are grouped into ``n_bins`` bins of the predicted probability:
``"uniform"`` bins split ``[0, 1]`` into equal widths (bin ``b`` holds
``b/n <= p < (b+1)/n``, the last bin also ``p = 1``); ``"quantile"`` bins hold
equal numbers of predictions (edges at the quantiles of the predictions; tied
predictions stay in one bin). Empty bins are left out.

The frames are joined on (user, item) like every rating metric
(:mod:`recutils.evaluation.rating`); for row-level CTR data give each row its own
id pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_USER_COL,
)
from recutils.evaluation._core import prepare
from recutils.evaluation._public import reject_unknown_keywords
from recutils.evaluation.rating import _binary_labels, _joined, check_probabilities
from recutils.exceptions import ConfigError

STRATEGIES = ("uniform", "quantile")
DEFAULT_N_BINS = 10


def _check(n_bins: int, strategy: str) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ConfigError(f"n_bins must be an integer >= 1, got {n_bins!r}.")
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {list(STRATEGIES)}, got {strategy!r}.")


def _table(y: np.ndarray, p: np.ndarray, n_bins: int, strategy: str, metric: str) -> pd.DataFrame:
    """The reliability table of true labels ``y`` and probabilities ``p``."""
    _check(n_bins, strategy)
    labels = _binary_labels(y, metric).astype(np.float64)
    check_probabilities(p, metric)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)))
        if edges.size == 1:  # every prediction equal
            edges = np.array([edges[0], edges[0]])
    inner = edges[1:-1]
    bins = np.searchsorted(inner, p, side="right")
    n = len(edges) - 1
    count = np.bincount(bins, minlength=n)
    sum_p = np.bincount(bins, weights=p, minlength=n)
    sum_y = np.bincount(bins, weights=labels, minlength=n)
    keep = count > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame(
            {
                "bin": np.arange(n)[keep],
                "lower": edges[:-1][keep],
                "upper": edges[1:][keep],
                "count": count[keep],
                "mean_prediction": (sum_p / count)[keep],
                "observed_rate": (sum_y / count)[keep],
            }
        )
    return table


def _ece(
    y: np.ndarray, p: np.ndarray, n_bins: int = DEFAULT_N_BINS, strategy: str = "uniform"
) -> float:
    table = _table(y, p, n_bins, strategy, "ece")
    weights = table["count"].to_numpy() / table["count"].sum()
    gaps = np.abs(table["mean_prediction"].to_numpy() - table["observed_rate"].to_numpy())
    return float(np.sum(weights * gaps))


@reject_unknown_keywords
def reliability_table(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    n_bins: int = DEFAULT_N_BINS,
    strategy: str = "uniform",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
) -> pd.DataFrame:
    """The data of a reliability plot: per bin, the mean prediction and the observed rate.

    Args:
        rating_true: 0/1 labels in ``col_rating``.
        rating_pred: Probabilities in ``col_prediction``.
        n_bins, strategy: See the module docstring.
        col_user, col_item, col_rating, col_prediction: Column names.

    Returns:
        One row per non-empty bin: ``bin`` (index), ``lower``/``upper`` (edges),
        ``count``, ``mean_prediction``, ``observed_rate``. A calibrated model has
        ``observed_rate`` close to ``mean_prediction`` in every bin.

    Raises:
        ConfigError: bad ``n_bins`` or ``strategy``.
        DataError: labels other than 0/1, predictions outside [0, 1], or no joined pair.
    """
    y, p = _joined(
        prepare(rating_true, rating_pred, col_user, col_item, col_rating, col_prediction)
    )
    return _table(y, p, n_bins, strategy, "reliability_table")


@reject_unknown_keywords
def expected_calibration_error(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    n_bins: int = DEFAULT_N_BINS,
    strategy: str = "uniform",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
) -> float:
    """Expected calibration error, :math:`\\sum_b \\frac{n_b}{n} |\\bar p_b - \\bar y_b|`.

    The gap between the mean prediction :math:`\\bar p_b` and the observed rate
    :math:`\\bar y_b` of each bin (:func:`reliability_table`), weighted by the bin's
    share of the predictions. 0 is perfect; lower is better. Registered as ``"ece"``
    (10 uniform bins).
    """
    y, p = _joined(
        prepare(rating_true, rating_pred, col_user, col_item, col_rating, col_prediction)
    )
    return _ece(y, p, n_bins, strategy)


__all__ = ["STRATEGIES", "expected_calibration_error", "reliability_table"]
