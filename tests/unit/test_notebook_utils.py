"""The notebook harness: parameter checks, recording and reading metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

from recutils.exceptions import ConfigError, DataError  # noqa: E402
from recutils.utils import notebook as nbu  # noqa: E402


def _write(path: Path, cells: list) -> Path:
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, str(path))
    return path


def _params_cell(source: str):
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})


def test_declared_parameters_reads_literals(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.ipynb",
        [_params_cell('"""comment"""\nTOP_K = 10\nSIZE: str = "100k"\nRATIOS = [0.7, 0.3]')],
    )
    assert nbu.declared_parameters(path) == {"TOP_K": 10, "SIZE": "100k", "RATIOS": [0.7, 0.3]}


@pytest.mark.parametrize("source", ["import os", "K = os.getcwd()", "A, B = 1, 2"])
def test_parameters_cell_rejects_code(tmp_path: Path, source: str) -> None:
    path = _write(tmp_path / "a.ipynb", [_params_cell(source)])
    with pytest.raises(ConfigError):
        nbu.declared_parameters(path)


@pytest.mark.parametrize("n", [0, 2])
def test_exactly_one_parameters_cell(tmp_path: Path, n: int) -> None:
    path = _write(tmp_path / "a.ipynb", [_params_cell("K = 1") for _ in range(n)])
    with pytest.raises(ConfigError, match=f"found {n}"):
        nbu.declared_parameters(path)


def test_undeclared_parameter_is_an_error_before_running(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.ipynb", [_params_cell("TOP_K = 10")])
    with pytest.raises(ConfigError, match=r"TOPK.*declares \['TOP_K'\]"):
        nbu.execute_notebook(path, tmp_path / "out.ipynb", parameters={"TOPK": 5})


def test_read_notebook_collects_records(tmp_path: Path) -> None:
    cell = nbformat.v4.new_code_cell("store_metadata(...)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={nbu.METADATA_MIME: {"name": "ndcg", "value": 0.25}}
        ),
        nbformat.v4.new_output("stream", text="hello"),
        nbformat.v4.new_output(
            "display_data", data={nbu.METADATA_MIME: {"name": "ndcg", "value": 0.5}}
        ),
    ]
    other = nbformat.v4.new_code_cell("x")
    other.outputs = [
        nbformat.v4.new_output("display_data", data={nbu.METADATA_MIME: {"name": "n", "value": 3}})
    ]
    path = _write(tmp_path / "a.ipynb", [cell, other])
    assert nbu.read_notebook(path) == {"ndcg": 0.5, "n": 3}


def test_store_metadata_validates_outside_notebook() -> None:
    np = pytest.importorskip("numpy")
    nbu.store_metadata("ok", np.float64(0.5))  # outside IPython: logged, no error
    with pytest.raises(DataError, match="JSON"):
        nbu.store_metadata("bad", object())
    with pytest.raises(ConfigError):
        nbu.store_metadata("", 1)


def test_nan_and_inf_are_recorded_as_null_not_strings(tmp_path: Path) -> None:
    """Bug: _to_jsonable turned NaN/inf into the strings 'nan'/'inf'."""
    np = pytest.importorskip("numpy")
    value = {"ndcg": np.float64("nan"), "curve": [1.0, float("inf"), -np.inf], "n": np.int64(3)}
    assert nbu._to_jsonable(value) == {"ndcg": None, "curve": [1.0, None, None], "n": 3}
    assert nbu._to_jsonable(np.array([0.5, np.nan])) == [0.5, None]
    nbu.store_metadata("undefined", float("nan"))  # accepted, recorded as null
    cell = nbformat.v4.new_code_cell("store_metadata(...)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={nbu.METADATA_MIME: {"name": "a", "value": None}}
        ),
        # a writer that stores the record as JSON text with a bare NaN token
        nbformat.v4.new_output(
            "display_data", data={nbu.METADATA_MIME: '{"name": "b", "value": [NaN, 1.5]}'}
        ),
    ]
    path = _write(tmp_path / "nan.ipynb", [cell])
    assert nbu.read_notebook(path) == {"a": None, "b": [None, 1.5]}


def test_store_metadata_stays_strict_for_other_values() -> None:
    with pytest.raises(DataError, match="JSON"):
        nbu.store_metadata("bad", {"x": {1, 2}})
    with pytest.raises(DataError, match="JSON"):
        nbu.store_metadata("bad", b"bytes")
