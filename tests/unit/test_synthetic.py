"""The synthetic generator: schema, determinism, and structure a model can learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.datasets.synthetic import GENRES, SyntheticData, make_interactions
from recutils.exceptions import ConfigError


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return make_interactions(n_users=600, n_items=400, n_interactions=15_000, n_groups=4, seed=1)


def test_schema_and_ranges(data):
    ratings, items, users = data
    assert list(ratings.columns) == ["userID", "itemID", "rating", "timestamp"]
    assert len(ratings) == 15_000
    assert not ratings.duplicated(["userID", "itemID"]).any()
    assert set(ratings["rating"].unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ratings["userID"].between(1, 600).all() and ratings["itemID"].between(1, 400).all()
    assert ratings["timestamp"].dtype == np.int64
    assert list(items.columns[:4]) == ["itemID", "title", "genres", "year"]
    assert len(items) == 400 and items["genres"].str.len().gt(0).all()
    assert set("|".join(items["genres"]).split("|")) <= set(GENRES)
    assert list(users.columns[:5]) == ["userID", "age", "gender", "occupation", "zip_code"]
    assert set(users["gender"]) <= {"M", "F"} and users["age"].between(7, 73).all()
    ordered = ratings.groupby("userID")["timestamp"].apply(lambda s: s.is_monotonic_increasing)
    assert ordered.all()


def test_same_seed_same_data_other_seed_other_data():
    a = make_interactions(n_users=50, n_items=40, n_interactions=300, seed=5)
    b = make_interactions(n_users=50, n_items=40, n_interactions=300, seed=5)
    c = make_interactions(n_users=50, n_items=40, n_interactions=300, seed=6)
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    assert not a.ratings.equals(c.ratings)


def test_in_group_items_rated_higher_and_chosen_more(data):
    ratings, items, users = data
    merged = ratings.merge(users[["userID", "group"]], on="userID").merge(
        items[["itemID", "group"]], on="itemID", suffixes=("_user", "_item")
    )
    same = merged["group_user"] == merged["group_item"]
    assert merged.loc[same, "rating"].mean() > merged.loc[~same, "rating"].mean() + 0.8
    # 4 groups: by chance a quarter of picks would be in-group; taste makes it far more
    assert same.mean() > 0.5


def test_items_carry_their_group_genre(data):
    _, items, _ = data
    n_groups = 4
    first = items["genres"].str.split("|").apply(lambda g: [GENRES.index(x) % n_groups for x in g])
    assert all(grp in gs for grp, gs in zip(items["group"], first))


def test_popularity_is_long_tailed(data):
    counts = data.ratings["itemID"].value_counts().to_numpy()
    top = np.sort(counts)[::-1]
    share_top10pct = top[: len(top) // 10].sum() / top.sum()
    assert share_top10pct > 0.3  # uniform would give 0.1
    assert top[0] > 10 * np.median(top)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="n_users"):
        make_interactions(n_users=0)
    with pytest.raises(ConfigError, match="n_groups"):
        make_interactions(n_groups=40)
    with pytest.raises(ConfigError, match="at most"):
        make_interactions(n_users=10, n_items=10, n_interactions=60)


def test_custom_column_names():
    r, _, u = make_interactions(
        n_users=20,
        n_items=30,
        n_interactions=50,
        seed=0,
        col_user="u",
        col_item="i",
        col_rating="r",
        col_timestamp="t",
    )
    assert list(r.columns) == ["u", "i", "r", "t"] and u.columns[0] == "u"


def test_dense_request_is_filled_exactly():
    r, _, _ = make_interactions(n_users=20, n_items=20, n_interactions=200, seed=3)
    assert len(r) == 200 and not r.duplicated(["userID", "itemID"]).any()


def test_redraws_only_the_shortfall_and_keep_the_same_data():
    """Bug: each redraw round re-ran np.unique over all keys (mock1000000 took 18 s)."""
    import recutils.datasets.synthetic as synthetic

    calls = []
    real = np.unique

    def counting_unique(values, *args, **kwargs):
        calls.append(np.asarray(values).size)
        return real(values, *args, **kwargs)

    n = 20_000
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(synthetic.np, "unique", counting_unique)
        ratings = make_interactions(
            n_users=300, n_items=300, n_interactions=n, n_groups=3, popularity_exponent=1.2, seed=3
        ).ratings
    assert len(ratings) == n and not ratings.duplicated(["userID", "itemID"]).any()
    assert len(calls) > 3  # several redraw rounds happened
    # the first round draws 1.5 n + 16; later rounds only the shortfall (times 1.5), never all keys
    assert calls[0] == int(n * 1.5) + 16 and max(calls[1:]) < n
    # same data as the former algorithm (first draws of distinct pairs, in draw order)
    digest = pd.util.hash_pandas_object(ratings, index=False).sum()
    again = make_interactions(
        n_users=300, n_items=300, n_interactions=n, n_groups=3, popularity_exponent=1.2, seed=3
    ).ratings
    assert pd.util.hash_pandas_object(again, index=False).sum() == digest
