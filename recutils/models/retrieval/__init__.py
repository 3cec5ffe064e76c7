"""Two-tower retrieval models (PyTorch; ``pip install "recutils[torch]"``).

:class:`TwoTowerModel` (registry name ``dssm``): a config-built user tower and item tower
(``model_class: MatchModel``, :mod:`recutils.nn.match`) trained on positive interactions,
with item embeddings, similar items and an approximate-nearest-neighbour index
(:mod:`recutils.retrieval`).

:class:`CoMetricLearningI2I` (``comet_i2i``): item-to-item metric learning from click sessions
(:mod:`recutils.models.retrieval.comet_i2i`).
"""

from recutils.models.retrieval.comet_i2i import CoMetricI2IConfig, CoMetricLearningI2I
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

__all__ = ["CONFIG_DIR", "CoMetricI2IConfig", "CoMetricLearningI2I", "DSSMSENet", "RETRIEVAL_CLASSES", "RETRIEVAL_PRESETS", "VALIDATION_METRICS", "RecallValidator",
           "TwoTowerConfig", "TwoTowerModel"]
