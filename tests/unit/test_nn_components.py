"""Components: shapes, gradients, a known-answer FM, merge semantics."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from recutils.nn.components import component_class, list_components  # noqa: E402
from recutils.nn.components.fm import FM  # noqa: E402
from recutils.nn.components.merge import Add, Concat, Multiply  # noqa: E402
from recutils.nn.components.mlp import MLP  # noqa: E402


def test_registry_lists_the_issue_components():
    assert {"MLP", "Add", "Concat", "Multiply", "FM"} <= set(list_components())
    assert component_class("MLP") is MLP


@pytest.mark.parametrize("use_bn", [True, False])
def test_mlp_shapes_and_gradients(use_bn):
    torch.manual_seed(0)
    mlp = MLP(
        8,
        [16, 4, 1],
        dropout_ratio=0.1,
        use_bn=use_bn,
        use_final_bn=False,
        final_activation="linear",
    )
    x = torch.randn(5, 8, requires_grad=True)
    y = mlp(x)
    assert y.shape == (5, 1)
    y.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in mlp.parameters())
    with pytest.raises(ValueError, match="expects"):
        mlp(torch.randn(5, 7))


def test_mlp_final_activation_and_bn_layers():
    mlp = MLP(3, [4, 2], final_activation="sigmoid", use_bn=True, use_final_bn=True)
    kinds = [type(m).__name__ for m in mlp.layers]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "Sigmoid"]
    mlp.eval()
    out = mlp(torch.randn(4, 3))
    assert ((out > 0) & (out < 1)).all()


def test_fm_known_answer():
    # fields v1=(1,2), v2=(3,4), v3=(5,6): sum_{i<j} <vi,vj> = 11 + 17 + 39 = 67
    v = [torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 4.0]]), torch.tensor([[5.0, 6.0]])]
    assert FM()(v).item() == pytest.approx(67.0)
    vec = FM(reduce_sum=False)(torch.stack(v, dim=1))
    assert vec.tolist() == [[1 * 3 + 1 * 5 + 3 * 5, 2 * 4 + 2 * 6 + 4 * 6]]


def test_fm_gradient_and_shapes():
    x = torch.randn(6, 4, 3, requires_grad=True)
    out = FM()(x)
    assert out.shape == (6, 1)
    out.sum().backward()
    assert x.grad.shape == x.shape
    with pytest.raises(ValueError):
        FM()([torch.randn(2, 3), torch.randn(2, 4)])


def test_merges():
    a, b = torch.ones(2, 3), torch.full((2, 3), 2.0)
    assert Add()([a, b]).tolist() == [[3.0] * 3] * 2
    assert Multiply()([a, b]).tolist() == [[2.0] * 3] * 2
    assert Concat()([a, b]).shape == (2, 6)
    with pytest.raises(ValueError, match="same shape"):
        Add()([torch.ones(2, 1), torch.ones(2, 3)])  # no silent broadcasting


# ---------------------------------------------------------------- dropout
def test_dropout_keep_rate_scale_and_gradient():
    from recutils.nn.components.dropout import Dropout

    drop = Dropout(0.3)
    assert drop.keep_probability == pytest.approx(0.7, abs=1 / 131072)
    torch.manual_seed(0)
    x = torch.ones(1_000_000, requires_grad=True)
    y = drop(x)
    kept = y != 0
    # the kept share is within 5 binomial standard deviations of the keep probability
    sd = (0.7 * 0.3 / x.numel()) ** 0.5
    assert abs(kept.float().mean().item() - drop.keep_probability) < 5 * sd
    # kept units are scaled by the exact inverse of the keep probability
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / drop.keep_probability))
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())  # d(x * m)/dx = m, and x is all ones
    # masks of different calls differ, and a seed reproduces them
    torch.manual_seed(1)
    a = drop(torch.ones(64, 32))
    b = drop(torch.ones(64, 32))
    torch.manual_seed(1)
    assert not torch.equal(a, b) and torch.equal(a, drop(torch.ones(64, 32)))
    # odd sizes (not a multiple of the four lanes of a random word) keep their shape
    assert drop(torch.ones(3, 5, 7)).shape == (3, 5, 7)


def test_dropout_eval_identity_and_bad_rates():
    from recutils.nn.components.dropout import Dropout

    drop = Dropout(0.5).eval()
    x = torch.randn(8, 4)
    assert drop(x) is x
    assert Dropout(0.0)(x) is x
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="dropout probability"):
            Dropout(bad)
    with pytest.raises(ValueError, match="leaves no unit"):
        Dropout(1 - 1e-7)
    mlp = MLP(4, [8, 1], dropout_ratio=0.2)
    assert any(isinstance(m, Dropout) for m in mlp.layers)


def test_dropout_factory_uses_the_fast_mask_only_where_the_distribution_is_torchs():
    from recutils.nn.components.dropout import Dropout, dropout, keeps_distribution

    assert keeps_distribution(0.5) and keeps_distribution(0.25) and keeps_distribution(0.0)
    assert not keeps_distribution(0.3) and not keeps_distribution(1.0)
    assert isinstance(dropout(0.5), Dropout)
    assert type(dropout(0.3)) is torch.nn.Dropout
    # the fast mask at p=0.5: keep probability exactly 1/2, kept units scaled by exactly 2
    layer = dropout(0.5).train()
    torch.manual_seed(0)
    out = layer(torch.ones(400_000))
    assert set(out.unique().tolist()) == {0.0, 2.0}
    kept = float((out > 0).float().mean())
    assert abs(kept - 0.5) < 4 * (0.25 / 400_000) ** 0.5  # four standard errors


def test_multi_vae_input_dropout_is_the_fast_mask():
    from recutils.models.vae.network import MultiVAENetwork
    from recutils.nn.components.dropout import Dropout

    assert isinstance(MultiVAENetwork(20, [8], 4, dropout=0.5).drop, Dropout)
    assert type(MultiVAENetwork(20, [8], 4, dropout=0.3).drop) is torch.nn.Dropout
