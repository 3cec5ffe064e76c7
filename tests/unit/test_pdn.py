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

SMALL = {
    "max_triggers": 4,
    "embedding_dim": 8,
    "user_dim": 0,
    "position_dim": 2,
    "trigger_units": [8],
    "similarity_units": [16],
    "n_epochs": 2,
    "batch_size": 16,
    "seed": 0,
    "num_threads": 1,
}


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
@pytest.mark.parametrize(
    "bad",
    [
        {"max_triggers": 0},
        {"max_triggers": -2},
        {"loss": "bpr"},
        {"retrieval": "ann"},
        {"similarity_units": []},
        {"user_dim": -1},
        {"i2i_top_n": 0},
        {"similarity": "cosine"},
    ],
)
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
    got = path_relevance(
        torch.tensor(tn), torch.tensor(sn), torch.tensor(mask), torch.tensor(bias)
    ).numpy()
    want = np.empty((2, 3))
    for r in range(2):
        for t in range(3):
            want[r, t] = (
                np.log(sum(np.exp(tn[r, j]) * np.exp(sn[r, j, t]) for j in range(3) if mask[r, j]))
                + bias[t]
            )
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
        torch.testing.assert_close(
            net.relevance(wider, users, torch.arange(1, 13)),
            net.relevance(tokens, users, torch.arange(1, 13)),
        )
        # a padded column's TN/SN values do not leak in: move the padding embedding far away
        net.items.weight[0] = 100.0
        torch.testing.assert_close(
            net.relevance(wider, users, torch.arange(1, 13)),
            net.relevance(tokens, users, torch.arange(1, 13)),
        )


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
        run = tokens[offsets[users[row]] : offsets[users[row] + 1]].tolist()
        before = run[: run.index(targets[row])]
        real = [t for t in triggers[row] if t]
        assert real == before[-3:]


def test_fit_orders_rows_by_timestamp() -> None:
    train = pd.DataFrame(
        {"userID": [1, 1, 1, 2, 2], "itemID": [30, 10, 20, 10, 30], "timestamp": [3, 1, 2, 5, 4]}
    )
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
    model = PDN(
        **{
            **SMALL,
            "n_epochs": 30,
            "learning_rate": 0.02,
            "loss": "sampled_softmax",
            "n_negatives": 6,
            "negative_sampling": "popularity",
        }
    ).fit(_pairs_frame())
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
    np.testing.assert_array_equal(
        loaded.score_histories(histories), pairs_model.score_histories(histories)
    )


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
    assert lines[4] == "(2, 10, 32) (2, 10)"
    assert lines[5] == "True"


# ------------------------------------------------------------------- embeddings and the index
@pytest.fixture(scope="module")
def dot_model() -> PDN:
    """A user embedding, the item bias, and padded trigger slots (3 items per user, 4 triggers)."""
    return PDN(**{**SMALL, "user_dim": 3, "n_epochs": 3}).fit(_pairs_frame())


def _all_users(model: PDN) -> np.ndarray:
    return np.asarray(model.user_ids_)


def test_user_and_item_embeddings_reproduce_the_scores(dot_model: PDN) -> None:
    from recutils.models.retrieval.pdn import TriggerEmbeddings

    users = _all_users(dot_model)
    paths = dot_model.user_embeddings(pd.DataFrame({"userID": users}))
    assert isinstance(paths, TriggerEmbeddings)
    n_items, d = len(dot_model.item_ids_), SMALL["similarity_units"][-1]
    assert paths.vectors.shape == (users.size, 4, d) and paths.log_weights.shape == (users.size, 4)
    assert paths.vectors.dtype == np.float32 and paths.log_weights.dtype == np.float32
    # three items per user, four slots: the first slot is padding, weight -inf, the latest trigger's vector
    np.testing.assert_array_equal(paths.mask, np.tile([False, True, True, True], (users.size, 1)))
    assert np.isneginf(paths.log_weights[:, 0]).all()
    np.testing.assert_array_equal(paths.vectors[:, 0], paths.vectors[:, -1])
    items = pd.DataFrame({"itemID": np.asarray(dot_model.item_ids_)})
    vectors, biases = dot_model.item_embeddings(items), dot_model.item_biases(items)
    assert vectors.shape == (n_items, d) and biases.shape == (n_items,) and np.abs(biases).max() > 0
    scores = paths.scores(vectors, biases)  # logsumexp_j(w_j + a_j . b_t) + bias_t
    codes = dot_model.user_ids_.get_indexer(users)
    np.testing.assert_allclose(scores, dot_model._score_users(codes), rtol=1e-5, atol=1e-5)
    top = dot_model.recommend_k_items(users[:3], top_k=n_items, remove_seen=False)
    for row, (_, got) in enumerate(top.groupby("userID", sort=False)):
        want = scores[row, dot_model.item_ids_.get_indexer(got["itemID"])]
        np.testing.assert_allclose(got["prediction"].to_numpy(), want, rtol=1e-5, atol=1e-5)


