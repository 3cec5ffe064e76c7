"""Shared machinery of the next-item models (SASRec, BERT4Rec, GRU4Rec, Caser, NextItNet, SSE-PT).

A next-item model reads each user's interactions **in time order** and learns to predict
the item that comes next. :class:`SequentialRecommender` does it once for all of them:

* **Data.** ``fit`` orders each user's rows by ``col_timestamp`` (ties by input row;
  ``col_timestamp=None``: the rows are already in order) and keeps repeated items (a
  sequence may revisit an item). Items become tokens ``1..n_items`` (0 pads). Each user
  trains on their latest ``max_len + 1`` items: the model reads the first ``max_len``
  and predicts, at every position, the item that follows (BERT4Rec instead predicts
  masked items of its latest ``max_len``). Users with one interaction teach nothing
  about order; a frame where every user has one raises :class:`DataError`.
* **Losses** (``loss``): ``bce``, one uniformly drawn negative per position with binary
  cross-entropy (the SASRec, Caser and SSE-PT papers); ``ce``, softmax cross-entropy over
  every item (Klenitskiy & Vasilev, RecSys 2023: it lifts SASRec above BERT4Rec),
  computed a block of items at a time so that the ``[positions, n_items]`` logits never
  exist at once (:func:`~recutils.models.sequential.networks.full_softmax_loss`); and
  ``sampled_softmax``, softmax over the target and ``n_negatives`` items drawn per batch
  (``negative_sampling`` uniform or by training popularity), with the logQ correction
  (``logq_correction``: each logit minus ``log(n_negatives * Q(item))``, Bengio &
  Senecal 2008; Yi et al. 2019) and accidental hits (a negative equal to the target)
  removed. All are averaged over the predicted positions.
* **Serving.** ``recommend_k_items(users)`` ranks for each user's latest training
  history; :meth:`SequentialRecommender.recommend_next` and
  :meth:`SequentialRecommender.score_next` take raw item sequences of any user (new
  users included), and :meth:`SequentialRecommender.evaluate_next` scores held-out next
  items under full and sampled ranking (:mod:`recutils.evaluation.next_item`).
* **Training** goes through the shared trainer (:meth:`recutils.nn.trainer.Trainer.fit_epochs`:
  callbacks, checkpoints with resume, early stopping on ``valid_metric`` of
  ``fit(train, valid=...)``), users shuffled by ``default_rng([seed, epoch])``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.constants import DEFAULT_K
from recutils.exceptions import ConfigError, DataError, DataWarning
from recutils.models import persistence
from recutils.models.base import TrainData
from recutils.models.factors import appearance_order, check_number, check_positive_int
from recutils.models.sequential.augment import AUGMENTATIONS, random_augment
from recutils.models.topk import check_top_k, top_k_per_row
from recutils.models.torch_cf import TorchCFConfig, TorchCFRecommender, adam, torch_seed_context
from recutils.nn.run import resolve_seed
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

LOSSES = ("bce", "ce", "sampled_softmax")


@dataclass
class SequentialConfig(TorchCFConfig):
    """Hyper-parameters every next-item model shares.

    Attributes:
        max_len: Items of history the model reads (the latest ones; longer histories are
            truncated, the documented behaviour).
        embedding_dim: Width of the item embeddings.
        dropout: Dropout rate of the network.
        n_epochs: Passes over the training users.
        batch_size: Users (sequences) per optimizer step.
        learning_rate: Adam step size.
        l2: Adam weight decay.
        loss: ``bce``, ``ce`` or ``sampled_softmax`` (module docstring). ``bce`` is the
            papers' loss and the default; on sparse data it learns slowly and can stall where
            the softmax losses do not (Amazon Beauty, README's next-item benchmark: SASRec
            reaches a full HR@10 of 0.022 with ``bce`` and 0.049 with ``sampled_softmax``;
            Caser and SSE-PT trained with ``bce`` stopped early below popularity).
        n_negatives: Negatives per batch of ``sampled_softmax``.
        negative_sampling: ``uniform`` or ``popularity`` (training counts) for
            ``sampled_softmax``.
        logq_correction: Subtract ``log(n_negatives * Q(item))`` from the sampled logits.
        length_buckets: ``0``: batches of users drawn at random each epoch (the papers'). ``k``:
            within each window of ``k`` such batches the users are sorted by history length
            before the batches are cut, so a batch holds similar lengths; for the Transformer
            models (which train on batches cut to their longest history) an epoch is then
            several times faster, but the batches are less random (on Beauty, 12 epochs with
            ``k = 64`` reached a lower validation HR@10 than random batches).
        unknown_items: What :meth:`SequentialRecommender.recommend_next` does with items of
            a history the model never saw: ``error`` (:class:`DataError` naming them) or
            ``ignore`` (drop them, one :class:`DataWarning`).

    The run and validation settings (``seed``, ``device``, ``num_threads``, ``model_dir``,
    ``valid_metric``, ``patience``) are those of :class:`~recutils.models.torch_cf.TorchCFConfig`.
    """

    max_len: int = 50
    embedding_dim: int = 64
    dropout: float = 0.2
    n_epochs: int = 100
    batch_size: int = 128
    learning_rate: float = 1e-3
    l2: float = 0.0
    loss: str = "bce"
    n_negatives: int = 256
    negative_sampling: str = "uniform"
    logq_correction: bool = True
    length_buckets: int = 0
    unknown_items: str = "error"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("max_len", "embedding_dim", "n_epochs", "batch_size", "n_negatives"):
            check_positive_int(name, getattr(self, name))
        check_number("dropout", self.dropout)
        if self.dropout >= 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout!r}.")
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("l2", self.l2)
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be one of {list(LOSSES)}, got {self.loss!r}.")
        if self.negative_sampling not in ("uniform", "popularity"):
            raise ConfigError(
                f"negative_sampling must be 'uniform' or 'popularity', got {self.negative_sampling!r}."
            )
        check_positive_int("length_buckets", self.length_buckets, minimum=0)
        if not isinstance(self.logq_correction, bool):
            raise ConfigError(
                f"logq_correction must be true or false, got {self.logq_correction!r}."
            )
        if self.unknown_items not in ("error", "ignore"):
            raise ConfigError(
                f"unknown_items must be 'error' or 'ignore', got {self.unknown_items!r}."
            )


@dataclass
class ContrastiveConfig:
    """CL4SRec's settings, mixed into a config (``cl_weight`` 0 turns it off).

    Attributes:
        cl_weight: Weight ``lambda`` of the InfoNCE loss beside the next-item loss.
        cl_temperature: Temperature of the InfoNCE softmax.
        augmentations: Transforms drawn from (``crop``, ``mask``, ``reorder``), one per view.
        crop_eta, mask_gamma, reorder_beta: Their rates (the paper's ``eta``, ``gamma``, ``beta``).
    """

    cl_weight: float = 0.0
    cl_temperature: float = 1.0
    augmentations: list[str] = field(default_factory=lambda: list(AUGMENTATIONS))
    crop_eta: float = 0.6
    mask_gamma: float = 0.3
    reorder_beta: float = 0.6

    def check_contrastive(self) -> None:
        check_number("cl_weight", self.cl_weight)
        check_number("cl_temperature", self.cl_temperature, strict=True)
        if isinstance(self.augmentations, tuple):
            self.augmentations = list(self.augmentations)
        if (
            not isinstance(self.augmentations, list)
            or not self.augmentations
            or any(a not in AUGMENTATIONS for a in self.augmentations)
        ):
            raise ConfigError(
                f"augmentations must be a non-empty list drawn from {list(AUGMENTATIONS)}, "
                f"got {self.augmentations!r}."
            )
        for name in ("crop_eta", "mask_gamma", "reorder_beta"):
            value = getattr(self, name)
            check_number(name, value)
            if value > 1:
                raise ConfigError(f"{name} must lie in [0, 1], got {value!r}.")


def _appearance_then_rest(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~recutils.models.factors.appearance_order` for codes that may miss some of
    ``[0, n)`` (catalogue items without interactions): those are numbered last, in code order."""
    _, first = np.unique(codes, return_index=True)
    present = np.zeros(n, dtype=bool)
    present[codes] = True
    first_of = np.full(n, codes.size, dtype=np.int64)
    first_of[np.flatnonzero(present)] = first
    order = np.lexsort((np.arange(n), first_of))  # order[rank] = code
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n, dtype=np.int64)
    return inverse[codes], inverse


def _order_rows(user_idx: np.ndarray, timestamp: np.ndarray | None) -> np.ndarray:
    """Rows grouped by user, then by time, then by input position (stable)."""
    if timestamp is None:
        return np.argsort(user_idx, kind="stable")
    return np.lexsort((np.arange(user_idx.size), timestamp, user_idx))


def _left_padded(tokens: np.ndarray, offsets: np.ndarray, width: int) -> np.ndarray:
    """The last ``width`` tokens of each run ``tokens[offsets[i]:offsets[i+1]]``, left-padded."""
    from recutils.splitting.sequences import Sequences, pad_sequences

    return pad_sequences(Sequences(np.arange(len(offsets) - 1), tokens, offsets), width)


class _SequenceEpochs:
    """Batches of training users and the next-item (or cloze) loss, for the shared trainer."""

    def __init__(
        self,
        model: SequentialRecommender,
        tokens: np.ndarray,
        users: np.ndarray,
        popularity: np.ndarray,
        seed: int,
        device: Any,
    ) -> None:
        torch = require("torch", "torch")
        c = model.config
        self.model, self.c, self.seed, self.device = model, c, seed, device
        self.tokens = torch.from_numpy(tokens).to(device)
        self.users = torch.from_numpy(users).to(device)
        self.n_rows = len(tokens)
        # networks whose outputs at real positions ignore padding (masked attention, positions
        # counted from the latest item) train on batches cut to their longest row
        self.trim = bool(getattr(model, "trims_padding", False))
        self.lengths = (tokens != 0).sum(1)
        self.n_items = model.n_items_
        pop = popularity.astype(np.float64)
        q = (
            pop / pop.sum()
            if c.negative_sampling == "popularity"
            else np.full(pop.size, 1.0 / pop.size)
        )
        self.q = torch.from_numpy(q).to(device=device, dtype=torch.float32)
        self.log_q = torch.log(self.q * c.n_negatives).clamp(min=-1e4)
        self.cl_weight = float(getattr(c, "cl_weight", 0.0) or 0.0)
        self.loss_sum, self.cl_sum, self.steps = 0.0, 0.0, 0
        self.rng = np.random.default_rng(seed)

    # ----------------------------------------------------------------- batches
    def epoch_batches(self, epoch: int) -> Iterator[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.n_rows)
        self.rng = np.random.default_rng([self.seed, epoch, 1])
        self.loss_sum, self.cl_sum, self.steps = 0.0, 0.0, 0
        size = self.c.batch_size
        batches = [order[start : start + size] for start in range(0, self.n_rows, size)]
        window_batches = self.c.length_buckets
        if window_batches:
            # length buckets: within each window of shuffled batches, rows are sorted by length
            # before they are cut into batches (visited in random order), so a batch holds
            # sequences of similar length and its padding columns can go
            buckets = []
            for start in range(0, self.n_rows, size * window_batches):
                window = order[start : start + size * window_batches]
                window = window[np.argsort(self.lengths[window], kind="stable")]
                buckets.extend(window[i : i + size] for i in range(0, len(window), size))
            batches = [buckets[i] for i in rng.permutation(len(buckets))]
        yield from batches

    def epoch_row(self, epoch: int) -> dict[str, Any]:
        row = {"epoch": epoch + 1, "loss": self.loss_sum / max(self.steps, 1)}
        if self.cl_weight:
            row["cl_loss"] = self.cl_sum / max(self.steps, 1)
        return row

    # -------------------------------------------------------------------- loss
    def loss(self, network: Any, rows: np.ndarray) -> Any:
        torch = require("torch", "torch")
        index = torch.from_numpy(rows).to(self.device)
        seq, users = self.tokens[index], self.model._train_users(self.users[index])
        if self.trim:
            # one padding column kept in front of the longest row: BERT4Rec's input drops the
            # first column (a full-width row's oldest item), which must stay padding here
            width = min(int(self.lengths[rows].max()) + 1, seq.shape[1])
            seq = seq[:, seq.shape[1] - max(width, 2) :]
        inputs, targets, where = self.model._training_positions(seq, self.rng)
        h = network.encode(inputs, users)
        q, c = network.query(h, users)
        rows_of = where.nonzero(as_tuple=True)
        value = self._next_item_loss(
            network, q[rows_of], None if c is None else c[rows_of], targets[rows_of]
        )
        self.loss_sum += float(value.detach())
        if self.cl_weight:
            cl = self._contrastive_loss(network, seq[:, 1:], users)
            self.cl_sum += float(cl.detach())
            value = value + self.cl_weight * cl
        self.steps += 1
        return value

    def _next_item_loss(self, network: Any, q: Any, c: Any, targets: Any) -> Any:
        torch = require("torch", "torch")
        from recutils.models.sequential.networks import logits_for

        F = torch.nn.functional
        kind = self.c.loss
        if kind == "bce":
            negatives = torch.randint(1, self.n_items + 1, targets.shape, device=self.device)
            pos = logits_for(network, q, c, targets)
            neg = logits_for(network, q, c, negatives)
            return F.softplus(-pos).mean() + F.softplus(neg).mean()
        if kind == "ce":
            from recutils.models.sequential.networks import full_softmax_loss

            return full_softmax_loss(network, q, self.n_items, targets)
        k = self.c.n_negatives
        if self.c.negative_sampling == "popularity":
            sampled = torch.multinomial(self.q, k, replacement=True)
        else:
            sampled = torch.randint(0, self.n_items, (k,), device=self.device)
        negatives = sampled + 1
        pos = logits_for(network, q, c, targets)
        neg = logits_for(network, q, c, negatives[None])
        if self.c.logq_correction:
            pos = pos - self.log_q[targets - 1]
            neg = neg - self.log_q[sampled][None]
        neg = neg.masked_fill(negatives[None] == targets[:, None], float("-inf"))
        logits = torch.cat([pos[:, None], neg], dim=1)
        return F.cross_entropy(
            logits, torch.zeros(len(targets), dtype=torch.long, device=self.device)
        )

    def _contrastive_loss(self, network: Any, seq: Any, users: Any) -> Any:
        """CL4SRec's InfoNCE over two augmented views of every sequence of the batch."""
        torch = require("torch", "torch")
        c = self.c
        base = seq.cpu().numpy()
        options = {
            "eta": c.crop_eta,
            "gamma": c.mask_gamma,
            "beta": c.reorder_beta,
            "mask_token": self.model._mask_token(),
        }
        views = [
            torch.from_numpy(random_augment(base, c.augmentations, self.rng, **options)).to(
                self.device
            )
            for _ in range(2)
        ]
        z = torch.cat([network.query(network.encode(v, users), users)[0][:, -1] for v in views])
        b = len(base)
        sim = z @ z.T / c.cl_temperature
        sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=self.device), float("-inf"))
        partner = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(self.device)
        return torch.nn.functional.cross_entropy(sim, partner)


