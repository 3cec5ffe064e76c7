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
        (exceptions.StateError, RuntimeError),
    ],
)
def test_exception_tree(cls: type, builtin: type) -> None:
    assert issubclass(cls, exceptions.RecUtilsError)
    assert issubclass(cls, builtin)


def test_missing_dependency_names_extra() -> None:
    with pytest.raises(exceptions.MissingDependencyError, match=r"recutils\[spark\]") as info:
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


def test_timer_misuse_raises_a_recutils_error() -> None:
    """Bug: Timer raised a plain RuntimeError, outside the recutils exception tree."""
    t = Timer()
    with pytest.raises(exceptions.StateError, match="start"):
        _ = t.interval
    with pytest.raises(exceptions.RecUtilsError):
        t.stop()
    assert repr(t) == "Timer(not started)"
    with t:
        pass
    with pytest.raises(exceptions.StateError):
        t.stop()  # already stopped by the with block


@pytest.mark.parametrize("bad", [2.5, 1.5, float("nan"), float("inf"), True, "2", 0])
def test_splitters_reject_non_integer_min_rating(bad) -> None:
    """Bug: _check_min_rating accepted 2.5 although min_rating is documented as an integer."""
    from recutils.splitting import min_rating_filter_pandas, python_stratified_split

    df = pd.DataFrame({"userID": [1, 1, 2], "itemID": [1, 2, 1]})
    with pytest.raises(exceptions.ConfigError, match="min_rating must be an integer"):
        min_rating_filter_pandas(df, min_rating=bad)
    with pytest.raises(exceptions.ConfigError, match="min_rating"):
        python_stratified_split(df, ratio=0.5, min_rating=bad)
    assert len(min_rating_filter_pandas(df, min_rating=2.0)) == 2  # an integral float is fine


def test_shared_array_helpers_live_in_one_place() -> None:
    """Duplicated grouping/lookup helpers now come from recutils.utils.arrays, and stay
    importable from where other modules import them."""
    import numpy as np

    from recutils.datasets import movielens, sparse, synthetic
    from recutils.evaluation import _core, beyond, ranking
    from recutils.splitting import split_utils
    from recutils.utils import arrays

    for name in ("encode_ids", "stable_argsort", "positions_in_group", "group_starts"):
        assert getattr(_core, name) is getattr(arrays, name)
    assert (
        ranking.encode_ids is arrays.encode_ids
        and beyond.positions_in_group is arrays.positions_in_group
    )
    assert sparse.in_sorted is arrays.in_sorted and synthetic.join_flags is movielens.join_flags
    for name in (
        "_group_codes",
        "_positions_within_group",
        "_order_random_within_group",
        "_order_by_time_within_group",
        "_check_min_rating",
    ):
        assert callable(getattr(split_utils, name))
    # known answers
    codes = np.array([2, 0, 2, 1, 0])
    order = arrays.group_order(codes, 3, np.array([5, 1, 0, 0, 1]), 6)
    assert order.tolist() == [1, 4, 3, 2, 0]  # by code, then within, then row
    assert arrays.group_order(codes, 3).tolist() == [1, 4, 3, 0, 2]
    floats = arrays.group_order(codes, 3, np.array([0.5, 0.1, -1.0, 0.0, 0.1]))
    assert floats.tolist() == [1, 4, 3, 2, 0]
    assert arrays.positions_in_group(codes[order], 3).tolist() == [0, 1, 0, 0, 1]
    pos, found = arrays.search_sorted(np.array([1, 4, 9]), np.array([0, 4, 9, 10]))
    assert found.tolist() == [False, True, True, False] and pos[found].tolist() == [1, 2]
    assert arrays.in_sorted(np.array([], dtype=np.int64), np.array([1, 2])).tolist() == [
        False,
        False,
    ]
    flags = np.array([[True, False, True], [False, False, False]])
    assert arrays.join_flags(flags, np.array(["a", "b", "c"], dtype=object)).tolist() == ["a|c", ""]
    with pytest.raises(exceptions.DataError, match="2 missing"):
        arrays.factorize(pd.Series([1, None, None]), missing=lambda n: f"{n} missing")
