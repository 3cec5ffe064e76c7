"""``recutils train`` through Spark's TorchDistributor (2 barrier tasks, ``local_mode=False``):
on the shared ``local[2]`` session, and through ``spark-submit`` on the two-worker standalone
cluster (one rank on each executor); and the error for executors without torch."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("pyspark.ml.torch.distributor")

from recutils.exceptions import MissingDependencyError  # noqa: E402
from recutils.spark import distributed  # noqa: E402
from recutils.spark.distributed import check_workers_have, train_on_spark  # noqa: E402

pytestmark = pytest.mark.spark


def test_executors_without_the_module_give_a_clear_error(spark) -> None:
    # one Spark job looks for both: torch is found, the other module is named
    with pytest.raises(
        MissingDependencyError, match="cannot import 'no_such_module_here': install it on every"
    ):
        check_workers_have(spark, ("torch", "no_such_module_here"), tasks=2)


def _tiny_run(tmp_path: Path) -> tuple[Path, Path]:
    """600 rows and a 1-epoch config without an early-stopping hold-out (the cost is
    starting the processes): the data file and the config file."""
    from recutils.datasets.synthetic import make_interactions

    df = make_interactions(60, 40, 600, seed=1).ratings
    df["label"] = (df["rating"] >= 4).astype(float)
    data = tmp_path / "rows.csv"
    df.to_csv(data, index=False)
    config = tmp_path / "model.yaml"
    config.write_text(
        "default_embedding_dim: 4\nnum_threads: 1\ntrain: {batch_size: 128, epochs: 1, device: cpu, "
        "num_threads: 1, validation_fraction: 0}\n"
    )
    return data, config


@pytest.mark.slow
def test_train_runs_on_two_spark_tasks_through_torch_distributor(spark, tmp_path) -> None:
    data, config = _tiny_run(tmp_path)
    metrics = tmp_path / "m.json"
    status = train_on_spark(
        spark,
        [
            "--config",
            str(config),
            "--data",
            str(data),
            "--no-progress",
            "--backend",
            "gloo",
            "--metrics-out",
            str(metrics),
        ],
        num_processes=2,
        local_mode=False,
    )
    assert status == 0
    figures = json.loads(metrics.read_text())
    assert figures["world_size"] == 2 and 0.0 <= figures["auc"] <= 1.0


@pytest.mark.slow
def test_train_runs_on_the_two_workers_of_a_standalone_cluster(
    standalone_cluster, tmp_path
) -> None:
    """``spark-submit`` runs this module's entry point against the two-worker cluster: one
    rank on each executor (two executor folders under the workers' work directory), the
    saved model loads, the metric is sane."""
    from recutils.models import load_model

    data, config = _tiny_run(tmp_path)
    ranks, model_dir, metrics = tmp_path / "ranks", tmp_path / "model", tmp_path / "m.json"
    cmd = [
        str(standalone_cluster.spark_home / "bin" / "spark-submit"),
        *("--master", standalone_cluster.url),
        *("--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1"),
        *("--conf", "spark.executor.cores=1", "--conf", "spark.executor.memory=512m"),
        *("--conf", "spark.ui.enabled=false", "--driver-memory", "512m"),
        str(Path(distributed.__file__).resolve()),
        *("--num-processes", "2", "--ranks-out", str(ranks), "--"),
        *("--config", str(config), "--data", str(data), "--no-progress", "--backend", "gloo"),
        *("--save", str(model_dir), "--metrics-out", str(metrics)),
    ]
    start = time.perf_counter()
    out = subprocess.run(
        cmd, env=standalone_cluster.env, capture_output=True, text=True, timeout=300, check=False
    )
    seconds = time.perf_counter() - start
    assert out.returncode == 0, (
        out.stdout[-3000:] + out.stderr[-4000:] + "\n" + standalone_cluster.log_tail()
    )
    # one process per rank, each in its own executor's folder (app-*/<executor id>)
    reports = [json.loads((ranks / f"rank-{r}.json").read_text()) for r in (0, 1)]
    assert [r["rank"] for r in reports] == [0, 1]
    assert all(r["world_size"] == 2 for r in reports)
    work = (standalone_cluster.root / "work").resolve()
    folders = [Path(r["cwd"]).resolve() for r in reports]
    assert all(work in f.parents and f.parent.name.startswith("app-") for f in folders), folders
    assert folders[0] != folders[1]
    figures = json.loads(metrics.read_text())
    assert figures["world_size"] == 2 and 0.0 <= figures["auc"] <= 1.0
    assert figures["train_rows"] + figures["eval_rows"] == 600
    model = load_model(model_dir)
    rows = pd.read_csv(data).head(20)
    scores = model.predict(rows)["prediction"].to_numpy()
    assert scores.shape == (20,) and ((scores >= 0) & (scores <= 1)).all()
    print(f"standalone TorchDistributor run: {seconds:.1f} s")
