"""A DCN-style ranking model built with TensorFlow Recommenders, behind the recutils contract.

The user and item towers (embeddings of the id and of the configured categorical
features, as in :mod:`recutils.models.tfrs.retrieval`, no projection) are concatenated
into ``x0``; ``n_cross`` cross layers ``x_{l+1} = x0 * (W x_l + b) + x_l``
(``tfrs.layers.dcn.Cross``, a low-rank ``W`` with ``projection_dim``), a deep ReLU
stack (``deep_dims``) and a linear output follow. Trained with ``tfrs.tasks.Ranking``:

* ``target="rating"``: mean squared error on the rating; the prediction is the rating;
* ``target="click"``: binary cross-entropy on a 0/1 label (the rating column); the
  prediction is the click probability.

``predict`` scores the given pairs; ``recommend_k_items`` scores every item of a block
of users in one batched call. Users not seen in training are skipped with a
:class:`~recutils.exceptions.DataWarning`. Needs ``pip install "recutils[tensorflow]"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recutils.exceptions import DataError
from recutils.models.base import ContractCase, TrainData
from recutils.models.tfrs._base import TFRSBaseConfig, TFRSRecommender
from recutils.utils.validation import check_choice, check_positive_int, check_positive_ints

TARGETS = ("rating", "click")


@dataclass
class TFRSRankingConfig(TFRSBaseConfig):
    """Hyper-parameters of :class:`TFRSRanking` (see :class:`TFRSBaseConfig` for the rest).

    Attributes:
        n_cross: Number of cross layers (0: a plain deep network).
        projection_dim: Rank of each cross layer's weight (``None``: full rank).
        deep_dims: ReLU layer sizes after the cross layers.
        target: ``rating`` (regression) or ``click`` (0/1 labels, probabilities).
    """

    n_cross: int = 1
    projection_dim: int | None = None
    deep_dims: list[int] = field(default_factory=lambda: [64, 32])
    target: str = "rating"
    learning_rate: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("n_cross", self.n_cross, minimum=0)
        if self.projection_dim is not None:
            check_positive_int("projection_dim", self.projection_dim)
        self.deep_dims = check_positive_ints(
            "deep_dims", self.deep_dims, allow_scalar=False, allow_empty=True
        )
        check_choice("target", self.target, TARGETS)


class TFRSRanking(TFRSRecommender):
    """TFRS DCN-style ranking (see the module docstring).

    Args:
        config: A :class:`TFRSRankingConfig`, a mapping or YAML; keyword arguments override it.
        col_user, col_item, col_rating, col_prediction: Column names (``col_timestamp``
            is accepted and ignored).
        progress: A progress bar over epochs and scoring blocks.

    Fitted attributes:
        module_ (the TensorFlow module scoring code pairs), loss_history_, user_ids_,
        item_ids_, seen_.

    Examples:
        >>> from recutils.models.tfrs import TFRSRanking
        >>> model = TFRSRanking(embedding_dim=32, epochs=5, seed=42)  # doctest: +SKIP
        >>> scores = model.fit(train).predict(test)  # doctest: +SKIP
    """

    name = "tfrs_ranking"
    config_class = TFRSRankingConfig
    config: TFRSRankingConfig
    #: Pairs scored per TensorFlow call.
    score_batch: int = 1 << 18

    def _network(self, nets: Any, data: TrainData) -> Any:
        c = self.config
        user, item = self._towers(nets, data, [], None)
        return nets.RankingNet(user, item, c.n_cross, c.projection_dim, c.deep_dims, c.target)

    def _train_arrays(self, data: TrainData) -> dict[str, np.ndarray]:
        label = data.rating.astype(np.float32)
        if self.config.target == "click" and not np.isin(label, (0.0, 1.0)).all():
            raise DataError(
                "target='click' needs 0/1 labels in the rating column, got values "
                f"{np.unique(label)[:5].tolist()}."
            )
        return {
            "user": self.user_rows_[data.user_idx],
            "item": self.item_rows_[data.item_idx],
            "label": label,
        }

    def _export(self, net: Any) -> Any:
        from recutils.models.tfrs import _networks as nets

        return nets.RankingExport(net)

    def _signatures(self, module: Any) -> dict[str, Any]:
        return {"serving_default": module.score}

    def _prepare(self) -> None:
        """Nothing to cache: every score is a call of ``module_.score``."""

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        from recutils.models.tfrs import _networks as nets

        out = np.empty(user_idx.size, dtype=np.float64)
        for start in range(0, user_idx.size, self.score_batch):
            sl = slice(start, start + self.score_batch)
            out[sl] = nets.run(
                self.module_.score, self.user_rows_[user_idx[sl]], self.item_rows_[item_idx[sl]]
            )
        return out

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        n_items = len(self.item_ids_)
        users = np.repeat(np.asarray(user_idx, dtype=np.int64), n_items)
        items = np.tile(np.arange(n_items, dtype=np.int64), len(user_idx))
        return self._score_pairs(users, items).reshape(len(user_idx), n_items)

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {
            "embedding_dim": 8,
            "epochs": 2,
            "batch_size": 64,
            "deep_dims": [16],
            "seed": 0,
            "num_threads": 1,
        }
        return ContractCase(params=params, stochastic=True)


__all__ = ["TARGETS", "TFRSRanking", "TFRSRankingConfig"]
