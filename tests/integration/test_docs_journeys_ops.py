"""The operations journeys of the docs, run exactly as SETUP.md shows them: serving a model
(train, save, ``recutils serve``, one curl per endpoint) and the Spark ALS job on MovieLens.

The snippets are the fenced blocks marked ``<!-- snippet: NAME -->`` (see
``tests/_docsnippets.py``); the only substitution is the service's port, so that the test
runs on a free one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests._docsnippets import run_snippet, snippet, snippet_env

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

DOC = "SETUP.md"
DOCUMENTED_PORT = "--port 8000"


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the documented `recutils serve` exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail("the documented `recutils serve` did not become healthy")


def test_serving_journey_from_setup_md(require_dataset, tmp_path: Path) -> None:
    """Train and save SAR, start the service with the documented command, call every
    endpoint of the endpoint table with the documented curl commands."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    pytest.importorskip("httpx")
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    require_dataset("ml-100k")
    from recutils.serving.process import free_port

    saved = run_snippet(DOC, "serving-artifact", cwd=tmp_path)
    assert "saved sar-ml100k: 943 users, 1682 items" in saved.stdout
    assert (tmp_path / "sar-ml100k" / "manifest.json").is_file()

    (start,) = snippet(DOC, "serving-start")
    assert DOCUMENTED_PORT in start.code
    port = free_port()
    script = "set -euo pipefail\n" + start.code.replace(DOCUMENTED_PORT, f"--port {port}")
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=snippet_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        assert oct((tmp_path / "admin.token").stat().st_mode & 0o777) == oct(0o600)
        result = run_snippet(
            DOC, "serving-curl", cwd=tmp_path, env={"RECUTILS_URL": url}, timeout=120
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
    health, one, batch, similar, scores, model, swap = _json_lines(result.stdout)
    assert health["status"] == "ok" and health["model_loaded"] is True
    assert one["user_id"] == 196 and one["source"] == "model" and len(one["items"]) == 3
    assert [r["user_id"] for r in batch["results"]] == [196, 186]
    assert all(len(r["items"]) == 3 for r in batch["results"])
    assert similar["item_id"] == 242 and len(similar["items"]) == 3
    assert [s["item_id"] for s in scores["scores"]] == [242, 302]
    assert all(s["known"] and s["score"] is not None for s in scores["scores"])
    assert model["artifact"]["model"] == "sar" and model["max_batch"] == 1000
    assert swap["swapped"] is True and swap["model"] == "sar"
    assert "error" not in result.stdout


def test_als_job_journey_from_setup_md(require_dataset, tmp_path: Path) -> None:
    """The documented ALS job on MovieLens' u.data (``--sep '\\t' --no-header``), local Spark."""
    pytest.importorskip("pyspark")
    mirror = require_dataset("ml-100k")
    if not (mirror / "u.data").is_file():
        pytest.skip("the mirror holds ml-100k as an archive only")
    (tmp_path / "ml-100k").symlink_to(mirror)

    result = run_snippet(DOC, "als-job-movielens", cwd=tmp_path, timeout=600)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "ok"
    assert summary["rows"]["train"] + summary["rows"]["test"] == 100_000
    assert 0.85 < summary["metrics"]["rmse"] < 1.1
    assert set(summary["metrics"]) == {
        "rmse",
        "mae",
        "precision@10",
        "recall@10",
        "ndcg@10",
        "map@10",
    }
    written = json.loads((tmp_path / "als-metrics.json").read_text())
    assert written["args"]["max_iter"] == 5 and written["args"]["sep"] == "\\t"
    assert (tmp_path / "als-recs").is_dir()
    # the repeated warnings are gone from what the user sees
    assert "does not yet fully support pandas" not in result.stderr
    assert "JNI_OnLoad" not in result.stderr
