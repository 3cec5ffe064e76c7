"""Run the service as a separate uvicorn process, and measure its latency.

:class:`ServiceProcess` starts ``python -m recutils serve ...`` on 127.0.0.1 and a free
port, waits until ``/health`` answers, and stops the process on exit (SIGTERM, then
SIGKILL after a grace period). :func:`measure_latency` sends a bounded number of
requests from a few threads and returns throughput and latency percentiles. The load
test runner (``tools/loadtest``), the integration tests and the operationalization
notebook use them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from recutils.exceptions import RecUtilsError
from recutils.utils.deps import require
from recutils.utils.processes import free_port, stop_process

logger = logging.getLogger(__name__)


class ServiceStartError(RecUtilsError, RuntimeError):
    """The service process exited or did not become healthy in time."""


class ServiceProcess:
    """``recutils serve`` in a child process (a context manager).

    Args:
        artifact: Artifact folder (``--artifact``).
        store: Store URL (``--store``).
        port: Port (default: a free one).
        extra_args: More ``recutils serve`` arguments (``--artifact-root``, ...).
        startup_timeout: Seconds to wait for ``/health``.
        log_file: Where the process's output goes (default: discarded).
        admin_token: Admin token, handed to the process in its environment
            (``RECUTILS_ADMIN_TOKEN``), not on its command line where ``ps`` shows it.
    """

    def __init__(
        self,
        artifact: str | Path | None = None,
        store: str | None = None,
        *,
        port: int | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 60.0,
        log_file: str | Path | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.url = f"http://{self.host}:{self.port}"
        args = [
            sys.executable,
            "-m",
            "recutils",
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        if artifact is not None:
            args += ["--artifact", str(artifact)]
        if store is not None:
            args += ["--store", str(store)]
        self.args = args + list(extra_args)
        self.startup_timeout = float(startup_timeout)
        self.log_file = None if log_file is None else Path(log_file)
        self.admin_token = admin_token
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self) -> ServiceProcess:
        """Start the process and wait until it is healthy."""
        httpx = require("httpx", "serving")
        self._log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.admin_token is not None:
            from recutils.serving.service import ADMIN_TOKEN_ENV

            env[ADMIN_TOKEN_ENV] = self.admin_token
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceStartError(
                    f"the service exited with status {self.proc.returncode} "
                    f"(log: {self.log_file or 'discarded'})."
                )
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    logger.info("service up at %s (pid %d)", self.url, self.proc.pid)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ServiceStartError(f"the service was not healthy after {self.startup_timeout} s.")

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit status."""
        if self.proc is None:
            return None
        status = stop_process(self.proc, grace)
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        return status

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class LatencyReport:
    """Throughput and latency of a run of :func:`measure_latency` (milliseconds)."""

    requests: int
    failures: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def measure_latency(
    base_url: str,
    paths: Sequence[str],
    *,
    n_requests: int = 1000,
    concurrency: int = 4,
    timeout: float = 10.0,
    bodies: Sequence[Mapping[str, Any]] | None = None,
) -> LatencyReport:
    """Send ``n_requests`` GETs (cycling through ``paths``) from ``concurrency`` threads;
    with ``bodies``, POSTs of the JSON ``bodies`` (cycling through both).

    A response other than 200 (or a transport error) counts as a failure.
    """
    httpx = require("httpx", "serving")
    if not paths:
        raise ValueError("paths is empty.")
    if bodies is not None and not bodies:
        raise ValueError("bodies is empty; give None for GET requests.")
    latencies = np.zeros(n_requests, dtype=np.float64)
    failures = [0]
    lock = threading.Lock()
    counter = iter(range(n_requests))

    def worker() -> None:
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                try:
                    path = paths[i % len(paths)]
                    answer = (
                        client.get(path)
                        if bodies is None
                        else client.post(path, json=bodies[i % len(bodies)])
                    )
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies[i] = (time.perf_counter() - t0) * 1000
                if not ok:
                    with lock:
                        failures[0] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(max(1, concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return LatencyReport(
        requests=n_requests,
        failures=failures[0],
        seconds=seconds,
        requests_per_s=n_requests / seconds,
        p50_ms=float(p50),
        p95_ms=float(p95),
        p99_ms=float(p99),
        max_ms=float(latencies.max()),
    )


__all__ = ["LatencyReport", "ServiceProcess", "ServiceStartError", "free_port", "measure_latency"]
