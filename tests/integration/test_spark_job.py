"""The ALS job: in-process error handling, a local[2] run, and a run on a real standalone cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from recutils.spark.jobs import als as job  # noqa: E402

pytestmark = pytest.mark.spark
JOB_FILE = Path(job.__file__).resolve()
FAST = [
    "--rank",
    "5",
    "--max-iter",
    "5",
    "--num-blocks",
    "2",
    "--shuffle-partitions",
    "4",
    "--metrics",
    "rmse,precision@10,ndcg@10",
    "--log-level",
    "WARNING",
]


def _toy_csv(path: Path, n_users: int = 60, n_items: int = 40, seed: int = 0, **rename) -> Path:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {"userID": rng.integers(0, n_users, 1500), "itemID": rng.integers(0, n_items, 1500)}
    )
    df = df.drop_duplicates().reset_index(drop=True)
    df["rating"] = rng.integers(1, 6, len(df)).astype(float)
    df["timestamp"] = rng.integers(0, 10**6, len(df))
    df.rename(columns=rename).to_csv(path, index=False)
    return path


def _args(tmp_path: Path, data: Path, *extra: str) -> list[str]:
    return [
        "--input",
        str(data),
        "--output-recs",
        str(tmp_path / "recs"),
        "--output-metrics",
        str(tmp_path / "metrics.json"),
        *FAST,
        *extra,
    ]


def test_in_process_run_and_bad_inputs(spark, tmp_path, capsys) -> None:
    data = _toy_csv(tmp_path / "ratings.csv")
    # --master local[2]: the job joins the test session's local[2] context
    assert (
        job.main(_args(tmp_path, data, "--split", "chrono", "--master", "local[2]")) == job.EXIT_OK
    )
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert summary["master"] == "local[2]"
    assert set(summary["metrics"]) == {"rmse", "precision@10", "ndcg@10"}
    recs = pd.read_parquet(tmp_path / "recs")
    assert (
        list(recs.columns) == ["userID", "itemID", "prediction", "rank"]
        and recs["rank"].max() <= 10
    )
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["status"] == "ok"
    # outputs exist: refused without --overwrite, replaced with it
    assert job.main(_args(tmp_path, data)) == job.EXIT_OUTPUT_EXISTS
    assert job.main(_args(tmp_path, data, "--overwrite", "--split", "random")) == job.EXIT_OK
    # missing columns, non-numeric ratings, missing input, unknown metric, bad argument
    bad = _toy_csv(tmp_path / "renamed.csv", userID="user")
    assert job.main(_args(tmp_path / "o1", bad)) == job.EXIT_INPUT
    assert "missing column" in capsys.readouterr().out
    text = tmp_path / "text.csv"
    pd.DataFrame({"userID": [1], "itemID": [2], "rating": ["five"]}).to_csv(text, index=False)
    assert job.main(_args(tmp_path / "o2", text)) == job.EXIT_INPUT
    assert job.main(_args(tmp_path / "o3", tmp_path / "nowhere.csv")) == job.EXIT_INPUT
    assert job.main(_args(tmp_path / "o4", data, "--metrics", "ndcg@10,nonsense")) == job.EXIT_USAGE
    assert job.main(_args(tmp_path / "o5", data, "--rank", "many")) == job.EXIT_USAGE


def test_string_ids_are_mapped(spark, tmp_path) -> None:
    data = tmp_path / "ratings.csv"
    df = pd.read_csv(_toy_csv(tmp_path / "raw.csv"))
    df["userID"] = "user-" + df["userID"].astype(str)
    df["itemID"] = "movie-" + df["itemID"].astype(str)
    df.to_csv(data, index=False)
    assert job.main(_args(tmp_path, data)) == job.EXIT_OK
    recs = pd.read_parquet(tmp_path / "recs")
    assert recs.itemID.str.startswith("movie-").all() and recs.userID.str.startswith("user-").all()


def test_unreachable_master_is_a_clear_error(tmp_path, capsys) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = _toy_csv(tmp_path / "ratings.csv")
    code = job.main(_args(tmp_path, data, "--master", f"spark://127.0.0.1:{port}"))
    assert code == job.EXIT_MASTER
    assert "cannot reach the Spark master" in capsys.readouterr().out


def _run(cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def ml_sample(ml100k, tmp_path_factory) -> Path:
    """The first 10k MovieLens 100k ratings as CSV (keeps the cluster run short)."""
    path = tmp_path_factory.mktemp("ml") / "ratings.csv"
    ml100k.iloc[:10000].to_csv(path, index=False)
    return path


@pytest.mark.realdata
@pytest.mark.slow
def test_job_on_standalone_cluster(standalone_cluster, ml_sample, tmp_path) -> None:
    submit = standalone_cluster.spark_home / "bin" / "spark-submit"
    cmd = [
        str(submit),
        "--master",
        standalone_cluster.url,
        "--conf",
        "spark.driver.host=127.0.0.1",
        "--conf",
        "spark.driver.bindAddress=127.0.0.1",
        "--conf",
        "spark.executor.memory=512m",
        "--conf",
        "spark.executor.cores=1",
        "--conf",
        "spark.ui.enabled=false",
        "--driver-memory",
        "1g",
        str(JOB_FILE),
        *_args(tmp_path, ml_sample, "--metrics", "rmse,ndcg@10"),
    ]
    out = _run(cmd, standalone_cluster.env, timeout=300)
    assert out.returncode == 0, out.stderr[-4000:] + "\n" + standalone_cluster.log_tail()
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert summary["master"] == standalone_cluster.url
    assert summary["rows"]["recommendations"] > 0 and summary["metrics"]["rmse"] < 1.3
    recs = pd.read_parquet(tmp_path / "recs")
    assert recs.groupby("userID").size().max() <= 10
    # the worker really ran the tasks
    assert "Launching executor" in standalone_cluster.log_tail(
        400
    ) or "Asked to launch executor" in standalone_cluster.log_tail(400)


def test_help_shows_every_default(capsys) -> None:
    """``--help`` used to show no defaults: the reader had to open the source."""
    from recutils.cli import main

    assert main(["als-job", "--help"]) == 0
    for text in (job.build_parser().format_help(), capsys.readouterr().out):
        flat = " ".join(text.split())
        for shown in (
            "--max-iter MAX_ITER ALS iterations (default: 15)",
            "--rank RANK number of latent factors (default: 10)",
            "(default: stratified)",
            "train share (default: 0.75)",
            "(default: 42)",
            "--sep SEP",
            "--sep '\\t'",
            "(default: ,)",
            "--top-k TOP_K recommendations per test user (default: 10)",
            "(default: recutils-als)",
            "(default: 2g)",
            "(default: INFO)",
        ):
            assert shown in flat, shown
        assert "rmse,mae,precision@10" in flat  # the explicit-feedback default metrics
        assert "(default: None)" not in flat and "(default: False)" not in flat


def test_one_column_message_suggests_the_separator() -> None:
    text = job.one_column_message("196\t242\t3\t881250949", ",")
    assert "one column" in text and "pass --sep '\\t'" in text
    assert "pass --sep ';'" in job.one_column_message("user;item;rating", ",")
    assert "with --sep" in job.one_column_message("useritemrating", ",")


def test_tab_file_read_with_the_default_separator_suggests_sep(spark, tmp_path, capsys) -> None:
    """MovieLens' u.data without --sep was read as one column and reported only as
    'missing columns'; the error now says to pass --sep '\\t'."""
    data = tmp_path / "u.data"
    pd.read_csv(_toy_csv(tmp_path / "r.csv")).to_csv(data, sep="\t", header=False, index=False)
    assert job.main(_args(tmp_path / "o", data, "--no-header")) == job.EXIT_INPUT
    error = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["error"]
    assert "read as one column" in error and "pass --sep '\\t'" in error
    # with the separator the same file runs
    assert job.main(_args(tmp_path / "o", data, "--no-header", "--sep", "\\t")) == job.EXIT_OK


def test_implicit_prefs_reports_no_rating_metrics_by_default(spark, tmp_path) -> None:
    """With --implicit-prefs ALS predicts confidences; RMSE/MAE against ratings were reported
    anyway. The default metrics are now the ranking ones; named rating metrics still work."""
    data = _toy_csv(tmp_path / "ratings.csv")
    fast = [a for a in _args(tmp_path / "a", data) if a != "rmse,precision@10,ndcg@10"]
    fast.remove("--metrics")
    assert job.main([*fast, "--implicit-prefs"]) == job.EXIT_OK
    summary = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert set(summary["metrics"]) == set(job.DEFAULT_IMPLICIT_METRICS)
    assert summary["args"]["metrics"] == ",".join(job.DEFAULT_IMPLICIT_METRICS)
    assert job.main(_args(tmp_path / "b", data, "--implicit-prefs")) == job.EXIT_OK
    assert "rmse" in json.loads((tmp_path / "b" / "metrics.json").read_text())["metrics"]
    assert job.job_metrics(
        job.build_parser().parse_args(
            ["--input", "x", "--output-recs", "r", "--output-metrics", "m"]
        )
    ) == list(job.DEFAULT_METRICS)


def test_pandas_version_warning_is_hidden_and_explained_once(caplog) -> None:
    import logging
    import warnings

    from recutils.cli.als_job import _quiet_pandas_warning

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with caplog.at_level(logging.INFO, logger="recutils.spark.jobs.als"):
            _quiet_pandas_warning()
        for _ in range(3):
            warnings.warn(f"{job.PANDAS_WARNING} >= 3.0.0.", FutureWarning, stacklevel=1)
        warnings.warn("another warning", FutureWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["another warning"]
    if int(pd.__version__.split(".")[0]) >= 3:
        assert len([r for r in caplog.records if "FutureWarning" in r.getMessage()]) == 1


def test_netlib_is_kept_from_a_missing_native_blas(monkeypatch) -> None:
    """Without libblas.so.3 Spark's netlib printed 'JNI_OnLoad: dlopen(libblas.so.3) failed'
    on every run before using its Java BLAS; it is now told not to try."""
    import ctypes.util

    from recutils.spark.session import netlib_java_options

    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert netlib_java_options().split() == [
        "-Ddev.ludovic.netlib.blas.allowNative=false",
        "-Ddev.ludovic.netlib.lapack.allowNative=false",
    ]
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: f"lib{name}.so.3")
    assert netlib_java_options() == ""
