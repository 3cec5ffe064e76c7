"""Shared pieces of the matrix-factorisation wrappers (cornac, implicit, ...).

A factor model scores user ``u`` and item ``i`` as

    s(u, i) = p_u . q_i + b_i

with ``P = user_factors_`` (``n_users x k``), ``Q = item_factors_``
(``n_items x k``) and an optional item bias ``b = item_bias_``. The wrappers
learn ``P``, ``Q`` and ``b`` with the wrapped library and keep only these arrays:
ranking every user is one dense product per block of users (BLAS), save/load
writes the arrays (no pickle), and a loaded model scores without the library.

:func:`appearance_order` numbers users and items by first appearance in the
training rows, the way cornac's ``Dataset.from_uir`` does. The wrappers hand the
library that numbering (and map the factors back to recutils' sorted-id order),
so a fit under a seed depends on the rows of the training frame, not on how the
ids sort, and matches what the library gives when used directly on the same frame.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError
from recutils.models import persistence
from recutils.models.base import KnownAnswer
from recutils.utils.validation import (  # noqa: F401  (re-exported: the wrappers import them from here)
    check_bool,
    check_choice,
    check_number,
    check_positive_int,
    check_seed,
)

logger = logging.getLogger(__name__)

_PAIR_BLOCK = 1 << 16


def appearance_order(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber ``codes`` (in ``[0, n)``, each value present) by first appearance.

    Returns:
        ``(new_codes, inverse)``: ``new_codes[r]`` is the appearance rank of
        ``codes[r]``; ``inverse[c]`` is the appearance rank of code ``c``, so an
        array indexed by appearance rank is put back in code order with
        ``array[inverse]``.
    """
    _, first = np.unique(codes, return_index=True)
    if first.size != n:
        raise ValueError(f"expected {n} distinct codes, got {first.size}")
    order = np.argsort(first, kind="stable")  # order[rank] = code
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n, dtype=np.int64)
    return inverse[codes], inverse


def check_extra(
    extra: Any, reserved: list[str], library: str, allowed: list[str] | None = None
) -> None:
    """Validate pass-through options for ``library``.

    Raises:
        ConfigError: ``extra`` is not a dict with string keys, names an option the
            library does not take (when ``allowed`` is given; the message lists the
            ones it does), or one recutils sets itself.
    """
    if not isinstance(extra, dict):
        raise ConfigError(f"extra must be a dict of {library} options, got {type(extra).__name__}.")
    if not all(isinstance(k, str) for k in extra):
        raise ConfigError(
            f"extra keys must be {library} option names (strings), got {list(extra)}."
        )
    clash = sorted(k for k in extra if k in reserved)
    if clash:
        raise ConfigError(
            f"extra sets {clash}, which recutils sets itself for {library}; "
            "use the config field of that name instead."
        )
    unknown = [] if allowed is None else sorted(k for k in extra if k not in allowed)
    if unknown:
        passable = sorted(k for k in allowed if k not in reserved)
        raise ConfigError(f"unknown {library} option(s) {unknown} in extra; allowed: {passable}.")


def block_toy() -> tuple[pd.DataFrame, dict[Any, list[Any]]]:
    """Two disjoint communities; each user misses one item of their own block.

    Users 1-6 take items from ``{1, ..., 5}`` and users 7-12 from ``{6, ..., 10}``.
    A factor model must recommend first the one item of their block the user
    lacks. Returns ``(train, expected top-1 items)``.
    """
    rows = []
    expected: dict[Any, list[Any]] = {}
    for users, items in ((range(1, 7), range(1, 6)), (range(7, 13), range(6, 11))):
        items = list(items)
        for n, user in enumerate(users):
            missing = items[n % len(items)]
            rows += [(user, item) for item in items if item != missing]
            expected[user] = [missing]
    train = pd.DataFrame(rows, columns=["userID", "itemID"])
    train["rating"] = 1.0
    return train, expected


def block_toy_case(params: dict[str, Any], users: tuple[Any, ...] = (1, 2, 8, 12)) -> KnownAnswer:
    """:func:`block_toy` as a contract known answer (top-1, seen items removed)."""
    train, expected = block_toy()
    checked = {u: expected[u] for u in users}
    return KnownAnswer(
        train=train,
        users=list(checked),
        top_k=1,
        remove_seen=True,
        expected=checked,
        params=dict(params),
    )


