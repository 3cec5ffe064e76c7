"""Graph propagation over the user-item bipartite graph (LightGCN and later graph models).

:func:`normalized_adjacency` builds the symmetric-normalized adjacency of the
bipartite graph as a torch sparse tensor (never a dense users x items matrix)

    A = [[0, R], [R^T, 0]],   A_hat = D^(-1/2) A D^(-1/2)

where ``R`` is the binary ``n_users x n_items`` interaction matrix and ``D`` the
diagonal degree matrix (isolated nodes keep degree 0 and a zero row).

:class:`GraphPropagation` applies ``K`` propagation layers ``E^(k+1) = A_hat E^(k)``
(sparse-dense products) and combines the layers ``E^(0..K)`` with weights
``alpha_k`` (LightGCN's default: ``1 / (K + 1)``, the mean).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from recutils.nn.components._torch import nn, torch


def normalized_adjacency(
    users: np.ndarray, items: np.ndarray, n_users: int, n_items: int, add_self_loops: bool = False
) -> torch.Tensor:
    """``D^-1/2 A D^-1/2`` of the user-item graph as a sparse CSR float32 tensor.

    Args:
        users, items: Codes of the interactions (a repeated pair counts once).
        n_users, n_items: Sizes; node ``u`` is user ``u``, node ``n_users + i`` item ``i``.
        add_self_loops: Add ``I`` to ``A`` before normalizing (NGCF-style graphs).

    Returns:
        A ``(n_users + n_items) x (n_users + n_items)`` ``torch.sparse_csr`` tensor.
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if users.shape != items.shape:
        raise ValueError(f"users and items differ in length: {users.size} vs {items.size}")
    if users.size and (
        users.min() < 0 or users.max() >= n_users or items.min() < 0 or items.max() >= n_items
    ):
        raise ValueError(f"codes must lie in [0, {n_users}) x [0, {n_items})")
    n = n_users + n_items
    r = sp.csr_matrix(
        (np.ones(users.size, dtype=np.float32), (users, items)), shape=(n_users, n_items)
    )
    r.sum_duplicates()
    r.data[:] = 1.0
    adj = sp.bmat([[None, r], [r.T, None]], format="csr", dtype=np.float32)
    if add_self_loops:
        adj = (adj + sp.identity(n, dtype=np.float32, format="csr")).tocsr()
    deg = np.asarray(adj.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(deg)
    nz = deg > 0
    inv_sqrt[nz] = deg[nz] ** -0.5
    norm = sp.diags(inv_sqrt) @ adj @ sp.diags(inv_sqrt)
    norm = sp.csr_matrix(norm, dtype=np.float32)
    norm.sort_indices()
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(norm.indptr.astype(np.int64)),
            torch.from_numpy(norm.indices.astype(np.int64)),
            torch.from_numpy(norm.data),
            size=(n, n),
            dtype=torch.float32,
            check_invariants=False,
        )


class _SparseDenseMM(torch.autograd.Function):
    """``A @ X`` with the gradient ``A^T @ G`` (a sparse CSR product both ways).

    ``torch.sparse.mm``'s own backward through a sparse matrix is an order of
    magnitude slower on the CPU than a second sparse product with ``A^T``.
    """

    @staticmethod
    def forward(
        ctx,
        x: torch.Tensor,
        adj: torch.Tensor,  # type: ignore[override]
        adj_t: torch.Tensor,
    ) -> torch.Tensor:
        ctx.adj_t = adj_t
        return adj @ x

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return ctx.adj_t @ grad.contiguous(), None, None


def sparse_dense_mm(
    adj: torch.Tensor, x: torch.Tensor, adj_t: torch.Tensor | None = None
) -> torch.Tensor:
    """``adj @ x`` for a sparse CSR ``adj`` and dense ``x``, differentiable in ``x``.

    Args:
        adj: Sparse ``N x M`` matrix (CSR).
        x: Dense ``M x d`` tensor.
        adj_t: ``adj`` transposed (CSR) for the backward pass; ``None``: ``adj`` is
            symmetric (as a normalized adjacency is).
    """
    return _SparseDenseMM.apply(x, adj, adj if adj_t is None else adj_t)


class GraphPropagation(nn.Module):
    """``K`` layers of ``E <- A_hat E`` and a weighted sum of ``E^(0..K)``.

    Args:
        adjacency: The normalized adjacency (sparse CSR, ``N x N``, symmetric), e.g. from
            :func:`normalized_adjacency`; kept as a buffer that is not saved with the
            weights (it is rebuilt from the data).
        n_layers: Number of propagation layers ``K`` (0: the ego embeddings).
        layer_weights: ``K + 1`` weights ``alpha_k``; default ``1 / (K + 1)`` each.
    """

    def __init__(
        self, adjacency: torch.Tensor, n_layers: int, layer_weights: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        if int(n_layers) < 0:
            raise ValueError(f"n_layers must be >= 0, got {n_layers!r}")
        if adjacency.dim() != 2 or adjacency.shape[0] != adjacency.shape[1]:
            raise ValueError(f"adjacency must be square, got {list(adjacency.shape)}")
        self.n_layers = int(n_layers)
        weights = (
            [1.0 / (self.n_layers + 1)] * (self.n_layers + 1)
            if layer_weights is None
            else [float(w) for w in layer_weights]
        )
        if len(weights) != self.n_layers + 1:
            raise ValueError(f"layer_weights needs {self.n_layers + 1} values, got {len(weights)}")
        self.layer_weights = weights
        self.register_buffer("adjacency", adjacency, persistent=False)

    def layers(self, ego: torch.Tensor) -> list[torch.Tensor]:
        """``[E^(0), ..., E^(K)]`` for ego embeddings ``[N, d]``."""
        if ego.dim() != 2 or ego.shape[0] != self.adjacency.shape[0]:
            raise ValueError(
                f"expected embeddings [{self.adjacency.shape[0]}, d], got {list(ego.shape)}"
            )
        out = [ego]
        for _ in range(self.n_layers):
            out.append(sparse_dense_mm(self.adjacency, out[-1]))
        return out

    def forward(self, ego: torch.Tensor) -> torch.Tensor:
        """``sum_k alpha_k E^(k)``: ``[N, d] -> [N, d]``."""
        layers = self.layers(ego)
        out = layers[0] * self.layer_weights[0]
        for w, e in zip(self.layer_weights[1:], layers[1:]):
            out = out + w * e
        return out


__all__ = ["GraphPropagation", "normalized_adjacency", "sparse_dense_mm"]
