"""Stand-alone scorer of an exported click-through model (numpy, pandas, onnxruntime only).

This file is copied into every artifact written by
:func:`recutils.serving.onnx_export.export_onnx` as ``scorer.py``; it imports nothing
from recutils, so a serving process needs only ``numpy``, ``pandas`` and
``onnxruntime``::

    import importlib.util
    spec = importlib.util.spec_from_file_location("scorer", "artifact/scorer.py")
    scorer = importlib.util.module_from_spec(spec); spec.loader.exec_module(scorer)
    probabilities = scorer.OnnxScorer("artifact").predict(raw_rows_df)

It re-implements recutils' feature encoding from ``encoder.json`` + ``encoder.npz``
(vocabularies in the training frequency order, ``0`` = missing, ``1`` = out of
vocabulary, stable pandas hashing, bucket boundaries, standardization, tag / sequence
padding) with the same pandas operations, so encoded rows are identical to training.
The tests check every zoo model's scores against the in-process ``predict``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

SCORER_FORMAT = 1
PAD, OOV, FIRST_ID = 0, 1, 2


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _scalar_values(values: pd.Series) -> pd.Series:
    if _is_numeric(values):
        return values
    mask = values.isna()
    out = values.astype(str)
    if mask.any():
        out = out.where(~mask, None)
    return out


def _tokens(values: pd.Series, separator: str) -> tuple[np.ndarray, pd.Series]:
    values = values.reset_index(drop=True)
    if (
        values.dtype == object
        and values.map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any()
    ):
        lists = values
    else:
        lists = (
            values.astype("object")
            .where(values.notna(), "")
            .astype(str)
            .str.split(separator, regex=False)
        )
    exploded = lists.explode()
    keep = exploded.notna().to_numpy()
    exploded = exploded[keep].astype(str)
    exploded = exploded[(exploded != "").to_numpy()]
    return exploded.index.to_numpy(dtype=np.int64), exploded


class _Table:
    def __init__(self, entry: dict, arrays: dict) -> None:
        self.hash_buckets = entry.get("hash_buckets")
        self.vocab = None
        if entry.get("vocab"):
            values = np.asarray(arrays[entry["vocab"]])
            if entry.get("vocab_integer"):
                values = values.astype(np.int64)
            elif values.dtype.kind == "U":
                values = values.astype(object)
            self.vocab = pd.Index(values)
            self.vocab_numeric = _is_numeric(pd.Series(self.vocab))

    def lookup(self, values: pd.Series) -> np.ndarray:
        missing = values.isna().to_numpy()
        if self.hash_buckets is not None:
            text = values.fillna("").astype(str).to_numpy(dtype=object)
            ids = (pd.util.hash_array(text) % np.uint64(self.hash_buckets)).astype(
                np.int64
            ) + FIRST_ID
        else:
            if self.vocab_numeric and not _is_numeric(values):
                values = pd.to_numeric(values, errors="coerce")
            elif not self.vocab_numeric and _is_numeric(values):
                values = _scalar_values(values.astype(object))
            pos = self.vocab.get_indexer(pd.Index(values))
            ids = np.where(pos >= 0, pos + FIRST_ID, OOV).astype(np.int64)
        return np.where(missing, PAD, ids).astype(np.int64)


class OnnxScorer:
    """Scores raw feature rows with an exported model.

    Args:
        folder: The artifact folder (``model.onnx``, ``encoder.json``, ``encoder.npz``).
        threads: onnxruntime intra-op threads (None: its default).
    """

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.folder = Path(folder)
        meta = json.loads((self.folder / "encoder.json").read_text(encoding="utf-8"))
        if meta.get("format") != SCORER_FORMAT:
            raise ValueError(
                f"unsupported scorer format {meta.get('format')!r} (this scorer reads "
                f"{SCORER_FORMAT})"
            )
        with np.load(self.folder / "encoder.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        self.meta = meta
        self.features = meta["features"]
        self.tables = {name: _Table(entry, arrays) for name, entry in meta["tables"].items()}
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(
            str(self.folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    @property
    def columns(self) -> list[str]:
        """The raw columns a row needs."""
        return sorted({f["column"] for f in self.features})

    def encode(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        """The model inputs of ``df``'s rows (``ids``, ``dense``, ``bag__<name>``, ``series__<name>``)."""
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise KeyError(f"columns {missing} missing; the model reads {self.columns}")
        ids, dense, inputs = [], [], {}
        for f in self.features:
            values = df[f["column"]].reset_index(drop=True)
            kind = f["kind"]
            if kind == "dense":
                x = pd.to_numeric(values, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
                dense.append(
                    np.nan_to_num((x - f["mean"]) / f["scale"], nan=0.0).astype(np.float32)
                )
            elif f.get("boundaries") is not None:
                x = pd.to_numeric(values, errors="coerce").to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
                b = np.searchsorted(np.asarray(f["boundaries"]), x, side="right") + FIRST_ID
                ids.append(np.where(np.isnan(x), PAD, b).astype(np.int64))
            elif kind == "bag":
                inputs[f["input"]] = self._bag(f, values)
            elif kind == "series":
                inputs[f["input"]] = self._series(f, values)
            else:
                ids.append(self.tables[f["table"]].lookup(_scalar_values(values)))
        n = len(df)
        if self.meta["has_ids"]:
            inputs["ids"] = np.stack(ids, axis=1) if ids else np.zeros((n, 0), np.int64)
        if dense:
            inputs["dense"] = np.stack(dense, axis=1)
        return inputs

    @staticmethod
    def _positions(
        rows: np.ndarray, n: int, length: int, latest: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(keep mask, position) of list tokens: the first ``length``, or the last (sequences)."""
        pos = pd.Series(rows).groupby(rows, sort=False).cumcount().to_numpy()
        if latest:
            counts = np.bincount(rows, minlength=n)[rows]
            pos = pos - np.maximum(counts - length, 0)
        return (pos >= 0) & (pos < length), pos

    def _bag(self, f: dict, values: pd.Series) -> np.ndarray:
        rows, tokens = _tokens(values, f["separator"])
        ids = self.tables[f["table"]].lookup(tokens)
        length = int(f["length"])
        keep, pos = self._positions(rows, len(values), length, f["type"] == "sequence")
        out = np.zeros((len(values), length), dtype=np.int64)
        out[rows[keep], pos[keep]] = ids[keep]
        return out

    def _series(self, f: dict, values: pd.Series) -> np.ndarray:
        """A numeric sequence: the last ``length`` numbers, normalized, right-padded with 0."""
        rows, tokens = _tokens(values, f["separator"])
        x = pd.to_numeric(tokens, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        length = int(f["length"])
        keep, pos = self._positions(rows, len(values), length, True)
        out = np.zeros((len(values), length), dtype=np.float32)
        out[rows[keep], pos[keep]] = np.nan_to_num((x[keep] - f["mean"]) / f["scale"], nan=0.0)
        return out

    @property
    def outputs(self) -> list[str]:
        """The graph's outputs: ``probability``, or one per task of a multi-task model."""
        return [o.name for o in self.session.get_outputs()]

    def predict_outputs(self, df: pd.DataFrame, batch_size: int = 65536) -> dict[str, np.ndarray]:
        """Every output for each row of ``df``: output name -> float32 array (same order)."""
        inputs = self.encode(df)
        names = [i.name for i in self.session.get_inputs()]
        outputs = self.outputs
        parts: dict[str, list[np.ndarray]] = {o: [] for o in outputs}
        for start in range(0, len(df), batch_size):
            feed = {k: inputs[k][start : start + batch_size] for k in names}
            for name, value in zip(outputs, self.session.run(None, feed)):
                parts[name].append(value.reshape(-1))
        return {
            o: np.concatenate(v) if v else np.empty(0, dtype=np.float32) for o, v in parts.items()
        }

    def predict(self, df: pd.DataFrame, batch_size: int = 65536) -> np.ndarray:
        """Click probability of each row of ``df`` (float32, same order); for a multi-task
        model, the first task's prediction (all tasks: :meth:`predict_outputs`)."""
        return self.predict_outputs(df, batch_size)[self.outputs[0]]


__all__ = ["OnnxScorer"]
