"""LightGBM click-through-rate model on raw Criteo DAC rows.

``from recutils.models.lightgbm import LightGBMCTR``. Importing this package does
not import lightgbm (it is imported by ``fit`` / ``load``, raising
:class:`~recutils.exceptions.MissingDependencyError` naming the ``lightgbm`` extra when
missing) and never imports torch.
"""

from recutils.models.lightgbm.features import CTRFeatureEncoder, learn_vocabulary
from recutils.models.lightgbm.model import (
    DEFAULT_PARAMS,
    LightGBMCTR,
    LightGBMCTRConfig,
    base_rate_metrics,
    ctr_metrics,
    label_array,
    stratified_label_split,
)

__all__ = [
    "CTRFeatureEncoder",
    "DEFAULT_PARAMS",
    "LightGBMCTR",
    "LightGBMCTRConfig",
    "base_rate_metrics",
    "ctr_metrics",
    "label_array",
    "learn_vocabulary",
    "stratified_label_split",
]
