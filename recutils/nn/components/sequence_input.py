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

from typing import NamedTuple

from recutils.nn.components._torch import torch


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


__all__ = ["SequenceFeatures"]
