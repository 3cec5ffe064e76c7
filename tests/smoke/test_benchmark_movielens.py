"""The benchmark's small form on real MovieLens 100k: SAR and popularity, two seeds.

Same code path as the full run (``tools/benchmarks/movielens.py``): the built-in spec,
restricted to two fast models and two seeds on Microsoft Recommenders' protocol.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import recutils.benchmark as bm


@pytest.fixture(scope="module")
def small_run(data_mirror):
    if not (data_mirror / "ml-100k").exists() and not (data_mirror / "ml-100k.zip").exists():
        reason = f"ml-100k not in {data_mirror}"
        if os.environ.get("RECUTILS_REQUIRE_DATA", "") == "1":
            pytest.fail(reason + " and RECUTILS_REQUIRE_DATA=1 requires it")
        pytest.skip(reason)
    spec = bm.load_spec("movielens").select(
        models=["sar", "popularity"], seeds=[1, 2], protocols=["ms_stratified"], reference="sar"
    )
    return bm.run_benchmark(spec, progress=False, return_per_user=True)


@pytest.mark.realdata
def test_table_shape_and_values(small_run) -> None:
    results, per_user = small_run
    assert results.shape == (4, len(bm.result_columns(10)))
    assert results[["model", "seed"]].values.tolist() == [
        ["sar", 1],
        ["sar", 2],
        ["popularity", 1],
        ["popularity", 2],
    ]
    # A split by item can leave a user without test rows (seed 1: one of 943 users).
    assert results["n_test_users"].between(940, 943).all()
    assert (results["n_users_ranked"] == results["n_test_users"]).all()
    assert len(per_user) == results["n_test_users"].sum()
    summary = bm.summarize(results)
    sar = summary[summary["model"] == "sar"].iloc[0]
    # SAR on Microsoft's protocol: the published 0.3938 nDCG@10 / 0.1140 MAP, over our seeds
    assert 0.385 <= sar["ndcg@10_mean"] <= 0.405
    assert 0.110 <= sar["mean_average_precision_mean"] <= 0.125
    assert 0 < sar["ndcg@10_sd"] < 0.01  # the split changes with the seed


@pytest.mark.realdata
def test_sar_beats_popularity_significantly(small_run) -> None:
    _, per_user = small_run
    tests = bm.paired_tests(per_user, reference="sar")
    assert set(tests["metric"]) == set(bm.per_user_metric_names(10))
    numeric = [
        "mean_diff",
        "cohens_d",
        "t_stat",
        "t_pvalue",
        "wilcoxon_stat",
        "wilcoxon_pvalue",
        "t_pvalue_holm",
        "wilcoxon_pvalue_holm",
    ]
    assert np.isfinite(tests[numeric].to_numpy()).all()
    ndcg = tests[tests["metric"] == "ndcg@10"].iloc[0]
    assert ndcg["model"] == "popularity" and ndcg["n_users"] == 943 and ndcg["n_seeds"] == 2
    assert ndcg["mean_diff"] < -0.1 and ndcg["cohens_d"] < -0.5
    assert (
        ndcg["t_pvalue"] < 1e-20 and ndcg["wilcoxon_pvalue"] < 1e-20 and bool(ndcg["significant"])
    )
    assert tests["significant"].all()  # popularity is worse on every per-user metric
    comparison = bm.compare_to_reference(
        bm.summarize(small_run[0]), bm.load_reference("movielens_100k")
    )
    assert comparison["model"].tolist() == ["sar"] * 4
    met = comparison.set_index("metric")["passes"]
    assert met["ndcg@10"] and met["mean_average_precision"] and met["recall@10"]
