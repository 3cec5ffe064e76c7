"""Calibration metrics: hand-computed reliability tables and expected calibration error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recutils.evaluation as ev
from recutils.exceptions import ConfigError, DataError


def frames(labels, probs):
    n = len(labels)
    truth = pd.DataFrame({"userID": np.arange(n), "itemID": 0, "rating": np.asarray(labels, float)})
    pred = pd.DataFrame(
        {"userID": np.arange(n), "itemID": 0, "prediction": np.asarray(probs, float)}
    )
    return truth, pred


def test_reliability_table_and_ece_by_hand():
    # 2 uniform bins: [0, 0.5) holds 0.1, 0.2, 0.3 (mean 0.2, 1 click of 3);
    # [0.5, 1] holds 0.6, 1.0 (mean 0.8, 2 clicks of 2)
    truth, pred = frames([0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.6, 1.0])
    table = ev.reliability_table(truth, pred, n_bins=2)
    assert table["count"].tolist() == [3, 2]
    assert table["mean_prediction"].tolist() == pytest.approx([0.2, 0.8])
    assert table["observed_rate"].tolist() == pytest.approx([1 / 3, 1.0])
    assert table[["lower", "upper"]].to_numpy().tolist() == [[0.0, 0.5], [0.5, 1.0]]
    # ECE = 3/5 * |0.2 - 1/3| + 2/5 * |0.8 - 1| = 0.08 + 0.08
    assert ev.expected_calibration_error(truth, pred, n_bins=2) == pytest.approx(0.16)
    assert ev.evaluate(truth, pred, ["ece"])["ece"] == pytest.approx(
        ev.expected_calibration_error(truth, pred)
    )


def test_empty_bins_are_left_out_and_quantile_bins_are_balanced():
    truth, pred = frames([0, 0, 1, 1], [0.05, 0.1, 0.85, 0.9])
    table = ev.reliability_table(truth, pred, n_bins=10)
    assert table["bin"].tolist() == [0, 1, 8, 9]
    q = ev.reliability_table(truth, pred, n_bins=2, strategy="quantile")
    assert q["count"].tolist() == [2, 2]
    ece = ev.expected_calibration_error(truth, pred, n_bins=2, strategy="quantile")
    assert ece == pytest.approx(0.5 * 0.075 + 0.5 * 0.125)


def test_a_constant_prediction_at_the_base_rate_is_calibrated():
    truth, pred = frames([1, 0, 0, 0], [0.25] * 4)
    assert ev.expected_calibration_error(truth, pred) == pytest.approx(0.0)
    assert ev.expected_calibration_error(truth, pred, strategy="quantile") == pytest.approx(0.0)


def test_bad_input_raises():
    truth, pred = frames([0, 2], [0.1, 0.2])
    with pytest.raises(DataError, match="binary"):
        ev.expected_calibration_error(truth, pred)
    truth, pred = frames([0, 1], [0.1, 1.2])
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        ev.reliability_table(truth, pred)
    truth, pred = frames([0, 1], [0.1, 0.2])
    with pytest.raises(ConfigError, match="n_bins"):
        ev.reliability_table(truth, pred, n_bins=0)
    with pytest.raises(ConfigError, match="strategy"):
        ev.reliability_table(truth, pred, strategy="kmeans")


def test_registered_as_lower_is_better():
    spec = ev.get_metric("expected_calibration_error")
    assert spec.name == "ece" and spec.higher_is_better is False and spec.kind == "rating"


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=1, max_size=40),
    st.integers(1, 12),
    st.sampled_from(["uniform", "quantile"]),
)
def test_ece_bounds_and_counts(rows, n_bins, strategy):
    labels, probs = zip(*rows)
    truth, pred = frames(labels, probs)
    table = ev.reliability_table(truth, pred, n_bins=n_bins, strategy=strategy)
    assert table["count"].sum() == len(rows)
    ece = ev.expected_calibration_error(truth, pred, n_bins=n_bins, strategy=strategy)
    assert 0.0 <= ece <= 1.0
    # ECE never exceeds the mean absolute error of the probabilities
    assert ece <= np.mean(np.abs(np.array(probs) - np.array(labels))) + 1e-12
