"""Next-item models: ordering, losses, serving from raw histories, evaluation, bad input."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

pytest.importorskip("torch")

from recutils.evaluation.next_item import sampled_ranks, target_ranks  # noqa: E402
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, DataWarning  # noqa: E402
from recutils.models import create_model  # noqa: E402
from recutils.models.sequential import SASRec  # noqa: E402
from recutils.models.sequential.models import cycle_toy_case  # noqa: E402

SMALL = {
    "max_len": 4,
    "embedding_dim": 16,
    "batch_size": 8,
    "dropout": 0.0,
    "learning_rate": 0.01,
    "num_layers": 1,
    "progress": False,
}


@pytest.fixture(scope="module")
def toy():
    return cycle_toy_case({}).train


@pytest.fixture(scope="module")
def fitted(toy):
    return SASRec(**SMALL, n_epochs=60, seed=0).fit(toy)


def test_order_comes_from_the_timestamp_not_the_rows(toy, fitted):
    shuffled = toy.sample(frac=1.0, random_state=3)
    other = SASRec(**SMALL, n_epochs=60, seed=0).fit(shuffled)

    def decoded(model):  # each user's history as item ids, users in id order
        tokens = model.histories_[model.user_order_]
        codes = np.argsort(model.item_order_)[np.maximum(tokens - 1, 0)]
        return np.where(tokens > 0, model.item_ids_.to_numpy()[codes], -1)

    np.testing.assert_array_equal(decoded(other), decoded(fitted))
    assert fitted.recommend_next({"a": [0, 1, 2]}, top_k=1)["itemID"].tolist() == [3]


def test_every_loss_learns_the_cycle(toy):
    for params in (
        {"loss": "ce"},
        {"loss": "sampled_softmax", "n_negatives": 4},
        {
            "loss": "sampled_softmax",
            "n_negatives": 4,
            "negative_sampling": "popularity",
            "logq_correction": False,
        },
    ):
        model = SASRec(**SMALL, n_epochs=60, seed=1, **params).fit(toy)
        top = model.recommend_next([[2, 3, 4], [6, 7, 0]], top_k=1)
        assert top["itemID"].tolist() == [5, 1], params


def test_cl4srec_adds_its_loss_and_still_learns(toy):
    model = SASRec(**SMALL, n_epochs=60, seed=0, cl_weight=0.1, cl_temperature=0.5).fit(toy)
    assert "cl_loss" in model.history_.columns and np.isfinite(model.history_["cl_loss"]).all()
    assert model.recommend_next([[1, 2, 3]], top_k=1)["itemID"].tolist() == [4]


@pytest.mark.parametrize("name", ["gru4rec", "caser", "nextitnet", "ssept", "bert4rec"])
def test_recommend_next_matches_recommend_k_items_for_known_users(toy, name):
    case = create_model(name).contract_case()
    model = create_model(name, **case.params).fit(toy)
    users = [0, 5, 9]
    a = model.recommend_k_items(users, top_k=3)
    b = model.recommend_next(toy[toy["userID"].isin(users)], top_k=3)
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False
    )


def test_long_histories_keep_their_latest_max_len_items(fitted):
    long = [5, 6, 7, 0, 1, 2, 3, 4]
    scores = fitted.score_next([long, long[-4:]])
    np.testing.assert_allclose(scores.iloc[0], scores.iloc[1], rtol=1e-6)


def test_unknown_items_and_empty_histories(fitted):
    with pytest.raises(DataError, match="not seen in training"):
        fitted.recommend_next([[1, 2, 999]])
    ignoring = SASRec(**SMALL, n_epochs=1, seed=0, unknown_items="ignore").fit(
        cycle_toy_case({}).train
    )
    with pytest.warns(DataWarning, match="unknown item"):
        out = ignoring.score_next([[1, 2, 999]])
    np.testing.assert_allclose(out.iloc[0], ignoring.score_next([[1, 2]]).iloc[0], rtol=1e-6)
    with pytest.raises(DataError, match="empty"):
        fitted.recommend_next([[]])
    with pytest.warns(DataWarning), pytest.raises(DataError, match="empty"):
        ignoring.recommend_next([[999]])
    with pytest.raises(DataError, match="histories must be"):
        fitted.recommend_next("1 2 3")


def test_bad_training_frames(toy):
    with pytest.raises(ColumnMismatchError, match="timestamp"):
        SASRec(**SMALL, n_epochs=1).fit(toy.drop(columns="timestamp"))
    in_order = toy.sort_values(["userID", "timestamp"]).drop(columns="timestamp")
    model = SASRec(**SMALL, n_epochs=60, seed=0, col_timestamp=None).fit(in_order)
    assert model.recommend_next([[3, 4, 5]], top_k=1)["itemID"].tolist() == [6]
    single = pd.DataFrame({"userID": [1, 2, 3], "itemID": [1, 2, 3], "timestamp": [1, 2, 3]})
    with pytest.raises(DataError, match="single interaction"):
        SASRec(**SMALL, n_epochs=1).fit(single)
    with pytest.raises(ConfigError):
        SASRec(loss="hinge")
    with pytest.raises(ConfigError):
        SASRec(embedding_dim=10, num_heads=3)
    with pytest.raises(ConfigError):
        SASRec(augmentations=["rotate"])


def test_catalogue_items_without_interactions_can_be_ranked(toy):
    model = SASRec(**SMALL, n_epochs=2, seed=0).fit(toy, items=list(range(10)))
    assert len(model.item_ids_) == 10 and {8, 9} <= set(model.item_ids_)
    scores = model.score_next([[1, 2]])
    assert scores.shape == (1, 10) and np.isfinite(scores.to_numpy()).all()


def test_evaluate_next_full_and_sampled(fitted, toy):
    users = toy["userID"].unique()
    targets = pd.DataFrame({"userID": users, "itemID": (users // 2 + 3) % 8})
    result = fitted.evaluate_next(toy, targets, k=[1, 3], n_negatives=3, sampling="uniform", seed=0)
    table = result.table()
    assert table.loc["full", "HR@1"] == 1.0 and table.loc["sampled", "HR@1"] == 1.0
    assert result.negatives.items.shape == (len(users), 3)
    again = fitted.evaluate_next(toy, targets, negatives=result.negatives)
    np.testing.assert_array_equal(again.sampled_ranks, result.sampled_ranks)
    with pytest.raises(DataError, match="one row per user"):
        fitted.evaluate_next(toy, pd.concat([targets, targets]))
    unseen = targets.assign(itemID=np.where(targets["userID"] == 0, 99, targets["itemID"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fitted.evaluate_next(toy, unseen, n_negatives=None)
    assert result.extra["dropped"] == 1 and any(issubclass(w.category, DataWarning) for w in caught)
    assert result.sampled_ranks is None


def test_evaluate_next_ranks_are_those_of_the_item_id_order_scores(toy):
    # ids relabelled so that the network's internal order (first appearance) is not the
    # ids' sort order: evaluation ranks in the internal order and maps targets, history and
    # negatives into it; the ranks must be those of the scores in id order
    relabel = np.array([5, 2, 7, 0, 3, 6, 1, 4])
    data = toy.assign(itemID=relabel[toy["itemID"]] * 10)
    model = SASRec(**SMALL, n_epochs=3, seed=1).fit(data)
    assert not np.array_equal(model.item_order_, np.arange(8))
    users = data["userID"].unique()
    targets = pd.DataFrame({"userID": users, "itemID": relabel[(users * 3 + 1) % 8] * 10})
    result = model.evaluate_next(data, targets, n_negatives=4, sampling="uniform", seed=2)
    scores = model.score_next(data).loc[users]  # columns: item ids in code order
    codes = model.item_ids_.get_indexer(targets["itemID"])
    seen = sp.csr_matrix(
        (
            np.ones(len(data), dtype=bool),
            (
                pd.Index(users).get_indexer(data["userID"]),
                model.item_ids_.get_indexer(data["itemID"]),
            ),
        ),
        shape=scores.shape,
    )
    values = scores.to_numpy()
    np.testing.assert_array_equal(result.full_ranks, target_ranks(values, codes, seen))
    negatives = result.negatives.items  # kept in item-code space
    assert not seen[np.arange(len(users))[:, None], negatives].toarray().any()
    assert (negatives != codes[:, None]).all()
    expected = sampled_ranks(
        values[np.arange(len(users)), codes], np.take_along_axis(values, negatives, 1)
    )
    np.testing.assert_array_equal(result.sampled_ranks, expected)
    with pytest.raises(DataError, match="item columns"):
        model.evaluate_next(data, targets, negatives=replace(result.negatives, items=negatives + 8))


def test_resumed_fit_ends_where_an_uninterrupted_one_does(toy, tmp_path):
    full = SASRec(**SMALL, n_epochs=4, seed=2).fit(toy)
    SASRec(**SMALL, n_epochs=2, seed=2, model_dir=str(tmp_path)).fit(toy)
    resumed = SASRec(**SMALL, n_epochs=4, seed=2, model_dir=str(tmp_path)).fit(toy)
    np.testing.assert_allclose(resumed.score_next([[1, 2]]), full.score_next([[1, 2]]), rtol=1e-5)


@pytest.mark.parametrize("name", ["sasrec", "bert4rec", "ssept"])
def test_trimmed_batches_give_the_outputs_of_full_width_ones(toy, name):
    """The models that train on batches cut to their longest sequence (``trims_padding``):
    dropping all-padding leading columns changes no output at a real position."""
    import torch

    model = create_model(name, **{**SMALL, "max_len": 8}, n_epochs=1, seed=0).fit(toy)
    assert type(model).trims_padding
    network = model.network_.eval()
    seq = torch.tensor([[0, 0, 0, 0, 0, 1, 2, 3], [0, 0, 0, 0, 4, 5, 6, 7]])
    users = torch.tensor([0, 1])
    with torch.no_grad():
        full = network.encode(seq, users)
        cut = network.encode(seq[:, 4:], users)
    real = (seq[:, 4:] != 0).unsqueeze(-1)
    np.testing.assert_allclose((full[:, 4:] * real).numpy(), (cut * real).numpy(), atol=1e-5)
    assert not create_model("gru4rec", **SMALL).trims_padding  # a GRU's state runs through padding


def test_length_buckets_sort_users_by_length_within_windows(toy):
    from recutils.models.sequential.base import _SequenceEpochs

    model = SASRec(**SMALL, n_epochs=1, seed=0, length_buckets=2).fit(toy)
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 6, 50)
    tokens = np.zeros((50, 5), dtype=np.int64)
    for row, n in enumerate(lengths):
        tokens[row, 5 - n :] = 1
    epochs = _SequenceEpochs(
        model, tokens, np.arange(50), np.ones(model.n_items_, dtype=np.int64), 0, "cpu"
    )
    batches = list(epochs.epoch_batches(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(50))  # every user once
    assert all(len(b) <= 8 for b in batches)
    # the users of each window of 2 batches (16 of the epoch's shuffled order) form 2 batches,
    # the shorter histories in one and the longer in the other
    order = np.random.default_rng([0, 0]).permutation(50)
    for start in range(0, 50, 16):
        window = set(order[start : start + 16].tolist())
        mine = [b for b in batches if set(b.tolist()) <= window]
        assert sum(len(b) for b in mine) == len(window)
        if len(mine) == 2:
            low, high = sorted(mine, key=lambda b: lengths[b].min())
            assert lengths[low].max() <= lengths[high].min()
    plain = _SequenceEpochs(
        SASRec(**SMALL, n_epochs=1, seed=0).fit(toy),
        tokens,
        np.arange(50),
        np.ones(model.n_items_, dtype=np.int64),
        0,
        "cpu",
    )
    assert [b.tolist() for b in plain.epoch_batches(0)] == [
        b.tolist()
        for b in np.array_split(np.random.default_rng([0, 0]).permutation(50), range(8, 50, 8))
    ]
    with pytest.raises(ConfigError, match="length_buckets"):
        SASRec(length_buckets=-1)


def test_trimmed_batches_keep_every_item_the_full_width_batch_trains_on(toy):
    """BERT4Rec reads a training row without its first column: cutting a batch to its longest
    row must leave that column padding, or the oldest item of the longest rows is lost."""
    import torch

    from recutils.models.sequential.base import _SequenceEpochs

    model = create_model("bert4rec", **{**SMALL, "max_len": 6}, n_epochs=1, seed=0).fit(toy)
    tokens = np.array([[0, 0, 0, 1, 2, 3, 4], [0, 0, 0, 0, 0, 5, 6]])
    epochs = _SequenceEpochs(
        model, tokens, np.arange(2), np.ones(model.n_items_, dtype=np.int64), 0, "cpu"
    )
    seen = []
    real = model._training_positions

    def spy(seq, rng):
        seen.append(seq.clone())
        return real(seq, rng)

    model._training_positions = spy
    try:
        epochs.loss(model.network_.train(), np.arange(2))
    finally:
        del model._training_positions
    items = seen[0][:, 1:]  # what BERT4Rec reads
    assert items[0].tolist()[-4:] == [1, 2, 3, 4] and items[1].tolist()[-2:] == [5, 6]
    assert seen[0].shape[1] == 5 and torch.all(seen[0][:, 0] == 0)


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("block", [7, 4096])
def test_blocked_full_softmax_matches_cross_entropy(with_bias, block):
    import torch

    from recutils.models.sequential.networks import _BlockedSoftmaxCrossEntropy

    g = torch.Generator().manual_seed(3)
    q = torch.randn(9, 5, generator=g, dtype=torch.float32)
    table = torch.randn(23, 5, generator=g)
    bias = torch.randn(23, generator=g) if with_bias else None
    targets = torch.tensor([0, 22, 5, 5, 11, 3, 19, 0, 7])
    leaves = [t.clone().requires_grad_() for t in (q, table) + ((bias,) if with_bias else ())]
    logits = leaves[0] @ leaves[1].T + (leaves[2] if with_bias else 0)
    expected = torch.nn.functional.cross_entropy(logits, targets)
    expected.backward()
    mine = [t.detach().clone().requires_grad_() for t in leaves]
    got = _BlockedSoftmaxCrossEntropy.apply(
        mine[0], mine[1], mine[2] if with_bias else None, targets, block
    )
    got.backward()
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    for a, b in zip(mine, leaves):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["sasrec", "ssept", "gru4rec"])
def test_full_softmax_loss_is_the_softmax_over_every_item(toy, name):
    import torch

    from recutils.models.sequential.networks import full_softmax_loss, logits_for

    model = create_model(name, loss="ce", **SMALL, n_epochs=1, seed=0).fit(toy)
    network = model.network_
    g = torch.Generator().manual_seed(0)
    q = torch.randn(6, network.output()[0].shape[1], generator=g)
    targets = torch.tensor([1, 2, 3, 8, 8, 5])  # tokens
    c = torch.randn(6, generator=g)  # a per-row constant cancels in the softmax
    everything = torch.arange(1, model.n_items_ + 1)[None]
    expected = torch.nn.functional.cross_entropy(logits_for(network, q, c, everything), targets - 1)
    torch.testing.assert_close(full_softmax_loss(network, q, model.n_items_, targets), expected)
