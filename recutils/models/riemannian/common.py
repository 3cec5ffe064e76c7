"""The fixed-rank matrix model and Riemannian conjugate-gradient fit shared by RLRMC and GeoIMC.

Both models write the (centred) rating matrix as a product ``A U B V^T C^T`` of

* ``U`` on the Stiefel manifold ``St(p, r)`` (``p x r`` with orthonormal columns),
* ``B`` on the manifold of ``r x r`` symmetric positive definite matrices,
* ``V`` on ``St(q, r)``,

with ``A``, ``C`` fixed matrices: the identity for RLRMC (``p`` users, ``q`` items), the
user and item feature matrices for GeoIMC. The factorisation ``U B V^T`` is the
polar-like parametrisation of rank-``r`` matrices of Mishra et al. (2013) and Jawanpuria
& Mishra (2018): the orthonormal factors carry the row and column spaces, ``B`` the
scaling, and the regulariser ``0.5 * reg * ||B||_F^2`` acts on the scaling only.

The loss is the squared error over the observed ratings only,

    f(U, B, V) = 0.5 * w * sum_{(u,i) observed} (a_u U B V^T c_i^T - y_ui)^2 + 0.5 * reg * ||B||_F^2

(``w = 1`` for RLRMC, ``1 / n_ratings`` for GeoIMC), minimised by Riemannian conjugate
gradients (Hestenes-Stiefel rule, back-tracking Armijo line search) over the product
manifold with pymanopt (``pip install "recutils[pymanopt]"``): Euclidean gradients written
by hand below are turned into Riemannian ones by pymanopt (projection onto the tangent
space; the Riemannian metric of the SPD factor), steps are retracted with the QR
retraction on the Stiefel factors and the second-order retraction of the affine-invariant
metric on the SPD factor. The residuals of the observed entries are computed once per
point (a row-wise product of gathered factor rows, in blocks), so the cost and its
gradient at the same point share them.

A fit is deterministic under ``seed``: the starting point comes from
``numpy.random.default_rng(seed)`` (pymanopt's own random points would use numpy's
global generator) and the run stops after ``max_iterations`` (``max_time``, off by
default, makes it depend on the machine's speed).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recutils.utils.deps import require

logger = logging.getLogger(__name__)

#: recutils extra that installs pymanopt.
EXTRA = "pymanopt"
#: Factor values gathered per block when computing residuals (blocks stay in cache:
#: one large gather of 80,000 x 300 entries is 30 times slower than blocks of this size).
_BLOCK_VALUES = 1 << 17


def import_pymanopt() -> Any:
    """The ``pymanopt`` module, or :class:`MissingDependencyError` naming the extra."""
    return require("pymanopt", EXTRA)


def observed_products(
    left: np.ndarray, right: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """``(left @ right.T)[rows, cols]`` without forming the product (blocks of rows)."""
    out = np.empty(rows.size, dtype=np.float64)
    block = max(256, _BLOCK_VALUES // max(left.shape[1], 1))
    for s in range(0, rows.size, block):
        sl = slice(s, s + block)
        out[sl] = np.einsum("ij,ij->i", left[rows[sl]], right[cols[sl]])
    return out


def spd_sqrt(b: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive (semi-)definite matrix."""
    w, q = np.linalg.eigh((b + b.T) / 2.0)
    return (q * np.sqrt(np.clip(w, 0.0, None))) @ q.T


def random_start(rng: np.random.Generator, p: int, q: int, rank: int) -> list[np.ndarray]:
    """A random point ``[U, B, V]`` of ``St(p, r) x SPD(r) x St(q, r)`` drawn from ``rng``:
    orthonormalised Gaussian matrices and ``B = Q diag(1 + uniform) Q^T`` (the
    distributions of pymanopt's ``random_point``)."""
    u, _ = np.linalg.qr(rng.standard_normal((p, rank)))
    v, _ = np.linalg.qr(rng.standard_normal((q, rank)))
    o, _ = np.linalg.qr(rng.standard_normal((rank, rank)))
    b = (o * (1.0 + rng.uniform(size=rank))) @ o.T
    return [u, (b + b.T) / 2.0, v]


@dataclass
class SolveResult:
    """Outcome of :func:`solve`: the point, the last cost, iterations and why it stopped."""

    point: list[np.ndarray]
    cost: float
    iterations: int
    stopping_criterion: str
    seconds: float


