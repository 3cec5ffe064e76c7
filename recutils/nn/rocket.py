"""Rocket Launching (Zhou et al. 2018): a light net trained beside a booster net.

A ``RankModel`` config with ``model_params.rocket`` (:class:`~recutils.nn.config.RocketConfig`)
names two backbone blocks: the light net's output and the booster net's. Each gets its
own linear logit. In training mode ``forward`` returns both logits ``[B, 2]`` (light,
booster) and :meth:`RocketNetwork.compute_loss` is

    BCE(z_light, y) + BCE(z_booster, y) + hint_weight * mean((z_light - stopgrad(z_booster))**2)

so the light net learns from the labels and from the booster's logits, while the
booster learns from the labels alone (the paper's gradient block: the hint does not pull
the booster towards the light net). Blocks both nets read (the embedding tables, a
shared bottom) are trained by both.

In eval mode ``forward`` runs only the blocks the light net reads and returns its logit
``[B]``: validation, early stopping, ``predict``, a saved model and the ONNX export all
serve the light net alone. :meth:`RocketNetwork.booster_logits` scores with the booster.
"""

from __future__ import annotations

from collections.abc import Mapping

from recutils.exceptions import ConfigError, DataError
from recutils.nn.backbone import Backbone, BackboneNetwork, _init_from, block_matrix
from recutils.nn.features import FeatureSpec
from recutils.utils.deps import require

torch = require("torch", "torch")
nn = torch.nn
F = nn.functional


def _matrix(value: object, block: str) -> torch.Tensor:
    return block_matrix(value, f"rocket: block {block!r}")


class RocketNetwork(BackboneNetwork):
    """The light and booster nets of one backbone; see the module docstring."""

    def __init__(
        self,
        backbone: Backbone,
        specs: Mapping[str, FeatureSpec],
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(backbone)
        rocket = backbone.config.model_params.rocket
        if rocket is None:
            raise ConfigError("a Rocket Launching network needs model_params.rocket.")
        self.light_block, self.booster_block = rocket.light_block, rocket.booster_block
        self.hint_weight = float(rocket.hint_weight)
        outputs = backbone.dummy_block_outputs(specs)
        light_dim = int(_matrix(outputs[self.light_block], self.light_block).shape[-1])
        booster_dim = int(_matrix(outputs[self.booster_block], self.booster_block).shape[-1])
        self.light_head = nn.Linear(light_dim, 1)
        self.booster_head = nn.Linear(booster_dim, 1)
        if generator is not None:
            _init_from(self.light_head, generator)
            _init_from(self.booster_head, generator)
        self._light_order = backbone.needed_blocks([self.light_block])

    def light_parameters(self) -> list[nn.Parameter]:
        """The parameters the light net uses (its blocks, their embedding tables, its head)."""
        names = set(self._light_order)
        params = [p for n, m in self.backbone.layers.items() if n in names for p in m.parameters()]
        return [
            *self.backbone.bank.parameters(),
            *self.backbone.input_layers.parameters(),
            *params,
            *self.light_head.parameters(),
        ]

    def _logit(self, outputs: Mapping[str, object], block: str, head: nn.Linear) -> torch.Tensor:
        return head(_matrix(outputs[block], block)).squeeze(-1)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if not self.training:
            outputs = self.backbone.block_outputs(batch, [self.light_block])
            return self._logit(outputs, self.light_block, self.light_head)
        outputs = self.backbone.block_outputs(batch, [self.light_block, self.booster_block])
        return torch.stack(
            [
                self._logit(outputs, self.light_block, self.light_head),
                self._logit(outputs, self.booster_block, self.booster_head),
            ],
            dim=-1,
        )

    def booster_logits(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The booster net's logits ``[B]`` (whatever the mode)."""
        outputs = self.backbone.block_outputs(batch, [self.booster_block])
        return self._logit(outputs, self.booster_block, self.booster_head)

    def to_prediction(self, outputs: torch.Tensor) -> torch.Tensor:
        """The light net's probability (training outputs ``[B, 2]`` or eval outputs ``[B]``)."""
        return torch.sigmoid(outputs[:, 0] if outputs.dim() == 2 else outputs)

    def compute_loss(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Both nets' cross-entropy plus the hint loss (module docstring)."""
        if outputs.dim() != 2:
            raise DataError("Rocket Launching trains on the [batch, 2] outputs of training mode.")
        light, booster = outputs[:, 0], outputs[:, 1]
        loss = F.binary_cross_entropy_with_logits(
            light, labels
        ) + F.binary_cross_entropy_with_logits(booster, labels)
        if self.hint_weight:
            loss = loss + self.hint_weight * F.mse_loss(light, booster.detach())
        return loss


def build_rocket_network(
    config, specs: Mapping[str, FeatureSpec], *, seed: int | None = None
) -> RocketNetwork:
    """Build a Rocket Launching network (a ``RankModel`` config with ``model_params.rocket``)
    within the parameter limits (:func:`recutils.nn.backbone.build_network_with_limits`)."""
    from recutils.nn.backbone import build_network_with_limits

    return build_network_with_limits(
        config, specs, lambda backbone, used, gen: RocketNetwork(backbone, used, gen), seed=seed
    )


__all__ = ["RocketNetwork", "build_rocket_network"]
