"""First-order (linear / wide) terms."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._fields import flatten_inputs
from recutils.nn.components._torch import nn, torch


class FirstOrder(nn.Module):
    """``b + sum_f w_f(x)``: the sum of per-feature wide outputs plus a learned bias.

    The per-feature weights are the ``WIDE`` group's embeddings (width
    ``wide_output_dim``, numeric features scaled by a learned weight); this module sums
    them and adds the global bias, the linear part of LR, FM, DeepFM and Wide & Deep.

    Args:
        output_dim: Width of each feature's wide output (``wide_output_dim``; 1 for a logit).
        use_bias: Add a learned bias (initialized at 0).

    Input: a list of ``[B, output_dim]`` tensors (or ``[B, n, output_dim]``). Output ``[B, output_dim]``.
    """

    def __init__(self, output_dim: int = 1, use_bias: bool = True) -> None:
        super().__init__()
        self.output_dim = int(output_dim)
        self.bias = nn.Parameter(torch.zeros(self.output_dim)) if use_bias else None

    def forward(self, xs: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        parts = flatten_inputs(xs)
        total = None
        for x in parts:
            if x.shape[-1] != self.output_dim:
                raise ValueError(
                    f"FirstOrder expects inputs of width {self.output_dim}, got {list(x.shape)}"
                )
            term = x.sum(dim=1) if x.dim() == 3 else x
            total = term if total is None else total + term
        if self.bias is not None:
            total = total + self.bias
        return total
