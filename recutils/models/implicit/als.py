"""Implicit-feedback ALS (Hu, Koren and Volinsky, ICDM 2008) trained by ``implicit``.

With preferences ``p_ui = 1`` for observed (user, item) pairs and 0 otherwise,
and confidences ``c_ui = alpha * r_ui`` for observed pairs (``r_ui = 1`` with
``confidence="binary"``, the rating with ``confidence="rating"``) and 1 otherwise,
ALS minimises

    sum_(u,i) c_ui (p_ui - x_u . y_i)^2 + regularization * (sum_u ||x_u||^2 + sum_i ||y_i||^2)

over all user-item pairs, alternating exact (or conjugate-gradient, ``use_cg``)
least-squares solves for the user factors ``x_u`` and the item factors ``y_i``,
``iterations`` times. The score is ``s(u, i) = x_u . y_i``.

Policies:

* ``confidence="binary"`` (default) ignores ratings; a repeated pair counts once.
  ``confidence="rating"`` uses the rating as the count ``r_ui`` and sums repeated
  pairs (play counts add up); ratings must then be finite and > 0
  (:class:`~recutils.exceptions.DataError` otherwise: implicit reads a negative
  value as negative feedback and drops zeros).
* Threads: ``num_threads`` (default 1) is passed to implicit and BLAS is limited to
  one thread while fitting (implicit's advice: a threaded OpenBLAS underneath slows
  it down many times and makes it warn). ALS solves each user (item) on its own,
  so fits under a ``seed`` are deterministic for any ``num_threads``.
* Users and items reach implicit in order of first appearance in the training
  frame; the fitted model keeps ``x`` and ``y`` as numpy arrays: save/load writes
  ``.npz`` (no pickle) and a loaded model scores without implicit. Users not seen
  in training are skipped with a :class:`~recutils.exceptions.DataWarning`.

Needs the ``implicit`` extra to fit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.config import BaseConfig
from recutils.exceptions import DataError
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

#: Ways of turning rows into confidences.
CONFIDENCES = ("binary", "rating")
#: Factor dtypes implicit trains in.
DTYPES = ("float32", "float64")
_FIELDS = [
    "factors",
    "regularization",
    "alpha",
    "iterations",
    "dtype",
    "use_cg",
    "use_native",
    "calculate_training_loss",
    "num_threads",
    "random_state",
]


@dataclass
class ImplicitALSConfig(BaseConfig):
    """Hyper-parameters of :class:`ImplicitALS` (implicit's names and defaults).

    The MovieLens benchmark (``recutils/benchmark/specs/movielens.yaml``) uses
    ``factors=20``, ``regularization=0.5``, ``alpha=3.0`` (Microsoft Recommenders' values,
    chosen for MovieLens 100k): there (Microsoft's split, seed 42) they give MAP 0.145 and
    nDCG@10 0.466, implicit's defaults 0.094 / 0.324. They are not the defaults because
    they are a tuning for that small data set (20 factors under-fit large catalogs, and
    the best ``regularization`` and ``alpha`` scale with the data): start from them on
    data of MovieLens 100k's size, and tune (:mod:`recutils.tuning`) elsewhere.

    Attributes:
        factors: Number of latent factors.
        regularization: L2 weight ``lambda``.
        alpha: Confidence scale: observed pairs weigh ``alpha * r_ui``.
        iterations: ALS sweeps (users then items).
        confidence: ``"binary"`` (``r_ui = 1``) or ``"rating"`` (``r_ui`` = rating).
        use_cg: Conjugate-gradient solves (faster) instead of exact ones.
        use_native: implicit's compiled solvers.
        calculate_training_loss: Record the training loss per iteration in
            ``loss_history_`` (costs a pass per iteration).
        dtype: ``"float32"`` or ``"float64"`` factors.
        num_threads: implicit's threads (0: all cores).
        seed: Seed of the factor initialisation (implicit's ``random_state``).
        extra: Further keyword arguments of ``implicit.cpu.als.AlternatingLeastSquares``.
    """

    factors: int = 100
    regularization: float = 0.01
    alpha: float = 1.0
    iterations: int = 15
    confidence: str = "binary"
    use_cg: bool = True
    use_native: bool = True
    calculate_training_loss: bool = False
    dtype: str = "float32"
    num_threads: int = 1
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_positive_int("factors", self.factors)
        check_number("regularization", self.regularization)
        check_number("alpha", self.alpha, strict=True)
        check_positive_int("iterations", self.iterations)
        check_choice("confidence", self.confidence, list(CONFIDENCES))
        for name in ("use_cg", "use_native", "calculate_training_loss"):
            check_bool(name, getattr(self, name))
        check_choice("dtype", self.dtype, list(DTYPES))
        check_positive_int("num_threads", self.num_threads, minimum=0)
        check_seed(self.seed)
        check_extra(self.extra, reserved=_FIELDS + ["seed"], library="implicit ALS")


class ImplicitALS(FactorScoringMixin, BaseRecommender):
    """implicit's AlternatingLeastSquares (see the module docstring).

    Args:
        config: An :class:`ImplicitALSConfig`, a mapping or YAML; keyword arguments
            (its fields) override it.
        col_user, col_item, col_rating, col_prediction: Column names
            (``col_rating`` is read only with ``confidence="rating"``).
        progress: implicit's progress bar and tqdm over scoring blocks.

    Fitted attributes:
        user_factors_ (``n_users x factors``), item_factors_ (``n_items x
        factors``); item_bias_ is ``None``; loss_history_ (per-iteration training
        loss, empty unless ``calculate_training_loss``); user_ids_, item_ids_, seen_.

    Examples:
        >>> from recutils.models.implicit import ImplicitALS
        >>> model = ImplicitALS(factors=20, regularization=0.5, alpha=3,
        ...                     iterations=15, seed=42)  # doctest: +SKIP
    """

    name = "implicit_als"
    config_class = ImplicitALSConfig
    #: Python modules needed to fit (the contract tests skip without them).
    requires: ClassVar[tuple[str, ...]] = ("implicit",)
    config: ImplicitALSConfig

    @property
    def needs_rating(self) -> bool:  # type: ignore[override]
        """Ratings are read only with ``confidence="rating"``."""
        return self.config.confidence == "rating"

    @property
    def duplicates(self) -> str:  # type: ignore[override]
        """Repeated pairs: summed (counts) with rating confidence, else counted once."""
        return "sum" if self.config.confidence == "rating" else "first"

    def _train_data(self, df: pd.DataFrame) -> TrainData:
        data = super()._train_data(df)
        if self.config.confidence == "rating":
            bad = ~(data.rating > 0)
            if bad.any():
                raise DataError(
                    f"confidence='rating' needs {self.col_rating} > 0 (a count or rating); "
                    f"{int(bad.sum())} row(s) are <= 0, e.g. {data.rating[bad][:3].tolist()}. "
                    "Drop them or use confidence='binary'."
                )
        return data

    def _fit(self, data: TrainData) -> None:
        c = self.config
        cls = implicit_class(
            "als", "AlternatingLeastSquares", c.extra, _FIELDS + ["seed"], "implicit ALS"
        )
        dtype = np.dtype(c.dtype)
        matrix, u_inv, i_inv = user_items(data, data.rating, dtype=np.float32)
        losses: list[float] = []

        def record(iteration: int, elapsed: float, loss: float | None) -> None:
            if loss is not None:
                losses.append(float(loss))
            logger.debug("ALS iteration %d: %.3fs, loss %s", iteration, elapsed, loss)

        with single_threaded_blas():
            model = cls(
                factors=c.factors,
                regularization=c.regularization,
                alpha=c.alpha,
                dtype=dtype,
                use_native=c.use_native,
                use_cg=c.use_cg,
                iterations=c.iterations,
                calculate_training_loss=c.calculate_training_loss,
                num_threads=c.num_threads,
                random_state=c.seed,
                **c.extra,
            )
            logger.info(
                "implicit ALS: %d factors, %d iterations, %d threads",
                c.factors,
                c.iterations,
                c.num_threads,
            )
            model.fit(matrix, show_progress=bool(self.progress), callback=record)
        self._set_factors(
            np.asarray(model.user_factors)[u_inv], np.asarray(model.item_factors)[i_inv], None
        )
        self.loss_history_ = losses

    def _extra_state(self) -> dict[str, Any]:
        return {"loss_history": list(self.loss_history_)}

    def _set_extra_state(self, meta: Mapping[str, Any]) -> None:
        self.loss_history_ = list(meta.get("loss_history", []))

    @classmethod
    def contract_case(cls) -> ContractCase:
        params = {"factors": 8, "regularization": 0.1, "iterations": 5, "seed": 0}
        known = block_toy_case({**params, "factors": 2, "iterations": 15})
        return ContractCase(params=params, known_answer=known, stochastic=True)


__all__ = ["CONFIDENCES", "ImplicitALS", "ImplicitALSConfig"]
