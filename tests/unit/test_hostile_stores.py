"""Stores under hostile conditions: corrupt files, locked files, unreachable Redis.

Every failure of a backend must surface as a :class:`StoreError` naming the store
(``StoreBusyError`` for a lock), quickly, never as the driver's own exception; the
command line prints it and exits non-zero; the HTTP service answers a JSON 503.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, RecUtilsError
from recutils.serving.process import free_port
from recutils.serving.stores import (
    DEFAULT_SQLITE_TIMEOUT_S,
    RedisStore,
    SQLiteStore,
    StoreBusyError,
    StoreError,
    open_store,
)


def ranking(n_users: int, n_items: int = 5) -> pd.DataFrame:
    users = np.repeat(np.arange(n_users), n_items)
    ranks = np.tile(np.arange(1, n_items + 1), n_users)
    return pd.DataFrame(
        {"userID": users, "itemID": ranks * 10, "prediction": 1.0 / ranks, "rank": ranks}
    )


def filled_store(path: Path, n_users: int = 50) -> Path:
    with SQLiteStore(path) as store:
        store.write(ranking(n_users), fallback=[(10, 1.0)])
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    conn.close()
    return path


class ExclusiveLock:
    """Another connection holding an exclusive lock on a SQLite file: in WAL mode (a
    store) it also blocks readers, which needs every other connection closed first."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=0)

    def __enter__(self) -> ExclusiveLock:
        self.conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        self.conn.execute("BEGIN EXCLUSIVE")
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


# ----------------------------------------------------------------------------- SQLite
def test_corrupt_sqlite_file_is_a_store_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 8192, dtype=np.uint8).tobytes())
    with pytest.raises(StoreError, match="garbage.db") as info:
        open_store(f"sqlite:///{path}")
    assert isinstance(info.value, RecUtilsError)
    assert not isinstance(info.value, sqlite3.Error)
    assert "corrupt" in str(info.value) or "not a database" in str(info.value)


def test_corrupt_sqlite_pages_are_a_store_error_at_read(tmp_path: Path) -> None:
    path = filled_store(tmp_path / "recs.db", n_users=2000)
    data = bytearray(path.read_bytes())
    noise = np.random.default_rng(1).integers(0, 256, len(data) - 8192, dtype=np.uint8)
    data[4096:-4096] = noise.tobytes()  # header intact: the file still opens
    path.write_bytes(bytes(data))
    store = open_store(f"sqlite:///{path}")
    try:
        for read in (store.info, lambda: store.lookup("5")):
            with pytest.raises(StoreError, match="recs.db"):
                read()
    finally:
        store.close()


def test_corrupt_metadata_or_payload_is_a_store_error(tmp_path: Path) -> None:
    path = filled_store(tmp_path / "recs.db")
    with SQLiteStore(path) as store:
        version = store.info().version
    conn = sqlite3.connect(path)
    conn.execute(f"UPDATE recs_v{version} SET payload='[[1, 2' WHERE user_id='3'")
    conn.commit()
    with SQLiteStore(path) as store:
        assert store.get(4) is not None
        with pytest.raises(StoreError, match="corrupt"):
            store.get(3)
    conn.execute("UPDATE recutils_meta SET value='{\"version\": 1}' WHERE key LIKE 'meta:%'")
    conn.commit()
    with SQLiteStore(path) as store, pytest.raises(StoreError, match="metadata"):
        store.info()
    conn.execute("UPDATE recutils_meta SET value='x' WHERE key='current'")
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store, pytest.raises(StoreError, match="pointer"):
        store.info()


