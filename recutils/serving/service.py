"""The recommendation service, without HTTP: what the FastAPI app (``app.py``) calls.

:class:`RecommendationService` answers from a **store** of precomputed lists, from a
model **artifact** scored on the fly, or both (store first; the artifact also serves
``score`` and ``similar-items``). It holds its serving state (model, artifact info,
fallback list, id types) in one immutable :class:`ServingState` object; a request reads
that reference once and uses it to the end. :meth:`RecommendationService.swap_artifact`
loads and warms a new artifact *beside* the old one and then replaces the reference (a
single atomic assignment), so requests in flight finish on the old model, new requests
get the new one, and none is dropped or sees a half-loaded model.

**Retrieval.** A two-tower artifact (``dssm``, ``dssm_senet``) is served with an item
index (:class:`~recutils.serving.retrieval.ServedRetrieval`: a saved index checked against
the model's version, else an exact one built at load): :meth:`RecommendationService.retrieve`
answers the top-k candidates of a known user, a new user's features or a history, and
``similar_items`` searches the index. With a second, **ranker** artifact (DeepFM or any
click-through config), :meth:`RecommendationService.two_stage` retrieves N candidates and
returns the k the ranker scores highest, with both scores and the stage timings. The
retriever, its index and the ranker are one :class:`ServingState`, loaded and swapped
together.

**Click-through rows.** A click-through artifact that scores feature rows rather than
recommending items to users (``lightgbm_ctr``: :class:`~recutils.models.lightgbm.LightGBMCTR`)
is served alone (no store, index or ranker): :meth:`RecommendationService.predict_rows` answers
the click probabilities of the rows (``POST /v1/predict``); the user-item routes answer 400.

Unknown users get the **popularity fallback** (the items most users had in training;
for a store, the list recorded with the set), marked ``"fallback": true`` and
``"source": "popularity"`` in the response.

**Admin.** Swapping the artifact over HTTP (:meth:`RecommendationService.admin_swap`) is
off unless both an artifact root and an admin token are configured; the token is
compared in constant time and every attempt is logged with its outcome (never the
token). :func:`resolve_admin_token` reads it from ``--admin-token``, a file or the
``RECUTILS_ADMIN_TOKEN`` environment variable.
"""

from __future__ import annotations

import hmac
import logging
import math
import os
import re
import threading
import time
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError, DataError, RecUtilsError
from recutils.models.topk import popularity_fallback
from recutils.retrieval.index import FAISS_KINDS
from recutils.serving.artifacts import ArtifactError, ArtifactInfo, load_artifact, resolve_under
from recutils.serving.errors import ServiceError
from recutils.serving.retrieval import ServedRanker, ServedRetrieval, is_two_tower
from recutils.serving.stores import RecommendationStore, StoreSetInfo, open_store
from recutils.utils.deps import require
from recutils.utils.validation import is_int

logger = logging.getLogger(__name__)

#: Longest id accepted (characters).
MAX_ID_CHARS = 256
_INT_RE = re.compile(r"^[+-]?\d{1,19}$")
_INT64_MAX = 2**63 - 1
#: Environment variable holding the admin token (see :func:`resolve_admin_token`).
ADMIN_TOKEN_ENV = "RECUTILS_ADMIN_TOKEN"


@dataclass(frozen=True)
class ServingState:
    """One consistent snapshot of what the service serves (replaced whole on a swap)."""

    model: Any | None
    info: ArtifactInfo | None
    fallback: list[tuple[Any, float]] = field(default_factory=list)
    user_id_type: str = "str"
    item_id_type: str = "str"
    loaded_at: float = 0.0
    retrieval: ServedRetrieval | None = None
    ranker: ServedRanker | None = None
    ranker_info: ArtifactInfo | None = None


def _id_type(index: pd.Index) -> str:
    if pd.api.types.is_integer_dtype(index.dtype) and not pd.api.types.is_bool_dtype(index.dtype):
        return "int"
    return "str"


def parse_id(raw: Any, id_type: str, what: str) -> int | str:
    """An id from a request, checked and converted to the type the model/store uses.

    Raises:
        ServiceError(422): empty, longer than :data:`MAX_ID_CHARS`, control or
            surrogate characters, or not an integer where ids are integers.
    """
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ServiceError(422, "invalid_id", f"{what} must be a string or an integer.")
    text = str(raw)
    if not text or len(text) > MAX_ID_CHARS:
        raise ServiceError(
            422, "invalid_id", f"{what} must have 1 to {MAX_ID_CHARS} characters, got {len(text)}."
        )
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Cf") for ch in text):
        raise ServiceError(422, "invalid_id", f"{what} contains control or format characters.")
    if id_type == "int":
        if not _INT_RE.match(text):
            raise ServiceError(
                422, "invalid_id", f"{what} must be an integer for this model, got {text[:40]!r}."
            )
        value = int(text)
        if abs(value) > _INT64_MAX:
            raise ServiceError(422, "invalid_id", f"{what} is out of the 64-bit range.")
        return value
    return text


