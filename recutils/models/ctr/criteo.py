"""Criteo display-advertising rows in the shape the zoo models expect (torch-free).

The raw DAC rows (:func:`recutils.datasets.criteo.read_dac`) have no user or item; each
row becomes its own user (``userID`` = row number) shown one item (``itemID`` = 0), so
the rows fit the Recommender interface and the point-wise metrics. Features: the 13
counts ``I1..I13`` bucketized on a log-like grid (embedded, so heavy tails and missing
values need no scaling) and the 26 hashed categoricals ``C1..C26`` with a vocabulary of
the values seen ``min_count`` times. :func:`criteo_feature_groups` maps any zoo
model's feature groups onto these features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recutils.datasets.criteo import CAT_COLS, INT_COLS, LABEL_COL
from recutils.exceptions import ConfigError

#: Bucket boundaries of the integer count features (I2 can be -1..-3).
COUNT_BOUNDARIES = [-0.5, 0.5, 1.5, 2.5, 4.5, 8.5, 16.5, 32.5, 64.5, 128.5, 256.5, 512.5, 1024.5, 4096.5, 16384.5]
#: Categorical features that drive PPNet's gates on Criteo (publisher / advertiser side ids).
PERSONAL_COLS: tuple[str, ...] = ("C1", "C2", "C3", "C4", "C5", "C6")


def criteo_ctr_frame(rows: pd.DataFrame, *, col_user: str = DEFAULT_USER_COL,
                     col_item: str = DEFAULT_ITEM_COL) -> pd.DataFrame:
    """``rows`` (never modified) with a user per row and a single item, label as float."""
    missing = [c for c in (LABEL_COL, *INT_COLS, *CAT_COLS) if c not in rows.columns]
    if missing:
        raise ConfigError(f"Criteo rows need the DAC columns; missing {missing}.")
    out = rows.reset_index(drop=True).copy()
    out[col_user] = np.arange(len(out), dtype=np.int64)
    out[col_item] = 0
    out[LABEL_COL] = out[LABEL_COL].astype("float64")
    return out


def criteo_features(min_count: int = 5, embedding_dim: int = 16) -> list[dict]:
    """Feature configs of the 39 Criteo columns (see the module docstring)."""
    ints = [{"name": c, "type": "numeric", "boundaries": COUNT_BOUNDARIES, "embedding_dim": embedding_dim}
            for c in INT_COLS]
    cats = [{"name": c, "min_count": int(min_count), "embedding_dim": embedding_dim} for c in CAT_COLS]
    return ints + cats


def criteo_feature_groups(name: str) -> dict[str, list[str]]:
    """Criteo features for every feature group of zoo model ``name``.

    Every group holds all 39 features except: DLRM's ``dense`` group (the counts) and
    ``sparse`` group (the categoricals), PPNet's ``personal`` group (:data:`PERSONAL_COLS`)
    and the multi-tower model's ``user`` (counts) and ``item`` (categoricals) towers.
    """
    from recutils.models.ctr.zoo import preset_config

    every = [*INT_COLS, *CAT_COLS]
    special = {"dense": list(INT_COLS), "sparse": list(CAT_COLS), "personal": list(PERSONAL_COLS),
               "user": list(INT_COLS), "item": list(CAT_COLS)}
    groups = [g["group_name"] for g in preset_config(name)["model_config"]["feature_groups"]]
    return {g: special.get(g, every) for g in groups}


__all__ = ["COUNT_BOUNDARIES", "PERSONAL_COLS", "criteo_ctr_frame", "criteo_feature_groups", "criteo_features"]
