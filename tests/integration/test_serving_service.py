"""The service as a real uvicorn process: CLI, hot swap under load, a killed store writer,
hostile input over the wire, and the load test in its short form."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from _serving_helpers import check_killed_writer_leaves_previous_set, kill_writer_midway  # noqa: E402,I001

from recutils.models.baselines import ItemKNN  # noqa: E402
from recutils.models.sar import SAR  # noqa: E402
from recutils.serving import batch_recommend, save_artifact  # noqa: E402
from recutils.serving.process import ServiceProcess  # noqa: E402
from recutils.testing.contract import toy_interactions  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("artifacts")
    data = toy_interactions(n_users=300, n_items=120, n_rows=4000)
    save_artifact(SAR(similarity_type="jaccard").fit(data), root / "a", metrics={"ndcg@10": 0.1})
    save_artifact(ItemKNN(k=10).fit(data), root / "b", metrics={"ndcg@10": 0.2})
    return root


def test_cli_serve_process_answers_and_stops(artifacts: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with ServiceProcess(artifact=artifacts / "a", log_file=log) as svc:
        with httpx.Client(base_url=svc.url, timeout=10) as c:
            assert c.get("/health").json()["model_loaded"] is True
            body = c.get("/v1/recommendations/5?k=3").json()
            assert body["source"] == "model" and len(body["items"]) == 3
            assert c.get("/v1/model").json()["artifact"]["metrics"] == {"ndcg@10": 0.1}
            assert c.get("/openapi.json").json()["info"]["title"].startswith("recutils")
    assert svc.proc.returncode is not None
    assert "recutils serve: artifact on http://127.0.0.1" in log.read_text()


def _raw_http(port: int, request: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]) if data else 0


def test_hostile_requests_over_the_wire(artifacts: Path) -> None:
    with ServiceProcess(artifact=artifacts / "a") as svc:
        with httpx.Client(base_url=svc.url, timeout=10) as c:
            for path in (
                "/v1/recommendations/%FF%FE",
                "/v1/recommendations/1?k=%FF",
                "/v1/recommendations/1?k=-1",
                "/v1/recommendations/1?k=10000000000",
                "/v1/recommendations/%F0%9F%98%80",
                "/v1/similar-items/..%2F..",
                "/v1/recommendations/1?k=1&k=2&k=x",
            ):
                r = c.get(path)
                assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
                assert "error" in r.json()
            r = c.post(
                "/v1/recommendations",
                content=b"\xff\xfe" * 10,
                headers={"content-type": "application/json"},
            )
            assert r.status_code == 422
        # request lines no client library would send
        for raw in (
            b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /v1/recommendations/1?k=" + b"9" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST /v1/recommendations HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n"
            b"Content-Type: application/json\r\n\r\n{",
        ):
            status = _raw_http(svc.port, raw)
            assert 400 <= status < 500, (raw[:60], status)
        with httpx.Client(base_url=svc.url, timeout=10) as c:
            assert c.get("/health").status_code == 200  # still alive


def test_hot_swap_under_concurrent_load_drops_nothing(artifacts: Path) -> None:
    extra = ["--artifact-root", str(artifacts)]
    with ServiceProcess(artifact=artifacts / "a", extra_args=extra, admin_token="t0k") as svc:
        assert "t0k" not in " ".join(svc.args)  # the token travels in the environment
        stop = threading.Event()
        failures: list[str] = []
        versions: set[str] = set()
        counts = [0]
        lock = threading.Lock()

        def client(worker: int) -> None:
            with httpx.Client(base_url=svc.url, timeout=30) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        if i % 3:
                            r = c.get(f"/v1/recommendations/{(worker * 31 + i) % 320}?k=5")
                        else:
                            r = c.post(
                                "/v1/recommendations", json={"user_ids": [1, 2, 3, 999], "k": 4}
                            )
                        ok = r.status_code == 200
                        body = r.json() if ok else r.text
                        if ok and "items" in body:
                            with lock:
                                versions.add(body["version"])
                    except httpx.HTTPError as err:
                        ok, body = False, repr(err)
                    with lock:
                        counts[0] += 1
                    if not ok:
                        failures.append(str(body)[:200])

        threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        swaps = 0
        try:
            with httpx.Client(
                base_url=svc.url, timeout=60, headers={"X-Admin-Token": "t0k"}
            ) as admin:
                deadline = time.monotonic() + 6
                while time.monotonic() < deadline:
                    target = "b" if swaps % 2 == 0 else "a"
                    r = admin.post("/v1/admin/artifact", json={"path": target})
                    assert r.status_code == 200, r.text
                    swaps += 1
                    time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        print(
            f"\nhot swap: {swaps} swaps during {counts[0]} requests, {len(failures)} failed, "
            f"versions seen {len(versions)}"
        )
        assert not failures, failures[:5]
        assert swaps >= 4 and counts[0] > 50 and len(versions) == 2


def test_sqlite_killed_writer_leaves_previous_set_served(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/recs.db"
    check_killed_writer_leaves_previous_set(url, tmp_path)
    import sqlite3

    tables = [
        r[0]
        for r in sqlite3.connect(tmp_path / "recs.db").execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'recs_v%'"
        )
    ]
    assert len(tables) == 1  # the killed writer's table was cleaned up


def test_service_keeps_serving_while_a_store_writer_is_killed(
    artifacts: Path, tmp_path: Path
) -> None:
    from recutils.serving import load_model

    url = f"sqlite:///{tmp_path}/svc.db"
    model = load_model(artifacts / "a")
    batch_recommend(model, top_k=5, store=url, progress=False)
    with ServiceProcess(store=url) as svc, httpx.Client(base_url=svc.url, timeout=10) as c:
        before = c.get("/v1/recommendations/7?k=5").json()
        kill_writer_midway(url, tmp_path)
        after = c.get("/v1/recommendations/7?k=5").json()
        assert after == before and after["source"] == "store"
        assert c.get("/v1/recommendations/30000?k=5").json()["fallback"] is True
        batch_recommend(model, top_k=3, store=url, progress=False)
        assert len(c.get("/v1/recommendations/7?k=5").json()["items"]) == 3


def test_load_test_short_form(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "loadtest" / "run_loadtest.py"),
            "--duration",
            "5",
            "--data",
            "mock20000",
            "--workdir",
            str(tmp_path / "work"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    print("\n" + proc.stdout[-1500:])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert set(figures) == {"store", "sar"}
    for name, f in figures.items():
        assert f["failures"] == 0 and f["requests"] > 100, (name, f)
