"""Amazon (ReChorus Grocery) and Last.fm HetRec loaders on the real files of the data mirror."""

from __future__ import annotations

import numpy as np
import pytest

from recutils.datasets import amazon, lastfm
from recutils.datasets import download as dl

pytestmark = pytest.mark.realdata


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    """Never download, never touch the user's cache."""
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def test_amazon_grocery_counts_and_categories(require_dataset):
    folder = require_dataset("amazon-grocery-rechorus")
    df = amazon.load_pandas_df("grocery", col_category="category", progress=False)
    assert len(df) == 121_892
    assert df["userID"].nunique() == 14_681 and df["itemID"].nunique() == 8_687
    # the first data line of train.csv is "2177\t3\t965779200" (2000-08-09)
    assert df.iloc[0][["userID", "itemID", "timestamp"]].tolist() == [2177, 3, 965_779_200]
    assert df["timestamp"].min() == 965_779_200
    assert df["category"].notna().all() and df["category"].nunique() == 56
    assert not df.duplicated(["userID", "itemID"]).any()
    # every user keeps at least 3 interactions (5-core minus ReChorus' 2 held-out rows)
    assert df.groupby("userID").size().min() >= 3
    items = amazon.load_item_df("grocery")
    assert len(items) == 8_713 and items["category"].nunique() == 57
    assert set(df["itemID"]) <= set(items["itemID"])
    first = items.set_index("itemID").loc[1]
    assert list(first["substitutes"]) == [6285, 194, 4169, 6068, 2286, 6426, 6191]
    # the mirror files are the pinned upstream ones
    for remote in amazon._CATEGORIES["grocery"].files:
        dl.verify_file(folder / remote.filename, size=remote.size, sha256=remote.sha256)


def test_lastfm_counts_friends_and_artists(require_dataset):
    folder = require_dataset("hetrec2011-lastfm-2k")
    df = lastfm.load_pandas_df(progress=False)
    assert len(df) == 92_834
    assert df["userID"].nunique() == 1_892 and df["itemID"].nunique() == 17_632
    assert df.iloc[0].tolist() == [2, 51, 13883.0]
    counts = df["rating"].to_numpy()
    assert counts.min() == 1 and counts.max() == 352_698 and np.all(counts == np.round(counts))
    assert not df.duplicated(["userID", "itemID"]).any()
    friends = lastfm.load_friends_df()
    assert len(friends) == 25_434
    pairs = set(map(tuple, friends.to_numpy().tolist()))
    assert all((b, a) in pairs for a, b in pairs)  # stored in both directions
    artists = lastfm.load_item_df()
    assert len(artists) == 17_632 and artists["itemID"].is_unique
    assert set(df["itemID"]) <= set(artists["itemID"])
    for name, sha in lastfm.FILE_SHA256.items():
        dl.verify_file(folder / name, sha256=sha)
