"""DeLong's paired AUC test and the census multi-task benchmark (presets, early stopping on
the valid split, paired tests, bars, resume) on synthetic census-like rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.benchmark import multitask as bm
from recutils.benchmark.stats import delong_test
from recutils.datasets.census import (
    CENSUS_CATEGORICAL,
    CENSUS_NUMERIC,
    INCOME_COL,
    NEVER_MARRIED_COL,
)
from recutils.exceptions import ConfigError, DataError

# --------------------------------------------------------------------------- DeLong


def test_delong_known_answer_by_hand():
    # positives 0.9, 0.4 and negatives 0.6, 0.1 under a: pairs won 1, 1, 0, 1 -> AUC 3/4;
    # b ranks both positives first -> AUC 1. Components of a: V10 = [1, 1/2], V01 = [1/2, 1]
    # (each with sample variance 1/8), b's are constant: Var(diff) = 1/8 / 2 + 1/8 / 2 = 1/8.
    out = delong_test([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1], [0.8, 0.7, 0.3, 0.2])
    assert out["auc_a"] == 0.75 and out["auc_b"] == 1.0 and out["diff"] == -0.25
    assert out["z"] == pytest.approx(-0.25 / np.sqrt(1 / 8), abs=1e-12)
    assert out["pvalue"] == pytest.approx(0.4795001221869535, abs=1e-12)  # 2 * Phi(-1/sqrt(2))


def test_delong_ties_count_half():
    # one tie between a positive and a negative counts 1/2: AUC = (1 + 1 + 0.5 + 1) / 4
    out = delong_test([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1], [0.9, 0.4, 0.6, 0.1])
    assert out["auc_a"] == 0.875 and out["auc_b"] == 0.75


def test_delong_aucs_equal_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    a = y + rng.normal(0, 1.0, 500)
    b = np.round(y + rng.normal(0, 1.5, 500), 1)  # with ties
    out = delong_test(y, a, b)
    assert out["auc_a"] == pytest.approx(sk.roc_auc_score(y, a), abs=1e-12)
    assert out["auc_b"] == pytest.approx(sk.roc_auc_score(y, b), abs=1e-12)
    assert out["diff"] == pytest.approx(out["auc_a"] - out["auc_b"], abs=1e-15)


def test_delong_identical_scores_give_zero_diff_and_pvalue_one():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = rng.random(200)
    out = delong_test(y, s, s.copy())
    assert out["diff"] == 0.0 and out["z"] == 0.0 and out["pvalue"] == 1.0  # no NaN from 0/0


def test_delong_agrees_with_paired_bootstrap():
    rng = np.random.default_rng(7)
    n = 1500
    y = rng.integers(0, 2, n)
    common = rng.normal(0, 1, n)
    a = 1.0 * y + common + rng.normal(0, 0.6, n)
    b = 0.8 * y + common + rng.normal(0, 0.6, n)
    out = delong_test(y, a, b)
    se = abs(out["diff"] / out["z"])
    diffs = []
    for _ in range(400):  # paired bootstrap: resample rows, both scorers together
        idx = rng.integers(0, n, n)
        if y[idx].min() == y[idx].max():
            continue
        r = delong_test(y[idx], a[idx], b[idx])
        diffs.append(r["diff"])
    assert np.std(diffs, ddof=1) == pytest.approx(se, rel=0.15)
    assert np.mean(diffs) == pytest.approx(out["diff"], abs=0.5 * se)


@pytest.mark.parametrize(
    "labels,a,b,match",
    [
        ([1, 1, 0], [0.1, 0.2, 0.3], [0.1, 0.2], "one length"),
        ([1, 2, 0, 0], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], "0/1"),
        ([1, 1, 0, 0], [0.1, np.nan, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], "finite"),
        ([1, 0, 0, 0], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], "two positive"),
    ],
)
def test_delong_rejects_bad_input(labels, a, b, match):
    with pytest.raises(DataError, match=match):
        delong_test(labels, a, b)


# --------------------------------------------------------------------------- presets


def test_census_models_names_and_towers():
    models = dict(bm.census_models())
    assert list(models) == [
        "single_task_income",
        "single_task_marital",
        "simple_multitask",
        "mmoe",
        "ple",
        "dbmtl",
    ]
    towers = {
        n: [
            (t["tower_name"], t["label_name"])
            for t in c["model_config"]["model_params"]["task_towers"]
        ]
        for n, c in models.items()
    }
    assert towers["single_task_income"] == [("income", INCOME_COL)]
    assert towers["single_task_marital"] == [("marital", NEVER_MARRIED_COL)]
    for name in ("simple_multitask", "mmoe", "ple", "dbmtl"):
        assert towers[name] == [("income", INCOME_COL), ("marital", NEVER_MARRIED_COL)]
    with pytest.raises(ConfigError, match="unknown census model"):
        bm.census_models(["nope"])
    with pytest.raises(ConfigError, match="unknown census task"):
        bm.single_task_config("age")


def test_census_presets_read_every_census_feature_and_no_ids():
    pytest.importorskip("torch")
    from recutils.models.multitask import MultiTaskConfig

    expected = set(CENSUS_CATEGORICAL) | set(CENSUS_NUMERIC)
    for name, config in bm.census_models():
        cfg = MultiTaskConfig.from_dict(config)
        assert set(cfg.model_config.feature_names) == expected, name
        assert {f.name for f in cfg.features} == expected, name
        assert all(f.column not in ("@user", "@item") for f in cfg.features), name
        kinds = {f.name: f.type for f in cfg.features}
        assert all(kinds[c] == "categorical" for c in CENSUS_CATEGORICAL)
        assert all(kinds[c] == "numeric" for c in CENSUS_NUMERIC)
        assert cfg.train.patience == 3 and cfg.train.early_stopping_metric == "auc", name


def test_census_rows_give_each_row_a_user_and_one_item():
    frame = pd.DataFrame({"x": [1, 2, 3]}, index=[10, 4, 7])
    out = bm.census_rows(frame)
    assert out["userID"].tolist() == [10, 4, 7] and out["itemID"].tolist() == [0, 0, 0]
    assert list(frame.columns) == ["x"]  # input not modified
    with pytest.raises(DataError, match="unique index"):
        bm.census_rows(pd.DataFrame({"x": [1, 2]}, index=[0, 0]))


# --------------------------------------------------------------------------- fits on synthetic rows


def _synthetic_census(n: int = 900, seed: int = 0) -> pd.DataFrame:
    """Census-like rows: every feature column, labels driven by a few of them."""
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {c: rng.integers(0, 4, n).astype(str) for c in CENSUS_CATEGORICAL}
    data.update({c: rng.integers(0, 60, n) for c in CENSUS_NUMERIC})
    frame = pd.DataFrame(data)
    for c in CENSUS_CATEGORICAL:
        frame[c] = frame[c].astype("category")
    signal = (frame["education"].cat.codes.to_numpy() >= 2).astype(float) + frame[
        "age"
    ].to_numpy() / 60
    frame[INCOME_COL] = (signal + rng.normal(0, 0.3, n) > 1.2).astype(np.int8)
    frame[NEVER_MARRIED_COL] = (frame["age"].to_numpy() + rng.normal(0, 8, n) < 25).astype(np.int8)
    return frame


@pytest.fixture(scope="module")
def splits():
    return bm.census_splits(_synthetic_census(), seed=3)


def test_fit_stops_on_the_valid_split_and_keeps_the_best_epoch(splits):
    pytest.importorskip("torch")
    from recutils.evaluation import score_arrays

    train, valid, test = splits
    fit = bm.fit_census_model(
        dict(bm.census_models(["mmoe"]))["mmoe"], train, valid, seed=1, epochs=4
    )
    assert fit.tasks == {"income": "income", "marital": "marital"}
    assert list(fit.history["epoch"]) == list(range(1, len(fit.history) + 1))
    best = fit.history.loc[fit.history["valid"].idxmax()]
    assert fit.epochs == int(best["epoch"])
    # the kept weights are the best epoch's: rescoring the valid split gives its AUCs
    pred = fit.predict(valid)
    for task, label in bm.CENSUS_TASKS.items():
        assert score_arrays("auc", valid[label].to_numpy(), pred[task].to_numpy()) == pytest.approx(
            best[f"valid_{task}_auc"], abs=1e-6
        )
    assert fit.model.config.train.validation_fraction == 0.0  # the model's own hold-out is off
    scored = fit.predict(test)
    assert (
        scored.index.equals(test.index) and scored.notna().all().all()
    )  # unknown users are scored
    gates = fit.gate_weights(test)
    assert gates.shape == (2, len(test), 8)
    np.testing.assert_allclose(gates.sum(axis=2), 1.0, atol=1e-6)
    with pytest.raises(ConfigError, match="not an MMoE block"):
        fit.gate_weights(test, block="all")


def test_valid_split_stopping_stops_after_patience():
    class Net:
        stopping_higher_is_better = True

        def __init__(self):
            self.values = iter([0.5, 0.6, 0.55, 0.58, 0.59, 0.7])

        def evaluate_tasks(self, labels, preds):
            return next(self.values), {"t_auc": 0.0}

        def state_dict(self):
            return {}

        def train(self):
            return self

    class Trainer:
        model = Net()

        def predict(self, data):
            return np.zeros((2, 1))

    cb = bm.ValidSplitStopping(valid=None, labels=np.zeros((2, 1)), patience=2)
    trainer = Trainer()
    stops = [cb.on_evaluate({"epoch": e}, trainer) for e in range(1, 6)]
    assert stops == [False, False, False, False, True]  # 3 evaluations without beating 0.6
    assert cb.best_epoch == 2 and cb.stopper.best == 0.6


def test_run_resumes_and_reports_tests_and_bars(splits, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    models = bm.census_models(
        ["single_task_income", "single_task_marital", "simple_multitask", "mmoe"]
    )
    out = tmp_path / "results.csv"
    first = bm.run_multitask_benchmark(
        models, seeds=[1, 2], splits=splits, results_path=out, epochs=2, keep_models=True
    )
    res = first.results
    assert set(first.fits) == {(m, s) for m, _ in models for s in (1, 2)}
    assert list(res.columns) == list(bm.RESULT_COLUMNS)
    assert len(res) == 2 * (1 + 1 + 2 + 2)
    assert set(res["task"]) == {"income", "marital"}
    assert res["auc"].between(0, 1).all() and (res["epochs"] >= 1).all()
    assert out.exists() and bm.default_scores_path(out).exists()
    assert set(first.scores.columns) == {
        f"{m}/{t}/{s}" for m, t, s in res[["model", "task", "seed"]].itertuples(index=False)
    }
    # paired tests: simple_multitask and mmoe against the single-task model of each task
    pairs = set(first.tests[["task", "model", "reference"]].itertuples(index=False, name=None))
    for task in bm.CENSUS_TASKS:
        for model in ("simple_multitask", "mmoe"):
            assert (task, model, f"single_task_{task}") in pairs
    assert first.tests["pvalue_holm"].ge(first.tests["pvalue"]).all()
    assert first.tests["n_seeds"].eq(2).all()
    # the seed-averaged scores give the tests' AUCs
    avg = first.scores[["mmoe/income/1", "mmoe/income/2"]].mean(axis=1).to_numpy()
    row = first.tests[(first.tests["model"] == "mmoe") & (first.tests["task"] == "income")].iloc[0]
    assert row["auc_model"] == pytest.approx(delong_test(first.labels["income"], avg, avg)["auc_a"])
    # bars: (a) for mmoe on both tasks (ple was not run), (b) on the harder task
    assert set(first.bars["bar"]) == {"a", "b"} and first.bars["met"].map(type).eq(bool).all()
    assert len(first.bars[first.bars["bar"] == "a"]) == 2
    summary = first.summary()
    assert summary["n_seeds"].eq(2).all() and "auc_mean" in summary and "auc_sd" in summary

    def refit(*args, **kwargs):
        raise AssertionError("a finished run was fitted again")

    monkeypatch.setattr(bm, "fit_census_model", refit)
    again = bm.run_multitask_benchmark(
        models, seeds=[1, 2], splits=splits, results_path=out, epochs=2
    )
    pd.testing.assert_frame_equal(again.results, first.results)
    pd.testing.assert_frame_equal(again.tests, first.tests)
    assert again.fits == {}


def test_bars_rules_on_hand_made_results():
    rows = []
    for seed in (1, 2):
        rows += [
            {"model": "single_task_income", "seed": seed, "task": "income", "auc": 0.90},
            {"model": "single_task_marital", "seed": seed, "task": "marital", "auc": 0.99},
            {"model": "simple_multitask", "seed": seed, "task": "income", "auc": 0.89},
            {"model": "mmoe", "seed": seed, "task": "income", "auc": 0.91},
            {"model": "mmoe", "seed": seed, "task": "marital", "auc": 0.98},
            {"model": "ple", "seed": seed, "task": "income", "auc": 0.895},
        ]
    results = pd.DataFrame(rows)
    tests = pd.DataFrame(
        [
            {
                "task": "marital",
                "model": "mmoe",
                "reference": "single_task_marital",
                "pvalue_holm": 0.001,
            },
            {
                "task": "income",
                "model": "ple",
                "reference": "single_task_income",
                "pvalue_holm": 0.4,
            },
            {
                "task": "income",
                "model": "mmoe",
                "reference": "single_task_income",
                "pvalue_holm": 0.01,
            },
            {
                "task": "income",
                "model": "mmoe",
                "reference": "simple_multitask",
                "diff": 0.02,
                "pvalue_holm": 0.001,
            },
        ]
    )
    bars = bm.check_bars(results, tests).set_index(["bar", "model", "task"])
    assert bars.loc[("a", "mmoe", "income"), "met"]  # higher mean
    assert not bars.loc[("a", "mmoe", "marital"), "met"]  # lower and significantly worse
    assert bars.loc[("a", "ple", "income"), "met"]  # lower but not significantly
    # income is the harder task (0.90 < 0.99); mmoe is the best multi-task model there
    assert bars.loc[("b", "mmoe", "income"), "met"]
    assert bars.loc[("b", "mmoe", "income"), "diff"] == pytest.approx(0.02)
    # a higher mean that DeLong does not confirm is a tie, not a beat
    tests.loc[3, "pvalue_holm"] = 0.2
    assert (
        not bm.check_bars(results, tests)
        .set_index(["bar", "model", "task"])
        .loc[("b", "mmoe", "income"), "met"]
    )
    tests.loc[3, ["diff", "pvalue_holm"]] = [-0.001, 0.001]
    assert (
        not bm.check_bars(results, tests)
        .set_index(["bar", "model", "task"])
        .loc[("b", "mmoe", "income"), "met"]
    )
