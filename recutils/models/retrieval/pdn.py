"""PDN (Li et al., SIGIR 2021): trigger-based retrieval over user -> trigger -> target paths.

PDN scores a (user, target item) pair by summing over the 2-hop paths from the user through
each **trigger** ``j`` (an item of the user's history) to the target ``t``::

    relevance(u, t) = log(sum_j exp(TN(u, j)) * exp(SN(j, t))) + bias(t)
                    = logsumexp_j (TN(u, j) + SN(j, t)) + bias(t)

with the trigger net TN (the user's interest in trigger ``j``: the user's embedding, the
trigger's embedding, its recency position and its count among the triggers) and the
similarity net SN (the relevance of ``j`` to ``t`` from both items' embeddings); see
:mod:`recutils.nn.components.pdn`. Padded triggers add no path.

* **Training** (next-item rows): each user's (or session's) rows are put in time order
  (``col_timestamp``; ties and ``col_timestamp=None`` keep the input order) and every row
  after a user's first becomes a training example whose triggers are the user's latest
  ``max_triggers`` items strictly before it. The loss is the in-batch softmax over the
  batch's target items (``loss: in_batch_softmax``) or a sampled softmax over
  ``n_negatives`` items drawn per batch (``sampled_softmax``), with the logQ correction and
  accidental hits removed (the pieces of :mod:`recutils.nn.match`).
* **Serving**: each user's triggers are their latest ``max_triggers`` training items
  (``recommend_k_items``); :meth:`PDN.recommend_next`, :meth:`PDN.score_next` and
  :meth:`PDN.score_histories` take raw item histories (new users and sessions: the mean user
  embedding stands in for an unknown user). ``retrieval: exact`` scores every catalogue
  item; ``retrieval: i2i`` first takes each trigger's ``i2i_top_n`` items of highest SN (the
  paper's offline item-to-item index, :meth:`PDN.i2i_index`), then scores their union by the
  full relevance (every other item scores ``-inf``). :meth:`PDN.similar_items` ranks items by SN.
* **Serving from an index** (``similarity: dot``, where ``SN(j, t) = <a_j, b_t>``): the relevance
  is ``logsumexp_j(w_j + <a_j, b_t>) + bias_t`` with ``w_j = TN(u, j)``.
  :meth:`PDN.item_embeddings` gives ``b_t``, :meth:`PDN.item_biases` ``bias_t``,
  :meth:`PDN.user_embeddings` the users' ``a_j`` and ``w_j`` (:class:`TriggerEmbeddings`);
  :meth:`PDN.build_index` indexes ``b_t`` (inner product) and :meth:`PDN.recommend_from_index`
  searches it once per trigger and rescores the union of the candidates by the full relevance.
* A history with no trigger (empty, or only unknown items under ``score_histories``) raises
  :class:`~recutils.exceptions.DataError`: PDN has no path to score without one.

The shipped presets: ``pdn_movielens.yaml`` (MovieLens users' histories) and
``pdn_sessions.yaml`` (click sessions as users, no user embedding).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError, DataError
from recutils.models.base import ContractCase, TrainData, _to_user_list
from recutils.models.factors import appearance_order
from recutils.models.sequential.base import (
    SequentialRecommender,
    _appearance_then_rest,
    _left_padded,
    _order_rows,
)
from recutils.models.topk import check_top_k, top_k_per_row
from recutils.models.torch_cf import TorchCFConfig, adam, check_layers, torch_seed_context
from recutils.nn.run import resolve_seed
from recutils.utils.deps import require
from recutils.utils.validation import (
    check_bool,
    check_choice,
    check_columns,
    check_number,
    check_positive_int,
)

torch = require("torch", "torch")

from recutils.models.retrieval.model import TwoTowerModel  # noqa: E402
from recutils.nn.components.pdn import DotSimilarityNet, SimilarityNet, TriggerNet, path_relevance  # noqa: E402
from recutils.nn.match import in_batch_softmax_logits, sample_catalogue, sampled_softmax_logits  # noqa: E402

nn = torch.nn
F = nn.functional

#: The folder of the shipped PDN presets.
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
#: What PDN trains with (:class:`PDNConfig`).
PDN_LOSSES = ("in_batch_softmax", "sampled_softmax")
#: The forms of PDN's similarity net (:class:`PDNConfig`).
PDN_SIMILARITY = ("dot", "mlp")
#: How PDN scores the catalogue (:class:`PDNConfig`).
PDN_RETRIEVAL = ("exact", "i2i")
_CELLS = 1 << 22  # floats of a [rows, triggers, targets] block while scoring


@dataclass
class PDNConfig(TorchCFConfig):
    """PDN's settings (see the module docstring) and the run settings of
    :class:`~recutils.models.torch_cf.TorchCFConfig`.

    Attributes:
        max_triggers: Triggers per example: the latest ``max_triggers`` items before it.
        embedding_dim: Width of the item embeddings (shared by TN and SN).
        user_dim: Width of the user embedding read by TN (0: none, for sessions).
        position_dim: Width of TN's recency-position embedding.
        trigger_units: Hidden layers of TN.
        similarity: SN's form: ``dot`` (a trigger tower and a target tower, their dot product:
            :class:`~recutils.nn.components.pdn.DotSimilarityNet`) or ``mlp`` (an MLP over each
            pair, the paper's: :class:`~recutils.nn.components.pdn.SimilarityNet`, far slower).
        similarity_units: Layers of SN (at least one): each tower's under ``dot`` (the last is
            the dot product's width), the pair MLP's hidden layers under ``mlp``.
        item_bias: Add a learned bias per target item (the paper's bias net, on the item id).
        dropout: Dropout after the hidden layers of TN and SN.
        n_epochs, batch_size, learning_rate, l2: Adam training (``l2`` is its weight decay).
        loss: ``in_batch_softmax`` or ``sampled_softmax``.
        n_negatives: Items drawn per batch for ``sampled_softmax``.
        negative_sampling: ``uniform`` or ``popularity`` (training counts) for ``sampled_softmax``.
        logq_correction: Subtract the log of each target's sampling share from its logit.
        remove_accidental_hits: Mask a negative equal to the row's target.
        unknown_items: What :meth:`PDN.recommend_next` / :meth:`PDN.score_next` do with history
            items never seen in training: ``error`` or ``ignore`` (dropped with a warning).
            :meth:`PDN.score_histories` always drops them.
        retrieval: ``exact`` (score every item) or ``i2i`` (the triggers' SN neighbours only).
        i2i_top_n: Neighbours per trigger of the ``i2i`` index.
    """

    max_triggers: int = 20
    embedding_dim: int = 32
    user_dim: int = 16
    position_dim: int = 8
    trigger_units: list[int] = field(default_factory=lambda: [32])
    similarity: str = "dot"
    similarity_units: list[int] = field(default_factory=lambda: [64, 32])
    item_bias: bool = True
    dropout: float = 0.0
    n_epochs: int = 10
    batch_size: int = 256
    learning_rate: float = 1e-3
    l2: float = 0.0
    loss: str = "in_batch_softmax"
    n_negatives: int = 256
    negative_sampling: str = "uniform"
    logq_correction: bool = True
    remove_accidental_hits: bool = True
    unknown_items: str = "error"
    retrieval: str = "exact"
    i2i_top_n: int = 50

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in (
            "max_triggers",
            "embedding_dim",
            "position_dim",
            "n_epochs",
            "batch_size",
            "n_negatives",
            "i2i_top_n",
        ):
            check_positive_int(name, getattr(self, name))
        check_positive_int("user_dim", self.user_dim, minimum=0)
        self.trigger_units = check_layers("trigger_units", self.trigger_units, minimum_length=0)
        self.similarity_units = check_layers("similarity_units", self.similarity_units)
        check_number("dropout", self.dropout, maximum=0.99)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("l2", self.l2)
        for name in ("item_bias", "logq_correction", "remove_accidental_hits"):
            check_bool(name, getattr(self, name))
        check_choice("loss", self.loss, PDN_LOSSES)
        check_choice("negative_sampling", self.negative_sampling, ("uniform", "popularity"))
        check_choice("unknown_items", self.unknown_items, ("error", "ignore"))
        check_choice("retrieval", self.retrieval, PDN_RETRIEVAL)
        check_choice("similarity", self.similarity, PDN_SIMILARITY)

    @property
    def max_len(self) -> int:
        """The history width the next-item machinery reads: ``max_triggers``."""
        return self.max_triggers


class PDNNetwork(nn.Module):
    """PDN's embeddings, trigger net, similarity net and item bias (internal item tokens
    ``1..n_items``, 0 pads; user numbers ``0..n_users-1``, -1 an unknown user)."""

    def __init__(self, n_users: int, n_items: int, config: PDNConfig) -> None:
        super().__init__()
        c = config
        self.items = nn.Embedding(n_items + 1, c.embedding_dim, padding_idx=0)
        nn.init.normal_(self.items.weight, std=0.1)
        with torch.no_grad():
            self.items.weight[0].zero_()
        self.users = nn.Embedding(n_users, c.user_dim) if c.user_dim else None
        if self.users is not None:
            nn.init.normal_(self.users.weight, std=0.1)
        self.trigger_net = TriggerNet(
            c.embedding_dim, c.user_dim, c.max_triggers, c.position_dim, c.trigger_units, c.dropout
        )
        similarity = DotSimilarityNet if c.similarity == "dot" else SimilarityNet
        self.similarity_net = similarity(c.embedding_dim, c.similarity_units, c.dropout)
        self.bias = nn.Embedding(n_items + 1, 1) if c.item_bias else None
        if self.bias is not None:
            nn.init.zeros_(self.bias.weight)

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor | None:
        """``[B, user_dim]`` (the mean user vector for -1), or None without user embeddings."""
        if self.users is None:
            return None
        vectors = self.users(users.clamp(min=0))
        return torch.where(
            (users >= 0).unsqueeze(1), vectors, self.users.weight.mean(0, keepdim=True)
        )

    def triggers(
        self, tokens: torch.Tensor, users: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """TN ``[B, L]``, the trigger embeddings ``[B, L, d]`` and the mask of real triggers ``[B, L]``
        of left-padded trigger ``tokens`` ``[B, L]``."""
        embedded = self.items(tokens)
        return self.trigger_net(embedded, tokens, self.user_vectors(users)), embedded, tokens != 0

    def target_bias(self, targets: torch.Tensor) -> torch.Tensor | None:
        """The bias of target tokens (same shape), or None."""
        return None if self.bias is None else self.bias(targets).squeeze(-1)

    def relevance(
        self, tokens: torch.Tensor, users: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """PDN's relevance ``[B, K]`` of trigger rows ``tokens`` ``[B, L]`` to target tokens
        ``[K]`` (shared) or ``[B, K]`` (per row)."""
        tn, embedded, mask = self.triggers(tokens, users)
        sn = self.similarity_net(embedded, self.items(targets))
        return path_relevance(tn, sn, mask, self.target_bias(targets))

    def similarity(self, triggers: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """SN ``[U, K]`` of trigger tokens ``[U]`` and target tokens ``[K]``."""
        return self.similarity_net(self.items(triggers).unsqueeze(1), self.items(targets))[:, 0]


def next_item_triggers(
    tokens: np.ndarray, offsets: np.ndarray, max_triggers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PDN's training examples of time-ordered runs of item tokens.

    Args:
        tokens: Item tokens (``>= 1``), one run per user, each oldest first.
        offsets: ``[n_users + 1]`` run boundaries (user ``u``: ``tokens[offsets[u]:offsets[u+1]]``).
        max_triggers: Triggers per example.

    Returns:
        ``(triggers [m, max_triggers], targets [m], users [m])``: one example per token after its
        run's first, its triggers the up to ``max_triggers`` tokens strictly before it in the same
        run, left-padded with 0 (the latest in the last column).
    """
    lengths = np.diff(offsets)
    owner = np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)
    start = offsets[:-1][owner]
    rows = np.flatnonzero(np.arange(tokens.size) > start)
    window = rows[:, None] - max_triggers + np.arange(max_triggers)[None, :]
    inside = window >= start[rows][:, None]
    triggers = np.where(inside, tokens[np.maximum(window, 0)], 0).astype(np.int64)
    return triggers, tokens[rows].astype(np.int64), owner[rows]


class _PDNExamples:
    """Batches of next-item examples and PDN's softmax loss, for the shared trainer."""

    def __init__(
        self,
        triggers: np.ndarray,
        targets: np.ndarray,
        users: np.ndarray,
        logq: np.ndarray,
        config: PDNConfig,
        seed: int,
        device: Any,
    ) -> None:
        self.c, self.seed, self.device = config, seed, device
        self.triggers = torch.from_numpy(triggers).to(device)
        self.targets = torch.from_numpy(targets).to(device)
        self.users = torch.from_numpy(users).to(device)
        self.logq = torch.from_numpy(logq.astype(np.float32)).to(device)  # by token - 1
        self.n_rows = len(targets)
        self.loss_sum, self.steps = 0.0, 0

    def epoch_batches(self, epoch: int) -> Iterator[np.ndarray]:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n_rows)
        self.loss_sum, self.steps = 0.0, 0
        size = self.c.batch_size
        yield from (order[s : s + size] for s in range(0, self.n_rows, size))

    def epoch_row(self, epoch: int) -> dict[str, Any]:
        return {"epoch": epoch + 1, "loss": self.loss_sum / max(self.steps, 1)}

    def loss(self, network: PDNNetwork, rows: np.ndarray) -> torch.Tensor:
        c = self.c
        index = torch.from_numpy(rows).to(self.device)
        targets = self.targets[index]
        tn, embedded, mask = network.triggers(self.triggers[index], self.users[index])
        target_logq = self.logq[targets - 1] if c.logq_correction else None
        if c.loss == "in_batch_softmax":
            logits = path_relevance(
                tn,
                network.similarity_net(embedded, network.items(targets)),
                mask,
                network.target_bias(targets),
            )
            out = in_batch_softmax_logits(
                logits, targets, target_logq, remove_accidental_hits=c.remove_accidental_hits
            )
        else:
            drawn, drawn_logq = sample_catalogue(
                self.logq, c.n_negatives, c.negative_sampling, self.device
            )
            drawn = drawn + 1
            pos = path_relevance(
                tn,
                network.similarity_net(embedded, network.items(targets).unsqueeze(1)),
                mask,
                network.target_bias(targets.unsqueeze(1)),
            )[:, 0]
            negs = path_relevance(
                tn,
                network.similarity_net(embedded, network.items(drawn)),
                mask,
                network.target_bias(drawn),
            )
            out = sampled_softmax_logits(
                pos,
                negs,
                targets,
                drawn,
                target_logq,
                drawn_logq if c.logq_correction else None,
                remove_accidental_hits=c.remove_accidental_hits,
            )
        value = F.cross_entropy(out["logits"], out["target"])
        self.loss_sum += float(value.detach())
        self.steps += 1
        return value


