"""Retrieval routes of a real ``recutils serve`` process: a two-tower artifact with an HNSW
index beside it and a DeepFM ranker, bad input over the wire, a refused index, and the
retrieval load test in its short form."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("faiss")
httpx = pytest.importorskip("httpx")

from recutils.datasets.synthetic import make_interactions  # noqa: E402
from recutils.models import create_model  # noqa: E402
from recutils.serving import save_artifact  # noqa: E402
from recutils.serving.process import ServiceProcess, ServiceStartError, measure_latency  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
TRAIN = {
    "epochs": 2,
    "num_threads": 1,
    "progress": False,
    "batch_size": 256,
    "early_stopping_metric": None,
    "validation_fraction": 0.0,
}
NEW_USER = {"age": 25, "gender": "M", "occupation": "engineer"}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    ratings, items, users = make_interactions(80, 150, 2000, seed=3)
    frame = ratings.merge(users[["userID", "age", "gender", "occupation"]], on="userID").merge(
        items[["itemID", "genres", "year"]], on="itemID"
    )
    frame["label"] = (frame["rating"] >= 4).astype(float)
    root = tmp_path_factory.mktemp("served")
    dssm = create_model("dssm", train=TRAIN).fit(frame)
    other = create_model("dssm", train=TRAIN, seed=5).fit(frame)
    save_artifact(dssm, root / "dssm")
    dssm.build_index("hnsw").save(root / "dssm_hnsw")
    other.build_index("hnsw").save(root / "other_hnsw")
    save_artifact(
        create_model("deepfm", col_rating="label", train=TRAIN).fit(frame), root / "deepfm"
    )
    return root


def _post_raw(port: int, path: str, body: bytes) -> int:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = sock.recv(4096)
    return int(data.split(b" ", 2)[1])


def test_retrieve_and_two_stage_over_the_wire_survive_bad_input(root: Path, tmp_path: Path) -> None:
    extra = [
        "--index",
        str(root / "dssm_hnsw"),
        "--ranker-artifact",
        str(root / "deepfm"),
        "--num-threads",
        "1",
        "--max-k",
        "500",
    ]
    with ServiceProcess(artifact=root / "dssm", extra_args=extra, log_file=tmp_path / "log") as svc:
        with httpx.Client(base_url=svc.url, timeout=30) as c:
            info = c.get("/v1/model").json()
            assert (
                info["retrieval"]["index"] == "hnsw"
                and info["retrieval"]["index_source"] == "saved"
            )
            assert info["ranker"]["model"] == "deepfm"
            known = c.post("/v1/retrieve", json={"user_id": 4, "k": 8}).json()
            assert known["known_user"] is True and len(known["items"]) == 8
            new = c.post("/v1/retrieve", json={"features": NEW_USER, "k": 5}).json()
            assert new["known_user"] is False and len(new["items"]) == 5
            ranked = c.post("/v1/two-stage", json={"user_id": 4, "k": 5, "candidates": 40}).json()
            assert ranked["candidates"] == 40 and len(ranked["items"]) == 5
            assert set(ranked["timings_ms"]) == {"retrieve", "rank", "total"}
            assert len(c.get("/v1/similar-items/7?k=6").json()["items"]) == 6
            bad = {
                b'{"features": {"age": NaN}}': "invalid_feature",
                b'{"user_id": 999999}': "unknown_user",
                b'{"user_id": 4, "k": 200}': "k_exceeds_index",  # 150 items
                b'{"user_id": 4, "history": []}': "empty_history",
                b'{"history": [1, 2]}': "history_unsupported",
            }
            for body, code in bad.items():
                for route in ("/v1/retrieve", "/v1/two-stage"):
                    r = c.post(route, content=body, headers={"content-type": "application/json"})
                    assert r.status_code == 422 and r.json()["error"]["code"] == code, (
                        route,
                        body,
                        r.text,
                    )
            big = c.post("/v1/retrieve", json={"user_id": 4, "k": 501})  # over max_k
            assert big.json()["error"]["code"] == "invalid_k"
        for raw in (
            b'{"features": {"age": 1e999}}',
            b'{"features": ',
            b'{"k": "' + b"9" * 3000 + b'"}',
        ):
            assert 400 <= _post_raw(svc.port, "/v1/retrieve", raw) < 500, raw[:40]
        with httpx.Client(base_url=svc.url, timeout=30) as c:  # still up, still right
            assert c.get("/health").json()["status"] == "ok"
            assert (
                c.post("/v1/retrieve", json={"user_id": 4, "k": 8}).json()["items"]
                == known["items"]
            )
        bodies = [{"user_id": u, "k": 10} for u in range(1, 41)] + [{"features": NEW_USER, "k": 10}]
        report = measure_latency(
            svc.url, ["/v1/two-stage"], bodies=bodies, n_requests=60, concurrency=2
        )
        assert report.failures == 0 and report.p99_ms > 0


def test_an_index_of_another_model_version_stops_the_start(root: Path, tmp_path: Path) -> None:
    log = tmp_path / "refused.log"
    with pytest.raises(ServiceStartError):
        ServiceProcess(
            artifact=root / "dssm",
            extra_args=["--index", str(root / "other_hnsw")],
            log_file=log,
            startup_timeout=120,
        ).start()
    text = log.read_text()
    assert "index refused" in text and "model version" in text


def test_retrieval_load_test_short_form_through_the_benchmark(tmp_path: Path) -> None:
    """``bench_retrieval.service_speed`` runs ``tools/loadtest/run_loadtest.py`` on the
    retrieval scenarios: every request answered, figures for each."""
    spec = importlib.util.spec_from_file_location(
        "bench_retrieval", REPO / "tools" / "benchmarks" / "bench_retrieval.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = bench.service_speed(
        "mock5000",
        epochs=1,
        duration=2,
        users=4,
        rate=5,
        candidates=50,
        workdir=str(tmp_path),
        scenarios=["retrieve-brute", "two-stage"],
    )
    print("\n" + bench._loadtest().format_results(figures))
    assert set(figures) == {"retrieve-brute", "two-stage"}  # two-stage searches the HNSW index
    for name, f in figures.items():
        assert f["failures"] == 0 and f["requests"] > 5 and f["p99_ms"] >= f["p50_ms"] > 0, (
            name,
            f,
        )
