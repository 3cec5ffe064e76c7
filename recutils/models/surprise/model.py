"""scikit-surprise SVD, SVD++, NMF and KNNBaseline behind the recutils contract.

One wrapper (:class:`SurpriseRecommender`) trains the wrapped surprise algorithm
on a ``Trainset`` built from the training rows (in input order, as
``surprise.Dataset.load_from_df(...).build_full_trainset()`` does), copies what
scoring needs into plain numpy arrays indexed by recutils' item/user codes, and
then scores **every** item of a block of users at once, never calling
surprise's ``predict`` once per pair. With ``mu`` the global mean rating,
``b_u``/``b_i`` the biases, ``p_u``/``q_i`` the factors and ``I_u`` the
training items of ``u``:

* **SVD** (``surprise_svd``): ``r(u, i) = mu + b_u + b_i + q_i . p_u``
  (``q_i . p_u`` alone when ``biased=False``).
* **SVD++** (``surprise_svdpp``):
  ``r(u, i) = mu + b_u + b_i + q_i . (p_u + |I_u|^(-1/2) sum_{j in I_u} y_j)``;
  the implicit term is one sparse product ``N Y`` with ``N[u, j] = |I_u|^(-1/2)``.
* **NMF** (``surprise_nmf``): ``r(u, i) = q_i . p_u`` (plus ``mu + b_u + b_i``
  when ``biased=True``).
* **KNNBaseline** (``surprise_knnbaseline``), with ``b_ui = mu + b_u + b_i``:
  ``r(u, i) = b_ui + sum_{v in N_k} s(x, v) (r_v - b_v) / sum_{v in N_k} s(x, v)``
  where, item-based, ``x = i`` and the candidates ``v`` are the items ``j`` the
  user rated (``r_v = r_uj``, ``b_v = b_uj``); user-based, ``x = u`` and the
  candidates are the users ``v`` who rated ``i`` (``r_v = r_vi``,
  ``b_v = b_vi``). Exactly surprise's rule: ``N_k`` is the ``k`` candidates of
  largest similarity (ties: the earlier training row first, as ``heapq.nlargest``
  over surprise's rating lists), of which only those with ``s > 0`` count; with
  fewer than ``min_k`` of them the neighbour term is 0, and it is 0 when no
  similarity is positive. Vectorized: item-based, per user, on the
  ``n_items x |I_u|`` similarity block; user-based, per item, on the
  ``block_users x |U_i|`` block: a row-wise ``np.partition`` finds the k-th
  largest similarity, ties at it are taken in list order by a cumulative count,
  and the term is a masked matrix-vector product.

``predict`` clips to ``rating_scale`` as surprise's ``predict(clip=True)`` does
(``clip=False`` turns it off); ``recommend_k_items`` ranks by the unclipped
scores unless ``clip_ranking=True`` (clipping makes every item above the scale
tie at its top, which loses ranking information). Both use the same formulas, and
a test checks them against surprise's ``predict`` to ``1e-9``.

Policies:

* Ratings outside ``rating_scale`` (surprise's ``Reader(rating_scale=...)``,
  default ``(1, 5)``; ``None``: the training min and max) raise
  :class:`~recutils.exceptions.DataError`: surprise itself would silently clip
  its predictions to a wrong scale.
* Duplicate (user, item) rows raise :class:`~recutils.exceptions.DataError`.
* Users not seen in training get surprise's own estimate for an unknown user,
  ``mu + b_i``, in ``recommend_k_items`` (with a warning; unbiased SVD/NMF skip
  them); ``predict`` gives ``NaN`` for unknown users or items (surprise would
  give a default).
* ``seed`` is surprise's ``random_state`` (KNNBaseline is deterministic).

Saving writes the arrays above (factors, biases, and for KNNBaseline the
similarity matrix, baselines and the training ratings); nothing is pickled. The
surprise object itself (``algo_``) is only available in the session that fitted
the model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.config import BaseConfig
from recutils.exceptions import ConfigError, DataError
from recutils.models import persistence
from recutils.models.base import BaseRecommender, ContractCase, TrainData
from recutils.models.factors import check_factor_arrays
from recutils.models.surprise._knn import NeighbourTerms, dense_ranking
from recutils.utils.deps import require
from recutils.utils.validation import check_bool, check_positive_int, is_number

logger = logging.getLogger(__name__)

#: recutils extra that installs scikit-surprise.
EXTRA = "surprise"
#: Config fields handled by recutils (never passed to surprise).
_RECUTILS_FIELDS = ("rating_scale", "clip", "clip_ranking", "seed")


def import_surprise() -> Any:
    """The ``surprise`` module, or :class:`MissingDependencyError` naming the extra."""
    return require("surprise", EXTRA, package="scikit-surprise")


def _check_optional_float(name: str, value: Any) -> None:
    if value is not None and not is_number(value):
        raise ConfigError(f"{name} must be a number or None, got {value!r}.")


@dataclass
class SurpriseBaseConfig(BaseConfig):
    """Options every surprise wrapper shares.

    Attributes:
        rating_scale: ``(low, high)`` of surprise's ``Reader``: predictions are
            clipped to it, and training ratings outside it raise ``DataError``.
            ``None``: the training minimum and maximum.
        clip: Clip ``predict`` to ``rating_scale`` (surprise's ``clip=True``).
        clip_ranking: Also clip the scores ``recommend_k_items`` ranks by.
    """

    rating_scale: tuple[float, float] | None = (1.0, 5.0)
    clip: bool = True
    clip_ranking: bool = False

    def __post_init__(self) -> None:
        scale = self.rating_scale
        if scale is not None:
            if (
                not isinstance(scale, (list, tuple))
                or len(scale) != 2
                or not all(is_number(v) for v in scale)
                or not float(scale[0]) < float(scale[1])
            ):
                raise ConfigError(
                    f"rating_scale must be None or (low, high) numbers with low < high, "
                    f"got {scale!r}."
                )
            self.rating_scale = (float(scale[0]), float(scale[1]))
        for name in ("clip", "clip_ranking"):
            check_bool(name, getattr(self, name))

    def algo_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the surprise constructor (``seed`` -> ``random_state``)."""
        out = {k: v for k, v in self.to_dict().items() if k not in _RECUTILS_FIELDS}
        if "seed" in self.field_names():
            out["random_state"] = self.seed
        return out


@dataclass
class SurpriseSVDConfig(SurpriseBaseConfig):
    """``surprise.SVD`` options (surprise's names and defaults; ``seed`` = ``random_state``).

    ``lr_*``/``reg_*`` left ``None`` take ``lr_all``/``reg_all``.

    The MovieLens benchmark (``recutils/benchmark/specs/movielens.yaml``) runs Microsoft
    Recommenders' settings, ``n_factors=150`` and ``n_epochs=15``, to compare with their
    table (RMSE 0.9437 on MovieLens 100k). surprise's defaults are kept: on the same split
    (seed 0) they do better, RMSE 0.9369.
    """

    n_factors: int = 100
    n_epochs: int = 20
    biased: bool = True
    init_mean: float = 0.0
    init_std_dev: float = 0.1
    lr_all: float = 0.005
    reg_all: float = 0.02
    lr_bu: float | None = None
    lr_bi: float | None = None
    lr_pu: float | None = None
    lr_qi: float | None = None
    reg_bu: float | None = None
    reg_bi: float | None = None
    reg_pu: float | None = None
    reg_qi: float | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("n_factors", self.n_factors)
        check_positive_int("n_epochs", self.n_epochs, 0)
        for name in ("lr_bu", "lr_bi", "lr_pu", "lr_qi", "reg_bu", "reg_bi", "reg_pu", "reg_qi"):
            _check_optional_float(name, getattr(self, name))


@dataclass
class SurpriseSVDppConfig(SurpriseBaseConfig):
    """``surprise.SVDpp`` options (surprise's names and defaults; ``seed`` = ``random_state``)."""

    n_factors: int = 20
    n_epochs: int = 20
    init_mean: float = 0.0
    init_std_dev: float = 0.1
    lr_all: float = 0.007
    reg_all: float = 0.02
    lr_bu: float | None = None
    lr_bi: float | None = None
    lr_pu: float | None = None
    lr_qi: float | None = None
    lr_yj: float | None = None
    reg_bu: float | None = None
    reg_bi: float | None = None
    reg_pu: float | None = None
    reg_qi: float | None = None
    reg_yj: float | None = None
    cache_ratings: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("n_factors", self.n_factors)
        check_positive_int("n_epochs", self.n_epochs, 0)


@dataclass
class SurpriseNMFConfig(SurpriseBaseConfig):
    """``surprise.NMF`` options (surprise's names and defaults; ``seed`` = ``random_state``)."""

    n_factors: int = 15
    n_epochs: int = 50
    biased: bool = False
    reg_pu: float = 0.06
    reg_qi: float = 0.06
    reg_bu: float = 0.02
    reg_bi: float = 0.02
    lr_bu: float = 0.005
    lr_bi: float = 0.005
    init_low: float = 0.0
    init_high: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("n_factors", self.n_factors)
        check_positive_int("n_epochs", self.n_epochs, 0)


_SIM_NAMES = ("cosine", "msd", "pearson", "pearson_baseline")
_SIM_KEYS = ("name", "user_based", "min_support", "shrinkage")
_BSL_KEYS = ("method", "n_epochs", "reg_u", "reg_i", "reg", "learning_rate")


@dataclass
class SurpriseKNNBaselineConfig(SurpriseBaseConfig):
    """``surprise.KNNBaseline`` options (surprise's names and defaults).

    Attributes:
        k: Maximum number of neighbours.
        min_k: Minimum number of (positive-similarity) neighbours for the
            neighbour term; fewer gives the baseline alone.
        sim_options: surprise's similarity options: ``name`` (one of ``cosine``,
            ``msd`` (default), ``pearson``, ``pearson_baseline``), ``user_based``
            (default ``True``), ``min_support``, ``shrinkage``.
        bsl_options: surprise's baseline options: ``method`` (``als`` or
            ``sgd``), ``n_epochs``, ``reg_u``, ``reg_i``, ``reg``, ``learning_rate``.
    """

    k: int = 40
    min_k: int = 1
    sim_options: dict[str, Any] = field(default_factory=dict)
    bsl_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("k", self.k)
        check_positive_int("min_k", self.min_k, 0)
        for name, allowed in (("sim_options", _SIM_KEYS), ("bsl_options", _BSL_KEYS)):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise ConfigError(f"{name} must be a mapping, got {value!r}.")
            unknown = [key for key in value if key not in allowed]
            if unknown:
                raise ConfigError(f"unknown {name} key(s) {unknown}; allowed: {list(allowed)}.")
            setattr(self, name, dict(value))
        sim_name = self.sim_options.get("name", "msd")
        if sim_name not in _SIM_NAMES:
            raise ConfigError(f"sim_options name={sim_name!r}; allowed: {list(_SIM_NAMES)}.")
        method = self.bsl_options.get("method", "als")
        if method not in ("als", "sgd"):
            raise ConfigError(f"bsl_options method={method!r}; allowed: ['als', 'sgd'].")

    @property
    def user_based(self) -> bool:
        """Whether neighbours are users (surprise's default) or items."""
        return bool(self.sim_options.get("user_based", True))

    def algo_kwargs(self) -> dict[str, Any]:
        out = super().algo_kwargs()
        out["verbose"] = False
        return out


def _inverse_permutation(codes_of_inner: np.ndarray) -> np.ndarray:
    inner_of_code = np.empty_like(codes_of_inner)
    inner_of_code[codes_of_inner] = np.arange(codes_of_inner.size, dtype=codes_of_inner.dtype)
    return inner_of_code


class SurpriseRecommender(BaseRecommender):
    """Base of the surprise wrappers (see the module docstring for formulas and policies).

    Subclasses set ``algorithm`` (the surprise class name) and ``config_class``
    and supply ``_copy_state(algo, trainset, inner_u, inner_i)`` and
    ``_raw_scores(user_idx)``.

    Fitted attributes (all subclasses):
        algo_: The fitted surprise algorithm (this session only; not saved).
        global_mean_: ``mu``.
        rating_scale_: ``(low, high)`` used for clipping.
    """

    name = "surprise"
    algorithm: ClassVar[str] = ""
    duplicates = "error"
    needs_rating = True
    #: Importable modules the model needs (the contract test skips without them).
    requires: ClassVar[tuple[str, ...]] = ("surprise",)

    # ---------------------------------------------------------------------- fit
    def _check_scale(self, rating: np.ndarray) -> tuple[float, float]:
        scale = self.config.rating_scale
        if scale is None:
            lo, hi = float(rating.min()), float(rating.max())
            if lo == hi:
                hi = lo + 1.0
            return lo, hi
        lo, hi = scale
        bad = (rating < lo) | (rating > hi)
        if bad.any():
            raise DataError(
                f"{int(bad.sum())} rating(s) outside rating_scale {scale} (observed range "
                f"{rating.min():g}..{rating.max():g}, e.g. {rating[bad][:3].tolist()}); pass "
                "rating_scale=(low, high) matching the data, or rating_scale=None to use the "
                "training range."
            )
        return lo, hi

    def _fit(self, data: TrainData) -> None:
        surprise = import_surprise()
        self.rating_scale_ = self._check_scale(data.rating)
        frame = pd.DataFrame({"u": data.user_idx, "i": data.item_idx, "r": data.rating})
        reader = surprise.Reader(rating_scale=self.rating_scale_)
        trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
        algo = getattr(surprise, self.algorithm)(**self.config.algo_kwargs())
        logger.info("training surprise.%s on %d ratings", self.algorithm, data.rating.size)
        algo.fit(trainset)
        inner_u = _inverse_permutation(
            np.array([trainset.to_raw_uid(k) for k in range(trainset.n_users)], dtype=np.int64)
        )
        inner_i = _inverse_permutation(
            np.array([trainset.to_raw_iid(k) for k in range(trainset.n_items)], dtype=np.int64)
        )
        self.algo_ = algo
        self.global_mean_ = float(trainset.global_mean)
        self._copy_state(algo, trainset, inner_u, inner_i, data)
        self._prepare()

    def _copy_state(
        self, algo: Any, trainset: Any, inner_u: np.ndarray, inner_i: np.ndarray, data: TrainData
    ) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _prepare(self) -> None:
        """Derived arrays used for scoring (after fit and load)."""

    # ------------------------------------------------------------------ scoring
    def _raw_scores(self, user_idx: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _clip(self, scores: np.ndarray) -> np.ndarray:
        lo, hi = self.rating_scale_
        return np.clip(scores, lo, hi, out=scores)

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        scores = self._raw_scores(user_idx)
        return self._clip(scores) if self.config.clip_ranking else scores

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        out = np.empty(user_idx.size, dtype=np.float64)
        if user_idx.size == 0:
            return out
        uniq, inverse = np.unique(user_idx, return_inverse=True)

        def block(sl: slice) -> None:
            scores = self._raw_scores(uniq[sl])
            mask = (inverse >= sl.start) & (inverse < sl.stop)
            out[mask] = scores[inverse[mask] - sl.start, item_idx[mask]]

        self._map_blocks(block, uniq.size, "predict")
        return self._clip(out) if self.config.clip else out

    def _unknown_user_scores(self, **kwargs: Any) -> np.ndarray | None:
        """surprise's estimate for an unknown user: ``mu + b_i`` (``None`` if unbiased)."""
        if not getattr(self.config, "biased", True):
            return None
        scores = self.global_mean_ + self.item_bias_
        return self._clip(scores.copy()) if self.config.clip_ranking else scores

    # ---------------------------------------------------------------- save/load
    _STATE_ARRAYS: ClassVar[tuple[str, ...]] = ()

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {name: getattr(self, name + "_") for name in self._STATE_ARRAYS}
        meta = {"global_mean": self.global_mean_, "rating_scale": list(self.rating_scale_)}
        return arrays, meta

    def _check_state(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Check the saved arrays of :attr:`_STATE_ARRAYS` before use: the biases here,
        a subclass its own arrays (``super()`` first)."""
        persistence.check_array(arrays, "user_bias", persistence.NUMBER, (len(self.user_ids_),))
        persistence.check_array(arrays, "item_bias", persistence.NUMBER, (len(self.item_ids_),))

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        self._check_state(arrays)
        for name in self._STATE_ARRAYS:
            setattr(self, name + "_", np.asarray(arrays[name]))
        self.global_mean_ = float(meta["global_mean"])
        self.rating_scale_ = tuple(float(v) for v in meta["rating_scale"])
        self._prepare()

    @classmethod
    def contract_case(cls) -> ContractCase:
        return ContractCase(params={"n_epochs": 5, "n_factors": 4, "seed": 0}, stochastic=True)


class _FactorModel(SurpriseRecommender):
    """SVD / NMF: ``mu + b_u + b_i + q_i . p_u`` (biases only when ``biased``)."""

    _STATE_ARRAYS = ("user_bias", "item_bias", "user_factors", "item_factors")

    def _copy_state(
        self, algo: Any, trainset: Any, inner_u: np.ndarray, inner_i: np.ndarray, data: TrainData
    ) -> None:
        self.user_bias_ = np.asarray(algo.bu, dtype=np.float64)[inner_u]
        self.item_bias_ = np.asarray(algo.bi, dtype=np.float64)[inner_i]
        self.user_factors_ = np.asarray(algo.pu, dtype=np.float64)[inner_u]
        self.item_factors_ = np.asarray(algo.qi, dtype=np.float64)[inner_i]

    def _check_state(self, arrays: Mapping[str, np.ndarray]) -> None:
        super()._check_state(arrays)
        k = check_factor_arrays(arrays, len(self.user_ids_), len(self.item_ids_))
        if "implicit_factors" in self._STATE_ARRAYS:
            persistence.check_array(
                arrays, "implicit_factors", persistence.NUMBER, (len(self.item_ids_), k)
            )

    def _user_vectors(self, user_idx: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_idx]

    def _raw_scores(self, user_idx: np.ndarray) -> np.ndarray:
        dot = self._user_vectors(user_idx) @ self.item_factors_.T
        if not getattr(self.config, "biased", True):
            return dot
        # same order of additions as surprise's estimate: ((mu + b_u) + b_i) + dot
        base = (self.global_mean_ + self.user_bias_[user_idx])[:, None] + self.item_bias_[None, :]
        return base + dot


class SurpriseSVD(_FactorModel):
    """surprise's SVD (Funk's biased matrix factorization by SGD).

    ``r(u, i) = mu + b_u + b_i + q_i . p_u``, minimising
    ``sum (r_ui - r(u, i))^2 + reg (b_u^2 + b_i^2 + |p_u|^2 + |q_i|^2)``.

    Examples:
        >>> from recutils.testing import toy_interactions
        >>> model = SurpriseSVD(n_factors=4, n_epochs=5, seed=0).fit(toy_interactions())
        >>> model.recommend_k_items([0], top_k=2)["rank"].tolist()
        [1, 2]
    """

    name = "surprise_svd"
    algorithm = "SVD"
    config_class = SurpriseSVDConfig
    config: SurpriseSVDConfig


class SurpriseNMF(_FactorModel):
    """surprise's NMF: non-negative factors by multiplicative SGD updates.

    ``r(u, i) = q_i . p_u`` with ``p_u, q_i >= 0`` (plus ``mu + b_u + b_i`` when
    ``biased=True``).
    """

    name = "surprise_nmf"
    algorithm = "NMF"
    config_class = SurpriseNMFConfig
    config: SurpriseNMFConfig


class SurpriseSVDpp(_FactorModel):
    """surprise's SVD++: SVD plus implicit feedback from the set of rated items.

    ``r(u, i) = mu + b_u + b_i + q_i . (p_u + |I_u|^(-1/2) sum_{j in I_u} y_j)``.
    """

    name = "surprise_svdpp"
    algorithm = "SVDpp"
    config_class = SurpriseSVDppConfig
    config: SurpriseSVDppConfig
    _STATE_ARRAYS = _FactorModel._STATE_ARRAYS + ("implicit_factors",)

    def _copy_state(
        self, algo: Any, trainset: Any, inner_u: np.ndarray, inner_i: np.ndarray, data: TrainData
    ) -> None:
        super()._copy_state(algo, trainset, inner_u, inner_i, data)
        self.implicit_factors_ = np.asarray(algo.yj, dtype=np.float64)[inner_i]

    def _prepare(self) -> None:
        # |I_u|^(-1/2) sum_{j in I_u} y_j for every user, from the training pairs
        seen = sp.csr_matrix(self.seen_, dtype=np.float64)
        counts = np.diff(seen.indptr).astype(np.float64)
        norm = sp.diags(1.0 / np.sqrt(np.maximum(counts, 1.0))) @ seen
        self._user_vectors_full = self.user_factors_ + norm @ self.implicit_factors_

    def _user_vectors(self, user_idx: np.ndarray) -> np.ndarray:
        return self._user_vectors_full[user_idx]


class SurpriseKNNBaseline(SurpriseRecommender):
    """surprise's KNNBaseline: baseline plus a similarity-weighted mean of neighbour residuals.

    See the module docstring for the exact rule (``k``, ``min_k``, positive
    similarities only, ties). Stored for scoring: the baselines ``b_u``, ``b_i``,
    the similarity matrix (users or items, recutils code order) and the training
    ratings in their input order (which fixes surprise's tie order).
    """

    name = "surprise_knnbaseline"
    algorithm = "KNNBaseline"
    config_class = SurpriseKNNBaselineConfig
    config: SurpriseKNNBaselineConfig
    _STATE_ARRAYS = (
        "user_bias",
        "item_bias",
        "similarity",
        "train_user",
        "train_item",
        "train_rating",
    )

    def _copy_state(
        self, algo: Any, trainset: Any, inner_u: np.ndarray, inner_i: np.ndarray, data: TrainData
    ) -> None:
        self.user_bias_ = np.asarray(algo.bu, dtype=np.float64)[inner_u]
        self.item_bias_ = np.asarray(algo.bi, dtype=np.float64)[inner_i]
        inner = inner_u if self.config.user_based else inner_i
        self.similarity_ = np.asarray(algo.sim, dtype=np.float64)[np.ix_(inner, inner)]
        self.train_user_ = data.user_idx.copy()
        self.train_item_ = data.item_idx.copy()
        self.train_rating_ = data.rating.copy()

    def _check_state(self, arrays: Mapping[str, np.ndarray]) -> None:
        super()._check_state(arrays)
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        n = n_users if self.config.user_based else n_items
        persistence.check_array(arrays, "similarity", persistence.NUMBER, (n, n))
        users = persistence.check_array(
            arrays, "train_user", persistence.INTEGER, (None,), bounds=(0, max(n_users, 1))
        )
        persistence.check_array(
            arrays, "train_item", persistence.INTEGER, users.shape, bounds=(0, max(n_items, 1))
        )
        persistence.check_array(arrays, "train_rating", persistence.NUMBER, users.shape)

    def _prepare(self) -> None:
        u, i = self.train_user_, self.train_item_
        # residual of each training rating from its baseline: r - (mu + b_u + b_i)
        resid = self.train_rating_ - ((self.global_mean_ + self.user_bias_[u]) + self.item_bias_[i])
        # group rows by the "other" axis keeping their input order (surprise's list order)
        key = i if self.config.user_based else u
        n_groups = len(self.item_ids_) if self.config.user_based else len(self.user_ids_)
        order = np.argsort(key, kind="stable")
        self._grp_ptr = np.concatenate([[0], np.cumsum(np.bincount(key, minlength=n_groups))])
        self._grp_nb = (u if self.config.user_based else i)[order]
        self._grp_resid = resid[order]
        self._resid = resid
        self._user_terms: NeighbourTerms | None = None
        # each anchor's candidates in descending similarity, for the ranking kernel
        self._ranking = dense_ranking(self.similarity_)

    def _user_based_terms(self) -> NeighbourTerms:
        """The neighbour-term kernel of the user-based model: anchors are users, groups the
        items (their raters are the candidates); built once."""
        if self._user_terms is None:
            c = self.config
            self._user_terms = NeighbourTerms(
                self.train_user_,
                self.train_item_,
                self._resid,
                len(self.user_ids_),
                len(self.item_ids_),
                c.k,
                c.min_k,
            )
        return self._user_terms

    def _item_based_terms(self, users: np.ndarray) -> NeighbourTerms:
        """The neighbour-term kernel of the item-based model for ``users`` (distinct): anchors
        are items, groups the given users (their rated items are the candidates)."""
        c = self.config
        slot = np.full(len(self.user_ids_), -1, dtype=np.int64)
        slot[users] = np.arange(users.size)
        rows = slot[self.train_user_] >= 0
        return NeighbourTerms(
            self.train_item_[rows],
            slot[self.train_user_[rows]],
            self._resid[rows],
            len(self.item_ids_),
            users.size,
            c.k,
            c.min_k,
        )

    @staticmethod
    def _neighbour_term(sim: np.ndarray, resid: np.ndarray, k: int, min_k: int) -> np.ndarray:
        """Neighbour term of each row of ``sim`` (candidates in surprise's list order).

        Row ``x``: the ``k`` largest similarities (ties: lower column first, which is
        ``heapq.nlargest``'s stable order), of those the positive ones ``P``;
        ``sum_P s r / sum_P s`` when ``|P| >= min_k`` and ``sum_P s != 0``, else 0.
        Found with a partition (O(columns) per row), not a sort.
        """
        positive = sim > 0
        if sim.shape[1] > k:
            kth = -np.partition(-sim, k - 1, axis=1)[:, k - 1 : k]  # k-th largest per row
            greater = sim > kth
            equal = sim == kth
            need = k - greater.sum(axis=1, keepdims=True)
            chosen = greater | (equal & (np.cumsum(equal, axis=1) <= need))
            positive &= chosen
        w = np.where(positive, sim, 0.0)
        num = w @ resid
        den = w.sum(axis=1)
        cnt = positive.sum(axis=1)
        ok = (cnt >= min_k) & (den != 0)
        return np.where(ok, num / np.where(den != 0, den, 1.0), 0.0)

    def _raw_scores(self, user_idx: np.ndarray) -> np.ndarray:
        """Scores of every item for ``user_idx``: baselines plus the vectorized neighbour terms
        (:class:`recutils.models.surprise._knn.NeighbourTerms`)."""
        out = (self.global_mean_ + self.user_bias_[user_idx])[:, None] + self.item_bias_[None, :]
        if self.config.user_based:
            # anchors: the users; groups: the items (their raters are the candidates)
            ranks, sim_of_rank = self._ranking
            out += self._user_based_terms()(
                self.similarity_[user_idx], (ranks[user_idx], sim_of_rank[user_idx])
            )
        else:
            # anchors: every item; groups: the users (their rated items are the candidates)
            uniq, inverse = np.unique(user_idx, return_inverse=True)
            out += self._item_based_terms(uniq)(self.similarity_, self._ranking).T[inverse]
        return out

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        if self.config.user_based:
            return super()._score_pairs(user_idx, item_idx, **kwargs)
        # item-based: per user, only the requested items' similarity rows
        k, min_k = self.config.k, self.config.min_k
        ptr, nb, resid = self._grp_ptr, self._grp_nb, self._grp_resid
        out = (self.global_mean_ + self.user_bias_[user_idx]) + self.item_bias_[item_idx]
        order = np.argsort(user_idx, kind="stable")
        bounds = np.flatnonzero(np.diff(user_idx[order])) + 1
        for rows in np.split(order, bounds):
            if rows.size == 0:
                continue
            user = int(user_idx[rows[0]])
            sl = slice(ptr[user], ptr[user + 1])
            sim = self.similarity_[item_idx[rows]][:, nb[sl]]
            out[rows] += self._neighbour_term(sim, resid[sl], k, min_k)
        return self._clip(out) if self.config.clip else out

    @classmethod
    def contract_case(cls) -> ContractCase:
        return ContractCase(
            params={"k": 5, "sim_options": {"name": "pearson_baseline", "user_based": False}}
        )


__all__ = [
    "SurpriseBaseConfig",
    "SurpriseKNNBaseline",
    "SurpriseKNNBaselineConfig",
    "SurpriseNMF",
    "SurpriseNMFConfig",
    "SurpriseRecommender",
    "SurpriseSVD",
    "SurpriseSVDConfig",
    "SurpriseSVDpp",
    "SurpriseSVDppConfig",
    "import_surprise",
]
