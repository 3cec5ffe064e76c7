"""MIND (``mind``): the capsule layer (shapes, masking, padding, gradients), histories without
leakage, label-aware attention, max-over-interests serving and its index search, config errors."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError
from recutils.nn.components.registry import check_layer_params

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")

from recutils.models import create_model, load_model  # noqa: E402
from recutils.models.retrieval.mind import HISTORY, MindModel  # noqa: E402
from recutils.nn.components.capsule import MultiInterestCapsule, interest_counts, squash  # noqa: E402
from recutils.nn.components.sequence_input import SequenceFeatures  # noqa: E402

K4 = {"backbone": {"blocks": {"0": {"layer": {"params": {"num_interests": 4}}}}}}
TOY = {**MindModel.contract_case().params, "model_config": K4}
PROFILE_FREE = {**copy.deepcopy(TOY), "feature_groups": {"user": ["history"], "item": ["item"]}}


def _frame(seed: int = 0, n_users: int = 30, n_items: int = 40, per_user: int = 12) -> pd.DataFrame:
    """Users with ``per_user`` rows each, shuffled, timestamps with ties, some repeated items."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    items = rng.integers(0, n_items, users.size)
    stamps = rng.integers(0, 6, users.size) * 100
    df = pd.DataFrame({"userID": users, "itemID": items, "rating": 1.0, "timestamp": stamps})
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _fit(df: pd.DataFrame, **params) -> MindModel:
    return create_model("mind", **{**copy.deepcopy(TOY), **params}).fit(df)


def _capsule(**kw) -> MultiInterestCapsule:
    torch.manual_seed(0)
    args = {
        "input_dim": 6,
        "query_dim": 3,
        "num_interests": 4,
        "max_len": 12,
        "hidden_units": [5],
        "seed": 1,
    }
    return MultiInterestCapsule(**{**args, **kw}).eval()


def _history(lengths: list[int], width: int = 8, dim: int = 6, seed: int = 0) -> SequenceFeatures:
    gen = torch.Generator().manual_seed(seed)
    mask = torch.arange(width).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    seq = torch.randn(len(lengths), width, dim, generator=gen) * mask.unsqueeze(-1)
    return SequenceFeatures(seq, mask, torch.randn(len(lengths), 3, generator=gen))


# ------------------------------------------------------------------ capsule
def test_interest_counts_follow_the_papers_log2_rule() -> None:
    lengths = torch.tensor([0, 1, 2, 3, 4, 7, 8, 100])
    assert interest_counts(lengths, 4, adaptive=True).tolist() == [1, 1, 1, 1, 2, 2, 3, 4]
    assert interest_counts(lengths, 4, adaptive=False).tolist() == [4] * 8


def test_squash_keeps_direction_and_bounds_the_norm() -> None:
    z = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    out = squash(z)
    assert torch.allclose(out[0], z[0] / 5 * (25 / 26), atol=1e-6)
    assert torch.equal(out[1], torch.zeros(2))


def test_capsule_shapes_with_and_without_the_mlp() -> None:
    x = _history([8, 3, 0])
    assert _capsule()(x).shape == (3, 4, 5)
    plain = _capsule(hidden_units=None, interest_dim=7)
    assert plain(x).shape == (3, 4, 7)
    caps = plain.capsules(x.seq, x.mask)
    # 8 behaviours: 3 interests; 3: 1; none: 1 interest of zeros; inactive interests are zeros
    assert (caps.norm(dim=-1) > 0).tolist() == [
        [True, True, True, False],
        [True, False, False, False],
        [False, False, False, False],
    ]


def test_capsule_output_does_not_change_with_padding_or_padded_values() -> None:
    layer = _capsule()
    x = _history([5, 2], width=6)
    longer = SequenceFeatures(
        torch.cat([x.seq, torch.zeros(2, 4, 6)], dim=1),
        torch.cat([x.mask, torch.zeros(2, 4, dtype=torch.bool)], dim=1),
        x.query,
    )
    noisy = SequenceFeatures(
        x.seq + torch.randn(x.seq.shape) * (~x.mask).unsqueeze(-1), x.mask, x.query
    )
    with torch.no_grad():
        base = layer(x)
        assert torch.allclose(layer(longer), base, atol=1e-6)
        assert torch.allclose(layer(noisy), base, atol=1e-6)


