"""DKN (Wang et al., "DKN: Deep Knowledge-Aware Network for News Recommendation", WWW 2018).

**News encoder (KCNN).** A title's first ``title_size`` words, their entities and the
entities' contexts are three aligned channels of one ``title_size x word_emb_dim`` image:
word embeddings; entity embeddings mapped to the word space by ``tanh(M e + b)``; and
(``use_context`` with a neighbour file) the same transform of each entity's context, the
mean embedding of its knowledge-graph neighbours. Convolutions of every width in
``filter_sizes`` (``filter_num`` filters each, spanning the full embedding width), ReLU
and max over time give the news vector (``filter_num * len(filter_sizes)`` wide).

**User and score.** For a candidate, each clicked news gets a weight from a DNN over the
concatenation ``[clicked; candidate]`` (one hidden layer of ``attention_hidden_dim``,
ReLU), softmax over the history; the user vector is the weighted sum of the clicked news.
The click logit is a DNN over ``[user; candidate]`` (hidden ``layer_sizes`` with
``activation``). Unlike the other news models the user vector depends on the candidate,
so scoring the catalogue runs the attention once per (user, news) pair, in chunks.

**Entities.** The news table's ``title_entities`` column (``col_entities``; a sequence of
entity ids per news, as :func:`recutils.datasets.mind.read_news` gives, or a
space-separated string) fills the entity channel in order: the ``k``-th entity sits under
the ``k``-th title word. MIND's loader keeps entity ids without their character offsets,
so on MIND entities are stacked in mention order rather than under their exact words; a
builder that knows the alignment (the MovieLens text task puts a movie's entity under
each word of its name) repeats an id under every word it covers. Entity embeddings are
initialised from ``entity_vec_path`` (MIND's ``entity_embedding.vec``, a TransE table
written as ``id v1 ... vd`` lines; tabs or spaces) where found, else ``normal(0, 0.1)``
from the seed, and trained with the rest. Neighbours come from ``kg_neighbours_path``: a
JSON object ``{entity: [neighbour entities]}`` (MIND's ``KGGraph.json`` layout), the
first ``max_neighbours`` of each kept. How many entities the vectors and the neighbour
file cover is in ``entity_report_``.

**Training** is the news models' (:mod:`recutils.models.news.base`): each click with
``npratio`` non-clicked news of its impression, softmax cross-entropy over the 1+K click
logits (the paper trains a log loss on single rows; the (1+K)-way loss is what the other
news models here use, so the four compare on one footing).

Defaults follow Microsoft Recommenders' ``dkn.yaml`` as we read it (its file was not in
our reference index, so these are from its documentation and notebooks): 10 title words,
100-d words and entities with the transform, filter widths 1, 2, 3 with 100 filters each,
an attention layer of 100, one click layer of 300 with sigmoid, Adam at 5e-4, batches of
100, 10 epochs, histories of 50.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.datasets.mind import read_vectors
from recutils.exceptions import ConfigError, DataError
from recutils.models import persistence
from recutils.models.news.base import NewsConfig, NewsRecommender
from recutils.utils.deps import require
from recutils.utils.validation import (
    check_bool,
    check_choice,
    check_optional_path,
    check_positive_int,
    check_positive_ints,
)

logger = logging.getLogger(__name__)

ENTITIES_COL = "title_entities"
ACTIVATIONS: tuple[str, ...] = ("relu", "sigmoid", "tanh")


@dataclass
class DKNConfig(NewsConfig):
    """DKN's hyper-parameters (module docstring; the shared ones are :class:`NewsConfig`'s).

    Attributes:
        entity_emb_dim: Entity embedding width.
        filter_sizes: KCNN filter widths (each at most ``title_size``).
        filter_num: Filters per width.
        layer_sizes: Hidden layers of the click DNN.
        activation: Their activation (``relu``, ``sigmoid``, ``tanh``).
        use_context: Add the context channel (needs ``kg_neighbours_path``).
        entity_vec_path: Entity vectors (``id v1 ... vd``; MIND ``.vec`` or a TransE table);
            ``None``: random initialisation.
        kg_neighbours_path: JSON ``{entity: [neighbours]}``; ``None``: no contexts.
        max_neighbours: Neighbours kept per entity.
    """

    title_size: int = 10
    word_emb_dim: int = 100
    attention_hidden_dim: int = 100
    dropout: float = 0.0
    n_epochs: int = 10
    batch_size: int = 100
    learning_rate: float = 5e-4
    entity_emb_dim: int = 100
    filter_sizes: list[int] = field(default_factory=lambda: [1, 2, 3])
    filter_num: int = 100
    layer_sizes: list[int] = field(default_factory=lambda: [300])
    activation: str = "sigmoid"
    use_context: bool = True
    entity_vec_path: str | None = None
    kg_neighbours_path: str | None = None
    max_neighbours: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = "DKNConfig"
        check_positive_int("entity_emb_dim", self.entity_emb_dim, owner=owner)
        check_positive_int("filter_num", self.filter_num, owner=owner)
        check_positive_int("max_neighbours", self.max_neighbours, owner=owner)
        self.filter_sizes = check_positive_ints("filter_sizes", self.filter_sizes, owner=owner)
        self.layer_sizes = check_positive_ints(
            "layer_sizes", self.layer_sizes, owner=owner, allow_empty=True
        )
        if max(self.filter_sizes) > self.title_size:
            raise ConfigError(
                f"DKNConfig.filter_sizes {self.filter_sizes} must not exceed "
                f"title_size={self.title_size}."
            )
        check_choice("activation", self.activation, ACTIVATIONS, owner=owner)
        check_bool("use_context", self.use_context, owner=owner)
        check_optional_path("entity_vec_path", self.entity_vec_path, owner=owner)
        check_optional_path("kg_neighbours_path", self.kg_neighbours_path, owner=owner)
        if self.body_size:
            raise ConfigError(f"DKN reads titles only: body_size must be 0, got {self.body_size}.")


def read_entity_vectors(path: str | Path, dim: int) -> tuple[pd.Index, np.ndarray]:
    """Entity vectors of a ``id v1 ... vd`` file (tabs or spaces), checked to be ``dim`` wide.

    Raises:
        DataError: vectors of another width (naming both).
        CorruptDataError: ragged or non-numeric lines.
    """
    keys, vectors = read_vectors(path, sep=None)
    if vectors.shape[1] != dim:
        raise DataError(
            f"{path} holds {vectors.shape[1]}-dimensional entity vectors, but "
            f"entity_emb_dim={dim}; set entity_emb_dim to {vectors.shape[1]}."
        )
    keep = ~keys.duplicated()
    return keys[keep], vectors[keep]


def read_kg_neighbours(path: str | Path) -> dict[str, list[str]]:
    """A JSON object ``{entity: [neighbour entities]}`` (MIND's ``KGGraph.json``).

    Raises:
        DataError: not a JSON object of lists of strings (naming the file).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read the neighbour file {path}: {err}") from err
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in data.values()
    ):
        raise DataError(f"{path} must hold one JSON object {{entity: [neighbour entities]}}.")
    return {str(k): v for k, v in data.items()}


