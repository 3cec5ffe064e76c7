"""PDN's parts (Li et al., SIGIR 2021, "Path-based Deep Network for Candidate Item Matching").

PDN scores a (user, target item) pair over the 2-hop paths user -> trigger item ``j`` (an
item the user interacted with) -> target item ``t``:

* :class:`TriggerNet` (TN): the user's interest in each trigger, from the user's vector (or
  none), the trigger's embedding and its behaviour: its recency position (0 = the latest
  trigger) and how many times it occurs among the triggers;
* SN, the relevance of trigger ``j`` to target ``t`` from both items' embeddings:
  :class:`SimilarityNet`, an MLP over each pair (the paper's form; its cost grows with the
  pairs times the hidden width), or :class:`DotSimilarityNet`, a trigger tower and a target
  tower whose dot product is the score (one matrix product for all pairs). SN does not depend
  on the user, so it can be precomputed as an item-to-item index (the paper's offline i2i table);
* :func:`path_relevance`: ``log(sum_j exp(TN_j) * exp(SN_jt)) = logsumexp_j(TN_j + SN_jt)``
  over the real (unpadded) triggers, plus an optional bias of the target item.

The parts are plain modules on embeddings; the model that owns the embedding tables and the
training loop is :class:`recutils.models.retrieval.pdn.PDN`.
"""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._torch import nn, torch
from recutils.nn.components.dropout import Dropout
from recutils.nn.components.mlp import MLP


def _layers(owner: str, hidden_units: Sequence[int]) -> list[int]:
    units = list(hidden_units)
    if not units:
        raise ValueError(f"{owner} needs at least one layer in hidden_units.")
    return units


def _head(in_features: int, hidden_units: Sequence[int], dropout: float) -> MLP:
    """An MLP ``in_features -> hidden_units -> 1`` with a linear (logit) last layer."""
    return MLP(
        in_features,
        [*hidden_units, 1],
        dropout_ratio=dropout,
        use_final_bn=False,
        final_activation="linear",
    )


def _apply(mlp: MLP, x: torch.Tensor) -> torch.Tensor:
    """``mlp`` over the last axis of ``x`` ``[..., F] -> [...]`` (its output width is 1)."""
    return mlp(x.reshape(-1, x.shape[-1])).reshape(x.shape[:-1])


