"""Deep models built from config (PyTorch; ``pip install "recutils[torch]"``).

* :class:`DeepRankModel`: any rank network from a :class:`~recutils.nn.config.ModelConfig`
  (YAML or EasyRec text), e.g. the shipped Wide & Deep on MovieLens
  (``DeepRankModel.from_example("wide_deep_movielens.yaml")``).
"""

from recutils.models.deep.config import DeepRankConfig, example_config_path
from recutils.models.deep.model import DeepRankModel

__all__ = ["DeepRankConfig", "DeepRankModel", "example_config_path"]
