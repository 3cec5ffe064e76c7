"""xDeepFM's compressed interaction network (Lian et al. 2018)."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._fields import common_dim, stack_fields
from recutils.nn.components._torch import nn, torch
from recutils.nn.components.mlp import make_activation


class CIN(nn.Module):
    """Compressed interaction network: vector-wise explicit interactions of bounded degree.

    Layer ``k`` forms every product ``x^{k-1}_h * x^0_m`` (element-wise over the
    embedding width ``D``) and compresses the ``H_{k-1} * m`` maps to ``H_k`` with a
    1x1 convolution (a linear map over the maps, shared across ``D``). Each layer's maps
    are sum-pooled over ``D``; the pooled vectors of all layers are concatenated.

    Args:
        input_dims: Widths of the input fields (all equal; filled in by the backbone).
        layer_sizes: ``H_k`` of each layer.
        split_half: Send half of each hidden layer's maps to the output and the other half
            to the next layer (the paper's default), which halves the cost.
        activation: Applied to each layer's maps (``linear`` as in the paper's formula).

    Input: a list of ``[B, D]`` field embeddings (or ``[B, m, D]``).
    Output: ``[B, sum of the output maps]`` (:attr:`output_dim`).
    """

    def __init__(
        self,
        input_dims: Sequence[int],
        layer_sizes: Sequence[int] = (64, 64),
        split_half: bool = True,
        activation: str = "linear",
    ) -> None:
        super().__init__()
        self.num_fields, self.dim = common_dim("CIN", input_dims)
        sizes = [int(s) for s in layer_sizes]
        if not sizes or any(s < 1 for s in sizes):
            raise ValueError(f"CIN needs positive layer_sizes, got {list(layer_sizes)}")
        if split_half and any(s % 2 for s in sizes[:-1]):
            raise ValueError(
                f"CIN with split_half needs even sizes before the last layer, got {sizes}"
            )
        self.split_half = bool(split_half)
        self.convs = nn.ModuleList()
        self.keep: list[int] = []
        prev = self.num_fields
        for k, size in enumerate(sizes):
            self.convs.append(nn.Linear(prev * self.num_fields, size))
            last = k == len(sizes) - 1
            nxt = size // 2 if self.split_half and not last else size
            self.keep.append(nxt)
            prev = nxt
        self.output_dim = sum(
            (s // 2 if self.split_half and k < len(sizes) - 1 else s) for k, s in enumerate(sizes)
        )
        self.act = make_activation(activation)

    def forward(self, xs: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        x0 = stack_fields("CIN", xs, self.num_fields, self.dim)  # [B, m, D]
        batch = x0.shape[0]
        xk = x0
        pooled = []
        for k, conv in enumerate(self.convs):
            z = torch.einsum("bhd,bmd->bhmd", xk, x0).reshape(batch, -1, self.dim)  # [B, H*m, D]
            maps = self.act(conv(z.transpose(1, 2)).transpose(1, 2))  # [B, H_k, D]
            last = k == len(self.convs) - 1
            if self.split_half and not last:
                xk, out = maps.split(self.keep[k], dim=1)
            else:
                xk, out = maps, maps
            pooled.append(out.sum(dim=-1))
        return torch.cat(pooled, dim=1)
