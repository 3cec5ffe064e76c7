"""Shared machinery of the PyTorch collaborative-filtering models (NCF, LightGCN, Multi-VAE/DAE).

These models learn from implicit feedback (every training row is a positive) with
their own training loops: the CTR :class:`~recutils.nn.trainer.Trainer` iterates over
fixed labelled column tensors, while these models draw fresh negatives every epoch
(NCF, LightGCN's BPR triples) or train on whole user rows of the interaction matrix
(the autoencoders). What they share lives here:

* **Numbering.** Users and items are numbered by first appearance in the training
  rows (:func:`~recutils.models.factors.appearance_order`) before they reach torch,
  so a seeded fit depends on the rows, not on how the ids sort (string and integer
  ids of the same frame give the same model). ``user_order_`` / ``item_order_`` map
  recutils' codes to that internal numbering.
* **Randomness.** :func:`torch_seed_context` seeds torch inside
  :func:`torch.random.fork_rng` (the caller's global RNG is left as it was), as the
  CTR trainer does; numpy draws (negatives, batch order) come from
  ``np.random.default_rng(seed)``. ``seed=None`` draws a fresh seed.
* **Device and threads.** ``device`` is resolved by
  :func:`recutils.nn.trainer.resolve_device` (``auto``: CUDA when present);
  ``num_threads`` sets torch's CPU threads for the fit and restores them afterwards.
* **Checkpoints.** With ``model_dir`` set, :class:`EpochCheckpoints` writes one
  checkpoint per epoch there (the CTR trainer's ``ckpt-<n>.pt`` format, read with
  ``weights_only=True``) and a new fit with the same ``model_dir`` resumes from the
  newest one.
* **Save/load.** The network's ``state_dict`` goes into the standard ``arrays.npz``
  (``w__<name>``) with the orders; the network is rebuilt from the config and the
  sizes in the manifest, so nothing is pickled.

:func:`sample_unseen_items` (independent draws) and :func:`sample_unseen_per_user`
(distinct items per user) are the vectorized per-epoch negative samplers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.exceptions import ConfigError, DataError
from recutils.models.base import BaseRecommender, TrainData
from recutils.models.factors import appearance_order, check_seed
from recutils.utils.arrays import in_sorted
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

#: Devices accepted by the ``device`` config field.
DEVICE_HELP = "'auto', 'cpu' or 'cuda[:i]'"


def check_device(value: Any) -> None:
    """:class:`ConfigError` unless ``value`` is ``auto``, ``cpu`` or ``cuda[:i]``."""
    if not (isinstance(value, str) and (value in ("auto", "cpu") or value.startswith("cuda"))):
        raise ConfigError(f"device must be {DEVICE_HELP}, got {value!r}.")


def check_threads(value: Any) -> None:
    """:class:`ConfigError` unless ``value`` is ``None`` or an int >= 1."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                              or value < 1):
        raise ConfigError(f"num_threads must be None or an integer >= 1, got {value!r}.")


def check_layers(name: str, value: Any, minimum_length: int = 1) -> list[int]:
    """``value`` as a list of at least ``minimum_length`` positive ints, else ConfigError."""
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or len(value) < minimum_length or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in value):
        raise ConfigError(f"{name} must be a list of at least {minimum_length} positive "
                          f"integer(s), got {value!r}.")
    return [int(v) for v in value]


def resolve_seed(seed: int | None) -> int:
    """``seed``, or a fresh one drawn from the OS when it is ``None``."""
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    return int(seed)


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
        raise DataError(f"{full.size} user(s) interacted with every one of the {n_items} items, "
                        f"so no negative can be sampled for them (e.g. code {int(full[0])}).")
    taken = in_sorted(pos_keys, (users[bad][:, None] * n_items
                                 + np.arange(n_items, dtype=np.int64)[None, :]))
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
        raise DataError(f"{full.size} user(s) interacted with every one of the {n_items} items, "
                        f"so no negative can be sampled for them (e.g. code {int(full[0])}).")
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
    return (np.concatenate(out_users).astype(np.int64),
            np.concatenate(out_items).astype(np.int64))


