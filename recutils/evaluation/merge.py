"""The joins behind the metrics, as Microsoft Recommenders exposes them.

:func:`merge_rating_true_pred` and :func:`merge_ranking_true_pred` have the names,
arguments and outputs of ``recommenders.evaluation.python_evaluation``'s functions, so
that code computing its own metric from them keeps working. They use the same checks
and encoding as every metric here (:func:`recutils.evaluation._core.prepare`):
duplicate (user, item) rows raise :class:`~recutils.exceptions.DataError` (a pandas
merge would multiply them), string ids never match numeric ids, and integer ids match
float ids by value only where that is exact (see
:func:`recutils.evaluation._core.check_same_kind`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_K,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_THRESHOLD,
    DEFAULT_USER_COL,
)
from recutils.evaluation._core import check_relevancy, prepare, warn_no_common_users
from recutils.evaluation._public import reject_unknown_keywords

#: Name of the rank column of :func:`merge_ranking_true_pred` (Microsoft Recommenders').
RANK_COL = "rank"


@reject_unknown_keywords
def merge_rating_true_pred(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
) -> tuple[pd.Series, pd.Series]:
    """True and predicted values of the (user, item) pairs present in both frames.

    The inner join of the rating metrics (:func:`recutils.evaluation.rmse` and the
    others compute on exactly these two arrays). Pairs come in the order of their rows in
    ``rating_true``; the values keep their dtypes.

    Args:
        rating_true: True ratings (col_user, col_item, col_rating); no duplicate pairs.
        rating_pred: Predictions (col_user, col_item, col_prediction); no duplicate pairs.
        col_user, col_item, col_rating, col_prediction: Column names.

    Returns:
        ``(y_true, y_pred)``: two Series with a 0..n-1 index, named ``col_rating`` and
        ``col_prediction``, or, as a pandas merge would suffix them, ``col_rating + "_true"``
        when ``rating_pred`` also has a ``col_rating`` column and ``col_prediction + "_pred"``
        when ``rating_true`` also has a ``col_prediction`` column.

    Raises:
        ColumnMismatchError: a column is missing, or the id columns are of different kinds.
        DataError: duplicate (user, item) rows or missing ids.
    """
    prep = prepare(rating_true, rating_pred, col_user, col_item, col_rating, col_prediction)
    t_rows, p_rows = prep.join_rows()
    order = np.argsort(t_rows, kind="stable")
    t_rows, p_rows = t_rows[order], p_rows[order]
    name_true = col_rating + "_true" if col_rating in rating_pred.columns else col_rating
    name_pred = (
        col_prediction + "_pred" if col_prediction in rating_true.columns else col_prediction
    )
    y_true = pd.Series(rating_true[col_rating].to_numpy()[t_rows], name=name_true)
    y_pred = pd.Series(rating_pred[col_prediction].to_numpy()[p_rows], name=name_pred)
    return y_true, y_pred


@reject_unknown_keywords
def merge_ranking_true_pred(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_prediction: str = DEFAULT_PREDICTION_COL,
    relevancy_method: str | None = "top_k",
    k: int = DEFAULT_K,
    threshold: int = DEFAULT_THRESHOLD,
    *,
    col_rating: str = DEFAULT_RATING_COL,
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The hits of each user's ranked list, as the ranking metrics see them.

    Only users present in both frames are kept. Each user's predictions are ranked as in
    :mod:`recutils.evaluation.ranking` (score descending, ties by row order; see its
    module notes for ``relevancy_method``, ``k`` and ``threshold``), cut, and matched with
    ``rating_true``.

    Args:
        rating_true: Relevant pairs (col_user, col_item); no duplicate pairs.
        rating_pred: Scored candidates (col_user, col_item, col_prediction); no duplicate pairs.
        col_user, col_item, col_prediction: Column names.
        relevancy_method: ``"top_k"``, ``"by_threshold"`` or ``None``.
        k: Length of the list.
        threshold: With ``"by_threshold"``, the number of items kept per user.
        col_rating: Accepted and not read (Microsoft Recommenders passes one keyword set
            to this function and to every metric).

    Returns:
        ``(df_hit, df_hit_count, n_users)``: ``df_hit`` is ``[col_user, col_item, "rank"]``,
        one row per hit, sorted by user then rank (with ``relevancy_method=None``: in the
        row order of ``rating_pred``), index 0..n-1; ``df_hit_count`` is
        ``[col_user, "hit", "actual"]`` for the users with at least one hit, sorted by user
        (hits in the list, relevant items in ``rating_true``); ``n_users`` the number of
        users in both frames.

    Raises:
        ColumnMismatchError, DataError: as the ranking metrics.
    """
    cutoff = check_relevancy(relevancy_method, k, threshold)
    prep = prepare(
        rating_true,
        rating_pred,
        col_user,
        col_item,
        None,
        col_prediction if relevancy_method is not None else None,
    )
    warn_no_common_users(prep, col_user, stacklevel=3)
    top = prep.top(cutoff, by_score=relevancy_method is not None)
    pred_row, rank = top.pred_row[top.hit], top.rank[top.hit]
    if relevancy_method is None:  # the frame's own order, as a pandas merge keeps it
        order = np.argsort(pred_row, kind="stable")
        pred_row, rank = pred_row[order], rank[order]
    df_hit = pd.DataFrame(
        {
            col_user: rating_pred[col_user].to_numpy()[pred_row],
            col_item: rating_pred[col_item].to_numpy()[pred_row],
            RANK_COL: rank.astype(np.int64),
        }
    )
    if relevancy_method is not None:
        df_hit = df_hit.sort_values([col_user, RANK_COL], kind="stable").reset_index(drop=True)
    hit_users = top.user[top.hit]
    n_hit = np.bincount(hit_users, minlength=prep.n_users)
    users = np.flatnonzero(n_hit)
    first_row = np.full(prep.n_users, -1, dtype=np.int64)
    first_row[hit_users] = top.pred_row[top.hit]  # any row of the user gives its id
    df_hit_count = (
        pd.DataFrame(
            {
                col_user: rating_pred[col_user].to_numpy()[first_row[users]],
                "hit": n_hit[users].astype(np.int64),
                "actual": prep.n_true[users].astype(np.int64),
            }
        )
        .sort_values(col_user, kind="stable")
        .reset_index(drop=True)
    )
    return df_hit, df_hit_count, prep.n_common


__all__ = ["merge_rating_true_pred", "merge_ranking_true_pred"]
