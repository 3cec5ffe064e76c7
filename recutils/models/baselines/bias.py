"""A regularized bias baseline for rating prediction: global mean + user and item biases.

The model predicts

.. math::

    \\hat r_{ui} = \\mu + b_u + b_i

with :math:`\\mu` the mean training rating and the biases minimising the
regularized squared error

.. math::

    \\sum_{(u,i) \\in R} (r_{ui} - \\mu - b_u - b_i)^2
        + \\lambda_u \\sum_u b_u^2 + \\lambda_i \\sum_i b_i^2 .

It is fitted by alternating closed-form updates (coordinate descent, each step an
exact minimisation over one block, so the loss never increases), starting from
:math:`b_u = 0`:

.. math::

    b_i \\leftarrow \\frac{\\sum_{u \\in U(i)} (r_{ui} - \\mu - b_u)}{\\lambda_i + |U(i)|},
    \\qquad
    b_u \\leftarrow \\frac{\\sum_{i \\in I(u)} (r_{ui} - \\mu - b_i)}{\\lambda_u + |I(u)|}

each a single :func:`numpy.bincount`. One iteration is the "decoupled" estimate of
Koren (2010), *Factor in the neighbors*, TKDD 4(1), section 2.1; more iterations
converge to the joint minimiser (the ``baseline_only``/ALS estimate of Surprise
with ``reg_u``/``reg_i``). Iteration stops after ``n_iter`` rounds or when no
bias moves by more than ``tol``.

As a ranker it orders items by :math:`b_i` (the user bias shifts a whole row):
a regularized "highest average rating" list, the same for every user.

Policies: repeated (user, item) rows raise :class:`~recutils.exceptions.DataError`
(one rating per pair; aggregate first); NaN ratings raise ``DataError``; users
unknown at ``recommend_k_items`` get :math:`\\mu + b_i` (a :class:`DataWarning`
says so); ``predict`` gives NaN for unknown users or items (one warning), as
every model. ``clip=True`` clips scores to the training rating range.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from recutils.config import BaseConfig
from recutils.models import persistence
from recutils.models.base import BaseRecommender, ContractCase, KnownAnswer, TrainData
from recutils.utils.validation import check_bool, check_number, check_positive_int

logger = logging.getLogger(__name__)


@dataclass
class BiasConfig(BaseConfig):
    """Hyper-parameters of :class:`BiasBaseline`.

    Attributes:
        reg_user: :math:`\\lambda_u` (>= 0), shrinks user biases toward 0.
        reg_item: :math:`\\lambda_i` (>= 0), shrinks item biases toward 0.
        n_iter: Maximum number of alternating rounds (>= 1).
        tol: Stop when the largest change of a bias in a round is below this (>= 0).
        clip: Clip scores to the training rating range ``[r_min, r_max]``.
    """

    reg_user: float = 15.0
    reg_item: float = 10.0
    n_iter: int = 20
    tol: float = 1e-6
    clip: bool = False

    def __post_init__(self) -> None:
        for name in ("reg_user", "reg_item", "tol"):
            v = getattr(self, name)
            check_number(name, v)
        check_positive_int("n_iter", self.n_iter)
        check_bool("clip", self.clip)


def fit_biases(
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    rating: np.ndarray,
    n_users: int,
    n_items: int,
    reg_user: float,
    reg_item: float,
    n_iter: int = 20,
    tol: float = 1e-6,
) -> tuple[float, np.ndarray, np.ndarray, int]:
    """Global mean and regularized biases by alternating closed-form updates.

    Returns:
        ``(mu, b_user, b_item, rounds)`` (see the module docstring for the formulas).
    """
    mu = float(rating.mean())
    resid = rating - mu
    n_u = np.bincount(user_idx, minlength=n_users).astype(np.float64)
    n_i = np.bincount(item_idx, minlength=n_items).astype(np.float64)
    b_u = np.zeros(n_users)
    b_i = np.zeros(n_items)
    rounds = 0
    for rounds in range(1, n_iter + 1):
        new_i = np.bincount(item_idx, weights=resid - b_u[user_idx], minlength=n_items)
        with np.errstate(invalid="ignore", divide="ignore"):
            new_i = np.where(n_i + reg_item > 0, new_i / (n_i + reg_item), 0.0)
        new_u = np.bincount(user_idx, weights=resid - new_i[item_idx], minlength=n_users)
        with np.errstate(invalid="ignore", divide="ignore"):
            new_u = np.where(n_u + reg_user > 0, new_u / (n_u + reg_user), 0.0)
        delta = max(
            float(np.abs(new_i - b_i).max(initial=0.0)), float(np.abs(new_u - b_u).max(initial=0.0))
        )
        b_i, b_u = new_i, new_u
        logger.debug("bias round %d: max change %.3g", rounds, delta)
        if delta <= tol:
            break
    return mu, b_u, b_i, rounds


class BiasBaseline(BaseRecommender):
    """Global mean + regularized user and item biases (see the module docstring).

    Args:
        config: A :class:`BiasConfig`, a mapping or YAML; keyword arguments
            (``reg_user``, ``reg_item``, ``n_iter``, ``tol``, ``clip``) override it.
        col_user, col_item, col_rating, col_timestamp, col_prediction, progress, n_jobs: see :class:`~recutils.models.base.BaseRecommender`.

    Fitted attributes:
        global_mean_: :math:`\\mu`.
        user_bias_, item_bias_: float64 biases in training id order.
        n_iter_: Rounds run.
        rating_min_, rating_max_: Training rating range (for ``clip``).

    Examples:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"userID": [1, 1, 2], "itemID": [1, 2, 1],
        ...                    "rating": [4.0, 2.0, 3.0]})
        >>> m = BiasBaseline(reg_user=0, reg_item=0, n_iter=1).fit(df)
        >>> m.global_mean_, m.item_bias_.tolist()
        (3.0, [0.5, -1.0])
    """

    name = "bias"
    config_class = BiasConfig
    duplicates = "error"
    needs_rating = True
    config: BiasConfig

    def _fit(self, data: TrainData) -> None:
        cfg = self.config
        mu, b_u, b_i, rounds = fit_biases(
            data.user_idx,
            data.item_idx,
            data.rating,
            data.n_users,
            data.n_items,
            float(cfg.reg_user),
            float(cfg.reg_item),
            int(cfg.n_iter),
            float(cfg.tol),
        )
        self.global_mean_ = mu
        self.user_bias_ = b_u
        self.item_bias_ = b_i
        self.n_iter_ = rounds
        self.rating_min_ = float(data.rating.min())
        self.rating_max_ = float(data.rating.max())
        logger.info("bias baseline: mu=%.4f after %d round(s)", mu, rounds)

    def _clip(self, scores: np.ndarray) -> np.ndarray:
        if self.config.clip:
            np.clip(scores, self.rating_min_, self.rating_max_, out=scores)
        return scores

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        scores = (self.global_mean_ + self.user_bias_[user_idx][:, None]) + self.item_bias_[None, :]
        return self._clip(scores)

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        return self._clip(self.global_mean_ + self.user_bias_[user_idx] + self.item_bias_[item_idx])

    def _unknown_user_scores(self, **kwargs: Any) -> np.ndarray:
        return self._clip(self.global_mean_ + self.item_bias_)

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return (
            {"user_bias": self.user_bias_, "item_bias": self.item_bias_},
            {
                "global_mean": self.global_mean_,
                "n_iter": self.n_iter_,
                "rating_min": self.rating_min_,
                "rating_max": self.rating_max_,
            },
        )

    def _set_state(self, arrays: Any, meta: Any) -> None:
        persistence.check_array(arrays, "user_bias", persistence.NUMBER, (len(self.user_ids_),))
        persistence.check_array(arrays, "item_bias", persistence.NUMBER, (len(self.item_ids_),))
        self.user_bias_ = np.asarray(arrays["user_bias"], dtype=np.float64)
        self.item_bias_ = np.asarray(arrays["item_bias"], dtype=np.float64)
        self.global_mean_ = float(meta["global_mean"])
        self.n_iter_ = int(meta["n_iter"])
        self.rating_min_ = float(meta["rating_min"])
        self.rating_max_ = float(meta["rating_max"])

    @classmethod
    def contract_case(cls) -> ContractCase:
        import pandas as pd

        # reg 0, one round: mu = 16/5 = 3.2; item biases a ((5-3.2) + (3-3.2))/2 = 0.8,
        # b 1-3.2 = -2.2, c 3-3.2 = -0.2, d 4-3.2 = 0.8; user 1: ((5-3.2-0.8) + (1-3.2+2.2))/2
        # = 0.5, user 2: ((3-3.2-0.8) + (3-3.2+0.2))/2 = -0.5, user 3: 4-3.2-0.8 = 0.
        # User 1 (seen a, b) ranks d (3.2+0.5+0.8 = 4.5), c (3.2+0.5-0.2 = 3.5);
        # user 3 (seen d) ranks a (4.0), c (3.0), b (1.0).
        train = pd.DataFrame(
            {
                "userID": [1, 1, 2, 2, 3],
                "itemID": ["a", "b", "a", "c", "d"],
                "rating": [5.0, 1.0, 3.0, 3.0, 4.0],
            }
        )
        return ContractCase(
            known_answer=KnownAnswer(
                train=train,
                users=[1, 3],
                top_k=3,
                remove_seen=True,
                expected={1: ["d", "c"], 3: ["a", "c", "b"]},
                expected_scores={1: [4.5, 3.5], 3: [4.0, 3.0, 1.0]},
                params={"reg_user": 0.0, "reg_item": 0.0, "n_iter": 1},
            )
        )


__all__ = ["BiasBaseline", "BiasConfig", "fit_biases"]
