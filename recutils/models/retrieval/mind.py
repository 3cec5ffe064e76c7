"""MIND: multi-interest two-tower retrieval (Li et al. 2019, "Multi-Interest Network with Dynamic
Routing for Recommendation at Tmall"; EasyRec's MIND).

The user tower reads the user's behaviour history (the items they interacted with, oldest
first) and, optionally, their profile, as one ``SEQUENCE`` feature group: the history as
``sequence`` features whose ``column`` is ``"@history"`` and the profile as single-id user
features (the group's *query*). A :class:`~recutils.nn.components.capsule.MultiInterestCapsule`
block turns them into ``K`` interest vectors per user (behaviour-to-interest dynamic routing,
the adaptive number of interests, a small MLP per interest with the profile). The item
tower is an ordinary one.

**History.** A ``"@history"`` feature is built by the model, never read from a frame, and
may feed only the user tower (its side is ``user``; a history feature in the item tower is
a :class:`~recutils.exceptions.ConfigError`). Its ids are the items'; give it the item id
feature's ``embedding_name`` to share their table. In training, each row's history is its
user's items *strictly before* the row, in time order (``col_timestamp`` when the frame has
it, else the frame's order; ties keep the frame's order), the latest ``max_length`` of them,
without the row's own item (a repeated interaction's earlier copies are dropped too). When
recommending, a user's history is their latest ``max_length`` training items.

**Training** (label-aware attention): the row's item embedding ``v`` attends over the user's
active interests ``u_k``: with ``s_k = <u_k, v> / temperature``, the weights are
``softmax(sign(s_k) |s_k|^attention_pow)`` (the paper's ``pow``, 2; the sign is kept so that a
larger power tends to *hard* attention on the best-matching interest, which
``attention_pow: .inf`` gives exactly). The weighted sum (L2-normalised under cosine
similarity) is the row's user vector, scored with the configured two-tower loss
(:class:`~recutils.nn.config.MatchConfig`).

**Serving.** A user's score for an item is the best of their interests:
``max_k <u_k, v> / temperature``. :meth:`MindModel.user_embeddings` returns ``[n, K, d]``;
the slots of a user's inactive interests (``k >= K_u``) repeat their first interest, so that
any max over the ``K`` slots, and an index search per slot, is the max over the active
interests. :meth:`MindModel.recommend_from_index` searches an index (:meth:`build_index`)
once per interest and merges the results by their best score, seen items excluded
(:func:`search_interests`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError, DataError
from recutils.models.base import ContractCase, TrainData, _as_seconds
from recutils.models.retrieval.model import (
    CONFIG_DIR,
    RETRIEVAL_CLASSES,
    RETRIEVAL_PRESETS,
    TwoTowerConfig,
    TwoTowerModel,
)
from recutils.models.topk import top_k_per_row
from recutils.nn.config import ModelConfig
from recutils.nn.config_io import read_mapping
from recutils.nn.features import FeatureConfig, FeatureEncoder, FeatureSpec
from recutils.utils.deps import require
from recutils.utils.validation import check_columns

torch = require("torch", "torch")

from recutils.nn.backbone import Backbone, build_network_with_limits  # noqa: E402
from recutils.nn.components.capsule import MultiInterestCapsule, interest_mask  # noqa: E402
from recutils.nn.match import MatchNetwork  # noqa: E402

#: The ``column`` of a history feature: built by the model from each user's past items.
HISTORY = "@history"
#: The shipped MIND config.
MIND_PRESET = RETRIEVAL_PRESETS["mind"]


def _default_model_config() -> ModelConfig:
    return ModelConfig.from_dict(read_mapping(CONFIG_DIR / MIND_PRESET)["model_config"])


def _default_features() -> list[FeatureConfig]:
    return [FeatureConfig.from_dict(f) for f in read_mapping(CONFIG_DIR / MIND_PRESET)["features"]]


# ------------------------------------------------------------------ network
class MindNetwork(MatchNetwork):
    """A two-tower network whose user tower is a :class:`MultiInterestCapsule` block: ``K``
    interests per user, label-aware attention in training, the best interest when scoring.

    Args:
        backbone, specs, generator: As for :class:`~recutils.nn.match.MatchNetwork`.
        attention_pow: The power of the label-aware attention (``inf``: hard attention).
    """

    def __init__(
        self,
        backbone: Backbone,
        specs: Mapping[str, FeatureSpec],
        generator: torch.Generator | None = None,
        attention_pow: float = 2.0,
    ) -> None:
        super().__init__(backbone, specs, generator)
        block = self.match.user_block
        layer = backbone.layers[block] if block in backbone.layers else None
        if not isinstance(layer, MultiInterestCapsule):
            raise ConfigError(
                f"mind: the user tower block {block!r} must be a MultiInterestCapsule layer "
                f"(reading the user's SEQUENCE group), got {type(layer).__name__}."
            )
        group = backbone.config.groups[backbone.blocks_cfg[block].inputs[0].feature_group_name]  # type: ignore[index]
        history = [f for f in group.feature_names if specs[f].kind == "bag"]
        self.history_key = backbone.layout.bag_key(history[0])
        #: The single-id (profile) features of the user tower's group.
        self.profile_features = [f for f in group.feature_names if specs[f].kind == "id"]
        self.num_interests = layer.num_interests
        self.adaptive = layer.adaptive
        self.attention_pow = float(attention_pow)

    def _user_width(self, value: object) -> int:
        if not isinstance(value, torch.Tensor) or value.dim() != 3:
            shape = list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise ConfigError(
                f"mind: the user tower block {self.match.user_block!r} must output "
                f"[batch, interests, width] (a MultiInterestCapsule), got {shape}."
            )
        return int(value.shape[-1])

    def interest_mask(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``[B, K]`` bool: each row's active interests (from its history's length)."""
        lengths = (batch[self.history_key] != 0).sum(dim=1)
        return interest_mask(lengths, self.num_interests, self.adaptive)

    def interests(self, batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The user tower's interests ``[B, K, d]`` (normalised under cosine) and their mask ``[B, K]``."""
        block = self.match.user_block
        out = self.backbone.block_outputs(batch, [block])[block]
        return self._normalise(
            out if self.user_proj is None else self.user_proj(out)
        ), self.interest_mask(batch)

    def user_embeddings(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``[B, K, d]``: each user's interests, an inactive slot repeating the first interest."""
        u, mask = self.interests(batch)
        return torch.where(mask.unsqueeze(-1), u, u[:, :1])

    def label_aware(self, u: torch.Tensor, mask: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """The user vector ``[B, d]`` of each row: its active interests ``u [B, K, d]`` weighted by
        their attention to the row's item ``v [B, d]`` (module docstring of
        :mod:`recutils.models.retrieval.mind`)."""
        s = (u * v.unsqueeze(1)).sum(-1) / self.match.temperature
        if math.isinf(self.attention_pow):
            best = s.masked_fill(~mask, -math.inf).argmax(dim=1)
            weights = torch.nn.functional.one_hot(best, u.shape[1]).to(u.dtype)
        else:
            logits = torch.sign(s) * s.abs().pow(self.attention_pow)
            weights = torch.softmax(logits.masked_fill(~mask, -math.inf), dim=1)
        return self._normalise((weights.unsqueeze(-1) * u).sum(dim=1))

    def forward(self, batch: Mapping[str, torch.Tensor]) -> object:
        u, mask = self.interests(batch)
        v = self.item_embeddings(batch)
        if not self.training:
            return self._score(u, v.unsqueeze(1)).masked_fill(~mask, -math.inf).amax(dim=1)
        return self._training_outputs(self.label_aware(u, mask, v), v, batch)


def build_mind_network(
    config: ModelConfig,
    specs: Mapping[str, FeatureSpec],
    *,
    seed: int | None = None,
    attention_pow: float = 2.0,
) -> MindNetwork:
    """Build a :class:`MindNetwork` of a ``MatchModel`` config (within the parameter limits).

    Raises:
        ConfigError: a config problem, naming the block or the field.
    """
    if config.model_class != "MatchModel":
        raise ConfigError(f"model_class {config.model_class!r} is not a two-tower model.")
    return build_network_with_limits(
        config,
        specs,
        lambda backbone, used, gen: MindNetwork(backbone, used, gen, attention_pow),
        seed=seed,
    )


# ------------------------------------------------------------------ search
def search_interests(
    index: Any, interests: np.ndarray, k: int, exclude: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items of each user by the best of their interests, from an index.

    Each of the ``K`` interests is searched for its ``k`` best items; a user's results are
    merged by each item's best score. This is exact for an exact index: an item among a
    user's ``k`` best by its best interest ``j`` is among ``j``'s ``k`` best.

    Args:
        index: A :class:`~recutils.retrieval.VectorIndex` with a similarity metric (``ip``
            or ``cosine``).
        interests: ``[n, K, d]`` (:meth:`MindModel.user_embeddings`).
        k: Items per user.
        exclude: ``None`` or a sparse ``[n, n_items]`` matrix of each user's excluded items
            (columns in the index's build order), applied to every interest.

    Returns:
        ``(ids, scores)``, both ``[n, k]``, best first.

    Raises:
        DataError: an ``l2`` index, or ``interests`` not ``[n, K, d]``.
    """
    if getattr(index, "metric", "ip") == "l2":
        raise DataError("search_interests needs a similarity index (metric ip or cosine), got l2.")
    interests = np.asarray(interests)
    if interests.ndim != 3:
        raise DataError(f"interests must be [users, K, d], got shape {list(interests.shape)}.")
    n, n_interests, dim = interests.shape
    if exclude is not None:
        exclude = exclude.tocsr()[np.repeat(np.arange(n), n_interests)]
    ids, scores = index.search(interests.reshape(n * n_interests, dim), k, exclude=exclude)
    ids = ids.reshape(n, n_interests * k)
    scores = scores.astype(np.float64).reshape(n, n_interests * k)
    by_score = np.argsort(-scores, axis=1, kind="stable")
    ids, scores = np.take_along_axis(ids, by_score, 1), np.take_along_axis(scores, by_score, 1)
    by_id = np.argsort(ids, axis=1, kind="stable")  # equal ids stay best first
    sorted_ids = np.take_along_axis(ids, by_id, 1)
    repeat = np.zeros(sorted_ids.shape, dtype=bool)
    repeat[:, 1:] = sorted_ids[:, 1:] == sorted_ids[:, :-1]
    dropped = np.empty_like(repeat)
    np.put_along_axis(dropped, by_id, repeat, 1)
    scores[dropped] = -np.inf
    top, values = top_k_per_row(scores, k)
    return np.take_along_axis(ids, top, 1), values


# ------------------------------------------------------------------ model
@dataclass
class MindConfig(TwoTowerConfig):
    """A :class:`~recutils.models.retrieval.TwoTowerConfig` for MIND (default: ``mind_movielens.yaml``).

    Attributes:
        attention_pow: The label-aware attention's power (> 0; ``.inf``: hard attention).
    """

    features: list[FeatureConfig] = field(default_factory=_default_features)
    model_config: ModelConfig = field(default_factory=_default_model_config)
    attention_pow: float = 2.0

    def __post_init__(self) -> None:
        pow_ = self.attention_pow
        if (
            isinstance(pow_, bool)
            or not isinstance(pow_, (int, float))
            or math.isnan(pow_)
            or pow_ <= 0
        ):
            raise ConfigError(
                f"attention_pow must be a number > 0 (.inf: hard attention), got {pow_!r}."
            )
        self.attention_pow = float(pow_)
        history = [f for f in self.features if (f.column or f.name) == HISTORY]
        for f in history:
            if f.type != "sequence" or f.numeric:
                raise ConfigError(
                    f"feature {f.name!r}: a {HISTORY!r} feature is the user's past items, so it "
                    f"must be type: sequence (ids), got type: {f.type}"
                    f"{' with numeric: true' if f.numeric else ''}."
                )
            if f.max_length is None:
                raise ConfigError(
                    f"feature {f.name!r}: a {HISTORY!r} feature needs max_length (the user's latest "
                    "this many items, e.g. 50)."
                )
        if not history:
            raise ConfigError(
                f"mind needs a history feature: {{name: ..., type: sequence, column: {HISTORY!r}, "
                "max_length: 50}} in the user tower's SEQUENCE group."
            )
        super().__post_init__()


class MindModel(TwoTowerModel):
    """MIND, a multi-interest two-tower model; see the module docstring.

    Takes :class:`TwoTowerModel`'s arguments. Fitted attributes: :class:`TwoTowerModel`'s; the
    user table holds each user's history (their latest training items, encoded).
    """

    name: ClassVar[str] = "mind"
    config_class: ClassVar[type[MindConfig]] = MindConfig
    preset: ClassVar[str] = MIND_PRESET

    # ---------------------------------------------------------------- features
    def _history_features(self) -> list[str]:
        return [f.name for f in self.config.features if (f.column or f.name) == HISTORY]

    def _side_columns(self) -> list[str]:
        """The features' columns (never ``@history``: the model builds it) and the timestamp."""
        columns = [c for c in super()._side_columns() if c != HISTORY]
        return columns + ([self.col_timestamp] if self.col_timestamp else [])

    def _resolve_features(self, df: pd.DataFrame) -> list[FeatureConfig]:
        history = set(self._history_features())
        return [
            dataclasses.replace(f, side="user") if f.name in history else f
            for f in super()._resolve_features(df)
        ]

    def _build_network(self, specs: Mapping[str, Any]) -> torch.nn.Module:
        return build_mind_network(
            self.config.model_config,
            specs,
            seed=self.config.seed,
            attention_pow=self.config.attention_pow,
        )

    def _check_sides(self, network: MatchNetwork, encoder: FeatureEncoder) -> None:
        """History features feed only the user tower (they are user features); then the two-tower rule."""
        groups = self.config.model_config.groups
        history = set(self._history_features())
        for group in network.item_groups:
            wrong = [f for f in groups[group].feature_names if f in history]
            if wrong:
                raise ConfigError(
                    f"history feature(s) {wrong} (column {HISTORY!r}) feed the item tower (group "
                    f"{group!r}); a history is built from the user's past items and may feed only "
                    "the user tower."
                )
        super()._check_sides(network, encoder)

    # ---------------------------------------------------------------- histories
    def _chronology(
        self, df: pd.DataFrame, user_idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(order, position, count)``: the rows sorted by user then time (``col_timestamp`` when
        ``df`` has it, else row order; ties in row order), each sorted row's position within its
        user, and its user's number of rows."""
        n = len(user_idx)
        keys = [np.arange(n)]
        if self.col_timestamp and self.col_timestamp in df.columns:
            keys.append(_as_seconds(df[self.col_timestamp]))
        keys.append(np.asarray(user_idx))
        order = np.lexsort(keys)
        users = np.asarray(user_idx)[order]
        starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        sizes = np.diff(np.r_[starts, n])
        position = np.arange(n) - np.repeat(starts, sizes)
        return order, position, np.repeat(sizes, sizes)

    @staticmethod
    def _windows(
        values: np.ndarray, ends: np.ndarray, counts: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(taken, valid)`` ``[len(ends), width]``: row ``r`` holds ``values[ends[r] - h : ends[r]]``
        with ``h = min(counts[r], width)``, oldest first, then padding (``valid`` False)."""
        h = np.minimum(counts, width)
        j = np.arange(width)
        valid = j[None, :] < h[:, None]
        taken = values[np.where(valid, (ends - h)[:, None] + j[None, :], 0)]
        return taken, valid

    @staticmethod
    def _packed(taken: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's valid entries moved first (keeping their order), the others after."""
        packed = np.argsort(~valid, axis=1, kind="stable")
        return np.take_along_axis(taken, packed, 1), np.take_along_axis(valid, packed, 1)

    def _histories(
        self, df: pd.DataFrame, data: TrainData, width: int
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """The item indices (and validity) of each training row's history ``[rows, width]``
        (strictly earlier items, never the row's own) and of each user's ``[users, width]``."""
        items = np.asarray(data.item_idx, dtype=np.int64)
        order, position, count = self._chronology(df, data.user_idx)
        sorted_items = items[order]
        taken, valid = self._windows(sorted_items, np.arange(len(order)), position, width)
        valid &= taken != sorted_items[:, None]
        taken, valid = self._packed(taken, valid)
        rows = np.empty_like(taken)
        rows_valid = np.empty_like(valid)
        rows[order], rows_valid[order] = taken, valid
        last = np.flatnonzero(
            position == count - 1
        )  # each user's last sorted row, users in code order
        users = self._windows(sorted_items, last + 1, count[last], width)
        return (rows, rows_valid), users

    def _history_codes(self, encoder: FeatureEncoder, name: str) -> np.ndarray:
        """The id of every training item (in item-index order) in history feature ``name``'s table."""
        column = pd.Series([[item] for item in self.item_ids_.tolist()], dtype=object)
        return encoder.encode_feature(name, column)[:, 0]

    def _fit_encoder(
        self, df: pd.DataFrame, data: TrainData
    ) -> tuple[FeatureEncoder, dict[str, np.ndarray]]:
        """The encoder, fitted with each user's history on their first row (the history
        tables' vocabularies and widths), and the rows' encoded features with each row's own
        history (items strictly before it)."""
        width = max(
            f.max_length for f in self.config.features if f.name in self._history_features()
        )
        _, (user_items, user_valid) = self._histories(df, data, width)
        lists = [
            row[ok].tolist() for row, ok in zip(self.item_ids_.to_numpy()[user_items], user_valid)
        ]
        column = np.full(len(df), None, dtype=object)
        column[np.unique(data.user_idx, return_index=True)[1]] = pd.Series(
            lists, dtype=object
        ).to_numpy()
        encoder, encoded = super()._fit_encoder(df.assign(**{HISTORY: column}), data)
        for name in self._history_features():
            (rows, valid), _ = self._histories(df, data, encoder.specs[name].length)
            encoded[name] = np.where(valid, self._history_codes(encoder, name)[rows], 0)
        return encoder, encoded

    def _side_tables(
        self, encoded: Mapping[str, np.ndarray], data: TrainData
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The two-tower tables, each user's history being their latest training items."""
        users, items = super()._side_tables(encoded, data)
        df = data.frame if data.frame is not None else pd.DataFrame(index=range(len(data.user_idx)))
        self._user_histories = {}  # item indices, for the validation users (see _validation_users)
        for name in self._history_features():
            length = self.encoder_.specs[name].length
            taken, valid = self._user_histories[name] = self._histories(df, data, length)[1]
            users[name] = np.where(valid, self._history_codes(self.encoder_, name)[taken], 0)
        return users, items

    def _validation_users(
        self, codes: np.ndarray, train_users: np.ndarray, train_items: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The validation users' features, their histories without the held-out items (only the
        items of the training part: early stopping must not see a held-out item in a history)."""
        import scipy.sparse as sp

        features = super()._validation_users(codes, train_users, train_items)
        shape = (len(self.user_ids_), len(self.item_ids_))
        trained = sp.csr_matrix(
            (np.ones(train_users.size, dtype=np.int8), (train_users, train_items)), shape=shape
        )
        for name, (taken, valid) in self._user_histories.items():
            taken, valid = taken[codes], valid[codes].copy()
            rows = np.repeat(codes, taken.shape[1]).reshape(taken.shape)
            valid &= np.asarray(trained[rows.ravel(), taken.ravel()]).reshape(taken.shape) > 0
            taken, valid = self._packed(taken, valid)
            features[name] = np.where(valid, self._history_codes(self.encoder_, name)[taken], 0)
        return features

    def _fit(self, data: TrainData) -> None:
        try:
            super()._fit(data)
        finally:
            self.__dict__.pop("_user_histories", None)

    def _rows_features(
        self, user_idx: np.ndarray, item_idx: np.ndarray, frame: pd.DataFrame | None = None
    ) -> dict[str, np.ndarray]:
        if frame is not None and HISTORY in frame.columns:  # built by the model, never read
            frame = frame.drop(columns=[HISTORY])
        return super()._rows_features(user_idx, item_idx, frame)

    # ---------------------------------------------------------------- scoring
    def _embed(self, encoded: Mapping[str, np.ndarray], tower: str) -> np.ndarray:
        if tower == "user":
            self._check_embeddable(encoded)
        out = super()._embed(encoded, tower)
        if tower == "user" and out.ndim == 2:  # no row
            out = out.reshape(0, self.network_.num_interests, self.network_.embedding_dim)
        return out

    def _check_embeddable(self, encoded: Mapping[str, np.ndarray]) -> None:
        """Refuse users with neither a history nor a profile (nothing to embed them from)."""
        if self.network_.profile_features:
            return
        name = self.network_.history_key.split(":", 1)[1]
        empty = ~(np.asarray(encoded[name]) != 0).any(axis=1)
        if empty.any():
            raise DataError(
                f"{int(empty.sum())} user(s) have no history (e.g. users unknown to the model) and "
                "the user tower reads no profile feature: MIND cannot embed them. Add profile "
                "features (the user id, age ...) to the user tower's group, or score known users."
            )

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        tau = self.config.model_config.model_params.match.temperature
        users = self._user_vectors(user_idx)
        scores = users[:, 0] @ self.item_vectors_.T
        for k in range(1, users.shape[1]):
            np.maximum(scores, users[:, k] @ self.item_vectors_.T, out=scores)
        return scores.astype(np.float64) / tau

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
        return (users * items[:, None, :]).sum(axis=2).max(axis=1).astype(np.float64) / tau

    def user_embeddings(self, df: pd.DataFrame) -> np.ndarray:
        """Each row's user interests ``[len(df), K, d]`` (the slots of inactive interests repeat the
        first one: a max over the slots is the max over the user's interests). A known user's
        history is their training items; an unknown user has none (their profile only)."""
        return super().user_embeddings(df)

    def recommend_from_index(
        self,
        index: Any,
        users: Sequence[Any] | np.ndarray | pd.Series | pd.DataFrame,
        top_k: int = 10,
        remove_seen: bool = True,
    ) -> pd.DataFrame:
        """:meth:`recommend_k_items` through an index of the item embeddings (:meth:`build_index`):
        one search per interest, merged by the best score (:func:`search_interests`).

        Returns:
            ``DataFrame[col_user, col_item, col_prediction, col_rank]``, ``top_k`` rows per
            user, best first (the prediction is the similarity over the temperature).

        Raises:
            DataError: a user unknown to the model.
        """
        self._check_fitted()
        if isinstance(users, pd.DataFrame):
            check_columns(users, [self.col_user], name="users")
            users = users[self.col_user]
        ids = np.asarray(pd.unique(pd.Series(np.asarray(users))))
        idx = self.user_ids_.get_indexer(pd.Index(ids))
        if (idx < 0).any():
            raise DataError(
                f"unknown user(s) {ids[idx < 0][:5].tolist()}: recommend_from_index needs training users."
            )
        exclude = self.seen_[idx] if remove_seen else None
        items, scores = search_interests(index, self._user_vectors(idx), top_k, exclude=exclude)
        tau = self.config.model_config.model_params.match.temperature
        return pd.DataFrame(
            {
                self.col_user: np.repeat(ids, top_k),
                self.col_item: items.ravel(),
                self.col_prediction: scores.ravel() / tau,
                self.col_rank: np.tile(np.arange(1, top_k + 1), ids.size),
            }
        )

    # ---------------------------------------------------------------- contract
    @classmethod
    def contract_case(cls) -> ContractCase:
        """A history of the toy frame's items (sharing the item id's table), the user id as profile; 2 epochs."""
        return ContractCase(
            params={
                "features": [
                    {"name": "user", "column": "@user"},
                    {"name": "item", "column": "@item", "embedding_name": "item"},
                    {
                        "name": "history",
                        "column": HISTORY,
                        "type": "sequence",
                        "max_length": 10,
                        "embedding_name": "item",
                    },
                ],
                "feature_groups": {"user": ["history", "user"], "item": ["item"]},
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


RETRIEVAL_CLASSES["mind"] = MindModel  # the table of model.py, which cannot import this module

__all__ = [
    "HISTORY",
    "MIND_PRESET",
    "MindConfig",
    "MindModel",
    "MindNetwork",
    "build_mind_network",
    "search_interests",
]