class TorchCFRecommender(BaseRecommender):
    """Base of the PyTorch collaborative-filtering models (see the module docstring).

    A subclass sets ``name`` and ``config_class`` (with fields ``seed``, ``device``,
    ``num_threads``) and supplies:

    * ``_build_network(n_users, n_items) -> nn.Module``;
    * ``_train(network, users, items, n_users, n_items, seed, device) -> list[dict]``:
      train ``network`` in place on internal codes and return the history rows;
    * ``_score_internal(users) -> Tensor[len(users), n_items]`` (internal numbering,
      called under :func:`torch.no_grad`);
    * optionally ``_after_fit()`` (cache what scoring needs; also called after load).
    """

    duplicates: ClassVar[str] = "first"
    needs_rating: ClassVar[bool] = False
    #: Python modules needed to fit (the contract tests skip without them).
    requires: ClassVar[tuple[str, ...]] = ("torch",)

    # ----------------------------------------------------------------- hooks
    def _build_network(self, n_users: int, n_items: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _train(self, network: Any, users: np.ndarray, items: np.ndarray, n_users: int,
               n_items: int, seed: int, device: Any) -> list[dict[str, Any]]:  # pragma: no cover
        raise NotImplementedError

    def _score_internal(self, users: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _after_fit(self) -> None:
        """Cache what scoring needs (called after fit and after load)."""

    # -------------------------------------------------------------------- fit
    def _fit(self, data: TrainData) -> None:
        require("torch", "torch")
        from recutils.nn.trainer import resolve_device

        self.__dict__.pop("_seen_internal", None)  # cache of a previous fit
        users, user_order = appearance_order(data.user_idx, data.n_users)
        items, item_order = appearance_order(data.item_idx, data.n_items)
        seed = resolve_seed(self.config.seed)
        device = resolve_device(self.config.device)
        with torch_seed_context(seed, device, self.config.num_threads):
            network = self._build_network(data.n_users, data.n_items).to(device)
            history = self._train(network, users, items, data.n_users, data.n_items, seed, device)
        self.network_ = network.cpu().eval()
        self.history_ = pd.DataFrame(history)
        self.user_order_ = user_order
        self.item_order_ = item_order
        self._after_fit()

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
        internal = torch.from_numpy(self.user_order_[np.asarray(user_idx, dtype=np.int64)])
        with torch.no_grad():
            scores = self._score_internal(internal)
        return scores.double().numpy()[:, self.item_order_]

    # -------------------------------------------------------------- save/load
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"w__{k}": v.detach().cpu().numpy()
                  for k, v in self.network_.state_dict().items()}
        arrays["user_order"] = self.user_order_
        arrays["item_order"] = self.item_order_
        history = {"columns": [str(c) for c in self.history_.columns],
                   "values": self.history_.astype(float).to_numpy().tolist()}
        return arrays, {"history": history}

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        torch = require("torch", "torch")
        self.user_order_ = np.asarray(arrays["user_order"], dtype=np.int64)
        self.item_order_ = np.asarray(arrays["item_order"], dtype=np.int64)
        with torch.random.fork_rng(devices=[]):
            network = self._build_network(len(self.user_ids_), len(self.item_ids_))
        weights = {k[3:]: torch.from_numpy(np.array(v)) for k, v in arrays.items()
                   if k.startswith("w__")}
        network.load_state_dict(weights)
        self.network_ = network.eval()
        history = meta.get("history") or {"columns": [], "values": []}
        self.history_ = pd.DataFrame(history["values"], columns=history["columns"])
        self._after_fit()


def check_model_dir(value: Any) -> None:
    """:class:`ConfigError` unless ``value`` is ``None`` or a non-empty path string."""
    if value is not None and not (isinstance(value, str) and value):
        raise ConfigError(f"model_dir must be None or a folder path (string), got {value!r}.")


def check_runtime(config: Any) -> None:
    """Check the run settings every deep CF config has: ``seed``, ``device``, ``num_threads``
    and ``model_dir`` (:class:`ConfigError` naming the first bad one)."""
    check_seed(config.seed)
    check_device(config.device)
    check_threads(config.num_threads)
    check_model_dir(config.model_dir)


class EpochCheckpoints:
    """Per-epoch checkpoints of a training loop, with the CTR trainer's conventions.

    Files are ``<folder>/ckpt-<epoch>.pt`` written atomically with :func:`torch.save`
    and read back with ``weights_only=True`` (tensors and plain containers, no
    arbitrary unpickling); the newest ``keep`` are kept. A checkpoint holds the
    network's and the optimizer's states, torch's RNG state and the history, so a fit
    resumed from it ends with the weights of an uninterrupted one (the numpy draws of
    epoch ``e`` depend only on ``(seed, e)``).

    Args:
        folder: The folder, or ``None`` for no checkpoints (every method is a no-op).
        keep: Checkpoints kept on disk.
    """

    def __init__(self, folder: str | Path | None, keep: int = 2) -> None:
        self.folder = None if folder is None else Path(folder)
        self.keep = int(keep)

    def _files(self) -> list[Path]:
        from recutils.nn.trainer import CHECKPOINT_PREFIX

        if self.folder is None or not self.folder.is_dir():
            return []
        found = [p for p in self.folder.glob(f"{CHECKPOINT_PREFIX}*.pt")
                 if p.stem[len(CHECKPOINT_PREFIX):].isdigit()]
        return sorted(found, key=lambda p: int(p.stem[len(CHECKPOINT_PREFIX):]))

    def restore(self, network: Any, optimizer: Any) -> tuple[int, list[dict[str, Any]]]:
        """Load the newest checkpoint into ``network`` / ``optimizer``.

        Returns:
            ``(epochs_done, history)``; ``(0, [])`` when there is none.
        """
        files = self._files()
        if not files:
            return 0, []
        torch = require("torch", "torch")
        device = next(network.parameters()).device
        state = torch.load(files[-1], weights_only=True, map_location=device)
        network.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        logger.info("resumed from %s after epoch %d", files[-1], int(state["epoch"]))
        return int(state["epoch"]), [dict(row) for row in state["history"]]

    def save(self, epoch: int, network: Any, optimizer: Any, history: list[dict[str, Any]]) -> None:
        """Write the checkpoint of ``epoch`` (epochs done) and drop the old ones."""
        if self.folder is None:
            return
        import os

        from recutils.nn.trainer import CHECKPOINT_PREFIX

        torch = require("torch", "torch")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{CHECKPOINT_PREFIX}{epoch}.pt"
        tmp = path.with_suffix(".tmp")
        torch.save({"model": network.state_dict(), "optimizer": optimizer.state_dict(),
                    "rng": torch.get_rng_state(), "epoch": int(epoch),
                    "history": [{k: float(v) for k, v in row.items()} for row in history]}, tmp)
        os.replace(tmp, path)
        for old in self._files()[:-self.keep]:
            old.unlink(missing_ok=True)


def fused_adam(device: Any) -> dict[str, bool]:
    """Adam's ``fused`` option where torch has the fused kernel (CPU, CUDA), as the CTR trainer."""
    return {"fused": True} if device.type in ("cpu", "cuda") else {}


def epoch_bar(n_epochs: int, progress: bool, desc: str, start: int = 0) -> Any:
    """``range(start, n_epochs)``, wrapped in a tqdm bar when ``progress``."""
    epochs = range(start, n_epochs)
    if not progress:
        return epochs
    from tqdm.auto import tqdm

    return tqdm(epochs, desc=desc, unit="epoch", leave=False, total=len(epochs))


__all__ = [
    "EpochCheckpoints",
    "TorchCFRecommender",
    "check_model_dir",
    "check_device",
    "check_layers",
    "check_threads",
    "epoch_bar",
    "fused_adam",
    "resolve_seed",
    "sample_unseen_items",
    "sample_unseen_per_user",
    "torch_seed_context",
]
