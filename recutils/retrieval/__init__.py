"""Candidate retrieval: top-k search over item embeddings.

:class:`BruteForceIndex` (exact, numpy only) and :class:`FaissIndex` (``flat``, ``ivf``,
``hnsw``; needs ``pip install "recutils[retrieval]"``, imported only when used) share one
contract (:class:`VectorIndex`): ``build``, ``search`` with excluded items, ``save`` and
:func:`load_index` with checksums and a model-version check. :func:`recall_at_k` measures an
approximate index against the exact one. See ``docs/retrieval_index.md``.
"""

from recutils.retrieval.index import (
    FAISS_KINDS,
    INDEX_FORMAT,
    INDEX_FORMAT_VERSION,
    INDEX_KINDS,
    METRICS,
    BruteForceIndex,
    FaissIndex,
    IndexVersionError,
    VectorIndex,
    gaussian_mixture_vectors,
    load_index,
    recall_at_k,
)

__all__ = [
    "FAISS_KINDS",
    "INDEX_FORMAT",
    "INDEX_FORMAT_VERSION",
    "INDEX_KINDS",
    "METRICS",
    "BruteForceIndex",
    "FaissIndex",
    "IndexVersionError",
    "VectorIndex",
    "gaussian_mixture_vectors",
    "load_index",
    "recall_at_k",
]
