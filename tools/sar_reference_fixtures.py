"""Write tests/resources/sar_ms_reference.json: SAR scores from Microsoft Recommenders.

Run with an interpreter that has ``recommenders==1.2.1`` installed (never a recutils
dependency)::

    /path/to/refvenv/bin/python tools/sar_reference_fixtures.py
    /path/to/refvenv/bin/python tools/sar_reference_fixtures.py --ml100k path/to/ml-100k/u.data

For two toy data sets (one with a repeated (user, item) pair at different times)
and every similarity type, time decay on/off, threshold 1/2 and normalize on/off,
it stores Microsoft's full score matrix (``SARSingleNode.score``, users and items
in Microsoft's index order) and its item frequencies. ``-inf``/``NaN`` are stored
as ``null``.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from recommenders.models.sar import SAR

OUT = Path(__file__).resolve().parents[1] / "tests" / "resources" / "sar_ms_reference.json"

BASE = {
    "userID": [1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 6, 7],
    "itemID": [11, 12, 13, 11, 14, 15, 12, 13, 11, 12, 16, 14, 16, 13, 15, 16, 17, 11],
    "rating": [5, 3, 4, 4, 2, 5, 1, 5, 3, 4, 4, 2, 5, 3, 1, 4, 2, 5],
    "timestamp": [
        0,
        86400 * 3,
        86400 * 40,
        86400 * 10,
        86400 * 55,
        86400 * 61,
        86400 * 2,
        86400 * 20,
        86400 * 33,
        86400 * 34,
        86400 * 35,
        86400 * 5,
        86400 * 59,
        86400 * 12,
        86400 * 13,
        86400 * 14,
        86400 * 60,
        86400 * 45,
    ],
}
DUP = {
    k: v + extra
    for (k, v), extra in zip(BASE.items(), ([1, 4], [12, 11], [2, 1], [86400 * 50, 86400 * 58]))
}
SIMS = [
    "cooccurrence",
    "cosine",
    "inclusion index",
    "jaccard",
    "lexicographers mutual information",
    "lift",
    "mutual information",
]


def _clean(matrix: np.ndarray) -> list:
    return [[None if not math.isfinite(float(x)) else float(x) for x in row] for row in matrix]


def main() -> None:
    cases = []
    for data_name, data in (("base", BASE), ("dup", DUP)):
        df = pd.DataFrame(data)
        df["rating"] = df["rating"].astype(float)
        for sim, decay, threshold, normalize in itertools.product(
            SIMS, (False, True), (1, 2), (False, True)
        ):
            if data_name == "dup" and (not decay or normalize):
                continue  # MS counts duplicates twice without decay; its unity decay is off
            if sim == "cooccurrence" and normalize:
                continue  # MS 1.2.1 fails here (min of a sparse matrix), nothing to compare
            model = SAR(
                similarity_type=sim,
                timedecay_formula=decay,
                time_decay_coefficient=30,
                threshold=threshold,
                normalize=normalize,
            )
            with np.errstate(all="ignore"):
                model.fit(df)
                users = pd.DataFrame(
                    {"userID": [model.index2user[i] for i in range(model.n_users)]}
                )
                scores = model.score(users)
            cases.append(
                {
                    "data": data_name,
                    "similarity_type": sim,
                    "timedecay_formula": decay,
                    "threshold": threshold,
                    "normalize": normalize,
                    "users": [int(model.index2user[i]) for i in range(model.n_users)],
                    "items": [int(model.index2item[i]) for i in range(model.n_items)],
                    "scores": _clean(np.asarray(scores)),
                    "item_frequencies": [float(x) for x in np.asarray(model.item_frequencies)],
                }
            )
    OUT.write_text(
        json.dumps(
            {
                "source": "recommenders 1.2.1 SARSingleNode",
                "data": {"base": BASE, "dup": DUP},
                "cases": cases,
            },
            indent=0,
        )
    )
    print(f"wrote {len(cases)} cases to {OUT}")


def ml100k_split_mask(u_data: str) -> None:
    """Write Microsoft's stratified split of MovieLens 100k (seed 42) as a row mask.

    ``tests/resources/ml100k_ms_stratified_split_seed42.npz`` holds ``train``: the
    bit-packed mask of the ``u.data`` lines (file order) Microsoft's
    ``python_stratified_split(data, ratio=0.75, min_rating=1, filter_by="item",
    seed=42)`` puts in the training set. Only line numbers are stored, none of the
    data, so MovieLens' no-redistribution terms are kept.
    """
    from recommenders.datasets.python_splitters import python_stratified_split

    data = pd.read_csv(u_data, sep="\t", names=["userID", "itemID", "rating", "timestamp"])
    train, _ = python_stratified_split(data, ratio=0.75, min_rating=1, filter_by="item", seed=42)
    mask = np.zeros(len(data), dtype=bool)
    mask[train.index.to_numpy()] = True
    path = OUT.parent / "ml100k_ms_stratified_split_seed42.npz"
    np.savez_compressed(path, train=np.packbits(mask), n_rows=np.array(len(data)))
    print(f"wrote {path} ({int(mask.sum())} training rows)")


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 2 and sys.argv[1] == "--ml100k":
        ml100k_split_mask(sys.argv[2])
    else:
        main()