class ObservedLoss:
    """Cost and Euclidean gradient of ``f(U, B, V)`` (module docstring) on sparse targets.

    Args:
        targets: ``n_rows x n_cols`` CSR of the observed targets.
        left, right: The fixed matrices ``A`` (``n_rows x p``) and ``C`` (``n_cols x q``),
            dense or sparse; ``None`` is the identity.
        reg: ``reg`` of the regulariser on ``B``.
        weight: ``w``, the weight of the squared error.
    """

    def __init__(
        self, targets: sp.csr_matrix, left: Any, right: Any, reg: float, weight: float
    ) -> None:
        coo = targets.tocoo()
        self.rows = coo.row.astype(np.int64)
        self.cols = coo.col.astype(np.int64)
        self.y = coo.data.astype(np.float64)
        self.shape = targets.shape
        self.left, self.right = left, right
        self.reg, self.weight = float(reg), float(weight)
        self._point: tuple[np.ndarray, ...] = ()
        self._residual: np.ndarray = np.zeros(0)
        self._residual_matrix: sp.csr_matrix | None = None

    @staticmethod
    def _apply(m: Any, x: np.ndarray) -> np.ndarray:
        return x if m is None else np.asarray(m @ x)

    @staticmethod
    def _apply_t(m: Any, x: np.ndarray) -> np.ndarray:
        return x if m is None else np.asarray(m.T @ x)

    def residual(self, u: np.ndarray, b: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Residuals (prediction - target) of the observed entries at ``(U, B, V)``."""
        # pymanopt evaluates the gradient at the point it last costed: reuse the residuals
        # (the point is held, so ``is`` cannot match a new array at a recycled address)
        if not (len(self._point) == 3 and all(a is x for a, x in zip(self._point, (u, b, v)))):
            self._residual = (
                observed_products(
                    self._apply(self.left, u @ b), self._apply(self.right, v), self.rows, self.cols
                )
                - self.y
            )
            self._residual_matrix = None
            self._point = (u, b, v)
        return self._residual

    def cost(self, u: np.ndarray, b: np.ndarray, v: np.ndarray) -> float:
        r = self.residual(u, b, v)
        return 0.5 * self.weight * float(r @ r) + 0.5 * self.reg * float(np.sum(b * b))

    def gradient(
        self, u: np.ndarray, b: np.ndarray, v: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r = self.residual(u, b, v)
        if self._residual_matrix is None:
            self._residual_matrix = sp.csr_matrix(
                (r * self.weight, (self.rows, self.cols)), shape=self.shape
            )
        e = self._residual_matrix  # weighted residuals as a sparse matrix
        au = self._apply(self.left, u)  # A U
        cv = self._apply(self.right, v)  # C V
        e_cv = np.asarray(e @ cv)  # E C V
        grad_u = self._apply_t(self.left, e_cv @ b.T)  # A^T E C V B^T
        grad_b = au.T @ e_cv + self.reg * b
        grad_v = self._apply_t(self.right, np.asarray(e.T @ (au @ b)))  # C^T E^T A U B
        return grad_u, (grad_b + grad_b.T) / 2.0, grad_v


def solve(
    loss: ObservedLoss,
    start: list[np.ndarray],
    *,
    max_iterations: int,
    max_time: float | None,
    min_gradient_norm: float,
    num_threads: int | None = 1,
) -> SolveResult:
    """Minimise ``loss`` over ``St(p, r) x SPD(r) x St(q, r)`` from ``start`` by Riemannian
    conjugate gradients (Hestenes-Stiefel, back-tracking line search) with pymanopt.

    ``num_threads`` caps the BLAS threads during the run (``None``: the library's
    default). The matrices are thin (``r`` columns): one thread is usually the fastest
    (threads spend more time synchronising than computing, badly so on a busy machine)
    and makes the run reproducible bit for bit.
    """
    from threadpoolctl import threadpool_limits

    pymanopt = import_pymanopt()
    from pymanopt.manifolds import Product, Stiefel, SymmetricPositiveDefinite
    from pymanopt.optimizers import ConjugateGradient
    from pymanopt.optimizers.line_search import BackTrackingLineSearcher

    (p, rank), (q, _) = start[0].shape, start[2].shape
    manifold = Product([Stiefel(p, rank), SymmetricPositiveDefinite(rank), Stiefel(q, rank)])

    @pymanopt.function.numpy(manifold)
    def cost(u: np.ndarray, b: np.ndarray, v: np.ndarray) -> float:
        return loss.cost(u, b, v)

    @pymanopt.function.numpy(manifold)
    def gradient(u: np.ndarray, b: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, ...]:
        return loss.gradient(u, b, v)

    problem = pymanopt.Problem(manifold, cost, euclidean_gradient=gradient)
    optimizer = ConjugateGradient(
        beta_rule="HestenesStiefel",
        line_searcher=BackTrackingLineSearcher(),
        max_iterations=max_iterations,
        max_time=math.inf if max_time is None else float(max_time),
        min_gradient_norm=min_gradient_norm,
        min_step_size=1e-10,
        # every iteration evaluates the cost a few times: never stop on this count
        max_cost_evaluations=2**62,
        verbosity=0,
    )
    t0 = time.perf_counter()
    with threadpool_limits(limits=num_threads, user_api="blas"):
        result = optimizer.run(problem, initial_point=list(start))
    seconds = time.perf_counter() - t0
    logger.info("%s (cost %.6g, %.1f s)", result.stopping_criterion, result.cost, seconds)
    u, b, v = (np.asarray(x, dtype=np.float64) for x in result.point)
    return SolveResult(
        [u, (b + b.T) / 2.0, v],
        float(result.cost),
        int(result.iterations),
        str(result.stopping_criterion),
        seconds,
    )


__all__ = [
    "EXTRA",
    "ObservedLoss",
    "SolveResult",
    "import_pymanopt",
    "observed_products",
    "random_start",
    "solve",
    "spd_sqrt",
]
