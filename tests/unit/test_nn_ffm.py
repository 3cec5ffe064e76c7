"""The field-aware factorization machine component: known answers, field sharing, gradients, shapes."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.nn.backbone import build_rank_network  # noqa: E402
from recutils.nn.components import check_layer_params, component_class  # noqa: E402
from recutils.nn.components.ffm import FFM  # noqa: E402
from recutils.nn.components.fm import FM  # noqa: E402
from recutils.nn.config import ModelConfig  # noqa: E402
from tests.unit._nn_helpers import toy_specs  # noqa: E402


def _loop_reference(v: torch.Tensor, field_ids: list[int]) -> torch.Tensor:
    """sum_{i<j} <v[i, f_j], v[j, f_i]> written as the paper's double loop over pairs."""
    n = v.shape[1]
    out = torch.zeros(v.shape[0], v.shape[-1], dtype=v.dtype)
    for i in range(n):
        for j in range(i + 1, n):
            out = out + v[:, i, field_ids[j]] * v[:, j, field_ids[i]]
    return out


def test_known_answer_by_hand_one_field_per_feature():
    # v[i, f] for 3 features, 3 fields, k = 1; flattened to width 3 per feature
    v = torch.tensor([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
    ffm = FFM([3, 3, 3])
    assert (ffm.num_fields, ffm.k) == (3, 1)
    # (0,1): v_{0,f1} v_{1,f0} = 2*4; (0,2): v_{0,f2} v_{2,f0} = 3*7; (1,2): v_{1,f2} v_{2,f1} = 6*8
    assert ffm(v).tolist() == [[8.0 + 21.0 + 48.0]]
    # the same three features as a list of [B, width] tensors
    assert ffm([v[:, 0], v[:, 1], v[:, 2]]).tolist() == [[77.0]]


def test_known_answer_k2_without_reduce_sum():
    # 2 features, 2 fields, k = 2: feature 0 = [v_{0,f0} | v_{0,f1}] = [1, 2 | 3, 4], feature 1 = [5, 6 | 7, 8]
    x = [torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([[5.0, 6.0, 7.0, 8.0]])]
    ffm = FFM([4, 4], reduce_sum=False)
    # the one pair: v_{0,f1} * v_{1,f0} = [3, 4] * [5, 6]
    assert ffm(x).tolist() == [[15.0, 24.0]]
    assert FFM([4, 4])(x).tolist() == [[39.0]]
    assert ffm.output_dim == 2


def test_shared_fields_known_answer():
    # features 0 and 1 in field 0, feature 2 in field 1; k = 1, width 2: v[i] = [v_{i,f0}, v_{i,f1}]
    v = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    ffm = FFM([2, 2, 2], field_ids=[0, 0, 1])
    # (0,1): v_{0,f0} v_{1,f0} = 1*3; (0,2): v_{0,f1} v_{2,f0} = 2*5; (1,2): v_{1,f1} v_{2,f0} = 4*5
    assert ffm(v).tolist() == [[3.0 + 10.0 + 20.0]]


@pytest.mark.parametrize("field_ids", [None, [0, 1, 0, 2, 1]])
def test_matches_the_loop_over_pairs(field_ids):
    g = torch.Generator().manual_seed(0)
    fields = list(range(5)) if field_ids is None else field_ids
    n_fields, k = max(fields) + 1, 3
    v = torch.randn(7, 5, n_fields, k, generator=g, dtype=torch.float64)
    ffm = FFM([n_fields * k] * 5, field_ids=field_ids, reduce_sum=False)
    got = ffm(v.reshape(7, 5, n_fields * k))
    torch.testing.assert_close(got, _loop_reference(v, fields))


def test_equals_fm_when_every_field_vector_is_the_same():
    g = torch.Generator().manual_seed(1)
    u = torch.randn(6, 4, 3, generator=g, dtype=torch.float64)  # 6 rows, 4 features, k = 3
    v = u.unsqueeze(2).expand(6, 4, 4, 3).reshape(6, 4, 12)  # v_{i,f} = u_i for every field f
    torch.testing.assert_close(FFM([12] * 4)(v), FM()(u))


def test_gradient_reaches_only_the_vectors_of_other_fields():
    """The mask of the pairs: v_{i,f_i} (a feature's vector for its own field) is never used."""
    g = torch.Generator().manual_seed(2)
    x = [torch.randn(5, 3 * 2, generator=g, requires_grad=True) for _ in range(3)]
    FFM([6] * 3)(x).square().sum().backward()
    for i, t in enumerate(x):
        grad = t.grad.reshape(5, 3, 2)
        assert torch.count_nonzero(grad[:, i]) == 0, (
            f"feature {i}'s own-field vector got a gradient"
        )
        others = [f for f in range(3) if f != i]
        assert torch.count_nonzero(grad[:, others]) == 5 * 2 * 2


def test_batch_rows_are_independent():
    g = torch.Generator().manual_seed(3)
    v = torch.randn(8, 4, 8, generator=g)
    ffm = FFM([8] * 4)
    full = ffm(v)
    assert full.shape == (8, 1)
    torch.testing.assert_close(ffm(v[3:4]), full[3:4])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="not a multiple of 3 fields"):
        FFM([4, 4, 4])
    with pytest.raises(ValueError, match="at least two"):
        FFM([4])
    with pytest.raises(ValueError, match="2 field_ids for 3"):
        FFM([4, 4, 4], field_ids=[0, 1])
    with pytest.raises(ValueError, match="one embedding width"):
        FFM([4, 6])
    with pytest.raises(ValueError, match="built for 3 fields"):
        FFM([6] * 3)([torch.ones(2, 6), torch.ones(2, 6)])


@pytest.mark.parametrize(
    "params,match",
    [
        ({"field_ids": [0, -1]}, "field_ids"),
        ({"field_ids": []}, "field_ids"),
        ({"field_ids": "0,1"}, "field_ids"),
        ({"reduce_sum": "yes"}, "reduce_sum"),
        ({"fields": [0, 1]}, "unknown parameter"),
    ],
)
def test_params_validation(params, match):
    with pytest.raises(ConfigError, match=match):
        check_layer_params("FFM", params)


def test_registered_and_params_round_trip():
    assert component_class("FFM") is FFM
    params = check_layer_params("FFM", {"field_ids": [0, 0, 1]})
    assert params.to_dict() == {"field_ids": [0, 0, 1], "reduce_sum": True}


def _ffm_model() -> ModelConfig:
    return ModelConfig.from_dict(
        {
            "feature_groups": [{"group_name": "deep", "feature_names": ["u", "i", "tags"]}],
            "backbone": {
                "blocks": [
                    {
                        "name": "fields",
                        "inputs": [{"feature_group_name": "deep"}],
                        "input_layer": {"only_output_feature_list": True},
                    },
                    {
                        "name": "out",
                        "inputs": [{"block_name": "fields"}],
                        "layer": {"class_name": "FFM"},
                    },
                ],
                "concat_blocks": ["out"],
            },
        }
    )


def test_backbone_builds_ffm_from_the_group_widths():
    specs = toy_specs()
    for name in ("u", "i", "tags"):
        specs[name].embedding_dim = 6  # 3 fields * k = 2
    net = build_rank_network(_ffm_model(), specs, seed=0)
    ffm = net.backbone.layers["out"]
    assert (ffm.num_features, ffm.num_fields, ffm.k) == (3, 3, 2)
    batch = {
        "ids": torch.ones((2, 2), dtype=torch.int64),
        "bag:tags": torch.ones((2, 3), dtype=torch.int64),
    }
    assert net(batch).shape == (2,)


def test_backbone_names_the_width_ffm_needs():
    # toy features are 4 wide: not 3 fields * k
    with pytest.raises(ConfigError, match="embedding_dim to 3 \\* k"):
        build_rank_network(_ffm_model(), toy_specs(), seed=0)
