"""Vowpal Wabbit (linear models with quadratic and low-rank interactions over user and item
namespaces, squared or logistic loss): ``pip install "recutils[vowpalwabbit]"``.

``from recutils.models.vowpal import VowpalWabbit``; the ``vowpalwabbit`` package is imported
when a model is fitted or loaded.
"""

from recutils.models.vowpal.model import (
    LOSSES,
    MODEL_FILE,
    VowpalWabbit,
    VowpalWabbitConfig,
    escape_reserved,
    namespace_texts,
)

__all__ = [
    "LOSSES",
    "MODEL_FILE",
    "VowpalWabbit",
    "VowpalWabbitConfig",
    "escape_reserved",
    "namespace_texts",
]
