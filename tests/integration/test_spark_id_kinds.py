"""Integer ids against float ids in the Spark evaluation: the rule of the pandas evaluation.

Matched by value (3 == 3.0) when that is exact; a float id that is not a whole number, or
an id beyond 2**53, raises ``ColumnMismatchError`` naming the cast (as ``check_same_kind``
does for pandas frames). Before, Spark joined such ids silently, whatever their values.
"""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("pyspark")

from recutils import evaluation as PE  # noqa: E402
from recutils.exceptions import ColumnMismatchError  # noqa: E402
from recutils.spark import evaluation as SE  # noqa: E402

pytestmark = pytest.mark.spark

TRUTH = pd.DataFrame(
    {"userID": [1, 1, 2, 2, 3], "itemID": [10, 20, 10, 30, 20], "rating": [5.0, 3.0, 4.0, 2.0, 1.0]}
)
PRED = pd.DataFrame(
    {
        "userID": [1, 1, 2, 2, 3, 3],
        "itemID": [10, 30, 30, 20, 20, 10],
        "prediction": [4.5, 4.0, 2.5, 2.0, 1.5, 1.0],
    }
)


@pytest.fixture(scope="module")
def truth(spark):
    return spark.createDataFrame(TRUTH)  # userID, itemID: bigint


@pytest.fixture(scope="module")
def pred(spark):
    return spark.createDataFrame(PRED)


def _as_double(df, *cols):
    for col in cols:
        df = df.withColumn(col, df[col].cast("double"))
    return df


def test_int_and_float_ids_match_by_value_when_exact(truth, pred) -> None:
    as_float = _as_double(pred, "userID", "itemID")
    assert dict(as_float.dtypes)["userID"] == "double"
    # hand-checked: rmse over (1,10), (2,30), (3,20): errors 0.5, 0.5, 0.5
    assert SE.rmse(truth, as_float) == pytest.approx(0.5)
    assert SE.rmse(truth, as_float) == pytest.approx(PE.rmse(TRUTH, PRED))
    # precision@2: user 1 hits 10 (1/2), user 2 hits 30 (1/2), user 3 hits 20 (1/2)
    assert SE.precision_at_k(truth, as_float, k=2) == pytest.approx(0.5)
    assert SE.ndcg_at_k(truth, as_float, k=2) == pytest.approx(SE.ndcg_at_k(truth, pred, k=2))
    # the other way round, and 32-bit types: IntegerType truth, FloatType predictions
    assert SE.map_at_k(_as_double(truth, "itemID"), pred, k=2) == pytest.approx(
        SE.map_at_k(truth, pred, k=2)
    )
    small = truth.selectExpr("CAST(userID AS int) userID", "CAST(itemID AS int) itemID", "rating")
    floats = pred.selectExpr(
        "CAST(userID AS float) userID", "CAST(itemID AS float) itemID", "prediction"
    )
    assert SE.rmse(small, floats) == pytest.approx(0.5)


@pytest.mark.parametrize("metric", ["rmse", "precision_at_k"])
def test_float_ids_that_are_not_whole_numbers_are_refused(truth, pred, metric) -> None:
    bad = pred.withColumn("itemID", pred["itemID"] + 0.5)
    with pytest.raises(ColumnMismatchError, match=r"itemID.*not exact.*astype\('bigint'\)"):
        getattr(SE, metric)(truth, bad)


def test_int_ids_beyond_float_precision_are_refused_against_float_ids(spark) -> None:
    big = 2**53 + 1  # as a double it is 2**53: two user ids would become one
    truth = spark.createDataFrame(
        pd.DataFrame({"userID": [big, big - 1], "itemID": [1, 1], "rating": [1.0, 2.0]})
    )
    pred = spark.createDataFrame(
        pd.DataFrame({"userID": [float(big - 1)], "itemID": [1], "prediction": [1.0]})
    )
    with pytest.raises(ColumnMismatchError, match=r"2\*\*53"):
        SE.rmse(truth, pred)
    with pytest.raises(ColumnMismatchError, match=r"2\*\*53"):
        PE.rmse(truth.toPandas(), pred.toPandas())  # the pandas twin says the same
    # the same ids as integers on both sides are fine
    assert SE.rmse(
        truth, pred.withColumn("userID", pred["userID"].cast("bigint") + 1)
    ) == pytest.approx(0.0)


def test_beyond_metrics_apply_the_same_id_rule(spark, truth) -> None:
    train = truth.select("userID", "itemID")
    reco = spark.createDataFrame(pd.DataFrame({"userID": [1, 2, 3], "itemID": [30, 20, 10]}))
    assert SE.novelty(train, _as_double(reco, "itemID")) == pytest.approx(SE.novelty(train, reco))
    with pytest.raises(ColumnMismatchError, match="astype"):
        SE.novelty(train, reco.withColumn("itemID", reco["itemID"] + 0.25))
    feats = spark.createDataFrame(
        pd.DataFrame(
            {"itemID": [10.5, 20.0, 30.0], "features": [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]}
        )
    )
    with pytest.raises(ColumnMismatchError, match="item_feature_df"):
        SE.diversity(train, reco, item_feature_df=feats, item_sim_measure="item_feature_vector")


def test_string_ids_never_match_numeric_ids(truth, pred) -> None:
    with pytest.raises(ColumnMismatchError, match="same kind"):
        SE.rmse(truth, pred.withColumn("userID", pred["userID"].cast("string")))
