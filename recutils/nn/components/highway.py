"""Highway layers (Srivastava et al. 2015)."""

from __future__ import annotations

from recutils.nn.components._torch import nn, torch
from recutils.nn.components.dropout import Dropout
from recutils.nn.components.mlp import make_activation


class Highway(nn.Module):
    """``y = t * H(x) + (1 - t) * x`` with the transform gate ``t = sigmoid(W_t x + b_t)``.

    Args:
        input_dim: Width of ``x`` ``[B, d]`` (filled in by the backbone).
        num_layers: Stacked highway layers.
        activation: Activation of ``H``.
        carry_bias: Initial ``b_t`` (negative: start close to carrying ``x`` through).
        dropout: Dropout on each layer's output.

    Output ``[B, d]``.
    """

    def __init__(
        self,
        input_dim: int,
        num_layers: int = 2,
        activation: str = "relu",
        carry_bias: float = -1.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"Highway needs num_layers >= 1, got {num_layers}")
        d = self.input_dim = int(input_dim)
        self.transform = nn.ModuleList([nn.Linear(d, d) for _ in range(num_layers)])
        self.gate = nn.ModuleList([nn.Linear(d, d, bias=False) for _ in range(num_layers)])
        # a separate parameter, so that re-initializing Linear biases keeps the carry bias
        self.gate_bias = nn.Parameter(torch.full((num_layers, d), float(carry_bias)))
        self.act = make_activation(activation)
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[-1] != self.input_dim:
            raise ValueError(f"Highway expects [batch, {self.input_dim}], got {list(x.shape)}")
        for i, (h, g) in enumerate(zip(self.transform, self.gate)):
            t = torch.sigmoid(g(x) + self.gate_bias[i])
            x = self.dropout(t * self.act(h(x)) + (1 - t) * x)
        return x
