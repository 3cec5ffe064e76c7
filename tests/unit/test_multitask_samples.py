"""Ali-CCP and AliExpress samples (Torch-RecHub): parsing and checks on synthetic files, and
the real files of the data mirror (``realdata`` tests, skipped without the mirror)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recutils.datasets import download as dl
from recutils.datasets import multitask_samples as mts
from recutils.exceptions import ConfigError, CorruptDataError, DatasetUnavailableError

ALI_CCP_COLUMNS = [*mts.ALI_CCP_LABELS, *mts.ALI_CCP_SPARSE, *mts.ALI_CCP_DENSE]
ALIEXPRESS_COLUMNS = [
    mts.ALIEXPRESS_ID_COL,
    *mts.ALIEXPRESS_SPARSE,
    *mts.ALIEXPRESS_DENSE,
    *mts.ALIEXPRESS_LABELS,
]


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    """Never download, never touch the user's cache."""
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


# --------------------------------------------------------------------------- synthetic files


def ali_ccp_row(click: int, purchase: int, code: int = 1, dense: str = "0.5") -> str:
    return ",".join([str(click), str(purchase), *[str(code)] * 23, *[dense] * 8])


def aliexpress_row(search_id: int, click: int, conversion: object) -> str:
    return ",".join([str(search_id), *["3"] * 16, *["0"] * 63, str(click), str(conversion)])


def write_samples(
    folder: Path, ali_ccp: list[str] | None = None, aliexpress: list[str] | None = None
) -> Path:
    """A folder with all five sample files, ``ali_ccp`` as every Ali-CCP file and
    ``aliexpress`` as every AliExpress file."""
    target = folder / mts.FOLDER
    target.mkdir(parents=True)
    ali_ccp = ali_ccp or [ali_ccp_row(0, 0), ali_ccp_row(1, 1, code=7), ali_ccp_row(1, 0)]
    aliexpress = aliexpress or [aliexpress_row(5, 1, 1), aliexpress_row(5, 0, 0)]
    for name in mts.ALI_CCP_FILES.values():
        (target / name).write_text("\n".join([",".join(ALI_CCP_COLUMNS), *ali_ccp]))
    for name in mts.ALIEXPRESS_FILES.values():
        (target / name).write_text("\n".join([",".join(ALIEXPRESS_COLUMNS), *aliexpress]) + "\n")
    return folder


def test_ali_ccp_sample_columns_and_dtypes(tmp_path):
    folder = write_samples(tmp_path)
    df = mts.load_ali_ccp_sample("valid", local_cache_path=folder, verify=False, progress=False)
    assert list(df.columns) == ALI_CCP_COLUMNS
    assert df["click"].tolist() == [0, 1, 1] and df["purchase"].tolist() == [0, 1, 0]
    assert df[list(mts.ALI_CCP_LABELS)].dtypes.eq(np.int8).all()
    assert df[list(mts.ALI_CCP_SPARSE)].dtypes.eq(np.int64).all()
    assert df[list(mts.ALI_CCP_DENSE)].dtypes.eq(np.float64).all()
    assert df["150_14"].tolist() == [1, 7, 1]


def test_aliexpress_sample_columns_and_dtypes(tmp_path):
    folder = write_samples(tmp_path)
    df = mts.load_aliexpress_sample("test", local_cache_path=folder, verify=False, progress=False)
    assert list(df.columns) == ALIEXPRESS_COLUMNS
    assert df["conversion"].tolist() == [1, 0] and df["conversion"].dtype == np.int8
    # integer-looking dense values are still float64
    assert df[list(mts.ALIEXPRESS_DENSE)].dtypes.eq(np.float64).all()
    assert df["search_id"].dtype == np.int64


def test_sample_label_outside_0_1_is_corrupt(tmp_path):
    folder = write_samples(tmp_path, aliexpress=[aliexpress_row(1, 1, 2)])
    with pytest.raises(CorruptDataError, match=r"aliexpress_train_sample.csv: .*'conversion'"):
        mts.load_aliexpress_sample(local_cache_path=folder, verify=False, progress=False)


