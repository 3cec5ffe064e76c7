"""The MovieLens click-through task: labels, histories strictly before the row, a per-user
chronological split, titles with genres, entities aligned with the title words, KG neighbours."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recutils.datasets.movielens_news import movielens_click_task
from recutils.exceptions import ColumnMismatchError, ConfigError

pytestmark = pytest.mark.unit

RATINGS = pd.DataFrame(
    {
        "userID": [1, 1, 1, 1, 2, 2, 2],
        "itemID": [10, 11, 12, 13, 10, 12, 11],
        "rating": [5, 4, 2, 5, 1, 5, 4],
        "timestamp": [1, 2, 2, 3, 5, 6, 7],
    }
)
ITEMS = pd.DataFrame(
    {
        "itemID": [10, 11, 12, 13],
        "title": ["Toy Story (1995)", "Heat (1995)", "Big Fish, The (2003)", "X (1990)"],
        "genres": ["Animation|Comedy", "Action", "Drama", ""],
    }
)


def _kg():
    links = pd.Series([0, 1], index=[10, 12])
    return SimpleNamespace(
        triples=pd.DataFrame(
            {"head": [0, 0, 1, 2], "relation": [0, 1, 0, 0], "tail": [3, 4, 3, 0]}
        ),
        entities=pd.Index(["m.a", "m.b", "m.c", "g.x", "g.y"]),
        item_entities=lambda items: links.reindex(items).fillna(-1).astype(int).to_numpy(),
    )


def test_rows_labels_histories_and_split() -> None:
    task = movielens_click_task(RATINGS.sample(frac=1.0, random_state=0), ITEMS, None)
    rows = pd.concat([task.train, task.test]).sort_values(["userID", "timestamp", "itemID"])
    assert rows["label"].tolist() == [1, 1, 0, 1, 0, 1, 1]
    # user 1 rated 11 and 12 in the same second: neither is the other's history
    assert rows["history"].tolist() == ["", "10", "10", "10 11", "", "", "12"]
    # the last 20% of each user's ratings (at least one) are the test rows
    assert task.test[["userID", "itemID"]].values.tolist() == [[1, "13"], [2, "11"]]
    assert task.train["impressionID"].tolist() == [1, 1, 1, 2, 2]
    assert task.test["impressionID"].is_unique
    assert task.report["n_train"] == 5 and task.report["n_test"] == 2
    assert task.news["title"].tolist()[:2] == ["Toy Story Animation Comedy", "Heat Action"]
    assert (task.news["title_entities"].map(len) == 0).all() and task.neighbours == {}


def test_category_is_the_first_genre_and_subcategory_the_genre_list() -> None:
    """NAML and LSTUR embed both; no abstract column, so the word vocabulary (titles and
    abstracts) of NRMS and DKN is the titles' alone."""
    task = movielens_click_task(RATINGS, ITEMS, None)
    assert task.news["category"].tolist() == ["Animation", "Action", "Drama", ""]
    assert task.news["subcategory"].tolist() == ["Animation|Comedy", "Action", "Drama", ""]
    assert "abstract" not in task.news.columns


def test_history_keeps_the_latest_liked_items() -> None:
    task = movielens_click_task(RATINGS, ITEMS, None, his_size=1, test_fraction=0.5)
    rows = pd.concat([task.train, task.test]).sort_values(["userID", "timestamp", "itemID"])
    assert rows["history"].tolist()[3] == "11"


def test_entities_are_aligned_with_the_title_words_and_neighbours_listed() -> None:
    task = movielens_click_task(RATINGS, ITEMS, _kg(), max_neighbours=2)
    ents = dict(zip(task.news["itemID"], task.news["title_entities"]))
    assert ents["10"] == ("m.a", "m.a")  # "toy story": two words of the name
    assert ents["12"] == ("m.b",) * 4  # "big fish , the"
    assert ents["11"] == ()
    assert task.neighbours == {"m.a": ["g.x", "g.y"], "m.b": ["g.x"]}
    assert task.report["linked_items"] == 2
    np.testing.assert_allclose(task.report["rated_linked_share"], 4 / 7)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ColumnMismatchError):
        movielens_click_task(RATINGS.drop(columns="timestamp"), ITEMS)
    with pytest.raises(ConfigError):
        movielens_click_task(RATINGS, ITEMS, test_fraction=0.0)
