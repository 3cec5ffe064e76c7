"""The one place components import torch (with an error naming the ``torch`` extra)."""

from recutils.utils.deps import require

torch = require("torch", "torch")
nn = torch.nn
F = torch.nn.functional

__all__ = ["F", "nn", "torch"]
