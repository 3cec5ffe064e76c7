"""Vowpal Wabbit on MovieLens 100k reaches the main figure of Microsoft Recommenders'
``vowpal_wabbit_deep_dive`` notebook (real data).

Their protocol: scikit-learn's ``train_test_split(train_size=0.75, random_state=42)`` (what
their ``python_random_split`` calls), ``vw -b 26 -q ui`` on the rows in that order, predictions
rounded to whole stars and clipped to 1..5; their figure: RMSE 0.9859, MAE 0.7129, nDCG@10
0.0966. recutils measured RMSE 0.9901, MAE 0.7156 with seed 42 (test items absent from
training get the training mean; about 45 pairs). The bounds leave the seed-to-seed spread
of the notebook's 3 seeds.
"""

from __future__ import annotations

import pytest

from recutils.datasets import download as dl
from recutils.evaluation import mae, ndcg_at_k, rmse

pytestmark = pytest.mark.realdata
pytest.importorskip("vowpalwabbit")

from recutils.models.vowpal import VowpalWabbit  # noqa: E402


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def test_vowpal_wabbit_ml100k_microsoft_protocol(ml100k) -> None:
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(ml100k, train_size=0.75, random_state=42)
    model = VowpalWabbit().fit(train)
    with pytest.warns(Warning, match="not seen in training"):
        pred = model.predict(test)
    assert pred["prediction"].isna().sum() < 100
    pred["prediction"] = pred["prediction"].fillna(train["rating"].mean())
    stars = pred.assign(prediction=pred["prediction"].round().clip(1, 5))
    got_rmse, got_mae = rmse(test, stars), mae(test, stars)
    assert got_rmse <= 0.9859 + 0.01, got_rmse
    assert got_mae <= 0.7129 + 0.01, got_mae
    # the user-item crosses help: plain linear regression is not better
    linear = VowpalWabbit(quadratic=[]).fit(train)
    lin = linear.predict(test).fillna(train["rating"].mean())
    assert rmse(test, pred) <= rmse(test, lin) + 0.002

    users = test["userID"].drop_duplicates().iloc[:300]
    top = model.recommend_k_items(users, top_k=10, remove_seen=True)
    assert top.groupby("userID").size().max() == 10
    seen = set(zip(train["userID"], train["itemID"]))
    assert not any(p in seen for p in zip(top["userID"], top["itemID"]))
    assert ndcg_at_k(test[test["userID"].isin(users)], top, k=10) >= 0.07
