"""Next-item evaluation: HR@k, NDCG@k, MRR@k under full and sampled ranking.

Each evaluated user has one held-out **target** item. A model scores items for the
user; the target's 0-based **rank** is the number of competing items scored at least
as high (ties count against the target, so a model that scores everything equal gets
the worst rank, never the best). From the rank ``r``:

* ``HR@k  = 1[r < k]`` (hit ratio; equals recall@k with one target),
* ``NDCG@k = 1[r < k] / log2(r + 2)`` (one relevant item: the ideal DCG is 1),
* ``MRR@k = 1[r < k] / (r + 1)``,

each averaged over users. Two rankings are in use:

* **full ranking**: the target competes with every item, except those the caller
  excludes (normally the user's history: items already consumed are not
  recommended again); the target itself is never excluded;
* **sampled ranking**: the target competes with ``n`` sampled negatives only (100 in
  SASRec and BERT4Rec, drawn uniformly or by popularity among items the user never
  interacted with). Sampled metrics are cheaper but biased, and they can reorder
  models (Krichene & Rendle, "On Sampled Metrics for Item Recommendation", KDD 2020):
  report them beside full-ranking figures, never alone. The negatives are drawn once
  (:func:`draw_negatives`, seeded) and kept in the result, so two models compared on
  sampled metrics are scored against the same items.

:func:`evaluate_next_item` runs both from one pass of the model's scores, batch by
batch (no user x item matrix is ever held whole).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.evaluation._public import reject_unknown_keywords
from recutils.exceptions import ConfigError, DataError
from recutils.utils.arrays import positions_in_group
from recutils.utils.progress import progress_bar

__all__ = [
    "NEXT_ITEM_METRICS",
    "NegativeSample",
    "NextItemResult",
    "draw_negatives",
    "target_ranks",
    "sampled_ranks",
    "metric_from_ranks",
    "next_item_metrics",
    "evaluate_next_item",
]

#: The metrics :func:`next_item_metrics` computes, by name.
NEXT_ITEM_METRICS = ("hr", "ndcg", "mrr")
_LABELS = {"hr": "HR", "ndcg": "NDCG", "mrr": "MRR"}


def _as_ranks(ranks: np.ndarray) -> np.ndarray:
    ranks = np.asarray(ranks)
    if ranks.ndim != 1 or (ranks.size and (ranks.dtype.kind not in "iu" or ranks.min() < 0)):
        raise DataError("ranks must be a 1-D array of non-negative integers (0 = first).")
    return ranks


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be an integer >= 1, got {k!r}.")
    return int(k)


@reject_unknown_keywords
def metric_from_ranks(ranks: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Per-user values of one metric (``"hr"``, ``"ndcg"``, ``"mrr"``) at ``k``, from 0-based ranks.

    Per-user values feed paired tests between two models scored on the same users.
    """
    ranks, k = _as_ranks(ranks), _check_k(k)
    hit = ranks < k
    if metric == "hr":
        return hit.astype(np.float64)
    if metric == "ndcg":
        return np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)
    if metric == "mrr":
        return np.where(hit, 1.0 / (ranks + 1.0), 0.0)
    raise ConfigError(f"unknown next-item metric {metric!r}; allowed: {list(NEXT_ITEM_METRICS)}.")


@reject_unknown_keywords
def next_item_metrics(
    ranks: np.ndarray, k: int | Sequence[int] = 10, metrics: Sequence[str] = NEXT_ITEM_METRICS
) -> dict[str, float]:
    """Mean HR@k, NDCG@k and MRR@k over users: ``{"HR@10": ..., "NDCG@10": ..., "MRR@10": ...}``.

    Raises:
        DataError: no ranks, or ranks that are not non-negative integers.
    """
    ranks = _as_ranks(ranks)
    if ranks.size == 0:
        raise DataError("no ranks to average: no user was evaluated.")
    ks = [k] if isinstance(k, (int, np.integer)) else list(k)
    return {
        f"{_LABELS.get(m, m)}@{_check_k(kk)}": float(metric_from_ranks(ranks, m, kk).mean())
        for kk in ks
        for m in metrics
    }


