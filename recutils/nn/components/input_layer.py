"""Embedding tables and the per-feature-group input layer.

Speed notes (the training loop spends its time here and in the MLP's matrix products):

* every table of one width lives in one ``nn.Embedding`` with row offsets, and an
  input layer gathers all the rows it needs of one width (single-id features and the
  padded id lists of multi-valued features together) with a single index operation;
* on the CPU the gradient of that gather is a ``scatter_add`` into the table
  (deterministic, several times faster than ``torch.nn.functional.embedding``'s dense
  backward for the small batches of click-through training);
* with :attr:`EmbeddingBank.sparse` the gather is ``embedding(..., sparse=True)``, so
  the tables get sparse gradients (for ``sparse_adam`` or sparse ``adagrad``);
* multi-valued features are pooled as the gathered rows weighted by the padding mask
  (divided by the number of ids for mean pooling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from recutils.nn.components._torch import nn, torch

F = torch.nn.functional


class _RowGather(torch.autograd.Function):
    """``weight[ids]`` whose backward scatters the rows' gradients into a dense table."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(ids)
        ctx.num_rows = weight.shape[0]
        dim = weight.shape[1]
        return weight.index_select(0, ids.reshape(-1)).view(*ids.shape, dim)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (ids,) = ctx.saved_tensors
        dim = grad.shape[-1]
        flat = grad.reshape(-1, dim)
        index = ids.reshape(-1, 1).expand(-1, dim)
        out = flat.new_zeros(ctx.num_rows, dim)
        out.scatter_add_(0, index, flat)
        return out, None


def gather_rows(weight: torch.Tensor, ids: torch.Tensor, *, sparse: bool = False) -> torch.Tensor:
    """Rows ``ids`` of ``weight`` (``[*ids.shape, d]``) with the fastest gradient for the device.

    Args:
        weight: A table ``[rows, d]``.
        ids: Row indices (any shape, int64).
        sparse: Give ``weight`` a sparse gradient (``torch.sparse_coo`` tensor).
    """
    if sparse:
        return F.embedding(ids, weight, sparse=True)
    if weight.device.type == "cpu" and weight.requires_grad and torch.is_grad_enabled():
        return _RowGather.apply(weight, ids)
    return F.embedding(ids, weight)


class EmbeddingBank(nn.Module):
    """Every embedding table of a model, stored as one ``nn.Embedding`` per width.

    Tables are registered by key with their number of rows and width before
    :meth:`finalize`; tables of one width are stacked with row offsets, so a group of
    id features of one width is embedded with a single gather.

    Args:
        init_std: Standard deviation of the normal initialization.

    Attributes:
        regularize: Record ``sum(e**2)`` of the rows looked up in training (see
            :meth:`pop_regularization`).
        sparse: Give the tables sparse gradients (set by the trainer for sparse optimizers).
    """

    def __init__(self, init_std: float = 0.01) -> None:
        super().__init__()
        self.init_std = float(init_std)
        self._pending: dict[str, tuple[int, int]] = {}
        self.offsets: dict[str, tuple[int, int]] = {}  # key -> (dim, row offset)
        self.storage = nn.ModuleDict()
        self._finalized = False
        self.regularize = False
        self.sparse = False
        self._reg_terms: list[torch.Tensor] = []

    def register(self, key: str, num_embeddings: int, dim: int) -> None:
        """Declare a table (idempotent for the same size; keys are unique per size)."""
        if self._finalized:
            raise RuntimeError("EmbeddingBank is finalized")
        old = self._pending.get(key)
        if old is not None and old != (num_embeddings, dim):
            raise ValueError(
                f"table {key!r} registered with sizes {old} and {(num_embeddings, dim)}"
            )
        self._pending[key] = (int(num_embeddings), int(dim))

    def finalize(self, generator: torch.Generator | None = None) -> None:
        """Create the storage tensors."""
        rows: dict[int, int] = {}
        for key, (n, dim) in self._pending.items():
            self.offsets[key] = (dim, rows.get(dim, 0))
            rows[dim] = rows.get(dim, 0) + n
        for dim, n in rows.items():
            emb = nn.Embedding(n, dim)
            nn.init.normal_(emb.weight, std=self.init_std, generator=generator)
            self.storage[str(dim)] = emb
        self._finalized = True

    def table(self, dim: int) -> nn.Embedding:
        return self.storage[str(dim)]

    def lookup(self, dim: int, ids: torch.Tensor) -> torch.Tensor:
        """Rows ``ids`` (already offset) of the width-``dim`` storage: ``[*ids.shape, dim]``."""
        out = gather_rows(self.storage[str(dim)].weight, ids, sparse=self.sparse)
        if self.regularize and self.training:
            self._reg_terms.append(out.pow(2).sum())
        return out

    def pop_regularization(self) -> torch.Tensor | None:
        """``sum(e**2) / 2`` over the embeddings looked up since the last call."""
        if not self._reg_terms:
            return None
        terms = self._reg_terms
        self._reg_terms = []
        total = terms[0] if len(terms) == 1 else torch.stack(terms).sum()
        return total * 0.5


