"""PyTorch network of DKN (Wang et al., WWW 2018): a knowledge-aware CNN news encoder and a
candidate-conditioned attention over the clicked news (see :mod:`recutils.models.news.dkn`).

A DKN feature row is the news models' row (``title_size`` word ids, category,
subcategory; no abstract) followed by ``title_size`` entity ids (0 = no entity), aligned
with the title's words.
"""

from __future__ import annotations

from recutils.exceptions import StateError
from recutils.models.news.networks import NewsNetwork
from recutils.utils.deps import require

torch = require("torch", "torch")
nn = torch.nn
F = torch.nn.functional

_NEG = -1e9
_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class KCNN(nn.Module):
    """Knowledge-aware CNN: words, transformed entities and (optionally) transformed contexts
    stacked as channels of one ``L x word_dim`` image; one convolution per filter width
    ``h`` (``filter_num`` filters of ``h x word_dim``), ReLU, max over time, concatenated."""

    def __init__(
        self,
        word_dim: int,
        entity_dim: int,
        use_context: bool,
        filter_sizes: list[int],
        filter_num: int,
    ) -> None:
        super().__init__()
        self.entity_transform = nn.Linear(entity_dim, word_dim)
        self.context_transform = nn.Linear(entity_dim, word_dim) if use_context else None
        channels = 3 if use_context else 2
        self.convs = nn.ModuleList(
            nn.Conv2d(channels, filter_num, (h, word_dim)) for h in filter_sizes
        )

    def forward(
        self,
        words: torch.Tensor,
        entities: torch.Tensor,
        context: torch.Tensor | None,
        entity_mask: torch.Tensor,
    ) -> torch.Tensor:
        """``[N, L, word_dim]`` words, ``[N, L, entity_dim]`` entities (and contexts),
        ``[N, L]`` entity mask -> ``[N, filter_num * len(filter_sizes)]``."""
        keep = entity_mask.unsqueeze(-1).to(words.dtype)  # no entity: a zero channel, as padding
        channels = [words, torch.tanh(self.entity_transform(entities)) * keep]
        if self.context_transform is not None and context is not None:
            channels.append(torch.tanh(self.context_transform(context)) * keep)
        x = torch.stack(channels, dim=1)  # [N, C, L, word_dim]
        return torch.cat(
            [F.relu(conv(x)).squeeze(3).max(dim=2).values for conv in self.convs], dim=-1
        )


class DKNNetwork(NewsNetwork):
    """DKN: KCNN news vectors; the user vector for a candidate is the attention-weighted sum
    of the clicked news, the weights a DNN over ``[clicked; candidate]`` (softmax over the
    history); the click logit a DNN over ``[user; candidate]``.

    Args:
        n_words, word_dim, title_size, dropout, word_init: As :class:`NewsNetwork`.
        n_entities: Entity ids (0 pads).
        entity_dim: Entity embedding width.
        neighbours: ``[n_entities, M]`` long tensor: each entity's KG neighbours (0 pads);
            an entity's context is the mean embedding of its neighbours.
        use_context: Add the context channel.
        filter_sizes, filter_num: KCNN filter widths and filters per width.
        attention_dim: Hidden width of the attention DNN.
        layer_sizes, activation: Hidden layers of the click DNN.
        entity_init: ``[n_entities, entity_dim]`` initial entity embeddings, or ``None``.
    """

    def __init__(
        self,
        n_words: int,
        word_dim: int,
        title_size: int,
        n_entities: int,
        entity_dim: int,
        neighbours: torch.Tensor,
        use_context: bool,
        filter_sizes: list[int],
        filter_num: int,
        attention_dim: int,
        layer_sizes: list[int],
        activation: str,
        dropout: float,
        word_init: torch.Tensor | None = None,
        entity_init: torch.Tensor | None = None,
    ) -> None:
        super().__init__(n_words, word_dim, title_size, 0, dropout, word_init)
        self.entity_emb = nn.Embedding(n_entities, entity_dim, padding_idx=0)
        if entity_init is not None:
            with torch.no_grad():
                self.entity_emb.weight.copy_(entity_init)
        self.register_buffer("neighbours", neighbours.long())
        self.use_context = use_context
        self.kcnn = KCNN(word_dim, entity_dim, use_context, filter_sizes, filter_num)
        dim = filter_num * len(filter_sizes)
        self.attention_dim = attention_dim
        # a linear layer over [clicked; candidate] is the sum of one over each half
        self.att_clicked = nn.Linear(dim, attention_dim)
        self.att_candidate = nn.Linear(dim, attention_dim, bias=False)
        self.att_out = nn.Linear(attention_dim, 1)
        layers: list[nn.Module] = []
        width = 2 * dim
        for size in layer_sizes:
            layers += [nn.Linear(width, size), _ACTIVATIONS[activation](), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.click = nn.Sequential(*layers)

    def context_of(self, entities: torch.Tensor) -> torch.Tensor:
        """``[K]`` entity ids -> ``[K, entity_dim]``: each one's mean neighbour embedding
        (zeros when it has none)."""
        nb = self.neighbours[entities]
        mask = (nb > 0).unsqueeze(-1).to(self.entity_emb.weight.dtype)
        total = (self.entity_emb(nb) * mask).sum(dim=1)
        return total / mask.sum(dim=1).clamp(min=1.0)

    def context_table(self) -> torch.Tensor:
        """``[n_entities, entity_dim]``: every entity's context."""
        return self.context_of(
            torch.arange(self.neighbours.shape[0], device=self.neighbours.device)
        )

    def encode_news(self, feats: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        t = self.title_size
        title, entities = feats[:, :t], feats[:, t + 2 : 2 * t + 2]
        words = self.dropout(self.word_emb(title))
        context = None
        if self.use_context:  # only the entities of these news, each once
            distinct, inverse = torch.unique(entities, return_inverse=True)
            context = self.context_of(distinct)[inverse]
        return self.kcnn(words, self.entity_emb(entities), context, entities > 0)

    def encode_user(
        self,
        hist: torch.Tensor,
        mask: torch.Tensor,
        users: torch.Tensor,
        candidates: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[B, H, D]`` clicked news and ``[B, C, D]`` candidates -> ``[B, C, D]``: one user
        vector per candidate (an empty history gives zeros)."""
        if candidates is None:
            raise StateError("DKN's user vector depends on the candidate: pass candidates.")
        hidden = self.att_clicked(hist).unsqueeze(1) + self.att_candidate(candidates).unsqueeze(2)
        scores = self.att_out(F.relu(hidden)).squeeze(-1)  # [B, C, H]
        keep = mask.unsqueeze(1)
        weights = torch.softmax(scores.masked_fill(~keep, _NEG), dim=-1) * keep
        return weights @ hist

    def score(
        self, hist: torch.Tensor, mask: torch.Tensor, users: torch.Tensor, candidates: torch.Tensor
    ) -> torch.Tensor:
        """Click logits ``[B, C]`` of candidate vectors ``[B, C, D]`` for histories ``[B, H, D]``."""
        user = self.encode_user(hist, mask, users, candidates)
        return self.click(torch.cat([user, candidates], dim=-1)).squeeze(-1)


__all__ = ["DKNNetwork", "KCNN"]
