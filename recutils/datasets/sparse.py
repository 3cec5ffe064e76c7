"""User-item matrices with id maps, k-core filtering and negative sampling.

* :func:`to_csr` / :class:`InteractionMatrix` turn a long (user, item, rating)
  frame into a ``scipy.sparse.csr_matrix`` whose row ``r`` is user
  ``user_ids[r]`` and column ``c`` is item ``item_ids[c]``, and back.
* :func:`filter_k_core` keeps the largest sub-frame where every user and every
  item has at least ``k`` interactions.
* :func:`sample_negatives` draws, for implicit feedback, items a user has not
  interacted with (uniformly or by popularity), seeded and vectorized.

No function here mutates its input frame.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_USER_COL,
    SEED,
)
from recutils.exceptions import ConfigError, DataError, NotFittedError
from recutils.utils.arrays import factorize, in_sorted, positions_in_group
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)

_DUPLICATES = ("error", "sum", "first", "last")


@dataclass
class InteractionMatrix:
    """A users x items sparse matrix with the id maps both ways.

    Attributes:
        matrix: ``scipy.sparse.csr_matrix`` of shape ``(n_users, n_items)``.
        user_ids: ``pd.Index`` of user ids; ``user_ids[r]`` is row ``r``.
        item_ids: ``pd.Index`` of item ids; ``item_ids[c]`` is column ``c``.
    """

    matrix: sp.csr_matrix
    user_ids: pd.Index
    item_ids: pd.Index

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_users, n_items)``."""
        return self.matrix.shape

    def user_index(self, users: Sequence | np.ndarray | pd.Series) -> np.ndarray:
        """Row numbers of ``users``; -1 for ids not in the matrix."""
        return self.user_ids.get_indexer(pd.Index(np.asarray(users)))

    def item_index(self, items: Sequence | np.ndarray | pd.Series) -> np.ndarray:
        """Column numbers of ``items``; -1 for ids not in the matrix."""
        return self.item_ids.get_indexer(pd.Index(np.asarray(items)))

    def to_df(
        self,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
        col_rating: str | None = DEFAULT_RATING_COL,
    ) -> pd.DataFrame:
        """Back to a long frame, one row per stored entry (see :func:`from_csr`)."""
        return from_csr(
            self.matrix,
            self.user_ids,
            self.item_ids,
            col_user=col_user,
            col_item=col_item,
            col_rating=col_rating,
        )


def _check_ids(observed: pd.Series, col: str) -> None:
    n_missing = int(observed.isna().sum())
    if n_missing:
        raise DataError(
            f"{col} has {n_missing} missing id(s) (NaN/None); every row needs an id. "
            "Drop or fill them first."
        )


def _index(
    values: np.ndarray | Sequence | None, observed: pd.Series, what: str, col: str
) -> pd.Index:
    if values is None:
        uniques = observed.unique()
        try:
            return pd.Index(np.sort(uniques))
        except TypeError as err:  # e.g. ints mixed with strings: no order
            kinds = sorted({type(v).__name__ for v in np.asarray(uniques, dtype=object)})
            raise DataError(
                f"{col} mixes id types that cannot be sorted ({', '.join(kinds)}); use one type, "
                f"e.g. df[{col!r}].astype(str), or pass {what}= in the order wanted."
            ) from err
    index = pd.Index(np.asarray(values))
    if not index.is_unique:
        raise DataError(f"{what} must be unique; found duplicates.")
    return index


