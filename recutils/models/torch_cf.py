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
* **Save/load.** The network's ``state_dict`` goes into the standard ``arrays.npz``
  (``w__<name>``) with the orders; the network is rebuilt from the config and the
  sizes in the manifest, so nothing is pickled.

:func:`sample_unseen_items` is the vectorized per-epoch negative sampler.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError, DataError
from recutils.models.base import BaseRecommender, TrainData
from recutils.models.factors import appearance_order
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
    """``value`` as a list of positive ints (length >= ``minimum_length``), else :class:`ConfigError`."""
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or len(value) < minimum_length or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in value):
        raise ConfigError(f"{name} must be a list of at least {minimum_length} positive integer(s), "
                          f"got {value!r}.")
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
            import scipy.sparse as sp

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


def epoch_bar(n_epochs: int, progress: bool, desc: str) -> Any:
    """``range(n_epochs)``, wrapped in a tqdm bar when ``progress``."""
    if not progress:
        return range(n_epochs)
    from tqdm.auto import tqdm

    return tqdm(range(n_epochs), desc=desc, unit="epoch", leave=False)


__all__ = [
    "TorchCFRecommender",
    "check_device",
    "check_layers",
    "check_threads",
    "epoch_bar",
    "resolve_seed",
    "sample_unseen_items",
    "torch_seed_context",
]
