"""Two-tower retrieval networks (``model_class: MatchModel``): a user tower, an item tower, a similarity.

:func:`build_match_network` builds the backbone of the config and splits it at
``model_params.match`` (:class:`~recutils.nn.config.MatchConfig`): the user tower is the
``user_block`` and every block it reads, the item tower the ``item_block`` and its
inputs. The towers must not share a block or a feature group, so each is computed on its
own (:meth:`MatchNetwork.user_embeddings`, :meth:`MatchNetwork.item_embeddings`); a linear
layer maps each to ``output_dim``, and with ``similarity: cosine`` the embeddings are
L2-normalised. Scores are ``<u, v> / temperature``.

Training batches hold positive (user, item) rows with, besides the features, the item's
index in the catalogue (``item_index``) and the log of its share of the training rows
(``item_logq``). In training mode ``forward`` returns what :meth:`MatchNetwork.compute_loss`
needs for the configured loss (see :class:`~recutils.nn.config.MatchConfig`): logits with
the positive's column, or positive and negative scores. Sampled negatives are drawn with
torch's generator (seeded by the trainer) from the item catalogue given to
:meth:`MatchNetwork.set_catalogue`: the encoded features of every item, one row per
catalogue index. In eval mode ``forward`` returns the score of each row's (user, item)
pair ``[B]``, which the trainer's validation (AUC of positives against sampled negatives)
reads.

Item-to-item models (``loss: circle``, no ``user_block``) have the item tower only. Their
training batches hold (anchor, positive) pairs of catalogue indices (``item_index``,
``positive_index``); both items' features come from the catalogue and both go through the
item tower, and the loss is circle loss over the batch's ``2 B`` items
(:func:`recutils.nn.losses.circle_loss`). In eval mode ``forward`` returns each pair's
similarity ``[B]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from recutils.exceptions import ConfigError, DataError
from recutils.nn.backbone import (
    Backbone,
    BackboneNetwork,
    _init_from,
    block_matrix,
    build_network_with_limits,
)
from recutils.nn.config import ModelConfig
from recutils.nn.features import FeatureSpec
from recutils.nn.losses import circle_loss
from recutils.utils.deps import require

torch = require("torch", "torch")
nn = torch.nn
F = nn.functional

#: Batch keys of a training row's catalogue index and the log of its item's sampling share.
ITEM_INDEX, ITEM_LOGQ = "item_index", "item_logq"
#: Batch key of the catalogue index of an item-to-item pair's positive item (``loss: circle``).
POSITIVE_INDEX = "positive_index"
_MASKED = -1e9


def _matrix(value: object, block: str) -> torch.Tensor:
    return block_matrix(value, f"match: block {block!r} (a tower)")


def sample_catalogue(
    logq: torch.Tensor, n: int, negative_sampling: str, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` indices of a catalogue of ``len(logq)`` items, drawn with replacement from torch's
    global generator, and the log of their probability.

    Args:
        logq: The log of each item's share of the training rows (``[n_items]``).
        n: How many to draw.
        negative_sampling: ``popularity`` (by ``exp(logq)``) or ``uniform``.
        device: Where the results go.
    """
    if negative_sampling == "popularity":
        idx = torch.multinomial(torch.exp(logq), n, replacement=True)
        sample_logq = logq[idx]
    else:
        idx = torch.randint(0, logq.numel(), (n,))
        sample_logq = torch.full((n,), -math.log(logq.numel()))
    return idx.to(device), sample_logq.to(device)


def in_batch_softmax_logits(
    logits: torch.Tensor,
    items: torch.Tensor | None,
    item_logq: torch.Tensor | None = None,
    *,
    remove_accidental_hits: bool = False,
) -> dict[str, torch.Tensor]:
    """The in-batch softmax's logits and targets: row ``i`` scores every row's positive item, its
    own (the diagonal) being the target.

    Args:
        logits: ``[B, B]`` scores of row ``i``'s query against row ``j``'s positive item.
        items: ``[B]`` catalogue indices of the rows' positive items (None: no hit is removed).
        item_logq: ``[B]`` log sampling share of those items: subtracted from each column (the
            logQ correction, Yi et al. 2019), or None.
        remove_accidental_hits: Mask the columns whose item is the row's own positive (off the
            diagonal).

    Returns:
        ``{"logits": [B, B], "target": [B]}``, the input of a softmax cross-entropy.
    """
    if item_logq is not None:
        logits = logits - item_logq.unsqueeze(0)
    if remove_accidental_hits and items is not None:
        same = items.unsqueeze(0) == items.unsqueeze(1)
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, _MASKED)
    return {"logits": logits, "target": torch.arange(len(logits), device=logits.device)}


