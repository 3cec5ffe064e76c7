"""Start (or reuse) a SparkSession with defaults that suit recommender work.

:func:`start_or_get_spark` is the one way recutils code and notebooks get a
session. Defaults, each overridable through ``config``:

* Arrow on for pandas <-> Spark conversion (``spark.sql.execution.arrow.pyspark.enabled``),
  with the fallback to plain conversion kept on;
* shuffle partitions sized for the data instead of Spark's 200 (2 x the local
  cores for ``local[...]`` masters, or ``shuffle_partitions`` when given);
* a local temporary directory (``spark.local.dir``) under the system temp folder, and
  for local masters a checkpoint folder inside it (ALS cuts its lineage there);
* 16 MB thread stacks for the driver and executors (long ALS lineages);
* for local masters on a machine without a system BLAS/LAPACK (``libblas.so.3``,
  ``liblapack.so.3``), Spark's netlib is told not to try them, so it goes straight to
  its Java implementation (what it falls back to anyway) instead of printing
  ``netlib-blas: JNI_OnLoad: dlopen(libblas.so.3) failed`` on every run;
* the driver bound to ``127.0.0.1`` when the master is ``local`` or on 127.0.0.1, and
  Python workers running this interpreter there (unless ``PYSPARK_PYTHON`` is set);
* a ``spark://host:port`` master is checked to be reachable (a TCP connect with a
  timeout) before the JVM is asked to register with it, so that an unreachable
  master fails in seconds with :class:`SparkMasterUnreachableError` instead of
  Spark's minute of retries.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from recutils.exceptions import ConfigError, RecUtilsError
from recutils.utils.deps import require

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

DEFAULT_APP_NAME = "recutils"
DEFAULT_MEMORY = "4g"
_MEMORY = re.compile(r"^\d+[kKmMgGtT]?$")
_LOCAL = re.compile(r"^local(\[(\*|\d+)(,\s*\d+)?\])?$")


class SparkMasterUnreachableError(RecUtilsError, ConnectionError):
    """The Spark master URL given cannot be reached."""


def _local_cores(master: str) -> int:
    m = _LOCAL.match(master)
    if m is None:
        return os.cpu_count() or 2
    if m.group(2) is None:
        return 1
    if m.group(2) == "*":
        return os.cpu_count() or 2
    return int(m.group(2))


def check_master_reachable(master: str, timeout: float = 5.0) -> None:
    """Raise :class:`SparkMasterUnreachableError` when a ``spark://`` master does not answer.

    Every ``host:port`` of a (possibly multi-master) URL is tried; one answering is
    enough. Other masters (``local``, ``yarn``, ``k8s://``) are not checked.

    Args:
        master: Spark master URL.
        timeout: Seconds to wait for each TCP connection.
    """
    if not master.startswith("spark://"):
        return
    targets = master[len("spark://") :].split(",")
    errors = []
    for target in targets:
        host, _, port = target.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(
                f"malformed Spark master URL {master!r}; expected spark://HOST:PORT[,HOST:PORT...]."
            )
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return
        except OSError as err:
            errors.append(f"{host}:{port}: {err}")
    raise SparkMasterUnreachableError(
        f"cannot reach the Spark master {master!r} ({'; '.join(errors)}). Check that the master "
        "is running and the host and port are right (the master logs 'Starting Spark master at "
        "spark://HOST:PORT'), or use --master local[*] to run on this machine."
    )


def netlib_java_options() -> str:
    """JVM options that keep Spark's netlib from trying a native BLAS/LAPACK this machine
    lacks (``-Ddev.ludovic.netlib.blas.allowNative=false`` ...); empty when both exist.

    netlib loads ``libblas.so.3`` / ``liblapack.so.3`` from its native stub and, when that
    fails, prints the error to stderr and uses its Java implementation; skipping the
    attempt gives the same implementation without the message.
    """
    import ctypes.util

    options = []
    for lib in ("blas", "lapack"):
        if ctypes.util.find_library(lib) is None:
            options.append(f"-Ddev.ludovic.netlib.{lib}.allowNative=false")
    if options:
        logger.info(
            "no system %s found: Spark's ALS uses its Java BLAS/LAPACK (install e.g. "
            "libopenblas0 for a native one)",
            " or ".join(o.split(".")[3].upper() for o in options),
        )
    return " ".join(options)


def start_or_get_spark(
    app_name: str = DEFAULT_APP_NAME,
    master: str | None = None,
    memory: str = DEFAULT_MEMORY,
    config: Mapping[str, Any] | None = None,
    shuffle_partitions: int | None = None,
    local_dir: str | None = None,
    log_level: str = "WARN",
) -> SparkSession:
    """Return the active SparkSession, or start one.

    When a session is already running it is returned as is (Spark allows one per
    JVM); ``master`` and ``memory`` then have no effect, but the SQL options of
    ``config`` (``spark.sql.*``) are applied to it.

    Args:
        app_name: Application name shown in the Spark UI.
        master: Master URL; default ``$SPARK_MASTER`` or ``local[*]``. Under
            ``spark-submit`` pass None to keep the master it was given.
        memory: Driver memory (``"4g"``); only effective when this call starts the JVM.
        config: Extra Spark options, applied last (they override the defaults).
        shuffle_partitions: ``spark.sql.shuffle.partitions``; default 2 x cores for a
            local master, Spark's own default otherwise.
        local_dir: Scratch folder (``spark.local.dir``); default a folder under the
            system temp directory.
        log_level: Log level of the Spark context (``"WARN"``, ``"INFO"`` ...).

    Returns:
        The SparkSession.

    Raises:
        MissingDependencyError: pyspark is not installed (``pip install "recutils[spark]"``).
        ConfigError: a malformed ``memory`` or master URL.
        SparkMasterUnreachableError: a ``spark://`` master does not answer.
    """
    sql = require("pyspark.sql", "spark")
    if not isinstance(memory, str) or not _MEMORY.match(memory):
        raise ConfigError(f"memory must look like '4g' or '512m', got {memory!r}.")
    extra = dict(config or {})
    if master is not None:
        check_master_reachable(master)
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        for key, value in extra.items():
            if key.startswith("spark.sql."):
                active.conf.set(key, str(value))
        return active

    submitted = "spark.master" in os.environ.get("PYSPARK_SUBMIT_ARGS", "") or bool(
        os.environ.get("SPARK_ENV_LOADED")
    )
    if master is None and not submitted:
        master = os.environ.get("SPARK_MASTER", "local[*]")
    builder = sql.SparkSession.builder.appName(app_name)
    conf: dict[str, str] = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
        "spark.driver.memory": memory,
        "spark.ui.showConsoleProgress": "false",
        "spark.local.dir": local_dir or os.path.join(tempfile.gettempdir(), "recutils-spark"),
    }
    if master is not None:
        builder = builder.master(master)
        local = master.startswith("local")
        if local or "127.0.0.1" in master or "localhost" in master:
            conf["spark.driver.host"] = "127.0.0.1"
            conf["spark.driver.bindAddress"] = "127.0.0.1"
            # Python workers on this machine run this interpreter (with pandas and
            # recutils), unless PYSPARK_PYTHON says otherwise.
            # (pyspark reads the variable when the context starts).
            if not os.environ.get("PYSPARK_PYTHON"):
                os.environ["PYSPARK_PYTHON"] = sys.executable
                conf["spark.pyspark.python"] = sys.executable
        if shuffle_partitions is None and local:
            shuffle_partitions = 2 * _local_cores(master)
    if shuffle_partitions is not None:
        if isinstance(shuffle_partitions, bool) or int(shuffle_partitions) < 1:
            raise ConfigError(
                f"shuffle_partitions must be a positive integer, got {shuffle_partitions!r}."
            )
        conf["spark.sql.shuffle.partitions"] = str(int(shuffle_partitions))
        conf.setdefault("spark.default.parallelism", str(int(shuffle_partitions)))
    # Iterative algorithms (ALS) build long lineages: deeper thread stacks avoid
    # StackOverflowError when tasks are deserialised, and a checkpoint folder lets
    # ALS cut the lineage every ``checkpointInterval`` iterations.
    java_options = "-Xss16m"
    if (master or "").startswith("local"):
        java_options = f"{java_options} {netlib_java_options()}".strip()
    conf["spark.driver.extraJavaOptions"] = java_options
    conf["spark.executor.extraJavaOptions"] = java_options
    conf.update({k: str(v) for k, v in extra.items()})
    for key, value in conf.items():
        builder = builder.config(key, value)
    logger.info("starting SparkSession %r on %s", app_name, master or "(spark-submit master)")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(log_level)
    if spark.sparkContext.getCheckpointDir() is None and (master or "").startswith("local"):
        spark.sparkContext.setCheckpointDir(os.path.join(conf["spark.local.dir"], "checkpoints"))
    return spark


__all__ = [
    "start_or_get_spark",
    "check_master_reachable",
    "netlib_java_options",
    "SparkMasterUnreachableError",
]
