"""Reports of the next-item benchmark: summary, per-user metrics, bars, ranking shifts, Markdown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.benchmark.next_item import Bar, load_next_item_spec
from recutils.benchmark.next_item_report import (
    check_bars,
    next_item_markdown,
    next_item_per_user,
    next_item_summary,
    ranking_shift,
)
from recutils.exceptions import ConfigError, DataError


def _results() -> pd.DataFrame:
    # three models, two seeds; under full ranking a > b > c, under sampled b > a > c
    rows = []
    for seed, jitter in ((1, 0.0), (2, 0.02)):
        for model, full, sampled in (("a", 0.10, 0.30), ("b", 0.08, 0.35), ("c", 0.02, 0.10)):
            row = {
                "model": model,
                "registry": model,
                "dataset": "beauty",
                "seed": seed,
                "fit_s": 10.0 + seed,
                "eval_s": 1.0,
                "epochs": 20 + seed,
            }
            for m, scale in (("HR", 1.0), ("NDCG", 0.6), ("MRR", 0.5)):
                row[f"full_{m}@10"] = scale * full + jitter
                row[f"sampled_{m}@10"] = scale * sampled + jitter
            rows.append(row)
    return pd.DataFrame(rows)


def test_summary_is_mean_and_sd_over_seeds():
    s = next_item_summary(_results()).set_index("model")
    assert list(s.index) == ["a", "b", "c"] and (s["n_seeds"] == 2).all()
    assert s.at["a", "full_HR@10_mean"] == pytest.approx(0.11)
    assert s.at["a", "full_HR@10_sd"] == pytest.approx(np.std([0.10, 0.12], ddof=1))
    assert s.at["b", "epochs_mean"] == pytest.approx(21.5)
    with pytest.raises(DataError, match="metric columns"):
        next_item_summary(pd.DataFrame({"model": ["a"], "seed": [1]}))


def test_per_user_metrics_come_from_the_ranks():
    ranks = pd.DataFrame(
        {
            "model": "a",
            "seed": 1,
            "userID": [1, 2, 3],
            "full_rank": [0, 3, 50],
            "sampled_rank": [0, 1, 9],
        }
    )
    out = next_item_per_user(ranks).set_index(["protocol", "userID"])
    assert out.loc[("full", 1), "hr@10"] == 1.0 and out.loc[("full", 3), "hr@10"] == 0.0
    assert out.loc[("full", 2), "ndcg@10"] == pytest.approx(1 / np.log2(5))
    assert out.loc[("sampled", 2), "mrr@10"] == pytest.approx(0.5)
    assert out.loc[("sampled", 3), "hr@10"] == 1.0 and set(out["dataset"]) == {"beauty"}
    with pytest.raises(DataError, match="sampled_rank"):
        next_item_per_user(ranks.drop(columns="sampled_rank"))


def test_bars_check_figures_and_beaten_models():
    summary = next_item_summary(_results())
    checked = check_bars(
        summary,
        [
            Bar(model="a", metric="sampled_HR@10", at_least=0.30, source="paper"),
            Bar(model="a", metric="sampled_HR@10", at_least=0.32),
            {"model": "b", "beats": "c"},
            {"model": "b", "beats": "a"},  # b loses to a under full ranking
            {"model": "missing", "beats": "a"},
        ],
    )
    assert checked["met"].tolist() == [True, False, True, False, False]
    assert checked["bar"].iloc[0] == "sampled_HR@10 >= 0.3000 (paper)"
    assert checked["value"].iloc[3] == pytest.approx(0.08 - 0.10)  # the smallest margin: full HR@10
    for bad, match in (
        ({"model": "a"}, "either"),
        ({"model": "a", "at_least": 0.3, "beats": "b"}, "either"),
        ({"model": "a", "at_least": 0.3, "metric": "HR@10"}, "result column"),
        ({"model": "a", "at_least": "high", "metric": "full_HR@10"}, "number"),
    ):
        with pytest.raises(ConfigError, match=match):
            Bar.from_dict(bad)


def test_bars_must_name_models_of_the_spec():
    spec = load_next_item_spec("beauty").to_dict()
    spec["bars"] = [{"model": "sasrec", "beats": "itemknn"}]
    with pytest.raises(ConfigError, match="itemknn"):
        load_next_item_spec(spec)


def test_ranking_shift_counts_places_and_kendall_tau():
    places, tau = ranking_shift(next_item_summary(_results()), "HR@10")
    assert places["model"].tolist() == ["a", "b", "c"]
    assert places["sampled_place"].tolist() == [2, 1, 3] and places["moved"].tolist() == [1, -1, 0]
    assert tau == pytest.approx(1 / 3)  # one discordant pair of three
    with pytest.raises(DataError, match="HR@10"):
        ranking_shift(next_item_summary(_results()), "recall@10")


def test_markdown_has_every_model_the_tests_and_the_bars():
    results = _results()
    rng = np.random.default_rng(0)
    per_user = pd.concat(
        [
            pd.DataFrame(
                {
                    "model": m,
                    "seed": s,
                    "userID": np.arange(200),
                    "full_rank": rng.integers(0, shift, 200),
                    "sampled_rank": rng.integers(0, 20, 200),
                }
            )
            for m, shift in (("a", 15), ("b", 40), ("c", 100))
            for s in (1, 2)
        ]
    )
    text = next_item_markdown(
        results,
        per_user,
        bars=[{"model": "b", "beats": "c"}],
        reference_model="a",
        machine={
            "runs": [
                {
                    "cpu_model": "CPU X",
                    "logical_cores": 2,
                    "ram_gb": 8,
                    "python": "3.11",
                    "libraries": {},
                }
            ]
        },
    )
    lines = text.splitlines()
    assert lines[0].startswith("| model | seeds | epochs | HR@10 full")
    table = {line.split(" | ")[0].strip("| `"): line for line in lines[2:5]}
    assert set(table) == {"a", "b", "c"} and "reference" in table["a"]
    assert "**worse**" in table["c"] and "beats `c` on every metric met" in table["b"]
    assert "Kendall's tau 0.33 (`a` 1 -> 2, `b` 2 -> 1)" in text and "CPU X" in text
