"""MaskNet's instance-guided mask blocks (Wang et al. 2021)."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._fields import flatten_inputs
from recutils.nn.components._torch import nn, torch
from recutils.nn.components.dropout import Dropout

MASKNET_MODES = ("serial", "parallel")


class MaskBlock(nn.Module):
    """``ReLU(LN(W (mask(m) * x)))`` with the instance-guided mask ``mask(m) = W_2 ReLU(W_1 m)``.

    Args:
        input_dims: ``[width of x]`` (the mask is computed from ``x`` too) or
            ``[width of x, width of m]`` (filled in by the backbone).
        output_dim: Width of the block's hidden output.
        aggregation_ratio: Width of the mask's hidden layer as a multiple of the mask input's.
        layer_norm_input: Layer-normalize ``x`` first (the paper does so for embeddings).
        dropout: Dropout on the output.

    Input: ``x`` ``[B, d_x]`` or the list ``[x, m]``. Output ``[B, output_dim]``.
    """

    def __init__(
        self,
        input_dims: Sequence[int],
        output_dim: int = 64,
        aggregation_ratio: float = 2.0,
        layer_norm_input: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        dims = [int(d) for d in input_dims]
        if len(dims) not in (1, 2):
            raise ValueError(f"MaskBlock takes x or [x, mask_input], got {len(dims)} inputs")
        self.input_dim, self.mask_input_dim = dims[0], dims[-1]
        hidden = max(1, int(round(aggregation_ratio * self.mask_input_dim)))
        self.mask = nn.Sequential(
            nn.Linear(self.mask_input_dim, hidden), nn.ReLU(), nn.Linear(hidden, self.input_dim)
        )
        self.input_norm = nn.LayerNorm(self.input_dim) if layer_norm_input else nn.Identity()
        self.hidden = nn.Linear(self.input_dim, int(output_dim), bias=False)
        self.norm = nn.LayerNorm(int(output_dim))
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()
        self.output_dim = int(output_dim)

    def forward(self, xs: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        parts = flatten_inputs(xs)
        x, m = parts[0], parts[-1]
        if len(parts) > 2 or x.shape[-1] != self.input_dim or m.shape[-1] != self.mask_input_dim:
            raise ValueError(
                f"MaskBlock expects x [batch, {self.input_dim}] and mask input "
                f"[batch, {self.mask_input_dim}], got {[list(p.shape) for p in parts]}"
            )
        return self.dropout(torch.relu(self.norm(self.hidden(self.mask(m) * self.input_norm(x)))))


class MaskNet(nn.Module):
    """Mask blocks over the feature embeddings, ``serial`` or ``parallel``.

    * ``serial``: block 1 masks the (layer-normalized) embeddings, block ``k`` masks
      block ``k-1``'s output; every mask is computed from the embeddings. Output: the
      last block's ``[B, block_dim]``.
    * ``parallel``: ``num_blocks`` blocks on the embeddings side by side, outputs
      concatenated ``[B, num_blocks * block_dim]`` (an MLP usually follows).

    Args:
        input_dim: Width of the concatenated embeddings ``[B, d]`` (filled in by the backbone).
        num_blocks, block_dim, aggregation_ratio, dropout: As in :class:`MaskBlock`.
        mode: ``serial`` or ``parallel``.
    """

    def __init__(
        self,
        input_dim: int,
        num_blocks: int = 3,
        block_dim: int = 64,
        mode: str = "serial",
        aggregation_ratio: float = 2.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if mode not in MASKNET_MODES:
            raise ValueError(f"MaskNet: mode {mode!r}; allowed: {list(MASKNET_MODES)}")
        if num_blocks < 1:
            raise ValueError(f"MaskNet needs num_blocks >= 1, got {num_blocks}")
        self.mode, self.input_dim = mode, int(input_dim)
        blocks = []
        for k in range(int(num_blocks)):
            x_dim = self.input_dim if mode == "parallel" or k == 0 else int(block_dim)
            blocks.append(
                MaskBlock(
                    [x_dim, self.input_dim],
                    block_dim,
                    aggregation_ratio,
                    layer_norm_input=x_dim == self.input_dim and k == 0 or mode == "parallel",
                    dropout=dropout,
                )
            )
        self.blocks = nn.ModuleList(blocks)
        self.output_dim = int(block_dim) * (int(num_blocks) if mode == "parallel" else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[-1] != self.input_dim:
            raise ValueError(f"MaskNet expects [batch, {self.input_dim}], got {list(x.shape)}")
        if self.mode == "parallel":
            return torch.cat([block([x, x]) for block in self.blocks], dim=1)
        h = x
        for block in self.blocks:
            h = block([h, x])
        return h
