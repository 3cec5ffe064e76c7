"""Models and metrics under hostile input.

Unknown keywords raise :class:`UnknownKeywordError` (a ``ConfigError`` and a
``TypeError``) naming the keyword and the accepted ones, for every registered model;
``recommend_k_items`` refuses missing ids and anything but a frame or a 1-D sequence of
ids; ``predict`` refuses list-valued ids; ranking metrics warn when the two frames share
no user. Good input behaves as before.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from recutils.evaluation import (
    evaluate,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics_by_user,
    recall_at_k,
)
from recutils.exceptions import (
    ColumnMismatchError,
    ConfigError,
    DataError,
    DataWarning,
    NotFittedError,
    UnknownKeywordError,
)
from recutils.models.baselines import Popularity
from recutils.models.registry import create_model, get_model_class, list_models
from recutils.models.sar import SAR


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    users = np.repeat(np.arange(1, 7), 4)
    items = (np.arange(users.size) * 7) % 10 + 100
    return pd.DataFrame(
        {
            "userID": users,
            "itemID": items,
            "rating": np.linspace(1.0, 5.0, users.size),
            "timestamp": np.arange(users.size, dtype=float),
        }
    )


@pytest.fixture(scope="module")
def sar(train) -> SAR:
    return SAR().fit(train)


# ---------------------------------------------------------------- unknown keywords
@pytest.mark.parametrize("name", list_models())
def test_every_model_refuses_an_unknown_keyword_with_config_error(name: str) -> None:
    """Bug: create_model("sar", no_such_param=3) raised a bare TypeError, other models a
    ConfigError that was no TypeError; now every model raises UnknownKeywordError."""
    cls = get_model_class(name)
    for module in getattr(cls, "requires", ()):
        pytest.importorskip(module)
    with pytest.raises(UnknownKeywordError, match=r"\['no_such_param'\].*allowed") as info:
        create_model(name, no_such_param=3)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, TypeError)
    # the allowed names list the model's config fields and the column names
    message = str(info.value)
    assert cls.config_class.field_names()[0] in message and "col_user" in message


@pytest.mark.parametrize("name", list_models())
def test_every_accepted_keyword_is_a_real_constructor_argument(name: str) -> None:
    """What create_model lets through is what the constructor takes: config fields,
    column names and the constructor's own arguments."""
    cls = get_model_class(name)
    accepted = cls.accepted_keywords()
    assert {"config", "col_user", "col_item"} <= set(accepted)
    assert set(cls.config_class.field_names()) <= set(accepted)
    assert len(accepted) == len(set(accepted))


def test_direct_construction_refuses_unknown_keyword_too() -> None:
    with pytest.raises(
        UnknownKeywordError, match=r"Popularity got unknown parameter\(s\) \['half_life'\]"
    ):
        Popularity(half_life=3)
    with pytest.raises(TypeError):  # SAR's explicit signature: Python's own TypeError
        SAR(no_such_param=3)


def test_unknown_key_inside_config_stays_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\['simmilarity'\].*allowed.*similarity_type"):
        create_model("sar", config={"simmilarity": "jaccard"})


def test_good_keywords_still_create_models() -> None:
    model = create_model("sar", similarity_type="lift", col_user="u", progress=False, n_jobs=1)
    assert model.config.similarity_type == "lift" and model.col_user == "u"
    pop = create_model("popularity", half_life_days=3.0, col_item="i")
    assert pop.config.half_life_days == 3.0 and pop.col_item == "i"


def test_spark_aliases_are_accepted_keywords() -> None:
    pytest.importorskip("pyspark")
    cls = get_model_class("als")
    assert {"maxIter", "regParam", "max_iter", "spark"} <= set(cls.accepted_keywords())
    with pytest.raises(UnknownKeywordError, match="maxIterations"):
        create_model("als", maxIterations=3)


