"""Eager shortcuts: the same numbers as torch, and torch's compiler stack left unloaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from recutils.nn import eager  # noqa: E402
from recutils.nn.eager import (  # noqa: E402
    BudgetExceeded,
    allocation_budget,
    optimizer_class,
    shapes_only,
)

OPTIMIZERS = [
    (torch.optim.Adam, {"lr": 0.01, "fused": True}),
    (torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.1}),
    (torch.optim.AdamW, {"lr": 0.01}),
    (torch.optim.Adagrad, {"lr": 0.1, "foreach": False}),
    (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (torch.optim.RMSprop, {"lr": 0.01}),
]


def _train(cls, kwargs, steps: int = 5):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    opt = cls(model.parameters(), **kwargs)
    x, y = torch.randn(32, 6), torch.randn(32, 1)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    return [p.detach().clone() for p in model.parameters()], opt.state_dict()


@pytest.mark.parametrize("dynamo", [False, True], ids=["plain", "through-torch"])
@pytest.mark.parametrize("cls,kwargs", OPTIMIZERS, ids=lambda v: getattr(v, "__name__", ""))
def test_optimizer_class_trains_bit_for_bit_like_torch(cls, kwargs, dynamo, monkeypatch):
    monkeypatch.setattr(eager, "dynamo_loaded", lambda: dynamo)
    ours_params, ours_state = _train(optimizer_class(cls), kwargs)
    ref_params, ref_state = _train(cls, kwargs)
    for a, b in zip(ours_params, ref_params):
        assert torch.equal(a, b)
    assert ours_state["param_groups"] == ref_state["param_groups"]
    assert isinstance(optimizer_class(cls)([torch.nn.Parameter(torch.ones(1))], **kwargs), cls)
    assert optimizer_class(cls) is optimizer_class(cls)


def test_optimizer_state_round_trips_between_the_classes():
    params, _ = _train(torch.optim.Adam, {"lr": 0.01})
    p = [torch.nn.Parameter(t) for t in params]
    ours = optimizer_class(torch.optim.Adam)(p, lr=0.01)
    for t in p:
        t.grad = torch.ones_like(t)
    ours.step()
    theirs = torch.optim.Adam(p, lr=0.01)
    theirs.load_state_dict(ours.state_dict())
    assert theirs.state_dict()["state"][0]["step"] == ours.state_dict()["state"][0]["step"]


def test_shapes_only_counts_parameters_without_values_or_random_draws():
    state = torch.random.get_rng_state()
    with shapes_only():
        net = torch.nn.Sequential(
            torch.nn.Embedding(10**9, 64), torch.nn.Linear(64, 8), torch.nn.LayerNorm(8)
        )
    assert all(p.is_meta for p in net.parameters())
    assert sum(p.numel() for p in net.parameters()) == 64 * 10**9 + 64 * 8 + 8 + 16
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_default_device().type == "cpu"


def test_allocation_budget_refuses_the_tensor_that_would_pass_it():
    with allocation_budget(1000) as budget:
        torch.nn.Linear(10, 10)  # 110 elements
        assert budget.total == 110
        with pytest.raises(BudgetExceeded) as info:
            torch.empty(10**12)  # a terabyte: refused before it exists
        assert info.value.total == 110 + 10**12
        torch.zeros(5, 5)
    assert budget.total == 135
    torch.empty(2000)  # outside the block: no budget


def test_a_fresh_process_fits_a_deep_model_without_loading_the_compiler():
    """Loading torch._dynamo costs one to several seconds; eager training never needs it."""
    script = textwrap.dedent(
        """
        import sys
        from recutils.models import get_model_class
        from recutils.testing.contract import toy_interactions
        for name in ("deepfm", "ncf", "multi_vae", "lightgcn"):
            cls = get_model_class(name)
            model = cls(**cls.contract_case().params).fit(toy_interactions())
            model.recommend_k_items(toy_interactions().head(20), top_k=3)
        print("dynamo loaded:", "torch._dynamo" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "dynamo loaded: False" in out.stdout, out.stdout


def test_the_shortcut_survives_torchs_profiler_hook_and_subclasses():
    """torch wraps a class's ``step`` in a profiler hook once an instance exists; a plain
    instance made first (or a user's subclass) must not cost the shortcut."""

    class MyAdam(torch.optim.Adam):
        pass

    p = [torch.nn.Parameter(torch.ones(3))]
    MyAdam(p, lr=0.1)  # torch hooks MyAdam.step
    sub = optimizer_class(MyAdam)
    assert "step" in sub.__dict__ and "zero_grad" in sub.__dict__
    ours_params, _ = _train(sub, {"lr": 0.01})
    ref_params, _ = _train(torch.optim.Adam, {"lr": 0.01})
    for a, b in zip(ours_params, ref_params):
        assert torch.equal(a, b)
