"""Data builders live in recutils.datasets; the model packages' old paths still resolve."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest


def test_builders_import_without_torch_or_pyspark() -> None:
    code = (
        "import sys, recutils.datasets as d; "
        "import recutils.datasets.movielens_features, recutils.datasets.criteo; "
        "d.movielens_ctr_frame; d.criteo_ctr_frame; d.movielens_user_features; "
        "print(sorted(m for m in ('torch', 'pyspark', 'tensorflow', 'lightfm') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_old_module_paths_are_the_same_functions() -> None:
    from recutils.datasets import criteo, movielens_features
    from recutils.models.deep import data

    assert data.movielens_ctr_frame is movielens_features.movielens_ctr_frame
    from recutils.models.lightfm import features

    assert features.movielens_user_features is movielens_features.movielens_user_features
    assert features.movielens_item_features is movielens_features.movielens_item_features
    assert features.AGE_BUCKETS is movielens_features.AGE_BUCKETS
    ctr = pytest.importorskip("recutils.models.ctr.criteo")
    assert ctr.criteo_ctr_frame is criteo.criteo_ctr_frame


def test_criteo_ctr_frame_one_user_per_row_one_item() -> None:
    from recutils.datasets.criteo import CAT_COLS, INT_COLS, LABEL_COL, criteo_ctr_frame
    from recutils.exceptions import ConfigError

    rows = pd.DataFrame(
        {
            LABEL_COL: [1, 0, 1],
            **{c: [1, 2, 3] for c in INT_COLS},
            **{c: ["a", "b", "c"] for c in CAT_COLS},
        },
        index=[7, 8, 9],
    )
    out = criteo_ctr_frame(rows, col_user="u", col_item="i")
    assert out["u"].tolist() == [0, 1, 2] and out["i"].tolist() == [0, 0, 0]
    assert out[LABEL_COL].dtype == "float64" and rows[LABEL_COL].dtype == "int64"
    with pytest.raises(ConfigError, match="C26"):
        criteo_ctr_frame(rows.drop(columns="C26"))
