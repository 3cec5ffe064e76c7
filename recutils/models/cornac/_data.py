"""Build a cornac ``Dataset`` from recutils' integer codes (no per-row Python loop)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from recutils.models.base import TrainData
from recutils.models.factors import appearance_order


def cornac_dataset(data: TrainData, seed: int | None) -> tuple[Any, np.ndarray, np.ndarray]:
    """A ``cornac.data.Dataset`` of ``data`` with users/items numbered by first appearance.

    That is the numbering cornac's ``Dataset.from_uir`` gives the same rows, so a
    seeded fit reproduces cornac used directly.

    Returns:
        ``(dataset, user_inverse, item_inverse)``: factors learned by cornac
        (indexed by appearance rank) go back to recutils' code order with
        ``factors[user_inverse]`` / ``factors[item_inverse]``.
    """
    from cornac.data import Dataset

    u, u_inv = appearance_order(data.user_idx, data.n_users)
    i, i_inv = appearance_order(data.item_idx, data.n_items)
    uid_map = OrderedDict((int(c), int(r)) for c, r in zip(np.argsort(u_inv), range(data.n_users)))
    iid_map = OrderedDict((int(c), int(r)) for c, r in zip(np.argsort(i_inv), range(data.n_items)))
    dataset = Dataset(
        num_users=data.n_users,
        num_items=data.n_items,
        uid_map=uid_map,
        iid_map=iid_map,
        uir_tuple=(u.astype(np.int64), i.astype(np.int64), data.rating.astype(np.float64)),
        seed=seed,
    )
    return dataset, u_inv, i_inv