@dataclass
class GroupFeature:
    """How one feature of a group is read and embedded."""

    name: str
    kind: str  # id | dense | bag
    column: int  # column in ids / dense, -1 for bags
    table_key: str | None
    dim: int
    pooling: str = "mean"


@dataclass
class _BagPlan:
    position: int
    key: str  # batch key ``bag:<name>``
    offset: int
    mean: bool


class InputLayer(nn.Module):
    """Embeds the features of one group.

    DEEP groups embed each id / bag feature with its own width and pass numeric
    features through as ``[B, 1]``; WIDE groups embed every feature (numeric ones by a
    learned weight) with width ``wide_output_dim``.

    All id and bag features of one width are gathered with one lookup (see the module
    docstring); bags are mean- or sum-pooled over their non-padding ids (id 0 pads).

    Args:
        features: The group's features, in order.
        bank: The model's :class:`EmbeddingBank` (finalized).
        wide: Whether this is a WIDE group.
        wide_output_dim: Width of a WIDE group's features.
        only_output_feature_list: Return the list of ``[B, d_f]`` tensors instead of
            their concatenation.
    """

    def __init__(
        self,
        features: Sequence[GroupFeature],
        bank: EmbeddingBank,
        *,
        wide: bool = False,
        wide_output_dim: int = 1,
        only_output_feature_list: bool = False,
    ) -> None:
        super().__init__()
        self.features = list(features)
        self.bank = [bank]  # a list so the bank is not registered twice as a submodule
        self.wide = bool(wide)
        self.wide_output_dim = int(wide_output_dim)
        self.only_output_feature_list = bool(only_output_feature_list)
        # one gather per width: the width's single-id columns first, then its bags
        by_dim: dict[int, list[int]] = {}
        for pos, f in enumerate(self.features):
            if f.kind in ("id", "bag"):
                by_dim.setdefault(f.dim, []).append(pos)
        self._id_plans: list[tuple[int, list[int]]] = []  # (dim, positions of single-id features)
        self._bag_plans: dict[int, list[_BagPlan]] = {}
        # what one width's gather reads: layers with equal keys (one group read as a list by
        # one block and concatenated by another) share the gather within a forward pass
        self._share_keys: dict[int, tuple] = {}
        for dim, positions in by_dim.items():
            ids = [p for p in positions if self.features[p].kind == "id"]
            cols = torch.tensor([self.features[p].column for p in ids], dtype=torch.int64)
            offs = torch.tensor(
                [bank.offsets[self.features[p].table_key][1] for p in ids], dtype=torch.int64
            )
            self.register_buffer(f"_cols_{dim}", cols, persistent=False)
            self.register_buffer(f"_offs_{dim}", offs, persistent=False)
            self._id_plans.append((dim, ids))
            self._bag_plans[dim] = [
                _BagPlan(
                    p,
                    f"bag:{self.features[p].name}",
                    bank.offsets[self.features[p].table_key][1],
                    self.features[p].pooling == "mean",
                )
                for p in positions
                if self.features[p].kind == "bag"
            ]
            self._share_keys[dim] = (
                dim,
                tuple((self.features[p].column, self.features[p].table_key) for p in ids),
                tuple((b.key, b.offset, b.mean) for b in self._bag_plans[dim]),
            )
        dense = [f for f in self.features if f.kind == "dense"]
        self.dense_weight = (
            nn.Parameter(torch.zeros(len(dense), self.wide_output_dim))
            if self.wide and dense
            else None
        )
        self._dense_rank = {f.name: i for i, f in enumerate(dense)}
        # the common layout: only id/bag features of one width, single ids first
        self._simple = (
            len(self._id_plans) == 1
            and not dense
            and self._id_plans[0][1] == list(range(len(self._id_plans[0][1])))
            and [b.position for b in self._bag_plans[self._id_plans[0][0]]]
            == list(range(len(self._id_plans[0][1]), len(self.features)))
        )
        self.output_dims = [f.dim for f in self.features]

    def _embed_width(
        self,
        dim: int,
        ids_pos: list[int],
        batch: Mapping[str, torch.Tensor],
        shared: dict | None = None,
    ) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
        """``([B, n_ids, dim] or None, pooled bags [B, dim] in plan order)`` with one gather.

        With ``shared`` (a dict that lives for one forward pass) a gather another input
        layer already made of the same columns and tables is reused, not repeated.
        """
        key = self._share_keys[dim]
        if shared is not None and key in shared:
            return shared[key]
        parts = []
        if ids_pos:
            parts.append(
                batch["ids"].index_select(1, getattr(self, f"_cols_{dim}"))
                + getattr(self, f"_offs_{dim}")
            )
        bags = self._bag_plans[dim]
        bag_ids = [batch[b.key] for b in bags]
        parts.extend(ids + b.offset for ids, b in zip(bag_ids, bags))
        index = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        emb = self.bank[0].lookup(dim, index)  # [B, K, dim]
        n = len(ids_pos)
        single = emb[:, :n] if n else None
        pooled = []
        start = n
        for ids, b in zip(bag_ids, bags):
            length = ids.shape[1]
            weights = (ids > 0).to(emb.dtype)
            if b.mean:
                weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1)
            rows = emb[:, start : start + length]
            pooled.append((rows * weights.unsqueeze(-1)).sum(dim=1))
            start += length
        if shared is not None:
            shared[key] = (single, pooled)
        return single, pooled

    def forward(
        self, batch: Mapping[str, torch.Tensor], shared: dict | None = None
    ) -> torch.Tensor | list[torch.Tensor]:
        """The group's embeddings: a list of ``[B, d_f]`` or their concatenation ``[B, sum d_f]``.

        ``shared``: a dict kept for one forward pass of the network; input layers given the
        same dict gather each set of embeddings once (see :meth:`_embed_width`).
        """
        if self._simple:
            dim, ids_pos = self._id_plans[0]
            single, pooled = self._embed_width(dim, ids_pos, batch, shared)
            if self.only_output_feature_list:
                return (list(single.unbind(1)) if single is not None else []) + pooled
            if not pooled:
                return single.flatten(1)  # type: ignore[union-attr]
            parts = ([single.flatten(1)] if single is not None else []) + pooled
            return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        outs: list[torch.Tensor | None] = [None] * len(self.features)
        for dim, ids_pos in self._id_plans:
            single, pooled = self._embed_width(dim, ids_pos, batch, shared)
            if single is not None:
                for p, value in zip(ids_pos, single.unbind(1)):
                    outs[p] = value
            for b, value in zip(self._bag_plans[dim], pooled):
                outs[b.position] = value
        for p, f in enumerate(self.features):
            if f.kind == "dense":
                x = batch["dense"][:, f.column : f.column + 1]
                if self.wide:
                    x = x * self.dense_weight[self._dense_rank[f.name]]  # type: ignore[index]
                outs[p] = x
        if self.only_output_feature_list:
            return outs  # type: ignore[return-value]
        return torch.cat(outs, dim=1)  # type: ignore[arg-type]
