"""Two-tower retrieval models as recutils Recommenders (DSSM and its variants).

A two-tower model is a config-built network with ``model_class: MatchModel``
(:mod:`recutils.nn.match`): a user tower over user-side features and an item tower over
item-side features, each ending in an embedding, scored by their dot product or cosine
over a temperature. It trains on positive interactions only (every row of the frame, or
the rows with ``rating >= label_threshold``): in-batch softmax with the logQ correction by
default, or sampled softmax, BPR or hinge against drawn negatives
(:class:`~recutils.nn.config.MatchConfig`). Early stopping follows the held-out positives'
recall@k over the whole catalogue, each user's training items masked (or their AUC against
random items: ``validation_metric``).

Beyond the contract (``predict`` scores pairs, ``recommend_k_items`` scores every item for a
user with one matrix product over the cached item embeddings):

* :meth:`TwoTowerModel.user_embeddings` / :meth:`TwoTowerModel.item_embeddings`: the
  towers' outputs for frames of users / items (features read from the frame where it has
  them, else from the training tables; unknown ids with their features: the
  out-of-vocabulary embedding plus the features);
* :meth:`TwoTowerModel.similar_items`: the ``k`` nearest items of given items;
* :meth:`TwoTowerModel.build_index`: an approximate-nearest-neighbour index over the item
  embeddings (:mod:`recutils.retrieval`), tied to this model's weights by a version string.

The shipped presets ``dssm`` and ``dssm_senet`` (a SENet over each tower's feature
embeddings) read MovieLens' user (id, age, gender, occupation) and item (id, genres, year)
features.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError, DataError
from recutils.models.base import ContractCase, TrainData
from recutils.models.deep.config import DeepRankConfig
from recutils.models.deep.model import DeepRankModel
from recutils.models.topk import top_k_per_row
from recutils.nn.config import ModelConfig
from recutils.nn.config_io import load_config_with, read_mapping
from recutils.nn.features import FeatureEncoder
from recutils.utils.deps import require
from recutils.utils.validation import check_columns

torch = require("torch", "torch")

from recutils.nn.data import TensorData  # noqa: E402
from recutils.nn.match import ITEM_INDEX, ITEM_LOGQ, MatchNetwork, build_match_network  # noqa: E402
from recutils.nn.trainer import Trainer  # noqa: E402

logger = logging.getLogger(__name__)

#: The folder of the shipped two-tower configs.
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
#: registry name -> shipped config. Keep it sorted.
RETRIEVAL_PRESETS: dict[str, str] = {
    "comet_i2i": "comet_i2i_sessions.yaml",
    "dropoutnet": "dropoutnet_movielens.yaml",
    "dssm": "dssm_movielens.yaml",
    "dssm_senet": "dssm_senet_movielens.yaml",
    "mind": "mind_movielens.yaml",
}
_ROWS = 1 << 16  # rows per forward pass when embedding
#: What a two-tower model's early stopping can follow (:class:`TwoTowerConfig`).
VALIDATION_METRICS = ("recall", "auc")


class RecallValidator:
    """Recall@k of held-out positives over the whole catalogue, each user's training items
    masked: a :class:`~recutils.nn.trainer.Validator` of a two-tower network.

    Args:
        users: The validation users' encoded features (one row per user).
        relevant: CSR ``[users, items]`` of each user's held-out items.
        seen: CSR ``[users, items]`` of each user's training items (never counted).
        items: The encoded features of every catalogue item (row ``j`` = item ``j``).
        layout: The network's batch layout.
        k: The cut-off.
    """

    higher_is_better = True

    def __init__(
        self,
        users: Mapping[str, np.ndarray],
        relevant: Any,
        seen: Any,
        items: Mapping[str, np.ndarray],
        layout: Any,
        k: int,
    ) -> None:
        self.name = f"recall@{k}"
        self.k = int(k)
        self.users = TensorData.from_encoded(users, layout)
        self.items = TensorData.from_encoded(items, layout)
        self.relevant = relevant.tocsr()
        self.seen = seen.tocsr()
        self.n_relevant = np.diff(self.relevant.indptr)

    def _embed(self, data: TensorData, fn: Any, device: Any) -> torch.Tensor:
        parts = [
            fn({k: v.to(device) for k, v in data.batch(slice(s, s + _ROWS)).items()})
            for s in range(0, len(data), _ROWS)
        ]
        return torch.cat(parts)

    def __call__(self, model: torch.nn.Module) -> tuple[float, dict[str, float]]:
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        try:
            with torch.no_grad():
                u = self._embed(self.users, model.user_embeddings, device)
                v = self._embed(self.items, model.item_embeddings, device)
                scores = u @ v.T  # a multi-interest user [B, K, d]: the best of its interests
                scores = (scores if u.dim() == 2 else scores.amax(dim=1)).cpu().numpy()
        finally:
            model.train(was_training)
        rows = np.repeat(np.arange(self.seen.shape[0]), np.diff(self.seen.indptr))
        scores[rows, self.seen.indices] = -np.inf
        top, _ = top_k_per_row(scores, self.k)
        hits = np.asarray(self.relevant[np.arange(top.shape[0])[:, None], top].sum(axis=1)).ravel()
        value = float(np.mean(hits / np.maximum(self.n_relevant, 1)))
        return value, {}


def _default_model_config() -> ModelConfig:
    return ModelConfig.from_dict(
        read_mapping(CONFIG_DIR / RETRIEVAL_PRESETS["dssm"])["model_config"]
    )


@dataclass
class TwoTowerConfig(DeepRankConfig):
    """A :class:`~recutils.models.deep.DeepRankConfig` whose ``model_config`` is a ``MatchModel``
    (default: the DSSM preset).

    Attributes:
        label_threshold: Train on the rows with ``rating >= label_threshold`` only (None:
            every row is a positive).
        validation_metric: What early stopping follows on the held-out
            ``train.validation_fraction`` of the positive rows (with
            ``train.early_stopping_metric`` set; null turns validation off): ``recall``
            (recall@``validation_k`` of the held-out items, each user's training items
            masked, over the whole catalogue: what retrieval is for) or ``auc`` (each
            held-out positive against one random item).
        validation_k: The ``k`` of the validation recall.
        validation_users: At most this many users (seeded draw) are scored per validation.
    """

    model_classes: ClassVar[tuple[str, ...]] = ("MatchModel",)

    model_config: ModelConfig = field(default_factory=_default_model_config)
    validation_metric: str = "recall"
    validation_k: int = 50
    validation_users: int = 5000

    def __post_init__(self) -> None:
        if self.validation_metric not in VALIDATION_METRICS:
            raise ConfigError(
                f"validation_metric {self.validation_metric!r} is unknown; allowed: "
                f"{list(VALIDATION_METRICS)}."
            )
        for name in ("validation_k", "validation_users"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
        if self.model_config.model_class != "MatchModel":
            raise ConfigError(
                f"a two-tower model needs model_config.model_class: MatchModel, got "
                f"{self.model_config.model_class!r}."
            )
        if self.kd:
            raise ConfigError("kd (distillation) is not supported by two-tower models.")
        super().__post_init__()


class TwoTowerModel(DeepRankModel):
    """A config-built two-tower retrieval model; see the module docstring.

    Args:
        config: A config replacing the class's preset (mapping, YAML text or path).
        feature_groups: Group name -> feature names, replacing the preset's groups' features.
        callbacks: Training callbacks (:class:`~recutils.nn.trainer.Callback`).
        **params: Column names and config overrides merged into the preset (``train={"epochs": 5}``).

    Fitted attributes (besides :class:`~recutils.models.deep.DeepRankModel`'s):
    ``item_vectors_`` (the item embeddings ``[n_items, d]``, float32, in item-index order).
    """

    name: ClassVar[str] = "dssm"
    config_class: ClassVar[type[TwoTowerConfig]] = TwoTowerConfig
    preset: ClassVar[str] = RETRIEVAL_PRESETS["dssm"]
    needs_rating: ClassVar[bool] = False

    def __init__(
        self,
        config: TwoTowerConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        feature_groups: Mapping[str, Sequence[str]] | None = None,
        callbacks: list[Any] | None = None,
        **params: Any,
    ) -> None:
        from recutils.models.ctr.zoo import with_feature_groups

        fields = self.config_class.field_names()
        overrides = {k: params.pop(k) for k in list(params) if k in fields}
        resolved = load_config_with(
            CONFIG_DIR / self.preset if config is None else config, self.config_class, overrides
        )
        if feature_groups:
            resolved = self.config_class.from_dict(
                with_feature_groups(resolved.to_dict(), feature_groups)
            )
        super().__init__(resolved, callbacks=callbacks, **params)

    def _needs_rating(self) -> bool:
        return self.config.label_threshold is not None

    # ---------------------------------------------------------------- fit
    def _build_network(self, specs: Mapping[str, Any]) -> torch.nn.Module:
        return build_match_network(self.config.model_config, specs, seed=self.config.seed)

    def _check_sides(self, network: MatchNetwork, encoder: FeatureEncoder) -> None:
        """Every feature of the user tower is a user feature, every one of the item tower an item feature."""
        groups = self.config.model_config.groups
        for side, names in (("user", network.user_groups), ("item", network.item_groups)):
            for group in names:
                for feature in groups[group].feature_names:
                    found = encoder.side_of(feature)
                    if found != side:
                        raise ConfigError(
                            f"feature {feature!r} (group {group!r}) feeds the {side} tower but is "
                            f"{'an' if found[0] in 'aeiou' else 'a'} {found} "
                            f"feature; a {side} tower may read only {side} features (constant per {side}). "
                            f"Give it side: {side} in its feature config if it is one, or move it."
                        )

    def _fit(self, data: TrainData) -> None:
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
        cfg = self.config
        keep = np.ones(len(data.user_idx), dtype=bool)
        if cfg.label_threshold is not None:
            keep = np.asarray(data.rating) >= cfg.label_threshold
            if not keep.any():
                raise DataError(
                    f"no row has {self.col_rating} >= label_threshold={cfg.label_threshold}: a "
                    "two-tower model trains on positive rows."
                )
        encoder, encoded = self._fit_encoder(df, data)
        self.encoder_ = encoder
        network = self._build_network(encoder.specs)
        self._check_sides(network, encoder)
        self.network_ = network
        layout = network.backbone.layout
        self.user_table_, self.item_table_ = self._side_tables(encoded, data)
        items = np.asarray(data.item_idx, dtype=np.int64)
        counts = np.bincount(items[keep], minlength=data.n_items).astype(np.float64)
        share = (counts + 1.0) / (counts.sum() + data.n_items)  # smoothed: never log(0)
        logq = np.log(share).astype(np.float32)
        rows = np.flatnonzero(keep)
        full = TensorData.from_encoded(
            {k: v[rows] for k, v in encoded.items()}, layout, np.ones(rows.size, dtype=np.float32)
        )
        full.tensors[ITEM_INDEX] = torch.from_numpy(items[rows])
        full.tensors[ITEM_LOGQ] = torch.from_numpy(logq[items[rows]])
        catalogue = TensorData.from_encoded(
            self._rows_features(np.full(data.n_items, -1), np.arange(data.n_items)), layout
        )
        network.set_catalogue(catalogue.tensors, logq)
        train, valid, validator = full, None, None
        rng = np.random.default_rng(cfg.seed)
        frac = cfg.train.validation_fraction
        n_valid = int(round(frac * rows.size)) if cfg.train.early_stopping_metric is not None else 0
        if n_valid > 0 and rows.size - n_valid > 0:
            order = rng.permutation(rows.size)
            v_rows, t_rows = np.sort(order[:n_valid]), np.sort(order[n_valid:])
            train = full.subset(t_rows)
            users = np.asarray(data.user_idx, dtype=np.int64)[rows[v_rows]]
            if cfg.validation_metric == "auc":
                valid = self._validation_pairs(users, items[rows[v_rows]], rng, data.n_items)
            else:
                validator = self._recall_validator(
                    users,
                    items[rows[v_rows]],
                    np.asarray(data.user_idx)[rows[t_rows]],
                    items[rows[t_rows]],
                    rng,
                    data.n_items,
                )
        trainer = Trainer(
            network,
            cfg.train,
            seed=cfg.seed,
            model_dir=cfg.model_dir,
            callbacks=self.__dict__.get("callbacks"),
            validator=validator,
        )
        self.history_ = trainer.fit(train, valid)
        self.best_epoch_ = trainer.best_epoch_
        self.network_ = network.eval()
        self._refresh_item_vectors()

    def _fit_encoder(
        self, df: pd.DataFrame, data: TrainData
    ) -> tuple[FeatureEncoder, dict[str, np.ndarray]]:
        """The feature encoder fitted on the training frame ``df`` and its encoded rows."""
        encoder = FeatureEncoder(
            self._resolve_features(df),
            column_map={"@user": self.col_user, "@item": self.col_item},
            default_embedding_dim=self.config.default_embedding_dim,
        )
        encoder.fit(df, col_user=self.col_user, col_item=self.col_item)
        return encoder, encoder.transform(df)

    def _side_tables(
        self, encoded: Mapping[str, np.ndarray], data: TrainData
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The per-user and per-item tables of the encoded user and item features."""
        return (
            self._side_table(encoded, data.user_idx, data.n_users, "user"),
            self._side_table(encoded, data.item_idx, data.n_items, "item"),
        )

    def _recall_validator(
        self,
        users: np.ndarray,
        items: np.ndarray,
        train_users: np.ndarray,
        train_items: np.ndarray,
        rng: np.random.Generator,
        n_items: int,
    ) -> RecallValidator:
        """A :class:`RecallValidator` of the held-out (user, item) rows, at most
        ``validation_users`` users (a seeded draw), their training items masked."""
        import scipy.sparse as sp

        codes = np.unique(users)
        if codes.size > self.config.validation_users:
            codes = np.sort(rng.choice(codes, self.config.validation_users, replace=False))
        position = np.full(len(self.user_ids_), -1)
        position[codes] = np.arange(codes.size)

        def matrix(u: np.ndarray, i: np.ndarray) -> sp.csr_matrix:
            keep = position[u] >= 0
            m = sp.csr_matrix(
                (np.ones(int(keep.sum()), dtype=np.float32), (position[u[keep]], i[keep])),
                shape=(codes.size, n_items),
            )
            m.sum_duplicates()
            m.data[:] = 1.0
            return m

        return RecallValidator(
            self._validation_users(codes, train_users, train_items),
            matrix(users, items),
            matrix(train_users, train_items),
            self._rows_features(np.full(n_items, -1), np.arange(n_items)),
            self.network_.backbone.layout,
            self.config.validation_k,
        )

    def _validation_users(
        self, codes: np.ndarray, train_users: np.ndarray, train_items: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The encoded features of the validation users ``codes`` (their training features; the
        training part's (user, item) pairs are given for features built from interactions)."""
        return self._rows_features(codes, np.full(codes.size, -1))

    def _validation_pairs(
        self, users: np.ndarray, items: np.ndarray, rng: np.random.Generator, n_items: int
    ) -> TensorData:
        """Held-out positive pairs (label 1) and, for each, its user with a uniformly drawn
        item (label 0), with the users' and items' training features."""
        layout = self.network_.backbone.layout
        drawn = rng.integers(0, n_items, users.size)
        pos = self._rows_features(users, items)
        neg = self._rows_features(users, drawn)
        encoded = {k: np.concatenate([pos[k], neg[k]]) for k in pos}
        labels = np.concatenate([np.ones(users.size), np.zeros(users.size)]).astype(np.float32)
        data = TensorData.from_encoded(encoded, layout, labels)
        data.tensors[ITEM_INDEX] = torch.from_numpy(np.concatenate([items, drawn]).astype(np.int64))
        return data

    # ----------------------------------------------------------- embeddings
    def _embed(self, encoded: Mapping[str, np.ndarray], tower: str) -> np.ndarray:
        layout = self.network_.backbone.layout
        data = TensorData.from_encoded(encoded, layout)
        device = next(self.network_.parameters()).device
        fn = self.network_.user_embeddings if tower == "user" else self.network_.item_embeddings
        out = []
        self.network_.eval()
        with torch.no_grad():
            for start in range(0, len(data), _ROWS):
                batch = {
                    k: v.to(device) for k, v in data.batch(slice(start, start + _ROWS)).items()
                }
                out.append(fn(batch).float().cpu())
        return (
            torch.cat(out).numpy()
            if out
            else np.empty((0, self.network_.embedding_dim), np.float32)
        )

    def _refresh_item_vectors(self) -> None:
        n = len(self.item_ids_)
        self.item_vectors_ = self._embed(self._rows_features(np.full(n, -1), np.arange(n)), "item")

    def _user_vectors(self, user_idx: np.ndarray) -> np.ndarray:
        n = len(user_idx)
        return self._embed(self._rows_features(np.asarray(user_idx), np.full(n, -1)), "user")

    def user_embeddings(self, df: pd.DataFrame) -> np.ndarray:
        """The user tower's embedding of each row of ``df`` (``col_user`` and any user feature
        columns; known users' missing features come from training) ``[len(df), d]``."""
        self._check_fitted()
        check_columns(df, [self.col_user], name="df")
        u = self.user_ids_.get_indexer(pd.Index(df[self.col_user]))
        return self._embed(
            self._rows_features(u, np.full(len(df), -1), self._side_frame(df)), "user"
        )

    def item_embeddings(self, df: pd.DataFrame) -> np.ndarray:
        """The item tower's embedding of each row of ``df`` (``col_item`` and any item feature
        columns; a new item with its features gets an embedding too) ``[len(df), d]``."""
        self._check_fitted()
        check_columns(df, [self.col_item], name="df")
        i = self.item_ids_.get_indexer(pd.Index(df[self.col_item]))
        return self._embed(
            self._rows_features(np.full(len(df), -1), i, self._side_frame(df)), "item"
        )

    def similar_items(self, items: Sequence[Any] | np.ndarray, k: int = 10) -> pd.DataFrame:
        """The ``k`` training items nearest to each of ``items`` by the model's similarity
        (the item itself excluded): columns ``col_item``, ``similar_item``, ``score``, ``rank``.

        Raises:
            DataError: an item unknown to the model, or ``k`` outside ``1..n_items - 1``.
        """
        self._check_fitted()
        items = np.asarray(items)
        idx = self.item_ids_.get_indexer(pd.Index(items))
        if (idx < 0).any():
            raise DataError(
                f"unknown item(s) {items[idx < 0][:5].tolist()}: similar_items needs training items."
            )
        n = len(self.item_ids_)
        if not 1 <= k <= n - 1:
            raise DataError(f"k must be between 1 and {n - 1} (the other items), got {k}.")
        vectors = self.item_vectors_
        scores = vectors[idx] @ vectors.T
        scores[np.arange(idx.size), idx] = -np.inf
        top, values = top_k_per_row(scores, k)
        return pd.DataFrame(
            {
                self.col_item: np.repeat(items, k),
                "similar_item": self.item_ids_[top.ravel()],
                "score": values.ravel(),
                "rank": np.tile(np.arange(1, k + 1), idx.size),
            }
        )

    def model_version(self) -> str:
        """A short hash of the fitted weights: an index built from this model carries it."""
        self._check_fitted()
        h = hashlib.sha256()
        for key, value in sorted(self.network_.state_dict().items()):
            h.update(key.encode())
            h.update(value.detach().cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    def build_index(self, kind: str = "brute_force", **params: Any) -> Any:
        """An index over the item embeddings (:mod:`recutils.retrieval`), ids = item ids.

        Args:
            kind: ``brute_force`` (exact, numpy) or a faiss kind (``flat``, ``ivf``, ``hnsw``).
            **params: The index class's parameters (``nprobe``, ``hnsw_m`` ...).
        """
        from recutils.retrieval import BruteForceIndex, FaissIndex

        metric = (
            "cosine" if self.config.model_config.model_params.match.similarity == "cosine" else "ip"
        )
        index = (
            BruteForceIndex(metric=metric, **params)
            if kind == "brute_force"
            else FaissIndex(kind=kind, metric=metric, **params)
        )
        index.build(
            self.item_vectors_, np.asarray(self.item_ids_), model_version=self.model_version()
        )
        return index

    # --------------------------------------------------------------- scoring
    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        tau = self.config.model_config.model_params.match.temperature
        return (self._user_vectors(user_idx) @ self.item_vectors_.T).astype(np.float64) / tau

    def _score_pairs(
        self,
        user_idx: np.ndarray,
        item_idx: np.ndarray,
        *,
        frame: pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        tau = self.config.model_config.model_params.match.temperature
        users = self._embed(
            self._rows_features(user_idx, np.full(len(user_idx), -1), frame), "user"
        )
        items = self._embed(
            self._rows_features(np.full(len(item_idx), -1), item_idx, frame), "item"
        )
        return (users * items).sum(axis=1).astype(np.float64) / tau

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        super()._set_state(arrays, meta)
        self._refresh_item_vectors()

    # -------------------------------------------------------------- contract
    @classmethod
    def contract_case(cls) -> ContractCase:
        """The user tower reads the toy frame's user id, the item tower its item id; 2 epochs."""
        cfg = read_mapping(CONFIG_DIR / cls.preset)
        groups = {
            g["group_name"]: ["user"] if g["group_name"].startswith("user") else ["item"]
            for g in cfg["model_config"]["feature_groups"]
        }
        return ContractCase(
            params={
                "features": [
                    {"name": "user", "column": "@user"},
                    {"name": "item", "column": "@item"},
                ],
                "feature_groups": groups,
                "default_embedding_dim": 4,
                "train": {
                    "epochs": 2,
                    "batch_size": 64,
                    "num_threads": 1,
                    "validation_fraction": 0.0,
                    "early_stopping_metric": None,
                    "progress": False,
                },
            },
            known_answer=None,
            stochastic=True,
        )


DSSMSENet = type(
    "DSSMSENet",
    (TwoTowerModel,),
    {
        "name": "dssm_senet",
        "preset": RETRIEVAL_PRESETS["dssm_senet"],
        "__module__": __name__,
        "__doc__": "DSSM with a SENet over each tower's feature embeddings (EasyRec's DSSM_SENet): "
        "``dssm_senet_movielens.yaml``.",
    },
)

#: registry name -> class of each preset
RETRIEVAL_CLASSES: dict[str, type[TwoTowerModel]] = {"dssm": TwoTowerModel, "dssm_senet": DSSMSENet}

__all__ = [
    "CONFIG_DIR",
    "DSSMSENet",
    "RETRIEVAL_CLASSES",
    "RETRIEVAL_PRESETS",
    "VALIDATION_METRICS",
    "RecallValidator",
    "TwoTowerConfig",
    "TwoTowerModel",
]
