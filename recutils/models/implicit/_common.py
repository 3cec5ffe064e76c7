"""Helpers shared by the implicit wrappers: the user-item matrix and thread control."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp

from recutils.models.base import TrainData
from recutils.models.factors import appearance_order, check_extra
from recutils.utils.deps import require


def implicit_class(
    module: str, name: str, extra: dict[str, Any], reserved: list[str], library: str
) -> Any:
    """``implicit.cpu.<module>.<name>``, after checking ``extra`` against its signature."""
    mod = require(f"implicit.cpu.{module}", extra="implicit", package="implicit")
    cls = getattr(mod, name)
    target = cls.__init__ if inspect.isclass(cls) else cls
    allowed = [p for p in inspect.signature(target).parameters if p != "self"]
    check_extra(extra, allowed=allowed, reserved=reserved, library=library)
    return cls


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Limit BLAS to one thread while implicit builds and fits a model.

    implicit parallelises over users itself (``num_threads``); a multi-threaded
    OpenBLAS underneath oversubscribes the cores (implicit warns and slows down
    many times). The limit is lifted on exit.
    """
    threadpoolctl = require("threadpoolctl", extra="implicit")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


def user_items(
    data: TrainData, values: np.ndarray, dtype: type = np.float32
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """The ``n_users x n_items`` CSR of ``values`` with users/items in order of first appearance.

    Returns:
        ``(matrix, user_inverse, item_inverse)``: factors implicit learns on the
        matrix go back to recutils' code order with ``factors[user_inverse]``.
    """
    u, u_inv = appearance_order(data.user_idx, data.n_users)
    i, i_inv = appearance_order(data.item_idx, data.n_items)
    matrix = sp.csr_matrix((values.astype(dtype), (u, i)), shape=(data.n_users, data.n_items))
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix, u_inv, i_inv


__all__ = ["implicit_class", "single_threaded_blas", "user_items"]
