"""RLRMC and GeoIMC, rating models fitted on matrix manifolds (``recutils[pymanopt]``).

``from recutils.models.riemannian import RLRMC, GeoIMC``; pymanopt is imported when a model
is fitted (a fitted or loaded model scores without it).
"""

from recutils.models.riemannian.model import INITS, RLRMC, GeoIMC, GeoIMCConfig, RLRMCConfig

__all__ = ["INITS", "GeoIMC", "GeoIMCConfig", "RLRMC", "RLRMCConfig"]
