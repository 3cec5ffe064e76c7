"""The two real MIND fixtures from the data mirror: counts, the missing-news report, embeddings,
and a short NRMS fit on the consistent sample."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from recutils.datasets import download as dl
from recutils.datasets import mind
from recutils.exceptions import DataWarning

pytestmark = pytest.mark.realdata


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def test_small_sample_reports_and_drops_missing_news(require_dataset):
    require_dataset("mind-small-sample")
    with pytest.warns(DataWarning, match="missing"):
        data = mind.load_mind("small-sample", progress=False)
    r = data.report
    # the counts PROVENANCE.md measured: 6,161 of 159,802 history references and 5,310 of
    # 189,359 candidates resolve
    assert (r.n_news, r.n_impressions, r.n_candidates, r.n_history_refs) == (
        2000,
        5000,
        189_359,
        159_802,
    )
    assert r.missing_history_refs == 159_802 - 6_161
    assert r.missing_candidates == 189_359 - 5_310
    assert len(data.impressions) == 5_310
    assert data.impressions["itemID"].isin(data.news["itemID"]).all()
    assert r.impressions_without_candidates == 5000 - data.impressions["impressionID"].nunique()


def test_kim_sample_is_consistent_and_embeddings_load(require_dataset):
    folder = require_dataset("mind-kim-sample")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # nothing to report on the consistent slice
        train = mind.load_mind("kim-sample", "train", progress=False)
        test = mind.load_mind("kim-sample", "dev", progress=False)
    assert (len(train.news), train.report.n_impressions, len(train.impressions)) == (344, 5, 122)
    assert int(train.impressions["label"].sum()) == 5
    assert (
        test.report.n_impressions,
        len(test.impressions),
        int(test.impressions["label"].sum()),
    ) == (2, 108, 3)
    assert train.report.n_history_refs == 121 and train.report.missing_news_ids == []
    keys, vectors = mind.read_vectors(folder / "relation_embedding.vec", "\t")
    assert vectors.shape == (1091, 100) and keys[0] == "P31"
    words, glove = mind.read_vectors(folder / "glove.840B.300d.txt")
    assert glove.shape == (10, 300) and words[2] == "the"
    require_dataset("glove-6b-samples")
    vocab = mind.WordVocabulary.build(train.news)
    init = mind.glove_matrix(mind.glove_sample_path(100), vocab, 100)
    assert init.found > 50 and init.matrix.shape == (len(vocab), 100)


def test_nrms_fits_and_scores_the_kim_sample(require_dataset):
    pytest.importorskip("torch")
    from recutils.evaluation.impressions import evaluate_impressions
    from recutils.models.news import NRMS

    require_dataset("mind-kim-sample")
    train = mind.load_mind("kim-sample", "train", progress=False)
    test = mind.load_mind("kim-sample", "test", progress=False)
    model = NRMS(seed=1, n_epochs=1, word_emb_dim=32, head_num=4, head_dim=8, num_threads=1)
    model.fit(train.impressions, train.news)
    pred = model.predict(test.impressions)
    assert np.isfinite(pred["prediction"]).all()
    scores = evaluate_impressions(test.impressions.assign(prediction=pred["prediction"].to_numpy()))
    assert scores["n_impressions_auc"] == 2 and 0.0 <= scores["auc"] <= 1.0