@dataclass(frozen=True)
class TriggerEmbeddings:
    """Users' PDN paths as vectors (:meth:`PDN.user_embeddings`), for ``similarity: dot``.

    With ``a_j`` the trigger-side vectors, ``w_j`` the log-weights (TN) and ``b_t``, ``bias_t``
    the target side (:meth:`PDN.item_embeddings`, :meth:`PDN.item_biases`), a user's score
    for item ``t`` is ``logsumexp_j(w_j + <a_j, b_t>) + bias_t`` (:meth:`scores`), the
    model's relevance.

    A dataclass rather than a tuple: the two arrays have different shapes and meanings, and
    the scoring rule travels with them. ``vectors`` has MIND's interest layout ``[n, K, d]``
    (:meth:`MindModel.user_embeddings`): one slot per trigger, the left-padded slots
    repeating the latest trigger's vector, so that a search per slot finds nothing a real
    trigger would not.

    Attributes:
        vectors: ``[n, T, d]`` float32 trigger-side vectors, ``T = max_triggers``, the user's
            triggers oldest first and the latest in the last slot (left-padded).
        log_weights: ``[n, T]`` float32 TN of each trigger; ``-inf`` in the padded slots.
    """

    vectors: np.ndarray
    log_weights: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """``[n, T]`` True for the real (unpadded) triggers."""
        return np.isfinite(self.log_weights)

    def scores(self, item_vectors: np.ndarray, item_biases: np.ndarray | None = None) -> np.ndarray:
        """``logsumexp_j(w_j + <a_j, b_t>) + bias_t`` of each user and item.

        Args:
            item_vectors: ``[m, d]`` items shared by every user, or ``[n, m, d]`` per user.
            item_biases: ``[m]`` or ``[n, m]`` (None: no bias).

        Returns:
            ``[n, m]`` float32 scores (``-inf`` for a user without a real trigger).
        """
        b = np.asarray(item_vectors, dtype=np.float32)
        n, slots, dim = self.vectors.shape
        if b.ndim == 2:  # one matrix product for every trigger of every user
            sn = (self.vectors.reshape(n * slots, dim) @ b.T).reshape(n, slots, len(b))
        else:  # einsum's optimised path: several times faster than a stacked matmul here
            sn = np.einsum("ntd,ncd->ntc", self.vectors, b, optimize=True)
        paths = self.log_weights[:, :, None] + sn
        top = paths.max(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = top + np.log(
                np.exp(paths - np.where(np.isfinite(top), top, 0)[:, None]).sum(axis=1)
            )
        out = np.where(np.isfinite(top), out, -np.inf).astype(np.float32)
        return out if item_biases is None else out + np.asarray(item_biases, dtype=np.float32)


class PDN(SequentialRecommender):
    """Path-based Deep Network (registry name ``pdn``); see the module docstring.

    Args:
        config: A :class:`PDNConfig`, a mapping, YAML text or a path (default: the defaults).
        callbacks: Training callbacks (:class:`~recutils.nn.trainer.Callback`).
        **params: Column names, ``progress`` and config fields.

    Fitted attributes: ``network_`` (:class:`PDNNetwork`), ``history_`` (one row per epoch),
    ``histories_`` (each training user's latest ``max_triggers`` item tokens, left-padded: the
    triggers of ``recommend_k_items``), ``popularity_``, ``user_ids_``, ``item_ids_``
    (the catalogue, the columns of :meth:`score_histories`), ``seen_``.

    Serving from an index (``similarity: dot`` only; ``mlp`` has no item vectors):
    :meth:`item_embeddings` (``b_t``) and :meth:`item_biases`, :meth:`user_embeddings` (a
    :class:`TriggerEmbeddings`: the triggers' vectors ``a_j`` and TN log-weights),
    :meth:`build_index` (inner product over ``b_t``, stamped with :meth:`model_version`) and
    :meth:`recommend_from_index` (a search per trigger, the union rescored by the full relevance).
    """

    name: ClassVar[str] = "pdn"
    config_class: ClassVar[type[PDNConfig]] = PDNConfig
    config: PDNConfig

    def _build_network(self, n_users: int, n_items: int) -> PDNNetwork:
        return PDNNetwork(n_users, n_items, self.config)

    # ------------------------------------------------------------------ fit
    def _fit(self, data: TrainData) -> None:
        from recutils.nn.trainer import resolve_device

        c = self.config
        user_internal, self.user_order_ = appearance_order(data.user_idx, data.n_users)
        item_internal, self.item_order_ = _appearance_then_rest(data.item_idx, data.n_items)
        order = _order_rows(user_internal, data.timestamp)
        tokens = item_internal[order].astype(np.int64) + 1
        counts = np.bincount(user_internal, minlength=data.n_users)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        if counts.max() < 2:
            raise DataError(
                "every user has a single interaction: PDN trains on items that follow earlier "
                "ones (its triggers), so it needs users with at least two interactions."
            )
        self.histories_ = _left_padded(tokens, offsets, c.max_triggers)
        self.popularity_ = np.bincount(data.item_idx, minlength=data.n_items).astype(np.int64)
        triggers, targets, users = next_item_triggers(tokens, offsets, c.max_triggers)
        target_counts = np.bincount(targets - 1, minlength=data.n_items).astype(np.float64)
        logq = np.log(
            (target_counts + 1.0) / (target_counts.sum() + data.n_items)
        )  # smoothed: never log(0)
        seed = resolve_seed(c.seed)
        device = resolve_device(c.device)
        with torch_seed_context(seed, device, c.num_threads):
            network = self._build_network(data.n_users, data.n_items).to(device)
            optimizer = adam(list(network.parameters()), device, c.learning_rate, c.l2)
            source = _PDNExamples(triggers, targets, users, logq, c, seed, device)
            history = self._run_epochs(
                network,
                source,
                source.loss,
                optimizer,
                c.n_epochs,
                seed,
                model_dir=c.model_dir,
                desc=self.name,
            )
        self.network_ = network.cpu().eval()
        self.history_ = pd.DataFrame(history)
        self._after_fit()

    def _after_fit(self) -> None:
        super()._after_fit()
        self.__dict__.pop("_i2i_cache", None)  # the i2i index of the previous weights

    # -------------------------------------------------------------- scoring
    def _device(self) -> Any:
        return next(self.network_.parameters()).device

    def _similarity_top(
        self, triggers: torch.Tensor, k: int, *, exclude_self: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` items of highest SN for each trigger token (itself excluded with
        ``exclude_self``): tokens and SN ``[U, k]``, in descending SN, ties by token."""
        n = self.n_items_
        targets = torch.arange(1, n + 1, device=triggers.device)
        step = max(1, _CELLS // max(n * self.config.similarity_units[0], 1))
        tops, values = [], []
        for s in range(0, len(triggers), step):
            part = triggers[s : s + step]
            sn = self.network_.similarity(part, targets)
            if exclude_self:
                sn[torch.arange(len(part), device=part.device), part - 1] = float("-inf")
            idx, val = top_k_per_row(sn.cpu().numpy(), k)
            tops.append(torch.from_numpy(idx + 1))
            values.append(torch.from_numpy(val))
        if not tops:
            return torch.empty((0, k), dtype=torch.long), torch.empty((0, k))
        return torch.cat(tops).to(triggers.device), torch.cat(values).to(triggers.device)

    def _neighbours(self) -> torch.Tensor:
        """The i2i index: ``[n_items + 1, top_n]`` neighbour tokens of each token by SN, the item
        itself included when its SN ranks (a repeat is a candidate); row 0, the padding, has none."""
        cached = self.__dict__.get("_i2i_cache")
        top_n = min(self.config.i2i_top_n, self.n_items_)
        if cached is None or cached.shape[1] != top_n or cached.device != self._device():
            with torch.no_grad():
                tokens = torch.arange(1, self.n_items_ + 1, device=self._device())
                top, _ = self._similarity_top(tokens, top_n, exclude_self=False)
            cached = torch.cat([torch.zeros((1, top_n), dtype=torch.long, device=top.device), top])
            self.__dict__["_i2i_cache"] = cached
        return cached

    def _relevance(
        self, tokens: torch.Tensor, users: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`PDNNetwork.relevance` of rows against shared target tokens ``[K]``, SN computed once
        per distinct trigger of the rows and in bounded blocks."""
        network = self.network_
        k = max(len(targets), 1)
        distinct, inverse = torch.unique(tokens, return_inverse=True)
        step = max(1, _CELLS // (k * self.config.similarity_units[0]))
        sn = torch.cat(
            [
                network.similarity(distinct[s : s + step], targets)
                for s in range(0, len(distinct), step)
            ]
        )
        bias = network.target_bias(targets)
        rows = max(1, _CELLS // (k * tokens.shape[1]))
        out = []
        for s in range(0, len(tokens), rows):
            tn, _, mask = network.triggers(tokens[s : s + rows], users[s : s + rows])
            out.append(path_relevance(tn, sn[inverse[s : s + rows]], mask, bias))
        return torch.cat(out) if out else torch.empty((0, len(targets)), device=tokens.device)

    def _score_tokens(self, histories: np.ndarray, users: np.ndarray) -> np.ndarray:
        """``[B, n_items]`` float32 relevance (columns in item-code order) of left-padded trigger
        rows; ``users`` are internal user numbers (-1: unknown). Under ``retrieval: i2i`` the items
        outside the union of the triggers' neighbours score ``-inf``."""
        device = self._device()
        n = self.n_items_
        with torch.no_grad():
            tokens = torch.from_numpy(np.asarray(histories, dtype=np.int64)).to(device)
            u = torch.from_numpy(np.asarray(users, dtype=np.int64)).to(device)
            if self.config.retrieval == "exact":
                scores = self._relevance(tokens, u, torch.arange(1, n + 1, device=device))
            else:
                candidates = torch.zeros((len(tokens), n + 1), dtype=torch.bool, device=device)
                candidates.scatter_(1, self._neighbours()[tokens].reshape(len(tokens), -1), True)
                candidates[:, 0] = False
                columns = candidates.any(0).nonzero().squeeze(1)
                scores = torch.full((len(tokens), n + 1), float("-inf"), device=device)
                relevance = self._relevance(tokens, u, columns)
                scores[:, columns] = relevance.masked_fill(~candidates[:, columns], float("-inf"))
                scores = scores[:, 1:]
            order = torch.from_numpy(self.item_order_).to(device)
            return scores.index_select(1, order).cpu().numpy()

    def score_histories(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Scores of every catalogue item (:attr:`item_ids_` order) as the next one after each history.

        Args:
            histories: Arrays of item ids (as in the training frame), each oldest first; its latest
                ``max_triggers`` known items are the triggers; ids unknown to the model are ignored.

        Returns:
            ``[len(histories), n_items]`` float32 scores, higher = more likely next.

        Raises:
            DataError: a history empty after dropping the unknown ids (PDN has no trigger to start from).
        """
        self._check_fitted()
        keys, codes, offsets, internal = self._histories(list(histories), unknown="drop")
        padded = self._padded(codes, offsets)
        blocks = [self._score_tokens(padded[s], internal[s]) for s in self._blocks(len(keys))]
        return np.vstack(blocks) if blocks else np.empty((0, self.n_items_), dtype=np.float32)

    def similar_items(self, items: Sequence[Any] | np.ndarray, k: int = 10) -> pd.DataFrame:
        """The ``k`` training items of highest SN for each of ``items`` (the item itself excluded):
        columns ``col_item``, ``similar_item``, ``score`` (SN), ``rank``.

        Raises:
            DataError: an item unknown to the model, or ``k`` outside ``1..n_items - 1``.
        """
        return self._similar(items, k, exclude_self=True)

    def i2i_index(self, top_n: int | None = None) -> pd.DataFrame:
        """The item-to-item index of ``retrieval: i2i``: each training item's ``top_n`` (default
        ``i2i_top_n``) items of highest SN, the item itself included when it ranks (a repeated
        item is a candidate); the columns of :meth:`similar_items`."""
        self._check_fitted()
        k = min(self.config.i2i_top_n if top_n is None else top_n, self.n_items_)
        return self._similar(np.asarray(self.item_ids_), k, exclude_self=False)

    def _similar(
        self, items: Sequence[Any] | np.ndarray, k: int, *, exclude_self: bool
    ) -> pd.DataFrame:
        self._check_fitted()
        items = np.asarray(items)
        idx = self.item_ids_.get_indexer(pd.Index(items))
        if (idx < 0).any():
            raise DataError(
                f"unknown item(s) {items[idx < 0][:5].tolist()}: similar_items needs training items."
            )
        most = self.n_items_ - int(exclude_self)
        if not 1 <= k <= most:
            raise DataError(
                f"k must be between 1 and {most} (the {'other ' if exclude_self else ''}items), got {k}."
            )
        with torch.no_grad():
            tokens = torch.from_numpy(self.item_order_[idx] + 1).to(self._device())
            top, values = self._similarity_top(tokens, k, exclude_self=exclude_self)
        code_of = np.argsort(self.item_order_)  # internal -> code
        similar = self.item_ids_[code_of[top.cpu().numpy().ravel() - 1]]
        return pd.DataFrame(
            {
                self.col_item: np.repeat(items, k),
                "similar_item": similar,
                "score": values.cpu().numpy().ravel(),
                "rank": np.tile(np.arange(1, k + 1), idx.size),
            }
        )

    # ------------------------------------------------------------ embeddings
    model_version = TwoTowerModel.model_version

    def _require_dot(self, what: str) -> None:
        self._check_fitted()
        if self.config.similarity != "dot":
            raise ConfigError(
                f"PDN.{what} needs similarity: dot, where SN(j, t) = <a_j, b_t> (a trigger-side and a "
                f"target-side vector); with similarity: {self.config.similarity!r} SN is an MLP over each "
                "(trigger, target) pair, so there are no item vectors to embed or index. Score with "
                "recommend_k_items / score_histories, or use retrieval: i2i."
            )

    def _item_tokens(self, df: pd.DataFrame) -> np.ndarray:
        """The internal token of each row's item (``col_item``); unknown items raise DataError."""
        check_columns(df, [self.col_item], name="df")
        items = df[self.col_item].to_numpy()
        idx = self.item_ids_.get_indexer(pd.Index(items))
        if (idx < 0).any():
            raise DataError(
                f"unknown item(s) {items[idx < 0][:5].tolist()}: PDN embeds its training items only."
            )
        return self.item_order_[idx] + 1

    def _target_side(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``b_t`` ``[len(tokens), d]`` and ``bias_t`` ``[len(tokens)]`` (zeros without
        ``item_bias``), float32, of internal item tokens."""
        network = self.network_
        with torch.no_grad():
            t = torch.from_numpy(np.asarray(tokens, dtype=np.int64)).to(self._device())
            vectors = network.similarity_net.target_vectors(network.items(t))
            bias = network.target_bias(t)
        vectors = vectors.cpu().numpy()
        return vectors, (np.zeros(len(vectors), np.float32) if bias is None else bias.cpu().numpy())

    def item_embeddings(self, df: pd.DataFrame) -> np.ndarray:
        """The target-side vector ``b_t`` of each row's item (``col_item``) ``[len(df), d]``:
        ``SN(j, t) = <a_j, b_t>`` with the trigger vectors of :meth:`user_embeddings`.

        Raises:
            ConfigError: ``similarity: mlp`` (no item vectors).
            DataError: an item unknown to the model.
        """
        self._require_dot("item_embeddings")
        return self._target_side(self._item_tokens(df))[0]

    def item_biases(self, df: pd.DataFrame) -> np.ndarray:
        """The bias ``bias_t`` of each row's item (``col_item``) ``[len(df)]`` float32: the
        learned bias net, zeros without ``item_bias``.

        Raises:
            ConfigError: ``similarity: mlp``.
            DataError: an item unknown to the model.
        """
        self._require_dot("item_biases")
        return self._target_side(self._item_tokens(df))[1]

    def _trigger_embeddings(self, internal: np.ndarray) -> TriggerEmbeddings:
        """:class:`TriggerEmbeddings` of internal user numbers (their training triggers)."""
        network = self.network_
        histories = self.histories_[internal]
        step = max(1, _CELLS // (histories.shape[1] * self.config.embedding_dim))
        vectors, weights = [], []
        with torch.no_grad():
            for s in range(0, len(histories), step):
                tokens = torch.from_numpy(histories[s : s + step]).to(self._device())
                users = torch.from_numpy(np.asarray(internal[s : s + step], dtype=np.int64)).to(
                    tokens.device
                )
                tn, embedded, mask = network.triggers(tokens, users)
                a = network.similarity_net.trigger_vectors(embedded)
                vectors.append(
                    torch.where(mask.unsqueeze(-1), a, a[:, -1:]).cpu().numpy()
                )  # latest: last
                weights.append(tn.masked_fill(~mask, float("-inf")).cpu().numpy())
        if not vectors:
            width = self.config.similarity_units[-1]
            return TriggerEmbeddings(
                np.empty((0, self.config.max_triggers, width), np.float32),
                np.empty((0, self.config.max_triggers), np.float32),
            )
        return TriggerEmbeddings(np.concatenate(vectors), np.concatenate(weights))

    def _user_codes(self, ids: np.ndarray, what: str) -> np.ndarray:
        idx = self.user_ids_.get_indexer(pd.Index(ids))
        if (idx < 0).any():
            raise DataError(
                f"unknown user(s) {ids[idx < 0][:5].tolist()}: {what} needs training users (their "
                "training items are the triggers); score a new history with score_histories."
            )
        return idx

    def user_embeddings(self, df: pd.DataFrame) -> TriggerEmbeddings:
        """The path layout of the user of each row of ``df`` (``col_user``): the trigger-side
        vectors ``[len(df), T, d]`` and TN log-weights ``[len(df), T]`` of the user's triggers
        (their latest ``max_triggers`` training items), such that
        ``logsumexp_j(w_j + <a_j, b_t>) + bias_t`` (:meth:`TriggerEmbeddings.scores` with
        :meth:`item_embeddings` and :meth:`item_biases`) is the score of ``recommend_k_items``.

        Raises:
            ConfigError: ``similarity: mlp`` (no item vectors).
            DataError: a user unknown to the model (no triggers).
        """
        self._require_dot("user_embeddings")
        check_columns(df, [self.col_user], name="df")
        codes = self._user_codes(df[self.col_user].to_numpy(), "user_embeddings")
        return self._trigger_embeddings(self.user_order_[codes])

    def build_index(self, kind: str = "brute_force", **params: Any) -> Any:
        """An inner-product index over the target-side vectors ``b_t`` (:mod:`recutils.retrieval`),
        ids = item ids in :attr:`item_ids_` order, stamped with :meth:`model_version`; serve it
        with :meth:`recommend_from_index`.

        Args:
            kind: ``brute_force`` (exact, numpy) or a faiss kind (``flat``, ``ivf``, ``hnsw``).
            **params: The index class's parameters (``nprobe``, ``hnsw_m`` ...).

        Raises:
            ConfigError: ``similarity: mlp`` (no item vectors), or an unknown ``kind``.
        """
        from recutils.retrieval import INDEX_KINDS

        self._require_dot("build_index")
        if kind not in INDEX_KINDS:
            raise ConfigError(f"unknown index kind {kind!r}; known: {sorted(INDEX_KINDS)}.")
        vectors = self._target_side(self.item_order_ + 1)[0]
        return INDEX_KINDS[kind]("ip", params).build(
            vectors, np.asarray(self.item_ids_), model_version=self.model_version()
        )

    def recommend_from_index(
        self,
        index: Any,
        users: Sequence[Any] | np.ndarray | pd.Series | pd.DataFrame,
        top_k: int = 10,
        remove_seen: bool = True,
        search_k: int | None = None,
    ) -> pd.DataFrame:
        """:meth:`recommend_k_items` through an index of :meth:`build_index`.

        Each of a user's real triggers ``j`` searches the index with ``a_j`` for its
        ``search_k`` items of highest ``SN(j, t)`` (seen items excluded with ``remove_seen``);
        the union of the candidates is scored by the full relevance (every trigger's path and
        the bias) and the best ``top_k`` are returned. With an exact index and ``search_k`` at
        least the number of items this equals :meth:`recommend_k_items`; narrower, an item
        reached by no trigger's search (for instance one lifted by its bias alone) is missed.

        Args:
            index: A :class:`~recutils.retrieval.VectorIndex` built by :meth:`build_index`.
            users: A frame with ``col_user`` or a sequence of training user ids.
            top_k: Items per user.
            remove_seen: Never recommend an item the user had in training.
            search_k: Items per trigger search (default ``max(top_k, i2i_top_n)``; fewer for a
                user with fewer unseen items).

        Returns:
            ``DataFrame[col_user, col_item, col_prediction, col_rank]`` as
            :meth:`recommend_k_items` (the prediction is the relevance).

        Raises:
            ConfigError: ``similarity: mlp``, or a bad ``top_k`` / ``search_k``.
            DataError: a user unknown to the model, or an index over other items.
            IndexVersionError: an index built from other weights (:meth:`model_version`).
        """
        from recutils.retrieval import IndexVersionError

        self._require_dot("recommend_from_index")
        k = check_top_k(top_k)
        width = (
            max(k, self.config.i2i_top_n)
            if search_k is None
            else check_positive_int("search_k", search_k)
        )
        ids = getattr(index, "ids_", None)
        if (
            ids is None
            or len(ids) != self.n_items_
            or not np.array_equal(np.asarray(ids), np.asarray(self.item_ids_))
        ):
            raise DataError(
                "the index must hold this model's items in item_ids_ order (build it with "
                "PDN.build_index)."
            )
        version = getattr(index, "model_version_", None)
        if version is not None and version != self.model_version():
            raise IndexVersionError(
                f"the index was built for model version {version!r}, this model is "
                f"{self.model_version()!r}: rebuild it with build_index()."
            )
        requested = _to_user_list(users, self.col_user)
        codes = self._user_codes(np.asarray(requested), "recommend_from_index")
        paths = self._trigger_embeddings(self.user_order_[codes])
        targets, biases = self._target_side(self.item_order_ + 1)
        seen = self.seen_[codes] if remove_seen else None
        unseen = self.n_items_ - (
            np.diff(seen.indptr) if seen is not None else np.zeros(codes.size, np.int64)
        )
        widths = np.minimum(width, unseen)  # a search cannot return more than the unseen items
        parts_pos, parts_idx, parts_val = [], [], []
        for w in np.unique(widths[widths > 0]).tolist():  # one search per distinct width
            rows = np.flatnonzero(widths == w)
            group = TriggerEmbeddings(paths.vectors[rows], paths.log_weights[rows])
            candidates = self._index_candidates(
                index, group, None if seen is None else seen[rows], w
            )
            idx, val = self._rescored(group, candidates, targets, biases, k)
            parts_pos.append(np.broadcast_to(rows[:, None], idx.shape))
            parts_idx.append(idx)
            parts_val.append(val)
        return self._ranking_frame(requested, parts_pos, parts_idx, parts_val)

    def _index_candidates(
        self, index: Any, paths: TriggerEmbeddings, seen: Any, width: int
    ) -> np.ndarray:
        """``[n, T * width]`` item codes found by searching ``index`` once per real trigger
        (``-1`` in the slots of padded triggers), ``seen`` (CSR ``[n, n_items]`` or None) excluded."""
        n, slots = paths.log_weights.shape
        mask = paths.mask
        owner = np.nonzero(mask)[0]
        exclude = None if seen is None else seen[owner]
        found, _ = index.search(paths.vectors[mask], width, exclude=exclude)
        candidates = np.full((n, slots, width), -1, dtype=np.int64)
        candidates[mask] = self.item_ids_.get_indexer(pd.Index(found.ravel())).reshape(-1, width)
        return candidates.reshape(n, slots * width)

    def _rescored(
        self,
        paths: TriggerEmbeddings,
        candidates: np.ndarray,
        targets: np.ndarray,
        biases: np.ndarray,
        k: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best of each row's distinct candidate codes (``-1``: none) by the full
        relevance: codes and scores ``[n, k]``, ties by code (as :meth:`recommend_k_items`)."""
        candidates = np.sort(candidates, axis=1)
        dropped = candidates < 0
        dropped[:, 1:] |= candidates[:, 1:] == candidates[:, :-1]
        safe = np.maximum(candidates, 0)
        _, slots, dim = paths.vectors.shape
        step = max(
            1, _CELLS // (candidates.shape[1] * (slots + dim))
        )  # rows of [rows, T, C] and [rows, C, d]
        scores = np.concatenate(
            [
                TriggerEmbeddings(
                    paths.vectors[s : s + step], paths.log_weights[s : s + step]
                ).scores(targets[safe[s : s + step]], biases[safe[s : s + step]])
                for s in range(0, len(candidates), step)
            ]
        )
        scores[dropped] = -np.inf
        top, values = top_k_per_row(scores, k)
        return np.take_along_axis(candidates, top, 1), values

    # -------------------------------------------------------------- contract
    @classmethod
    def contract_case(cls) -> ContractCase:
        """Small settings; the known answer is a planted cycle (``j`` is followed by ``j + 1``)."""
        from recutils.models.sequential.models import cycle_toy_case

        small = {
            "max_triggers": 3,
            "embedding_dim": 8,
            "user_dim": 4,
            "position_dim": 2,
            "trigger_units": [8],
            "similarity_units": [16],
            "n_epochs": 2,
            "batch_size": 8,
            "seed": 0,
        }
        known = cycle_toy_case({**small, "n_epochs": 40, "learning_rate": 0.02, "user_dim": 0})
        return ContractCase(params=small, known_answer=known, stochastic=True)


__all__ = [
    "CONFIG_DIR",
    "PDN",
    "PDNConfig",
    "PDNNetwork",
    "PDN_LOSSES",
    "PDN_RETRIEVAL",
    "PDN_SIMILARITY",
    "TriggerEmbeddings",
    "next_item_triggers",
]
