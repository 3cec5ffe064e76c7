"""Import optional dependencies with an error that names the pip extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from recutils.exceptions import MissingDependencyError


def is_spark_frame(obj: object) -> bool:
    """Whether ``obj`` is a Spark DataFrame (classic or Connect), tested without importing pyspark."""
    kind = type(obj)
    return kind.__module__.startswith("pyspark.sql") and kind.__name__ == "DataFrame"


def require(module: str, extra: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError`.

    Args:
        module: Dotted module name to import, e.g. ``"pyspark.sql"``.
        extra: The recutils extra that installs it, e.g. ``"spark"``.
        package: The distribution name shown to the user when it differs from
            the top-level module name (``"scikit-surprise"`` for ``surprise``).

    Returns:
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        name = package or module.split(".")[0]
        raise MissingDependencyError(name, extra, detail=str(err)) from err


__all__ = ["is_spark_frame", "require"]
