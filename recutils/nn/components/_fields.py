"""Helpers for components that take a list of per-field tensors."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._torch import torch


def flatten_inputs(xs: Sequence | torch.Tensor) -> list[torch.Tensor]:
    """Nested lists of tensors as one flat list (a lone tensor becomes ``[tensor]``)."""
    if isinstance(xs, torch.Tensor):
        return [xs]
    out: list[torch.Tensor] = []
    for x in xs:
        out.extend(flatten_inputs(x))
    return out


def input_dims_of(xs: Sequence | torch.Tensor) -> list[int]:
    """The per-field widths of ``xs``: ``[B, d]`` counts as one field, ``[B, n, d]`` as n."""
    dims: list[int] = []
    for x in flatten_inputs(xs):
        if x.dim() == 2:
            dims.append(int(x.shape[-1]))
        elif x.dim() == 3:
            dims.extend([int(x.shape[-1])] * int(x.shape[1]))
        else:
            raise ValueError(
                f"field inputs must be [batch, d] or [batch, fields, d], got {list(x.shape)}"
            )
    return dims


def stack_fields(
    owner: str, xs: Sequence | torch.Tensor, num_fields: int, dim: int
) -> torch.Tensor:
    """``xs`` (list of ``[B, d]`` / ``[B, n, d]``) as one ``[B, num_fields, dim]`` tensor."""
    parts = [x.unsqueeze(1) if x.dim() == 2 else x for x in flatten_inputs(xs)]
    v = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    if v.dim() != 3 or v.shape[1] != num_fields or v.shape[2] != dim:
        raise ValueError(
            f"{owner} was built for {num_fields} fields of width {dim}, got "
            f"{[list(p.shape) for p in parts]}"
        )
    return v


def common_dim(owner: str, input_dims: Sequence[int]) -> tuple[int, int]:
    """(number of fields, shared width) of ``input_dims``; all widths must agree."""
    dims = [int(d) for d in input_dims]
    if not dims:
        raise ValueError(f"{owner} needs at least one input field")
    if any(d != dims[0] for d in dims):
        raise ValueError(
            f"{owner} needs fields of one embedding width, got widths {dims}; give the "
            "features one embedding_dim"
        )
    return len(dims), dims[0]


__all__ = ["common_dim", "flatten_inputs", "input_dims_of", "stack_fields"]
