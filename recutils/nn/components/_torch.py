"""The one place components import torch (with an error naming the ``torch`` extra)."""

from recutils.utils.deps import require

torch = require("torch", "torch")
nn = torch.nn

__all__ = ["nn", "torch"]
