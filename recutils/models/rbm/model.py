"""Restricted Boltzmann machine for collaborative filtering (PyTorch).

The model of Salakhutdinov, Mnih and Hinton, "Restricted Boltzmann Machines for
Collaborative Filtering" (ICML 2007): each item is a visible softmax unit over the
rating values, the hidden units are binary, and training follows contrastive
divergence (CD-k): the gradient of the mean free-energy difference
``F(v_data) - F(v_k)`` between a user's rating row and the row after ``k`` Gibbs
steps. As in Microsoft Recommenders' ``RBM`` (``rbm_movielens``):

* one user's row is one training example; rows are visited in minibatches of
  ``batch_size`` users, in a permutation drawn per epoch from ``default_rng([seed, epoch])``;
* Adam with step ``learning_rate / batch_size``; hidden probabilities dropped out with
  keep probability ``keep_prob`` in the Gibbs chain; weights ``N(0, init_std^2)``;
* the number of Gibbs steps grows by one each time training passes a percentage of
  ``cd_schedule`` (default ``[50, 70, 80, 90, 100]``: CD-1 for the first half, then
  CD-2, ... CD-5).

Four things differ from Microsoft's implementation, on purpose:

* **Visible units.** Each item is a genuine softmax over the rating values (one-hot
  inputs, a weight per (item, value, hidden unit)), the paper's model; Microsoft uses
  one weight per (item, hidden unit) and ``p(v = k) ∝ exp(k * phi)``. With
  ``model_unrated=True`` (default) "not rated" is one more softmax state, so the model
  learns which items a user rates as well as how; with ``False`` unrated units are
  left out of the energy as in the paper (then it ranks by expected rating only).
* **Scoring.** Scores are deterministic: the mean-field reconstruction
  ``p(v | p(h | v_train))`` of the user's *training* row, and the score of an item is
  its expected rating value under it, ``sum_k r_k p(v_i = r_k)`` (an unrated state counts
  0, so with ``model_unrated`` the score is ``P(rated) * E[rating | rated]``).
  Microsoft's notebook samples ratings and feeds the *test* matrix as the visible input
  when recommending, so its published figures use the test ratings themselves.
  (:meth:`RBM.recommend_k_items` can score from given ratings with ``visible=``.) The
  deep-dive notebook writes Microsoft's scoring path out with *untrained* random weights:
  fed the test matrix it reaches nDCG@10 above 0.5 on seed 1's split (their published
  figure: 0.41), fed the training matrix 0.02.
* **Visible biases** start at the log of each item's smoothed state frequencies in the
  training rows (``frequency_bias``; Hinton, "A Practical Guide to Training Restricted
  Boltzmann Machines", 2010), not at zero.
* **Learning rate.** Default ``0.03`` (Adam step ``0.03 / 60 = 0.0005``) instead of
  Microsoft's ``0.004``: their step moves one weight per (item, hidden unit) that multiplies
  the rating value (1-5) and enters ``exp(k * phi)``; ours moves one-hot weights, and at
  ``0.004`` thirty epochs leave the model undertrained. Chosen on a validation split (the
  seed-1 training matrix of ``numpy_stratified_split`` split 75/25 again, seed 0), never on a
  test split: nDCG@10 0.175 (0.004), 0.225 (0.03), 0.220 (0.06), 0.218 (0.15), popularity
  0.162; without ``frequency_bias`` at 0.06: 0.185.

Ratings take the distinct values of the training ratings (``rating_values_``), so any
rating scale works; ``col_rating=None`` gives a one-valued scale (implicit feedback:
rated or not, with ``model_unrated``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.exceptions import ConfigError, DataError
from recutils.models import persistence
from recutils.models.base import ContractCase, KnownAnswer, TrainData
from recutils.models.factors import check_number, check_positive_int
from recutils.models.torch_cf import TorchCFConfig, TorchCFRecommender, adam
from recutils.utils.deps import require

logger = logging.getLogger(__name__)


@dataclass
class RBMConfig(TorchCFConfig):
    """Hyper-parameters of :class:`RBM` (Microsoft's defaults but ``hidden_units``,
    ``n_epochs``, ``batch_size`` and ``keep_prob``, which follow their ``rbm_movielens``
    notebook, and ``learning_rate`` and ``frequency_bias`` (module docstring)).

    Attributes:
        hidden_units: Binary hidden units.
        n_epochs: Passes over the users.
        batch_size: Users per Adam step.
        learning_rate: Adam's step is ``learning_rate / batch_size`` (Microsoft's rescaling).
        keep_prob: Keep probability of the hidden units in the Gibbs chain, in ``(0, 1]``.
        init_std: Standard deviation of the initial weights.
        cd_schedule: Increasing percentages of training; the number of Gibbs steps grows
            by one at each (a list of numbers in ``(0, 100]``).
        model_unrated: Model "not rated" as a softmax state (see the module docstring).
        frequency_bias: Start the visible biases at the log of each item's smoothed state
            frequencies in the training rows (Hinton's practical guide); ``False``: at zero
            (Microsoft's initialisation).

    Run settings (``seed``, ``device``, ``num_threads``, ``model_dir``) and validation
    settings are those of :class:`~recutils.models.torch_cf.TorchCFConfig`.
    """

    hidden_units: int = 600
    n_epochs: int = 30
    batch_size: int = 60
    learning_rate: float = 0.03
    keep_prob: float = 0.9
    init_std: float = 0.1
    cd_schedule: list[float] = field(default_factory=lambda: [50, 70, 80, 90, 100])
    model_unrated: bool = True
    frequency_bias: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("hidden_units", self.hidden_units)
        check_positive_int("n_epochs", self.n_epochs)
        check_positive_int("batch_size", self.batch_size)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("init_std", self.init_std, strict=True)
        check_number("keep_prob", self.keep_prob, strict=True)
        if self.keep_prob > 1:
            raise ConfigError(f"keep_prob must lie in (0, 1], got {self.keep_prob!r}.")
        if isinstance(self.cd_schedule, tuple):
            self.cd_schedule = list(self.cd_schedule)
        if (
            not isinstance(self.cd_schedule, list)
            or not all(
                isinstance(p, (int, float)) and not isinstance(p, bool) and 0 < p <= 100
                for p in self.cd_schedule
            )
            or sorted(self.cd_schedule) != self.cd_schedule
        ):
            raise ConfigError(
                f"cd_schedule must be an increasing list of percentages in "
                f"(0, 100], got {self.cd_schedule!r}."
            )
        for name in ("model_unrated", "frequency_bias"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, got {getattr(self, name)!r}.")

    def gibbs_steps(self, epoch: int) -> int:
        """Gibbs steps of ``epoch`` (from 0): one plus the schedule points passed."""
        done = 100.0 * epoch / self.n_epochs
        return 1 + sum(1 for p in self.cd_schedule[:-1] if done >= p)


class RBM(TorchCFRecommender):
    """Restricted Boltzmann machine with multinomial visible units (module docstring).

    Args:
        config: An :class:`RBMConfig`, a mapping or YAML; keyword arguments override it.
        col_user, col_item, col_rating, col_prediction: Column names
            (``col_rating=None``: implicit feedback).
        progress: tqdm bars over epochs (fit) and scoring blocks.

    Fitted attributes: ``network_``, ``history_`` (one row per epoch: ``epoch``,
    ``gibbs_steps``, ``loss`` (mean free-energy difference), ``rmse`` (RMSE of the most likely
    rating value of the mean-field reconstruction, on the rated units of the epoch's batches), ``seconds``), ``rating_values_``
    (the rating scale), ``ratings_`` (the training ratings as class indices, CSR),
    ``user_order_``, ``item_order_``, ``user_ids_``, ``item_ids_``, ``seen_``.

    Examples:
        >>> from recutils.models.rbm import RBM
        >>> model = RBM(hidden_units=600, n_epochs=30, batch_size=60, keep_prob=0.9)  # doctest: +SKIP
    """

    name: ClassVar[str] = "rbm"
    config_class: ClassVar[type[RBMConfig]] = RBMConfig
    needs_rating: ClassVar[bool] = True
    config: RBMConfig

    # ------------------------------------------------------------------- fit
    def _fit(self, data: TrainData) -> None:
        values = np.unique(data.rating)
        codes = np.searchsorted(values, data.rating).astype(np.int8) + 1  # 0: not rated
        self.rating_values_ = values.astype(np.float64)
        self.ratings_ = sp.csr_matrix(
            (codes, (data.user_idx, data.item_idx)), shape=(data.n_users, data.n_items)
        )
        self.ratings_.sort_indices()
        self.__dict__["_fit_codes"] = codes
        self.__dict__.pop("_ratings_internal", None)
        try:
            super()._fit(data)
        finally:
            self.__dict__.pop("_fit_codes", None)

    def _build_network(self, n_users: int, n_items: int) -> Any:
        from recutils.models.rbm.network import MultinomialRBM

        c = self.config
        n_classes = len(self.rating_values_) + 1
        network = MultinomialRBM(
            n_items, n_classes, c.hidden_units, init_std=c.init_std, mask_class0=not c.model_unrated
        )
        if c.frequency_bias:
            torch = require("torch", "torch")
            network.init_visible_bias(
                torch.from_numpy(self._class_counts(n_users, n_items, n_classes))
            )
        return network

    def _class_counts(self, n_users: int, n_items: int, n_classes: int) -> np.ndarray:
        """``[n_items, n_classes]`` counts of each item's states over the training rows
        (class 0: the users who did not rate it), in the network's item numbering."""
        codes = self.ratings_.tocoo()
        counts = np.zeros((n_items, n_classes), dtype=np.float64)
        np.add.at(counts, (self.item_order_[codes.col], codes.data.astype(np.int64)), 1.0)
        counts[:, 0] = n_users - counts[:, 1:].sum(1)
        return counts

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
        optimizer = adam(network.parameters(), device, c.learning_rate / c.batch_size)
        states = np.zeros((n_users, n_items), dtype=np.int8)
        states[users, items] = self.__dict__["_fit_codes"]
        source = _RBMEpochs(states, self.rating_values_, c, seed, device)
        return self._run_epochs(
            network,
            source,
            source.loss,
            optimizer,
            c.n_epochs,
            seed,
            model_dir=c.model_dir,
            desc=self.name,
        )

    # --------------------------------------------------------------- scoring
    def _internal_ratings(self) -> np.ndarray:
        """The training ratings as class indices in the internal numbering (dense int8)."""
        cached = self.__dict__.get("_ratings_internal")
        if cached is None:
            user_code = np.argsort(self.user_order_)
            item_code = np.argsort(self.item_order_)
            cached = self.ratings_[user_code][:, item_code].toarray().astype(np.int8)
            self.__dict__["_ratings_internal"] = cached
        return cached

    def _score_internal(self, users: Any) -> Any:
        torch = require("torch", "torch")
        states = torch.from_numpy(self._internal_ratings()[users.cpu().numpy()].astype(np.int64))
        return self._expected_rating(states.to(users.device))

    def _expected_rating(self, states: Any) -> Any:
        """``sum_k r_k p(v_i = r_k | p(h | v))`` of rows of class indices (internal numbering)."""
        torch = require("torch", "torch")
        probs = self.network_.class_probs(states)
        values = torch.cat(
            [
                torch.zeros(1, dtype=probs.dtype),
                torch.from_numpy(self.rating_values_).to(probs.dtype),
            ]
        )
        return probs @ values.to(probs.device)

    def _score_users(
        self, user_idx: np.ndarray, visible: pd.DataFrame | None = None, **kwargs: Any
    ) -> np.ndarray:
        """Scores of users ``user_idx``; with ``visible`` (a ratings frame), from those
        ratings instead of the training ratings (see :meth:`recommend_k_items`)."""
        if visible is None:
            return super()._score_users(user_idx, **kwargs)
        torch = require("torch", "torch")
        states = self._visible_states(visible, np.asarray(user_idx, dtype=np.int64))
        internal = states[:, np.argsort(self.item_order_)].astype(np.int64)
        device = next(self.network_.parameters()).device
        with torch.no_grad():
            scores = self._expected_rating(torch.from_numpy(internal).to(device))
        return scores.double().cpu().numpy()[:, self.item_order_]

    def _visible_states(self, visible: pd.DataFrame, user_idx: np.ndarray) -> np.ndarray:
        """Rows of class indices ``[len(user_idx), n_items]`` (item codes) from a ratings frame."""
        from recutils.utils.validation import check_columns

        if not isinstance(visible, pd.DataFrame):
            raise DataError(f"visible must be a ratings DataFrame, got {type(visible).__name__}.")
        check_columns(visible, [self.col_user, self.col_item, self.col_rating], name="visible")
        users = self.user_ids_.get_indexer(visible[self.col_user])
        items = self.item_ids_.get_indexer(visible[self.col_item])
        ratings = pd.to_numeric(visible[self.col_rating], errors="coerce").to_numpy(np.float64)
        values = self.rating_values_
        cls = np.clip(np.searchsorted(values, ratings), 0, values.size - 1)
        bad = values[cls] != ratings
        if bad.any():
            raise DataError(
                f"visible ratings must take the training rating values "
                f"{values.tolist()}, got e.g. {ratings[bad][:3].tolist()}."
            )
        row_of_user = np.full(len(self.user_ids_), -1, dtype=np.int64)
        row_of_user[user_idx] = np.arange(user_idx.size)
        rows = np.where(users >= 0, row_of_user[np.maximum(users, 0)], -1)
        keep = (rows >= 0) & (items >= 0)
        states = np.zeros((user_idx.size, len(self.item_ids_)), dtype=np.int8)
        states[rows[keep], items[keep]] = cls[keep] + 1
        return states

    def recommend_k_items(
        self,
        users: Any,
        top_k: int = 10,
        remove_seen: bool = True,
        visible: pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Top-``top_k`` items per user (see :meth:`BaseRecommender.recommend_k_items`).

        Args:
            visible: A ratings frame (``col_user``, ``col_item``, ``col_rating``, values on
                the training scale): each user is scored from their rows of it instead of
                their training ratings (fold-in without refitting; a user without rows
                scores from an empty row). Rows of unknown users or items are ignored.
                ``remove_seen`` still removes the *training* items. Microsoft's
                ``rbm_movielens`` notebook scores from the test ratings this way.

        Raises:
            DataError: ``visible`` is not a frame, or holds ratings off the training scale.
            ColumnMismatchError: ``visible`` misses a column.
        """
        if visible is not None:
            kwargs["visible"] = visible
        return super().recommend_k_items(users, top_k=top_k, remove_seen=remove_seen, **kwargs)

    # ------------------------------------------------------------- save/load
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = super()._state()
        arrays["rating_values"] = self.rating_values_
        arrays["ratings_codes"] = self.ratings_.data.astype(np.int8)
        return arrays, meta

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        values = persistence.check_array(arrays, "rating_values", persistence.NUMBER, (None,))
        if values.size == 0 or not np.all(np.diff(values) > 0):
            raise persistence.ArtifactArrayError(
                f"{getattr(arrays, 'source', persistence.ARRAYS)}: array 'rating_values' must be increasing and non-empty."
            )
        self.rating_values_ = np.asarray(values, dtype=np.float64)
        codes = persistence.check_array(
            arrays, "ratings_codes", persistence.NUMBER, (self.seen_.nnz,)
        )
        if codes.size and (codes.min() < 1 or codes.max() > values.size):
            raise persistence.ArtifactArrayError(
                f"{getattr(arrays, 'source', persistence.ARRAYS)}: array 'ratings_codes' must lie in [1, {values.size}]."
            )
        self.ratings_ = sp.csr_matrix(
            (np.asarray(codes, dtype=np.int8), self.seen_.indices, self.seen_.indptr),
            shape=self.seen_.shape,
        )
        self.__dict__.pop("_ratings_internal", None)
        rest = {k: v for k, v in arrays.items() if k not in ("rating_values", "ratings_codes")}
        super()._set_state(
            persistence.SavedArrays(rest, getattr(arrays, "source", persistence.ARRAYS)), meta
        )

    # -------------------------------------------------------------- contract
    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {
            "hidden_units": 8,
            "n_epochs": 5,
            "batch_size": 8,
            "learning_rate": 0.5,
            "seed": 0,
        }
        return ContractCase(params=params, known_answer=_block_case(), stochastic=True)


def _block_case() -> KnownAnswer:
    """Two taste groups: users 0-9 rate items 0-4 high, users 10-19 items 5-9; each user
    misses one item of their group, which must come first."""
    users, items = [], []
    for u in range(20):
        group = range(0, 5) if u < 10 else range(5, 10)
        held = (u % 5) + (0 if u < 10 else 5)
        for i in group:
            if i != held:
                users.append(u)
                items.append(i)
    train = pd.DataFrame({"userID": users, "itemID": items, "rating": 5.0})
    expected = {0: [0], 3: [3], 11: [6], 14: [9]}
    return KnownAnswer(
        train=train,
        users=list(expected),
        top_k=1,
        remove_seen=True,
        expected=expected,
        params={
            "hidden_units": 16,
            "n_epochs": 60,
            "batch_size": 5,
            "learning_rate": 0.2,
            "keep_prob": 1.0,
            "seed": 0,
        },
    )


class _RBMEpochs:
    """Batch source and loss of the RBM: each epoch a permutation of the users drawn from
    ``default_rng([seed, epoch])``; a batch is ``batch_size`` users' rows of class indices;
    the loss is the CD objective with the epoch's number of Gibbs steps."""

    #: History fields summed over the epoch's rows (added across data-parallel ranks).
    summed_fields = ("loss",)

    def __init__(
        self, states: np.ndarray, values: np.ndarray, config: RBMConfig, seed: int, device: Any
    ) -> None:
        torch = require("torch", "torch")
        self.states = torch.from_numpy(states)
        self.values = torch.from_numpy(np.concatenate([[0.0], values])).to(device)
        self.config, self.seed, self.device = config, seed, device
        self.n_users = states.shape[0]
        self.steps = 1
        self.loss_sum = self.sq_err = 0.0
        self.n_rated = 0

    def epoch_batches(self, epoch: int) -> Iterator[np.ndarray]:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n_users)
        self.steps = self.config.gibbs_steps(epoch)
        self.loss_sum = self.sq_err = 0.0
        self.n_rated = 0
        size = self.config.batch_size
        for s in range(0, self.n_users, size):
            yield order[s : s + size]

    def loss(self, network: Any, rows: np.ndarray) -> Any:
        torch = require("torch", "torch")
        batch = self.states[torch.from_numpy(rows)].to(torch.int64).to(self.device)
        loss = network(batch, self.steps, self.config.keep_prob)
        with torch.no_grad():
            rated = batch > 0
            probs = network.class_probs(batch)[..., 1:]  # the rating states, given rated
            recon = probs.argmax(2) + 1
            self.sq_err += float(((self.values[recon] - self.values[batch])[rated] ** 2).sum())
            self.n_rated += int(rated.sum())
        self.loss_sum += float(loss.detach()) * rows.size
        return loss

    def epoch_row(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch + 1,
            "gibbs_steps": self.steps,
            "loss": self.loss_sum / self.n_users,
            "rmse": float(np.sqrt(self.sq_err / max(self.n_rated, 1))),
        }


__all__ = ["RBM", "RBMConfig"]
