"""Criteo DAC reader on the real head of the Kaggle train.txt (skipped when absent)."""

from __future__ import annotations

import tarfile

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


@pytest.fixture
def offline_cache(monkeypatch, tmp_path):
    """No network, a private empty cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(cache))
    return cache


def _as_sample(real, folder):
    """``folder/dac_sample.txt`` as a symlink to a real DAC file (in tmp_path only)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / criteo.SAMPLE_FILE).symlink_to(real)
    return folder


def test_loader_reads_real_file_through_mirror_setting(
    require_dataset, offline_cache, monkeypatch, tmp_path
):
    real = require_dataset("criteo") / "dac_sample_paddlerec100.txt"
    mirror = tmp_path / "mirror"
    _as_sample(real, mirror / "criteo")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(mirror))
    df = criteo.load_pandas_df("sample", progress=False)
    assert df.shape == (100, 40) and int(df["label"].sum()) == 29
    assert df.equals(criteo.read_dac(real))


def test_loader_reads_real_file_through_local_cache_path(require_dataset, offline_cache, tmp_path):
    real = require_dataset("criteo") / "dac_train_head1000.txt"
    folder = _as_sample(real, tmp_path / "mine")
    df = criteo.load_pandas_df("sample", local_cache_path=folder, nrows=300)
    assert df.shape == (300, 40)
    assert df.iloc[0][["I1", "I2", "I3", "I4", "I5"]].tolist() == [1.0, 1.0, 5.0, 0.0, 1382.0]


def test_loader_extracts_real_file_from_a_local_archive(require_dataset, offline_cache, tmp_path):
    real = require_dataset("criteo") / "dac_train_head1000.txt"
    archive = tmp_path / "dl" / criteo.SAMPLE.filename
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(real, arcname=criteo.SAMPLE_FILE)
    df = criteo.load_pandas_df("sample", local_cache_path=archive, progress=False)
    assert df.shape == (1000, 40) and int(df["label"].sum()) == 205
    assert (tmp_path / "dl" / "criteo" / criteo.SAMPLE_FILE).is_file()  # next to the archive
    assert not offline_cache.exists() or not any(offline_cache.iterdir())


def test_sample_not_in_mirror_is_unavailable_offline(
    require_dataset, data_mirror, offline_cache, monkeypatch
):
    folder = require_dataset("criteo")
    if (folder / criteo.SAMPLE_FILE).exists() or (data_mirror / criteo.SAMPLE.filename).exists():
        pytest.skip("this mirror holds the full Criteo sample")

    def no_network(*args, **kwargs):
        raise AssertionError("network touched while RECUTILS_OFFLINE=1")

    monkeypatch.setattr(dl.transfer, "_open_url", no_network)
    with pytest.raises(DatasetUnavailableError) as info:
        criteo.load_pandas_df("sample")
    message = str(info.value)
    for needle in (
        f"[{criteo.SAMPLE_FILE!r}]",
        f"{dl.ENV_DATA_MIRROR}={data_mirror}",
        f"{dl.ENV_OFFLINE} is set",
        f"cache {offline_cache}",
        criteo.SAMPLE.url,
    ):
        assert needle in message, needle
    assert not any(offline_cache.iterdir())  # nothing half-written into the cache
