"""Bayesian Personalized Ranking (Rendle et al., UAI 2009) trained by ``implicit``.

implicit's BPR learns user factors ``x_u``, item factors ``y_i`` and item biases
``b_i`` by SGD over sampled triples (user ``u``, observed item ``i``, unobserved
item ``j``), maximising

    sum_(u,i,j) ln sigmoid(x_uij)
        - regularization * (||x_u||^2 + ||y_i||^2 + ||y_j||^2 + b_i^2 + b_j^2)

with ``x_uij = (b_i + x_u . y_i) - (b_j + x_u . y_j)``, step ``learning_rate``,
``iterations`` epochs. The score is ``s(u, i) = b_i + x_u . y_i`` (implicit keeps
the bias as an extra factor column; recutils splits it into ``item_bias_``).

Policies:

* Every training row is a positive: ratings are not read; a repeated pair counts
  once.
* Threads: ``num_threads`` (default 1) is passed to implicit. Its SGD is
  Hogwild-style: with more than one thread a fit is **not** reproducible even
  under a seed; with one thread and a ``seed`` it is. BLAS is limited to one
  thread while fitting.
* Users and items reach implicit in order of first appearance; the fitted model
  keeps numpy arrays (save/load without pickle, scoring without implicit). Users
  not seen in training get the item-bias ranking, with a
  :class:`~recutils.exceptions.DataWarning`.

Needs the ``implicit`` extra to fit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from recutils.config import BaseConfig
from recutils.models.base import BaseRecommender, ContractCase, TrainData
from recutils.models.factors import (
    FactorScoringMixin,
    block_toy_case,
    check_bool,
    check_choice,
    check_extra,
    check_number,
    check_positive_int,
    check_seed,
)
from recutils.models.implicit._common import implicit_class, single_threaded_blas, user_items

logger = logging.getLogger(__name__)

DTYPES = ("float32", "float64")
_FIELDS = [
    "factors",
    "learning_rate",
    "regularization",
    "iterations",
    "dtype",
    "verify_negative_samples",
    "num_threads",
    "random_state",
]


@dataclass
class ImplicitBPRConfig(BaseConfig):
    """Hyper-parameters of :class:`ImplicitBPR` (implicit's names and defaults).

    Attributes:
        factors: Number of latent factors (implicit adds one for the item bias).
        learning_rate: SGD step.
        regularization: L2 weight.
        iterations: SGD epochs.
        verify_negative_samples: Resample a negative the user has in fact seen.
        dtype: ``"float32"`` or ``"float64"`` factors.
        num_threads: implicit's threads (0: all cores; > 1 is not reproducible).
        seed: Seed of initialisation and sampling (implicit's ``random_state``).
        extra: Further keyword arguments of ``implicit.cpu.bpr.BayesianPersonalizedRanking``.
    """

    factors: int = 100
    learning_rate: float = 0.01
    regularization: float = 0.01
    iterations: int = 100
    verify_negative_samples: bool = True
    dtype: str = "float32"
    num_threads: int = 1
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_positive_int("factors", self.factors)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("regularization", self.regularization)
        check_positive_int("iterations", self.iterations)
        check_bool("verify_negative_samples", self.verify_negative_samples)
        check_choice("dtype", self.dtype, list(DTYPES))
        check_positive_int("num_threads", self.num_threads, minimum=0)
        check_seed(self.seed)
        check_extra(self.extra, reserved=_FIELDS + ["seed"], library="implicit BPR")


class ImplicitBPR(FactorScoringMixin, BaseRecommender):
    """implicit's BayesianPersonalizedRanking (see the module docstring).

    Args:
        config: An :class:`ImplicitBPRConfig`, a mapping or YAML; keyword arguments
            (its fields) override it.
        col_user, col_item, col_prediction: Column names (ratings are not read).
        progress: implicit's progress bar and tqdm over scoring blocks.

    Fitted attributes:
        user_factors_ (``n_users x factors``), item_factors_ (``n_items x
        factors``), item_bias_ (``n_items``); user_ids_, item_ids_, seen_.
    """

    name = "implicit_bpr"
    config_class = ImplicitBPRConfig
    duplicates = "first"
    needs_rating = False
    #: Python modules needed to fit (the contract tests skip without them).
    requires: ClassVar[tuple[str, ...]] = ("implicit",)
    config: ImplicitBPRConfig

    def _fit(self, data: TrainData) -> None:
        c = self.config
        cls = implicit_class(
            "bpr", "BayesianPersonalizedRanking", c.extra, _FIELDS + ["seed"], "implicit BPR"
        )
        matrix, u_inv, i_inv = user_items(data, np.ones(data.user_idx.size), dtype=np.float32)
        with single_threaded_blas():
            model = cls(
                factors=c.factors,
                learning_rate=c.learning_rate,
                regularization=c.regularization,
                dtype=np.dtype(c.dtype),
                iterations=c.iterations,
                verify_negative_samples=c.verify_negative_samples,
                num_threads=c.num_threads,
                random_state=c.seed,
                **c.extra,
            )
            logger.info(
                "implicit BPR: %d factors, %d iterations, %d threads",
                c.factors,
                c.iterations,
                c.num_threads,
            )
            model.fit(matrix, show_progress=bool(self.progress))
        users = np.asarray(model.user_factors)[u_inv]
        items = np.asarray(model.item_factors)[i_inv]
        # implicit appends the item bias as a last factor, with a constant 1 on the user side
        self._set_factors(users[:, :-1], items[:, :-1], items[:, -1])

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {"factors": 8, "learning_rate": 0.05, "iterations": 20, "seed": 0}
        known = block_toy_case({**params, "iterations": 300})
        return ContractCase(params=params, known_answer=known, stochastic=True)


__all__ = ["ImplicitBPR", "ImplicitBPRConfig"]
