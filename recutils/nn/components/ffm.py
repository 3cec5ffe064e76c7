"""Field-aware factorization machine second-order interaction (Juan et al. 2016)."""

from __future__ import annotations

from collections.abc import Sequence

from recutils.nn.components._fields import common_dim, stack_fields
from recutils.nn.components._torch import nn, torch


class FFM(nn.Module):
    """Field-aware pairwise interactions ``sum_{i<j} <v_{i,f_j}, v_{j,f_i}> x_i x_j``.

    Each input feature ``i`` carries one latent vector per field, ``v_{i,f}`` of width
    ``k``: its embedding of width ``num_fields * k`` is read as the ``[num_fields, k]``
    block of the layout ``[n_features, n_fields, k]``. A pair of features ``i < j`` meets
    through the vector of ``i`` meant for ``j``'s field and the vector of ``j`` meant for
    ``i``'s field (Juan, Zhuang, Chin and Lin, "Field-aware factorization machines for
    CTR prediction", RecSys 2016, eq. 3). The value ``x_i`` is already in the embedding
    (a one-hot feature's vector is its row; a bucketized number's is its bucket's; a
    tag list's is the pooled rows), as in :class:`~recutils.nn.components.fm.FM`.

    All pairs are computed at once: two gathers of ``n (n - 1) / 2`` vectors and one
    product, O(n^2 k) per row, no loop over pairs or rows.

    Args:
        input_dims: Widths of the input features (all ``num_fields * k``; filled in by
            the backbone).
        field_ids: The field (0-based) of each input feature; by default every feature is
            its own field (``num_fields = len(input_dims)``), which is how the backbone's
            feature groups use it. With ``field_ids`` several features can share a field
            (``num_fields = max(field_ids) + 1``).
        reduce_sum: Sum over ``k`` (output ``[B, 1]``); otherwise return the ``[B, k]``
            sum of the pairs' element-wise products.

    Input: a list of ``[B, num_fields * k]`` tensors (one per feature) or ``[B, n, num_fields * k]``.
    Output: ``[B, 1]`` (or ``[B, k]``).
    """

    def __init__(
        self,
        input_dims: Sequence[int],
        field_ids: Sequence[int] | None = None,
        reduce_sum: bool = True,
    ) -> None:
        super().__init__()
        self.num_features, self.width = common_dim("FFM", input_dims)
        if self.num_features < 2:
            raise ValueError(
                f"FFM needs at least two input features to pair, got {self.num_features}"
            )
        fields = (
            list(range(self.num_features)) if field_ids is None else [int(f) for f in field_ids]
        )
        if len(fields) != self.num_features:
            raise ValueError(
                f"FFM got {len(fields)} field_ids for {self.num_features} input features"
            )
        if min(fields) < 0:
            raise ValueError(f"FFM field_ids must be >= 0, got {fields}")
        self.num_fields = max(fields) + 1
        if self.width % self.num_fields:
            raise ValueError(
                f"FFM needs each feature's embedding width to be num_fields * k (one k-vector per field): "
                f"width {self.width} is not a multiple of {self.num_fields} fields; set the features' "
                f"embedding_dim to {self.num_fields} * k"
            )
        self.k = self.width // self.num_fields
        self.field_ids = fields
        self.reduce_sum = bool(reduce_sum)
        left, right = torch.triu_indices(self.num_features, self.num_features, offset=1)
        field = torch.tensor(fields, dtype=torch.long)
        # rows of the [n_features * n_fields, k] table: v_{i, f_j} and v_{j, f_i} for every pair i < j
        self.register_buffer("left_index", left * self.num_fields + field[right], persistent=False)
        self.register_buffer("right_index", right * self.num_fields + field[left], persistent=False)
        self.output_dim = 1 if self.reduce_sum else self.k

    def forward(self, xs: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
        v = stack_fields("FFM", xs, self.num_features, self.width)  # [B, n, n_fields * k]
        table = v.reshape(v.shape[0], self.num_features * self.num_fields, self.k)
        pairs = table.index_select(1, self.left_index) * table.index_select(
            1, self.right_index
        )  # [B, P, k]
        out = pairs.sum(dim=1)
        return out.sum(dim=1, keepdim=True) if self.reduce_sum else out


__all__ = ["FFM"]
