"""Sequence components: item sequences in, one hidden vector per position out.

Inputs are integer item sequences ``[B, L]`` **left-padded** with 0 (the latest item is
at position ``L - 1``; see :func:`recutils.splitting.sequences.pad_sequences`) and their
embeddings ``[B, L, d]``; ``mask`` is ``[B, L]`` bool, True at real items. Every encoder
maps ``[B, L, d]`` (and the mask) to ``[B, L, d_out]``, position ``t`` summarising the
items up to ``t`` (causal encoders) or the whole sequence (bidirectional ones); padded
positions give finite outputs that the losses ignore.

* :class:`SequenceEmbedding`: item embedding (row 0 = padding, kept at zero) scaled by
  ``sqrt(d)``, plus a learned position embedding, dropout; returns the embeddings and
  the mask.
* :class:`TransformerEncoder`: pre-LayerNorm Transformer blocks (multi-head
  self-attention, position-wise feed-forward, residuals), **causal** (SASRec: a
  position attends to itself and earlier ones) or **bidirectional** (BERT4Rec);
  padded keys are never attended to.
* :class:`GRUEncoder`: a GRU over the sequence (GRU4Rec).
* :class:`CaserConv`: Caser's horizontal (``h = 1..window`` item n-grams, max-pooled)
  and vertical (weighted sums over the window) convolutions over the last ``window``
  items before each position.
* :class:`NextItNetEncoder`: stacks of causal dilated residual 1-D convolutions
  (NextItNet: dilations ``1, 2, 4, 8`` repeated).
* Dropout is :class:`recutils.nn.components.dropout.Dropout` (16-bit lanes of random words:
  several times cheaper than torch's Bernoulli draws on the CPU; keep probability within
  1/131072 of ``1 - p``).
* :class:`UserInjection`: SSE-PT's personalisation: a user embedding concatenated to
  every position's item embedding; :func:`stochastic_shared_embedding` replaces ids by
  random ones with probability ``p`` during training (the SSE regulariser).
"""

from __future__ import annotations

import math

from recutils.nn.components._torch import F, nn, torch
from recutils.nn.components.dropout import Dropout as make_dropout

_NEG = -1e9


