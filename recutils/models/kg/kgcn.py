"""KGCN (Wang et al., "Knowledge Graph Convolutional Networks for Recommender Systems", WWW 2019).

Items are entities of an item knowledge graph (:class:`~recutils.datasets.kg.KnowledgeGraph`,
given to ``fit(train, kg=...)``). Every entity gets a fixed set of ``n_neighbors`` neighbours
sampled with replacement (seeded) from its KG edges, taken in both directions, each with the
relation of its edge. An item's representation for user ``u`` is built over ``n_iter`` hops of
that sampled receptive field: at every hop the neighbours are mixed with **user-specific
relation attention** ``pi_u(r) = softmax_neighbours(mean(u * e_r))`` and combined with the
entity itself by an aggregator (one per iteration, ``relu`` then ``tanh`` at the last):

* ``sum``: ``act(W (e + n) + b)``; ``concat``: ``act(W [e; n] + b)``; ``neighbor``: ``act(W n + b)``.

The score is ``u . v_u`` (a logit). Training minimises the binary cross-entropy of each training
pair against one uniformly drawn unseen item per pair, drawn every epoch from
``default_rng([seed, epoch])``, plus ``decay`` times the mean squared norm of the batch's user
and item embeddings, with Adam, through :class:`~recutils.models.torch_cf.TorchCFRecommender`
(the shared trainer: checkpoints, validation, early stopping).

Why KGCN (and not KGAT): KGCN keeps the KG inside the item tower and samples a fixed-size
neighbourhood, so its cost per (user, item) is ``n_neighbors ** n_iter`` and does not grow with
the KG or the user-item graph; KGAT propagates over the joint user-item-entity graph and needs
an extra TransR stage. KGCN also has the published MovieLens setting this project benchmarks.

Policies: items of ``train`` without a link in ``kg`` (and every item when ``kg`` is ``None``)
get their own entity whose only neighbour is itself under a dedicated ``self`` relation, so
the model still works (as a non-linear matrix factorisation) on them; the number is logged
and kept in ``n_unlinked_items_``. Ratings are not read (implicit feedback; a repeated pair
counts once). The sampled adjacency and the item -> entity map are buffers of the network, so
save/load needs no KG.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.datasets.kg import HEAD, RELATION, TAIL, KnowledgeGraph
from recutils.exceptions import ConfigError, DataError
from recutils.models.base import ContractCase
from recutils.models.factors import block_toy_case, check_number, check_positive_int
from recutils.models.torch_cf import TorchCFConfig, TorchCFRecommender, adam, sample_unseen_items
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

AGGREGATORS = ("sum", "concat", "neighbor")


@dataclass
class KGCNConfig(TorchCFConfig):
    """Hyper-parameters of :class:`KGCN`.

    Attributes:
        embedding_dim: Width of user, entity and relation embeddings.
        n_iter: Hops of the receptive field (``H`` in the paper).
        n_neighbors: Neighbours sampled per entity (``K``).
        aggregator: ``sum``, ``concat`` or ``neighbor``.
        n_epochs: Training epochs (one pass over the training pairs each).
        batch_size: (user, positive, negative) triples per Adam step.
        learning_rate: Adam step size.
        decay: L2 weight on the batch's user and item embeddings.
        score_batch: (user, item) pairs scored at once when ranking.

    The run and validation settings are those of :class:`~recutils.models.torch_cf.TorchCFConfig`.
    """

    embedding_dim: int = 32
    n_iter: int = 2
    n_neighbors: int = 8
    aggregator: str = "sum"
    n_epochs: int = 20
    batch_size: int = 1024
    learning_rate: float = 5e-3
    decay: float = 1e-5
    score_batch: int = 8192

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in (
            "embedding_dim",
            "n_iter",
            "n_neighbors",
            "n_epochs",
            "batch_size",
            "score_batch",
        ):
            check_positive_int(name, getattr(self, name))
        if self.aggregator not in AGGREGATORS:
            raise ConfigError(f"aggregator={self.aggregator!r}; allowed: {list(AGGREGATORS)}.")
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("decay", self.decay)


def sample_neighbors(
    heads: np.ndarray,
    relations: np.ndarray,
    tails: np.ndarray,
    n_entities: int,
    n_neighbors: int,
    self_relation: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``n_neighbors`` neighbours per entity, drawn with replacement from its edges (both
    directions), with their relations; an entity without edges gets itself under
    ``self_relation``.

    Returns:
        ``(adj_entity, adj_relation)``, int64 ``[n_entities, n_neighbors]``.
    """
    src = np.concatenate([heads, tails]).astype(np.int64)
    dst = np.concatenate([tails, heads]).astype(np.int64)
    rel = np.concatenate([relations, relations]).astype(np.int64)
    order = np.argsort(src, kind="stable")
    src, dst, rel = src[order], dst[order], rel[order]
    counts = np.bincount(src, minlength=n_entities)
    starts = np.cumsum(counts) - counts
    draw = rng.random((n_entities, n_neighbors))
    pick = starts[:, None] + np.floor(draw * np.maximum(counts, 1)[:, None]).astype(np.int64)
    lonely = counts == 0
    pick[lonely] = 0
    adj_e = dst[pick] if dst.size else np.zeros_like(pick)
    adj_r = rel[pick] if rel.size else np.zeros_like(pick)
    adj_e[lonely] = np.arange(n_entities)[lonely, None]
    adj_r[lonely] = self_relation
    return adj_e, adj_r


