"""Neural Collaborative Filtering (GMF, MLP, NeuMF) in PyTorch (``pip install "recutils[torch]"``).

``from recutils.models.ncf import NCF``; importing this package does not import torch.
"""

from recutils.models.ncf.model import MODEL_TYPES, NCF, NCFConfig

__all__ = ["MODEL_TYPES", "NCF", "NCFConfig"]
