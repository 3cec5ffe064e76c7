"""Embedding dot-bias rating model in PyTorch (``pip install "recutils[torch]"``).

``from recutils.models.dotbias import EmbeddingDotBias``; importing this package does not
import torch.
"""

from recutils.models.dotbias.model import EmbeddingDotBias, EmbeddingDotBiasConfig, one_cycle

__all__ = ["EmbeddingDotBias", "EmbeddingDotBiasConfig", "one_cycle"]
