"""The evaluation packages import without cycles; every public metric function rejects
unknown keywords."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import recutils
import recutils.evaluation as ev
from recutils.exceptions import ConfigError, RecUtilsError

ROOT = Path(recutils.__file__).parent
PACKAGES = ("recutils.evaluation", "recutils.spark.evaluation")


def _module_files() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        folder = ROOT.parent.joinpath(*pkg.split("."))
        for path in folder.glob("*.py"):
            out[pkg if path.stem == "__init__" else f"{pkg}.{path.stem}"] = path
    return out


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``module`` imports anywhere (functions included)."""
    is_pkg = path.stem == "__init__"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.add(sub if sub in known else source)
    return {m for m in found if m in known and m != module}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_in_the_evaluation_packages() -> None:
    """Bug: ranking.py imported the registry (inside ranking_metrics_by_user), which
    imports ranking.py, and evaluate.py imported both: a module cycle."""
    files = _module_files()
    known = set(files)
    graph = {m: _imports(m, p, known) for m, p in files.items()}
    # package __init__ files re-export their modules; a module importing its own
    # package's __init__ would close a cycle, which is what this test looks for
    assert "recutils.evaluation.ranking" in graph and "recutils.spark.evaluation.evaluate" in graph
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


# ----------------------------------------------------------------------- keywords
@pytest.fixture
def frames():
    truth = pd.DataFrame(
        {"userID": [1, 1, 2, 2], "itemID": [1, 2, 1, 3], "rating": [5.0, 4.0, 3.0, 1.0]}
    )
    pred = pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2, 2],
            "itemID": [1, 2, 3, 1, 2, 3],
            "prediction": [0.9, 0.1, 0.5, 0.3, 0.2, 0.8],
        }
    )
    return truth, pred


def test_precision_at_k_with_top_k_raises(frames) -> None:
    """Bug: precision_at_k(truth, pred, top_k=5) silently computed precision@10."""
    truth, pred = frames
    with pytest.raises(ev.UnknownKeywordError, match=r"top_k") as info:
        ev.precision_at_k(truth, pred, top_k=5)
    assert "'k'" in str(info.value) and "threshold" in str(info.value)  # the accepted ones
    assert isinstance(info.value, TypeError) and isinstance(info.value, RecUtilsError)
    assert isinstance(info.value, ConfigError)


def test_precision_at_k_known_answer(frames) -> None:
    truth, pred = frames
    # top 1: item 1 for user 1 and item 3 for user 2, both relevant -> 1.0;
    # top 2: user 1 gets items 1, 3 (one hit), user 2 items 3, 1 (two hits) -> (1 + 2) / 2 / 2
    assert ev.precision_at_k(truth, pred, k=1) == 1.0
    assert ev.precision_at_k(truth, pred, k=2) == 0.75


def _public_metric_functions():
    names = [
        n
        for n in ev.__all__
        if callable(getattr(ev, n))
        and not isinstance(getattr(ev, n), type)
        and n not in ("get_metric", "known_metrics", "parse_metric")
    ]
    return names


@pytest.mark.parametrize("name", _public_metric_functions())
def test_every_public_metric_function_rejects_unknown_keywords(name) -> None:
    func = getattr(ev, name)
    with pytest.raises(ev.UnknownKeywordError, match=r"\['bogus'\]"):
        func(None, None, bogus=1)  # checked before anything is read
    assert "bogus" not in inspect.signature(func).parameters
    assert func.__name__ == name and func.__doc__


@pytest.mark.parametrize(
    "name",
    [
        "precision_at_k",
        "recall_at_k",
        "map_at_k",
        "mean_average_precision",
        "r_precision_at_k",
        "hit_ratio_at_k",
        "mrr_at_k",
        "ndcg_at_k",
    ],
)
def test_ranking_functions_accept_microsoft_keyword_set(frames, name) -> None:
    """One keyword set, col_rating included, goes to every ranking metric (as in
    Microsoft Recommenders' notebooks)."""
    truth, pred = frames
    kwargs = dict(
        col_user="userID",
        col_item="itemID",
        col_rating="rating",
        col_prediction="prediction",
        relevancy_method="top_k",
        k=2,
        threshold=10,
    )
    func = getattr(ev, name)
    assert func(truth, pred, **kwargs) == func(truth, pred, k=2)


def test_factory_made_functions_keep_their_signature_and_pickle() -> None:
    import pickle

    params = list(inspect.signature(ev.precision_at_k).parameters)
    assert params == [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_prediction",
        "relevancy_method",
        "k",
        "threshold",
        "col_rating",
    ]
    assert list(inspect.signature(ev.rmse).parameters) == [
        "rating_true",
        "rating_pred",
        "col_user",
        "col_item",
        "col_rating",
        "col_prediction",
    ]
    assert ev.precision_at_k.__module__ == "recutils.evaluation.ranking"
    assert pickle.loads(pickle.dumps(ev.precision_at_k)) is ev.precision_at_k
    assert pickle.loads(pickle.dumps(ev.rmse)) is ev.rmse
    assert "Precision at k" in ev.precision_at_k.__doc__ and "top_k=" in ev.precision_at_k.__doc__


def test_positional_arguments_keep_their_order(frames) -> None:
    truth, pred = frames
    # rating_true, rating_pred, col_user, col_item, col_prediction, relevancy_method, k
    assert ev.precision_at_k(truth, pred, "userID", "itemID", "prediction", "top_k", 1) == 1.0
    assert ev.rmse(truth, pred, "userID", "itemID", "rating", "prediction") == ev.rmse(truth, pred)
    assert np.isfinite(ev.rmse(truth, pred))
