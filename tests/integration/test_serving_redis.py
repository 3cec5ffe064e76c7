"""The Redis store against a real ``redis-server`` started on 127.0.0.1 for this module."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

redis = pytest.importorskip("redis")

from _serving_helpers import check_killed_writer_leaves_previous_set  # noqa: E402

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.serving import RedisStore, StoreError, batch_recommend, open_store  # noqa: E402
from recutils.serving.process import free_port  # noqa: E402


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory):
    """A private redis-server on 127.0.0.1 and a free port; stopped at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (CI installs it with apt-get)")
    workdir = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(workdir / "redis.log"),
        ]
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"redis-server did not start: {(workdir / 'redis.log').read_text()}")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def ranking(users, version: float = 1.0, n_items: int = 4) -> pd.DataFrame:
    rows = [(u, j, version, j + 1) for u in users for j in range(n_items)]
    return pd.DataFrame(rows, columns=["userID", "itemID", "prediction", "rank"])


def test_url_prefix_and_errors(redis_url: str) -> None:
    store = open_store(redis_url + "?prefix=t1")
    assert isinstance(store, RedisStore) and store.prefix == "t1"
    assert store.info() is None and store.get(1) is None
    with pytest.raises(ConfigError, match="prefix"):
        RedisStore(redis_url, prefix="bad prefix*")
    with pytest.raises(StoreError, match="cannot reach"):
        RedisStore(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.5)


def test_write_replace_and_cleanup(redis_url: str) -> None:
    store = open_store(redis_url + "?prefix=t2")
    one = store.write([ranking([1, 2]), ranking([3])], fallback=[(7, 3.0)], metadata={"m": 1})
    assert (one.n_users, one.top_k, one.user_id_type) == (3, 4, "int")
    assert store.get(3) == [(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0)]
    assert store.info().fallback == [(7, 3.0)] and store.info().metadata == {"m": 1}
    two = store.write(ranking(["a"], 2.0))
    assert two.version == one.version + 1 and store.get(1) is None and store.get("a")[0][1] == 2.0
    client = redis.Redis.from_url(redis_url)
    keys = sorted(k.decode() for k in client.scan_iter(match="t2:*"))
    assert keys == ["t2:current", "t2:next", f"t2:v{two.version}:meta", f"t2:v{two.version}:recs"]
    with pytest.raises(RuntimeError):
        with store.writer() as w:
            w.write_frame(ranking([9]))
            raise RuntimeError("abort")
    assert store.get(9) is None and len(list(client.scan_iter(match="t2:v*"))) == 2


def test_unfinished_set_expires_by_itself(redis_url: str) -> None:
    store = open_store(redis_url + "?prefix=t3")
    w = store.writer()
    w.write_frame(ranking([1]))
    ttl = redis.Redis.from_url(redis_url).ttl(f"t3:v{w.version}:recs")
    assert 0 < ttl <= 24 * 3600
    assert store.info() is None


def test_redis_killed_writer_leaves_previous_set_served(redis_url: str, tmp_path: Path) -> None:
    check_killed_writer_leaves_previous_set(redis_url + "?prefix=t4", tmp_path)
    client = redis.Redis.from_url(redis_url)
    assert len(list(client.scan_iter(match="t4:v*"))) == 2  # the killed writer's set is gone


def test_readers_never_see_a_half_written_set(redis_url: str) -> None:
    store = open_store(redis_url + "?prefix=t5")
    users = list(range(300))
    store.write(ranking(users, 1.0))
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        rng = np.random.default_rng()
        while not stop.is_set():
            u = int(rng.integers(0, 300))
            info, recs = store.lookup(str(u))
            if recs is None or len(recs) != 4 or recs[0][1] != float(info.version):
                errors.append(f"user {u} in v{info.version}: {recs}")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for version in range(2, 8):
            with store.writer() as w:
                for start in range(0, 300, 30):
                    w.write_frame(ranking(users[start : start + 30], float(version)))
                w.commit()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert not errors, errors[:5]


def test_batch_scoring_into_redis_and_service(redis_url: str) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from recutils.models.sar import SAR
    from recutils.serving import create_app
    from recutils.testing.contract import toy_interactions

    model = SAR().fit(toy_interactions(string_ids=True))
    url = redis_url + "?prefix=t6"
    result = batch_recommend(model, top_k=5, store=url, progress=False)
    assert result.store_set.n_users == 30 and result.store_set.user_id_type == "str"
    with TestClient(create_app(store=url)) as c:
        body = c.get("/v1/recommendations/u3?k=4").json()
        expected = model.recommend_k_items(["u3"], top_k=4)["itemID"].tolist()
        assert body["source"] == "store" and [i["item_id"] for i in body["items"]] == expected
        assert c.get("/v1/recommendations/nobody").json()["fallback"] is True
        assert c.get("/health").json()["store_version"] == result.store_set.version