def test_item_embeddings_follow_the_rows_and_reject_unknown_items(dot_model: PDN) -> None:
    all_items = dot_model.item_embeddings(pd.DataFrame({"itemID": np.asarray(dot_model.item_ids_)}))
    rows = dot_model.item_embeddings(pd.DataFrame({"itemID": [5, 0, 5]}))
    at = dot_model.item_ids_.get_indexer([5, 0, 5])
    np.testing.assert_allclose(
        rows, all_items[at], rtol=1e-6, atol=1e-7
    )  # a batch of 3 rows, not 16
    bias = dot_model.network_.bias.weight.detach().numpy()[dot_model.item_order_[at] + 1, 0]
    np.testing.assert_array_equal(dot_model.item_biases(pd.DataFrame({"itemID": [5, 0, 5]})), bias)
    for method in (dot_model.item_embeddings, dot_model.item_biases):
        with pytest.raises(DataError, match="unknown item"):
            method(pd.DataFrame({"itemID": [0, 999]}))
    with pytest.raises(DataError, match="unknown user"):
        dot_model.user_embeddings(pd.DataFrame({"userID": [0, 10_000]}))
    no_bias = PDN(**{**SMALL, "item_bias": False, "n_epochs": 1}).fit(_pairs_frame())
    np.testing.assert_array_equal(
        no_bias.item_biases(pd.DataFrame({"itemID": [1, 2]})), np.zeros(2, np.float32)
    )


def test_mlp_similarity_has_no_item_vectors() -> None:
    model = PDN(**{**SMALL, "similarity": "mlp", "n_epochs": 1}).fit(_pairs_frame())
    items, users = pd.DataFrame({"itemID": [1]}), pd.DataFrame({"userID": [0]})
    for call in (
        lambda: model.item_embeddings(items),
        lambda: model.item_biases(items),
        lambda: model.user_embeddings(users),
        lambda: model.build_index(),
        lambda: model.recommend_from_index(None, [0]),
    ):
        with pytest.raises(ConfigError, match="similarity: dot.*no item vectors"):
            call()


@pytest.mark.parametrize("remove_seen", [True, False])
def test_recommend_from_index_with_a_wide_search_equals_recommend_k_items(
    dot_model: PDN, remove_seen: bool
) -> None:
    users = _all_users(dot_model)
    index = dot_model.build_index("brute_force")
    assert index.metric == "ip" and index.model_version_ == dot_model.model_version()
    want = dot_model.recommend_k_items(users, top_k=5, remove_seen=remove_seen)
    got = dot_model.recommend_from_index(
        index, users, top_k=5, remove_seen=remove_seen, search_k=len(dot_model.item_ids_)
    )
    pd.testing.assert_frame_equal(got.drop(columns="prediction"), want.drop(columns="prediction"))
    np.testing.assert_allclose(got["prediction"], want["prediction"], rtol=1e-5, atol=1e-5)


def test_recommend_from_index_searches_once_per_real_trigger_and_rescores_exactly(
    dot_model: PDN,
) -> None:
    users = _all_users(dot_model)[:6]
    index = dot_model.build_index()
    queries = []
    search = index.search

    def spy(q, k, exclude=None):
        queries.append((len(q), k))
        return search(q, k, exclude=exclude)

    index.search = spy
    got = dot_model.recommend_from_index(
        index, pd.DataFrame({"userID": users}), top_k=4, search_k=1
    )
    assert queries == [(3 * users.size, 1)]  # one query per real trigger (3 each), width search_k
    codes = dot_model.user_ids_.get_indexer(users)
    exact = dot_model._score_users(codes)
    for row, (_, part) in enumerate(got.groupby("userID", sort=False)):
        # at most 3 distinct candidates (one per trigger), none seen, each scored by the full relevance
        assert 1 <= len(part) <= 3
        at = dot_model.item_ids_.get_indexer(part["itemID"])
        assert not dot_model.seen_[codes[row]].toarray()[0, at].any()
        np.testing.assert_allclose(part["prediction"], exact[row, at], rtol=1e-5, atol=1e-5)


def test_recommend_from_index_refuses_foreign_indexes_and_unknown_users(
    tmp_path, dot_model: PDN
) -> None:
    from recutils.retrieval import BruteForceIndex, IndexVersionError, load_index

    index = dot_model.build_index()
    with pytest.raises(DataError, match="unknown user"):
        dot_model.recommend_from_index(index, [0, 10_000])
    other = PDN(**{**SMALL, "user_dim": 3, "n_epochs": 1, "seed": 1}).fit(_pairs_frame())
    with pytest.raises(IndexVersionError, match="rebuild"):
        dot_model.recommend_from_index(other.build_index(), [0])
    vectors = dot_model.item_embeddings(pd.DataFrame({"itemID": np.asarray(dot_model.item_ids_)}))
    shuffled = BruteForceIndex("ip").build(vectors[::-1], np.asarray(dot_model.item_ids_)[::-1])
    with pytest.raises(DataError, match="item_ids_ order"):
        dot_model.recommend_from_index(shuffled, [0])
    with pytest.raises(ConfigError, match="unknown index kind"):
        dot_model.build_index("annoy")
    # the version survives a save/load of the model, so a saved index still serves it
    loaded = PDN.load(dot_model.save(tmp_path / "m"))
    saved = load_index(
        index.save(tmp_path / "index"), expected_model_version=loaded.model_version()
    )
    pd.testing.assert_frame_equal(
        loaded.recommend_from_index(saved, [0, 1], top_k=3),
        dot_model.recommend_from_index(index, [0, 1], top_k=3),
    )


def test_recommend_from_index_skips_a_user_who_has_seen_every_item() -> None:
    frame = _pairs_frame()
    everything = pd.DataFrame({"userID": -1, "itemID": np.arange(16), "timestamp": np.arange(16)})
    model = PDN(**{**SMALL, "n_epochs": 1}).fit(pd.concat([frame, everything], ignore_index=True))
    got = model.recommend_from_index(model.build_index(), [-1, 0], top_k=3, search_k=16)
    want = model.recommend_k_items([-1, 0], top_k=3)
    assert set(got["userID"]) == {0}
    pd.testing.assert_frame_equal(got.drop(columns="prediction"), want.drop(columns="prediction"))
