"""TF-IDF content-based model on MovieLens 100k (real data; skipped without it or sklearn).

Protocol of Microsoft Recommenders' benchmark: ``python_stratified_split(ratio=0.75,
min_rating=1, filter_by="item", seed=1)``. No Microsoft figure exists for this model on
MovieLens (their TF-IDF notebook has no metric), so the bar is the bias baseline's RMSE.
Measured over seeds 1-3: RMSE 0.9300 / 0.9259 / 0.9278 against the baseline's
0.9460 / 0.9413 / 0.9408 (titles and genres of u.item).
"""

from __future__ import annotations

import warnings

import pytest

from recutils.datasets import download as dl
from recutils.evaluation import rmse

pytestmark = pytest.mark.realdata
pytest.importorskip("sklearn")


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def test_tfidf_beats_the_bias_baseline_on_rmse():
    from recutils.datasets import movielens
    from recutils.datasets.movielens_text import movielens_item_text
    from recutils.exceptions import DatasetUnavailableError
    from recutils.models.baselines import BiasBaseline
    from recutils.models.tfidf import TfidfRecommender
    from recutils.splitting import python_stratified_split

    try:
        data = movielens.load_pandas_df("100k", progress=False)
        text = movielens_item_text("100k", progress=False)
    except DatasetUnavailableError as err:
        pytest.skip(f"MovieLens 100k not available: {err}")
    train, test = python_stratified_split(data, ratio=0.75, min_rating=1, filter_by="item", seed=1)
    test = test.reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = TfidfRecommender(text_cols=["title", "genres"]).fit(train, item_features=text)
        pred = model.predict(test)
        base = BiasBaseline().fit(train).predict(test)
    known = pred["prediction"].notna()
    ours, theirs = rmse(test[known], pred[known]), rmse(test[known], base[known])
    assert ours < theirs - 0.01, (ours, theirs)  # measured 0.9300 vs 0.9460
    sim = model.similar_items([1], top_k=5)  # Toy Story
    assert len(sim) == 5 and (sim["similarity"] > 0).all()
