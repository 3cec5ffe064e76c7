"""AutoInt's multi-head self-attention over feature fields (Song et al. 2019)."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._fields import common_dim, stack_fields
from recutils.nn.components._torch import nn, torch


class MultiHeadSelfAttention(nn.Module):
    """Interacting layers: every field attends to every field, per head, with a residual.

    For each layer and head ``h``: ``a = softmax((X W_q^h)(X W_k^h)^T / sqrt(d'))``,
    ``out^h = a (X W_v^h)``; the heads are concatenated and ``ReLU(out + X W_res)`` is
    the next layer's input (``W_res`` an identity-free projection, as in the paper).

    Args:
        input_dims: Widths of the input fields (all equal; filled in by the backbone).
        head_num: Attention heads.
        head_dim: Width ``d'`` of each head.
        num_layers: Stacked interacting layers.
        use_residual: Add the projected input (the paper's residual connection).
        scale: Divide the attention logits by ``sqrt(d')``.
        flatten: Output ``[B, m * head_num * head_dim]`` (for an MLP / the head);
            otherwise ``[B, m, head_num * head_dim]``.
    """

    def __init__(
        self,
        input_dims: Sequence[int],
        head_num: int = 2,
        head_dim: int = 16,
        num_layers: int = 2,
        use_residual: bool = True,
        scale: bool = True,
        flatten: bool = True,
    ) -> None:
        super().__init__()
        self.num_fields, self.dim = common_dim("MultiHeadSelfAttention", input_dims)
        if head_num < 1 or head_dim < 1 or num_layers < 1:
            raise ValueError("MultiHeadSelfAttention needs head_num, head_dim and num_layers >= 1")
        self.head_num, self.head_dim = int(head_num), int(head_dim)
        self.use_residual, self.scale, self.flatten = bool(use_residual), bool(scale), bool(flatten)
        width = self.head_num * self.head_dim
        self.qkv = nn.ModuleList()
        self.res = nn.ModuleList()
        d = self.dim
        for _ in range(int(num_layers)):
            self.qkv.append(nn.Linear(d, 3 * width, bias=False))
            self.res.append(nn.Linear(d, width, bias=False) if self.use_residual else nn.Identity())
            d = width
        self.output_dim = self.num_fields * width if self.flatten else width

    def forward(self, xs: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        x = stack_fields("MultiHeadSelfAttention", xs, self.num_fields, self.dim)  # [B, m, d]
        b, m = x.shape[0], self.num_fields
        for qkv, res in zip(self.qkv, self.res):
            q, k, v = (
                qkv(x).view(b, m, 3, self.head_num, self.head_dim).permute(2, 0, 3, 1, 4)
            )  # [B, h, m, d']
            logits = q @ k.transpose(-1, -2)
            if self.scale:
                logits = logits / self.head_dim**0.5
            out = (torch.softmax(logits, dim=-1) @ v).transpose(1, 2).reshape(b, m, -1)
            if self.use_residual:
                out = out + res(x)
            x = torch.relu(out)
        return x.flatten(1) if self.flatten else x
