"""Operationalize models: artifacts, batch scoring, stores and an HTTP service.

* :mod:`~recutils.serving.artifacts`: :func:`save_artifact` / :func:`load_model`
  (checksums, versions, no unpickling by default).
* :mod:`~recutils.serving.batch`: :func:`batch_recommend` (chunks, Parquet/CSV, store)
  and :func:`batch_recommend_spark`.
* :mod:`~recutils.serving.stores`: SQLite and Redis stores with atomic set swaps
  (:func:`open_store`).
* :mod:`~recutils.serving.service` / :mod:`~recutils.serving.app`: the service and its
  FastAPI app (``recutils serve``).
* :mod:`~recutils.serving.retrieval`: a two-tower artifact served with its item index
  (``/v1/retrieve``, ``/v1/similar-items``) and a ranker after it (``/v1/two-stage``);
  :func:`save_retrieval_artifact` writes the index inside the artifact. FastAPI, uvicorn and redis are imported only when
  used (``pip install "recutils[serving]"``).
"""

from recutils.serving.artifacts import (
    ARTIFACT_FORMAT_VERSION,
    ArtifactArrayError,
    ArtifactError,
    ArtifactInfo,
    ArtifactIntegrityError,
    ArtifactSignatureError,
    ArtifactVersionError,
    UntrustedArtifactError,
    artifact_info,
    load_artifact,
    load_model,
    resolve_artifact_key,
    save_artifact,
    verify_artifact,
)
from recutils.serving.batch import (
    BatchResult,
    batch_recommend,
    batch_recommend_spark,
    popularity_fallback,
)
from recutils.serving.retrieval import save_retrieval_artifact
from recutils.serving.service import RecommendationService, ServiceError
from recutils.serving.stores import (
    RecommendationStore,
    RedisStore,
    SQLiteStore,
    StoreError,
    StoreSetInfo,
    open_store,
)


def create_app(*args, **kwargs):  # noqa: ANN002, ANN003 - thin lazy wrapper
    """The FastAPI app (see :func:`recutils.serving.app.create_app`); imports FastAPI now."""
    from recutils.serving.app import create_app as _create_app

    return _create_app(*args, **kwargs)


__all__ = [
    "ARTIFACT_FORMAT_VERSION",
    "ArtifactArrayError",
    "ArtifactError",
    "ArtifactInfo",
    "ArtifactIntegrityError",
    "ArtifactSignatureError",
    "ArtifactVersionError",
    "BatchResult",
    "RecommendationService",
    "RecommendationStore",
    "RedisStore",
    "SQLiteStore",
    "ServiceError",
    "StoreError",
    "StoreSetInfo",
    "UntrustedArtifactError",
    "artifact_info",
    "batch_recommend",
    "batch_recommend_spark",
    "create_app",
    "load_artifact",
    "load_model",
    "open_store",
    "popularity_fallback",
    "resolve_artifact_key",
    "save_artifact",
    "save_retrieval_artifact",
    "verify_artifact",
]
