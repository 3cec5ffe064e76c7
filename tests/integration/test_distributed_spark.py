"""``recutils train`` through Spark's TorchDistributor (2 barrier tasks, ``local_mode=False``,
on the shared ``local[2]`` session), and the error for executors without torch."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("pyspark.ml.torch.distributor")

from recutils.exceptions import MissingDependencyError  # noqa: E402
from recutils.spark.distributed import check_workers_have, train_on_spark  # noqa: E402

pytestmark = pytest.mark.spark


def test_executors_without_the_module_give_a_clear_error(spark) -> None:
    check_workers_have(spark, "torch", tasks=2)
    with pytest.raises(
        MissingDependencyError, match="cannot import 'no_such_module_here'.*install it on every"
    ):
        check_workers_have(spark, "no_such_module_here", tasks=2)


@pytest.mark.slow
def test_train_runs_on_two_spark_tasks_through_torch_distributor(spark, tmp_path) -> None:
    from recutils.datasets.synthetic import make_interactions

    df = make_interactions(120, 60, 3000, seed=1).ratings
    df["label"] = (df["rating"] >= 4).astype(float)
    data = tmp_path / "rows.csv"
    df.to_csv(data, index=False)
    config = tmp_path / "model.yaml"
    config.write_text(
        "default_embedding_dim: 4\nnum_threads: 1\n"
        "train: {batch_size: 128, epochs: 1, device: cpu, num_threads: 1}\n"
    )
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