def _check_token(token: str, where: str) -> str:
    if not token or token != token.strip() or not token.isprintable():
        raise ConfigError(
            f"the admin token from {where} must be non-empty printable text "
            "without surrounding white space."
        )
    return token


def resolve_admin_token(
    token: str | None = None,
    token_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """The admin token of the service: ``token``, else the first line of ``token_file``,
    else the :data:`ADMIN_TOKEN_ENV` environment variable (an empty one counts as unset);
    ``None`` when none is given, which leaves the admin routes off.

    Prefer the file or the environment: a token on the command line is visible to every
    user of the machine (``ps``).

    Raises:
        ConfigError: both ``token`` and ``token_file`` given, the file cannot be read,
            or the token is empty or has white space or control characters around it.
    """
    if token is not None and token_file is not None:
        raise ConfigError("give the admin token once: --admin-token or --admin-token-file.")
    if token is not None:
        return _check_token(token, "--admin-token")
    if token_file is not None:
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(
                f"cannot read the admin token file {str(token_file)!r}: {err}"
            ) from err
        lines = text.splitlines()
        return _check_token(lines[0].strip() if lines else "", f"file {str(token_file)!r}")
    env = os.environ if environ is None else environ
    value = env.get(ADMIN_TOKEN_ENV, "").strip()
    return _check_token(value, f"${ADMIN_TOKEN_ENV}") if value else None


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _score(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _items(pairs: Sequence[tuple[Any, Any]], k: int) -> list[dict[str, Any]]:
    return [
        {
            "item_id": _plain(item),
            "score": _score(score) if score is not None else None,
            "rank": rank,
        }
        for rank, (item, score) in enumerate(pairs[:k], start=1)
    ]


def _row_columns(model: Any) -> list[str]:
    """The feature columns a row-scoring model reads."""
    return list(model.encoder_.input_columns)


def similar_items_supported(model: Any) -> bool:
    """Whether :meth:`RecommendationService.similar_items` works for ``model``."""
    return model is not None and (
        hasattr(model, "get_item_based_topk")
        or getattr(model, "item_similarity_", None) is not None
        or is_two_tower(model)
    )


def is_row_scorer(model: Any) -> bool:
    """Whether ``model`` scores feature rows (``predict_proba(frame)``: a click-through model
    such as :class:`~recutils.models.lightgbm.LightGBMCTR`) instead of recommending items to
    users; the service answers :meth:`RecommendationService.predict_rows` for it."""
    return (
        model is not None
        and callable(getattr(model, "predict_proba", None))
        and not hasattr(model, "recommend_k_items")
    )


class RecommendationService:
    """Answers recommendation requests from a store, an artifact, or both.

    Args:
        artifact: An artifact folder (scored on the fly; swappable).
        store: A store or store URL of precomputed lists.
        trust: Allow artifacts with pickled files (see :func:`load_artifact`).
        max_k: Largest ``k`` accepted.
        max_batch: Most users (or pairs) in one POST.
        artifact_root: Folder under which ``swap_artifact_by_name`` may load artifacts.
        admin_token: Token the admin endpoint requires (header ``X-Admin-Token``); the
            admin endpoint is on only when both this and ``artifact_root`` are set.
        artifact_key: Signing key: only artifacts signed with it are loaded (at start
            and on every swap); ``None``: the environment's key, if any
            (:func:`~recutils.models.persistence.resolve_artifact_key`).
        index: A saved index folder of the (two-tower) ``artifact``; ``None``: the
            artifact's own ``index/`` folder, else an exact index built at load.
        ranker_artifact: An artifact folder of the ranking model of the two-stage route
            (needs a two-tower ``artifact``).
        max_candidates: Most candidates the two-stage route retrieves per request.
        num_threads: Threads of torch (``torch.set_num_threads``, set before loading) and of
            faiss's OpenMP (set when a faiss index is loaded) in this process; ``None`` leaves
            their defaults. One-user requests are fastest with 1: each request runs in its own
            worker thread, and a team of threads per small product only adds contention.

    Raises:
        ArtifactError: neither an artifact nor a store, an artifact that cannot be served,
            an index built for another model version (``IndexVersionError``), or a ranker
            without a two-tower artifact.
        StoreError: the store cannot be opened or read (checked once at start).
        ConfigError: an empty admin token.
    """

    def __init__(
        self,
        artifact: str | Path | None = None,
        store: RecommendationStore | str | None = None,
        *,
        trust: bool = False,
        max_k: int = 100,
        max_batch: int = 1000,
        artifact_root: str | Path | None = None,
        admin_token: str | None = None,
        artifact_key: bytes | str | None = None,
        index: str | Path | None = None,
        ranker_artifact: str | Path | None = None,
        max_candidates: int = 1000,
        num_threads: int | None = None,
    ) -> None:
        self.admin_token = None if admin_token is None else _check_token(admin_token, "admin_token")
        if artifact is None and store is None:
            raise ArtifactError("the service needs an artifact, a store, or both.")
        self.trust = bool(trust)
        self._artifact_key = artifact_key
        self.max_k = int(max_k)
        self.max_batch = int(max_batch)
        self.max_candidates = int(max_candidates)
        self.artifact_root = None if artifact_root is None else Path(artifact_root).resolve()
        self.store = open_store(store) if isinstance(store, (str, Path)) else store
        if self.store is not None:
            self.store.info()  # a store that cannot be read fails the start, not each request
        self._swap_lock = threading.Lock()
        self._state = ServingState(model=None, info=None)
        if num_threads is not None:
            if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
                raise ConfigError(f"num_threads must be a positive integer, got {num_threads!r}.")
            require("torch", "torch").set_num_threads(num_threads)
        self.num_threads = num_threads
        if ranker_artifact is not None and artifact is None:
            raise ArtifactError("a ranker artifact needs a two-tower retrieval --artifact.")
        if artifact is not None:
            self.swap_artifact(artifact, index=index, ranker=ranker_artifact)
        self.started_at = time.time()

    # ------------------------------------------------------------ state
    @property
    def state(self) -> ServingState:
        """The current snapshot (read once per request)."""
        return self._state

    @property
    def mode(self) -> str:
        """``"store"``, ``"artifact"`` or ``"store+artifact"``."""
        has_model = self._state.model is not None
        if self.store is not None:
            return "store+artifact" if has_model else "store"
        return "artifact"

    def _build_state(
        self, path: str | Path, index: str | Path | None = None, ranker: str | Path | None = None
    ) -> ServingState:
        loaded = load_artifact(path, trust=self.trust, key=self._artifact_key)
        model = loaded.model
        if is_row_scorer(model):
            return self._row_scorer_state(path, loaded, index, ranker)
        if not hasattr(model, "recommend_k_items") or not hasattr(model, "user_ids_"):
            raise ArtifactError(
                f"{path} holds a {loaded.info.model!r} model, which does not "
                "recommend items to users; it cannot be served."
            )
        if hasattr(model, "progress"):
            model.progress = False
        retrieval = ServedRetrieval(model, path, index) if is_two_tower(model) else None
        if (
            retrieval is not None
            and self.num_threads is not None
            and retrieval.index.kind in FAISS_KINDS
        ):
            require("faiss", "retrieval").omp_set_num_threads(self.num_threads)
        if retrieval is None and index is not None:
            raise ArtifactError(
                f"{path} holds a {loaded.info.model!r} model, not a two-tower "
                "model: it cannot be served with an index."
            )
        served_ranker, ranker_info = self._ranker(ranker, model, loaded.info.model)
        state = ServingState(
            model=model,
            info=loaded.info,
            fallback=popularity_fallback(model, self.max_k),
            user_id_type=_id_type(model.user_ids_),
            item_id_type=_id_type(model.item_ids_),
            loaded_at=time.time(),
            retrieval=retrieval,
            ranker=served_ranker,
            ranker_info=ranker_info,
        )
        if len(model.user_ids_):  # warm up: the first real request should not pay for it
            model.recommend_k_items([model.user_ids_[0]], top_k=1)
            if retrieval is not None:
                found = retrieval.retrieve(model.user_ids_[0], None, None, 1, exclude_seen=False)
                if served_ranker is not None:
                    served_ranker.score(model.user_ids_[0], found.ids, {})
        return state

    def _row_scorer_state(
        self, path: str | Path, loaded: Any, index: str | Path | None, ranker: str | Path | None
    ) -> ServingState:
        """The state of a click-through artifact (see :func:`is_row_scorer`), served alone."""
        name = loaded.info.model
        if (
            self.store is not None
            or index is not None
            or ranker is not None
            or self._state.ranker is not None
        ):
            raise ArtifactError(
                f"{path} holds a {name!r} click-through model, which scores "
                "feature rows (POST /v1/predict): serve it alone, without a "
                "store, an index or a ranker."
            )
        model = loaded.model
        if hasattr(model, "progress"):
            model.progress = False
        # warm up on one row of missing values: the first real request should not pay for it
        model.predict_proba(pd.DataFrame({c: [None] for c in _row_columns(model)}))
        return ServingState(model=model, info=loaded.info, loaded_at=time.time())

    def _ranker(
        self, path: str | Path | None, model: Any, name: str
    ) -> tuple[ServedRanker | None, ArtifactInfo | None]:
        """The ranker to serve with ``model``: loaded from ``path``, else the current one."""
        if path is not None:
            loaded = load_artifact(path, trust=self.trust, key=self._artifact_key)
            ranker, info = ServedRanker(loaded.model), loaded.info
        else:
            ranker, info = self._state.ranker, self._state.ranker_info
        if ranker is None:
            return None, None
        if not is_two_tower(model):
            raise ArtifactError(
                f"a ranker is served after a two-tower retrieval model; the "
                f"artifact holds a {name!r} model."
            )
        if _id_type(ranker.model.item_ids_) != _id_type(model.item_ids_):
            raise ArtifactError(
                "the ranker's item ids and the retrieval model's item ids are "
                "of different types (integers vs strings)."
            )
        return ranker, info

    def swap_artifact(
        self, path: str | Path, *, index: str | Path | None = None, ranker: str | Path | None = None
    ) -> ArtifactInfo:
        """Load (and warm up) an artifact, its index and ranker, then make them the served
        ones atomically (one :class:`ServingState`).

        Args:
            path: The artifact folder.
            index: A saved index of a two-tower artifact (default: its ``index/`` folder,
                else an exact index built now).
            ranker: A ranker artifact for the two-stage route (default: keep the current one).

        On any error the current artifact stays served and the error is raised.
        """
        with self._swap_lock:
            state = self._build_state(path, index=index, ranker=ranker)
            self._state = state
        logger.info("serving artifact %s (%s, %s)", path, state.info.model, state.info.digest[:12])
        return state.info

    def swap_artifact_by_name(self, name: str, ranker: str | None = None) -> ArtifactInfo:
        """:meth:`swap_artifact` for a name relative to ``artifact_root`` (no traversal);
        ``ranker``: also a ranker artifact's name, swapped in together.

        Raises:
            ServiceError: 404 when swapping is off or there is no such folder, 422 for a
                name outside the root or an artifact that fails to load for any reason
                (the current artifact stays served).
        """
        if self.artifact_root is None:
            raise ServiceError(404, "not_enabled", "artifact swapping is not enabled.")
        paths = []
        for each in [name] if ranker is None else [name, ranker]:
            try:
                path = resolve_under(self.artifact_root, each)
            except ArtifactError as err:
                raise ServiceError(422, "invalid_path", str(err)) from err
            if not path.is_dir():
                raise ServiceError(
                    404, "not_found", f"no artifact {each!r} under the artifact root."
                )
            paths.append(path)
        path = paths[0]
        try:
            return self.swap_artifact(path, ranker=paths[1] if ranker is not None else None)
        except RecUtilsError as err:
            raise ServiceError(422, "invalid_artifact", str(err)[:500]) from err
        except Exception as err:  # noqa: BLE001 - any failed load keeps the old model
            logger.exception("loading artifact %s failed", path)
            raise ServiceError(
                422,
                "invalid_artifact",
                f"the artifact {name!r} could not be loaded "
                f"({type(err).__name__}: {str(err)[:200]}).",
            ) from err

    @property
    def admin_enabled(self) -> bool:
        """Whether the admin routes are on (an artifact root and an admin token are set)."""
        return self.artifact_root is not None and self.admin_token is not None

    def authorize_admin(self, token: str | None, origin: str = "?") -> None:
        """Check an admin request's token (constant-time); log a refusal.

        Raises:
            ServiceError: 404 when the admin routes are off, 403 for a missing or wrong token.
        """
        if not self.admin_enabled:
            logger.warning("admin request from %s refused: admin routes are disabled", origin)
            raise ServiceError(
                404,
                "admin_disabled",
                "admin routes are disabled: start the service with "
                "--artifact-root and an admin token "
                f"(${ADMIN_TOKEN_ENV} or --admin-token-file).",
            )
        expected = self.admin_token.encode("utf-8")  # type: ignore[union-attr]
        given = (token or "").encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(given, expected):
            logger.warning(
                "admin request from %s refused: %s token",
                origin,
                "missing" if not token else "wrong",
            )
            raise ServiceError(403, "forbidden", "missing or wrong X-Admin-Token.")

    def admin_swap(
        self, name: str, token: str | None, origin: str = "?", ranker: str | None = None
    ) -> ArtifactInfo:
        """:meth:`swap_artifact_by_name` behind :meth:`authorize_admin`, logging the outcome
        of every attempt (who, which artifact, result; never the token)."""
        self.authorize_admin(token, origin)
        try:
            info = self.swap_artifact_by_name(name, ranker)
        except ServiceError as err:
            logger.warning(
                "admin swap to %r from %s failed (%d %s): %s",
                name[:200],
                origin,
                err.status,
                err.code,
                err.message[:200],
            )
            raise
        logger.warning(
            "admin swap to %r from %s done: now serving %s %s",
            name[:200],
            origin,
            info.model,
            info.digest[:12],
        )
        return info

    # ------------------------------------------------------------ checks
    def check_k(self, k: Any) -> int:
        """``k`` in ``[1, max_k]``, else :class:`ServiceError` (422)."""
        if not is_int(k) or not 1 <= k <= self.max_k:
            raise ServiceError(
                422, "invalid_k", f"k must be an integer in [1, {self.max_k}], got {k!r}."
            )
        return int(k)

    def check_batch(self, n: int, what: str) -> None:
        """At most ``max_batch`` entries, else :class:`ServiceError` (413)."""
        if n > self.max_batch:
            raise ServiceError(
                413,
                "batch_too_large",
                f"{n} {what} in one request; at most {self.max_batch} allowed.",
            )
        if n == 0:
            raise ServiceError(422, "empty_batch", f"no {what} given.")

    # ------------------------------------------------------------ answers
    def _user_type(self, state: ServingState) -> str:
        if self.store is not None:
            info = self.store.info()
            if info is not None:
                return info.user_id_type
        return state.user_id_type if state.model is not None else "str"

    def recommend(self, user_id: Any, k: int) -> dict[str, Any]:
        """Top-``k`` for one user: store, else the model, else the popularity fallback."""
        k = self.check_k(k)
        state = self._state
        if self.store is not None:
            key = str(parse_id(user_id, "str", "user_id"))
            int_like = bool(_INT_RE.match(key))
            if int_like:
                key = str(int(key))
            info, recs = self.store.lookup(key)
            if info is not None and info.user_id_type == "int" and not int_like:
                raise ServiceError(
                    422,
                    "invalid_id",
                    f"user_id must be an integer for this store, got {key[:40]!r}.",
                )
            if info is not None and info.user_id_type == "int":
                user_id = int(key)
            if recs is not None and info is not None:
                return self._answer(user_id, k, "store", recs, version=f"store-v{info.version}")
            if state.model is None:
                fallback = info.fallback if info is not None else []
                return self._answer(
                    user_id,
                    k,
                    "popularity",
                    fallback,
                    version=f"store-v{info.version}" if info else None,
                )
        return self._recommend_model(state, user_id, k)

    def _recommend_model(self, state: ServingState, user_id: Any, k: int) -> dict[str, Any]:
        self._check_recommender(state, "recommendations")
        model = state.model
        uid = parse_id(user_id, state.user_id_type, "user_id")
        version = state.info.digest[:12] if state.info else None
        if uid not in model.user_ids_:
            return self._answer(uid, k, "popularity", state.fallback, version=version)
        frame = model.recommend_k_items([uid], top_k=k)
        pairs = list(zip(frame[model.col_item].tolist(), frame[model.col_prediction].tolist()))
        return self._answer(uid, k, "model", pairs, version=version)

    @staticmethod
    def _answer(
        user_id: Any, k: int, source: str, pairs: Sequence[tuple[Any, Any]], version: str | None
    ) -> dict[str, Any]:
        return {
            "user_id": _plain(user_id),
            "k": k,
            "source": source,
            "fallback": source == "popularity",
            "version": version,
            "items": _items(pairs, k),
        }

    def recommend_many(self, user_ids: Sequence[Any], k: int) -> dict[str, Any]:
        """:meth:`recommend` for a batch (at most ``max_batch`` users; each id checked first)."""
        self.check_batch(len(user_ids), "user ids")
        k = self.check_k(k)
        state = self._state
        if self.store is None:
            self._check_recommender(state, "recommendations")
        if self.store is None or state.model is None:
            # every id is validated before any work, so a bad one fails the whole request
            id_type = self._user_type(state)
            for uid in user_ids:
                parse_id(uid, id_type, "user_id")
        if self.store is not None:
            return {"k": k, "results": [self.recommend(uid, k) for uid in user_ids]}
        model = state.model
        ids = [parse_id(u, state.user_id_type, "user_id") for u in user_ids]
        known = [u for u in dict.fromkeys(ids) if u in model.user_ids_]
        by_user: dict[Any, list[tuple[Any, Any]]] = {}
        if known:
            frame = model.recommend_k_items(known, top_k=k)
            for uid, item, score in zip(
                frame[model.col_user].tolist(),
                frame[model.col_item].tolist(),
                frame[model.col_prediction].tolist(),
            ):
                by_user.setdefault(uid, []).append((item, score))
        version = state.info.digest[:12] if state.info else None
        results = []
        for uid in ids:
            if uid in model.user_ids_:
                results.append(self._answer(uid, k, "model", by_user.get(uid, []), version))
            else:
                results.append(self._answer(uid, k, "popularity", state.fallback, version))
        return {"k": k, "results": results}

    def _require_model(self, what: str) -> ServingState:
        state = self._state
        if state.model is None:
            raise ServiceError(
                400,
                "unsupported",
                f"{what} needs a model artifact; this service runs from a store "
                "only (start it with --artifact).",
            )
        return state

    @staticmethod
    def _check_recommender(state: ServingState, what: str) -> None:
        """400 ``unsupported`` when the served model scores feature rows, not users."""
        if is_row_scorer(state.model):
            raise ServiceError(
                400,
                "unsupported",
                f"{what} need a model that recommends items to users; the served "
                f"{state.info.model!r} model scores feature rows: use POST "
                "/v1/predict.",
            )

    def similar_items(self, item_id: Any, k: int) -> dict[str, Any]:
        """Items most similar to ``item_id`` (SAR's item-based top-k, item-KNN's neighbours,
        a two-tower model's nearest item embeddings from its index)."""
        k = self.check_k(k)
        state = self._require_model("similar-items")
        model = state.model
        if not similar_items_supported(model):
            raise ServiceError(
                400, "unsupported", f"the {state.info.model!r} model has no item similarity."
            )
        iid = parse_id(item_id, state.item_id_type, "item_id")
        pos = model.item_ids_.get_indexer([iid])[0]
        if pos < 0:
            raise ServiceError(404, "unknown_item", f"item {iid!r} is not known to the model.")
        if state.retrieval is not None:
            ids, scores = state.retrieval.similar(int(pos), k)
            pairs = list(zip(ids.tolist(), scores.tolist()))
        elif hasattr(model, "get_item_based_topk"):
            frame = model.get_item_based_topk(pd.DataFrame({model.col_item: [iid]}), top_k=k)
            pairs = list(zip(frame[model.col_item].tolist(), frame[model.col_prediction].tolist()))
        else:
            sim = model.item_similarity_
            row = (
                np.asarray(
                    sim[pos].toarray() if hasattr(sim, "toarray") else sim[pos], dtype=np.float64
                )
                .ravel()
                .copy()
            )
            row[pos] = -np.inf
            row[row <= 0] = -np.inf
            from recutils.models.base import top_k_per_row

            idx, val = top_k_per_row(row[None, :], k)
            pairs = [(model.item_ids_[i], v) for i, v in zip(idx[0], val[0]) if np.isfinite(v)]
        return {
            "item_id": _plain(iid),
            "k": k,
            "version": state.info.digest[:12] if state.info else None,
            "items": _items(pairs, k),
        }

    # ------------------------------------------------------------ retrieval
    def _require_retrieval(self, what: str) -> ServingState:
        state = self._require_model(what)
        if state.retrieval is None:
            raise ServiceError(
                400,
                "unsupported",
                f"{what} needs a two-tower retrieval artifact (dssm, dssm_senet); "
                f"the served model is {state.info.model!r}.",
            )
        return state

    def _query(
        self, state: ServingState, user_id: Any | None, history: Sequence[Any] | None
    ) -> tuple[Any | None, list[Any] | None]:
        uid = None if user_id is None else parse_id(user_id, state.user_id_type, "user_id")
        if history is None:
            return uid, None
        if len(history) > self.max_batch:
            self.check_batch(len(history), "history items")
        return uid, [parse_id(i, state.item_id_type, "history item") for i in history]

    def retrieve(
        self,
        user_id: Any | None = None,
        features: Mapping[str, Any] | None = None,
        history: Sequence[Any] | None = None,
        k: int = 10,
        exclude_seen: bool = True,
    ) -> dict[str, Any]:
        """Top-``k`` candidates from the two-tower model's index for a known user, a new
        user's features (user tower's columns) or a history of item ids.

        Raises:
            ServiceError: 400 without a two-tower artifact; 422 for a bad ``k`` or id and
                the codes of :data:`~recutils.serving.retrieval.RETRIEVAL_ERROR_CODES`.
        """
        k = self.check_k(k)
        state = self._require_retrieval("retrieve")
        uid, items = self._query(state, user_id, history)
        t0 = time.perf_counter()
        found = state.retrieval.retrieve(uid, features, items, k, exclude_seen=bool(exclude_seen))
        total = time.perf_counter() - t0
        return {
            "user_id": _plain(uid),
            "known_user": found.known,
            "k": k,
            "index": state.retrieval.index.kind,
            "version": state.info.digest[:12],
            "items": _items(list(zip(found.ids.tolist(), found.scores.tolist())), k),
            "timings_ms": {"retrieve": round(total * 1000, 3)},
        }

    def two_stage(
        self,
        user_id: Any | None = None,
        features: Mapping[str, Any] | None = None,
        history: Sequence[Any] | None = None,
        k: int = 10,
        candidates: int | None = None,
        exclude_seen: bool = True,
    ) -> dict[str, Any]:
        """Retrieve ``candidates`` items (default ``max(100, k)``, fewer when the index has
        fewer unseen items left) with the two-tower model and its index, score them with the
        ranker (the user's features given to its ``predict``), and answer the ranker's top
        ``k``: each item with its ranker ``score``, its ``retrieval_score`` and
        ``retrieval_rank``; ``timings_ms`` of both stages.

        Raises:
            ServiceError: as :meth:`retrieve`; 400 without a ranker; 422
                ``invalid_candidates`` for ``candidates`` outside ``[k, max_candidates]``.
        """
        k = self.check_k(k)
        state = self._require_retrieval("two-stage")
        if state.ranker is None:
            raise ServiceError(
                400,
                "unsupported",
                "two-stage needs a ranker artifact: start the service with --ranker-artifact.",
            )
        state.retrieval.check_k(k)
        n = state.retrieval.index.n_items
        flexible = candidates is None
        if flexible:
            candidates = min(max(100, k), n, self.max_candidates)
        if not is_int(candidates) or not k <= candidates <= self.max_candidates:
            raise ServiceError(
                422,
                "invalid_candidates",
                f"candidates must be an integer in [k={k}, {self.max_candidates}], "
                f"got {candidates!r}.",
            )
        state.retrieval.check_k(int(candidates), "candidates")
        uid, items = self._query(state, user_id, history)
        t0 = time.perf_counter()
        found = state.retrieval.retrieve(
            uid,
            features,
            items,
            int(candidates),
            exclude_seen=bool(exclude_seen),
            min_k=k if flexible else None,
        )
        t1 = time.perf_counter()
        scores = state.ranker.score(uid, found.ids, found.features)
        order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")[:k]
        t2 = time.perf_counter()
        out = [
            {
                "item_id": _plain(found.ids[i]),
                "score": _score(scores[i]),
                "rank": rank,
                "retrieval_score": _score(found.scores[i]),
                "retrieval_rank": int(i) + 1,
            }
            for rank, i in enumerate(order.tolist(), start=1)
        ]
        return {
            "user_id": _plain(uid),
            "known_user": found.known,
            "k": k,
            "candidates": len(found.ids),
            "index": state.retrieval.index.kind,
            "version": state.info.digest[:12],
            "ranker_version": state.ranker_info.digest[:12] if state.ranker_info else None,
            "items": out,
            "timings_ms": {
                "retrieve": round((t1 - t0) * 1000, 3),
                "rank": round((t2 - t1) * 1000, 3),
                "total": round((t2 - t0) * 1000, 3),
            },
        }

    def score(self, pairs: Sequence[tuple[Any, Any]]) -> dict[str, Any]:
        """Model scores of (user, item) pairs; unknown users or items get ``null``."""
        self.check_batch(len(pairs), "pairs")
        state = self._require_model("score")
        self._check_recommender(state, "(user, item) scores")
        model = state.model
        users = [parse_id(u, state.user_id_type, "user_id") for u, _ in pairs]
        items = [parse_id(i, state.item_id_type, "item_id") for _, i in pairs]
        u_idx = model.user_ids_.get_indexer(users)
        i_idx = model.item_ids_.get_indexer(items)
        known = (u_idx >= 0) & (i_idx >= 0)
        scores: list[float | None] = [None] * len(pairs)
        if known.any():
            sub = pd.DataFrame(
                {
                    model.col_user: [u for u, ok in zip(users, known) if ok],
                    model.col_item: [i for i, ok in zip(items, known) if ok],
                }
            )
            pred = model.predict(sub)[model.col_prediction].tolist()
            for pos, value in zip(np.flatnonzero(known), pred):
                scores[pos] = _score(value)
        return {
            "version": state.info.digest[:12] if state.info else None,
            "scores": [
                {"user_id": _plain(u), "item_id": _plain(i), "score": s, "known": bool(ok)}
                for u, i, s, ok in zip(users, items, scores, known)
            ],
        }

    def predict_rows(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Click probabilities of feature rows, scored by a click-through artifact (see
        :func:`is_row_scorer`), one per row in order.

        Each row maps feature columns to values (numbers for numeric columns, strings for
        categorical ones); a column left out or ``null`` is a missing value, which the model
        handles as in training.

        Raises:
            ServiceError: 413 / 422 ``empty_batch`` for more than ``max_batch`` or no rows;
                400 when the served model does not score feature rows (or there is none);
                422 ``invalid_row`` for a row that is not a mapping, ``unknown_feature`` for a
                column the model does not read, ``invalid_feature`` for a value it cannot use
                (text in a numeric column, infinity).
        """
        self.check_batch(len(rows), "rows")
        state = self._require_model("predict")
        model = state.model
        if not is_row_scorer(model):
            raise ServiceError(
                400,
                "unsupported",
                f"predict needs a click-through artifact that scores feature rows "
                f"(lightgbm_ctr); the served model is {state.info.model!r}: use "
                "/v1/score for (user, item) pairs.",
            )
        if not all(isinstance(row, Mapping) for row in rows):
            raise ServiceError(
                422, "invalid_row", "every row must be an object of feature columns and values."
            )
        columns = _row_columns(model)
        unknown = sorted(set().union(*rows) - set(columns), key=str)
        if unknown:
            raise ServiceError(
                422,
                "unknown_feature",
                f"unknown feature column(s) {unknown[:10]}; the model reads {columns}.",
            )
        frame = pd.DataFrame.from_records(list(rows), columns=columns)
        try:
            scores = model.predict_proba(frame)
        except DataError as err:
            raise ServiceError(422, "invalid_feature", str(err)[:500]) from err
        return {
            "model": state.info.model,
            "version": state.info.digest[:12],
            "predictions": [_score(value) for value in scores.tolist()],
        }

    def model_info(self) -> dict[str, Any]:
        """Name, version, training time and metrics of what is served."""
        state = self._state
        out: dict[str, Any] = {"mode": self.mode, "max_k": self.max_k, "max_batch": self.max_batch}
        if state.info is not None:
            info = state.info
            out["artifact"] = {
                "model": info.model,
                "version": info.digest[:12],
                "digest": info.digest,
                "recutils_version": info.recutils_version,
                "trained_at": info.trained_at,
                "created_at": info.created_at,
                "metrics": info.metrics,
            }
            if is_row_scorer(state.model):
                out["artifact"]["features"] = _row_columns(state.model)
            else:
                out["artifact"].update(
                    {
                        "n_users": int(len(state.model.user_ids_)),
                        "n_items": int(len(state.model.item_ids_)),
                        "similar_items": similar_items_supported(state.model),
                    }
                )
        if state.retrieval is not None:
            out["retrieval"] = state.retrieval.describe()
        if state.ranker_info is not None:
            out["ranker"] = {
                "model": state.ranker_info.model,
                "version": state.ranker_info.digest[:12],
                "trained_at": state.ranker_info.trained_at,
                "metrics": state.ranker_info.metrics,
            }
        if self.store is not None:
            sinfo: StoreSetInfo | None = self.store.info()
            out["store"] = (
                None
                if sinfo is None
                else {
                    "version": sinfo.version,
                    "created_at": sinfo.created_at,
                    "n_users": sinfo.n_users,
                    "top_k": sinfo.top_k,
                    "metadata": sinfo.metadata,
                }
            )
        return out

    def health(self) -> dict[str, Any]:
        """Liveness and readiness: a store that cannot be read makes the service not ready."""
        out: dict[str, Any] = {
            "status": "ok",
            "mode": self.mode,
            "model_loaded": self._state.model is not None,
        }
        if self.store is not None:
            try:
                info = self.store.info()
                out["store_version"] = None if info is None else info.version
            except Exception as err:  # noqa: BLE001 - any store failure means not ready
                logger.warning("store health check failed: %s", err)
                out["status"] = "unavailable"
                out["store_error"] = type(err).__name__
        return out

    def close(self) -> None:
        """Close the store."""
        if self.store is not None:
            self.store.close()


__all__ = [
    "ADMIN_TOKEN_ENV",
    "RecommendationService",
    "ServiceError",
    "ServingState",
    "is_row_scorer",
    "parse_id",
    "resolve_admin_token",
    "similar_items_supported",
]
