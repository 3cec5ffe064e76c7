"""Stamps of stored notebook outputs: digest, cleaning, status (recutils.utils.notebook)."""

from __future__ import annotations

import pytest

from recutils.utils.notebook import (
    STAMP_KEY,
    clean_outputs,
    code_digest,
    stamp_notebook,
    stamp_status,
)
from recutils.utils.progress import PROGRESS_ENV, progress_bar, progress_enabled

nbformat = pytest.importorskip("nbformat")
pytestmark = pytest.mark.unit


def _notebook():
    v4 = nbformat.v4
    nb = v4.new_notebook()
    params = v4.new_code_cell("N = 3", metadata={"tags": ["parameters"]})
    injected = v4.new_code_cell(
        "N = 1", metadata={"tags": ["injected-parameters"], "papermill": {"x": 1}}
    )
    body = v4.new_code_cell(
        "print(N)",
        metadata={"tags": [], "execution": {"iopub.status.busy": "2026-12-07T00:00:00Z"}},
    )
    body.outputs = [
        v4.new_output("stream", name="stdout", text="3\n"),
        v4.new_output("stream", name="stderr", text="epochs:  40%|####      | 2/5 [00:01<00:02]\r"),
        v4.new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "a"},
                "text/plain": "HBox()",
            },
        ),
        v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        v4.new_output("stream", name="stderr", text="a real warning\n"),
    ]
    nb.cells = [v4.new_markdown_cell("# title"), params, injected, body]
    nb.metadata["papermill"] = {"duration": 1.0}
    return nb


def test_digest_covers_code_cells_only_and_ignores_injected_parameters() -> None:
    nb = _notebook()
    digest = code_digest(nb)
    nb.cells[0].source = "# another title"
    assert code_digest(nb) == digest
    nb.cells[2].source = "N = 99"  # the injected cell is not part of the committed code
    assert code_digest(nb) == digest
    nb.cells[3].source = "print(N + 1)"
    assert code_digest(nb) != digest


def test_clean_outputs_drops_progress_bars_widgets_and_papermill_metadata() -> None:
    nb = clean_outputs(_notebook())
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    outputs = nb.cells[2].outputs
    assert [o.get("text") for o in outputs if o.output_type == "stream"] == [
        "3\n",
        "a real warning\n",
    ]
    assert [list(o.data) for o in outputs if o.output_type == "display_data"] == [
        ["image/png", "text/plain"]
    ]
    assert "papermill" not in nb.metadata
    assert "tags" not in nb.cells[2].metadata and "execution" not in nb.cells[2].metadata
    assert nb.cells[1].metadata["tags"] == ["parameters"]


def test_status_is_ok_only_for_a_stamp_of_the_current_code_with_outputs() -> None:
    nb = clean_outputs(_notebook())
    assert stamp_status(nb) == "unstamped"
    stamp_notebook(nb, version="1.0", machine="test box", date="2026-12-07")
    assert nb.metadata[STAMP_KEY]["code_sha256"] == code_digest(nb)
    assert nb.metadata[STAMP_KEY]["machine"] == "test box"
    assert stamp_status(nb) == "ok"
    nb.cells[2].source += "\nprint('more')"
    assert stamp_status(nb) == "stale"
    stamp_notebook(nb, version="1.0", machine="test box", date="2026-12-07")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    assert stamp_status(nb) == "no-outputs"


def test_progress_env_switches_every_bar_off(monkeypatch) -> None:
    monkeypatch.setenv(PROGRESS_ENV, "0")
    assert not progress_enabled()
    assert progress_bar(range(100), enabled=True).disable
    monkeypatch.setenv(PROGRESS_ENV, "1")
    assert progress_enabled()
    assert not progress_bar(range(100), enabled=True).disable
