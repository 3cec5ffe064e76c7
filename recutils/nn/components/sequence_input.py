"""What a ``SEQUENCE`` feature group gives the components that read behaviour sequences.

A ``SEQUENCE`` feature group (``wide_deep: SEQUENCE``) holds the ``sequence`` features of a
user's history (items, categories, behaviour types, times: one value per position, all of
the same ``max_length``) and, optionally, ordinary features of the **target** (the candidate
item, its category): the *query*. Its input layer outputs one :class:`SequenceFeatures`:

* ``seq`` ``[B, L, d]``: at each position the embeddings of the group's id sequence features,
  concatenated in the group's order (numeric sequences, such as time gaps, are not part of it);
* ``mask`` ``[B, L]`` bool: ``True`` at real positions. Histories are **right-padded**:
  position 0 is the oldest kept behaviour, real positions come first, padding after;
* ``query`` ``[B, d_q]`` or ``None``: the target's features embedded and concatenated in the
  group's order (``None`` when the group has no target features). A history feature and a
  target feature that share an ``embedding_name`` share the table, so ``d_q == d`` when the
  group pairs every history feature with a target feature (DIN's item and category);
* ``times`` ``[B, L]`` float or ``None``: the group's numeric sequence feature (at most one),
  e.g. the time between each behaviour and the target, normalized like a numeric feature.

Components that read it are registered with ``sequence_input=True`` and are called as
``module(x: SequenceFeatures) -> Tensor [B, d_out]``; the backbone refuses a ``SEQUENCE``
group fed to any other component (and a plain group fed to a sequence component) with a
``ConfigError`` naming the block. A component with an auxiliary training loss (DIEN's)
stores it after each training-mode forward as ``self.auxiliary_loss`` (a scalar tensor, or
``None``); the network adds ``auxiliary_loss_weight * auxiliary_loss`` to the loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from recutils.nn.components._torch import nn, torch
from recutils.nn.components.input_layer import EmbeddingBank, GroupFeature


class SequenceFeatures(NamedTuple):
    """The output of a ``SEQUENCE`` group's input layer (module docstring)."""

    seq: torch.Tensor
    mask: torch.Tensor
    query: torch.Tensor | None = None
    times: torch.Tensor | None = None

    @property
    def lengths(self) -> torch.Tensor:
        """``[B]`` int64: real positions per row."""
        return self.mask.sum(dim=1)


class SequenceInputLayer(nn.Module):
    """The input layer of a ``SEQUENCE`` group: history embeddings per position, mask, query.

    Args:
        history: The group's ``sequence`` features (``kind == "bag"``), all of one length.
        query: The group's single-id features (the target's), possibly none.
        bank: The model's finalized :class:`~recutils.nn.components.input_layer.EmbeddingBank`.
        times: The group's numeric sequence (``kind == "series"``), if any: ``times``.
    """

    def __init__(
        self,
        history: Sequence[GroupFeature],
        query: Sequence[GroupFeature],
        bank: EmbeddingBank,
        times: GroupFeature | None = None,
    ) -> None:
        super().__init__()
        self.times = times
        if not history:
            raise ValueError("a SEQUENCE group needs at least one sequence feature")
        self.history = list(history)
        self.query = list(query)
        self.bank = [bank]  # a list so the bank is not registered twice as a submodule
        self._history_offsets = [bank.offsets[f.table_key][1] for f in self.history]  # type: ignore[index]
        self._query_offsets = [bank.offsets[f.table_key][1] for f in self.query]  # type: ignore[index]
        self.output_dim = sum(f.dim for f in self.history)
        self.query_dim = sum(f.dim for f in self.query)

    def forward(
        self, batch: Mapping[str, torch.Tensor], shared: dict | None = None
    ) -> SequenceFeatures:
        bank = self.bank[0]
        first = batch[f"bag:{self.history[0].name}"]
        mask = first != 0
        parts = [
            bank.lookup(f.dim, batch[f"bag:{f.name}"] + off)
            for f, off in zip(self.history, self._history_offsets)
        ]
        seq = (parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)) * mask.unsqueeze(-1).to(
            parts[0].dtype
        )
        query = None
        if self.query:
            q = [
                bank.lookup(f.dim, batch["ids"][:, f.column] + off)
                for f, off in zip(self.query, self._query_offsets)
            ]
            query = q[0] if len(q) == 1 else torch.cat(q, dim=-1)
        times = None
        if self.times is not None:
            times = batch[f"series:{self.times.name}"] * mask.to(seq.dtype)
        return SequenceFeatures(seq, mask, query, times)


class SequencePooling(nn.Module):
    """Pool a ``SEQUENCE`` group's history over its real positions: ``[B, d]``.

    ``mode``: ``mean``, ``sum``, ``max`` or ``last`` (the newest behaviour). With
    ``concat_query`` the target's embedding is appended (``[B, d + d_q]``). A row with an
    empty history pools to zeros. The history-only reference a sequence component is
    compared with (what a DEEP group's mean pooling gives, plus ``last`` and ``max``).
    """

    def __init__(
        self, input_dim: int, query_dim: int = 0, mode: str = "mean", concat_query: bool = False
    ) -> None:
        super().__init__()
        if mode not in ("mean", "sum", "max", "last"):
            raise ValueError(f"mode must be mean, sum, max or last, got {mode!r}")
        if concat_query and not query_dim:
            raise ValueError("concat_query needs a SEQUENCE group with target (query) features")
        self.mode, self.concat_query = mode, bool(concat_query)

    def forward(self, x: SequenceFeatures) -> torch.Tensor:
        mask = x.mask.unsqueeze(-1).to(x.seq.dtype)
        if self.mode == "last":
            last = (x.lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, x.seq.shape[-1])
            out = x.seq.gather(1, last).squeeze(1) * (x.lengths > 0).unsqueeze(-1).to(x.seq.dtype)
        elif self.mode == "max":
            out = x.seq.masked_fill(~x.mask.unsqueeze(-1), float("-inf")).amax(dim=1)
            out = torch.where(torch.isfinite(out), out, torch.zeros_like(out))
        else:
            out = (x.seq * mask).sum(dim=1)
            if self.mode == "mean":
                out = out / mask.sum(dim=1).clamp(min=1.0)
        if self.concat_query:
            out = torch.cat([out, x.query], dim=-1)  # type: ignore[list-item]
        return out


__all__ = ["SequenceFeatures", "SequenceInputLayer", "SequencePooling"]
