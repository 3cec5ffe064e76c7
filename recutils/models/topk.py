"""Top-k selection shared by every model: ``check_top_k``, ``top_k_per_row`` and the ranking frame.

Ranking rules (every model): items are ordered by score descending, ties broken by
item index ascending (``top_k_per_row``, the kernel, lives in :mod:`recutils.utils.arrays`
so that the Spark building blocks below the models use the same one). ``NaN`` counts as ``-inf``; ``-inf`` entries are never returned,
so a user may get fewer than ``top_k`` rows. Ranks run 1..k.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_K
from recutils.exceptions import ConfigError, NotFittedError
from recutils.utils.arrays import top_k_per_row


def check_top_k(top_k: Any) -> int:
    """``top_k`` as an int >= 1, else :class:`ConfigError`."""
    if isinstance(top_k, (bool, np.bool_)) or not isinstance(top_k, (int, np.integer)):
        raise ConfigError(f"top_k must be a positive integer, got {top_k!r}.")
    if top_k <= 0:
        raise ConfigError(f"top_k must be a positive integer, got {top_k!r}.")
    return int(top_k)


def ranking_frame(
    requested: pd.Index,
    item_ids: pd.Index,
    parts_pos: list[np.ndarray],
    parts_idx: list[np.ndarray],
    parts_val: list[np.ndarray],
    *,
    col_user: str | None,
    col_item: str,
    col_prediction: str,
    col_rank: str,
) -> pd.DataFrame:
    """Long ranking frame from per-user blocks of (position, item index, score).

    Args:
        requested: The requested ids; ``parts_pos`` index into it.
        item_ids: The item id map; ``parts_idx`` index into it.
        parts_pos, parts_idx, parts_val: Blocks of equal shape ``(n_rows, width)``, one
            row per requested position, columns in rank order (``top_k_per_row``).
        col_user: Name of the requested-id column, or ``None`` to leave it out.
        col_item, col_prediction, col_rank: Output column names.

    Returns:
        ``DataFrame[col_user, col_item, col_prediction, col_rank]`` ordered by position
        then rank; non-finite scores dropped; id columns keep the dtypes of the maps.
    """
    width = max((p.shape[1] for p in parts_pos), default=0)
    pos = np.concatenate([p.ravel() for p in parts_pos]) if parts_pos else np.empty(0, int)
    idx = np.concatenate([p.ravel() for p in parts_idx]) if parts_idx else np.empty(0, int)
    val = np.concatenate([p.ravel() for p in parts_val]) if parts_val else np.empty(0)
    rank = np.tile(np.arange(1, width + 1, dtype=np.int64), pos.size // max(width, 1))
    keep = np.isfinite(val)
    pos, idx, val, rank = pos[keep], idx[keep], val[keep], rank[keep]
    order = np.lexsort((rank, pos))
    pos, idx, val, rank = pos[order], idx[order], val[order], rank[order]
    out: dict[str, Any] = {}
    if col_user is not None:
        out[col_user] = requested.take(pos)
    out[col_item] = item_ids.take(idx)
    out[col_prediction] = val.astype(np.float64)
    out[col_rank] = rank.astype(np.int64)
    frame = pd.DataFrame(
        {k: (v.to_numpy() if isinstance(v, pd.Index) else v) for k, v in out.items()}
    )
    for col, index in ((col_user, requested), (col_item, item_ids)):
        if col is not None and col in frame and frame[col].dtype != index.dtype:
            try:
                frame[col] = frame[col].astype(index.dtype)
            except (TypeError, ValueError):
                pass
    return frame


def popularity_fallback(model: Any, top_k: int = DEFAULT_K) -> list[tuple[Any, float]]:
    """The ``top_k`` items most users interacted with in training, ``[(item_id, count)]``.

    This is the documented fallback for users without recommendations: it needs only
    the training matrix every recutils model keeps (``seen_``); ties go to the lower
    item index, as in every ranking.
    """
    k = check_top_k(top_k)
    seen = getattr(model, "seen_", None)
    if seen is None:
        raise NotFittedError(f"{type(model).__name__} has no training matrix (fit it first).")
    counts = np.asarray(seen.sum(axis=0), dtype=np.float64).ravel()
    idx, val = top_k_per_row(counts[None, :], k)
    items = model.item_ids_.take(idx[0])
    return [(_plain(i), float(v)) for i, v in zip(items, val[0]) if np.isfinite(v)]


def _plain(value: Any) -> Any:
    """A numpy scalar as the plain Python value (JSON-able); anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


__all__ = ["check_top_k", "popularity_fallback", "ranking_frame", "top_k_per_row"]
