"""Fixtures of the integration tier: one SparkSession per test session, MovieLens 100k
as Spark frames (the pandas ones live in tests/conftest.py), and a real Spark standalone cluster on 127.0.0.1 (a master and two workers).

Every Spark test module calls ``pytest.importorskip("pyspark")`` and uses the
session-scoped ``spark`` fixture, so a test run pays the JVM start (~10 s) once.
"""

from __future__ import annotations

from collections.abc import Iterator

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
@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A Spark standalone master + two workers (1 core, 1 GB each) on 127.0.0.1, stopped at
    the end (:class:`recutils.spark.standalone.LocalStandaloneCluster`).

    Two workers give two executors in separate JVMs (two task slots), as a barrier stage of
    two tasks (TorchDistributor with ``local_mode=False``) needs. Waits at most 90 s for each
    daemon and shows their logs on failure.
    """
    pytest.importorskip("pyspark")
    from recutils.exceptions import MissingDependencyError
    from recutils.spark.standalone import ClusterStartError, LocalStandaloneCluster

    try:
        cluster = LocalStandaloneCluster(
            workers=2, cores=1, memory="1g", root=tmp_path_factory.mktemp("standalone")
        )
    except MissingDependencyError as err:
        pytest.skip(str(err))
    try:
        cluster.start()
    except ClusterStartError as err:
        pytest.fail(str(err))
    try:
        yield cluster
    finally:
        cluster.close()