class SequenceEmbedding(nn.Module):
    """Item and position embeddings of left-padded item sequences.

    Args:
        n_tokens: Number of item tokens including padding (row 0) and any special
            token (BERT4Rec's mask).
        dim: Embedding width.
        max_len: Longest sequence (number of position embeddings).
        dropout: Dropout on the summed embeddings.
        positions: Add a learned position embedding (False for GRU4Rec / Caser /
            NextItNet, whose encoders know the order).
        scale: Multiply item embeddings by ``sqrt(dim)`` (the Transformer convention).
        sparse: Sparse gradients for the item table (only the rows of a batch's items
            are touched: train it with a sparse optimizer such as ``torch.optim.SparseAdam``).
    """

    def __init__(
        self,
        n_tokens: int,
        dim: int,
        max_len: int,
        dropout: float = 0.0,
        positions: bool = True,
        scale: bool = True,
        sparse: bool = False,
    ) -> None:
        super().__init__()
        self.items = nn.Embedding(n_tokens, dim, padding_idx=0, sparse=sparse)
        nn.init.normal_(self.items.weight, std=dim**-0.5)
        with torch.no_grad():
            self.items.weight[0].zero_()
        self.position = nn.Embedding(max_len, dim) if positions else None
        self.dropout = make_dropout(dropout)
        self.max_len = int(max_len)
        self.scale = math.sqrt(dim) if scale else 1.0

    def forward(self, seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if seq.dim() != 2 or seq.shape[1] > self.max_len:
            raise ValueError(f"sequences must be [batch, <= {self.max_len}], got {list(seq.shape)}")
        mask = seq != 0
        x = self.items(seq) * self.scale
        if self.position is not None:
            # positions counted back from the latest item, so left padding does not shift them
            length = seq.shape[1]
            pos = torch.arange(self.max_len - length, self.max_len, device=seq.device)
            x = x + self.position(pos)[None]
        x = self.dropout(x) * mask.unsqueeze(-1)
        return x, mask


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float, activation: str) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff1 = nn.Linear(dim, ffn_dim)
        self.ff2 = nn.Linear(ffn_dim, dim)
        self.dropout = make_dropout(dropout)
        self.attn_dropout = make_dropout(dropout)
        self.act = F.gelu if activation == "gelu" else F.relu

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        q, k, v = (
            self.qkv(self.norm1(x))
            .view(b, length, 3, self.heads, d // self.heads)
            .permute(2, 0, 3, 1, 4)
        )
        if self.training and self.attn_dropout.p > 0:
            # written out so that the attention weights go through the project's cheap dropout
            weights = torch.softmax(
                q @ k.transpose(-1, -2) / math.sqrt(d // self.heads) + bias, dim=-1
            )
            att = self.attn_dropout(weights) @ v
        else:
            att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        x = x + self.dropout(self.out(att.transpose(1, 2).reshape(b, length, d)))
        return x + self.dropout(self.ff2(self.dropout(self.act(self.ff1(self.norm2(x))))))


class TransformerEncoder(nn.Module):
    """Pre-LayerNorm Transformer encoder over a sequence (causal or bidirectional).

    Args:
        input_dim: Width ``d`` of the input (and output).
        num_layers: Blocks.
        num_heads: Attention heads (``d`` must be a multiple).
        ffn_dim: Width of the feed-forward layer (default ``d``, as SASRec; BERT4Rec uses ``4d``).
        dropout: Dropout on attention weights, block outputs and the feed-forward layer.
        causal: A position attends only to itself and earlier positions.
        activation: ``relu`` (SASRec) or ``gelu`` (BERT4Rec).

    A query never attends to padded keys; a padded query attends to itself alone (its
    output is finite and ignored). Output ``[B, L, d]`` after a final LayerNorm.
    """

    def __init__(
        self,
        input_dim: int,
        num_layers: int = 2,
        num_heads: int = 1,
        ffn_dim: int | None = None,
        dropout: float = 0.2,
        causal: bool = True,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        if input_dim % num_heads:
            raise ValueError(f"input_dim {input_dim} is not a multiple of num_heads {num_heads}")
        self.causal = bool(causal)
        self.blocks = nn.ModuleList(
            _Block(input_dim, num_heads, ffn_dim or input_dim, dropout, activation)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(input_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, length, _ = x.shape
        if mask is None:
            mask = torch.ones(b, length, dtype=torch.bool, device=x.device)
        allowed = mask[:, None, :].expand(b, length, length)
        # index comparisons rather than eye/tril, which ONNX runtimes lack for booleans
        index = torch.arange(length, device=x.device)
        if self.causal:
            allowed = allowed & (index[None, :] <= index[:, None])
        allowed = allowed | (index[None, :] == index[:, None])
        bias = (
            torch.zeros(allowed.shape, dtype=x.dtype, device=x.device)
            .masked_fill(~allowed, _NEG)
            .unsqueeze(1)
        )
        for block in self.blocks:
            x = block(x, bias)
        return self.norm(x)


class GRUEncoder(nn.Module):
    """A GRU over the sequence (GRU4Rec); output ``[B, L, hidden_dim]``.

    Left padding puts the zero vectors of padded positions before the first item, so the
    state at a real position depends on that position's items (and the number of
    padded steps before them, which the GRU learns to ignore).
    """

    def __init__(
        self, input_dim: int, hidden_dim: int = 64, num_layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.gru = nn.GRU(
            input_dim,
            hidden_dim,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = make_dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.dropout(out)


class CaserConv(nn.Module):
    """Caser's convolutions over the ``window`` items up to each position (Tang & Wang, WSDM 2018).

    For every position ``t`` the ``window`` embeddings ending at ``t`` (zeros before the
    sequence starts) form an image ``[window, d]``: ``n_h`` horizontal filters of each
    height ``h = 1..window`` slide over it and are max-pooled over time, ``n_v``
    vertical filters take weighted sums of its rows; both are concatenated, passed
    through dropout and a fully connected layer to ``output_dim``.

    Args:
        input_dim: Embedding width ``d``.
        window: ``L`` of the paper (items per image).
        n_h, n_v: Horizontal filters per height, vertical filters.
        output_dim: Width of the output (default ``d``).
        dropout: Dropout before the fully connected layer.
        activation: Of the horizontal convolutions and the output layer (``relu`` or ``tanh``).
    """

    def __init__(
        self,
        input_dim: int,
        window: int = 5,
        n_h: int = 16,
        n_v: int = 4,
        output_dim: int | None = None,
        dropout: float = 0.5,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.window = int(window)
        self.vertical = nn.Conv2d(1, n_v, (window, 1))
        self.horizontal = nn.ModuleList(
            nn.Conv2d(1, n_h, (h, input_dim)) for h in range(1, window + 1)
        )
        self.act = torch.tanh if activation == "tanh" else F.relu
        self.fc = nn.Linear(n_v * input_dim + n_h * window, output_dim or input_dim)
        self.dropout = make_dropout(dropout)

    def images(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, L, d]`` -> ``[B * L, 1, window, d]``: the window ending at every position."""
        b, length, d = x.shape
        padded = F.pad(x, (0, 0, self.window - 1, 0))
        return (
            padded.unfold(1, self.window, 1)
            .permute(0, 1, 3, 2)
            .reshape(b * length, 1, self.window, d)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # The images overlap: instead of convolving ``B * L`` images of ``window`` rows,
        # every horizontal filter runs once along the (left-padded) sequence and each
        # position reads the outputs that fall inside its own window. A horizontal filter
        # of height ``h`` has ``window - h + 1`` placements inside the window ending at
        # ``t``; their maximum is a max-pool of that width over the sequence (the
        # activation is monotone, so pooling before it gives the same values). Same
        # parameters and results as convolving ``images(x)``, with each placement
        # computed once instead of once for every window that holds it (15 instead of 35
        # filter rows a position for window 5) and with 1-D kernels.
        b, length, d = x.shape
        w = self.window
        padded = F.pad(x, (0, 0, w - 1, 0))  # [B, L + w - 1, d]
        n_v = self.vertical.out_channels
        # vertical filters: weighted sums of each window's rows, one matmul over [B, L, d, w]
        out_v = padded.unfold(1, w, 1) @ self.vertical.weight.reshape(n_v, w).T
        out_v = (out_v + self.vertical.bias).transpose(2, 3).reshape(b, length, n_v * d)
        seq = padded.transpose(1, 2)  # [B, d, L + w - 1]
        pooled = []
        for h, conv in enumerate(self.horizontal, start=1):
            along = F.conv1d(seq, conv.weight.squeeze(1).transpose(1, 2), conv.bias)
            pooled.append(self.act(F.max_pool1d(along, w - h + 1, stride=1)).transpose(1, 2))
        z = torch.cat([out_v, *pooled], dim=-1)
        return self.act(self.fc(self.dropout(z)))


class _DilatedBlock(nn.Module):
    def __init__(self, dim: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv1 = nn.Conv1d(dim, dim, kernel_size, dilation=dilation)
        self.norm1 = nn.LayerNorm(dim)
        self.conv2 = nn.Conv1d(dim, dim, kernel_size, dilation=2 * dilation)
        self.norm2 = nn.LayerNorm(dim)

    def _causal(self, conv: nn.Conv1d, x: torch.Tensor, pad: int) -> torch.Tensor:
        return conv(F.pad(x.transpose(1, 2), (pad, 0))).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(self._causal(self.conv1, x, self.pad)))
        h = F.relu(self.norm2(self._causal(self.conv2, h, 2 * self.pad)))
        return x + h


class NextItNetEncoder(nn.Module):
    """NextItNet's residual blocks of causal dilated convolutions (Yuan et al., WSDM 2019).

    Each block: a causal dilated convolution (dilation ``r``), LayerNorm, ReLU, a second
    one with dilation ``2r``, LayerNorm, ReLU, plus the block's input. ``dilations`` are
    the blocks' ``r`` (the paper's ``1, 2, 4, 8`` stacks, repeated).
    """

    def __init__(
        self,
        input_dim: int,
        dilations: list[int] | tuple[int, ...] = (1, 2, 4, 8),
        repeat: int = 1,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            _DilatedBlock(input_dim, kernel_size, int(r)) for _ in range(repeat) for r in dilations
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
            if mask is not None:
                x = x * mask.unsqueeze(-1)
        return x


class UserInjection(nn.Module):
    """SSE-PT's personalisation: ``[x_t ; u]`` at every position (Wu et al., RecSys 2020).

    ``forward(x [B, L, d_i], users [B])`` concatenates the users' embeddings
    (``user_dim`` wide) to every position, giving ``[B, L, d_i + user_dim]``. Users given
    as ``-1`` (not seen in training) get the mean user embedding.
    """

    def __init__(self, n_users: int, user_dim: int, sparse: bool = False) -> None:
        super().__init__()
        self.users = nn.Embedding(n_users, user_dim, sparse=sparse)
        nn.init.normal_(self.users.weight, std=user_dim**-0.5)

    def user_vectors(self, users: torch.Tensor) -> torch.Tensor:
        known = users >= 0
        vectors = self.users(users.clamp(min=0))
        if not bool(known.all()):
            mean = self.users.weight.mean(dim=0)
            vectors = torch.where(known.unsqueeze(1), vectors, mean.expand_as(vectors))
        return vectors

    def forward(self, x: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
        u = self.user_vectors(users)
        return torch.cat([x, u.unsqueeze(1).expand(-1, x.shape[1], -1)], dim=2)


def stochastic_shared_embedding(
    ids: torch.Tensor,
    p: float,
    low: int,
    high: int,
    generator: torch.Generator | None = None,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """SSE: each id replaced, with probability ``p``, by one drawn uniformly from ``[low, high)``.

    ``keep`` (bool, same shape) marks entries never replaced (padding). Used in training
    only (Wu et al., "Stochastic Shared Embeddings", NeurIPS 2019).
    """
    if p <= 0:
        return ids
    swap = torch.rand(ids.shape, generator=generator, device=ids.device) < p
    if keep is not None:
        swap &= ~keep
    random = torch.randint(low, high, ids.shape, generator=generator, device=ids.device)
    return torch.where(swap, random, ids)


__all__ = [
    "CaserConv",
    "GRUEncoder",
    "NextItNetEncoder",
    "SequenceEmbedding",
    "TransformerEncoder",
    "UserInjection",
    "stochastic_shared_embedding",
]
