"""The comparison the Spark SAR tests share: top-k lists identical up to ties at the cut."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Tolerance of the scores, and of what counts as a tie.
TOL = 1e-6


def assert_same_top_k(expected: pd.DataFrame, got: pd.DataFrame, tol: float = TOL) -> None:
    """Same users, same scores rank by rank (to ``tol``), and the same items except among
    items tied (within ``tol``) with the last one kept: "identical up to ties at the cut"."""
    cols = ["userID", "itemID", "prediction", "rank"]
    a = expected[cols].sort_values(["userID", "rank"]).reset_index(drop=True)
    b = got[cols].sort_values(["userID", "rank"]).reset_index(drop=True)
    assert len(a) == len(b) and a["userID"].tolist() == b["userID"].tolist()
    np.testing.assert_allclose(
        b["prediction"].to_numpy(), a["prediction"].to_numpy(), rtol=tol, atol=tol
    )
    for frame in (a, b):
        cut = frame.groupby("userID")["prediction"].transform("min")
        frame["above_cut"] = frame["prediction"] > cut + tol * np.maximum(1.0, cut.abs())

    def above(frame: pd.DataFrame) -> set[tuple]:
        return set(map(tuple, frame.loc[frame["above_cut"], ["userID", "itemID"]].to_numpy()))

    assert above(a) == above(b)
    ties_a = a.loc[~a["above_cut"]].groupby("userID").size()
    ties_b = b.loc[~b["above_cut"]].groupby("userID").size()
    pd.testing.assert_series_equal(ties_a, ties_b)
