"""Shared machinery of the PyTorch collaborative-filtering models (NCF, LightGCN, Multi-VAE/DAE).

These models learn from implicit feedback (every training row is a positive). They
draw fresh negatives every epoch (NCF, LightGCN's BPR triples) or train on whole user
rows of the interaction matrix (the autoencoders), so each brings a batch source (the
epoch's batches, drawn from ``default_rng([seed, ..., epoch])``) and a loss, and trains
through :meth:`recutils.nn.trainer.Trainer.fit_epochs`, the trainer of every torch model
(optimizer steps, callbacks, checkpoints, early stopping). What they share lives here:

* **Numbering.** Users and items are numbered by first appearance in the training
  rows (:func:`~recutils.models.factors.appearance_order`) before they reach torch,
  so a seeded fit depends on the rows, not on how the ids sort (string and integer
  ids of the same frame give the same model). ``user_order_`` / ``item_order_`` map
  recutils' codes to that internal numbering.
* **Randomness.** :func:`torch_seed_context` seeds torch inside
  :func:`torch.random.fork_rng` (the caller's global RNG is left as it was), as the
  CTR trainer does; numpy draws (negatives, batch order) come from
  ``np.random.default_rng(seed)``. ``seed=None`` draws a fresh seed.
* **Run settings.** ``seed``, ``device``, ``num_threads`` and ``model_dir`` are the
  fields of :class:`~recutils.nn.run.RunConfig`, the base of every CF config
  (:class:`TorchCFConfig`; defaults ``device="cpu"``, ``num_threads=1``). ``device`` is
  resolved by :func:`recutils.nn.trainer.resolve_device` (``auto``: CUDA when present);
  ``num_threads`` sets torch's CPU threads for the fit and restores them afterwards.
* **Checkpoints.** With ``model_dir`` set, the trainer writes one checkpoint per epoch
  there (``ckpt-<epoch>.pt``, read with ``weights_only=True``) and a new fit with the
  same ``model_dir`` resumes from the newest one.
* **Validation, early stopping, pruning.** ``fit(train, valid=frame)`` computes the
  ranking metric ``valid_metric`` (default ``ndcg@10``) of the validation users'
  top-k lists (seen training items removed) after every epoch, as the history column
  ``valid_<metric>``; with ``patience`` set, training stops once more than that many
  epochs in a row bring no improvement and keeps the best epoch's weights. Callbacks
  (``callbacks=[...]``, :class:`~recutils.nn.trainer.Callback`) see every epoch's row:
  :mod:`recutils.tuning` prunes trials this way.
* **Save/load.** The network's ``state_dict`` goes into the standard ``arrays.npz``
  (``w__<name>``) with the orders; the network is rebuilt from the config and the
  sizes in the manifest, so nothing is pickled.

:func:`sample_unseen_items` (independent draws) and :func:`sample_unseen_per_user`
(distinct items per user) are the vectorized per-epoch negative samplers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.constants import DEFAULT_K, DEFAULT_RATING_COL, SEED
from recutils.exceptions import ConfigError, DataError
from recutils.models import persistence
from recutils.models.base import BaseRecommender, TrainData
from recutils.models.factors import appearance_order, check_positive_int
from recutils.nn.run import (  # noqa: F401 - re-exported: the checks' former home
    DEVICE_HELP,
    RunConfig,
    check_device,
    check_model_dir,
    check_threads,
    resolve_seed,
)
from recutils.utils.arrays import in_sorted
from recutils.utils.deps import require
from recutils.utils.validation import is_int

logger = logging.getLogger(__name__)


def check_layers(name: str, value: Any, minimum_length: int = 1) -> list[int]:
    """``value`` as a list of at least ``minimum_length`` positive ints, else ConfigError."""
    if isinstance(value, tuple):
        value = list(value)
    if (
        not isinstance(value, list)
        or len(value) < minimum_length
        or not all(is_int(v) and v >= 1 for v in value)
    ):
        raise ConfigError(
            f"{name} must be a list of at least {minimum_length} positive "
            f"integer(s), got {value!r}."
        )
    return [int(v) for v in value]


@contextlib.contextmanager
def torch_seed_context(seed: int, device: Any, num_threads: int | None) -> Iterator[None]:
    """Seed torch for a fit without touching the caller's global RNG; set threads."""
    torch = require("torch", "torch")
    threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(int(num_threads))
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)


