"""Two-tower retrieval models (PyTorch; ``pip install "recutils[torch]"``).

:class:`TwoTowerModel` (registry name ``dssm``): a config-built user tower and item tower
(``model_class: MatchModel``, :mod:`recutils.nn.match`) trained on positive interactions,
with item embeddings, similar items and an approximate-nearest-neighbour index
(:mod:`recutils.retrieval`). :class:`DropoutNetModel` (``dropoutnet``): a two-tower model
whose id inputs are dropped in training so that it scores cold items from their content.
:class:`PDN` (``pdn``): trigger-based retrieval over user -> trigger item -> target paths.
:class:`CoMetricLearningI2I` (``comet_i2i``): item-to-item metric learning from click sessions
(:mod:`recutils.models.retrieval.comet_i2i`). :class:`MindModel` (``mind``): multi-interest
two-tower retrieval (capsule routing into several user interests, max over interests).
"""

from recutils.models.retrieval.comet_i2i import CoMetricI2IConfig, CoMetricLearningI2I
from recutils.models.retrieval.dropoutnet import DropoutNetConfig, DropoutNetModel
from recutils.models.retrieval.mind import MindConfig, MindModel
from recutils.models.retrieval.model import (
    CONFIG_DIR,
    RETRIEVAL_CLASSES,
    RETRIEVAL_PRESETS,
    VALIDATION_METRICS,
    DSSMSENet,
    RecallValidator,
    TwoTowerConfig,
    TwoTowerModel,
)
from recutils.models.retrieval.pdn import PDN, PDNConfig

__all__ = [
    "CONFIG_DIR",
    "CoMetricI2IConfig",
    "CoMetricLearningI2I",
    "DSSMSENet",
    "DropoutNetConfig",
    "DropoutNetModel",
    "MindConfig",
    "MindModel",
    "PDN",
    "PDNConfig",
    "RETRIEVAL_CLASSES",
    "RETRIEVAL_PRESETS",
    "VALIDATION_METRICS",
    "RecallValidator",
    "TwoTowerConfig",
    "TwoTowerModel",
]