def check_factor_arrays(
    arrays: Mapping[str, Any],
    n_users: int,
    n_items: int,
    *,
    user: str = "user_factors",
    item: str = "item_factors",
) -> int:
    """Check saved factor matrices before use: ``user`` is ``n_users x k``, ``item`` is
    ``n_items x k`` with the same ``k``, both numbers and finite; return ``k``.

    Raises:
        ArtifactArrayError: see :func:`recutils.models.persistence.check_array`.
    """
    users = persistence.check_array(arrays, user, persistence.NUMBER, (n_users, None))
    persistence.check_array(arrays, item, persistence.NUMBER, (n_items, users.shape[1]))
    return int(users.shape[1])


class FactorScoringMixin:
    """``_score_users`` / ``_score_pairs`` / save-load for ``s(u, i) = p_u . q_i + b_i``.

    A model using it sets ``user_factors_``, ``item_factors_`` and ``item_bias_``
    (an array or ``None``) in ``_fit``. Scores are computed in float64.
    Users not seen in training get the item-bias ranking when there is a bias
    (the part of the score that does not depend on the user), else are skipped.
    """

    user_factors_: np.ndarray
    item_factors_: np.ndarray
    item_bias_: np.ndarray | None

    def _set_factors(
        self,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        item_bias: np.ndarray | None = None,
    ) -> None:
        self.user_factors_ = np.ascontiguousarray(user_factors)
        self.item_factors_ = np.ascontiguousarray(item_factors)
        self.item_bias_ = None if item_bias is None else np.ascontiguousarray(item_bias)
        self._item_factors_t = np.ascontiguousarray(self.item_factors_.T, dtype=np.float64)

    def _item_t(self) -> np.ndarray:
        cached = self.__dict__.get("_item_factors_t")
        if cached is None:
            cached = np.ascontiguousarray(self.item_factors_.T, dtype=np.float64)
            self._item_factors_t = cached
        return cached

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        scores = self.user_factors_[user_idx].astype(np.float64) @ self._item_t()
        if self.item_bias_ is not None:
            scores += self.item_bias_
        return scores

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        out = np.empty(user_idx.size, dtype=np.float64)
        for s in range(0, user_idx.size, _PAIR_BLOCK):
            u, i = user_idx[s : s + _PAIR_BLOCK], item_idx[s : s + _PAIR_BLOCK]
            out[s : s + _PAIR_BLOCK] = np.einsum(
                "ij,ij->i",
                self.user_factors_[u].astype(np.float64),
                self.item_factors_[i].astype(np.float64),
            )
            if self.item_bias_ is not None:
                out[s : s + _PAIR_BLOCK] += self.item_bias_[i]
        return out

    def _unknown_user_scores(self, **kwargs: Any) -> np.ndarray | None:
        if self.item_bias_ is None:
            return None
        return self.item_bias_.astype(np.float64)

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"user_factors": self.user_factors_, "item_factors": self.item_factors_}
        if self.item_bias_ is not None:
            arrays["item_bias"] = self.item_bias_
        return arrays, self._extra_state()

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        check_factor_arrays(arrays, len(self.user_ids_), len(self.item_ids_))
        if "item_bias" in arrays:
            persistence.check_array(arrays, "item_bias", persistence.NUMBER, (len(self.item_ids_),))
        self._set_factors(arrays["user_factors"], arrays["item_factors"], arrays.get("item_bias"))
        self._set_extra_state(meta)

    def _extra_state(self) -> dict[str, Any]:
        """JSON-able fitted metadata beyond the factors (override)."""
        return {}

    def _set_extra_state(self, meta: Mapping[str, Any]) -> None:
        """Restore :meth:`_extra_state` (override)."""


__all__ = [
    "FactorScoringMixin",
    "appearance_order",
    "block_toy",
    "block_toy_case",
    "check_factor_arrays",
    "check_bool",
    "check_choice",
    "check_extra",
    "check_number",
    "check_positive_int",
    "check_seed",
]
