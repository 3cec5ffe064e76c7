"""RLRMC and GeoIMC: rating models fitted by Riemannian conjugate gradients (pymanopt).

* :class:`RLRMC` (Riemannian low-rank matrix completion; Jawanpuria & Mishra, ICML 2018):
  the centred rating matrix is ``U B V^T`` with ``U``, ``V`` orthonormal (users x r,
  items x r) and ``B`` symmetric positive definite; the loss is the sum of squared errors
  of the observed ratings plus ``0.5 * regularization * ||B||_F^2``. The starting point is
  the rank-``r`` truncated SVD of the centred training matrix (``init="svd"``) or random.
* :class:`GeoIMC` (geometric inductive matrix completion; Jawanpuria et al., TACL 2019,
  as Microsoft Recommenders applies it to MovieLens): the rating matrix is
  ``X U B V^T Z^T`` with user features ``X`` and item features ``Z`` (rows of unit length
  with ``normalize_features``), ``U`` (user features x r) and ``V`` (item features x r)
  orthonormal, ``B`` SPD; the loss is the mean squared error of the observed ratings plus
  ``0.5 * regularization * ||B||_F^2``. Users and items are represented through their
  features, so an id that has a feature row but no rating (``cold_start``) is scored too.

The manifold, the loss and the solver are in :mod:`recutils.models.riemannian.common`.
A user's score for an item is the predicted rating ``p_u . q_i + offset`` with
``p_u = a_u U B^{1/2}``, ``q_i = c_i V B^{1/2}`` (``a_u = c_i = 1`` for RLRMC) and
``offset`` the training mean with ``mean_center`` (else 0); ranking uses the same score.
Users or items not seen in training (nor in the feature frames) get NaN from ``predict``
(one ``DataWarning``) and no recommendations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.config import BaseConfig
from recutils.exceptions import ConfigError, DataError
from recutils.models.base import BaseRecommender, ContractCase, TrainData
from recutils.models.factors import FactorScoringMixin
from recutils.models.riemannian.common import ObservedLoss, random_start, solve, spd_sqrt
from recutils.utils.validation import (
    check_bool,
    check_choice,
    check_number,
    check_positive_int,
    check_seed,
)

logger = logging.getLogger(__name__)

#: Starting points of :class:`RLRMC`.
INITS = ("svd", "random")


@dataclass
class _RiemannianConfig(BaseConfig):
    """Fields shared by :class:`RLRMCConfig` and :class:`GeoIMCConfig`."""

    rank: int = 10
    regularization: float = 1e-3
    max_iterations: int = 100
    max_time: float | None = None
    min_gradient_norm: float = 1e-6
    mean_center: bool = True
    num_threads: int | None = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        check_positive_int("rank", self.rank)
        if self.num_threads is not None:
            check_positive_int("num_threads", self.num_threads)
        check_number("regularization", self.regularization)
        check_positive_int("max_iterations", self.max_iterations)
        if self.max_time is not None:
            check_number("max_time", self.max_time, strict=True)
        check_number("min_gradient_norm", self.min_gradient_norm)
        check_bool("mean_center", self.mean_center)
        check_seed(self.seed)


@dataclass
class RLRMCConfig(_RiemannianConfig):
    """Hyper-parameters of :class:`RLRMC`; the defaults are those of Microsoft Recommenders'
    ``rlrmc_movielens`` notebook.

    Attributes:
        rank: ``r``, the rank of the completed matrix.
        regularization: Weight of ``0.5 * ||B||_F^2`` (Microsoft's ``C``).
        init: ``"svd"``: start from the truncated SVD of the centred training matrix;
            ``"random"``: a random point drawn from ``seed``.
        max_iterations: Conjugate-gradient iterations (the run also stops when the
            Riemannian gradient norm falls below ``min_gradient_norm``).
        max_time: Seconds after which the run stops (``None``: no limit; a limit makes
            the result depend on the machine's speed).
        min_gradient_norm: Stop when the Riemannian gradient is this small.
        mean_center: Fit the ratings minus their training mean (added back to scores).
        num_threads: BLAS threads during the fit (``None``: the library's default); one is
            usually fastest for these thin matrices and is reproducible bit for bit.
        seed: Seed of the random start and of the SVD's starting vector.
    """

    init: str = "svd"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("init", self.init, INITS)


@dataclass
class GeoIMCConfig(_RiemannianConfig):
    """Hyper-parameters of :class:`GeoIMC`; the defaults are those of Microsoft Recommenders'
    ``geoimc_movielens`` notebook (rank 300, regularization 1e-3, features normalised, no
    centring: the notebook fits 0/1 targets) except the stopping rule: the notebook stops
    after 1000 seconds (1,753 iterations on its machine), this model after
    ``max_iterations`` (150) so that a fit is reproducible. On that notebook's protocol 150
    iterations reach its figure (RMSE 0.4953 +- 0.0011 over 3 seeds against its 0.4964; see
    ``rlrmc_geoimc_movielens``), in about 2 minutes on a 2-core CPU.

    Attributes:
        rank, regularization, max_iterations, max_time, min_gradient_norm, num_threads, seed:
            As in :class:`RLRMCConfig` (GeoIMC always starts from a random point).
        mean_center: Fit the ratings minus their training mean.
        normalize_features: Scale every feature row to unit Euclidean length.
        user_identity_features, item_identity_features: Add one indicator feature per
            user / item (with no feature frame, the identity is the only feature, which
            makes the model plain low-rank matrix completion).
        feature_sep: Separator of multi-valued string feature columns (``"Action|Comedy"``).
        cold_start: Ids that have a feature row but no rating join the catalog and are
            scored from their features.
    """

    rank: int = 300
    max_iterations: int = 150
    mean_center: bool = False
    normalize_features: bool = True
    user_identity_features: bool = True
    item_identity_features: bool = True
    feature_sep: str | None = "|"
    cold_start: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in (
            "normalize_features",
            "user_identity_features",
            "item_identity_features",
            "cold_start",
        ):
            check_bool(name, getattr(self, name))
        if self.feature_sep is not None and (
            not isinstance(self.feature_sep, str) or not self.feature_sep
        ):
            raise ConfigError(
                f"feature_sep must be a non-empty string or None, got {self.feature_sep!r}."
            )


def _appearance_rank(codes: np.ndarray, n: int) -> np.ndarray:
    """``rank[c]``: position of code ``c`` in order of first appearance in ``codes``; codes
    that never appear (ids from feature frames only) come last, in code order."""
    order = np.concatenate([pd.unique(codes), np.setdiff1d(np.arange(n), codes)])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


class _RiemannianRecommender(FactorScoringMixin, BaseRecommender):
    """Shared fit and scoring of :class:`RLRMC` and :class:`GeoIMC`.

    Fitted attributes: ``user_factors_`` (``p_u``), ``item_factors_`` (``q_i``),
    ``offset_`` (training mean or 0), ``history_`` (``iterations``, ``cost``,
    ``stopping_criterion``, ``seconds`` of the run).
    """

    duplicates: ClassVar[str] = "error"
    needs_rating: ClassVar[bool] = True
    requires: ClassVar[tuple[str, ...]] = ("pymanopt",)
    config: _RiemannianConfig

    def _targets(self, data: TrainData) -> tuple[sp.csr_matrix, tuple[np.ndarray, np.ndarray]]:
        """The (centred) training ratings as an ``n_users x n_items`` CSR in the fit's
        numbering, and that numbering (``ranks``, see :meth:`_run`); sets ``offset_``."""
        self.offset_ = float(data.rating.mean()) if self.config.mean_center else 0.0
        ranks = (
            _appearance_rank(data.user_idx, data.n_users),
            _appearance_rank(data.item_idx, data.n_items),
        )
        y = sp.csr_matrix(
            (data.rating - self.offset_, (ranks[0][data.user_idx], ranks[1][data.item_idx])),
            shape=(data.n_users, data.n_items),
        )
        return y, ranks

    def _check_rank(self, p: int, q: int, what: str) -> None:
        rank = self.config.rank
        if rank > min(p, q):
            raise DataError(
                f"rank={rank} exceeds the {what} ({p} x {q}): the orthonormal "
                f"factors need rank <= {min(p, q)}; lower rank."
            )

    def _run(
        self,
        loss: ObservedLoss,
        start: list[np.ndarray],
        left: Any,
        right: Any,
        ranks: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Solve, then set the factors in recutils' code order.

        The fit numbers users and items in order of first appearance in the training rows
        (``ranks``: code -> that number), so that every array it builds, and hence the fit
        under a seed, is the same however the ids sort (``"u10" < "u2"``).
        """
        c = self.config
        result = solve(
            loss,
            start,
            max_iterations=c.max_iterations,
            max_time=c.max_time,
            min_gradient_norm=c.min_gradient_norm,
            num_threads=c.num_threads,
        )
        u, b, v = result.point
        root = spd_sqrt(b)
        users = u @ root if left is None else np.asarray(left @ (u @ root))
        items = v @ root if right is None else np.asarray(right @ (v @ root))
        self._set_factors(users[ranks[0]], items[ranks[1]])
        self.history_ = {
            "iterations": result.iterations,
            "cost": result.cost,
            "stopping_criterion": result.stopping_criterion,
            "seconds": result.seconds,
        }

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        return super()._score_users(user_idx, **kwargs) + self.offset_

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        kwargs.pop("frame", None)
        return super()._score_pairs(user_idx, item_idx, **kwargs) + self.offset_

    def _extra_state(self) -> dict[str, Any]:
        return {"offset": self.offset_, "history": self.history_}

    def _set_extra_state(self, meta: Mapping[str, Any]) -> None:
        offset = meta.get("offset")
        if not isinstance(offset, (int, float)) or not np.isfinite(offset):
            raise DataError(f"saved {self.name} model has an invalid offset {offset!r}.")
        self.offset_ = float(offset)
        self.history_ = dict(meta.get("history") or {})

    @classmethod
    def contract_case(cls) -> ContractCase:
        from recutils.models.dotbias.model import rating_blocks_case

        params = {"rank": 2, "max_iterations": 50, "seed": 0}
        return ContractCase(params=params, known_answer=rating_blocks_case(params), stochastic=True)


class RLRMC(_RiemannianRecommender):
    """Riemannian low-rank matrix completion (see the module docstring).

    Args:
        config: An :class:`RLRMCConfig`, a mapping or YAML; keyword arguments override it.
        col_user, col_item, col_rating, col_prediction: Column names (``col_timestamp``
            is accepted and ignored). Ratings are required; a repeated (user, item) pair
            is a :class:`~recutils.exceptions.DataError`.

    Examples:
        >>> from recutils.models.riemannian import RLRMC
        >>> model = RLRMC(rank=10, regularization=1e-3, max_iterations=100, seed=1)
        >>> model.fit(train).predict(test)  # doctest: +SKIP
    """

    name: ClassVar[str] = "rlrmc"
    config_class: ClassVar[type[RLRMCConfig]] = RLRMCConfig
    config: RLRMCConfig

    def _fit(self, data: TrainData) -> None:
        c = self.config
        self._check_rank(data.n_users, data.n_items, "user-item matrix")
        y, ranks = self._targets(data)
        rng = np.random.default_rng(c.seed)
        start = (
            self._svd_start(y, rng)
            if c.init == "svd"
            else random_start(rng, data.n_users, data.n_items, c.rank)
        )
        self._run(ObservedLoss(y, None, None, c.regularization, 1.0), start, None, None, ranks)

    def _svd_start(self, y: sp.csr_matrix, rng: np.random.Generator) -> list[np.ndarray]:
        """``[U, diag(s), V]`` of the rank-``r`` truncated SVD of ``y`` (ARPACK from a random
        starting vector; a dense SVD when ``r`` is too close to the size)."""
        rank = self.config.rank
        if rank < min(y.shape) - 1:
            from scipy.sparse.linalg import svds

            v0 = rng.uniform(-1.0, 1.0, size=min(y.shape))
            u, s, vt = svds(y, k=rank, v0=v0)
        else:
            u, s, vt = np.linalg.svd(y.toarray(), full_matrices=False)
            u, s, vt = u[:, :rank], s[:rank], vt[:rank]
        # B must be positive definite: lift (near) zero singular values
        s = np.maximum(s, 1e-6 * max(float(s.max(initial=0.0)), 1.0))
        return [np.ascontiguousarray(u), np.diag(s), np.ascontiguousarray(vt.T)]


class GeoIMC(_RiemannianRecommender):
    """Geometric inductive matrix completion with user and item features (module docstring).

    ``fit(df, user_features=None, item_features=None)``: the feature frames have one row
    per id (``col_user`` / ``col_item``) and feature columns, read as LightFM's are
    (:func:`recutils.models.lightfm.features.build_feature_matrix`: string, integer and
    category columns are one-hot, ``feature_sep``-joined strings multi-hot, float
    columns numeric). Every id of the ratings must have a row
    (:class:`~recutils.exceptions.DataError` otherwise). Without frames the identity
    features make the model plain low-rank matrix completion.

    Args:
        config: A :class:`GeoIMCConfig`, a mapping or YAML; keyword arguments override it.
        col_user, col_item, col_rating, col_prediction: Column names.

    Fitted attributes, besides those of RLRMC: ``user_feature_names_``,
    ``item_feature_names_``, ``cold_users_``, ``cold_items_`` (ids added from the
    feature frames).

    Examples:
        >>> from recutils.models.riemannian import GeoIMC
        >>> model = GeoIMC(rank=300, regularization=1e-3, seed=1)
        >>> model.fit(train, user_features=users, item_features=items)  # doctest: +SKIP
    """

    name: ClassVar[str] = "geoimc"
    config_class: ClassVar[type[GeoIMCConfig]] = GeoIMCConfig
    config: GeoIMCConfig

    def fit(
        self,
        df: pd.DataFrame,
        user_features: pd.DataFrame | None = None,
        item_features: pd.DataFrame | None = None,
    ) -> GeoIMC:
        """Fit on ratings ``df`` and optional feature frames; return ``self``.

        Raises:
            ColumnMismatchError: a frame lacks its id column, ``df`` its rating column.
            DataError: a feature frame misses an id of ``df`` or repeats one; ``rank``
                exceeds the number of user or item features.
        """
        for name, frame in (("user_features", user_features), ("item_features", item_features)):
            if frame is not None and not isinstance(frame, pd.DataFrame):
                raise DataError(f"{name} must be a DataFrame or None, got {type(frame).__name__}.")
        return self._fit_frames(df, user_features=user_features, item_features=item_features)

    def _with_side_frames(self, data: TrainData) -> TrainData:
        """With ``cold_start``, ids that only the feature frames hold join the id maps."""
        self.cold_users_ = self.user_ids_[:0]
        self.cold_items_ = self.item_ids_[:0]
        if not self.config.cold_start:
            return data
        user_idx, n_users = self._join("user", data.user_features, self.col_user, data.user_idx)
        item_idx, n_items = self._join("item", data.item_features, self.col_item, data.item_idx)
        return replace(data, user_idx=user_idx, item_idx=item_idx, n_users=n_users, n_items=n_items)

    def _join(
        self, what: str, frame: pd.DataFrame | None, col: str, codes: np.ndarray
    ) -> tuple[np.ndarray, int]:
        """Add the ids of ``frame`` without ratings to the ``what`` id map; recode ``codes``."""
        old: pd.Index = getattr(self, f"{what}_ids_")
        if frame is None or col not in frame:
            return codes, len(old)
        extra = pd.Index(pd.unique(frame[col])).difference(old, sort=False)
        if extra.empty:
            return codes, len(old)
        try:
            new = old.append(extra).sort_values()
        except TypeError:  # ids of mixed types: keep the training order, extras last
            new = old.append(extra)
        setattr(self, f"{what}_ids_", new)
        setattr(self, f"cold_{what}s_", extra)
        logger.info(
            "%d %s(s) without ratings join the catalog from their features", len(extra), what
        )
        return new.get_indexer(old)[codes].astype(np.int64), len(new)

    def _features(
        self, frame: pd.DataFrame | None, ids: pd.Index, col: str, what: str, identity: bool
    ) -> tuple[sp.csr_matrix, list[str]]:
        from recutils.models.lightfm.features import build_feature_matrix

        if frame is None and not identity:
            raise DataError(
                f"GeoIMC needs {what} features: pass {what}_features or set "
                f"{what}_identity_features=True."
            )
        x, names = build_feature_matrix(
            frame, ids, col, what, identity=identity, normalize=False, sep=self.config.feature_sep
        )
        x = sp.csr_matrix(x, dtype=np.float64)
        if self.config.normalize_features:
            norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
            norms[norms == 0] = 1.0
            x = sp.csr_matrix(sp.diags(1.0 / norms) @ x)
        return x, list(names)

    def _fit(self, data: TrainData) -> None:
        c = self.config
        y, ranks = self._targets(data)
        # feature rows (and identity columns) in the fit's numbering (see _run)
        user_order, item_order = np.argsort(ranks[0]), np.argsort(ranks[1])
        x, self.user_feature_names_ = self._features(
            data.user_features,
            self.user_ids_[user_order],
            self.col_user,
            "user",
            c.user_identity_features,
        )
        z, self.item_feature_names_ = self._features(
            data.item_features,
            self.item_ids_[item_order],
            self.col_item,
            "item",
            c.item_identity_features,
        )
        self._check_rank(x.shape[1], z.shape[1], "feature space")
        start = random_start(np.random.default_rng(c.seed), x.shape[1], z.shape[1], c.rank)
        loss = ObservedLoss(y, x, z, c.regularization, 1.0 / max(y.nnz, 1))
        logger.info(
            "GeoIMC: %d x %d user features, %d x %d item features, rank %d",
            *x.shape,
            *z.shape,
            c.rank,
        )
        self._run(loss, start, x, z, ranks)

    def _extra_state(self) -> dict[str, Any]:
        return {
            **super()._extra_state(),
            "user_feature_names": list(self.user_feature_names_),
            "item_feature_names": list(self.item_feature_names_),
            "n_cold_users": len(self.cold_users_),
            "n_cold_items": len(self.cold_items_),
        }

    def _set_extra_state(self, meta: Mapping[str, Any]) -> None:
        super()._set_extra_state(meta)
        self.user_feature_names_ = list(meta.get("user_feature_names", []))
        self.item_feature_names_ = list(meta.get("item_feature_names", []))
        # cold ids are those without a training rating
        seen_users = np.diff(self.seen_.indptr) > 0
        seen_items = np.bincount(self.seen_.indices, minlength=len(self.item_ids_)) > 0
        self.cold_users_ = self.user_ids_[~seen_users]
        self.cold_items_ = self.item_ids_[~seen_items]
        if (len(self.cold_users_), len(self.cold_items_)) != (
            int(meta.get("n_cold_users", 0)),
            int(meta.get("n_cold_items", 0)),
        ):
            raise DataError("saved GeoIMC model is inconsistent: cold id counts differ.")


__all__ = ["GeoIMC", "GeoIMCConfig", "INITS", "RLRMC", "RLRMCConfig"]