def test_locked_sqlite_file_raises_store_busy_error_after_a_short_timeout(tmp_path: Path) -> None:
    path = filled_store(tmp_path / "recs.db")
    reader = open_store(f"sqlite:///{path}?timeout=0.2")
    assert reader.timeout == 0.2 and reader.lookup("1")[1] is not None
    reader.close()  # this thread's read connection; the next read opens a new one
    with ExclusiveLock(path):
        t0 = time.monotonic()
        with pytest.raises(StoreBusyError, match="recs.db") as info:
            open_store(f"sqlite:///{path}?timeout=0.2")
        assert "locked" in str(info.value) and time.monotonic() - t0 < 5
        with pytest.raises(StoreBusyError, match="recs.db"):
            reader.lookup("2")
        with pytest.raises(StoreBusyError, match="recs.db"):
            reader.writer()
    assert reader.lookup("2")[1] is not None  # the lock is gone: it reads again
    reader.close()


def test_a_second_writer_waits_then_raises_store_busy_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "recs.db", timeout=0.2)
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        with pytest.raises(StoreBusyError, match="starting a new set"):
            store.writer()
        assert store.info() is None  # readers are not blocked by a writer (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    store.write(ranking(3))
    assert store.info().n_users == 3
    store.close()


def test_default_sqlite_busy_timeout_is_short_and_configurable(tmp_path: Path) -> None:
    assert DEFAULT_SQLITE_TIMEOUT_S <= 10
    with SQLiteStore(tmp_path / "a.db") as store:
        assert store.timeout == DEFAULT_SQLITE_TIMEOUT_S
    assert open_store(f"sqlite:///{tmp_path}/b.db?timeout=1.5").timeout == 1.5
    for bad in ("timeout=-1", "timeout=nan", "timeout=x", "timeout=1&timeout=2", "mode=ro", "x"):
        with pytest.raises(ConfigError, match="timeout"):
            open_store(f"sqlite:///{tmp_path}/c.db?{bad}")
    with pytest.raises(ConfigError):
        SQLiteStore(tmp_path / "d.db", timeout=float("inf"))


def test_unwritable_store_folder_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="recs.db"):
        SQLiteStore(blocker / "recs.db")


# ----------------------------------------------------------------------------- Redis
def test_unreachable_redis_is_a_store_error_without_the_password() -> None:
    pytest.importorskip("redis")
    port = free_port()  # nothing listens there
    with pytest.raises(StoreError, match="cannot reach Redis") as info:
        RedisStore(f"redis://:hunter2@127.0.0.1:{port}/0", socket_timeout=1.0)
    assert "hunter2" not in str(info.value) and "***" in str(info.value)


def test_redis_failures_after_start_are_store_errors() -> None:
    redis = pytest.importorskip("redis")
    port = free_port()
    # A store whose server went away after it was opened (its constructor pings).
    store = RedisStore.__new__(RedisStore)
    store.url, store.prefix, store._redis = f"redis://127.0.0.1:{port}/0", "recutils", redis
    store._client = redis.Redis.from_url(store.url, socket_timeout=1.0, socket_connect_timeout=1.0)
    store._lookup = store._client.register_script("return false")
    store._info_lock, store._info = threading.Lock(), None
    for call in (store.info, lambda: store.lookup("1"), store.writer):
        with pytest.raises(StoreError, match=f"127.0.0.1:{port}"):
            call()


# ----------------------------------------------------------------------------- command line
@pytest.mark.parametrize("kind", ["corrupt-sqlite", "locked-sqlite", "closed-redis-port"])
def test_cli_serve_with_a_broken_store_exits_non_zero_with_a_clear_message(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from recutils.cli import main

    lock = None
    if kind == "corrupt-sqlite":
        (tmp_path / "bad.db").write_bytes(b"\x00garbage" * 1000)
        url = f"sqlite:///{tmp_path}/bad.db"
    elif kind == "locked-sqlite":
        path = filled_store(tmp_path / "recs.db")
        lock = ExclusiveLock(path).__enter__()
        url = f"sqlite:///{path}?timeout=0.1"
    else:
        pytest.importorskip("redis")
        url = f"redis://127.0.0.1:{free_port()}/0"
    try:
        assert main(["serve", "--store", url, "--port", str(free_port())]) == 1
    finally:
        if lock is not None:
            lock.__exit__()
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert ("Redis at" if kind == "closed-redis-port" else "SQLite store") in err
