"""LightFM (warp, bpr, logistic, warp-kos) with user and item features, behind the contract.

LightFM represents a user (item) as the sum of the embeddings of its features:
with ``f_u`` the user's feature row (identity indicator and/or side features,
row-normalised) and ``E_U``/``b_U`` the feature embeddings/biases,

* ``e_u = f_u E_U``, ``b_u = f_u b_U`` (and ``e_i = f_i E_I``, ``b_i = f_i b_I``);
* ``score(u, i) = e_u . e_i + b_u + b_i``.

Identity features only is plain matrix factorization (pure collaborative
filtering); side features only is a content model; both is the hybrid. An item
with no interactions but a feature row still gets a representation from its
features: pass it in ``item_features`` and it joins the catalog (``cold_start``),
so ``recommend_k_items`` can return it. Users likewise.

Losses (LightFM's): ``warp`` (sample negatives until one outranks the positive;
step weighted by ``log(floor((n_items - 1) / n_draws))``), ``warp-kos``
(k-th of ``n`` positives), ``bpr`` (``log sigma(s_pos - s_neg)``), ``logistic``
(pointwise, needs negatives: rows with ``rating < positive_threshold`` become
``-1``).

Scoring is vectorized from the learned representations
(``model.get_user_representations`` / ``get_item_representations`` at fit time),
which are the only arrays saved: no pickle, and the loaded model scores exactly as
the fitted one. Training uses ``num_threads`` threads (set explicitly; results are
only bit-for-bit reproducible under a ``seed`` with ``num_threads=1``, since
LightFM's parallel SGD is lock-free).
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
from recutils.exceptions import ConfigError, DataError, NotFittedError
from recutils.models import persistence
from recutils.models.base import BaseRecommender, ContractCase, TrainData
from recutils.models.factors import check_factor_arrays
from recutils.models.lightfm.features import build_feature_matrix
from recutils.utils.deps import require
from recutils.utils.validation import check_number, check_positive_int, is_number

logger = logging.getLogger(__name__)

#: recutils extra that installs the LightFM fork.
EXTRA = "lightfm"
#: LightFM's losses.
LOSSES = ("warp", "bpr", "logistic", "warp-kos")
#: LightFM's learning schedules.
SCHEDULES = ("adagrad", "adadelta")
#: Config fields passed to the ``LightFM`` constructor.
_LIGHTFM_ARGS = (
    "no_components",
    "k",
    "n",
    "learning_schedule",
    "loss",
    "learning_rate",
    "rho",
    "epsilon",
    "item_alpha",
    "user_alpha",
    "max_sampled",
)


def import_lightfm() -> Any:
    """The ``lightfm`` module, or :class:`MissingDependencyError` naming the extra."""
    return require("lightfm", EXTRA, package="rectools-lightfm")


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    check_positive_int(name, value, minimum)


def _non_negative(name: str, value: Any) -> None:
    check_number(name, value)


@dataclass
class LightFMConfig(BaseConfig):
    """Options of :class:`LightFMRecommender`.

    LightFM's own (names of ``lightfm.LightFM``): ``no_components``, ``k``, ``n``,
    ``learning_schedule``, ``loss``, ``learning_rate``, ``rho``, ``epsilon``,
    ``item_alpha``, ``user_alpha``, ``max_sampled``; ``seed`` is its ``random_state``;
    ``epochs`` and ``num_threads`` go to ``fit``. The defaults are LightFM's except
    those of the MovieLens benchmark (``recutils/benchmark/specs/movielens.yaml``,
    Microsoft Recommenders' settings): ``loss="warp"`` (the usual choice for top-k
    ranking), ``no_components=20``, ``epochs=20`` and ``item_alpha = user_alpha = 1e-6``.
    On MovieLens 100k (Microsoft's split, seed 42) they give MAP 0.127 and nDCG@10 0.438,
    where LightFM's 10 components and no regularisation, trained 10 epochs, give 0.112 /
    0.401.

    recutils' own:
        positive_threshold: ``None``: every row is a positive interaction.
            Otherwise rows with ``rating >= positive_threshold`` are positives
            (``1``) and the others negatives (``-1``), which only the
            ``logistic`` loss uses (the ranking losses skip them).
        use_sample_weight: Pass the ratings as ``sample_weight`` (not with
            ``warp-kos``, which LightFM does not support with weights).
        user_identity_features, item_identity_features: One indicator feature per
            user/item (on both: hybrid; identity only: pure CF).
        normalize_features: Row-normalise the feature matrices (LightFM's
            ``Dataset`` default).
        feature_sep: Separator of multi-valued string feature columns.
        cold_start: Ids present in the feature frames but without interactions
            join the catalog and are scored from their features.
    """

    no_components: int = 20
    k: int = 5
    n: int = 10
    learning_schedule: str = "adagrad"
    loss: str = "warp"
    learning_rate: float = 0.05
    rho: float = 0.95
    epsilon: float = 1e-6
    item_alpha: float = 1e-6
    user_alpha: float = 1e-6
    max_sampled: int = 10
    epochs: int = 20
    num_threads: int = 1
    seed: int | None = None
    positive_threshold: float | None = None
    use_sample_weight: bool = False
    user_identity_features: bool = True
    item_identity_features: bool = True
    normalize_features: bool = True
    feature_sep: str | None = "|"
    cold_start: bool = True

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ConfigError(f"unknown loss {self.loss!r}; allowed: {list(LOSSES)}.")
        if self.learning_schedule not in SCHEDULES:
            raise ConfigError(
                f"unknown learning_schedule {self.learning_schedule!r}; allowed: {list(SCHEDULES)}."
            )
        for name in ("no_components", "k", "n", "max_sampled", "epochs", "num_threads"):
            _positive_int(name, getattr(self, name), 0 if name == "epochs" else 1)
        for name in ("learning_rate", "rho", "epsilon", "item_alpha", "user_alpha"):
            _non_negative(name, getattr(self, name))
        if self.seed is not None:
            _positive_int("seed", self.seed, 0)
        if self.positive_threshold is not None and (not is_number(self.positive_threshold)):
            raise ConfigError(
                f"positive_threshold must be a number or None, got {self.positive_threshold!r}."
            )
        for name in (
            "use_sample_weight",
            "user_identity_features",
            "item_identity_features",
            "normalize_features",
            "cold_start",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        if self.use_sample_weight and self.loss == "warp-kos":
            raise ConfigError(
                "LightFM's warp-kos loss does not take sample weights: set "
                "use_sample_weight=False or use another loss."
            )
        if self.feature_sep is not None and (
            not isinstance(self.feature_sep, str) or not self.feature_sep
        ):
            raise ConfigError(
                f"feature_sep must be a non-empty string or None, got {self.feature_sep!r}."
            )

    def lightfm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``lightfm.LightFM`` (``seed`` -> ``random_state``)."""
        out = {name: getattr(self, name) for name in _LIGHTFM_ARGS}
        out["random_state"] = self.seed
        return out


class LightFMRecommender(BaseRecommender):
    """LightFM hybrid matrix factorization (see the module docstring).

    ``fit(df, user_features=None, item_features=None)``: the feature frames have
    one row per id (``col_user`` / ``col_item``) and feature columns (see
    :mod:`recutils.models.lightfm.features`; for MovieLens,
    :func:`~recutils.models.lightfm.features.movielens_user_features` and
    :func:`~recutils.models.lightfm.features.movielens_item_features`). Every id of
    the interactions must have a row (:class:`~recutils.exceptions.DataError`
    otherwise).

    Fitted attributes:
        user_embeddings_, item_embeddings_: ``e_u``, ``e_i`` (float32, one row per id).
        user_biases_, item_biases_: ``b_u``, ``b_i``.
        user_feature_names_, item_feature_names_: Feature names (column order).
        cold_items_, cold_users_: Ids added from the feature frames (no interactions).
        model_: The ``lightfm.LightFM`` object (this session only; :meth:`fit_partial`).
        epochs_: Epochs trained so far.

    Users unknown at fit time get ``b_i`` as scores in ``recommend_k_items`` (LightFM's
    score for a user without features), with a warning.

    Examples:
        >>> from recutils.testing import toy_interactions
        >>> model = LightFMRecommender(no_components=4, epochs=2, seed=0).fit(toy_interactions())
        >>> len(model.recommend_k_items([0], top_k=3))
        3
    """

    name = "lightfm"
    config_class = LightFMConfig
    config: LightFMConfig
    duplicates = "last"
    needs_rating = False
    requires: ClassVar[tuple[str, ...]] = ("lightfm",)
    #: The config field counting epochs (tuning trains ``fit_partial`` chunks of it).
    epochs_field: ClassVar[str | None] = "epochs"

    # ---------------------------------------------------------------------- fit
    def fit(
        self,
        df: pd.DataFrame,
        user_features: pd.DataFrame | None = None,
        item_features: pd.DataFrame | None = None,
    ) -> LightFMRecommender:
        """Fit on interactions ``df`` and optional feature frames; return ``self``.

        Raises:
            ColumnMismatchError: a frame lacks its id column (or ``df`` a rating
                column that ``positive_threshold``/``use_sample_weight`` need).
            DataError: a feature frame misses an id of ``df`` or repeats one.
        """
        for name, frame in (("user_features", user_features), ("item_features", item_features)):
            if frame is not None and not isinstance(frame, pd.DataFrame):
                raise DataError(f"{name} must be a DataFrame or None, got {type(frame).__name__}.")
        self._fit_frames(df, user_features=user_features, item_features=item_features)
        return self

    def _uses_rating(self) -> bool:
        cfg = self.config
        return self.col_rating is not None and (
            cfg.positive_threshold is not None or cfg.use_sample_weight
        )

    def _needs_rating(self) -> bool:
        """Ratings are read only when they are used (``positive_threshold`` or sample weights)."""
        return self._uses_rating()

    def _with_side_frames(self, data: TrainData) -> TrainData:
        """With ``cold_start``, ids that only the feature frames hold join the id maps."""
        self.cold_users_ = self.user_ids_[:0]
        self.cold_items_ = self.item_ids_[:0]
        if not self.config.cold_start:
            return data
        user_idx, n_users = data.user_idx, data.n_users
        item_idx, n_items = data.item_idx, data.n_items
        if data.user_features is not None and self.col_user in data.user_features:
            user_idx, n_users = self._extend("user", data.user_features[self.col_user], user_idx)
        if data.item_features is not None and self.col_item in data.item_features:
            item_idx, n_items = self._extend("item", data.item_features[self.col_item], item_idx)
        return replace(data, user_idx=user_idx, item_idx=item_idx, n_users=n_users, n_items=n_items)

    def _extend(self, what: str, ids: pd.Series, codes: np.ndarray) -> tuple[np.ndarray, int]:
        """Add the feature-only ids to the id map (sorted when possible) and recode."""
        old: pd.Index = getattr(self, f"{what}_ids_")
        extra = pd.Index(pd.unique(ids)).difference(old, sort=False)
        if extra.empty:
            return codes, len(old)
        try:
            new = old.append(extra).sort_values()
        except TypeError:
            new = old.append(extra)
        setattr(self, f"{what}_ids_", new)
        setattr(self, f"cold_{what}s_", extra)
        logger.info(
            "%d %s(s) without interactions join the catalog from their features", len(extra), what
        )
        return new.get_indexer(old)[codes].astype(np.int64), len(new)

    @staticmethod
    def _appearance_order(codes: np.ndarray, n: int) -> np.ndarray:
        """Codes in order of first appearance in the rows, then the ids without rows.

        LightFM's random initialisation and negative sampling depend on its row and
        column numbering; numbering by appearance makes the fit independent of how
        ids sort (``"u10" < "u2"``), as the contract requires.
        """
        first = pd.unique(codes)
        rest = np.setdiff1d(np.arange(n, dtype=np.int64), first, assume_unique=False)
        return np.concatenate([first, rest]).astype(np.int64)

    def _fit(self, data: TrainData) -> None:
        lightfm = import_lightfm()
        cfg = self.config
        user_features, item_features = data.user_features, data.item_features
        # LightFM numbering: "lf" index k holds recutils code order[k]
        u_order = self._appearance_order(data.user_idx, data.n_users)
        i_order = self._appearance_order(data.item_idx, data.n_items)
        u_lf, i_lf = np.empty_like(u_order), np.empty_like(i_order)
        u_lf[u_order] = np.arange(u_order.size)
        i_lf[i_order] = np.arange(i_order.size)
        uf, self.user_feature_names_ = build_feature_matrix(
            user_features,
            self.user_ids_[u_order],
            self.col_user,
            "user",
            identity=cfg.user_identity_features,
            normalize=cfg.normalize_features,
            sep=cfg.feature_sep,
        )
        itf, self.item_feature_names_ = build_feature_matrix(
            item_features,
            self.item_ids_[i_order],
            self.col_item,
            "item",
            identity=cfg.item_identity_features,
            normalize=cfg.normalize_features,
            sep=cfg.feature_sep,
        )
        if cfg.positive_threshold is not None and self._uses_rating():
            values = np.where(data.rating >= cfg.positive_threshold, 1.0, -1.0)
        else:
            values = np.ones(data.rating.size)
        shape = (data.n_users, data.n_items)
        rows, cols = u_lf[data.user_idx], i_lf[data.item_idx]
        interactions = sp.coo_matrix((values.astype(np.float32), (rows, cols)), shape=shape)
        weights = None
        if cfg.use_sample_weight and self._uses_rating():
            weights = sp.coo_matrix((data.rating.astype(np.float32), (rows, cols)), shape=shape)
        model = lightfm.LightFM(**cfg.lightfm_kwargs())
        self.model_ = model
        self._train_inputs = (interactions, weights, uf, itf, u_lf, i_lf)
        self.epochs_ = 0
        logger.info(
            "training LightFM (%s) on %d interactions, %d user and %d item features",
            cfg.loss,
            values.size,
            uf.shape[1],
            itf.shape[1],
        )
        self._train(cfg.epochs)

    def _train(self, epochs: int) -> None:
        interactions, weights, uf, itf, u_lf, i_lf = self._train_inputs
        if epochs > 0:
            self.model_.fit_partial(
                interactions,
                user_features=uf,
                item_features=itf,
                sample_weight=weights,
                epochs=epochs,
                num_threads=self.config.num_threads,
            )
            self.epochs_ += epochs
        else:  # no training: LightFM's random initial state
            self.model_._initialize(self.config.no_components, itf.shape[1], uf.shape[1])
        ub, ue = self.model_.get_user_representations(uf)
        ib, ie = self.model_.get_item_representations(itf)
        # back to recutils code order
        self.user_biases_, self.user_embeddings_ = ub[u_lf], ue[u_lf]
        self.item_biases_, self.item_embeddings_ = ib[i_lf], ie[i_lf]

    def fit_partial(self, epochs: int = 1) -> LightFMRecommender:
        """Train ``epochs`` more epochs on the same data (per-epoch curves); return ``self``.

        Raises:
            NotFittedError: the model was not fitted in this session (a loaded model
                keeps only its representations).
        """
        _positive_int("epochs", epochs)
        if "model_" not in self.__dict__ or not hasattr(self, "_train_inputs"):
            raise NotFittedError(
                "fit_partial needs a model fitted in this session "
                "(a loaded LightFM model keeps only its representations)."
            )
        self._train(epochs)
        return self

    # ------------------------------------------------------------------ scoring
    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        scores = self.user_embeddings_[user_idx] @ self.item_embeddings_.T
        scores += self.user_biases_[user_idx][:, None]
        scores += self.item_biases_[None, :]
        return scores.astype(np.float64)

    def _score_pairs(
        self,
        user_idx: np.ndarray,
        item_idx: np.ndarray,
        *,
        frame: pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        dots = np.einsum(
            "ij,ij->i", self.user_embeddings_[user_idx], self.item_embeddings_[item_idx]
        )
        return (dots + self.user_biases_[user_idx] + self.item_biases_[item_idx]).astype(np.float64)

    def _unknown_user_scores(self, **kwargs: Any) -> np.ndarray | None:
        """LightFM's score for a user with no features: the item biases."""
        return self.item_biases_.astype(np.float64)

    # ---------------------------------------------------------------- save/load
    _ARRAYS: ClassVar[tuple[str, ...]] = (
        "user_embeddings",
        "user_biases",
        "item_embeddings",
        "item_biases",
    )

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {name: getattr(self, name + "_") for name in self._ARRAYS}
        meta = {
            "epochs": self.epochs_,
            "user_feature_names": list(self.user_feature_names_),
            "item_feature_names": list(self.item_feature_names_),
            "n_cold_users": len(self.cold_users_),
            "n_cold_items": len(self.cold_items_),
        }
        return arrays, meta

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        check_factor_arrays(
            arrays, n_users, n_items, user="user_embeddings", item="item_embeddings"
        )
        persistence.check_array(arrays, "user_biases", persistence.NUMBER, (n_users,))
        persistence.check_array(arrays, "item_biases", persistence.NUMBER, (n_items,))
        for name in self._ARRAYS:
            setattr(self, name + "_", np.asarray(arrays[name]))
        self.epochs_ = int(meta["epochs"])
        self.user_feature_names_ = list(meta["user_feature_names"])
        self.item_feature_names_ = list(meta["item_feature_names"])
        n_cold_users, n_cold_items = int(meta["n_cold_users"]), int(meta["n_cold_items"])
        # cold ids are those without a training pair
        seen_users = np.diff(self.seen_.indptr) > 0
        seen_items = np.bincount(self.seen_.indices, minlength=len(self.item_ids_)) > 0
        self.cold_users_ = self.user_ids_[~seen_users]
        self.cold_items_ = self.item_ids_[~seen_items]
        if len(self.cold_users_) != n_cold_users or len(self.cold_items_) != n_cold_items:
            raise DataError("saved LightFM model is inconsistent: cold id counts differ.")

    @classmethod
    def contract_case(cls) -> ContractCase:
        return ContractCase(params={"no_components": 4, "epochs": 3, "seed": 0}, stochastic=True)


__all__ = ["EXTRA", "LOSSES", "LightFMConfig", "LightFMRecommender", "import_lightfm"]