def test_capsule_gradients_reach_the_map_and_real_positions_only() -> None:
    layer = _capsule().train()
    x = _history([6, 3], width=8)
    seq = x.seq.clone().requires_grad_(True)
    out = layer(SequenceFeatures(seq, x.mask, x.query))
    out.pow(2).sum().backward()
    assert (
        layer.bilinear.weight.grad is not None and torch.isfinite(layer.bilinear.weight.grad).all()
    )
    assert layer.bilinear.weight.grad.abs().sum() > 0
    assert seq.grad[x.mask].abs().sum() > 0
    assert torch.equal(seq.grad[~x.mask], torch.zeros_like(seq.grad[~x.mask]))
    # the routing logits are a fixed draw: a buffer, not a parameter
    assert "routing_logits" in dict(layer.named_buffers())
    assert all("routing_logits" not in name for name, _ in layer.named_parameters())
    assert torch.equal(layer.routing_logits, _capsule().routing_logits)  # seeded
    assert not torch.equal(layer.routing_logits, _capsule(seed=2).routing_logits)


def test_capsule_refuses_histories_longer_than_max_len() -> None:
    with pytest.raises(ValueError, match="longer than max_len"):
        _capsule(max_len=4)(_history([5], width=6))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"num_interests": 0}, "num_interests must be an integer >= 1"),
        ({"routing_iters": 0}, "routing_iters must be an integer >= 1"),
        ({"init_std": 0}, "init_std"),
        ({"K": 3}, "unknown parameter"),
    ],
)
def test_capsule_params_are_checked(params: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        check_layer_params("MultiInterestCapsule", params)


# ------------------------------------------------------------------ histories
def _captured_histories(
    model_params: dict, df: pd.DataFrame, monkeypatch
) -> tuple[MindModel, np.ndarray]:
    """Fit and return the model and each training row's history as item ids (-1: padding)."""
    captured = {}
    original = MindModel._fit_encoder

    def spy(self, frame, data):
        encoder, encoded = original(self, frame, data)
        captured["codes"] = encoded["history"].copy()
        captured["lookup"] = self._history_codes(encoder, "history")
        return encoder, encoded

    monkeypatch.setattr(MindModel, "_fit_encoder", spy)
    model = create_model("mind", **model_params).fit(df)
    code_to_item = {int(c): item for c, item in zip(captured["lookup"], model.item_ids_)}
    items = np.vectorize(lambda c: code_to_item.get(int(c), -1))(captured["codes"])
    return model, items


def _expected_history(df: pd.DataFrame, row: int, width: int, col_time: str | None) -> list:
    user = df.at[row, "userID"]
    mine = df[df["userID"] == user]
    if col_time is None:
        before = mine[mine.index < row]
    else:
        t = df.at[row, col_time]
        before = mine[(mine[col_time] < t) | ((mine[col_time] == t) & (mine.index < row))]
        before = before.sort_values(col_time, kind="stable")
    last = before["itemID"].tolist()[-width:]
    return [i for i in last if i != df.at[row, "itemID"]]


@pytest.mark.parametrize("with_time", [True, False])
def test_training_histories_hold_only_earlier_items_and_never_the_rows_own(
    with_time: bool, monkeypatch
) -> None:
    df = _frame()
    if not with_time:
        df = df.drop(columns="timestamp")
    _, hist = _captured_histories(copy.deepcopy(TOY), df, monkeypatch)
    assert hist.shape == (len(df), 10)
    own = df["itemID"].to_numpy()
    assert not (
        hist == own[:, None]
    ).any()  # the row's own item never (repeated interactions included)
    for row in range(len(df)):
        got = [i for i in hist[row].tolist() if i != -1]
        assert got == _expected_history(df, row, 10, "timestamp" if with_time else None), row
        assert (hist[row, len(got) :] == -1).all()  # right-padded


def test_a_users_serving_history_is_their_latest_training_items() -> None:
    df = _frame()
    model = _fit(df)
    table = model.user_table_["history"]
    codes = model._history_codes(model.encoder_, "history")
    for user in (0, 7):
        mine = df[df["userID"] == user].sort_values("timestamp", kind="stable")
        expected = codes[model.item_ids_.get_indexer(mine["itemID"].tolist()[-10:])]
        assert table[model.user_ids_.get_loc(user)].tolist() == expected.tolist()


def test_history_column_in_a_frame_is_never_read() -> None:
    df = _frame()
    model = _fit(df)
    pairs = df.head(5)
    with_column = pairs.assign(**{HISTORY: "1|2|3"})
    assert np.allclose(model.predict(pairs)["prediction"], model.predict(with_column)["prediction"])
    assert HISTORY not in model._side_columns()


# ------------------------------------------------------------------ training and serving
def test_label_aware_attention_weights() -> None:
    net = _fit(_frame()).network_
    tau = net.match.temperature
    u = torch.nn.functional.normalize(
        torch.randn(3, 4, 64, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    v = u[:, 1] * 0.9 + 0.1 * u[:, 0]
    mask = torch.tensor(
        [[True, True, True, False], [True, True, False, False], [True, False, False, False]]
    )
    net.attention_pow = math.inf
    hard = net.label_aware(u, mask, v)
    assert torch.allclose(hard[:2], u[:2, 1], atol=1e-6)  # the best-matching interest
    assert torch.allclose(hard[2], u[2, 0], atol=1e-6)  # the only active one
    net.attention_pow = 1.0
    s = (u * v.unsqueeze(1)).sum(-1) / tau
    w = torch.softmax(s.masked_fill(~mask, -math.inf), dim=1)
    expected = torch.nn.functional.normalize((w.unsqueeze(-1) * u).sum(1), dim=-1)
    assert torch.allclose(net.label_aware(u, mask, v), expected, atol=1e-5)


def test_scores_are_the_best_interest_and_inactive_slots_repeat_the_first() -> None:
    df = _frame()
    model = _fit(df)
    users = model.user_embeddings(df.head(6))
    assert users.shape == (6, model.network_.num_interests, model.network_.embedding_dim)
    assert model.user_embeddings(df.iloc[:0]).shape == (0,) + users.shape[1:]
    items = model.item_embeddings(df.head(6))
    tau = model.config.model_config.model_params.match.temperature
    expected = np.einsum("nkd,nd->nk", users, items).max(axis=1) / tau
    assert np.allclose(model.predict(df.head(6))["prediction"], expected, atol=1e-5)
    # 12 rows per user (at most 10 in the history): log2(10) -> 3 active interests of 4
    assert np.allclose(users[:, 3], users[:, 0])
    assert not np.allclose(users[:, 1], users[:, 0])


def test_index_search_per_interest_equals_the_exact_max_over_interests() -> None:
    df = _frame()
    model = _fit(df)
    users = [0, 3, 11, 29]
    exact = model.recommend_k_items(users, top_k=7)
    index = model.build_index("brute_force")
    found = model.recommend_from_index(index, users, top_k=7)
    assert found["itemID"].tolist() == exact["itemID"].tolist()
    assert np.allclose(found["prediction"], exact["prediction"], atol=1e-4)
    seen = set(map(tuple, df[["userID", "itemID"]].to_numpy().tolist()))
    assert not any((u, i) in seen for u, i in found[["userID", "itemID"]].to_numpy().tolist())
    with_seen = model.recommend_from_index(index, users, top_k=7, remove_seen=False)
    assert (
        with_seen["itemID"].tolist()
        == model.recommend_k_items(users, top_k=7, remove_seen=False)["itemID"].tolist()
    )
    with pytest.raises(DataError, match="unknown user"):
        model.recommend_from_index(index, ["nobody"], top_k=3)


def test_similar_items_and_save_load_keep_the_routing_logits(tmp_path) -> None:
    df = _frame()
    model = _fit(df)
    assert len(model.similar_items([df.at[0, "itemID"]], k=3)) == 3
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    key = next(k for k in model.network_.state_dict() if k.endswith("routing_logits"))
    assert torch.equal(loaded.network_.state_dict()[key], model.network_.state_dict()[key])
    pd.testing.assert_frame_equal(
        loaded.recommend_k_items([0, 5], top_k=5), model.recommend_k_items([0, 5], top_k=5)
    )
    np.testing.assert_allclose(
        loaded.user_embeddings(df.head(4)), model.user_embeddings(df.head(4)), atol=1e-6
    )


# ------------------------------------------------------------------ bad input
def test_unknown_user_with_a_profile_is_embedded_from_the_profile_alone() -> None:
    model = _fit(_frame())
    out = model.user_embeddings(pd.DataFrame({"userID": ["new"]}))
    assert out.shape[:2] == (1, model.network_.num_interests) and np.isfinite(out).all()


def test_no_history_and_no_profile_is_a_data_error() -> None:
    model = create_model("mind", **copy.deepcopy(PROFILE_FREE)).fit(_frame())
    with pytest.raises(DataError, match="no history"):
        model.user_embeddings(pd.DataFrame({"userID": ["new"]}))
    assert model.user_embeddings(pd.DataFrame({"userID": [0]})).shape[0] == 1


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), "2", True])
def test_attention_pow_must_be_positive(value) -> None:
    with pytest.raises(ConfigError, match="attention_pow"):
        create_model("mind", **copy.deepcopy(TOY), attention_pow=value)


