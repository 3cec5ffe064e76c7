"""Execute every notebook listed in notebooks.yaml and check what it records.

The manifest must list every notebook in the repository; each notebook must have
exactly one ``parameters`` cell. Every notebook is committed with the outputs of a run at its
default parameters and the stamp ``tools/notebooks.py run --store`` writes; a notebook without
them, or whose code cells no longer match the stamp (stale outputs), fails.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("papermill")

from recutils.utils.notebook import (  # noqa: E402
    STAMP_KEY,
    declared_parameters,
    execute_notebook,
    parameters_cells,
    stamp_status,
)

REPO = Path(__file__).resolve().parents[2]
MANIFEST = Path(__file__).with_name("notebooks.yaml")
NOTEBOOK_ROOTS = ("notebooks", "scenarios")


def _manifest() -> list[dict]:
    return yaml.safe_load(MANIFEST.read_text())["notebooks"]


def _all_notebooks() -> set[str]:
    found = set()
    for root in NOTEBOOK_ROOTS:
        for path in (REPO / root).rglob("*.ipynb"):
            if ".ipynb_checkpoints" not in path.parts:
                found.add(path.relative_to(REPO).as_posix())
    return found


ENTRIES = _manifest()
IDS = [entry["path"] for entry in ENTRIES]


def test_manifest_lists_every_notebook() -> None:
    listed = set(IDS)
    assert len(listed) == len(IDS), "a notebook is listed twice in notebooks.yaml"
    missing = sorted(_all_notebooks() - listed)
    assert not missing, f"notebooks missing from tests/notebooks/notebooks.yaml: {missing}"
    absent = sorted(p for p in listed if not (REPO / p).is_file())
    assert not absent, f"notebooks.yaml lists notebooks that do not exist: {absent}"


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_notebook_is_clean(entry: dict) -> None:
    nb = nbformat.read(str(REPO / entry["path"]), as_version=4)
    assert len(parameters_cells(nb)) == 1, "needs exactly one cell tagged 'parameters'"
    executed = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    status = stamp_status(nb)
    refresh = f"`python tools/notebooks.py run --store {entry['path']}`"
    assert STAMP_KEY in nb.metadata and executed, (
        f"committed without the outputs of a stored run (stamp: {status}); store them with {refresh}"
    )
    assert status == "ok", (
        f"stored outputs are {status} (the code cells changed since the run); refresh them with "
        f"{refresh}"
    )
    declared = declared_parameters(REPO / entry["path"])
    undeclared = sorted(set(entry.get("parameters", {})) - set(declared))
    assert not undeclared, f"manifest passes undeclared parameters {undeclared}"
    assert all(name.isupper() for name in declared), f"parameters must be UPPER_CASE: {declared}"


def _check_metric(name: str, value: object, spec: dict) -> None:
    assert isinstance(value, (int, float)) and math.isfinite(value), f"{name}={value!r}"
    if "value" in spec:
        assert value == pytest.approx(spec["value"], abs=spec.get("abs", 0)), name
    if "min" in spec:
        assert value >= spec["min"], f"{name}={value} < {spec['min']}"
    if "max" in spec:
        assert value <= spec["max"], f"{name}={value} > {spec['max']}"


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_notebook_runs(entry: dict, data_mirror: Path, tmp_path: Path) -> None:
    records = execute_notebook(
        REPO / entry["path"],
        tmp_path / Path(entry["path"]).name,
        parameters=entry.get("parameters", {}),
        kernel_name="python3",
        timeout=entry.get("timeout", 900),
    )
    expected = entry.get("metrics", {})
    missing = sorted(set(expected) - set(records))
    assert not missing, f"notebook did not record {missing}; it recorded {sorted(records)}"
    for name, spec in expected.items():
        _check_metric(name, records[name], spec)
