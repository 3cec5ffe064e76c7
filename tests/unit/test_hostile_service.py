"""The HTTP service against a hostile user: the admin routes, failing swaps, failing
stores, and a fuzz test over the request bodies of every route."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import recutils.serving.service as service_module  # noqa: E402
from recutils.exceptions import ConfigError  # noqa: E402
from recutils.models.baselines import ItemKNN  # noqa: E402
from recutils.models.sar import SAR  # noqa: E402
from recutils.serving import batch_recommend, create_app, load_model, save_artifact  # noqa: E402
from recutils.serving.service import (  # noqa: E402
    ADMIN_TOKEN_ENV,
    RecommendationService,
    resolve_admin_token,
)
from recutils.serving.stores import StoreError  # noqa: E402
from recutils.testing.contract import toy_interactions  # noqa: E402

TOKEN = "correct-horse-battery-staple"
ADMIN = "/v1/admin/artifact"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("artifacts")
    data = toy_interactions(n_users=40, n_items=30)
    save_artifact(SAR(similarity_type="jaccard").fit(data), root / "sar")
    save_artifact(ItemKNN(k=5).fit(data), root / "itemknn")
    return root


@pytest.fixture(scope="module")
def store_url(root: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('store')}/recs.db"
    batch_recommend(load_model(root / "sar"), top_k=20, store=url, progress=False)
    return url


def _error(resp: Any, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["message"] and body["error"]["code"]
    return body["error"]


def _served_model(client: TestClient) -> str:
    return client.get("/v1/model").json()["artifact"]["model"]


# ----------------------------------------------------------------------------- admin routes
@pytest.mark.parametrize(
    "config",
    [{"artifact_root": True}, {"admin_token": TOKEN}, {}],
    ids=["root-without-token", "token-without-root", "neither"],
)
def test_admin_swap_route_is_off_without_a_token(root: Path, config: dict) -> None:
    kwargs = {"artifact_root": root} if config.get("artifact_root") else {}
    app = create_app(artifact=root / "sar", admin_token=config.get("admin_token"), **kwargs)
    with TestClient(app) as c:
        for headers in ({}, {"X-Admin-Token": TOKEN}, {"X-Admin-Token": ""}):
            for body in ({"path": "itemknn"}, {"bad": 1}, None):
                err = _error(c.post(ADMIN, json=body, headers=headers), 404)
                assert err["code"] == "admin_disabled"
        assert _served_model(c) == "sar"
        assert ADMIN not in c.get("/openapi.json").json()["paths"]


def test_admin_token_is_checked_in_constant_time_before_the_body(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = service_module.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(service_module.hmac, "compare_digest", spy)
    app = create_app(artifact=root / "sar", artifact_root=root, admin_token=TOKEN)
    with TestClient(app) as c:
        assert ADMIN in c.get("/openapi.json").json()["paths"]
        for headers in (
            {},
            {"X-Admin-Token": "wrong"},
            {"X-Admin-Token": TOKEN[:-1]},
            {"X-Admin-Token": TOKEN + "x"},
            {"X-Admin-Token": "é".encode() * 40},
        ):
            for body in ({"path": "itemknn"}, {"not": "a swap"}, ["x"] * 5):
                assert _error(c.post(ADMIN, json=body, headers=headers), 403)["code"] == "forbidden"
        assert compared and all(b == TOKEN.encode() for _, b in compared)
        assert _served_model(c) == "sar"
        ok = c.post(ADMIN, json={"path": "itemknn"}, headers={"X-Admin-Token": TOKEN})
        assert ok.status_code == 200 and ok.json()["model"] == "itemknn"
        assert _served_model(c) == "itemknn"


def test_every_swap_attempt_is_logged_with_its_outcome_never_the_token(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(artifact=root / "sar", artifact_root=root, admin_token=TOKEN)
    with TestClient(app) as c, caplog.at_level(logging.INFO, logger="recutils.serving"):
        c.post(ADMIN, json={"path": "itemknn"}, headers={"X-Admin-Token": "guess-" + TOKEN})
        c.post(ADMIN, json={"path": "nope"}, headers={"X-Admin-Token": TOKEN})
        c.post(ADMIN, json={"path": "itemknn"}, headers={"X-Admin-Token": TOKEN})
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("recutils.serving")]
    assert any("refused" in m and "wrong token" in m for m in messages), messages
    assert any("'nope'" in m and "failed" in m and "404" in m for m in messages), messages
    assert any("'itemknn'" in m and "done" in m for m in messages), messages
    assert not any(TOKEN in m for m in messages)


def test_resolve_admin_token_from_flag_file_or_environment(tmp_path: Path) -> None:
    env = {ADMIN_TOKEN_ENV: "from-env"}
    assert resolve_admin_token(environ={}) is None
    assert resolve_admin_token(environ={ADMIN_TOKEN_ENV: "  "}) is None
    assert resolve_admin_token(environ=env) == "from-env"
    assert resolve_admin_token("from-flag", environ=env) == "from-flag"
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert resolve_admin_token(token_file=token_file, environ=env) == "from-file"
    with pytest.raises(ConfigError, match="once"):
        resolve_admin_token("a", token_file)
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_admin_token(token_file=tmp_path / "missing")
    for bad in ("", "\n", " \n"):
        token_file.write_text(bad)
        with pytest.raises(ConfigError, match="non-empty"):
            resolve_admin_token(token_file=token_file)
    with pytest.raises(ConfigError):
        resolve_admin_token(" padded ")
    with pytest.raises(ConfigError):
        RecommendationService(artifact=None, store=None, admin_token="")


@pytest.mark.parametrize("source", ["env", "file", "flag", "none"])
def test_cli_serve_reads_the_admin_token_from_env_file_or_flag(
    source: str,
    root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    from recutils.cli import main

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    args = ["serve", "--artifact", str(root / "sar"), "--artifact-root", str(root)]
    if source == "env":
        monkeypatch.setenv(ADMIN_TOKEN_ENV, "t-env")
    elif source == "file":
        (tmp_path / "tok").write_text("t-file\n")
        args += ["--admin-token-file", str(tmp_path / "tok")]
    elif source == "flag":
        args += ["--admin-token", "t-flag"]
    assert main(args) == 0
    svc = served[0].state.service
    expected = {"env": "t-env", "file": "t-file", "flag": "t-flag", "none": None}[source]
    assert svc.admin_token == expected and svc.admin_enabled == (expected is not None)
    assert ("admin routes are off" in capsys.readouterr().err) == (source == "none")
    assert main(args + ["--admin-token", "a", "--admin-token-file", str(tmp_path)]) == 1


# ----------------------------------------------------------------------------- failing swaps
@pytest.fixture
def admin_client(root: Path, tmp_path: Path) -> TestClient:
    local = tmp_path / "root"
    shutil.copytree(root, local)
    app = create_app(artifact=local / "sar", artifact_root=local, admin_token=TOKEN)
    with TestClient(app, headers={"X-Admin-Token": TOKEN}) as c:
        c.root = local  # type: ignore[attr-defined]
        yield c


def _assert_swap_refused_and_old_model_serves(c: TestClient, name: str) -> dict:
    before = c.get("/v1/model").json()["artifact"]["version"]
    resp = c.post(ADMIN, json={"path": name})
    assert 400 <= resp.status_code < 600
    err = _error(resp, resp.status_code)
    assert c.get("/v1/model").json()["artifact"]["version"] == before
    rec = c.get("/v1/recommendations/1?k=3")
    assert rec.status_code == 200 and rec.json()["source"] == "model"
    return err


def test_swap_to_a_folder_that_is_not_an_artifact_keeps_the_old_model(
    admin_client: TestClient,
) -> None:
    root = admin_client.root  # type: ignore[attr-defined]
    (root / "empty").mkdir()
    (root / "junk").mkdir()
    (root / "junk" / "notes.txt").write_text("hello")
    (root / "badjson").mkdir()
    (root / "badjson" / "manifest.json").write_text("{not json")
    for name in ("empty", "junk", "badjson"):
        err = _assert_swap_refused_and_old_model_serves(admin_client, name)
        assert err["code"] == "invalid_artifact"


def test_swap_to_an_artifact_with_corrupt_arrays_keeps_the_old_model(
    admin_client: TestClient,
) -> None:
    root = admin_client.root  # type: ignore[attr-defined]
    shutil.copytree(root / "itemknn", root / "corrupt")
    (root / "corrupt" / "arrays.npz").write_bytes(b"\x00garbage\xff" * 500)
    _assert_swap_refused_and_old_model_serves(admin_client, "corrupt")


@pytest.mark.parametrize(
    "error",
    [
        zipfile.BadZipFile("File is not a zip file"),
        OSError(5, "Input/output error"),
        MemoryError(),
        RuntimeError("boom"),
        ValueError("bad array"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_swap_whose_load_raises_anything_keeps_the_old_model(
    admin_client: TestClient, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    def failing_load(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(service_module, "load_artifact", failing_load)
    err = _assert_swap_refused_and_old_model_serves(admin_client, "itemknn")
    assert err["code"] == "invalid_artifact" and type(error).__name__ in err["message"]


# ----------------------------------------------------------------------------- failing stores
def test_store_read_failure_at_request_time_is_a_json_503_not_500(
    store_url: str, tmp_path: Path
) -> None:
    path = Path(store_url[len("sqlite:///") :])
    local = tmp_path / "recs.db"
    shutil.copy(path, local)
    app = create_app(store=f"sqlite:///{local}", max_k=50)
    with TestClient(app) as c:
        assert c.get("/v1/recommendations/3?k=2").status_code == 200
        conn = sqlite3.connect(local)
        version = app.state.service.store.info().version
        conn.execute(f"UPDATE recs_v{version} SET payload='{{broken' WHERE user_id='4'")
        conn.commit()
        conn.close()
        for resp in (
            c.get("/v1/recommendations/4?k=2"),
            c.post("/v1/recommendations", json={"user_ids": [4], "k": 2}),
        ):
            assert _error(resp, 503)["code"] == "store_unavailable"
        assert c.get("/v1/recommendations/3?k=2").status_code == 200  # other users still served


def test_service_refuses_to_start_on_a_store_it_cannot_read(store_url: str, tmp_path: Path) -> None:
    path = Path(store_url[len("sqlite:///") :])
    local = tmp_path / "recs.db"
    shutil.copy(path, local)
    conn = sqlite3.connect(local)
    conn.execute("UPDATE recutils_meta SET value='[]' WHERE key LIKE 'meta:%'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="corrupt"):
        create_app(store=f"sqlite:///{local}")


# ----------------------------------------------------------------------------- fuzz
FIELDS = ["user_ids", "k", "pairs", "user_id", "item_id", "path"]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**400, 2**64]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text(min_size=200, max_size=3000),
    st.sampled_from(["sar", "itemknn", "../sar", "/etc", "1", "a\x00b", "\ud800", "x" * 300]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=8),
        st.dictionaries(
            st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), inner, max_size=6
        ),
    ),
    max_leaves=40,
)
shaped = st.fixed_dictionaries(
    {},
    optional={"user_ids": json_values, "k": json_values, "pairs": json_values, "path": json_values},
)
pair_lists = st.fixed_dictionaries(
    {
        "pairs": st.lists(
            st.fixed_dictionaries({}, optional={"user_id": scalars, "item_id": scalars}),
            max_size=30,
        )
    }
)
nested = st.builds(
    lambda depth, open_, close: (open_ * depth + close * depth).encode(),
    st.integers(1, 200_000),
    st.sampled_from(["[", '{"k":']),
    st.sampled_from(["]", "}"]),
)


def _encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


bodies = st.one_of(
    json_values.map(_encode),
    shaped.map(_encode),
    pair_lists.map(_encode),
    nested,
    st.binary(max_size=300),
)
ROUTES = [
    ("POST", "/v1/recommendations"),
    ("POST", "/v1/score"),
    ("POST", ADMIN),
    ("GET", "/v1/recommendations/1"),
    ("GET", "/v1/similar-items/1"),
    ("GET", "/v1/model"),
    ("GET", "/health"),
]


@pytest.fixture(scope="module")
def fuzz_clients(root: Path, store_url: str) -> dict[str, TestClient]:
    apps = {
        "model": create_app(
            artifact=root / "sar", artifact_root=root, admin_token=TOKEN, max_k=50, max_batch=20
        ),
        "store": create_app(store=store_url, max_k=50, max_batch=20),
    }
    clients = {name: TestClient(app) for name, app in apps.items()}
    for c in clients.values():
        c.__enter__()
    yield clients
    for c in clients.values():
        c.__exit__(None, None, None)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    app=st.sampled_from(["model", "store"]),
    route=st.sampled_from(ROUTES),
    body=bodies,
    token=st.sampled_from([None, TOKEN, "wrong"]),
)
def test_fuzzed_request_bodies_get_a_json_answer_never_a_5xx(
    fuzz_clients: dict[str, TestClient],
    app: str,
    route: tuple[str, str],
    body: bytes,
    token: str | None,
) -> None:
    method, url = route
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["X-Admin-Token"] = token
    resp = fuzz_clients[app].request(method, url, content=body, headers=headers)
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    assert resp.headers["content-type"].startswith("application/json")
    payload = resp.json()
    if resp.status_code >= 400:
        assert set(payload) == {"error"} and payload["error"]["code"]
    else:
        assert isinstance(payload, dict) and "error" not in payload
