"""Impression-level metrics of news recommendation, as MIND reports them.

A news impression shows a user a list of candidate news, some clicked (label 1), the
rest not (label 0). A model scores every candidate; each metric is computed **per
impression** and then averaged over impressions, as in the official MIND evaluation
script (``msnews/MIND``, ``evaluate.py``) and Microsoft Recommenders' ``group_auc``,
``mean_mrr`` and ``ndcg@5;10``:

* ``auc``: the ROC AUC of the impression's scores against its labels, ties counted one
  half (:func:`sklearn.metrics.roc_auc_score`'s value);
* ``mrr``: ``sum(label_i / rank_i) / sum(label_i)``, ``rank_i`` the 1-based position of
  candidate ``i`` when the impression is sorted by score descending: the mean reciprocal
  rank of the clicked candidates (not of the first click alone);
* ``ndcg@k``: ``DCG@k / ideal DCG@k`` with gains ``2**label - 1`` and discounts
  ``log2(rank + 1)``.

Ties in ``mrr`` and ``ndcg@k``: MIND's script sorts with ``np.argsort(score)[::-1]``,
whose order among equal scores is not specified; here the candidate listed **later** in
the impression ranks first among equal scores (the order of a stable ascending sort,
reversed), so results are deterministic. An impression whose candidates are all clicked
or all not clicked has no AUC (and one without a click no MRR or nDCG): its value is
``NaN`` and it is left out of the means; the number of impressions each mean covers is
returned with it.

Everything is vectorised over impressions with numpy: one sort of all candidates by
(impression, score), then group sums (no Python loop per impression).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_LABEL_COL, DEFAULT_PREDICTION_COL
from recutils.exceptions import ConfigError, DataError
from recutils.utils.validation import check_columns

#: The impression id column of MIND's long impressions frames.
DEFAULT_IMPRESSION_COL = "impressionID"
#: The metrics MIND reports, in its order.
IMPRESSION_METRICS: tuple[str, ...] = ("auc", "mrr", "ndcg@5", "ndcg@10")


def _group_codes(impressions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Impression codes in order of first appearance and the distinct impression ids."""
    codes, uniques = pd.factorize(pd.Series(impressions), sort=False)
    if (codes < 0).any():
        raise DataError(f"{int((codes < 0).sum())} candidate(s) have a missing impression id.")
    return codes.astype(np.int64), np.asarray(uniques)


def _check_arrays(labels: np.ndarray, scores: np.ndarray, n: int) -> None:
    if labels.shape != (n,) or scores.shape != (n,):
        raise DataError(
            f"impressions, labels and scores must be 1-D of the same length, got "
            f"{n}, {labels.shape} and {scores.shape}."
        )
    if not np.isin(labels, (0, 1)).all():
        bad = labels[~np.isin(labels, (0, 1))][:3].tolist()
        raise DataError(f"labels must be 0 (shown, not clicked) or 1 (clicked); found {bad}.")
    if not np.isfinite(scores).all():
        raise DataError(
            f"{int((~np.isfinite(scores)).sum())} score(s) are NaN or infinite; "
            "score every candidate."
        )


def _parse_ks(metrics: Sequence[str]) -> list[tuple[str, int | None]]:
    out: list[tuple[str, int | None]] = []
    for name in metrics:
        base, _, k = str(name).partition("@")
        if base in ("auc", "mrr") and not k:
            out.append((base, None))
        elif base == "ndcg" and k.isdigit() and int(k) >= 1:
            out.append((base, int(k)))
        else:
            raise ConfigError(
                f"unknown impression metric {name!r}; allowed: 'auc', 'mrr', "
                f"'ndcg@k' (k >= 1), e.g. {list(IMPRESSION_METRICS)}."
            )
    return out


def impression_metrics(
    impressions: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    scores: Sequence | np.ndarray,
    metrics: Sequence[str] = IMPRESSION_METRICS,
) -> pd.DataFrame:
    """Each impression's metrics.

    Args:
        impressions: The impression id of each candidate (candidates of an impression
            need not be contiguous; their order within it is kept for ties).
        labels: 1 clicked, 0 shown and not clicked.
        scores: The model's scores (higher ranks first), finite.
        metrics: Names among ``auc``, ``mrr``, ``ndcg@k``.

    Returns:
        One row per impression (in order of first appearance), indexed by impression id,
        with a column per metric (``NaN`` where undefined, see the module docstring) and
        ``n_candidates`` / ``n_clicks``.

    Raises:
        DataError: arrays of different lengths, labels other than 0/1, non-finite scores.
        ConfigError: an unknown metric name.
    """
    specs = _parse_ks(metrics)
    imp = np.asarray(impressions)
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    _check_arrays(y, s, imp.shape[0] if imp.ndim == 1 else -1)
    y = y.astype(np.float64)
    g, ids = _group_codes(imp)
    n_groups = ids.size
    position = np.arange(y.size)
    # rank order: impression, score descending, later candidate first among ties
    order = np.lexsort((-position, -s, g))
    g_sorted, y_sorted, s_sorted = g[order], y[order], s[order]
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]])
    sizes = np.diff(np.r_[starts, y.size])
    rank = position - np.repeat(starts, sizes) + 1  # 1-based rank within the impression
    n_pos = np.bincount(g, weights=y, minlength=n_groups)
    n_all = np.bincount(g, minlength=n_groups).astype(np.float64)
    n_neg = n_all - n_pos
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for base, k in specs:
            name = base if k is None else f"{base}@{k}"
            if base == "auc":
                out[name] = _auc(g_sorted, s_sorted, y_sorted, n_pos, n_neg, n_groups)
            elif base == "mrr":
                rr = np.bincount(g_sorted, weights=y_sorted / rank, minlength=n_groups)
                out[name] = np.where(n_pos > 0, rr / n_pos, np.nan)
            else:
                out[name] = _ndcg(g_sorted, y_sorted, rank, n_pos, n_groups, k)
    frame = pd.DataFrame(out, index=pd.Index(ids, name=DEFAULT_IMPRESSION_COL))
    frame["n_candidates"] = n_all.astype(np.int64)
    frame["n_clicks"] = n_pos.astype(np.int64)
    return frame


