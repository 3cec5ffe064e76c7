"""SparkSAR: parity with the pandas SAR on MovieLens 100k and Last.fm, the contract suite,
the Spark path's policies (unknown users, items without a path, remove-seen) and bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from _sar_helpers import assert_same_top_k  # noqa: E402,I001

from recutils.exceptions import (  # noqa: E402
    ColumnMismatchError,
    ConfigError,
    DataError,
    DataWarning,
)
from recutils.models import create_model, list_models  # noqa: E402
from recutils.models.sar import SAR, SparkSAR  # noqa: E402
from recutils.testing import CHECKS, registry_factory  # noqa: E402

pytestmark = pytest.mark.spark

#: Users whose top-10 the ml-100k parity tests compare (seeded draw; the fit uses every row).
N_USERS = 40
PARITY_TYPES = ["jaccard", "lift", "cosine", "cooccurrence"]


def test_assert_same_top_k_accepts_only_ties_at_the_cut() -> None:
    """The tie rule itself: a swap among items tied at the cut passes, any other fails."""
    expected = pd.DataFrame(
        {
            "userID": [1, 1, 1],
            "itemID": [10, 11, 12],
            "prediction": [3.0, 2.0, 2.0],
            "rank": [1, 2, 3],
        }
    )
    assert_same_top_k(expected, expected.assign(itemID=[10, 12, 13]))  # 12, 13 tied at the cut
    with pytest.raises(AssertionError):
        assert_same_top_k(expected, expected.assign(itemID=[14, 11, 12]))  # above the cut
    with pytest.raises(AssertionError):
        assert_same_top_k(expected, expected.assign(prediction=[3.0, 2.0, 1.9]))


@pytest.fixture(scope="module")
def ml100k_spark(spark, ml100k):
    frame = spark.createDataFrame(ml100k).cache()
    rng = np.random.default_rng(42)
    users = np.sort(rng.choice(ml100k["userID"].unique(), N_USERS, replace=False))
    yield ml100k, frame, users
    frame.unpersist()


@pytest.fixture(scope="module", params=PARITY_TYPES)
def ml100k_fit(request, spark, ml100k_spark):
    """One pandas and one Spark fit per similarity type, shared by the parity checks.

    Time decay on (30 days, Microsoft's benchmark setting); the Spark top-10 (remove-seen)
    of the seeded users is computed once here, by blocks (the default method) and, for
    two of the types, fitted and ranked by the join path too."""
    df, frame, users = ml100k_spark
    params = dict(
        similarity_type=request.param,
        timedecay_formula=True,
        time_decay_coefficient=30,
        score_dtype="float64",
    )
    ref = SAR(**params).fit(df)
    model = SparkSAR(**params).fit(frame)
    request_users = spark.createDataFrame(pd.DataFrame({"userID": users}))
    got = {"blocks": model.recommend_k_items(request_users, top_k=10).toPandas()}
    if request.param in ("jaccard", "lift"):
        joined = SparkSAR(method="join", **params).fit(frame)
        got["join"] = joined.recommend_k_items(request_users, top_k=10).toPandas()
        joined._clear_fitted()
    yield ref, model, users, got
    model._clear_fitted()


# --------------------------------------------------------------------------- parity
def test_parity_with_pandas_sar_on_movielens_100k(ml100k_fit) -> None:
    ref, _, users, got = ml100k_fit
    expected = ref.recommend_k_items(users, top_k=10)
    for method, frame in got.items():
        assert frame["userID"].nunique() == N_USERS, method
        assert_same_top_k(expected, frame)


def test_fitted_state_on_movielens_100k_equals_pandas_sar(ml100k_fit) -> None:
    """The fitted tables brought back to the driver equal the pandas SAR's state."""
    ref, model, _, _ = ml100k_fit
    assert model.time_now_ == ref.time_now_
    np.testing.assert_allclose(
        model.item_similarity_.toarray(), ref.item_similarity_.toarray(), rtol=1e-12
    )
    np.testing.assert_allclose(
        model.user_affinity_.toarray(), ref.user_affinity_.toarray(), rtol=1e-12
    )


def test_parity_with_pandas_sar_on_lastfm(spark, data_mirror, require_dataset) -> None:
    """Play counts (no timestamps: no decay), threshold 2, all items reachable or not."""
    require_dataset("hetrec2011-lastfm-2k")
    from recutils.datasets import lastfm

    df = lastfm.load_pandas_df(progress=False)
    users = df["userID"].drop_duplicates().sort_values().to_numpy()[::40]
    params = dict(similarity_type="jaccard", threshold=2, score_dtype="float64")
    expected = SAR(**params).fit(df).recommend_k_items(users, top_k=10)
    model = SparkSAR(**params).fit(spark.createDataFrame(df))
    got = model.recommend_k_items(
        spark.createDataFrame(pd.DataFrame({"userID": users})), top_k=10
    ).toPandas()
    assert_same_top_k(expected, got)


def test_pandas_front_door_equals_sar(ml100k) -> None:
    """fit(pandas) runs the Spark operations and serves the pandas SAR's methods."""
    df = ml100k.iloc[:20_000]
    params = dict(similarity_type="lift", normalize=True, score_dtype="float64")
    ref = SAR(**params).fit(df)
    model = SparkSAR(**params).fit(df)
    users = df["userID"].unique()[:30]
    pd.testing.assert_frame_equal(
        model.recommend_k_items(users, top_k=10), ref.recommend_k_items(users, top_k=10), rtol=1e-9
    )
    np.testing.assert_allclose(model.score(df.iloc[:100]), ref.score(df.iloc[:100]), rtol=1e-9)


# --------------------------------------------------------------------------- Spark-side policies
@pytest.fixture(scope="module")
def toy():
    # items 5 and 6 share no user with user 1's items: they have no path to user 1
    return pd.DataFrame(
        {
            "userID": [1, 1, 2, 2, 3, 3, 4, 4],
            "itemID": [1, 2, 2, 3, 1, 3, 5, 6],
            "rating": [5.0, 3.0, 4.0, 2.0, 1.0, 5.0, 3.0, -1.0],  # a negative rating: SAR takes it
        }
    )


@pytest.mark.parametrize("method", ["blocks", "join"])
def test_zero_score_items_unknown_users_and_predict_match_pandas(spark, toy, method) -> None:
    ref = SAR(similarity_type="cooccurrence", score_dtype="float64").fit(toy)
    model = SparkSAR(similarity_type="cooccurrence", method=method).fit(spark.createDataFrame(toy))
    users = [1, 2, 3, 4, 99]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        expected = ref.recommend_k_items(users, top_k=4)
    got = model.recommend_k_items(
        spark.createDataFrame(pd.DataFrame({"userID": users})), top_k=4
    ).toPandas()
    # user 1 gets item 3 (reachable), then 5 and 6 at 0 (no path), lowest ids first;
    # user 99 (not seen in training) the popularity ranking
    assert_same_top_k(expected, got)
    assert got.loc[got["userID"] == 1, "itemID"].tolist() == [3, 5, 6]
    pairs = pd.DataFrame({"userID": [1, 1, 99, 1], "itemID": [3, 5, 1, 77]})
    pred = model.predict(spark.createDataFrame(pairs)).toPandas()
    pred = pairs.merge(pred, on=["userID", "itemID"], how="left")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ref_pred = ref.predict(pairs)
    np.testing.assert_allclose(pred["prediction"].to_numpy(), ref_pred["prediction"].to_numpy())


@pytest.mark.parametrize("method", ["blocks", "join"])
def test_remove_seen_false_and_custom_columns(spark, toy, method) -> None:
    renamed = toy.rename(columns={"userID": "u", "itemID": "i", "rating": "r"})
    kw = dict(col_user="u", col_item="i", col_rating="r", col_prediction="p")
    ref = SAR(similarity_type="jaccard", score_dtype="float64", **kw).fit(renamed)
    model = SparkSAR(similarity_type="jaccard", method=method, **kw).fit(
        spark.createDataFrame(renamed)
    )
    got = model.recommend_k_items(
        spark.createDataFrame(renamed[["u"]]), top_k=3, remove_seen=False
    ).toPandas()
    expected = ref.recommend_k_items(renamed["u"].unique(), top_k=3, remove_seen=False)
    assert list(got.columns) == ["u", "i", "p", "rank"]
    got = got.sort_values(["u", "rank"]).reset_index(drop=True)
    assert got["i"].tolist() == expected["i"].tolist()
    np.testing.assert_allclose(got["p"].to_numpy(), expected["p"].to_numpy())


@pytest.mark.parametrize("normalize", [False, True])
def test_blocks_with_string_ids_and_empty_blocks_match_pandas(spark, toy, normalize) -> None:
    """String ids (ties broken by the id's order, as Spark orders strings) and more blocks
    than users, so that some blocks have no user."""
    named = toy.assign(
        userID="user" + toy["userID"].astype(str), itemID="item" + toy["itemID"].astype(str)
    )
    params = dict(similarity_type="jaccard", normalize=normalize)
    ref = SAR(score_dtype="float64", **params).fit(named)
    model = SparkSAR(n_blocks=7, **params).fit(spark.createDataFrame(named))
    users = named["userID"].unique().tolist()
    got = model.recommend_k_items(
        spark.createDataFrame(pd.DataFrame({"userID": users})), top_k=4
    ).toPandas()
    assert_same_top_k(ref.recommend_k_items(users, top_k=4), got)
    assert got["itemID"].map(type).eq(str).all() and got["rank"].min() == 1


def test_method_options_are_checked() -> None:
    with pytest.raises(
        ConfigError, match=r"method='fast' is not supported; allowed: \['blocks', 'join'\]"
    ):
        SparkSAR(method="fast")
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match="n_blocks must be an integer >= 1"):
            SparkSAR(n_blocks=bad)


