"""The newcomer's journeys, run exactly as the docs show them (tests/_docsnippets.py):
a top-10 in Python (README), a click-through model from a config, tuning and a small
benchmark (docs/)."""

from __future__ import annotations

import json
import re
import shutil

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
    env = {"MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    out = run_snippet("docs/click_through_from_config.md", "ctr-python", cwd=tmp_path, env=env).stdout
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
