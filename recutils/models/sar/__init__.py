"""SAR (Smart Adaptive Recommendations): ``from recutils.models.sar import SAR``."""

from recutils.models.sar.model import SAR, SARConfig
from recutils.models.sar.similarity import SIMILARITY_TYPES

__all__ = ["SAR", "SARConfig", "SIMILARITY_TYPES"]
