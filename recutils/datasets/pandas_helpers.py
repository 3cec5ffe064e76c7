"""Frame helpers with the names and arguments of Microsoft Recommenders' ``pandas_df_utils``.

* :func:`user_item_pairs`: every (user, item) pair of a user frame and an item frame,
  minus a filter, optionally shuffled;
* :func:`filter_by`: rows of a frame whose key is not in another frame;
* :func:`negative_feedback_sampler`: implicit positives plus sampled negatives, with a
  0/1 feedback column;
* :class:`LibffmConverter`: a frame of fields to libffm's ``field:feature:value`` text.

Everything is vectorized (no per-row Python), no input frame is modified, and duplicate
ids or (user, item) rows are refused with a :class:`~recutils.exceptions.DataError`
instead of being multiplied by a merge. Differences with Microsoft Recommenders 1.2.1 are
listed in each docstring and in ``docs/migrating.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_RATING_COL, DEFAULT_USER_COL, SEED
from recutils.datasets.sparse import sample_negatives
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, StateError
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)

DEFAULT_LABEL_COL = "label"  # Microsoft Recommenders' default col_label
DEFAULT_FEEDBACK_COL = "feedback"


def _refuse_duplicates(df: pd.DataFrame, cols: Sequence[str], name: str) -> None:
    dup = df.duplicated(list(cols))
    if dup.any():
        raise DataError(
            f"{name} has {int(dup.sum())} duplicate {list(cols)} row(s); each may appear once. "
            f"De-duplicate first, e.g. {name}.drop_duplicates({list(cols)})."
        )


def filter_by(
    df: pd.DataFrame, filter_by_df: pd.DataFrame, filter_by_cols: Sequence[str]
) -> pd.DataFrame:
    """Rows of ``df`` whose ``filter_by_cols`` values do not appear in ``filter_by_df``.

    Args:
        df: Source frame.
        filter_by_df: Frame of keys to drop.
        filter_by_cols: Key columns, present in both frames.

    Returns:
        The kept rows of ``df`` (original index and order).
    """
    cols = [filter_by_cols] if isinstance(filter_by_cols, str) else list(filter_by_cols)
    check_columns(df, cols, "df")
    check_columns(filter_by_df, cols, "filter_by_df")
    keys = pd.MultiIndex.from_frame(df[cols])
    drop = pd.MultiIndex.from_frame(filter_by_df[cols])
    return df.loc[~keys.isin(drop)]


def user_item_pairs(
    user_df: pd.DataFrame,
    item_df: pd.DataFrame,
    user_col: str = DEFAULT_USER_COL,
    item_col: str = DEFAULT_ITEM_COL,
    user_item_filter_df: pd.DataFrame | None = None,
    shuffle: bool = True,
    seed: int | None = None,
) -> pd.DataFrame:
    """Every (user, item) pair, with the columns of both frames (a cross join).

    Args:
        user_df: Users (one row per ``user_col`` id) and maybe their features.
        item_df: Items (one row per ``item_col`` id) and maybe their features.
        user_col, item_col: Id columns (Microsoft Recommenders' argument names).
        user_item_filter_df: Pairs to leave out (e.g. the training pairs), with
            ``user_col`` and ``item_col``.
        shuffle: Shuffle the rows (``DataFrame.sample(frac=1, random_state=seed)``,
            the same draw as Microsoft Recommenders for the same seed).
        seed: Seed of the shuffle.

    Returns:
        Columns of ``user_df`` then of ``item_df``; unshuffled, rows are user by user in
        ``user_df`` order, items in ``item_df`` order; index 0..n-1 when shuffled.

    Raises:
        DataError: a repeated user id in ``user_df`` or item id in ``item_df`` (Microsoft
            Recommenders would repeat their pairs); two frames sharing another column name.
    """
    check_columns(user_df, [user_col], "user_df")
    check_columns(item_df, [item_col], "item_df")
    _refuse_duplicates(user_df, [user_col], "user_df")
    _refuse_duplicates(item_df, [item_col], "item_df")
    shared = sorted(set(user_df.columns) & set(item_df.columns))
    if shared:
        raise DataError(f"user_df and item_df share column(s) {shared}; rename them first.")
    pairs = user_df.merge(item_df, how="cross")
    if user_item_filter_df is not None:
        pairs = filter_by(pairs, user_item_filter_df, [user_col, item_col])
    if shuffle:
        pairs = pairs.sample(frac=1, random_state=seed).reset_index(drop=True)
    return pairs


def negative_feedback_sampler(
    df: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_label: str = DEFAULT_LABEL_COL,
    col_feedback: str = DEFAULT_FEEDBACK_COL,
    ratio_neg_per_user: float = 1,
    pos_value: float = 1,
    neg_value: float = 0,
    seed: int | None = SEED,
) -> pd.DataFrame:
    """The rows of ``df`` as positive feedback plus sampled negatives, user by user.

    A user with ``n`` rows gets ``max(round(n * ratio_neg_per_user), 1)`` negatives (at
    most the items they have not interacted with): distinct items of ``df`` outside the
    user's items, drawn uniformly without replacement.

    Args:
        df: Interactions, one row per (user, item) pair.
        col_user, col_item: Id columns.
        col_label: Accepted for Microsoft Recommenders' keyword set and ignored (it names an
            intermediate column there, which overwrites a ``df`` column of that name).
        col_feedback: Name of the added feedback column.
        ratio_neg_per_user: Negatives per positive (> 0).
        pos_value, neg_value: Feedback values of positives and negatives.
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        Every column of ``df`` plus ``col_feedback``; users sorted, each user's positives
        (in ``df`` order) then negatives (by item); negatives have NaN in the other
        columns. Index 0..n-1.

    Raises:
        DataError: duplicate (user, item) rows.
        ConfigError: ``ratio_neg_per_user`` not a positive number.

    Differences with Microsoft Recommenders 1.2.1: negatives are uniform over the user's
    unseen items (theirs keeps the smallest item ids of a random draw, which favours low
    ids), so the items drawn differ for the same seed; counts are the same.
    """
    check_columns(df, [col_user, col_item], "df")
    if (
        isinstance(ratio_neg_per_user, bool)
        or not isinstance(ratio_neg_per_user, (int, float))
        or not ratio_neg_per_user > 0
    ):
        raise ConfigError(f"ratio_neg_per_user must be a number > 0, got {ratio_neg_per_user!r}.")
    _refuse_duplicates(df, [col_user, col_item], "df")
    items = pd.unique(df[col_item])
    user_codes, users = pd.factorize(df[col_user])
    n_pos = np.bincount(user_codes, minlength=len(users))
    wanted = np.maximum(np.round(n_pos * ratio_neg_per_user), 1).astype(np.int64)
    n_neg = np.minimum(wanted, len(items) - n_pos)
    rng = np.random.default_rng(seed)
    negatives = []
    for count in np.unique(n_neg[n_neg > 0]):  # one bulk draw per distinct count
        group = df[np.isin(user_codes, np.flatnonzero(n_neg == count))]
        negatives.append(
            sample_negatives(
                group,
                n_neg=int(count),
                seed=int(rng.integers(2**63)),
                col_user=col_user,
                col_item=col_item,
                per="user",
                items=items,
            )
        )
    neg = (
        pd.concat(negatives, ignore_index=True)
        if negatives
        else pd.DataFrame({col_user: df[col_user].iloc[:0], col_item: df[col_item].iloc[:0]})
    )
    pos = df.assign(**{col_feedback: pos_value})
    neg = neg.assign(**{col_feedback: neg_value})
    out = pd.concat([pos, neg], ignore_index=True)
    is_neg = np.r_[np.zeros(len(pos), dtype=bool), np.ones(len(neg), dtype=bool)]
    within = np.where(is_neg, _sorted_codes(out[col_item]), np.arange(len(out)))
    order = np.lexsort((within, is_neg, _sorted_codes(out[col_user])))
    return out.iloc[order].reset_index(drop=True)


def _sorted_codes(values: pd.Series) -> np.ndarray:
    """Codes following the sorted order of ``values`` (order of appearance if unsortable)."""
    try:
        codes, _ = pd.factorize(values, sort=True)
    except TypeError:
        codes, _ = pd.factorize(values, sort=False)
    return codes.astype(np.int64)


def _is_text(dtype: Any) -> bool:
    """object or string dtype (pandas 3 gives text columns the ``str`` dtype)."""
    return pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)


class LibffmConverter:
    """Convert a frame of fields and a label to libffm's ``field:feature:value`` format.

    Each column but the label is a *field* (numbered from 1 in column order). In a string
    (object) column every distinct value is a *feature* with its own index and value 1; a
    numeric column is one feature whose value is the number. Feature indices run from 1
    across fields (string values in order of first appearance). As Microsoft
    Recommenders' ``LibffmConverter``, whose ``fit``/``transform``/``fit_transform``/
    ``get_params`` and attributes it has.

    Args:
        filepath: When given, :meth:`transform` also writes the result there, one
            space-separated line per row (label first).

    Attributes:
        field_count, feature_count: Set by :meth:`transform`.
        field_names, col_rating: Set by :meth:`fit`.

    Examples:
        >>> df = pd.DataFrame({"rating": [1, 0], "f1": ["a", "b"], "f2": [3, 4]})
        >>> LibffmConverter().fit_transform(df, col_rating="rating")["f1"].tolist()
        ['1:1:1', '1:2:1']
    """

    def __init__(self, filepath: str | Path | None = None) -> None:
        self.filepath = filepath
        self.col_rating: str | None = None
        self.field_names: list[str] | None = None
        self.field_count: int | None = None
        self.feature_count: int | None = None

    def fit(self, df: pd.DataFrame, col_rating: str = DEFAULT_RATING_COL) -> LibffmConverter:
        """Check the columns (object, integer or float64) and remember the fields.

        Raises:
            ColumnMismatchError: a column of another dtype, or no ``col_rating`` column.
        """
        bad = [
            c
            for c, t in df.dtypes.items()
            if not (
                _is_text(t) or (isinstance(t, np.dtype) and (t.kind in "iu" or t == np.float64))
            )
        ]
        if bad:
            raise ColumnMismatchError(
                f"columns {bad} are of dtypes {[str(df[c].dtype) for c in bad]}; LibffmConverter "
                "takes object (strings), integer or float64 columns."
            )
        check_columns(df, [col_rating], "df")
        self.col_rating = col_rating
        self.field_names = [c for c in df.columns if c != col_rating]
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """The libffm frame of ``df`` (label first, then one text column per field).

        Feature indices are numbered from the rows of ``df`` (as Microsoft Recommenders does),
        so convert training and test rows in one call when both must share them.

        Raises:
            StateError: :meth:`fit` was not called.
            ColumnMismatchError: ``df`` lacks the label or a field seen in :meth:`fit`.
            DataError: a field is missing (NaN or None) in some rows; the message counts them
                per field. (Microsoft Recommenders writes ``nan`` into the line.)
        """
        if self.field_names is None or self.col_rating is None:
            raise StateError("LibffmConverter.transform() called before fit().")
        check_columns(df, [self.col_rating, *self.field_names], "df")
        out = {self.col_rating: df[self.col_rating].to_numpy()}
        next_index = 1
        missing = {field: int(n) for field, n in df[self.field_names].isna().sum().items() if n}
        if missing:
            raise DataError(
                f"fields missing from rows (NaN/None): {missing} (field: rows); libffm has no missing "
                "value. Fill them first (e.g. a string 'missing' in a text field) or drop the rows."
            )
        for field_index, field in enumerate(self.field_names, start=1):
            col = df[field]
            if _is_text(col.dtype):
                codes, uniques = pd.factorize(col, sort=False)
                feature = (codes + next_index).astype(str)
                value = (
                    np.where([isinstance(v, str) for v in uniques], "1", uniques.astype(str))[codes]
                    if len(uniques)
                    else np.array([], dtype=str)
                )
                next_index += len(uniques)
            else:
                feature = np.full(len(col), str(next_index))
                value = col.astype(str).to_numpy()
                next_index += 1
            prefix = f"{field_index}:"
            out[field] = np.char.add(
                np.char.add(np.char.add(prefix, feature.astype(str)), ":"), value.astype(str)
            ).astype(object)
        self.field_count = len(self.field_names)
        self.feature_count = next_index - 1
        result = pd.DataFrame(out, index=df.index)
        if self.filepath is not None:
            result.to_csv(self.filepath, sep=" ", header=False, index=False)
        return result

    def fit_transform(self, df: pd.DataFrame, col_rating: str = DEFAULT_RATING_COL) -> pd.DataFrame:
        """:meth:`fit` then :meth:`transform` on ``df``."""
        return self.fit(df, col_rating=col_rating).transform(df)

    def get_params(self) -> dict[str, Any]:
        """``{"field count", "feature count", "file path"}`` (Microsoft Recommenders' keys)."""
        return {
            "field count": self.field_count,
            "feature count": self.feature_count,
            "file path": self.filepath,
        }


__all__ = ["user_item_pairs", "filter_by", "negative_feedback_sampler", "LibffmConverter"]
