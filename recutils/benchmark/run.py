"""Run a :class:`~recutils.benchmark.spec.BenchmarkSpec`: one row per model x protocol x seed.

(A model whose spec names ``protocols`` runs on those only.)

Every model goes through the contract only (``create_model`` / ``fit`` /
``recommend_k_items`` / ``predict``): no per-model code lives here.

For each protocol and seed the data is split once and shared by every model. Each run
records:

* ranking metrics at k on the test users' top-k lists (seen items removed):
  ``mean_average_precision`` (Microsoft Recommenders' ``map``), ``map@k``, ``ndcg@k``,
  ``precision@k``, ``recall@k``; beyond accuracy: ``catalog_coverage@k`` and ``novelty@k``;
* for models whose spec sets ``rating_metrics``: ``rmse``, ``mae``, ``rsquared``,
  ``exp_var`` of ``predict`` on the test pairs the model can score (test pairs of items or
  users unseen in training get no prediction; ``rating_pairs_scored`` is the share scored);
* ``fit_s`` (fit), ``recommend_s`` (top-k for every test user), ``predict_s`` (the test
  pairs), wall-clock seconds from :class:`recutils.utils.Timer`;
* ``peak_mem_mb``: with ``memory: tracemalloc`` the peak of memory allocated through
  Python's allocators during fit + scoring, above what was allocated before (numpy arrays
  included). Its limits: memory allocated by native libraries with their own allocator
  (torch tensors, OpenBLAS buffers, surprise/cornac C++ internals not held in numpy
  arrays) and by other processes (Spark's JVM) is not seen, so it is a lower bound;
  tracing also slows allocation-heavy Python code slightly (timings stay comparable
  between models of one run).

Per-user values of ``ndcg@k``, ``precision@k``, ``recall@k`` and ``mean_average_precision``
(:func:`recutils.evaluation.ranking_metrics_by_user`) are kept for paired tests.

Results can be **resumed**: given ``results_path`` (a CSV) rows already there for the same
model, dataset, protocol, seed, k and parameters are not recomputed, and each new run is
written as soon as it finishes, so a long run can be extended with models registered later.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import tracemalloc
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from recutils.benchmark.data import load_dataset, load_side_data
from recutils.benchmark.protocols import get_protocol
from recutils.benchmark.spec import BenchmarkSpec, ModelSpec, load_spec
from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_USER_COL,
)
from recutils.evaluation import evaluate, ranking_metrics_by_user
from recutils.exceptions import ConfigError
from recutils.utils.progress import progress_bar
from recutils.utils.timer import Timer

logger = logging.getLogger(__name__)

#: Columns that identify a run (with ``params``).
KEY_COLUMNS = ["model", "dataset", "protocol", "seed", "k"]
RATING_METRICS = ["rmse", "mae", "rsquared", "exp_var"]
TIMING_COLUMNS = ["fit_s", "recommend_s", "predict_s", "peak_mem_mb"]
WARMUP_ROWS = 2000


def ranking_metric_names(k: int) -> list[str]:
    """Result columns of the ranking metrics at ``k``."""
    return ["mean_average_precision", f"map@{k}", f"ndcg@{k}", f"precision@{k}", f"recall@{k}"]


def beyond_metric_names(k: int) -> list[str]:
    """Result columns of the beyond-accuracy metrics at ``k``."""
    return [f"catalog_coverage@{k}", f"novelty@{k}"]


def per_user_metric_names(k: int) -> list[str]:
    """Columns of the per-user frame (the metrics paired tests can use)."""
    return [f"ndcg@{k}", f"precision@{k}", f"recall@{k}", "mean_average_precision"]


def metric_columns(k: int) -> list[str]:
    """Every metric column of the results, in order."""
    return ranking_metric_names(k) + RATING_METRICS + beyond_metric_names(k)


def result_columns(k: int) -> list[str]:
    """Every column of the results frame, in order."""
    return (
        ["model", "registry", "dataset", "protocol", "seed", "k"]
        + metric_columns(k)
        + TIMING_COLUMNS
        + [
            "memory_method",
            "n_train",
            "n_test",
            "n_test_users",
            "n_users_ranked",
            "rating_pairs_scored",
            "params",
        ]
    )


_TEXT_COLUMNS = ("model", "registry", "dataset", "protocol", "memory_method", "params")


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Numbers as numbers (an empty frame grown by concatenation holds objects)."""
    df = df.copy()
    for col in df.columns:
        if col == DEFAULT_USER_COL:
            continue
        if col in _TEXT_COLUMNS:
            df[col] = df[col].astype(str)
            continue
        df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in ("seed", "k"):
        if col in df.columns:
            df[col] = df[col].astype("int64")
    return df


