"""LightGCN (He et al., SIGIR 2020) in PyTorch, behind the recutils contract.

Users and items are nodes of the bipartite interaction graph with normalized
adjacency ``A_hat = D^-1/2 A D^-1/2`` (a sparse tensor; see
:mod:`recutils.nn.components.graph`). From learnable ego embeddings ``E^(0)``
(``embedding_dim`` wide, ``N(0, 0.1^2)``), ``n_layers`` propagation layers give
``E^(k+1) = A_hat E^(k)`` with no weights or non-linearity, and the final embeddings
are their mean ``E = sum_k E^(k) / (K + 1)``. The score is ``s(u, i) = e_u . e_i``.

Training minimises the BPR loss with L2 on the ego embeddings of the batch,

    mean_(u,i,j) softplus(s(u, j) - s(u, i))
        + decay * (||e0_u||^2 + ||e0_i||^2 + ||e0_j||^2) / (2 * batch_size)

with Adam: each epoch visits every training pair ``(u, i)`` once in a seeded random
order, with one uniformly drawn unseen item ``j`` per pair. The whole graph is
propagated at every step (sparse-dense products, never a dense users x items matrix).

After training (and after loading) the final embeddings are computed once and kept as
``user_factors_`` / ``item_factors_`` (float32, in recutils' code order): ranking a
block of users is one dense product.

Policies: ratings are not read and a repeated pair counts once; users not seen in
training are skipped (one ``DataWarning``); save/load writes the ego embeddings and
rebuilds the graph from the saved training matrix (no pickle).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from recutils.models.base import ContractCase
from recutils.models.factors import (
    block_toy_case,
    check_number,
    check_positive_int,
)
from recutils.models.torch_cf import (
    TorchCFConfig,
    TorchCFRecommender,
    adam,
    sample_unseen_items,
)
from recutils.utils.deps import require

logger = logging.getLogger(__name__)


@dataclass
class LightGCNConfig(TorchCFConfig):
    """Hyper-parameters of :class:`LightGCN` (the paper's / Microsoft Recommenders' names).

    The defaults are the settings of the MovieLens benchmark (``recutils/benchmark/specs/
    movielens.yaml``, Microsoft Recommenders' LightGCN benchmark and deep-dive notebook),
    with which MovieLens 100k reaches MAP 0.125 and nDCG@10 0.429 (mean of the benchmark's
    three seeds; Microsoft's table: 0.1216 / 0.4176). A learning rate of 1e-3 leaves the
    model undertrained there (MAP about 0.112 after 50 epochs).

    Attributes:
        embedding_dim: Width of the ego (and final) embeddings.
        n_layers: Propagation layers ``K`` (0: matrix factorization with BPR).
        n_epochs: Training epochs (one pass over the training pairs each).
        batch_size: (user, positive, negative) triples per Adam step.
        learning_rate: Adam step size.
        decay: L2 weight on the ego embeddings of each batch.

    The run settings (``seed``, ``device``, ``num_threads``, ``model_dir``) and the
    validation settings (``valid_metric``, ``patience``) are those of
    :class:`~recutils.models.torch_cf.TorchCFConfig`.
    """

    embedding_dim: int = 64
    n_layers: int = 3
    n_epochs: int = 20
    batch_size: int = 1024
    learning_rate: float = 5e-3
    decay: float = 1e-4

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("embedding_dim", self.embedding_dim)
        check_positive_int("n_layers", self.n_layers, minimum=0)
        check_positive_int("n_epochs", self.n_epochs)
        check_positive_int("batch_size", self.batch_size)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("decay", self.decay)


class LightGCN(TorchCFRecommender):
    """LightGCN (see the module docstring).

    Args:
        config: A :class:`LightGCNConfig`, a mapping or YAML; keyword arguments override it.
        col_user, col_item, col_prediction: Column names (``col_rating`` /
            ``col_timestamp`` are accepted and ignored).
        progress: tqdm bars over epochs (fit) and scoring blocks.

    Fitted attributes: ``network_`` (ego embeddings, an ``nn.Embedding`` of
    ``n_users + n_items`` rows in the internal order), ``user_factors_`` /
    ``item_factors_`` (final embeddings, code order), ``history_`` (one row per epoch:
    ``epoch``, ``loss``, ``bpr_loss``, ``seconds``), ``user_ids_``, ``item_ids_``, ``seen_``.

    Examples:
        >>> from recutils.models.lightgcn import LightGCN
        >>> model = LightGCN(n_layers=3, embedding_dim=64, batch_size=1024, decay=1e-4,
        ...                  n_epochs=20, learning_rate=5e-3, seed=42)  # doctest: +SKIP
    """

    name: ClassVar[str] = "lightgcn"
    config_class: ClassVar[type[LightGCNConfig]] = LightGCNConfig
    config: LightGCNConfig

    def _build_network(self, n_users: int, n_items: int) -> Any:
        torch = require("torch", "torch")
        emb = torch.nn.Embedding(n_users + n_items, self.config.embedding_dim)
        torch.nn.init.normal_(emb.weight, std=0.1)
        return emb

    def _propagation(self, users: np.ndarray, items: np.ndarray, n_users: int, n_items: int) -> Any:
        from recutils.nn.components.graph import GraphPropagation, normalized_adjacency

        adj = normalized_adjacency(users, items, n_users, n_items)
        return GraphPropagation(adj, self.config.n_layers)

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
        require("torch", "torch")
        c = self.config
        pos_keys = np.unique(users * n_items + items)
        users, items = pos_keys // n_items, pos_keys % n_items
        prop = self._propagation(users, items, n_users, n_items).to(device)
        optimizer = adam(network.parameters(), device, c.learning_rate)
        source = _BPREpochs(
            users, items, pos_keys, n_users, n_items, prop, c.batch_size, c.decay, seed, device
        )
        return self._run_epochs(
            network,
            source,
            source.loss,
            optimizer,
            c.n_epochs,
            seed,
            model_dir=c.model_dir,
            desc="LightGCN",
        )

    def _after_fit(self) -> None:
        torch = require("torch", "torch")
        seen = self._internal_seen().tocoo()
        n_users = len(self.user_ids_)
        prop = self._propagation(
            seen.row.astype(np.int64), seen.col.astype(np.int64), n_users, len(self.item_ids_)
        )
        with torch.no_grad():
            final = prop(self.network_.weight.detach().cpu()).numpy()
        self.user_factors_ = np.ascontiguousarray(final[:n_users][self.user_order_])
        self.item_factors_ = np.ascontiguousarray(final[n_users:][self.item_order_])
        self._item_t = np.ascontiguousarray(self.item_factors_.T, dtype=np.float64)

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        return self.user_factors_[user_idx].astype(np.float64) @ self._item_t

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        return np.einsum(
            "ij,ij->i",
            self.user_factors_[user_idx].astype(np.float64),
            self.item_factors_[item_idx].astype(np.float64),
        )

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {
            "embedding_dim": 8,
            "n_layers": 2,
            "n_epochs": 3,
            "batch_size": 64,
            "learning_rate": 0.01,
            "seed": 0,
        }
        known = block_toy_case({**params, "n_epochs": 100, "batch_size": 16, "learning_rate": 0.05})
        return ContractCase(params=params, known_answer=known, stochastic=True)


class _BPREpochs:
    """LightGCN's batch source and loss: each epoch, one unseen item per training pair
    drawn from ``default_rng([seed, epoch])`` and the pairs in a permutation drawn from the
    same generator; a batch is a slice of that permutation and its loss the BPR loss of
    the propagated embeddings plus ``decay`` times the L2 of the batch's ego embeddings."""

    #: History fields summed over the epoch's rows (added across data-parallel ranks).
    summed_fields = ("loss", "bpr_loss")

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        pos_keys: np.ndarray,
        n_users: int,
        n_items: int,
        prop: Any,
        batch_size: int,
        decay: float,
        seed: int,
        device: Any,
    ) -> None:
        torch = require("torch", "torch")
        self.users, self.pos_keys, self.n_users, self.n_items = users, pos_keys, n_users, n_items
        self.prop, self.batch_size, self.decay, self.seed, self.device = (
            prop,
            batch_size,
            decay,
            seed,
            device,
        )
        self.n = users.size
        self.u_all = torch.from_numpy(users).to(device)
        self.i_all = torch.from_numpy(items + n_users).to(device)
        self.negs = self.bpr_sum = self.reg_sum = None

    def epoch_batches(self, epoch: int) -> Iterator[Any]:
        torch = require("torch", "torch")
        rng = np.random.default_rng([self.seed, epoch])
        self.negs = torch.from_numpy(
            sample_unseen_items(self.users, self.pos_keys, self.n_items, rng) + self.n_users
        ).to(self.device)
        order = torch.from_numpy(rng.permutation(self.n)).to(self.device)
        self.bpr_sum = torch.zeros((), device=self.device)
        self.reg_sum = torch.zeros((), device=self.device)
        for s in range(0, self.n, self.batch_size):
            yield order[s : s + self.batch_size]

    def loss(self, network: Any, idx: Any) -> Any:
        torch = require("torch", "torch")
        u, p, q = self.u_all[idx], self.i_all[idx], self.negs[idx]
        ego = network.weight
        final = self.prop(ego)
        eu, ep, eq = final[u], final[p], final[q]
        bpr = torch.nn.functional.softplus((eu * eq).sum(1) - (eu * ep).sum(1)).mean()
        reg = (ego[u].pow(2).sum() + ego[p].pow(2).sum() + ego[q].pow(2).sum()) / (2 * idx.numel())
        self.bpr_sum += bpr.detach() * idx.numel()
        self.reg_sum += reg.detach() * idx.numel()
        return bpr + self.decay * reg

    def epoch_row(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch + 1,
            "loss": float(self.bpr_sum + self.decay * self.reg_sum) / self.n,
            "bpr_loss": float(self.bpr_sum) / self.n,
        }


__all__ = ["LightGCN", "LightGCNConfig"]
