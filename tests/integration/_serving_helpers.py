"""Helpers shared by the serving integration tests (SQLite and Redis stores)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from recutils.serving import open_store

_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    import pandas as pd
    from recutils.serving import open_store
    store = open_store(sys.argv[1])
    progress = sys.argv[2]
    with store.writer() as w:
        for chunk in range(1000):
            users = range(chunk * 50, chunk * 50 + 50)
            rows = [(u, j, 2.0, j + 1) for u in users for j in range(5)]
            w.write_frame(pd.DataFrame(rows, columns=["userID", "itemID", "prediction", "rank"]))
            open(progress, "w").write(str(chunk + 1))
            time.sleep(0.05)
        w.commit()
""")


def kill_writer_midway(store_url: str, tmp_path: Path) -> None:
    """Start a writer of a new set in a child process and SIGKILL it after a few chunks."""
    progress = tmp_path / "progress.txt"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, store_url, str(progress)])
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if progress.exists() and progress.read_text().strip() not in ("", "1", "2"):
                break
            assert proc.poll() is None, "the writer exited early"
            time.sleep(0.02)
        else:
            pytest.fail("the writer made no progress")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def check_killed_writer_leaves_previous_set(store_url: str, tmp_path: Path) -> None:
    """Shared by the SQLite and Redis tests: a killed writer changes nothing served."""
    import pandas as pd

    store = open_store(store_url)
    users = list(range(400))
    rows = [(u, 100 + j, 1.0 - j / 10, j + 1) for u in users for j in range(5)]
    before = store.write(
        pd.DataFrame(rows, columns=["userID", "itemID", "prediction", "rank"]),
        fallback=[(100, 9.0)],
    )
    kill_writer_midway(store_url, tmp_path)
    fresh = open_store(store_url)  # a new reader after the crash
    info = fresh.info()
    assert info.version == before.version and info.n_users == 400
    for u in users:
        recs = fresh.get(u)
        assert recs is not None and [i for i, _ in recs] == [100, 101, 102, 103, 104], u
        assert recs[0][1] == 1.0
    assert fresh.get(30_000) is None  # a user only the killed writer had
    after = fresh.write(pd.DataFrame(rows[:5], columns=["userID", "itemID", "prediction", "rank"]))
    assert after.version > before.version + 1 and fresh.info().n_users == 1
    fresh.close()
    store.close()