def _stored_keys(results: pd.DataFrame) -> list[tuple[str, ...]]:
    """The identity of each stored run: its key columns and its parameters.

    The parameters are compared as JSON values, not as text: rows written by an earlier
    version with the same keys in another order are the same runs.
    """

    def canonical(text: str) -> str:
        try:
            return json.dumps(json.loads(text), sort_keys=True, default=str)
        except ValueError:
            return text

    return [
        (*r[:-1], canonical(r[-1]))
        for r in results[KEY_COLUMNS + ["params"]].astype(str).itertuples(index=False)
    ]


def _params_key(m: ModelSpec) -> str:
    key: dict[str, Any] = {"model": m.model, "params": m.params, "rating_metrics": m.rating_metrics}
    if m.side_data is not None:  # only when set, so the keys of earlier results hold
        key["side_data"] = m.side_data
    return json.dumps(key, sort_keys=True, default=str)


def _seed_param(m: ModelSpec) -> str | None:
    if m.seed_param != "auto":
        return m.seed_param
    from recutils.models.registry import get_model_class

    cls = get_model_class(m.model)
    config_class = getattr(cls, "config_class", None)
    if config_class is not None and hasattr(config_class, "field_names"):
        return "seed" if "seed" in config_class.field_names() else None
    return "seed" if "seed" in inspect.signature(cls).parameters else None


@contextmanager
def _peak_memory(method: str) -> Iterator[dict[str, float]]:
    out = {"peak_mem_mb": float("nan")}
    if method != "tracemalloc":
        yield out
        return
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield out
    finally:
        out["peak_mem_mb"] = max(0.0, tracemalloc.get_traced_memory()[1] - base) / 2**20
        if started:
            tracemalloc.stop()


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write atomically (a temporary file renamed over the target)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    df.to_csv(tmp, index=False, compression="gzip" if path.suffix == ".gz" else None)
    os.replace(tmp, path)


def default_per_user_path(results_path: str | Path) -> Path:
    """Where the per-user values of ``results_path`` live: ``<stem>_per_user.csv.gz`` beside it."""
    p = Path(results_path)
    stem = p.name[:-4] if p.name.endswith(".csv") else p.stem
    return p.with_name(f"{stem}_per_user.csv.gz")


