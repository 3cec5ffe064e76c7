"""Fixtures of the integration tier: one SparkSession per test session, MovieLens 100k
as Spark frames (the pandas ones live in tests/conftest.py), and a real Spark standalone cluster on 127.0.0.1.

Every Spark test module calls ``pytest.importorskip("pyspark")`` and uses the
session-scoped ``spark`` fixture, so a test run pays the JVM start (~10 s) once.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SHUFFLE_PARTITIONS = 4


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """The shared local SparkSession (local[2], small shuffle partition count)."""
    pytest.importorskip("pyspark")
    from recutils.spark import start_or_get_spark

    session = start_or_get_spark(
        app_name="recutils-tests",
        master="local[2]",
        memory="2g",
        shuffle_partitions=SHUFFLE_PARTITIONS,
        local_dir=str(tmp_path_factory.mktemp("spark-local")),
        config={"spark.ui.enabled": "false", "spark.sql.adaptive.enabled": "true"},
        log_level="ERROR",
    )
    yield session
    session.stop()


# --------------------------------------------------------------------------- standalone cluster
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StandaloneCluster:
    """A running master and worker started from the pyspark installation."""

    url: str
    spark_home: Path
    logs: Path
    env: dict

    def log_tail(self, n: int = 60) -> str:
        out = []
        for f in sorted(self.logs.glob("*.log")):
            lines = f.read_text(errors="replace").splitlines()[-n:]
            out.append(f"==> {f.name} <==\n" + "\n".join(lines))
        return "\n".join(out)


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.5)
    return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    """A Spark standalone master + one worker (1 core, 1 GB) on 127.0.0.1, stopped at the end.

    Started with ``spark-class`` from the pyspark package (which has no ``sbin``
    scripts); waits at most 90 s for each daemon and shows their logs on failure.
    """
    pyspark = pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime for a Spark standalone cluster")
    spark_home = Path(pyspark.__file__).parent
    spark_class = spark_home / "bin" / "spark-class"
    logs = tmp_path_factory.mktemp("standalone-logs")
    work = tmp_path_factory.mktemp("standalone-work")
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(spark_home),
        SPARK_LOCAL_IP="127.0.0.1",
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
        SPARK_WORKER_DIR=str(work),
        SPARK_NO_DAEMONIZE="1",
    )
    port, ui, worker_ui = free_port(), free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    master_log = logs / "master.log"
    worker_log = logs / "worker.log"
    procs: list[subprocess.Popen] = []
    with open(master_log, "w") as mlog:
        procs.append(
            subprocess.Popen(
                [
                    str(spark_class),
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--webui-port",
                    str(ui),
                ],
                stdout=mlog,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        )
    cluster = StandaloneCluster(url, spark_home, logs, env)
    try:
        if not _wait_for(master_log, "I have been elected leader", procs[0], 90):
            pytest.fail("the Spark master did not start:\n" + cluster.log_tail())
        with open(worker_log, "w") as wlog:
            procs.append(
                subprocess.Popen(
                    [
                        str(spark_class),
                        "org.apache.spark.deploy.worker.Worker",
                        url,
                        "--cores",
                        "1",
                        "--memory",
                        "1g",
                        "--webui-port",
                        str(worker_ui),
                        "--host",
                        "127.0.0.1",
                    ],
                    stdout=wlog,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )
        if not _wait_for(worker_log, "Successfully registered with master", procs[1], 90):
            pytest.fail("the Spark worker did not register:\n" + cluster.log_tail())
        yield cluster
    finally:
        for proc in reversed(procs):
            _stop(proc)
