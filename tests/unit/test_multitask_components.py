"""Multi-task components (MMoE, CGC / PLE, AITMTransfer, Gate): shapes, gates, known answers,
params validation, and MMoE / PLE / Gate / AITMTransfer blocks in a backbone that trains and exports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.nn.backbone import build_rank_network  # noqa: E402
from recutils.nn.components import check_layer_params, component_class, list_components  # noqa: E402
from recutils.nn.components.multitask import CGC, PLE, AITMTransfer, Gate, MMoE  # noqa: E402
from recutils.nn.config_io import load_model_config  # noqa: E402
from recutils.nn.data import TensorData  # noqa: E402
from tests.unit._nn_helpers import toy_encoded, toy_specs  # noqa: E402

EXPERT = {"hidden_units": [6, 5], "use_final_bn": False}
NAMES = ["AITMTransfer", "CGC", "Gate", "MMoE", "PLE"]


def _x(b: int = 7, d: int = 9, seed: int = 0) -> torch.Tensor:
    return torch.randn(b, d, generator=torch.Generator().manual_seed(seed), requires_grad=True)


def _all_params_get_gradients(module: torch.nn.Module) -> bool:
    return all(p.grad is not None for p in module.parameters())


def test_registry_lists_the_multitask_components():
    assert set(NAMES) <= set(list_components())
    assert (
        component_class("MMoE") is MMoE
        and component_class("PLE") is PLE
        and component_class("CGC") is CGC
    )
    assert component_class("Gate") is Gate and component_class("AITMTransfer") is AITMTransfer


# ------------------------------------------------------------------ MMoE
@pytest.mark.parametrize("gate_mlp", [None, {"hidden_units": [4]}])
def test_mmoe_returns_one_tensor_per_task_and_gates_sum_to_one(gate_mlp):
    torch.manual_seed(0)
    m = MMoE(9, num_task=3, num_expert=4, expert_mlp=EXPERT, gate_mlp=gate_mlp)
    x = _x()
    out = m(x)
    assert isinstance(out, list) and len(out) == 3 and m.output_dim == 5
    assert all(tuple(o.shape) == (7, 5) for o in out)
    sum(o.square().sum() for o in out).backward()
    assert x.grad is not None and _all_params_get_gradients(m)
    w = m.gate_weights(x.detach())
    assert tuple(w.shape) == (3, 7, 4) and (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(3, 7))


def test_mmoe_task_output_is_the_gate_weighted_sum_of_the_experts():
    torch.manual_seed(1)
    m = MMoE(9, num_task=2, num_expert=3, expert_mlp=EXPERT).eval()
    x = _x()
    with torch.no_grad():
        experts = [e(x) for e in m.experts]
        w = m.gate_weights(x)
        out = m(x)
    for t in range(2):
        expected = sum(w[t, :, e : e + 1] * experts[e] for e in range(3))
        torch.testing.assert_close(out[t], expected)
    # the gates differ per task (their own weights), so do the outputs
    assert not torch.allclose(out[0], out[1])


def test_mmoe_with_one_expert_gives_that_expert_to_every_task_exactly():
    m = MMoE(9, num_task=2, num_expert=1, expert_mlp=EXPERT).eval()
    x = _x()
    with torch.no_grad():
        expert = m.experts[0](x)
        assert all(torch.equal(o, expert) for o in m(x))
        assert torch.equal(m.gate_weights(x), torch.ones(2, 7, 1))


def test_mmoe_with_one_task_is_allowed():
    assert (
        len(MMoE(4, num_task=1, num_expert=2, expert_mlp={"hidden_units": [3]})(torch.randn(2, 4)))
        == 1
    )
    assert check_layer_params("MMoE", {"num_task": 1}).num_task == 1


def test_mmoe_rejects_a_wrong_input():
    m = MMoE(9, 2, 2, EXPERT)
    with pytest.raises(ValueError, match=r"\[batch, 9\]"):
        m(torch.randn(3, 8))
    with pytest.raises(ValueError, match="num_expert"):
        MMoE(9, 2, 0, EXPERT)


# ------------------------------------------------------------------ CGC / PLE
def test_cgc_gates_mix_own_then_shared_experts():
    torch.manual_seed(2)
    m = CGC(9, num_task=2, num_expert_share=2, num_expert_per_task=1, expert_mlp=EXPERT).eval()
    x = _x()
    with torch.no_grad():
        out, w = m.extract(x)
        shared = [e(x) for e in m.shared_experts]
        for t in range(2):
            experts = [m.task_experts[t][0](x)] + shared
            expected = sum(w[t, :, e : e + 1] * experts[e] for e in range(3))
            torch.testing.assert_close(out[t], expected)
    assert len(out) == 2 and tuple(w.shape) == (2, 7, 3)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 7))


def test_cgc_routes_each_task_its_own_input_and_the_shared_gate_reads_every_expert():
    torch.manual_seed(3)
    m = CGC(
        9,
        num_task=2,
        num_expert_share=0,
        num_expert_per_task=2,
        expert_mlp=EXPERT,
        shared_gate=True,
    ).eval()
    x0, x1, xs = _x(seed=0), _x(seed=1), _x(seed=2)
    with torch.no_grad():
        a = m([x0, x1, xs])
        b = m([x0, x1 + 1.0, xs])
    assert len(a) == 3  # two tasks, then the shared output
    assert torch.equal(a[0], b[0])  # task 0 reads only its own input (no shared experts here)
    assert not torch.allclose(a[1], b[1]) and not torch.allclose(
        a[2], b[2]
    )  # the shared gate mixes task 1's
    with pytest.raises(ValueError, match="3 tensors"):
        m([x0, x1])


def test_ple_with_one_level_is_cgc():
    torch.manual_seed(4)
    cgc = CGC(9, num_task=3, num_expert_share=2, num_expert_per_task=1, expert_mlp=EXPERT).eval()
    ple = PLE(
        9, num_task=3, num_level=1, num_expert_share=2, num_expert_per_task=1, expert_mlp=EXPERT
    ).eval()
    assert not torch.equal(ple(_x())[0], cgc(_x())[0])  # different weights so far
    ple.levels[0].load_state_dict(cgc.state_dict())
    x = _x()
    with torch.no_grad():
        assert all(torch.equal(p, c) for p, c in zip(ple(x), cgc(x)))
        assert torch.equal(ple.gate_weights(x)[0], cgc.gate_weights(x))


def test_ple_stacks_levels_through_task_and_shared_outputs():
    torch.manual_seed(5)
    ple = PLE(
        9, num_task=2, num_level=3, num_expert_share=1, num_expert_per_task=2, expert_mlp=EXPERT
    )
    assert [lvl.shared_gate is not None for lvl in ple.levels] == [True, True, False]
    assert [lvl.input_dim for lvl in ple.levels] == [9, 5, 5] and ple.output_dim == 5
    x = _x()
    out = ple(x)
    assert len(out) == 2 and all(tuple(o.shape) == (7, 5) for o in out)
    sum(o.sum() for o in out).backward()
    assert x.grad is not None and _all_params_get_gradients(ple)
    with torch.no_grad():
        manual = ple.levels[2](ple.levels[1](ple.levels[0](x)))
        assert all(torch.equal(a, b) for a, b in zip(manual, ple(x)))
        weights = ple.gate_weights(x)
    assert [tuple(w.shape) for w in weights] == [(2, 7, 3)] * 3
    for w in weights:
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 7))


@pytest.mark.parametrize("share,per_task,gate_width", [(0, 2, 2), (3, 0, 3)])
def test_ple_with_only_task_or_only_shared_experts(share, per_task, gate_width):
    ple = PLE(
        4,
        num_task=2,
        num_level=2,
        num_expert_share=share,
        num_expert_per_task=per_task,
        expert_mlp={"hidden_units": [3]},
    )
    assert [tuple(w.shape) for w in ple.gate_weights(torch.randn(5, 4))] == [(2, 5, gate_width)] * 2
    with pytest.raises(ValueError, match="both 0"):
        PLE(4, 2, 2, 0, 0, {"hidden_units": [3]})


# ------------------------------------------------------------------ AITMTransfer
def test_aitm_transfer_known_answer():
    d = 3
    m = AITMTransfer(d)
    assert m.output_dim == d
    with torch.no_grad():
        for lin in (m.transfer[0], m.query, m.key, m.value):
            lin.weight.copy_(torch.eye(d))
            lin.bias.zero_()
        m.value.weight.mul_(2.0)
    p = torch.tensor([[1.0, -2.0, 0.5]])
    q = torch.tensor([[0.0, 1.0, 1.0]])
    # the transfer is ReLU(p) = (1, 0, 0.5); scores |u|^2 / sqrt(3); output sum_u w_u * 2u
    p_t = torch.tensor([[1.0, 0.0, 0.5]])
    scores = torch.tensor([[1.25, 2.0]]) / 3**0.5
    w = torch.softmax(scores, dim=-1)
    torch.testing.assert_close(m.attention_weights([p, q]), w)
    torch.testing.assert_close(m([p, q]), 2 * (w[:, :1] * p_t + w[:, 1:] * q))


def test_aitm_transfer_shapes_gradients_and_errors():
    torch.manual_seed(6)
    m = AITMTransfer(input_dims=[9, 9])
    p, q = _x(seed=1), _x(seed=2)
    out = m([p, q])
    assert tuple(out.shape) == (7, 9)
    out.sum().backward()
    assert p.grad is not None and q.grad is not None and _all_params_get_gradients(m)
    torch.testing.assert_close(m.attention_weights([p, q]).sum(-1), torch.ones(7))
    with pytest.raises(ValueError, match="merge_inputs_into_list"):
        AITMTransfer(input_dims=[18])
    with pytest.raises(ValueError, match="one width"):
        AITMTransfer(input_dims=[9, 4])
    with pytest.raises(ValueError, match=r"expects \[p"):
        m([p, q, q])


# ------------------------------------------------------------------ Gate
def test_gate_with_one_expert_returns_that_expert_exactly():
    g = Gate([9, 5])
    x, e = _x(), _x(d=5, seed=1)
    assert torch.equal(g([x, e]), e)
    assert torch.equal(g.gate_weights([x, e]), torch.ones(7, 1))


def test_gate_known_answer_and_stacked_experts():
    g = Gate([2, 3, 3])
    with torch.no_grad():
        g.linear.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
        g.linear.bias.zero_()
    x = torch.tensor([[0.0, 1.0]])
    e1, e2 = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[-1.0, 0.0, 1.0]])
    w = torch.softmax(torch.tensor([0.0, 1.0]), dim=0)
    torch.testing.assert_close(g([x, e1, e2]), w[0] * e1 + w[1] * e2)
    torch.testing.assert_close(g([x, torch.stack([e1, e2], dim=1)]), g([x, e1, e2]))
    torch.testing.assert_close(
        g([x, [e1, e2]]), g([x, e1, e2])
    )  # a list block output as the experts
    assert g.output_dim == 3 and g.num_expert == 2


def test_gate_rejects_bad_inputs():
    with pytest.raises(ValueError, match="merge_inputs_into_list"):
        Gate([4])
    with pytest.raises(ValueError, match="one width"):
        Gate([4, 3, 2])
    with pytest.raises(ValueError, match="built for"):
        Gate([4, 3, 3])([torch.randn(2, 4), torch.randn(2, 3)])


# ------------------------------------------------------------------ params
@pytest.mark.parametrize(
    "name,params,match",
    [
        ("MMoE", {"num_expert": 0}, "num_expert must be an integer >= 1"),
        ("MMoE", {"num_task": 0}, "num_task"),
        ("MMoE", {"num_task": 65}, "num_task=65 is above the limit"),
        ("MMoE", {"num_expert": 1025}, "num_expert=1025 is above the limit"),
        ("MMoE", {"expert_mlp": {"hidden_units": []}}, "expert_mlp"),
        ("MMoE", {"expert_mlp": {"units": [4]}}, "unknown parameter"),
        ("MMoE", {"expert_mlp": [4]}, "expert_mlp must be a mapping"),
        ("MMoE", {"gate_mlp": {"hidden_units": [0]}}, "gate_mlp"),
        ("MMoE", {"experts": 2}, "unknown parameter"),
        ("PLE", {"num_expert_share": 0, "num_expert_per_task": 0}, "both 0"),
        ("PLE", {"num_level": 0}, "num_level"),
        ("PLE", {"num_level": 257}, "num_level=257 is above the limit"),
        ("PLE", {"num_expert_per_task": -1}, "num_expert_per_task must be an integer >= 0"),
        ("PLE", {"num_task": 64, "num_expert_per_task": 20}, "experts per level"),
        ("CGC", {"num_task": True}, "num_task"),
        ("CGC", {"num_level": 2}, "unknown parameter"),
        ("Gate", {"num_expert": 2}, "unknown parameter"),
        ("AITMTransfer", {"input_dim": 4}, "unknown parameter"),
    ],
)
def test_params_validation(name, params, match):
    with pytest.raises(ConfigError, match=match):
        check_layer_params(name, params)


@pytest.mark.parametrize(
    "name,params",
    [
        ("MMoE", {"num_task": 3, "gate_mlp": {"hidden_units": [4]}}),
        ("PLE", {"num_level": 3, "num_expert_share": 0}),
        ("CGC", {"num_expert_per_task": 0}),
    ],
)
def test_params_round_trip(name, params):
    cfg = check_layer_params(name, params)
    assert type(cfg).from_dict(cfg.to_dict()) == cfg
    assert cfg.expert_mlp["hidden_units"] == [
        64
    ]  # the default expert, filled in with MLP's defaults
    assert set(cfg.expert_mlp) == set(check_layer_params("MLP", {"hidden_units": [1]}).to_dict())


# ------------------------------------------------------------------ in a backbone
TOWER = {"hidden_units": [8, 1], "use_final_bn": False, "final_activation": "linear"}


def _yaml(mtl_layer: str) -> str:
    return f"""
