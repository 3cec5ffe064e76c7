"""TF-IDF content-based recommender: text handling, cold start, similar items, scores, save/load."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError, DataWarning

pytest.importorskip("sklearn")

from recutils.models.tfidf import TfidfConfig, TfidfRecommender, item_documents  # noqa: E402

RATINGS = pd.DataFrame(
    {
        "userID": [1, 1, 1, 2, 2, 2, 3, 3],
        "itemID": [10, 20, 30, 10, 30, 40, 20, 40],
        "rating": [5.0, 4.0, 1.0, 4.0, 2.0, 1.0, 5.0, 2.0],
    }
)
ITEMS = pd.DataFrame(
    {
        "itemID": [10, 20, 30, 40, 50],
        "title": ["Star Wars", "Star Trek", "Love Actually", "Notting Hill", "Star Dust"],
        "genres": ["SciFi Space", "SciFi Space", "Romance", "Romance Comedy", "SciFi"],
    }
)


def _fit(**params):
    return TfidfRecommender(text_cols=["title", "genres"], stop_words=None, **params).fit(
        RATINGS, item_features=ITEMS
    )


def test_bad_config_raises():
    for bad in (
        {"text_cols": []},
        {"missing_text": "skip"},
        {"stop_words": "french"},
        {"shrinkage": -1},
        {"ngram_max": 0},
    ):
        with pytest.raises(ConfigError):
            TfidfConfig(**bad)


def test_item_documents_join_columns_and_flag_empty_text():
    frame = pd.DataFrame({"a": ["x", np.nan, "", " "], "b": ["y", "z", np.nan, ""]})
    docs, empty = item_documents(frame, ["a", "b"])
    assert docs.tolist() == ["x y", "z", "", ""]
    assert empty.tolist() == [False, False, True, True]


def test_non_string_text_is_refused():
    items = ITEMS.assign(genres=[1, 2, 3, 4, 5])
    with pytest.raises(DataError, match="must hold strings"):
        TfidfRecommender(text_cols=["genres"]).fit(RATINGS, item_features=items)


def test_missing_text_warns_by_default_and_raises_on_request():
    items = ITEMS.assign(
        title=["Star Wars", np.nan, "", "Notting Hill", "Star Dust"],
        genres=["SciFi", np.nan, "  ", "Romance", "SciFi"],
    )
    with pytest.warns(DataWarning, match="2 item"):
        model = TfidfRecommender(text_cols=["title", "genres"]).fit(RATINGS, item_features=items)
    assert sorted(model.empty_items_) == [20, 30]
    assert model.item_vectors_[model.item_ids_.get_indexer([20, 30])].nnz == 0
    with pytest.raises(DataError, match="no text"):
        TfidfRecommender(text_cols=["title", "genres"], missing_text="error").fit(
            RATINGS, item_features=items
        )


def test_no_text_column_at_all_warns_and_scores_the_baseline():
    with pytest.warns(DataWarning, match="none of the text columns"):
        model = TfidfRecommender().fit(RATINGS)
    assert model.item_vectors_.shape == (4, 0)
    from recutils.models.baselines import BiasBaseline

    base = BiasBaseline(reg_user=15.0, reg_item=10.0).fit(RATINGS).predict(RATINGS)
    np.testing.assert_allclose(model.predict(RATINGS)["prediction"], base["prediction"])


def test_text_columns_of_the_training_frame_are_used():
    df = RATINGS.merge(ITEMS, on="itemID")
    a = TfidfRecommender(text_cols=["title", "genres"], stop_words=None).fit(df)
    b = TfidfRecommender(text_cols=["title", "genres"], stop_words=None).fit(
        RATINGS, item_features=ITEMS[ITEMS.itemID != 50]
    )  # the same catalog, so the same IDF
    pd.testing.assert_frame_equal(a.predict(RATINGS), b.predict(RATINGS))


def test_cold_start_items_are_scored_from_text():
    model = _fit()
    assert model.cold_items_.tolist() == [50]
    rec = model.recommend_k_items([1], top_k=5)
    # user 1 liked the space films: Star Dust (never rated) ranks above Notting Hill
    items = rec["itemID"].tolist()
    assert items.index(50) < items.index(40)
    assert model.item_bias_[model.item_ids_.get_loc(50)] == 0.0


def test_score_is_the_similarity_weighted_residual_over_the_baseline():
    model = _fit(shrinkage=0.5)
    x = model.item_vectors_.toarray()
    u, i = model.user_ids_.get_loc(1), model.item_ids_.get_loc(40)
    rated = RATINGS[RATINGS.userID == 1]
    j = model.item_ids_.get_indexer(rated.itemID)
    base = lambda jj: model.global_mean_ + model.user_bias_[u] + model.item_bias_[jj]  # noqa: E731
    resid = rated.rating.to_numpy() - base(j)
    s = x[j] @ x[i]
    expected = base(i) + (s @ resid) / (s.sum() + 0.5)
    got = model.predict(pd.DataFrame({"userID": [1], "itemID": [40]}))["prediction"].iloc[0]
    assert got == pytest.approx(expected, rel=1e-10)


def test_similar_items_by_cosine():
    model = _fit()
    sim = model.similar_items([10], top_k=3)
    assert sim["similar_item"].iloc[0] == 20
    assert 10 not in set(sim["similar_item"])
    assert sim["rank"].tolist() == list(range(1, len(sim) + 1))
    assert (np.diff(sim["similarity"]) <= 0).all()
    with pytest.raises(DataError, match="unknown item"):
        model.similar_items([999])


def test_item_features_must_be_one_row_per_item():
    with pytest.raises(DataError, match="repeats"):
        TfidfRecommender().fit(RATINGS, item_features=pd.concat([ITEMS, ITEMS.iloc[:1]]))
    with pytest.raises(DataError, match="DataFrame"):
        TfidfRecommender().fit(RATINGS, item_features=[1, 2])


def test_save_load_keeps_cold_items_and_similarities(tmp_path):
    model = _fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        loaded = TfidfRecommender.load(model.save(tmp_path / "m"))
    assert loaded.cold_items_.tolist() == [50]
    pd.testing.assert_frame_equal(model.similar_items([10, 30]), loaded.similar_items([10, 30]))
    pd.testing.assert_frame_equal(
        model.recommend_k_items([1, 2, 3]), loaded.recommend_k_items([1, 2, 3])
    )
