"""``recutils quickstart`` end to end: in a subprocess on MovieLens 100k and with no data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from recutils.cli import main

REPO = Path(__file__).resolve().parents[2]
MODELS = ["sar", "popularity", "itemknn"]


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RECUTILS_")}
    full_env.update(env)
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO), full_env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "recutils", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _table(stdout: str) -> dict[str, dict[str, float]]:
    """The printed metrics table as {model: {column: value}}."""
    lines = stdout.splitlines()
    sep = next(i for i, line in enumerate(lines) if line.startswith("-----"))
    header = [h for h in lines[sep - 1].split("  ") if h.strip()]
    header = [h.strip() for h in header]
    rows = {}
    for line in lines[sep + 1 :]:
        if not line.strip():
            break
        name, *values = line.split()
        rows[name] = dict(zip(header[1:], map(float, values)))
    return rows


def _check_csv(path: Path, k: int = 10) -> pd.DataFrame:
    top = pd.read_csv(path)
    assert list(top.columns) == ["model", "userID", "itemID", "prediction", "rank"]
    assert sorted(top["model"].unique()) == sorted(MODELS)
    sizes = top.groupby(["model", "userID"]).size()
    assert sizes.max() == k
    for _, g in top.groupby(["model", "userID"], sort=False):
        assert g["rank"].tolist() == list(range(1, len(g) + 1))
        assert g["prediction"].is_monotonic_decreasing
    return top


@pytest.mark.realdata
def test_quickstart_on_movielens_100k(require_dataset, data_mirror, tmp_path) -> None:
    require_dataset("ml-100k")
    out = tmp_path / "lists" / "top.csv"
    proc = _run(
        ["quickstart", "--no-progress", "--output", str(out)],
        {
            "RECUTILS_DATA_MIRROR": str(data_mirror),
            "RECUTILS_OFFLINE": "1",
            "RECUTILS_DATA_HOME": str(tmp_path / "cache"),
        },
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SYNTHETIC" not in proc.stdout
    assert "Data: MovieLens 100k" in proc.stdout
    assert "100,000 ratings, 943 users, 1,682 items" in proc.stdout
    table = _table(proc.stdout)
    assert list(table) == MODELS
    sar, pop, knn = table["sar"], table["popularity"], table["itemknn"]
    # measured on the seed-42 split: SAR 0.1140 / 0.3938 / 0.3406 / 0.1854,
    # popularity 0.0560 / 0.2524, item-KNN 0.1170 / 0.4081
    assert sar["MAP"] >= 0.11 and sar["nDCG@10"] >= 0.38
    assert sar["Precision@10"] >= 0.33 and sar["Recall@10"] >= 0.18
    assert knn["MAP"] >= 0.11 and knn["nDCG@10"] >= 0.39
    assert 0.05 <= pop["MAP"] < sar["MAP"] and pop["nDCG@10"] < sar["nDCG@10"]
    assert pop["Coverage@10"] < sar["Coverage@10"]
    assert all(r["fit (s)"] >= 0 and r["recommend (s)"] >= 0 for r in table.values())
    top = _check_csv(out)
    assert top.loc[top["model"] == "sar", "userID"].nunique() == 943


def test_quickstart_without_data_runs_on_labelled_synthetic_set(tmp_path) -> None:
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    proc = _run(
        ["quickstart", "--no-progress", "--top-k", "5"],
        {
            "RECUTILS_DATA_MIRROR": str(empty),
            "RECUTILS_OFFLINE": "1",
            "RECUTILS_DATA_HOME": str(tmp_path / "cache"),
        },
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "MovieLens 100k is not available" in proc.stdout
    assert "Data: SYNTHETIC" in proc.stdout
    assert "Top-5 recommendations on SYNTHETIC" in proc.stdout
    assert "RECUTILS_DATA_MIRROR" in proc.stdout  # says how to get the real data
    table = _table(proc.stdout)
    assert list(table) == MODELS
    assert all(0 <= r["MAP"] <= 1 and 0 <= r["nDCG@5"] <= 1 for r in table.values())
    _check_csv(tmp_path / "quickstart_top10.csv", k=5)  # default output in the cwd


def test_main_in_process(tmp_path, capsys) -> None:
    out = tmp_path / "t.csv"
    assert (
        main(
            [
                "quickstart",
                "--size",
                "mock3000",
                "--no-progress",
                "--output",
                str(out),
                "--seed",
                "1",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "SYNTHETIC" in text and "not available" not in text
    _check_csv(out)


def test_main_usage_errors_and_models(capsys) -> None:
    assert main(["quickstart", "--top-k", "0"]) == 2
    assert "positive integer" in capsys.readouterr().err
    assert main([]) == 2
    assert main(["models"]) == 0
    listed = capsys.readouterr().out.split()
    assert {"sar", "popularity", "random", "bias", "itemknn"} <= set(listed)
    assert main(["--version"]) == 0
    assert main(["quickstart", "--size", "999k", "--no-progress"]) == 1
    assert "999k" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command, needle", [("als-job", "--output-recs"), ("tune-worker", "--study")]
)
def test_job_subcommands_have_help_without_optional_libraries(command, needle, tmp_path) -> None:
    """``recutils als-job --help`` / ``recutils tune-worker --help`` print their options and
    import neither pyspark nor optuna to do so."""
    code = (
        f"import sys; from recutils.cli import main; rc = main([{command!r}, '--help']); "
        "sys.stdout.flush(); "
        "print('LOADED', [m for m in ('pyspark', 'optuna', 'torch') if m in sys.modules]); "
        "sys.exit(rc)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECUTILS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"usage: recutils {command}" in proc.stdout and needle in proc.stdout
    assert "LOADED []" in proc.stdout
    assert _run([command, "--help"], {}, tmp_path).returncode == 0  # python -m recutils too


def test_job_subcommands_take_the_same_arguments_as_their_old_entry_points(capsys) -> None:
    from recutils.cli import als_job, build_parser, tune_worker

    argv = ["--input", "r.csv", "--output-recs", "o", "--output-metrics", "m.json", "--rank", "7"]
    old = vars(als_job.build_parser().parse_args(argv))
    new = vars(build_parser().parse_args(["als-job", *argv]))
    assert {k: v for k, v in new.items() if k not in ("command", "func", "verbose")} == old
    argv = ["--study", "s", "--train", "t.csv", "--n-trials", "3"]
    old = vars(tune_worker.build_parser().parse_args(argv))
    new = vars(build_parser().parse_args(["tune-worker", *argv]))
    assert {k: v for k, v in new.items() if k not in ("command", "func", "verbose")} == old
    # errors keep the worker's exit status: a study that does not exist yet and no --model
    # and --space to create it is a recutils error (2)
    pytest.importorskip("optuna")
    assert (
        main(
            [
                "tune-worker",
                "--study",
                "s",
                "--train",
                "missing.csv",
                "--n-trials",
                "1",
                "--storage",
                "sqlite:///:memory:",
            ]
        )
        == 2
    )
    assert "--model and --space" in capsys.readouterr().err
    assert main(["als-job", "--input", "r.csv"]) == 2  # usage error: missing outputs


def test_old_job_modules_are_aliases_of_the_subcommands() -> None:
    from recutils.cli import als_job, tune_worker
    from recutils.tuning import worker

    assert worker.main is tune_worker.main and worker.run is tune_worker.run
    pytest.importorskip("pyspark")
    from recutils.spark.jobs import als

    assert als.main is als_job.main and als.EXIT_CODES is als_job.EXIT_CODES
