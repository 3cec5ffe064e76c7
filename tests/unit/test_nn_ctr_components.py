"""The click-through components: shapes, gradients, known answers, config validation."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.nn.backbone import build_rank_network  # noqa: E402
from recutils.nn.components import check_layer_params, component_class, list_components  # noqa: E402
from recutils.nn.components.attention import MultiHeadSelfAttention  # noqa: E402
from recutils.nn.components.cin import CIN  # noqa: E402
from recutils.nn.components.cross import Cross, CrossV2  # noqa: E402
from recutils.nn.components.dlrm import DotInteraction  # noqa: E402
from recutils.nn.components.fibinet import Bilinear, SENet  # noqa: E402
from recutils.nn.components.highway import Highway  # noqa: E402
from recutils.nn.components.linear import FirstOrder  # noqa: E402
from recutils.nn.components.masknet import MaskBlock, MaskNet  # noqa: E402
from recutils.nn.components.ppnet import PPNet  # noqa: E402
from recutils.nn.config import ModelConfig  # noqa: E402
from tests.unit._nn_helpers import toy_specs  # noqa: E402

NEW = [
    "Bilinear",
    "CIN",
    "Cross",
    "CrossV2",
    "DotInteraction",
    "FirstOrder",
    "Highway",
    "MaskBlock",
    "MaskNet",
    "MultiHeadSelfAttention",
    "PPNet",
    "SENet",
]


def _fields(n=4, d=3, b=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, d, generator=g, requires_grad=True) for _ in range(n)]


# (module, input builder, expected output shape) for B=5, 4 fields of width 3
CASES = {
    "FirstOrder": (
        lambda: FirstOrder(),
        lambda: [torch.randn(5, 1, requires_grad=True) for _ in range(4)],
        (5, 1),
    ),
    "Cross": (lambda: Cross(12, 3), lambda: torch.randn(5, 12, requires_grad=True), (5, 12)),
    "CrossV2-full": (
        lambda: CrossV2(12, 2),
        lambda: torch.randn(5, 12, requires_grad=True),
        (5, 12),
    ),
    "CrossV2-lowrank": (
        lambda: CrossV2(12, 2, low_rank=4),
        lambda: torch.randn(5, 12, requires_grad=True),
        (5, 12),
    ),
    "CrossV2-moe": (
        lambda: CrossV2(12, 2, low_rank=4, num_experts=3, activation="tanh"),
        lambda: torch.randn(5, 12, requires_grad=True),
        (5, 12),
    ),
    "CIN": (lambda: CIN([3] * 4, [6, 4]), _fields, (5, 3 + 4)),
    "CIN-full": (
        lambda: CIN([3] * 4, [5, 4], split_half=False, activation="relu"),
        _fields,
        (5, 9),
    ),
    "MultiHeadSelfAttention": (
        lambda: MultiHeadSelfAttention([3] * 4, head_num=2, head_dim=2, num_layers=2),
        _fields,
        (5, 4 * 2 * 2),
    ),
    "MultiHeadSelfAttention-3d": (
        lambda: MultiHeadSelfAttention([3] * 4, 1, 2, 1, flatten=False),
        _fields,
        (5, 4, 2),
    ),
    "SENet": (lambda: SENet([3] * 4, reduction_ratio=2), _fields, (5, 4, 3)),
    "Bilinear-all": (lambda: Bilinear([3] * 4, "field_all"), _fields, (5, 6 * 3)),
    "Bilinear-each": (lambda: Bilinear([3] * 4, "field_each"), _fields, (5, 6 * 3)),
    "Bilinear-interaction": (lambda: Bilinear([3] * 4, "field_interaction"), _fields, (5, 6 * 3)),
    "MaskBlock": (
        lambda: MaskBlock([12, 6], output_dim=8),
        lambda: [torch.randn(5, 12, requires_grad=True), torch.randn(5, 6, requires_grad=True)],
        (5, 8),
    ),
    "MaskNet-serial": (
        lambda: MaskNet(12, 3, 8, "serial"),
        lambda: torch.randn(5, 12, requires_grad=True),
        (5, 8),
    ),
    "MaskNet-parallel": (
        lambda: MaskNet(12, 3, 8, "parallel"),
        lambda: torch.randn(5, 12, requires_grad=True),
        (5, 24),
    ),
    "DotInteraction": (lambda: DotInteraction([3] * 4), _fields, (5, 3 + 6)),
    "Highway": (lambda: Highway(12, 2), lambda: torch.randn(5, 12, requires_grad=True), (5, 12)),
    "PPNet": (
        lambda: PPNet([12, 6], [8, 4], gate_hidden_dim=5),
        lambda: [torch.randn(5, 12, requires_grad=True), torch.randn(5, 6, requires_grad=True)],
        (5, 4),
    ),
}


def test_registry_lists_every_ctr_component():
    assert set(NEW) <= set(list_components())
    assert (
        component_class("CrossV2") is CrossV2
        and component_class("MultiHeadSelfAttention") is MultiHeadSelfAttention
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_shapes_and_gradients(case):
    torch.manual_seed(0)
    make, inputs, shape = CASES[case]
    module, x = make(), inputs()
    out = module(x)
    assert tuple(out.shape) == shape
    out.square().sum().backward()
    leaves = x if isinstance(x, list) else [x]
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in leaves)
    assert all(p.grad is not None for p in module.parameters()), "a parameter gets no gradient"
    assert getattr(module, "output_dim", shape[-1]) == shape[-1] or len(shape) == 3


def test_first_order_known_answer():
    m = FirstOrder()
    with torch.no_grad():
        m.bias.fill_(0.5)
    out = m([torch.tensor([[1.0], [2.0]]), torch.tensor([[3.0], [-1.0]])])
    assert out.tolist() == [[4.5], [1.5]]


def test_cross_known_answer():
    m = Cross(2, num_layers=1)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[1.0, 2.0]]))
        m.bias.copy_(torch.tensor([[0.5, -0.5]]))
    # x0 = (1, 3): x0 . w = 7 -> x0 * 7 + b + x0 = (7.5, 23.5)
    assert m(torch.tensor([[1.0, 3.0]])).tolist() == [[8.5, 23.5]]


def test_crossv2_full_rank_known_answer_and_low_rank_equivalence():
    x = torch.tensor([[1.0, 2.0]])
    m = CrossV2(2, num_layers=1)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[[1.0, 0.0], [1.0, 1.0]]]))
        m.bias.copy_(torch.tensor([[0.0, 1.0]]))
    # W x = (1, 3); + b = (1, 4); x0 * that + x = (1*1 + 1, 2*4 + 2)
    assert m(x).tolist() == [[2.0, 10.0]]
    # one linear low-rank expert equals the full-rank layer with W = (V C U)^T
    low = CrossV2(4, num_layers=2, low_rank=2)
    full = CrossV2(4, num_layers=2)
    with torch.no_grad():
        for i in range(2):
            full.weight[i] = (low.v[i, 0] @ low.c[i, 0] @ low.u[i, 0]).T
        full.bias.copy_(low.bias)
    z = torch.randn(3, 4)
    assert torch.allclose(low(z), full(z), atol=1e-6)


def test_cin_known_answer_against_loops():
    torch.manual_seed(1)
    m, d = CIN([2] * 3, [2, 3], split_half=True), 2
    xs = [torch.randn(2, d) for _ in range(3)]
    x0 = torch.stack(xs, 1)
    # reference: explicit loops over maps and fields
    xk, pooled = x0, []
    for k, conv in enumerate(m.convs):
        h_prev = xk.shape[1]
        maps = torch.zeros(2, conv.out_features, d)
        for h in range(conv.out_features):
            for i in range(h_prev):
                for j in range(3):
                    maps[:, h] += conv.weight[h, i * 3 + j] * xk[:, i] * x0[:, j]
            maps[:, h] += conv.bias[h]
        if k == 0:
            xk, out = maps[:, :1], maps[:, 1:]
        else:
            out = maps
        pooled.append(out.sum(-1))
    assert torch.allclose(m(xs), torch.cat(pooled, 1), atol=1e-5)


def test_attention_known_answer_single_head():
    m = MultiHeadSelfAttention(
        [2, 2], head_num=1, head_dim=2, num_layers=1, use_residual=False, scale=False
    )
    with torch.no_grad():
        m.qkv[0].weight.copy_(torch.cat([torch.eye(2)] * 3))  # Q = K = V = X
    x = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    a = torch.softmax(torch.tensor([[1.0, 0.0], [0.0, 4.0]]), dim=-1)
    expected = torch.relu(a @ x[0]).flatten()
    assert torch.allclose(m([x[:, 0], x[:, 1]])[0], expected)


def test_senet_and_bilinear_known_answers():
    v = [torch.tensor([[1.0, 3.0]]), torch.tensor([[2.0, 2.0]])]
    se = SENet([2, 2], reduction_ratio=1)
    with torch.no_grad():
        se.excite[0].weight.copy_(torch.eye(2))
        se.excite[2].weight.copy_(torch.eye(2))
    # squeeze = (2, 2) -> excitation (2, 2) -> fields scaled by 2
    assert se(v).tolist() == [[[2.0, 6.0], [4.0, 4.0]]]
    bi = Bilinear([2, 2], "field_all")
    with torch.no_grad():
        bi.weight.copy_(torch.tensor([[[1.0, 1.0], [0.0, 1.0]]]))
    # (v1 W) = (1, 4); * v2 = (2, 8)
    assert bi(v).tolist() == [[2.0, 8.0]]


def test_dot_interaction_known_answer():
    v = [torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 1.0]])]
    assert DotInteraction([2] * 3)(v).tolist() == [[1.0, 2.0, 11.0, 2.0, 4.0]]
    assert DotInteraction([2] * 3, self_interaction=True, concat_first=False)(v).tolist() == [
        [5.0, 11.0, 2.0, 25.0, 4.0, 1.0]
    ]


def test_highway_carries_input_with_a_closed_gate():
    x = torch.randn(4, 6)
    assert torch.allclose(Highway(6, 2, carry_bias=-50.0)(x), x, atol=1e-6)


def test_maskblock_known_answer():
    m = MaskBlock([2], output_dim=2, aggregation_ratio=1.0)
    with torch.no_grad():
        for lin in (m.mask[0], m.mask[2], m.hidden):
            lin.weight.copy_(torch.eye(2))
            if lin.bias is not None:
                lin.bias.zero_()
    x = torch.tensor([[1.0, 3.0]])
    # mask(x) = x, hidden = x * x = (1, 9); layer norm -> (-1, 1); relu -> (0, 1)
    assert torch.allclose(m(x), torch.tensor([[0.0, 1.0]]), atol=1e-3)


def test_ppnet_gates_scale_units_and_detach_the_general_input():
    torch.manual_seed(0)
    m = PPNet([4, 3], [5], gate_hidden_dim=4)
    x, p = torch.randn(6, 4), torch.randn(6, 3, requires_grad=True)
    gate = m.gates[0](torch.cat([x, p], 1))
    assert ((gate > 0) & (gate < 2)).all()
    assert torch.allclose(m([x, p]), torch.relu(m.layers[0](x)) * gate)
    # the gate never sends gradient into the general input
    x1 = torch.randn(6, 4, requires_grad=True)
    with torch.no_grad():
        m.layers[0].weight.zero_()
        m.layers[0].bias.fill_(1.0)  # the layer ignores x: only the gate could reach it
    m([x1, p]).sum().backward()
    assert x1.grad is None or torch.count_nonzero(x1.grad) == 0
    assert p.grad is not None and torch.count_nonzero(p.grad) > 0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="one embedding width"):
        CIN([3, 4], [2])
    with pytest.raises(ValueError, match="low_rank"):
        CrossV2(4, num_experts=2)
    with pytest.raises(ValueError, match="bilinear_type"):
        Bilinear([2, 2], "pairwise")
    with pytest.raises(ValueError, match="built for"):
        SENet([3] * 4)(_fields(n=3))


@pytest.mark.parametrize(
    "name,params,match",
    [
        ("CrossV2", {"num_experts": 2}, "low_rank"),
        ("CIN", {"layer_sizes": [3, 4]}, "even"),
        ("MaskNet", {"mode": "zigzag"}, "mode"),
        ("Bilinear", {"bilinear_type": "x"}, "bilinear_type"),
        ("MultiHeadSelfAttention", {"heads": 2}, "unknown parameter"),
        ("PPNet", {"dropout_ratio": 1.5}, "dropout_ratio"),
        ("Highway", {"num_layers": 0}, "num_layers"),
    ],
)
def test_params_validation(name, params, match):
    with pytest.raises(ConfigError, match=match):
        check_layer_params(name, params)


def _list_model(layer: dict, as_list: bool = True) -> ModelConfig:
    return ModelConfig.from_dict(
        {
            "feature_groups": [{"group_name": "deep", "feature_names": ["u", "i", "tags"]}],
            "backbone": {
                "blocks": [
                    {
                        "name": "fields",
                        "inputs": [{"feature_group_name": "deep"}],
                        "input_layer": {"only_output_feature_list": as_list},
                    },
                    {"name": "out", "inputs": [{"block_name": "fields"}], "layer": layer},
                ],
                "concat_blocks": ["out"],
            },
        }
    )


def test_backbone_fills_in_field_widths():
    net = build_rank_network(
        _list_model({"class_name": "CIN", "params": {"layer_sizes": [4, 2]}}), toy_specs(), seed=0
    )
    cin = net.backbone.layers["out"]
    assert (cin.num_fields, cin.dim) == (3, 4)
    batch = {
        "ids": torch.ones((2, 2), dtype=torch.int64),
        "bag:tags": torch.ones((2, 3), dtype=torch.int64),
    }
    assert net(batch).shape == (2,)


def test_backbone_rejects_fields_of_different_widths():
    specs = toy_specs()
    specs["i"].embedding_dim = 6
    with pytest.raises(ConfigError, match="one embedding width"):
        build_rank_network(_list_model({"class_name": "Bilinear"}), specs, seed=0)


def test_component_init_is_seeded():
    cfg = _list_model({"class_name": "Bilinear"})
    a = build_rank_network(cfg, toy_specs(), seed=3).state_dict()
    b = build_rank_network(cfg, toy_specs(), seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = build_rank_network(cfg, toy_specs(), seed=4).state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)
