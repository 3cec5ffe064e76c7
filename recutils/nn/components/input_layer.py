"""Embedding tables and the per-feature-group input layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from recutils.nn.components._torch import nn, torch


class EmbeddingBank(nn.Module):
    """Every embedding table of a model, stored as one ``nn.Embedding`` per width.

    Tables are registered by key with their number of rows and width before
    :meth:`finalize`; tables of one width are stacked with row offsets, so a group of
    id features of one width is embedded with a single gather.

    Args:
        init_std: Standard deviation of the normal initialization.
    """

    def __init__(self, init_std: float = 0.01) -> None:
        super().__init__()
        self.init_std = float(init_std)
        self._pending: dict[str, tuple[int, int]] = {}
        self.offsets: dict[str, tuple[int, int]] = {}  # key -> (dim, row offset)
        self.storage = nn.ModuleDict()
        self._finalized = False
        self.regularize = False
        self._reg_terms: list[torch.Tensor] = []

    def register(self, key: str, num_embeddings: int, dim: int) -> None:
        """Declare a table (idempotent for the same size; keys are unique per size)."""
        if self._finalized:
            raise RuntimeError("EmbeddingBank is finalized")
        old = self._pending.get(key)
        if old is not None and old != (num_embeddings, dim):
            raise ValueError(f"table {key!r} registered with sizes {old} and {(num_embeddings, dim)}")
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
        """Rows ``ids`` (already offset) of the width-``dim`` storage."""
        out = self.storage[str(dim)](ids)
        if self.regularize and self.training:
            self._reg_terms.append(out.pow(2).sum())
        return out

    def pop_regularization(self) -> torch.Tensor | None:
        """``sum(e**2) / 2`` over the embeddings looked up since the last call."""
        if not self._reg_terms:
            return None
        total = torch.stack(self._reg_terms).sum() * 0.5
        self._reg_terms = []
        return total


@dataclass
class GroupFeature:
    """How one feature of a group is read and embedded."""

    name: str
    kind: str  # id | dense | bag
    column: int  # column in ids / dense, -1 for bags
    table_key: str | None
    dim: int
    pooling: str = "mean"


class InputLayer(nn.Module):
    """Embeds the features of one group.

    DEEP groups embed each id / bag feature with its own width and pass numeric
    features through as ``[B, 1]``; WIDE groups embed every feature (numeric ones by a
    learned weight) with width ``wide_output_dim``.

    Args:
        features: The group's features, in order.
        bank: The model's :class:`EmbeddingBank` (finalized).
        wide: Whether this is a WIDE group.
        wide_output_dim: Width of a WIDE group's features.
        only_output_feature_list: Return the list of ``[B, d_f]`` tensors instead of
            their concatenation.
    """

    def __init__(self, features: Sequence[GroupFeature], bank: EmbeddingBank, *, wide: bool = False,
                 wide_output_dim: int = 1, only_output_feature_list: bool = False) -> None:
        super().__init__()
        self.features = list(features)
        self.bank = [bank]  # a list so the bank is not registered twice as a submodule
        self.wide = bool(wide)
        self.wide_output_dim = int(wide_output_dim)
        self.only_output_feature_list = bool(only_output_feature_list)
        # one gather per width for single-id features
        by_dim: dict[int, list[int]] = {}
        for pos, f in enumerate(self.features):
            if f.kind == "id":
                by_dim.setdefault(f.dim, []).append(pos)
        self._id_plans = []
        for dim, positions in by_dim.items():
            cols = torch.tensor([self.features[p].column for p in positions], dtype=torch.int64)
            offs = torch.tensor([bank.offsets[self.features[p].table_key][1] for p in positions],
                                dtype=torch.int64)
            self.register_buffer(f"_cols_{dim}", cols, persistent=False)
            self.register_buffer(f"_offs_{dim}", offs, persistent=False)
            self._id_plans.append((dim, positions))
        dense = [f for f in self.features if f.kind == "dense"]
        self.dense_weight = (nn.Parameter(torch.zeros(len(dense), self.wide_output_dim))
                             if self.wide and dense else None)
        self._dense_rank = {f.name: i for i, f in enumerate(dense)}
        self._all_ids_one_dim = len(self._id_plans) == 1 and len(self._id_plans[0][1]) == len(self.features)
        self.output_dims = [f.dim for f in self.features]

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        bank = self.bank[0]
        outs: list[torch.Tensor | None] = [None] * len(self.features)
        for dim, positions in self._id_plans:
            ids = batch["ids"].index_select(1, getattr(self, f"_cols_{dim}")) + getattr(self, f"_offs_{dim}")
            emb = bank.lookup(dim, ids)  # [B, n, dim]
            if self._all_ids_one_dim and not self.only_output_feature_list:
                return emb.flatten(1)
            for j, p in enumerate(positions):
                outs[p] = emb[:, j]
        for p, f in enumerate(self.features):
            if f.kind == "bag":
                ids = batch[f"bag:{f.name}"]
                mask = (ids > 0).unsqueeze(-1)
                offset = bank.offsets[f.table_key][1]  # type: ignore[index]
                emb = bank.lookup(f.dim, ids + offset) * mask
                pooled = emb.sum(dim=1)
                if f.pooling == "mean":
                    pooled = pooled / mask.sum(dim=1).clamp(min=1)
                outs[p] = pooled
            elif f.kind == "dense":
                x = batch["dense"][:, f.column:f.column + 1]
                if self.wide:
                    x = x * self.dense_weight[self._dense_rank[f.name]]  # type: ignore[index]
                outs[p] = x
        if self.only_output_feature_list:
            return outs  # type: ignore[return-value]
        return torch.cat(outs, dim=1)  # type: ignore[arg-type]
