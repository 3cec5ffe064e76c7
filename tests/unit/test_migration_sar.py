"""SAR's Microsoft Recommenders method names, outputs and dtypes, with hand-computed values.

Training data: u1 {1, 2, 3}, u2 {1, 4}, u3 {2, 3, 5}, u4 {1, 5}, u5 {6}. Users per item
(the co-occurrence diagonal): 1: 3, 2: 2, 3: 2, 4: 1, 5: 2, 6: 1. The values were also
checked once against Microsoft Recommenders 1.2.1 ``SARSingleNode`` (except tie order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import DataError, DataWarning
from recutils.models.sar import SAR


@pytest.fixture
def train() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5],
            "itemID": [1, 2, 3, 1, 4, 2, 3, 5, 1, 5, 6],
            "rating": [5.0, 3.0, 4.0, 4.0, 2.0, 1.0, 5.0, 3.0, 4.0, 4.0, 2.0],
        }
    )


@pytest.fixture
def model(train) -> SAR:
    return SAR(similarity_type="jaccard", score_dtype="float64").fit(train)


def test_item_and_user_frequencies(model):
    assert model.item_frequencies.tolist() == [3.0, 2.0, 2.0, 1.0, 2.0, 1.0]
    assert model.item_frequencies.dtype == np.float64
    assert model.user_frequencies.tolist() == [3, 2, 3, 2, 1]
    assert model.user_frequencies.dtype == np.int64
    assert model.item_frequencies is model.item_frequencies_


def test_popularity_output_has_microsoft_columns_and_dtypes(model):
    items = model.get_popularity_based_topk(top_k=3)
    # issue: the popularity output added a rank column and changed a dtype
    assert items.columns.tolist() == ["itemID", "prediction"]
    assert items.dtypes.astype(str).tolist() == ["int64", "float64"]
    assert items.to_dict("list") == {"itemID": [1, 2, 3], "prediction": [3.0, 2.0, 2.0]}
    users = model.get_popularity_based_topk(top_k=2, sort_top_k=False, items=False)
    assert users.dtypes.astype(str).tolist() == ["int64", "int64"]
    assert users.to_dict("list") == {"userID": [1, 3], "prediction": [3, 3]}


def test_item_based_topk_has_microsoft_columns(model):
    # jaccard: S(1,3) = 1/4, S(2,3) = 1, S(1,5) = 1/4, S(2,5) = 1/3, S(1,4) = 1/3, S(2,4) = 0
    # seeds 1 (weight 1) and 2 (weight 2): 3 -> 1/4 + 2 = 2.25, 5 -> 1/4 + 2/3, 4 -> 1/3
    out = model.get_item_based_topk(pd.DataFrame({"itemID": [1, 2], "rating": [1.0, 2.0]}), top_k=3)
    assert out.columns.tolist() == ["userID", "itemID", "prediction"]
    assert out["userID"].tolist() == [0, 0, 0]
    assert out["itemID"].tolist() == [3, 5, 4]
    np.testing.assert_allclose(out["prediction"], [2.25, 1 / 4 + 2 / 3, 1 / 3])
    with pytest.warns(DataWarning, match="seed item"):
        model.get_item_based_topk(pd.DataFrame({"itemID": [1, 999]}), top_k=1)


def test_topk_most_similar_users(model):
    # A[1] . A[v]: u3 3*1 + 4*5 = 23, u2 5*4 = 20, u4 5*4 = 20, u5 0; u1 itself left out
    out = model.get_topk_most_similar_users(1, top_k=3)
    assert out.to_dict("list") == {"userID": [3, 2, 4], "prediction": [23.0, 20.0, 20.0]}
    assert out.dtypes.astype(str).tolist() == ["int64", "float64"]
    with pytest.raises(DataError, match="recommend_k_items"):
        model.get_topk_most_similar_users(999, top_k=1)


def test_score_matrix(model, train):
    test = pd.DataFrame({"userID": [3, 1, 3]})
    scores = model.score(test)
    assert scores.shape == (2, 6) and scores.dtype == np.float64
    a = np.zeros((5, 6))
    a[train.userID - 1, train.itemID - 1] = train.rating
    expected = a[[2, 0]] @ model.item_similarity_.toarray()
    np.testing.assert_allclose(scores, expected, rtol=1e-12)
    seen_removed = model.score(test, remove_seen=True)
    assert (
        np.isneginf(seen_removed[0, [1, 2, 4]]).all()
        and np.isfinite(seen_removed[0, [0, 3, 5]]).all()
    )
    rec = model.recommend_k_items([3], top_k=1, remove_seen=True)
    assert rec["prediction"].item() == pytest.approx(np.max(seen_removed[0]))
    with pytest.raises(DataError, match="not seen in training"):
        model.score(pd.DataFrame({"userID": [42]}))


def test_score_normalize_matches_recommend(train):
    model = SAR(similarity_type="jaccard", normalize=True, score_dtype="float64").fit(train)
    scores = model.score(pd.DataFrame({"userID": [1]}))
    # Microsoft Recommenders 1.2.1 gives, for user 1 (items 1..6):
    np.testing.assert_allclose(
        scores[0],
        [3.4, 3.9333333333333, 3.9333333333333, 1.5925925925926, 2.2740740740741, 1.0],
        rtol=1e-12,
    )
