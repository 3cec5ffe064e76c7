"""Item-item similarities of SAR, computed on the stored entries of a sparse co-occurrence matrix.

Let ``C`` be the (thresholded) item co-occurrence matrix, ``c_ij`` the number of
users who interacted with both items ``i`` and ``j``, ``d_i = c_ii`` the number
of users of item ``i`` and ``n`` the number of items (Microsoft Recommenders
uses the matrix size, not the number of users, in the mutual information).

=================================== ==============================================
``"cooccurrence"``                  ``s_ij = c_ij``
``"cosine"``                        ``s_ij = c_ij / sqrt(d_i * d_j)``
``"inclusion index"``               ``s_ij = c_ij / min(d_i, d_j)``
``"jaccard"``                       ``s_ij = c_ij / (d_i + d_j - c_ij)``
``"lift"``                          ``s_ij = c_ij / (d_i * d_j)``
``"mutual information"``            ``s_ij = log2(n * c_ij / (d_i * d_j))``
``"lexicographers mutual            ``s_ij = c_ij * log2(n * c_ij / (d_i * d_j))``
information"``
=================================== ==============================================

Only pairs with ``c_ij > 0`` are computed and stored (the result keeps ``C``'s
sparsity pattern); every other ``s_ij`` is 0. For stored pairs the values equal
Microsoft Recommenders 1.2.1's. Where ``c_ij = 0`` Microsoft's dense formulas give
0 for the first five, but ``-inf`` (mutual information) or ``NaN``
(lexicographers mutual information, and ``0/0`` for items whose frequency fell
below ``threshold``), values that make its rankings ill-defined; recutils uses 0
("no evidence") there.

*Lexicographers mutual information differs from Microsoft Recommenders 1.2.1
everywhere*: its ``lexicographers_mutual_information`` multiplies a scipy sparse
matrix by a dense array with ``*``, which is a **matrix product** (``C @ MI``),
not the elementwise ``c_ij * MI_ij`` of the formula it documents; recutils
implements the formula. Stored entries always have ``d_i, d_j >= c_ij >= 1``, so
no division by zero happens.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recutils.exceptions import ConfigError

SIM_COOCCUR = "cooccurrence"
SIM_COSINE = "cosine"
SIM_INCLUSION_INDEX = "inclusion index"
SIM_JACCARD = "jaccard"
SIM_LEXICOGRAPHERS_MUTUAL_INFORMATION = "lexicographers mutual information"
SIM_LIFT = "lift"
SIM_MUTUAL_INFORMATION = "mutual information"

SIMILARITY_TYPES: tuple[str, ...] = (
    SIM_COOCCUR,
    SIM_COSINE,
    SIM_INCLUSION_INDEX,
    SIM_JACCARD,
    SIM_LEXICOGRAPHERS_MUTUAL_INFORMATION,
    SIM_LIFT,
    SIM_MUTUAL_INFORMATION,
)


def check_similarity_type(name: object) -> str:
    """``name`` if it is a known similarity, else :class:`ConfigError` listing them."""
    if name not in SIMILARITY_TYPES:
        raise ConfigError(
            f"similarity_type={name!r} is unknown; allowed: {list(SIMILARITY_TYPES)}."
        )
    return name  # type: ignore[return-value]


def similarity_values(
    c: np.ndarray, d_i: np.ndarray, d_j: np.ndarray, n: int, similarity_type: str
) -> np.ndarray:
    """The similarity of each stored pair from its co-occurrence and the two frequencies."""
    check_similarity_type(similarity_type)
    c = c.astype(np.float64, copy=False)
    if similarity_type == SIM_COOCCUR:
        return c.copy()
    if similarity_type == SIM_COSINE:
        return c / np.sqrt(d_i * d_j)
    if similarity_type == SIM_INCLUSION_INDEX:
        return c / np.minimum(d_i, d_j)
    if similarity_type == SIM_JACCARD:
        return c / (d_i + d_j - c)
    lift = c / (d_i * d_j)
    if similarity_type == SIM_LIFT:
        return lift
    mi = np.log2(n * lift)
    if similarity_type == SIM_MUTUAL_INFORMATION:
        return mi
    return c * mi  # lexicographers mutual information


def item_similarity(cooccurrence: sp.csr_matrix, similarity_type: str) -> sp.csr_matrix:
    """Sparse similarity with the pattern of ``cooccurrence`` (see the module docstring)."""
    c = sp.csr_matrix(cooccurrence, dtype=np.float64)
    c.sort_indices()
    diag = c.diagonal()
    rows = np.repeat(np.arange(c.shape[0]), np.diff(c.indptr))
    values = similarity_values(c.data, diag[rows], diag[c.indices], c.shape[0], similarity_type)
    return sp.csr_matrix((values, c.indices.copy(), c.indptr.copy()), shape=c.shape)


__all__ = [
    "SIMILARITY_TYPES",
    "SIM_COOCCUR",
    "SIM_COSINE",
    "SIM_INCLUSION_INDEX",
    "SIM_JACCARD",
    "SIM_LEXICOGRAPHERS_MUTUAL_INFORMATION",
    "SIM_LIFT",
    "SIM_MUTUAL_INFORMATION",
    "check_similarity_type",
    "item_similarity",
    "similarity_values",
]
