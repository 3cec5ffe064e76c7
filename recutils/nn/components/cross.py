"""Cross networks: DCN (Wang et al. 2017) and DCN-v2 (Wang et al. 2021)."""

from __future__ import annotations

from recutils.nn.components._torch import nn, torch
from recutils.nn.components.mlp import make_activation


class Cross(nn.Module):
    """DCN's cross network: ``x_{l+1} = x_0 * (x_l . w_l) + b_l + x_l``.

    Each layer has a weight vector and a bias of the input width, so it adds ``2 d``
    parameters and one degree of explicit feature crossing.

    Args:
        input_dim: Width ``d`` of the input ``[B, d]`` (the concatenated embeddings).
        num_layers: Number of cross layers.

    Output: ``[B, d]``.
    """

    def __init__(self, input_dim: int, num_layers: int = 3) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"Cross needs num_layers >= 1, got {num_layers}")
        self.input_dim = int(input_dim)
        self.weight = nn.Parameter(torch.empty(num_layers, self.input_dim))
        self.bias = nn.Parameter(torch.zeros(num_layers, self.input_dim))
        nn.init.normal_(self.weight, std=(1.0 / self.input_dim) ** 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[-1] != self.input_dim:
            raise ValueError(f"Cross expects [batch, {self.input_dim}], got {list(x.shape)}")
        x0, xl = x, x
        for w, b in zip(self.weight, self.bias):
            xl = x0 * (xl @ w).unsqueeze(-1) + b + xl
        return xl


class CrossV2(nn.Module):
    """DCN-v2's cross network: ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l``.

    * full rank (``low_rank`` null): ``W_l`` is a ``d x d`` matrix;
    * low rank: ``W_l = U_l V_l^T`` with rank ``low_rank``;
    * mixture of low-rank experts (``num_experts`` > 1): each expert computes
      ``U_e g(C_e g(V_e^T x_l))`` and a softmax gate over ``x_l`` mixes them
      (``g`` = ``activation``, the paper's non-linearity in the projected space).

    Args:
        input_dim: Width ``d`` of the input ``[B, d]``.
        num_layers: Number of cross layers.
        low_rank: Rank of the low-rank factorization (None: full rank).
        num_experts: Experts per layer (low rank only).
        activation: ``g`` of the low-rank experts (``linear`` keeps them linear).

    Output: ``[B, d]``.
    """

    def __init__(
        self,
        input_dim: int,
        num_layers: int = 3,
        low_rank: int | None = None,
        num_experts: int = 1,
        activation: str = "linear",
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"CrossV2 needs num_layers >= 1, got {num_layers}")
        if num_experts < 1 or (num_experts > 1 and low_rank is None):
            raise ValueError("CrossV2: num_experts > 1 needs low_rank (the experts are low-rank)")
        d = self.input_dim = int(input_dim)
        self.num_layers = int(num_layers)
        self.low_rank = None if low_rank is None else int(low_rank)
        self.num_experts = int(num_experts)
        self.bias = nn.Parameter(torch.zeros(num_layers, d))
        if self.low_rank is None:
            self.weight = nn.Parameter(torch.empty(num_layers, d, d))
            nn.init.xavier_uniform_(self.weight.view(-1, d))
        else:
            r, e = self.low_rank, self.num_experts
            self.v = nn.Parameter(torch.empty(num_layers, e, d, r))
            self.c = nn.Parameter(torch.empty(num_layers, e, r, r))
            self.u = nn.Parameter(torch.empty(num_layers, e, r, d))
            for p in (self.v, self.c, self.u):
                nn.init.xavier_uniform_(p.view(-1, p.shape[-1]))
            self.gate = nn.Parameter(torch.zeros(num_layers, d, e)) if e > 1 else None
            self.act = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[-1] != self.input_dim:
            raise ValueError(f"CrossV2 expects [batch, {self.input_dim}], got {list(x.shape)}")
        x0, xl = x, x
        for i in range(self.num_layers):
            if self.low_rank is None:
                inner = xl @ self.weight[i].T
            else:
                # per expert: [B, e, r] -> [B, e, r] -> [B, e, d]
                z = self.act(torch.einsum("bd,edr->ber", xl, self.v[i]))
                z = self.act(torch.einsum("ber,ers->bes", z, self.c[i]))
                experts = torch.einsum("bes,esd->bed", z, self.u[i])
                if self.gate is None:
                    inner = experts[:, 0]
                else:
                    weights = torch.softmax(xl @ self.gate[i], dim=-1)  # [B, e]
                    inner = (weights.unsqueeze(-1) * experts).sum(dim=1)
            xl = x0 * (inner + self.bias[i]) + xl
        return xl
