"""KGCN (``recutils.models.kg.kgcn``): neighbour sampling, the KG reaching the model, every
aggregator, save/load without the KG, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.datasets.kg import build_kg
from recutils.exceptions import ConfigError, DataError

pytestmark = pytest.mark.unit
torch = pytest.importorskip("torch")

from recutils.models import load_model  # noqa: E402
from recutils.models.kg import KGCN  # noqa: E402
from recutils.models.kg.kgcn import sample_neighbors  # noqa: E402

TINY = {
    "embedding_dim": 8,
    "n_iter": 2,
    "n_neighbors": 3,
    "n_epochs": 2,
    "batch_size": 32,
    "seed": 0,
}


def _data() -> tuple[pd.DataFrame, object]:
    """20 users, 12 items; items 1-10 linked to a genre entity (two genres), 11-12 unlinked."""
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(20), 4)
    items = np.concatenate([rng.choice(np.arange(1, 13), 4, replace=False) for _ in range(20)])
    train = pd.DataFrame({"userID": users, "itemID": items, "rating": 1.0})
    films = [f"film{i}" for i in range(1, 11)]
    triples = pd.DataFrame(
        {
            "head": films,
            "relation": "genre",
            "tail": ["comedy" if i % 2 else "drama" for i in range(1, 11)],
        }
    )
    kg = build_kg(triples, pd.DataFrame({"item": np.arange(1, 11), "entity": films}))
    return train, kg


def test_sample_neighbors_draws_from_edges_both_ways_and_self_loops_the_lonely():
    rng = np.random.default_rng(0)
    # edges 0 -r0-> 1, 0 -r1-> 2; entity 3 has none
    adj_e, adj_r = sample_neighbors(
        np.array([0, 0]), np.array([0, 1]), np.array([1, 2]), 4, 5, 2, rng
    )
    assert adj_e.shape == adj_r.shape == (4, 5)
    assert set(adj_e[0]) <= {1, 2} and set(adj_e[1]) == {0} and set(adj_e[2]) == {0}
    # each neighbour carries its edge's relation
    np.testing.assert_array_equal(adj_r[0], np.where(adj_e[0] == 1, 0, 1))
    assert adj_e[3].tolist() == [3] * 5 and adj_r[3].tolist() == [2] * 5


def test_kg_reaches_the_network_and_unlinked_items_get_their_own_entity(tmp_path):
    train, kg = _data()
    model = KGCN(**TINY).fit(train, kg=kg)
    assert model.n_unlinked_items_ == 2
    net = model.network_
    assert net.entity.num_embeddings == kg.n_entities + 2
    assert net.relation.num_embeddings == kg.n_relations + 1  # + the self relation
    # item 1's entity neighbours are its genre (the only edge of a film)
    internal = model.item_order_[model.item_ids_.get_loc(1)]
    ent = int(net.item_entity[internal])
    assert kg.entities[ent] == "film1"
    assert set(kg.entities[net.adj_entity[ent].numpy()]) == {"comedy"}
    model.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    pairs = train.head(10)
    np.testing.assert_array_equal(
        back.predict(pairs)["prediction"], model.predict(pairs)["prediction"]
    )
    assert back.n_unlinked_items_ == 2


@pytest.mark.parametrize("aggregator", ["sum", "concat", "neighbor"])
def test_every_aggregator_trains_and_ranks(aggregator):
    train, kg = _data()
    model = KGCN(**{**TINY, "aggregator": aggregator}).fit(train, kg=kg)
    top = model.recommend_k_items([0, 1], top_k=3)
    assert len(top) == 6 and np.isfinite(top["prediction"]).all()
    assert model.history_["bce_loss"].notna().all()
    width = 16 if aggregator == "concat" else 8
    assert model.network_.aggregators[0].in_features == width


def test_the_kg_changes_the_model():
    train, kg = _data()
    with_kg = KGCN(**TINY).fit(train, kg=kg).predict(train.head(20))["prediction"]
    without = KGCN(**TINY).fit(train).predict(train.head(20))["prediction"]
    assert not np.allclose(with_kg, without)


def test_errors():
    train, _ = _data()
    with pytest.raises(DataError, match="KnowledgeGraph"):
        KGCN(**TINY).fit(train, kg=pd.DataFrame())
    with pytest.raises(ConfigError, match="aggregator"):
        KGCN(aggregator="mean")
    with pytest.raises(ConfigError, match="n_iter"):
        KGCN(n_iter=0)
