"""Embedding dot-bias: a biased matrix factorization with a sigmoid range, trained by SGD.

The rating model of fastai's ``collab_learner`` (``EmbeddingDotBias``), which Microsoft
Recommenders' ``fastai_movielens`` notebook runs on MovieLens, written in PyTorch without
fastai. A user ``u`` and an item ``i`` have factors ``p_u, q_i`` (``n_factors`` wide) and
biases ``b_u, b_i``; the predicted rating is

    r_hat(u, i) = lo + (hi - lo) * sigmoid(p_u . q_i + b_u + b_i),    (lo, hi) = y_range,

so every prediction lies inside ``y_range`` (fastai's default ``(0, 5.5)`` for 1-5 stars
lets the sigmoid reach 1 and 5 without saturating). The weights start from a normal
distribution with standard deviation 0.01 (truncated at two of them) and minimise the
mean squared error of the training ratings with AdamW (Adam with decoupled weight decay
``weight_decay``; ``beta2 = 0.99``, ``eps = 1e-5`` as fastai's Adam) on shuffled
mini-batches of ``batch_size`` ratings.

With ``one_cycle`` (the default) the learning rate and Adam's ``beta1`` follow fastai's
``fit_one_cycle`` schedule (:func:`one_cycle`): over the first quarter of the steps the
rate rises from ``learning_rate / 25`` to ``learning_rate`` along a half cosine while
``beta1`` falls from 0.95 to 0.85, then the rate falls to ``learning_rate / 1e5`` and
``beta1`` returns to 0.95. Without it both stay constant (``learning_rate``, 0.9).

A user is ranked by the predicted ratings of the items (seen ones removed by the
contract). Users or items not seen in training get NaN from ``predict`` (one
``DataWarning``) and no recommendations.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from recutils.exceptions import ConfigError
from recutils.models.base import ContractCase, KnownAnswer, TrainData
from recutils.models.factors import check_number, check_positive_int
from recutils.models.torch_cf import TorchCFConfig, TorchCFRecommender
from recutils.utils.deps import require
from recutils.utils.validation import is_number

logger = logging.getLogger(__name__)

#: fastai's ``fit_one_cycle`` defaults: warm-up share, start and end divisors, beta1 range.
ONE_CYCLE_PCT_START = 0.25
ONE_CYCLE_DIV = 25.0
ONE_CYCLE_FINAL_DIV = 1e5
ONE_CYCLE_BETA1 = (0.95, 0.85)


def _cosine(start: float, end: float, pos: float) -> float:
    """Half cosine from ``start`` (``pos = 0``) to ``end`` (``pos = 1``)."""
    return start + (1.0 + math.cos(math.pi * (1.0 - pos))) * (end - start) / 2.0


def one_cycle(step: int, total_steps: int, max_lr: float) -> tuple[float, float]:
    """Learning rate and Adam ``beta1`` of step ``step`` (from 0) out of ``total_steps``
    under the one-cycle policy (Smith, 2018) with fastai's ``fit_one_cycle`` defaults.

    The step's position ``t = step / total_steps`` runs through two half-cosine phases:
    up to ``t = 0.25`` the rate goes from ``max_lr / 25`` to ``max_lr`` and ``beta1`` from
    0.95 to 0.85; after it, the rate goes to ``max_lr / 1e5`` and ``beta1`` back to 0.95.

    Examples:
        >>> one_cycle(0, 100, 0.01)
        (0.0004, 0.95)
        >>> one_cycle(25, 100, 0.01)
        (0.01, 0.85)
    """
    pos = min(max(step / max(total_steps, 1), 0.0), 1.0)
    low, high = ONE_CYCLE_BETA1
    if pos < ONE_CYCLE_PCT_START:
        t = pos / ONE_CYCLE_PCT_START
        return _cosine(max_lr / ONE_CYCLE_DIV, max_lr, t), _cosine(low, high, t)
    t = (pos - ONE_CYCLE_PCT_START) / (1.0 - ONE_CYCLE_PCT_START)
    return _cosine(max_lr, max_lr / ONE_CYCLE_FINAL_DIV, t), _cosine(high, low, t)


@dataclass
class EmbeddingDotBiasConfig(TorchCFConfig):
    """Hyper-parameters of :class:`EmbeddingDotBias`; the defaults are those of Microsoft
    Recommenders' ``fastai_movielens`` notebook (``collab_learner(n_factors=40,
    y_range=[0, 5.5], wd=0.1)``, ``fit_one_cycle(5, lr_max=5e-3)``, fastai's batch of 64).

    Attributes:
        n_factors: Width of the user and item factors.
        y_range: ``[lo, hi]``: predictions lie in ``(lo, hi)``.
        n_epochs: Passes over the training ratings.
        batch_size: Ratings per AdamW step.
        learning_rate: The (largest, with ``one_cycle``) learning rate.
        weight_decay: Decoupled weight decay of AdamW on every table.
        one_cycle: Follow the one-cycle schedule of the rate and ``beta1``
            (:func:`one_cycle`); False: both constant.

    The run settings (``seed``: of the weights and the batch order; ``device``,
    ``num_threads``, ``model_dir``) and the validation settings (``valid_metric``,
    ``patience``) are those of :class:`~recutils.models.torch_cf.TorchCFConfig`.
    """

    n_factors: int = 40
    y_range: list[float] = field(default_factory=lambda: [0.0, 5.5])
    n_epochs: int = 5
    batch_size: int = 64
    learning_rate: float = 5e-3
    weight_decay: float = 0.1
    one_cycle: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("n_factors", self.n_factors)
        if isinstance(self.y_range, tuple):
            self.y_range = list(self.y_range)
        if not (
            isinstance(self.y_range, list)
            and len(self.y_range) == 2
            and all(is_number(v) and math.isfinite(v) for v in self.y_range)
            and self.y_range[0] < self.y_range[1]
        ):
            raise ConfigError(
                f"y_range must be two finite numbers [lo, hi] with lo < hi, got {self.y_range!r}."
            )
        self.y_range = [float(v) for v in self.y_range]
        check_positive_int("n_epochs", self.n_epochs)
        check_positive_int("batch_size", self.batch_size)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("weight_decay", self.weight_decay)
        if not isinstance(self.one_cycle, bool):
            raise ConfigError(f"one_cycle must be True or False, got {self.one_cycle!r}.")


class EmbeddingDotBias(TorchCFRecommender):
    """Embedding dot-bias rating model (see the module docstring for the formula).

    Args:
        config: An :class:`EmbeddingDotBiasConfig`, a mapping or YAML; keyword arguments
            override it.
        callbacks: Training callbacks (see :class:`~recutils.models.torch_cf.TorchCFRecommender`).
        col_user, col_item, col_rating, col_prediction: Column names (``col_timestamp`` is
            accepted and ignored). Ratings are required; a repeated (user, item) pair is
            a :class:`~recutils.exceptions.DataError`.
        progress: tqdm bars over epochs (fit) and scoring blocks.

    Fitted attributes: ``network_``, ``history_`` (one row per epoch: ``epoch``, ``step``,
    ``loss`` (mean squared error of the epoch's batches), ``lr`` (the last step's rate),
    ``seconds``), ``user_order_``, ``item_order_``, ``user_ids_``, ``item_ids_``, ``seen_``.

    Examples:
        >>> from recutils.models.dotbias import EmbeddingDotBias
        >>> model = EmbeddingDotBias(n_factors=40, n_epochs=5, seed=42)  # doctest: +SKIP
        >>> model.fit(train).predict(test)  # doctest: +SKIP
    """

    name: ClassVar[str] = "embedding_dot_bias"
    config_class: ClassVar[type[EmbeddingDotBiasConfig]] = EmbeddingDotBiasConfig
    duplicates: ClassVar[str] = "error"
    needs_rating: ClassVar[bool] = True
    config: EmbeddingDotBiasConfig

    def _fit(self, data: TrainData) -> None:
        # the base hands _train the id codes only; the ratings ride along for this fit
        self.__dict__["_fit_ratings"] = np.asarray(data.rating, dtype=np.float32)
        try:
            super()._fit(data)
        finally:
            self.__dict__.pop("_fit_ratings", None)

    def _build_network(self, n_users: int, n_items: int) -> Any:
        from recutils.models.dotbias.network import EmbeddingDotBiasNetwork

        c = self.config
        return EmbeddingDotBiasNetwork(n_users, n_items, c.n_factors, tuple(c.y_range))

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
        torch = require("torch", "torch")
        from recutils.nn.eager import optimizer_class

        c = self.config
        fused = {"fused": True} if device.type in ("cpu", "cuda") else {}
        optimizer = optimizer_class(torch.optim.AdamW)(
            network.parameters(),
            lr=c.learning_rate,
            betas=(0.9, 0.99),
            eps=1e-5,
            weight_decay=c.weight_decay,
            **fused,
        )
        source = _RatingEpochs(
            users, items, self.__dict__["_fit_ratings"], c, seed, device, optimizer
        )
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

    def _score_internal(self, users: Any) -> Any:
        return self.network_.score(users)

    def _score_pairs(
        self, user_idx: np.ndarray, item_idx: np.ndarray, *, frame: Any = None, **kwargs: Any
    ) -> np.ndarray:
        """Predicted ratings of the pairs, computed pair by pair (no full score rows)."""
        torch = require("torch", "torch")
        users = torch.from_numpy(self.user_order_[np.asarray(user_idx, dtype=np.int64)])
        items = torch.from_numpy(self.item_order_[np.asarray(item_idx, dtype=np.int64)])
        device = next(self.network_.parameters()).device
        out = np.empty(users.shape[0], dtype=np.float64)
        step = 1 << 20
        with torch.no_grad():
            for start in range(0, out.size, step):
                sl = slice(start, start + step)
                out[sl] = (
                    self.network_(users[sl].to(device), items[sl].to(device)).double().cpu().numpy()
                )
        return out

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {
            "n_factors": 4,
            "n_epochs": 3,
            "batch_size": 32,
            "learning_rate": 0.05,
            "weight_decay": 0.0,
            "seed": 0,
        }
        known = rating_blocks_case(
            {
                "n_factors": 4,
                "n_epochs": 60,
                "batch_size": 8,
                "learning_rate": 0.05,
                "weight_decay": 0.0,
                "seed": 0,
            }
        )
        return ContractCase(params=params, known_answer=known, stochastic=True)


def rating_blocks_case(params: dict[str, Any]) -> KnownAnswer:
    """Two taste blocks in explicit ratings, as a contract known answer (top-1, seen removed).

    Users 1-6 rate items 1-5 with 5 stars and items 6-10 with 1 star, users 7-12 the
    other way round; each user misses one item of each block. Every item gets as many
    5s as 1s, so item biases cannot tell the two missing items apart: a model must learn
    the users' tastes to rank first the missing item of their own block.
    """
    import pandas as pd

    rows: list[tuple[int, int, float]] = []
    expected: dict[Any, list[Any]] = {}
    blocks = (list(range(1, 6)), list(range(6, 11)))
    for n in range(12):
        user, own = n + 1, n // 6
        missing = {blocks[b][n % 5] for b in (0, 1)}
        for b in (0, 1):
            rows += [
                (user, item, 5.0 if b == own else 1.0) for item in blocks[b] if item not in missing
            ]
        expected[user] = [blocks[own][n % 5]]
    train = pd.DataFrame(rows, columns=["userID", "itemID", "rating"])
    users = [1, 2, 8, 12]
    return KnownAnswer(
        train=train,
        users=users,
        top_k=1,
        remove_seen=True,
        expected={u: expected[u] for u in users},
        params=dict(params),
    )


class _RatingEpochs:
    """Batch source and loss of :class:`EmbeddingDotBias`: each epoch the training rows in a
    permutation drawn from ``default_rng([seed, epoch])``, ``batch_size`` rows a batch, the
    loss their mean squared error; the learning rate and ``beta1`` of every step are set
    before it (one-cycle schedule), from the step's index, so a resumed fit continues the
    schedule where it stopped."""

    #: History fields summed over the epoch's rows (added across data-parallel ranks).
    summed_fields = ("loss",)

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        config: EmbeddingDotBiasConfig,
        seed: int,
        device: Any,
        optimizer: Any,
    ) -> None:
        torch = require("torch", "torch")
        self.users = torch.from_numpy(np.asarray(users, dtype=np.int64)).to(device)
        self.items = torch.from_numpy(np.asarray(items, dtype=np.int64)).to(device)
        self.ratings = torch.from_numpy(np.asarray(ratings, dtype=np.float32)).to(device)
        self.n_rows = int(users.size)
        self.config, self.seed, self.device, self.optimizer = config, seed, device, optimizer
        self.steps_per_epoch = -(-self.n_rows // config.batch_size)
        self.total_steps = self.steps_per_epoch * config.n_epochs
        self.step = 0
        self.lr = float(config.learning_rate)
        self.loss_sum = 0.0

    def epoch_batches(self, epoch: int) -> Iterator[Any]:
        torch = require("torch", "torch")
        order = torch.from_numpy(np.random.default_rng([self.seed, epoch]).permutation(self.n_rows))
        order = order.to(self.device)
        self.step = epoch * self.steps_per_epoch
        self.loss_sum = 0.0
        b = self.config.batch_size
        for s in range(0, self.n_rows, b):
            yield order[s : s + b]

    def _schedule(self) -> None:
        c = self.config
        if not c.one_cycle:
            return
        self.lr, beta1 = one_cycle(self.step, self.total_steps, c.learning_rate)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr
            group["betas"] = (beta1, group["betas"][1])

    def loss(self, network: Any, rows: Any) -> Any:
        self._schedule()
        pred = network(self.users[rows], self.items[rows])
        loss = ((pred - self.ratings[rows]) ** 2).mean()
        self.step += 1
        self.loss_sum += float(loss.detach()) * int(rows.shape[0])
        return loss

    def epoch_row(self, epoch: int) -> dict[str, Any]:
        return {
            "epoch": epoch + 1,
            "step": self.step,
            "loss": self.loss_sum / self.n_rows,
            "lr": self.lr,
        }


__all__ = ["EmbeddingDotBias", "EmbeddingDotBiasConfig", "one_cycle", "rating_blocks_case"]
