"""Behaviour-sequence components (DIN, DIEN, BST, SLi-Rec, SUM): shapes, padding, gradients, known answers,
registry."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch")

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.nn.components.behaviour import (  # noqa: E402
    AUGRU,
    AttentiveAsyncSVD,
    BSTBlock,
    Dice,
    HistoryGRU,
    InterestEvolution,
    SLiRec,
    TargetAttention,
    TimeAwareLSTM,
    UserMemory,
)
from recutils.nn.components.registry import (  # noqa: E402
    check_layer_params,
    component_class,
    get_component_spec,
    list_components,
)
from recutils.nn.components.sequence_input import SequenceFeatures  # noqa: E402
from recutils.nn.eager import shapes_only  # noqa: E402

D = 6
LENGTHS = [3, 5, 0, 1]  # row 2 has an empty history


def _features(lengths=LENGTHS, d=D, d_q=D, length=5, times=True, seed=0) -> SequenceFeatures:
    g = torch.Generator().manual_seed(seed)
    b = len(lengths)
    mask = torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]
    seq = torch.randn(b, length, d, generator=g).masked_fill(~mask[..., None], 0.0)
    query = torch.randn(b, d_q, generator=g) if d_q else None
    t = torch.rand(b, length, generator=g).masked_fill(~mask, 0.0) if times else None
    return SequenceFeatures(seq, mask, query, t)


def _padded_differently(x: SequenceFeatures, extra: int = 3, seed: int = 1) -> SequenceFeatures:
    """``x`` with garbage (NaN too) at its padded positions and ``extra`` more padded positions."""
    g = torch.Generator().manual_seed(seed)
    b, length, d = x.seq.shape
    mask = torch.cat([x.mask, torch.zeros(b, extra, dtype=torch.bool)], dim=1)
    seq = torch.cat([x.seq, torch.zeros(b, extra, d)], dim=1)
    seq = torch.where(mask[..., None], seq, 100 * torch.randn(seq.shape, generator=g))
    seq[~mask, 0] = float("nan")
    times = None
    if x.times is not None:
        times = torch.cat([x.times, torch.zeros(b, extra)], dim=1)
        times = torch.where(mask, times, 50 * torch.randn(times.shape, generator=g))
    return SequenceFeatures(seq, mask, x.query, times)


# name -> (factory, output width, uses the query, uses the times); every one without dropout
CASES = {
    "TargetAttention-dice": (lambda: TargetAttention(D, D, hidden_units=[8, 4]), D, True, False),
    "TargetAttention-softmax-concat": (
        lambda: TargetAttention(D, D, [8], "sigmoid", "softmax", concat_query=True),
        2 * D,
        True,
        False,
    ),
    "TargetAttention-relu": (lambda: TargetAttention(D, D, [8], "relu"), D, True, False),
    "InterestEvolution": (
        lambda: InterestEvolution(D, D, hidden_dim=5, concat_query=True),
        5 + D,
        True,
        False,
    ),
    "InterestEvolution-same-width": (lambda: InterestEvolution(D, D), D, True, False),
    "BSTBlock": (
        lambda: BSTBlock(D, D, max_len=8, num_layers=2, num_heads=2, dropout=0.0),
        2 * D,
        True,
        False,
    ),
    "TimeAwareLSTM": (lambda: TimeAwareLSTM(D, True, hidden_dim=7), 7, False, True),
    "HistoryGRU": (lambda: HistoryGRU(D, D, hidden_dim=5), 5, False, False),
    "HistoryGRU-concat": (lambda: HistoryGRU(D, D, concat_query=True), 2 * D, True, False),
    "AttentiveAsyncSVD": (lambda: AttentiveAsyncSVD(D, D, [8]), D, True, False),
    "AttentiveAsyncSVD-no-query": (lambda: AttentiveAsyncSVD(D, 0, [8]), D, False, False),
    "SLiRec": (lambda: SLiRec(D, D, True, [8]), D, True, True),
    "UserMemory": (lambda: UserMemory(D, D, n_channels=3), D, True, False),
}


def _make(case: str, seed: int = 0):
    torch.manual_seed(seed)
    return CASES[case][0]()


@pytest.mark.parametrize("case", sorted(CASES))
def test_shapes_finite_and_empty_rows(case):
    module = _make(case).eval()
    x = _features()
    out = module(x)
    assert out.shape == (len(LENGTHS), CASES[case][1])
    assert torch.isfinite(out).all()
    assert getattr(module, "output_dim", out.shape[1]) == out.shape[1]


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_padding_never_changes_the_output(case, training):
    module = _make(case).train(training)
    x = _features()
    out = module(x)
    aux = getattr(module, "auxiliary_loss", None)
    out2 = module(_padded_differently(x))
    torch.testing.assert_close(out2, out)
    if training and aux is not None:
        torch.testing.assert_close(module.auxiliary_loss, aux)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_row_is_computed_on_its_own(case):
    module = _make(case).eval()
    x = _features()
    out = module(x)
    for row in range(len(LENGTHS)):
        alone = SequenceFeatures(*(None if t is None else t[row : row + 1] for t in x))
        torch.testing.assert_close(module(alone), out[row : row + 1])


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_reach_seq_query_times_and_every_parameter(case):
    module = _make(case).train()
    x = _features()
    seq = x.seq.clone().requires_grad_(True)
    query = x.query.clone().requires_grad_(True)
    times = x.times.clone().requires_grad_(True)
    out = module(SequenceFeatures(seq, x.mask, query, times))
    loss = out.square().sum()
    if getattr(module, "auxiliary_loss", None) is not None:
        loss = loss + module.auxiliary_loss
    loss.backward()
    _, _, uses_query, uses_times = CASES[case]
    assert seq.grad[x.mask].abs().sum(-1).gt(0).all(), "a real position gets no gradient"
    assert torch.all(seq.grad[~x.mask] == 0)
    if uses_query:
        assert query.grad.abs().sum() > 0
    if uses_times:
        assert times.grad[x.mask].abs().gt(0).any() and torch.all(times.grad[~x.mask] == 0)
    missing = [n for n, p in module.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_builds_and_runs_on_the_meta_device(case):
    """The backbone builds and runs every component on the meta device to count parameters."""
    with shapes_only():
        module = CASES[case][0]()
        x = SequenceFeatures(
            torch.empty(4, 5, D),
            torch.empty(4, 5, dtype=torch.bool),
            torch.empty(4, D),
            torch.empty(4, 5),
        )
        out = module.eval()(x)
    assert out.device.type == "meta" and out.shape == (4, CASES[case][1])


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_plain_tensor_is_refused_with_a_type_error(case):
    with pytest.raises(TypeError, match="SequenceFeatures"):
        _make(case).eval()(torch.randn(4, D))


# --- TargetAttention (DIN) ---------------------------------------------------------------------------------------


def _zero_last_layer(score_mlp, bias: float = 0.0) -> None:
    with torch.no_grad():
        score_mlp.out.weight.zero_()
        score_mlp.out.bias.fill_(bias)


def _real_mean(x: SequenceFeatures) -> torch.Tensor:
    counts = x.mask.sum(1, keepdim=True).clamp(min=1)
    return (x.seq * x.mask[..., None]).sum(1) / counts


def test_target_attention_softmax_with_a_constant_score_is_the_mean_of_the_real_positions():
    module = TargetAttention(D, D, [8, 4], "dice", "softmax").eval()
    _zero_last_layer(module.unit, bias=3.0)
    x = _features()
    torch.testing.assert_close(module(x), _real_mean(x))
    assert torch.all(module(x)[2] == 0)  # empty history: zeros, not NaN


def test_target_attention_without_normalization_weighs_by_the_raw_score():
    module = TargetAttention(D, D, [8], "sigmoid", "none").eval()
    _zero_last_layer(module.unit, bias=2.0)
    x = _features()
    torch.testing.assert_close(module(x), 2.0 * (x.seq * x.mask[..., None]).sum(1))


def test_target_attention_concat_query_appends_the_target():
    module = TargetAttention(D, D, [8], concat_query=True).eval()
    x = _features()
    torch.testing.assert_close(module(x)[:, D:], x.query)


def test_target_attention_needs_a_query_of_the_history_width():
    with pytest.raises(ValueError, match="query width must equal"):
        TargetAttention(D, D + 1)
    with pytest.raises(ValueError, match="needs the target"):
        TargetAttention(D, 0)
    with pytest.raises(ValueError, match="activation"):
        TargetAttention(D, D, activation="tanh")
    with pytest.raises(ValueError, match="normalization"):
        TargetAttention(D, D, normalization="sum")
    with pytest.raises(ValueError, match="needs the target"):
        TargetAttention(D).eval()(_features(d_q=0))


def test_dice_uses_the_statistics_of_the_real_positions_and_keeps_running_ones():
    dice = Dice(2)
    with torch.no_grad():
        dice.alpha.fill_(0.5)
    s = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [1000.0, -1000.0]]])
    mask = torch.tensor([[True, True, False]])
    out = dice(s, mask)
    mean, var = torch.tensor([2.0, 4.0]), torch.tensor([1.0, 4.0])
    p = torch.sigmoid((s - mean) / torch.sqrt(var + 1e-8))
    torch.testing.assert_close(out[0, :2], (p * s + (1 - p) * 0.5 * s)[0, :2])
    torch.testing.assert_close(dice.running_mean, 0.1 * mean)
    torch.testing.assert_close(dice.running_var, 0.9 + 0.1 * var)
    dice.eval()
    p = torch.sigmoid((s - dice.running_mean) / torch.sqrt(dice.running_var + 1e-8))
    torch.testing.assert_close(dice(s), p * s + (1 - p) * 0.5 * s)


def test_dice_without_a_mask_uses_every_row():
    torch.manual_seed(0)
    dice = Dice(3)
    with torch.no_grad():
        dice.alpha.copy_(torch.tensor([0.2, -0.5, 1.5]))
    s = torch.randn(4, 5, 3)
    flat = s.reshape(-1, 3)
    mean, var = flat.mean(0), flat.var(0, unbiased=False)
    p = torch.sigmoid((s - mean) / torch.sqrt(var + 1e-8))
    torch.testing.assert_close(dice(s), p * s + (1 - p) * dice.alpha * s)
    torch.testing.assert_close(dice(s), dice(s, torch.ones(4, 5, dtype=torch.bool)))


@pytest.mark.parametrize("activation", ["dice", "sigmoid"])
def test_target_attention_first_layer_is_the_papers_input_layer(activation):
    """The factorized first layer equals the linear layer on ``[k, q, k - q, k * q]``, in values
    and in the gradients of every parameter and input."""
    torch.manual_seed(0)
    module = TargetAttention(D, D, [8, 4], activation).train()
    x = _features()
    seq = x.seq.clone().requires_grad_(True)
    query = x.query.clone().requires_grad_(True)
    fast = module._first_layer(seq, query)
    q = query.unsqueeze(1).expand_as(seq)
    slow = module.unit.linears[0](torch.cat([seq, q, seq - q, seq * q], dim=-1))
    torch.testing.assert_close(fast, slow)
    weights = torch.randn(slow.shape)
    grads = [
        torch.autograd.grad(
            (out * weights).sum(), [seq, query, *module.unit.linears[0].parameters()]
        )
        for out in (fast, slow)
    ]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


# --- InterestEvolution (DIEN) ------------------------------------------------------------------------------------


def test_augru_with_zero_attention_keeps_the_initial_state():
    torch.manual_seed(0)
    augru = AUGRU(3, 4)
    h0 = torch.randn(2, 4)
    out = augru(torch.randn(2, 5, 3), torch.zeros(2, 5), h0=h0)
    torch.testing.assert_close(out, h0, rtol=0, atol=0)


def test_augru_with_full_attention_is_a_gru():
    torch.manual_seed(0)
    gru = torch.nn.GRU(3, 4, batch_first=True)
    with torch.no_grad():
        gru.bias_hh_l0.zero_()
    augru = AUGRU(3, 4)
    with torch.no_grad():
        # torch's GRU keeps z * h; AUGRU's update gate is u = 1 - z, so its pre-activation is negated
        sign = torch.cat([torch.ones(4), -torch.ones(4), torch.ones(4)])[:, None]
        augru.input_gates.weight.copy_(gru.weight_ih_l0 * sign)
        augru.input_gates.bias.copy_(gru.bias_ih_l0 * sign[:, 0])
        augru.hidden_gates.weight.copy_(gru.weight_hh_l0 * sign)
    x = torch.randn(2, 5, 3)
    _, h = gru(x)
    torch.testing.assert_close(augru(x, torch.ones(2, 5)), h[0])


def test_interest_evolution_empty_history_gives_zeros_and_the_auxiliary_loss_only_in_training():
    module = InterestEvolution(D, D).eval()
    x = _features()
    assert torch.all(module(x)[2] == 0)
    assert module.auxiliary_loss is None
    module.train()
    module(x)
    loss = module.auxiliary_loss
    assert loss.dim() == 0 and torch.isfinite(loss) and loss > 0


def test_interest_evolution_auxiliary_loss_known_answer():
    torch.manual_seed(0)
    module = InterestEvolution(D, D).train()
    # one row: no other row to borrow a negative from, so only the positive pairs count
    x = _features(lengths=[3], length=5)
    module(x)
    h = module.extractor(x.seq, x.mask)
    logits = (h[0, :2] * x.seq[0, 1:3]).sum(-1)
    torch.testing.assert_close(module.auxiliary_loss, -torch.log(torch.sigmoid(logits)).mean())
    # two rows: row 0's negatives come from row 1 (the batch rolled by one), real pairs only
    x = _features(lengths=[3, 2], length=4)
    module(x)
    h = module.extractor(x.seq, x.mask)
    pos = [(h[0, t] * x.seq[0, t + 1]).sum() for t in range(2)] + [(h[1, 0] * x.seq[1, 1]).sum()]
    neg = [(h[0, 0] * x.seq[1, 1]).sum(), (h[1, 0] * x.seq[0, 1]).sum()]
    expected = sum(-torch.log(torch.sigmoid(z)) for z in pos) + sum(
        -torch.log(1 - torch.sigmoid(z)) for z in neg
    )
    torch.testing.assert_close(module.auxiliary_loss, expected / 5)


def test_interest_evolution_needs_a_query():
    with pytest.raises(ValueError, match="needs the target"):
        InterestEvolution(D, 0)


# --- BSTBlock ----------------------------------------------------------------------------------------------------


def test_bst_with_one_real_position_is_the_transformer_over_it_and_the_target():
    torch.manual_seed(0)
    module = BSTBlock(D, D, max_len=6, num_heads=2, dropout=0.0).eval()
    x = _features(lengths=[1, 0], length=4)
    out = module(x)
    pos = module.position.weight
    tokens = torch.stack([x.seq[0, 0] + pos[1], x.query[0] + pos[0]])[None]
    expected = module.encoder(tokens)[0]
    torch.testing.assert_close(out[0], torch.cat([expected[0], expected[1]]))
    # empty history: the target attends to itself alone, the mean half is zero
    alone = module.encoder((x.query[1] + pos[0])[None, None])[0, 0]
    torch.testing.assert_close(out[1], torch.cat([torch.zeros(D), alone]))


def test_bst_refuses_a_history_longer_than_max_len_and_a_query_of_another_width():
    module = BSTBlock(D, D, max_len=4, num_heads=2).eval()
    with pytest.raises(ValueError, match="max_len 4"):
        module(_features(length=5))
    with pytest.raises(ValueError, match="query width"):
        BSTBlock(D, 4)
    with pytest.raises(ValueError, match="multiple of num_heads"):
        BSTBlock(D, D, num_heads=4)


# --- TimeAwareLSTM, AttentiveAsyncSVD, SLiRec ---------------------------------------------------------------------


def test_time_aware_lstm_needs_times():
    with pytest.raises(ValueError, match="needs the times"):
        TimeAwareLSTM(D, False)
    module = TimeAwareLSTM(D, True).eval()
    with pytest.raises(ValueError, match="needs the times"):
        module(_features(times=False))


def test_time_aware_lstm_with_open_time_gates_is_an_lstm():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(D, 4, batch_first=True)
    module = TimeAwareLSTM(D, True, hidden_dim=4).eval()
    w_i, w_f, w_g, w_o = lstm.weight_ih_l0.chunk(4)
    b_i, b_f, b_g, b_o = (lstm.bias_ih_l0 + lstm.bias_hh_l0).chunk(4)
    u_i, u_f, u_g, u_o = lstm.weight_hh_l0.chunk(4)
    with torch.no_grad():
        module.input_gates.weight.copy_(torch.cat([w_i, w_f, w_o, w_g, torch.zeros(8, D)]))
        module.input_gates.bias.copy_(
            torch.cat([b_i, b_f, b_o, b_g, torch.full((8,), 50.0)])
        )  # T1 = T2 = 1
        module.hidden_gates.weight.copy_(torch.cat([u_i, u_f, u_o, u_g]))
        module.time_output.weight.zero_()
    x = _features()
    states, last = module.states(x)
    expected, _ = lstm(x.seq)
    for row, n in enumerate(LENGTHS):
        torch.testing.assert_close(states[row, :n], expected[row, :n])
        torch.testing.assert_close(last[row], expected[row, n - 1] if n else torch.zeros(4))


def test_a2svd_with_a_constant_score_is_the_mean_of_the_real_positions():
    for query_dim in (D, 0):
        module = AttentiveAsyncSVD(D, query_dim).eval()
        _zero_last_layer(module.score)
        x = _features()
        torch.testing.assert_close(module(x), _real_mean(x))


@pytest.mark.parametrize("bias, part", [(60.0, "long"), (-60.0, "short")])
def test_slirec_gate_picks_the_long_or_the_short_term_interest(bias, part):
    torch.manual_seed(0)
    module = SLiRec(D, D, True).eval()
    with torch.no_grad():
        module.gate.weight.zero_()
        module.gate.bias.fill_(bias)
    x = _features()
    if part == "long":
        expected = module.long_term(x)
    else:
        expected = module.short_attention(x._replace(seq=module.short_term.states(x)[0]))
    torch.testing.assert_close(module(x), expected)


def test_slirec_gate_reads_the_last_time_interval():
    torch.manual_seed(0)
    module = SLiRec(D, 0, True).eval()
    x = _features(d_q=0)
    with torch.no_grad():
        module.gate.weight.fill_(1.0)
        module.gate.bias.zero_()
    long_term = module.long_term(x)
    short_term = module.short_attention(x._replace(seq=module.short_term.states(x)[0]))
    last = torch.stack(
        [x.times[r, n - 1] if n else torch.tensor(0.0) for r, n in enumerate(LENGTHS)]
    )
    alpha = torch.sigmoid(last)[:, None]
    torch.testing.assert_close(module(x), alpha * long_term + (1 - alpha) * short_term)
    with pytest.raises(ValueError, match="needs the times"):
        SLiRec(D, D, False)


# --- UserMemory (SUM) --------------------------------------------------------------------------------------------


def test_user_memory_empty_history_reads_the_initial_memory():
    torch.manual_seed(0)
    module = UserMemory(D, 4, n_channels=3).eval()
    x = _features(lengths=[0], d_q=4)
    m0 = module.initial_memory
    r = torch.softmax(m0 @ module.read(x.query[0]) / D**0.5, dim=0)
    torch.testing.assert_close(module(x)[0], r @ m0)


def test_user_memory_erases_the_addressed_channels():
    torch.manual_seed(0)
    module = UserMemory(D, D, n_channels=3).eval()
    with torch.no_grad():
        module.add.weight.zero_()
        module.add.bias.zero_()  # add nothing
        module.erase.weight.zero_()
        module.erase.bias.fill_(60.0)  # erase everything addressed
    x = _features(lengths=[1], length=3)
    m0 = module.initial_memory
    w = torch.softmax(m0 @ module.key(x.seq[0, 0]) / D**0.5, dim=0)
    torch.testing.assert_close(module.memory(x)[0], m0 * (1 - w)[:, None])


def test_user_memory_needs_a_query():
    with pytest.raises(ValueError, match="needs the target"):
        UserMemory(D, 0)


# --- HistoryGRU ----------------------------------------------------------------------------------------------------


def test_history_gru_is_the_gru_state_at_the_newest_behaviour():
    torch.manual_seed(0)
    module = HistoryGRU(D, D, hidden_dim=4, concat_query=True).eval()
    x = _features()
    out = module(x)
    gru = module.encoder.gru
    for row, n in enumerate(LENGTHS):
        h = torch.zeros(1, 4)
        for t in range(n):  # the recurrence by hand, over the real behaviours only
            gates_x = x.seq[row, t] @ gru.weight_ih_l0.T + gru.bias_ih_l0
            gates_h = h[0] @ gru.weight_hh_l0.T + gru.bias_hh_l0
            r = torch.sigmoid(gates_x[:4] + gates_h[:4])
            z = torch.sigmoid(gates_x[4:8] + gates_h[4:8])
            c = torch.tanh(gates_x[8:] + r * gates_h[8:])
            h = ((1 - z) * c + z * h[0])[None]
        torch.testing.assert_close(out[row, :4], h[0])  # an empty history: the zero state
        torch.testing.assert_close(out[row, 4:], x.query[row])


def test_history_gru_reads_order_and_needs_a_query_to_concat():
    torch.manual_seed(0)
    module = HistoryGRU(D).eval()
    x = _features(lengths=[4], length=4)
    flipped = SequenceFeatures(x.seq.flip(1), x.mask, x.query, x.times)
    assert not torch.allclose(module(x), module(flipped))
    with pytest.raises(ValueError, match="concat_query needs"):
        HistoryGRU(D, 0, concat_query=True)


# --- registry ------------------------------------------------------------------------------------------------------

NAMES = [
    "AttentiveAsyncSVD",
    "BSTBlock",
    "HistoryGRU",
    "InterestEvolution",
    "SLiRec",
    "TargetAttention",
    "TimeAwareLSTM",
    "UserMemory",
]


def _build_like_the_backbone(name: str, params: dict):
    spec = get_component_spec(name)
    kwargs = dict(params)
    kwargs[spec.input_dim_arg] = D
    if spec.query_dim_arg:
        kwargs[spec.query_dim_arg] = D
    if spec.time_input_arg:
        kwargs[spec.time_input_arg] = True
    return component_class(name)(**kwargs)


@pytest.mark.parametrize("name", NAMES)
def test_registry_lists_every_behaviour_component_as_a_sequence_component(name):
    assert name in list_components()
    spec = get_component_spec(name)
    assert spec.sequence_input and spec.input_dim_arg == "input_dim" and not spec.list_input
    assert component_class(name).__name__ == name
    params = check_layer_params(name, {})
    assert type(params).from_dict(params.to_dict()) == params
    module = _build_like_the_backbone(
        name, params.to_dict() | ({"num_heads": 2} if name == "BSTBlock" else {})
    )
    assert module.eval()(_features()).shape[0] == len(LENGTHS)


def test_registry_query_and_time_arguments():
    assert get_component_spec("TimeAwareLSTM").time_input_arg == "time_input"
    assert get_component_spec("TimeAwareLSTM").query_dim_arg is None
    assert get_component_spec("SLiRec").time_input_arg == "time_input"
    for name in (
        "TargetAttention",
        "InterestEvolution",
        "BSTBlock",
        "AttentiveAsyncSVD",
        "SLiRec",
        "UserMemory",
        "HistoryGRU",
    ):
        assert get_component_spec(name).query_dim_arg == "query_dim"
    with pytest.raises(ValueError, match="needs the times"):
        component_class("TimeAwareLSTM")(input_dim=D, time_input=False)


@pytest.mark.parametrize("name", NAMES)
def test_params_reject_unknown_keys(name):
    with pytest.raises(ConfigError, match="nope"):
        check_layer_params(name, {"nope": 1})


BAD = [
    ("TargetAttention", {"hidden_units": []}),
    ("TargetAttention", {"hidden_units": [8, 0]}),
    ("TargetAttention", {"activation": "tanh"}),
    ("TargetAttention", {"activation": 3}),
    ("TargetAttention", {"normalization": "sum"}),
    ("TargetAttention", {"concat_query": "yes"}),
    ("InterestEvolution", {"hidden_dim": 0}),
    ("InterestEvolution", {"hidden_dim": 1.5}),
    ("InterestEvolution", {"concat_query": 1}),
    ("BSTBlock", {"max_len": 0}),
    ("BSTBlock", {"max_len": 10**9}),
    ("BSTBlock", {"num_layers": 0}),
    ("BSTBlock", {"num_heads": -1}),
    ("BSTBlock", {"ffn_dim": 0}),
    ("BSTBlock", {"dropout": 1.0}),
    ("BSTBlock", {"activation": "tanh"}),
    ("TimeAwareLSTM", {"hidden_dim": -2}),
    ("HistoryGRU", {"hidden_dim": 0}),
    ("HistoryGRU", {"concat_query": "yes"}),
    ("AttentiveAsyncSVD", {"hidden_units": "8"}),
    ("AttentiveAsyncSVD", {"activation": "wiggle"}),
    ("SLiRec", {"hidden_units": [0]}),
    ("SLiRec", {"activation": "wiggle"}),
    ("UserMemory", {"n_channels": 0}),
    ("UserMemory", {"n_channels": 10**7}),
    ("UserMemory", {"n_channels": None}),
]


@pytest.mark.parametrize(
    "name, params", BAD, ids=[f"{n}-{sorted(p)[0]}-{i}" for i, (n, p) in enumerate(BAD)]
)
def test_params_reject_bad_values(name, params):
    with pytest.raises(ConfigError, match=sorted(params)[0]):
        check_layer_params(name, params)


def test_params_normalize_case_and_keep_their_defaults():
    params = check_layer_params(
        "TargetAttention", {"activation": "Dice", "normalization": "SOFTMAX"}
    )
    assert params.activation == "dice" and params.normalization == "softmax"
    assert check_layer_params("TargetAttention", {}).hidden_units == [80, 40]
    assert (
        copy.deepcopy(check_layer_params("BSTBlock", {"activation": "GELU"})).activation == "gelu"
    )
