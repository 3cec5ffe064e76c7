"""Recommender models, their shared base class and the registry.

Importing this package is light (numpy, pandas, scipy): models are imported
when first created through :func:`create_model` or imported directly, e.g.
``from recutils.models.sar import SAR``.
"""

from recutils.models.persistence import load_any as load_model
from recutils.models.registry import create_model, get_model_class, list_models, register_model

__all__ = ["create_model", "get_model_class", "list_models", "load_model", "register_model"]
