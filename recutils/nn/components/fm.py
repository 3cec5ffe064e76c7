"""Factorization machine second-order interaction."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._torch import nn, torch


class FM(nn.Module):
    """Pairwise interactions ``sum_{i<j} <v_i, v_j>`` of feature embeddings.

    Uses ``0.5 * ((sum_i v_i)^2 - sum_i v_i^2)``, linear in the number of features.

    Args:
        reduce_sum: Sum over the embedding dimension (output ``[B, 1]``); otherwise
            return the ``[B, d]`` interaction vector.

    Input: a list of ``[B, d]`` tensors (one per feature) or one ``[B, n, d]`` tensor.
    """

    def __init__(self, reduce_sum: bool = True) -> None:
        super().__init__()
        self.reduce_sum = bool(reduce_sum)

    def forward(self, xs: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        if isinstance(xs, torch.Tensor):
            v = xs if xs.dim() == 3 else xs.unsqueeze(1)
        else:
            shapes = [tuple(x.shape) for x in xs]
            if not xs or any(len(s) != 2 or s != shapes[0] for s in shapes):
                raise ValueError(
                    f"FM needs [batch, d] inputs of one shape, got {[list(s) for s in shapes]}"
                )
            v = torch.stack(list(xs), dim=1)
        if v.dim() != 3:
            raise ValueError(f"FM needs [batch, fields, d], got {list(v.shape)}")
        square_of_sum = v.sum(dim=1).pow(2)
        sum_of_square = v.pow(2).sum(dim=1)
        out = 0.5 * (square_of_sum - sum_of_square)
        return out.sum(dim=1, keepdim=True) if self.reduce_sum else out
