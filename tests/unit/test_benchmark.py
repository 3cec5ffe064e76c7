"""recutils.benchmark: specs, runs on synthetic data, resume, statistics and the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import recutils.benchmark as bm
from recutils.benchmark import run as run_mod
from recutils.datasets.synthetic import make_interactions
from recutils.exceptions import ConfigError, DataError

SPEC = """
dataset: movielens
data_size: mock
protocols: [ms_stratified, chrono]
seeds: [1, 2]
k: 5
reference: sar
models:
  - name: sar
    params: {similarity_type: jaccard}
  - name: popularity
  - name: random
  - name: bias
    rating_metrics: true
"""


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    return make_interactions(n_users=120, n_items=80, n_interactions=3000, seed=3).ratings


# ---------------------------------------------------------------- spec
def test_spec_round_trip_and_builtin() -> None:
    spec = bm.load_spec(SPEC)
    assert [m.name for m in spec.models] == ["sar", "popularity", "random", "bias"]
    assert spec.models[1].model == "popularity" and spec.models[3].rating_metrics
    assert bm.BenchmarkSpec.from_dict(spec.to_dict()) == spec
    builtin = bm.load_spec("movielens")
    assert builtin.protocols == ["ms_stratified", "chrono"] and len(builtin.seeds) >= 3
    assert builtin.reference == "sar" and builtin.dataset_label == "movielens-100k"
    small = builtin.select(models=["sar", "popularity"], seeds=[1, 2], protocols=["chrono"])
    assert [m.name for m in small.models] == ["sar", "popularity"] and small.seeds == [1, 2]
    assert builtin.select(models=["popularity"]).reference is None


@pytest.mark.parametrize(
    "text, match",
    [
        (SPEC + "colour: red\n", "unknown parameter.*colour"),
        (
            SPEC.replace("  - name: popularity", "  - name: popularity\n    parms: {}"),
            "unknown parameter.*parms",
        ),
        (SPEC.replace("[ms_stratified, chrono]", "[leave_one_out]"), "unknown protocol"),
        (SPEC.replace("reference: sar", "reference: nobody"), "reference 'nobody'"),
        (SPEC.replace("seeds: [1, 2]", "seeds: [1, 1]"), "distinct"),
        (SPEC.replace("k: 5", "k: 0"), "k must be"),
        (SPEC.replace("  - name: random", "  - name: sar"), "unique"),
        (SPEC.replace("dataset: movielens", "dataset: netflix"), "unknown dataset"),
        (
            SPEC.replace("  - name: random", "  - name: random\n    protocols: [leave_one_out]"),
            "not among",
        ),
    ],
)
def test_spec_errors(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        bm.load_spec(text)


def test_model_restricted_to_some_protocols(ratings) -> None:
    text = SPEC.replace("  - name: random", "  - name: random\n    protocols: [chrono]")
    spec = bm.load_spec(text)
    assert [(m.name, p) for m, p, s in spec.runs() if s == 1] == [
        ("sar", "ms_stratified"),
        ("sar", "chrono"),
        ("popularity", "ms_stratified"),
        ("popularity", "chrono"),
        ("random", "chrono"),
        ("bias", "ms_stratified"),
        ("bias", "chrono"),
    ]
    assert [m.name for m in spec.select(protocols=["ms_stratified"]).models] == [
        "sar",
        "popularity",
        "bias",
    ]
    small = spec.select(models=["popularity", "random"], seeds=[1])
    results = bm.run_benchmark(small, data=ratings, progress=False)
    assert results[["model", "protocol"]].values.tolist() == [
        ["popularity", "ms_stratified"],
        ["popularity", "chrono"],
        ["random", "chrono"],
    ]


def test_unknown_registry_model_fails_before_any_work(ratings) -> None:
    spec = bm.load_spec(
        SPEC.replace("  - name: random", "  - name: random\n  - name: x\n    model: no_such")
    )
    with pytest.raises(ConfigError, match="unknown model 'no_such'"):
        bm.run_benchmark(spec, data=ratings, progress=False)
    with pytest.raises(ConfigError, match="on_error"):
        bm.run_benchmark(bm.load_spec(SPEC), data=ratings, progress=False, on_error="ignore")


# ---------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def run(ratings, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.csv"
    results, per_user = bm.run_benchmark(
        bm.load_spec(SPEC), data=ratings, results_path=out, progress=False, return_per_user=True
    )
    return out, results, per_user


def test_results_table(run, ratings) -> None:
    out, results, per_user = run
    assert len(results) == 4 * 2 * 2
    assert list(results.columns) == bm.result_columns(5)
    assert set(results["dataset"]) == {"movielens-mock"}
    metrics = [
        "mean_average_precision",
        "map@5",
        "ndcg@5",
        "precision@5",
        "recall@5",
        "catalog_coverage@5",
        "novelty@5",
        "fit_s",
        "recommend_s",
        "peak_mem_mb",
    ]
    assert np.isfinite(results[metrics].to_numpy()).all()
    assert (results["peak_mem_mb"] > 0).all()
    rating_rows = results["model"] == "bias"
    assert (
        np.isfinite(results.loc[rating_rows, ["rmse", "mae", "rsquared", "exp_var", "predict_s"]])
        .all()
        .all()
    )
    assert results.loc[~rating_rows, "rmse"].isna().all()
    assert (results.loc[rating_rows, "rmse"] < 1.5).all()
    # the chronological split does not depend on the seed; the stratified one does
    chrono = results[results["protocol"] == "chrono"]
    assert chrono.groupby("seed")["n_test"].first().nunique() == 1
    # per-user rows: one per test user and run, and their means are the table's values
    assert set(per_user.columns) >= {
        "model",
        "dataset",
        "protocol",
        "seed",
        "userID",
        "ndcg@5",
        "mean_average_precision",
    }
    for row in results.itertuples(index=False):
        users = per_user[
            (per_user["model"] == row.model)
            & (per_user["protocol"] == row.protocol)
            & (per_user["seed"] == row.seed)
        ]
        assert len(users) == row.n_test_users
        assert users["ndcg@5"].mean() == pytest.approx(row._8, abs=1e-6)  # ndcg@5
    # the files on disk hold the same rows
    disk = pd.read_csv(out)
    assert len(disk) == len(results)
    assert bm.default_per_user_path(out).exists()


def test_seeds_matter_for_seeded_models(run) -> None:
    _, results, _ = run
    rnd = results[(results["model"] == "random") & (results["protocol"] == "chrono")]
    assert rnd["ndcg@5"].nunique() == 2  # same split, different model seeds
    strat = results[(results["model"] == "popularity") & (results["protocol"] == "ms_stratified")]
    assert strat["n_train"].nunique() >= 1 and strat["ndcg@5"].nunique() == 2  # different splits


def test_resume_reads_stored_parameters_as_json_values(run, ratings, monkeypatch, tmp_path) -> None:
    """Results whose params text has the same keys in another order (an earlier writer's)
    are the same runs: nothing is recomputed (runs before the test below changes the results)."""
    out, results, _ = run
    shuffled = pd.read_csv(out)
    shuffled["params"] = [
        json.dumps(dict(reversed(list(json.loads(text).items())))) for text in shuffled["params"]
    ]
    assert (shuffled["params"] != pd.read_csv(out)["params"]).all()
    path = tmp_path / "shuffled.csv"
    shuffled.to_csv(path, index=False)
    per_user = pd.read_csv(run_mod.default_per_user_path(out))
    per_user.to_csv(run_mod.default_per_user_path(path), index=False)
    calls = []
    real = run_mod.run_one

    def counting(m, *a, **kw):
        calls.append(m.name)
        return real(m, *a, **kw)

    monkeypatch.setattr(run_mod, "run_one", counting)
    again = bm.run_benchmark(bm.load_spec(SPEC), data=ratings, results_path=path, progress=False)
    assert calls == []
    assert len(again) == len(results)


def test_resume_does_not_recompute(run, ratings, monkeypatch) -> None:
    out, results, _ = run
    calls = []
    real = run_mod.run_one

    def counting(m, *a, **kw):
        calls.append(m.name)
        return real(m, *a, **kw)

    monkeypatch.setattr(run_mod, "run_one", counting)
    again = bm.run_benchmark(bm.load_spec(SPEC), data=ratings, results_path=out, progress=False)
    assert calls == []
    pd.testing.assert_frame_equal(again, results, check_exact=False, rtol=1e-9)
    # a new seed runs only the new seed; changed parameters rerun that model only
    spec = bm.load_spec(SPEC.replace("seeds: [1, 2]", "seeds: [1, 2, 3]"))
    bm.run_benchmark(spec, data=ratings, results_path=out, progress=False)
    assert sorted(calls) == sorted(["sar", "popularity", "random", "bias"] * 2)
    calls.clear()
    spec = bm.load_spec(SPEC.replace("{similarity_type: jaccard}", "{similarity_type: cosine}"))
    changed = bm.run_benchmark(spec, data=ratings, results_path=out, progress=False)
    assert calls == ["sar"] * 4
    assert len(changed) == 16
    assert (
        pd.read_csv(out)["model"] == "sar"
    ).sum() == 4 + 2  # seed 3 rows kept, old seeds replaced


def test_on_error_skip(ratings, monkeypatch) -> None:
    real = run_mod.run_one

    def failing(m, *a, **kw):
        if m.name == "random":
            raise RuntimeError("boom")
        return real(m, *a, **kw)

    monkeypatch.setattr(run_mod, "run_one", failing)
    spec = bm.load_spec(SPEC).select(models=["popularity", "random"], protocols=["chrono"])
    with pytest.raises(RuntimeError, match="boom"):
        bm.run_benchmark(spec, data=ratings, progress=False)
    results = bm.run_benchmark(spec, data=ratings, progress=False, on_error="skip")
    assert results["model"].tolist() == ["popularity", "popularity"]


# ---------------------------------------------------------------- statistics
def test_summarize(run) -> None:
    _, results, _ = run
    summary = bm.summarize(results)
    assert len(summary) == 8 and (summary["n_seeds"] == 2).all()
    sar = results[(results["model"] == "sar") & (results["protocol"] == "ms_stratified")]["ndcg@5"]
    row = summary[(summary["model"] == "sar") & (summary["protocol"] == "ms_stratified")].iloc[0]
    assert row["ndcg@5_mean"] == pytest.approx(sar.mean())
    assert row["ndcg@5_sd"] == pytest.approx(sar.std(ddof=1))
    assert np.isnan(row["rmse_mean"])
    with pytest.raises(DataError, match="lack the columns"):
        bm.summarize(results.drop(columns="protocol"))


def test_paired_tests_known_answer() -> None:
    rng = np.random.default_rng(0)
    n = 40
    rows = []
    for seed in (1, 2):
        base = rng.random(n)
        for model, shift in (("ref", 0.0), ("good", 0.1), ("same", 0.0)):
            noise = rng.normal(0, 0.05, n) if model == "good" else 0.0
            rows.append(
                pd.DataFrame(
                    {
                        "dataset": "d",
                        "protocol": "p",
                        "model": model,
                        "seed": seed,
                        "userID": np.arange(n),
                        "m": base + shift + noise,
                    }
                )
            )
    per_user = pd.concat(rows, ignore_index=True)
    out = bm.paired_tests(per_user, reference="ref", metrics=["m"])
    assert set(out["model"]) == {"good", "same"}
    good = out[out["model"] == "good"].iloc[0]
    a = per_user[per_user["model"] == "good"].groupby("userID")["m"].mean().to_numpy()
    b = per_user[per_user["model"] == "ref"].groupby("userID")["m"].mean().to_numpy()
    assert good["t_pvalue"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert good["wilcoxon_pvalue"] == pytest.approx(stats.wilcoxon(a, b).pvalue)
    assert good["cohens_d"] == pytest.approx((a - b).mean() / (a - b).std(ddof=1))
    assert good["mean_diff"] == pytest.approx(0.1, abs=0.02)
    assert good["n_users"] == n and good["n_seeds"] == 2 and bool(good["significant"])
    assert good["t_pvalue_holm"] == pytest.approx(min(1.0, 2 * good["t_pvalue"]))
    same = out[out["model"] == "same"].iloc[0]
    assert same["t_pvalue"] == 1.0 and same["cohens_d"] == 0.0 and not same["significant"]
    with pytest.raises(DataError, match="reference model 'nobody'"):
        bm.paired_tests(per_user, reference="nobody")


def test_holm() -> None:
    from recutils.benchmark.stats import _holm

    np.testing.assert_allclose(
        _holm(np.array([0.01, 0.04, 0.03, np.nan])), [0.03, 0.06, 0.06, np.nan]
    )


def test_compare_to_reference_directions() -> None:
    summary = pd.DataFrame(
        {
            "dataset": "d",
            "protocol": "p",
            "model": ["a", "b"],
            "n_seeds": 3,
            "ndcg@10_mean": [0.40, 0.30],
            "ndcg@10_sd": [0.02, 0.01],
            "rmse_mean": [0.95, 0.90],
            "rmse_sd": [0.01, 0.01],
        }
    )
    ref = bm.load_reference(
        {
            "source": "s",
            "dataset": "d",
            "protocol": "p",
            "figures": [
                {"model": "a", "metrics": {"ndcg@10": 0.415, "rmse": 0.94}},
                {"model": "b", "metrics": {"ndcg@10": 0.32, "rmse": 0.85}},
                {"model": "not_run", "metrics": {"ndcg@10": 0.5}},
            ],
        }
    )
    out = bm.compare_to_reference(summary, ref)
    got = {(r.model, r.metric): r.passes for r in out.itertuples()}
    assert got == {
        ("a", "ndcg@10"): True,
        ("a", "rmse"): True,  # 0.42 >= 0.415; 0.94 <= 0.94
        ("b", "ndcg@10"): False,
        ("b", "rmse"): False,
    }  # 0.31 < 0.32; 0.89 > 0.85


def test_builtin_reference_is_data() -> None:
    ref = bm.load_reference("movielens_100k")
    sar = ref[ref["model"] == "sar"].set_index("metric")["value"]
    assert sar["mean_average_precision"] == 0.1140 and sar["ndcg@10"] == 0.3938
    assert {"cornac_bpr", "cornac_bivae", "surprise_svd", "als", "ncf", "lightgcn"} <= set(
        ref["model"]
    )
    with pytest.raises(ConfigError, match="unknown reference key"):
        bm.load_reference({"figures": [], "table": 1})
    with pytest.raises(ConfigError, match="needs model and metrics"):
        bm.load_reference({"figures": [{"model": "a", "metric": {}}]})


def test_markdown_table(run) -> None:
    _, results, per_user = run
    summary = bm.summarize(results)
    tests = bm.paired_tests(per_user, reference="sar", metrics=["ndcg@5"])
    ref = bm.load_reference(
        {
            "dataset": "movielens-mock",
            "protocol": "ms_stratified",
            "figures": [{"model": "sar", "metrics": {"ndcg@5": 0.0}}],
        }
    )
    table = bm.markdown_table(
        summary, tests, bm.compare_to_reference(summary, ref), protocol="ms_stratified", k=5
    )
    lines = table.strip().splitlines()
    assert len(lines) == 2 + 4
    assert "nDCG@5 vs sar" in lines[0] and "RMSE" in lines[0]
    assert "reference" in lines[2] and "nDCG 0.0000 yes" in lines[2]
    assert lines[3].startswith("| `popularity` | 2 |")
    with pytest.raises(DataError, match="no results for protocol"):
        bm.markdown_table(summary, protocol="nope")


def test_machine_info() -> None:
    info = bm.machine_info("shared")
    assert info["logical_cores"] >= 1 and info["python"].count(".") == 2
    assert "numpy" in info["libraries"] and info["note"] == "shared"


def test_benchmark_import_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, recutils.benchmark\n"
        "print(','.join(m for m in ('pyspark', 'torch', 'cornac', 'surprise') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_model_registered_later_joins_with_a_spec_entry_only(ratings) -> None:
    """A model registered outside recutils (as the deep models will be) needs no benchmark code."""
    from recutils.models.registry import register_model, unregister_model

    register_model("late_popularity", "recutils.models.baselines:Popularity")
    try:
        spec = bm.load_spec(SPEC).select(models=["sar"], seeds=[1], protocols=["chrono"])
        spec = bm.BenchmarkSpec.from_dict(
            {
                **spec.to_dict(),
                "models": spec.to_dict()["models"]
                + [
                    {"name": "late", "model": "late_popularity", "params": {"half_life_days": 30.0}}
                ],
            }
        )
        results = bm.run_benchmark(spec, data=ratings, progress=False)
        assert results["model"].tolist() == ["sar", "late"]
        assert results["registry"].tolist() == ["sar", "late_popularity"]
        assert np.isfinite(results["ndcg@5"]).all()
    finally:
        unregister_model("late_popularity")


# ---------------------------------------------------------------- item side data
def test_side_data_reaches_fit_once_loaded(ratings, monkeypatch) -> None:
    """A model entry with ``side_data`` gets the data set's side frame in ``fit``; the
    frame is loaded once per benchmark, and the results key names it."""
    from recutils.benchmark import data as data_mod

    items = np.sort(ratings["itemID"].unique())
    words = np.where(items % 2 == 0, "space robots war", "love paris drama")
    loads = []

    def loader(size: str) -> dict[str, pd.DataFrame]:
        loads.append(size)
        return {"item_features": pd.DataFrame({"itemID": items, "genres": words})}

    monkeypatch.setitem(data_mod.SIDE_DATA, "movielens", {"words": loader})
    seen = []
    real = run_mod.run_one

    def spy(m, *a, **kw):
        seen.append((m.name, (kw.get("fit_kwargs") or {}).get("item_features")))
        return real(m, *a, **kw)

    monkeypatch.setattr(run_mod, "run_one", spy)
    spec = bm.load_spec(
        SPEC + "  - name: tfidf\n    params: {text_cols: [genres]}\n"
        "    side_data: words\n    rating_metrics: true\n"
    )
    spec = spec.select(models=["bias", "tfidf"], protocols=["chrono"])
    assert bm.BenchmarkSpec.from_dict(spec.to_dict()) == spec
    results = bm.run_benchmark(spec, data=ratings, progress=False)
    assert loads == ["mock"]
    assert [name for name, _ in seen] == ["bias", "bias", "tfidf", "tfidf"]
    assert seen[0][1] is None and seen[2][1] is seen[3][1]
    assert list(seen[2][1].columns) == ["itemID", "genres"]
    tfidf = results[results["model"] == "tfidf"]
    assert np.isfinite(tfidf["rmse"]).all() and np.isfinite(tfidf["ndcg@5"]).all()
    assert all('"side_data": "words"' in p for p in tfidf["params"])
    assert not any("side_data" in p for p in results.loc[results["model"] == "bias", "params"])


def test_unknown_side_data_name_is_a_config_error() -> None:
    text = SPEC + "  - name: tfidf\n    side_data: synopsis\n"
    with pytest.raises(
        ConfigError,
        match="model 'tfidf'.*no side data 'synopsis'.*known: \\['features', 'kg', 'text'\\]",
    ):
        bm.load_spec(text)
    with pytest.raises(ConfigError, match="side_data must be null"):
        bm.load_spec(SPEC + "  - name: tfidf\n    side_data: 3\n")


def test_machine_line_names_every_machine_the_runs_were_taken_on():
    from recutils.benchmark.report import _machine_line

    def run(cpu, note):
        return {
            "cpu_model": cpu,
            "logical_cores": 2,
            "ram_gb": 23.5,
            "python": "3.11.7",
            "libraries": {"torch": "2.13.0+cpu"},
            "note": note,
        }

    one = _machine_line({"runs": [run("CPU A", "idle."), run("CPU A", "idle")]})
    assert (
        one
        == "Machine: CPU A, 2 logical cores, 23.5 GB RAM, Python 3.11.7 (torch 2.13.0+cpu). idle."
    )
    two = _machine_line({"runs": [run("CPU A", "idle"), run("CPU B", "shared")]})
    assert two.startswith("Machines (runs on 2): CPU A, ") and "; CPU B, " in two
    assert two.endswith(" Run notes: (1) idle; (2) shared.")
    assert _machine_line({"runs": []}) == "" and _machine_line(None) == ""
