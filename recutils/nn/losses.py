"""Losses, apart from the networks (which return logits). Registry: name -> function."""

from __future__ import annotations

from collections.abc import Callable

from recutils.exceptions import ConfigError
from recutils.utils.deps import require

torch = require("torch", "torch")
F = torch.nn.functional

LossFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


def sigmoid_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of logits against 0/1 (or soft) labels."""
    return F.binary_cross_entropy_with_logits(logits, labels)


def mean_squared_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    return F.mse_loss(pred, target)


#: name -> (loss, output transform to a prediction); EasyRec's names are accepted.
LOSSES: dict[str, tuple[LossFn, Callable[[torch.Tensor], torch.Tensor]]] = {
    "sigmoid_cross_entropy": (sigmoid_cross_entropy, torch.sigmoid),
    "CLASSIFICATION": (sigmoid_cross_entropy, torch.sigmoid),
    "mse": (mean_squared_error, lambda x: x),
    "L2_LOSS": (mean_squared_error, lambda x: x),
}


def get_loss(name: str) -> tuple[LossFn, Callable[[torch.Tensor], torch.Tensor]]:
    """``(loss(outputs, labels), to_prediction(outputs))`` for a loss name."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; known losses: {sorted(LOSSES)}.")
    return LOSSES[name]


__all__ = ["LOSSES", "get_loss", "mean_squared_error", "sigmoid_cross_entropy"]
