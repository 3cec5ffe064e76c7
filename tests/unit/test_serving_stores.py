"""SQLite store (atomic set swaps, concurrent readers) and batch scoring to files and stores."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError, NotFittedError
from recutils.models.baselines import Popularity
from recutils.models.sar import SAR
from recutils.serving import (
    SQLiteStore,
    StoreError,
    batch_recommend,
    open_store,
    popularity_fallback,
)
from recutils.testing.contract import toy_interactions


def ranking(users, n_items: int = 5, version: float = 1.0, str_ids: bool = False) -> pd.DataFrame:
    rows = [
        (u, (f"i{j}" if str_ids else j), version - j / 10, j + 1)
        for u in users
        for j in range(n_items)
    ]
    return pd.DataFrame(rows, columns=["userID", "itemID", "prediction", "rank"])


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = SQLiteStore(tmp_path / "recs.db")
    yield s
    s.close()


def test_open_store_urls(tmp_path: Path) -> None:
    assert isinstance(open_store(f"sqlite:///{tmp_path}/a.db"), SQLiteStore)
    assert open_store(f"sqlite:///{tmp_path}/a.db").path == tmp_path / "a.db"
    assert isinstance(open_store(str(tmp_path / "b.sqlite")), SQLiteStore)
    for bad in ("ftp://x", "postgres://h/db", "sqlite:///", "recs.txt"):
        with pytest.raises(ConfigError):
            open_store(bad)


def test_write_read_and_replace(store: SQLiteStore) -> None:
    assert store.info() is None and store.get(1) is None
    info = store.write(
        [ranking([1, 2]), ranking([3])], fallback=[(9, 5.0)], metadata={"model": "toy"}
    )
    assert (info.version, info.n_users, info.top_k) == (1, 3, 5)
    assert info.user_id_type == "int" and info.item_id_type == "int"
    assert store.get(1) == [(j, pytest.approx(1.0 - j / 10)) for j in range(5)]
    assert store.get("3") is not None and store.get(4) is None
    assert store.info().fallback == [(9, 5.0)] and store.info().metadata == {"model": "toy"}
    info2 = store.write(ranking(["a", "b"], 3, version=2.0, str_ids=True))
    assert info2.version == 2 and info2.user_id_type == "str" and info2.item_id_type == "str"
    assert store.get(1) is None and store.get("a")[0] == ("i0", 2.0)
    tables = [
        r[0]
        for r in sqlite3.connect(store.path).execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'recs_v%'"
        )
    ]
    assert tables == ["recs_v2"]  # the old set is dropped


def test_aborted_writer_leaves_the_previous_set(store: SQLiteStore) -> None:
    store.write(ranking([1, 2]))
    with pytest.raises(RuntimeError, match="boom"):
        with store.writer() as w:
            w.write_frame(ranking([1, 2, 3], version=7.0))
            raise RuntimeError("boom")
    assert store.info().version == 1 and store.get(3) is None and store.get(1)[0][1] == 1.0
    with pytest.raises(StoreError, match="already"):
        w.write_frame(ranking([5]))


def test_a_user_written_twice_is_an_error(store: SQLiteStore) -> None:
    with pytest.raises(DataError, match="twice"):
        store.write([ranking([1]), ranking([1])])
    assert store.info() is None


def test_unfinished_set_of_a_dead_writer_is_cleaned_by_the_next(store: SQLiteStore) -> None:
    store.write(ranking([1]))
    w = store.writer()
    w.write_frame(ranking([2]))  # never committed nor aborted: like a killed process
    assert store.info().version == 1 and store.get(2) is None
    store.write(ranking([3]))
    names = {
        r[0]
        for r in sqlite3.connect(store.path).execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'recs_v%'"
        )
    }
    assert names == {"recs_v3"}


def test_readers_never_see_a_half_written_set(store: SQLiteStore) -> None:
    users = list(range(200))
    store.write(ranking(users, 3, version=1.0))
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        rng = np.random.default_rng(threading.get_ident() % 2**32)
        while not stop.is_set():
            u = int(rng.integers(0, 200))
            info, recs = store.lookup(str(u))
            if recs is None:
                errors.append(f"user {u} missing in v{info.version}")
            elif recs[0][1] != float(info.version):
                errors.append(f"user {u}: score {recs[0][1]} from another set than v{info.version}")
            elif info.n_users != 200:
                errors.append(f"n_users {info.n_users}")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for version in range(2, 7):
            with store.writer() as w:
                for start in range(0, 200, 20):  # ten chunks, ten transactions
                    w.write_frame(ranking(users[start : start + 20], 3, version=float(version)))
                w.commit()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert not errors, errors[:5]
    assert store.info().version == 6


# ------------------------------------------------------------------- batch
@pytest.fixture(scope="module")
def sar() -> SAR:
    return SAR(similarity_type="jaccard").fit(toy_interactions(n_users=50, n_items=25))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
def test_batch_files_equal_recommend_k_items(
    sar: SAR, tmp_path: Path, fmt: str, chunk_size: int
) -> None:
    out = tmp_path / f"recs.{fmt}"
    result = batch_recommend(sar, top_k=4, chunk_size=chunk_size, output=out, progress=False)
    expected = sar.recommend_k_items(sar.user_ids_, top_k=4)
    got = pd.read_parquet(out) if fmt == "parquet" else pd.read_csv(out)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected, check_dtype=False)
    assert result.n_rows == len(expected) and result.n_users == 50 and result.output == out
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_batch_given_users_into_store_and_file(sar: SAR, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    result = batch_recommend(
        sar,
        users=[3, 1, 3, 2],
        top_k=3,
        output=tmp_path / "r.csv",
        store=url,
        progress=False,
        store_metadata={"run": "test"},
    )
    assert result.store_set.n_users == 3 and result.store_set.metadata["run"] == "test"
    assert result.store_set.metadata["model"] == "sar"
    store = open_store(url)
    expected = sar.recommend_k_items([1], top_k=3)
    assert [i for i, _ in store.get(1)] == expected["itemID"].tolist()
    assert store.get(4) is None
    assert store.info().fallback == popularity_fallback(sar, 3)


def test_popularity_fallback_counts_training_users(sar: SAR) -> None:
    fb = popularity_fallback(sar, 5)
    counts = np.asarray(sar.seen_.sum(axis=0)).ravel()
    assert [s for _, s in fb] == sorted(counts, reverse=True)[:5]
    assert fb[0][0] == sar.item_ids_[int(np.argmax(counts))]
    with pytest.raises(NotFittedError):
        popularity_fallback(Popularity())


def test_batch_errors(sar: SAR, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="output file, a store"):
        batch_recommend(sar)
    with pytest.raises(ConfigError, match="chunk_size"):
        batch_recommend(sar, output=tmp_path / "x.csv", chunk_size=0)
    with pytest.raises(ConfigError, match="allowed"):
        batch_recommend(sar, output=tmp_path / "x.txt")
    with pytest.raises(ConfigError, match="top_k"):
        batch_recommend(sar, output=tmp_path / "x.csv", top_k=-1)
    with pytest.raises(NotFittedError):
        batch_recommend(Popularity(), output=tmp_path / "x.csv")


def test_failed_batch_leaves_store_and_file_untouched(
    sar: SAR, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    batch_recommend(sar, top_k=2, store=url, progress=False)
    calls = {"n": 0}
    original = SAR.recommend_k_items

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise MemoryError("simulated")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SAR, "recommend_k_items", failing)
    with pytest.raises(MemoryError):
        batch_recommend(
            sar, top_k=5, chunk_size=10, store=url, output=tmp_path / "o.parquet", progress=False
        )
    store = open_store(url)
    assert store.info().version == 1 and store.info().n_users == 50 and store.info().top_k == 2
    assert not (tmp_path / "o.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.parquet")]


def test_importing_serving_pulls_no_web_stack() -> None:
    """fastapi, uvicorn, redis and httpx are imported only when a service/store needs them."""
    import subprocess
    import sys

    code = (
        "import sys, recutils.serving, recutils.serving.batch, recutils.serving.stores; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'redis', 'httpx', 'starlette', "
        "'pyspark', 'torch', 'locust') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
