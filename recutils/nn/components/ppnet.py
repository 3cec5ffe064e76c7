"""PPNet: a parameter-personalized network (gates driven by personalization features)."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._fields import flatten_inputs
from recutils.nn.components._torch import nn, torch
from recutils.nn.components.dropout import Dropout
from recutils.nn.components.mlp import make_activation


class GateNN(nn.Module):
    """``scale * sigmoid(W_2 ReLU(W_1 z))``: a per-unit gate in ``(0, scale)`` (1 on average at init)."""

    def __init__(
        self, input_dim: int, output_dim: int, hidden_dim: int = 64, scale: float = 2.0
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim)
        )
        self.scale = float(scale)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.scale * torch.sigmoid(self.net(z))


class PPNet(nn.Module):
    """An MLP whose hidden units are scaled by gates computed from personalization features.

    Layer ``l``: ``h_l = act(W_l h_{l-1}) * gate_l([stop_grad(x), p])`` where ``x`` is the
    general input (all feature embeddings) and ``p`` the personalization features (user
    id, user attributes). Gradients reach ``p``'s embeddings through the gates only, as
    in Kuaishou's PPNet, so the gates personalize without disturbing the shared embeddings.

    Args:
        input_dims: ``[width of x, width of p]`` (filled in by the backbone).
        hidden_units: Width of each gated layer.
        activation: Hidden activation.
        gate_hidden_dim: Hidden width of each gate network.
        dropout_ratio: Dropout after each layer.
        detach_general: Stop the gates' gradient into ``x`` (the paper's choice).

    Input: the list ``[x, p]`` of ``[B, d]`` tensors. Output ``[B, hidden_units[-1]]``.
    """

    def __init__(
        self,
        input_dims: Sequence[int],
        hidden_units: Sequence[int] = (128, 64),
        activation: str = "relu",
        gate_hidden_dim: int = 64,
        dropout_ratio: float = 0.0,
        detach_general: bool = True,
    ) -> None:
        super().__init__()
        dims = [int(d) for d in input_dims]
        if len(dims) != 2:
            raise ValueError(
                f"PPNet takes [general input, personalization input], got {len(dims)} inputs"
            )
        units = [int(u) for u in hidden_units]
        if not units:
            raise ValueError("PPNet needs at least one hidden layer")
        self.input_dim, self.gate_input_dim = dims
        self.detach_general = bool(detach_general)
        self.layers = nn.ModuleList()
        self.gates = nn.ModuleList()
        width = self.input_dim
        for u in units:
            self.layers.append(nn.Linear(width, u))
            self.gates.append(GateNN(self.input_dim + self.gate_input_dim, u, gate_hidden_dim))
            width = u
        self.act = make_activation(activation)
        self.dropout = Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.output_dim = width

    def forward(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        parts = flatten_inputs(xs)
        if (
            len(parts) != 2
            or parts[0].shape[-1] != self.input_dim
            or parts[1].shape[-1] != self.gate_input_dim
        ):
            raise ValueError(
                f"PPNet expects [x [batch, {self.input_dim}], p [batch, {self.gate_input_dim}]], "
                f"got {[list(p.shape) for p in parts]}"
            )
        x, p = parts
        gate_in = torch.cat([x.detach() if self.detach_general else x, p], dim=1)
        h = x
        for layer, gate in zip(self.layers, self.gates):
            h = self.dropout(self.act(layer(h)) * gate(gate_in))
        return h