def sample_unseen_items(
    users: np.ndarray,
    pos_keys: np.ndarray,
    n_items: int,
    rng: np.random.Generator,
    max_rounds: int = 100,
) -> np.ndarray:
    """One uniformly drawn item per entry of ``users`` that the user has not interacted with.

    Draws are independent (an item may come back for the same user, as in NCF's and
    BPR's per-epoch sampling). Every entry is drawn at once; entries that hit a
    positive are redrawn (one ``searchsorted`` per round). Entries still unlucky after
    ``max_rounds`` rounds are drawn exactly from the user's complement.

    Args:
        users: int64 user codes.
        pos_keys: Sorted int64 keys ``user * n_items + item`` of the positives.
        n_items: Size of the item space.
        rng: The generator.

    Returns:
        int64 item codes, one per entry of ``users``.

    Raises:
        DataError: a user has interacted with every item (no negative exists).
    """
    users = np.asarray(users, dtype=np.int64)
    out = rng.integers(0, n_items, size=users.size, dtype=np.int64)
    bad = np.flatnonzero(in_sorted(pos_keys, users * n_items + out))
    for _ in range(max_rounds):
        if bad.size == 0:
            return out
        out[bad] = rng.integers(0, n_items, size=bad.size, dtype=np.int64)
        bad = bad[in_sorted(pos_keys, users[bad] * n_items + out[bad])]
    if bad.size == 0:
        return out
    # exact completion for the few left (users with very few unseen items)
    left_users = np.unique(users[bad])
    counts = np.bincount((pos_keys // n_items), minlength=int(users.max()) + 1)
    full = left_users[counts[left_users] >= n_items]
    if full.size:
        raise DataError(
            f"{full.size} user(s) interacted with every one of the {n_items} items, "
            f"so no negative can be sampled for them (e.g. code {int(full[0])})."
        )
    taken = in_sorted(
        pos_keys, (users[bad][:, None] * n_items + np.arange(n_items, dtype=np.int64)[None, :])
    )
    noise = rng.random(taken.shape)
    noise[taken] = -1.0
    out[bad] = noise.argmax(axis=1)
    return out


def sample_unseen_per_user(
    seen: sp.csr_matrix,
    counts: np.ndarray,
    rng: np.random.Generator,
    budget: int = 1 << 22,
) -> tuple[np.ndarray, np.ndarray]:
    """``counts[u]`` items user ``u`` has not interacted with, **distinct** per user.

    Each user's unseen items are put in a uniformly random order (one random key per
    (user, item) cell, seen cells sorted last) and the first ``counts[u]`` are taken;
    a user asking for more items than they have unseen gets all of them, then again
    in the same order (so no unseen item is drawn twice before every one is drawn
    once). Users are processed in blocks of about ``budget`` cells, never one by one.

    Args:
        seen: Binary ``n_users x n_items`` CSR matrix of the positives (no duplicates).
        counts: Items wanted per user (int, ``>= 0``).
        rng: The generator.

    Returns:
        ``(users, items)`` int64 arrays, grouped by user in ascending order.

    Raises:
        DataError: a user asks for items but has interacted with every item.
    """
    n_users, n_items = seen.shape
    counts = np.asarray(counts, dtype=np.int64)
    avail = n_items - np.diff(seen.indptr)
    full = np.flatnonzero((avail <= 0) & (counts > 0))
    if full.size:
        raise DataError(
            f"{full.size} user(s) interacted with every one of the {n_items} items, "
            f"so no negative can be sampled for them (e.g. code {int(full[0])})."
        )
    step = max(1, budget // max(n_items, 1))
    out_users, out_items = [], []
    for start in range(0, n_users, step):  # blocks of users
        stop = min(start + step, n_users)
        need = counts[start:stop]
        if need.sum() == 0:
            continue
        block = seen[start:stop]
        keys = rng.random((stop - start, n_items))
        rows = np.repeat(np.arange(stop - start), np.diff(block.indptr))
        keys[rows, block.indices] = 2.0  # seen items sort last
        order = np.argsort(keys, axis=1)
        r = np.repeat(np.arange(stop - start), need)
        first = np.cumsum(need) - need
        pos = (np.arange(r.size) - first[r]) % avail[start:stop][r]
        out_users.append(r + start)
        out_items.append(order[r, pos])
    if not out_users:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return (np.concatenate(out_users).astype(np.int64), np.concatenate(out_items).astype(np.int64))


@dataclass
class TorchCFConfig(RunConfig):
    """Settings every CF model shares: the run settings (:class:`~recutils.nn.run.RunConfig`)
    with the CF defaults, and per-epoch validation.

    Attributes:
        seed: Seed of the weights, the negatives and the batch order (``None``: fresh).
        device: ``auto``, ``cpu`` or ``cuda[:i]``.
        num_threads: torch CPU threads while fitting (``None``: unchanged). One by default:
            these networks are small and extra threads mostly add synchronisation.
        model_dir: Folder for per-epoch checkpoints; a fit resumes from the newest one
            there (``None``: no checkpoints).
        valid_metric: Ranking metric (``recutils.evaluation`` name, ``@k`` allowed) of the
            validation users' top-k lists, computed after each epoch when ``fit`` gets a
            ``valid`` frame (history column ``valid_<valid_metric>``).
        patience: Early stopping with a ``valid`` frame: stop once more than this many
            epochs in a row bring no improvement of ``valid_metric`` and keep the best
            epoch's weights (``None``: train every epoch).
    """

    seed: int | None = SEED
    device: str = "cpu"
    num_threads: int | None = 1
    model_dir: str | None = None
    valid_metric: str = "ndcg@10"
    patience: int | None = None

    def __post_init__(self) -> None:
        self.check_run()
        from recutils.evaluation import parse_metric

        spec, _ = parse_metric(self.valid_metric)
        if spec.kind != "ranking" or not spec.takes_k:
            raise ConfigError(
                f"valid_metric {self.valid_metric!r} is not a top-k ranking metric; use one "
                f"such as 'ndcg@10', 'map' or 'recall@20'."
            )
        if self.patience is not None:
            check_positive_int("patience", self.patience, minimum=0)


class TorchCFRecommender(BaseRecommender):
    """Base of the PyTorch collaborative-filtering models (see the module docstring).

    A subclass sets ``name`` and ``config_class`` (a :class:`TorchCFConfig`) and supplies:

    * ``_build_network(n_users, n_items) -> nn.Module``;
    * ``_train(network, users, items, n_users, n_items, seed, device) -> list[dict]``:
      train ``network`` in place on internal codes with :meth:`_run_epochs` and return
      the history rows;
    * ``_score_internal(users) -> Tensor[len(users), n_items]`` (internal numbering,
      ``users`` on the network's device, called under :func:`torch.no_grad`);
    * optionally ``_after_fit()`` (cache what scoring needs; also called after load and
      before each validation).

    Args:
        config: A config of the model, a mapping or YAML; keyword arguments override it.
        callbacks: Training callbacks (:class:`~recutils.nn.trainer.Callback` objects with
            ``on_step`` / ``on_evaluate``, or functions ``(step, trainer)``); not part of
            the saved config.
        **params: Column names, ``progress`` and config fields.
    """

    duplicates: ClassVar[str] = "first"
    needs_rating: ClassVar[bool] = False
    #: Python modules needed to fit (the contract tests skip without them).
    requires: ClassVar[tuple[str, ...]] = ("torch",)
    #: The config field counting training epochs (tuning reports one value per epoch).
    epochs_field: ClassVar[str | None] = "n_epochs"
    #: Takes trainer ``callbacks`` (see the module docstring).
    evaluation_callbacks: ClassVar[bool] = True
    #: ``fit(train, valid=...)`` evaluates the config's ``valid_metric`` every epoch.
    validation_frame: ClassVar[bool] = True

    def __init__(
        self, config: Any = None, *, callbacks: list[Any] | None = None, **params: Any
    ) -> None:
        super().__init__(config, **params)
        self.callbacks = list(callbacks or [])

    # ----------------------------------------------------------------- hooks
    def _build_network(self, n_users: int, n_items: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _train(
        self,
        network: Any,
        users: np.ndarray,
        items: np.ndarray,
        n_users: int,
        n_items: int,
        seed: int,
        device: Any,
    ) -> list[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def _score_internal(self, users: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _after_fit(self) -> None:
        """Cache what scoring needs (called after fit and after load)."""

    # -------------------------------------------------------------------- fit
    def fit(self, df: pd.DataFrame, valid: pd.DataFrame | None = None) -> TorchCFRecommender:
        """Fit on ``df`` (never modified); return ``self``.

        Args:
            df: Training interactions.
            valid: Validation interactions (``col_user``, ``col_item``): after each epoch
                the history gets ``valid_<valid_metric>`` of the validation users' top-k
                lists, callbacks see it, and ``patience`` stops training on it.

        Raises:
            ModelFitError: training diverged (the loss or a weight became NaN or infinite,
                usually a learning rate far too high).
        """
        if valid is not None:
            from recutils.utils.validation import check_columns

            check_columns(valid, [self.col_user, self.col_item], name="valid")
        self.__dict__["_valid_frame"] = valid
        try:
            super().fit(df)
        finally:
            self.__dict__.pop("_valid_frame", None)
        return self

    def _fit(self, data: TrainData) -> None:
        require("torch", "torch")
        from recutils.nn.trainer import resolve_device

        self.__dict__.pop("_seen_internal", None)  # cache of a previous fit
        users, user_order = appearance_order(data.user_idx, data.n_users)
        items, item_order = appearance_order(data.item_idx, data.n_items)
        self.user_order_ = user_order
        self.item_order_ = item_order
        seed = resolve_seed(self.config.seed)
        device = resolve_device(self.config.device)
        with torch_seed_context(seed, device, self.config.num_threads):
            network = self._build_network(data.n_users, data.n_items).to(device)
            history = self._train(network, users, items, data.n_users, data.n_items, seed, device)
        self.network_ = network.cpu().eval()
        self.history_ = pd.DataFrame(history)
        self._after_fit()

    def _run_epochs(
        self,
        network: Any,
        source: Any,
        loss: Callable[[Any, Any], Any],
        optimizer: Any,
        n_epochs: int,
        seed: int,
        *,
        model_dir: str | Path | None,
        desc: str,
        validate: bool = True,
    ) -> list[dict[str, Any]]:
        """Train ``network`` with :meth:`recutils.nn.trainer.Trainer.fit_epochs` in the fit's
        torch RNG stream; return the history rows.

        Args:
            network, source, loss: What the trainer steps.
            optimizer: One optimizer, or a list of them (each stepped after every batch).
            n_epochs: Epochs in all.
            seed: The fit's seed.
            model_dir: Checkpoint folder (``None``: none).
            desc: Progress bar label.
            validate: Evaluate ``valid_metric`` on the ``fit(valid=...)`` frame after each
                epoch (and early-stop with ``patience``); False for auxiliary networks
                (NCF's pre-training).
        """
        from recutils.nn.trainer import Trainer

        c = self.config
        valid = self.__dict__.get("_valid_frame") if validate else None
        trainer = Trainer.from_run(
            network,
            c,
            seed=seed,
            model_dir=model_dir,
            callbacks=self.callbacks,
            progress=self.progress,
            patience=c.patience or 0,
        )
        history = trainer.fit_epochs(
            source,
            loss,
            n_epochs,
            optimizers=list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer],
            validate=None if valid is None else self._validator(network, valid),
            metric=c.valid_metric,
            early_stopping=valid is not None and c.patience is not None,
            seed_torch=False,
            desc=desc,
        )
        return history.to_dict("records")

    def _validator(self, network: Any, valid: pd.DataFrame) -> Callable[[], float]:
        """``() -> float``: ``valid_metric`` of ``network``'s top-k lists for the users of
        ``valid`` seen in training (seen items removed)."""
        from recutils.evaluation import evaluate, parse_metric

        metric = self.config.valid_metric
        k = int(parse_metric(metric)[1] or DEFAULT_K)
        users = pd.unique(valid[self.col_user])
        users = users[self.user_ids_.get_indexer(users) >= 0]
        columns = {
            "col_user": self.col_user,
            "col_item": self.col_item,
            "col_rating": self.col_rating or DEFAULT_RATING_COL,
            "col_prediction": self.col_prediction,
        }

        def value() -> float:
            if users.size == 0:
                raise DataError("no validation user was seen in training.")
            self.network_ = network
            self._after_fit()
            top = self.recommend_k_items(users, top_k=k, remove_seen=True)
            return float(evaluate(valid, top, [metric], k=k, **columns)[metric])

        return value

    def _internal_seen(self) -> Any:
        """The training matrix (CSR, float32) in the internal numbering, cached."""
        cached = self.__dict__.get("_seen_internal")
        if cached is None:
            user_code = np.argsort(self.user_order_)  # internal -> code
            item_code = np.argsort(self.item_order_)
            cached = sp.csr_matrix(self.seen_[user_code][:, item_code], dtype=np.float32)
            self.__dict__["_seen_internal"] = cached
        return cached

    # ---------------------------------------------------------------- scoring
    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        torch = require("torch", "torch")
        device = next(self.network_.parameters()).device
        internal = torch.from_numpy(self.user_order_[np.asarray(user_idx, dtype=np.int64)]).to(
            device
        )
        with torch.no_grad():
            scores = self._score_internal(internal)
        return scores.double().cpu().numpy()[:, self.item_order_]

    # -------------------------------------------------------------- save/load
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            f"w__{k}": v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()
        }
        arrays["user_order"] = self.user_order_
        arrays["item_order"] = self.item_order_
        history = {
            "columns": [str(c) for c in self.history_.columns],
            "values": self.history_.astype(float).to_numpy().tolist(),
        }
        return arrays, {"history": history}

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        torch = require("torch", "torch")
        persistence.check_permutation(arrays, "user_order", len(self.user_ids_))
        persistence.check_permutation(arrays, "item_order", len(self.item_ids_))
        self.user_order_ = np.asarray(arrays["user_order"], dtype=np.int64)
        self.item_order_ = np.asarray(arrays["item_order"], dtype=np.int64)
        with torch.random.fork_rng(devices=[]):
            network = self._build_network(len(self.user_ids_), len(self.item_ids_))
        persistence.check_weights(
            arrays, {k: v.detach().cpu().numpy() for k, v in network.state_dict().items()}, "w__"
        )
        weights = {
            k[3:]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith("w__")
        }
        network.load_state_dict(weights)
        self.network_ = network.eval()
        history = meta.get("history") or {"columns": [], "values": []}
        self.history_ = pd.DataFrame(history["values"], columns=history["columns"])
        self._after_fit()


def check_runtime(config: RunConfig) -> None:
    """Check a config's run settings (:meth:`recutils.nn.run.RunConfig.check_run`)."""
    RunConfig.check_run(config)


def adam(params: Any, device: Any, lr: float, weight_decay: float = 0.0) -> Any:
    """Adam as the CTR trainer makes it: the fused kernel where torch has one (CPU, CUDA),
    and the class of :func:`recutils.nn.eager.optimizer_class` (no compiler import)."""
    torch = require("torch", "torch")
    from recutils.nn.eager import optimizer_class

    fused = {"fused": True} if device.type in ("cpu", "cuda") else {}
    return optimizer_class(torch.optim.Adam)(params, lr=lr, weight_decay=weight_decay, **fused)


__all__ = [
    "RunConfig",
    "TorchCFConfig",
    "TorchCFRecommender",
    "check_device",
    "check_layers",
    "check_model_dir",
    "check_runtime",
    "check_threads",
    "adam",
    "resolve_seed",
    "sample_unseen_items",
    "sample_unseen_per_user",
    "torch_seed_context",
]
