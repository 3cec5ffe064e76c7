"""The Taobao UserBehavior head from the data mirror: counts, digests, the download path, and
the behaviour-history click-through samples built from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import download as dl
from recutils.datasets import taobao
from recutils.datasets.behaviour_ctr import (
    GROUP_COL,
    TIME_GAP_COL,
    history_column,
    history_samples,
    leave_last_out_samples,
)

pytestmark = pytest.mark.realdata

#: Behaviours with at least one strictly earlier behaviour of the same user.
N_WITH_HISTORY = 83_659


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


@pytest.fixture
def behaviors(require_dataset) -> pd.DataFrame:
    require_dataset(taobao.FOLDER)
    return taobao.load_pandas_df(progress=False)


def test_taobao_counts_as_in_provenance(require_dataset, behaviors):
    folder = require_dataset(taobao.FOLDER)
    dl.verify_file(folder / taobao.FILENAME, size=taobao.HEAD.size, sha256=taobao.HEAD.sha256)
    df = behaviors
    assert list(df.columns) == ["userID", "itemID", "category", "behavior", "timestamp"]
    assert (len(df), df["userID"].nunique(), df["itemID"].nunique(), df["category"].nunique()) == (
        taobao.N_ROWS,
        taobao.N_USERS,
        taobao.N_ITEMS,
        taobao.N_CATEGORIES,
    )
    assert df["behavior"].value_counts().to_dict() == taobao.BEHAVIOR_COUNTS
    per_user = df.groupby("userID").size()
    assert (per_user.median(), per_user.min(), per_user.max()) == (78, 4, 539)
    assert per_user.loc[100370] == 188  # the last user, maybe cut short
    assert (df.groupby("itemID")["category"].nunique() > 1).sum() == 1
    # sorted by user, then time
    keys = df[["userID", "timestamp"]].to_numpy()
    assert (np.diff(keys[:, 0]) >= 0).all()
    assert ((np.diff(keys[:, 1]) >= 0) | (np.diff(keys[:, 0]) > 0)).all()
    assert pd.to_datetime(df["timestamp"].min(), unit="s") == pd.Timestamp("2017-09-11 08:16:39")

    inside = taobao.load_pandas_df(drop_outside_window=True, progress=False)
    assert len(df) - len(inside) == taobao.N_OUTSIDE_WINDOW
    china = pd.to_datetime(inside["timestamp"], unit="s", utc=True).dt.tz_convert("Asia/Shanghai")
    assert str(china.min().date()) == "2017-11-25" and str(china.max().date()) == "2017-12-03"


def test_taobao_head_written_from_the_published_source(require_dataset, monkeypatch, tmp_path):
    """The download path: the source (the head plus the 25-byte partial row, which must have
    the pinned SHA-256) is fetched, cut after its last newline, and checked."""
    folder = require_dataset(taobao.FOLDER)
    source = tmp_path / "upstream" / taobao.SOURCE_FILENAME
    source.parent.mkdir()
    source.write_bytes((folder / taobao.FILENAME).read_bytes() + b"100370,1968385,1875258,pv")
    assert dl.file_hash(source, "sha256") == taobao.SOURCE.sha256
    assert source.stat().st_size == taobao.SOURCE.size
    monkeypatch.setattr(
        taobao,
        "SOURCE",
        dl.RemoteFile(
            taobao.SOURCE_FILENAME, source.as_uri(), taobao.SOURCE.sha256, taobao.SOURCE.size
        ),
    )
    monkeypatch.delenv(dl.ENV_OFFLINE)
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "empty-mirror"))
    (tmp_path / "empty-mirror").mkdir()
    target = tmp_path / "local"
    target.mkdir()
    df = taobao.load_pandas_df(target, progress=False)
    assert len(df) == taobao.N_ROWS
    written = target / taobao.FOLDER
    assert sorted(p.name for p in written.iterdir()) == [taobao.FILENAME]  # the source is removed
    assert dl.file_hash(written / taobao.FILENAME, "sha256") == taobao.HEAD.sha256


def test_taobao_history_samples(behaviors):
    df = behaviors
    has_history = (df["timestamp"] > df.groupby("userID")["timestamp"].transform("min")).sum()
    assert has_history == N_WITH_HISTORY
    out = history_samples(df, seed=0)
    assert len(out) == 2 * N_WITH_HISTORY
    assert out["label"].mean() == 0.5
    lengths = out[history_column("itemID")].map(len).to_numpy()
    assert lengths.min() == 1 and lengths.max() == 50
    assert (out[history_column("behavior")].map(len).to_numpy() == lengths).all()
    gaps = np.concatenate(out[TIME_GAP_COL].to_numpy()[::20])
    assert (gaps > 0).all()
    negatives = out[out["label"] == 0]
    assert (negatives["itemID"].to_numpy() != out.loc[out["label"] == 1, "itemID"].to_numpy()).all()


def test_taobao_leave_last_out_samples(behaviors):
    train, valid, test = leave_last_out_samples(behaviors, col_behavior="behavior")
    # every user has >= 4 behaviours: one validation and one test target each
    assert (len(valid), len(test)) == (taobao.N_USERS * 5, taobao.N_USERS * 10)
    assert len(train) == (taobao.N_ROWS - 3 * taobao.N_USERS) * 5
    for frame, n in ((train, 4), (valid, 4), (test, 9)):
        assert frame["label"].mean() == pytest.approx(1 / (n + 1))
    assert test.groupby(GROUP_COL)["itemID"].nunique().eq(10).all()
