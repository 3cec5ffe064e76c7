"""LightGCN in PyTorch (``pip install "recutils[torch]"``).

``from recutils.models.lightgcn import LightGCN``; importing this package does not import torch.
"""

from recutils.models.lightgcn.model import LightGCN, LightGCNConfig

__all__ = ["LightGCN", "LightGCNConfig"]
