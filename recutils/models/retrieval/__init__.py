"""Two-tower retrieval models (PyTorch; ``pip install "recutils[torch]"``).

:class:`TwoTowerModel` (registry name ``dssm``): a config-built user tower and item tower
(``model_class: MatchModel``, :mod:`recutils.nn.match`) trained on positive interactions,
with item embeddings, similar items and an approximate-nearest-neighbour index
(:mod:`recutils.retrieval`).
"""

from recutils.models.retrieval.model import (
    CONFIG_DIR,
    DSSMSENet,
    RETRIEVAL_CLASSES,
    RETRIEVAL_PRESETS,
    VALIDATION_METRICS,
    RecallValidator,
    TwoTowerConfig,
    TwoTowerModel,
)
from recutils.models.retrieval.mind import MindConfig, MindModel

__all__ = ["CONFIG_DIR", "DSSMSENet", "RETRIEVAL_CLASSES", "RETRIEVAL_PRESETS", "VALIDATION_METRICS", "RecallValidator",
           "TwoTowerConfig", "TwoTowerModel", "MindConfig", "MindModel"]
