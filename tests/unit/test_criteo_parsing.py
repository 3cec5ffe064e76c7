"""Criteo DAC reader and loader on tiny synthetic files (no network)."""

from __future__ import annotations

import gzip
import io
import tarfile

import numpy as np
import pytest

from recutils.datasets import criteo
from recutils.datasets import download as dl
from recutils.exceptions import ConfigError, DataError

ROW_FULL = (
    "1\t" + "\t".join(str(i) for i in range(13)) + "\t" + "\t".join(f"{i:08x}" for i in range(26))
)
ROW_MISSING = "0\t\t5" + "\t" * 12 + "abcdef01"  # stripped trailing empty fields
TEXT = ROW_FULL + "\n" + ROW_MISSING + "\n"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.delenv(dl.ENV_DATA_MIRROR, raising=False)
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "home"))
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")


def test_read_dac_dtypes_and_missing(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text(TEXT)
    df = criteo.read_dac(path)
    assert df.shape == (2, 40)
    assert df["label"].dtype == np.int8 and df["label"].tolist() == [1, 0]
    assert df["I13"].tolist()[0] == 12.0 and np.isnan(df["I1"].iloc[1])
    assert df["I2"].iloc[1] == 5.0
    assert df["C1"].tolist() == ["00000000", "abcdef01"]
    assert df["C26"].isna().tolist() == [False, True]


def test_read_dac_gzip_and_bad_label(tmp_path):
    gz = tmp_path / "d.txt.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(TEXT)
    assert len(criteo.read_dac(gz)) == 2
    bad = tmp_path / "bad.txt"
    bad.write_text("2" + ROW_FULL[1:] + "\n")
    with pytest.raises(DataError, match="label must be 0 or 1"):
        criteo.read_dac(bad)
    with pytest.raises(ConfigError, match="40"):
        criteo.read_dac(bad, header=["a", "b"])


def test_load_sample_from_local_archive(tmp_path):
    archive = tmp_path / "dac_sample.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        data = TEXT.encode()
        info = tarfile.TarInfo("dac_sample.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    df = criteo.load_pandas_df("sample", local_cache_path=archive)
    assert df.shape == (2, 40)
    with pytest.raises(ConfigError, match="sample"):
        criteo.load_pandas_df("full")


def test_load_sample_from_mirror_folder(monkeypatch, tmp_path):
    (tmp_path / "mirror" / "criteo").mkdir(parents=True)
    (tmp_path / "mirror" / "criteo" / "dac_sample.txt").write_text(TEXT)
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "mirror"))
    assert criteo.load_pandas_df(nrows=1).shape == (1, 40)
