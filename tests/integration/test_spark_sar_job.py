"""``recutils sar-job``: a local[2] run whose recommendations equal the pandas SAR's on the
same split, the exit codes of bad input, and the spark-submit entry file."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from _sar_helpers import assert_same_top_k  # noqa: E402,I001

from recutils import cli  # noqa: E402
from recutils.cli import als_job, sar_job  # noqa: E402
from recutils.models.sar import SAR  # noqa: E402

pytestmark = pytest.mark.spark
FAST = ["--shuffle-partitions", "4", "--log-level", "WARNING", "--master", "local[2]"]


def _toy_csv(path: Path, n_users: int = 50, n_items: int = 30, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {"userID": rng.integers(0, n_users, 800), "itemID": rng.integers(0, n_items, 800)}
    )
    df = df.drop_duplicates().reset_index(drop=True)
    df["rating"] = rng.integers(1, 6, len(df)).astype(float)
    df["timestamp"] = rng.permutation(len(df)) * 3_600  # distinct times: the chrono split is exact
    df.to_csv(path, index=False)
    return path


def _argv(out: Path, data: Path, *extra: str) -> list[str]:
    return [
        "--input",
        str(data),
        "--output-recs",
        str(out / "recs"),
        "--output-metrics",
        str(out / "metrics.json"),
        *FAST,
        *extra,
    ]


def test_sar_job_equals_pandas_sar_on_its_split(spark, tmp_path, capsys) -> None:
    data = _toy_csv(tmp_path / "ratings.csv")
    extra = [
        "--split",
        "chrono",
        "--similarity-type",
        "lift",
        "--time-decay",
        "7",
        "--top-k",
        "5",
        "--metrics",
        "precision@5,ndcg@5",
    ]
    code = cli.main(["sar-job", *_argv(tmp_path, data, *extra)])
    assert code == als_job.EXIT_OK
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["status"] == "ok"
    assert set(summary["metrics"]) == {"precision@5", "ndcg@5"}
    assert 0 < summary["metrics"]["ndcg@5"] <= 1 and summary["master"] == "local[2]"
    recs = pd.read_parquet(tmp_path / "recs")
    assert list(recs.columns) == ["userID", "itemID", "prediction", "rank"]

    # the same split, fitted by the pandas SAR, gives the same top-5 for the test users
    args = sar_job.build_parser().parse_args(_argv(tmp_path, data, *extra))
    train, test = als_job.split(als_job.read_ratings(spark, args), args)
    train, test = train.toPandas(), test.toPandas()
    assert summary["rows"] == {"train": len(train), "test": len(test), "recommendations": len(recs)}
    ref = SAR(
        similarity_type="lift",
        timedecay_formula=True,
        time_decay_coefficient=7,
        score_dtype="float64",
    ).fit(train)
    expected = ref.recommend_k_items(np.sort(test["userID"].unique()), top_k=5)
    assert_same_top_k(expected, recs)


def test_sar_job_bad_input_exit_codes(spark, tmp_path, capsys) -> None:
    data = _toy_csv(tmp_path / "ratings.csv")
    no_time = tmp_path / "no_time.csv"
    pd.read_csv(data).drop(columns="timestamp").to_csv(no_time, index=False)
    # --time-decay without a time column: bad input, and the message names the column
    assert sar_job.main(_argv(tmp_path / "o1", no_time, "--time-decay", "30")) == als_job.EXIT_INPUT
    assert "timestamp" in capsys.readouterr().out
    # a rating metric: SAR's scores are not ratings (a bad argument)
    assert sar_job.main(_argv(tmp_path / "o2", data, "--metrics", "rmse")) == als_job.EXIT_USAGE
    assert "ranking metrics" in capsys.readouterr().out
    # an unknown similarity: argparse refuses it
    assert sar_job.main(_argv(tmp_path / "o3", data, "--similarity-type", "dice")) == 2
    # outputs exist: refused without --overwrite
    (tmp_path / "o4" / "recs").mkdir(parents=True)
    assert sar_job.main(_argv(tmp_path / "o4", data)) == als_job.EXIT_OUTPUT_EXISTS


def test_spark_submit_entry_file_runs_the_job_parser() -> None:
    """``spark-submit recutils/spark/jobs/sar.py`` runs the same command line."""
    from recutils.spark.jobs import sar

    out = subprocess.run(
        [sys.executable, sar.__file__, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "--similarity-type" in out.stdout and "--time-decay" in out.stdout
    assert isinstance(sar.build_parser(), argparse.ArgumentParser)