def _scores_2d(scores: np.ndarray, name: str = "scores") -> np.ndarray:
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise DataError(f"{name} must be a 2-D array [users, items], got shape {scores.shape}.")
    if scores.dtype.kind != "f":
        scores = scores.astype(np.float64)
    # max propagates NaN: one reduction, no boolean copy of the matrix
    if scores.size and np.isnan(scores.max()):
        raise DataError(f"{name} hold NaN: the model produced undefined scores.")
    return scores


@reject_unknown_keywords
def target_ranks(
    scores: np.ndarray,
    targets: np.ndarray,
    exclude: sp.csr_matrix | None = None,
) -> np.ndarray:
    """Full-ranking rank of each row's target.

    Args:
        scores: ``[n, n_items]`` scores of every item for ``n`` users.
        targets: ``[n]`` target column of each row.
        exclude: Optional ``[n, n_items]`` sparse matrix whose stored entries are
            items that do not compete (the user's history); the target never is excluded.

    Returns:
        int64 ``[n]``: items other than the target scored ``>=`` the target's score,
        excluded ones not counted.

    Raises:
        DataError: shapes disagree, a target is out of range, or scores hold NaN.
    """
    return _target_ranks(_scores_2d(scores), np.asarray(targets), exclude)


def _target_ranks(
    scores: np.ndarray, targets: np.ndarray, exclude: sp.csr_matrix | None
) -> np.ndarray:
    """:func:`target_ranks` on scores that :func:`_scores_2d` has already checked."""
    n, n_items = scores.shape
    if targets.shape != (n,) or (n and (targets.min() < 0 or targets.max() >= n_items)):
        raise DataError(f"targets must be {n} item columns in [0, {n_items}).")
    target_score = scores[np.arange(n), targets]
    ranks = np.count_nonzero(scores >= target_score[:, None], axis=1).astype(np.int64) - 1
    if exclude is not None:
        exclude = sp.csr_matrix(exclude)
        if exclude.shape != scores.shape:
            raise DataError(f"exclude has shape {exclude.shape}, scores {scores.shape}.")
        rows = np.repeat(np.arange(n), np.diff(exclude.indptr))
        cols = exclude.indices
        counted = (scores[rows, cols] >= target_score[rows]) & (cols != targets[rows])
        ranks -= np.bincount(rows[counted], minlength=n)
    return ranks


@reject_unknown_keywords
def sampled_ranks(target_scores: np.ndarray, negative_scores: np.ndarray) -> np.ndarray:
    """Rank of each target among its sampled negatives (negatives scored ``>=`` it).

    Args:
        target_scores: ``[n]`` the target's score.
        negative_scores: ``[n, m]`` the scores of each row's ``m`` negatives.
    """
    negative_scores = _scores_2d(negative_scores, "negative scores")
    target_scores = np.asarray(target_scores, dtype=negative_scores.dtype)
    if target_scores.shape != (negative_scores.shape[0],) or np.isnan(target_scores).any():
        raise DataError("target scores must be one finite score per row of the negatives.")
    return np.count_nonzero(negative_scores >= target_scores[:, None], axis=1).astype(np.int64)


@dataclass(frozen=True)
class NegativeSample:
    """The negatives of a sampled-ranking evaluation, kept with its results.

    Attributes:
        items: ``[n_users, n]`` item columns, none in the user's excluded set, no repeats
            within a row.
        method: ``"uniform"`` or ``"popularity"``.
        seed: The seed they were drawn with.
    """

    items: np.ndarray
    method: str
    seed: int

    def __len__(self) -> int:
        return len(self.items)


