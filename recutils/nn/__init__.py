"""PyTorch building blocks: features, components, the config-driven backbone, losses, trainer.

Importing :mod:`recutils.nn` itself is light: the configuration and feature modules
(:mod:`recutils.nn.config`, :mod:`recutils.nn.features`, :mod:`recutils.nn.expressions`,
:mod:`recutils.nn.easyrec`, :mod:`recutils.nn.config_io`) use numpy/pandas only and validate configs without torch.
The modules that build or train networks (:mod:`recutils.nn.backbone`,
:mod:`recutils.nn.components`, :mod:`recutils.nn.trainer`, :mod:`recutils.nn.losses`)
import torch and raise :class:`~recutils.exceptions.MissingDependencyError` naming the
``torch`` extra when it is missing.

Public names are resolved lazily (``from recutils.nn import Trainer`` imports torch then).
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module defining it (imported on first access).
_EXPORTS: dict[str, str] = {
    "FeatureConfig": "recutils.nn.features",
    "FeatureEncoder": "recutils.nn.features",
    "infer_feature_configs": "recutils.nn.features",
    "ModelConfig": "recutils.nn.config",
    "BackboneConfig": "recutils.nn.config",
    "BlockConfig": "recutils.nn.config",
    "BlockInput": "recutils.nn.config",
    "FeatureGroupConfig": "recutils.nn.config",
    "load_model_config": "recutils.nn.config_io",
    "parse_easyrec_text": "recutils.nn.easyrec",
    "load_easyrec_config": "recutils.nn.easyrec",
    "compile_input_fn": "recutils.nn.expressions",
    "Backbone": "recutils.nn.backbone",
    "RankNetwork": "recutils.nn.backbone",
    "build_rank_network": "recutils.nn.backbone",
    "TrainConfig": "recutils.nn.config",
    "OptimizerConfig": "recutils.nn.config",
    "Trainer": "recutils.nn.trainer",
    "Callback": "recutils.nn.trainer",
    "TensorData": "recutils.nn.data",
    "get_loss": "recutils.nn.losses",
    "list_components": "recutils.nn.components",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'recutils.nn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(_EXPORTS)


__all__ = sorted(_EXPORTS)
