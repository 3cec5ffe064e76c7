"""SAR (Smart Adaptive Recommendations): ``from recutils.models.sar import SAR``
(and :class:`SparkSAR`, the same model on Spark DataFrames; importing it does not import pyspark)."""

from recutils.models.sar.model import SAR, SARConfig
from recutils.models.sar.similarity import SIMILARITY_TYPES
from recutils.models.sar.spark import SparkSAR

__all__ = ["SAR", "SARConfig", "SIMILARITY_TYPES", "SparkSAR"]