def recency_positions(
    width: int, max_triggers: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """The recency position of each column of a left-padded ``[B, width]`` trigger matrix
    (the latest trigger in the last column): ``width - 1, ..., 1, 0``, capped at
    ``max_triggers - 1``. Counted from the right, so more left padding changes no position."""
    return torch.arange(width - 1, -1, -1, device=device).clamp(max=max_triggers - 1)


def trigger_counts(tokens: torch.Tensor) -> torch.Tensor:
    """How many times each trigger of ``tokens`` ``[B, L]`` occurs in its row (padding, token 0,
    counts nothing)."""
    real = tokens != 0
    same = (tokens.unsqueeze(2) == tokens.unsqueeze(1)) & real.unsqueeze(1)
    return same.sum(-1).to(torch.float32)


class TriggerNet(nn.Module):
    """TN: the user's interest in each trigger ``[B, L]`` (a logit, before the path sum).

    Args:
        item_dim: Width of the trigger embeddings.
        user_dim: Width of the user vectors (0: no user input).
        max_triggers: Recency positions embedded (older triggers share the last one).
        position_dim: Width of the recency-position embedding.
        hidden_units: Hidden layers of the MLP (its last layer outputs the logit).
        dropout: Dropout after each hidden layer.
    """

    def __init__(
        self,
        item_dim: int,
        user_dim: int,
        max_triggers: int,
        position_dim: int,
        hidden_units: Sequence[int],
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.user_dim = int(user_dim)
        self.max_triggers = int(max_triggers)
        self.positions = nn.Embedding(self.max_triggers, position_dim)
        self.mlp = _head(item_dim + self.user_dim + position_dim + 1, hidden_units, dropout)

    def forward(
        self, triggers: torch.Tensor, tokens: torch.Tensor, user: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``triggers`` ``[B, L, item_dim]`` (embeddings of ``tokens`` ``[B, L]``, left-padded with
        token 0), ``user`` ``[B, user_dim]`` (or None when ``user_dim`` is 0) -> ``[B, L]``."""
        b, width = tokens.shape
        position = self.positions(recency_positions(width, self.max_triggers, tokens.device))
        parts = [
            triggers,
            position.unsqueeze(0).expand(b, -1, -1),
            torch.log1p(trigger_counts(tokens)).unsqueeze(-1),
        ]
        if self.user_dim:
            if user is None:
                raise ValueError("this TriggerNet reads a user vector: pass user [B, user_dim].")
            parts.append(user.unsqueeze(1).expand(-1, width, -1))
        return _apply(self.mlp, torch.cat(parts, dim=-1))


class SimilarityNet(nn.Module):
    """SN: the relevance of each trigger to each target (a logit, before the path sum).

    The first layer reads ``[e_j, e_t, e_j * e_t]``; it is applied as three linear maps summed
    (the same function as one layer on the concatenation), so the trigger and target parts are
    computed once per item rather than once per pair.

    Args:
        item_dim: Width of the item embeddings.
        hidden_units: Hidden layers (at least one); the last layer outputs the logit.
        dropout: Dropout after each hidden layer.
    """

    def __init__(self, item_dim: int, hidden_units: Sequence[int], dropout: float = 0.0) -> None:
        super().__init__()
        units = _layers(type(self).__name__, hidden_units)
        self.trigger_in = nn.Linear(item_dim, units[0])
        self.target_in = nn.Linear(item_dim, units[0], bias=False)
        self.cross_in = nn.Linear(item_dim, units[0], bias=False)
        self.act = nn.ReLU()
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = _head(units[0], units[1:], dropout)

    def forward(self, triggers: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``triggers`` ``[B, L, d]`` against ``targets`` ``[K, d]`` (the same targets for every
        row) or ``[B, K, d]`` (per row) -> ``[B, L, K]``."""
        t = targets.unsqueeze(0).unsqueeze(0) if targets.dim() == 2 else targets.unsqueeze(1)
        h = (
            self.trigger_in(triggers).unsqueeze(2)
            + self.target_in(t)
            + self.cross_in(triggers.unsqueeze(2) * t)
        )
        return _apply(self.head, self.dropout(self.act(h)))


class DotSimilarityNet(nn.Module):
    """SN as two towers: ``SN(j, t) = <f(e_j), g(e_t)>`` with MLPs ``f`` (triggers) and ``g``
    (targets), linear last layers. Every pair costs one dot product, so training batches and
    whole-catalogue scoring are matrix products.

    Args:
        item_dim: Width of the item embeddings.
        hidden_units: Layers of each tower (at least one; the last is the dot product's width).
        dropout: Dropout after each hidden layer.
    """

    def __init__(self, item_dim: int, hidden_units: Sequence[int], dropout: float = 0.0) -> None:
        super().__init__()
        units = _layers(type(self).__name__, hidden_units)
        self.trigger_tower = MLP(
            item_dim, units, dropout_ratio=dropout, use_final_bn=False, final_activation="linear"
        )
        self.target_tower = MLP(
            item_dim, units, dropout_ratio=dropout, use_final_bn=False, final_activation="linear"
        )

    @staticmethod
    def _tower(mlp: MLP, x: torch.Tensor) -> torch.Tensor:
        return mlp(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], mlp.out_features)

    def trigger_vectors(self, triggers: torch.Tensor) -> torch.Tensor:
        """The trigger side ``f(e_j)`` of embeddings ``[..., d]`` -> ``[..., width]``."""
        return self._tower(self.trigger_tower, triggers)

    def target_vectors(self, targets: torch.Tensor) -> torch.Tensor:
        """The target side ``g(e_t)`` of embeddings ``[..., d]`` -> ``[..., width]``."""
        return self._tower(self.target_tower, targets)

    def forward(self, triggers: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``triggers`` ``[B, L, d]`` against ``targets`` ``[K, d]`` (shared) or ``[B, K, d]``
        (per row) -> ``[B, L, K]``."""
        a = self.trigger_vectors(triggers)
        b = self.target_vectors(targets)
        return a @ b.T if b.dim() == 2 else a @ b.transpose(1, 2)


def path_relevance(
    trigger_logits: torch.Tensor,
    similarity_logits: torch.Tensor,
    mask: torch.Tensor,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """PDN's relevance: ``logsumexp_j(TN_j + SN_jt)`` over the real triggers, plus ``bias``.

    Args:
        trigger_logits: ``[B, L]`` TN of each trigger.
        similarity_logits: ``[B, L, K]`` SN of each trigger and target.
        mask: ``[B, L]`` True for the real triggers (padded ones add no path).
        bias: ``[K]`` or ``[B, K]`` bias of the targets, or None.

    Returns:
        ``[B, K]`` relevance (``-inf`` for a row without a real trigger).
    """
    paths = (trigger_logits.unsqueeze(-1) + similarity_logits).masked_fill(
        ~mask.unsqueeze(-1), float("-inf")
    )
    relevance = torch.logsumexp(paths, dim=1)
    return relevance if bias is None else relevance + bias


__all__ = [
    "DotSimilarityNet",
    "SimilarityNet",
    "TriggerNet",
    "path_relevance",
    "recency_positions",
    "trigger_counts",
]