def sampled_softmax_logits(
    pos: torch.Tensor,
    negs: torch.Tensor,
    items: torch.Tensor | None,
    sampled: torch.Tensor,
    item_logq: torch.Tensor | None = None,
    sample_logq: torch.Tensor | None = None,
    *,
    remove_accidental_hits: bool = False,
    hard_negatives: int = 0,
) -> dict[str, torch.Tensor]:
    """The sampled softmax's logits and targets: each row's positive (column 0) against shared negatives.

    Args:
        pos: ``[B]`` scores of the rows' positive items.
        negs: ``[B, K]`` scores of the ``K`` drawn items.
        items: ``[B]`` catalogue indices of the positives (None: no hit is removed).
        sampled: ``[K]`` catalogue indices of the drawn items.
        item_logq, sample_logq: ``[B]`` / ``[K]`` log sampling probabilities subtracted from
            ``pos`` / ``negs`` (the logQ correction), or None.
        remove_accidental_hits: Mask a drawn item equal to the row's positive.
        hard_negatives: Keep only the row's this many highest-scored negatives (0: all).

    Returns:
        ``{"logits": [B, 1 + K'], "target": [B]}`` (target 0), the input of a softmax cross-entropy.
    """
    pos = pos.unsqueeze(1)
    if item_logq is not None:
        pos = pos - item_logq.unsqueeze(1)
    if sample_logq is not None:
        negs = negs - sample_logq.unsqueeze(0)
    if remove_accidental_hits and items is not None:
        negs = negs.masked_fill(sampled.unsqueeze(0) == items.unsqueeze(1), _MASKED)
    if hard_negatives:
        negs = negs.topk(hard_negatives, dim=1).values
    logits = torch.cat([pos, negs], dim=1)
    return {"logits": logits, "target": torch.zeros(len(pos), dtype=torch.long, device=pos.device)}