feature_groups:
  - {{group_name: all, feature_names: [u, i, tags, x]}}
backbone:
  blocks:
    - name: all
      inputs: [{{feature_group_name: all}}]
      input_layer: {{}}
    - name: mtl
      inputs: [{{block_name: all}}]
      layer: {mtl_layer}
    - name: tower_a
      inputs: [{{block_name: mtl, input_fn: 'lambda x: x[0]'}}]
      layer: {{class_name: MLP, params: {TOWER}}}
    - name: tower_b
      inputs: [{{block_name: mtl, input_fn: 'lambda x: x[1]'}}]
      layer: {{class_name: MLP, params: {TOWER}}}
  concat_blocks: [tower_a, tower_b]
"""


MMOE = (
    "{class_name: MMoE, params: {num_task: 2, num_expert: 3, expert_mlp: {hidden_units: [16, 8]}}}"
)
PLE_LAYER = (
    "{class_name: PLE, params: {num_task: 2, num_level: 2, num_expert_share: 1, num_expert_per_task: 1, "
    "expert_mlp: {hidden_units: [8]}}}"
)


def _data(net, n: int = 600):
    enc, y = toy_encoded(n)
    return TensorData.from_encoded(enc, net.backbone.layout, y)


def _train(net, steps: int = 20) -> tuple[float, float]:
    data = _data(net)
    batch = data.batch(slice(0, len(data)))
    label = batch.pop("label")
    optimizer = torch.optim.Adam(net.parameters(), lr=0.02)
    losses = []
    net.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(batch), label)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses[0], losses[-1]


@pytest.mark.parametrize("layer,cls", [(MMOE, MMoE), (PLE_LAYER, PLE)], ids=["MMoE", "PLE"])
def test_a_multitask_block_feeds_two_towers_and_trains(layer, cls):
    net = build_rank_network(load_model_config(_yaml(layer)), toy_specs(), seed=0)
    mtl = net.backbone.layers["mtl"]
    assert (
        isinstance(mtl, cls) and mtl.input_dim == 4 * 3 + 1
    )  # three embeddings of 4 and the dense x
    assert (
        net.backbone.layers["tower_a"].in_features == mtl.output_dim
        and net.backbone.output_dim == 2
    )
    first, last = _train(net)
    assert last < 0.9 * first


def test_multitask_block_init_is_seeded():
    cfg = load_model_config(_yaml(MMOE))
    a = build_rank_network(cfg, toy_specs(), seed=3).state_dict()
    b = build_rank_network(cfg, toy_specs(), seed=3).state_dict()
    c = build_rank_network(cfg, toy_specs(), seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a if "mtl" in k)


def test_a_list_output_in_concat_blocks_is_concatenated():
    cfg = load_model_config(
        _yaml(MMOE).replace("concat_blocks: [tower_a, tower_b]", "concat_blocks: [mtl]")
    )
    net = build_rank_network(cfg, toy_specs(), seed=0)
    assert net.backbone.output_dim == 2 * 8 and net.head is not None
    assert net(_data(net).batch(slice(0, 5))).shape == (5,)


GATE_AND_AITM = """
feature_groups:
  - {group_name: all, feature_names: [u, i, tags, x]}
