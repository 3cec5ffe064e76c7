"""TensorFlow Recommenders' two-tower retrieval model behind the recutils contract.

A user tower and an item tower (each: the id's embedding, plus the embeddings of the
configured categorical features, then optional ReLU layers ``tower_dims`` and a linear
projection to ``embedding_dim`` when there are features or layers) are trained with
``tfrs.tasks.Retrieval``: for a batch of (user, item) training rows, the in-batch
softmax cross-entropy of ``u . i`` over the batch's items (the other rows' items are
the negatives). In-batch negatives are drawn in proportion to popularity, which pushes
popular items down; ``logq_correction`` passes TFRS' ``candidate_sampling_probability``
(each item's share of the training rows), so that each logit loses the log of its
item's probability (Yi et al. 2019), and ``remove_accidental_hits`` stops a batch row
whose item equals the row's own positive from counting as a negative (both off by
default, as in TFRS). The task carries ``tfrs.metrics.FactorizedTopK`` over every item; it is
switched off while training (``compute_metrics=False``), as it costs a full scoring
pass per step.

Scores: ``s(u, i) = u . i`` of the tower outputs. After ``fit`` (and ``load``) the
towers are run once over every user and item; ranking is then a dense product per
block of users (brute force over all items, vectorised).

Policies: every training row is a positive (ratings are not read); repeated rows
count as often as they occur, as in TFRS. Users not seen in training are skipped
with a :class:`~recutils.exceptions.DataWarning`. Needs ``pip install
"recutils[tensorflow]"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recutils.exceptions import ConfigError
from recutils.models.base import ContractCase, TrainData
from recutils.models.tfrs._base import TFRSBaseConfig, TFRSRecommender
from recutils.utils.validation import check_bool, check_number, check_positive_ints


@dataclass
class TFRSRetrievalConfig(TFRSBaseConfig):
    """Hyper-parameters of :class:`TFRSRetrieval` (see :class:`TFRSBaseConfig` for the rest).

    Attributes:
        tower_dims: ReLU layer sizes of each tower after the embeddings (default none).
        temperature: Divides the logits of the in-batch softmax (``None``: 1).
        logq_correction: Subtract from each in-batch logit the log of its item's share of
            the training rows (TFRS' ``candidate_sampling_probability``).
        remove_accidental_hits: TFRS' option of that name: an in-batch item equal to the
            row's positive is not a negative.
    """

    tower_dims: list[int] = field(default_factory=list)
    temperature: float | None = None
    logq_correction: bool = False
    remove_accidental_hits: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.tower_dims = check_positive_ints(
            "tower_dims", self.tower_dims, allow_scalar=False, allow_empty=True
        )
        if self.temperature is not None:
            check_number("temperature", self.temperature, strict=True)
        self.logq_correction = check_bool("logq_correction", self.logq_correction)
        self.remove_accidental_hits = check_bool(
            "remove_accidental_hits", self.remove_accidental_hits
        )


def item_sampling_probability(item_idx: np.ndarray, n_items: int) -> np.ndarray:
    """Each item's share of the training rows (``item_idx``: one code per row), the
    probability with which an in-batch negative is that item; float64, sums to 1."""
    counts = np.bincount(np.asarray(item_idx, dtype=np.int64), minlength=n_items)
    return counts / max(int(counts.sum()), 1)


class TFRSRetrieval(TFRSRecommender):
    """TFRS two-tower retrieval (see the module docstring).

    Args:
        config: A :class:`TFRSRetrievalConfig`, a mapping or YAML; keyword arguments
            override it.
        col_user, col_item, col_prediction: Column names (``col_rating`` and
            ``col_timestamp`` are accepted and ignored).
        progress: A progress bar over epochs and scoring blocks.

    Fitted attributes:
        user_embeddings_ (``n_users x d``), item_embeddings_ (``n_items x d``), float32
        tower outputs; module_ (the TensorFlow module that computes them);
        loss_history_; user_ids_, item_ids_, seen_.

    Examples:
        >>> from recutils.models.tfrs import TFRSRetrieval
        >>> model = TFRSRetrieval(embedding_dim=32, epochs=5, seed=42)  # doctest: +SKIP
        >>> top = model.fit(train).recommend_k_items(test, top_k=10)  # doctest: +SKIP
    """

    name = "tfrs_retrieval"
    config_class = TFRSRetrievalConfig
    config: TFRSRetrievalConfig
    duplicates = "keep"
    needs_rating = False

    def _network(self, nets: Any, data: TrainData) -> Any:
        c = self.config
        project = c.embedding_dim if (c.tower_dims or c.user_features or c.item_features) else None
        user, item = self._towers(nets, data, c.tower_dims, project)
        probability = None
        if c.logq_correction:
            probability = np.empty(data.n_items, dtype=np.float64)
            probability[self.item_rows_] = item_sampling_probability(data.item_idx, data.n_items)
        return nets.RetrievalNet(
            user,
            item,
            data.n_items,
            c.temperature,
            item_probability=probability,
            remove_accidental_hits=c.remove_accidental_hits,
        )

    def _train_arrays(self, data: TrainData) -> dict[str, np.ndarray]:
        return {"user": self.user_rows_[data.user_idx], "item": self.item_rows_[data.item_idx]}

    def _export(self, net: Any) -> Any:
        from recutils.models.tfrs import _networks as nets

        return nets.RetrievalExport(net)

    def _signatures(self, module: Any) -> dict[str, Any]:
        return {
            "user_embeddings": module.user_embeddings,
            "item_embeddings": module.item_embeddings,
        }

    def _prepare(self) -> None:
        from recutils.models.tfrs import _networks as nets

        self.user_embeddings_ = nets.run(self.module_.user_embeddings, self.user_rows_)
        self.item_embeddings_ = nets.run(self.module_.item_embeddings, self.item_rows_)
        if self.user_embeddings_.shape[1] != self.item_embeddings_.shape[1]:
            raise ConfigError("the user and item towers give embeddings of different sizes.")

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        users = self.user_embeddings_[user_idx].astype(np.float64)
        return users @ self.item_embeddings_.astype(np.float64).T

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        users = self.user_embeddings_[user_idx].astype(np.float64)
        items = self.item_embeddings_[item_idx].astype(np.float64)
        return np.einsum("nd,nd->n", users, items)

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {"embedding_dim": 8, "epochs": 2, "batch_size": 64, "seed": 0, "num_threads": 1}
        return ContractCase(params=params, stochastic=True)


__all__ = ["TFRSRetrieval", "TFRSRetrievalConfig", "item_sampling_probability"]
