"""Feature-level input dropout: per row, replace some single-id features with the out-of-vocabulary id.

DropoutNet (Volkovs et al., NeurIPS 2017) drops a row's *preference* input (the user's or
item's id embedding) with probability ``rate`` during training, so the network learns to
score from the content features alone; a cold item (an id never seen in training) is then
served through the same path. Here the dropped ids are set to the out-of-vocabulary id
(:data:`recutils.nn.features.OOV`), the id every unknown value encodes to, so the embedding
the network learns for "no preference input" is exactly the one a cold id gets at serving
time.

:class:`FeatureDropout` acts on a batch (``batch["ids"]``, the matrix of single-id features,
:class:`~recutils.nn.data.BatchLayout`) before the embeddings are looked up, so it is not a
backbone block (blocks read embedded tensors); a network applies it to its batches.
:class:`FeatureDropoutParams` is its validated config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from recutils.config import BaseConfig
from recutils.exceptions import ConfigError
from recutils.nn.components._torch import nn, torch
from recutils.nn.features import OOV
from recutils.utils.validation import check_probability

#: The batch key of the single-id feature matrix (:class:`~recutils.nn.data.BatchLayout`).
IDS_KEY = "ids"


@dataclass
class FeatureDropoutParams(BaseConfig):
    """A feature-level dropout: ``features`` (single-id features) replaced together, per row,
    with probability ``rate``.

    Attributes:
        rate: Probability in ``[0, 1)`` that a row's ``features`` are dropped.
        features: The names of the single-id features dropped together.
    """

    rate: float = 0.5
    features: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rate = check_probability("rate", self.rate, open_right=True, owner="feature dropout")
        if (
            not isinstance(self.features, (list, tuple))
            or not self.features
            or not all(isinstance(f, str) and f for f in self.features)
        ):
            raise ConfigError(
                f"feature dropout: features must be a non-empty list of feature names, "
                f"got {self.features!r}."
            )
        self.features = list(self.features)


class FeatureDropout(nn.Module):
    """Per row, with probability ``rate``, set the id columns ``columns`` of ``batch["ids"]``
    to ``replacement`` (one draw per row for all of them). Identity in eval mode.

    The draws come from torch's default generator, which the trainer seeds, so training is
    deterministic under the trainer's seed (as with :class:`torch.nn.Dropout`).

    Args:
        columns: Column indices of the dropped features in ``batch["ids"]``.
        rate: Probability in ``[0, 1)`` that a row's features are replaced.
        replacement: The id written in (default: the out-of-vocabulary id).
    """

    def __init__(self, columns: Sequence[int], rate: float = 0.5, replacement: int = OOV) -> None:
        super().__init__()
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"feature dropout rate must be in [0, 1), got {rate}")
        cols = [int(c) for c in columns]
        if not cols or min(cols) < 0:
            raise ValueError(f"feature dropout needs non-negative id columns, got {list(columns)}")
        self.rate = rate
        self.replacement = int(replacement)
        self.register_buffer(
            "columns", torch.tensor(sorted(set(cols)), dtype=torch.int64), persistent=False
        )

    def extra_repr(self) -> str:
        return f"columns={self.columns.tolist()}, rate={self.rate}"

    def forward(self, batch: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
        """``batch`` as it is in eval mode or at rate 0; otherwise a copy whose dropped rows'
        id columns hold ``replacement`` (other keys shared, not copied)."""
        if not self.training or self.rate == 0.0:
            return batch
        ids = batch[IDS_KEY]
        drop = torch.rand(ids.shape[0], device=ids.device) < self.rate
        cols = self.columns.to(ids.device)
        out = ids.clone()
        block = out.index_select(1, cols)
        block[drop] = self.replacement
        out.index_copy_(1, cols, block)
        return {**batch, IDS_KEY: out}


__all__ = ["IDS_KEY", "FeatureDropout", "FeatureDropoutParams"]
