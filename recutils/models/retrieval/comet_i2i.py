"""CoMetricLearningI2I: item-to-item metric learning from click sessions (EasyRec's model).

An item-to-item ``MatchModel`` (:mod:`recutils.nn.match`, ``loss: circle``): the config has
an item tower only, a backbone block over an item feature group (the shipped preset
``configs/comet_i2i_sessions.yaml``: the item id's embedding; item-side content features,
such as a category or a brand, join the group as in DSSM's item tower: columns of the
training frame, configured with ``side: item``), L2-normalised, so that two items are
similar when their cosine is high. Training pairs are (anchor item, positive item) clicked
within ``window`` clicks of each other in the same session (user); each batch of
``train.batch_size`` pairs embeds its ``2 * batch_size`` items with the item tower and
every item of the batch is an anchor: its pair partner is its positive, the items of the
other pairs, whatever their session, are its negatives (as in EasyRec), except copies of
the anchor's own item. The loss is **circle loss** (Sun et al., CVPR 2020; EasyRec's
``loss_type: CIRCLE_LOSS``; :func:`recutils.nn.losses.circle_loss`) with EasyRec's
documented defaults ``margin = 0.25`` and ``gamma = 64`` (``model_params.match``).
Training goes through the shared :class:`~recutils.nn.trainer.Trainer` (seed, device,
threads, checkpoints).

Scoring: a history (a session prefix, or a user's last ``history_len`` training clicks
for :meth:`~CoMetricLearningI2I.recommend_k_items`) becomes the weighted sum of its items'
vectors, the ``a``-th click from the end weighing ``history_decay ** a`` (the last click
weighs 1, the heaviest), and every item scores its inner product with that sum (a weighted
sum of cosines). ``history_decay = 0`` scores by the last click alone.

The model implements :class:`recutils.benchmark.next_click.NextClickScorer`
(:meth:`~CoMetricLearningI2I.score_histories`), and has ``user_embeddings``,
``item_embeddings``, ``similar_items``, ``build_index`` (an index over the unit item
vectors, cosine) and ``model_version`` of the two-tower models. Items are embedded only
when they were trained (an unseen item has no trained id embedding, whatever its content).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError, DataError
from recutils.models import persistence
from recutils.models.base import ContractCase, TrainData
from recutils.models.retrieval.model import (
    CONFIG_DIR,
    RETRIEVAL_CLASSES,
    RETRIEVAL_PRESETS,
    TwoTowerConfig,
    TwoTowerModel,
)
from recutils.nn.config import ModelConfig
from recutils.nn.config_io import read_mapping
from recutils.nn.features import FeatureConfig
from recutils.splitting.sequences import recency_weights
from recutils.utils.deps import require
from recutils.utils.validation import check_columns, check_number, check_positive_int

torch = require("torch", "torch")

from recutils.nn.data import LABEL, TensorData  # noqa: E402
from recutils.nn.losses import circle_loss  # noqa: E402  (re-exported: its home was this module)
from recutils.nn.match import ITEM_INDEX, POSITIVE_INDEX  # noqa: E402
from recutils.nn.trainer import Trainer  # noqa: E402

logger = logging.getLogger(__name__)

#: The shipped preset: the settings of the next-click benchmark (``configs/comet_i2i_sessions.yaml``).
PRESET = CONFIG_DIR / RETRIEVAL_PRESETS["comet_i2i"]

#: Flat hyper-parameters accepted as keyword arguments (the model's former config fields) ->
#: where they live in the config (:meth:`CoMetricLearningI2I.__init__`).
FLAT_PARAMS: dict[str, str] = {
    "embedding_dim": "default_embedding_dim",
    "n_epochs": "train.epochs",
    "batch_size": "train.batch_size",
    "learning_rate": "train.optimizers[*].lr",
    "weight_decay": "train.optimizers[*].weight_decay",
    "margin": "model_config.model_params.match.margin",
    "gamma": "model_config.model_params.match.gamma",
}


def _preset() -> dict[str, Any]:
    return read_mapping(PRESET)


def _default_model_config() -> ModelConfig:
    return ModelConfig.from_dict(_preset()["model_config"])


def _default_features() -> list[FeatureConfig]:
    return [FeatureConfig.from_dict(f) for f in _preset()["features"]]


def session_pairs(
    sessions: np.ndarray, items: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """(anchor, positive) items clicked 1..``window`` positions apart in the same session
    (rows in click order, grouped by session); pairs of an item with itself are left out."""
    anchors, positives = [], []
    for offset in range(1, window + 1):
        ok = (sessions[offset:] == sessions[:-offset]) & (items[offset:] != items[:-offset])
        anchors.append(items[:-offset][ok])
        positives.append(items[offset:][ok])
    return np.concatenate(anchors), np.concatenate(positives)


@dataclass
class CoMetricI2IConfig(TwoTowerConfig):
    """A :class:`~recutils.models.retrieval.TwoTowerConfig` of an item-to-item model
    (``model_params.match``: ``loss: circle``, no ``user_block``); default: the preset.

    Attributes:
        window: Pairs are clicks at most this many positions apart in a session.
        history_decay: Weight ratio between a click and the one after it when scoring a
            history (``0 <= history_decay <= 1``; 0: the last click only).
        history_len: Training clicks per user kept for ``recommend_k_items``.
    """

    features: list[FeatureConfig] = field(default_factory=_default_features)
    default_embedding_dim: int = 64
    model_config: ModelConfig = field(default_factory=_default_model_config)
    window: int = 1
    history_decay: float = 0.5
    history_len: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("window", "history_len"):
            check_positive_int(name, getattr(self, name))
        check_number("history_decay", self.history_decay, maximum=1.0)
        match = self.model_config.model_params.match
        if match is None or not match.item_to_item:
            raise ConfigError(
                "CoMetricLearningI2I needs an item-to-item model_config: model_params.match with "
                "loss: circle and an empty user_block (the item tower embeds both items of a pair)."
            )
        if self.train.early_stopping_metric is not None:
            raise ConfigError(
                f"train.early_stopping_metric {self.train.early_stopping_metric!r}: "
                "CoMetricLearningI2I trains on every session pair without a validation split; "
                "set train.early_stopping_metric: null."
            )


def _set_flat(values: dict[str, Any], flat: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (a config dict) with the :data:`FLAT_PARAMS` of ``flat`` written in place."""
    for key, value in flat.items():
        *path, leaf = FLAT_PARAMS[key].split(".")
        targets = [values]
        for part in path:
            name, star = (part[:-3], True) if part.endswith("[*]") else (part, False)
            targets = [x for t in targets for x in (t[name] if star else [t[name]])]
        for target in targets:
            target[leaf] = value
    return values