backbone:
  blocks:
    - name: all
      inputs: [{feature_group_name: all}]
      input_layer: {}
    - name: mtl
      inputs: [{block_name: all}]
      layer: {class_name: MMoE, params: {num_task: 2, num_expert: 2, expert_mlp: {hidden_units: [6]}}}
    - name: gated
      merge_inputs_into_list: true
      inputs: [{block_name: all}, {block_name: mtl}]
      layer: {class_name: Gate}
    - name: transfer
      merge_inputs_into_list: true
      inputs: [{block_name: gated}, {block_name: mtl, input_fn: 'lambda x: x[1]'}]
      layer: {class_name: AITMTransfer}
  concat_blocks: [transfer]
"""


def test_gate_and_aitm_transfer_blocks_get_their_widths_and_train():
    net = build_rank_network(load_model_config(GATE_AND_AITM), toy_specs(), seed=0)
    gate, transfer = net.backbone.layers["gated"], net.backbone.layers["transfer"]
    assert (gate.input_dim, gate.num_expert, gate.output_dim) == (13, 2, 6)
    assert transfer.input_dim == 6 and net.backbone.output_dim == 6
    first, last = _train(net)
    assert last < 0.9 * first


def test_aitm_transfer_on_concatenated_inputs_names_the_block_and_the_fix():
    text = GATE_AND_AITM.replace(
        "      merge_inputs_into_list: true\n      inputs: [{block_name: gated}",
        "      inputs: [{block_name: gated}",
    )
    with pytest.raises(ConfigError, match=r"block 'transfer'.*merge_inputs_into_list"):
        build_rank_network(load_model_config(text), toy_specs(), seed=0)


def test_an_mmoe_above_the_parameter_limit_is_refused_before_allocation():
    layer = (
        "{class_name: MMoE, params: {num_expert: 1024, expert_mlp: {hidden_units: [65536, 65536]}}}"
    )
    with pytest.raises(ConfigError, match="parameters"):
        build_rank_network(load_model_config(_yaml(layer)), toy_specs(), seed=0)


def test_mmoe_model_fits_saves_and_exports_to_onnx(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from recutils.models.deep import DeepRankModel
    from tests.unit._nn_helpers import check_fit_round_trip_and_export

    rng = np.random.default_rng(0)
    n = 2000
    users, items = rng.integers(0, 30, n), rng.integers(0, 40, n)
    logit = 2.0 * ((users % 2) == (items % 2)) - 1.0
    frame = pd.DataFrame(
        {
            "userID": users,
            "itemID": items,
            "label": (rng.random(n) < 1 / (1 + np.exp(-2 * logit))).astype(float),
        }
    )
    model_config = load_model_config(
        _yaml(MMOE).replace("[u, i, tags, x]", "[user, item]")
    ).to_dict()
    config = {
        "features": [{"name": "user", "column": "@user"}, {"name": "item", "column": "@item"}],
        "default_embedding_dim": 4,
        "model_config": model_config,
        "train": {
            "epochs": 4,
            "batch_size": 128,
            "progress": False,
            "num_threads": 1,
            "optimizers": [{"name": "adam", "lr": 0.02, "params": "all"}],
        },
    }
    model = DeepRankModel(config=config, col_rating="label", seed=0).fit(frame)
    check_fit_round_trip_and_export(model, frame.iloc[:200], tmp_path, min_auc=0.7)
