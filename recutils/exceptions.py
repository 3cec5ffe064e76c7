"""The recutils exception tree.

Every error raised on purpose by recutils derives from :class:`RecUtilsError`,
so ``except RecUtilsError`` catches them all. Each also derives from the
built-in exception a caller would naturally expect (``ValueError`` for bad
values, ``ImportError`` for missing packages, ...), so generic handlers keep
working.
"""

from __future__ import annotations


class RecUtilsError(Exception):
    """Base class of every error raised by recutils."""


class NotFittedError(RecUtilsError, ValueError, AttributeError):
    """A model was used before ``fit`` was called."""


class ConfigError(RecUtilsError, ValueError):
    """A configuration value or key is invalid."""


class UnknownKeywordError(ConfigError, TypeError):
    """A function or model was called with a keyword it does not accept.

    A :class:`~recutils.exceptions.ConfigError` (so ``except RecUtilsError`` and
    ``except ValueError`` catch it) and a :class:`TypeError` (what Python raises for an
    unexpected keyword argument, so ``except TypeError`` catches it too).
    """


class ColumnMismatchError(RecUtilsError, ValueError):
    """A data frame lacks a required column, or has one of the wrong kind."""


class DataError(RecUtilsError, ValueError):
    """Input data is malformed: bad values, duplicates, NaN, bad ratios, ..."""


class CorruptDataError(DataError):
    """A downloaded or cached file failed its integrity check."""


class DatasetUnavailableError(RecUtilsError, OSError):
    """A data set cannot be obtained: no network, no cache and no mirror."""


class MissingDependencyError(RecUtilsError, ImportError):
    """An optional dependency is not installed.

    The message names the pip extra that installs it, e.g.
    ``pip install "recutils[spark]"``.
    """

    def __init__(self, package: str, extra: str, detail: str | None = None) -> None:
        self.package = package
        self.extra = extra
        message = (
            f"'{package}' is required for this feature but is not installed. "
            f'Install it with: pip install "recutils[{extra}]"'
        )
        if detail:
            message += f" ({detail})"
        super().__init__(message, name=package)


class ModelFitError(RecUtilsError, RuntimeError):
    """Training a model failed."""


class StateError(RecUtilsError, RuntimeError):
    """An object was used in a state that does not allow the call (a timer stopped
    before it was started, ...)."""


class DataWarning(UserWarning):
    """Something in the data deserves attention but is handled."""


__all__ = [
    "RecUtilsError",
    "NotFittedError",
    "ConfigError",
    "ColumnMismatchError",
    "DataError",
    "CorruptDataError",
    "DatasetUnavailableError",
    "MissingDependencyError",
    "ModelFitError",
    "StateError",
    "DataWarning",
]
