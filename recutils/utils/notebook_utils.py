"""Microsoft Recommenders' ``recommenders.utils.notebook_utils`` names, on recutils' notebook tools.

``from recutils.utils.notebook_utils import store_metadata, read_notebook, execute_notebook,
is_jupyter, is_databricks`` works as their import does. :func:`store_metadata` and
:func:`read_notebook` are :mod:`recutils.utils.notebook`'s; :func:`execute_notebook` takes
their argument names (``input_notebook``, ``output_notebook``) and checks, as recutils
does, that every parameter is declared in the notebook's ``parameters`` cell.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recutils.utils import notebook as _notebook
from recutils.utils.notebook import read_notebook, store_metadata

#: The working directory of a Databricks notebook's driver.
DATABRICKS_DRIVER_DIR = "/databricks/driver"


def is_jupyter() -> bool:
    """True inside a Jupyter kernel (notebook, lab or console), False elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def is_databricks() -> bool:
    """True on a Databricks driver (runtime variable set, or its driver folder as cwd)."""
    return (
        "DATABRICKS_RUNTIME_VERSION" in os.environ or os.path.realpath(".") == DATABRICKS_DRIVER_DIR
    )


def execute_notebook(
    input_notebook: str | Path,
    output_notebook: str | Path,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = "python3",
    timeout: float | None = 2200,
) -> dict[str, Any]:
    """Run ``input_notebook`` with ``parameters`` and write it to ``output_notebook``.

    :func:`recutils.utils.notebook.execute_notebook` under Microsoft Recommenders' argument
    names and defaults (kernel ``"python3"``, 2200 s per cell). Differences: a parameter not
    declared in the notebook's ``parameters`` cell raises
    :class:`~recutils.exceptions.ConfigError` (theirs silently skips it), the notebook runs
    from its own folder, and the recorded values are returned (theirs returns None).
    """
    return _notebook.execute_notebook(
        input_notebook,
        output_notebook,
        parameters=parameters,
        kernel_name=kernel_name,
        timeout=timeout,
    )


__all__ = ["is_jupyter", "is_databricks", "execute_notebook", "store_metadata", "read_notebook"]
