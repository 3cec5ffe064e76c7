"""MovieLens loaders on the real files of the data mirror (skipped when it is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from recutils.datasets import download as dl
from recutils.datasets import movielens as ml
from recutils.exceptions import DatasetUnavailableError

pytestmark = pytest.mark.realdata


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    """Never download, never touch the user's cache."""
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def test_ml100k_ratings_with_item_features(require_dataset):
    require_dataset("ml-100k")
    df = ml.load_pandas_df(
        "100k", title_col="title", genres_col="genres", year_col="year", progress=False
    )
    assert df.shape == (100_000, 7)
    assert df["userID"].nunique() == 943 and df["itemID"].nunique() == 1682
    assert set(df["rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert df["title"].notna().all()
    # the first line of u.data is "196\t242\t3\t881250949"; item 242 is Kolya (1996), a comedy
    assert df.iloc[0][["userID", "itemID", "rating", "timestamp"]].tolist() == [
        196,
        242,
        3.0,
        881250949,
    ]
    assert df.iloc[0]["title"] == "Kolya (1996)" and df.iloc[0]["genres"] == "Comedy"


def test_ml100k_item_and_user_features(require_dataset):
    require_dataset("ml-100k")
    items = ml.load_item_df("100k")
    assert len(items) == 1682 and items["itemID"].is_unique
    titles = set(items["title"])
    assert "Misérables, Les (1995)" in titles  # latin-1 decoded
    assert not any("\ufffd" in t for t in titles)
    genres = set("|".join(items["genres"]).split("|")) - {""}
    assert genres == set(ml.GENRES_100K)
    toy = items.set_index("itemID").loc[1]
    assert toy["genres"] == "Animation|Children's|Comedy" and toy["year"] == 1995
    assert items["year"].notna().sum() >= 1680
    users = ml.load_user_df("100k")
    assert users.shape == (943, 5)
    assert users.iloc[0].tolist() == [1, 24, "M", "technician", "85711"]
    assert users["occupation"].nunique() == 21


def test_ml_latest_small_half_stars(require_dataset):
    require_dataset("ml-latest-small")
    df = ml.load_pandas_df("latest-small", genres_col="genres")
    assert len(df) == 100_004
    assert df["userID"].nunique() == 671 and df["itemID"].nunique() == 9066
    ratings = df["rating"].to_numpy()
    assert np.all(ratings * 2 == np.round(ratings * 2))
    assert ratings.min() == 0.5 and ratings.max() == 5.0
    assert (ratings % 1 == 0.5).sum() > 10_000
    assert df["genres"].notna().all()
    items = ml.load_item_df("latest-small")
    assert len(items) == 9125
    assert items.set_index("itemID").loc[1, "title"] == "Toy Story (1995)"


def test_ml1m_users_and_movies_from_mirror(require_dataset):
    require_dataset("ml-1m")
    users = ml.load_user_df("1m")
    assert users.shape == (6040, 5)
    assert users.iloc[0].tolist() == [1, 1, "F", "K-12 student", "48067"]
    assert set(users["age"]) == {1, 18, 25, 35, 45, 50, 56}
    movies = ml.load_item_df("1m")
    assert len(movies) == 3883
    assert "Misérables, Les (1995)" in set(movies["title"])
    assert movies["year"].notna().all()


def test_ml1m_ratings_prefix_parses(require_dataset):
    folder = require_dataset("ml-1m")
    df = ml.read_ratings(folder / "ratings_prefix.dat.gz", sep="::")
    assert len(df) == 487_650
    assert df["userID"].min() == 1 and df["userID"].max() == 2999
    assert df["itemID"].nunique() == 3615
    assert df.iloc[0].tolist() == [1, 1193, 5.0, 978300760]


def test_ml1m_ratings_without_ratings_dat_is_unavailable_offline(require_dataset, data_mirror):
    require_dataset("ml-1m")
    if (data_mirror / "ml-1m" / "ratings.dat").exists() or (data_mirror / "ml-1m.zip").exists():
        pytest.skip("this mirror has the full ml-1m")
    with pytest.raises(DatasetUnavailableError, match="RECUTILS_DATA_MIRROR"):
        ml.load_pandas_df("1m")
