"""LightFM hybrid recommender (warp, bpr, logistic, warp-kos): ``pip install "recutils[lightfm]"``.

``from recutils.models.lightfm import LightFMRecommender``; the ``lightfm``
module (from the ``rectools-lightfm`` fork) is imported when a model is fitted.
"""

from recutils.models.lightfm.features import (
    AGE_BUCKETS,
    build_feature_matrix,
    movielens_item_features,
    movielens_user_features,
)
from recutils.models.lightfm.model import LOSSES, LightFMConfig, LightFMRecommender

__all__ = [
    "AGE_BUCKETS",
    "LOSSES",
    "LightFMConfig",
    "LightFMRecommender",
    "build_feature_matrix",
    "movielens_item_features",
    "movielens_user_features",
]
