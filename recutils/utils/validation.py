"""Input checks shared by splitters, metrics and models."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from recutils.exceptions import ColumnMismatchError


def check_columns(df: pd.DataFrame, columns: Iterable[str], name: str = "data") -> None:
    """Raise :class:`ColumnMismatchError` if ``df`` lacks any of ``columns``.

    Args:
        df: The frame to check.
        columns: Column names that must be present (``None`` entries are ignored).
        name: How the frame is called in the error message (``"rating_true"``).
    """
    if not isinstance(df, pd.DataFrame):
        raise ColumnMismatchError(
            f"{name} must be a pandas DataFrame, got {type(df).__name__}."
        )
    wanted = [c for c in columns if c is not None]
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise ColumnMismatchError(
            f"{name} is missing column(s) {missing}; it has {list(df.columns)}. "
            "Pass the right names with col_user=, col_item=, col_rating=, "
            "col_timestamp= or col_prediction=."
        )


__all__ = ["check_columns"]