def _as_entity_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [str(v) for v in value]


def _entity_lists(values: pd.Series) -> pd.Series:
    """Each cell as a list of entity ids (sequences kept, strings split, missing empty)."""
    return values.map(_as_entity_list)


class DKN(NewsRecommender):
    """DKN, the knowledge-aware news model (module docstring).

    Args:
        config: A :class:`DKNConfig`, a mapping or YAML; keyword arguments override it.
        col_entities: The news table's entity column.
        **params: As :class:`~recutils.models.news.base.NewsRecommender`.

    Example:
        >>> from recutils.datasets import mind  # doctest: +SKIP
        >>> train = mind.load_mind("kim-sample", "train")  # doctest: +SKIP
        >>> model = DKN(seed=1, kg_neighbours_path="KGGraph.json").fit(  # doctest: +SKIP
        ...     train.impressions, train.news)
    """

    name: ClassVar[str] = "dkn"
    config_class: ClassVar[type[DKNConfig]] = DKNConfig
    #: Scoring budget: attention activations (floats) per chunk.
    _CHUNK: ClassVar[int] = 1 << 23

    def __init__(self, config: Any = None, *, col_entities: str = ENTITIES_COL, **params: Any):
        super().__init__(config, **params)
        self.col_entities = col_entities

    def _side_columns(self) -> list[str]:
        return [*super()._side_columns(), self.col_entities]

    def fit(
        self, df: pd.DataFrame, news: pd.DataFrame | None = None, valid: pd.DataFrame | None = None
    ) -> DKN:
        """Fit on impressions and a news table with ``col_entities`` (see the base class)."""
        try:
            super().fit(df, news, valid)
        finally:
            self.__dict__.pop("_entity_init", None)
            self.__dict__.pop("_neighbours", None)
        return self

    # ------------------------------------------------------------ encoding
    def _encode_news(self, table: pd.DataFrame) -> None:
        super()._encode_news(table)
        c = self.config
        lists = (
            _entity_lists(table[self.col_entities])
            if self.col_entities in table.columns
            else pd.Series([[]] * len(table), index=table.index)
        )
        lists = pd.Series(lists.to_numpy(), index=np.arange(len(table)))
        mentions = lists.explode().dropna().astype(str)
        slot = mentions.groupby(level=0).cumcount().to_numpy()
        keep = slot < c.title_size
        neighbours = read_kg_neighbours(c.kg_neighbours_path) if c.kg_neighbours_path else {}
        titled = pd.Index(pd.unique(mentions.to_numpy()))
        nb = pd.Series([neighbours.get(e, [])[: c.max_neighbours] for e in titled], dtype=object)
        nb_flat = nb.explode().dropna().astype(str)
        vocab = titled.append(pd.Index(pd.unique(nb_flat.to_numpy()))).drop_duplicates()
        ids = np.zeros((len(table), c.title_size), dtype=np.int64)
        ids[mentions.index.to_numpy()[keep], slot[keep]] = vocab.get_indexer(mentions[keep]) + 1
        self.news_features_ = np.hstack(
            [self.news_features_, np.vstack([np.zeros((1, c.title_size), np.int64), ids])]
        )
        width = max(int(nb.map(len).max()) if len(nb) else 0, 1)
        matrix = np.zeros((len(vocab) + 1, width), dtype=np.int64)
        if len(nb_flat):
            pos = nb_flat.groupby(level=0).cumcount().to_numpy()
            matrix[nb_flat.index.to_numpy() + 1, pos] = vocab.get_indexer(nb_flat) + 1
        self.n_entities_, self.n_neighbours_ = len(vocab) + 1, width
        rng = np.random.default_rng([int(c.seed or 0), 1])
        init = rng.normal(0.0, 0.1, (len(vocab) + 1, c.entity_emb_dim)).astype(np.float32)
        init[0] = 0.0
        found = 0
        if c.entity_vec_path is not None:
            keys, vectors = read_entity_vectors(c.entity_vec_path, c.entity_emb_dim)
            pos = keys.get_indexer(vocab)
            init[1:][pos >= 0] = vectors[pos[pos >= 0]]
            found = int((pos >= 0).sum())
        self.entity_report_ = {
            "news_with_entities": int((ids > 0).any(axis=1).sum()),
            "title_entities": len(titled),
            "entities": len(vocab),
            "entities_with_vectors": found,
            "entities_with_neighbours": int((nb.map(len) > 0).sum()),
            "mentions_cut": int((~keep).sum()),
        }
        logger.info("DKN entities: %s", self.entity_report_)
        self.__dict__["_entity_init"] = init
        self.__dict__["_neighbours"] = matrix

    def _network(self, word_init: Any) -> Any:
        torch = require("torch", "torch")
        from recutils.models.news.dkn_networks import DKNNetwork

        c = self.config
        neighbours = self.__dict__.get("_neighbours")
        if neighbours is None:  # a loaded model: the buffer comes with the weights
            neighbours = np.zeros((self.n_entities_, self.n_neighbours_), dtype=np.int64)
        entity_init = self.__dict__.get("_entity_init")
        return DKNNetwork(
            self.n_words_,
            c.word_emb_dim,
            c.title_size,
            self.n_entities_,
            c.entity_emb_dim,
            torch.from_numpy(neighbours),
            bool(c.use_context and c.kg_neighbours_path),
            c.filter_sizes,
            c.filter_num,
            c.attention_hidden_dim,
            c.layer_sizes,
            c.activation,
            c.dropout,
            None if word_init is None else torch.from_numpy(word_init),
            None if entity_init is None else torch.from_numpy(entity_init),
        )

    # ------------------------------------------------------------- scoring
    def _score_histories(
        self, users: np.ndarray, histories: np.ndarray, items: np.ndarray | None = None
    ) -> np.ndarray:
        """As the base's, with the candidate-conditioned attention run in chunks."""
        torch = require("torch", "torch")
        net = self.network_
        device = next(net.parameters()).device
        u = torch.from_numpy(np.asarray(users, dtype=np.int64)).to(device)
        h = torch.from_numpy(np.asarray(histories, dtype=np.int64)).to(device)
        with torch.no_grad():
            news = self._news_vectors()
            hist = torch.cat([news.new_zeros(1, news.shape[1]), news])[h]
            mask = h > 0
            per_pair = max(h.shape[1], 1) * net.attention_dim
            if items is not None:
                cand = news[torch.from_numpy(np.asarray(items, dtype=np.int64)).to(device)]
                step = max(1, self._CHUNK // per_pair)
                out = [
                    net.score(
                        hist[s : s + step],
                        mask[s : s + step],
                        u[s : s + step],
                        cand[s : s + step, None],
                    ).squeeze(1)
                    for s in range(0, h.shape[0], step)
                ]
                return torch.cat(out).double().cpu().numpy()
            n = news.shape[0]
            rows = max(1, min(h.shape[0], self._CHUNK // (per_pair * n) or 1))
            blocks = []
            for r in range(0, h.shape[0], rows):
                hb, mb, ub = hist[r : r + rows], mask[r : r + rows], u[r : r + rows]
                step = max(1, self._CHUNK // (per_pair * hb.shape[0]))
                blocks.append(
                    torch.cat(
                        [
                            net.score(hb, mb, ub, news[s : s + step].expand(hb.shape[0], -1, -1))
                            for s in range(0, n, step)
                        ],
                        dim=1,
                    )
                )
            return torch.cat(blocks).double().cpu().numpy()[:, self.item_order_]

    # ----------------------------------------------------------- save/load
    def _base_width(self) -> int:
        return self.config.title_size + self.config.body_size + 2

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = super()._state()
        width = self._base_width()
        arrays["news_features"] = self.news_features_[:, :width]
        arrays["news_entities"] = self.news_features_[:, width:]
        meta.update(
            n_entities=self.n_entities_,
            n_neighbours=self.n_neighbours_,
            entity_report=self.entity_report_,
        )
        return arrays, meta

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        arrays = dict(arrays)
        self.n_entities_ = int(meta["n_entities"])
        self.n_neighbours_ = int(meta["n_neighbours"])
        self.entity_report_ = dict(meta.get("entity_report") or {})
        entities = persistence.check_array(
            arrays,
            "news_entities",
            persistence.INTEGER,
            (len(self.item_ids_) + 1, self.config.title_size),
            bounds=(0, self.n_entities_),
        )
        del arrays["news_entities"]
        super()._set_state(arrays, meta)
        neighbours = self.network_.neighbours.numpy()
        if neighbours.size and (neighbours.min() < 0 or neighbours.max() >= self.n_entities_):
            raise persistence.ArtifactArrayError(
                f"w__neighbours holds entity ids outside [0, {self.n_entities_})."
            )
        self.news_features_ = np.hstack([self.news_features_, np.asarray(entities, np.int64)])
        self._after_fit()

    _contract_params: ClassVar[dict[str, Any]] = dict(
        entity_emb_dim=3, filter_sizes=[1, 2], filter_num=4, layer_sizes=[4], activation="relu"
    )


__all__ = ["DKN", "DKNConfig", "read_entity_vectors", "read_kg_neighbours"]
