"""SAR (Smart Adaptive Recommendations), vectorized, with Microsoft Recommenders' semantics.

SAR scores item ``j`` for user ``u`` as ``score(u, j) = sum_k A[u, k] * S[k, j]``
where

* ``A`` is the user-item **affinity**: the sum over the user's rows for the item
  of ``rating * decay(t)``, with ``decay(t) = min(1, 0.5 ** ((t_now - t) / T))``,
  ``T = time_decay_coefficient`` days (a half-life) and ``t_now = time_now`` or
  the latest training timestamp, when ``timedecay_formula=True``; the plain rating
  otherwise;
* ``S`` is an item-item **similarity** computed from the co-occurrence matrix
  ``C = H^T H`` (``H`` the binary user-item matrix of distinct pairs) after
  dropping entries below ``threshold`` (the diagonal included, so items seen by
  fewer than ``threshold`` users get no similarity at all); see
  :mod:`recutils.models.sar.similarity` for the seven formulas.

``normalize=True`` rescales scores to the rating scale as Microsoft does: with
``N = A1 S`` (``A1`` the affinity with ratings replaced by 1, time-decayed the
same way), ``r_min``/``r_max`` the rating range seen in training,
``lo_u = min_j N[u, j] * r_min`` and ``hi_u = max_j N[u, j] * r_max``,
``score' = (score - lo_u) / (hi_u - lo_u) * (r_max - r_min) + r_min``.

Policies (documented differences with Microsoft Recommenders 1.2.1 in *italics*):

* **Duplicate (user, item) rows** are aggregated: the affinity is the sum of the
  (decayed) ratings of the rows, and the pair counts once in the co-occurrence.
  This is exactly Microsoft's behaviour with time decay; *without time decay
  Microsoft counts a repeated pair several times in the co-occurrence*, recutils
  once (its affinity is still the sum of the ratings, i.e. time decay with an
  infinite half-life). *Microsoft refuses rows that are complete duplicates (same
  rating and timestamp); recutils sums them too.*
* **NaN ratings** raise :class:`~recutils.exceptions.DataError`.
* **Users not seen in training** get the popularity ranking
  (:meth:`SAR.get_popularity_based_topk`, item frequency after ``threshold``)
  in ``recommend_k_items``, with a :class:`~recutils.exceptions.DataWarning`;
  *Microsoft raises*. In ``predict``, unknown users or items give ``NaN`` and one
  warning (*Microsoft gives 0 for unknown items*). Use
  :meth:`SAR.get_item_based_topk` to score a new user from a few seed items.
* **Ties** are broken by item index (sorted item ids); *Microsoft's order of
  tied items is arbitrary*. Items scoring 0 are still returned, as in Microsoft.
* ``recommend_k_items`` defaults to ``remove_seen=True`` (the recutils contract);
  *Microsoft's default is False*. Its results are always sorted; ``sort_top_k`` is
  accepted for compatibility.
* Similarities outside the co-occurrence pattern are 0 (see the similarity module).

The similarity stays sparse; for scoring, a dense copy is kept when it fits in
``dense_similarity_max_mb`` (sparse x dense products are several times faster
than sparse x sparse ones when the scores are dense anyway).

Reference: Microsoft Recommenders, ``recommenders.models.sar.SARSingleNode``, and
the SAR deep dive notebook; the algorithm is due to Microsoft's Azure ML team.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.config import BaseConfig
from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_K,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_TIMESTAMP_COL,
    DEFAULT_USER_COL,
)
from recutils.exceptions import ConfigError, DataError, DataWarning
from recutils.models import persistence
from recutils.models.base import (
    BaseRecommender,
    ContractCase,
    KnownAnswer,
    TrainData,
    check_top_k,
    top_k_per_row,
)
from recutils.models.sar.similarity import SIM_JACCARD, check_similarity_type, item_similarity
from recutils.utils.validation import check_columns, check_number

logger = logging.getLogger(__name__)

_SECONDS_PER_DAY = 24 * 60 * 60
_UNSET: Any = object()


@dataclass
class SARConfig(BaseConfig):
    """Hyper-parameters of :class:`SAR` (names and defaults of Microsoft Recommenders).

    Attributes:
        similarity_type: One of :data:`~recutils.models.sar.similarity.SIMILARITY_TYPES`.
        time_decay_coefficient: Half-life of the time decay, in days (> 0).
        time_now: Reference time of the decay, in the units of the timestamps
            (seconds); ``None``: the latest training timestamp.
        timedecay_formula: Apply the time decay (needs ``col_timestamp``). Off by default,
            although the MovieLens benchmark turns it on (``recutils/benchmark/specs/
            movielens.yaml``: jaccard, 30 days, as Microsoft's): with it, ``fit`` requires a
            timestamp column, which many interaction frames lack; turn it on when yours
            has one.
        threshold: Co-occurrences below this count are dropped (>= 1).
        normalize: Rescale scores to the training rating range (see :class:`SAR`).
        dense_similarity_max_mb: Keep a dense copy of the similarity for scoring
            when it needs at most this many MiB (0 disables it).
        score_dtype: ``"float32"`` (default: half the memory traffic of the
            memory-bound scoring product, about 2x faster; scores agree with
            float64 to ~1e-7 relative) or ``"float64"`` (bit-for-bit the arithmetic
            of Microsoft Recommenders). Fitting is always float64.
    """

    similarity_type: str = SIM_JACCARD
    time_decay_coefficient: float = 30.0
    time_now: float | None = None
    timedecay_formula: bool = False
    threshold: float = 1
    normalize: bool = False
    dense_similarity_max_mb: float = 1024.0
    score_dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.score_dtype not in ("float32", "float64"):
            raise ConfigError(f"score_dtype={self.score_dtype!r}; allowed: ['float32', 'float64'].")
        check_similarity_type(self.similarity_type)
        check_number("threshold", self.threshold, minimum=1)
        check_number("time_decay_coefficient", self.time_decay_coefficient, strict=True)
        if self.time_now is not None:
            check_number("time_now", self.time_now, minimum=-math.inf)
        for name in ("timedecay_formula", "normalize"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        if (
            not isinstance(self.dense_similarity_max_mb, (int, float))
            or self.dense_similarity_max_mb < 0
        ):
            raise ConfigError(
                "dense_similarity_max_mb must be a number >= 0, "
                f"got {self.dense_similarity_max_mb!r}."
            )


def _csr_from_sorted_keys(
    keys: np.ndarray, values: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """CSR matrix from sorted, distinct row-major keys ``row * n_cols + col``."""
    n_rows, n_cols = shape
    rows = keys // n_cols
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    indices = (keys % n_cols).astype(np.int32 if n_cols < 2**31 else np.int64)
    if indptr[-1] < 2**31:
        indptr = indptr.astype(np.int32)
    return sp.csr_matrix((values, indices, indptr), shape=shape)


class SAR(BaseRecommender):
    """Smart Adaptive Recommendations (see the module docstring for formulas and policies).

    Args:
        config: A :class:`SARConfig`, a mapping or YAML; the keyword arguments below
            override it.
        col_user, col_item, col_rating, col_timestamp, col_prediction: Column names.
        similarity_type, time_decay_coefficient, time_now, timedecay_formula, threshold, normalize, dense_similarity_max_mb, score_dtype: see
            :class:`SARConfig`.
        progress: tqdm progress bar over scoring blocks.
        n_jobs: Threads for scoring blocks of users.

    Fitted attributes:
        user_ids_, item_ids_: ``pd.Index`` of the training ids (row/column order).
        user_affinity_: CSR ``n_users x n_items`` affinity ``A``.
        unity_affinity_: CSR affinity with unit ratings (for ``normalize``).
        item_similarity_: CSR ``n_items x n_items`` similarity ``S``.
        item_frequencies_: Thresholded co-occurrence diagonal (users per item).
        time_now_: Reference time used by the decay (``None`` without decay).
        rating_min_, rating_max_: Rating range used by ``normalize``.
        seen_: CSR of the training (user, item) pairs.

    Microsoft Recommenders' ``SARSingleNode`` names also work: :meth:`score`,
    :meth:`get_popularity_based_topk`, :meth:`get_item_based_topk`,
    :meth:`get_topk_most_similar_users` and the attributes :attr:`item_frequencies`
    and :attr:`user_frequencies`, with its output columns and dtypes (see
    ``docs/migrating.md``).

    Examples:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"userID": [1, 1, 2, 2, 3], "itemID": [10, 20, 10, 30, 20],
        ...                    "rating": [5.0, 3.0, 4.0, 2.0, 1.0]})
        >>> model = SAR(similarity_type="cooccurrence").fit(df)
        >>> model.recommend_k_items([1], top_k=1)["itemID"].tolist()
        [30]
    """

    name = "sar"
    config_class = SARConfig
    duplicates = "keep"  # _fit aggregates duplicates (with time decay)
    config: SARConfig

    def __init__(
        self,
        config: SARConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
        col_rating: str | None = DEFAULT_RATING_COL,
        col_timestamp: str = DEFAULT_TIMESTAMP_COL,
        col_prediction: str = DEFAULT_PREDICTION_COL,
        similarity_type: str = _UNSET,
        time_decay_coefficient: float = _UNSET,
        time_now: float | None = _UNSET,
        timedecay_formula: bool = _UNSET,
        threshold: float = _UNSET,
        normalize: bool = _UNSET,
        dense_similarity_max_mb: float = _UNSET,
        score_dtype: str = _UNSET,
        progress: bool = False,
        n_jobs: int | None = None,
        **unknown: Any,
    ) -> None:
        # named parameters document SAR's options; anything else reaches the base class,
        # which refuses it with UnknownKeywordError listing the accepted ones
        given = {
            k: v
            for k, v in {
                "similarity_type": similarity_type,
                "time_decay_coefficient": time_decay_coefficient,
                "time_now": time_now,
                "timedecay_formula": timedecay_formula,
                "threshold": threshold,
                "normalize": normalize,
                "dense_similarity_max_mb": dense_similarity_max_mb,
                "score_dtype": score_dtype,
            }.items()
            if v is not _UNSET
        }
        super().__init__(
            config,
            col_user=col_user,
            col_item=col_item,
            col_rating=col_rating,
            col_timestamp=col_timestamp,
            col_prediction=col_prediction,
            progress=progress,
            n_jobs=n_jobs,
            **given,
            **unknown,
        )

    @property
    def needs_timestamp(self) -> bool:  # type: ignore[override]
        return bool(self.config.timedecay_formula)

    # ---------------------------------------------------------------------- fit
    def _fit(self, data: TrainData) -> None:
        cfg = self.config
        n_users, n_items = data.n_users, data.n_items
        weight = data.rating
        unity = np.ones_like(weight)
        if cfg.timedecay_formula:
            assert data.timestamp is not None  # guaranteed by needs_timestamp
            t_now = float(data.timestamp.max()) if cfg.time_now is None else float(cfg.time_now)
            half_life = cfg.time_decay_coefficient * _SECONDS_PER_DAY
            unity = np.minimum(1.0, np.power(0.5, (t_now - data.timestamp) / half_life))
            weight = weight * unity
            self.time_now_ = t_now
        else:
            self.time_now_ = None

        keys = data.user_idx * n_items + data.item_idx
        uniq, inverse = np.unique(keys, return_inverse=True)
        n_dup = keys.size - uniq.size
        if n_dup:
            logger.info(
                "SAR: %d duplicate (user, item) rows aggregated (sum of %sratings)",
                n_dup,
                "decayed " if cfg.timedecay_formula else "",
            )
        affinity = np.bincount(inverse, weights=weight, minlength=uniq.size)
        unity_aff = np.bincount(inverse, weights=unity, minlength=uniq.size)
        shape = (n_users, n_items)
        self.user_affinity_ = _csr_from_sorted_keys(uniq, affinity.astype(np.float64), shape)
        self.unity_affinity_ = _csr_from_sorted_keys(uniq, unity_aff.astype(np.float64), shape)
        # Microsoft's rating range: of the aggregated (decayed) affinities with time
        # decay, of the raw ratings without.
        values = affinity if cfg.timedecay_formula else data.rating
        self.rating_min_ = float(values.min())
        self.rating_max_ = float(values.max())

        logger.info("SAR: item co-occurrence")
        hits = sp.csr_matrix(
            (
                np.ones(uniq.size, dtype=np.float64),
                self.user_affinity_.indices,
                self.user_affinity_.indptr,
            ),
            shape=shape,
        )
        cooc = (hits.T.tocsr() @ hits).tocsr()
        if cfg.threshold > 1:
            cooc.data[cooc.data < cfg.threshold] = 0
            cooc.eliminate_zeros()
        self.item_frequencies_ = np.asarray(cooc.diagonal(), dtype=np.float64)
        logger.info("SAR: %s similarity (%d stored pairs)", cfg.similarity_type, cooc.nnz)
        self.item_similarity_ = item_similarity(cooc, cfg.similarity_type)
        self._build_dense()

    def _score_dtype(self) -> np.dtype:
        """``score_dtype``, or float64 where float32 could overflow on these affinities.

        A score is a sum over a user's items of affinity x similarity, so it is bounded
        by (largest affinity) x (largest similarity) x (most items of one user). Where
        that bound leaves float32's range, scores are computed in float64 (with one
        :class:`DataWarning`) instead of turning into ``inf`` and dropping users; where
        it leaves float64's range too, the ratings are refused.

        Raises:
            DataError: affinities so large that even float64 scores would overflow.
        """
        dtype = np.dtype(self.config.score_dtype)
        aff = self.user_affinity_
        if aff.nnz == 0:
            return dtype
        sim = self.item_similarity_
        sim_max = float(np.abs(sim.data).max()) if sim.nnz else 0.0
        per_user = float(np.diff(aff.indptr).max())
        bound = float(np.abs(aff.data).max()) * max(sim_max, 1.0) * per_user
        if not bound < np.finfo(np.float64).max / 16:
            raise DataError(
                f"ratings/affinities up to {float(np.abs(aff.data).max()):.3g} make SAR's scores "
                "overflow even in float64; rescale the rating column."
            )
        if dtype == np.float32 and not bound < np.finfo(np.float32).max / 16:
            warnings.warn(
                f"affinities up to {float(np.abs(aff.data).max()):.3g} would overflow float32 "
                "scores; SAR scores in float64 instead (score_dtype='float64').",
                DataWarning,
                stacklevel=3,
            )
            return np.dtype(np.float64)
        return dtype

    def _build_dense(self) -> None:
        """Scoring copies in ``score_dtype``: affinities, and the similarity (dense if it fits)."""
        dtype = self._score_dtype()
        self._scoring_dtype = dtype
        self._scoring_affinity = self.user_affinity_.astype(dtype)
        self._scoring_unity = self.unity_affinity_.astype(dtype)
        sim = self.item_similarity_.astype(dtype)
        n = sim.shape[0]
        if n * n * dtype.itemsize <= self.config.dense_similarity_max_mb * 2**20:
            self._scoring_similarity: np.ndarray | sp.csr_matrix = sim.toarray()
        else:
            self._scoring_similarity = sim

    # ------------------------------------------------------------------ scoring
    def _product(self, left: sp.csr_matrix) -> np.ndarray:
        out = left @ self._scoring_similarity
        return out.toarray() if sp.issparse(out) else np.asarray(out)

    def _score_users(
        self, user_idx: np.ndarray, normalize: bool | None = None, **kwargs: Any
    ) -> np.ndarray:
        if kwargs:
            raise ConfigError(
                f"unknown scoring option(s) {sorted(kwargs)}; SAR takes "
                "normalize= (and sort_top_k= in recommend_k_items)."
            )
        scores = self._product(self._scoring_affinity[user_idx])
        if self.config.normalize if normalize is None else normalize:
            counts = self._product(self._scoring_unity[user_idx])
            lo = counts.min(axis=1, keepdims=True) * self.rating_min_
            hi = counts.max(axis=1, keepdims=True) * self.rating_max_
            with np.errstate(invalid="ignore", divide="ignore"):
                scores = (scores - lo) / (hi - lo) * (
                    self.rating_max_ - self.rating_min_
                ) + self.rating_min_
        return scores

    def _score_pairs(
        self,
        user_idx: np.ndarray,
        item_idx: np.ndarray,
        normalize: bool | None = None,
        *,
        frame: pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        if (self.config.normalize if normalize is None else normalize) or kwargs:
            return super()._score_pairs(user_idx, item_idx, normalize=normalize, **kwargs)
        out = np.empty(user_idx.size, dtype=np.float64)
        step = 1 << 16
        for s in range(0, user_idx.size, step):
            sl = slice(s, s + step)
            # S is symmetric: A[u] . S[:, i] = A[u] . S[i]
            prod = self._scoring_affinity[user_idx[sl]].multiply(
                self.item_similarity_[item_idx[sl]].astype(self._scoring_dtype)
            )
            out[sl] = np.asarray(prod.sum(axis=1)).ravel()
        return out

    def _unknown_user_scores(self, normalize: bool | None = None, **kwargs: Any) -> np.ndarray:
        return self.item_frequencies_

    def recommend_k_items(  # type: ignore[override]
        self,
        users: pd.DataFrame | Sequence[Any] | np.ndarray | pd.Series,
        top_k: int = DEFAULT_K,
        remove_seen: bool = True,
        *,
        sort_top_k: bool = True,
        normalize: bool | None = None,
    ) -> pd.DataFrame:
        """Top-``top_k`` items per user (the recutils contract; Microsoft's ``test`` frame works).

        Args:
            users: Frame with ``col_user`` or a sequence of ids. Users not seen in
                training get the popularity ranking with a :class:`DataWarning`.
            top_k: Items per user (>= 1).
            remove_seen: Drop items the user had in training (default True).
            sort_top_k: Accepted for Microsoft compatibility; results are always sorted.
            normalize: Override the config's ``normalize`` for this call.

        Returns:
            ``DataFrame[col_user, col_item, col_prediction, rank]``.
        """
        return super().recommend_k_items(users, top_k, remove_seen, normalize=normalize)

    def predict(self, df: pd.DataFrame, normalize: bool | None = None) -> pd.DataFrame:  # type: ignore[override]
        """SAR scores of the (user, item) pairs of ``df`` (see :meth:`BaseRecommender.predict`)."""
        return super().predict(df, normalize=normalize)

    # ---------------------------------------------------------------- extras
    # Microsoft Recommenders' SARSingleNode methods and attributes, with its outputs
    # (column sets, dtypes, -inf rows dropped); ties go to the lower index here.

    @property
    def item_frequencies(self) -> np.ndarray:
        """Microsoft Recommenders' name of :attr:`item_frequencies_` (users per item, after
        ``threshold``; float64)."""
        self._check_fitted()
        return self.item_frequencies_

    @property
    def user_frequencies(self) -> np.ndarray:
        """Distinct training items of each user (int64, in the order of ``user_ids_``)."""
        self._check_fitted()
        return np.diff(self.user_affinity_.indptr).astype(np.int64)

    def _known_user_index(self, users: pd.Series | pd.Index | Sequence[Any]) -> np.ndarray:
        idx = self.user_ids_.get_indexer(pd.Index(users))
        if (idx < 0).any():
            unknown = pd.Index(users)[idx < 0]
            raise DataError(
                f"{int((idx < 0).sum())} user(s) not seen in training (e.g. {unknown[:3].tolist()}); "
                "score() covers training users only. recommend_k_items() gives unknown users the "
                "popularity ranking, get_item_based_topk() scores a new user from seed items."
            )
        return idx.astype(np.int64)

    def score(
        self, test: pd.DataFrame, remove_seen: bool = False, normalize: bool | None = None
    ) -> np.ndarray:
        """Scores of every item for the distinct users of ``test`` (Microsoft's ``score``).

        Args:
            test: Frame with ``col_user``; each user once, in order of first appearance.
            remove_seen: Set the items a user had in training to ``-inf``.
            normalize: Override the config's ``normalize`` for this call.

        Returns:
            float64 array ``n_test_users x n_items``; column ``j`` is item ``item_ids_[j]``.

        Raises:
            DataError: a user not seen in training (the message names the recutils ways).
        """
        self._check_fitted()
        check_columns(test, [self.col_user], name="test")
        user_idx = self._known_user_index(test[self.col_user].drop_duplicates())
        scores = np.asarray(self._score_users(user_idx, normalize=normalize), dtype=np.float64)
        if remove_seen:
            seen = self.seen_[user_idx]
            rows = np.repeat(np.arange(user_idx.size), np.diff(seen.indptr))
            scores[rows, seen.indices] = -np.inf
        return scores

    def get_popularity_based_topk(
        self, top_k: int = DEFAULT_K, sort_top_k: bool = True, items: bool = True
    ) -> pd.DataFrame:
        """The ``top_k`` most frequent items (or users when ``items=False``).

        Item frequency is the thresholded co-occurrence diagonal (:attr:`item_frequencies`,
        float64); user frequency the number of distinct items of the user
        (:attr:`user_frequencies`, int64). ``sort_top_k`` is accepted for Microsoft
        compatibility; results are always sorted.

        Returns:
            ``DataFrame[col_item (or col_user), col_prediction]``, most frequent first, ties
            by index (Microsoft Recommenders' columns and dtypes).
        """
        self._check_fitted()
        k = check_top_k(top_k)
        if items:
            freq, ids, col = self.item_frequencies_, self.item_ids_, self.col_item
        else:
            freq, ids, col = self.user_frequencies, self.user_ids_, self.col_user
        idx, val = top_k_per_row(np.array(freq, dtype=np.float64)[None, :], k)
        return pd.DataFrame(
            {
                col: ids.take(idx[0]).to_numpy(),
                self.col_prediction: val[0].astype(np.asarray(freq).dtype),
            }
        )

    def get_item_based_topk(
        self, items: pd.DataFrame, top_k: int = DEFAULT_K, sort_top_k: bool = True
    ) -> pd.DataFrame:
        """Items most similar to seed items: recommendations for users unseen in training.

        ``items`` has ``col_item``, optionally ``col_rating`` (weights, default 1)
        and ``col_user`` (separates several seed sets; ids need not be training
        users). Scores are ``w S`` with ``w`` the seed weights; the seed items
        themselves are never returned. Seed items unknown to the model are dropped
        with a :class:`DataWarning` (Microsoft Recommenders fails on them).

        Returns:
            ``DataFrame[col_user, col_item, col_prediction]`` (Microsoft Recommenders'
            columns): seed sets in order of first appearance, best first, ties by item
            index; ``col_user`` is 0 when ``items`` has no user column.
        """
        self._check_fitted()
        k = check_top_k(top_k)
        check_columns(items, [self.col_item], name="items")
        has_user = self.col_user in items.columns
        i_idx = self.item_ids_.get_indexer(pd.Index(items[self.col_item]))
        if self.col_rating is not None and self.col_rating in items.columns:
            w = items[self.col_rating].to_numpy(dtype=np.float64)
        else:
            w = np.ones(len(items), dtype=np.float64)
        if has_user:
            u_codes, seeds = pd.factorize(items[self.col_user], sort=False)
            seeds = pd.Index(seeds)
        else:
            u_codes, seeds = np.zeros(len(items), dtype=np.int64), pd.Index([0])
        unknown = i_idx < 0
        if unknown.any():
            warnings.warn(
                f"{int(unknown.sum())} seed item(s) not seen in training were ignored.",
                DataWarning,
                stacklevel=2,
            )
        known = ~unknown
        pseudo = sp.csr_matrix(
            (w[known], (u_codes[known], i_idx[known])), shape=(len(seeds), len(self.item_ids_))
        )
        scores = self._product(pseudo.astype(self._scoring_dtype))
        scores[u_codes[known], i_idx[known]] = -np.inf
        idx, val = top_k_per_row(scores, k)
        pos = np.broadcast_to(np.arange(len(seeds))[:, None], idx.shape)
        return self._ranking_frame(seeds, [pos], [idx], [val]).drop(columns=self.col_rank)

    def get_topk_most_similar_users(
        self, user: Any, top_k: int, sort_top_k: bool = True
    ) -> pd.DataFrame:
        """The ``top_k`` users whose affinity vectors have the largest dot product with ``user``'s.

        Similarity of users ``u`` and ``v`` is ``A[u] . A[v]`` (the rows of the affinity);
        ``user`` itself is never returned. ``sort_top_k`` is accepted for Microsoft
        compatibility; results are always sorted.

        Returns:
            ``DataFrame[col_user, col_prediction]``, most similar first, ties by user index.

        Raises:
            DataError: ``user`` was not seen in training.
        """
        self._check_fitted()
        k = check_top_k(top_k)
        u = int(self._known_user_index([user])[0])
        sims = (self.user_affinity_[u] @ self.user_affinity_.T).toarray().astype(np.float64)
        sims[0, u] = -np.inf
        idx, val = top_k_per_row(sims, k)
        keep = np.isfinite(val[0])
        return pd.DataFrame(
            {
                self.col_user: self.user_ids_.take(idx[0][keep]).to_numpy(),
                self.col_prediction: val[0][keep],
            }
        )

    # ---------------------------------------------------------------- state
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        a, s = self.user_affinity_, self.item_similarity_
        arrays = {
            "affinity_indptr": a.indptr,
            "affinity_indices": a.indices,
            "affinity_data": a.data,
            "unity_data": self.unity_affinity_.data,
            "similarity_indptr": s.indptr,
            "similarity_indices": s.indices,
            "similarity_data": s.data,
            "item_frequencies": self.item_frequencies_,
        }
        meta = {
            "time_now": self.time_now_,
            "rating_min": self.rating_min_,
            "rating_max": self.rating_max_,
        }
        return arrays, meta

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        n_users, n_items = len(self.user_ids_), len(self.item_ids_)
        indptr, indices = persistence.check_csr(
            arrays, "affinity_indptr", "affinity_indices", (n_users, n_items)
        )
        for name in ("affinity_data", "unity_data"):
            persistence.check_array(arrays, name, persistence.NUMBER, (indices.size,))
        persistence.check_csr(arrays, "similarity_indptr", "similarity_indices", (n_items, n_items))
        persistence.check_array(
            arrays, "similarity_data", persistence.NUMBER, (arrays["similarity_indices"].size,)
        )
        persistence.check_array(arrays, "item_frequencies", persistence.NUMBER, (n_items,))
        self.user_affinity_ = sp.csr_matrix(
            (arrays["affinity_data"], indices, indptr), shape=(n_users, n_items)
        )
        self.unity_affinity_ = sp.csr_matrix(
            (arrays["unity_data"], indices, indptr), shape=(n_users, n_items)
        )
        self.item_similarity_ = sp.csr_matrix(
            (arrays["similarity_data"], arrays["similarity_indices"], arrays["similarity_indptr"]),
            shape=(n_items, n_items),
        )
        self.item_frequencies_ = arrays["item_frequencies"]
        self.time_now_ = meta["time_now"]
        self.rating_min_ = meta["rating_min"]
        self.rating_max_ = meta["rating_max"]
        self._build_dense()

    # ------------------------------------------------------------- contract
    @classmethod
    def contract_case(cls) -> ContractCase:
        return ContractCase(params={"similarity_type": "jaccard"}, known_answer=_known_answer())


def _known_answer() -> KnownAnswer:
    """Toy case; expected values computed with Microsoft Recommenders 1.2.1 SAR."""
    train = pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2, 3, 3, 3, 4, 4],
            "itemID": [1, 2, 3, 1, 4, 2, 3, 5, 1, 5],
            "rating": [5.0, 3.0, 4.0, 4.0, 2.0, 1.0, 5.0, 3.0, 4.0, 4.0],
        }
    )
    return KnownAnswer(
        train=train,
        users=[1, 2, 3, 4],
        top_k=2,
        remove_seen=True,
        expected=EXPECTED_ITEMS,
        expected_scores=EXPECTED_SCORES,
        params={"similarity_type": "jaccard"},
    )


# Microsoft Recommenders 1.2.1, SAR(similarity_type="jaccard").fit(train).score(...):
# user 1: [6.75, 8.25, 8.25, 5/3, 43/12], user 2: [14/3, 1, 1, 10/3, 1],
# user 3: [2.25, 7, 7, 0, 5], user 4: [5, 7/3, 7/3, 4/3, 5] over items 1..5.
# Ties (user 2: items 2, 3, 5; user 4: items 2, 3) go to the lower item id here,
# where Microsoft's order is arbitrary.
EXPECTED_ITEMS: dict[Any, list[Any]] = {1: [5, 4], 2: [2, 3], 3: [1, 4], 4: [2, 3]}
EXPECTED_SCORES: dict[Any, list[float]] = {
    1: [43 / 12, 5 / 3],
    2: [1.0, 1.0],
    3: [2.25, 0.0],
    4: [7 / 3, 7 / 3],
}


__all__ = ["SAR", "SARConfig"]
