"""Criteo display-advertising features for the zoo models (torch-free).

The rows come from :func:`recutils.datasets.criteo.read_dac`, shaped by
:func:`recutils.datasets.criteo.criteo_ctr_frame` (each row its own user shown one item;
still importable from here). Features: the 13 counts ``I1..I13`` bucketized on a log-like
grid (embedded, so heavy tails and missing values need no scaling) and the 26 hashed
categoricals ``C1..C26`` with a vocabulary of the values seen ``min_count`` times. :func:`criteo_feature_groups` maps any zoo
model's feature groups onto these features.
"""

from __future__ import annotations

from recutils.datasets.criteo import CAT_COLS, INT_COLS, criteo_ctr_frame  # noqa: F401 (old home)

#: Bucket boundaries of the integer count features (I2 can be -1..-3).
COUNT_BOUNDARIES = [
    -0.5,
    0.5,
    1.5,
    2.5,
    4.5,
    8.5,
    16.5,
    32.5,
    64.5,
    128.5,
    256.5,
    512.5,
    1024.5,
    4096.5,
    16384.5,
]
#: Categorical features that drive PPNet's gates on Criteo (publisher / advertiser side ids).
PERSONAL_COLS: tuple[str, ...] = ("C1", "C2", "C3", "C4", "C5", "C6")


def criteo_features(min_count: int = 5, embedding_dim: int = 16) -> list[dict]:
    """Feature configs of the 39 Criteo columns (see the module docstring)."""
    ints = [
        {
            "name": c,
            "type": "numeric",
            "boundaries": COUNT_BOUNDARIES,
            "embedding_dim": embedding_dim,
        }
        for c in INT_COLS
    ]
    cats = [
        {"name": c, "min_count": int(min_count), "embedding_dim": embedding_dim} for c in CAT_COLS
    ]
    return ints + cats


def criteo_feature_groups(name: str) -> dict[str, list[str]]:
    """Criteo features for every feature group of zoo model ``name``.

    Every group holds all 39 features except: DLRM's ``dense`` group (the counts) and
    ``sparse`` group (the categoricals), PPNet's ``personal`` group (:data:`PERSONAL_COLS`)
    and the multi-tower model's ``user`` (counts) and ``item`` (categoricals) towers.
    """
    from recutils.models.ctr.zoo import preset_config

    every = [*INT_COLS, *CAT_COLS]
    special = {
        "dense": list(INT_COLS),
        "sparse": list(CAT_COLS),
        "personal": list(PERSONAL_COLS),
        "user": list(INT_COLS),
        "item": list(CAT_COLS),
    }
    groups = [g["group_name"] for g in preset_config(name)["model_config"]["feature_groups"]]
    return {g: special.get(g, every) for g in groups}


__all__ = [
    "COUNT_BOUNDARIES",
    "PERSONAL_COLS",
    "criteo_ctr_frame",
    "criteo_feature_groups",
    "criteo_features",
]
