"""The codebase passes ruff's lint with the settings in pyproject.toml.

CI runs this test like any other, so a lint error or an unformatted file fails the build.
The ruff version is pinned by the ``dev`` extra, which is also what the pre-commit hooks run.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("ruff") is None:
        if os.environ.get("RECUTILS_REQUIRE_EXTRAS"):
            pytest.fail("ruff is not installed (it is part of the dev extra)")
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ruff_check_passes() -> None:
    proc = _ruff("check", "--output-format", "concise")
    assert proc.returncode == 0, (
        f"ruff check found problems:\n{proc.stdout[-6000:]}{proc.stderr[-2000:]}"
    )


def test_ruff_format_leaves_every_file_unchanged() -> None:
    proc = _ruff("format", "--check")
    assert proc.returncode == 0, (
        "files not in ruff's format (run `ruff format .`):\n"
        f"{proc.stdout[-6000:]}{proc.stderr[-2000:]}"
    )
