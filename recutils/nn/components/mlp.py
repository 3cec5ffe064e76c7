"""Multi-layer perceptron."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._torch import nn, torch
from recutils.nn.components.dropout import Dropout


def make_activation(name: str | None) -> nn.Module:
    """An activation module by name (``linear`` / ``none`` / None: identity)."""
    name = "linear" if name is None else name.lower()
    table = {
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "gelu": nn.GELU,
        "leaky_relu": nn.LeakyReLU,
        "elu": nn.ELU,
        "selu": nn.SELU,
        "silu": nn.SiLU,
        "swish": nn.SiLU,
        "prelu": nn.PReLU,
        "linear": nn.Identity,
        "none": nn.Identity,
    }
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; allowed: {sorted(table)}")
    return table[name]()


class MLP(nn.Module):
    """Stack of ``Linear -> [BatchNorm] -> activation -> [Dropout]`` layers.

    Args:
        in_features: Width of the input ``[B, in_features]``.
        hidden_units: Output width of each layer.
        activation: Activation of the hidden layers.
        dropout_ratio: Dropout after each layer (one value or one per layer); none
            after the last layer.
        use_bn: Batch norm on the hidden layers (default off; EasyRec's default is on).
        use_final_bn: Batch norm on the last layer.
        final_activation: Activation of the last layer (``"linear"`` for logits).
        use_bias: Bias on the hidden layers (dropped when batch norm follows).
        use_final_bias: Bias on the last layer.
    """

    def __init__(
        self,
        in_features: int,
        hidden_units: Sequence[int],
        activation: str = "relu",
        dropout_ratio: float | Sequence[float] = 0.0,
        use_bn: bool = False,
        use_final_bn: bool = True,
        final_activation: str = "relu",
        use_bias: bool = True,
        use_final_bias: bool = True,
    ) -> None:
        super().__init__()
        units = list(hidden_units)
        if not units:
            raise ValueError("MLP needs at least one layer in hidden_units")
        rates = list(dropout_ratio) if isinstance(dropout_ratio, Sequence) else [dropout_ratio]
        if len(rates) == 1:
            rates = rates * len(units)
        layers: list[nn.Module] = []
        width = int(in_features)
        for i, out in enumerate(units):
            last = i == len(units) - 1
            bn = use_final_bn if last else use_bn
            bias = (use_final_bias if last else use_bias) and not bn
            layers.append(nn.Linear(width, out, bias=bias))
            if bn:
                layers.append(nn.BatchNorm1d(out))
            act = make_activation(final_activation if last else activation)
            if isinstance(act, nn.ReLU):
                # In place on the fresh output of Linear/BatchNorm (neither needs it for its
                # backward): one allocation and one pass fewer per layer.
                act = nn.ReLU(inplace=True)
            layers.append(act)
            if rates[i] > 0 and not last:
                layers.append(Dropout(rates[i]))
            width = out
        self.layers = nn.Sequential(*layers)
        self.in_features = int(in_features)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_features] -> [B, hidden_units[-1]]``."""
        if x.dim() != 2 or x.shape[-1] != self.in_features:
            raise ValueError(f"MLP expects [batch, {self.in_features}], got {list(x.shape)}")
        return self.layers(x)
