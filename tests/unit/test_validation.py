"""The shared input checks of recutils.utils.validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recutils.exceptions import ConfigError
from recutils.utils import validation as v


@pytest.mark.parametrize("value", [1, 5, np.int64(3)])
def test_positive_int_accepts_ints(value):
    assert v.check_positive_int("n", value) == int(value)


@pytest.mark.parametrize("value", [0, -1, 1.0, "2", True, None, np.bool_(True)])
def test_positive_int_rejects(value):
    with pytest.raises(ConfigError, match=r"n must be an integer >= 1"):
        v.check_positive_int("n", value)


def test_positive_int_minimum_and_owner():
    assert v.check_positive_int("epochs", 0, 0) == 0
    with pytest.raises(ConfigError, match=r"^MLP: epochs must be an integer >= 2, got 1\."):
        v.check_positive_int("epochs", 1, 2, owner="MLP")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "1", None])
def test_number_rejects_non_finite_and_non_numbers(value):
    with pytest.raises(ConfigError, match="finite number"):
        v.check_number("lr", value)


def test_number_bounds():
    assert v.check_number("lr", 0.0) == 0.0
    with pytest.raises(ConfigError, match=r"lr must be a finite number > 0"):
        v.check_number("lr", 0.0, strict=True)
    assert v.check_number("x", -3, minimum=-math.inf) == -3.0
    with pytest.raises(ConfigError, match=r"<= 10"):
        v.check_number("x", 11, maximum=10)


def test_probability():
    assert v.check_probability("p", 1) == 1.0
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        v.check_probability("p", 1.0, open_right=True)
    for bad in (-0.1, 1.1, math.nan, True):
        with pytest.raises(ConfigError, match="p must be a number in"):
            v.check_probability("p", bad)


def test_bool_seed_choice_type_path():
    assert v.check_bool("flag", np.bool_(False)) is False
    with pytest.raises(ConfigError, match="flag must be True or False"):
        v.check_bool("flag", 1)
    assert v.check_seed(None) is None and v.check_seed(np.int32(4)) == 4
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ConfigError, match="seed must be None or an integer >= 0"):
            v.check_seed(bad)
    assert v.check_choice("loss", "warp", ["bpr", "warp"]) == "warp"
    with pytest.raises(ConfigError, match=r"allowed: \['bpr', 'warp'\]"):
        v.check_choice("loss", "hinge", ["warp", "bpr"])
    assert v.check_type("axis", -1, int, "an integer") == -1
    with pytest.raises(ConfigError, match="axis must be an integer, got True"):
        v.check_type("axis", True, int, "an integer")
    assert v.check_type("flag", True, (bool,), "a flag") is True
    assert v.check_optional_path("model_dir", None) is None
    with pytest.raises(ConfigError, match="model_dir must be None or a folder path"):
        v.check_optional_path("model_dir", "")


def test_positive_ints():
    assert v.check_positive_ints("units", 3) == [3]
    assert v.check_positive_ints("units", (4, np.int64(2))) == [4, 2]
    assert v.check_positive_ints("units", [], allow_empty=True) == []
    for bad in ([], [0], [1, -2], [True], "12", 3.0):
        with pytest.raises(ConfigError, match="units must be a"):
            v.check_positive_ints("units", bad)
    with pytest.raises(ConfigError):
        v.check_positive_ints("units", 3, allow_scalar=False)


def test_factor_wrappers_reexport_the_shared_checks():
    from recutils.models import factors

    assert factors.check_positive_int is v.check_positive_int
    assert factors.check_seed is v.check_seed


def test_one_spark_frame_test_serves_every_layer():
    import pandas as pd

    from recutils.tuning import objective
    from recutils.utils.deps import is_spark_frame

    assert objective.is_spark_frame is is_spark_frame
    assert not is_spark_frame(pd.DataFrame({"a": [1]}))
    assert not is_spark_frame([1, 2]) and not is_spark_frame(None)
    fake = type("DataFrame", (), {"__module__": "pyspark.sql.connect.dataframe"})()
    assert is_spark_frame(fake)
