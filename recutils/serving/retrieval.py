"""Retrieval in the service: a two-tower model with its item index, and a ranker after it.

:class:`ServedRetrieval` wraps a fitted two-tower model (``dssm``, ``dssm_senet``: anything
with ``user_embeddings``, ``item_vectors_`` and ``model_version``) and the index the service
searches its item embeddings with:

* the index comes from ``index=`` (a folder saved by :meth:`~recutils.retrieval.VectorIndex.save`,
  e.g. beside the artifact), else from the artifact's own ``index/`` folder (written by
  :func:`save_retrieval_artifact`, covered by the artifact's checksums and signature), else an
  exact :class:`~recutils.retrieval.BruteForceIndex` built from the model at load time;
* a saved index is loaded with ``expected_model_version=model.model_version()``: one built
  for other weights is refused (:class:`~recutils.retrieval.IndexVersionError`) when the
  service starts or swaps, and the served artifact stays as it was.

A query is a known ``user_id``; or the user tower's features of a new user (by their column
names, e.g. ``age``, ``gender``, ``occupation`` for the MovieLens presets); or a ``history``
of item ids, for a model whose user tower reads a user-side ``sequence`` feature (none of the
shipped presets does: they answer ``history_unsupported``). Every refusal is a
:class:`~recutils.serving.errors.ServiceError` with a 4xx status and a code
(:data:`RETRIEVAL_ERROR_CODES`).

:class:`ServedRanker` holds the second stage: any model artifact with ``predict`` (DeepFM or
another click-through config); it scores the retrieved (user, candidate) pairs with the
request's user features.
"""

from __future__ import annotations

import inspect
import logging
import math
import time
import unicodedata
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.exceptions import DataError, DataWarning
from recutils.serving.artifacts import ArtifactError, save_artifact
from recutils.serving.errors import ServiceError

logger = logging.getLogger(__name__)

#: The folder, inside an artifact, of the index saved with it.
INDEX_DIR = "index"
#: Most user features accepted in one request.
MAX_FEATURES = 64
#: Known users' embeddings are computed once at load when they hold at most this many numbers
#: (64 MiB of float32); a request for a known user without features then only searches.
MAX_CACHED_USER_FLOATS = 1 << 24
#: Longest text feature value accepted (characters).
MAX_FEATURE_CHARS = 256
#: The error codes of the retrieval routes (besides ``invalid_k`` and ``invalid_id``).
RETRIEVAL_ERROR_CODES = {
    "missing_user": "neither user_id, features nor history given",
    "unknown_user": "a user_id the model does not know, without features or history",
    "unknown_feature": "a feature the user tower does not read",
    "invalid_feature": "a feature value that is NaN, infinite, too long or of the wrong type",
    "history_unsupported": "a history for a model whose user tower reads none",
    "empty_history": "an empty history",
    "non_finite_embedding": "the user tower gave NaN or infinite values",
    "k_exceeds_index": "k (or candidates) larger than the indexed items",
    "too_few_items": "fewer than k items left after excluding the seen ones",
    "invalid_query": "a query the index refuses (e.g. a zero vector under cosine)",
    "invalid_candidates": "candidates outside [k, max_candidates]",
}


def _error(status: int, code: str, message: str) -> Exception:
    return ServiceError(status, code, message)


def is_two_tower(model: Any) -> bool:
    """Whether ``model`` is a fitted two-tower retrieval model the service can search."""
    return (
        model is not None
        and callable(getattr(model, "user_embeddings", None))
        and callable(getattr(model, "model_version", None))
        and getattr(model, "item_vectors_", None) is not None
    )


def index_path_of(artifact: str | Path) -> Path:
    """The index folder inside an artifact (it may not exist)."""
    return Path(artifact) / INDEX_DIR


