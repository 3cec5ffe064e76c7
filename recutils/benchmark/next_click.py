"""Next-click evaluation of session-based recommenders, and its two baselines.

**Protocol** (session-rec's and GRU4Rec's "next item" evaluation): for every test session
``x_0 .. x_{n-1}`` (clicks in order) and every position ``t >= 1``, the prefix
``x_0 .. x_{t-1}`` (or its last ``last_n`` clicks) is given to a scorer, which scores
every item it knows; the rank of the true click ``x_t`` among them gives

* ``HR@k``: the share of prefixes whose target ranks within the top ``k`` (with one
  target per prefix this is recall@k, the figure session-rec and SR-GNN call
  ``Recall@20`` / ``P@20``);
* ``MRR@k``: the mean of ``1 / rank`` over the prefixes, 0 when the rank exceeds ``k``.

Items already in the prefix are **not** removed (repeat clicks are frequent in these
logs). Targets the scorer does not know are skipped and counted (``n_skipped``); the
session loaders of :mod:`recutils.datasets.sessions` drop them from the test set
already. Ties are broken at random by default (a target tied with ``m`` other items
takes a uniformly drawn place among them, seeded: session-rec adds tiny noise for the
same purpose), or ``ties="pessimistic"`` / ``"optimistic"``. Prefixes are scored in
batches (``[batch, n_items]`` matrices), with no loop over prefixes.

**Scorers** implement :class:`NextClickScorer`: ``item_ids_`` (the items they rank) and
``score_histories(histories) -> [len(histories), len(item_ids_)]`` (higher = more likely
next; ids unknown to the scorer are ignored; an empty history raises
:class:`~recutils.exceptions.DataError`). Built in:

* :class:`SessionPopularity`: training click counts (the same list for every prefix);
* :class:`SessionItemKNN`: session-rec's ItemKNN: the cosine similarity of the items'
  session vectors (``s_ij = c_ij / (sqrt(c_i c_j) + lambda)``, ``c_ij`` the number of
  training sessions holding both items), each item keeping its ``n_sims`` most similar
  items; a prefix scores items by their similarity to its last (known) click. Defaults
  ``n_sims=100, lambda=20`` are session-rec's (its ``alpha=0.5`` is the cosine).

:class:`recutils.models.retrieval.comet_i2i.CoMetricLearningI2I` implements the protocol too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL
from recutils.exceptions import ConfigError, DataError, NotFittedError
from recutils.splitting.sequences import check_histories, recency_weights
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)

#: Tie policies of :func:`evaluate_next_click`.
TIES = ("random", "pessimistic", "optimistic")


@runtime_checkable
class NextClickScorer(Protocol):
    """What :func:`evaluate_next_click` needs from a model.

    Attributes:
        item_ids_: The items the scorer ranks (column ``j`` of the scores is ``item_ids_[j]``).
    """

    item_ids_: pd.Index

    def score_histories(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Scores ``[len(histories), len(item_ids_)]`` (float, higher = more likely next) of
        each history (item ids as in the training frame, oldest first). Ids unknown to the
        scorer are ignored.

        Raises:
            DataError: a history is empty.
        """
        ...


@dataclass(frozen=True)
class Prefixes:
    """The prefixes of test sessions: ``histories[i]`` precedes the click ``targets[i]``
    of session ``sessions[i]`` at position ``positions[i]`` (>= 1)."""

    histories: list[np.ndarray]
    targets: np.ndarray
    sessions: np.ndarray
    positions: np.ndarray