def test_attention_pow_inf_is_hard_attention_and_trains() -> None:
    model = _fit(_frame(), attention_pow=math.inf)
    assert np.isfinite(model.history_["train_loss"]).all()


def test_k_below_one_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="num_interests"):
        create_model(
            "mind",
            **{
                **copy.deepcopy(TOY),
                "model_config": {
                    "backbone": {"blocks": {"0": {"layer": {"params": {"num_interests": 0}}}}}
                },
            },
        )


def test_history_in_the_item_tower_is_refused() -> None:
    params = copy.deepcopy(TOY)
    params["feature_groups"] = {"user": ["history", "user"], "item": ["item", "history"]}
    with pytest.raises(ConfigError, match="may feed only the user tower|feed both towers"):
        create_model("mind", **params).fit(_frame())


def test_history_feature_must_be_an_id_sequence_with_a_length() -> None:
    params = copy.deepcopy(TOY)
    params["features"][2] = {"name": "history", "column": HISTORY}
    with pytest.raises(ConfigError, match="must be type: sequence"):
        create_model("mind", **params)
    params["features"][2] = {"name": "history", "column": HISTORY, "type": "sequence"}
    with pytest.raises(ConfigError, match="needs max_length"):
        create_model("mind", **params)
    params["features"][2] = {
        "name": "history",
        "column": "hist",
        "type": "sequence",
        "max_length": 5,
    }
    with pytest.raises(ConfigError, match="mind needs a history feature"):
        create_model("mind", **params)


