"""Losses, apart from the networks (which return logits).

Two ways to get one:

- :data:`LOSSES` / :func:`get_loss`: ``name -> (loss(outputs, labels), to_prediction(outputs))``,
  the table the :class:`~recutils.nn.trainer.Trainer` reads ``train.loss`` from. Only losses of
  shape ``(outputs, labels)`` are in it (EasyRec's names are accepted too).
- :func:`make_loss`: any loss of this module as a ``torch.nn.Module`` built by name with its
  parameters (pairwise, grouped and distillation losses included, whose ``forward`` takes other
  arguments).

Every loss returns the mean over its terms (a scalar). The modules validate their parameters
when built (:class:`~recutils.exceptions.ConfigError` naming the field) and their inputs when
called (:class:`~recutils.exceptions.DataError` for a shape mismatch, naming both shapes, or NaN
labels). The input check costs one reduction over the labels per call. The plain functions
:func:`sigmoid_cross_entropy` and :func:`mean_squared_error` check nothing (they are the
trainer's defaults and stay as cheap as torch's own).

Formulas use ``p = sigmoid(z)`` for a logit ``z`` and ``mean`` over every term.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from recutils.exceptions import ConfigError, DataError
from recutils.utils.deps import require
from recutils.utils.validation import check_choice, check_number, check_probability

torch = require("torch", "torch")
F = torch.nn.functional
nn = torch.nn

LossFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]

PAIRWISE_KINDS = ("bpr", "hinge")
DISTILLATION_KINDS = ("bce", "kl", "mse")
TEACHER_INPUTS = ("logits", "probs")


# ---------------------------------------------------------------------------------------------
# input checks (DataError): shapes are free, values cost one reduction
# ---------------------------------------------------------------------------------------------


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _check_same_shape(a_name: str, a: torch.Tensor, b_name: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise DataError(
            f"{a_name} shape {_shape(a)} and {b_name} shape {_shape(b)} differ; they must be equal."
        )


def _check_values(
    name: str,
    t: torch.Tensor,
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
) -> None:
    """:class:`DataError` naming ``name`` when ``t`` holds NaN or a value outside ``[low, high]``
    (or, with ``integer``, a non-integer), checked with one reduction."""
    floating = t.is_floating_point()
    if low is None and high is None and not (integer and floating):
        if floating and bool(torch.isnan(t).any()):
            n_nan = int(torch.isnan(t).sum())
            raise DataError(f"{name}: {n_nan} NaN value(s); NaN is not allowed.")
        return
    ok = t == t if floating else torch.ones_like(t, dtype=torch.bool)  # NaN != NaN
    if low is not None:
        ok &= t >= low
    if high is not None:
        ok &= t <= high
    if integer and floating:
        ok &= t == torch.round(t)
    if bool(ok.all()):
        return
    bad = t[~ok]
    want = (
        "values"
        if low is None and high is None
        else (
            f"values in [{'-inf' if low is None else f'{low:g}'}, "
            f"{'inf' if high is None else f'{high:g}'}]"
        )
    )
    if integer:
        want = f"integer {want}"
    n_nan = int(torch.isnan(bad).sum()) if floating else 0
    raise DataError(
        f"{name} must hold {want} and no NaN; {bad.numel()} value(s) do not "
        f"({n_nan} NaN), e.g. {bad.flatten()[0].item():g}."
    )


def _no_pairs(scores: torch.Tensor) -> torch.Tensor:
    """A zero loss that still belongs to the graph of ``scores`` (backward gives zero grads)."""
    return scores.sum() * 0.0


# ---------------------------------------------------------------------------------------------
# plain functions
# ---------------------------------------------------------------------------------------------


def sigmoid_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of logits against 0/1 (or soft) labels.

    ``L = -mean(y*log(p) + (1-y)*log(1-p))``, ``p = sigmoid(z)``, in torch's stable logits form.
    No input checks (see :class:`SigmoidCrossEntropy` for the checked, configurable form).
    """
    return F.binary_cross_entropy_with_logits(logits, labels)


def mean_squared_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``L = mean((pred - target)**2)``; no input checks (see
    :class:`L2Loss`)."""
    return F.mse_loss(pred, target)


def sigmoid_mean_squared_error(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """EasyRec's ``SIGMOID_L2_LOSS``: ``L = mean((sigmoid(z) - y)**2)``, no input checks."""
    return F.mse_loss(torch.sigmoid(logits), labels)


