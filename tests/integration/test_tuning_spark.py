"""Tuning SparkALS on Spark DataFrames: each trial fits on Spark and is scored with
``recutils.spark.evaluation.evaluate``; the best trial's value is reproduced by a direct
fit + evaluate of its parameters."""

from __future__ import annotations

import pytest

pytest.importorskip("pyspark")
pytest.importorskip("optuna")

from recutils.exceptions import ColumnMismatchError, ConfigError  # noqa: E402
from recutils.models.als import SparkALS  # noqa: E402
from recutils.spark import evaluation as SE  # noqa: E402
from recutils.tuning import tune  # noqa: E402
from recutils.tuning.objective import release_spark_tables  # noqa: E402

pytestmark = pytest.mark.spark

N_TRIALS = 2
SPACE = {
    "rank": {"type": "int", "low": 3, "high": 8},
    "reg_param": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    "max_iter": 3,
    "num_blocks": 2,
}


@pytest.fixture(scope="module")
def spark_split(spark, ml100k_protocol):
    train, valid = ml100k_protocol
    s_train, s_valid = spark.createDataFrame(train).cache(), spark.createDataFrame(valid).cache()
    yield s_train, s_valid
    s_train.unpersist()
    s_valid.unpersist()


def _check_result(result, metric: str, direction: str, space: dict) -> None:
    trials = result.trials
    assert len(trials) == N_TRIALS
    assert list(trials["state"]) == ["COMPLETE"] * N_TRIALS
    assert {"params_rank", "params_reg_param"} <= set(trials.columns)
    assert trials["value"].notna().all()
    assert result.direction == direction
    best = trials["value"].max() if direction == "maximize" else trials["value"].min()
    assert result.best_value == pytest.approx(best)
    row = trials.loc[trials["number"] == result.best_trial_number].iloc[0]
    params = result.best_params
    assert params["rank"] == row["params_rank"]
    assert params["reg_param"] == pytest.approx(row["params_reg_param"])
    for name in ("max_iter", "num_blocks") + (
        ("implicit_prefs",) if "implicit_prefs" in space else ()
    ):
        assert params[name] == space[name]
    assert params["seed"] == 42


def test_tune_als_rmse_on_spark(spark, spark_split) -> None:
    s_train, s_valid = spark_split
    result = tune(
        "als", SPACE, s_train, s_valid, metric="rmse", n_trials=N_TRIALS, seed=42, progress=False
    )
    _check_result(result, "rmse", "minimize", SPACE)
    direct = SparkALS(**result.best_params).fit(s_train)
    pred = direct.predict(s_valid.select("userID", "itemID")).dropna(subset=["prediction"])
    value = SE.evaluate(s_valid, pred, ["rmse"])["rmse"]
    assert result.best_value == pytest.approx(value, rel=1e-6)
    assert 0.85 < value < 1.2


def test_tune_als_ndcg_on_spark(spark, spark_split) -> None:
    s_train, s_valid = spark_split
    space = dict(SPACE, implicit_prefs=True)
    result = tune(
        "als", space, s_train, s_valid, metric="ndcg@10", n_trials=N_TRIALS, seed=42, progress=False
    )
    _check_result(result, "ndcg@10", "maximize", space)
    direct = SparkALS(**result.best_params).fit(s_train)
    reco = direct.recommend_k_items(s_valid.select("userID").distinct(), top_k=10, remove_seen=True)
    value = SE.evaluate(s_valid, reco, ["ndcg@10"], k=10)["ndcg@10"]
    assert result.best_value == pytest.approx(value, rel=1e-6)
    assert value > 0.1
    # regression: each trial's model kept its cached per-user tables on the cluster for
    # the rest of the study; the objective now releases them (never the study's data)
    tables = [v for v in vars(direct).values() if getattr(v, "is_cached", False)]
    assert tables
    assert release_spark_tables(direct, keep=(s_train, s_valid)) == len(tables)
    assert not any(t.is_cached for t in tables)
    assert s_train.is_cached and s_valid.is_cached


def test_tune_spark_bad_input(spark_split) -> None:
    s_train, s_valid = spark_split
    with pytest.raises(ColumnMismatchError, match="rating"):
        tune(
            "als", SPACE, s_train.drop("rating"), s_valid, metric="rmse", n_trials=1, progress=False
        )
    with pytest.raises(ConfigError, match="Spark"):
        tune(
            "als",
            SPACE,
            s_train,
            s_valid,
            metric="rmse",
            n_trials=2,
            workers=2,
            storage="sqlite:///:memory:",
            study_name="x",
            progress=False,
        )
    with pytest.raises(Exception, match="both"):
        tune("als", SPACE, s_train, s_valid.toPandas(), metric="rmse", n_trials=1, progress=False)
