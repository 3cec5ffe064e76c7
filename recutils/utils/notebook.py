"""Run notebooks with parameters and read back the metrics they record.

Inside a notebook, :func:`store_metadata` records a named JSON value in the
cell's output. :func:`execute_notebook` runs a notebook with papermill (from the
notebook's own folder) after checking that every parameter passed is declared in
its ``parameters`` cell, and :func:`read_notebook` collects the recorded values
from an executed notebook. papermill and nbformat come with the ``notebooks``
extra.
"""

from __future__ import annotations

import ast
import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recutils.exceptions import ConfigError, DataError
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

#: MIME type under which :func:`store_metadata` writes its records.
METADATA_MIME = "application/vnd.recutils.metadata+json"
PARAMETERS_TAG = "parameters"


def _to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples into plain JSON values.

    NaN and +/-inf (a metric that is undefined, e.g. on an empty test set) become
    ``None`` (JSON ``null``), so they stay numbers-or-missing for the reader
    rather than turning into strings.
    """
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    return value


def _finite_or_none(value: Any) -> Any:
    """NaN/inf read back from a record (a text record may hold ``NaN`` tokens) -> ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    return value


def store_metadata(name: str, value: Any) -> None:
    """Record ``value`` under ``name`` in the output of the current notebook cell.

    The value must be JSON-serialisable once numpy scalars and arrays are turned
    into Python numbers and lists; NaN and infinities are recorded as ``null``
    (read back as ``None``). Outside IPython the call only logs the value.

    Args:
        name: Metric or artefact name, e.g. ``"ndcg_at_10"``.
        value: A number, string, boolean, list or dict.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"store_metadata needs a non-empty string name, got {name!r}.")
    payload = {"name": name, "value": _to_jsonable(value)}
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise DataError(
            f"store_metadata({name!r}, ...) needs a JSON-serialisable value, "
            f"got {type(value).__name__}."
        ) from err
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: nothing to record into
        logger.info("metadata %s = %r (not in a notebook)", name, payload["value"])
        return
    if get_ipython() is None:
        logger.info("metadata %s = %r (not in a notebook)", name, payload["value"])
        return
    display({METADATA_MIME: payload, "text/plain": f"{name}: {payload['value']!r}"}, raw=True)


def read_notebook(path: str | Path) -> dict[str, Any]:
    """Return the values recorded with :func:`store_metadata` in an executed notebook.

    Later records of the same name override earlier ones. A value recorded as NaN
    or infinity comes back as ``None``.
    """
    nbformat = require("nbformat", "notebooks")
    nb = nbformat.read(str(path), as_version=4)
    out: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if METADATA_MIME in data:
                record = data[METADATA_MIME]
                if isinstance(record, str):  # some writers store JSON as text
                    record = json.loads(record)
                out[record["name"]] = _finite_or_none(record["value"])
    return out


def parameters_cells(nb: Any) -> list[int]:
    """Indices of the code cells tagged ``parameters`` in a notebook node."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and PARAMETERS_TAG in cell.get("metadata", {}).get("tags", [])
    ]


def _single_name_target(node: ast.stmt) -> str | None:
    """The assigned name of ``NAME = value`` / ``NAME: type = value``, else None."""
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target = node.target
    else:
        return None
    return target.id if isinstance(target, ast.Name) else None


def declared_parameters(path: str | Path) -> dict[str, Any]:
    """Names and default values assigned in the notebook's one ``parameters`` cell.

    Only simple literal assignments are allowed there (``TOP_K = 10``); the values
    are read with :func:`ast.literal_eval`, never executed.

    Raises:
        ConfigError: if the notebook has no or several ``parameters`` cells, or the
            cell holds anything but literal assignments.
    """
    nbformat = require("nbformat", "notebooks")
    nb = nbformat.read(str(path), as_version=4)
    cells = parameters_cells(nb)
    if len(cells) != 1:
        raise ConfigError(
            f"{path} must have exactly one code cell tagged 'parameters', found {len(cells)}."
        )
    source = nb.cells[cells[0]].source
    tree = ast.parse(source)
    declared: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # a bare string used as a comment
        target = _single_name_target(node)
        if target is None:
            raise ConfigError(
                f"{path}: the parameters cell may hold only 'NAME = literal' lines, "
                f"found: {ast.unparse(node)!r}"
            )
        try:
            declared[target] = ast.literal_eval(node.value)  # type: ignore[attr-defined]
        except ValueError as err:
            raise ConfigError(f"{path}: parameter {target} must be a literal value.") from err
    return declared


def execute_notebook(
    path: str | Path,
    output_path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = None,
    timeout: float | None = None,
    progress_bar: bool = False,
) -> dict[str, Any]:
    """Execute a notebook with papermill and return the values it recorded.

    The notebook runs with its own folder as working directory, so relative paths
    inside it behave as when a person opens it there.

    Args:
        path: The notebook to run.
        output_path: Where the executed notebook is written.
        parameters: Values injected after the ``parameters`` cell; every name must
            be declared there.
        kernel_name: Jupyter kernel; default the one in the notebook's metadata.
        timeout: Seconds allowed per cell (None: no limit).
        progress_bar: Show papermill's progress bar.

    Returns:
        The records of :func:`store_metadata`, as :func:`read_notebook` reads them.

    Raises:
        ConfigError: a parameter is not declared in the notebook.
    """
    path = Path(path).resolve()
    output_path = Path(output_path).resolve()
    params = dict(parameters or {})
    declared = declared_parameters(path)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ConfigError(
            f"{path.name} does not declare parameter(s) {unknown}; "
            f"its parameters cell declares {sorted(declared)}."
        )
    papermill = require("papermill", "notebooks")
    logger.info("executing %s with %s", path, params)
    papermill.execute_notebook(
        str(path),
        str(output_path),
        parameters=params,
        kernel_name=kernel_name,
        cwd=str(path.parent),
        execution_timeout=timeout,
        progress_bar=progress_bar,
        log_output=False,
    )
    return read_notebook(output_path)


__all__ = [
    "METADATA_MIME",
    "store_metadata",
    "read_notebook",
    "declared_parameters",
    "parameters_cells",
    "execute_notebook",
]
