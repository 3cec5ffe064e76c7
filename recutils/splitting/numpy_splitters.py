"""Splitters for user x item affinity matrices (numpy arrays), as Microsoft Recommenders'.

:func:`numpy_stratified_split` has the name, arguments and per-user counts of
``recommenders.datasets.python_splitters.numpy_stratified_split``: each user (row) keeps
the same share of rated items in the test matrix, so the ratio holds per user and
overall. The matrices it takes come from an affinity matrix of a frame (for instance
:func:`recutils.datasets.to_csr` followed by ``.toarray()``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recutils.constants import SEED
from recutils.exceptions import ConfigError
from recutils.utils.arrays import positions_in_group


def _test_counts(rated: np.ndarray, ratio: float) -> np.ndarray:
    """Test items per user: ``rated * p / 100`` rounded half to even, ``p`` the test percent.

    ``p`` is ``(1 - ratio) * 100`` rounded to a whole number (Microsoft Recommenders
    truncates it instead, which turns ``ratio=0.9`` into 9 %; here it is 10 %).
    """
    test_percent = round((1.0 - ratio) * 100)
    return np.around(rated * test_percent / 100).astype(np.int64)


def numpy_stratified_split(
    X: np.ndarray | sp.spmatrix | sp.sparray,
    ratio: float = 0.75,
    seed: int = SEED,
) -> tuple[np.ndarray, np.ndarray]:
    """Split an affinity matrix into train and test matrices, user by user.

    For every row (user) with ``n`` non-zero entries (rated items), ``round(n * (1 - ratio))``
    of them (the percentage rounded to a whole number first, halves to even as
    :func:`numpy.around`) are chosen at random and moved to the test matrix: they become 0
    in the train matrix, and every other entry becomes 0 in the test matrix. The two
    matrices add up to ``X``.

    Args:
        X: 2-D array (users x items; 0 means unrated), dense or scipy sparse.
        ratio: Share of each user's ratings kept for training, strictly between 0 and 1.
        seed: Seed of the random choice (``numpy.random.default_rng(seed)``; the global
            numpy seed is never touched).

    Returns:
        ``(Xtr, Xtst)``: two arrays of the shape and dtype of ``X`` (dense when ``X`` is
        dense, CSR when it is sparse).

    Raises:
        ConfigError: ``ratio`` outside (0, 1) or ``X`` not 2-D.

    Differences with Microsoft Recommenders (same counts per user, see above): the random
    choice uses a ``Generator`` seeded once (theirs seeds numpy's global state and draws user
    by user), so the chosen items differ for the same seed; sparse input is accepted.
    """
    if (
        isinstance(ratio, bool)
        or not isinstance(ratio, (int, float, np.floating))
        or not 0.0 < float(ratio) < 1.0
    ):
        raise ConfigError(f"ratio must be a number strictly between 0 and 1, got {ratio!r}.")
    sparse_in = sp.issparse(X)
    if sparse_in:
        csr = sp.csr_matrix(X, copy=True)
        csr.eliminate_zeros()
        csr.sort_indices()
        rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))
        cols = csr.indices
    else:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ConfigError(f"X must be a 2-D users x items matrix, got shape {X.shape}.")
        rows, cols = np.nonzero(X)
    n_rows = X.shape[0]
    rated = np.bincount(rows, minlength=n_rows)
    n_test = _test_counts(rated, float(ratio))
    # a random order within each row: sort the row's entries by a random key
    key = np.random.default_rng(seed).random(rows.size)
    order = np.lexsort((key, rows))
    in_test = np.empty(rows.size, dtype=bool)
    in_test[order] = positions_in_group(rows[order], n_rows) < n_test[rows[order]]
    if sparse_in:
        parts = []
        for keep in (~in_test, in_test):  # each matrix gets its own index arrays
            part = sp.csr_matrix(
                (
                    csr.data[keep],
                    csr.indices[keep],
                    np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=n_rows))]),
                ),
                shape=csr.shape,
            )
            parts.append(part)
        return parts[0], parts[1]
    x_train, x_test = X.copy(), X.copy()
    x_train[rows[in_test], cols[in_test]] = 0
    x_test[rows[~in_test], cols[~in_test]] = 0
    return x_train, x_test


__all__ = ["numpy_stratified_split"]
