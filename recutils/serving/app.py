"""The HTTP service (FastAPI): ``create_app(service)``; run it with ``recutils serve``.

Endpoints (JSON; the OpenAPI schema is at ``/openapi.json``, with a description of every
operation and ``maxItems`` equal to the service's ``max_batch``; the interactive pages
``/docs`` (Swagger UI) and ``/redoc`` load their JavaScript from a CDN, so they need the
internet in the browser; offline they show a note that points to ``/openapi.json``):

* ``GET /health``: ``{"status": "ok", ...}`` (503 when the store cannot be read).
* ``GET /v1/recommendations/{user_id}?k=10``: the user's top-k.
* ``POST /v1/recommendations`` ``{"user_ids": [...], "k": 10}``: a batch.
* ``GET /v1/similar-items/{item_id}?k=10``: where the model has item similarities
  (SAR, item-KNN; a two-tower model: its item index).
* ``POST /v1/retrieve`` ``{"user_id": ..., "features": {...}, "history": [...], "k": 10,
  "exclude_seen": true}``: top-k candidates from a two-tower model's index (see
  :mod:`recutils.serving.retrieval`).
* ``POST /v1/two-stage``: the same body plus ``"candidates": N``: N retrieved candidates
  scored by the ranker artifact (``--ranker-artifact``), its top k with both scores and
  the stage timings.
* ``POST /v1/score`` ``{"pairs": [{"user_id": ..., "item_id": ...}]}``: model scores.
* ``POST /v1/predict`` ``{"rows": [{"I1": 3, "C1": "68fd1e64", ...}]}``: click
  probabilities of feature rows, one per row, from a click-through artifact
  (``lightgbm_ctr``) served alone; other models: 400.
* ``GET /v1/model``: model name, version, trained-at and metrics; store set info.
* ``POST /v1/admin/artifact`` ``{"path": "name", "ranker": "name"}`` (``ranker``
  optional: swapped in together) with header ``X-Admin-Token``:
  hot-swap to another artifact under the configured artifact root. **Off unless both an
  artifact root and an admin token are configured**: then it answers a JSON 404
  (``admin_disabled``); a missing or wrong token gets a JSON 403 (checked before the
  body); a swap that fails to load keeps the current model and answers a JSON 422.

A recommendation answer is ``{"user_id", "k", "source": "store"|"model"|"popularity",
"fallback": bool, "version", "items": [{"item_id", "score", "rank"}]}``; unknown users
get the popularity fallback, ``"fallback": true``.

Every error is a JSON ``{"error": {"code", "message"}}`` with a 4xx status: bad ``k``
or ids (422), oversized batches or bodies (413), unknown items (404), endpoints the
served model does not support (400). A store that cannot be read (down, locked,
corrupt) gives a JSON 503 (``store_unavailable``). An unexpected exception is logged and
answered with a JSON 500 without internals (none is expected: the tests send hostile
input).
"""

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Union

from recutils.exceptions import RecUtilsError
from recutils.serving.service import RecommendationService, ServiceError
from recutils.serving.stores import StoreError
from recutils.utils.deps import require

logger = logging.getLogger(__name__)

#: Largest request body accepted (bytes).
MAX_BODY_BYTES = 1 * 2**20
#: Cap on list lengths when a request is parsed. The schema shows the service's real limit
#: (``max_batch``, ``maxItems``); a list over that limit but under this cap is parsed and
#: refused with the documented 413 ``batch_too_large``.
SCHEMA_MAX_ITEMS = 100_000
#: Shown by ``/docs`` and ``/redoc`` until (unless) their JavaScript loads from the CDN.
OFFLINE_DOCS_NOTE = (
    '<p style="font-family:sans-serif;margin:2em">This page loads its viewer from the '
    "internet (cdn.jsdelivr.net); if you can read this, the browser could not load it. "
    'The API description is at <a href="{openapi}">{openapi}</a> (OpenAPI JSON).</p>'
)


def _json(content: Any, status: int = 200) -> Any:
    from starlette.responses import Response

    return Response(
        json.dumps(content, separators=(",", ":"), ensure_ascii=False, allow_nan=False),
        status_code=status,
        media_type="application/json",
    )


def _error(status: int, code: str, message: str, details: Any = None) -> Any:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return _json(body, status)


