"""Behaviour-sequence components of click-through models: a user's history and the target in, one vector out.

Every component here reads a ``SEQUENCE`` group's
:class:`~recutils.nn.components.sequence_input.SequenceFeatures` (right-padded history
``seq [B, L, d]``, ``mask [B, L]``, target ``query [B, d_q]``, ``times [B, L]``) and returns
``[B, d_out]``. Padding never changes an output: every component first sets the padded
positions of ``seq`` to zero and gives them zero weight (or no state update), so neither the
values at padded positions nor the number of padded positions matter. A row with an empty
history gives a finite output: its history part is zero (:class:`UserMemory` reads its
initial memory instead; :class:`BSTBlock`'s target half is the target's own output). The
loops over positions (the recurrent ones) are vectorized over the batch.

* :class:`TargetAttention`: DIN's activation unit (Zhou et al., KDD 2018), with :class:`Dice`.
* :class:`InterestEvolution`: DIEN's interest extractor, auxiliary loss and :class:`AUGRU`
  (Zhou et al., AAAI 2019).
* :class:`BSTBlock`: BST's Transformer over the history and the target (Chen et al., 2019).
* :class:`TimeAwareLSTM`: SLi-Rec's time4LSTM, short-term interest (Yu et al., IJCAI 2019).
* :class:`AttentiveAsyncSVD`: A2SVD, SLi-Rec's long-term interest.
* :class:`SLiRec`: both, fused by a gate that reads the target and the last time interval.
* :class:`UserMemory`: SUM's multi-channel user memory (Lian et al., WSDM 2021).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from recutils.nn.components._torch import F, nn, torch
from recutils.nn.components.mlp import make_activation
from recutils.nn.components.sequence import GRUEncoder, TransformerEncoder
from recutils.nn.components.sequence_input import SequenceFeatures

_NEG = -1e9
SCORE_ACTIVATIONS = ("sigmoid", "relu", "dice")
NORMALIZATIONS = ("none", "softmax")


def _check_input(x: object, owner: str) -> None:
    """A TypeError unless ``x`` is a ``SEQUENCE`` group's :class:`SequenceFeatures`."""
    if not isinstance(x, SequenceFeatures):
        raise TypeError(
            f"{owner} reads a SEQUENCE feature group (SequenceFeatures), got {type(x).__name__}"
        )


def _zero_padding(x: SequenceFeatures) -> torch.Tensor:
    """``seq`` with its padded positions set to zero (whatever they held, NaN included)."""
    return x.seq.masked_fill(~x.mask.unsqueeze(-1), 0.0)


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax of ``scores [B, L]`` over the real positions; zero at padding and in empty rows."""
    return torch.softmax(scores.masked_fill(~mask, _NEG), dim=-1) * mask


def _pool(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``sum_t weights[:, t] * values[:, t]``: ``[B, L]`` and ``[B, L, d]`` -> ``[B, d]``."""
    return (weights.unsqueeze(-1) * values).sum(dim=1)


def _query(x: SequenceFeatures, owner: str) -> torch.Tensor:
    if x.query is None:
        raise ValueError(
            f"{owner} needs the target's features (the query) of its SEQUENCE group, got none"
        )
    return x.query


def _times(x: SequenceFeatures, owner: str) -> torch.Tensor:
    """``times`` in ``seq``'s dtype, zero at padded positions; a ValueError when the group has none."""
    if x.times is None:
        raise ValueError(f"{owner} needs the times of its SEQUENCE group, got none")
    return x.times.to(x.seq.dtype).masked_fill(~x.mask, 0.0)


def _query_width(owner: str, input_dim: int, query_dim: int | None, same: bool) -> int:
    """The query width (``None``: ``input_dim``); ``same``: it must equal ``input_dim``."""
    query_dim = int(input_dim if query_dim is None else query_dim)
    if query_dim < 1:
        raise ValueError(
            f"{owner} needs the target's features (a query): give its SEQUENCE group target "
            "features"
        )
    if same and query_dim != input_dim:
        raise ValueError(
            f"{owner} compares the target with every behaviour, so the query width must equal the "
            f"history width {input_dim}, got {query_dim}; pair every history feature with a target "
            "feature (same embedding_name)"
        )
    return query_dim