def save_retrieval_artifact(
    model: Any,
    path: str | Path,
    index: Any = None,
    *,
    metrics: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    sign_key: bytes | str | None = None,
) -> Path:
    """:func:`~recutils.serving.save_artifact` of a two-tower model with its index inside
    (``<path>/index``), so that the artifact's checksums (and signature) cover the index.

    Args:
        model: A fitted two-tower model.
        path: The artifact folder.
        index: A built index of ``model`` (``model.build_index(kind)``); ``None``: only the
            model (the service then builds an exact index when it loads it).
        metrics, overwrite, sign_key: As for :func:`~recutils.serving.save_artifact`.

    Raises:
        ArtifactError: ``model`` is not a fitted two-tower model, or ``index`` was built for
            another model version.
    """
    if not is_two_tower(model):
        raise ArtifactError(f"{type(model).__name__} is not a fitted two-tower model.")
    if index is not None and index.model_version_ != model.model_version():
        raise ArtifactError(
            f"the index was built for model version {index.model_version_!r}, "
            f"not this model's {model.model_version()!r}; rebuild it with "
            "model.build_index(kind)."
        )
    return save_artifact(
        model,
        path,
        metrics,
        overwrite=overwrite,
        sign_key=sign_key,
        extra_folders={INDEX_DIR: index.save} if index is not None else None,
    )


def _load_index(model: Any, folder: Path, version: str) -> Any:
    from recutils.retrieval import IndexVersionError, load_index

    try:
        index = load_index(folder, expected_model_version=version)
    except IndexVersionError as err:
        raise IndexVersionError(
            f"index refused: {err} (the served model's version is {version!r})."
        ) from err
    n, dim = len(model.item_ids_), model.item_vectors_.shape[1]
    if index.n_items != n or index.dim_ != dim:
        raise ArtifactError(
            f"index {folder}: {index.n_items} items of dimension {index.dim_}, "
            f"but the model has {n} items of dimension {dim}."
        )
    return index


