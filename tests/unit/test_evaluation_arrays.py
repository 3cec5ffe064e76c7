"""score_arrays: point-wise metrics by name on two arrays, equal to the frame functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import recutils.evaluation as ev
from recutils.exceptions import ConfigError, DataError

POINTWISE = ["rmse", "mae", "rsquared", "exp_var", "auc", "logloss", "ece"]


def _frames(y: np.ndarray, p: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each row its own (user, item) pair: what callers built before score_arrays."""
    rows = np.arange(y.size)
    truth = pd.DataFrame({"userID": rows, "itemID": 0, "rating": y})
    pred = pd.DataFrame({"userID": rows, "itemID": 0, "prediction": p})
    return truth, pred


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", POINTWISE)
def test_score_arrays_equals_the_frame_function_bit_for_bit(name, seed) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 2000))
    y = (rng.random(n) < 0.3).astype(np.float32)  # float32 labels, as a torch loop gives them
    p = np.round(rng.random(n), 2)  # ties
    truth, pred = _frames(y, p)
    expected = ev.get_metric(name).function(truth, pred)
    assert ev.score_arrays(name, y, p) == expected  # exact, not approx
    assert ev.score_arrays(name, pd.Series(y), list(p)) == expected


def test_score_arrays_known_answers() -> None:
    y = np.array([0.0, 1.0, 1.0, 0.0])
    p = np.array([0.1, 0.8, 0.6, 0.7])
    assert ev.score_arrays("auc", y, p) == 0.75  # 3 of the 4 (pos, neg) pairs ordered
    assert ev.score_arrays("mae", y, p) == pytest.approx((0.1 + 0.2 + 0.4 + 0.7) / 4)
    assert ev.score_arrays("rmse", [1, 2, 3], [1, 2, 5]) == pytest.approx(np.sqrt(4 / 3))
    assert ev.score_arrays("r2", [1, 2, 3], [1, 2, 3]) == 1.0  # aliases resolve


def test_score_arrays_checks() -> None:
    with pytest.raises(ConfigError, match="point-wise"):
        ev.score_arrays("ndcg", [1, 0], [0.5, 0.2])
    with pytest.raises(ConfigError, match="point-wise"):
        ev.score_arrays("gauc", [1, 0], [0.5, 0.2])
    with pytest.raises(ConfigError, match="unknown metric"):
        ev.score_arrays("nope", [1, 0], [0.5, 0.2])
    with pytest.raises(DataError, match="one length"):
        ev.score_arrays("rmse", [1, 0], [0.5])
    with pytest.raises(DataError, match="1-d"):
        ev.score_arrays("rmse", [[1, 0]], [[0.5, 0.1]])
    with pytest.raises(DataError, match="empty"):
        ev.score_arrays("rmse", [], [])
    with pytest.raises(DataError, match="NaN"):
        ev.score_arrays("rmse", [1.0, np.nan], [0.5, 0.1])
    with pytest.raises(DataError, match="numbers"):
        ev.score_arrays("rmse", ["a", "b"], [0.5, 0.1])
    with pytest.raises(DataError, match="binary"):
        ev.score_arrays("auc", [2.0, 0.0], [0.5, 0.1])
    with pytest.raises(ev.UnknownKeywordError, match="n_bins"):
        ev.score_arrays("ece", [1, 0], [0.5, 0.1], n_bins=5)


def test_trainer_and_lightgbm_metrics_equal_the_frame_functions() -> None:
    pytest.importorskip("torch")
    from recutils.models.lightgbm.model import ctr_metrics
    from recutils.nn.trainer import metric_value

    rng = np.random.default_rng(7)
    y = (rng.random(500) < 0.2).astype(np.float64)
    p = np.round(rng.random(500), 3)
    truth, pred = _frames(y, p)
    assert ctr_metrics(y, p) == {"auc": ev.auc(truth, pred), "logloss": ev.logloss(truth, pred)}
    for name in ("auc", "logloss", "rmse"):
        assert metric_value(name, y, p) == ev.get_metric(name).function(truth, pred)