def _auc(
    g: np.ndarray, s: np.ndarray, y: np.ndarray, n_pos: np.ndarray, n_neg: np.ndarray, n_groups: int
) -> np.ndarray:
    """Mann-Whitney AUC per impression from rows sorted by (impression, score desc)."""
    # ascending ranks with ties averaged: runs of equal (impression, score)
    n = g.size
    new_run = np.r_[True, (g[1:] != g[:-1]) | (s[1:] != s[:-1])]
    run_id = np.cumsum(new_run) - 1
    run_start = np.flatnonzero(new_run)
    run_len = np.diff(np.r_[run_start, n])
    group_start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    group_size = np.diff(np.r_[group_start, n])
    # descending position within the group (0-based) of each run's first row
    desc_first = run_start - np.repeat(group_start, group_size)[run_start]
    size_of_row_group = np.repeat(group_size, group_size)
    # ascending 1-based ranks of the run's rows: size - desc_last .. size - desc_first
    asc_mean = size_of_row_group[run_start] - desc_first - (run_len - 1) / 2.0
    ranks = asc_mean[run_id]
    pos_rank_sum = np.bincount(g, weights=ranks * y, minlength=n_groups)
    auc = (pos_rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def _ndcg(
    g: np.ndarray, y: np.ndarray, rank: np.ndarray, n_pos: np.ndarray, n_groups: int, k: int
) -> np.ndarray:
    """nDCG@k per impression (binary labels: the ideal list puts every click first)."""
    gains = (2.0**y - 1.0) / np.log2(rank + 1.0)
    dcg = np.bincount(g, weights=np.where(rank <= k, gains, 0.0), minlength=n_groups)
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    ideal = np.where(n_pos > 0, discounts[np.minimum(n_pos, k).astype(np.int64) - 1], np.nan)
    return dcg / ideal


def mean_impression_metrics(
    impressions: Sequence | np.ndarray,
    labels: Sequence | np.ndarray,
    scores: Sequence | np.ndarray,
    metrics: Sequence[str] = IMPRESSION_METRICS,
) -> dict[str, float]:
    """The means over impressions of :func:`impression_metrics` (``NaN`` values left out).

    Returns:
        ``{metric: mean}`` and ``{"n_impressions_<metric>": count}`` for each metric: the
        number of impressions the mean covers.
    """
    per = impression_metrics(impressions, labels, scores, metrics)
    out: dict[str, float] = {}
    for name in per.columns.drop(["n_candidates", "n_clicks"]):
        values = per[name].to_numpy()
        defined = ~np.isnan(values)
        out[name] = float(values[defined].mean()) if defined.any() else float("nan")
        out[f"n_impressions_{name}"] = int(defined.sum())
    return out


def evaluate_impressions(
    df: pd.DataFrame,
    metrics: Sequence[str] = IMPRESSION_METRICS,
    *,
    col_impression: str = DEFAULT_IMPRESSION_COL,
    col_label: str = DEFAULT_LABEL_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
) -> dict[str, float]:
    """:func:`mean_impression_metrics` of a long frame, one row per (impression, candidate).

    Args:
        df: Frame with the impression id, the click label and the score of each candidate.
        metrics: Names among ``auc``, ``mrr``, ``ndcg@k``.
        col_impression, col_label, col_prediction: Its column names.

    Raises:
        ColumnMismatchError: a column is missing.
    """
    check_columns(df, [col_impression, col_label, col_prediction], name="df")
    return mean_impression_metrics(
        df[col_impression].to_numpy(),
        df[col_label].to_numpy(),
        df[col_prediction].to_numpy(),
        metrics,
    )


__all__ = [
    "DEFAULT_IMPRESSION_COL",
    "IMPRESSION_METRICS",
    "evaluate_impressions",
    "impression_metrics",
    "mean_impression_metrics",
]
