"""CoMetricLearningI2I: item-to-item metric learning from click sessions (EasyRec's model).

One item tower maps every item to a unit vector: the sum of its id embedding and, with
``fit(df, item_features=frame)``, one embedding per content column of ``frame`` (categorical
values, such as a category or a brand: EasyRec's item feature group), then optionally a ReLU
MLP, then L2 normalisation; two items are similar when their cosine is high. Training pairs
are (anchor item, positive item) clicked within ``window`` clicks of each other in the
same session (user); each batch of ``batch_size`` pairs embeds its ``2 * batch_size``
items and every item of the batch is an anchor: its pair partner is its positive, the
items of the other pairs, whatever their session, are its negatives (as in EasyRec), except
copies of the anchor's own item. The loss is **circle loss** (Sun et al., CVPR 2020), as in
EasyRec's ``loss_type: CIRCLE_LOSS``, per anchor

.. math::
    \\log\\Big(1 + \\sum_n e^{\\gamma\\, a_n (s_n - m)} \\sum_p e^{-\\gamma\\, a_p (s_p - 1 + m)}\\Big),
    \\quad a_p = [1 + m - s_p]_+,\\; a_n = [s_n + m]_+

(``s`` cosine similarities, ``a`` constants for the gradient), with EasyRec's documented
defaults ``margin m = 0.25`` and ``gamma = 64``.

Scoring: a history (a session prefix, or a user's last ``history_len`` training clicks
for :meth:`recommend_k_items`) becomes the weighted sum of its items' vectors, the
``a``-th click from the end weighing ``history_decay ** a`` (the last click weighs 1, the
heaviest), and every item scores its inner product with that sum (a weighted sum of
cosines). ``history_decay = 0`` scores by the last click alone.

The model implements :class:`recutils.benchmark.next_click.NextClickScorer`
(:meth:`score_histories`), and has :meth:`item_embeddings`, :meth:`similar_items` and
:meth:`build_index` (an index over the unit item vectors, cosine). It trains through the
shared trainer (:class:`~recutils.models.torch_cf.TorchCFRecommender`: seed, device,
threads, checkpoints, save/load of the weights). Items are embedded only when they were
trained (an unseen item has no id embedding, whatever its content).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.benchmark.next_click import recency_weights
from recutils.exceptions import DataError
from recutils.models import persistence
from recutils.models.base import ContractCase, TrainData
from recutils.models.torch_cf import TorchCFConfig, TorchCFRecommender, adam
from recutils.utils.deps import require
from recutils.utils.validation import check_columns, check_number, check_positive_int, check_positive_ints

torch = require("torch", "torch")

from recutils.models.retrieval.model import TwoTowerModel  # noqa: E402

logger = logging.getLogger(__name__)

#: The shipped preset: the settings of the next-click benchmark (``configs/comet_i2i_sessions.yaml``).
PRESET = Path(__file__).resolve().parent / "configs" / "comet_i2i_sessions.yaml"


@dataclass
class CoMetricI2IConfig(TorchCFConfig):
    """Hyper-parameters of :class:`CoMetricLearningI2I`.

    Attributes:
        embedding_dim: Width of the id embedding.
        hidden_units: ReLU layers after the embedding (the last width is the output;
            empty: the embedding is the output).
        window: Pairs are clicks at most this many positions apart in a session.
        n_epochs: Passes over the pairs.
        batch_size: Pairs per step (``2 * batch_size`` items in the loss).
        learning_rate: Adam step size.
        weight_decay: Adam's L2 weight decay.
        margin, gamma: Circle loss's relaxation margin and scale (EasyRec: 0.25, 64).
        history_decay: Weight ratio between a click and the one after it when scoring a
            history (``0 <= history_decay <= 1``; 0: the last click only).
        history_len: Training clicks per user kept for :meth:`recommend_k_items`.
    """

    embedding_dim: int = 64
    hidden_units: list[int] = field(default_factory=list)
    window: int = 3
    n_epochs: int = 10
    batch_size: int = 512
    learning_rate: float = 5e-3
    weight_decay: float = 0.0
    margin: float = 0.25
    gamma: float = 64.0
    history_decay: float = 0.5
    history_len: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("embedding_dim", "window", "n_epochs", "batch_size", "history_len"):
            check_positive_int(name, getattr(self, name))
        self.hidden_units = check_positive_ints("hidden_units", self.hidden_units, allow_scalar=False, allow_empty=True)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("weight_decay", self.weight_decay)
        check_number("margin", self.margin)
        check_number("gamma", self.gamma, strict=True)
        check_number("history_decay", self.history_decay, maximum=1.0)


class ItemTower(torch.nn.Module):
    """Item index -> unit vector: the id embedding plus one embedding per content column
    (``content`` ``[n_items, n_columns]`` codes, 0 = missing, held as a buffer), optional
    ReLU layers, L2 normalisation."""

    def __init__(self, n_items: int, embedding_dim: int, hidden_units: Sequence[int],
                 content: np.ndarray | None = None, vocab: Sequence[int] = ()) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(n_items, embedding_dim)
        torch.nn.init.normal_(self.embedding.weight, std=0.1)
        self.content = torch.nn.ModuleList(torch.nn.Embedding(int(v), embedding_dim) for v in vocab)
        for table in self.content:
            torch.nn.init.normal_(table.weight, std=0.1)
        codes = np.zeros((n_items, len(vocab)), np.int64) if content is None else content
        self.register_buffer("codes", torch.as_tensor(codes, dtype=torch.int64))
        layers: list[torch.nn.Module] = []
        width = embedding_dim
        for i, units in enumerate(hidden_units):
            layers.append(torch.nn.Linear(width, units))
            if i < len(hidden_units) - 1:
                layers.append(torch.nn.ReLU())
            width = units
        self.mlp = torch.nn.Sequential(*layers)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """Unit vectors ``[len(items), d]`` of item indices."""
        x = self.embedding(items)
        for j, table in enumerate(self.content):
            x = x + table(self.codes[items, j])
        return torch.nn.functional.normalize(self.mlp(x), dim=-1)


def circle_loss(vectors: torch.Tensor, labels: torch.Tensor, items: torch.Tensor, margin: float,
                gamma: float) -> torch.Tensor:
    """Mean circle loss of every row of ``vectors`` (unit) as an anchor.

    Positives: the other rows with the same ``labels``; negatives: rows with another label
    and another item (``items``). Rows without a positive or a negative add 0.
    """
    sim = vectors @ vectors.T
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=vectors.device)
    positive = same & ~eye
    negative = ~same & (items[:, None] != items[None, :])
    a_p = torch.clamp_min(1.0 + margin - sim.detach(), 0.0)
    a_n = torch.clamp_min(sim.detach() + margin, 0.0)
    logit_p = torch.where(positive, -gamma * a_p * (sim - (1.0 - margin)), -torch.inf)
    logit_n = torch.where(negative, gamma * a_n * (sim - margin), -torch.inf)
    terms = torch.logsumexp(logit_p, dim=1) + torch.logsumexp(logit_n, dim=1)
    return torch.nn.functional.softplus(terms).mean()


def session_pairs(sessions: np.ndarray, items: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(anchor, positive) items clicked 1..``window`` positions apart in the same session
    (rows in click order, grouped by session); pairs of an item with itself are left out."""
    anchors, positives = [], []
    for offset in range(1, window + 1):
        ok = (sessions[offset:] == sessions[:-offset]) & (items[offset:] != items[:-offset])
        anchors.append(items[:-offset][ok])
        positives.append(items[offset:][ok])
    return np.concatenate(anchors), np.concatenate(positives)