def test_spark_fit_then_pandas_methods_and_save_load(spark, toy, tmp_path) -> None:
    model = SparkSAR(similarity_type="jaccard").fit(spark.createDataFrame(toy))
    ref = SAR(similarity_type="jaccard").fit(toy)
    pd.testing.assert_frame_equal(
        model.recommend_k_items([1, 2, 3], top_k=2), ref.recommend_k_items([1, 2, 3], top_k=2)
    )
    loaded = SparkSAR.load(model.save(tmp_path / "m"))
    got = loaded.recommend_k_items(
        spark.createDataFrame(pd.DataFrame({"userID": [1, 2]})), top_k=2
    ).toPandas()
    assert (
        got.sort_values(["userID", "rank"])["itemID"].tolist()
        == ref.recommend_k_items([1, 2], top_k=2)["itemID"].tolist()
    )


# --------------------------------------------------------------------------- bad input
def test_bad_input_is_refused_as_sar_refuses_it(spark, toy) -> None:
    with pytest.raises(ColumnMismatchError, match="rating"):
        SparkSAR().fit(spark.createDataFrame(toy.drop(columns="rating")))
    with pytest.raises(ColumnMismatchError, match="timestamp"):
        SparkSAR(timedecay_formula=True).fit(spark.createDataFrame(toy))
    nan = toy.assign(rating=[np.nan] + toy["rating"].tolist()[1:])
    for bad in (nan,):
        with pytest.raises(DataError):
            SAR().fit(bad)
        with pytest.raises(DataError, match="NaN|missing"):
            SparkSAR().fit(spark.createDataFrame(bad))
    with pytest.raises(DataError, match="numeric"):
        SparkSAR().fit(spark.createDataFrame(toy.assign(rating="high")))
    with pytest.raises(DataError, match="empty"):
        SparkSAR().fit(spark.createDataFrame(toy).limit(0))
    model = SparkSAR().fit(spark.createDataFrame(toy))
    with pytest.raises(ColumnMismatchError):
        model.recommend_k_items(spark.createDataFrame(toy[["itemID"]]))


# --------------------------------------------------------------------------- registry, contract
def test_registered() -> None:
    assert "spark_sar" in list_models()
    assert isinstance(create_model("spark_sar", similarity_type="lift"), SparkSAR)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_contract(spark, check, tmp_path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        check(registry_factory("spark_sar"), tmp_path=tmp_path)