def _network(
    config: KGCNConfig,
    n_users: int,
    item_entity: np.ndarray,
    adj_entity: np.ndarray,
    adj_relation: np.ndarray,
    n_relations: int,
) -> Any:
    torch = require("torch", "torch")
    nn = torch.nn

    class KGCNNetwork(nn.Module):
        """User embeddings, entity/relation embeddings and one aggregator per iteration."""

        def __init__(self) -> None:
            super().__init__()
            d, c = config.embedding_dim, config
            self.user = nn.Embedding(n_users, d)
            self.entity = nn.Embedding(len(adj_entity), d)
            self.relation = nn.Embedding(n_relations, d)
            for emb in (self.user, self.entity, self.relation):
                nn.init.normal_(emb.weight, std=0.1)
            width = 2 * d if c.aggregator == "concat" else d
            self.aggregators = nn.ModuleList([nn.Linear(width, d) for _ in range(c.n_iter)])
            self.register_buffer("item_entity", torch.tensor(item_entity, dtype=torch.int64))
            self.register_buffer("adj_entity", torch.tensor(adj_entity, dtype=torch.int64))
            self.register_buffer("adj_relation", torch.tensor(adj_relation, dtype=torch.int64))
            self.k, self.n_iter, self.kind = c.n_neighbors, c.n_iter, c.aggregator

        def item_vectors(self, u: Any, items: Any) -> Any:
            """``[B, d]`` representation of ``items`` for the user vectors ``u`` (``[B, d]``)."""
            b, k = items.shape[0], self.k
            entities = [self.item_entity[items][:, None]]
            relations = []
            for _ in range(self.n_iter):
                relations.append(self.adj_relation[entities[-1]].reshape(b, -1))
                entities.append(self.adj_entity[entities[-1]].reshape(b, -1))
            vecs = [self.entity(e) for e in entities]
            rels = [self.relation(r) for r in relations]
            for i in range(self.n_iter):
                act = torch.tanh if i == self.n_iter - 1 else torch.relu
                nxt = []
                for hop in range(self.n_iter - i):
                    own = vecs[hop]
                    nb = vecs[hop + 1].reshape(b, -1, k, own.shape[-1])
                    r = rels[hop].reshape(b, -1, k, own.shape[-1])
                    attention = torch.softmax((u[:, None, None, :] * r).mean(-1), dim=-1)
                    mixed = (attention[..., None] * nb).sum(2)
                    if self.kind == "sum":
                        x = own + mixed
                    elif self.kind == "concat":
                        x = torch.cat([own, mixed], dim=-1)
                    else:
                        x = mixed
                    nxt.append(act(self.aggregators[i](x)))
                vecs = nxt
            return vecs[0][:, 0]

        def forward(self, users: Any, items: Any) -> Any:
            u = self.user(users)
            return (u * self.item_vectors(u, items)).sum(-1)

    return KGCNNetwork()


