"""The newcomer's journeys, run exactly as the docs show them (tests/_docsnippets.py):
a top-10 in Python (README), a click-through model from a config, tuning and a small
benchmark (docs/)."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from tests._docsnippets import REPO_ROOT, run_snippet

pytestmark = [pytest.mark.realdata]


@pytest.fixture
def movielens(require_dataset):
    require_dataset("ml-100k")


def test_journey1_top10_in_python(movielens, tmp_path) -> None:
    out = run_snippet("README.md", "top10-python", cwd=tmp_path).stdout
    figures = dict(re.findall(r"'([\w@]+)': ([0-9.]+)", out))
    # the quick start's SAR: its MAP (Microsoft's map) and the README's figures
    assert float(figures["mean_average_precision"]) == pytest.approx(0.1140, abs=5e-4)
    assert float(figures["map@10"]) == pytest.approx(0.2585, abs=5e-4)
    assert float(figures["ndcg@10"]) == pytest.approx(0.3938, abs=5e-4)


def test_journey2_click_through_from_config(movielens, tmp_path) -> None:
    pytest.importorskip("torch")
    # one torch thread: much faster than two on a machine whose cores are shared (CI)
    env = {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "OMP_NUM_THREADS": "1"}
    out = run_snippet(
        "docs/click_through_from_config.md", "ctr-python", cwd=tmp_path, env=env
    ).stdout
    assert re.search(r"best epoch: [12]\n", out)
    auc = float(re.search(r"AUC ([0-9.]+)", out).group(1))
    assert auc > 0.75
    assert "EasyRec file: best epoch 1 of 1" in out
    cli = run_snippet("docs/click_through_from_config.md", "ctr-cli", cwd=tmp_path, env=env).stdout
    figures = json.loads((tmp_path / "metrics.json").read_text())
    assert figures["epochs_run"] == 1 and figures["best_epoch"] == 1 and figures["auc"] > 0.7
    assert (tmp_path / "wide_deep_model" / "manifest.json").is_file()
    assert "training settings: the train section of wide_deep_movielens.yaml" in cli
    assert "training settings: wide_deep_movielens.yaml" in cli


def test_journey3_tuning(movielens, tmp_path) -> None:
    pytest.importorskip("optuna")
    run = run_snippet("docs/tuning.md", "tuning-python", cwd=tmp_path)
    assert "loaded back: True" in run.stdout
    best = float(re.search(r"best ndcg@10: ([0-9.]+)", run.stdout).group(1))
    assert best > 0.38
    assert "Trial 0 finished" not in run.stderr and "A new study created" not in run.stderr
    assert (tmp_path / "sar_best.yaml").is_file()
    check = run_snippet("docs/tuning.md", "tuning-check", cwd=tmp_path).stdout
    assert (
        "dropout_rate" in check and "before the first trial" in check and "'dropout_ratio'" in check
    )


def test_journey7_small_benchmark(movielens, tmp_path) -> None:
    pytest.importorskip("papermill")
    before = _tracked_changes()
    run = run_snippet(
        "docs/benchmarks.md", "bench-small", cwd=REPO_ROOT, env={"TMPDIR": str(tmp_path)}
    )
    assert "sar_cosine" in run.stdout and "popularity" in run.stdout
    (bench,) = [p for p in tmp_path.iterdir() if p.is_dir() and (p / "my_results.csv").exists()]
    assert (bench / "results.csv").read_text().count("\n") == 3  # header + sar + popularity
    assert (bench / "my_results.csv").read_text().count("\n") == 4
    assert (bench / "my_benchmark.ipynb").is_file()
    assert _tracked_changes() == before  # nothing written into the repository
    error = run_snippet(
        "docs/benchmarks.md", "bench-error", cwd=REPO_ROOT, env={"TMPDIR": str(tmp_path)}
    )
    assert error.stdout.strip() == "exit status 2"
    assert error.stderr.strip().startswith("error: models ['sarr'] are not in the spec")
    assert len(error.stderr.strip().splitlines()) == 1


def _tracked_changes() -> str:
    import subprocess

    if shutil.which("git") is None:
        return ""
    return subprocess.run(
        ["git", "status", "--porcelain"], cwd=REPO_ROOT, capture_output=True, text=True
    ).stdout


def test_next_item_full_versus_sampled_example(require_dataset, tmp_path) -> None:
    """docs/next_item_evaluation.md: the measured example prints what the page says it prints."""
    require_dataset("amazon-beauty-bert4rec")
    out = run_snippet(
        "docs/next_item_evaluation.md", "next-item-full-vs-sampled", cwd=tmp_path
    ).stdout
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in out.splitlines()[1:3]}
    assert rows["popularity"][0] > rows["sasrec"][0]  # full ranking: popularity ahead
    assert rows["sasrec"][1] > rows["popularity"][1]  # sampled ranking: the order flips
    assert "Kendall's tau between the two orders: -1.00" in out
    text = (REPO_ROOT / "docs" / "next_item_evaluation.md").read_text()
    shown = text.split("```text")[1].split("```")[0].splitlines()
    page = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in shown[2:4]}
    assert page["popularity"] == rows["popularity"]  # deterministic: counts and a seeded draw
    # a trained model's figures move a little with the library build: the page's within 0.005
    assert np.allclose(page["sasrec"], rows["sasrec"], atol=0.005), (page, rows)