def test_a_user_tower_without_capsules_is_refused() -> None:
    params = copy.deepcopy(TOY)
    blocks = [
        {
            "name": "interests",
            "inputs": [{"feature_group_name": "user"}],
            "layer": {"class_name": "SequencePooling", "params": {"mode": "mean"}},
        },
        {
            "name": "item_tower",
            "inputs": [{"feature_group_name": "item"}],
            "layer": {"class_name": "MLP", "params": {"hidden_units": [8], "use_final_bn": False}},
        },
    ]
    with pytest.raises(ConfigError, match="must output \\[batch, interests, width\\]"):
        create_model("mind", **{**params, "model_config": {"backbone": {"blocks": blocks}}}).fit(
            _frame()
        )


def test_validation_histories_hold_no_held_out_item(monkeypatch) -> None:
    """Early stopping's recall: a held-out item never sits in its user's history."""
    from recutils.models.retrieval.model import RecallValidator

    captured = {}
    original = RecallValidator.__init__

    def spy(self, users, relevant, seen, items, layout, k):
        captured.update(users=users["history"].copy(), relevant=relevant.tocsr())
        original(self, users, relevant, seen, items, layout, k)

    monkeypatch.setattr(RecallValidator, "__init__", spy)
    params = copy.deepcopy(TOY)
    params["train"].update(validation_fraction=0.3, early_stopping_metric="auc")
    frame = _frame().drop_duplicates(["userID", "itemID"])  # a repeated pair may be on both sides
    model = create_model("mind", **params).fit(frame)
    codes = model._history_codes(model.encoder_, "history")
    relevant = captured["relevant"]
    held_out = codes[
        relevant.indices
    ]  # the history table's id of each held-out item, by validation user
    rows = np.repeat(np.arange(relevant.shape[0]), np.diff(relevant.indptr))
    assert rows.size > 0
    assert not (captured["users"][rows] == held_out[:, None]).any()
    assert (captured["users"] != 0).any()


def test_paired_recall_of_the_comparison_tool() -> None:
    """tools/benchmarks/mind_vs_dssm.py: per-user means over seeds, the difference and its interval."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "tools" / "benchmarks" / "mind_vs_dssm.py"
    spec = importlib.util.spec_from_file_location("mind_vs_dssm", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    rng = np.random.default_rng(0)
    rows = []
    for seed in (1, 2):
        for user in range(40):
            base = rng.uniform(0, 0.5)
            rows += [
                {
                    "dataset": "d",
                    "protocol": "chrono80",
                    "model": "dssm",
                    "seed": seed,
                    "userID": user,
                    "recall@50": base,
                },
                {
                    "dataset": "d",
                    "protocol": "chrono80",
                    "model": "mind",
                    "seed": seed,
                    "userID": user,
                    "recall@50": base + 0.1 + rng.normal(0, 0.01),
                },
            ]
    out = tool.paired_recall(pd.DataFrame(rows))
    assert out["n_users"] == 40 and out["n_seeds"] == 2
    assert out["mean_diff"] == pytest.approx(out["mind_recall@50"] - out["dssm_recall@50"])
    assert out["ci95_low"] < out["mean_diff"] < out["ci95_high"]
    assert 0.09 < out["ci95_low"] and out["ci95_high"] < 0.11
    assert out["t_pvalue"] < 1e-10
