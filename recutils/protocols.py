"""Structural types shared across recutils.

:class:`Recommender` is what every model offers (see CONVENTIONS section 2).
It is a runtime-checkable :class:`typing.Protocol`, so third-party objects with
the same methods pass ``isinstance(obj, Recommender)`` without inheriting from
:class:`recutils.models.base.BaseRecommender`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd


@runtime_checkable
class Recommender(Protocol):
    """The contract every recutils model keeps.

    * ``fit(train_df) -> self``
    * ``predict(pairs_df) -> DataFrame[col_user, col_item, col_prediction]``, same
      length and order as the input; unknown users/items give NaN.
    * ``recommend_k_items(users, top_k=10, remove_seen=True) ->
      DataFrame[col_user, col_item, col_prediction, col_rank]``.
    * ``save(path)`` writes a folder; ``load(path)`` (a classmethod) rebuilds it.
    """

    def fit(self, df: pd.DataFrame) -> Any:
        """Fit on a long interactions frame; return ``self``."""
        ...

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Score (user, item) pairs."""
        ...

    def recommend_k_items(
        self,
        users: pd.DataFrame | Sequence[Any],
        top_k: int = 10,
        remove_seen: bool = True,
    ) -> pd.DataFrame:
        """Top-k items per user."""
        ...

    def save(self, path: str | Path) -> Path:
        """Write the model to a folder."""
        ...

    @classmethod
    def load(cls, path: str | Path) -> Any:
        """Rebuild a model saved with :meth:`save`."""
        ...


__all__ = ["Recommender"]