def to_csr(
    df: pd.DataFrame,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str | None = None,
    *,
    user_ids: Sequence | np.ndarray | None = None,
    item_ids: Sequence | np.ndarray | None = None,
    duplicates: str = "error",
    dtype: type | np.dtype = np.float32,
) -> InteractionMatrix:
    """Build a CSR user-item matrix from a long frame.

    ``M[r, c] = rating`` of user ``user_ids[r]`` on item ``item_ids[c]`` (1 when
    ``col_rating`` is ``None``: implicit feedback).

    Args:
        df: The interactions.
        col_user, col_item: Id columns.
        col_rating: Value column, or ``None`` for ones.
        user_ids, item_ids: Fixed id universes (rows/columns in this order);
            default: the sorted distinct ids of ``df``. An id of ``df`` missing
            from a given universe is an error.
        duplicates: What to do with repeated (user, item) pairs: ``"error"``,
            ``"sum"`` their values, keep the ``"first"`` or ``"last"`` in row order.
        dtype: Value dtype of the matrix.

    Raises:
        ColumnMismatchError: a column is missing.
        DataError: NaN/None ids or values, ids of types that cannot be sorted
            (ints mixed with strings), duplicates under ``"error"``, ids outside
            the given universes.
        ConfigError: unknown ``duplicates`` policy.
    """
    check_columns(df, [col_user, col_item, col_rating], name="df")
    if duplicates not in _DUPLICATES:
        raise ConfigError(f"duplicates={duplicates!r}; allowed: {list(_DUPLICATES)}.")
    _check_ids(df[col_user], col_user)
    _check_ids(df[col_item], col_item)
    users = _index(user_ids, df[col_user], "user_ids", col_user)
    items = _index(item_ids, df[col_item], "item_ids", col_item)
    rows = users.get_indexer(df[col_user])
    cols = items.get_indexer(df[col_item])
    for codes, col, name in ((rows, col_user, "user_ids"), (cols, col_item, "item_ids")):
        if (codes < 0).any():
            unknown = df[col].to_numpy()[codes < 0][:5].tolist()
            raise DataError(f"{col} has ids not in the given {name}, e.g. {unknown}.")
    if col_rating is None:
        values = np.ones(len(df), dtype=dtype)
    else:
        values = df[col_rating].to_numpy(dtype=np.float64)
        if np.isnan(values).any():
            raise DataError(f"{col_rating} has {int(np.isnan(values).sum())} NaN value(s).")
        values = values.astype(dtype)
    keys = rows.astype(np.int64) * len(items) + cols
    if duplicates != "sum":
        uniq, first = np.unique(keys, return_index=True)
        if uniq.size != keys.size:
            if duplicates == "error":
                n_dup = keys.size - uniq.size
                raise DataError(
                    f"{n_dup} duplicate ({col_user}, {col_item}) pair(s); pass "
                    f"duplicates='sum', 'first' or 'last' to combine them."
                )
            if duplicates == "last":
                _, last_rev = np.unique(keys[::-1], return_index=True)
                keep = keys.size - 1 - last_rev
            else:
                keep = first
            rows, cols, values = rows[keep], cols[keep], values[keep]
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(len(users), len(items)), dtype=dtype)
    matrix.sum_duplicates()
    return InteractionMatrix(matrix=matrix, user_ids=users, item_ids=items)


def from_csr(
    matrix: sp.spmatrix | sp.sparray,
    user_ids: Sequence | np.ndarray | pd.Index,
    item_ids: Sequence | np.ndarray | pd.Index,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str | None = DEFAULT_RATING_COL,
) -> pd.DataFrame:
    """Turn a sparse matrix back into a long frame of its stored entries.

    Rows are sorted by (row, column). ``col_rating=None`` drops the values.

    Raises:
        DataError: the id maps do not match the matrix shape.
    """
    user_ids, item_ids = np.asarray(user_ids), np.asarray(item_ids)
    if matrix.shape != (len(user_ids), len(item_ids)):
        raise DataError(
            f"matrix shape {matrix.shape} does not match {len(user_ids)} user ids "
            f"and {len(item_ids)} item ids."
        )
    coo = sp.coo_matrix(matrix)
    coo.sum_duplicates()  # also sorts by (row, col)
    out = {col_user: user_ids[coo.row], col_item: item_ids[coo.col]}
    if col_rating is not None:
        out[col_rating] = coo.data
    return pd.DataFrame(out)


