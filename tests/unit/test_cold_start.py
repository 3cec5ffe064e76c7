"""The item cold-start benchmark: the cold split, title words, the baselines' known answers,
recall@k by hand, and the whole benchmark on a tiny frame."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.benchmark import cold_start as cs
from recutils.exceptions import ConfigError, DataError

pytestmark = pytest.mark.unit


def _ratings(n_users: int = 30, n_items: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(1, n_users + 1), 8)
    items = 1 + ((users % 4) + 4 * rng.integers(0, n_items // 4, users.size))
    return pd.DataFrame({"userID": users, "itemID": items}).drop_duplicates().reset_index(drop=True)


def _items(n_items: int = 40) -> pd.DataFrame:
    ids = np.arange(1, n_items + 1)
    genres = np.array(["Action", "Comedy", "Drama|Romance", "Action|Comedy"])[ids % 4]
    return pd.DataFrame(
        {
            "itemID": ids,
            "title": [f"Movie Number {i} (19{50 + i % 40})" for i in ids],
            "genres": genres,
            "year": 1950 + ids % 40,
        }
    )


def _users(n_users: int = 30) -> pd.DataFrame:
    ids = np.arange(1, n_users + 1)
    return pd.DataFrame(
        {
            "userID": ids,
            "age": 20 + ids % 30,
            "gender": np.where(ids % 2, "M", "F"),
            "occupation": np.where(ids % 3, "other", "student"),
        }
    )


# --------------------------------------------------------------- the split
def test_cold_split_holds_its_items_out_of_training():
    df = _ratings()
    split = cs.cold_item_split(df, 0.2, seed=1)
    n_items = df["itemID"].nunique()
    assert split.cold_items.size == round(0.2 * n_items)
    assert not split.train["itemID"].isin(split.cold_items).any()  # no held-out item in training
    assert split.test["itemID"].isin(split.cold_items).all()
    assert len(split.train) + len(split.test) == len(df)
    again = cs.cold_item_split(df, 0.2, seed=1)
    np.testing.assert_array_equal(split.cold_items, again.cold_items)
    assert not np.array_equal(split.cold_items, cs.cold_item_split(df, 0.2, seed=2).cold_items)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 0.001, "x"])
def test_cold_split_rejects_bad_fractions(fraction):
    with pytest.raises(ConfigError):
        cs.cold_item_split(_ratings(), fraction)


def test_title_words():
    titles = pd.Series(["Toy Story (1995)", "Monty Python's Life of Brian (1979)", None])
    assert cs.title_words(titles).tolist() == ["toy|story", "monty|python|s|life|of|brian", ""]


# ------------------------------------------------------------- known answers
def test_recall_at_k_by_hand():
    scores = np.array([[0.9, 0.1, 0.5, 0.3], [0.0, 0.2, 0.1, 0.4], [1.0, 1.0, 1.0, 1.0]])
    relevant = cs.relevance(
        pd.DataFrame({"userID": ["a", "a", "b"], "itemID": [2, 3, 1]}),
        pd.Index(["a", "b", "c"]),
        pd.Index([0, 1, 2, 3]),
    )
    # a: top-2 = items 0, 2 -> 1 of its 2 (2, 3); b: top-2 = 3, 1 -> 1 of 1; c: nothing relevant
    np.testing.assert_allclose(cs.recall_at_k(scores, relevant, 2), [0.5, 1.0, np.nan])
    with pytest.raises(DataError):
        cs.recall_at_k(scores[:, :3], relevant, 2)


def _toy_popularity():
    train = pd.DataFrame({"userID": [1, 1, 1, 2, 2], "itemID": [10, 10, 11, 10, 12]})
    content = pd.DataFrame(
        {"itemID": [10, 11, 12, 20, 21, 22], "genres": ["A", "A|B", "B", "A", "B", "A|B"]}
    )
    return train, content, pd.Index([1, 2]), pd.Index([20, 21, 22])


def test_genre_popularity_plain_by_hand():
    train, content, users, items = _toy_popularity()
    # counts: 10 -> 3, 11 -> 1, 12 -> 1; pop(A) = mean(3, 1) = 2, pop(B) = mean(1, 1) = 1
    scores = cs.genre_popularity_scores(train, content, users, items)
    np.testing.assert_allclose(scores, [[2.0, 1.0, 1.5], [2.0, 1.0, 1.5]])


def test_genre_popularity_user_weighted_by_hand():
    train, content, users, items = _toy_popularity()
    # user 1: rows 10 (A), 10 (A), 11 (A, B): n_A = 3, n_B = 1, n = 3 -> shares (4/5, 2/5)
    # user 2: rows 10 (A), 12 (B): n_A = 1, n_B = 1, n = 2 -> shares (2/4, 2/4)
    scores = cs.genre_popularity_scores(train, content, users, items, weighted=True)
    expected = [
        [0.8 * 2, 0.4 * 1, (0.8 * 2 + 0.4 * 1) / 2],
        [0.5 * 2, 0.5 * 1, (0.5 * 2 + 0.5 * 1) / 2],
    ]
    np.testing.assert_allclose(scores, expected)


def test_random_scores_are_seeded():
    np.testing.assert_array_equal(cs.random_scores(3, 4, 1), cs.random_scores(3, 4, 1))
    assert not np.array_equal(cs.random_scores(3, 4, 1), cs.random_scores(3, 4, 2))


def test_lightfm_scores_cold_items_from_their_features():
    pytest.importorskip("lightfm")
    ratings, content = _ratings(), cs.item_content(_items())
    split = cs.cold_item_split(ratings, 0.2, seed=1)
    users = pd.Index(np.sort(split.train["userID"].unique()))
    scores = cs.lightfm_scores(
        split.train, content, users, pd.Index(split.cold_items), seed=1, params={"epochs": 2}
    )
    assert scores.shape == (len(users), split.cold_items.size)
    assert np.isfinite(scores).all()


# ------------------------------------------------------------ the benchmark
def test_run_cold_start_on_a_tiny_frame():
    pytest.importorskip("torch")
    models = ["dropoutnet", "genre_popularity", "genre_popularity_user", "random"]
    grid = [
        {"dropout_rate": 0.5, "epochs": 1, "width": 8},
        {"dropout_rate": 0.3, "epochs": 1, "width": 8},
    ]
    results, per_user, tuning = cs.run_cold_start(
        _ratings(), _users(), _items(), seeds=[1], models=models, grid=grid
    )
    assert len(results) == len(models)
    assert results["n_cold_items"].eq(8).all()
    assert results["recall@50"].between(0, 1).all()
    assert results.loc[results["model"] == "random", "recall@50"].eq(1.0).all()  # 8 candidates < k
    assert set(tuning["seed"]) == {1} and len(tuning) == 2
    chosen = results[results["model"] == "dropoutnet"]
    assert chosen["dropout_rate"].isin([0.5, 0.3]).all()
    assert set(per_user.columns) >= {"dataset", "protocol", "model", "seed", "userID", "recall@50"}
    tests, verdict = cs.cold_start_bar(per_user)
    assert tests["reference"].iloc[0] in {"genre_popularity", "genre_popularity_user"}
    assert verdict.startswith("bar ")
    summary = cs.summarize_cold_start(results)
    assert summary["n_seeds"].eq(1).all()


def test_run_cold_start_rejects_unknown_models():
    with pytest.raises(ConfigError, match="unknown model"):
        cs.run_cold_start(_ratings(), _users(), _items(), models=["nope"])


def test_tool_rejects_an_unknown_model_with_exit_status_2(capsys):
    path = Path(__file__).resolve().parents[2] / "tools" / "benchmarks" / "cold_start.py"
    spec = importlib.util.spec_from_file_location("cold_start_tool", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    with pytest.raises(SystemExit) as exit_info:
        tool.main(["--out", "unused.csv", "--models", "nope"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
