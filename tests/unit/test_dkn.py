"""DKN: the KCNN reads entities and their KG contexts, learns a topic signal, scores with the
candidate-conditioned attention in chunks, round-trips its entity channel, refuses bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recutils.exceptions import ConfigError, DataError

pytestmark = pytest.mark.unit
pytest.importorskip("torch")

import torch  # noqa: E402

from recutils.datasets.mind import read_vectors  # noqa: E402
from recutils.evaluation.impressions import evaluate_impressions  # noqa: E402
from recutils.models.news import DKN, tiny_news_corpus  # noqa: E402
from recutils.models.news.dkn_networks import DKNNetwork  # noqa: E402

TRAIN, NEWS = tiny_news_corpus()
TEST, _ = tiny_news_corpus(seed=1)
TOPIC = np.arange(len(NEWS)) % 2
# the sports news mention one entity, the finance news two (the second not under a word)
ENTITY_NEWS = NEWS.assign(
    title_entities=[("Qsport",) if t == 0 else ("Qfin", "Qbank") for t in TOPIC]
)


def _params(**extra):
    return {**DKN.contract_case().params, **extra}


@pytest.fixture()
def kg_files(tmp_path):
    neighbours = tmp_path / "KGGraph.json"
    neighbours.write_text(json.dumps({"Qsport": ["Qball", "Qgoal"], "Qfin": ["Qmoney"]}))
    # MIND's layout: id<TAB>values<TAB>; one entity absent from the file
    rng = np.random.default_rng(0)
    lines = [
        "\t".join([e, *map(str, rng.normal(size=3).round(4))]) + "\t"
        for e in ("Qsport", "Qfin", "Qball", "Qunused")
    ]
    vectors = tmp_path / "entity_embedding.vec"
    vectors.write_text("\n".join(lines) + "\n")
    return neighbours, vectors


def test_entities_and_contexts_are_encoded_and_the_signal_is_learned(kg_files) -> None:
    neighbours, vectors = kg_files
    model = DKN(
        **_params(n_epochs=30),
        kg_neighbours_path=str(neighbours),
        entity_vec_path=str(vectors),
    ).fit(TRAIN, ENTITY_NEWS)
    report = model.entity_report_
    assert report["title_entities"] == 3 and report["entities"] == 6  # + Qball, Qgoal, Qmoney
    assert report["entities_with_vectors"] == 3  # Qsport, Qfin, Qball
    assert report["entities_with_neighbours"] == 2 and report["news_with_entities"] == len(NEWS)
    assert model.network_.use_context and model.n_neighbours_ == 2
    # entity ids sit after the title and the two category columns, in mention order
    t = model.config.title_size
    ents = model.news_features_[1:, t + 2 :]
    assert ents.shape == (len(NEWS), t)
    assert ((ents[:, 0] > 0) & (ents[:, 2:] == 0).all(axis=1)).all()
    pred = model.predict(TEST)
    scores = evaluate_impressions(TEST.assign(prediction=pred["prediction"].to_numpy()))
    assert scores["auc"] > 0.9
    assert model.history_["loss"].iloc[-1] < model.history_["loss"].iloc[0]


def test_entity_vectors_initialise_the_table(kg_files) -> None:
    neighbours, vectors = kg_files
    keys, values = read_vectors(vectors, sep="\t")
    model = DKN(**_params(n_epochs=1, learning_rate=1e-9), entity_vec_path=str(vectors))
    model.fit(TRAIN, ENTITY_NEWS)
    weight = model.network_.entity_emb.weight.detach().numpy()
    ents = model.news_features_[1:, model.config.title_size + 2 :]
    sport = int(ents[(ents > 0).sum(axis=1) == 1][0, 0])  # sports news mention one entity
    np.testing.assert_allclose(weight[sport], values[list(keys).index("Qsport")], atol=1e-6)


def test_context_is_the_mean_of_the_neighbours() -> None:
    net = DKNNetwork(
        5,
        4,
        3,
        4,
        2,
        torch.tensor([[0, 0], [2, 3], [1, 0], [0, 0]]),
        True,
        [1],
        2,
        3,
        [],
        "relu",
        0.0,
    )
    with torch.no_grad():
        net.entity_emb.weight.copy_(torch.tensor([[0.0, 0], [1, 1], [2, 4], [4, 8]]))
    ctx = net.context_table()
    torch.testing.assert_close(ctx, torch.tensor([[0.0, 0], [3, 6], [1, 1], [0, 0]]))


def test_attention_ignores_padding_and_depends_on_the_candidate() -> None:
    net = DKNNetwork(
        5, 4, 3, 2, 2, torch.zeros(2, 1, dtype=torch.long), False, [1], 2, 3, [], "relu", 0.0
    )
    hist = torch.randn(1, 3, 2)
    mask = torch.tensor([[False, True, True]])
    cands = torch.randn(1, 4, 2)
    user = net.encode_user(hist, mask, torch.zeros(1, dtype=torch.long), cands)
    changed = hist.clone()
    changed[0, 0] = 100.0  # a padded position changes nothing
    torch.testing.assert_close(user, net.encode_user(changed, mask, torch.zeros(1).long(), cands))
    assert user.shape == (1, 4, 2)
    empty = net.encode_user(hist, torch.zeros(1, 3, dtype=torch.bool), torch.zeros(1).long(), cands)
    assert torch.count_nonzero(empty) == 0


def test_chunked_catalogue_scores_equal_row_scores(monkeypatch) -> None:
    model = DKN(**_params(n_epochs=2)).fit(TRAIN, ENTITY_NEWS)
    users = ["U0", "U3"]
    full = model.recommend_k_items(users, top_k=24, remove_seen=False)
    monkeypatch.setattr(DKN, "_CHUNK", 7)  # one candidate and one row per chunk
    small = model.recommend_k_items(users, top_k=24, remove_seen=False)
    np.testing.assert_allclose(small["prediction"], full["prediction"], rtol=1e-5)
    pairs = full[["userID", "itemID"]]
    np.testing.assert_allclose(model.predict(pairs)["prediction"], full["prediction"], rtol=1e-5)


def test_save_load_keeps_entities_and_neighbours(tmp_path, kg_files) -> None:
    neighbours, _ = kg_files
    model = DKN(**_params(n_epochs=2), kg_neighbours_path=str(neighbours)).fit(TRAIN, ENTITY_NEWS)
    model.save(tmp_path / "dkn")
    loaded = DKN.load(tmp_path / "dkn")
    np.testing.assert_array_equal(loaded.news_features_, model.news_features_)
    assert torch.equal(loaded.network_.neighbours, model.network_.neighbours)
    assert loaded.entity_report_ == model.entity_report_
    np.testing.assert_array_equal(
        loaded.predict(TEST)["prediction"], model.predict(TEST)["prediction"]
    )


def test_entity_column_as_strings_and_missing_values() -> None:
    news = NEWS.assign(title_entities=["Qa Qb" if t == 0 else None for t in TOPIC])
    model = DKN(**_params(n_epochs=1)).fit(TRAIN, news)
    assert model.entity_report_["title_entities"] == 2
    assert model.entity_report_["news_with_entities"] == int((TOPIC == 0).sum())


def test_mixed_separator_vectors_are_read(tmp_path) -> None:
    path = tmp_path / "transe.vec"
    path.write_text("m.01\t0.5 1.5 2\nm.02\t-1 0 3\n")  # label<TAB>space-separated values
    keys, values = read_vectors(path, sep=None)
    assert list(keys) == ["m.01", "m.02"]
    np.testing.assert_allclose(values, [[0.5, 1.5, 2], [-1, 0, 3]])


def test_bad_input_is_refused(tmp_path, kg_files) -> None:
    _, vectors = kg_files
    with pytest.raises(DataError, match="3-dimensional"):
        DKN(**_params(entity_emb_dim=5), entity_vec_path=str(vectors)).fit(TRAIN, ENTITY_NEWS)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Qsport": "Qball"}))
    with pytest.raises(DataError, match="JSON object"):
        DKN(**_params(), kg_neighbours_path=str(bad)).fit(TRAIN, ENTITY_NEWS)
    with pytest.raises(ConfigError, match="title_size"):
        DKN(title_size=2, filter_sizes=[1, 3])
    with pytest.raises(ConfigError, match="activation"):
        DKN(activation="gelu")
    with pytest.raises(ConfigError, match="body_size"):
        DKN(body_size=5)