class SequentialRecommender(TorchCFRecommender):
    """Base of the next-item models (module docstring).

    A subclass sets ``name`` and ``config_class`` and supplies ``_build_network(n_users,
    n_items)`` (a network of :mod:`recutils.models.sequential.networks`); BERT4Rec
    overrides the training positions and the scoring input (:meth:`_training_positions`,
    :meth:`_scoring_input`).

    Fitted attributes: ``network_``, ``history_`` (one row per epoch), ``histories_``
    (each training user's latest ``max_len`` tokens, left-padded), ``popularity_`` (training
    count of every item), ``user_ids_``, ``item_ids_``, ``seen_``.
    """

    duplicates: ClassVar[str] = "keep"
    #: The network's outputs at real positions do not depend on left padding (masked
    #: attention, positions counted from the latest item): training batches are cut to
    #: their longest sequence, which changes no result but the cost (``length_buckets``
    #: makes the batches' lengths similar, so that more is cut).
    trims_padding: ClassVar[bool] = False
    config: SequentialConfig

    @property
    def needs_timestamp(self) -> bool:
        return self.col_timestamp is not None

    def fit(
        self, df: pd.DataFrame, valid: pd.DataFrame | None = None, *, items: Any = None
    ) -> SequentialRecommender:
        """Fit on the interactions ``df`` (never modified); return ``self``.

        Args:
            df: Training interactions (``col_user``, ``col_item``, ``col_timestamp``).
            valid: Validation interactions (one next item per user, usually): after each
                epoch the history gets ``valid_<valid_metric>``; ``patience`` stops on it.
            items: The item catalogue, when it holds items that ``df`` lacks (the
                leave-one-out protocol ranks every item of the data set, including those
                met only as a validation or test item): they get an (untrained) embedding
                and can be ranked and appear in histories.

        Raises:
            DataError: every user has a single interaction, or the frame is empty.
        """
        self.__dict__["_catalogue"] = (
            None
            if items is None
            else pd.Index(
                pd.unique(
                    pd.Series(list(items) if not hasattr(items, "__array__") else np.asarray(items))
                )
            )
        )
        try:
            return super().fit(df, valid)
        finally:
            self.__dict__.pop("_catalogue", None)

    def _with_side_frames(self, data: TrainData) -> TrainData:
        """Catalogue items without interactions (``fit(items=...)``) join the item map."""
        catalogue = self.__dict__.get("_catalogue")
        if catalogue is None:
            return data
        extra = catalogue.difference(self.item_ids_, sort=False)
        if extra.empty:
            return data
        try:
            new = self.item_ids_.append(extra).sort_values()
        except TypeError:
            new = self.item_ids_.append(extra)
        item_idx = new.get_indexer(self.item_ids_)[data.item_idx].astype(np.int64)
        self.item_ids_ = new
        logger.info("%d catalogue item(s) without training interactions join the model", len(extra))
        return replace(data, item_idx=item_idx, n_items=len(new))

    def _mask_token(self) -> int:
        """The token of a masked item (one past the items)."""
        return self.n_items_ + 1

    def _n_tokens(self, n_items: int) -> int:
        return n_items + 2  # padding, the items, the mask token (used by BERT4Rec and CL4SRec)

    # ------------------------------------------------------------------ fit
    def _fit(self, data: TrainData) -> None:
        require("torch", "torch")
        from recutils.nn.trainer import resolve_device

        c = self.config
        # users and items numbered by first appearance in the rows: a seeded fit depends on
        # the data, not on how the ids sort (string and integer ids give the same model)
        user_internal, self.user_order_ = appearance_order(data.user_idx, data.n_users)
        item_internal, self.item_order_ = _appearance_then_rest(data.item_idx, data.n_items)
        order = _order_rows(user_internal, data.timestamp)
        users_sorted = user_internal[order]
        tokens = item_internal[order].astype(np.int64) + 1
        counts = np.bincount(users_sorted, minlength=data.n_users)
        offsets = np.zeros(data.n_users + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        if counts.max() < 2:
            raise DataError(
                "every user has a single interaction: a next-item model needs users with at "
                "least two interactions in order to learn from."
            )
        self.histories_ = _left_padded(tokens, offsets, c.max_len)  # by internal user number
        self.popularity_ = np.bincount(data.item_idx, minlength=data.n_items).astype(np.int64)
        trainable = np.flatnonzero(counts >= 2)
        train_tokens = _left_padded(tokens, offsets, c.max_len + 1)[trainable]
        popularity = np.empty_like(self.popularity_)
        popularity[self.item_order_] = self.popularity_  # by token - 1
        seed = resolve_seed(c.seed)
        device = resolve_device(c.device)
        with torch_seed_context(seed, device, c.num_threads):
            network = self._build_network(data.n_users, data.n_items).to(device)
            optimizer = self._optimizers(network, device)
            source = _SequenceEpochs(
                self, train_tokens, trainable.astype(np.int64), popularity, seed, device
            )
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

    def _optimizers(self, network: Any, device: Any) -> list[Any]:
        """Adam for the dense weights; lazy (sparse) Adam for the item and user tables, which
        get sparse gradients (``l2`` applies to the dense weights only)."""
        torch = require("torch", "torch")
        from recutils.models.sequential.networks import sparse_parameters
        from recutils.nn.eager import optimizer_class

        c = self.config
        sparse = sparse_parameters(network)
        ids = {id(p) for p in sparse}
        dense = [p for p in network.parameters() if id(p) not in ids]
        return [
            adam(dense, device, c.learning_rate, c.l2),
            optimizer_class(torch.optim.SparseAdam)(sparse, lr=c.learning_rate),
        ]

    def _training_positions(self, seq: Any, rng: np.random.Generator) -> tuple[Any, Any, Any]:
        """``(inputs [B, max_len], targets [B, max_len], where [B, max_len] bool)`` of a batch
        of ``max_len + 1`` token rows: next-item prediction at every position with history."""
        inputs, targets = seq[:, :-1], seq[:, 1:]
        return inputs, targets, (inputs != 0) & (targets != 0)

    def _after_fit(self) -> None:
        self.__dict__.pop("_code_tokens", None)  # internal item number of each code, per device

    def _train_users(self, users: Any) -> Any:
        """The user numbers a training batch reads (SSE-PT swaps some at random)."""
        return users

    def _scoring_input(self, histories: Any) -> Any:
        """The ``[B, max_len]`` input whose last position's output scores the next item."""
        return histories

    # -------------------------------------------------------------- scoring
    def _score_tokens(
        self, histories: np.ndarray, users: np.ndarray, *, code_order: bool = True
    ) -> np.ndarray:
        """``[B, n_items]`` float32 scores of the item after each left-padded token history;
        ``users`` are internal user numbers (-1: unknown). Columns in item-code order, or with
        ``code_order=False`` in the internal order (column ``t - 1`` is token ``t``; skips a
        copy of the whole score matrix, for callers that map their item columns instead)."""
        torch = require("torch", "torch")
        from recutils.models.sequential.networks import logits_for

        network = self.network_
        device = next(network.parameters()).device
        with torch.no_grad():
            seq = self._scoring_input(
                torch.from_numpy(np.asarray(histories, dtype=np.int64)).to(device)
            )
            u = torch.from_numpy(np.asarray(users, dtype=np.int64)).to(device)
            h = network.encode(seq, u)[:, -1]
            q, c = network.query(h, u)
            order = self.__dict__.get("_code_tokens")
            if order is None or order.device != device:
                order = torch.from_numpy(self.item_order_).to(device)
                self.__dict__["_code_tokens"] = order
            # scored in the internal order (the same arithmetic whatever the ids' sort order),
            # then, unless the caller maps its own columns, put in item-code order
            tokens = torch.arange(1, self.n_items_ + 1, device=device)[None]
            scores = logits_for(network, q, c, tokens)
            if code_order:
                scores = scores.index_select(1, order)
        return scores.cpu().numpy()

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        internal = self.user_order_[np.asarray(user_idx, dtype=np.int64)]
        return self._score_tokens(self.histories_[internal], internal)

    def _histories(
        self, histories: Any, unknown: str | None = None
    ) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
        """Keys, item codes and offsets (one run per history) and internal user numbers (-1:
        unknown) of raw histories.

        ``histories``: a mapping key -> item ids (oldest first), a list of such sequences,
        or a frame with ``col_user`` and ``col_item`` (ordered by ``col_timestamp`` when
        the frame has it, else by row). ``unknown``: the policy for items never seen in
        training (default the config's ``unknown_items``; ``"drop"``: drop them silently).
        """
        if isinstance(histories, pd.DataFrame):
            from recutils.splitting.sequences import build_sequences

            ts = self.col_timestamp if self.col_timestamp in histories.columns else None
            seqs = build_sequences(histories, self.col_user, self.col_item, ts)
            keys = pd.Index(seqs.users)
            user_codes = self.user_ids_.get_indexer(keys)
            internal = np.where(
                user_codes >= 0, self.user_order_[np.maximum(user_codes, 0)], -1
            ).astype(np.int64)
            lengths, flat = seqs.lengths, seqs.items
        else:
            if isinstance(histories, Mapping):
                keys, raw = pd.Index(list(histories.keys())), list(histories.values())
            elif isinstance(histories, Sequence) and not isinstance(histories, str):
                keys, raw = pd.RangeIndex(len(histories)), list(histories)
            else:
                raise DataError(
                    "histories must be a frame, a mapping key -> item ids, or a list of item-id "
                    f"sequences; got {type(histories).__name__}."
                )
            raw = [np.asarray(r if isinstance(r, np.ndarray) else list(r)) for r in raw]
            internal = np.full(len(keys), -1, dtype=np.int64)
            lengths = np.array([len(r) for r in raw], dtype=np.int64)
            flat = (
                np.concatenate([r.astype(object) for r in raw])
                if lengths.sum()
                else np.empty(0, dtype=object)
            )
        codes = _lookup(self.item_ids_, flat)
        policy = unknown or self.config.unknown_items
        unknown = codes < 0
        self.__dict__["_dropped_history_items"] = int(unknown.sum())
        if unknown.any() and policy != "drop":
            bad = pd.unique(flat[unknown])
            if policy == "error":
                raise DataError(
                    f"{int(unknown.sum())} item(s) of the histories were not seen in training "
                    f"(e.g. {list(bad[:5])}); drop them, or set unknown_items='ignore'."
                )
            warnings.warn(
                f"{int(unknown.sum())} unknown item(s) dropped from the histories "
                f"(e.g. {list(bad[:5])}).",
                DataWarning,
                stacklevel=3,
            )
        row = np.repeat(np.arange(len(keys)), lengths)
        keep = ~unknown
        kept_len = np.bincount(row[keep], minlength=len(keys))
        empty = np.flatnonzero(kept_len == 0)
        if empty.size:
            raise DataError(
                f"{empty.size} history(ies) are empty (after dropping unknown items), e.g. for "
                f"{list(keys[empty[:3]])}: a next-item model needs at least one item."
            )
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(kept_len, out=offsets[1:])
        return keys, codes[keep].astype(np.int64), offsets, internal

    def _padded(self, codes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Left-padded token histories (latest ``max_len`` items) of item-code runs."""
        return _left_padded(self.item_order_[codes] + 1, offsets, self.config.max_len)

    def score_next(self, histories: Any) -> pd.DataFrame:
        """Scores of every item as the next one after each history (rows: histories, columns: items).

        ``histories``: see :meth:`recommend_next`. Users absent from training (or given by
        plain sequences) read their history alone; Caser and SSE-PT use the mean user
        embedding for them.
        """
        self._check_fitted()
        keys, codes, offsets, internal = self._histories(histories)
        padded = self._padded(codes, offsets)
        scores = (
            np.vstack([self._score_tokens(padded[s], internal[s]) for s in self._blocks(len(keys))])
            if len(keys)
            else np.empty((0, self.n_items_))
        )
        return pd.DataFrame(scores, index=keys, columns=self.item_ids_)

    def recommend_next(
        self, histories: Any, top_k: int = DEFAULT_K, remove_seen: bool = True
    ) -> pd.DataFrame:
        """Top-``top_k`` next items after each raw history: the serving call for any user.

        Args:
            histories: A frame with ``col_user`` and ``col_item`` (and ``col_timestamp`` to
                order by; otherwise row order), a mapping key -> item ids, or a list of
                item-id sequences (keys 0, 1, ...), each oldest first. Only the latest
                ``max_len`` items count.
            top_k: Items per history.
            remove_seen: Never recommend an item of the history itself.

        Returns:
            ``DataFrame[col_user, col_item, col_prediction, col_rank]`` (``col_user`` holds
            the keys).

        Raises:
            DataError: an empty history, or items never seen in training under
                ``unknown_items='error'`` (the default).
        """
        self._check_fitted()
        k = check_top_k(top_k)
        keys, codes, offsets, internal = self._histories(histories)
        padded = self._padded(codes, offsets)
        parts_pos, parts_idx, parts_val = [], [], []
        for s in self._blocks(len(keys)):
            scores = self._score_tokens(padded[s], internal[s])
            if remove_seen:
                lo, hi = offsets[s.start], offsets[s.stop]
                rows = np.repeat(
                    np.arange(s.stop - s.start), np.diff(offsets[s.start : s.stop + 1])
                )
                scores[rows, codes[lo:hi]] = -np.inf
            idx, val = top_k_per_row(scores, k)
            parts_pos.append(np.broadcast_to(np.arange(s.start, s.stop)[:, None], idx.shape))
            parts_idx.append(idx)
            parts_val.append(val)
        return self._ranking_frame(keys, parts_pos, parts_idx, parts_val)

    def evaluate_next(
        self,
        history: pd.DataFrame,
        targets: pd.DataFrame,
        *,
        k: int | Sequence[int] = 10,
        n_negatives: int | None = 100,
        sampling: str = "popularity",
        popularity: pd.Series | None = None,
        seed: int = 0,
        negatives: Any = None,
        batch_size: int = 1024,
        progress: bool = False,
    ) -> Any:
        """Full and sampled next-item metrics of held-out targets.

        Args:
            history: The interactions each target follows (for a test item: train and
                validation rows), ordered by ``col_timestamp`` when present.
            targets: One row per user: ``col_user``, ``col_item`` (the held-out next item).
            k: Cut-off(s) of HR@k, NDCG@k, MRR@k.
            n_negatives: Negatives per user for sampled ranking (``None``: full ranking only).
            sampling: ``popularity`` (BERT4Rec's evaluation) or ``uniform``.
            popularity: Item id -> weight for ``popularity`` sampling (default: the counts
                of ``history`` and ``targets`` together, the whole data set when they are).
            seed: Seed of the negatives.
            negatives: A :class:`~recutils.evaluation.next_item.NegativeSample` to reuse
                (two models scored on the same negatives); overrides the three above.
            batch_size: Users scored at a time.
            progress: Progress bar.

        Returns:
            :class:`~recutils.evaluation.next_item.NextItemResult` (``result.table()``: full
            and sampled metrics); its ``extra`` holds the evaluated ``users``, the count of
            users ``dropped`` because their target item was never seen in training, and of
            ``unknown_history_items`` (history items never seen in training, left out of the
            histories: the model has no embedding for them).

        Raises:
            DataError: a user with several targets, or no target that can be ranked.
        """
        from recutils.evaluation.next_item import draw_negatives, evaluate_next_item

        self._check_fitted()
        if targets[self.col_user].duplicated().any():
            raise DataError("targets must hold one row per user (the held-out next item).")
        target_codes = self.item_ids_.get_indexer(targets[self.col_item])
        ok = target_codes >= 0
        dropped = int((~ok).sum())
        if dropped:
            warnings.warn(
                f"{dropped} target(s) are items never seen in training and cannot be ranked: "
                "those users are left out.",
                DataWarning,
                stacklevel=2,
            )
        targets = targets[ok]
        target_codes = target_codes[ok]
        users = targets[self.col_user].to_numpy()
        hist = history[history[self.col_user].isin(users)]
        keys, codes, offsets, internal = self._histories(hist, unknown="drop")
        dropped_items = self.__dict__.pop("_dropped_history_items", 0)
        position = keys.get_indexer(users)
        if (position < 0).any():
            raise DataError(f"{int((position < 0).sum())} target user(s) have no history.")
        padded = self._padded(codes, offsets)[position]
        internal = internal[position]
        n = len(users)
        history_rows = np.repeat(np.arange(len(keys)), np.diff(offsets))
        seen = sp.csr_matrix(
            (np.ones(codes.size, dtype=bool), (history_rows, codes)),
            shape=(len(keys), self.n_items_),
        )
        exclude = seen[position]
        if negatives is None and n_negatives is not None:
            if popularity is None:
                both = pd.concat(
                    [history[self.col_item], targets[self.col_item]], ignore_index=True
                )
                popularity = both.value_counts()
            weights = popularity.reindex(self.item_ids_).fillna(0).to_numpy(dtype=np.float64)
            forbid = exclude + sp.csr_matrix(
                (np.ones(n, dtype=bool), (np.arange(n), target_codes)), shape=exclude.shape
            )
            negatives = draw_negatives(
                self.n_items_,
                forbid,
                n_negatives,
                sampling,
                weights if sampling == "popularity" else None,
                seed=seed,
            )
        # ranks do not depend on the order of the item columns: the scores stay in the
        # network's internal order (no copy of each [batch, n_items] matrix) and the targets,
        # exclusions and negatives are mapped into it; the result keeps the code-space sample
        to_internal = self.item_order_
        exclude_internal = sp.csr_matrix(
            (exclude.data, to_internal[exclude.indices], exclude.indptr), shape=exclude.shape
        )
        negatives_internal = None
        if negatives is not None:
            items = np.asarray(negatives.items)
            if items.ndim != 2 or (
                items.size and (items.min() < 0 or items.max() >= self.n_items_)
            ):
                raise DataError(
                    f"negatives must be a [users, n] array of item columns in [0, {self.n_items_})."
                )
            negatives_internal = replace(negatives, items=to_internal[items])
        result = evaluate_next_item(
            lambda r: self._score_tokens(padded[r], internal[r], code_order=False),
            to_internal[target_codes],
            self.n_items_,
            exclude=exclude_internal,
            negatives=negatives_internal,
            k=k,
            batch_size=batch_size,
            progress=progress,
        )
        result.negatives = negatives
        result.extra.update(
            {"users": users, "dropped": dropped, "unknown_history_items": dropped_items}
        )
        return result

    # -------------------------------------------------------------- save/load
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = super()._state()
        arrays["histories"] = self.histories_
        arrays["popularity"] = self.popularity_
        return arrays, meta

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        histories = persistence.check_array(
            arrays,
            "histories",
            persistence.INTEGER,
            (n_users, self.config.max_len),
            bounds=(0, n_items + 1),
        )
        popularity = persistence.check_array(
            arrays, "popularity", persistence.INTEGER, (n_items,), bounds=(0, 2**62)
        )
        self.histories_ = np.asarray(histories, dtype=np.int64)
        self.popularity_ = np.asarray(popularity, dtype=np.int64)
        super()._set_state(arrays, meta)


def _lookup(ids: pd.Index, values: np.ndarray) -> np.ndarray:
    """Codes of ``values`` in ``ids`` (-1 for unknown ones), whatever their Python types."""
    if values.size == 0:
        return np.empty(0, dtype=np.int64)
    try:
        return ids.get_indexer(pd.Index(values, dtype=ids.dtype)).astype(np.int64)
    except (TypeError, ValueError, OverflowError):
        return ids.get_indexer(pd.Index(values, dtype=object)).astype(np.int64)


__all__ = ["ContrastiveConfig", "LOSSES", "SequentialConfig", "SequentialRecommender"]
