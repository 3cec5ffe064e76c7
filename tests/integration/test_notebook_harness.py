"""execute_notebook runs a real kernel from the notebook's folder and returns its records."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("papermill")

from recutils.utils.notebook import execute_notebook  # noqa: E402


@pytest.mark.slow
def test_execute_notebook_injects_parameters_and_uses_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "nbdir"
    folder.mkdir()
    (folder / "data.txt").write_text("7")
    cells = [
        nbformat.v4.new_code_cell("from recutils.utils.notebook import store_metadata"),
        nbformat.v4.new_code_cell("MULTIPLIER = 2", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "value = int(open('data.txt').read()) * MULTIPLIER\n"
            "store_metadata('value', value)\nstore_metadata('label', 'ok')"
        ),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(folder / "nb.ipynb"))

    records = execute_notebook(
        folder / "nb.ipynb", tmp_path / "out.ipynb", parameters={"MULTIPLIER": 3}, timeout=120
    )
    assert records == {"value": 21, "label": "ok"}
    assert (tmp_path / "out.ipynb").is_file()
