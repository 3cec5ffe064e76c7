"""README.md's benchmark block is exactly what tools/update_readme_benchmark.py makes of the committed run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "update_readme_benchmark.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("update_readme_benchmark", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_blocks_match_the_committed_results(tool) -> None:
    block = tool.render()
    assert "| `sar` |" in block and "vs sar" in block
    for path in tool.READMES:
        text = path.read_text(encoding="utf-8")
        assert tool.replace_block(text, block) == text, (
            f"{path.relative_to(REPO)}'s benchmark block is out of date: "
            "run python tools/update_readme_benchmark.py"
        )
    assert tool.main(["--check"]) == 0


def test_the_committed_run_is_complete() -> None:
    """Every model, protocol and seed of the built-in spec is in the committed results."""
    from recutils.benchmark import load_spec

    spec = load_spec("movielens")
    results = pd.read_csv(tool_results())
    have = set(zip(results["model"], results["protocol"], results["seed"]))
    missing = [(m.name, p, s) for m, p, s in spec.runs() if (m.name, p, s) not in have]
    assert not missing, f"runs missing from {tool_results().name}: {missing}"


def tool_results() -> Path:
    return REPO / "notebooks" / "06_benchmarks" / "results_ml100k.csv"


def test_replace_block(tool, tmp_path) -> None:
    text = f"a\n{tool.START}\nold\n{tool.END}\nb\n"
    assert tool.replace_block(text, "new\n") == f"a\n{tool.START}\nnew\n{tool.END}\nb\n"
    with pytest.raises(SystemExit, match="exactly one"):
        tool.replace_block("no markers", "x")
    readme = tmp_path / "README.md"
    readme.write_text(f"x\n{tool.START}\nstale\n{tool.END}\n")
    assert tool.main(["--check", "--readme", str(readme)]) == 1
    assert tool.main(["--readme", str(readme)]) == 0
    assert tool.main(["--check", "--readme", str(readme)]) == 0
    # the next-item block is filled where its markers are
    both = tmp_path / "BOTH.md"
    both.write_text(f"x\n{tool.START}\n{tool.END}\n{tool.BEAUTY_START}\nstale\n{tool.BEAUTY_END}\n")
    assert tool.main(["--readme", str(both)]) == 0
    assert "| `sasrec_softmax` |" in both.read_text() and "stale" not in both.read_text()


def test_the_committed_retrieval_run_is_complete() -> None:
    """Every model and seed of the built-in retrieval spec is in its committed results."""
    from recutils.benchmark import load_spec

    spec = load_spec("retrieval")
    results = pd.read_csv(REPO / "notebooks" / "06_benchmarks" / "results_retrieval.csv")
    have = set(zip(results["model"], results["protocol"], results["seed"]))
    missing = [(m.name, p, s) for m, p, s in spec.runs() if (m.name, p, s) not in have]
    assert not missing, f"runs missing from results_retrieval.csv: {missing}"


def test_movielens_text_block_is_made_from_the_results(tool, tmp_path) -> None:
    """One row per model in the file's order, DKN labelled by its entity init, DeepFM (the
    reference) without tests, p-values below the shown resolution written as a bound."""
    results = pd.DataFrame(
        {
            "model": ["deepfm", "naml", "dkn"],
            "auc_mean": [0.7, 0.61234, 0.65],
            "auc_std": [0.01, 0.002, 0.0],
            "user_auc_mean": [0.6, 0.62, 0.59],
            "user_auc_std": [0.02, 0.01, 0.03],
            "seconds_mean": [0.6, 41.6, 80.2],
            "n_seeds": [3, 3, 3],
            "user_auc_diff_vs_deepfm": [None, 0.0204, -0.0101],
            "t_pvalue_holm": [None, 0.5, 0.004],
            "wilcoxon_pvalue_holm": [None, 0.25, 1.0],
            "n_users_paired": [None, 49, 49],
            "delong_p_max": [None, 0.00002, 0.3],
            "entity_init": ["", "", "none"],
            "n_users": [60] * 3,
            "n_train": [5291] * 3,
            "n_test": [1161] * 3,
            "epochs": [2] * 3,
        }
    )
    path = tmp_path / "results_movielens_text.csv"
    results.to_csv(path, index=False)
    block = tool.render_movielens_text(path)
    rows = [line for line in block.splitlines() if line.startswith("| ") and "AUC" not in line]
    assert rows == [
        "| DeepFM, ids only | 0.700 ± 0.010 | 0.600 ± 0.020 |  |  |  | 1 |",
        "| NAML | 0.612 ± 0.002 | 0.620 ± 0.010 | +0.020 | 0.50 / 0.25 | <0.0001 | 42 |",
        "| DKN (words only) | 0.650 ± 0.000 | 0.590 ± 0.030 | −0.010 | <0.01 / 1.00 | 0.3000 | 80 |",
    ]
    assert "60 users, 5,291 training rows, 1,161 test rows" in block
    assert "3 seeds; 49 users with both classes" in block
    # filled where its markers are, and then up to date
    readme = tmp_path / "README.md"
    start, end = tool.MOVIELENS_TEXT_START, tool.MOVIELENS_TEXT_END
    readme.write_text(f"x\n{tool.START}\n{tool.END}\n{start}\nstale\n{end}\n")
    args = ["--movielens-text", str(path), "--readme", str(readme)]
    assert tool.main(args) == 0 and "| NAML |" in readme.read_text()
    assert tool.main(["--check", *args]) == 0
