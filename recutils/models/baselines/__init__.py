"""Baselines: most popular (optionally time-decayed), random, bias and item-KNN.

=============  ==============================  ===========================================
registry name  class                           what it is
=============  ==============================  ===========================================
``popularity`` :class:`Popularity`             item interaction counts, optional half-life
``random``     :class:`RandomRecommender`      seeded uniform random ranking per user
``bias``       :class:`BiasBaseline`           ``mu + b_u + b_i``, regularized (ratings)
``itemknn``    :class:`ItemKNN`                item-item cosine with shrinkage, top-k
=============  ==============================  ===========================================
"""

from recutils.models.baselines.bias import BiasBaseline, BiasConfig, fit_biases
from recutils.models.baselines.itemknn import ItemKNN, ItemKNNConfig, item_knn_similarity
from recutils.models.baselines.popularity import (
    Popularity,
    PopularityConfig,
    RandomConfig,
    RandomRecommender,
)

__all__ = [
    "BiasBaseline",
    "BiasConfig",
    "ItemKNN",
    "ItemKNNConfig",
    "Popularity",
    "PopularityConfig",
    "RandomConfig",
    "RandomRecommender",
    "fit_biases",
    "item_knn_similarity",
]
