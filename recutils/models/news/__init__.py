"""News recommendation on impression logs (MIND): NRMS, NAML, LSTUR, NPA and DKN in PyTorch.

:class:`NewsRecommender` (:mod:`recutils.models.news.base`) is the shared base: the news
table and impressions through the ``Recommender`` contract, the word vocabulary and
GloVe initialisation, the (1+K)-way training samples and the shared trainer. A new
news model (DKN, ...) subclasses it and supplies a network with ``encode_news`` /
``encode_user`` (:class:`recutils.models.news.networks.NewsNetwork`).
"""

from recutils.models.news.base import NewsConfig, NewsRecommender, tiny_news_corpus
from recutils.models.news.dkn import DKN, DKNConfig
from recutils.models.news.models import (
    LSTUR,
    NAML,
    NPA,
    NRMS,
    CNNNewsConfig,
    LSTURConfig,
    NAMLConfig,
    NPAConfig,
    NRMSConfig,
)

__all__ = [
    "CNNNewsConfig",
    "DKN",
    "DKNConfig",
    "LSTUR",
    "LSTURConfig",
    "NAML",
    "NAMLConfig",
    "NPA",
    "NPAConfig",
    "NRMS",
    "NRMSConfig",
    "NewsConfig",
    "NewsRecommender",
    "tiny_news_corpus",
]
