"""tools/benchmarks/bench_spark_sar.py's pieces on toy sizes: the logs, the pandas timings, the
sweep (sizes in order, one Spark session per engine, engines skipped after a slow size), the ratios,
the table and the results file (no speeds asserted; the Spark timings run in the benchmark itself)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pandas as pd
import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "benchmarks" / "bench_spark_sar.py"
TOY = {"users": 200, "items": 60}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_spark_sar", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_logs_grow_over_one_population_and_serve_their_first_users(bench) -> None:
    small, served_small = bench.make_log(1_000, **TOY)
    large, served_large = bench.make_log(3_000, **TOY)
    assert (len(small), len(large)) == (1_000, 3_000)
    assert not large.duplicated(["userID", "itemID"]).any()
    assert large["userID"].nunique() <= TOY["users"] and large["itemID"].nunique() <= TOY["items"]
    assert list(served_large) == list(large["userID"].drop_duplicates())[: len(served_large)]
    assert len(served_small) == small["userID"].nunique()  # fewer than 5,000 users: all served


def test_pandas_timings_and_similarity_pairs(bench) -> None:
    data, served = bench.make_log(2_000, **TOY)
    figures = bench.time_pandas(data, served, repeat=1)
    assert figures["fit_s"] > 0 and figures["recommend_s"] > 0
    assert 0 < figures["similarity_pairs"] <= data["itemID"].nunique() ** 2


class FakeSession:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log
        self.sparkContext = type("Ctx", (), {"master": name})()

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def test_the_sweep_switches_sessions_skips_slow_engines_and_sets_ratios(bench, monkeypatch) -> None:
    log: list[str] = []
    seconds = {"local": 10.0, "standalone": 100.0}

    def fake_spark(spark, data, served, repeat=1, method="blocks"):
        log.append(f"time {spark.name} {len(data)}")
        return {"fit_s": seconds[spark.name], "recommend_s": 1.0, "similarity_pairs": 7}

    monkeypatch.setattr(bench, "time_spark", fake_spark)

    def starter(name: str):
        def start():
            log.append(f"start {name}")
            return FakeSession(name, log)

        return start

    rows, skipped = bench.sweep(
        [3_000, 1_000],
        ["pandas", "local", "standalone"],
        {"local": starter("local"), "standalone": starter("standalone")},
        **TOY,
        skip_after=50.0,
        log=lambda line: None,
    )
    assert [(r["rows"], r["engine"]) for r in rows] == [
        (1_000, "pandas"),
        (1_000, "local"),
        (1_000, "standalone"),
        (3_000, "pandas"),
        (3_000, "local"),
    ]
    assert skipped == [(3_000, "standalone", "101 s at 1,000 rows > --skip-after")]
    # one session at a time: the previous engine's is stopped before the next one starts
    assert log == [
        "start local",
        "time local 1000",
        "stop local",
        "start standalone",
        "time standalone 1000",
        "stop standalone",
        "start local",
        "time local 3000",
        "stop local",
    ]
    by = {(r["rows"], r["engine"]): r for r in rows}
    for size in (1_000, 3_000):
        pandas = by[(size, "pandas")]
        assert pandas["fit_vs_pandas"] == pandas["recommend_vs_pandas"] == 1.0
        local = by[(size, "local")]
        assert math.isclose(local["fit_vs_pandas"], 10.0 / pandas["fit_s"])
        assert math.isclose(local["recommend_vs_pandas"], 1.0 / pandas["recommend_s"])
    text = bench.table(rows, skipped)
    assert text.count("\n") == 1 + len(rows) + len(skipped)
    assert "| 3,000 | standalone | not run: 101 s at 1,000 rows > --skip-after |" in text


def test_main_writes_the_results_and_the_machine_record(bench, tmp_path, capsys) -> None:
    out = tmp_path / "results_spark_sar.csv"
    args = ["--engines", "pandas", "--sizes", "1000", "2000", "--users", "200", "--items", "60"]
    assert bench.main([*args, "--out", str(out), "--note", "toy"]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == bench.COLUMNS
    assert frame[["rows", "engine"]].values.tolist() == [[1000, "pandas"], [2000, "pandas"]]
    assert (frame["fit_vs_pandas"] == 1.0).all()
    runs = json.loads((tmp_path / "results_spark_sar_machine.json").read_text())["runs"]
    assert runs[-1]["note"] == "toy" and runs[-1]["runs_in_results"] == 2
    assert "| 2,000 | pandas |" in capsys.readouterr().out


def test_ctrl_c_keeps_what_was_measured(bench, monkeypatch) -> None:
    def interrupted(spark, data, served, repeat=1, method="blocks"):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench, "time_spark", interrupted)
    stopped: list[str] = []

    class Session:
        sparkContext = None

        def stop(self) -> None:
            stopped.append("stop")

    rows, skipped = bench.sweep(
        [1_000, 2_000], ["pandas", "local"], {"local": Session}, **TOY, log=lambda line: None
    )
    assert [(r["rows"], r["engine"]) for r in rows] == [(1_000, "pandas")]
    assert [(s, e) for s, e, _ in skipped] == [
        (1_000, "local"),
        (2_000, "pandas"),
        (2_000, "local"),
    ]
    assert stopped == ["stop"]