def focal_loss(
    logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0, alpha: float | None = 0.25
) -> torch.Tensor:
    """Binary focal loss on logits (Lin et al., ICCV 2017); see :class:`FocalLoss`."""
    return FocalLoss(gamma=gamma, alpha=alpha)(logits, labels)


def bpr_loss(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """Bayesian personalised ranking loss; see :class:`BPRLoss`."""
    return BPRLoss()(pos_scores, neg_scores)


def pairwise_hinge_loss(
    pos_scores: torch.Tensor, neg_scores: torch.Tensor, margin: float = 1.0
) -> torch.Tensor:
    """Pairwise hinge loss; see :class:`PairwiseHingeLoss`."""
    return PairwiseHingeLoss(margin=margin)(pos_scores, neg_scores)


def circle_loss(
    vectors: torch.Tensor,
    labels: torch.Tensor,
    items: torch.Tensor,
    margin: float = 0.25,
    gamma: float = 64.0,
) -> torch.Tensor:
    """Mean circle loss (Sun et al., CVPR 2020; EasyRec's ``CIRCLE_LOSS``) of every row of
    ``vectors`` (unit vectors ``[N, d]``) as an anchor, per anchor

    .. math::
        \\log\\Big(1 + \\sum_n e^{\\gamma\\, a_n (s_n - m)} \\sum_p e^{-\\gamma\\, a_p (s_p - 1 + m)}\\Big),
        \\quad a_p = [1 + m - s_p]_+,\\; a_n = [s_n + m]_+

    (``s`` cosine similarities, ``a`` held constant for the gradient, ``m = margin``).
    Positives: the other rows with the same ``labels``; negatives: rows with another label
    and another item (``items``: a copy of the anchor's own item is no negative). Rows
    without a positive or a negative add 0.

    Raises:
        DataError: ``labels`` or ``items`` is not one value per row of ``vectors``.
    """
    if vectors.dim() != 2 or labels.shape != (len(vectors),) or items.shape != labels.shape:
        raise DataError(
            f"vectors shape {_shape(vectors)}, labels shape {_shape(labels)} and items shape "
            f"{_shape(items)} do not match; expected [N, d], [N] and [N]."
        )
    sim = vectors @ vectors.T
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=vectors.device)
    positive = same & ~eye
    negative = ~same & (items[:, None] != items[None, :])
    a_p = torch.clamp_min(1.0 + margin - sim.detach(), 0.0)
    a_n = torch.clamp_min(sim.detach() + margin, 0.0)
    logit_p = torch.where(positive, -gamma * a_p * (sim - (1.0 - margin)), -torch.inf)
    logit_n = torch.where(negative, gamma * a_n * (sim - margin), -torch.inf)
    terms = torch.logsumexp(logit_p, dim=1) + torch.logsumexp(logit_n, dim=1)
    return F.softplus(terms).mean()