def session_prefixes(
    test: pd.DataFrame,
    *,
    last_n: int | None = None,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str | None = DEFAULT_TIMESTAMP_COL,
) -> Prefixes:
    """Every (prefix, next click) of the test sessions.

    Args:
        test: Clicks ``[col_user (session), col_item]``; sorted stably by session and
            ``col_timestamp`` when that column is there, else taken in row order within
            each session.
        last_n: Keep only the last ``last_n`` clicks of each prefix (None: all).

    Raises:
        ColumnMismatchError: a column is missing.
        ConfigError: ``last_n < 1``.
    """
    check_columns(test, [col_user, col_item], name="test")
    if last_n is not None and (
        isinstance(last_n, bool) or not isinstance(last_n, int) or last_n < 1
    ):
        raise ConfigError(f"last_n must be a positive integer or None, got {last_n!r}.")
    sessions = test[col_user].to_numpy()
    keys = [pd.factorize(sessions)[0]]
    if col_timestamp is not None and col_timestamp in test.columns:
        keys.insert(0, test[col_timestamp].to_numpy())
    order = np.lexsort(keys)
    sessions, items = sessions[order], test[col_item].to_numpy()[order]
    start = np.r_[True, sessions[1:] != sessions[:-1]]
    run_start = np.maximum.accumulate(np.where(start, np.arange(sessions.size), 0))
    position = np.arange(sessions.size) - run_start
    rows = np.flatnonzero(position >= 1)
    first = run_start[rows] if last_n is None else np.maximum(run_start[rows], rows - last_n)
    histories = [items[a:b] for a, b in zip(first.tolist(), rows.tolist())]
    return Prefixes(histories, items[rows], sessions[rows], position[rows])


def target_ranks(
    scores: np.ndarray, targets: np.ndarray, ties: str, rng: np.random.Generator
) -> np.ndarray:
    """1-based rank of column ``targets[i]`` in row ``i`` of ``scores`` (see :data:`TIES`)."""
    rows = np.arange(scores.shape[0])
    own = scores[rows, targets][:, None]
    greater = (scores > own).sum(axis=1)
    tied = (scores == own).sum(axis=1) - 1
    if ties == "optimistic":
        extra = np.zeros_like(tied)
    elif ties == "pessimistic":
        extra = tied
    else:
        extra = np.floor(rng.random(tied.size) * (tied + 1)).astype(np.int64)
    return greater + 1 + extra