def _store_unavailable(exc: StoreError) -> Any:
    """The JSON 503 of a store that cannot be read (the cause goes to the log only)."""
    logger.warning("store unavailable: %s", exc)
    return _error(503, "store_unavailable", "the recommendation store cannot be read now.")


class _BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets a JSON 413."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = True
                if too_big:
                    await _error(413, "body_too_large", f"request body over {self.limit} bytes.")(
                        scope, receive, send
                    )
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                await _error(413, "body_too_large", f"request body over {self.limit} bytes.")(
                    scope, receive, send
                )
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        payload = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": payload, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class _StoreFastPath:
    """ASGI middleware: plain store-backed ``GET /v1/recommendations/{user_id}[?k=N]``.

    In store-only mode this lookup is the hot endpoint; answering it before FastAPI's
    routing and parameter validation about halves the per-request cost. Only the happy
    path is taken here: any other query string, an id with ``/``, or a request the
    service refuses (bad ``k``, malformed id) falls through to the FastAPI route, which
    gives the same answer or the documented error (and keeps the OpenAPI schema).
    """

    PREFIX = "/v1/recommendations/"

    def __init__(self, app: Any, service: RecommendationService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        svc = self.service
        if (
            scope["type"] == "http"
            and scope.get("method") == "GET"
            and svc.store is not None
            and svc.state.model is None
        ):
            path: str = scope.get("path", "")
            if path.startswith(self.PREFIX):
                user_id = path[len(self.PREFIX) :]
                k = _simple_k(scope.get("query_string", b""))
                if user_id and "/" not in user_id and k is not None:
                    try:
                        body = svc.recommend(user_id, k)
                    except StoreError as err:  # not retried by the route: answered here
                        await _store_unavailable(err)(scope, receive, send)
                        return
                    except RecUtilsError:  # the FastAPI route answers with the error
                        body = None
                    if body is not None:
                        await _json(body)(scope, receive, send)
                        return
        await self.app(scope, receive, send)


def _simple_k(query: bytes) -> int | None:
    """``k`` of an empty or ``k=<digits>`` query string; ``None`` for anything else."""
    if not query:
        return 10
    if query.startswith(b"k=") and 2 < len(query) <= 6 and query[2:].isdigit():
        return int(query[2:])
    return None


def create_app(
    service: RecommendationService | None = None,
    *,
    artifact: str | Path | None = None,
    store: Any = None,
    trust: bool = False,
    max_k: int = 100,
    max_batch: int = 1000,
    artifact_root: str | Path | None = None,
    admin_token: str | None = None,
    index: str | Path | None = None,
    ranker_artifact: str | Path | None = None,
) -> Any:
    """The FastAPI app over a :class:`RecommendationService` (built from the keywords
    when ``service`` is not given). The service is at ``app.state.service``."""
    fastapi = require("fastapi", "serving")
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError
    from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException as StarletteHTTPException

    if service is None:
        service = RecommendationService(
            artifact=artifact,
            store=store,
            trust=trust,
            max_k=max_k,
            max_batch=max_batch,
            artifact_root=artifact_root,
            admin_token=admin_token,
            index=index,
            ranker_artifact=ranker_artifact,
        )
    svc = service

    Id = Union[  # noqa: UP007 (pydantic field types built at run time)
        StrictInt, Annotated[StrictStr, Field(min_length=1, max_length=256)]
    ]

    class Item(BaseModel):
        item_id: Any = Field(description="Item id (integer or string, as in training).")
        score: float | None = Field(description="Model score (null when not finite).")
        rank: int = Field(description="1-based rank.")

    class Recommendations(BaseModel):
        user_id: Any
        k: int
        source: str = Field(description="store, model or popularity (the fallback).")
        fallback: bool = Field(description="True when the user got the popularity fallback.")
        version: str | None = Field(description="Artifact digest prefix or store set.")
        items: list[Item]

    class BatchRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        user_ids: list[Id] = Field(
            max_length=SCHEMA_MAX_ITEMS,
            json_schema_extra={"minItems": 1, "maxItems": svc.max_batch},
            description=f"User ids, 1 to {svc.max_batch} (max_batch; more: 413).",
        )
        k: StrictInt = Field(10, description=f"Items per user, 1..{svc.max_k} (max_k).")

    class BatchResponse(BaseModel):
        k: int
        results: list[Recommendations]

    class Similar(BaseModel):
        item_id: Any
        k: int
        version: str | None
        items: list[Item]

    class Pair(BaseModel):
        model_config = ConfigDict(extra="forbid")
        user_id: Id
        item_id: Id

    class ScoreRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        pairs: list[Pair] = Field(
            max_length=SCHEMA_MAX_ITEMS,
            json_schema_extra={"minItems": 1, "maxItems": svc.max_batch},
            description=f"(user, item) pairs, 1 to {svc.max_batch} (max_batch; more: 413).",
        )

    class Score(BaseModel):
        user_id: Any
        item_id: Any
        score: float | None
        known: bool

    class ScoreResponse(BaseModel):
        version: str | None
        scores: list[Score]

    FeatureValue = Union[  # noqa: UP007 (pydantic field types built at run time)
        StrictInt, StrictFloat, Annotated[StrictStr, Field(max_length=256)], None
    ]

    class RetrieveRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        user_id: Id | None = Field(None, description="A known user (its seen items are excluded).")
        features: dict[Annotated[str, Field(max_length=256)], FeatureValue] | None = Field(
            None,
            max_length=SCHEMA_MAX_ITEMS,
            description="User tower features by column (e.g. age, gender, occupation): a new "
            "user, or overrides for a known one. Finite numbers, strings or null.",
        )
        history: list[Id] | None = Field(
            None,
            max_length=SCHEMA_MAX_ITEMS,
            description="Item ids the user had (models whose user tower reads a history; "
            "they are excluded with exclude_seen).",
        )
        k: StrictInt = Field(
            10,
            description=f"Items to return, 1..{svc.max_k} (max_k) and at most the indexed items.",
        )
        exclude_seen: StrictBool = Field(
            True, description="Leave out the user's training items and history."
        )

    class TwoStageRequest(RetrieveRequest):
        candidates: StrictInt | None = Field(
            None,
            description=f"Candidates retrieved and ranked, k..{svc.max_candidates} "
            "(default max(100, k), at most the indexed items).",
        )

    class Timings(BaseModel):
        retrieve: float
        rank: float | None = None
        total: float | None = None

    class Retrieved(BaseModel):
        user_id: Any
        known_user: bool
        k: int
        index: str = Field(description="The index kind searched (brute_force, flat, ivf, hnsw).")
        version: str | None
        items: list[Item]
        timings_ms: Timings

    class RankedItem(Item):
        retrieval_score: float | None = Field(description="The index's similarity.")
        retrieval_rank: int = Field(description="1-based rank among the candidates.")

    class TwoStage(BaseModel):
        user_id: Any
        known_user: bool
        k: int
        candidates: int
        index: str
        version: str | None
        ranker_version: str | None
        items: list[RankedItem]
        timings_ms: Timings

    class PredictRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        rows: list[dict[Annotated[str, Field(max_length=256)], FeatureValue]] = Field(
            max_length=SCHEMA_MAX_ITEMS,
            json_schema_extra={"minItems": 1, "maxItems": svc.max_batch},
            description=f"Feature rows, 1 to {svc.max_batch} (max_batch; more: 413): column -> "
            "value (numbers for numeric columns, strings for categorical ones); a "
            "column left out or null is missing.",
        )

    class PredictResponse(BaseModel):
        model: str = Field(description="The served model's registry name.")
        version: str | None
        predictions: list[float | None] = Field(description="Click probability per row, in order.")

    class SwapRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: Annotated[StrictStr, Field(min_length=1, max_length=1024)]
        ranker: Annotated[StrictStr, Field(min_length=1, max_length=1024)] | None = None

    class ErrorBody(BaseModel):
        code: str
        message: str

    class ErrorResponse(BaseModel):
        error: ErrorBody

    errors = {code: {"model": ErrorResponse} for code in (400, 404, 413, 422)}

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        svc.close()

    app = fastapi.FastAPI(
        lifespan=lifespan,
        title="recutils recommendation service",
        version=_version(),
        description="Top-k recommendations from a store of precomputed lists or a model "
        "artifact; unknown users get the popularity fallback. Errors are JSON "
        '`{"error": {"code", "message"}}`.',
        docs_url=None,
        redoc_url=None,  # served below, with an offline note
    )
    app.state.service = svc
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(_StoreFastPath, service=svc)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Any, exc: ServiceError) -> Any:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(StoreError)
    async def _store_error(request: Any, exc: StoreError) -> Any:
        return _store_unavailable(exc)

    @app.exception_handler(RecUtilsError)
    async def _recutils_error(request: Any, exc: RecUtilsError) -> Any:
        return _error(422, type(exc).__name__, str(exc)[:500])

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Any, exc: RequestValidationError) -> Any:
        try:
            details = jsonable_encoder(
                [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
            )
            json.dumps(details)
        except (TypeError, ValueError):
            details = None
        return _error(422, "invalid_request", "the request is malformed.", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Any, exc: StarletteHTTPException) -> Any:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Any, exc: Exception) -> Any:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "internal_error", "unexpected error; see the service log.")

    Query = fastapi.Query
    KQuery = Annotated[int, Query(description=f"Items to return, 1..{svc.max_k} (max_k).")]

    @app.get("/docs", include_in_schema=False)
    async def swagger_docs() -> Any:
        from fastapi.openapi.docs import get_swagger_ui_html

        return _with_offline_note(
            get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - docs"),
            '<div id="swagger-ui">',
            app.openapi_url,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc_docs() -> Any:
        from fastapi.openapi.docs import get_redoc_html

        return _with_offline_note(
            get_redoc_html(openapi_url=app.openapi_url, title=f"{app.title} - ReDoc"),
            f'<redoc spec-url="{app.openapi_url}">',
            app.openapi_url,
        )

    @app.get(
        "/health",
        tags=["service"],
        summary="Liveness and readiness",
        description='`{"status": "ok", "mode", "model_loaded", ...}`; '
        '503 with `"status": "unavailable"` when the store cannot be '
        "read.",
    )
    async def health() -> Any:
        out = svc.health()
        return _json(out, 200 if out["status"] == "ok" else 503)

    @app.get(
        "/v1/recommendations/{user_id}",
        response_model=Recommendations,
        responses=errors,
        tags=["recommendations"],
        summary="Top-k for one user",
        description="The user's top-k items from the store, else the model; an unknown "
        'user gets the popularity fallback (`"fallback": true`).',
    )
    async def recommend(user_id: str, k: KQuery = 10) -> Any:
        if svc.state.model is None:  # store lookups are short: answered on the event loop
            return _json(svc.recommend(user_id, k))
        return _json(await run_in_threadpool(svc.recommend, user_id, k))

    @app.post(
        "/v1/recommendations",
        response_model=BatchResponse,
        responses=errors,
        tags=["recommendations"],
        summary="Top-k for a batch of users",
        description=f'Body `{{"user_ids": [...], "k": 10}}` with at most '
        f"{svc.max_batch} ids; one result per id, in order.",
    )
    async def recommend_many(body: BatchRequest) -> Any:
        return _json(await run_in_threadpool(svc.recommend_many, body.user_ids, body.k))

    @app.get(
        "/v1/similar-items/{item_id}",
        response_model=Similar,
        responses=errors,
        tags=["recommendations"],
        summary="Items similar to an item",
        description="The k items most similar to `item_id`, for models with item "
        "similarities (SAR, item-KNN; a two-tower model searches its item "
        "index; others: 400); an unknown item: 404.",
    )
    async def similar(item_id: str, k: KQuery = 10) -> Any:
        return _json(await run_in_threadpool(svc.similar_items, item_id, k))

    @app.post(
        "/v1/retrieve",
        response_model=Retrieved,
        responses=errors,
        tags=["retrieval"],
        summary="Top-k candidates from the two-tower index",
        description='Body `{"user_id"}` (a known user), or `{"features": {...}}` (a '
        'new user: the user tower\'s columns), or `{"history": [...]}` where '
        "the model reads one; `k`, `exclude_seen` (default true). Errors: "
        "`unknown_user`, `missing_user`, `unknown_feature`, `invalid_feature` "
        "(NaN, infinity), `history_unsupported`, `empty_history`, "
        "`k_exceeds_index`, `too_few_items` (422); no two-tower model: 400.",
    )
    async def retrieve(body: RetrieveRequest) -> Any:
        return _json(
            await run_in_threadpool(
                svc.retrieve, body.user_id, body.features, body.history, body.k, body.exclude_seen
            )
        )

    @app.post(
        "/v1/two-stage",
        response_model=TwoStage,
        responses=errors,
        tags=["retrieval"],
        summary="Retrieve candidates, then rank them",
        description="The body of `/v1/retrieve` plus `candidates` (N): N candidates from "
        "the index, scored by the ranker artifact with the user's features; "
        "the top k with `score` (ranker), `retrieval_score`, "
        "`retrieval_rank`, and `timings_ms` of both stages. No ranker: 400; "
        "`candidates` outside [k, max_candidates]: 422 `invalid_candidates`.",
    )
    async def two_stage(body: TwoStageRequest) -> Any:
        return _json(
            await run_in_threadpool(
                svc.two_stage,
                body.user_id,
                body.features,
                body.history,
                body.k,
                body.candidates,
                body.exclude_seen,
            )
        )

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        responses=errors,
        tags=["scoring"],
        summary="Scores of (user, item) pairs",
        description=f'Body `{{"pairs": [{{"user_id": ..., "item_id": ...}}]}}` '
        f"with at most {svc.max_batch} pairs; an unknown user or item gets "
        '`"score": null, "known": false`. Needs a model artifact '
        "(a store-only service answers 400).",
    )
    async def score(body: ScoreRequest) -> Any:
        pairs = [(p.user_id, p.item_id) for p in body.pairs]
        return _json(await run_in_threadpool(svc.score, pairs))

    @app.post(
        "/v1/predict",
        response_model=PredictResponse,
        responses=errors,
        tags=["scoring"],
        summary="Click probabilities of feature rows",
        description=f'Body `{{"rows": [{{"I1": 3, "C1": "68fd1e64"}}]}}` with at '
        f"most {svc.max_batch} rows, scored by a click-through artifact "
        "(lightgbm_ctr) served alone. Errors: `unknown_feature`, "
        "`invalid_feature` (422); another model: 400.",
    )
    async def predict(body: PredictRequest) -> Any:
        return _json(await run_in_threadpool(svc.predict_rows, body.rows))

    @app.get(
        "/v1/model",
        tags=["service"],
        summary="What is served",
        description="Mode, max_k and max_batch; the artifact's model name, version, "
        "training time, metrics and sizes; the store set's version and size.",
    )
    async def model() -> Any:
        return _json(await run_in_threadpool(svc.model_info))

    def admin(
        request: fastapi.Request, x_admin_token: Annotated[str | None, fastapi.Header()] = None
    ) -> str:
        """Dependency of the admin routes: checked before the body is read."""
        origin = request.client.host if request.client else "?"
        svc.authorize_admin(x_admin_token, origin)
        return origin

    if svc.admin_enabled:
        admin_errors = {code: {"model": ErrorResponse} for code in (403, 404, 413, 422)}

        @app.post(
            "/v1/admin/artifact",
            responses=admin_errors,
            tags=["admin"],
            summary="Swap the served artifact",
            description='Body `{"path": "NAME"}`, a folder under the artifact '
            'root (and `"ranker": "NAME"` to swap the two-stage ranker '
            "with it), with the `X-Admin-Token` header (403 without it). A swap "
            "that fails to load keeps the current model (422).",
        )
        async def swap(
            body: SwapRequest,
            request: fastapi.Request,
            origin: Annotated[str, fastapi.Depends(admin)],
        ) -> Any:
            info = await run_in_threadpool(
                svc.admin_swap, body.path, request.headers.get("x-admin-token"), origin, body.ranker
            )
            return _json({"swapped": True, "model": info.model, "version": info.digest[:12]})
    else:

        @app.post("/v1/admin/artifact", include_in_schema=False)
        async def swap_disabled(origin: Annotated[str, fastapi.Depends(admin)]) -> Any:
            raise ServiceError(404, "admin_disabled", "admin routes are disabled.")  # unreached

    return app


def _with_offline_note(page: Any, anchor: str, openapi_url: str) -> Any:
    """``page`` (an HTMLResponse) with :data:`OFFLINE_DOCS_NOTE` after ``anchor``: the viewer
    replaces it once its script has loaded, so only an offline browser shows it."""
    from starlette.responses import HTMLResponse

    html = page.body.decode("utf-8")
    note = OFFLINE_DOCS_NOTE.format(openapi=openapi_url)
    if anchor in html:
        html = html.replace(anchor, anchor + note, 1)
    return HTMLResponse(html)


def _version() -> str:
    from recutils import __version__

    return __version__


__all__ = ["create_app", "MAX_BODY_BYTES", "OFFLINE_DOCS_NOTE"]