def test_sample_missing_label_is_corrupt(tmp_path):
    folder = write_samples(tmp_path, aliexpress=[aliexpress_row(1, 1, "")])
    with pytest.raises(CorruptDataError, match=r"'conversion' has 1 missing"):
        mts.load_aliexpress_sample(local_cache_path=folder, verify=False, progress=False)


def test_sample_other_header_or_short_line_is_corrupt(tmp_path):
    folder = write_samples(tmp_path)
    path = folder / mts.FOLDER / mts.ALI_CCP_FILES["test"]
    path.write_text(path.read_text().replace("click,purchase", "purchase,click", 1))
    with pytest.raises(CorruptDataError, match="expected the header"):
        mts.load_ali_ccp_sample("test", local_cache_path=folder, verify=False, progress=False)
    folder = write_samples(tmp_path / "b", ali_ccp=[ali_ccp_row(0, 0), "0,0,1"])
    with pytest.raises(CorruptDataError, match=r"line 3: 3 fields, expected 33"):
        mts.load_ali_ccp_sample(local_cache_path=folder, verify=False, progress=False)


def test_sample_checks_the_published_digest(tmp_path):
    folder = write_samples(tmp_path)
    with pytest.raises(CorruptDataError, match="not the published Ali-CCP file"):
        mts.load_ali_ccp_sample(local_cache_path=folder, progress=False)


def test_sample_bad_split(tmp_path):
    folder = write_samples(tmp_path)
    with pytest.raises(ConfigError, match=r"allowed: \['test', 'train'\]"):
        mts.load_aliexpress_sample("valid", local_cache_path=folder, verify=False)
    with pytest.raises(ConfigError, match=r"allowed: \['test', 'train', 'valid'\]"):
        mts.load_ali_ccp_sample("val", local_cache_path=folder, verify=False)


def test_sample_absent_says_where_it_looked(monkeypatch, tmp_path):
    (tmp_path / "mirror").mkdir()
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "mirror"))
    with pytest.raises(DatasetUnavailableError, match=r"'multitask-samples-rechub'.*torch-rechub"):
        mts.load_ali_ccp_sample(progress=False)


def test_sample_urls_pin_a_commit():
    assert len(mts.FILES) == 5
    for remote in mts.FILES:
        assert mts._COMMIT in remote.url and remote.url.endswith("/" + remote.filename)
        assert len(remote.sha256) == 64 and remote.size > 0


# --------------------------------------------------------------------------- real files


@pytest.mark.realdata
@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_ali_ccp_real_counts_and_esmm_property(require_dataset, split):
    folder = require_dataset(mts.FOLDER)
    remote = next(f for f in mts.FILES if f.filename == mts.ALI_CCP_FILES[split])
    dl.verify_file(folder / remote.filename, size=remote.size, sha256=remote.sha256)
    df = mts.load_ali_ccp_sample(split, progress=False)
    rows, clicks, purchases = mts.ALI_CCP_COUNTS[split]
    assert df.shape == (rows, 33)
    assert (int(df["click"].sum()), int(df["purchase"].sum())) == (clicks, purchases)
    assert not ((df["purchase"] == 1) & (df["click"] == 0)).any()  # a purchase needs a click
    dense = df[list(mts.ALI_CCP_DENSE)].to_numpy()
    assert dense.min() >= 0.0 and dense.max() <= 1.0
    assert (df[list(mts.ALI_CCP_SPARSE)].to_numpy() >= 0).all()


@pytest.mark.realdata
@pytest.mark.parametrize("split", ["train", "test"])
def test_aliexpress_real_counts_and_esmm_property(require_dataset, split):
    folder = require_dataset(mts.FOLDER)
    remote = next(f for f in mts.FILES if f.filename == mts.ALIEXPRESS_FILES[split])
    dl.verify_file(folder / remote.filename, size=remote.size, sha256=remote.sha256)
    df = mts.load_aliexpress_sample(split, progress=False)
    rows, clicks, conversions = mts.ALIEXPRESS_COUNTS[split]
    assert df.shape == (rows, 82)
    assert (int(df["click"].sum()), int(df["conversion"].sum())) == (clicks, conversions)
    assert not ((df["conversion"] == 1) & (df["click"] == 0)).any()
    assert df[list(mts.ALIEXPRESS_DENSE)].notna().all().all()