class MatchNetwork(BackboneNetwork):
    """A user tower and an item tower over one backbone; see the module docstring.

    Attributes:
        user_groups, item_groups: The feature groups each tower reads.
        embedding_dim: The width of both towers' embeddings.
    """

    def __init__(
        self,
        backbone: Backbone,
        specs: Mapping[str, FeatureSpec],
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(backbone)
        match = backbone.config.model_params.match
        if match is None:
            raise ConfigError("a two-tower network needs model_params.match.")
        self.match = match
        self.user_order = backbone.needed_blocks([match.user_block]) if match.user_block else []
        self.item_order = backbone.needed_blocks([match.item_block])
        shared = sorted(set(self.user_order) & set(self.item_order))
        if shared:
            raise ConfigError(
                f"match: the user and item towers share the block(s) {shared}; each tower must "
                "be computed on its own (give each its own blocks and feature groups)."
            )
        self.user_groups = self._groups(self.user_order)
        self.item_groups = self._groups(self.item_order)
        both = sorted(set(self.user_groups) & set(self.item_groups))
        if both:
            raise ConfigError(
                f"match: feature group(s) {both} feed both towers; give each tower its own groups."
            )
        outputs = backbone.dummy_block_outputs(specs)
        item_dim = int(_matrix(outputs[match.item_block], match.item_block).shape[-1])
        user_dim = self._user_width(outputs[match.user_block]) if match.user_block else item_dim
        if match.output_dim is None:
            if user_dim != item_dim:
                raise ConfigError(
                    f"match: the user tower outputs {user_dim} values and the item tower {item_dim}; with "
                    "output_dim: null the two widths must agree (or set output_dim)."
                )
            self.user_proj: nn.Module | None = None
            self.item_proj: nn.Module | None = None
            self.embedding_dim = user_dim
        else:
            self.user_proj = nn.Linear(user_dim, match.output_dim) if match.user_block else None
            self.item_proj = nn.Linear(item_dim, match.output_dim)
            if generator is not None:
                for proj in (self.user_proj, self.item_proj):
                    if proj is not None:
                        _init_from(proj, generator)
            self.embedding_dim = int(match.output_dim)
        self._catalogue: dict[str, torch.Tensor] | None = None
        self._sampling_logq: torch.Tensor | None = None

    def _user_width(self, value: object) -> int:
        """The width of the user tower's output (a ``[batch, width]`` matrix); a network whose
        user tower gives several vectors per user reads their width here."""
        return int(_matrix(value, self.match.user_block).shape[-1])

    def _groups(self, order: list[str]) -> list[str]:
        cfg = self.backbone.blocks_cfg
        return sorted(
            {i.feature_group_name for n in order for i in cfg[n].inputs if i.feature_group_name}
        )

    # --------------------------------------------------------- embeddings
    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=-1) if self.match.similarity == "cosine" else x

    def user_embeddings(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The user tower's embeddings ``[B, d]`` (normalised under cosine similarity).

        Raises:
            ConfigError: an item-to-item network (it has no user tower).
        """
        if self.match.item_to_item:
            raise ConfigError(
                "match: this item-to-item network (loss: circle) has no user tower (user_block)."
            )
        out = _matrix(
            self.backbone.block_outputs(batch, [self.match.user_block])[self.match.user_block],
            self.match.user_block,
        )
        return self._normalise(out if self.user_proj is None else self.user_proj(out))

    def item_embeddings(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The item tower's embeddings ``[B, d]`` (normalised under cosine similarity)."""
        out = _matrix(
            self.backbone.block_outputs(batch, [self.match.item_block])[self.match.item_block],
            self.match.item_block,
        )
        return self._normalise(out if self.item_proj is None else self.item_proj(out))

    # ----------------------------------------------------------- catalogue
    def set_catalogue(self, items: Mapping[str, torch.Tensor], logq: np.ndarray) -> None:
        """The encoded features of every catalogue item (row ``j`` = item index ``j``) and the
        log of each item's share of the training rows (the popularity sampler and the logQ
        correction of sampled negatives). Not saved with the weights."""
        n = len(logq)
        sizes = {k: int(v.shape[0]) for k, v in items.items()}
        if any(s != n for s in sizes.values()):
            raise DataError(f"the item catalogue's tensors {sizes} do not all have {n} rows.")
        self._catalogue = dict(items)
        self._sampling_logq = torch.as_tensor(np.asarray(logq, dtype=np.float32))

    def _sample(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` catalogue indices drawn by the configured sampler and the log of their probability."""
        if self._catalogue is None or self._sampling_logq is None:
            raise DataError(
                "sampled negatives need the item catalogue: call set_catalogue() before training."
            )
        return sample_catalogue(self._sampling_logq, n, self.match.negative_sampling, device)

    def _catalogue_rows(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        if self._catalogue is None:
            raise DataError(
                "this network reads item features from the item catalogue: call set_catalogue() first."
            )
        return {
            k: v.index_select(0, idx.to(v.device)).to(idx.device)
            for k, v in self._catalogue.items()
        }

    # -------------------------------------------------------------- forward
    def _score(self, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return (u * v).sum(-1) / self.match.temperature

    def forward(self, batch: Mapping[str, torch.Tensor]) -> object:
        if self.match.item_to_item:
            return self._pair_outputs(batch)
        u = self.user_embeddings(batch)
        v = self.item_embeddings(batch)
        if not self.training:
            return self._score(u, v)
        return self._training_outputs(u, v, batch)

    def _pair_outputs(self, batch: Mapping[str, torch.Tensor]) -> object:
        """An item-to-item batch of (anchor, positive) catalogue indices: in training, the
        ``2 B`` items' embeddings with their pair labels (the input of circle loss); in
        eval, each pair's score ``[B]``."""
        anchors, positives = batch[ITEM_INDEX], batch[POSITIVE_INDEX]
        items = torch.cat([anchors, positives])
        vectors = self.item_embeddings(self._catalogue_rows(items))
        n = len(anchors)
        if not self.training:
            return self._score(vectors[:n], vectors[n:])
        return {
            "vectors": vectors,
            "labels": torch.arange(n, device=items.device).repeat(2),
            "items": items,
        }

    def _training_outputs(
        self, u: torch.Tensor, v: torch.Tensor, batch: Mapping[str, torch.Tensor]
    ) -> object:
        """What :meth:`compute_loss` needs for the configured loss, from each row's user
        embedding ``u [B, d]`` and item embedding ``v [B, d]``."""
        m = self.match
        tau = m.temperature
        if m.loss == "in_batch_softmax":
            return in_batch_softmax_logits(
                u @ v.T / tau,
                batch.get(ITEM_INDEX),
                batch[ITEM_LOGQ] if m.logq_correction else None,
                remove_accidental_hits=m.remove_accidental_hits,
            )
        if m.loss == "sampled_softmax":
            idx, sample_logq = self._sample(m.num_negatives, u.device)
            neg = self.item_embeddings(self._catalogue_rows(idx))
            return sampled_softmax_logits(
                self._score(u, v),
                u @ neg.T / tau,
                batch.get(ITEM_INDEX),
                idx,
                batch[ITEM_LOGQ] if m.logq_correction else None,
                sample_logq if m.logq_correction else None,
                remove_accidental_hits=m.remove_accidental_hits,
                hard_negatives=m.hard_negatives,
            )
        idx, _ = self._sample(len(u), u.device)
        neg = self.item_embeddings(self._catalogue_rows(idx))
        return {
            "pos": self._score(u, v),
            "neg": self._score(u, neg),
            "valid": idx != batch[ITEM_INDEX],
        }

    def to_prediction(self, outputs: torch.Tensor) -> torch.Tensor:
        """Pair scores (eval mode) as they are: a retrieval score ranks, it is not a probability."""
        return outputs

    def compute_loss(
        self, outputs: Mapping[str, torch.Tensor], labels: torch.Tensor
    ) -> torch.Tensor:
        """The configured loss of a training forward pass (the batch's rows are positives)."""
        if not isinstance(outputs, Mapping):
            raise DataError("a two-tower network trains on the outputs of training mode.")
        if "logits" in outputs:
            return F.cross_entropy(outputs["logits"], outputs["target"])
        if "vectors" in outputs:
            return circle_loss(
                outputs["vectors"],
                outputs["labels"],
                outputs["items"],
                self.match.margin,
                self.match.gamma,
            )
        diff = outputs["pos"] - outputs["neg"]
        losses = (
            -F.logsigmoid(diff) if self.match.loss == "bpr" else F.relu(self.match.margin - diff)
        )
        keep = outputs["valid"].to(losses.dtype)
        return (losses * keep).sum() / keep.sum().clamp_min(1.0)


def build_match_network(
    config: ModelConfig, specs: Mapping[str, FeatureSpec], *, seed: int | None = None
) -> MatchNetwork:
    """Validate a ``MatchModel`` config against fitted feature ``specs`` and build its towers
    (within :data:`recutils.limits.MAX_PARAMETERS`, see
    :func:`recutils.nn.backbone.build_network_with_limits`).

    Raises:
        ConfigError: a config problem (naming the block or the field).
    """
    if config.model_class != "MatchModel":
        raise ConfigError(f"model_class {config.model_class!r} is not a two-tower model.")
    return build_network_with_limits(
        config, specs, lambda backbone, used, gen: MatchNetwork(backbone, used, gen), seed=seed
    )


__all__ = [
    "ITEM_INDEX",
    "ITEM_LOGQ",
    "POSITIVE_INDEX",
    "MatchNetwork",
    "build_match_network",
    "in_batch_softmax_logits",
    "sample_catalogue",
    "sampled_softmax_logits",
]
