"""The HTTP app through TestClient: endpoints, fallback, hostile input, OpenAPI, hot swap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from recutils.models.baselines import ItemKNN, Popularity  # noqa: E402
from recutils.models.sar import SAR  # noqa: E402
from recutils.serving import batch_recommend, create_app, save_artifact  # noqa: E402
from recutils.testing.contract import toy_interactions  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return toy_interactions(n_users=40, n_items=30)


@pytest.fixture(scope="module")
def root(tmp_path_factory, data) -> Path:
    root = tmp_path_factory.mktemp("artifacts")
    save_artifact(
        SAR(similarity_type="jaccard").fit(data),
        root / "sar",
        metrics={"ndcg@10": 0.31},
        trained_at="2024-05-06T07:08:09Z",
    )
    save_artifact(ItemKNN(k=5).fit(data), root / "itemknn")
    save_artifact(Popularity().fit(data), root / "popularity")
    str_data = toy_interactions(n_users=20, n_items=10, string_ids=True)
    save_artifact(SAR().fit(str_data), root / "sar_str")
    return root


@pytest.fixture(scope="module")
def client(root) -> TestClient:
    app = create_app(artifact=root / "sar", artifact_root=root, max_k=50, max_batch=20)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def store_client(root, tmp_path_factory, data) -> TestClient:
    from recutils.serving import load_model

    url = f"sqlite:///{tmp_path_factory.mktemp('store')}/recs.db"
    batch_recommend(load_model(root / "sar"), top_k=20, store=url, progress=False)
    with TestClient(create_app(store=url, max_k=50, max_batch=20)) as c:
        yield c


def _error(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["message"]
    return body["error"]


def test_health_and_model(client) -> None:
    assert client.get("/health").json()["status"] == "ok"
    info = client.get("/v1/model").json()
    art = info["artifact"]
    assert info["mode"] == "artifact" and art["model"] == "sar"
    assert art["trained_at"] == "2024-05-06T07:08:09Z" and art["metrics"] == {"ndcg@10": 0.31}
    assert art["recutils_version"] and len(art["version"]) == 12 and art["similar_items"]


def test_recommendations_match_the_model(client, root) -> None:
    from recutils.serving import load_model

    model = load_model(root / "sar")
    body = client.get("/v1/recommendations/3", params={"k": 5}).json()
    expected = model.recommend_k_items([3], top_k=5)
    assert body["source"] == "model" and body["fallback"] is False and body["user_id"] == 3
    assert [i["item_id"] for i in body["items"]] == expected["itemID"].tolist()
    assert [i["rank"] for i in body["items"]] == [1, 2, 3, 4, 5]
    assert [i["score"] for i in body["items"]] == pytest.approx(expected["prediction"].tolist())


def test_unknown_user_gets_the_marked_popularity_fallback(client) -> None:
    body = client.get("/v1/recommendations/12345?k=3").json()
    assert body["fallback"] is True and body["source"] == "popularity"
    assert len(body["items"]) == 3 and body["items"][0]["rank"] == 1


def test_batch_recommendations(client) -> None:
    body = client.post("/v1/recommendations", json={"user_ids": [1, 2, 999], "k": 4}).json()
    assert [r["user_id"] for r in body["results"]] == [1, 2, 999]
    assert [r["fallback"] for r in body["results"]] == [False, False, True]
    assert all(len(r["items"]) == 4 for r in body["results"])
    single = client.get("/v1/recommendations/2?k=4").json()
    assert body["results"][1]["items"] == single["items"]


def test_similar_items_and_score(client) -> None:
    body = client.get("/v1/similar-items/2?k=4").json()
    assert body["item_id"] == 2 and 0 < len(body["items"]) <= 4
    assert all(i["item_id"] != 2 for i in body["items"])
    _error(client.get("/v1/similar-items/999999"), 404)
    out = client.post(
        "/v1/score",
        json={
            "pairs": [
                {"user_id": 1, "item_id": 2},
                {"user_id": 1, "item_id": 99999},
                {"user_id": 777, "item_id": 2},
            ]
        },
    ).json()
    assert [s["known"] for s in out["scores"]] == [True, False, False]
    assert isinstance(out["scores"][0]["score"], float) and out["scores"][1]["score"] is None


@pytest.mark.parametrize(
    "url, status",
    [
        ("/v1/recommendations/1?k=0", 422),
        ("/v1/recommendations/1?k=-5", 422),
        ("/v1/recommendations/1?k=51", 422),
        ("/v1/recommendations/1?k=99999999999999999999999999999", 422),
        ("/v1/recommendations/1?k=abc", 422),
        ("/v1/recommendations/1?k=1.5", 422),
        ("/v1/recommendations/abc", 422),  # not an integer id for this model
        ("/v1/recommendations/1.5", 422),
        ("/v1/recommendations/" + "9" * 300, 422),  # too long
        ("/v1/recommendations/%E2%98%83", 422),  # unicode snowman on an int model
        ("/v1/recommendations/%00", 422),  # NUL
        ("/v1/recommendations/..%2F..%2Fetc%2Fpasswd", 404),  # no such route
        ("/v1/recommendations/../../etc/passwd", 404),
        ("/v1/similar-items/abc", 422),
        ("/v1/nothing", 404),
    ],
)
def test_hostile_get_inputs_get_json_4xx(client, url: str, status: int) -> None:
    _error(client.get(url), status)


@pytest.mark.parametrize(
    "body, status",
    [
        ({"user_ids": list(range(21)), "k": 3}, 413),  # over max_batch
        ({"user_ids": [], "k": 3}, 422),
        ({"user_ids": [1], "k": 0}, 422),
        ({"user_ids": [1], "k": "5"}, 422),  # strict int
        ({"user_ids": [1.5], "k": 3}, 422),
        ({"user_ids": [True], "k": 3}, 422),
        ({"user_ids": [None], "k": 3}, 422),
        ({"user_ids": [{"$gt": ""}], "k": 3}, 422),
        ({"user_ids": ["x" * 300], "k": 3}, 422),
        ({"user_ids": [1], "k": 3, "extra": 1}, 422),
        ({"users": [1]}, 422),
        ([1, 2, 3], 422),
    ],
)
def test_hostile_post_bodies_get_json_4xx(client, body, status: int) -> None:
    _error(client.post("/v1/recommendations", json=body), status)


def test_malformed_and_oversized_bodies(client) -> None:
    _error(
        client.post(
            "/v1/recommendations",
            content=b"{not json",
            headers={"content-type": "application/json"},
        ),
        422,
    )
    big = json.dumps({"user_ids": ["1"] * 400_000, "k": 3}).encode()
    _error(
        client.post(
            "/v1/recommendations", content=big, headers={"content-type": "application/json"}
        ),
        413,
    )
    _error(client.post("/v1/score", json={"pairs": [{"user_id": 1}]}), 422)
    _error(client.post("/v1/score", json={"pairs": [{"user_id": 1, "item_id": 1}] * 21}), 413)
    _error(client.put("/v1/score", json={}), 405)


def test_string_id_model_accepts_unicode_and_rejects_control_chars(root) -> None:
    with TestClient(create_app(artifact=root / "sar_str")) as c:
        body = c.get("/v1/recommendations/u1?k=2").json()
        assert body["source"] == "model" and body["user_id"] == "u1"
        body = c.get("/v1/recommendations/%E7%94%A8%E6%88%B7-%F0%9F%98%80").json()
        assert body["fallback"] is True and body["user_id"] == "用户-😀"
        _error(c.get("/v1/recommendations/a%0Ab"), 422)
        _error(c.get("/v1/recommendations/a%E2%80%AEb"), 422)  # bidi override (format char)
        out = c.post("/v1/recommendations", json={"user_ids": ["u1", "ü"], "k": 1}).json()
        assert [r["fallback"] for r in out["results"]] == [False, True]


def test_unsupported_endpoints_are_4xx(root, store_client) -> None:
    with TestClient(create_app(artifact=root / "popularity")) as c:
        err = _error(c.get("/v1/similar-items/1"), 400)
        assert err["code"] == "unsupported"
    _error(store_client.post("/v1/score", json={"pairs": [{"user_id": 1, "item_id": 1}]}), 400)
    _error(store_client.get("/v1/similar-items/1"), 400)
    _error(store_client.post("/v1/admin/artifact", json={"path": "sar"}), 404)


def test_itemknn_similar_items(root) -> None:
    with TestClient(create_app(artifact=root / "itemknn")) as c:
        body = c.get("/v1/similar-items/1?k=3").json()
        assert len(body["items"]) <= 3 and all(i["item_id"] != 1 for i in body["items"])
        assert all(i["score"] > 0 for i in body["items"])


def test_store_backed_service(store_client) -> None:
    assert store_client.get("/v1/model").json()["store"]["n_users"] == 40
    body = store_client.get("/v1/recommendations/5?k=7").json()
    assert body["source"] == "store" and len(body["items"]) == 7 and body["version"] == "store-v1"
    body = store_client.get("/v1/recommendations/+5?k=7").json()  # same user, canonical int
    assert body["source"] == "store"
    body = store_client.get("/v1/recommendations/4242?k=2").json()
    assert body["fallback"] is True and len(body["items"]) == 2
    _error(store_client.get("/v1/recommendations/abc"), 422)
    out = store_client.post("/v1/recommendations", json={"user_ids": [5, 4242], "k": 3}).json()
    assert [r["source"] for r in out["results"]] == ["store", "popularity"]


def test_openapi_schema(client) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/health",
        "/v1/recommendations/{user_id}",
        "/v1/recommendations",
        "/v1/similar-items/{item_id}",
        "/v1/score",
        "/v1/model",
    ):
        assert path in paths, path
    assert "/v1/admin/artifact" not in paths  # no admin token: the admin routes are off
    get = paths["/v1/recommendations/{user_id}"]["get"]
    assert {p["name"] for p in get["parameters"]} == {"user_id", "k"}
    ok = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][ok.rsplit("/", 1)[1]]["properties"]
    assert {"user_id", "source", "fallback", "items", "version", "k"} <= set(fields)
    assert "422" in get["responses"] and "413" in paths["/v1/recommendations"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_openapi_max_items_is_the_real_batch_limit_and_every_operation_is_described(root) -> None:
    """The schema used to say maxItems 100,000 while the service refused more than max_batch
    (1,000 by default), and no operation had a description."""
    app = create_app(artifact=root / "sar", artifact_root=root, admin_token="s3cret", max_batch=7)
    with TestClient(app) as c:
        schema = c.get("/openapi.json").json()
        shapes = schema["components"]["schemas"]
        assert shapes["BatchRequest"]["properties"]["user_ids"]["maxItems"] == 7
        assert shapes["ScoreRequest"]["properties"]["pairs"]["maxItems"] == 7
        assert shapes["ScoreRequest"]["properties"]["pairs"]["minItems"] == 1
        # the limit the schema shows is the one enforced, with the documented 413
        _error(c.post("/v1/score", json={"pairs": [{"user_id": 1, "item_id": 1}] * 8}), 413)
        assert (
            c.post("/v1/score", json={"pairs": [{"user_id": 1, "item_id": 1}] * 7}).status_code
            == 200
        )
        operations = [
            (path, method, op)
            for path, ops in schema["paths"].items()
            for method, op in ops.items()
        ]
        assert shapes["PredictRequest"]["properties"]["rows"]["maxItems"] == 7
        assert len(operations) == 10  # admin, retrieve, two-stage and predict included
        for path, method, op in operations:
            assert op.get("summary") and len(op.get("description", "")) > 20, (method, path)


def test_docs_pages_say_they_need_the_internet_and_link_the_schema(client) -> None:
    """/docs and /redoc load their viewers from a CDN: offline, the page shows a note with a
    link to /openapi.json where the viewer would be (the viewer replaces it when it loads)."""
    for page, container in (
        ("/docs", '<div id="swagger-ui">'),
        ("/redoc", '<redoc spec-url="/openapi.json">'),
    ):
        html = client.get(page).text
        assert container in html, page
        after = html.split(container, 1)[1]
        assert after.lstrip().startswith("<p") and "cdn.jsdelivr.net" in after, page
        assert '<a href="/openapi.json">' in after.split("</p>", 1)[0], page


def test_admin_swap_and_traversal(root) -> None:
    app = create_app(artifact=root / "sar", artifact_root=root, admin_token="s3cret")
    with TestClient(app) as c:
        before = c.get("/v1/model").json()["artifact"]["version"]
        _error(c.post("/v1/admin/artifact", json={"path": "itemknn"}), 403)
        hdr = {"X-Admin-Token": "s3cret"}
        for bad in ("../sar", "/etc", "sar/../../x", "..", "a\\b", "", "x" * 2000):
            _error(c.post("/v1/admin/artifact", json={"path": bad}, headers=hdr), 422)
        _error(c.post("/v1/admin/artifact", json={"path": "nope"}, headers=hdr), 404)
        out = c.post("/v1/admin/artifact", json={"path": "itemknn"}, headers=hdr).json()
        assert out["swapped"] and out["model"] == "itemknn"
        info = c.get("/v1/model").json()["artifact"]
        assert info["model"] == "itemknn" and info["version"] != before
        # a broken artifact is refused and the current one stays served
        (root / "broken").mkdir(exist_ok=True)
        (root / "broken" / "manifest.json").write_text("{}")
        _error(c.post("/v1/admin/artifact", json={"path": "broken"}, headers=hdr), 422)
        assert c.get("/v1/model").json()["artifact"]["model"] == "itemknn"


def test_cli_serve_parser() -> None:
    from recutils.cli import build_parser, main

    args = build_parser().parse_args(["serve", "--store", "sqlite:///x.db", "--port", "9"])
    assert (args.host, args.port, args.store, args.artifact) == (
        "127.0.0.1",
        9,
        "sqlite:///x.db",
        None,
    )
    assert main(["serve"]) == 2
    assert main(["serve", "--artifact", "/no/such/artifact"]) == 1


def test_unreadable_store_is_a_json_503(store_client, monkeypatch) -> None:
    from recutils.serving import StoreError

    svc = store_client.app.state.service

    def down(*args, **kwargs):
        raise StoreError("connection refused")

    monkeypatch.setattr(svc.store, "lookup", down)
    monkeypatch.setattr(svc.store, "info", down)
    err = _error(store_client.get("/v1/recommendations/5?k=3"), 503)
    assert err["code"] == "store_unavailable"
    assert store_client.get("/health").status_code == 503
