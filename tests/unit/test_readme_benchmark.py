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
            "run python tools/update_readme_benchmark.py")
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
