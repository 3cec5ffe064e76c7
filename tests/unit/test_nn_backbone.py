"""Backbone building: module graph, shape validation naming the block, regularization."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from _nn_helpers import toy_encoded, toy_model, toy_model_dict, toy_specs  # noqa: E402

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.nn.backbone import build_rank_network  # noqa: E402
from recutils.nn.config import ModelConfig  # noqa: E402
from recutils.nn.data import TensorData  # noqa: E402


def _data(net, n=50):
    enc, y = toy_encoded(n)
    return TensorData.from_encoded(enc, net.backbone.layout, y)


def test_forward_shapes_gradients_and_groups():
    net = build_rank_network(toy_model(), toy_specs(), seed=0)
    batch = _data(net).batch(slice(0, 16))
    out = net(batch)
    assert out.shape == (16,)
    out.sum().backward()
    groups = net.parameter_groups()
    assert groups["embedding"] and groups["dense_weight"]
    assert all(p.grad is not None for g in groups.values() for p in g)
    # wide tables have width 1, deep tables width 4, one storage per width
    assert sorted(net.backbone.bank.storage.keys()) == ["1", "4"]


def test_same_seed_same_weights():
    a = build_rank_network(toy_model(), toy_specs(), seed=3).state_dict()
    b = build_rank_network(toy_model(), toy_specs(), seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_embedding_regularization_tracks_lookups():
    net = build_rank_network(toy_model(), toy_specs(), seed=0)
    net.train()
    net(_data(net).batch(slice(0, 8)))
    reg = net.regularization_loss()
    assert reg is not None and reg.item() > 0
    assert net.regularization_loss() is None  # popped


def _build(mutate):
    d = toy_model_dict()
    mutate(d)
    return build_rank_network(ModelConfig.from_dict(d), toy_specs(), seed=0)


def test_shape_mismatch_names_block():
    def mutate(d):
        d["backbone"]["blocks"][1]["layer"]["params"]["hidden_units"] = [8, 3]

    with pytest.raises(ConfigError) as err:
        _build(mutate)
    msg = str(err.value)
    assert "final_logit" in msg and "Add" in msg and "[2, 3]" in msg


def test_mlp_on_a_list_names_block():
    def mutate(d):
        d["backbone"]["blocks"][1].update(
            inputs=[{"block_name": "wide"}, {"block_name": "wide"}], merge_inputs_into_list=True
        )

    with pytest.raises(ConfigError, match="deep_logit"):
        _build(mutate)


def test_bad_input_fn_at_runtime_names_block():
    def mutate(d):
        d["backbone"]["blocks"][2]["inputs"][0]["input_fn"] = "lambda x: x[5]"

    with pytest.raises(ConfigError, match="final_logit"):
        _build(mutate)


def test_unknown_feature_in_group():
    def mutate(d):
        d["feature_groups"][0]["feature_names"].append("zzz")

    with pytest.raises(ConfigError, match="zzz"):
        _build(mutate)


def test_head_added_for_wide_outputs_and_fm_block():
    d = toy_model_dict()
    d["backbone"]["blocks"].append(
        {"name": "fm", "inputs": [{"feature_group_name": "deep"}], "layer": {"class_name": "FM"}}
    )
    d["backbone"]["blocks"][1]["layer"]["params"]["hidden_units"] = [8, 5]
    d["backbone"]["concat_blocks"] = ["deep_logit", "fm"]
    d["backbone"]["blocks"].pop(2)
    net = build_rank_network(ModelConfig.from_dict(d), toy_specs(), seed=0)
    assert net.head is not None and net.head.in_features == 6
    assert net(_data(net).batch(slice(0, 4))).shape == (4,)


def test_a_group_read_as_list_and_as_concatenation_is_gathered_once():
    # DeepFM's shape: the deep group feeds FM as a field list and an MLP concatenated
    from _nn_helpers import toy_encoded, toy_model_dict

    from recutils.nn.components.input_layer import EmbeddingBank
    from recutils.nn.data import TensorData

    cfg = toy_model_dict()
    cfg["feature_groups"][1]["feature_names"] = ["u", "i", "tags"]  # FM needs one width
    cfg["backbone"]["blocks"][1:1] = [
        {
            "name": "fields",
            "inputs": [{"feature_group_name": "deep"}],
            "input_layer": {"only_output_feature_list": True},
        },
        {"name": "fm", "inputs": [{"block_name": "fields"}], "layer": {"class_name": "FM"}},
    ]
    cfg["backbone"]["blocks"][-1]["inputs"].append({"block_name": "fm"})
    net = build_rank_network(ModelConfig.from_dict(cfg), toy_specs(), seed=0)
    enc, y = toy_encoded(16)
    batch = TensorData.from_encoded(enc, net.backbone.layout, y).batch(slice(0, 16))
    calls = []
    original = EmbeddingBank.lookup

    def counting(self, dim, ids):
        calls.append((dim, tuple(ids.shape)))
        return original(self, dim, ids)

    EmbeddingBank.lookup = counting
    try:
        out = net(batch)
    finally:
        EmbeddingBank.lookup = original
    # one gather for the wide group (width 1) and one for the deep group (width 4), not two
    assert sorted(c[0] for c in calls) == [1, 4]
    out.sum().backward()
    assert net.backbone.bank.table(4).weight.grad is not None
    # the regularization term counts the deep embeddings once
    assert net.regularization_loss() is not None
