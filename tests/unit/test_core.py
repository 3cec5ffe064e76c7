"""Constants, the exception tree, the timer, optional-dependency errors and import hygiene."""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
import pytest

from recutils import constants, exceptions
from recutils.utils import Timer
from recutils.utils.deps import require
from recutils.utils.validation import check_columns


def test_default_columns() -> None:
    assert constants.DEFAULT_USER_COL == "userID"
    assert constants.DEFAULT_ITEM_COL == "itemID"
    assert constants.DEFAULT_RATING_COL == "rating"
    assert constants.DEFAULT_TIMESTAMP_COL == "timestamp"
    assert constants.DEFAULT_PREDICTION_COL == "prediction"
    assert constants.DEFAULT_RANK_COL == "rank"
    assert constants.DEFAULT_K == 10
    assert constants.SEED == 42


@pytest.mark.parametrize(
    "cls, builtin",
    [
        (exceptions.NotFittedError, ValueError),
        (exceptions.NotFittedError, AttributeError),
        (exceptions.ConfigError, ValueError),
        (exceptions.ColumnMismatchError, ValueError),
        (exceptions.DataError, ValueError),
        (exceptions.CorruptDataError, exceptions.DataError),
        (exceptions.DatasetUnavailableError, OSError),
        (exceptions.ModelFitError, RuntimeError),
    ],
)
def test_exception_tree(cls: type, builtin: type) -> None:
    assert issubclass(cls, exceptions.RecUtilsError)
    assert issubclass(cls, builtin)


def test_missing_dependency_names_extra() -> None:
    with pytest.raises(exceptions.MissingDependencyError, match=r'recutils\[spark\]') as info:
        require("surely_not_a_real_module_xyz", "spark")
    assert isinstance(info.value, ImportError)
    assert info.value.extra == "spark"
    assert require("json", "dev").dumps([1]) == "[1]"


def test_timer_measures_and_reports() -> None:
    with Timer() as t:
        time.sleep(0.02)
    assert 0.015 < t.interval < 1.0
    assert float(str(t)) == pytest.approx(t.interval, abs=1e-4)
    t2 = Timer()
    with pytest.raises(RuntimeError):
        _ = t2.interval
    with pytest.raises(RuntimeError):
        t2.stop()
    t2.start()
    assert t2.running
    assert t2.stop() >= 0 and not t2.running


def test_check_columns() -> None:
    df = pd.DataFrame({"userID": [1], "itemID": [2]})
    check_columns(df, ["userID", "itemID", None])
    with pytest.raises(exceptions.ColumnMismatchError, match=r"rating_true.*\['rating'\]"):
        check_columns(df, ["userID", "rating"], name="rating_true")
    with pytest.raises(exceptions.ColumnMismatchError, match="DataFrame"):
        check_columns([1, 2], ["userID"])  # type: ignore[arg-type]


def test_core_imports_stay_light() -> None:
    code = (
        "import sys, recutils, recutils.splitting, recutils.evaluation, recutils.datasets\n"
        "heavy = [m for m in ('pyspark', 'torch', 'tensorflow') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imports pulled in {out.stdout.strip()}"
