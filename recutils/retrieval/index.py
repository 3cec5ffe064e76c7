"""Top-k search over item embeddings: an exact numpy index and approximate faiss indexes.

Every index keeps the same contract (:class:`VectorIndex`):

* ``build(vectors [n, d], ids [n], model_version=None) -> self``;
* ``search(queries [q, d], k, exclude=None) -> (ids [q, k], scores [q, k])``, best
  first; ``exclude`` items never appear;
* ``save(folder)`` / ``load(folder, expected_model_version=None)``.

:class:`BruteForceIndex` is exact (a blocked matrix product and ``argpartition``, its
memory bounded by ``block_size``) and needs nothing but numpy: it is the reference the
approximate indexes are measured against (:func:`recall_at_k`). :class:`FaissIndex`
wraps faiss (``pip install "recutils[retrieval]"``): ``flat`` (exact), ``ivf``
(inverted lists over k-means cells) and ``hnsw`` (a navigable small-world graph).

Metrics: ``"ip"`` (inner product), ``"cosine"`` (vectors and queries normalised to unit
length in float32, then inner product) and ``"l2"`` (Euclidean). Scores are
similarities for ``ip`` and ``cosine`` (higher is better) and *squared* Euclidean
distances for ``l2`` (lower is better), as faiss reports them; results are ordered best
first in every case.

Saved indexes are folders: ``manifest.json`` (``format``, ``kind``, ``metric``,
``dim``, ``n``, ``params``, ``model_version``, ``recutils_version`` and an ``artifact``
section with the SHA-256 and size of every file and a digest of the manifest itself),
``arrays.npz`` (ids, and the vectors of a brute-force index) read with
``allow_pickle=False``, and for faiss indexes ``index.faiss`` written by
``faiss.write_index``. :func:`load_index` checks the manifest, the checksums and the
model version before it reads anything else, then checks each array before use.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import uuid
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.constants import SEED
from recutils.exceptions import ConfigError, DataError, NotFittedError, StateError
from recutils.models.persistence import (
    MANIFEST,
    MAX_MANIFEST_BYTES,
    ArtifactArrayError,
    ArtifactError,
    ArtifactIntegrityError,
    ArtifactVersionError,
    SavedArrays,
    canonical_digest,
    check_array,
    check_relative_path,
    list_files,
    sha256_file,
    write_manifest,
)
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

#: Value of the manifest's ``format`` key for a saved index.
INDEX_FORMAT = "recutils-ann-index"
#: Version of the saved index format; a newer one is refused.
INDEX_FORMAT_VERSION = 1
#: The metrics every index supports.
METRICS = ("ip", "cosine", "l2")
#: The faiss index kinds.
FAISS_KINDS = ("flat", "ivf", "hnsw")
ARRAYS_FILE = "arrays.npz"
FAISS_FILE = "index.faiss"

#: What ``search`` accepts as ``exclude``: per-query id arrays, a sparse matrix, or ``None``.
Exclude = Any


class IndexVersionError(ArtifactVersionError):
    """A saved index was built for another model version than the one expected."""


# ------------------------------------------------------------------ input checks
def _check_metric(metric: Any) -> str:
    if metric not in METRICS:
        raise ConfigError(f"metric must be one of {list(METRICS)}, got {metric!r}.")
    return metric


def _positive_int(name: str, value: Any, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        allowed = "a positive integer or None" if allow_none else "a positive integer"
        raise ConfigError(f"{name} must be {allowed}, got {value!r}.")
    return int(value)


def _as_matrix(values: Any, what: str) -> np.ndarray:
    """``values`` as a C-contiguous float32 ``[rows, d]`` matrix of finite numbers."""
    array = np.asarray(values)
    if array.ndim != 2:
        raise DataError(f"{what} must be a 2-D array [rows, dim], got shape {array.shape}.")
    if array.dtype.kind not in "iuf":
        raise DataError(f"{what} must hold real numbers, got dtype {array.dtype}.")
    array = np.ascontiguousarray(array, dtype=np.float32)
    finite = np.isfinite(array)
    if not finite.all():
        rows = np.flatnonzero(~finite.all(axis=1))
        raise DataError(
            f"{what} hold NaN or infinite values in {rows.size} row(s), "
            f"e.g. row {int(rows[0])} (after conversion to float32)."
        )
    return array


def _normalise(matrix: np.ndarray, what: str) -> np.ndarray:
    """Rows scaled to unit length in float32; a zero row is an error."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True).astype(np.float32)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if zero.size:
        raise DataError(
            f"cosine metric: {zero.size} of the {what} have zero norm "
            f"(e.g. row {int(zero[0])}); their direction is undefined."
        )
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def _as_ids(ids: Any, n: int) -> np.ndarray:
    """Item ids as a pickle-free numpy array (integers or strings), unique, length ``n``."""
    array = np.asarray(ids)
    if array.ndim != 1:
        raise DataError(f"ids must be 1-D, got shape {array.shape}.")
    if array.dtype.kind == "O":
        if not all(isinstance(v, str) for v in array):
            raise DataError(
                "ids must all be integers or all be strings; got a mix or other objects."
            )
        array = array.astype(str)
    if array.dtype.kind not in "iuU":
        raise DataError(f"ids must be integers or strings, got dtype {array.dtype}.")
    if len(array) != n:
        raise DataError(f"ids has {len(array)} entries but vectors has {n} rows.")
    index = pd.Index(array)
    if not index.is_unique:
        repeated = index[index.duplicated()].unique()
        raise DataError(f"ids must be unique; {len(repeated)} repeat, e.g. {repeated[0]!r}.")
    return array