class ServedRetrieval:
    """A two-tower model and its index, as the service queries them (see the module docstring).

    Args:
        model: A fitted two-tower model.
        artifact: The model's artifact folder (its ``index/`` is used when ``index`` is None).
        index: A saved index folder, or ``None``.

    Attributes:
        index: The searched index.
        index_source: ``"saved"`` (loaded from a folder) or ``"built"`` (brute force, built now).
        model_version: ``model.model_version()``.
        feature_columns: Request feature name (a column) -> the user tower's feature.
        history_feature: ``(column, separator)`` of the user tower's sequence feature, or ``None``.
        user_vectors: Every known user's embedding (row = the model's user index), computed
            at load when small enough (:data:`MAX_CACHED_USER_FLOATS`), else ``None``.

    Raises:
        IndexVersionError: the saved index was built for another model version.
        ArtifactError: the index does not match the model's items, or cannot be read.
    """

    def __init__(
        self, model: Any, artifact: str | Path | None = None, index: str | Path | None = None
    ) -> None:
        self.model = model
        self.model_version = model.model_version()
        folder = (
            Path(index)
            if index is not None
            else (index_path_of(artifact) if artifact is not None else None)
        )
        if folder is not None and (index is not None or folder.is_dir()):
            self.index = _load_index(model, folder, self.model_version)
            self.index_source = "saved"
        else:
            self.index = model.build_index("brute_force")
            self.index_source = "built"
        self.feature_columns, self.history_feature = self._user_inputs(model)
        n_users, dim = len(model.user_ids_), model.item_vectors_.shape[1]
        self.user_vectors = (
            model.user_embeddings(pd.DataFrame({model.col_user: model.user_ids_}))
            if 0 < n_users * dim <= MAX_CACHED_USER_FLOATS
            else None
        )

    @staticmethod
    def _user_inputs(model: Any) -> tuple[dict[str, str], tuple[str, str] | None]:
        encoder = model.encoder_
        groups = model.config.model_config.groups
        columns: dict[str, str] = {}
        history = None
        for group in model.network_.user_groups:
            for name in groups[group].feature_names:
                column = encoder.column_of(name)
                if column == model.col_user:
                    continue
                cfg = encoder.features[name]
                if cfg.type == "sequence":
                    history = history or (column, cfg.separator or "|")
                else:
                    columns[column] = name
        return columns, history

    # ------------------------------------------------------------ describe
    def describe(self) -> dict[str, Any]:
        """What ``GET /v1/model`` shows of the retrieval side."""
        return {
            "index": self.index.kind,
            "index_source": self.index_source,
            "metric": self.index.metric,
            "n_items": int(self.index.n_items),
            "model_version": self.model_version,
            "user_features": sorted(self.feature_columns),
            "history": self.history_feature is not None,
        }

    # ------------------------------------------------------------ queries
    def _check_features(self, features: Mapping[str, Any] | None) -> dict[str, Any]:
        if not features:
            return {}
        if len(features) > MAX_FEATURES:
            raise _error(
                422, "invalid_feature", f"{len(features)} features; at most {MAX_FEATURES}."
            )
        unknown = [str(key)[:40] for key in features if key not in self.feature_columns]
        if unknown:
            raise _error(
                422,
                "unknown_feature",
                f"the user tower does not read {unknown[:5]}; it reads "
                f"{sorted(self.feature_columns)}.",
            )
        clean = {}
        for key, value in features.items():
            if value is None or isinstance(value, str) and value == "":
                clean[key] = None
            elif isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise _error(
                    422,
                    "invalid_feature",
                    f"feature {key!r} must be a number, a string "
                    f"or null, got {type(value).__name__}.",
                )
            elif isinstance(value, float) and not math.isfinite(value):
                raise _error(
                    422,
                    "invalid_feature",
                    f"feature {key!r} is {value}; send a finite "
                    "number, or null for a missing value.",
                )
            elif isinstance(value, str) and (
                len(value) > MAX_FEATURE_CHARS
                or any(unicodedata.category(ch) in ("Cc", "Cs", "Cf") for ch in value)
            ):
                raise _error(
                    422,
                    "invalid_feature",
                    f"feature {key!r} must have at most {MAX_FEATURE_CHARS} printable characters.",
                )
            else:
                clean[key] = value
        return clean

    def _history_column(self, history: Sequence[Any] | None) -> dict[str, str]:
        if history is None:
            return {}
        if len(history) == 0:
            raise _error(
                422,
                "empty_history",
                "history is empty; send at least one item id, or "
                "drop it and send user_id or features.",
            )
        if self.history_feature is None:
            raise _error(
                422,
                "history_unsupported",
                f"the served {self.model.name!r} model's user tower reads no history (it "
                f"reads the user id and {sorted(self.feature_columns)}); send user_id "
                "or features instead.",
            )
        column, separator = self.history_feature
        return {column: separator.join(str(i) for i in history)}

    def user_vector(
        self, user_id: Any | None, features: Mapping[str, Any] | None, history: Sequence[Any] | None
    ) -> tuple[np.ndarray, int, dict[str, Any]]:
        """The user tower's embedding ``[1, d]`` of a query, the user's position (``-1``: new)
        and the checked feature columns (for the ranker).

        Raises:
            ServiceError: see :data:`RETRIEVAL_ERROR_CODES`.
        """
        model = self.model
        clean = self._check_features(features)
        columns = {**clean, **self._history_column(history)}
        position = -1 if user_id is None else int(model.user_ids_.get_indexer([user_id])[0])
        if position < 0 and not columns:
            if user_id is None:
                raise _error(
                    422,
                    "missing_user",
                    "send a user_id, the user's features "
                    f"{sorted(self.feature_columns)} or a history.",
                )
            raise _error(
                422,
                "unknown_user",
                f"user {user_id!r} is not known to the model; send its features "
                f"{sorted(self.feature_columns)} to embed a new user.",
            )
        if position >= 0 and not columns and self.user_vectors is not None:
            vector = self.user_vectors[position : position + 1]
        else:
            frame = pd.DataFrame(
                {model.col_user: [user_id], **{c: [v] for c, v in columns.items()}}
            )
            vector = model.user_embeddings(frame)
        if not np.isfinite(vector).all():
            raise _error(
                422,
                "non_finite_embedding",
                "the user tower gave NaN or infinite values for these features.",
            )
        return vector, position, clean

    def _excluded(self, position: int, history: Sequence[Any] | None) -> list[Any]:
        model = self.model
        out: list[Any] = []
        if position >= 0:
            seen = model.seen_
            start, stop = seen.indptr[position], seen.indptr[position + 1]
            out.extend(model.item_ids_[seen.indices[start:stop]])
        if history:
            out.extend(history)
        return out

    def check_k(self, k: int, what: str = "k") -> None:
        """``k`` at most the number of indexed items, else ``k_exceeds_index`` (422)."""
        n = self.index.n_items
        if k > n:
            raise _error(
                422, "k_exceeds_index", f"{what}={k} is larger than the index ({n} items)."
            )

    def search(
        self, vector: np.ndarray, k: int, exclude: list[Any] | None, min_k: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``index.search`` of one query; too few items after exclusion is ``too_few_items``
        (with ``min_k``: fewer than ``min_k``; ``k`` then shrinks to the items left)."""
        self.check_k(k)
        if exclude:
            excluded = np.isin(pd.unique(np.asarray(exclude)), self.index.ids_).sum()
            left = self.index.n_items - int(excluded)
            if min_k is not None and min_k <= left < k:
                k = left
            if left < k:
                raise _error(
                    422,
                    "too_few_items",
                    f"excluding the user's items leaves {left} items, fewer than k={k}; lower k.",
                )
        try:
            ids, scores = self.index.search(
                vector, k, exclude=None if exclude is None else [exclude]
            )
        except DataError as err:
            raise _error(422, "invalid_query", str(err)[:300]) from err
        return ids[0], scores[0]

    def retrieve(
        self,
        user_id: Any | None,
        features: Mapping[str, Any] | None,
        history: Sequence[Any] | None,
        k: int,
        exclude_seen: bool = True,
        min_k: int | None = None,
    ) -> RetrievalResult:
        """The top-``k`` items of a query from the index (the user's items excluded; with
        ``min_k``, fewer than ``k`` but at least ``min_k`` when exclusions leave fewer)."""
        self.check_k(k)
        start = time.perf_counter()
        vector, position, clean = self.user_vector(user_id, features, history)
        exclude = self._excluded(position, history) if exclude_seen else None
        ids, scores = self.search(vector, k, exclude, min_k)
        return RetrievalResult(
            ids=ids,
            scores=scores,
            known=position >= 0,
            features=clean,
            seconds=time.perf_counter() - start,
        )

    def similar(self, item_position: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` indexed items nearest an item (itself excluded)."""
        if k > self.index.n_items - 1:
            raise _error(
                422,
                "k_exceeds_index",
                f"k={k} is larger than the other indexed items ({self.index.n_items - 1}).",
            )
        item = self.model.item_ids_[item_position]
        return self.search(self.model.item_vectors_[item_position : item_position + 1], k, [item])


@dataclass(frozen=True)
class RetrievalResult:
    """Retrieved ids and index scores, best first, with what the ranker needs."""

    ids: np.ndarray
    scores: np.ndarray
    known: bool
    features: dict[str, Any]
    seconds: float


class ServedRanker:
    """The second stage: a model scoring (user, candidate) pairs with ``predict``.

    Args:
        model: A fitted model with ``predict`` (DeepFM or another click-through config).

    Raises:
        ArtifactError: the model cannot score pairs.
    """

    def __init__(self, model: Any) -> None:
        if not callable(getattr(model, "predict", None)) or not hasattr(model, "item_ids_"):
            raise ArtifactError(
                f"a {type(model).__name__} model cannot rank candidates: it has "
                "no predict over (user, item) pairs."
            )
        if hasattr(model, "progress"):
            model.progress = False
        self.model = model
        self._score_unknown = "score_unknown" in inspect.signature(model.predict).parameters

    def score(
        self, user_id: Any | None, items: np.ndarray, features: Mapping[str, Any]
    ) -> np.ndarray:
        """The ranker's score of each candidate for the user (NaN where it cannot score)."""
        model = self.model
        frame = pd.DataFrame(
            {
                model.col_user: [user_id] * len(items),
                model.col_item: items,
                **{c: [v] * len(items) for c, v in features.items()},
            }
        )
        kwargs = {"score_unknown": True} if self._score_unknown else {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)  # unknown pairs: NaN, shown as null
            pred = model.predict(frame, **kwargs)[model.col_prediction]
        return pred.to_numpy(dtype=np.float64)


__all__ = [
    "INDEX_DIR",
    "MAX_FEATURES",
    "RETRIEVAL_ERROR_CODES",
    "RetrievalResult",
    "ServedRanker",
    "ServedRetrieval",
    "index_path_of",
    "is_two_tower",
    "save_retrieval_artifact",
]