class Dice(nn.Module):
    """DIN's data-adaptive activation: ``p(s) * s + (1 - p(s)) * alpha * s``.

    ``p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps))`` with the mean and variance of each
    unit over the batch in training (over the real positions only, when a ``mask`` is
    given) and their running averages (``momentum``) in eval mode; ``alpha`` is learned per
    unit, starting at 0 (Zhou et al., KDD 2018, section 4.3).

    Args:
        num_features: Units (the last dimension of the input).
        eps: Added to the variance.
        momentum: Weight of the batch statistics in the running ones.
    """

    def __init__(self, num_features: int, eps: float = 1e-8, momentum: float = 0.1) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.eps = float(eps)
        self.momentum = float(momentum)

    def forward(self, s: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``s [..., num_features]``; ``mask`` (shape ``s.shape[:-1]``) marks the entries the statistics use."""
        if self.training:
            flat = s.reshape(-1, s.shape[-1])
            if mask is None:
                var, mean = torch.var_mean(flat, dim=0, unbiased=False)
            else:
                # weighted sums over the real rows as one [1, N] x [N, F] product each
                weight = mask.reshape(1, -1).to(s.dtype)
                count = weight.sum().clamp(min=1.0)
                mean = (weight @ flat).squeeze(0) / count
                var = (weight @ (flat - mean).square()).squeeze(0) / count
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(var.detach(), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = torch.rsqrt(var + self.eps)
        p = torch.sigmoid(torch.addcmul(-mean * inv_std, s, inv_std))
        # p * s + (1 - p) * alpha * s, with two passes over s instead of five
        return s * torch.addcmul(self.alpha, p, 1.0 - self.alpha)


class _ScoreMLP(nn.Module):
    """``Linear -> activation`` per hidden width, then ``Linear -> 1``: one score per position."""

    def __init__(self, in_features: int, hidden_units: Sequence[int], activation: str) -> None:
        super().__init__()
        widths = [int(in_features), *(int(u) for u in hidden_units)]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.activations = nn.ModuleList(
            Dice(b) if activation == "dice" else make_activation(activation) for b in widths[1:]
        )
        self.out = nn.Linear(widths[-1], 1)

    def forward(
        self, features: torch.Tensor | None, mask: torch.Tensor, first: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``[B, L, in_features]`` -> ``[B, L]``; ``first``: the first layer's output when the
        caller has computed it (``features`` is then not read)."""
        h = features
        for i, (linear, act) in enumerate(zip(self.linears, self.activations)):
            h = first if i == 0 and first is not None else linear(h)
            h = act(h, mask) if isinstance(act, Dice) else act(h)
        return self.out(h).squeeze(-1)


class TargetAttention(nn.Module):
    """DIN's local activation unit: the history pooled with weights that depend on the target.

    For every history position ``k_t`` an MLP (the *activation unit*) reads
    ``[k_t, q, k_t - q, k_t * q]`` and gives a weight ``w_t``; the output is
    ``sum_t w_t k_t`` over the real positions (Zhou et al., "Deep Interest Network for
    Click-Through Rate Prediction", KDD 2018, eq. 3). The paper leaves the weights
    unnormalized (``normalization="none"``) so that the output's norm tells how strongly the
    history relates to the target; ``"softmax"`` normalizes them over the real positions.

    Args:
        input_dim: History width ``d``.
        query_dim: Target width; must equal ``d`` (default ``d``).
        hidden_units: Widths of the activation unit's hidden layers.
        activation: Of those layers: ``dice`` (:class:`Dice`, the paper's), ``sigmoid`` or ``relu``.
        normalization: ``none`` (weighted sum) or ``softmax``.
        concat_query: Output ``[pooled, q]`` (``[B, 2d]``) instead of ``[B, d]``.

    Rows with an empty history give zeros.
    """

    def __init__(
        self,
        input_dim: int,
        query_dim: int | None = None,
        hidden_units: Sequence[int] = (80, 40),
        activation: str = "dice",
        normalization: str = "none",
        concat_query: bool = False,
    ) -> None:
        super().__init__()
        _query_width("TargetAttention", input_dim, query_dim, same=True)
        if activation not in SCORE_ACTIVATIONS:
            raise ValueError(
                f"TargetAttention: activation {activation!r}; allowed: {list(SCORE_ACTIVATIONS)}"
            )
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"TargetAttention: normalization {normalization!r}; allowed: {list(NORMALIZATIONS)}"
            )
        self.unit = _ScoreMLP(4 * input_dim, hidden_units, activation)
        self.softmax = normalization == "softmax"
        self.concat_query = bool(concat_query)
        self.output_dim = input_dim * (2 if concat_query else 1)

    def forward(self, x: SequenceFeatures) -> torch.Tensor:
        _check_input(x, "TargetAttention")
        query = _query(x, "TargetAttention")
        seq = _zero_padding(x)
        scores = self.unit(None, x.mask, first=self._first_layer(seq, query))
        weights = (
            _masked_softmax(scores, x.mask) if self.softmax else scores.masked_fill(~x.mask, 0.0)
        )
        pooled = _pool(weights, seq)
        return torch.cat([pooled, query], dim=-1) if self.concat_query else pooled

    def _first_layer(self, seq: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """The activation unit's first linear layer on ``[k, q, k - q, k * q]`` without
        building that ``[B, L, 4d]`` input: with ``W = [W_k, W_q, W_d, W_p]`` it is
        ``[k, k * q] [W_k + W_d, W_p]^T + (q (W_q - W_d)^T + b)``, the second term once per
        row instead of once per position (the same function and gradients, half the work)."""
        linear = self.unit.linears[0]
        w_k, w_q, w_d, w_p = linear.weight.split(seq.shape[-1], dim=1)
        per_row = F.linear(query, w_q - w_d, linear.bias).unsqueeze(1)
        return per_row + F.linear(
            torch.cat([seq, seq * query.unsqueeze(1)], dim=-1), torch.cat([w_k + w_d, w_p], dim=1)
        )


class AUGRU(nn.Module):
    """A GRU whose update gate is scaled by an attention score (DIEN's AUGRU).

    ``r_t = sigmoid(W_r i_t + U_r h_{t-1} + b_r)``, ``u_t = sigmoid(W_u i_t + U_u h_{t-1} + b_u)``,
    ``h~_t = tanh(W_h i_t + r_t * (U_h h_{t-1}) + b_h)``, ``u'_t = a_t * u_t``,
    ``h_t = (1 - u'_t) * h_{t-1} + u'_t * h~_t`` (Zhou et al., AAAI 2019, eqs. 5-7): a
    position with attention 0 leaves the state as it was.

    Args:
        input_dim: Width of the inputs ``i_t``.
        hidden_dim: Width of the state.
    """

    def __init__(self, input_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.hidden_dim = int(hidden_dim)
        self.input_gates = nn.Linear(input_dim, 3 * hidden_dim)
        self.hidden_gates = nn.Linear(hidden_dim, 3 * hidden_dim, bias=False)

    def forward(
        self,
        inputs: torch.Tensor,
        attention: torch.Tensor,
        mask: torch.Tensor | None = None,
        h0: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``inputs [B, L, input_dim]``, ``attention [B, L]`` -> the final state ``[B, hidden_dim]``.

        Positions where ``mask`` is False leave the state unchanged, so the final state is the
        state at each row's last real position. ``h0`` is the initial state (default zeros).
        """
        b, length, _ = inputs.shape
        h = inputs.new_zeros(b, self.hidden_dim) if h0 is None else h0
        gates = self.input_gates(inputs)
        for t in range(length):
            x_r, x_u, x_h = gates[:, t].chunk(3, dim=-1)
            h_r, h_u, h_h = self.hidden_gates(h).chunk(3, dim=-1)
            reset = torch.sigmoid(x_r + h_r)
            update = torch.sigmoid(x_u + h_u) * attention[:, t, None]
            candidate = torch.tanh(x_h + reset * h_h)
            new = (1.0 - update) * h + update * candidate
            h = new if mask is None else torch.where(mask[:, t, None], new, h)
        return h


class InterestEvolution(nn.Module):
    """DIEN: interest extractor (GRU), auxiliary loss, target attention and AUGRU evolution.

    1. Interest extractor: a GRU over the history gives the interest states ``h_t``.
    2. Auxiliary loss (training mode, stored as ``self.auxiliary_loss``): each ``h_t`` scores
       the real next behaviour ``e_{t+1}`` against a negative, the behaviour at the same
       position in the previous row of the batch (the batch rolled by one row):
       ``L_aux = mean over real pairs of [-log sigmoid(<h_t, e_{t+1}>) - log(1 - sigmoid(<h_t, e^-_{t+1}>))]``
       (eq. 4; ``e`` is mapped to the state width by a linear layer when ``hidden_dim != d``).
       A pair counts when both positions are real in their rows; a negative identical to its
       positive (every negative in a batch of one row) is left out.
    3. Attention of the target ``q`` over the interests: ``a_t = softmax_t(h_t W q)`` over the
       real positions (eq. 5).
    4. :class:`AUGRU` over the interests with ``a_t``; its state at each row's last real
       position is the output ``[B, hidden_dim]`` (``[B, hidden_dim + d_q]`` with
       ``concat_query``).

    (Zhou et al., "Deep Interest Evolution Network for Click-Through Rate Prediction", AAAI 2019.)

    Args:
        input_dim: History width ``d``.
        query_dim: Target width ``d_q`` (default ``d``; any width > 0).
        hidden_dim: Width of the interest states (default ``d``).
        concat_query: Append the target to the output.
        auxiliary_loss_weight: Weight of the auxiliary loss in the training loss (read by the
            network with ``auxiliary_loss``).
    """

    def __init__(
        self,
        input_dim: int,
        query_dim: int | None = None,
        hidden_dim: int | None = None,
        concat_query: bool = False,
        auxiliary_loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.auxiliary_loss_weight = float(auxiliary_loss_weight)
        query_dim = _query_width("InterestEvolution", input_dim, query_dim, same=False)
        hidden = int(hidden_dim or input_dim)
        self.extractor = GRUEncoder(input_dim, hidden_dim=hidden)
        self.behaviour_projection = (
            nn.Linear(input_dim, hidden, bias=False) if hidden != input_dim else None
        )
        self.attention = nn.Linear(query_dim, hidden, bias=False)
        self.evolution = AUGRU(hidden, hidden)
        self.concat_query = bool(concat_query)
        self.output_dim = hidden + (query_dim if concat_query else 0)
        self.auxiliary_loss: torch.Tensor | None = None

    def auxiliary(
        self, interests: torch.Tensor, seq: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """The auxiliary loss (scalar) of interest states ``[B, L, h]`` on the zero-padded history."""
        behaviours = seq if self.behaviour_projection is None else self.behaviour_projection(seq)
        states, positives = interests[:, :-1], behaviours[:, 1:]
        negatives = behaviours.roll(1, dims=0)[:, 1:]
        pos_real = mask[:, :-1] & mask[:, 1:]
        neg_real = (
            pos_real
            & mask.roll(1, dims=0)[:, 1:]
            & (seq.roll(1, dims=0)[:, 1:] != seq[:, 1:]).any(-1)
        )
        pos_loss = F.softplus(-(states * positives).sum(-1))  # -log sigmoid(z)
        neg_loss = F.softplus((states * negatives).sum(-1))  # -log(1 - sigmoid(z))
        total = (pos_loss * pos_real).sum() + (neg_loss * neg_real).sum()
        return total / (pos_real.sum() + neg_real.sum()).clamp(min=1)

    def forward(self, x: SequenceFeatures) -> torch.Tensor:
        _check_input(x, "InterestEvolution")
        query = _query(x, "InterestEvolution")
        seq = _zero_padding(x)
        interests = self.extractor(seq, x.mask)
        self.auxiliary_loss = self.auxiliary(interests, seq, x.mask) if self.training else None
        scores = (interests * self.attention(query).unsqueeze(1)).sum(-1)
        h = self.evolution(interests, _masked_softmax(scores, x.mask), x.mask)
        return torch.cat([h, query], dim=-1) if self.concat_query else h


class BSTBlock(nn.Module):
    """BST: a Transformer over the history with the target appended (Chen et al., "Behavior
    Sequence Transformer for E-commerce Recommendation in Alibaba", DLP-KDD 2019).

    The target ``q`` is appended to the history as position ``L``; every token gets a learned
    position embedding added (``max_len + 1`` of them) indexed by its distance to the target
    in behaviours: the target 0, a row's latest behaviour 1, the one before 2, ... (the
    paper's position is the time to the target; counting behaviours keeps the index of a
    behaviour independent of the padding). ``num_layers`` bidirectional Transformer layers
    (:class:`~recutils.nn.components.sequence.TransformerEncoder`, whose key mask hides the
    padded positions; a padded query attends to itself alone and is ignored) give
    ``o_0 .. o_L``; the output is ``[mean of o_t over the real positions, o_L]`` ``[B, 2d]``
    (the paper flattens all outputs; the mean keeps the width independent of ``L``, and the
    target's own output carries the target-aware summary).

    Args:
        input_dim: History width ``d`` (a multiple of ``num_heads``).
        query_dim: Target width; must equal ``d`` (default ``d``).
        max_len: Longest history (more positions raise a ValueError).
        num_layers, num_heads, ffn_dim, dropout, activation: Of the Transformer layers.

    An empty history gives a zero mean half.
    """

    def __init__(
        self,
        input_dim: int,
        query_dim: int | None = None,
        max_len: int = 50,
        num_layers: int = 1,
        num_heads: int = 1,
        ffn_dim: int | None = None,
        dropout: float = 0.1,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        _query_width("BSTBlock", input_dim, query_dim, same=True)
        self.max_len = int(max_len)
        self.position = nn.Embedding(self.max_len + 1, input_dim)
        nn.init.normal_(self.position.weight, std=input_dim**-0.5)
        self.encoder = TransformerEncoder(
            input_dim,
            num_layers=num_layers,
            num_heads=num_heads,
            ffn_dim=ffn_dim,
            dropout=dropout,
            causal=False,
            activation=activation,
        )
        self.output_dim = 2 * input_dim

    def forward(self, x: SequenceFeatures) -> torch.Tensor:
        _check_input(x, "BSTBlock")
        query = _query(x, "BSTBlock")
        b, length, _ = x.seq.shape
        if length > self.max_len:
            raise ValueError(
                f"BSTBlock: the history has {length} positions, more than max_len {self.max_len}"
            )
        lengths = x.mask.sum(dim=1, keepdim=True)
        distance = (lengths - torch.arange(length, device=x.seq.device)).clamp(min=0)
        history = _zero_padding(x) + self.position(distance)
        target = query + self.position.weight[0]
        tokens = torch.cat([history, target.unsqueeze(1)], dim=1)
        mask = torch.cat([x.mask, x.mask.new_ones(b, 1)], dim=1)
        out = self.encoder(tokens, mask)
        mean = _pool(x.mask.to(out.dtype), out[:, :length]) / lengths.clamp(min=1).to(out.dtype)
        return torch.cat([mean, out[:, length]], dim=-1)


class HistoryGRU(nn.Module):
    """A GRU over the history, read at each row's newest behaviour: GRU4Rec's encoder in the
    click-through setting (the ``GRU`` model of Microsoft Recommenders' sequential family).

    ``h_t = GRU(h_{t-1}, e_t)`` over the zero-padded history; histories are right-padded
    (real positions first), so the state at position ``length - 1`` has read every real
    behaviour and no padding: it is the output ``[B, hidden_dim]`` (``[B, hidden_dim + d_q]``
    with ``concat_query``, the target's features appended for the layers above to compare).
    An empty history gives a zero state. No attention: the history is summarized without
    looking at the target, the baseline SLi-Rec's attentions are measured against.

    Args:
        input_dim: History width ``d``.
        query_dim: Target width ``d_q`` (0: the group has no target features).
        hidden_dim: Width of the state (default ``d``).
        concat_query: Append the target's features (needs a group with a target).
    """

    def __init__(
        self,
        input_dim: int,
        query_dim: int = 0,
        hidden_dim: int | None = None,
        concat_query: bool = False,
    ) -> None:
        super().__init__()
        if concat_query and not query_dim:
            raise ValueError(
                "HistoryGRU: concat_query needs a SEQUENCE group with target (query) features"
            )
        hidden = int(hidden_dim or input_dim)
        self.encoder = GRUEncoder(input_dim, hidden_dim=hidden)
        self.concat_query = bool(concat_query)
        self.output_dim = hidden + (int(query_dim) if concat_query else 0)

    def forward(self, x: SequenceFeatures) -> torch.Tensor:
        _check_input(x, "HistoryGRU")
        states = self.encoder(_zero_padding(x), x.mask)
        last = (x.lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, states.shape[-1])
        h = states.gather(1, last).squeeze(1) * (x.lengths > 0).unsqueeze(-1).to(states.dtype)
        return torch.cat([h, _query(x, "HistoryGRU")], dim=-1) if self.concat_query else h


class TimeAwareLSTM(nn.Module):
    """SLi-Rec's time4LSTM: an LSTM with two time gates, the short-term interest.

    With ``x_t`` the behaviour, ``s_t`` the ``times`` value at position ``t`` and
    ``g_t = s_t - s_{t-1}`` (0 at the first position) its change since the previous
    behaviour (with ``times`` the time to the target, ``g`` is the gap between behaviours):

    ``T1_t = sigmoid(W_1 x_t + sigmoid(s_t w_1) + b_1)``, ``T2_t = sigmoid(W_2 x_t + sigmoid(g_t w_2) + b_2)``,
    ``i, f = sigmoid(W x_t + U h_{t-1} + b)``, ``c^_t = tanh(W_c x_t + U_c h_{t-1} + b_c)``,
    ``c~_t = f * c_{t-1} + i * T1_t * c^_t`` (this step's output cell: short-term),
    ``c_t = f * c_{t-1} + i * T2_t * c^_t`` (the cell carried on),
    ``o_t = sigmoid(W_o x_t + s_t w_o + U_o h_{t-1} + b_o)``, ``h_t = o_t * tanh(c~_t)``
    (Yu et al., "Adaptive User Modeling with Long and Short-Term Preferences for Personalized
    Recommendation", IJCAI 2019, after Zhu et al.'s Time-LSTM, IJCAI 2017).

    Output: ``h`` at each row's last real position ``[B, hidden_dim]`` (zeros for an empty history).

    Args:
        input_dim: History width ``d``.
        time_input: Whether the group gives ``times``; False raises a ValueError.
        hidden_dim: State width (default ``d``).
    """

    def __init__(self, input_dim: int, time_input: bool, hidden_dim: int | None = None) -> None:
        super().__init__()
        if not time_input:
            raise ValueError(
                "TimeAwareLSTM needs the times of its SEQUENCE group: add one numeric sequence "
                "feature (e.g. the time between each behaviour and the target) to the group"
            )
        self.hidden_dim = int(hidden_dim or input_dim)
        h = self.hidden_dim
        self.input_gates = nn.Linear(input_dim, 6 * h)  # i, f, o, c^, T1, T2
        self.hidden_gates = nn.Linear(h, 4 * h, bias=False)
        self.time_gate1 = nn.Linear(1, h, bias=False)
        self.time_gate2 = nn.Linear(1, h, bias=False)
        self.time_output = nn.Linear(1, h, bias=False)
        self.output_dim = h

    def states(self, x: SequenceFeatures) -> tuple[torch.Tensor, torch.Tensor]:
        """The states ``[B, L, hidden_dim]`` (a padded position repeats the last real state) and
        the final state ``[B, hidden_dim]``."""
        _check_input(x, "TimeAwareLSTM")
        s = _times(x, "TimeAwareLSTM").unsqueeze(-1)
        b, length, _ = x.seq.shape
        mask = x.mask
        g = torch.cat([torch.zeros_like(s[:, :1]), s[:, 1:] - s[:, :-1]], dim=1)
        x_i, x_f, x_o, x_c, x_t1, x_t2 = self.input_gates(_zero_padding(x)).chunk(6, dim=-1)
        t1 = torch.sigmoid(x_t1 + torch.sigmoid(self.time_gate1(s)))
        t2 = torch.sigmoid(x_t2 + torch.sigmoid(self.time_gate2(g)))
        x_o = x_o + self.time_output(s)
        h = x.seq.new_zeros(b, self.hidden_dim)
        c = torch.zeros_like(h)
        out = []
        for t in range(length):
            h_i, h_f, h_o, h_c = self.hidden_gates(h).chunk(4, dim=-1)
            i = torch.sigmoid(x_i[:, t] + h_i)
            f = torch.sigmoid(x_f[:, t] + h_f)
            o = torch.sigmoid(x_o[:, t] + h_o)
            candidate = torch.tanh(x_c[:, t] + h_c)
            short = f * c + i * t1[:, t] * candidate
            real = mask[:, t, None]
            c = torch.where(real, f * c + i * t2[:, t] * candidate, c)
            h = torch.where(real, o * torch.tanh(short), h)
            out.append(h)
        states = torch.stack(out, dim=1) if out else x.seq.new_zeros(b, 0, self.hidden_dim)
        return states, h

    def forward(self, x: SequenceFeatures) -> torch.Tensor:
        return self.states(x)[1]


class AttentiveAsyncSVD(nn.Module):
    """A2SVD, SLi-Rec's long-term interest: the history pooled by attention.

    ``a_t = softmax_t(MLP([e_t, q]))`` over the real positions (``MLP(e_t)`` without a query)
    and the output is ``sum_t a_t e_t`` ``[B, d]`` (Yu et al., IJCAI 2019, the attentive
    asynchronous SVD of section 3.1). Empty histories give zeros.

    Args:
        input_dim: History width ``d``.
        query_dim: Target width (0: no target, the scores read the behaviours alone).
        hidden_units: Hidden widths of the score MLP.
        activation: Of its hidden layers.
    """

    def __init__(
        self,
        input_dim: int,
        query_dim: int = 0,
        hidden_units: Sequence[int] = (32,),
        activation: str = "tanh",
    ) -> None:
        super().__init__()
        self.query_dim = int(query_dim)
        self.score = _ScoreMLP(input_dim + self.query_dim, hidden_units, activation)
        self.output_dim = int(input_dim)

    def forward(self, x: SequenceFeatures) -> torch.Tensor:
        _check_input(x, "AttentiveAsyncSVD")
        seq = _zero_padding(x)
        features = seq
        if self.query_dim:
            query = _query(x, "AttentiveAsyncSVD")
            features = torch.cat([seq, query.unsqueeze(1).expand(-1, seq.shape[1], -1)], dim=-1)
        return _pool(_masked_softmax(self.score(features, x.mask), x.mask), seq)


class SLiRec(nn.Module):
    """SLi-Rec: long- and short-term interests fused by a gate (Yu et al., IJCAI 2019).

    One composite component (SLi-Rec's gate reads what both parts see, the target and the
    times, so a config of separate blocks could not express it):

    * long term ``u_l``: :class:`AttentiveAsyncSVD` over the history, ``[B, d]``;
    * short term ``u_s``: :class:`TimeAwareLSTM` (state width ``d``) over the history, its
      states pooled by a second :class:`AttentiveAsyncSVD`, ``[B, d]``;
    * fusion: ``alpha = sigmoid(W_f [q, s_last] + b_f)`` per unit, with ``s_last`` the
      ``times`` value at the row's last real position (0 for an empty history), and the
      output ``alpha * u_l + (1 - alpha) * u_s`` ``[B, d]``.

    Args:
        input_dim: History width ``d``.
        query_dim: Target width (0: no target; the attention and the gate read no query).
        time_input: Whether the group gives ``times``; False raises a ValueError.
        hidden_units, activation: Of both attention score MLPs.
    """

    def __init__(
        self,
        input_dim: int,
        query_dim: int,
        time_input: bool,
        hidden_units: Sequence[int] = (32,),
        activation: str = "tanh",
    ) -> None:
        super().__init__()
        self.short_term = TimeAwareLSTM(input_dim, time_input)
        self.long_term = AttentiveAsyncSVD(input_dim, query_dim, hidden_units, activation)
        self.short_attention = AttentiveAsyncSVD(input_dim, query_dim, hidden_units, activation)
        self.gate = nn.Linear(int(query_dim) + 1, input_dim)
        self.query_dim = int(query_dim)
        self.output_dim = int(input_dim)

    def forward(self, x: SequenceFeatures) -> torch.Tensor:
        _check_input(x, "SLiRec")
        long_term = self.long_term(x)
        states, _ = self.short_term.states(x)
        short_term = self.short_attention(x._replace(seq=states))
        last = (x.lengths - 1).clamp(min=0).unsqueeze(1)
        gate_input = _times(x, "SLiRec").gather(1, last)
        if self.query_dim:
            gate_input = torch.cat([x.query, gate_input], dim=-1)
        alpha = torch.sigmoid(self.gate(gate_input))
        return alpha * long_term + (1.0 - alpha) * short_term


class UserMemory(nn.Module):
    """SUM's multi-channel user memory, written along the history and read by the target.

    ``n_channels`` memory slots ``M [n, d]`` start from a learned memory ``M_0``. Each real
    behaviour ``e_t`` is written with attention over the slots,
    ``w_t = softmax_i(<M_{t-1}[i], W_k e_t> / sqrt(d))``, an erase vector
    ``E_t = sigmoid(W_e e_t + b_e)`` and an add vector ``A_t = tanh(W_a e_t + b_a)``:
    ``M_t[i] = M_{t-1}[i] * (1 - w_t[i] E_t) + w_t[i] A_t``; padded positions write nothing.
    The target reads the final memory: ``r = softmax_i(<M_L[i], W_q q> / sqrt(d))``, output
    ``sum_i r_i M_L[i]`` ``[B, d]`` (Lian et al., "Multi-Interest-Aware User Modeling for
    Large-Scale Sequential Recommendations", WSDM 2021). An empty history reads ``M_0``.

    Args:
        input_dim: History width ``d``.
        query_dim: Target width (default ``d``; any width > 0).
        n_channels: Memory slots (interests).
    """

    def __init__(self, input_dim: int, query_dim: int | None = None, n_channels: int = 4) -> None:
        super().__init__()
        query_dim = _query_width("UserMemory", input_dim, query_dim, same=False)
        self.initial_memory = nn.Parameter(torch.empty(int(n_channels), input_dim))
        nn.init.normal_(self.initial_memory, std=input_dim**-0.5)
        self.key = nn.Linear(input_dim, input_dim, bias=False)
        self.erase = nn.Linear(input_dim, input_dim)
        self.add = nn.Linear(input_dim, input_dim)
        self.read = nn.Linear(query_dim, input_dim, bias=False)
        self.scale = 1.0 / math.sqrt(input_dim)
        self.output_dim = int(input_dim)

    def memory(self, x: SequenceFeatures) -> torch.Tensor:
        """The memory after the history, ``[B, n_channels, d]``."""
        seq = _zero_padding(x)
        keys, erase, add = self.key(seq), torch.sigmoid(self.erase(seq)), torch.tanh(self.add(seq))
        memory = self.initial_memory.unsqueeze(0).expand(seq.shape[0], -1, -1)
        for t in range(seq.shape[1]):
            address = torch.softmax((memory @ keys[:, t, :, None]).squeeze(-1) * self.scale, dim=-1)
            address = (address * x.mask[:, t, None]).unsqueeze(-1)
            memory = memory * (1.0 - address * erase[:, t, None]) + address * add[:, t, None]
        return memory

    def forward(self, x: SequenceFeatures) -> torch.Tensor:
        _check_input(x, "UserMemory")
        query = self.read(_query(x, "UserMemory"))
        memory = self.memory(x)
        weights = torch.softmax((memory @ query.unsqueeze(-1)).squeeze(-1) * self.scale, dim=-1)
        return _pool(weights, memory)


__all__ = [
    "AUGRU",
    "AttentiveAsyncSVD",
    "BSTBlock",
    "Dice",
    "HistoryGRU",
    "InterestEvolution",
    "SLiRec",
    "TargetAttention",
    "TimeAwareLSTM",
    "UserMemory",
]