def _pair_diffs(pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
    """``s_pos - s_neg`` for ``s_pos`` [B] and ``s_neg`` [B] or [B, K] ([B] or [B, K] out)."""
    ok = (
        pos_scores.dim() == 1
        and neg_scores.dim() in (1, 2)
        and (neg_scores.shape[0] == pos_scores.shape[0])
    )
    if not ok:
        raise DataError(
            f"pos_scores shape {_shape(pos_scores)} and neg_scores shape "
            f"{_shape(neg_scores)} do not match; expected [B] and [B] or [B, K]."
        )
    if neg_scores.dim() == 2:
        return pos_scores.unsqueeze(1) - neg_scores
    return pos_scores - neg_scores


def _pair_terms(diff: torch.Tensor, kind: str, margin: float) -> torch.Tensor:
    """Per-pair loss of ``diff = s_pos - s_neg``: BPR's ``-log sigmoid(diff)`` or the hinge."""
    if kind == "bpr":
        return -F.logsigmoid(diff)
    return F.relu(margin - diff)


def pairwise_from_groups(
    scores: torch.Tensor,
    labels: torch.Tensor,
    groups: torch.Tensor,
    kind: str = "bpr",
    margin: float = 1.0,
) -> torch.Tensor:
    """Pairwise loss over click-through rows: the mean over every pair ``(i, j)`` of rows with
    the same group id (a request, a session, a user) and ``labels[i] > labels[j]`` (with 0/1
    labels: every (positive, negative) pair of a group) of the ``kind`` loss of
    ``d = s_i - s_j``: ``"bpr"`` ``-log(sigmoid(d))``, ``"hinge"`` ``max(0, margin - d)``.

    Vectorised over an ``[N, N]`` mask of same-group pairs (memory grows with the square of the
    batch size). A batch without any such pair gives a zero loss (with zero gradients).

    Args:
        scores: Scores (logits) ``[N]``.
        labels: Labels or graded relevance ``[N]``, no NaN.
        groups: Group id of each row ``[N]``.
        kind: ``"bpr"`` or ``"hinge"``.
        margin: The hinge's margin (``>= 0``; unused by ``"bpr"``).
    """
    check_choice("kind", kind, PAIRWISE_KINDS, owner="pairwise_from_groups")
    margin = check_number("margin", margin, owner="pairwise_from_groups")
    if scores.dim() != 1:
        raise DataError(f"scores must be one-dimensional [N], got shape {_shape(scores)}.")
    _check_same_shape("scores", scores, "labels", labels)
    _check_same_shape("scores", scores, "groups", groups)
    _check_values("labels", labels)
    same_group = groups.unsqueeze(1) == groups.unsqueeze(0)
    mask = same_group & (labels.unsqueeze(1) > labels.unsqueeze(0))
    if not bool(mask.any()):
        return _no_pairs(scores)
    diff = scores.unsqueeze(1) - scores.unsqueeze(0)
    return _pair_terms(diff[mask], kind, margin).mean()


def listwise_softmax_loss(
    scores: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor
) -> torch.Tensor:
    """Softmax cross-entropy within each group; see :class:`ListwiseSoftmaxLoss`."""
    return ListwiseSoftmaxLoss()(scores, labels, groups)


# ---------------------------------------------------------------------------------------------
# modules
# ---------------------------------------------------------------------------------------------


class SigmoidCrossEntropy(nn.Module):
    """Binary cross-entropy on logits, with optional label smoothing and positive weight.

    ``L = -mean(w*y'*log(p) + (1-y')*log(1-p))``, ``p = sigmoid(z)``,
    ``y' = y*(1-e) + e/2`` (``e`` = ``label_smoothing``), ``w`` = ``pos_weight`` (1 when None).
    With the defaults it equals :func:`sigmoid_cross_entropy`.

    Args:
        label_smoothing: ``e`` in ``[0, 1)``: labels move towards 1/2 by this share.
        pos_weight: Weight ``> 0`` of the positive term (e.g. negatives / positives), or None.
    """

    def __init__(self, label_smoothing: float = 0.0, pos_weight: float | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        self.label_smoothing = check_probability(
            "label_smoothing", label_smoothing, open_right=True, owner=owner
        )
        self.pos_weight = (
            None
            if pos_weight is None
            else check_number("pos_weight", pos_weight, strict=True, owner=owner)
        )

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The mean loss of ``logits`` against ``labels`` (same shape, values in [0, 1])."""
        _check_same_shape("logits", logits, "labels", labels)
        _check_values("labels", labels)
        labels = labels.to(logits.dtype)
        if self.label_smoothing:
            labels = labels * (1.0 - self.label_smoothing) + self.label_smoothing / 2.0
        pos_weight = None if self.pos_weight is None else logits.new_tensor(self.pos_weight)
        return F.binary_cross_entropy_with_logits(logits, labels, pos_weight=pos_weight)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}, pos_weight={self.pos_weight}"


class SoftmaxCrossEntropy(nn.Module):
    """Multi-class cross-entropy on logits ``[B, C]``.

    ``L = -mean_b(sum_c t[b,c] * log(softmax(z[b])[c]))``, where the target ``t`` is the one-hot
    row of an integer label or a given probability row, smoothed to ``t*(1-e) + e/C``.

    Args:
        label_smoothing: ``e`` in ``[0, 1)``.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = check_probability(
            "label_smoothing", label_smoothing, open_right=True, owner=type(self).__name__
        )

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The mean loss of ``logits`` ``[B, C]`` against class ids ``[B]`` (integers, or floats
        holding integers) or probability targets ``[B, C]``."""
        if logits.dim() != 2 or _shape(labels) not in (_shape(logits), _shape(logits)[:1]):
            raise DataError(
                f"logits shape {_shape(logits)} and labels shape {_shape(labels)} do "
                f"not match; expected logits [B, C] and labels [B] or [B, C]."
            )
        if labels.dim() == 1:
            _check_values("labels", labels, low=0, high=logits.shape[1] - 1, integer=True)
            labels = labels.long()
        else:
            _check_values("labels", labels, low=0.0, high=1.0)
            labels = labels.to(logits.dtype)
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}"


class FocalLoss(nn.Module):
    """Binary focal loss on logits (Lin et al., "Focal Loss for Dense Object Detection", 2017).

    ``L = mean(a_t * (1 - p_t)**gamma * ce)``, ``ce = -(y*log(p) + (1-y)*log(1-p))``,
    ``p_t = y*p + (1-y)*(1-p)``, ``a_t = y*alpha + (1-y)*(1-alpha)`` (1 when ``alpha`` is None).
    ``gamma=0, alpha=None`` is the binary cross-entropy; a larger ``gamma`` down-weights rows
    the model already gets right.

    Args:
        gamma: Focusing exponent ``>= 0``.
        alpha: Weight of the positive class in ``[0, 1]``, or None for no class weighting.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | None = 0.25) -> None:
        super().__init__()
        owner = type(self).__name__
        self.gamma = check_number("gamma", gamma, owner=owner)
        self.alpha = None if alpha is None else check_probability("alpha", alpha, owner=owner)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The mean loss of ``logits`` against ``labels`` (same shape, values in [0, 1])."""
        _check_same_shape("logits", logits, "labels", labels)
        _check_values("labels", labels)
        y = labels.to(logits.dtype)
        ce = F.binary_cross_entropy_with_logits(logits, y, reduction="none")
        # 1 - p_t without the cancellation of 1 - p, kept above 0: the gradient of a fractional
        # power at 0 is infinite, and infinity times sigmoid's zero slope would be NaN.
        one_minus_p_t = y * torch.sigmoid(-logits) + (1.0 - y) * torch.sigmoid(logits)
        weight = one_minus_p_t.clamp_min(torch.finfo(one_minus_p_t.dtype).tiny) ** self.gamma
        if self.alpha is not None:
            weight = weight * (y * self.alpha + (1.0 - y) * (1.0 - self.alpha))
        return (weight * ce).mean()

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}"


class BPRLoss(nn.Module):
    """Bayesian personalised ranking (Rendle et al., 2009) on scores of positives vs negatives.

    ``L = -mean(log(sigmoid(s_pos - s_neg)))`` over every (positive, negative) pair: ``s_neg``
    is ``[B]`` (one negative per positive) or ``[B, K]`` (``K`` negatives per positive).
    """

    def forward(self, pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
        """The mean loss of positive scores ``[B]`` against negative scores ``[B]`` or
        ``[B, K]``."""
        return _pair_terms(_pair_diffs(pos_scores, neg_scores), "bpr", 0.0).mean()


class PairwiseHingeLoss(nn.Module):
    """Pairwise hinge (margin ranking) loss on scores of positives vs negatives.

    ``L = mean(max(0, margin - s_pos + s_neg))`` over every (positive, negative) pair: ``s_neg``
    is ``[B]`` or ``[B, K]``.

    Args:
        margin: How far above a negative a positive must score to cost nothing (``>= 0``).
    """

    def __init__(self, margin: float = 1.0) -> None:
        super().__init__()
        self.margin = check_number("margin", margin, owner=type(self).__name__)

    def forward(self, pos_scores: torch.Tensor, neg_scores: torch.Tensor) -> torch.Tensor:
        """The mean loss of positive scores ``[B]`` against negative scores ``[B]`` or
        ``[B, K]``."""
        return _pair_terms(_pair_diffs(pos_scores, neg_scores), "hinge", self.margin).mean()

    def extra_repr(self) -> str:
        return f"margin={self.margin}"


class GroupedPairwiseLoss(nn.Module):
    """:func:`pairwise_from_groups` as a module: BPR or hinge over the pairs of rows of the same
    group whose labels differ.

    Args:
        kind: ``"bpr"`` or ``"hinge"``.
        margin: The hinge's margin (``>= 0``; unused by ``"bpr"``).
    """

    def __init__(self, kind: str = "bpr", margin: float = 1.0) -> None:
        super().__init__()
        owner = type(self).__name__
        self.kind = check_choice("kind", kind, PAIRWISE_KINDS, owner=owner)
        self.margin = check_number("margin", margin, owner=owner)

    def forward(
        self, scores: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor
    ) -> torch.Tensor:
        """The mean pair loss of ``scores``, ``labels`` and ``groups`` (all ``[N]``)."""
        return pairwise_from_groups(scores, labels, groups, kind=self.kind, margin=self.margin)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, margin={self.margin}"


class ListwiseSoftmaxLoss(nn.Module):
    """Softmax cross-entropy within each group (ListNet's top-one form, Cao et al., 2007).

    For a group ``g`` with scores ``s`` and relevance ``y >= 0``:
    ``L_g = -sum_i (y_i / sum_j y_j) * log(exp(s_i) / sum_j exp(s_j))`` (sums over the rows of
    ``g``); ``L = mean(L_g)`` over the groups with ``sum_j y_j > 0`` (groups without a positive
    are ignored; a batch without any gives a zero loss with zero gradients). Vectorised with
    scatter (segment) operations; the rows of a group need not be adjacent.
    """

    def forward(
        self, scores: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor
    ) -> torch.Tensor:
        """The mean loss over the groups of ``scores``, ``labels`` and ``groups`` (all ``[N]``)."""
        if scores.dim() != 1:
            raise DataError(f"scores must be one-dimensional [N], got shape {_shape(scores)}.")
        _check_same_shape("scores", scores, "labels", labels)
        _check_same_shape("scores", scores, "groups", groups)
        _check_values("labels", labels, low=0.0)
        if scores.numel() == 0:
            return _no_pairs(scores)
        uniq, seg = torch.unique(groups, return_inverse=True)
        n_groups = uniq.numel()
        y = labels.to(scores.dtype)
        zeros = scores.new_zeros(n_groups)
        top = zeros.scatter_reduce(0, seg, scores.detach(), reduce="amax", include_self=False)
        sum_exp = zeros.index_add(0, seg, torch.exp(scores - top[seg]))
        log_softmax = scores - (top + torch.log(sum_exp))[seg]
        y_sum = zeros.index_add(0, seg, y)
        has_pos = y_sum > 0
        target = y / torch.where(has_pos, y_sum, torch.ones_like(y_sum))[seg]
        per_group = zeros.index_add(0, seg, -target * log_softmax)
        if not bool(has_pos.any()):
            return _no_pairs(scores)
        return per_group[has_pos].mean()


class L2Loss(nn.Module):
    """Mean squared error ``L = mean((pred - target)**2)`` (EasyRec's ``L2_LOSS``)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The mean squared error of ``pred`` against ``target`` (same shape)."""
        _check_same_shape("predictions", pred, "labels", target)
        _check_values("labels", target)
        return mean_squared_error(pred, target.to(pred.dtype))


class SigmoidL2Loss(nn.Module):
    """EasyRec's ``SIGMOID_L2_LOSS``: ``L = mean((sigmoid(z) - y)**2)`` on logits ``z``."""

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The mean squared error of ``sigmoid(logits)`` against ``labels`` (same shape)."""
        _check_same_shape("logits", logits, "labels", labels)
        _check_values("labels", labels)
        return sigmoid_mean_squared_error(logits, labels.to(logits.dtype))


class HuberLoss(nn.Module):
    """Huber loss: squared for small errors, linear for large ones (robust regression).

    With ``d = pred - target``: ``L = mean(0.5*d**2 if |d| <= delta else
    delta*(|d| - 0.5*delta))``.

    Args:
        delta: Where the loss turns from quadratic to linear (``> 0``).
    """

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__()
        self.delta = check_number("delta", delta, strict=True, owner=type(self).__name__)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The mean Huber loss of ``pred`` against ``target`` (same shape)."""
        _check_same_shape("predictions", pred, "labels", target)
        _check_values("labels", target)
        return F.huber_loss(pred, target.to(pred.dtype), delta=self.delta)

    def extra_repr(self) -> str:
        return f"delta={self.delta}"


class DistillationLoss(nn.Module):
    """Knowledge distillation: a student's logits against a teacher's outputs (Hinton et al.,
    "Distilling the Knowledge in a Neural Network", 2015), softened by a temperature ``T`` and
    multiplied by ``T**2`` so that gradients keep their scale as ``T`` changes.

    - ``"bce"`` (binary, e.g. a click-through rate): teacher probabilities ``p_t`` in [0, 1]
      softened as ``q = sigmoid(logit(p_t)/T)`` (``q = sigmoid(z_t/T)`` for teacher logits);
      ``L = T**2 * -mean(q*log(p) + (1-q)*log(1-p))``, ``p = sigmoid(z_s/T)``.
    - ``"kl"`` (``[B, C]`` classes): ``q = softmax(z_t/T)`` (``softmax(log(p_t)/T)`` for teacher
      probabilities), ``p = softmax(z_s/T)``; ``L = T**2 * mean_b(sum_c q*(log(q) - log(p)))``.
    - ``"mse"`` (logits only): ``L = T**2 * mean((z_s/T - z_t/T)**2)``, which is
      ``mean((z_s - z_t)**2)`` for every ``T``.

    Args:
        temperature: ``T > 0``.
        kind: ``"bce"``, ``"kl"`` or ``"mse"``.
        teacher_input: What the teacher tensor holds, ``"probs"`` or ``"logits"``; None takes
            the kind's usual one (``"probs"`` for ``"bce"``, ``"logits"`` otherwise). ``"mse"``
            takes logits only.
    """

    def __init__(
        self, temperature: float = 1.0, kind: str = "bce", teacher_input: str | None = None
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.temperature = check_number("temperature", temperature, strict=True, owner=owner)
        self.kind = check_choice("kind", kind, DISTILLATION_KINDS, owner=owner)
        if teacher_input is None:
            teacher_input = "probs" if kind == "bce" else "logits"
        self.teacher_input = check_choice(
            "teacher_input", teacher_input, TEACHER_INPUTS, owner=owner
        )
        if kind == "mse" and teacher_input != "logits":
            raise ConfigError(
                f"{owner}: teacher_input must be 'logits' for kind='mse', got {teacher_input!r}."
            )

    def forward(self, student_logits: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """The distillation loss of ``student_logits`` against ``teacher`` (same shape; ``[B, C]``
        for ``"kl"``)."""
        _check_same_shape("student_logits", student_logits, "teacher", teacher)
        if self.kind == "kl" and student_logits.dim() != 2:
            raise DataError(
                f"kind='kl' needs student_logits and teacher of shape [B, C], got "
                f"{_shape(student_logits)}."
            )
        probs = self.teacher_input == "probs"
        _check_values("teacher", teacher, low=0.0 if probs else None, high=1.0 if probs else None)
        t = self.temperature
        teacher = teacher.to(student_logits.dtype)
        if self.kind == "bce":
            if probs:
                soft = teacher if t == 1.0 else torch.sigmoid(torch.logit(teacher) / t)
            else:
                soft = torch.sigmoid(teacher / t)
            loss = F.binary_cross_entropy_with_logits(student_logits / t, soft)
        elif self.kind == "kl":
            if probs:
                soft = teacher if t == 1.0 else torch.softmax(torch.log(teacher) / t, dim=1)
            else:
                soft = torch.softmax(teacher / t, dim=1)
            loss = F.kl_div(F.log_softmax(student_logits / t, dim=1), soft, reduction="batchmean")
        else:
            loss = F.mse_loss(student_logits / t, teacher / t)
        return loss * (t * t)

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, kind={self.kind!r}, "
            f"teacher_input={self.teacher_input!r}"
        )


# ---------------------------------------------------------------------------------------------
# registries
# ---------------------------------------------------------------------------------------------


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=-1)


#: name -> (loss, output transform to a prediction); EasyRec's names are accepted.
LOSSES: dict[str, tuple[LossFn, Callable[[torch.Tensor], torch.Tensor]]] = {
    "sigmoid_cross_entropy": (sigmoid_cross_entropy, torch.sigmoid),
    "CLASSIFICATION": (sigmoid_cross_entropy, torch.sigmoid),
    "mse": (mean_squared_error, lambda x: x),
    "L2_LOSS": (mean_squared_error, lambda x: x),
    # EasyRec's log loss of sigmoid(logits), here in the stable logits form.
    "CROSS_ENTROPY_LOSS": (sigmoid_cross_entropy, torch.sigmoid),
    "SIGMOID_L2_LOSS": (sigmoid_mean_squared_error, torch.sigmoid),
    "softmax_cross_entropy": (SoftmaxCrossEntropy(), _softmax),
    "focal": (FocalLoss(), torch.sigmoid),
    # EasyRec's defaults: gamma 2, no class weighting.
    "BINARY_FOCAL_LOSS": (FocalLoss(alpha=None), torch.sigmoid),
    "l2": (L2Loss(), _identity),
    "huber": (HuberLoss(), _identity),
}

#: name -> (module class, defaults that differ from the class's) for :func:`make_loss`.
LOSS_MODULES: dict[str, tuple[type[nn.Module], dict[str, Any]]] = {
    "sigmoid_cross_entropy": (SigmoidCrossEntropy, {}),
    "CLASSIFICATION": (SigmoidCrossEntropy, {}),
    "CROSS_ENTROPY_LOSS": (SigmoidCrossEntropy, {}),
    "softmax_cross_entropy": (SoftmaxCrossEntropy, {}),
    "focal": (FocalLoss, {}),
    "BINARY_FOCAL_LOSS": (FocalLoss, {"alpha": None}),
    "bpr": (BPRLoss, {}),
    "pairwise_hinge": (PairwiseHingeLoss, {}),
    "pairwise_groups": (GroupedPairwiseLoss, {}),
    "listwise_softmax": (ListwiseSoftmaxLoss, {}),
    "mse": (L2Loss, {}),
    "l2": (L2Loss, {}),
    "L2_LOSS": (L2Loss, {}),
    "SIGMOID_L2_LOSS": (SigmoidL2Loss, {}),
    "huber": (HuberLoss, {}),
    "distillation": (DistillationLoss, {}),
}


def get_loss(name: str) -> tuple[LossFn, Callable[[torch.Tensor], torch.Tensor]]:
    """``(loss(outputs, labels), to_prediction(outputs))`` for a loss name of :data:`LOSSES`."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; known losses: {sorted(LOSSES)}.")
    return LOSSES[name]


def make_loss(name: str, **params: Any) -> nn.Module:
    """Build the loss ``name`` of :data:`LOSS_MODULES` as a module with ``params``.

    Args:
        name: A loss name (``"focal"``, ``"bpr"``, ``"distillation"``, EasyRec's
            ``"BINARY_FOCAL_LOSS"`` ...).
        **params: Its constructor arguments (``gamma=1.0``, ``margin=0.5`` ...).

    Raises:
        ConfigError: For an unknown name (listing the known ones), an unknown parameter
            (listing the allowed ones) or a bad value (naming the field).
    """
    if name not in LOSS_MODULES:
        raise ConfigError(f"unknown loss {name!r}; known losses: {sorted(LOSS_MODULES)}.")
    cls, defaults = LOSS_MODULES[name]
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    allowed = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.kind in named and p.name != "self"
    ]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ConfigError(f"loss {name!r} has no parameter(s) {unknown}; allowed: {allowed}.")
    return cls(**{**defaults, **params})


__all__ = [
    "BPRLoss",
    "DistillationLoss",
    "FocalLoss",
    "GroupedPairwiseLoss",
    "HuberLoss",
    "L2Loss",
    "LOSSES",
    "LOSS_MODULES",
    "ListwiseSoftmaxLoss",
    "PairwiseHingeLoss",
    "SigmoidCrossEntropy",
    "SigmoidL2Loss",
    "SoftmaxCrossEntropy",
    "bpr_loss",
    "circle_loss",
    "focal_loss",
    "get_loss",
    "listwise_softmax_loss",
    "make_loss",
    "mean_squared_error",
    "pairwise_from_groups",
    "pairwise_hinge_loss",
    "sigmoid_cross_entropy",
    "sigmoid_mean_squared_error",
]