class _PairEpochs:
    """Batch source: every pair once per epoch in a permutation from ``default_rng([seed, epoch])``."""

    def __init__(self, anchors: np.ndarray, positives: np.ndarray, batch_size: int, seed: int, device: Any,
                 margin: float, gamma: float) -> None:
        self.anchors = torch.from_numpy(anchors).to(device)
        self.positives = torch.from_numpy(positives).to(device)
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.margin, self.gamma = margin, gamma

    def epoch_batches(self, epoch: int) -> Iterator[torch.Tensor]:
        order = torch.from_numpy(np.random.default_rng([self.seed, epoch]).permutation(len(self.anchors)))
        order = order.to(self.device)
        for start in range(0, len(order), self.batch_size):
            yield order[start:start + self.batch_size]

    def loss(self, network: ItemTower, batch: torch.Tensor) -> torch.Tensor:
        items = torch.cat([self.anchors[batch], self.positives[batch]])
        labels = torch.arange(len(batch), device=self.device).repeat(2)
        return circle_loss(network(items), labels, items, self.margin, self.gamma)


class CoMetricLearningI2I(TorchCFRecommender):
    """Item-to-item metric learning from sessions (see the module docstring).

    Args:
        config: A :class:`CoMetricI2IConfig`, a mapping or YAML; keyword arguments override it.
        col_user: The session (or user) column; ``col_item``, ``col_timestamp``: click
            order within a session comes from ``col_timestamp`` (ties keep row order).
        progress: tqdm bars.

    Fitted attributes: ``network_`` (:class:`ItemTower`, internal item order),
    ``item_vectors_`` (unit item vectors ``[n_items, d]`` in ``item_ids_`` order),
    ``content_codes_`` / ``content_vocab_`` (the item features' codes, 0 = missing),
    ``recent_items_`` / ``recent_indptr_`` (each user's last ``history_len`` training
    clicks, item codes, oldest first), ``history_`` (per epoch ``loss``), ``user_ids_``,
    ``item_ids_``, ``seen_``.
    """

    name: ClassVar[str] = "comet_i2i"
    config_class: ClassVar[type[CoMetricI2IConfig]] = CoMetricI2IConfig
    config: CoMetricI2IConfig
    duplicates: ClassVar[str] = "keep"  # repeated clicks are part of a session

    # the item-vector helpers of the two-tower model work on item_vectors_ / network_ as they are
    similar_items = TwoTowerModel.similar_items
    model_version = TwoTowerModel.model_version

    @property
    def needs_timestamp(self) -> bool:
        """Sessions are ordered by time."""
        return True

    # -------------------------------------------------------------------- fit
    def fit(self, df: pd.DataFrame, valid: pd.DataFrame | None = None, *,
            item_features: pd.DataFrame | None = None) -> CoMetricLearningI2I:
        """Fit on session clicks ``df`` (never modified); return ``self``.

        Args:
            df: Clicks ``[col_user (session), col_item, col_timestamp]``.
            valid: Validation interactions (see :meth:`TorchCFRecommender.fit`).
            item_features: Content of the items: ``col_item`` and categorical columns, one
                row per item; every other column feeds the tower (a missing value or an
                item absent from the frame gets the column's "missing" embedding).

        Raises:
            DataError: no session with two different items; repeated items in ``item_features``.
        """
        if item_features is not None:
            check_columns(item_features, [self.col_item], name="item_features")
            if item_features[self.col_item].duplicated().any():
                raise DataError(f"item_features has repeated {self.col_item} values: one row per item.")
        self.__dict__["_item_features"] = item_features
        try:
            return super().fit(df, valid)
        finally:
            self.__dict__.pop("_item_features", None)

    def _fit_frames(self, df: pd.DataFrame, **frames: Any) -> CoMetricLearningI2I:
        frames.setdefault("item_features", self.__dict__.get("_item_features"))
        return super()._fit_frames(df, **frames)

    def _content_codes(self, features: pd.DataFrame | None) -> None:
        """``content_codes_`` ``[n_items, n_columns]`` (item-code order, 0 = missing) and
        ``content_vocab_`` (codes per column) of the item features."""
        columns = [] if features is None else [c for c in features.columns if c != self.col_item]
        rows = np.full(len(self.item_ids_), -1) if features is None else pd.Index(
            features[self.col_item]).get_indexer(self.item_ids_)
        codes = np.zeros((len(self.item_ids_), len(columns)), dtype=np.int64)
        vocab = []
        for j, column in enumerate(columns):
            values, uniques = pd.factorize(features[column].to_numpy())  # NaN -> -1
            codes[:, j] = np.where(rows >= 0, values[rows] + 1, 0)
            vocab.append(len(uniques) + 1)
        self.content_codes_, self.content_vocab_ = codes, vocab

    def _fit(self, data: TrainData) -> None:
        self._content_codes(data.item_features)
        first_row = np.full(data.n_users, data.user_idx.size, dtype=np.int64)
        np.minimum.at(first_row, data.user_idx, np.arange(data.user_idx.size))
        # users by first appearance (not by how their ids sort), clicks by time; ties keep row order
        order = np.lexsort((data.timestamp, first_row[data.user_idx]))
        users, items = data.user_idx[order], data.item_idx[order]
        ends = np.flatnonzero(np.r_[users[1:] != users[:-1], True])  # each user's last click
        rows = np.arange(users.size)
        from_end = ends[np.searchsorted(ends, rows)] - rows  # clicks after this one in its user's history
        recent = np.flatnonzero(from_end < self.config.history_len)
        recent = recent[np.argsort(users[recent], kind="stable")]  # grouped by user code, in click order
        self.recent_items_ = items[recent]
        self.recent_indptr_ = np.r_[0, np.cumsum(np.bincount(users[recent], minlength=data.n_users))]
        super()._fit(TrainData(users, items, data.rating[order], data.timestamp[order], data.n_users, data.n_items))

    def _build_network(self, n_users: int, n_items: int) -> ItemTower:
        internal = np.empty_like(self.content_codes_)
        internal[self.item_order_] = self.content_codes_  # the network numbers items internally
        return ItemTower(n_items, self.config.embedding_dim, self.config.hidden_units, internal,
                         self.content_vocab_)

    def _train(self, network: ItemTower, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int,
               seed: int, device: Any) -> list[dict[str, Any]]:
        c = self.config
        anchors, positives = session_pairs(users, items, c.window)
        if anchors.size == 0:
            raise DataError("no session has two different items clicked: CoMetricLearningI2I trains on "
                            "pairs of items of the same session.")
        source = _PairEpochs(anchors, positives, c.batch_size, seed, device, c.margin, c.gamma)
        optimizer = adam(network.parameters(), device, c.learning_rate, c.weight_decay)
        return self._run_epochs(network, source, source.loss, optimizer, c.n_epochs, seed,
                                model_dir=c.model_dir, desc="CoMetricLearningI2I")

    def _after_fit(self) -> None:
        with torch.no_grad():
            vectors = self.network_(torch.arange(len(self.item_ids_))).numpy()
        self.item_vectors_ = vectors[self.item_order_]

    # ---------------------------------------------------------------- scoring
    def _scores(self, profiles: Any) -> np.ndarray:
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
        histories = [codes[self.recent_items_[a:b]] for a, b in zip(starts.tolist(), stops.tolist())]
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
            raise DataError(f"unknown user(s) {df[self.col_user].to_numpy()[idx < 0][:5].tolist()}: "
                            "CoMetricLearningI2I embeds users from their training items; score a new "
                            "session's clicks with score_histories.")
        return np.asarray(self._profiles(idx) @ self.item_vectors_, dtype=np.float32)

    def item_embeddings(self, df: pd.DataFrame) -> np.ndarray:
        """The unit vector of the item of each row of ``df`` (``col_item``) ``[len(df), d]``.

        Raises:
            DataError: an item unknown to the model (the tower reads ids only).
        """
        self._check_fitted()
        check_columns(df, [self.col_item], name="df")
        idx = self.item_ids_.get_indexer(pd.Index(df[self.col_item]))
        if (idx < 0).any():
            raise DataError(f"unknown item(s) {df[self.col_item].to_numpy()[idx < 0][:5].tolist()}: "
                            "CoMetricLearningI2I embeds training items only.")
        return self.item_vectors_[idx]

    def build_index(self, kind: str = "brute_force", **params: Any) -> Any:
        """A cosine index over the item vectors (:mod:`recutils.retrieval`), ids = item ids.

        Args:
            kind: ``brute_force`` (exact, numpy) or a faiss kind (``flat``, ``ivf``, ``hnsw``).
            **params: The index class's parameters.
        """
        from recutils.retrieval import BruteForceIndex, FaissIndex

        self._check_fitted()
        index = BruteForceIndex(metric="cosine", **params) if kind == "brute_force" else FaissIndex(
            kind=kind, metric="cosine", **params)
        index.build(self.item_vectors_, np.asarray(self.item_ids_), model_version=self.model_version())
        return index

    # -------------------------------------------------------------- save/load
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = super()._state()
        arrays["recent_items"] = self.recent_items_
        arrays["recent_indptr"] = self.recent_indptr_
        arrays["content_codes"] = self.content_codes_
        return arrays, {**meta, "content_vocab": list(self.content_vocab_)}

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        indptr, recent = persistence.check_csr(arrays, "recent_indptr", "recent_items", (n_users, n_items))
        self.recent_items_ = np.asarray(recent, dtype=np.int64)
        self.recent_indptr_ = np.asarray(indptr, dtype=np.int64)
        vocab = meta.get("content_vocab", [])
        if not isinstance(vocab, list) or not all(isinstance(v, int) and v >= 1 for v in vocab):
            raise DataError(f"the saved content_vocab must be a list of positive integers, got {vocab!r}.")
        codes = persistence.check_array(arrays, "content_codes", persistence.INTEGER, (n_items, len(vocab)))
        if codes.size and ((codes < 0).any() or (codes >= np.asarray(vocab)[None, :]).any()):
            raise persistence.ArtifactArrayError(
                f"{getattr(arrays, 'source', persistence.ARRAYS)}: array 'content_codes' has values outside "
                f"the vocabularies {vocab}.")
        self.content_codes_ = np.asarray(codes, dtype=np.int64)
        self.content_vocab_ = [int(v) for v in vocab]
        super()._set_state(arrays, meta)

    @classmethod
    def contract_case(cls) -> ContractCase:
        """A tiny embedding, 2 epochs."""
        return ContractCase(params={"embedding_dim": 8, "n_epochs": 2, "batch_size": 16, "seed": 0},
                            known_answer=None, stochastic=True)


__all__ = ["PRESET", "CoMetricI2IConfig", "CoMetricLearningI2I", "ItemTower", "circle_loss", "session_pairs"]
