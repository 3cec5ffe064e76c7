"""Multi-task networks: a shared backbone, one tower and one logit per task.

A ``MultiTaskModel`` config (:class:`~recutils.nn.config.ModelConfig` with
``model_class: MultiTaskModel``) names its tasks in ``model_params.task_towers``
(:class:`~recutils.nn.config.TaskTowerConfig`). :func:`build_multitask_network`
builds the backbone from the blocks, exactly as for a rank model, and then, in the
towers' order, for each task ``t``:

1. ``x_t``: the tower's input: the block ``input`` names, or the backbone output. When
   that output is a list of as many tensors as there are tasks (``MMoE``, ``PLE``),
   ``x_t`` is element ``t``; otherwise the whole output (a shared bottom).
2. ``h_t = MLP_t(x_t)`` (``mlp``; the identity without one).
3. AITM (``transfer_from: r``): ``z_t = AITMTransfer_t([z_r, h_t])``, the adaptive
   information transfer from task ``r``'s fused output; otherwise ``z_t = h_t``.
4. DBMTL (``relation_tower_names`` / ``relation_mlp``):
   ``g_t = relation_MLP_t(concat(z_t, g_r for each related r))``; otherwise ``g_t = z_t``.
5. ``logit_t = Linear(g_t)``.

``forward(batch)`` returns the logits ``[B, T]``. Predictions (:meth:`to_prediction`)
are ``sigmoid(logit_t)`` for classification tasks, ``logit_t`` for regression, and
``sigmoid(logit_r) * sigmoid(logit_t)`` for an ESMM task with ``entire_space_of: r``
(the CTCVR probability; :meth:`conditional_probabilities` gives the tower's own
``p(t | r)``, the CVR).

The loss (:meth:`compute_loss`) is ``sum_t w_t * L_t`` (``loss_weighting: fixed``) or
``sum_t w_t * (exp(-s_t) * L_t + s_t)`` with learned log-variances ``s_t``
(``uncertainty``, Kendall et al. 2018), where ``L_t`` is the task's sigmoid
cross-entropy (on the CTCVR probability for an ESMM task, computed in log space) or mean
squared error, plus, for an AITM task with ``calibration_weight`` ``c``,
``c * mean(max(p_t - p_r, 0))``.

:meth:`evaluate_tasks` scores validation predictions with each task's metrics; the
trainer records every one in its history (``valid_<task>_<metric>``) and early-stops on
``early_stopping_task``'s first metric, or on the ``weight``-weighted sum of every task's
first metric.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from recutils.exceptions import ConfigError, DataError
from recutils.nn.backbone import (
    Backbone,
    BackboneNetwork,
    Value,
    _cat_last,
    _init_from,
    build_network_with_limits,
)
from recutils.nn.components.registry import check_layer_params, component_class
from recutils.nn.config import ModelConfig, TaskTowerConfig
from recutils.nn.features import FeatureSpec
from recutils.utils.deps import require

torch = require("torch", "torch")
nn = torch.nn
F = nn.functional


def _as_matrix(value: Value) -> torch.Tensor:
    """A block output as one tensor (lists concatenated on the last axis)."""
    return _cat_last([value])


class _Tower(nn.Module):
    """One task's tower (module docstring, steps 2-5)."""

    def __init__(
        self, tower: TaskTowerConfig, input_dim: int, width_of: Mapping[str, tuple[int, int]]
    ) -> None:
        super().__init__()
        where = f"task tower {tower.tower_name!r}"
        self.mlp: nn.Module | None = None
        width = input_dim
        if tower.mlp is not None:
            params = check_layer_params("MLP", tower.mlp).to_dict()
            self.mlp = component_class("MLP")(in_features=input_dim, **params)
            width = int(params["hidden_units"][-1]) if params.get("hidden_units") else input_dim
        self.transfer: nn.Module | None = None
        if tower.transfer_from is not None:
            other = width_of[tower.transfer_from][0]
            if other != width:
                raise ConfigError(
                    f"{where}: transfer_from {tower.transfer_from!r} needs towers of one width, but its output "
                    f"is {other} wide and this tower's is {width}; give both towers the same last hidden width."
                )
            self.transfer = component_class("AITMTransfer")(input_dim=width)
        self.fused_dim = width
        relation_in = width + sum(width_of[r][1] for r in tower.relation_tower_names)
        self.relation: nn.Module | None = None
        out = relation_in
        if tower.relation_mlp is not None:
            params = check_layer_params("MLP", tower.relation_mlp).to_dict()
            self.relation = component_class("MLP")(in_features=relation_in, **params)
            out = int(params["hidden_units"][-1]) if params.get("hidden_units") else relation_in
        self.relation_dim = out
        self.head = nn.Linear(out, 1)


