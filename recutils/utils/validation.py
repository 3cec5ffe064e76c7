"""Input checks shared by splitters, metrics, configs, models and the command line.

Every check raises :class:`~recutils.exceptions.ConfigError` (or, for frames,
:class:`~recutils.exceptions.ColumnMismatchError`) with a message that names the bad
value and what is allowed. ``bool`` is never accepted where a number is expected
(``True`` is an ``int`` to Python, not a count to a user). Where a caller names its
owner (``owner="block 'mlp'"``), the message starts with it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from recutils.exceptions import ColumnMismatchError, ConfigError


def _where(owner: str | None, name: str) -> str:
    return f"{owner}: {name}" if owner else name


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (Python or numpy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (Python or numpy), not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_positive_int(name: str, value: Any, minimum: int = 1, *, owner: str | None = None) -> int:
    """``value`` as an ``int`` >= ``minimum``, else :class:`ConfigError`."""
    if not is_int(value) or value < minimum:
        raise ConfigError(f"{_where(owner, name)} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_number(
    name: str,
    value: Any,
    minimum: float = 0.0,
    strict: bool = False,
    *,
    maximum: float | None = None,
    owner: str | None = None,
) -> float:
    """``value`` as a finite ``float`` >= ``minimum`` (> with ``strict``) and <= ``maximum``,
    else :class:`ConfigError`."""
    ok = (
        is_number(value)
        and math.isfinite(value)
        and (value > minimum if strict else value >= minimum)
        and (maximum is None or value <= maximum)
    )
    if not ok:
        op = ">" if strict else ">="
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ConfigError(
            f"{_where(owner, name)} must be a finite number {op} {minimum}{upper}, got {value!r}."
        )
    return float(value)


def check_probability(
    name: str, value: Any, *, open_right: bool = False, owner: str | None = None
) -> float:
    """``value`` as a float in ``[0, 1]`` (``[0, 1)`` with ``open_right``), else :class:`ConfigError`."""
    ok = (
        is_number(value)
        and math.isfinite(value)
        and 0.0 <= value
        and (value < 1.0 if open_right else value <= 1.0)
    )
    if not ok:
        interval = "[0, 1)" if open_right else "[0, 1]"
        raise ConfigError(f"{_where(owner, name)} must be a number in {interval}, got {value!r}.")
    return float(value)


def check_bool(name: str, value: Any, *, owner: str | None = None) -> bool:
    """``value`` if it is ``True`` or ``False``, else :class:`ConfigError`."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{_where(owner, name)} must be True or False, got {value!r}.")
    return bool(value)


def check_seed(value: Any, name: str = "seed") -> int | None:
    """``value`` if it is ``None`` or an int >= 0, else :class:`ConfigError`."""
    if value is not None and (not is_int(value) or value < 0):
        raise ConfigError(f"{name} must be None or an integer >= 0, got {value!r}.")
    return None if value is None else int(value)


def check_choice(
    name: str, value: Any, allowed: Mapping[str, Any] | Collection[str], *, owner: str | None = None
) -> str:
    """``value`` if it is one of the ``allowed`` strings, else :class:`ConfigError` listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(
            f"{_where(owner, name)}={value!r} is not supported; allowed: {sorted(allowed)}."
        )
    return value


def check_positive_ints(
    name: str,
    values: Any,
    *,
    owner: str | None = None,
    allow_scalar: bool = True,
    allow_empty: bool = False,
) -> list[int]:
    """``values`` (a list/tuple of ints > 0, or one int with ``allow_scalar``) as a list,
    else :class:`ConfigError`."""
    if allow_scalar and is_int(values):
        values = [values]
    if (
        not isinstance(values, (list, tuple))
        or (not values and not allow_empty)
        or not all(is_int(v) and v > 0 for v in values)
    ):
        what = (
            "a list of positive integers"
            if allow_empty
            else "a non-empty list of positive integers"
        )
        raise ConfigError(f"{_where(owner, name)} must be {what}, got {values!r}.")
    return [int(v) for v in values]


def check_type(
    name: str, value: Any, types: type | tuple[type, ...], what: str, *, owner: str | None = None
) -> Any:
    """``value`` if it is an instance of ``types`` (a bool only where ``bool`` is listed),
    else :class:`ConfigError` saying it must be ``what``."""
    types = types if isinstance(types, tuple) else (types,)
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        raise ConfigError(f"{_where(owner, name)} must be {what}, got {value!r}.")
    return value


def check_optional_path(name: str, value: Any, *, owner: str | None = None) -> str | None:
    """``value`` if it is ``None`` or a non-empty string (a file or folder path)."""
    if value is not None and not (isinstance(value, str) and value):
        raise ConfigError(
            f"{_where(owner, name)} must be None or a folder path (string), got {value!r}."
        )
    return value


def check_columns(df: pd.DataFrame, columns: Iterable[str], name: str = "data") -> None:
    """Raise :class:`ColumnMismatchError` if ``df`` lacks any of ``columns``.

    Args:
        df: The frame to check.
        columns: Column names that must be present (``None`` entries are ignored).
        name: How the frame is called in the error message (``"rating_true"``).
    """
    if not isinstance(df, pd.DataFrame):
        raise ColumnMismatchError(f"{name} must be a pandas DataFrame, got {type(df).__name__}.")
    wanted = [c for c in columns if c is not None]
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise ColumnMismatchError(
            f"{name} is missing column(s) {missing}; it has {list(df.columns)}. "
            "Pass the right names with col_user=, col_item=, col_rating=, "
            "col_timestamp= or col_prediction=."
        )


__all__ = [
    "check_bool",
    "check_choice",
    "check_columns",
    "check_number",
    "check_optional_path",
    "check_positive_int",
    "check_positive_ints",
    "check_probability",
    "check_seed",
    "check_type",
    "is_int",
    "is_number",
]
