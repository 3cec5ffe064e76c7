"""Bayesian Personalized Ranking (BPR) trained by cornac, behind the recutils contract.

BPR (Rendle et al., UAI 2009) learns user factors ``p_u``, item factors ``q_i``
and item biases ``b_i`` so that a user's observed items rank above the others.
With ``x_uij = (b_i + p_u . q_i) - (b_j + p_u . q_j)`` it maximises, by SGD over
sampled triples (user ``u``, observed item ``i``, unobserved item ``j``),

    sum_(u,i,j) ln sigmoid(x_uij) - lambda_reg * (||p_u||^2 + ||q_i||^2 + ||q_j||^2 + b_i^2 + b_j^2)

with step ``learning_rate`` for ``max_iter`` epochs (one epoch = as many triples
as training rows). The score is ``s(u, i) = b_i + p_u . q_i``.

Policies:

* Every training row is a positive: ratings are not read (``needs_rating =
  False``); a repeated (user, item) pair counts once (``duplicates = "first"``).
* ``seed`` makes a fit deterministic; cornac then trains on one thread (with
  ``seed=None`` it uses ``num_threads`` threads, Hogwild-style, not reproducible).
* Users and items are handed to cornac in order of first appearance in the
  training frame, as ``cornac.data.Dataset.from_uir`` numbers them: under a seed
  the factors are the ones cornac gives on the same frame.
* Users not seen in training get the item-bias ranking (with a
  :class:`~recutils.exceptions.DataWarning`); ``predict`` gives ``NaN`` for them.
* The fitted model keeps ``P``, ``Q`` and ``b`` as numpy arrays: ranking is a
  dense product per block of users, save/load writes ``.npz`` (no pickle), and a
  loaded model scores without cornac.

Needs the ``cornac`` extra (``pip install recutils[cornac]``) to fit.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from recutils.config import BaseConfig
from recutils.models.base import BaseRecommender, ContractCase, KnownAnswer, TrainData
from recutils.models.cornac._data import cornac_dataset
from recutils.models.factors import (
    FactorScoringMixin,
    block_toy_case,
    check_bool,
    check_extra,
    check_number,
    check_positive_int,
    check_seed,
)
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

_BPR_FIELDS = ["k", "max_iter", "learning_rate", "lambda_reg", "use_bias", "num_threads", "seed"]
_BPR_RESERVED = _BPR_FIELDS + ["name", "trainable", "verbose"]


@dataclass
class CornacBPRConfig(BaseConfig):
    """Hyper-parameters of :class:`CornacBPR` (cornac's names).

    The defaults of ``k``, ``max_iter``, ``learning_rate`` and ``lambda_reg`` are those of
    the MovieLens benchmark (``recutils/benchmark/specs/movielens.yaml``, Microsoft
    Recommenders' BPR settings), not cornac's (10, 100, 0.001, 0.01): on MovieLens 100k
    (Microsoft's split, seed 42) they give MAP 0.134 and nDCG@10 0.445, where cornac's
    give 0.056 / 0.259, no better than popularity.

    Attributes:
        k: Number of latent factors.
        max_iter: SGD epochs.
        learning_rate: SGD step.
        lambda_reg: L2 regularisation of factors and biases.
        use_bias: Learn the item bias ``b_i``.
        num_threads: Training threads without a seed (0: all cores); cornac uses one
            thread whenever ``seed`` is set.
        seed: Random seed (initialisation and sampling); ``None``: not reproducible.
        extra: Further ``cornac.models.BPR`` keyword arguments (e.g. ``init_params``),
            checked against its signature when fitting.
    """

    k: int = 200
    max_iter: int = 200
    learning_rate: float = 0.01
    lambda_reg: float = 0.001
    use_bias: bool = True
    num_threads: int = 0
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_positive_int("k", self.k)
        check_positive_int("max_iter", self.max_iter)
        check_number("learning_rate", self.learning_rate, strict=True)
        check_number("lambda_reg", self.lambda_reg)
        check_positive_int("num_threads", self.num_threads, minimum=0)
        check_seed(self.seed)
        check_bool("use_bias", self.use_bias)
        check_extra(self.extra, reserved=_BPR_RESERVED, library="cornac BPR")


class CornacBPR(FactorScoringMixin, BaseRecommender):
    """cornac's BPR (see the module docstring for the objective and policies).

    Args:
        config: A :class:`CornacBPRConfig`, a mapping or YAML; keyword arguments
            (``k``, ``max_iter``, ``learning_rate``, ``lambda_reg``, ``use_bias``,
            ``num_threads``, ``seed``, ``extra``) override it.
        col_user, col_item, col_prediction: Column names (``col_rating`` and
            ``col_timestamp`` are accepted and ignored).
        progress: cornac's progress bar while training and tqdm over scoring blocks.

    Fitted attributes:
        user_factors_ (``n_users x k``), item_factors_ (``n_items x k``),
        item_bias_ (``n_items``; zeros with ``use_bias=False``), float32 as cornac
        learns them; user_ids_, item_ids_, seen_.

    Examples:
        >>> from recutils.models.cornac import CornacBPR
        >>> model = CornacBPR(k=200, max_iter=200, learning_rate=0.01,
        ...                   lambda_reg=0.001, seed=42)  # doctest: +SKIP
        >>> top = model.fit(train).recommend_k_items(test, top_k=10)  # doctest: +SKIP
    """

    name = "cornac_bpr"
    config_class = CornacBPRConfig
    duplicates = "first"
    needs_rating = False
    #: Python modules needed to fit (the contract tests skip without them).
    requires: ClassVar[tuple[str, ...]] = ("cornac",)
    config: CornacBPRConfig

    def _cornac_model(self) -> Any:
        cornac_bpr = require("cornac.models.bpr", extra="cornac", package="cornac")
        cls = cornac_bpr.BPR
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        check_extra(
            self.config.extra, allowed=allowed, reserved=_BPR_RESERVED, library="cornac BPR"
        )
        c = self.config
        return cls(
            k=c.k,
            max_iter=c.max_iter,
            learning_rate=c.learning_rate,
            lambda_reg=c.lambda_reg,
            use_bias=c.use_bias,
            num_threads=c.num_threads,
            seed=c.seed,
            trainable=True,
            verbose=bool(self.progress),
            **c.extra,
        )

    def _fit(self, data: TrainData) -> None:
        model = self._cornac_model()
        dataset, u_inv, i_inv = cornac_dataset(data, self.config.seed)
        logger.info(
            "cornac BPR: k=%d, %d epochs on %d positives",
            self.config.k,
            self.config.max_iter,
            data.user_idx.size,
        )
        model.fit(dataset)
        bias = np.asarray(model.i_biases)[i_inv] if self.config.use_bias else None
        self._set_factors(
            np.asarray(model.u_factors)[u_inv], np.asarray(model.i_factors)[i_inv], bias
        )

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {"k": 8, "max_iter": 20, "learning_rate": 0.05, "lambda_reg": 0.001, "seed": 0}
        return ContractCase(params=params, known_answer=_known_answer(params), stochastic=True)


def _known_answer(params: dict[str, Any]) -> KnownAnswer:
    return block_toy_case({**params, "max_iter": 300})


__all__ = ["CornacBPR", "CornacBPRConfig"]