class KGCN(TorchCFRecommender):
    """KGCN (see the module docstring).

    Args:
        config: A :class:`KGCNConfig`, a mapping or YAML; keyword arguments override it.
        col_user, col_item, col_prediction: Column names (``col_rating`` / ``col_timestamp``
            are accepted and ignored).
        progress: tqdm bars over epochs and scoring blocks.

    Fitted attributes: ``network_``, ``history_`` (``epoch``, ``loss``, ``bce_loss``,
    ``seconds``), ``n_unlinked_items_``, ``user_ids_``, ``item_ids_``, ``seen_``.

    Examples:
        >>> from recutils.datasets import movielens
        >>> from recutils.datasets.kg import load_kg
        >>> from recutils.models.kg import KGCN
        >>> kg = load_kg("ml-100k")  # doctest: +SKIP
        >>> model = KGCN(n_iter=2, n_neighbors=8).fit(train, kg=kg)  # doctest: +SKIP
    """

    name: ClassVar[str] = "kgcn"
    config_class: ClassVar[type[KGCNConfig]] = KGCNConfig
    config: KGCNConfig

    def fit(
        self, df: pd.DataFrame, valid: pd.DataFrame | None = None, kg: KnowledgeGraph | None = None
    ) -> KGCN:
        """Fit on ``df`` with the item knowledge graph ``kg`` (its ``links`` keyed by the ids of
        ``col_item``); ``valid`` as in :meth:`TorchCFRecommender.fit`.

        Raises:
            DataError: ``kg`` is not a :class:`~recutils.datasets.kg.KnowledgeGraph`.
        """
        if kg is not None and not isinstance(kg, KnowledgeGraph):
            raise DataError(
                f"kg must be a recutils.datasets.kg.KnowledgeGraph, got {type(kg).__name__}."
            )
        self.__dict__["_kg"] = kg
        try:
            super().fit(df, valid=valid)
        finally:
            self.__dict__.pop("_kg", None)
        return self

    def _graph(self, n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Item entities (internal item order), sampled adjacency and the relation count."""
        kg: KnowledgeGraph | None = self.__dict__.get("_kg")
        code_of_internal = np.argsort(self.item_order_)
        ids = self.item_ids_[code_of_internal]
        if kg is None:
            n_kg_entities, n_kg_relations = 0, 0
            triples = np.zeros((0, 3), dtype=np.int64)
            linked = np.full(n_items, -1, dtype=np.int64)
        else:
            n_kg_entities, n_kg_relations = kg.n_entities, kg.n_relations
            triples = kg.triples[[HEAD, RELATION, TAIL]].to_numpy()
            linked = kg.item_entities(ids)
        unlinked = linked < 0
        self.n_unlinked_items_ = int(unlinked.sum())
        if self.n_unlinked_items_:
            logger.info(
                "KGCN: %d of %d items have no KG link (own entity, self-loop only)",
                self.n_unlinked_items_,
                n_items,
            )
        item_entity = linked.copy()
        item_entity[unlinked] = n_kg_entities + np.arange(self.n_unlinked_items_)
        n_entities = n_kg_entities + self.n_unlinked_items_
        rng = np.random.default_rng([int(self.config.seed or 0), 7])
        adj_e, adj_r = sample_neighbors(
            triples[:, 0],
            triples[:, 1],
            triples[:, 2],
            n_entities,
            self.config.n_neighbors,
            n_kg_relations,
            rng,
        )
        return item_entity, adj_e, adj_r, n_kg_relations + 1

    def _build_network(self, n_users: int, n_items: int) -> Any:
        shapes = self.__dict__.get("_loaded_shapes")
        if shapes is not None:  # load: placeholders, the saved buffers replace them
            n_entities, n_relations = shapes
            zeros = np.zeros((n_entities, self.config.n_neighbors), dtype=np.int64)
            return _network(
                self.config, n_users, np.zeros(n_items, np.int64), zeros, zeros, n_relations
            )
        item_entity, adj_e, adj_r, n_relations = self._graph(n_items)
        return _network(self.config, n_users, item_entity, adj_e, adj_r, n_relations)

    def _train(
        self,
        network: Any,
        users: np.ndarray,
        items: np.ndarray,
        n_users: int,
        n_items: int,
        seed: int,
        device: Any,
    ) -> list[dict[str, Any]]:
        c = self.config
        pos_keys = np.unique(users * n_items + items)
        users, items = pos_keys // n_items, pos_keys % n_items
        source = _PairEpochs(users, items, pos_keys, n_items, c.batch_size, c.decay, seed, device)
        optimizer = adam(network.parameters(), device, c.learning_rate)
        return self._run_epochs(
            network,
            source,
            source.loss,
            optimizer,
            c.n_epochs,
            seed,
            model_dir=c.model_dir,
            desc="KGCN",
        )

    def _score_internal(self, users: Any) -> Any:
        torch = require("torch", "torch")
        net = self.network_
        n_items = len(self.item_ids_)
        u_all = users.repeat_interleave(n_items)
        i_all = torch.arange(n_items, device=users.device).repeat(users.numel())
        step = self.config.score_batch
        out = [net(u_all[s : s + step], i_all[s : s + step]) for s in range(0, u_all.numel(), step)]
        return torch.cat(out).reshape(users.numel(), n_items)

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = super()._state()
        meta["n_unlinked_items"] = self.n_unlinked_items_
        return arrays, meta

    def _set_state(self, arrays: Any, meta: Any) -> None:
        adj = arrays.get("w__adj_entity")
        rel = arrays.get("w__relation.weight")
        if adj is None or rel is None or np.ndim(adj) != 2 or np.ndim(rel) != 2:
            raise DataError("the saved KGCN has no sampled adjacency or relation table.")
        self.__dict__["_loaded_shapes"] = (int(np.shape(adj)[0]), int(np.shape(rel)[0]))
        try:
            super()._set_state(arrays, meta)
        finally:
            self.__dict__.pop("_loaded_shapes", None)
        self.n_unlinked_items_ = int(meta.get("n_unlinked_items", 0))

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {
            "embedding_dim": 8,
            "n_iter": 1,
            "n_neighbors": 2,
            "n_epochs": 3,
            "batch_size": 64,
            "learning_rate": 0.01,
            "seed": 0,
        }
        known = block_toy_case(
            {
                **params,
                "embedding_dim": 16,
                "n_epochs": 100,
                "batch_size": 16,
                "learning_rate": 0.05,
            }
        )
        return ContractCase(params=params, known_answer=known, stochastic=True)


class _PairEpochs:
    """KGCN's batch source and loss: each epoch one unseen item per training pair and the pairs
    in a permutation, both from ``default_rng([seed, epoch])``; a batch's loss is the BCE of the
    positives against the negatives plus ``decay`` times the mean squared embedding norms."""

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        pos_keys: np.ndarray,
        n_items: int,
        batch_size: int,
        decay: float,
        seed: int,
        device: Any,
    ) -> None:
        torch = require("torch", "torch")
        self.torch = torch
        self.users, self.pos_keys, self.n_items = users, pos_keys, n_items
        self.batch_size, self.decay, self.seed, self.device = batch_size, decay, seed, device
        self.n = users.size
        self.u_all = torch.from_numpy(users).to(device)
        self.i_all = torch.from_numpy(items).to(device)
        self.negs = self.bce_sum = self.total = None

    def epoch_batches(self, epoch: int) -> Iterator[Any]:
        torch = self.torch
        rng = np.random.default_rng([self.seed, epoch])
        self.negs = torch.from_numpy(
            sample_unseen_items(self.users, self.pos_keys, self.n_items, rng)
        ).to(self.device)
        order = torch.from_numpy(rng.permutation(self.n)).to(self.device)
        self.bce_sum = torch.zeros((), device=self.device)
        self.total = torch.zeros((), device=self.device)
        for s in range(0, self.n, self.batch_size):
            yield order[s : s + self.batch_size]

    def loss(self, network: Any, idx: Any) -> Any:
        torch = self.torch
        u, p, q = self.u_all[idx], self.i_all[idx], self.negs[idx]
        users = torch.cat([u, u])
        items = torch.cat([p, q])
        labels = torch.cat(
            [torch.ones_like(p, dtype=torch.float32), torch.zeros_like(q, dtype=torch.float32)]
        )
        logits = network(users, items)
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        ent = network.entity(network.item_entity[items])
        reg = (network.user(users).pow(2).sum(1).mean() + ent.pow(2).sum(1).mean()) / 2
        value = bce + self.decay * reg
        self.bce_sum += bce.detach() * idx.numel()
        self.total += value.detach() * idx.numel()
        return value

    def epoch_row(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch + 1,
            "loss": float(self.total) / self.n,
            "bce_loss": float(self.bce_sum) / self.n,
        }


__all__ = ["AGGREGATORS", "KGCN", "KGCNConfig", "sample_neighbors"]