# ------------------------------------------------------------------ the base class
class VectorIndex(ABC):
    """Exact or approximate top-k search over item vectors (see the module docstring).

    Subclasses supply how rows are found (:meth:`_build_rows`, :meth:`_search_rows`) and
    stored (:meth:`_write`, :meth:`_read`); this class checks inputs, maps rows to ids,
    removes excluded items and writes and verifies the saved folder.

    Attributes:
        metric: ``"ip"``, ``"cosine"`` or ``"l2"``.
        ids_: The item ids given to :meth:`build`, in build order (row ``i`` is ``ids_[i]``).
        dim_: The vector dimension.
        model_version_: The model version given to :meth:`build` (``None`` if none).
    """

    #: Name written to the manifest's ``kind`` (a key of :data:`INDEX_KINDS`).
    kind: str

    def __init__(self, metric: str = "ip") -> None:
        self.metric = _check_metric(metric)
        self.ids_: np.ndarray | None = None
        self.dim_: int | None = None
        self.model_version_: str | None = None
        self._id_index: pd.Index | None = None

    # ---------------------------------------------------------------- hooks
    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The index's parameters as written to the manifest (JSON values)."""

    @abstractmethod
    def _build_rows(self, vectors: np.ndarray) -> None:
        """Index ``vectors`` (float32, normalised for cosine); row ``i`` is ``ids_[i]``."""

    @abstractmethod
    def _search_rows(
        self, queries: np.ndarray, k: int, exhaustive: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``[q, k]`` (int64, ``-1`` where nothing was found) and scores, best first.

        ``exhaustive``: every row must be reachable (an exact pass over all ``n``).
        """

    @abstractmethod
    def _write(self, folder: Path) -> dict[str, np.ndarray]:
        """Write the kind's own files into ``folder``; return arrays for ``arrays.npz``."""

    @abstractmethod
    def _read(self, folder: Path, arrays: SavedArrays, n: int) -> None:
        """Restore the kind's state from ``folder`` and the checked ``arrays``."""

    # ---------------------------------------------------------------- state
    @property
    def is_built(self) -> bool:
        """Whether :meth:`build` (or :func:`load_index`) has run."""
        return self.ids_ is not None

    @property
    def n_items(self) -> int:
        """Number of indexed items."""
        return 0 if self.ids_ is None else len(self.ids_)

    def _require_built(self) -> None:
        if self.ids_ is None:
            raise NotFittedError(
                f"{type(self).__name__} is empty: call build(vectors, ids) or load an index first."
            )

    def _set_ids(self, ids: np.ndarray, dim: int, model_version: str | None) -> None:
        self.ids_ = ids
        self.dim_ = dim
        self.model_version_ = model_version
        self._id_index = pd.Index(ids)

    # ---------------------------------------------------------------- build
    def build(self, vectors: Any, ids: Any, *, model_version: str | None = None) -> VectorIndex:
        """Index ``vectors`` under ``ids`` (replacing anything indexed before).

        Args:
            vectors: ``[n, d]`` real numbers, converted to float32 (a copy; the input is
                never changed).
            ids: ``n`` unique item ids, all integers or all strings.
            model_version: The version of the model that made the vectors; recorded in the
                saved manifest and checked by ``load(..., expected_model_version=...)``.

        Returns:
            ``self``.

        Raises:
            DataError: empty input, a row with NaN or infinity, ids of the wrong length,
                kind or with repeats, or (cosine) a zero vector.
            ConfigError: ``model_version`` is neither a string nor ``None``.
        """
        if model_version is not None and not isinstance(model_version, str):
            raise ConfigError(f"model_version must be a string or None, got {model_version!r}.")
        matrix = _as_matrix(vectors, "vectors")
        n, dim = matrix.shape
        if n == 0 or dim == 0:
            raise DataError(f"cannot build an index from an empty array (shape {matrix.shape}).")
        clean_ids = _as_ids(ids, n)
        if self.metric == "cosine":
            matrix = _normalise(matrix, "vectors")
        self._build_rows(matrix)
        self._set_ids(clean_ids, dim, model_version)
        logger.info("built %s index: %d items, dim %d, metric %s", self.kind, n, dim, self.metric)
        return self

    # ---------------------------------------------------------------- search
    def _check_queries(self, queries: Any) -> np.ndarray:
        matrix = _as_matrix(queries, "queries")
        if matrix.shape[1] != self.dim_:
            raise DataError(
                f"queries have dimension {matrix.shape[1]} but the index has dimension {self.dim_}."
            )
        return _normalise(matrix, "queries") if self.metric == "cosine" else matrix

    def _exclusion_codes(self, exclude: Exclude, q: int) -> tuple[np.ndarray, np.ndarray]:
        """Excluded (query, row) pairs as sorted unique codes ``query * n + row``, and counts."""
        n = self.n_items
        if sp.issparse(exclude):
            matrix = sp.csr_matrix(exclude)
            if matrix.shape != (q, n):
                raise DataError(
                    f"exclude as a sparse matrix must have shape (queries, items) = ({q}, {n}) "
                    f"with columns in build order, got {matrix.shape}."
                )
            query = np.repeat(np.arange(q, dtype=np.int64), np.diff(matrix.indptr))
            stored = matrix.data != 0  # an explicitly stored zero excludes nothing
            query, rows = query[stored], matrix.indices[stored].astype(np.int64)
        else:
            if isinstance(exclude, (str, bytes)) or not isinstance(exclude, Sequence):
                raise DataError(
                    "exclude must be None, a sparse (queries x items) matrix, or a "
                    f"list of id arrays, one per query; got {type(exclude).__name__}."
                )
            if len(exclude) != q:
                raise DataError(f"exclude has {len(exclude)} entries for {q} queries.")
            parts = [np.asarray([] if e is None else e).ravel() for e in exclude]
            lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=q)
            query = np.repeat(np.arange(q, dtype=np.int64), lengths)
            flat = np.concatenate(parts) if lengths.sum() else np.array([], dtype=np.int64)
            rows = self._id_index.get_indexer(flat).astype(np.int64) if flat.size else flat
            known = rows >= 0  # ids not in the index can never be returned anyway
            query, rows = query[known], rows[known].astype(np.int64)
        codes = np.unique(query * n + rows)
        return codes, np.bincount(codes // n, minlength=q) if q else np.zeros(0, np.int64)

    def search(
        self, queries: Any, k: int, exclude: Exclude = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items for each query, best first.

        Excluded items never appear. Each query is searched for ``k`` plus its own number of
        excluded items (rounded up to a power of two, so that queries share a few searches)
        and the excluded ones are dropped; a query left with fewer than ``k`` (an
        approximate index that found too few) is searched again wider, and finally
        exhaustively, so every row of the result is full.

        Args:
            queries: ``[q, d]`` real numbers (``d`` the index's dimension).
            k: Items per query, ``1 <= k <= n``.
            exclude: ``None``; a list of ``q`` arrays of item ids (ids not in the index
                are ignored); or a sparse ``[q, n]`` matrix whose non-zero columns (rows of
                the index, in build order) are excluded, such as a user-item matrix of seen
                items.

        Returns:
            ``(ids, scores)``, both ``[q, k]``: ids with the dtype of :attr:`ids_`;
            float32 similarities (``ip``, ``cosine``) or squared distances (``l2``).

        Raises:
            NotFittedError: nothing was built.
            DataError: ``k`` out of range, queries with NaN/infinity, of the wrong
                dimension or (cosine) zero norm, a malformed ``exclude``, or a query whose
                exclusions leave fewer than ``k`` items.
        """
        self._require_built()
        n = self.n_items
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise DataError(f"k must be an integer, got {k!r}.")
        k = int(k)
        if k < 1 or k > n:
            raise DataError(
                f"k must be between 1 and the number of indexed items ({n}), got k={k}."
            )
        matrix = self._check_queries(queries)
        q = len(matrix)
        if exclude is None:
            codes, counts = None, np.zeros(q, dtype=np.int64)
        else:
            codes, counts = self._exclusion_codes(exclude, q)
        if q and n - counts.max() < k:
            worst = int(np.argmax(counts))
            raise DataError(
                f"query {worst} excludes {int(counts[worst])} of the {n} items, "
                f"leaving {n - int(counts[worst])} < k={k}; lower k."
            )
        rows_out = np.empty((q, k), dtype=np.int64)
        scores_out = np.empty((q, k), dtype=np.float32)
        # each query is searched only as wide as its own exclusions need, in groups of widths
        # rounded up to a power of two (a few searches, not one as wide as the worst query);
        # a query without exclusions is searched exactly k wide
        need = k + counts
        rounded = np.left_shift(1, np.ceil(np.log2(np.maximum(need, 1))).astype(np.int64))
        widths = np.minimum(n, np.where(counts > 0, rounded, k))
        for width in np.unique(widths):
            self._search_group(
                matrix, np.flatnonzero(widths == width), int(width), k, codes, rows_out, scores_out
            )
        return self.ids_[rows_out], scores_out

    def _search_group(
        self,
        matrix: np.ndarray,
        pending: np.ndarray,
        width: int,
        k: int,
        codes: np.ndarray | None,
        rows_out: np.ndarray,
        scores_out: np.ndarray,
    ) -> None:
        """Fill ``rows_out`` / ``scores_out`` for the queries ``pending``, searched ``width``
        wide, widened (finally exhaustively) for any query left with fewer than ``k``.

        A query the approximate search ran out of candidates for (rows of ``-1``: its IVF
        cells hold fewer than ``width`` vectors) goes straight to the exhaustive pass, which
        a wider search of the same cells would not avoid."""
        n = self.n_items
        exhaustive = False
        while pending.size:
            rows, scores = self._search_rows(matrix[pending], width, exhaustive)
            missing = rows < 0
            bad = missing.copy()
            if codes is not None and codes.size:
                pair = pending[:, None] * n + rows
                at = np.minimum(np.searchsorted(codes, pair), codes.size - 1)
                bad |= codes[at] == pair  # codes are sorted and unique
            done = (~bad).sum(axis=1) >= k
            keep = np.argsort(bad, axis=1, kind="stable")[done, :k]
            rows_out[pending[done]] = np.take_along_axis(rows[done], keep, axis=1)
            scores_out[pending[done]] = np.take_along_axis(scores[done], keep, axis=1)
            ran_out = bool(missing[~done].any())
            pending = pending[~done]
            if not pending.size:
                break
            if exhaustive:  # pragma: no cover - an exhaustive pass returns every row
                raise StateError(
                    f"{self.kind} index returned fewer than {k} items for "
                    f"{pending.size} queries after an exhaustive search."
                )
            exhaustive = width >= n or ran_out
            width = min(n, 2 * width)
            logger.debug("%d queries short of %d items; searching %d", pending.size, k, width)

    # ---------------------------------------------------------------- save / load
    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write the index to ``folder`` (see the module docstring for the layout).

        The folder is written beside the target and renamed into place, so a reader never
        sees a half-written index.

        Args:
            folder: The target folder; it must not exist unless ``overwrite``.
            overwrite: Replace an existing folder.

        Returns:
            The folder.

        Raises:
            NotFittedError: nothing was built.
            ArtifactError: ``folder`` exists and ``overwrite`` is false.
        """
        from recutils import __version__

        self._require_built()
        target = Path(folder)
        if target.exists() and not overwrite:
            raise ArtifactError(f"{str(target)!r} exists; pass overwrite=True to replace it.")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
        try:
            tmp.mkdir()
            arrays = self._write(tmp)
            np.savez(tmp / ARRAYS_FILE, ids=self.ids_, **arrays)
            manifest: dict[str, Any] = {
                "format": INDEX_FORMAT,
                "format_version": INDEX_FORMAT_VERSION,
                "kind": self.kind,
                "metric": self.metric,
                "dim": self.dim_,
                "n": self.n_items,
                "params": self.params(),
                "model_version": self.model_version_,
                "recutils_version": __version__,
            }
            files = {
                rel: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                for rel, p in sorted(list_files(tmp).items())
            }
            manifest["artifact"] = {"files": files, "manifest_sha256": canonical_digest(manifest)}
            write_manifest(tmp, manifest)
            if target.exists():
                trash = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
                os.replace(target, trash)
                os.replace(tmp, target)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("saved %s index (%d items) to %s", self.kind, self.n_items, target)
        return target

    @classmethod
    def load(cls, folder: str | Path, expected_model_version: str | None = None) -> VectorIndex:
        """Load an index saved with :meth:`save` (:func:`load_index`), of this class.

        Raises:
            ArtifactError: the folder holds another kind of index; see :func:`load_index`.
        """
        index = load_index(folder, expected_model_version=expected_model_version)
        if not isinstance(index, cls):
            raise ArtifactError(f"{folder} holds a {index.kind!r} index, not a {cls.__name__}.")
        return index

    def __repr__(self) -> str:
        state = f"n={self.n_items}, dim={self.dim_}" if self.is_built else "empty"
        return f"{type(self).__name__}(metric={self.metric!r}, {state})"


# ------------------------------------------------------------------ brute force
class BruteForceIndex(VectorIndex):
    """Exact top-k with numpy: the reference for the approximate indexes.

    Scores are computed a block at a time (``[queries, items]`` blocks of at most
    ``block_size`` float32 values), and each block's best ``k`` kept with
    ``argpartition``, so memory stays bounded however many items and queries there are.
    Ties are ordered by build order.

    Args:
        metric: ``"ip"``, ``"cosine"`` or ``"l2"``.
        block_size: Most scores held at once (default 4M values, 16 MiB; working memory is
            a small multiple of it).
    """

    kind = "brute_force"

    def __init__(self, metric: str = "ip", block_size: int = 1 << 22) -> None:
        super().__init__(metric)
        self.block_size = _positive_int("block_size", block_size)
        self.vectors_: np.ndarray | None = None
        self._sq_norms: np.ndarray | None = None

    def params(self) -> dict[str, Any]:
        """``{"block_size": ...}``."""
        return {"block_size": self.block_size}

    def _build_rows(self, vectors: np.ndarray) -> None:
        self.vectors_ = vectors
        self._sq_norms = np.einsum("ij,ij->i", vectors, vectors) if self.metric == "l2" else None

    def _search_rows(
        self, queries: np.ndarray, k: int, exhaustive: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        vectors = self.vectors_
        n, q = len(vectors), len(queries)
        # a few hundred queries against item blocks small enough to stay in cache
        query_block = max(1, min(q, 256, self.block_size))
        item_block = max(1, min(n, self.block_size // query_block))
        rows_out = np.empty((q, k), dtype=np.int64)
        keys_out = np.empty((q, k), dtype=np.float32)
        for qs in range(0, q, query_block):
            chunk = queries[qs : qs + query_block]
            best_keys = np.empty((len(chunk), 0), dtype=np.float32)
            best_rows = np.empty((len(chunk), 0), dtype=np.int64)
            for start in range(0, n, item_block):
                # higher key = better: q.v, or (for l2) 2 q.v - |v|^2 = |q|^2 - |q - v|^2
                keys = chunk @ vectors[start : start + item_block].T
                if self._sq_norms is not None:
                    keys = 2 * keys - self._sq_norms[start : start + item_block]
                rows = np.broadcast_to(np.arange(start, start + keys.shape[1]), keys.shape)
                if best_keys.shape[1]:
                    keys = np.concatenate([best_keys, keys], axis=1)
                    rows = np.concatenate([best_rows, rows], axis=1)
                best_keys, best_rows = keys, rows
                width = best_keys.shape[1]
                if width > k:
                    top = np.argpartition(best_keys, width - k, axis=1)[:, width - k :]
                    best_keys = np.take_along_axis(best_keys, top, axis=1)
                    best_rows = np.take_along_axis(best_rows, top, axis=1)
            order = np.lexsort((best_rows, -best_keys), axis=1)
            rows_out[qs : qs + len(chunk)] = np.take_along_axis(best_rows, order, axis=1)
            keys_out[qs : qs + len(chunk)] = np.take_along_axis(best_keys, order, axis=1)
        if self.metric == "l2":
            sq = np.einsum("ij,ij->i", queries, queries)[:, None]
            keys_out = np.maximum(sq - keys_out, 0, dtype=np.float32)
        return rows_out, keys_out

    def _write(self, folder: Path) -> dict[str, np.ndarray]:
        return {"vectors": self.vectors_}

    def _read(self, folder: Path, arrays: SavedArrays, n: int) -> None:
        self._build_rows(
            np.ascontiguousarray(
                check_array(arrays, "vectors", "f", (n, self.dim_)), dtype=np.float32
            )
        )


# ------------------------------------------------------------------ faiss
def _faiss() -> Any:
    return require("faiss", "retrieval", package="faiss-cpu")


def _default_nlist(n: int) -> int:
    """About ``4 * sqrt(n)`` IVF cells, but at least 39 vectors per cell (k-means needs them)."""
    return max(1, min(round(4 * math.sqrt(n)), n // 39))


class FaissIndex(VectorIndex):
    """Approximate (or, with ``kind="flat"``, exact) top-k with faiss.

    Kinds:

    * ``"flat"``: exact search with faiss's SIMD kernels; no parameters.
    * ``"ivf"``: vectors are assigned to ``nlist`` k-means cells; a query scans the
      ``nprobe`` nearest cells. Needs training (k-means on a seeded sample of at most
      ``train_size`` vectors); fast to build, memory like flat.
    * ``"hnsw"``: a layered proximity graph with ``hnsw_m`` links per node, built with a
      candidate list of ``ef_construction`` and searched with one of ``ef_search``. The
      best recall for the speed in memory; slower to build, more memory per vector.

    Args:
        kind: ``"flat"``, ``"ivf"`` or ``"hnsw"``.
        metric: ``"ip"``, ``"cosine"`` or ``"l2"``.
        nlist: IVF cells; ``None``: ``round(4 * sqrt(n))``, lowered for small ``n`` to
            ``n // 39`` (faiss's k-means wants at least 39 training vectors per cell).
        nprobe: IVF cells scanned per query; ``None``: ``ceil(sqrt(nlist))``.
        hnsw_m: HNSW links per node.
        ef_construction: HNSW candidate list while building.
        ef_search: HNSW candidate list while searching (raised to the searched width
            when that is larger).
        train_size: Most vectors IVF's k-means trains on; ``None``: ``64 * nlist``.
        seed: Seed of IVF's training sample and k-means initialisation.
    """

    def __init__(
        self,
        kind: str = "hnsw",
        metric: str = "ip",
        *,
        nlist: int | None = None,
        nprobe: int | None = None,
        hnsw_m: int = 32,
        ef_construction: int = 100,
        ef_search: int = 64,
        train_size: int | None = None,
        seed: int = SEED,
    ) -> None:
        if kind not in FAISS_KINDS:
            raise ConfigError(f"kind must be one of {list(FAISS_KINDS)}, got {kind!r}.")
        super().__init__(metric)
        self.kind = kind  # instance attribute: one class serves three manifest kinds
        self.nlist = _positive_int("nlist", nlist, allow_none=True)
        self.nprobe = _positive_int("nprobe", nprobe, allow_none=True)
        self.hnsw_m = _positive_int("hnsw_m", hnsw_m)
        self.ef_construction = _positive_int("ef_construction", ef_construction)
        self.ef_search = _positive_int("ef_search", ef_search)
        self.train_size = _positive_int("train_size", train_size, allow_none=True)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}.")
        self.seed = int(seed)
        self.index_: Any = None
        self.nlist_: int | None = None
        self.nprobe_: int | None = None

    def params(self) -> dict[str, Any]:
        """The constructor's parameters and the resolved ``nlist_`` / ``nprobe_``."""
        return {
            "nlist": self.nlist,
            "nprobe": self.nprobe,
            "hnsw_m": self.hnsw_m,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "train_size": self.train_size,
            "seed": self.seed,
            "nlist_": self.nlist_,
            "nprobe_": self.nprobe_,
        }

    def tune_search(self, *, nprobe: int | None = None, ef_search: int | None = None) -> FaissIndex:
        """Change how widely a built index searches, without rebuilding it: the
        recall / query-time trade-off (IVF: ``nprobe`` cells, at most ``nlist_``; HNSW:
        the candidate list ``ef_search``). A saved index keeps the new values.

        Raises:
            ConfigError: a parameter of another kind (``nprobe`` for HNSW, ``ef_search``
                for IVF, either for flat), a value < 1, or ``nprobe`` above ``nlist_``.
            NotFittedError: an IVF index before :meth:`build`.
        """
        given = {
            name
            for name, value in (("nprobe", nprobe), ("ef_search", ef_search))
            if value is not None
        }
        allowed = {"ivf": {"nprobe"}, "hnsw": {"ef_search"}}.get(self.kind, set())
        if given - allowed:
            raise ConfigError(
                f"a {self.kind} index has no {sorted(given - allowed)} to tune "
                f"(it tunes {sorted(allowed) or 'nothing'})."
            )
        if ef_search is not None:
            self.ef_search = _positive_int("ef_search", ef_search)
        if nprobe is not None:
            self._require_built()
            value = _positive_int("nprobe", nprobe)
            if value > self.nlist_:
                raise ConfigError(
                    f"nprobe {value} exceeds the index's {self.nlist_} cells (nlist_)."
                )
            self.nprobe = self.nprobe_ = value
        return self

    def _metric_type(self, faiss: Any) -> int:
        return faiss.METRIC_L2 if self.metric == "l2" else faiss.METRIC_INNER_PRODUCT

    def _build_rows(self, vectors: np.ndarray) -> None:
        faiss = _faiss()
        n, dim = vectors.shape
        metric = self._metric_type(faiss)
        if self.kind == "flat":
            index = faiss.IndexFlat(dim, metric)
        elif self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, self.hnsw_m, metric)
            index.hnsw.efConstruction = self.ef_construction
        else:
            nlist = min(n, self.nlist or _default_nlist(n))
            index = faiss.IndexIVFFlat(faiss.IndexFlat(dim, metric), dim, nlist, metric)
            index.cp.seed = self.seed
            size = min(n, self.train_size or 64 * nlist)
            rng = np.random.default_rng(self.seed)
            sample = vectors if size == n else vectors[np.sort(rng.choice(n, size, replace=False))]
            index.train(sample)
            self.nlist_ = nlist
            self.nprobe_ = min(nlist, self.nprobe or math.ceil(math.sqrt(nlist)))
        index.add(vectors)
        self.index_ = index

    def _search_rows(
        self, queries: np.ndarray, k: int, exhaustive: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        index, params = self.index_, None
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF(nprobe=self.nlist_ if exhaustive else self.nprobe_)
        elif self.kind == "hnsw":
            if exhaustive:  # the graph's flat storage holds every vector: an exact pass
                index = faiss.downcast_index(index.storage)
            else:
                params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
        scores, rows = index.search(queries, k, params=params)
        return rows.astype(np.int64, copy=False), scores.astype(np.float32, copy=False)

    def _write(self, folder: Path) -> dict[str, np.ndarray]:
        _faiss().write_index(self.index_, str(folder / FAISS_FILE))
        return {}

    def _read(self, folder: Path, arrays: SavedArrays, n: int) -> None:
        faiss = _faiss()
        file = folder / FAISS_FILE
        try:
            index = faiss.read_index(str(file))
        except RuntimeError as err:
            raise ArtifactError(f"{file}: not a readable faiss index ({str(err)[:200]}).") from err
        expected = {
            "flat": faiss.IndexFlat,
            "ivf": faiss.IndexIVFFlat,
            "hnsw": faiss.IndexHNSWFlat,
        }[self.kind]
        if (
            not isinstance(index, expected)
            or index.ntotal != n
            or index.d != self.dim_
            or index.metric_type != self._metric_type(faiss)
        ):
            raise ArtifactError(
                f"{file}: holds a {type(index).__name__} of {index.ntotal} vectors of dimension "
                f"{index.d}, metric {index.metric_type}; the manifest says {self.kind}, {n} "
                f"vectors of dimension {self.dim_}, metric {self.metric!r}."
            )
        if self.kind == "ivf":
            self.nlist_ = int(index.nlist)
            self.nprobe_ = min(self.nlist_, self.nprobe or math.ceil(math.sqrt(self.nlist_)))
        self.index_ = index


# ------------------------------------------------------------------ loading
#: Manifest kind -> how to make the empty index (explicit table, no import by name).
INDEX_KINDS: dict[str, Any] = {
    "brute_force": lambda metric, params: BruteForceIndex(metric, **params),
    **{
        kind: (lambda metric, params, kind=kind: FaissIndex(kind, metric, **params))
        for kind in FAISS_KINDS
    },
}
_RESOLVED_PARAMS = ("nlist_", "nprobe_")


def _read_index_manifest(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise ArtifactError(f"{str(folder)!r} is not a saved index folder (no such directory).")
    file = folder / MANIFEST
    if file.is_symlink() or not file.is_file():
        raise ArtifactError(f"{str(folder)!r} is not a saved index (no plain {MANIFEST}).")
    if file.stat().st_size > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{file} is larger than {MAX_MANIFEST_BYTES} bytes.")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactIntegrityError(f"{file} is not valid JSON: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != INDEX_FORMAT:
        raise ArtifactError(f"{file} is not a recutils index manifest.")
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ArtifactVersionError(f"{folder}: unknown index format version {version!r}.")
    if version > INDEX_FORMAT_VERSION:
        raise ArtifactVersionError(
            f"{folder}: index format version {version} is newer than this recutils reads "
            f"(<= {INDEX_FORMAT_VERSION}); upgrade recutils to load it."
        )
    return manifest


def _verify_files(folder: Path, manifest: Mapping[str, Any]) -> None:
    """The manifest's digest, and every listed file's presence, size and SHA-256."""
    section = manifest.get("artifact")
    entries = section.get("files") if isinstance(section, dict) else None
    if not isinstance(entries, dict):
        raise ArtifactIntegrityError(f"{folder}: the index's file list is missing or malformed.")
    if section.get("manifest_sha256") != canonical_digest(manifest):
        raise ArtifactIntegrityError(
            f"{folder}/{MANIFEST} was modified after the index was written (its digest does "
            "not match)."
        )
    present = list_files(folder)
    extra = sorted(set(present) - set(entries))
    if extra:
        raise ArtifactIntegrityError(f"{folder} holds files not in its manifest: {extra[:5]}.")
    for rel, entry in entries.items():
        check_relative_path(rel)
        file = present.get(rel)
        if file is None:
            raise ArtifactIntegrityError(f"{folder}: file {rel!r} is missing.")
        if (
            not isinstance(entry, dict)
            or file.stat().st_size != entry.get("bytes")
            or sha256_file(file) != entry.get("sha256")
        ):
            raise ArtifactIntegrityError(
                f"{folder}: {rel!r} does not match its recorded size and SHA-256 (truncated or "
                "modified)."
            )


def load_index(folder: str | Path, expected_model_version: str | None = None) -> VectorIndex:
    """Load an index saved by :meth:`VectorIndex.save`, verified before anything is read.

    Checks, in this order: the manifest is a recutils index of a known format version and
    kind; its digest and every file's size and SHA-256 match (no file missing or added);
    with ``expected_model_version``, the index was built for that model version; then
    the arrays (read with ``allow_pickle=False``) and the faiss file match the manifest.

    Args:
        folder: The saved index.
        expected_model_version: The version of the model whose queries will be searched;
            ``None`` accepts any.

    Raises:
        IndexVersionError: built for another model version (both are named).
        ArtifactIntegrityError: a file was modified, truncated, removed or added.
        ArtifactVersionError: a newer or unknown index format.
        ArtifactArrayError: an array of the wrong dtype, shape or values.
        ArtifactError: not an index folder, an unknown kind or malformed fields.
        MissingDependencyError: a faiss index without faiss installed.
    """
    path = Path(folder)
    manifest = _read_index_manifest(path)
    kind = manifest.get("kind")
    if kind not in INDEX_KINDS:
        raise ArtifactError(f"{path}: unknown index kind {kind!r}; known: {sorted(INDEX_KINDS)}.")
    _verify_files(path, manifest)
    built_for = manifest.get("model_version")
    if expected_model_version is not None and built_for != expected_model_version:
        raise IndexVersionError(
            f"{path} was built for model version {built_for!r}, not the expected "
            f"{expected_model_version!r}; rebuild the index from the current model."
        )
    n, dim, params = manifest.get("n"), manifest.get("dim"), manifest.get("params")
    if not (
        isinstance(n, int)
        and n >= 1
        and isinstance(dim, int)
        and dim >= 1
        and isinstance(params, dict)
        and (built_for is None or isinstance(built_for, str))
    ):
        raise ArtifactError(f"{path}: malformed n, dim, params or model_version in {MANIFEST}.")
    try:
        index = INDEX_KINDS[kind](
            manifest.get("metric"), {k: v for k, v in params.items() if k not in _RESOLVED_PARAMS}
        )
    except (ConfigError, TypeError) as err:
        raise ArtifactError(f"{path}: bad metric or parameters in {MANIFEST}: {err}") from err
    file = path / ARRAYS_FILE
    try:
        with np.load(file, allow_pickle=False) as z:
            arrays = SavedArrays({name: z[name] for name in z.files}, source=str(file))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ArtifactError(f"{file}: not a readable array file ({err}).") from err
    ids = check_array(arrays, "ids", "iuU", (n,))
    if not pd.Index(ids).is_unique:
        raise ArtifactArrayError(f"{file}: array 'ids' holds repeated ids.")
    index._set_ids(ids, dim, built_for)
    index._read(path, arrays, n)
    logger.info("loaded %s index (%d items) from %s", kind, n, path)
    return index


# ------------------------------------------------------------------ evaluation and data
def recall_at_k(approx_ids: Any, exact_ids: Any, k: int) -> float:
    """Mean fraction of each query's exact top-``k`` found in its approximate top-``k``.

    Args:
        approx_ids: ``[q, >= k]`` ids from the index being measured.
        exact_ids: ``[q, >= k]`` ids from an exact search (:class:`BruteForceIndex`).
        k: The cut-off.

    Returns:
        A number in ``[0, 1]`` (``1``: every exact neighbour was found).

    Raises:
        DataError: arrays that are not 2-D, differ in their number of queries, have fewer
            than ``k`` columns, are empty, or ``k < 1``.
    """
    approx, exact = np.asarray(approx_ids), np.asarray(exact_ids)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise DataError(f"k must be a positive integer, got {k!r}.")
    if approx.ndim != 2 or exact.ndim != 2 or len(approx) != len(exact) or not len(exact):
        raise DataError(
            f"approx_ids and exact_ids must be 2-D with the same number of queries "
            f"(at least one), got shapes {approx.shape} and {exact.shape}."
        )
    if approx.shape[1] < k or exact.shape[1] < k:
        raise DataError(
            f"k={k} is more than the columns given "
            f"({approx.shape[1]} approximate, {exact.shape[1]} exact)."
        )
    q = len(exact)
    codes, _ = pd.factorize(np.concatenate([approx[:, :k].ravel(), exact[:, :k].ravel()]))
    query = np.repeat(np.arange(q, dtype=np.int64), k)
    found = np.unique(query * (codes.max() + 1) + codes[: q * k])
    wanted = query * (codes.max() + 1) + codes[q * k :]
    return float(np.isin(wanted, found).sum() / (q * k))


def gaussian_mixture_vectors(
    n: int, dim: int, *, n_clusters: int = 256, spread: float = 1.0, seed: int = SEED
) -> np.ndarray:
    """``n`` float32 vectors from a mixture of ``n_clusters`` Gaussians (a test/benchmark set).

    Cluster centres are standard normal; each vector is its (uniformly drawn) cluster's
    centre plus normal noise of scale ``spread``. Real embeddings cluster like this;
    uniform noise has no neighbourhood structure (in many dimensions every point is about
    as far from every other), so no approximate index can beat a scan on it and recall
    figures measured on it say nothing.

    Args:
        n: Number of vectors.
        dim: Dimension.
        n_clusters: Mixture components.
        spread: Standard deviation of the noise around a centre (centres have 1).
        seed: Seed of ``np.random.default_rng``: the same arguments give the same vectors.
    """
    n, dim = _positive_int("n", n), _positive_int("dim", dim)
    n_clusters = _positive_int("n_clusters", n_clusters)
    if not (isinstance(spread, (int, float)) and math.isfinite(spread) and spread >= 0):
        raise ConfigError(f"spread must be a finite number >= 0, got {spread!r}.")
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    labels = rng.integers(0, n_clusters, n)
    noise = rng.standard_normal((n, dim), dtype=np.float32)
    return centres[labels] + np.float32(spread) * noise


__all__ = [
    "BruteForceIndex",
    "FAISS_KINDS",
    "FaissIndex",
    "INDEX_FORMAT",
    "INDEX_FORMAT_VERSION",
    "INDEX_KINDS",
    "IndexVersionError",
    "METRICS",
    "VectorIndex",
    "gaussian_mixture_vectors",
    "load_index",
    "recall_at_k",
]
