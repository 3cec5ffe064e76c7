"""Next-item recommendation: SASRec (and CL4SRec), BERT4Rec, GRU4Rec, Caser, NextItNet, SSE-PT.

See :mod:`recutils.models.sequential.base` for what they share (ordering, losses, serving
with :meth:`~recutils.models.sequential.base.SequentialRecommender.recommend_next`,
evaluation with :meth:`~recutils.models.sequential.base.SequentialRecommender.evaluate_next`)
and :mod:`recutils.models.sequential.augment` for the augmentations. Importing this
package does not import torch.
"""

from recutils.models.sequential.base import (
    ContrastiveConfig,
    SequentialConfig,
    SequentialRecommender,
)
from recutils.models.sequential.models import (
    SSEPT,
    BERT4Rec,
    BERT4RecConfig,
    Caser,
    CaserConfig,
    GRU4Rec,
    GRU4RecConfig,
    NextItNet,
    NextItNetConfig,
    SASRec,
    SASRecConfig,
    SSEPTConfig,
)

__all__ = [
    "BERT4Rec",
    "BERT4RecConfig",
    "Caser",
    "CaserConfig",
    "ContrastiveConfig",
    "GRU4Rec",
    "GRU4RecConfig",
    "NextItNet",
    "NextItNetConfig",
    "SASRec",
    "SASRecConfig",
    "SSEPT",
    "SSEPTConfig",
    "SequentialConfig",
    "SequentialRecommender",
]
