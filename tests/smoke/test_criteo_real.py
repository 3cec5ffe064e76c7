"""Criteo DAC reader on the real head of the Kaggle train.txt (skipped when absent)."""

from __future__ import annotations

import numpy as np
import pytest

from recutils.datasets import criteo
from recutils.datasets import download as dl
from recutils.exceptions import DatasetUnavailableError

pytestmark = pytest.mark.realdata


def test_dac_head_1000(require_dataset):
    folder = require_dataset("criteo")
    df = criteo.read_dac(folder / "dac_train_head1000.txt")
    assert df.shape == (1000, 40)
    assert list(df.columns) == list(criteo.DEFAULT_HEADER)
    assert df["label"].dtype == np.int8 and int(df["label"].sum()) == 205
    assert all(df[c].dtype == np.float64 for c in criteo.INT_COLS)
    # first record of the Kaggle train.txt: 0, 1, 1, 5, 0, 1382, ... C1=68fd1e64, C2=80e26c9b
    first = df.iloc[0]
    assert first[["I1", "I2", "I3", "I4", "I5"]].tolist() == [1.0, 1.0, 5.0, 0.0, 1382.0]
    assert np.isnan(first["I12"])
    assert first["C1"] == "68fd1e64" and first["C2"] == "80e26c9b"
    assert df[list(criteo.CAT_COLS)].isna().to_numpy().sum() > 0  # empty fields are missing
    assert df["C1"].str.fullmatch(r"[0-9a-f]{8}").all()


def test_dac_nrows_and_categorical(require_dataset):
    folder = require_dataset("criteo")
    df = criteo.read_dac(folder / "dac_sample_paddlerec100.txt", categorical=True)
    assert df.shape == (100, 40) and int(df["label"].sum()) == 29
    assert str(df["C1"].dtype) == "category"
    assert len(criteo.read_dac(folder / "dac_train_head1000.txt", nrows=10)) == 10


def test_sample_not_in_mirror_is_unavailable_offline(require_dataset, monkeypatch, tmp_path):
    require_dataset("criteo")
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match="dac_sample"):
        criteo.load_pandas_df("sample")
