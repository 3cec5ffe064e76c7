"""recutils: building, evaluating, tuning and shipping recommender systems.

The top-level import is light on purpose: it pulls in only numpy, pandas and
scipy. Optional back-ends (Spark, PyTorch, cornac, ...) are imported by the
modules that need them and raise :class:`recutils.exceptions.MissingDependencyError`
naming the pip extra to install when they are absent.
"""

import logging as _logging

__version__ = "0.1.0"

# The library never configures handlers; applications decide where logs go.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

__all__ = ["__version__"]