def filter_k_core(
    df: pd.DataFrame,
    k: int = 5,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    *,
    k_item: int | None = None,
) -> pd.DataFrame:
    """Keep the k-core: drop users and items with fewer than ``k`` interactions, repeatedly.

    Dropping a user can push an item below ``k`` and vice versa, so counts are
    recomputed (vectorized) until every remaining user has ``>= k`` rows and
    every remaining item ``>= k_item`` rows. Rows are counted, so repeated
    (user, item) pairs count each time.

    Args:
        df: The interactions.
        k: Minimum rows per user (and per item unless ``k_item`` is given).
        col_user, col_item: Id columns.
        k_item: Minimum rows per item, when it differs from ``k``.

    Returns:
        A new frame with the surviving rows, original index and order (may be empty).

    Raises:
        DataError: a missing (NaN/None) id, naming the column.
    """
    check_columns(df, [col_user, col_item], name="df")
    k_item = k if k_item is None else k_item
    for name, value in (("k", k), ("k_item", k_item)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    u_codes, i_codes = (
        factorize(
            df[col],
            missing=lambda n, col=col: (
                f"{col} has {n} missing id(s) (NaN/None); every row needs an id to count k-cores. "
                "Drop or fill them first."
            ),
        )[0]
        for col in (col_user, col_item)
    )
    keep = np.ones(len(df), dtype=bool)
    rounds = 0
    while True:
        rounds += 1
        u_count = np.bincount(u_codes[keep], minlength=u_codes.max(initial=-1) + 1)
        i_count = np.bincount(i_codes[keep], minlength=i_codes.max(initial=-1) + 1)
        ok = keep & (u_count[u_codes] >= k) & (i_count[i_codes] >= k_item)
        if ok.sum() == keep.sum():
            break
        keep = ok
    logger.debug(
        "k-core (k=%d, k_item=%d): %d of %d rows kept after %d rounds",
        k,
        k_item,
        int(keep.sum()),
        len(df),
        rounds,
    )
    return df.loc[keep].copy()


def sample_negatives(
    df: pd.DataFrame,
    n_neg: int = 1,
    method: str = "uniform",
    seed: int | None = SEED,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    *,
    per: str = "interaction",
    items: Sequence | np.ndarray | None = None,
    max_rounds: int = 50,
) -> pd.DataFrame:
    """Sample items each user has not interacted with (implicit-feedback negatives).

    For each user ``u`` with ``p_u`` positives (distinct items in ``df``), draw
    ``n_u = n_neg * p_u`` (``per="interaction"``) or ``n_u = n_neg``
    (``per="user"``) *distinct* items outside the user's positives:

    * ``method="uniform"``: each candidate item equally likely;
    * ``method="popularity"``: probability proportional to the item's number of
      rows in ``df`` (items never seen in ``df`` are never drawn).

    Items are drawn in bulk for all users; draws that hit a positive or repeat
    an accepted negative are rejected with a sorted-key lookup and redrawn.
    Users asking for half or more of their available negatives, and users
    still short after ``max_rounds`` rounds, are completed exactly from their
    explicit complement (vectorized, Gumbel top-k). A positive is never
    returned.

    Args:
        df: Positive interactions.
        n_neg: Negatives per positive (``per="interaction"``) or per user.
        method: ``"uniform"`` or ``"popularity"``.
        seed: Seed for ``np.random.default_rng``.
        col_user, col_item: Id columns.
        per: ``"interaction"`` or ``"user"``.
        items: Candidate items; default every item in ``df``.
        max_rounds: Rejection rounds before the exact completion.

    Returns:
        ``[col_user, col_item]`` rows, users in order of first appearance in
        ``df``, ``n_u`` rows per user.

    Raises:
        DataError: a user has fewer available negatives than ``n_u`` (the
            message names the users and counts).
        ConfigError: bad ``n_neg``, ``method`` or ``per``.
    """
    check_columns(df, [col_user, col_item], name="df")
    if method not in ("uniform", "popularity"):
        raise ConfigError(f"method={method!r}; allowed: ['uniform', 'popularity'].")
    if per not in ("interaction", "user"):
        raise ConfigError(f"per={per!r}; allowed: ['interaction', 'user'].")
    if not isinstance(n_neg, (int, np.integer)) or n_neg < 0:
        raise ConfigError(f"n_neg must be a non-negative integer, got {n_neg!r}.")
    rng = np.random.default_rng(seed)

    u_codes, user_values = pd.factorize(df[col_user], sort=False)
    pool = pd.Index(pd.unique(df[col_item])) if items is None else pd.Index(np.asarray(items))
    if not pool.is_unique:
        raise DataError("items must be unique.")
    i_codes = pool.get_indexer(df[col_item])
    inside = i_codes >= 0
    n_users, n_items = len(user_values), len(pool)

    pos_keys = np.unique(u_codes[inside].astype(np.int64) * n_items + i_codes[inside])
    n_pos = np.bincount((pos_keys // n_items).astype(np.int64), minlength=n_users)

    if method == "popularity":
        weight = np.bincount(i_codes[inside], minlength=n_items).astype(np.float64)
    else:
        weight = np.ones(n_items, dtype=np.float64)
    drawable = weight > 0
    # positives that are drawable, per user, to know how many negatives exist
    pos_items = pos_keys % n_items
    pos_drawable = np.bincount((pos_keys // n_items)[drawable[pos_items]], minlength=n_users)
    available = int(drawable.sum()) - pos_drawable
    need = (n_neg * n_pos) if per == "interaction" else np.full(n_users, n_neg, dtype=np.int64)
    short = need > available
    if short.any():
        bad = np.flatnonzero(short)[:5]
        detail = ", ".join(f"{user_values[b]} needs {need[b]} but has {available[b]}" for b in bad)
        raise DataError(
            f"{int(short.sum())} user(s) have fewer available negatives than asked "
            f"(n_neg={n_neg}, per={per!r}, method={method!r}, {n_items} candidate items): "
            f"{detail}. Lower n_neg, use per='user', or widen items=."
        )

    cdf = np.cumsum(weight)
    # Users asking for half or more of their available negatives would take many
    # rejection rounds: they are drawn from their explicit complement directly.
    dense = 2 * need >= available
    chunks: list[np.ndarray] = []
    accepted = np.empty(0, dtype=np.int64)  # sorted keys of accepted negatives
    if dense.any():
        dense_pending = np.repeat(np.arange(n_users, dtype=np.int64), np.where(dense, need, 0))
        chunks.append(_complete_exactly(dense_pending, pos_keys, accepted, weight, n_items, rng))
    pending = np.repeat(np.arange(n_users, dtype=np.int64), np.where(dense, 0, need))
    for _ in range(max_rounds):
        if pending.size == 0:
            break
        if method == "uniform":
            draw = rng.integers(0, n_items, size=pending.size)
        else:
            draw = np.searchsorted(cdf, rng.random(pending.size) * cdf[-1], side="right")
            draw = np.minimum(draw, n_items - 1)
        keys = pending * n_items + draw
        ok = ~in_sorted(pos_keys, keys) & ~in_sorted(accepted, keys)
        # within this round, keep only the first draw of a repeated (user, item)
        _, first = np.unique(keys, return_index=True)
        first_mask = np.zeros(keys.size, dtype=bool)
        first_mask[first] = True
        ok &= first_mask
        new = keys[ok]
        chunks.append(new)
        accepted = np.sort(np.concatenate([accepted, new]))
        pending = pending[~ok]
    if pending.size:
        chunks.append(_complete_exactly(pending, pos_keys, accepted, weight, n_items, rng))
    keys = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
    # group by user in order of first appearance; keep draw order within a user
    order = np.argsort(keys // n_items, kind="stable")
    keys = keys[order]
    return pd.DataFrame(
        {
            col_user: user_values.to_numpy()[keys // n_items] if len(keys) else user_values[:0],
            col_item: pool.to_numpy()[keys % n_items] if len(keys) else pool[:0],
        }
    )


def _complete_exactly(
    pending: np.ndarray,
    pos_keys: np.ndarray,
    accepted: np.ndarray,
    weight: np.ndarray,
    n_items: int,
    rng: np.random.Generator,
    budget: int = 4_000_000,
) -> np.ndarray:
    """Fill the users rejection sampling left short from their explicit complement.

    Vectorized over users (in chunks of about ``budget`` candidate pairs): the
    complement is the drawable (user, item) keys minus the sorted taken keys, and
    each user's ``count`` items are the top ``count`` of ``log(weight) + Gumbel``
    noise (the Gumbel top-k trick): the same distribution as drawing one by one
    without replacement with probability proportional to ``weight``, in draw order.
    """
    users, counts = np.unique(pending, return_counts=True)
    taken = np.sort(np.concatenate([pos_keys, accepted]))
    drawable = np.flatnonzero(weight > 0)
    log_weight = np.log(weight[drawable])
    step = max(1, budget // max(drawable.size, 1))
    out = []
    for start in range(0, users.size, step):  # chunks of users, never single rows
        chunk, need = users[start : start + step], counts[start : start + step]
        local = np.repeat(np.arange(chunk.size, dtype=np.int64), drawable.size)
        slot = np.tile(np.arange(drawable.size), chunk.size)
        keys = chunk[local] * n_items + drawable[slot]
        free = ~in_sorted(taken, keys)
        local, slot, keys = local[free], slot[free], keys[free]
        score = log_weight[slot] + rng.gumbel(size=keys.size)
        order = np.lexsort((-score, local))  # by user, best score first
        local, keys = local[order], keys[order]
        rank = positions_in_group(local, chunk.size)
        out.append(keys[rank < need[local]])
    return np.concatenate(out) if out else np.empty(0, dtype=np.int64)


_KINDS = ("ratings", "prediction")


class AffinityMatrix:
    """A dense users x items rating matrix with Microsoft Recommenders' ``AffinityMatrix`` API.

    Rows are the distinct users sorted by id; columns are ``items_list`` in its order
    when given, otherwise the distinct items in order of first appearance once the
    rows are sorted by user (a stable sort: within a user, frame order). Unrated
    cells are 0. The models that learn from a dense matrix (RBM, VAE) take
    :meth:`gen_affinity_matrix`'s array; :meth:`map_back_sparse` turns such an array
    (ratings, or the model's predictions) back into a long frame.

    Differences with Microsoft Recommenders 1.2.1 (see ``docs/migrating.md``):
    repeated (user, item) rows and NaN ratings are refused (theirs sums the repeats,
    keeps NaN); items outside ``items_list`` are refused; ``map_back_sparse`` checks
    the matrix shape and ``kind``; ``save_path`` writes the ids as two plain ``.npy``
    arrays instead of four pickled dicts.

    Args:
        df: Long frame with ``col_user``, ``col_item`` and ``col_rating``; not modified.
        items_list: The columns' item ids, in order (distinct); default: from ``df``.
        col_user, col_item, col_rating: Columns of ``df``.
        col_pred: Value column of :meth:`map_back_sparse` for ``kind="prediction"``.
        save_path: Folder where :meth:`gen_affinity_matrix` writes ``user_ids.npy``
            and ``item_ids.npy`` (row and column order); ``None`` writes nothing.

    Attributes (after :meth:`gen_affinity_matrix`):
        user_ids_, item_ids_: ``pd.Index`` of the row and column ids.
        map_users, map_items: ``{id: row}`` and ``{id: column}``.
        map_back_users, map_back_items: ``{row: id}`` and ``{column: id}``.
    """

    def __init__(
        self,
        df: pd.DataFrame,
        items_list: Sequence | np.ndarray | None = None,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
        col_rating: str = DEFAULT_RATING_COL,
        col_pred: str = DEFAULT_PREDICTION_COL,
        save_path: str | os.PathLike | None = None,
    ) -> None:
        self.df = df
        self.items_list = items_list
        self.col_user = col_user
        self.col_item = col_item
        self.col_rating = col_rating
        self.col_pred = col_pred
        self.save_path = save_path

    def _ids(self) -> tuple[pd.Index, pd.Index]:
        df, col_user, col_item = self.df, self.col_user, self.col_item
        check_columns(df, [col_user, col_item, self.col_rating], name="df")
        _check_ids(df[col_user], col_user)
        _check_ids(df[col_item], col_item)
        repeated = df.duplicated([col_user, col_item])
        if repeated.any():
            raise DataError(
                f"df has {int(repeated.sum())} repeated ({col_user}, {col_item}) row(s); each cell of "
                f"the affinity matrix takes one rating. De-duplicate first, e.g. "
                f"df.drop_duplicates([{col_user!r}, {col_item!r}]), or add the ratings up with "
                f"df.groupby([{col_user!r}, {col_item!r}], as_index=False)[{self.col_rating!r}].sum()."
            )
        users = _index(None, df[col_user], "user ids", col_user)
        if self.items_list is not None:
            return users, _index(self.items_list, df[col_item], "items_list", col_item)
        by_user = np.argsort(users.get_indexer(df[col_user]), kind="stable")
        return users, pd.Index(pd.unique(df[col_item].to_numpy()[by_user]))

    def gen_affinity_matrix(self) -> tuple[np.ndarray, dict, dict]:
        """Build the dense matrix and the id maps.

        Returns:
            ``(matrix, map_users, map_items)``: a ``(n_users, n_items)`` array of the
            rating column's dtype (float64 when it is not numeric), ``{user id: row}``
            and ``{item id: column}``.

        Raises:
            ColumnMismatchError: a column is missing.
            DataError: NaN ids or ratings, repeated (user, item) rows, user ids that
                cannot be sorted, an item outside ``items_list``, repeats in ``items_list``,
                ids that cannot be saved without pickling (with ``save_path``).
        """
        users, items = self._ids()
        unknown = ~self.df[self.col_item].isin(items)
        if self.items_list is not None and unknown.any():
            raise DataError(
                f"{self.col_item} has {int(unknown.sum())} row(s) with items not in items_list, e.g. "
                f"{self.df[self.col_item][unknown].unique()[:5].tolist()}; add them to items_list or "
                f"drop those rows first."
            )
        rating = self.df[self.col_rating]
        dtype = (
            rating.dtype if pd.api.types.is_numeric_dtype(rating.dtype) else np.dtype(np.float64)
        )
        sparse = to_csr(
            self.df,
            self.col_user,
            self.col_item,
            self.col_rating,
            user_ids=users,
            item_ids=items,
            dtype=dtype,
        )
        if self.save_path is not None:
            _save_ids(Path(self.save_path), users, items)
        self.user_ids_, self.item_ids_ = users, items
        matrix = sparse.matrix.toarray()
        logger.info(
            "affinity matrix %d x %d, %.1f%% unrated",
            *matrix.shape,
            100.0 * (1.0 - sparse.matrix.nnz / max(matrix.size, 1)),
        )
        return matrix, self.map_users, self.map_items

    def _fitted(self, what: str) -> tuple[pd.Index, pd.Index]:
        if not hasattr(self, "user_ids_"):
            raise NotFittedError(f"call gen_affinity_matrix() before {what}.")
        return self.user_ids_, self.item_ids_

    @property
    def map_users(self) -> dict:
        """``{user id: row}``."""
        users = self._fitted("map_users")[0]
        return dict(zip(users.to_numpy(), range(len(users))))

    @property
    def map_items(self) -> dict:
        """``{item id: column}``."""
        items = self._fitted("map_items")[1]
        return dict(zip(items.to_numpy(), range(len(items))))

    @property
    def map_back_users(self) -> dict:
        """``{row: user id}``."""
        return dict(enumerate(self._fitted("map_back_users")[0].to_numpy()))

    @property
    def map_back_items(self) -> dict:
        """``{column: item id}``."""
        return dict(enumerate(self._fitted("map_back_items")[1].to_numpy()))

    def map_back_sparse(self, X: np.ndarray | sp.spmatrix | sp.sparray, kind: str) -> pd.DataFrame:
        """The nonzero cells of a users x items matrix as a long frame.

        Args:
            X: Dense array (or scipy sparse matrix) of :meth:`gen_affinity_matrix`'s shape,
                e.g. a split of it or a model's top-k predictions.
            kind: ``"ratings"`` (value column ``col_rating``) or ``"prediction"``
                (``col_pred``).

        Returns:
            ``[col_user, col_item, value]`` for every nonzero (and NaN) cell, by row then
            column, with the original ids and ``X``'s dtype.

        Raises:
            NotFittedError: :meth:`gen_affinity_matrix` was not called.
            ConfigError: ``kind`` is not ``"ratings"`` or ``"prediction"``.
            DataError: ``X`` does not have the matrix's shape.
        """
        users, items = self._fitted("map_back_sparse")
        if kind not in _KINDS:
            raise ConfigError(f"kind={kind!r}; allowed: {list(_KINDS)}.")
        shape = X.shape if sp.issparse(X) else np.shape(X)
        if shape != (len(users), len(items)):
            raise DataError(
                f"X has shape {shape}; the affinity matrix is {(len(users), len(items))} (users x items)."
            )
        if sp.issparse(X):
            matrix = sp.csr_matrix(X, copy=True)
            matrix.sum_duplicates()
            matrix.eliminate_zeros()
        else:
            matrix = sp.csr_matrix(np.asarray(X))
        col_out = self.col_rating if kind == "ratings" else self.col_pred
        return from_csr(
            matrix, users, items, col_user=self.col_user, col_item=self.col_item, col_rating=col_out
        )


def _save_ids(folder: Path, users: pd.Index, items: pd.Index) -> None:
    """Write the row and column ids as plain ``.npy`` arrays (loadable with ``allow_pickle=False``)."""
    arrays = {}
    for name, ids in (("user_ids", users), ("item_ids", items)):
        values = ids.to_numpy()
        if values.dtype == object:
            if pd.api.types.infer_dtype(values, skipna=False) != "string":
                raise DataError(
                    f"{name} mix types or are not numbers or strings; save_path needs ids that "
                    "numpy stores without pickling. Convert them, e.g. with .astype(str), or pass "
                    "save_path=None and save the maps yourself."
                )
            values = values.astype(str)
        arrays[name] = values
    folder.mkdir(parents=True, exist_ok=True)
    for name, values in arrays.items():
        np.save(folder / f"{name}.npy", values, allow_pickle=False)


__all__ = [
    "AffinityMatrix",
    "InteractionMatrix",
    "filter_k_core",
    "from_csr",
    "sample_negatives",
    "to_csr",
]
