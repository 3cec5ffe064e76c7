"""A Spark standalone cluster on this machine: one master and ``workers`` workers on 127.0.0.1.

The pip package of pyspark has no ``sbin/start-*.sh`` scripts; the daemons start with
``$SPARK_HOME/bin/spark-class`` (``SPARK_HOME`` = the installed ``pyspark`` folder).
:class:`LocalStandaloneCluster` does that, waits until the master is elected and every
worker has registered, and stops them on exit::

    from recutils.spark.standalone import LocalStandaloneCluster

    with LocalStandaloneCluster(workers=2, cores=1, memory="1g") as cluster:
        spark = start_or_get_spark(master=cluster.url)
        ...

It is meant for tests and benchmarks (executors in separate JVMs, shuffles between
processes, ``local_mode=False`` TorchDistributor runs) on one machine, not for production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from recutils.exceptions import MissingDependencyError, RecUtilsError
from recutils.utils.deps import require
from recutils.utils.processes import free_port, stop_process


class ClusterStartError(RecUtilsError, RuntimeError):
    """A daemon of the local standalone cluster did not start (the message holds its log)."""


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.5)
    return False


class LocalStandaloneCluster:
    """A Spark standalone master and ``workers`` workers on 127.0.0.1 (a context manager).

    Args:
        workers: Worker daemons (each one executor of ``cores`` cores per application).
        cores: Cores each worker offers.
        memory: Memory each worker offers (``"1g"``); executors get Spark's default 1g
            unless ``spark.executor.memory`` says otherwise.
        root: Folder for the daemons' logs and work directories; default a new
            temporary folder (removed on exit).
        start_timeout_s: Seconds to wait for each daemon.

    Attributes:
        url: The master URL (``spark://127.0.0.1:PORT``), set by :meth:`start`.
        spark_home: The pyspark installation the daemons run from.
        logs: The folder of the daemons' logs (``master.log``, ``worker-N.log``).
        env: The environment the daemons run in; pass it to ``spark-submit`` subprocesses.
    """

    def __init__(
        self,
        workers: int = 2,
        cores: int = 1,
        memory: str = "1g",
        root: str | os.PathLike | None = None,
        start_timeout_s: float = 90.0,
    ) -> None:
        if workers < 1 or cores < 1:
            raise RecUtilsError(f"workers and cores must be >= 1, got {workers} and {cores}.")
        pyspark = require("pyspark", "spark")
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise MissingDependencyError(
                "java", "spark", "a Spark standalone cluster needs a Java runtime (java on PATH)"
            )
        self.workers, self.cores, self.memory = int(workers), int(cores), memory
        self.start_timeout_s = float(start_timeout_s)
        self.spark_home = Path(pyspark.__file__).parent
        self._tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="spark-sa-")
        self.root = Path(root if root is not None else self._tmp.name)
        self.logs = self.root / "logs"
        self.url = ""
        self.env: dict[str, str] = {}
        self._procs: list[subprocess.Popen] = []

    def log_tail(self, n: int = 60) -> str:
        """The last ``n`` lines of every daemon's log."""
        out = []
        for f in sorted(self.logs.glob("*.log")):
            lines = f.read_text(errors="replace").splitlines()[-n:]
            out.append(f"==> {f.name} <==\n" + "\n".join(lines))
        return "\n".join(out)

    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen:
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [str(self.spark_home / "bin" / "spark-class"), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        self._procs.append(proc)
        return proc

    def start(self) -> LocalStandaloneCluster:
        """Start the master, then the workers; return when all have registered.

        Raises:
            ClusterStartError: a daemon exited or did not come up within the timeout
                (the daemons already started are stopped).
        """
        self.logs.mkdir(parents=True, exist_ok=True)
        work = self.root / "work"
        work.mkdir(exist_ok=True)
        self.env = dict(os.environ)
        self.env.update(
            SPARK_HOME=str(self.spark_home),
            SPARK_LOCAL_IP="127.0.0.1",
            PYSPARK_PYTHON=os.environ.get("PYSPARK_PYTHON", sys.executable),
            PYSPARK_DRIVER_PYTHON=os.environ.get("PYSPARK_DRIVER_PYTHON", sys.executable),
            SPARK_WORKER_DIR=str(work),
            SPARK_NO_DAEMONIZE="1",
        )
        port = free_port()
        self.url = f"spark://127.0.0.1:{port}"
        try:
            master_log = self.logs / "master.log"
            master = self._spawn(
                [
                    "org.apache.spark.deploy.master.Master",
                    *("--host", "127.0.0.1", "--port", str(port)),
                    *("--webui-port", str(free_port())),
                ],
                master_log,
            )
            if not _wait_for(
                master_log, "I have been elected leader", master, self.start_timeout_s
            ):
                raise ClusterStartError("the Spark master did not start:\n" + self.log_tail())
            started = []
            for i in range(self.workers):
                log = self.logs / f"worker-{i + 1}.log"
                proc = self._spawn(
                    [
                        "org.apache.spark.deploy.worker.Worker",
                        self.url,
                        *("--cores", str(self.cores), "--memory", self.memory),
                        *("--webui-port", str(free_port()), "--host", "127.0.0.1"),
                    ],
                    log,
                )
                started.append((log, proc))
            for log, proc in started:
                if not _wait_for(
                    log, "Successfully registered with master", proc, self.start_timeout_s
                ):
                    raise ClusterStartError(
                        f"Spark worker {log.stem} did not register:\n" + self.log_tail()
                    )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the workers, then the master (idempotent)."""
        while self._procs:
            stop_process(self._procs.pop(), grace=15)

    def close(self) -> None:
        """:meth:`stop`, then remove the temporary folder when this object made it."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalStandaloneCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["ClusterStartError", "LocalStandaloneCluster"]