@reject_unknown_keywords
def draw_negatives(
    n_items: int,
    exclude: sp.csr_matrix,
    n: int = 100,
    method: str = "popularity",
    popularity: np.ndarray | None = None,
    seed: int = 42,
) -> NegativeSample:
    """Draw ``n`` distinct negatives per user, outside the user's excluded items.

    Args:
        n_items: Number of item columns.
        exclude: ``[n_users, n_items]`` sparse matrix of items a user must not get as
            negatives (history and target).
        n: Negatives per user (100 in SASRec / BERT4Rec).
        method: ``"uniform"`` (every allowed item equally likely) or ``"popularity"``
            (proportional to ``popularity``, as BERT4Rec's evaluation draws).
        popularity: Non-negative weight per item (interaction counts), for ``"popularity"``.
        seed: Seed of the draw (``numpy.random.default_rng``).

    Returns:
        :class:`NegativeSample`. Draws are rejection-sampled in vectorized rounds: each
        round draws extra candidates for every unfinished row, drops excluded and repeated
        ones, and keeps the first still needed.

    Raises:
        ConfigError: bad ``n``, ``method`` or ``popularity``.
        DataError: a user has fewer than ``n`` allowed items (with non-zero weight).
    """
    if method not in ("uniform", "popularity"):
        raise ConfigError(f"method must be 'uniform' or 'popularity', got {method!r}.")
    n = _check_k(n)
    exclude = sp.csr_matrix(exclude, dtype=bool)
    exclude.sum_duplicates()
    n_users = exclude.shape[0]
    if exclude.shape[1] != n_items:
        raise DataError(f"exclude has {exclude.shape[1]} item columns, n_items is {n_items}.")
    if method == "popularity":
        if popularity is None:
            raise ConfigError("method='popularity' needs popularity (a weight per item).")
        weights = np.asarray(popularity, dtype=np.float64)
        if weights.shape != (n_items,) or np.any(~np.isfinite(weights)) or np.any(weights < 0):
            raise ConfigError(f"popularity must be {n_items} finite non-negative weights.")
    else:
        weights = np.ones(n_items)
    allowed = (weights > 0).astype(np.int64)
    available = int(allowed.sum()) - exclude.astype(np.int64) @ allowed
    if n_users and available.min() < n:
        user = int(np.argmin(available))
        raise DataError(
            f"user row {user} has only {int(available[user])} items to draw {n} "
            "negatives from (excluded and zero-weight items removed)."
        )
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    rng = np.random.default_rng(seed)
    excluded_keys = (
        np.repeat(np.arange(n_users, dtype=np.int64), np.diff(exclude.indptr)) * n_items
        + exclude.indices
    )
    out = np.empty((n_users, n), dtype=np.int64)
    filled = np.zeros(n_users, dtype=np.int64)
    todo = np.arange(n_users)
    while todo.size:
        need = n - filled[todo]
        draws = int(need.max()) * 2 + 8
        cand = np.minimum(
            np.searchsorted(cdf, rng.random((todo.size, draws)), side="right"), n_items - 1
        )
        rows = np.repeat(todo, draws)
        keys = rows * n_items + cand.ravel()
        ok = ~np.isin(keys, excluded_keys)
        # drop candidates already accepted for the row, and repeats within this round
        have_rows = np.repeat(todo, filled[todo])
        have_keys = have_rows * n_items + out[have_rows, positions_in_group(have_rows, n_users)]
        ok &= ~np.isin(keys, have_keys)
        _, first = np.unique(keys, return_index=True)
        unique = np.zeros(keys.size, dtype=bool)
        unique[first] = True
        ok &= unique
        kept_rows, kept_items = rows[ok], cand.ravel()[ok]
        # keep each row's first ``need`` accepted candidates, in draw order
        rank = positions_in_group(kept_rows, n_users)
        take = rank < (n - filled)[kept_rows]
        kept_rows, kept_items, rank = kept_rows[take], kept_items[take], rank[take]
        out[kept_rows, filled[kept_rows] + rank] = kept_items
        filled += np.bincount(kept_rows, minlength=n_users)
        todo = todo[filled[todo] < n]
    return NegativeSample(out, method, int(seed))


