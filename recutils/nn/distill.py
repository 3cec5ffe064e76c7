"""Knowledge distillation terms added to a deep model's training loss (the ``kd`` config).

Each :class:`~recutils.nn.config.DistillationConfig` adds
``loss_weight * DistillationLoss(student logit, teacher probability)`` to the hard loss
(:class:`recutils.nn.losses.DistillationLoss`, at the term's temperature, scaled by
``T ** 2``). The soft labels travel with the training rows as the ``soft_label`` tensor
``[rows, terms]`` (teacher probabilities); the student logit is the model's logit, the
light net's for Rocket Launching, or the named task's tower logit for a multi-task model.

* ``bce``: cross-entropy against the softened teacher probability;
* ``kl``: the KL divergence of the two Bernoulli distributions (written as two classes);
* ``mse``: squared error between the logits (the teacher's probability clipped to
  ``[1e-6, 1 - 1e-6]`` before its logit).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recutils.exceptions import ConfigError, DataError
from recutils.nn.config import DistillationConfig
from recutils.nn.data import SOFT_LABEL
from recutils.nn.losses import DistillationLoss
from recutils.utils.deps import require

torch = require("torch", "torch")

_CLIP = 1e-6


def check_teacher_probabilities(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` as float32 probabilities, or a :class:`DataError` naming ``what`` (NaN, or
    outside [0, 1])."""
    arr = np.asarray(values, dtype=np.float64)
    n_nan = int(np.isnan(arr).sum())
    if n_nan:
        raise DataError(
            f"kd: {what} has {n_nan} NaN value(s); the teacher must score every training row."
        )
    bad = (arr < 0) | (arr > 1)
    if bad.any():
        raise DataError(
            f"kd: {what} holds values outside [0, 1] (e.g. {arr[bad][:3].tolist()}); the teacher's "
            "soft labels must be probabilities."
        )
    return arr.astype(np.float32)


class DistillationObjective:
    """``outputs, soft -> sum_k w_k * KD_k`` for the configured terms.

    Args:
        terms: The ``kd`` entries.
        task_index: For each term, the column of the network's outputs holding the student
            logit (None: the outputs are the logits ``[B]``).
    """

    def __init__(
        self, terms: Sequence[DistillationConfig], task_index: Sequence[int | None]
    ) -> None:
        if len(terms) != len(task_index):
            raise ConfigError("kd: one task index per term is needed.")
        self.weights = [float(t.loss_weight) for t in terms]
        self.kinds = [t.loss_type for t in terms]
        self.task_index = list(task_index)
        self.losses = [
            DistillationLoss(
                float(t.temperature),
                "kl" if t.loss_type == "kl" else t.loss_type,
                teacher_input="logits" if t.loss_type == "mse" else "probs",
            )
            for t in terms
        ]

    def __call__(self, outputs: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
        total = outputs.new_zeros(())
        for k, (loss, weight, kind, index) in enumerate(
            zip(self.losses, self.weights, self.kinds, self.task_index)
        ):
            student = outputs if index is None else outputs[:, index]
            teacher = soft[:, k]
            if kind == "kl":  # two classes: logits [0, z], teacher [1 - p, p]
                student = torch.stack([torch.zeros_like(student), student], dim=-1)
                teacher = torch.stack([1.0 - teacher, teacher], dim=-1)
            elif kind == "mse":
                teacher = torch.logit(teacher.clamp(_CLIP, 1.0 - _CLIP))
            total = total + weight * loss(student, teacher)
        return total


__all__ = ["SOFT_LABEL", "DistillationObjective", "check_teacher_probabilities"]
