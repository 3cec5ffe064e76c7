"""Losses: known answers computed with numpy, the registry, make_loss, config and data errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from _nn_helpers import toy_encoded, toy_model, toy_specs  # noqa: E402

from recutils.exceptions import ConfigError, DataError  # noqa: E402
from recutils.nn import losses as L  # noqa: E402
from tests._docsnippets import run_snippet  # noqa: E402

RNG = np.random.default_rng(7)
Z = np.array([-2.0, -0.5, 0.0, 0.3, 1.5, 4.0])
Y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x), dtype=dtype)


def np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def np_bce(z, y, pos_weight=1.0):
    p = np_sigmoid(z)
    return float(-np.mean(pos_weight * y * np.log(p) + (1 - y) * np.log(1 - p)))


def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


# --- the registry the trainer reads -----------------------------------------------------------


def test_existing_registry_names_keep_their_functions():
    assert L.get_loss("sigmoid_cross_entropy") == (L.sigmoid_cross_entropy, torch.sigmoid)
    assert L.get_loss("CLASSIFICATION")[0] is L.sigmoid_cross_entropy
    for name in ("mse", "L2_LOSS"):
        fn, to_pred = L.get_loss(name)
        assert fn is L.mean_squared_error
        x = torch.randn(3)
        assert torch.equal(to_pred(x), x)


def test_sigmoid_cross_entropy_and_mse_known_answers():
    assert L.sigmoid_cross_entropy(t(Z), t(Y)).item() == pytest.approx(np_bce(Z, Y), rel=1e-12)
    assert L.mean_squared_error(t(Z), t(Y)).item() == pytest.approx(np.mean((Z - Y) ** 2))


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_every_registered_loss_takes_outputs_and_labels(name):
    fn, to_pred = L.get_loss(name)
    if name in ("softmax_cross_entropy",):
        out, labels = torch.randn(5, 3, requires_grad=True), torch.tensor([0.0, 2.0, 1.0, 1.0, 0.0])
    else:
        out, labels = torch.randn(5, requires_grad=True), torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0])
    loss = fn(out, labels)
    loss.backward()
    assert loss.dim() == 0 and torch.isfinite(loss) and torch.isfinite(out.grad).all()
    assert to_pred(out.detach()).shape == out.shape


def test_unknown_loss_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known losses: .*'focal'"):
        L.get_loss("nope")


def test_easyrec_sigmoid_l2_is_the_mse_of_the_probability():
    fn, to_pred = L.get_loss("SIGMOID_L2_LOSS")
    assert fn(t(Z), t(Y)).item() == pytest.approx(np.mean((np_sigmoid(Z) - Y) ** 2), rel=1e-12)
    assert to_pred is torch.sigmoid


def test_trainer_trains_with_a_registered_module_loss():
    from recutils.nn.backbone import build_rank_network
    from recutils.nn.data import TensorData
    from recutils.nn.trainer import Trainer

    net = build_rank_network(toy_model(), toy_specs(), seed=1)
    enc, y = toy_encoded(200)
    data = TensorData.from_encoded(enc, net.backbone.layout, y)
    hist = Trainer(
        net,
        {
            "batch_size": 50,
            "epochs": 2,
            "progress": False,
            "loss": "focal",
            "early_stopping_metric": None,
            "num_threads": 1,
        },
        seed=0,
    ).fit(data)
    assert np.isfinite(hist["train_loss"]).all() and len(hist) == 2


# --- classification ---------------------------------------------------------------------------


def test_sigmoid_cross_entropy_module_defaults_equal_the_function_exactly():
    z, y = torch.randn(50), (torch.rand(50) > 0.5).float()
    assert torch.equal(L.SigmoidCrossEntropy()(z, y), L.sigmoid_cross_entropy(z, y))


def test_sigmoid_cross_entropy_label_smoothing_and_pos_weight():
    got = L.SigmoidCrossEntropy(label_smoothing=0.2, pos_weight=3.0)(t(Z), t(Y)).item()
    y_smooth = Y * 0.8 + 0.1  # y*(1-e) + e/2
    assert got == pytest.approx(np_bce(Z, y_smooth, pos_weight=3.0), rel=1e-12)


def test_softmax_cross_entropy_integer_and_probability_targets():
    z = RNG.normal(size=(4, 3))
    ids = np.array([2, 0, 1, 2])
    want = -np.mean(np_log_softmax(z)[np.arange(4), ids])
    loss = L.SoftmaxCrossEntropy()
    assert loss(t(z), torch.tensor(ids)).item() == pytest.approx(want, rel=1e-12)
    assert loss(t(z), t(ids)).item() == pytest.approx(want, rel=1e-12)  # float class ids
    probs = RNG.dirichlet(np.ones(3), size=4)
    want_p = -np.mean((probs * np_log_softmax(z)).sum(axis=1))
    assert loss(t(z), t(probs)).item() == pytest.approx(want_p, rel=1e-12)


def test_softmax_cross_entropy_label_smoothing():
    z = RNG.normal(size=(3, 4))
    ids = np.array([1, 3, 0])
    target = np.eye(4)[ids] * 0.9 + 0.1 / 4
    want = -np.mean((target * np_log_softmax(z)).sum(axis=1))
    got = L.SoftmaxCrossEntropy(label_smoothing=0.1)(t(z), torch.tensor(ids)).item()
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("labels", [[0, 3], [0.5, 1.0], [-1, 0], [float("nan"), 1.0]])
def test_softmax_cross_entropy_rejects_bad_class_ids(labels):
    with pytest.raises(DataError, match="labels"):
        L.SoftmaxCrossEntropy()(torch.zeros(2, 3), torch.tensor(labels))


def test_focal_loss_known_answer():
    p = np_sigmoid(Z)
    p_t = Y * p + (1 - Y) * (1 - p)
    a_t = Y * 0.25 + (1 - Y) * 0.75
    ce = -(Y * np.log(p) + (1 - Y) * np.log(1 - p))
    want = np.mean(a_t * (1 - p_t) ** 2 * ce)
    assert L.FocalLoss()(t(Z), t(Y)).item() == pytest.approx(want, rel=1e-10)
    assert L.focal_loss(t(Z), t(Y), gamma=0.5, alpha=None).item() == pytest.approx(
        np.mean((1 - p_t) ** 0.5 * ce), rel=1e-10
    )


def test_focal_loss_with_gamma_0_and_no_alpha_is_the_binary_cross_entropy():
    z, y = torch.randn(64, dtype=torch.float64), torch.rand(64, dtype=torch.float64).round()
    got = L.FocalLoss(gamma=0.0, alpha=None)(z, y)
    torch.testing.assert_close(got, L.sigmoid_cross_entropy(z, y), rtol=1e-12, atol=0)


def test_focal_loss_gradient_stays_finite_for_saturated_logits():
    z = torch.tensor([30.0, -30.0, 120.0], requires_grad=True)
    L.FocalLoss(gamma=0.5)(z, torch.tensor([1.0, 0.0, 1.0])).backward()
    assert torch.isfinite(z.grad).all()


# --- pairwise and listwise ---------------------------------------------------------------------


def test_bpr_and_hinge_with_one_negative_per_positive():
    pos, neg = np.array([2.0, 0.0, -1.0]), np.array([1.0, 0.5, -3.0])
    d = pos - neg
    assert L.BPRLoss()(t(pos), t(neg)).item() == pytest.approx(np.mean(np.log1p(np.exp(-d))))
    assert L.bpr_loss(t(pos), t(neg)).item() == pytest.approx(-np.mean(np.log(np_sigmoid(d))))
    assert L.PairwiseHingeLoss()(t(pos), t(neg)).item() == pytest.approx(np.mean([0.0, 1.5, 0.0]))
    assert L.pairwise_hinge_loss(t(pos), t(neg), margin=2.5).item() == pytest.approx(
        np.mean([1.5, 3.0, 0.5])
    )


def test_bpr_and_hinge_with_k_negatives_per_positive():
    pos, neg = RNG.normal(size=4), RNG.normal(size=(4, 3))
    d = pos[:, None] - neg
    assert L.BPRLoss()(t(pos), t(neg)).item() == pytest.approx(-np.mean(np.log(np_sigmoid(d))))
    assert L.PairwiseHingeLoss(margin=0.5)(t(pos), t(neg)).item() == pytest.approx(
        np.mean(np.maximum(0.0, 0.5 - d))
    )


@pytest.mark.parametrize("neg_shape", [(3,), (3, 2), (2, 2, 1)])
def test_pairwise_shape_mismatch_names_both_shapes(neg_shape):
    with pytest.raises(DataError) as err:
        L.BPRLoss()(torch.zeros(2), torch.zeros(neg_shape))
    assert "(2,)" in str(err.value) and str(neg_shape) in str(err.value)


def _pairs_by_loop(scores, labels, groups, kind, margin=1.0):
    terms = []
    for i in range(len(scores)):
        for j in range(len(scores)):
            if groups[i] == groups[j] and labels[i] > labels[j]:
                d = scores[i] - scores[j]
                terms.append(np.log1p(np.exp(-d)) if kind == "bpr" else max(0.0, margin - d))
    return np.mean(terms)


def test_pairwise_from_groups_hand_example():
    scores = np.array([2.0, 1.0, 3.0, 0.5, 0.0, 9.0])
    labels = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    groups = np.array([0, 0, 0, 1, 1, 2])
    # pairs: (0,1) d=1, (0,2) d=-1, (3,4) d=0.5; group 2 has no positive
    got = L.pairwise_from_groups(t(scores), t(labels), torch.tensor(groups), kind="hinge").item()
    assert got == pytest.approx(np.mean([0.0, 2.0, 0.5]))
    got = L.pairwise_from_groups(t(scores), t(labels), torch.tensor(groups), kind="bpr").item()
    assert got == pytest.approx(np.mean(np.log1p(np.exp(-np.array([1.0, -1.0, 0.5])))))


@pytest.mark.parametrize("kind", ["bpr", "hinge"])
def test_pairwise_from_groups_matches_a_loop_over_pairs_with_graded_labels(kind):
    n = 40
    scores, labels = RNG.normal(size=n), RNG.integers(0, 3, n).astype(float)
    groups = RNG.integers(0, 6, n)  # rows of a group are not adjacent
    got = L.make_loss("pairwise_groups", kind=kind, margin=0.7)(
        t(scores), t(labels), torch.tensor(groups)
    ).item()
    assert got == pytest.approx(_pairs_by_loop(scores, labels, groups, kind, 0.7), rel=1e-10)


def test_pairwise_from_groups_without_pairs_is_zero_with_zero_gradient():
    s = torch.randn(3, requires_grad=True)
    loss = L.pairwise_from_groups(s, torch.tensor([1.0, 0.0, 1.0]), torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(s.grad, torch.zeros(3))


def _listwise_by_loop(scores, labels, groups):
    per_group = []
    for g in np.unique(groups):
        s, y = scores[groups == g], labels[groups == g]
        if y.sum() > 0:
            per_group.append(-np.sum(y / y.sum() * np_log_softmax(s)))
    return np.mean(per_group)


def test_listwise_softmax_hand_example():
    scores = np.array([1.0, 0.0, 2.0, 5.0, 1.0])
    labels = np.array([1.0, 0.0, 0.0, 0.0, 0.0])
    groups = np.array([7, 7, 3, 7, 3])  # group 3 has no positive: ignored
    s = np.array([1.0, 0.0, 5.0])
    want = -(1.0 - np.log(np.exp(s).sum()))
    got = L.ListwiseSoftmaxLoss()(t(scores), t(labels), torch.tensor(groups)).item()
    assert got == pytest.approx(want, rel=1e-12)


def test_listwise_softmax_matches_a_loop_over_groups_and_is_stable_for_large_scores():
    n = 50
    scores, labels = RNG.normal(size=n) * 3, RNG.integers(0, 4, n) * (RNG.random(n) < 0.4)
    groups = RNG.integers(0, 8, n)
    want = _listwise_by_loop(scores, labels.astype(float), groups)
    got = L.listwise_softmax_loss(t(scores), t(labels), torch.tensor(groups)).item()
    assert got == pytest.approx(want, rel=1e-10)
    shifted = L.listwise_softmax_loss(t(scores + 1000.0), t(labels), torch.tensor(groups)).item()
    assert shifted == pytest.approx(want, rel=1e-8)


def test_listwise_softmax_gradient_and_empty_cases():
    s = torch.randn(4, requires_grad=True)
    groups = torch.tensor([0, 0, 1, 1])
    L.ListwiseSoftmaxLoss()(s, torch.tensor([1.0, 0.0, 0.0, 0.0]), groups).backward()
    # one group {0, 1}: d/ds = softmax - target; the other group gets no gradient
    p = torch.softmax(s.detach()[:2], 0)
    torch.testing.assert_close(s.grad[:2], p - torch.tensor([1.0, 0.0]))
    assert torch.equal(s.grad[2:], torch.zeros(2))
    assert L.ListwiseSoftmaxLoss()(s, torch.zeros(4), groups).item() == 0.0
    assert L.ListwiseSoftmaxLoss()(torch.zeros(0), torch.zeros(0), torch.zeros(0)).item() == 0.0


def test_listwise_softmax_rejects_negative_relevance():
    with pytest.raises(DataError, match="labels"):
        L.ListwiseSoftmaxLoss()(torch.zeros(2), torch.tensor([1.0, -1.0]), torch.tensor([0, 0]))


# --- regression -------------------------------------------------------------------------------


def test_l2_and_huber_known_answers():
    pred, target = np.array([0.0, 1.0, 3.0, -2.5]), np.array([0.5, 1.0, 0.0, 0.0])
    d = np.abs(pred - target)
    assert L.L2Loss()(t(pred), t(target)).item() == pytest.approx(np.mean(d**2))
    want = np.mean(np.where(d <= 1.0, 0.5 * d**2, 1.0 * (d - 0.5)))  # [0.125, 0, 2.5, 2.0]
    assert want == pytest.approx((0.125 + 2.5 + 2.0) / 4)
    assert L.HuberLoss()(t(pred), t(target)).item() == pytest.approx(want)
    want2 = np.mean(np.where(d <= 2.0, 0.5 * d**2, 2.0 * (d - 1.0)))
    assert L.make_loss("huber", delta=2.0)(t(pred), t(target)).item() == pytest.approx(want2)


# --- distillation -----------------------------------------------------------------------------


def test_distillation_bce_softens_the_teacher_and_scales_by_t_squared():
    zs, pt = np.array([0.5, -1.0, 2.0, 0.0]), np.array([0.9, 0.2, 0.6, 1.0])
    T = 2.0
    with np.errstate(divide="ignore"):
        q = np_sigmoid(np.log(pt / (1 - pt)) / T)
    p = np_sigmoid(zs / T)
    terms = q * np.log(p) + np.where(q < 1, (1 - q) * np.log(1 - p), 0.0)
    want = T**2 * -np.mean(terms)
    got = L.DistillationLoss(temperature=T)(t(zs), t(pt)).item()
    assert got == pytest.approx(want, rel=1e-12)
    # T=1 is the cross-entropy against the teacher's probabilities
    got1 = L.DistillationLoss()(t(zs), t(pt)).item()
    want1 = -np.mean(pt * np.log(np_sigmoid(zs)) + (1 - pt) * np.log(1 - np_sigmoid(zs)))
    assert got1 == pytest.approx(want1, rel=1e-12)
    # teacher logits give the same as the probabilities they stand for
    zt = np.array([0.3, -2.0, 1.0])
    assert L.DistillationLoss(T, teacher_input="logits")(t(zs[:3]), t(zt)).item() == pytest.approx(
        L.DistillationLoss(T)(t(zs[:3]), t(np_sigmoid(zt))).item(), rel=1e-10
    )


def test_distillation_kl_with_teacher_logits_or_probabilities():
    zs, zt = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    T = 3.0
    log_p, log_q = np_log_softmax(zs / T), np_log_softmax(zt / T)
    want = T**2 * np.mean((np.exp(log_q) * (log_q - log_p)).sum(axis=1))
    got = L.DistillationLoss(T, kind="kl")(t(zs), t(zt)).item()
    assert got == pytest.approx(want, rel=1e-10)
    probs = np.exp(np_log_softmax(zt))
    got_p = L.DistillationLoss(T, kind="kl", teacher_input="probs")(t(zs), t(probs)).item()
    assert got_p == pytest.approx(want, rel=1e-10)


def test_distillation_mse_is_the_mse_of_logits_for_any_temperature():
    zs, zt = RNG.normal(size=6), RNG.normal(size=6)
    for T in (1.0, 4.0):
        got = L.make_loss("distillation", kind="mse", temperature=T)(t(zs), t(zt)).item()
        assert got == pytest.approx(np.mean((zs - zt) ** 2), rel=1e-10)


@pytest.mark.parametrize("teacher", [[0.5, 1.2], [-0.1, 0.5], [float("nan"), 0.5]])
def test_distillation_rejects_teacher_probabilities_outside_0_1(teacher):
    with pytest.raises(DataError, match="teacher"):
        L.DistillationLoss()(torch.zeros(2), torch.tensor(teacher))


def test_distillation_kl_needs_two_dimensional_inputs():
    with pytest.raises(DataError, match=r"\[B, C\]"):
        L.DistillationLoss(kind="kl")(torch.zeros(3), torch.zeros(3))


# --- errors and make_loss ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: L.SigmoidCrossEntropy(label_smoothing=1.0), "label_smoothing"),
        (lambda: L.SigmoidCrossEntropy(pos_weight=0.0), "pos_weight"),
        (lambda: L.SoftmaxCrossEntropy(label_smoothing=-0.1), "label_smoothing"),
        (lambda: L.FocalLoss(gamma=-1.0), "gamma"),
        (lambda: L.FocalLoss(alpha=1.5), "alpha"),
        (lambda: L.FocalLoss(gamma=True), "gamma"),
        (lambda: L.PairwiseHingeLoss(margin=float("nan")), "margin"),
        (lambda: L.GroupedPairwiseLoss(kind="softmax"), "kind"),
        (lambda: L.HuberLoss(delta=0.0), "delta"),
        (lambda: L.DistillationLoss(temperature=0.0), "temperature"),
        (lambda: L.DistillationLoss(kind="js"), "kind"),
        (lambda: L.DistillationLoss(kind="mse", teacher_input="probs"), "teacher_input"),
        (
            lambda: L.pairwise_from_groups(
                torch.zeros(1), torch.zeros(1), torch.zeros(1), kind="x"
            ),
            "kind",
        ),
    ],
)
def test_bad_parameters_raise_config_error_naming_the_field(build, field):
    with pytest.raises(ConfigError, match=field):
        build()


@pytest.mark.parametrize(
    "loss", [L.SigmoidCrossEntropy(), L.FocalLoss(), L.L2Loss(), L.HuberLoss(), L.SigmoidL2Loss()]
)
def test_shape_mismatch_and_nan_labels_raise_data_error(loss):
    with pytest.raises(DataError, match=r"\(4,\).*\(4, 1\)"):
        loss(torch.zeros(4), torch.zeros(4, 1))
    with pytest.raises(DataError, match="labels.*NaN"):
        loss(torch.zeros(2), torch.tensor([0.0, float("nan")]))


def test_make_loss_builds_every_name_with_its_parameters():
    for name in L.LOSS_MODULES:
        assert isinstance(L.make_loss(name), torch.nn.Module)
    focal = L.make_loss("focal", gamma=1.0, alpha=0.5)
    assert (focal.gamma, focal.alpha) == (1.0, 0.5)
    assert L.make_loss("BINARY_FOCAL_LOSS").alpha is None  # EasyRec's default
    assert L.make_loss("pairwise_hinge", margin=0.2).margin == 0.2


def test_make_loss_rejects_unknown_names_and_parameters():
    with pytest.raises(ConfigError, match="known losses: .*'bpr'"):
        L.make_loss("ranknet")
    with pytest.raises(ConfigError, match=r"\['beta'\]; allowed: \['gamma', 'alpha'\]"):
        L.make_loss("focal", beta=1.0)
    with pytest.raises(ConfigError, match=r"allowed: \[\]"):
        L.make_loss("bpr", margin=1.0)


def test_docs_example_prints_the_figures_the_page_states(tmp_path):
    out = run_snippet("docs/losses.md", "losses-python", cwd=tmp_path, timeout=120).stdout.split()
    assert out == ["focal", "0.0814", "bpr", "0.125", "listwise", "0.1207", "distill", "2.5777"]
