"""Merging components: element-wise ``Add`` / ``Multiply`` and ``Concat``."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._torch import nn, torch


def _same_shapes(name: str, xs: Sequence[torch.Tensor]) -> None:
    if not xs:
        raise ValueError(f"{name} needs at least one input tensor")
    shapes = [tuple(x.shape) for x in xs]
    if any(s != shapes[0] for s in shapes[1:]):
        raise ValueError(f"{name} needs inputs of the same shape, got {[list(s) for s in shapes]}")


class Add(nn.Module):
    """Element-wise sum of tensors of one shape."""

    def forward(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        _same_shapes("Add", xs)
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Multiply(nn.Module):
    """Element-wise product of tensors of one shape."""

    def forward(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        _same_shapes("Multiply", xs)
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Concatenation along ``axis`` (default: the last)."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = int(axis)

    def forward(self, xs: Sequence[torch.Tensor]) -> torch.Tensor:
        if not xs:
            raise ValueError("Concat needs at least one input tensor")
        return torch.cat(list(xs), dim=self.axis)
