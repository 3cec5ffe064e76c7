"""scikit-surprise wrappers (SVD, SVD++, NMF, KNNBaseline): ``pip install "recutils[surprise]"``.

``from recutils.models.surprise import SurpriseSVD``; surprise itself is imported
when a model is fitted, so importing this package works without it.
"""

from recutils.models.surprise.model import (
    SurpriseBaseConfig,
    SurpriseKNNBaseline,
    SurpriseKNNBaselineConfig,
    SurpriseNMF,
    SurpriseNMFConfig,
    SurpriseRecommender,
    SurpriseSVD,
    SurpriseSVDConfig,
    SurpriseSVDpp,
    SurpriseSVDppConfig,
)

__all__ = [
    "SurpriseBaseConfig",
    "SurpriseKNNBaseline",
    "SurpriseKNNBaselineConfig",
    "SurpriseNMF",
    "SurpriseNMFConfig",
    "SurpriseRecommender",
    "SurpriseSVD",
    "SurpriseSVDConfig",
    "SurpriseSVDpp",
    "SurpriseSVDppConfig",
]