def run_one(
    m: ModelSpec,
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    seed: int,
    k: int,
    memory: str = "tracemalloc",
    fit_kwargs: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fit and evaluate one model on one split (``fit(train, **fit_kwargs)``: the side data).

    Returns:
        (metrics and timings of the run, per-user metric values of the test users).
    """
    from recutils.models.registry import create_model

    params = dict(m.params)
    seed_param = _seed_param(m)
    if seed_param is not None:
        params[seed_param] = seed
    side = dict(fit_kwargs or {})
    if m.warmup:
        create_model(m.model, **params).fit(train.head(WARMUP_ROWS), **side)
    users = pd.DataFrame({DEFAULT_USER_COL: test[DEFAULT_USER_COL].unique()})
    row: dict[str, Any] = {}
    with _peak_memory(memory) as mem:
        model = create_model(m.model, **params)
        with Timer() as t_fit:
            model.fit(train, **side)
        with Timer() as t_rec:
            top = model.recommend_k_items(users, top_k=k, remove_seen=True)
        pairs = None
        if m.rating_metrics:
            with Timer() as t_pred:
                pairs = model.predict(test[[DEFAULT_USER_COL, DEFAULT_ITEM_COL]])
            row["predict_s"] = t_pred.interval
    row["fit_s"] = t_fit.interval
    row["recommend_s"] = t_rec.interval
    row["peak_mem_mb"] = mem["peak_mem_mb"]
    top = top[[DEFAULT_USER_COL, DEFAULT_ITEM_COL, DEFAULT_PREDICTION_COL]]
    ranking = ranking_metric_names(k)
    names = [
        "mean_average_precision",
        "map",
        "ndcg",
        "precision",
        "recall",
        "catalog_coverage",
        "novelty",
    ]
    values = evaluate(test, top, names, k=k, train_df=train)
    for col, name in zip(ranking + beyond_metric_names(k), names):
        row[col] = values[name]
    row["n_users_ranked"] = int(top[DEFAULT_USER_COL].nunique())
    if pairs is not None:
        pred = pairs[DEFAULT_PREDICTION_COL].to_numpy(dtype=np.float64)
        ok = np.isfinite(pred)
        row["rating_pairs_scored"] = float(ok.mean()) if ok.size else float("nan")
        truth = test[[DEFAULT_USER_COL, DEFAULT_ITEM_COL, DEFAULT_RATING_COL]][ok]
        scored = pairs[ok]
        row.update(evaluate(truth, scored, RATING_METRICS))
    per_user = ranking_metrics_by_user(
        test,
        top,
        [f"ndcg@{k}", f"precision@{k}", f"recall@{k}", f"mean_average_precision@{k}"],
        k=k,
    )
    per_user = per_user.rename(columns={f"mean_average_precision@{k}": "mean_average_precision"})
    return row, per_user.drop(columns="has_predictions")


@overload
def run_benchmark(
    spec: Any,
    *,
    data: pd.DataFrame | None = ...,
    results_path: str | Path | None = ...,
    per_user_path: str | Path | None = ...,
    progress: bool = ...,
    on_error: str = ...,
    return_per_user: Literal[False] = ...,
) -> pd.DataFrame: ...


@overload
def run_benchmark(
    spec: Any,
    *,
    data: pd.DataFrame | None = ...,
    results_path: str | Path | None = ...,
    per_user_path: str | Path | None = ...,
    progress: bool = ...,
    on_error: str = ...,
    return_per_user: Literal[True],
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


def run_benchmark(
    spec: BenchmarkSpec | str | Path | dict,
    *,
    data: pd.DataFrame | None = None,
    results_path: str | Path | None = None,
    per_user_path: str | Path | None = None,
    progress: bool = True,
    on_error: str = "raise",
    return_per_user: bool = False,
):
    """Run every model of ``spec`` on every protocol and seed.

    Args:
        spec: A :class:`BenchmarkSpec`, a built-in spec name, a YAML file or text, or a mapping.
        data: Ratings to use instead of loading ``spec.dataset`` (columns userID, itemID,
            rating, timestamp).
        results_path: CSV of results to resume from and write to (after each run).
        per_user_path: CSV (``.gz`` compressed) of the per-user values; default
            :func:`default_per_user_path` of ``results_path``.
        progress: Show a tqdm bar over the runs.
        on_error: ``"raise"`` or ``"skip"`` (log the error, record nothing for that run,
            go on with the next).
        return_per_user: Also return the per-user frame.

    Returns:
        The results of the spec (one row per model x protocol x seed, columns
        :func:`result_columns`), resumed rows included; with ``return_per_user`` a pair
        (results, per-user values with model, dataset, protocol, seed, userID and
        :func:`per_user_metric_names`).

    Raises:
        ConfigError: an invalid spec, an unknown model or ``on_error`` value.
    """
    spec = spec if isinstance(spec, BenchmarkSpec) else load_spec(spec)
    if on_error not in ("raise", "skip"):
        raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    from recutils.models.registry import get_model_class

    for m in spec.models:  # unknown registry names fail before any work
        get_model_class(m.model)
    k = spec.k
    columns = result_columns(k)
    results_path = Path(results_path) if results_path is not None else None
    if per_user_path is None and results_path is not None:
        per_user_path = default_per_user_path(results_path)
    per_user_path = Path(per_user_path) if per_user_path is not None else None
    results = (
        pd.read_csv(results_path)
        if results_path is not None and results_path.exists()
        else pd.DataFrame(columns=columns)
    )
    per_user = (
        pd.read_csv(per_user_path)
        if per_user_path is not None and per_user_path.exists()
        else pd.DataFrame(columns=KEY_COLUMNS[:4] + [DEFAULT_USER_COL] + per_user_metric_names(k))
    )
    done = set(_stored_keys(results))

    def key(m: ModelSpec, protocol: str, seed: int) -> tuple[str, ...]:
        return (m.name, spec.dataset_label, protocol, str(seed), str(k), _params_key(m))

    todo = [(m, p, s) for m, p, s in spec.runs() if key(m, p, s) not in done]
    logger.info("%d runs to do, %d already in the results", len(todo), len(spec.runs()) - len(todo))
    if todo and data is None:
        data = load_dataset(spec.dataset, spec.data_size)
    splits: dict[tuple[str, int], tuple[pd.DataFrame, pd.DataFrame]] = {}
    side_frames: dict[str, dict[str, pd.DataFrame]] = {}
    bar = progress_bar(todo, desc="benchmark", enabled=progress)
    for m, protocol, seed in bar:
        bar.set_postfix_str(f"{m.name} {protocol} seed={seed}")
        split_seed = seed if get_protocol(protocol).seeded else 0
        if (protocol, split_seed) not in splits:
            splits[(protocol, split_seed)] = get_protocol(protocol).split(data, seed)
        train, test = splits[(protocol, split_seed)]
        side = None
        if m.side_data is not None:
            if m.side_data not in side_frames:
                side_frames[m.side_data] = load_side_data(spec.dataset, m.side_data, spec.data_size)
            side = side_frames[m.side_data]
        try:
            row, users = run_one(
                m, train, test, seed=seed, k=k, memory=spec.memory, fit_kwargs=side
            )
        except Exception:
            if on_error == "raise":
                raise
            logger.exception("%s on %s seed %d failed; skipped", m.name, protocol, seed)
            continue
        ident = {
            "model": m.name,
            "dataset": spec.dataset_label,
            "protocol": protocol,
            "seed": seed,
            "k": k,
        }
        row.update(
            ident,
            registry=m.model,
            memory_method=spec.memory,
            n_train=len(train),
            n_test=len(test),
            n_test_users=int(test[DEFAULT_USER_COL].nunique()),
            params=_params_key(m),
        )
        stale = (
            (results["model"] == m.name)
            & (results["dataset"] == spec.dataset_label)
            & (results["protocol"] == protocol)
            & (results["seed"].astype(int) == seed)
            & (results["k"].astype(int) == k)
        )
        results = pd.concat(
            [results[~stale], pd.DataFrame([row]).reindex(columns=columns)], ignore_index=True
        )
        users = users.assign(**{c: ident[c] for c in KEY_COLUMNS[:4]})
        users = users[KEY_COLUMNS[:4] + [DEFAULT_USER_COL] + per_user_metric_names(k)]
        stale_u = (
            (per_user["model"] == m.name)
            & (per_user["dataset"] == spec.dataset_label)
            & (per_user["protocol"] == protocol)
            & (per_user["seed"].astype(int) == seed)
        )
        per_user = (
            pd.concat([per_user[~stale_u], users], ignore_index=True) if len(per_user) else users
        )
        logger.info(
            "%s %s seed %d: ndcg@%d %.4f, fit %.1f s",
            m.name,
            protocol,
            seed,
            k,
            row[f"ndcg@{k}"],
            row["fit_s"],
        )
        if results_path is not None:
            _write_csv(results, results_path)
        if per_user_path is not None:
            _write_csv(per_user.round(6), per_user_path)

    keys = {key(m, p, s) for m, p, s in spec.runs()}
    mine = results[[k in keys for k in _stored_keys(results)]]
    rank = {
        "model": {m.name: i for i, m in enumerate(spec.models)},
        "protocol": {p: i for i, p in enumerate(spec.protocols)},
    }
    mine = mine.sort_values(
        ["protocol", "model", "seed"],
        kind="stable",
        key=lambda s: s.map(rank[s.name]) if s.name in rank else s,
    ).reset_index(drop=True)
    mine = _typed(mine)
    if not return_per_user:
        return mine
    ids = set(zip(mine["model"], mine["dataset"], mine["protocol"], mine["seed"].astype(int)))
    sel = [
        t in ids
        for t in zip(
            per_user["model"],
            per_user["dataset"],
            per_user["protocol"],
            per_user["seed"].astype(int),
        )
    ]
    return mine, _typed(per_user[sel].reset_index(drop=True))


__all__ = [
    "run_benchmark",
    "run_one",
    "result_columns",
    "metric_columns",
    "per_user_metric_names",
    "ranking_metric_names",
    "beyond_metric_names",
    "default_per_user_path",
    "KEY_COLUMNS",
    "RATING_METRICS",
    "TIMING_COLUMNS",
]
