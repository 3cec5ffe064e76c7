"""Run notebooks with parameters and read back the metrics they record.

Inside a notebook, :func:`store_metadata` records a named JSON value in the
cell's output. :func:`execute_notebook` runs a notebook with papermill (from the
notebook's own folder) after checking that every parameter passed is declared in
its ``parameters`` cell, and :func:`read_notebook` collects the recorded values
from an executed notebook. papermill and nbformat come with the ``notebooks``
extra.

Notebooks are committed with the outputs of a run with their default parameters.
:func:`clean_outputs` removes what must not be stored (progress bars, widget state,
papermill's timings), :func:`stamp_notebook` records in the notebook's metadata a
hash of its code cells with the version, date and machine of that run, and
:func:`stamp_status` tells whether the stored outputs still belong to the code
(``tools/notebooks.py`` runs and checks them).
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recutils.exceptions import ConfigError, DataError
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

#: MIME type under which :func:`store_metadata` writes its records.
METADATA_MIME = "application/vnd.recutils.metadata+json"
PARAMETERS_TAG = "parameters"
#: Key of the stamp in a notebook's metadata.
STAMP_KEY = "recutils_run"
#: Output MIME types never stored: interactive widget state that no static page renders.
_DROPPED_MIME = (
    "application/vnd.jupyter.widget-view+json",
    "application/vnd.jupyter.widget-state+json",
)
#: A stream chunk drawn by a text progress bar (carriage-return redraws or tqdm's bar text).
_PROGRESS_TEXT = re.compile(r"\r|\d+%\|[^|\n]*\|")


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


def code_digest(nb: Any) -> str:
    """SHA-256 of a notebook's code cells' sources, in order (markdown cells do not count).

    Cells that papermill injects (tagged ``injected-parameters``) are left out, so a
    notebook run with parameters keeps the digest of its committed form.
    """
    sources = [
        cell.source
        for cell in nb.cells
        if cell.cell_type == "code"
        and "injected-parameters" not in cell.get("metadata", {}).get("tags", [])
    ]
    return hashlib.sha256(json.dumps(sources, ensure_ascii=False).encode("utf-8")).hexdigest()


def _is_progress_output(output: Any) -> bool:
    if output.get("output_type") == "stream":
        return output.get("name") == "stderr" and bool(
            _PROGRESS_TEXT.search(output.get("text", ""))
        )
    data = output.get("data", {})
    return any(mime in data for mime in _DROPPED_MIME)


def clean_outputs(nb: Any) -> Any:
    """Remove what a stored notebook must not carry, in place; returns ``nb``.

    Drops progress bars (widget outputs and stderr chunks a text bar redraws), the
    injected-parameters cell papermill adds, and papermill's run metadata (per-cell
    timings and status, the notebook-level ``papermill`` section, widget state).
    Everything else (tables, images, printed metrics, recorded values) stays.
    """
    nb.cells = [
        cell
        for cell in nb.cells
        if "injected-parameters" not in cell.get("metadata", {}).get("tags", [])
    ]
    for cell in nb.cells:
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("metadata", {}).get("tags") == []:
            del cell.metadata["tags"]
        if cell.cell_type == "code":
            cell.outputs = [out for out in cell.get("outputs", []) if not _is_progress_output(out)]
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    return nb


def stamp_notebook(nb: Any, *, version: str, machine: str, date: str) -> Any:
    """Record in ``nb.metadata[STAMP_KEY]`` the code digest and the run's context; returns ``nb``.

    Args:
        nb: An executed notebook node.
        version: The recutils version the outputs were produced with.
        machine: One line describing the machine (CPU, cores, memory).
        date: The run's date (ISO ``YYYY-MM-DD``).
    """
    nb.metadata[STAMP_KEY] = {
        "code_sha256": code_digest(nb),
        "recutils_version": version,
        "date": date,
        "machine": machine,
    }
    return nb


def stamp_status(nb: Any) -> str:
    """Whether a notebook's stored outputs belong to its code.

    Returns:
        ``"ok"``; ``"unstamped"`` (never stored by a run); ``"stale"`` (code cells changed
        since the run that produced the outputs); or ``"no-outputs"`` (stamped, but no code
        cell has an output).
    """
    stamp = nb.metadata.get(STAMP_KEY)
    if not isinstance(stamp, Mapping) or "code_sha256" not in stamp:
        return "unstamped"
    if stamp["code_sha256"] != code_digest(nb):
        return "stale"
    if not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"):
        return "no-outputs"
    return "ok"


__all__ = [
    "METADATA_MIME",
    "STAMP_KEY",
    "clean_outputs",
    "code_digest",
    "stamp_notebook",
    "stamp_status",
    "store_metadata",
    "read_notebook",
    "declared_parameters",
    "parameters_cells",
    "execute_notebook",
]
