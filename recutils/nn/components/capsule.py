"""Multi-interest extraction with capsules and dynamic routing (MIND's B2I routing).

:class:`MultiInterestCapsule` reads a ``SEQUENCE`` group (a user's behaviours position by
position, :class:`~recutils.nn.components.sequence_input.SequenceFeatures`) and gives
``num_interests`` interest vectors per user, ``[B, K, d_out]`` (Li et al. 2019, "Multi-Interest
Network with Dynamic Routing for Recommendation at Tmall", section 4.2):

1. each behaviour embedding ``e_i`` is mapped by one shared bilinear matrix ``S``:
   ``e'_i = S e_i``;
2. routing logits ``b_ij`` start from a fixed draw of a normal distribution (a buffer,
   seeded by ``seed``: not trained, saved with the weights) and, for ``routing_iters``
   rounds, ``w_ij = softmax_j(b_ij)`` (over the user's interests), ``z_j = sum_i w_ij e'_i``
   (over the real behaviours only: padded positions never count), ``u_j = squash(z_j)`` and
   ``b_ij += <u_j, e'_i>``;
3. with ``adaptive``, a user with ``n`` behaviours has ``K_u = max(1, min(K, floor(log2 n)))``
   interests (the paper's dynamic interest number); the others are inactive: no behaviour
   is routed to them (see :func:`interest_mask`);
4. each interest, concatenated with the group's single-id features (the user's profile:
   the group's ``query``, when it has one), goes through one shared MLP (``hidden_units``;
   none: the capsules as they are).

A user with no behaviour gets one interest whose capsule is zeros (the MLP still sees the
profile). The output of an inactive interest is computed like an active one; what reads the
interests masks them with :func:`interest_mask` of the history's lengths.
"""

from __future__ import annotations

import math

import numpy as np

from recutils.nn.components._torch import nn, torch
from recutils.nn.components.mlp import MLP
from recutils.nn.components.sequence_input import SequenceFeatures

_EPS = 1e-9


def interest_counts(lengths: torch.Tensor, num_interests: int, adaptive: bool) -> torch.Tensor:
    """``[B]`` int64: the active interests of users with ``lengths`` behaviours.

    ``max(1, min(K, floor(log2(n))))`` with ``adaptive`` (``n = 0`` or ``1`` gives 1), else ``K``.
    """
    if not adaptive:
        return torch.full_like(lengths, num_interests)
    n = lengths.to(torch.float64).clamp(min=1.0)
    return torch.floor(torch.log2(n)).to(torch.int64).clamp(min=1, max=num_interests)


def interest_mask(lengths: torch.Tensor, num_interests: int, adaptive: bool) -> torch.Tensor:
    """``[B, K]`` bool: ``True`` for the active interests (the first :func:`interest_counts`)."""
    counts = interest_counts(lengths, num_interests, adaptive)
    return torch.arange(num_interests, device=lengths.device).unsqueeze(0) < counts.unsqueeze(1)


def squash(z: torch.Tensor) -> torch.Tensor:
    """The capsule non-linearity ``|z|^2 / (1 + |z|^2) * z / |z|`` over the last axis (0 stays 0)."""
    sq = (z * z).sum(dim=-1, keepdim=True)
    return z * (sq / (1.0 + sq) / torch.sqrt(sq + _EPS))


class MultiInterestCapsule(nn.Module):
    """Behaviour-to-interest dynamic routing plus a per-interest MLP; see the module docstring.

    Args:
        input_dim: Width of a history position (the group's sequence embeddings).
        query_dim: Width of the group's single-id features (the profile), 0 without.
        num_interests: ``K``, the most interests per user (at least 1).
        interest_dim: Width of the capsules (None: ``input_dim``).
        routing_iters: Rounds of dynamic routing (at least 1; the paper's 3).
        adaptive: The number of interests follows the history's length (see above).
        max_len: The longest history (the routing logits' width).
        hidden_units: The per-interest MLP's widths (empty: no MLP).
        activation: Its activation.
        seed: Seed of the routing logits' draw.
        init_std: Their standard deviation.
    """

    def __init__(
        self,
        input_dim: int,
        query_dim: int = 0,
        num_interests: int = 4,
        interest_dim: int | None = None,
        routing_iters: int = 3,
        adaptive: bool = True,
        max_len: int = 50,
        hidden_units: list[int] | None = None,
        activation: str = "relu",
        seed: int = 0,
        init_std: float = 1.0,
    ) -> None:
        super().__init__()
        if num_interests < 1:
            raise ValueError(f"num_interests must be at least 1, got {num_interests}")
        if routing_iters < 1:
            raise ValueError(f"routing_iters must be at least 1, got {routing_iters}")
        self.num_interests = int(num_interests)
        self.routing_iters = int(routing_iters)
        self.adaptive = bool(adaptive)
        self.max_len = int(max_len)
        self.interest_dim = int(interest_dim or input_dim)
        self.bilinear = nn.Linear(input_dim, self.interest_dim, bias=False)
        draw = np.random.default_rng(int(seed)).standard_normal(
            (self.num_interests, self.max_len)
        ) * float(init_std)
        self.register_buffer("routing_logits", torch.from_numpy(draw.astype(np.float32)))
        units = list(hidden_units or [])
        self.mlp: nn.Module | None = None
        self.output_dim = self.interest_dim
        if units:
            self.mlp = MLP(
                self.interest_dim + int(query_dim),
                units,
                activation=activation,
                use_final_bn=False,
                final_activation=activation,
            )
            self.output_dim = units[-1]

    def capsules(self, seq: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The squashed interest capsules ``[B, K, interest_dim]`` of histories ``seq [B, L, d]``
        with real positions ``mask [B, L]`` (inactive interests: zeros)."""
        length = seq.shape[1]
        if length > self.max_len:
            raise ValueError(
                f"a history of {length} positions is longer than max_len={self.max_len}"
            )
        mapped = self.bilinear(seq)  # [B, L, D]
        active = interest_mask(mask.sum(dim=1), self.num_interests, self.adaptive)  # [B, K]
        real = mask.unsqueeze(1)  # [B, 1, L]
        logits = (
            self.routing_logits[:, :length].unsqueeze(0).expand(seq.shape[0], -1, -1)
        )  # [B, K, L]
        interests = torch.zeros(
            seq.shape[0], self.num_interests, self.interest_dim, dtype=seq.dtype, device=seq.device
        )
        for step in range(self.routing_iters):
            weights = torch.softmax(logits.masked_fill(~active.unsqueeze(-1), -math.inf), dim=1)
            weights = weights * real.to(seq.dtype)
            interests = squash(weights @ mapped)  # [B, K, D]
            if step + 1 < self.routing_iters:
                logits = logits + interests @ mapped.transpose(1, 2)
        return interests * active.unsqueeze(-1).to(seq.dtype)

    def forward(self, x: SequenceFeatures) -> torch.Tensor:
        interests = self.capsules(x.seq, x.mask)
        if self.mlp is None:
            return interests
        if x.query is not None:
            profile = x.query.unsqueeze(1).expand(-1, self.num_interests, -1)
            interests = torch.cat([interests, profile], dim=-1)
        batch, k, width = interests.shape
        return self.mlp(interests.reshape(batch * k, width)).reshape(batch, k, -1)


__all__ = ["MultiInterestCapsule", "interest_counts", "interest_mask", "squash"]
