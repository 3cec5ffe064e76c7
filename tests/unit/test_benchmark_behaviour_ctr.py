"""The behaviour-sequence click-through benchmark: per-user AUC, bars, report, resume, bad input,
and a tiny real run on each setting (the committed runs are in notebooks/06_benchmarks)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.benchmark.behaviour_ctr import (
    PER_USER_COLUMNS,
    RESULT_COLUMNS,
    SETTINGS,
    behaviour_bars,
    behaviour_markdown,
    behaviour_tests,
    build_model,
    config_sha,
    get_setting,
    per_user_auc,
    run_behaviour_benchmark,
)
from recutils.exceptions import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_per_user_auc_matches_sklearn_and_skips_single_class_users():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    users = np.repeat([3, 1, 2, 7], [6, 5, 4, 3])
    labels = rng.integers(0, 2, users.size)
    labels[users == 2] = 1  # one class only: no AUC
    labels[users == 3] = [1, 0, 1, 0, 0, 1]
    scores = rng.normal(size=users.size).round(1)  # ties count one half
    scores[users == 7] = 0.5
    labels[users == 7] = [1, 0, 0]
    out = per_user_auc(users, labels, scores)
    assert sorted(out.index) == [1, 3, 7]
    for u in out.index:
        assert out[u] == pytest.approx(roc_auc_score(labels[users == u], scores[users == u]))
    assert out[7] == 0.5


def test_settings_list_the_reference_first_and_the_issue_comparisons():
    taobao, grocery = get_setting("taobao"), get_setting("grocery")
    assert taobao.models[0] == taobao.reference and grocery.models[0] == grocery.reference
    assert {"din", "dien", "bst"} <= set(taobao.models) and taobao.bar_metric == "auc"
    assert {"slirec", "a2svd", "sum", "gru_history"} <= set(grocery.models)
    assert grocery.bar_metric == "gauc"
    assert set(grocery.comparisons) == {("slirec", "gru_history"), ("slirec", "a2svd")}
    with pytest.raises(ConfigError, match="known settings"):
        get_setting("criteo")


def _synthetic(gain: float, n_users: int = 40, seeds=(1, 2)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Results and per-user AUCs of the taobao setting where ``din`` is ``gain`` above the reference."""
    rng = np.random.default_rng(1)
    base = rng.uniform(0.5, 0.7, n_users)
    rows, users = [], []
    for seed in seeds:
        for model, shift in (("mlp_no_history", 0.0), ("din", gain), ("dien", -gain)):
            values = np.clip(base + shift + rng.normal(0, 0.01, n_users), 0, 1)
            users.append(
                pd.DataFrame(
                    {
                        "setting": "taobao",
                        "model": model,
                        "seed": seed,
                        "userID": np.arange(n_users),
                        "user_auc": values,
                    }
                )
            )
            rows.append(
                {
                    "setting": "taobao",
                    "model": model,
                    "seed": seed,
                    "n_users": -1,
                    "max_len": 50,
                    "n_train": 100,
                    "n_test": 50,
                    "epochs": 3,
                    "best_epoch": 1,
                    "auc": values.mean(),
                    "gauc": values.mean(),
                    "logloss": 0.6,
                    "mrr": np.nan,
                    "ndcg@2": np.nan,
                    "fit_s": 1.0,
                    "config_sha": "x",
                }
            )
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS)), pd.concat(users, ignore_index=True)


def test_bars_need_a_higher_mean_and_a_significant_paired_gain():
    results, per_user = _synthetic(gain=0.05)
    tests = behaviour_tests(results, per_user)
    assert set(tests["model"]) == {"din", "dien"} and set(tests["against"]) == {"mlp_no_history"}
    bars = behaviour_bars(results, tests).set_index("model")
    assert bool(bars.loc["din", "met"]) and not bool(bars.loc["dien", "met"])
    assert bars.loc["din", "user_auc_diff"] == pytest.approx(0.05, abs=0.01)
    assert bars.loc["dien", "value"] < bars.loc["dien", "reference"]
    # no real difference: not met, whatever the sign of the noise
    results, per_user = _synthetic(gain=0.0)
    bars = behaviour_bars(results, behaviour_tests(results, per_user)).set_index("model")
    assert not bars["met"].any()


