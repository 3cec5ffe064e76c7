"""DLRM's pairwise dot-product interaction (Naumov et al. 2019)."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._fields import common_dim, stack_fields
from recutils.nn.components._torch import nn, torch


class DotInteraction(nn.Module):
    """Dot products of every pair of fields, ``<v_i, v_j>`` for ``i < j``.

    In DLRM the first field is the dense "bottom MLP" output (an ``MLP`` block over the
    numeric features ending in the embedding width) and the others are the sparse
    features' embeddings; the result, with the bottom output in front, feeds the top MLP.

    Args:
        input_dims: Widths of the fields (all equal; filled in by the backbone).
        self_interaction: Also include ``<v_i, v_i>``.
        concat_first: Prepend the first field (the bottom MLP output) to the dot products.

    Input: a list of ``[B, d]`` fields. Output ``[B, d * concat_first + n_pairs]``.
    """

    def __init__(
        self, input_dims: Sequence[int], self_interaction: bool = False, concat_first: bool = True
    ) -> None:
        super().__init__()
        self.num_fields, self.dim = common_dim("DotInteraction", input_dims)
        left, right = torch.triu_indices(
            self.num_fields, self.num_fields, offset=0 if self_interaction else 1
        )
        if left.numel() == 0:
            raise ValueError("DotInteraction needs at least two fields (or self_interaction)")
        self.register_buffer("flat_index", left * self.num_fields + right, persistent=False)
        self.concat_first = bool(concat_first)
        self.output_dim = int(left.numel()) + (self.dim if self.concat_first else 0)

    def forward(self, xs: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        v = stack_fields("DotInteraction", xs, self.num_fields, self.dim)
        gram = (v @ v.transpose(1, 2)).flatten(1)  # [B, n*n]
        dots = gram.index_select(1, self.flat_index)
        return torch.cat([v[:, 0], dots], dim=1) if self.concat_first else dots
