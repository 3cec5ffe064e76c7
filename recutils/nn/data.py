"""Column tensors: encoded features packed once, batches taken by index (no per-row Python)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from recutils.exceptions import DataError
from recutils.nn.features import FeatureSpec
from recutils.utils.deps import require

torch = require("torch", "torch")

Batch = dict[str, "torch.Tensor"]
IDS, DENSE, LABEL = "ids", "dense", "label"
#: Teacher probabilities ``[rows, kd terms]`` of knowledge distillation (:mod:`recutils.nn.distill`).
SOFT_LABEL = "soft_label"


@dataclass
class BatchLayout:
    """Where each feature lives in a batch.

    Single-id features are columns of one int64 matrix ``batch["ids"]``, plain numeric
    features columns of one float32 matrix ``batch["dense"]``, and each multi-valued
    feature a padded int64 matrix ``batch["bag:<name>"]``, each numeric sequence a padded
    float32 matrix ``batch["series:<name>"]``.
    """

    id_features: list[str] = field(default_factory=list)
    dense_features: list[str] = field(default_factory=list)
    bag_features: list[str] = field(default_factory=list)
    series_features: list[str] = field(default_factory=list)

    @classmethod
    def from_specs(cls, specs: Mapping[str, FeatureSpec]) -> BatchLayout:
        return cls(
            id_features=[n for n, s in specs.items() if s.kind == "id"],
            dense_features=[n for n, s in specs.items() if s.kind == "dense"],
            bag_features=[n for n, s in specs.items() if s.kind == "bag"],
            series_features=[n for n, s in specs.items() if s.kind == "series"],
        )

    def id_column(self, name: str) -> int:
        return self.id_features.index(name)

    def dense_column(self, name: str) -> int:
        return self.dense_features.index(name)

    @staticmethod
    def bag_key(name: str) -> str:
        return f"bag:{name}"

    @staticmethod
    def series_key(name: str) -> str:
        return f"series:{name}"


class TensorData:
    """A data set as a few column tensors; :meth:`batch` gathers rows by index.

    Args:
        tensors: ``ids`` / ``dense`` / ``bag:<name>`` / ``series:<name>`` (and optionally
            ``label``) tensors
            with the same first dimension.
    """

    def __init__(self, tensors: Mapping[str, torch.Tensor]) -> None:
        sizes = {k: int(v.shape[0]) for k, v in tensors.items()}
        if len(set(sizes.values())) > 1:
            raise DataError(f"column tensors differ in length: {sizes}")
        self.tensors = dict(tensors)
        self._n = next(iter(sizes.values())) if sizes else 0

    @classmethod
    def from_encoded(
        cls, encoded: Mapping[str, np.ndarray], layout: BatchLayout, label: np.ndarray | None = None
    ) -> TensorData:
        """Pack the encoder's per-feature arrays into the layout's tensors (one copy)."""
        n = len(next(iter(encoded.values()))) if encoded else (0 if label is None else len(label))
        out: dict[str, torch.Tensor] = {}
        if layout.id_features:
            out[IDS] = torch.from_numpy(
                np.stack([encoded[f] for f in layout.id_features], axis=1).astype(
                    np.int64, copy=False
                )
            )
        else:
            out[IDS] = torch.zeros((n, 0), dtype=torch.int64)
        if layout.dense_features:
            out[DENSE] = torch.from_numpy(
                np.stack([encoded[f] for f in layout.dense_features], axis=1).astype(
                    np.float32, copy=False
                )
            )
        for f in layout.bag_features:
            out[layout.bag_key(f)] = torch.from_numpy(
                np.ascontiguousarray(encoded[f], dtype=np.int64)
            )
        for f in layout.series_features:
            out[layout.series_key(f)] = torch.from_numpy(
                np.ascontiguousarray(encoded[f], dtype=np.float32)
            )
        if label is not None:
            out[LABEL] = torch.from_numpy(np.asarray(label, dtype=np.float32))
        return cls(out)

    def __len__(self) -> int:
        return self._n

    @property
    def has_label(self) -> bool:
        return LABEL in self.tensors

    def to(self, device: str | torch.device) -> TensorData:
        return TensorData({k: v.to(device) for k, v in self.tensors.items()})

    def batch(self, index: torch.Tensor | slice) -> Batch:
        """Rows ``index`` of every column (one gather per tensor)."""
        if isinstance(index, slice):
            return {k: v[index] for k, v in self.tensors.items()}
        return {k: v.index_select(0, index) for k, v in self.tensors.items()}

    def subset(self, index: np.ndarray) -> TensorData:
        """A new data set of rows ``index``."""
        idx = torch.from_numpy(np.asarray(index, dtype=np.int64))
        return TensorData(self.batch(idx))


__all__ = ["Batch", "BatchLayout", "TensorData"]
