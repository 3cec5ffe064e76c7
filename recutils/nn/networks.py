"""One entry point from a model config to its network, whatever its class.

:func:`build_network` reads ``model_class`` (and ``model_params.rocket``) and builds:

* ``RankModel``: :class:`~recutils.nn.backbone.RankNetwork` (one logit), or with
  ``model_params.rocket`` a :class:`~recutils.nn.rocket.RocketNetwork` (light and booster nets);
* ``MultiTaskModel``: :class:`~recutils.nn.multitask.MultiTaskNetwork` (one tower per task);
* ``MatchModel``: :class:`~recutils.nn.match.MatchNetwork` (a user and an item tower).

Every build is bounded by :data:`recutils.limits.MAX_PARAMETERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recutils.nn.config import ModelConfig
from recutils.nn.features import FeatureSpec


def build_network(
    config: ModelConfig, specs: Mapping[str, FeatureSpec], *, seed: int | None = None
) -> Any:
    """The network of ``config`` for the fitted feature ``specs`` (see the module docstring).

    Raises:
        ConfigError: any config problem, naming the block or field and the fix.
    """
    if config.model_class == "MultiTaskModel":
        from recutils.nn.multitask import build_multitask_network

        return build_multitask_network(config, specs, seed=seed)
    if config.model_class == "MatchModel":
        from recutils.nn.match import build_match_network

        return build_match_network(config, specs, seed=seed)
    if config.model_params.rocket is not None:
        from recutils.nn.rocket import build_rocket_network

        return build_rocket_network(config, specs, seed=seed)
    from recutils.nn.backbone import build_rank_network

    return build_rank_network(config, specs, seed=seed)


__all__ = ["build_network"]