class CoMetricLearningI2I(TwoTowerModel):
    """Item-to-item metric learning from sessions (see the module docstring).

    Args:
        config: A config replacing the preset (mapping, YAML text or path).
        feature_groups: Group name -> feature names, replacing the preset's groups' features
            (e.g. ``{"item": ["item_id", "category"]}`` with a ``category`` feature of
            ``side: item`` in ``features``).
        callbacks: Training callbacks.
        **params: Column names (``col_user`` is the session, or user; click order within a
            session comes from ``col_timestamp``, ties keep row order), ``progress`` (the
            training progress bar, shown when ``train.progress`` is on too), config
            overrides (``train={"epochs": 5}``) and the flat hyper-parameters of
            :data:`FLAT_PARAMS` (``n_epochs``, ``batch_size``, ``learning_rate``,
            ``weight_decay``, ``embedding_dim``, ``margin``, ``gamma``).

    Fitted attributes: ``network_`` (the item tower, a
    :class:`~recutils.nn.match.MatchNetwork`), ``item_vectors_`` (unit item vectors
    ``[n_items, d]`` in ``item_ids_`` order), ``recent_items_`` / ``recent_indptr_`` (each
    user's last ``history_len`` training clicks, item codes, oldest first), ``history_``
    (the trainer's per-epoch history), ``user_ids_``, ``item_ids_``, ``seen_``.
    """

    name: ClassVar[str] = "comet_i2i"
    config_class: ClassVar[type[CoMetricI2IConfig]] = CoMetricI2IConfig
    config: CoMetricI2IConfig
    preset: ClassVar[str] = RETRIEVAL_PRESETS["comet_i2i"]
    #: the flat hyper-parameters (``create_model`` accepts them too)
    keyword_aliases: ClassVar[Mapping[str, str]] = FLAT_PARAMS

    def __init__(
        self,
        config: CoMetricI2IConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        feature_groups: Mapping[str, Sequence[str]] | None = None,
        callbacks: list[Any] | None = None,
        **params: Any,
    ) -> None:
        flat = {k: params.pop(k) for k in list(params) if k in FLAT_PARAMS}
        super().__init__(config, feature_groups=feature_groups, callbacks=callbacks, **params)
        if flat:
            self.config = self.config_class.from_dict(_set_flat(self.config.to_dict(), flat))

    @property
    def needs_timestamp(self) -> bool:
        """Sessions are ordered by time."""
        return True

    # -------------------------------------------------------------------- fit
    def _sessions(self, data: TrainData) -> tuple[np.ndarray, np.ndarray]:
        """User and item codes of the clicks, users by first appearance (not by how their ids
        sort), clicks by time within a user (ties keep row order)."""
        first_row = np.full(data.n_users, data.user_idx.size, dtype=np.int64)
        np.minimum.at(first_row, data.user_idx, np.arange(data.user_idx.size))
        order = np.lexsort((data.timestamp, first_row[data.user_idx]))
        return np.asarray(data.user_idx)[order], np.asarray(data.item_idx)[order]

    def _keep_recent(self, users: np.ndarray, items: np.ndarray, n_users: int) -> None:
        """``recent_items_`` / ``recent_indptr_``: each user's last ``history_len`` clicks."""
        ends = np.flatnonzero(np.r_[users[1:] != users[:-1], True])  # each user's last click
        rows = np.arange(users.size)
        from_end = (
            ends[np.searchsorted(ends, rows)] - rows
        )  # clicks after this one in its user's history
        recent = np.flatnonzero(from_end < self.config.history_len)
        recent = recent[
            np.argsort(users[recent], kind="stable")
        ]  # grouped by user code, in click order
        self.recent_items_ = items[recent].astype(np.int64)
        self.recent_indptr_ = np.r_[
            0, np.cumsum(np.bincount(users[recent], minlength=n_users))
        ].astype(np.int64)

    def _fit(self, data: TrainData) -> None:
        cfg = self.config
        users, items = self._sessions(data)
        anchors, positives = session_pairs(users, items, cfg.window)
        if anchors.size == 0:
            raise DataError(
                "no session has two different items clicked: CoMetricLearningI2I trains on "
                "pairs of items of the same session."
            )
        self._keep_recent(users, items, data.n_users)
        df = (
            data.frame
            if data.frame is not None
            else pd.DataFrame(
                {
                    self.col_user: self.user_ids_[data.user_idx],
                    self.col_item: self.item_ids_[data.item_idx],
                }
            )
        )
        encoder, encoded = self._fit_encoder(df, data)
        self.encoder_ = encoder
        network = self._build_network(encoder.specs)
        self._check_sides(network, encoder)
        self.network_ = network
        self.user_table_, self.item_table_ = self._side_tables(encoded, data)
        n_items = data.n_items
        catalogue = TensorData.from_encoded(
            self._rows_features(np.full(n_items, -1), np.arange(n_items)), network.backbone.layout
        )
        network.set_catalogue(
            catalogue.tensors, np.full(n_items, -np.log(n_items), dtype=np.float32)
        )
        pairs = TensorData(
            {
                ITEM_INDEX: torch.from_numpy(anchors.astype(np.int64)),
                POSITIVE_INDEX: torch.from_numpy(positives.astype(np.int64)),
                LABEL: torch.ones(anchors.size),
            }
        )
        # the progress bar shows when both the model's progress flag and train.progress ask for it
        train = cfg.train.replace(progress=bool(cfg.train.progress and self.progress))
        trainer = Trainer(
            network,
            train,
            seed=cfg.seed,
            model_dir=cfg.model_dir,
            callbacks=self.__dict__.get("callbacks"),
        )
        self.history_ = trainer.fit(pairs, None)
        self.best_epoch_ = trainer.best_epoch_
        self.network_ = network.eval()
        self._refresh_item_vectors()

    # ---------------------------------------------------------------- scoring
    def _scores(self, profiles: Any) -> np.ndarray:  # type: ignore[override]
        """Inner products of weighted-history profiles (CSR ``[n, n_items]``) with every item."""
        return np.asarray((profiles @ self.item_vectors_) @ self.item_vectors_.T, dtype=np.float64)

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        return self._scores(self._profiles(np.asarray(user_idx, dtype=np.int64)))

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        return self._score_users(user_idx)[np.arange(len(user_idx)), np.asarray(item_idx)]

    def score_histories(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Scores ``[len(histories), n_items]`` of session prefixes (item ids, oldest first):
        the :class:`~recutils.benchmark.next_click.NextClickScorer` protocol. Unknown ids
        are ignored (a history of unknown items only scores 0 everywhere).

        Raises:
            NotFittedError: before ``fit``.
            DataError: an empty history.
        """
        self._check_fitted()
        return self._scores(recency_weights(self.item_ids_, histories, self.config.history_decay))

    # ------------------------------------------------------------- embeddings
    def _profiles(self, user_idx: np.ndarray) -> Any:
        """Recency weights of each user's latest training items (CSR ``[n, n_items]``)."""
        starts, stops = self.recent_indptr_[user_idx], self.recent_indptr_[user_idx + 1]
        codes = np.arange(len(self.item_ids_))
        histories = [
            codes[self.recent_items_[a:b]] for a, b in zip(starts.tolist(), stops.tolist())
        ]
        return recency_weights(pd.Index(codes), histories, self.config.history_decay)

    def user_embeddings(self, df: pd.DataFrame) -> np.ndarray:
        """The vector of the user of each row of ``df`` (``col_user``) ``[len(df), d]``: the
        recency-weighted sum of the item vectors of the user's latest training items, so that
        its inner product with an item's vector is the item's score in ``recommend_k_items``
        (an index over :meth:`item_embeddings` answers the same top-k).

        Raises:
            DataError: a user unknown to the model (a new session: use :meth:`score_histories`).
        """
        self._check_fitted()
        check_columns(df, [self.col_user], name="df")
        idx = self.user_ids_.get_indexer(pd.Index(df[self.col_user]))
        if (idx < 0).any():
            raise DataError(
                f"unknown user(s) {df[self.col_user].to_numpy()[idx < 0][:5].tolist()}: "
                "CoMetricLearningI2I embeds users from their training items; score a new "
                "session's clicks with score_histories."
            )
        return np.asarray(self._profiles(idx) @ self.item_vectors_, dtype=np.float32)

    def item_embeddings(self, df: pd.DataFrame) -> np.ndarray:
        """The item tower's unit vector of the item of each row of ``df`` (``col_item`` and
        any item feature columns; missing ones come from training) ``[len(df), d]``.

        Raises:
            DataError: an item unknown to the model (its id embedding was never trained).
        """
        self._check_fitted()
        check_columns(df, [self.col_item], name="df")
        idx = self.item_ids_.get_indexer(pd.Index(df[self.col_item]))
        if (idx < 0).any():
            raise DataError(
                f"unknown item(s) {df[self.col_item].to_numpy()[idx < 0][:5].tolist()}: "
                "CoMetricLearningI2I embeds training items only."
            )
        return super().item_embeddings(df)

    # -------------------------------------------------------------- save/load
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = super()._state()
        arrays["recent_items"] = self.recent_items_
        arrays["recent_indptr"] = self.recent_indptr_
        return arrays, meta

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        shape = (len(self.user_ids_), len(self.item_ids_))
        indptr, recent = persistence.check_csr(arrays, "recent_indptr", "recent_items", shape)
        self.recent_items_ = np.asarray(recent, dtype=np.int64)
        self.recent_indptr_ = np.asarray(indptr, dtype=np.int64)
        super()._set_state(arrays, meta)

    @classmethod
    def contract_case(cls) -> ContractCase:
        """A tiny embedding, 2 epochs."""
        return ContractCase(
            params={
                "default_embedding_dim": 8,
                "seed": 0,
                "train": {"epochs": 2, "batch_size": 16, "num_threads": 1, "progress": False},
            },
            known_answer=None,
            stochastic=True,
        )


RETRIEVAL_CLASSES["comet_i2i"] = (
    CoMetricLearningI2I  # the table of model.py, which cannot import this module
)

__all__ = [
    "FLAT_PARAMS",
    "PRESET",
    "CoMetricI2IConfig",
    "CoMetricLearningI2I",
    "circle_loss",
    "session_pairs",
]
