"""PDN (``pdn``): the trigger and similarity nets, the path sum by hand, padding, the training
examples (no leakage), exact and i2i scoring, score_histories, learning a planted pattern."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")

from recutils.models import create_model, load_model  # noqa: E402
from recutils.models.retrieval.pdn import PDN, PDNConfig, PDNNetwork, next_item_triggers  # noqa: E402
from recutils.nn.components.pdn import DotSimilarityNet, SimilarityNet, TriggerNet, path_relevance  # noqa: E402

SMALL = {"max_triggers": 4, "embedding_dim": 8, "user_dim": 0, "position_dim": 2, "trigger_units": [8],
         "similarity_units": [16], "n_epochs": 2, "batch_size": 16, "seed": 0, "num_threads": 1}


def _network(**overrides) -> PDNNetwork:
    torch.manual_seed(0)
    return PDNNetwork(5, 12, PDNConfig(**{**SMALL, "user_dim": 3, **overrides})).eval()


def _pairs_frame(n_pairs: int = 8, sessions_per_pair: int = 12, seed: int = 0) -> pd.DataFrame:
    """Sessions of ``noise, a, b``: item ``a = 2k`` is always followed by ``b = 2k + 1``; the
    first click is a random item of another pair."""
    rng = np.random.default_rng(seed)
    a = np.repeat(np.arange(n_pairs) * 2, sessions_per_pair)
    noise = (a + 2 * rng.integers(1, n_pairs, a.size)) % (2 * n_pairs)
    items = np.stack([noise, a, a + 1], axis=1).ravel()
    users = np.repeat(np.arange(a.size), 3)
    ts = np.tile(np.arange(3), a.size) + users * 10
    order = rng.permutation(items.size)  # rows out of time order: fit orders them by timestamp
    return pd.DataFrame({"userID": users[order], "itemID": items[order], "timestamp": ts[order]})


# ------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("bad", [{"max_triggers": 0}, {"max_triggers": -2}, {"loss": "bpr"},
                                 {"retrieval": "ann"}, {"similarity_units": []}, {"user_dim": -1},
                                 {"i2i_top_n": 0}, {"similarity": "cosine"}])
def test_bad_config_raises(bad: dict) -> None:
    with pytest.raises(ConfigError, match=next(iter(bad))):
        PDN(**bad)


def test_config_round_trips_and_max_len_is_max_triggers() -> None:
    cfg = PDNConfig(max_triggers=7, trigger_units=[4, 2], retrieval="i2i")
    assert PDNConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.max_len == 7 and "max_len" not in cfg.to_dict()


# ------------------------------------------------------------------------------------- shapes
def test_trigger_and_similarity_net_shapes() -> None:
    b, length, d, k = 3, 4, 8, 5
    tokens = torch.tensor([[0, 0, 2, 3], [1, 2, 3, 4], [0, 0, 0, 5]])
    tn = TriggerNet(d, 3, max_triggers=4, position_dim=2, hidden_units=[6])
    assert tn(torch.randn(b, length, d), tokens, torch.randn(b, 3)).shape == (b, length)
    for sn in (SimilarityNet(d, [6, 4]), DotSimilarityNet(d, [6, 4])):
        assert sn(torch.randn(b, length, d), torch.randn(k, d)).shape == (b, length, k)
        assert sn(torch.randn(b, length, d), torch.randn(b, k, d)).shape == (b, length, k)
    net = _network()
    users = torch.tensor([0, 4, -1])
    assert net.relevance(tokens, users, torch.arange(1, 13)).shape == (b, 12)
    assert net.relevance(tokens, users, torch.randint(1, 13, (b, 2))).shape == (b, 2)
    assert net.similarity(torch.tensor([1, 2]), torch.arange(1, 13)).shape == (2, 12)


@pytest.mark.parametrize("similarity", ["dot", "mlp"])
def test_shared_and_per_row_targets_agree(similarity: str) -> None:
    net = _network(similarity=similarity)
    tokens = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    users = torch.tensor([1, 2])
    shared = net.relevance(tokens, users, torch.tensor([3, 8, 9]))
    per_row = net.relevance(tokens, users, torch.tensor([[3, 8, 9], [3, 8, 9]]))
    torch.testing.assert_close(shared, per_row)


# ------------------------------------------------------------------------------ the path sum
def test_path_relevance_is_the_hand_logsumexp() -> None:
    tn = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, 0.3]])
    sn = np.arange(18, dtype=float).reshape(2, 3, 3) / 10 - 0.7
    mask = np.array([[True, False, True], [True, True, True]])
    bias = np.array([0.0, 1.0, -2.0])
    got = path_relevance(torch.tensor(tn), torch.tensor(sn), torch.tensor(mask), torch.tensor(bias)).numpy()
    want = np.empty((2, 3))
    for r in range(2):
        for t in range(3):
            want[r, t] = np.log(sum(np.exp(tn[r, j]) * np.exp(sn[r, j, t]) for j in range(3) if mask[r, j])) + bias[t]
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("similarity", ["dot", "mlp"])
def test_network_relevance_composes_tn_sn_and_bias_by_hand(similarity: str) -> None:
    net = _network(similarity=similarity)
    with torch.no_grad():
        net.bias.weight.normal_()
        tokens = torch.tensor([[0, 0, 3, 5]])
        users = torch.tensor([2])
        targets = torch.tensor([1, 7])
        tn = net.trigger_net(net.items(tokens), tokens, net.users(users))[0, 2:]
        sn = net.similarity(torch.tensor([3, 5]), targets)
        want = torch.logsumexp(tn[:, None] + sn, dim=0) + net.bias.weight[targets, 0]
        torch.testing.assert_close(net.relevance(tokens, users, targets)[0], want)


@pytest.mark.parametrize("similarity", ["dot", "mlp"])
def test_padded_triggers_change_no_score(similarity: str) -> None:
    net = _network(similarity=similarity)
    tokens = torch.tensor([[3, 5, 5], [0, 2, 9]])
    wider = torch.cat([torch.zeros((2, 5), dtype=torch.long), tokens], dim=1)
    users = torch.tensor([0, 3])
    with torch.no_grad():
        torch.testing.assert_close(net.relevance(wider, users, torch.arange(1, 13)),
                                   net.relevance(tokens, users, torch.arange(1, 13)))
        # a padded column's TN/SN values do not leak in: move the padding embedding far away
        net.items.weight[0] = 100.0
        torch.testing.assert_close(net.relevance(wider, users, torch.arange(1, 13)),
                                   net.relevance(tokens, users, torch.arange(1, 13)))


# ----------------------------------------------------------------------- training examples
def test_next_item_triggers_by_hand() -> None:
    tokens = np.array([1, 2, 3, 9, 4, 5])
    offsets = np.array([0, 4, 4, 6])  # user 1 has no rows
    triggers, targets, users = next_item_triggers(tokens, offsets, 2)
    np.testing.assert_array_equal(triggers, [[0, 1], [1, 2], [2, 3], [0, 4]])
    np.testing.assert_array_equal(targets, [2, 3, 9, 5])
    np.testing.assert_array_equal(users, [0, 0, 0, 2])


def test_no_leakage_a_rows_own_item_is_never_among_its_triggers() -> None:
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 9, 40)
    tokens = np.concatenate([rng.permutation(50)[:n] + 1 for n in lengths])  # distinct per user
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    triggers, targets, users = next_item_triggers(tokens, offsets, 3)
    assert len(targets) == int((lengths - 1).sum())
    assert not (triggers == targets[:, None]).any()
    for row in range(len(targets)):  # every trigger is an earlier item of the same user
        run = tokens[offsets[users[row]]:offsets[users[row] + 1]].tolist()
        before = run[:run.index(targets[row])]
        real = [t for t in triggers[row] if t]
        assert real == before[-3:]


def test_fit_orders_rows_by_timestamp() -> None:
    train = pd.DataFrame({"userID": [1, 1, 1, 2, 2], "itemID": [30, 10, 20, 10, 30],
                          "timestamp": [3, 1, 2, 5, 4]})
    model = PDN(**SMALL).fit(train)
    code = {int(i): int(model.item_order_[c]) + 1 for c, i in enumerate(model.item_ids_)}
    row = model.histories_[model.user_order_[model.user_ids_.get_loc(1)]]
    np.testing.assert_array_equal(row, [0, code[10], code[20], code[30]])


def test_every_user_with_one_interaction_raises() -> None:
    with pytest.raises(DataError, match="single interaction"):
        PDN(**SMALL).fit(pd.DataFrame({"userID": [1, 2], "itemID": [1, 2], "timestamp": [0, 1]}))


# ------------------------------------------------------------------------------- serving
@pytest.fixture(scope="module")
def pairs_model() -> PDN:
    return PDN(**{**SMALL, "n_epochs": 30, "learning_rate": 0.02}).fit(_pairs_frame())


def test_learns_a_planted_successor(pairs_model: PDN) -> None:
    scores = pairs_model.score_histories([np.array([a]) for a in range(0, 16, 2)])
    top = np.asarray(pairs_model.item_ids_)[scores.argmax(1)]
    np.testing.assert_array_equal(top, np.arange(1, 16, 2))
    assert pairs_model.history_["loss"].iloc[-1] < 0.75 * pairs_model.history_["loss"].iloc[0]


def test_sampled_softmax_learns_too() -> None:
    model = PDN(**{**SMALL, "n_epochs": 30, "learning_rate": 0.02, "loss": "sampled_softmax",
                   "n_negatives": 6, "negative_sampling": "popularity"}).fit(_pairs_frame())
    scores = model.score_histories([np.array([a]) for a in range(0, 16, 2)])
    hits = np.asarray(model.item_ids_)[scores.argmax(1)] == np.arange(1, 16, 2)
    assert hits.mean() >= 0.75


def test_score_histories_ignores_unknown_ids_and_rejects_empty(pairs_model: PDN) -> None:
    a = pairs_model.score_histories([np.array([4, 6]), np.array([4, 999, 6])])
    assert a.shape == (2, len(pairs_model.item_ids_)) and a.dtype == np.float32
    np.testing.assert_allclose(a[0], a[1], rtol=1e-6)
    with pytest.raises(DataError, match="empty"):
        pairs_model.score_histories([np.array([2]), np.array([999])])
    with pytest.raises(DataError, match="empty"):
        pairs_model.score_histories([np.array([], dtype=np.int64)])


def test_recommend_uses_the_training_items_as_triggers(pairs_model: PDN) -> None:
    train = _pairs_frame()
    user = 5
    history = train[train.userID == user].sort_values("timestamp")["itemID"].to_numpy()
    want = pairs_model.score_histories([history])[0]  # user_dim 0: the user is their triggers
    got = pairs_model.recommend_k_items([user], top_k=16, remove_seen=False)
    np.testing.assert_allclose(got["prediction"].to_numpy(), np.sort(want)[::-1], rtol=1e-6)


def test_recommend_next_with_an_empty_history_raises(pairs_model: PDN) -> None:
    with pytest.raises(DataError, match="empty"):
        pairs_model.recommend_next({"s": []})


def test_i2i_path_agrees_with_the_exact_path_on_its_items(tmp_path, pairs_model: PDN) -> None:
    histories = [np.array([0, 2]), np.array([7]), np.array([3, 9, 12])]
    exact = pairs_model.score_histories(histories)
    i2i = PDN.load(pairs_model.save(tmp_path / "m"))
    i2i.config = i2i.config.replace(retrieval="i2i", i2i_top_n=2)
    approx = i2i.score_histories(histories)
    index = i2i.i2i_index()
    ids = np.asarray(i2i.item_ids_)
    for row, history in enumerate(histories):
        neighbours = set(index[index.itemID.isin(history)]["similar_item"])
        returned = set(ids[np.isfinite(approx[row])])
        assert returned == neighbours
        keep = np.isfinite(approx[row])
        np.testing.assert_allclose(approx[row, keep], exact[row, keep], rtol=1e-5, atol=1e-6)
    # the cached index serves a second call (the cache once shadowed the method building it)
    np.testing.assert_array_equal(i2i.score_histories(histories), approx)


def test_similar_items_ranks_by_sn(pairs_model: PDN) -> None:
    out = pairs_model.similar_items([0, 4], k=3)
    assert list(out.columns) == ["itemID", "similar_item", "score", "rank"]
    assert not (out.itemID == out.similar_item).any()
    assert out.groupby("itemID")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    top = out[out["rank"] == 1].set_index("itemID")["similar_item"]
    assert top.loc[0] == 1 and top.loc[4] == 5
    with pytest.raises(DataError, match="unknown item"):
        pairs_model.similar_items([999])
    with pytest.raises(DataError, match="k must be"):
        pairs_model.similar_items([0], k=16)


def test_registered_and_round_trips(tmp_path, pairs_model: PDN) -> None:
    assert type(create_model("pdn")) is PDN
    pairs_model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    histories = [np.array([0, 2]), np.array([5])]
    np.testing.assert_array_equal(loaded.score_histories(histories), pairs_model.score_histories(histories))


@pytest.mark.parametrize("preset", ["pdn_movielens.yaml", "pdn_sessions.yaml"])
def test_presets_load(preset: str) -> None:
    from recutils.models.retrieval.pdn import CONFIG_DIR

    model = PDN(CONFIG_DIR / preset, n_epochs=1)
    assert model.config.n_epochs == 1 and model.config.similarity == "dot"


def test_docs_example_runs_and_prints_what_the_page_says(tmp_path) -> None:
    from tests._docsnippets import run_snippet

    lines = run_snippet("docs/pdn.md", "pdn-python", cwd=tmp_path, timeout=120).stdout.splitlines()
    assert lines[0] == "[5, 7]"
    assert lines[1] in ("[5, 9]", "[9, 5]")
    assert lines[2] == "[5]"
    assert lines[3] == "60"
