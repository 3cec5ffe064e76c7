"""DropoutNet: a two-tower model trained to score cold users and items from content alone.

DropoutNet (Volkovs, Yu and Poutanen, NeurIPS 2017; EasyRec's ``DropoutNet``) is a
two-tower retrieval model (:class:`~recutils.models.retrieval.TwoTowerModel`) whose towers
read two kinds of input: the *preference* input (the user's / item's id embedding, what
collaborative filtering learns) and the *content* (user profile; item genres, year, title
words). In training, each row's preference input is dropped with probability
``dropout_rate`` (the paper's 0.5), independently for the user and the item: the dropped
ids are replaced by the out-of-vocabulary id
(:class:`~recutils.nn.components.feature_dropout.FeatureDropout`). The towers so learn to
score a pair both with and without the preference input, and an item never seen in
training, whose id encodes to the same out-of-vocabulary id, is scored from its content.
The dropout draws come from torch's generator, seeded by the trainer; in eval mode (every
embedding and score) nothing is dropped.

Serving cold items:

* :meth:`DropoutNetModel.item_embeddings` embeds any frame of items with their content
  columns (unknown ids included);
* :meth:`DropoutNetModel.add_items` adds new items (a frame with ``col_item`` and their
  content columns) to the catalogue that :meth:`~DropoutNetModel.recommend_k_items`,
  ``predict``, :meth:`~DropoutNetModel.similar_items` and
  :meth:`~DropoutNetModel.build_index` use; they are saved with the model.

The shipped preset (``dropoutnet_movielens.yaml``) reads MovieLens' user (id, age,
gender, occupation) and item (id, genres, year, title words) features; the title words
are a ``'|'``-joined column of lower-cased words
(:func:`recutils.benchmark.cold_start.title_words`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.exceptions import ConfigError, DataError
from recutils.models.base import ContractCase
from recutils.models.retrieval.model import (
    CONFIG_DIR,
    RETRIEVAL_PRESETS,
    TwoTowerConfig,
    TwoTowerModel,
)
from recutils.nn.config import ModelConfig
from recutils.nn.config_io import read_mapping
from recutils.nn.features import FeatureSpec
from recutils.utils.deps import require
from recutils.utils.validation import check_columns, check_probability

torch = require("torch", "torch")

from recutils.nn.backbone import Backbone, build_network_with_limits  # noqa: E402
from recutils.nn.components.feature_dropout import FeatureDropout, FeatureDropoutParams  # noqa: E402
from recutils.nn.match import MatchNetwork  # noqa: E402

#: The shipped DropoutNet config.
DROPOUTNET_PRESET = RETRIEVAL_PRESETS["dropoutnet"]


def _default_model_config() -> ModelConfig:
    return ModelConfig.from_dict(read_mapping(CONFIG_DIR / DROPOUTNET_PRESET)["model_config"])


def _feature_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{name} must be a list of feature names, got {value!r}.")
    return list(value)


@dataclass
class DropoutNetConfig(TwoTowerConfig):
    """A :class:`~recutils.models.retrieval.TwoTowerConfig` with DropoutNet's preference dropout.

    Attributes:
        dropout_rate: Probability in ``[0, 1)`` that a training row's user (item) preference
            features are replaced by the out-of-vocabulary id (user and item drawn
            independently). 0 turns the dropout off (a plain two-tower model).
        user_preference: The user tower's preference features (single-id features, e.g.
            the user id); empty: none dropped.
        item_preference: The item tower's preference features (e.g. the item id).
    """

    model_config: ModelConfig = field(default_factory=_default_model_config)
    dropout_rate: float = 0.5
    user_preference: list[str] = field(default_factory=lambda: ["user_id"])
    item_preference: list[str] = field(default_factory=lambda: ["movie_id"])

    def __post_init__(self) -> None:
        self.dropout_rate = check_probability("dropout_rate", self.dropout_rate, open_right=True)
        self.user_preference = _feature_list("user_preference", self.user_preference)
        self.item_preference = _feature_list("item_preference", self.item_preference)
        super().__post_init__()


class DropoutNetNetwork(MatchNetwork):
    """A :class:`~recutils.nn.match.MatchNetwork` whose towers' batches pass a
    :class:`~recutils.nn.components.feature_dropout.FeatureDropout` of their preference
    features first (training mode only).

    Args:
        backbone, specs, generator: As :class:`~recutils.nn.match.MatchNetwork`.
        rate: The dropout rate.
        user_preference, item_preference: The dropped features of each tower.

    Raises:
        ConfigError: a preference feature that its tower does not read, or that is not a
            single-id feature.
    """

    def __init__(
        self,
        backbone: Backbone,
        specs: Mapping[str, FeatureSpec],
        generator: torch.Generator | None,
        *,
        rate: float,
        user_preference: list[str],
        item_preference: list[str],
    ) -> None:
        super().__init__(backbone, specs, generator)
        self.user_dropout = self._dropout("user", user_preference, self.user_groups, specs, rate)
        self.item_dropout = self._dropout("item", item_preference, self.item_groups, specs, rate)

    def _dropout(
        self,
        side: str,
        features: list[str],
        groups: list[str],
        specs: Mapping[str, FeatureSpec],
        rate: float,
    ) -> FeatureDropout | None:
        read = {f for g in groups for f in self.backbone.config.groups[g].feature_names}
        for name in features:
            if name not in read:
                raise ConfigError(
                    f"{side}_preference: feature {name!r} is not read by the {side} tower; its "
                    f"features are {sorted(read)}."
                )
            if specs[name].kind != "id":
                raise ConfigError(
                    f"{side}_preference: feature {name!r} is a {specs[name].kind} feature; the "
                    "preference input must be single-id features (e.g. the id column)."
                )
        if not features:
            return None
        params = FeatureDropoutParams(rate=rate, features=features)
        return FeatureDropout(
            [self.backbone.layout.id_column(f) for f in params.features], params.rate
        )

    def user_embeddings(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The user tower's embeddings, the preference features dropped in training mode."""
        return super().user_embeddings(
            batch if self.user_dropout is None else self.user_dropout(batch)
        )

    def item_embeddings(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The item tower's embeddings, the preference features dropped in training mode."""
        return super().item_embeddings(
            batch if self.item_dropout is None else self.item_dropout(batch)
        )


class DropoutNetModel(TwoTowerModel):
    """DropoutNet (registry name ``dropoutnet``); see the module docstring.

    Args: as :class:`~recutils.models.retrieval.TwoTowerModel` (config fields of
    :class:`DropoutNetConfig` as keywords: ``DropoutNetModel(dropout_rate=0.5)``).
    """

    name: ClassVar[str] = "dropoutnet"
    config_class: ClassVar[type[DropoutNetConfig]] = DropoutNetConfig
    preset: ClassVar[str] = DROPOUTNET_PRESET

    def _build_network(self, specs: Mapping[str, Any]) -> torch.nn.Module:
        cfg = self.config

        def make(
            backbone: Backbone, used: Mapping[str, FeatureSpec], generator: torch.Generator | None
        ) -> DropoutNetNetwork:
            return DropoutNetNetwork(
                backbone,
                used,
                generator,
                rate=cfg.dropout_rate,
                user_preference=cfg.user_preference,
                item_preference=cfg.item_preference,
            )

        return build_network_with_limits(cfg.model_config, specs, make, seed=cfg.seed)

    def add_items(self, items: pd.DataFrame) -> DropoutNetModel:
        """Add new items to the catalogue, scored from their content; return ``self``.

        Args:
            items: One row per new item: ``col_item`` and the item tower's content columns
                (e.g. ``genres``, ``year``, ``title_words``); a missing column counts as a
                missing value. The ids must be new to the model.

        After the call the items are ranked by :meth:`recommend_k_items`, scored by
        ``predict`` and found by :meth:`similar_items` / :meth:`build_index` like the
        training items (never "seen" by any user), and :meth:`save` keeps them.

        Raises:
            NotFittedError: before ``fit``.
            ColumnMismatchError: ``items`` lacks ``col_item``.
            DataError: a repeated id, or an id already in the catalogue.
        """
        self._check_fitted()
        check_columns(items, [self.col_item], name="items")
        ids = pd.Index(items[self.col_item])
        if ids.has_duplicates:
            raise DataError(
                f"items repeats id(s) {ids[ids.duplicated()][:5].tolist()}; give one row per item."
            )
        known = self.item_ids_.get_indexer(ids) >= 0
        if known.any():
            raise DataError(
                f"item(s) {ids[known][:5].tolist()} are already in the catalogue; add_items takes "
                "new items only."
            )
        if ids.empty:
            return self
        n = len(ids)
        frame = self._side_frame(items.reset_index(drop=True))
        encoded = self._rows_features(np.full(n, -1), np.full(n, -1), frame)
        self.item_table_ = {
            name: np.concatenate([values, encoded[name].astype(values.dtype, copy=False)])
            for name, values in self.item_table_.items()
        }
        self.item_ids_ = self.item_ids_.append(ids)
        seen = self.seen_
        self.seen_ = sp.csr_matrix(
            (seen.data, seen.indices, seen.indptr), shape=(seen.shape[0], len(self.item_ids_))
        )
        self._refresh_item_vectors()
        return self

    @classmethod
    def contract_case(cls) -> ContractCase:
        """The user tower reads the toy frame's user id, the item tower its item id (each
        dropped with the preset's rate); 2 epochs."""
        case = super().contract_case()
        case.params.update(user_preference=["user"], item_preference=["item"])
        return case


#: registry name -> class
DROPOUTNET_CLASSES: dict[str, type[TwoTowerModel]] = {"dropoutnet": DropoutNetModel}

__all__ = [
    "DROPOUTNET_CLASSES",
    "DROPOUTNET_PRESET",
    "DropoutNetConfig",
    "DropoutNetModel",
    "DropoutNetNetwork",
]
