"""FiBiNet's squeeze-excitation and bilinear interaction (Huang et al. 2019)."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._fields import common_dim, stack_fields
from recutils.nn.components._torch import nn, torch

BILINEAR_TYPES = ("field_all", "field_each", "field_interaction")


class SENet(nn.Module):
    """Squeeze-excitation over fields: re-weight each field embedding by a learned gate.

    ``z_f = mean(v_f)`` (squeeze), ``a = ReLU(W_2 ReLU(W_1 z))`` (excitation, bottleneck
    ``max(1, m // reduction_ratio)``), output ``a_f * v_f``.

    Args:
        input_dims: Widths of the input fields (all equal; filled in by the backbone).
        reduction_ratio: Bottleneck reduction of the excitation MLP.

    Input: a list of ``[B, d]`` fields (or ``[B, m, d]``). Output ``[B, m, d]``.
    """

    def __init__(self, input_dims: Sequence[int], reduction_ratio: int = 3) -> None:
        super().__init__()
        self.num_fields, self.dim = common_dim("SENet", input_dims)
        if reduction_ratio < 1:
            raise ValueError(f"SENet needs reduction_ratio >= 1, got {reduction_ratio}")
        hidden = max(1, self.num_fields // int(reduction_ratio))
        self.excite = nn.Sequential(
            nn.Linear(self.num_fields, hidden, bias=False),
            nn.ReLU(),
            nn.Linear(hidden, self.num_fields, bias=False),
            nn.ReLU(),
        )

    def forward(self, xs: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        v = stack_fields("SENet", xs, self.num_fields, self.dim)
        weights = self.excite(v.mean(dim=-1))  # [B, m]
        return v * weights.unsqueeze(-1)


class Bilinear(nn.Module):
    """Bilinear interaction of every field pair: ``p_ij = (v_i W) * v_j`` for ``i < j``.

    Args:
        input_dims: Widths of the input fields (all equal; filled in by the backbone).
        bilinear_type: ``field_all`` (one ``W`` shared by every pair), ``field_each`` (one
            ``W_i`` per field) or ``field_interaction`` (one ``W_ij`` per pair).

    Input: a list of ``[B, d]`` fields (or ``[B, m, d]``).
    Output: ``[B, m (m - 1) / 2 * d]`` (the pair vectors, flattened).
    """

    def __init__(self, input_dims: Sequence[int], bilinear_type: str = "field_interaction") -> None:
        super().__init__()
        self.num_fields, self.dim = common_dim("Bilinear", input_dims)
        if bilinear_type not in BILINEAR_TYPES:
            raise ValueError(
                f"Bilinear: bilinear_type {bilinear_type!r}; allowed: {list(BILINEAR_TYPES)}"
            )
        if self.num_fields < 2:
            raise ValueError("Bilinear needs at least two fields")
        self.bilinear_type = bilinear_type
        left, right = torch.triu_indices(self.num_fields, self.num_fields, offset=1)
        self.register_buffer("left", left, persistent=False)
        self.register_buffer("right", right, persistent=False)
        n = {"field_all": 1, "field_each": self.num_fields, "field_interaction": left.numel()}[
            bilinear_type
        ]
        self.weight = nn.Parameter(torch.empty(n, self.dim, self.dim))
        nn.init.xavier_uniform_(self.weight.view(-1, self.dim))
        self.output_dim = int(left.numel()) * self.dim

    def forward(self, xs: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        v = stack_fields("Bilinear", xs, self.num_fields, self.dim)
        vi, vj = v.index_select(1, self.left), v.index_select(1, self.right)
        if self.bilinear_type == "field_all":
            p = (vi @ self.weight[0]) * vj
        elif self.bilinear_type == "field_each":
            p = torch.einsum("bmd,mde->bme", v, self.weight).index_select(1, self.left) * vj
        else:
            p = torch.einsum("bpd,pde->bpe", vi, self.weight) * vj
        return p.flatten(1)
