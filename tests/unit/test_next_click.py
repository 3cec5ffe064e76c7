"""Next-click evaluation: prefixes, ranks and ties, HR/MRR known answers, the popularity and
item-KNN scorers, the benchmark runner and its script."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.benchmark import next_click as nc
from recutils.exceptions import ConfigError, DataError, NotFittedError

ROOT = Path(__file__).resolve().parents[2]


def _clicks(rows):
    return pd.DataFrame(rows, columns=["userID", "itemID", "timestamp"])


class FixedScorer:
    """Scores item j as ``table[last click][j]`` (a known-answer scorer)."""

    def __init__(self, items, table):
        self.item_ids_ = pd.Index(items)
        self.table = np.asarray(table, dtype=float)
        self.seen: list[list] = []

    def score_histories(self, histories):
        histories = nc.check_histories(histories)
        self.seen.extend(h.tolist() for h in histories)
        rows = self.item_ids_.get_indexer([h[-1] for h in histories])
        return self.table[rows]


def test_session_prefixes_are_every_position_after_the_first_in_time_order():
    test = _clicks(
        [(7, "b", 2.0), (7, "a", 1.0), (7, "c", 3.0), (3, "x", 0.0), (3, "y", 1.0), (9, "z", 0.0)]
    )
    p = nc.session_prefixes(test)
    assert [h.tolist() for h in p.histories] == [["a"], ["a", "b"], ["x"]]
    assert p.targets.tolist() == ["b", "c", "y"]
    assert p.sessions.tolist() == [7, 7, 3]
    assert p.positions.tolist() == [1, 2, 1]
    last = nc.session_prefixes(test, last_n=1)
    assert [h.tolist() for h in last.histories] == [["a"], ["b"], ["x"]]
    with pytest.raises(ConfigError, match="last_n"):
        nc.session_prefixes(test, last_n=0)


def test_target_ranks_tie_policies():
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1]])
    rng = np.random.default_rng(0)
    assert nc.target_ranks(scores, np.array([0]), "optimistic", rng).tolist() == [2]
    assert nc.target_ranks(scores, np.array([0]), "pessimistic", rng).tolist() == [4]
    draws = nc.target_ranks(
        np.repeat(scores, 3000, axis=0), np.zeros(3000, dtype=int), "random", rng
    )
    assert set(draws.tolist()) == {2, 3, 4}
    assert abs(draws.mean() - 3.0) < 0.1


def test_evaluate_next_click_known_answer():
    # after "a": b first, c second; after "b": c is third of three
    table = [[0.0, 3.0, 2.0], [2.0, 3.0, 1.0], [1.0, 1.0, 0.0]]
    scorer = FixedScorer(["a", "b", "c"], table)
    test = _clicks([(1, "a", 0.0), (1, "b", 1.0), (1, "c", 2.0), (2, "a", 0.0), (2, "c", 1.0)])
    result, ranks = nc.evaluate_next_click(scorer, test, k=2, return_ranks=True, batch_size=2)
    assert ranks["rank"].tolist() == [1, 3, 2]
    assert result == {
        "HR@2": pytest.approx(2 / 3),
        "MRR@2": pytest.approx((1 + 0 + 0.5) / 3),
        "n_prefixes": 3,
        "n_skipped": 0,
    }
    assert ranks["repeat"].tolist() == [False, False, False]
    nc.evaluate_next_click(scorer, test, k=2, last_n=1)
    assert scorer.seen[-3:] == [["a"], ["b"], ["a"]]


def test_evaluate_skips_unknown_targets_and_checks_arguments():
    scorer = FixedScorer(["a", "b"], [[0.0, 1.0], [1.0, 0.0]])
    test = _clicks([(1, "a", 0.0), (1, "b", 1.0), (1, "zz", 2.0)])
    assert nc.evaluate_next_click(scorer, test, k=1)["n_skipped"] == 1
    with pytest.raises(ConfigError, match="ties"):
        nc.evaluate_next_click(scorer, test, ties="mean")
    with pytest.raises(ConfigError, match="NextClickScorer"):
        nc.evaluate_next_click(object(), test)
    with pytest.raises(DataError, match="no test prefix"):
        nc.evaluate_next_click(scorer, _clicks([(1, "zz", 0.0), (1, "yy", 1.0)]))


def test_recency_weights_ignore_unknown_ids_and_weigh_the_last_known_click_heaviest():
    items = pd.Index([10, 20, 30])
    m = nc.recency_weights(
        items, [np.array([10, 20, 99, 30]), np.array([20, 20]), np.array([99])], 0.5
    )
    np.testing.assert_allclose(m.toarray(), [[0.25, 0.5, 1.0], [0.0, 1.5, 0.0], [0.0, 0.0, 0.0]])
    last = nc.recency_weights(items, [np.array([10, 20, 99])], 0.0)
    np.testing.assert_allclose(last.toarray(), [[0.0, 1.0, 0.0]])
    with pytest.raises(DataError, match="history 1"):
        nc.recency_weights(items, [np.array([10]), np.array([])], 0.5)


TRAIN = _clicks(
    [
        (1, "a", 0),
        (1, "b", 1),
        (2, "a", 0),
        (2, "b", 1),
        (2, "c", 2),
        (3, "c", 0),
        (3, "d", 1),
        (4, "a", 0),
        (4, "a", 1),
    ]
)


def test_item_knn_scores_by_the_cosine_of_session_vectors_to_the_last_click():
    knn = nc.SessionItemKNN(n_sims=10, lmbd=0.0).fit(TRAIN)
    assert isinstance(knn, nc.NextClickScorer)
    scores = knn.score_histories([np.array(["c", "a"]), np.array(["c", "zz"])])
    # sessions: a in {1,2,4}, b in {1,2}, c in {2,3}, d in {3}
    expected_a = [0.0, 2 / np.sqrt(6), 1 / np.sqrt(6), 0.0]
    expected_c = [1 / np.sqrt(6), 1 / 2, 0.0, 1 / np.sqrt(2)]
    np.testing.assert_allclose(scores, [expected_a, expected_c])
    shrunk = nc.SessionItemKNN(n_sims=10, lmbd=20.0).fit(TRAIN).score_histories([np.array(["a"])])
    np.testing.assert_allclose(shrunk[0, 1], 2 / (np.sqrt(6) + 20))
    top1 = nc.SessionItemKNN(n_sims=1, lmbd=0.0).fit(TRAIN).score_histories([np.array(["c"])])
    assert np.count_nonzero(top1) == 1 and top1[0, 3] > 0


def test_popularity_and_errors():
    pop = nc.SessionPopularity().fit(TRAIN)
    np.testing.assert_array_equal(
        pop.score_histories([np.array(["d"]), np.array(["zz"])]), [[4, 2, 2, 1], [4, 2, 2, 1]]
    )
    with pytest.raises(DataError, match="empty"):
        pop.score_histories([np.array([])])
    with pytest.raises(NotFittedError):
        nc.SessionItemKNN().score_histories([np.array(["a"])])
    with pytest.raises(ConfigError, match="n_sims"):
        nc.SessionItemKNN(n_sims=0)


def test_make_scorer_and_unknown_names():
    from recutils.models.retrieval import PDN

    assert isinstance(nc.make_scorer("itemknn", 1, {"n_sims": 5}), nc.SessionItemKNN)
    pdn = nc.make_scorer("pdn", 3, {"n_epochs": 2})
    assert (
        isinstance(pdn, PDN) and pdn.config.user_dim == 0 and pdn.config.n_epochs == 2
    )  # the sessions preset
    with pytest.raises(ConfigError, match="allowed"):
        nc.make_scorer("gru4rec", 1)
    with pytest.raises(ConfigError, match="allowed"):
        nc.next_click_split("movielens")


@pytest.mark.realdata
def test_benchmark_script_on_diginetica_writes_the_results(require_dataset, tmp_path, capsys):
    require_dataset("diginetica-sample-srgnn")
    sys.path.insert(0, str(ROOT / "tools" / "benchmarks"))
    try:
        import next_click as script
    finally:
        sys.path.pop(0)
    out = tmp_path / "r.csv"
    assert (
        script.main(
            [
                "--dataset",
                "diginetica",
                "--models",
                "popularity",
                "itemknn",
                "--seeds",
                "1",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    results = pd.read_csv(out)
    assert list(results.columns) == [
        "dataset",
        "model",
        "seed",
        "HR@20",
        "MRR@20",
        "HR@20_nonrepeat",
        "fit_s",
    ]
    assert results[["model", "seed"]].values.tolist() == [
        ["popularity", 1],
        ["popularity", 2],
        ["itemknn", 1],
        ["itemknn", 2],
    ]
    knn, pop = results.groupby("model")["HR@20"].mean()[["itemknn", "popularity"]]
    assert knn > pop
    assert "itemknn" in capsys.readouterr().out


@pytest.mark.realdata
def test_docs_example_prints_the_item_knn_figures(require_dataset, data_mirror, tmp_path):
    from tests._docsnippets import run_snippet

    require_dataset("diginetica-sample-srgnn")
    out = run_snippet(
        ROOT / "docs" / "session_retrieval.md",
        "next-click-itemknn",
        cwd=tmp_path,
        env={"RECUTILS_DATA_MIRROR": str(data_mirror)},
        timeout=120,
    ).stdout
    assert "'HR@20': 0.237" in out and "'n_prefixes': 291" in out


def test_committed_results_hold_three_seeds_and_the_bar():
    results = pd.read_csv(ROOT / "notebooks" / "06_benchmarks" / "results_next_click.csv")
    assert list(results.columns) == [
        "dataset",
        "model",
        "seed",
        "HR@20",
        "MRR@20",
        "HR@20_nonrepeat",
        "fit_s",
    ]
    assert (
        results.groupby(["dataset", "model"])["seed"].apply(lambda s: sorted(s) == [1, 2, 3]).all()
    )
    assert len(results) == 24  # 2 data sets x 4 models x 3 seeds
    means = results.groupby(["dataset", "model"])[["HR@20", "MRR@20"]].mean()
    for dataset in ("rsc15", "diginetica"):
        for model in ("comet_i2i", "pdn"):  # the bar: both beat item-KNN co-occurrence
            assert (means.loc[(dataset, model)] > means.loc[(dataset, "itemknn")]).all(), (
                dataset,
                model,
            )
        assert (means.loc[(dataset, "itemknn")] > means.loc[(dataset, "popularity")]).all()
    assert means.loc[("rsc15", "comet_i2i"), "HR@20"] == pytest.approx(0.6486, abs=1e-3)


def test_benchmark_script_parses_set_values_as_yaml_and_refuses_bad_ones(monkeypatch):
    sys.path.insert(0, str(ROOT / "tools" / "benchmarks"))
    try:
        import next_click as script
    finally:
        sys.path.pop(0)
    seen = {}

    def fake_run(dataset, models, seeds, *, validation, params):
        seen.update(params)
        return pd.DataFrame(
            {"dataset": [dataset], "model": models[:1], "seed": seeds[:1], "HR@20": [0.1]}
        )

    monkeypatch.setattr("recutils.benchmark.next_click.run_next_click_benchmark", fake_run)
    assert (
        script.main(
            [
                "--validation",
                "--models",
                "pdn",
                "--set",
                "pdn.learning_rate=1e-3",
                "pdn.trigger_units=[16, 8]",
                "pdn.n_epochs=3",
            ]
        )
        == 0
    )
    assert seen == {"pdn": {"learning_rate": 1e-3, "trigger_units": [16, 8], "n_epochs": 3}}
    with pytest.raises(SystemExit) as stop:
        script.main(["--validation", "--set", "learning_rate=0.1"])
    assert stop.value.code == 2
