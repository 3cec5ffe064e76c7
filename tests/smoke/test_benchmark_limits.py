"""``tools/benchmarks/limits.py --quick``: a row with positive numbers for every hot path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("fastapi")
pytest.importorskip("httpx")

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "benchmarks" / "limits.py"

HOT_PATHS = [
    "ndcg_at_k",
    "map_at_k",
    "precision_at_k",
    "rmse",
    "python_stratified_split",
    "python_chrono_split",
    "SAR fit",
    "SAR recommend_k_items",
    "top_k_per_row",
    "CTR training step",
    "service lookup (HTTP)",
    "service lookup (store)",
]
COLUMNS = [
    "hot path",
    "data",
    "recutils s",
    "peer s",
    "peer/recutils",
    "lower bound (what it is)",
    "lower bound s",
    "recutils / bound",
]


def _number(cell: str) -> float:
    return float(cell.rstrip("x"))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("limits") / "limits.md"
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    # one torch thread: the training step stays short on a shared machine
    command = [sys.executable, str(SCRIPT), "--quick", "--threads", "1", "--write", str(out)]
    proc = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, env=env, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| hot path |" in proc.stdout  # the table is printed too
    return out.read_text(encoding="utf-8")


@pytest.mark.slow
def test_quick_run_writes_a_row_with_positive_numbers_per_hot_path(written: str) -> None:
    lines = [line for line in written.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == COLUMNS
    rows = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == len(COLUMNS), line
        rows[cells[0]] = dict(zip(COLUMNS, cells))
    assert list(rows) == HOT_PATHS
    for name, row in rows.items():
        ours, bound, ratio = (
            _number(row[c]) for c in ("recutils s", "lower bound s", "recutils / bound")
        )
        assert ours > 0 and bound > 0 and ratio > 0, (name, row)
        assert ratio == pytest.approx(ours / bound, rel=0.01), (name, row)  # rounded to 3 digits
        assert row["peer s"] == "-" and row["peer/recutils"] == "-"  # no peer in this run
        assert row["data"] and row["lower bound (what it is)"]


@pytest.mark.slow
def test_quick_run_says_what_and_where(written: str) -> None:
    assert written.startswith("# Hot paths against their limits (quick run")
    assert "Command: `python tools/benchmarks/limits.py --quick --threads 1 --write " in written
    assert "Machine: " in written and "logical cores" in written and "numpy " in written
    assert "torch " in written and "Python 3." in written
    assert "Date: 20" in written and "How to read it" in written