# ---------------------------------------------------------------- users of recommend_k_items
@pytest.mark.parametrize(
    "users",
    [
        [1, np.nan],
        [1.0, float("nan")],
        pd.Series([1, None]),
        np.array([1.0, np.nan]),
        pd.DataFrame({"userID": [1, None]}),
    ],
    ids=["list", "floats", "series", "array", "frame"],
)
def test_missing_user_ids_are_refused_not_served_the_fallback(sar, users) -> None:
    """Bug: NaN among the users got the popularity ranking of unknown users."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # refused before any fallback warning
        with pytest.raises(DataError, match=r"1 missing id\(s\)"):
            sar.recommend_k_items(users, top_k=2)


@pytest.mark.parametrize(
    "users",
    [
        [[1]],
        [[1], [2]],
        np.array([[1, 2]]),
        np.array(1),
        [np.array([1, 2])],
        pd.DataFrame({"userID": [[1], [2]]}),
    ],
    ids=["nested", "nested2", "2d", "0d", "arrays", "frame-of-lists"],
)
def test_users_must_be_one_dimensional(sar, users) -> None:
    """Bug: [[1]] or a 2-D array as users raised raw pandas errors."""
    with pytest.raises(DataError, match="1-D sequence of ids"):
        sar.recommend_k_items(users, top_k=2)


@pytest.mark.parametrize("users", ["123", 5, {1, 2}, {"userID": [1]}, None])
def test_users_of_another_kind_are_refused(sar, users) -> None:
    with pytest.raises(DataError, match="users must be a DataFrame with column 'userID'"):
        sar.recommend_k_items(users, top_k=2)


def test_users_frame_without_user_column_is_column_mismatch(sar) -> None:
    with pytest.raises(ColumnMismatchError):
        sar.recommend_k_items(pd.DataFrame({"user": [1]}), top_k=2)


@pytest.mark.parametrize(
    "users",
    [
        [1, 2, 1],
        (1, 2),
        np.array([1, 2]),
        pd.Series([1, 2]),
        pd.Index([1, 2]),
        range(1, 3),
        pd.DataFrame({"userID": [1, 2, 2]}),
    ],
    ids=["list", "tuple", "array", "series", "index", "range", "frame"],
)
def test_good_users_are_served_as_before(sar, users) -> None:
    out = sar.recommend_k_items(users, top_k=2)
    assert out["userID"].drop_duplicates().tolist() == [1, 2]
    assert out.groupby("userID").size().tolist() == [2, 2]


def test_unknown_users_still_get_the_fallback_with_a_warning(sar) -> None:
    with pytest.warns(DataWarning, match="fallback"):
        out = sar.recommend_k_items([1, 99], top_k=2)
    assert out["userID"].drop_duplicates().tolist() == [1, 99]


def test_bad_top_k_and_unfitted_model(sar) -> None:
    for k in (0, -1, 2.5, True, "3"):
        with pytest.raises(ConfigError, match="top_k"):
            sar.recommend_k_items([1], top_k=k)
    with pytest.raises(NotFittedError):
        SAR().recommend_k_items([1])
    with pytest.raises(NotFittedError):
        SAR().predict(pd.DataFrame({"userID": [1], "itemID": [100]}))


# ---------------------------------------------------------------- predict
def test_predict_refuses_list_valued_ids(sar) -> None:
    """Bug: a column of lists raised a raw TypeError ("unhashable type: 'list'")."""
    with pytest.raises(DataError, match="userID must hold single ids"):
        sar.predict(pd.DataFrame({"userID": [[1]], "itemID": [100]}))
    with pytest.raises(DataError, match="itemID must hold single ids"):
        sar.predict(pd.DataFrame({"userID": [1], "itemID": [[100, 101]]}))


def test_predict_missing_ids_stay_nan_with_one_warning(sar) -> None:
    pairs = pd.DataFrame({"userID": [1.0, np.nan], "itemID": [100, 100]})
    with pytest.warns(DataWarning, match="not seen in training"):
        out = sar.predict(pairs)
    assert np.isfinite(out["prediction"].iloc[0]) and np.isnan(out["prediction"].iloc[1])


def test_predict_checks_its_frame(sar) -> None:
    with pytest.raises(ColumnMismatchError):
        sar.predict([[1, 100]])
    with pytest.raises(ColumnMismatchError):
        sar.predict(pd.DataFrame({"userID": [1]}))


# ---------------------------------------------------------------- metrics
TRUTH = pd.DataFrame({"userID": [1, 1, 2], "itemID": [10, 11, 12], "rating": [5.0, 4.0, 3.0]})
DISJOINT = pd.DataFrame({"userID": [7, 8], "itemID": [10, 12], "prediction": [1.0, 0.5]})
SHARED = pd.DataFrame({"userID": [1, 2, 9], "itemID": [10, 12, 10], "prediction": [1.0, 0.5, 0.3]})


@pytest.mark.parametrize(
    "metric", [precision_at_k, recall_at_k, map_at_k, ndcg_at_k], ids=lambda f: f.__name__
)
def test_ranking_metric_warns_when_frames_share_no_user(metric) -> None:
    """Bug: prediction users disjoint from the truth gave 0.0 with no warning."""
    with pytest.warns(
        DataWarning, match=r"share no user in 'userID' \(e.g. \[1, 2\] and \[7, 8\]\)"
    ) as record:
        value = metric(TRUTH, DISJOINT, k=2)
    assert value == 0.0
    assert len([w for w in record if issubclass(w.category, DataWarning)]) == 1
    assert record[0].filename == __file__  # points at the caller


def test_evaluate_and_per_user_warn_when_frames_share_no_user() -> None:
    with pytest.warns(DataWarning, match="share no user"):
        assert evaluate(TRUTH, DISJOINT, ["ndcg@2", "precision@2"]) == {
            "ndcg@2": 0.0,
            "precision@2": 0.0,
        }
    with pytest.warns(DataWarning, match="share no user"):
        per_user = ranking_metrics_by_user(TRUTH, DISJOINT, ["precision@2"])
    assert not per_user["has_predictions"].any()


def test_no_warning_when_some_user_is_shared() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        assert precision_at_k(TRUTH, SHARED, k=1) == pytest.approx(1.0)
        evaluate(TRUTH, SHARED, ["ndcg@2", "recall@2"])


def test_empty_frames_warn_once_not_twice() -> None:
    with pytest.warns(DataWarning) as record:
        assert precision_at_k(TRUTH, DISJOINT.iloc[:0], k=2) == 0.0
    messages = [str(w.message) for w in record if issubclass(w.category, DataWarning)]
    assert len(messages) == 1 and "empty" in messages[0]


def test_direct_construction_with_an_unknown_keyword_raises_unknown_keyword_error():
    # SAR's constructor names its options (no **params), so an unknown keyword used to
    # raise Python's own TypeError; the config classes raised a plain ConfigError
    from recutils.exceptions import UnknownKeywordError
    from recutils.models.sar import SAR

    with pytest.raises(UnknownKeywordError, match="no_such_param"):
        SAR(no_such_param=3)
    pytest.importorskip("torch")
    from recutils.models.ctr import DeepFM

    with pytest.raises(UnknownKeywordError, match="bogus"):
        DeepFM(bogus=1)
