"""Side-feature matrices for LightFM.

The MovieLens user/item feature frames (:func:`movielens_user_features`,
:func:`movielens_item_features`, :data:`AGE_BUCKETS`) live in
:mod:`recutils.datasets.movielens_features` and are still importable from here.

A feature frame has one row per id (``col_user`` or ``col_item``) and any other
columns:

* a float column is one numeric feature named after the column, weighted by the
  value (NaN counts 0; scale it yourself, LightFM expects values around 1);
* any other column (strings, categories, integers, booleans) is categorical:
  feature ``"column=value"`` with weight 1, and a string holding ``sep``
  (``"Action|Comedy"``) gives one feature per token. Missing values and empty
  tokens give no feature.

With ``identity=True`` every id also gets its own indicator feature (the first
``n_ids`` columns), so ``identity`` alone is pure collaborative filtering.
``normalize=True`` divides each row by its sum (LightFM's own ``Dataset``
default), so an id with many features is not scored on a larger scale.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.datasets.movielens_features import (  # noqa: F401 (their old home)
    AGE_BUCKETS,
    movielens_item_features,
    movielens_user_features,
)
from recutils.exceptions import DataError
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)


def align_feature_frame(frame: pd.DataFrame, ids: pd.Index, col_id: str, what: str) -> pd.DataFrame:
    """Rows of ``frame`` in the order of ``ids``.

    Raises:
        ColumnMismatchError: ``frame`` lacks ``col_id``.
        DataError: an id appears twice in ``frame``, or an id of ``ids`` is missing.
    """
    check_columns(frame, [col_id], name=f"{what}_features")
    dup = frame[col_id].duplicated()
    if dup.any():
        raise DataError(
            f"{what}_features has {int(dup.sum())} repeated {col_id} value(s) "
            f"(e.g. {frame.loc[dup, col_id].head(3).tolist()}); it needs one row per {what}."
        )
    pos = pd.Index(frame[col_id]).get_indexer(ids)
    missing = pos < 0
    if missing.any():
        raise DataError(
            f"{what}_features lacks {int(missing.sum())} of the {len(ids)} {what} id(s) of the "
            f"interactions (e.g. {ids[missing][:5].tolist()}); give every {what} a row (its "
            f"features may be empty), or set {what}_identity_features=True without "
            f"{what}_features."
        )
    return frame.iloc[pos].reset_index(drop=True)


def build_feature_matrix(
    frame: pd.DataFrame | None,
    ids: pd.Index,
    col_id: str,
    what: str,
    identity: bool = True,
    normalize: bool = True,
    sep: str | None = "|",
) -> tuple[sp.csr_matrix, list[str]]:
    """The ``len(ids) x n_features`` float32 CSR matrix and the feature names.

    Args:
        frame: Feature frame (one row per id) or ``None`` (identity only).
        ids: The ids, in row order of the result.
        col_id: Id column of ``frame``.
        what: ``"user"`` or ``"item"`` (error messages).
        identity: Prepend one indicator feature per id.
        normalize: Divide each row by its sum.
        sep: Token separator of multi-valued string columns (``None``: no split).

    Raises:
        DataError: see :func:`align_feature_frame`; no features at all.
    """
    n = len(ids)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    names: list[str] = []
    if identity:
        rows.append(np.arange(n))
        cols.append(np.arange(n))
        vals.append(np.ones(n))
        names.extend(f"{col_id}={v}" for v in ids)
    if frame is not None:
        aligned = align_feature_frame(frame, ids, col_id, what)
        for col in aligned.columns:
            if col == col_id:
                continue
            series = aligned[col]
            if pd.api.types.is_float_dtype(series.dtype):
                values = series.to_numpy(dtype=np.float64, na_value=np.nan)
                ok = np.flatnonzero(np.isfinite(values) & (values != 0))
                rows.append(ok)
                cols.append(np.full(ok.size, len(names)))
                vals.append(values[ok])
                names.append(str(col))
                continue
            present = series.notna().to_numpy()
            tokens = series[present].astype(str)
            row_of = np.flatnonzero(present)
            if sep:
                split = tokens.str.split(sep, regex=False)
                lengths = split.str.len().to_numpy()
                row_of = np.repeat(row_of, lengths)
                tokens = pd.Series(
                    np.concatenate(split.to_numpy()) if len(split) else [], dtype=object
                ).str.strip()
            tokens = pd.Series(np.asarray(tokens, dtype=object))
            keep = (tokens != "").to_numpy()
            codes, uniques = pd.factorize(tokens[keep], sort=True)
            rows.append(row_of[keep])
            cols.append(codes + len(names))
            vals.append(np.ones(codes.size))
            names.extend(f"{col}={u}" for u in uniques)
    if not names:
        raise DataError(
            f"no {what} features: pass {what}_features or set {what}_identity_features=True."
        )
    matrix = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, len(names)),
        dtype=np.float64,
    ).tocsr()
    matrix.sum_duplicates()
    if normalize:
        sums = np.asarray(matrix.sum(axis=1)).ravel()
        matrix = sp.diags(1.0 / np.where(sums != 0, sums, 1.0)) @ matrix
    logger.debug("%s features: %d ids x %d features, %d non-zeros", what, n, len(names), matrix.nnz)
    return sp.csr_matrix(matrix, dtype=np.float32), names


__all__ = [
    "AGE_BUCKETS",
    "align_feature_frame",
    "build_feature_matrix",
    "movielens_item_features",
    "movielens_user_features",
]
