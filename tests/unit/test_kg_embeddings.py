"""TransE / RotatE (``recutils.models.kg.embeddings``): ranks raw and filtered, the random
baseline, training on a toy graph, the saved table, config errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.datasets.kg import build_kg
from recutils.exceptions import ConfigError, DataError, NotFittedError

pytestmark = pytest.mark.unit
torch = pytest.importorskip("torch")

from recutils.models.kg import (  # noqa: E402
    KGEmbedding,
    load_embedding_table,
    random_link_prediction,
    split_triples,
    write_vec,
)

TINY = {"embedding_dim": 8, "n_epochs": 2, "batch_size": 4, "seed": 0}


def _frame(rows: list[list[int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["head", "relation", "tail"])


def _line_model() -> KGEmbedding:
    """TransE in one dimension with entities at 0, 1, 2, 3 and the relation +1."""
    model = KGEmbedding({**TINY, "embedding_dim": 1, "n_epochs": 1}).fit(_frame([[0, 0, 1]]), 4, 1)
    with torch.no_grad():
        model.network_.entity.weight.copy_(torch.tensor([[0.0], [1.0], [2.0], [3.0]]))
        model.network_.relation.weight.copy_(torch.tensor([[1.0]]))
    model._cache()
    return model


def test_link_prediction_known_ranks_raw_and_filtered():
    model = _line_model()
    np.testing.assert_allclose(model.score(_frame([[0, 0, 1], [0, 0, 3]])), [0.0, -2.0])
    known = _frame([[0, 0, 1], [0, 0, 2]])
    # (0, r, ?): entity 1 scores best; the true tail 2 ranks 2nd raw, 1st once (0, r, 1) is filtered.
    # (?, r, 2): entity 1 scores best, and (1, r, 2) is not known: 2nd in both settings.
    out = model.link_prediction(_frame([[0, 0, 2]]), known=known)
    assert out["mean_rank"] == 2.0 and out["hits@1"] == 0.0
    assert out["filt_mean_rank"] == 1.5 and out["filt_hits@1"] == 0.5
    assert out["filt_mrr"] == pytest.approx((1 + 0.5) / 2)
    raw_only = model.link_prediction(_frame([[0, 0, 2]]))
    assert "filt_mrr" not in raw_only and raw_only["mrr"] == 0.5


def test_random_baseline_is_the_exact_expectation():
    known = _frame([[0, 0, 1], [0, 0, 2]])
    out = random_link_prediction(_frame([[0, 0, 2]]), known, 4, 1)
    # raw: 4 candidates each side; filtered: tail side 3 (entity 1 removed), head side 4
    assert out["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert out["filt_mrr"] == pytest.approx(
        ((1 + 1 / 2 + 1 / 3) / 3 + (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4) / 2
    )
    assert out["hits@1"] == 0.25 and out["filt_hits@10"] == 1.0
    assert out["filt_mean_rank"] == pytest.approx((2.0 + 2.5) / 2)


@pytest.mark.parametrize("kind", ["transe", "rotate"])
def test_training_learns_a_toy_graph_far_above_random(kind):
    # 20 "films" each with one of 2 genres and one of 4 countries, relations both ways
    films = np.arange(20)
    rows = [[f, 0, 20 + f % 2] for f in films] + [[f, 1, 22 + f % 4] for f in films]
    triples = _frame(rows)
    model = KGEmbedding(
        model=kind,
        embedding_dim=16,
        n_epochs=60,
        batch_size=16,
        learning_rate=0.05,
        margin=2.0,
        n_negatives=4,
        seed=3,
    ).fit(triples, 26, 2)
    assert model.history_["loss"].iloc[-1] < model.history_["loss"].iloc[0]
    got = model.link_prediction(triples, known=triples)
    base = random_link_prediction(triples, triples, 26, 2)
    assert got["filt_mrr"] > 2 * base["filt_mrr"]
    if kind == "transe":  # the entity norm constraint holds after training
        np.testing.assert_allclose(np.linalg.norm(model.entity_embeddings_, axis=1), 1.0, rtol=1e-5)
    again = KGEmbedding(
        model=kind,
        embedding_dim=16,
        n_epochs=60,
        batch_size=16,
        learning_rate=0.05,
        margin=2.0,
        n_negatives=4,
        seed=3,
    ).fit(triples, 26, 2)
    np.testing.assert_array_equal(model.entity_embeddings_, again.entity_embeddings_)


def test_saved_table_round_trip_with_labels(tmp_path):
    kg = build_kg(
        pd.DataFrame({"head": ["m.a", "m.b"], "relation": ["r", "r"], "tail": ["m.c", "m.c"]}),
        pd.DataFrame({"i": [5], "e": ["m.b"]}),
    )
    model = KGEmbedding(TINY).fit(kg)
    model.save(tmp_path / "t")
    table = load_embedding_table(tmp_path / "t")
    assert list(table.entities) == ["m.b", "m.a", "m.c"] and list(table.relations) == ["r"]
    np.testing.assert_array_equal(table.entity_vectors, model.entity_embeddings_)
    vec, found = table.lookup(["m.c", "nowhere"])
    assert found.tolist() == [True, False] and not vec[1].any()
    back = KGEmbedding.load(tmp_path / "t")
    np.testing.assert_array_equal(back.score(kg.triples), model.score(kg.triples))
    near = back.nearest_entities([0], k=2)
    assert near["entity"].tolist() == ["m.b", "m.b"] and "m.b" not in near["neighbour"].tolist()
    path = write_vec(tmp_path / "e.vec", table.entities, table.entity_vectors)
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and lines[0].split("\t")[0] == "m.b"
    np.testing.assert_allclose(
        np.array(lines[0].split("\t")[1].split(), dtype=float), table.entity_vectors[0], rtol=1e-5
    )


def test_split_keeps_test_entities_in_training():
    triples = _frame([[i, 0, i + 1] for i in range(50)] + [[100, 0, 101]])
    train, test = split_triples(triples, 0.2, seed=1)
    assert len(train) + len(test) == len(triples)
    ents = set(train["head"]) | set(train["tail"])
    assert set(test["head"]) <= ents and set(test["tail"]) <= ents
    assert [100, 0, 101] in train.values.tolist()  # its entities occur nowhere else


def test_errors():
    with pytest.raises(ConfigError, match="model"):
        KGEmbedding(model="transh")
    with pytest.raises(ConfigError, match="norm"):
        KGEmbedding(norm=3)
    with pytest.raises(NotFittedError):
        KGEmbedding().score(_frame([[0, 0, 1]]))
    with pytest.raises(DataError, match="n_entities"):
        KGEmbedding(TINY).fit(_frame([[0, 0, 1]]))
    with pytest.raises(DataError, match="outside"):
        KGEmbedding(TINY).fit(_frame([[0, 0, 9]]), 4, 1)
    with pytest.raises(ConfigError, match="test_fraction"):
        split_triples(_frame([[0, 0, 1]]), 1.5)
