"""PyTorch networks of the news models: a news encoder, a user encoder, dot-product scores.

Every network takes the same inputs (built by :mod:`recutils.models.news.base`):

* ``users``: ``[B]`` user numbers, ``0`` for a user unknown to the network (NPA's and
  LSTUR's user embeddings then give zeros);
* ``history``: ``[B, H, F]`` the clicked news' feature rows, ``hist_mask`` ``[B, H]``;
* ``candidates``: ``[B, C, F]`` the candidates' feature rows.

A news feature row is ``F = title_size + body_size + 2`` integers: the title's word ids,
the abstract's word ids (``body_size`` may be 0), the category and subcategory ids
(0 = unknown / padding). ``forward`` returns the logits ``[B, C]``.
"""

from __future__ import annotations

import math

from recutils.utils.deps import require

torch = require("torch", "torch")
nn = torch.nn
F = torch.nn.functional

_NEG = -1e9


def attend(scores: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The ``softmax(scores)``-weighted sum of ``x`` ``[N, L, D]`` over ``L`` (masked positions out)."""
    if mask is not None:
        scores = scores.masked_fill(~mask, _NEG)
    return torch.bmm(torch.softmax(scores, dim=-1).unsqueeze(1), x).squeeze(1)


class AdditiveAttention(nn.Module):
    """``softmax(q^T tanh(W x + b))``-weighted sum over the second axis (padding masked)."""

    def __init__(self, input_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(input_dim, hidden_dim)
        self.query = nn.Linear(hidden_dim, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return attend(self.query(torch.tanh(self.proj(x))).squeeze(-1), x, mask)


class PersonalizedAttention(nn.Module):
    """NPA's attention whose query is projected from a user embedding."""

    def __init__(self, input_dim: int, user_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(user_dim, hidden_dim)
        self.key = nn.Linear(input_dim, hidden_dim)

    def forward(
        self, x: torch.Tensor, user: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        q = torch.tanh(self.query(user))  # [N, h]
        return attend(torch.bmm(torch.tanh(self.key(x)), q.unsqueeze(-1)).squeeze(-1), x, mask)


class MultiHeadSelfAttention(nn.Module):
    """NRMS's multi-head self-attention: ``head_num`` heads of ``head_dim``, concatenated."""

    def __init__(self, input_dim: int, head_num: int, head_dim: int) -> None:
        super().__init__()
        self.head_num, self.head_dim = head_num, head_dim
        self.qkv = nn.Linear(input_dim, 3 * head_num * head_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        n, length, _ = x.shape
        q, k, v = (
            self.qkv(x).view(n, length, 3, self.head_num, self.head_dim).permute(2, 0, 3, 1, 4)
        )
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None, None, :], _NEG)
        out = torch.softmax(scores, dim=-1) @ v  # [n, heads, L, d]
        return out.transpose(1, 2).reshape(n, length, self.head_num * self.head_dim)


class NewsNetwork(nn.Module):
    """Shared parts: word embeddings, feature slicing, scoring. Subclasses encode."""

    def __init__(
        self,
        n_words: int,
        word_dim: int,
        title_size: int,
        body_size: int,
        dropout: float,
        word_init: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.word_emb = nn.Embedding(n_words, word_dim, padding_idx=0)
        if word_init is not None:
            with torch.no_grad():
                self.word_emb.weight.copy_(word_init)
        self.title_size, self.body_size = title_size, body_size
        self.dropout = nn.Dropout(dropout)

    def split(
        self, feats: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Title ids, body ids, category and subcategory of feature rows ``[N, F]``."""
        t, b = self.title_size, self.body_size
        return feats[:, :t], feats[:, t : t + b], feats[:, t + b], feats[:, t + b + 1]

    def encode_news(self, feats: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """``[N, F]`` feature rows -> ``[N, D]`` news vectors (``users`` ``[N]``: NPA only)."""
        raise NotImplementedError

    def encode_user(
        self, hist: torch.Tensor, mask: torch.Tensor, users: torch.Tensor
    ) -> torch.Tensor:
        """``[B, H, D]`` history vectors -> ``[B, D]`` user vectors."""
        raise NotImplementedError

    #: Whether the news vectors depend on the user (NPA's personalised attention).
    personalised: bool = False

    def forward(
        self,
        users: torch.Tensor,
        history: torch.Tensor,
        hist_mask: torch.Tensor,
        candidates: torch.Tensor,
    ) -> torch.Tensor:
        b, h, f = history.shape
        c = candidates.shape[1]
        hist_users = users.repeat_interleave(h) if self.personalised else None
        cand_users = users.repeat_interleave(c) if self.personalised else None
        hist_vec = self.encode_news(history.reshape(b * h, f), hist_users).view(b, h, -1)
        cand_vec = self.encode_news(candidates.reshape(b * c, f), cand_users).view(b, c, -1)
        return self.score(hist_vec, hist_mask, users, cand_vec)

    def score(
        self, hist: torch.Tensor, mask: torch.Tensor, users: torch.Tensor, candidates: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``[B, C]`` of candidate vectors ``[B, C, D]`` for clicked-news vectors
        ``[B, H, D]``: the dot product with the user vector (DKN overrides it)."""
        user_vec = self.encode_user(hist, mask, users)
        return torch.bmm(candidates, user_vec.unsqueeze(-1)).squeeze(-1)


class CNNTextEncoder(nn.Module):
    """Word embeddings -> dropout -> CNN -> dropout -> additive attention (NAML, LSTUR)."""

    def __init__(
        self, word_dim: int, filter_num: int, window_size: int, hidden_dim: int, dropout: float
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(word_dim, filter_num, window_size, padding=window_size // 2)
        self.dropout = nn.Dropout(dropout)
        self.attention = AdditiveAttention(filter_num, hidden_dim)

    def features(self, emb: torch.Tensor) -> torch.Tensor:
        """``[N, L, word_dim]`` -> ``[N, L, filter_num]``."""
        return self.dropout(F.relu(self.conv(self.dropout(emb).transpose(1, 2)).transpose(1, 2)))

    def forward(self, emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.attention(self.features(emb), mask)


class NRMSNetwork(NewsNetwork):
    """NRMS (Wu et al., EMNLP 2019): self-attention over title words, then over clicked news."""

    def __init__(
        self,
        n_words: int,
        word_dim: int,
        title_size: int,
        head_num: int,
        head_dim: int,
        hidden_dim: int,
        dropout: float,
        word_init: torch.Tensor | None = None,
    ) -> None:
        super().__init__(n_words, word_dim, title_size, 0, dropout, word_init)
        dim = head_num * head_dim
        self.word_mhsa = MultiHeadSelfAttention(word_dim, head_num, head_dim)
        self.word_att = AdditiveAttention(dim, hidden_dim)
        self.news_mhsa = MultiHeadSelfAttention(dim, head_num, head_dim)
        self.news_att = AdditiveAttention(dim, hidden_dim)

    def encode_news(self, feats: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        title = self.split(feats)[0]
        mask = title > 0
        x = self.dropout(self.word_emb(title))
        x = self.dropout(self.word_mhsa(x, mask))
        return self.word_att(x, mask)

    def encode_user(
        self, hist: torch.Tensor, mask: torch.Tensor, users: torch.Tensor
    ) -> torch.Tensor:
        return self.news_att(self.news_mhsa(hist, mask), mask)


class NAMLNetwork(NewsNetwork):
    """NAML (Wu et al., IJCAI 2019): title CNN, body CNN, category and subcategory views,
    combined by view attention; the user is an attention over clicked news."""

    def __init__(
        self,
        n_words: int,
        word_dim: int,
        title_size: int,
        body_size: int,
        n_categories: int,
        n_subcategories: int,
        category_dim: int,
        filter_num: int,
        window_size: int,
        hidden_dim: int,
        dropout: float,
        word_init: torch.Tensor | None = None,
    ) -> None:
        super().__init__(n_words, word_dim, title_size, body_size, dropout, word_init)
        self.title_enc = CNNTextEncoder(word_dim, filter_num, window_size, hidden_dim, dropout)
        self.body_enc = CNNTextEncoder(word_dim, filter_num, window_size, hidden_dim, dropout)
        self.cat_emb = nn.Embedding(n_categories, category_dim, padding_idx=0)
        self.subcat_emb = nn.Embedding(n_subcategories, category_dim, padding_idx=0)
        self.cat_dense = nn.Linear(category_dim, filter_num)
        self.subcat_dense = nn.Linear(category_dim, filter_num)
        self.view_att = AdditiveAttention(filter_num, hidden_dim)
        self.news_att = AdditiveAttention(filter_num, hidden_dim)

    def encode_news(self, feats: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        title, body, cat, subcat = self.split(feats)
        views = [self.title_enc(self.word_emb(title), title > 0)]
        if self.body_size:
            views.append(self.body_enc(self.word_emb(body), body > 0))
        views.append(F.relu(self.cat_dense(self.cat_emb(cat))))
        views.append(F.relu(self.subcat_dense(self.subcat_emb(subcat))))
        return self.view_att(torch.stack(views, dim=1))

    def encode_user(
        self, hist: torch.Tensor, mask: torch.Tensor, users: torch.Tensor
    ) -> torch.Tensor:
        return self.news_att(hist, mask)


class LSTURNetwork(NewsNetwork):
    """LSTUR (An et al., ACL 2019): CNN title encoder (with category and subcategory
    embeddings); short-term user = GRU over clicked news; long-term = a user embedding,
    the GRU's initial state (``ini``) or concatenated with its output (``con``)."""

    def __init__(
        self,
        n_words: int,
        word_dim: int,
        title_size: int,
        n_users: int,
        n_categories: int,
        n_subcategories: int,
        filter_num: int,
        window_size: int,
        gru_unit: int,
        long_short: str,
        hidden_dim: int,
        dropout: float,
        word_init: torch.Tensor | None = None,
    ) -> None:
        super().__init__(n_words, word_dim, title_size, 0, dropout, word_init)
        self.title_enc = CNNTextEncoder(word_dim, filter_num, window_size, hidden_dim, dropout)
        self.cat_emb = nn.Embedding(n_categories, filter_num, padding_idx=0)
        self.subcat_emb = nn.Embedding(n_subcategories, filter_num, padding_idx=0)
        self.long_short = long_short
        self.user_emb = nn.Embedding(n_users, gru_unit, padding_idx=0)
        self.gru = nn.GRU(filter_num, gru_unit, batch_first=True)
        self.combine = nn.Linear(2 * gru_unit, filter_num) if long_short == "con" else None
        self.out = (
            nn.Linear(gru_unit, filter_num)
            if long_short == "ini" and gru_unit != filter_num
            else None
        )

    def encode_news(self, feats: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        title, _, cat, subcat = self.split(feats)
        return (
            self.title_enc(self.word_emb(title), title > 0)
            + self.cat_emb(cat)
            + self.subcat_emb(subcat)
        )

    def encode_user(
        self, hist: torch.Tensor, mask: torch.Tensor, users: torch.Tensor
    ) -> torch.Tensor:
        long_term = self.user_emb(users)
        # histories are right-aligned (padding first): the GRU's last output has read them all
        if self.long_short == "ini":
            _, state = self.gru(hist, long_term.unsqueeze(0).contiguous())
            short = state.squeeze(0)
            return short if self.out is None else self.out(short)
        _, state = self.gru(hist)
        return self.combine(torch.cat([state.squeeze(0), long_term], dim=-1))


class NPANetwork(NewsNetwork):
    """NPA (Wu et al., KDD 2019): CNN over title words with a word attention whose query
    comes from the user id, and a personalised attention over clicked news."""

    personalised = True

    def __init__(
        self,
        n_words: int,
        word_dim: int,
        title_size: int,
        n_users: int,
        user_dim: int,
        filter_num: int,
        window_size: int,
        hidden_dim: int,
        dropout: float,
        word_init: torch.Tensor | None = None,
    ) -> None:
        super().__init__(n_words, word_dim, title_size, 0, dropout, word_init)
        self.user_emb = nn.Embedding(n_users, user_dim, padding_idx=0)
        self.title_enc = CNNTextEncoder(word_dim, filter_num, window_size, hidden_dim, dropout)
        self.word_att = PersonalizedAttention(filter_num, user_dim, hidden_dim)
        self.news_att = PersonalizedAttention(filter_num, user_dim, hidden_dim)

    def encode_news(self, feats: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        title = self.split(feats)[0]
        if users is None:
            users = torch.zeros(title.shape[0], dtype=torch.long, device=title.device)
        words = self.title_enc.features(self.word_emb(title))
        return self.word_att(words, self.user_emb(users), title > 0)

    def encode_user(
        self, hist: torch.Tensor, mask: torch.Tensor, users: torch.Tensor
    ) -> torch.Tensor:
        return self.news_att(hist, self.user_emb(users), mask)


__all__ = [
    "AdditiveAttention",
    "attend",
    "CNNTextEncoder",
    "LSTURNetwork",
    "MultiHeadSelfAttention",
    "NAMLNetwork",
    "NPANetwork",
    "NRMSNetwork",
    "NewsNetwork",
    "PersonalizedAttention",
]
