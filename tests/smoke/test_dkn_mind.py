"""DKN on the real MIND kim-sample: title entities and the KGGraph.json neighbours reach the
KCNN, and the held-out impressions are scored."""

from __future__ import annotations

import numpy as np
import pytest

from recutils.datasets import download as dl
from recutils.datasets import mind

pytestmark = pytest.mark.realdata


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


def test_dkn_reads_entities_and_neighbours_of_the_kim_sample(require_dataset):
    pytest.importorskip("torch")
    from recutils.evaluation.impressions import evaluate_impressions
    from recutils.models.news import DKN
    from recutils.models.news.dkn import read_kg_neighbours

    require_dataset("mind-kim-sample")
    train = mind.load_mind("kim-sample", "train", progress=False)
    test = mind.load_mind("kim-sample", "test", progress=False)
    kg_path = mind.kim_sample_kg_path()
    neighbours = read_kg_neighbours(kg_path)
    assert len(neighbours) == 241  # PROVENANCE.md: 241 keys
    model = DKN(
        seed=1,
        n_epochs=1,
        word_emb_dim=16,
        entity_emb_dim=8,
        filter_num=8,
        attention_hidden_dim=8,
        layer_sizes=[8],
        num_threads=1,
        kg_neighbours_path=str(kg_path),
    )
    model.fit(train.impressions, test.news)
    report = model.entity_report_
    # 249 distinct title entities in the news table, 241 of them with neighbours
    assert report["title_entities"] == 249 and report["entities_with_neighbours"] == 241
    assert report["entities_with_vectors"] == 0 and model.network_.use_context
    pred = model.predict(test.impressions)
    assert np.isfinite(pred["prediction"]).all()
    scores = evaluate_impressions(test.impressions.assign(prediction=pred["prediction"].to_numpy()))
    assert scores["n_impressions_auc"] == 2 and 0.0 <= scores["auc"] <= 1.0
