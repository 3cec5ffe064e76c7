"""Alternating least squares on Spark: ``from recutils.models.als import SparkALS``.

Importing this package does not import pyspark; fitting does (``pip install "recutils[spark]"``).
"""

from recutils.models.als.model import SPARK_ALIASES, ALSConfig, SparkALS

__all__ = ["SparkALS", "ALSConfig", "SPARK_ALIASES"]