def evaluate_next_click(
    scorer: NextClickScorer,
    test: pd.DataFrame,
    *,
    k: int = 20,
    last_n: int | None = None,
    batch_size: int = 1024,
    ties: str = "random",
    seed: int = 0,
    return_ranks: bool = False,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_timestamp: str | None = DEFAULT_TIMESTAMP_COL,
) -> dict[str, float] | tuple[dict[str, float], pd.DataFrame]:
    """HR@k and MRR@k of ``scorer`` over every prefix of the test sessions (module docstring).

    Args:
        scorer: A :class:`NextClickScorer`.
        test: Test clicks (see :func:`session_prefixes`).
        k: The cut-off.
        last_n: Give the scorer only the last ``last_n`` clicks of each prefix.
        batch_size: Prefixes scored at once.
        ties: How tied scores rank (:data:`TIES`).
        seed: Seed of the random tie-breaking.
        return_ranks: Also return the per-prefix frame (session, position, target, rank, and
            ``repeat``: whether the target repeats the prefix's last click).

    Returns:
        ``{"HR@k", "MRR@k", "n_prefixes", "n_skipped"}`` (and the ranks frame).

    Raises:
        ConfigError: a bad ``k``, ``batch_size`` or ``ties``.
        DataError: no prefix has a target the scorer knows.
    """
    for name, value in (("k", k), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    if ties not in TIES:
        raise ConfigError(f"ties {ties!r} is unknown; allowed: {list(TIES)}.")
    if not isinstance(scorer, NextClickScorer):
        raise ConfigError(
            f"{type(scorer).__name__} is not a NextClickScorer (item_ids_ and score_histories)."
        )
    prefixes = session_prefixes(
        test, last_n=last_n, col_user=col_user, col_item=col_item, col_timestamp=col_timestamp
    )
    columns = scorer.item_ids_.get_indexer(pd.Index(prefixes.targets))
    keep = np.flatnonzero(columns >= 0)
    if keep.size == 0:
        raise DataError(
            "no test prefix has a target the scorer knows (or the test sessions are all single clicks)."
        )
    rng = np.random.default_rng(seed)
    ranks = np.empty(keep.size, dtype=np.int64)
    for start in range(0, keep.size, batch_size):
        part = keep[start : start + batch_size]
        scores = np.asarray(
            scorer.score_histories([prefixes.histories[i] for i in part]), dtype=np.float64
        )
        ranks[start : start + part.size] = target_ranks(scores, columns[part], ties, rng)
    hit = ranks <= k
    result = {
        f"HR@{k}": float(hit.mean()),
        f"MRR@{k}": float(np.where(hit, 1.0 / ranks, 0.0).mean()),
        "n_prefixes": int(keep.size),
        "n_skipped": int(columns.size - keep.size),
    }
    if not return_ranks:
        return result
    repeat = np.array([prefixes.histories[i][-1] for i in keep]) == prefixes.targets[keep]
    frame = pd.DataFrame(
        {
            col_user: prefixes.sessions[keep],
            "position": prefixes.positions[keep],
            col_item: prefixes.targets[keep],
            "rank": ranks,
            "repeat": repeat,
        }
    )
    return result, frame


def _session_matrix(
    train: pd.DataFrame, col_user: str, col_item: str
) -> tuple[sp.csr_matrix, pd.Index]:
    check_columns(train, [col_user, col_item], name="train")
    if train.empty:
        raise DataError("train is empty.")
    sessions = pd.factorize(train[col_user])[0]
    items, ids = pd.factorize(train[col_item], sort=True)
    matrix = sp.csr_matrix(
        (np.ones(items.size), (sessions, items)), shape=(sessions.max() + 1, ids.size)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix, pd.Index(ids)


class SessionPopularity:
    """Scores every item by its number of training clicks, whatever the history.

    Args:
        col_user, col_item: Columns of the training frame.
    """

    def __init__(
        self, *, col_user: str = DEFAULT_USER_COL, col_item: str = DEFAULT_ITEM_COL
    ) -> None:
        self.col_user, self.col_item = col_user, col_item

    def fit(self, train: pd.DataFrame) -> SessionPopularity:
        """Count the training clicks per item; return ``self``."""
        check_columns(train, [self.col_user, self.col_item], name="train")
        if train.empty:
            raise DataError("train is empty.")
        codes, ids = pd.factorize(train[self.col_item], sort=True)
        self.item_ids_ = pd.Index(ids)
        self.counts_ = np.bincount(codes, minlength=ids.size).astype(np.float64)
        return self

    def score_histories(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """The click counts, one row per history (see :class:`NextClickScorer`)."""
        if "counts_" not in self.__dict__:
            raise NotFittedError("SessionPopularity is not fitted yet: call fit() first.")
        histories = check_histories(histories)
        return np.tile(self.counts_, (len(histories), 1))


class SessionItemKNN:
    """session-rec's ItemKNN: similarity of the items' session vectors to the last click.

    Args:
        n_sims: Most similar items kept per item (session-rec's ``n_sims``, default 100).
        lmbd: Shrinkage ``lambda`` of the cosine's denominator (session-rec's ``lmbd``, default 20).
        col_user, col_item: Columns of the training frame (user = session).
    """

    def __init__(
        self,
        n_sims: int = 100,
        lmbd: float = 20.0,
        *,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
    ) -> None:
        if isinstance(n_sims, bool) or not isinstance(n_sims, int) or n_sims < 1:
            raise ConfigError(f"n_sims must be a positive integer, got {n_sims!r}.")
        if not lmbd >= 0:
            raise ConfigError(f"lmbd must be >= 0, got {lmbd!r}.")
        self.n_sims, self.lmbd = n_sims, float(lmbd)
        self.col_user, self.col_item = col_user, col_item

    def fit(self, train: pd.DataFrame) -> SessionItemKNN:
        """Build the pruned similarity from the training sessions; return ``self``."""
        from recutils.models.baselines.itemknn import item_knn_similarity

        matrix, self.item_ids_ = _session_matrix(train, self.col_user, self.col_item)
        self.similarity_ = item_knn_similarity(matrix, self.n_sims, self.lmbd)
        return self

    def score_histories(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Each item's similarity to the history's last known click (see :class:`NextClickScorer`)."""
        if "similarity_" not in self.__dict__:
            raise NotFittedError("SessionItemKNN is not fitted yet: call fit() first.")
        last = recency_weights(self.item_ids_, histories, decay=0.0)
        return np.asarray((last @ self.similarity_).todense(), dtype=np.float64)


def _load(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from recutils.datasets import sessions

    if name == "rsc15":
        return sessions.load_rsc15(progress=False)
    return sessions.load_diginetica(progress=False)


#: Data sets of the next-click benchmark.
NEXT_CLICK_DATASETS = ("rsc15", "diginetica")
#: Models of the next-click benchmark (``comet_i2i`` and ``pdn`` read their session presets).
NEXT_CLICK_MODELS = ("popularity", "itemknn", "comet_i2i", "pdn")
#: Length of the validation window cut from the end of the training sessions, in days.
VALIDATION_DAYS = 1.0


def next_click_split(
    dataset: str, *, validation: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, test)`` of a benchmark data set; with ``validation``, ``(train', valid)``:
    the training sessions split again, the sessions of their last day validating
    (:func:`recutils.datasets.sessions.split_sessions_by_time`). Tuning reads only this."""
    from recutils.datasets.sessions import split_sessions_by_time

    if dataset not in NEXT_CLICK_DATASETS:
        raise ConfigError(f"dataset {dataset!r} is unknown; allowed: {list(NEXT_CLICK_DATASETS)}.")
    train, test = _load(dataset)
    if validation:
        return split_sessions_by_time(train, VALIDATION_DAYS)
    return train, test


def make_scorer(name: str, seed: int, params: Mapping[str, Any] | None = None) -> Any:
    """A fresh scorer of the benchmark (``params`` override its defaults / preset)."""
    params = dict(params or {})
    if name == "popularity":
        return SessionPopularity(**params)
    if name == "itemknn":
        return SessionItemKNN(**params)
    if name == "comet_i2i":
        from recutils.models.retrieval.comet_i2i import PRESET, CoMetricLearningI2I

        return CoMetricLearningI2I(PRESET, seed=seed, progress=False, **params)
    if name == "pdn":
        from recutils.models.retrieval.pdn import CONFIG_DIR, PDN

        return PDN(CONFIG_DIR / "pdn_sessions.yaml", seed=seed, progress=False, **params)
    raise ConfigError(f"model {name!r} is unknown; allowed: {list(NEXT_CLICK_MODELS)}.")


def run_next_click_benchmark(
    dataset: str,
    models: Sequence[str],
    seeds: Sequence[int],
    *,
    k: int = 20,
    validation: bool = False,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """One row per (model, seed): ``dataset, model, seed, HR@k, MRR@k, HR@k_nonrepeat, fit_s``.

    ``HR@k_nonrepeat`` is the hit rate over the prefixes whose target is not their last click
    (a quarter of rsc15's: an item-KNN similarity, zero on its diagonal, never ranks them).
    Deterministic scorers (popularity, itemknn) are fitted once and repeated per seed; the
    tie-breaking seed is the run's seed. With ``validation``, the figures are on the
    validation split (:func:`next_click_split`).
    """
    train, test = next_click_split(dataset, validation=validation)
    rows = []
    for name in models:
        for seed in seeds:
            start = time.perf_counter()
            scorer = make_scorer(name, seed, (params or {}).get(name)).fit(train)
            fit_s = time.perf_counter() - start
            result, ranks = evaluate_next_click(scorer, test, k=k, seed=seed, return_ranks=True)
            fresh = ~ranks["repeat"].to_numpy()
            rows.append(
                {
                    "dataset": dataset,
                    "model": name,
                    "seed": seed,
                    f"HR@{k}": result[f"HR@{k}"],
                    f"MRR@{k}": result[f"MRR@{k}"],
                    f"HR@{k}_nonrepeat": float((ranks["rank"].to_numpy()[fresh] <= k).mean()),
                    "fit_s": round(fit_s, 2),
                }
            )
            logger.info("%s %s seed %s: %s", dataset, name, seed, rows[-1])
    return pd.DataFrame(rows)


__all__ = [
    "NEXT_CLICK_DATASETS",
    "NEXT_CLICK_MODELS",
    "VALIDATION_DAYS",
    "make_scorer",
    "next_click_split",
    "run_next_click_benchmark",
    "TIES",
    "NextClickScorer",
    "Prefixes",
    "SessionItemKNN",
    "SessionPopularity",
    "check_histories",
    "evaluate_next_click",
    "recency_weights",
    "session_prefixes",
    "target_ranks",
]