@dataclass
class NextItemResult:
    """Ranks of every evaluated user's target, under full and (optionally) sampled ranking.

    Attributes:
        full_ranks: ``[n_users]`` full-ranking ranks.
        sampled_ranks: ``[n_users]`` ranks among the sampled negatives, or ``None``.
        negatives: The :class:`NegativeSample` used, or ``None``.
        k: The cut-offs reported by :meth:`metrics` and :meth:`table`.
    """

    full_ranks: np.ndarray
    sampled_ranks: np.ndarray | None = None
    negatives: NegativeSample | None = None
    k: tuple[int, ...] = (10,)
    extra: dict = field(default_factory=dict)

    def metrics(self, ranking: str = "full") -> dict[str, float]:
        """Mean metrics of ``"full"`` or ``"sampled"`` ranking."""
        if ranking == "full":
            return next_item_metrics(self.full_ranks, self.k)
        if ranking == "sampled":
            if self.sampled_ranks is None:
                raise ConfigError("this evaluation drew no negatives: no sampled ranking.")
            return next_item_metrics(self.sampled_ranks, self.k)
        raise ConfigError(f"ranking must be 'full' or 'sampled', got {ranking!r}.")

    def per_user(self, metric: str = "ndcg", k: int = 10, ranking: str = "full") -> np.ndarray:
        """Per-user values of one metric (for paired tests between models)."""
        ranks = self.full_ranks if ranking == "full" else self.sampled_ranks
        if ranks is None:
            raise ConfigError("this evaluation drew no negatives: no sampled ranking.")
        return metric_from_ranks(ranks, metric, k)

    def table(self) -> pd.DataFrame:
        """One row per ranking kind (full first), one column per metric."""
        kinds = ["full"] + ([] if self.sampled_ranks is None else ["sampled"])
        return pd.DataFrame(
            [self.metrics(kind) for kind in kinds], index=pd.Index(kinds, name="ranking")
        )


@reject_unknown_keywords
def evaluate_next_item(
    score: Callable[[np.ndarray], np.ndarray],
    targets: np.ndarray,
    n_items: int,
    exclude: sp.csr_matrix | None = None,
    negatives: NegativeSample | None = None,
    k: int | Sequence[int] = 10,
    batch_size: int = 1024,
    progress: bool = False,
) -> NextItemResult:
    """Rank every user's target under full and sampled ranking from one pass of the scores.

    Args:
        score: ``score(rows)`` returns the ``[len(rows), n_items]`` scores of the users at
            positions ``rows`` (numpy array, or anything ``np.asarray`` takes).
        targets: ``[n_users]`` target item column per user.
        n_items: Number of item columns.
        exclude: ``[n_users, n_items]`` items that do not compete in full ranking
            (history); see :func:`target_ranks`.
        negatives: A :class:`NegativeSample` for sampled ranking (one row per user).
        k: Cut-off(s) for the reported metrics.
        batch_size: Users scored at a time.
        progress: Show a progress bar.

    Returns:
        :class:`NextItemResult`.
    """
    targets = np.asarray(targets)
    n_users = len(targets)
    ks = (_check_k(k),) if isinstance(k, (int, np.integer)) else tuple(_check_k(v) for v in k)
    batch_size = _check_k(batch_size)
    if exclude is not None:
        exclude = sp.csr_matrix(exclude)
        if exclude.shape != (n_users, n_items):
            raise DataError(f"exclude must be [{n_users}, {n_items}], got {exclude.shape}.")
    if negatives is not None and len(negatives) != n_users:
        raise DataError(f"negatives has {len(negatives)} rows for {n_users} users.")
    full = np.empty(n_users, dtype=np.int64)
    sampled = None if negatives is None else np.empty(n_users, dtype=np.int64)
    starts = range(0, n_users, batch_size)
    starts = progress_bar(starts, desc="next-item evaluation", unit="batch", enabled=progress)
    for start in starts:
        rows = np.arange(start, min(start + batch_size, n_users))
        scores = _scores_2d(score(rows))
        if scores.shape != (len(rows), n_items):
            raise DataError(
                f"score returned shape {scores.shape}, expected {(len(rows), n_items)}."
            )
        full[rows] = _target_ranks(
            scores, targets[rows], None if exclude is None else exclude[rows]
        )
        if sampled is not None:
            local = np.arange(len(rows))
            sampled[rows] = sampled_ranks(
                scores[local, targets[rows]],
                np.take_along_axis(scores, negatives.items[rows], axis=1),
            )
    return NextItemResult(full, sampled, negatives, ks)