class MultiTaskNetwork(BackboneNetwork):
    """The backbone and one tower per task; see the module docstring.

    Attributes:
        task_names: The tasks, in tower order (the columns of the outputs).
        towers_cfg: Their configs.
        log_vars: The learned log-variances ``s_t`` (``loss_weighting: uncertainty``), or None.
    """

    def __init__(
        self,
        backbone: Backbone,
        specs: Mapping[str, FeatureSpec],
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(backbone)
        params = backbone.config.model_params
        self.towers_cfg = list(params.task_towers)
        self.task_names = [t.tower_name for t in self.towers_cfg]
        self._index = {n: i for i, n in enumerate(self.task_names)}
        outputs = backbone.dummy_block_outputs(specs)
        self._sources: list[tuple[str | None, bool]] = []
        widths: dict[str, tuple[int, int]] = {}
        towers = []
        for i, tower in enumerate(self.towers_cfg):
            value = (
                outputs[tower.input]
                if tower.input is not None
                else (
                    outputs[backbone.concat_blocks[0]]
                    if len(backbone.concat_blocks) == 1
                    else [_as_matrix(outputs[n]) for n in backbone.concat_blocks]
                )
            )
            per_task = isinstance(value, (list, tuple)) and len(value) == len(self.towers_cfg)
            x = value[i] if per_task else _as_matrix(value)
            if not isinstance(x, torch.Tensor) or x.dim() != 2:
                raise ConfigError(
                    f"task tower {tower.tower_name!r}: its input "
                    f"{tower.input or backbone.concat_blocks} is not a [batch, width] tensor."
                )
            self._sources.append((tower.input, per_task))
            module = _Tower(tower, int(x.shape[-1]), widths)
            widths[tower.tower_name] = (module.fused_dim, module.relation_dim)
            if generator is not None:
                _init_from(module, generator)
            towers.append(module)
        self.towers = nn.ModuleList(towers)
        weighting = params.loss_weighting
        self.log_vars = (
            nn.Parameter(torch.zeros(len(self.towers_cfg))) if weighting == "uncertainty" else None
        )
        self.register_buffer(
            "task_weights",
            torch.tensor([float(t.weight) for t in self.towers_cfg]),
            persistent=False,
        )
        self.early_stopping_task = params.early_stopping_task
        self.rank_task = params.rank_task or self.task_names[0]
        metrics = [t.metrics[0] for t in self.towers_cfg]
        if self.early_stopping_task is not None:
            self.stopping_metric = (
                f"{self.early_stopping_task}_{metrics[self._index[self.early_stopping_task]]}"
            )
            first = metrics[self._index[self.early_stopping_task]]
        else:
            self.stopping_metric = "weighted_" + ("_".join(dict.fromkeys(metrics)))
            first = metrics[0]
        from recutils.evaluation import get_metric

        self.stopping_higher_is_better = get_metric(first).higher_is_better

    # ------------------------------------------------------------ forward
    def _tower_input(self, i: int, outputs: Mapping[str, Value]) -> torch.Tensor:
        name, per_task = self._sources[i]
        if name is not None:
            value = outputs[name]
        elif len(self.backbone.concat_blocks) == 1:
            value = outputs[self.backbone.concat_blocks[0]]
        else:
            value = [_as_matrix(outputs[n]) for n in self.backbone.concat_blocks]
        return value[i] if per_task else _as_matrix(value)

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        outputs = self.backbone.block_outputs(batch)
        fused: dict[str, torch.Tensor] = {}
        related: dict[str, torch.Tensor] = {}
        logits = []
        for i, (tower, module) in enumerate(zip(self.towers_cfg, self.towers)):
            h = self._tower_input(i, outputs)
            if module.mlp is not None:
                h = module.mlp(h)
            if module.transfer is not None:
                h = module.transfer([fused[tower.transfer_from], h])
            fused[tower.tower_name] = h
            if tower.relation_tower_names:
                h = torch.cat([h, *[related[r] for r in tower.relation_tower_names]], dim=-1)
            if module.relation is not None:
                h = module.relation(h)
            related[tower.tower_name] = h
            logits.append(module.head(h))
        return torch.cat(logits, dim=-1)

    # -------------------------------------------------------- predictions
    def conditional_probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Each tower's own output: ``sigmoid(logit)`` (classification; the CVR of an ESMM
        task) or the logit itself (regression), ``[B, T]``."""
        cols = [
            torch.sigmoid(logits[:, i]) if t.loss_type == "classification" else logits[:, i]
            for i, t in enumerate(self.towers_cfg)
        ]
        return torch.stack(cols, dim=-1)

    def to_prediction(self, logits: torch.Tensor) -> torch.Tensor:
        """Predictions against each task's label, ``[B, T]`` (module docstring)."""
        probs = self.conditional_probabilities(logits)
        cols = []
        for i, t in enumerate(self.towers_cfg):
            col = probs[:, i]
            base = t.entire_space_of
            while base is not None:  # a chain of entire-space tasks multiplies through
                j = self._index[base]
                col = col * probs[:, j]
                base = self.towers_cfg[j].entire_space_of
            cols.append(col)
        return torch.stack(cols, dim=-1)

    def _log_probability(self, logits: torch.Tensor, i: int) -> torch.Tensor:
        """``log p_i`` of task ``i``'s prediction (a sum of log-sigmoids along its ESMM chain)."""
        out = F.logsigmoid(logits[:, i])
        base = self.towers_cfg[i].entire_space_of
        while base is not None:
            j = self._index[base]
            out = out + F.logsigmoid(logits[:, j])
            base = self.towers_cfg[j].entire_space_of
        return out

    # ---------------------------------------------------------------- loss
    def task_losses(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Each task's loss ``L_t`` (before weighting and calibration), ``[T]``."""
        if labels.dim() != 2 or labels.shape[1] != len(self.towers_cfg):
            raise DataError(
                f"a multi-task batch needs labels of shape [batch, {len(self.towers_cfg)}] "
                f"(one column per task {self.task_names}), got {tuple(labels.shape)}."
            )
        losses = []
        for i, t in enumerate(self.towers_cfg):
            y = labels[:, i]
            if t.loss_type == "regression":
                losses.append(F.mse_loss(logits[:, i], y))
            elif t.entire_space_of is None:
                losses.append(F.binary_cross_entropy_with_logits(logits[:, i], y))
            else:
                log_p = self._log_probability(logits, i)
                log_not_p = torch.log((-torch.expm1(log_p)).clamp_min(1e-12))
                losses.append(-(y * log_p + (1.0 - y) * log_not_p).mean())
        return torch.stack(losses)

    def compute_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The training loss (module docstring)."""
        losses = self.task_losses(logits, labels)
        if self.log_vars is None:
            total = (self.task_weights * losses).sum()
        else:
            total = (self.task_weights * (torch.exp(-self.log_vars) * losses + self.log_vars)).sum()
        calibrated = [(i, t) for i, t in enumerate(self.towers_cfg) if t.calibration_weight]
        if calibrated:
            preds = self.to_prediction(logits)
            for i, t in calibrated:
                j = self._index[t.transfer_from]  # type: ignore[index]
                total = (
                    total + float(t.calibration_weight) * F.relu(preds[:, i] - preds[:, j]).mean()
                )
        return total

    # ---------------------------------------------------------- validation
    def evaluate_tasks(
        self, labels: np.ndarray, predictions: np.ndarray
    ) -> tuple[float, dict[str, float]]:
        """``(early-stopping value, {"<task>_<metric>": value})`` of validation predictions."""
        from recutils.evaluation import score_arrays

        values: dict[str, float] = {}
        firsts = []
        for i, t in enumerate(self.towers_cfg):
            for j, metric in enumerate(t.metrics):
                value = float(score_arrays(metric, labels[:, i], predictions[:, i]))
                values[f"{t.tower_name}_{metric}"] = value
                if j == 0:
                    firsts.append(value)
        if self.early_stopping_task is not None:
            value = firsts[self._index[self.early_stopping_task]]
        else:
            w = np.array([float(t.weight) for t in self.towers_cfg])
            value = float(np.dot(w, firsts) / w.sum()) if w.sum() else float(np.mean(firsts))
        return value, values


def build_multitask_network(
    config: ModelConfig, specs: Mapping[str, FeatureSpec], *, seed: int | None = None
) -> MultiTaskNetwork:
    """Validate a ``MultiTaskModel`` config against fitted feature ``specs`` and build it.

    Bounded by :data:`recutils.limits.MAX_PARAMETERS` like every config-built network
    (:func:`recutils.nn.backbone.build_network_with_limits`).

    Raises:
        ConfigError: a config problem (naming the block or tower and the fix).
    """
    if config.model_class != "MultiTaskModel":
        raise ConfigError(
            f"model_class {config.model_class!r} is not a multi-task model; build it with "
            "recutils.nn.backbone.build_rank_network."
        )
    return build_network_with_limits(
        config, specs, lambda backbone, used, gen: MultiTaskNetwork(backbone, used, gen), seed=seed
    )


__all__ = ["MultiTaskNetwork", "build_multitask_network"]