def test_markdown_reports_every_model_with_its_verdict():
    results, per_user = _synthetic(gain=0.05)
    text = behaviour_markdown(results, per_user)
    assert "**taobao** (test day 2017-12-03; all users, histories of 50" in text
    lines = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| `")}
    assert set(lines) == {"| `mlp_no_history`", "| `din`", "| `dien`"}
    assert "reference" in lines["| `mlp_no_history`"]
    assert "**met**" in lines["| `din`"] and "**not met**" in lines["| `dien`"]
    assert " 2 | 3.0 |" in lines["| `din`"]  # seeds, epochs


def test_bad_options_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not in the taobao setting"):
        run_behaviour_benchmark("taobao", models=["slirec"])
    with pytest.raises(ConfigError, match="known settings"):
        run_behaviour_benchmark("amazon")
    with pytest.raises(ConfigError, match="at least one seed"):
        run_behaviour_benchmark("taobao", seeds=[])


def test_script_refuses_a_model_of_the_other_setting(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "tools" / "benchmarks"))
    try:
        import behaviour_ctr as script
    finally:
        sys.path.pop(0)
    out = tmp_path / "r.csv"
    argv = ["--setting", "grocery", "--models", "din", "--out", str(out)]
    assert script.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "not in the grocery setting" in err[-1]
    assert not out.exists()


@pytest.mark.realdata
@pytest.mark.parametrize(
    "setting, models",
    [("taobao", ["mlp_no_history", "din"]), ("grocery", ["deepfm_no_history", "gru_history"])],
)
def test_a_tiny_real_run_writes_resumes_and_reports(setting, models, data_mirror, tmp_path):
    pytest.importorskip("torch")
    out, per_user_out = tmp_path / "r.csv", tmp_path / "r_per_user.csv.gz"
    seen = []
    kwargs = dict(
        models=models,
        n_users=12 if setting == "taobao" else 60,
        max_len=10,
        epochs=1,
        results_path=out,
        per_user_path=per_user_out,
        on_run=seen.append,
    )
    results, per_user = run_behaviour_benchmark(setting, [1], **kwargs)
    assert list(results.columns) == list(RESULT_COLUMNS)
    assert list(per_user.columns) == list(PER_USER_COLUMNS)
    assert [r["model"] for r in seen] == models and len(results) == 2
    assert results["auc"].between(0, 1).all() and results["gauc"].between(0, 1).all()
    assert (results["epochs"] == 1).all() and (results["n_test"] > 0).all()
    assert results["mrr"].notna().all() == (setting == "grocery")
    assert per_user["user_auc"].between(0, 1).all() and set(per_user["model"]) == set(models)
    # the same command again keeps both runs; a new seed adds two
    seen.clear()
    again, _ = run_behaviour_benchmark(setting, [1, 2], **kwargs)
    assert [(r["model"], r["seed"]) for r in seen] == [(m, 2) for m in models]
    assert len(again) == 4 and len(pd.read_csv(out)) == 4
    pd.testing.assert_frame_equal(again.iloc[:2].reset_index(drop=True), pd.read_csv(out).iloc[:2])
    assert f"**{setting}**" in behaviour_markdown(again, pd.read_csv(per_user_out))
    assert SETTINGS[setting].reference in set(again["model"])


def test_committed_results_hold_three_seeds_and_meet_the_bars():
    pytest.importorskip("torch")
    results = pd.read_csv(ROOT / "notebooks" / "06_benchmarks" / "results_behaviour_ctr.csv")
    per_user = pd.read_csv(
        ROOT / "notebooks" / "06_benchmarks" / "results_behaviour_ctr_per_user.csv.gz"
    )
    assert list(results.columns) == list(RESULT_COLUMNS)
    for setting in pd.unique(results["setting"]):
        part = results[results["setting"] == setting]
        assert set(part["model"]) == set(SETTINGS[setting].models), setting
        seeds = part.groupby("model")["seed"].apply(sorted)
        assert all(s == [1, 2, 3] for s in seeds), setting
        assert (part["n_users"] == -1).all() and (part["max_len"] == 50).all()  # full size
        # every run is of the shipped config as it is now (so the script resumes the file)
        for row in part.itertuples():
            model = build_model(SETTINGS[setting], row.model, int(row.seed), {"num_threads": 1})
            assert config_sha(model) == row.config_sha, (setting, row.model)
    bars = behaviour_bars(results, behaviour_tests(results, per_user)).set_index(
        ["setting", "model"]
    )
    for setting, model in [("taobao", m) for m in ("din", "dien", "bst")] + [
        ("grocery", m) for m in ("gru_history", "a2svd", "slirec", "sum")
    ]:
        assert bool(bars.loc[(setting, model), "met"]), (setting, model)
