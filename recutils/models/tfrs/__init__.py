"""TensorFlow Recommenders models behind the recutils contract: ``pip install "recutils[tensorflow]"``.

``from recutils.models.tfrs import TFRSRetrieval, TFRSRanking``. Importing this package
does not import TensorFlow; fitting or loading a model does (through
:func:`recutils.utils.tensorflow.import_tensorflow`). It sets ``TF_USE_LEGACY_KERAS=1``
unless the environment sets it (:func:`~recutils.utils.tensorflow.prefer_legacy_keras`),
so that TensorFlow's ``tf.keras`` is the Keras 2 that TFRS needs.
"""

from recutils.models.tfrs._base import TFRSBaseConfig, TFRSRecommender
from recutils.models.tfrs.ranking import TARGETS, TFRSRanking, TFRSRankingConfig
from recutils.models.tfrs.retrieval import TFRSRetrieval, TFRSRetrievalConfig
from recutils.utils.tensorflow import prefer_legacy_keras

prefer_legacy_keras()

__all__ = [
    "TARGETS",
    "TFRSBaseConfig",
    "TFRSRanking",
    "TFRSRankingConfig",
    "TFRSRecommender",
    "TFRSRetrieval",
    "TFRSRetrievalConfig",
]
