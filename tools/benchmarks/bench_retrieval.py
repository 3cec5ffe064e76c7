"""Speed figures of two-tower retrieval: training, the item indexes, and serving users.

    RECUTILS_DATA_MIRROR=../shared/data python tools/benchmarks/bench_retrieval.py --threads 1

Data: MovieLens 100k with its user and item features (``movielens_ctr_frame``, read through
``RECUTILS_DATA_MIRROR``), or without the mirror (``--data auto``) a synthetic frame of the
same shape (:func:`recutils.datasets.synthetic.make_interactions`: 943 users, 1,682 items,
100,000 rows with age, gender, occupation, genres and year). Every row is a positive.

Printed, as one table, all measured in this one run on this machine:

* ``train``: samples/s of the DSSM preset (``create_model("dssm")``, validation off) at
  ``--batch-size`` for ``in_batch_softmax`` and ``sampled_softmax`` (``--negatives`` drawn
  per batch). One fit of ``1 + --repeat`` epochs per loss; the first epoch is a warm-up
  and the best of the other epochs counts. Epoch seconds come from the trainer's history
  (the training loop only: no feature encoding, no embedding of the catalogue).
* ``index items``: build seconds, queries/s of one search of all queries (best of
  ``--repeat``, after a warm-up search) and recall@k against brute force of each index kind
  over the trained in-batch model's item embeddings, its users' embeddings as queries
  (the model's metric: cosine for the preset).
* ``index mixture``: the same over ``--index-n`` vectors of
  :func:`recutils.retrieval.gaussian_mixture_vectors` (64-d, inner product) with
  ``--queries`` further vectors of the mixture as queries.
* ``recommend``: users/s of ``recommend_k_items(every user, top_k=k, remove_seen=True)``
  against the same through an index (``model.build_index(--serve-kind)``, then
  ``index.search(model.user_embeddings(users), k, exclude=model.seen_)``: embeddings and
  ids, no DataFrame), best of ``--repeat``, and the index path's recall@k against the exact
  path's items.

``vs exact`` is a row's rate over its section's exact row (brute force, or
``recommend_k_items``). Every library thread pool (torch, BLAS, OpenMP/faiss) is limited
to ``--threads``. Needs torch and faiss: ``pip install "recutils[torch,retrieval]"``.

``--service`` measures the HTTP service instead (:func:`service_speed`, through
``tools/loadtest/run_loadtest.py``): DSSM and DeepFM trained for ``--service-epochs`` on the
same data, each scenario a ``recutils serve`` process (``--num-threads 1``) loaded by
locust for ``--service-duration`` seconds (``--service-users`` clients at
``--service-rate`` requests/s each): ``POST /v1/retrieve`` through an HNSW and through the
exact index, and ``POST /v1/two-stage`` (HNSW, ``--service-candidates`` candidates ranked by
DeepFM); requests/s and p50/p95/p99 latency. Needs the ``serving`` extra and locust.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recutils.exceptions import DataError, RecUtilsError

#: The two-tower losses timed by default.
LOSSES = ("in_batch_softmax", "sampled_softmax")
#: Index kinds timed by default (brute force is always timed first: the reference).
INDEX_KINDS = ("flat", "ivf", "hnsw")
#: MovieLens 100k's shape, for the synthetic stand-in.
ML100K_SHAPE = {"n_users": 943, "n_items": 1682, "n_interactions": 100_000}
_USER_FEATURES = ["age", "gender", "occupation"]
_ITEM_FEATURES = ["genres", "year"]


def load_frame(
    data: str = "auto",
    *,
    seed: int = 42,
    n_users: int = ML100K_SHAPE["n_users"],
    n_items: int = ML100K_SHAPE["n_items"],
    n_interactions: int = ML100K_SHAPE["n_interactions"],
) -> tuple[pd.DataFrame, str]:
    """The training frame and a one-line description of it.

    Args:
        data: ``movielens`` (MovieLens 100k with features), ``synthetic`` (a generated frame
            with the same columns) or ``auto`` (MovieLens when ``RECUTILS_DATA_MIRROR`` is
            set, else synthetic).
        seed: Seed of the synthetic frame.
        n_users, n_items, n_interactions: The synthetic frame's size (default: MovieLens 100k's).

    Raises:
        DataError: an unknown ``data``.
    """
    if data not in ("auto", "movielens", "synthetic"):
        raise DataError(f"data must be 'auto', 'movielens' or 'synthetic', got {data!r}.")
    if data == "movielens" or (data == "auto" and os.environ.get("RECUTILS_DATA_MIRROR")):
        from recutils.datasets.movielens_features import movielens_ctr_frame

        frame = movielens_ctr_frame("100k")
        what = "MovieLens 100k"
    else:
        from recutils.datasets.synthetic import make_interactions

        ratings, items, users = make_interactions(n_users, n_items, n_interactions, seed=seed)
        frame = ratings.merge(
            users[[DEFAULT_USER_COL, *_USER_FEATURES]], on=DEFAULT_USER_COL, how="left"
        ).merge(items[[DEFAULT_ITEM_COL, *_ITEM_FEATURES]], on=DEFAULT_ITEM_COL, how="left")
        what = "synthetic (make_interactions)"
    return frame, (
        f"{what}: {len(frame):,} rows, {frame[DEFAULT_USER_COL].nunique():,} users, "
        f"{frame[DEFAULT_ITEM_COL].nunique():,} items"
    )


def training_speed(
    frame: pd.DataFrame,
    loss: str,
    *,
    batch_size: int = 1024,
    negatives: int = 1024,
    repeat: int = 3,
    threads: int = 1,
    seed: int = 42,
) -> tuple[dict[str, Any], Any]:
    """Fit the DSSM preset for ``1 + repeat`` epochs; samples/s of its best epoch after the first.

    Returns:
        ``(row, model)``: the table row (``section``, ``case``, ``rate``, ``unit``, ``epoch s``)
        and the fitted model.
    """
    from recutils.models import create_model

    match: dict[str, Any] = {"loss": loss}
    if loss == "sampled_softmax":
        match["num_negatives"] = negatives
    model = create_model(
        "dssm",
        seed=seed,
        model_config={"model_params": {"match": match}},
        train={
            "epochs": 1 + repeat,
            "batch_size": batch_size,
            "num_threads": threads,
            "progress": False,
            "early_stopping_metric": None,
            "validation_fraction": 0.0,
        },
    )
    model.fit(frame)
    seconds = float(np.diff(model.history_["seconds"].to_numpy()).min())  # epochs 2 .. 1 + repeat
    case = f"{loss} (batch {batch_size}" + (
        f", {negatives} negatives)" if "num_negatives" in match else ")"
    )
    return {
        "section": "train",
        "case": case,
        "build s": None,
        "rate": len(frame) / seconds,
        "unit": "samples/s",
        "recall": None,
        "epoch s": seconds,
    }, model


def _best_seconds(fn: Any, repeat: int) -> tuple[Any, float]:
    """The last result of ``repeat`` calls of ``fn`` and the best wall-clock seconds of one call."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def index_speed(
    vectors: np.ndarray,
    queries: np.ndarray,
    *,
    k: int = 10,
    metric: str = "ip",
    kinds: Sequence[str] = INDEX_KINDS,
    repeat: int = 3,
    section: str = "index",
) -> list[dict[str, Any]]:
    """Build seconds, queries/s and recall@k against brute force of brute force and each faiss kind.

    Returns:
        One table row per kind, brute force first (recall 1 by definition).
    """
    from recutils.retrieval import BruteForceIndex, FaissIndex, recall_at_k

    ids = np.arange(len(vectors))
    rows, exact = [], None
    for kind in ("brute_force", *kinds):
        index = BruteForceIndex(metric) if kind == "brute_force" else FaissIndex(kind, metric)
        start = time.perf_counter()
        index.build(vectors, ids)
        built = time.perf_counter() - start
        index.search(queries[:10], k)  # warm-up: thread pools, first touch of the index's memory
        (found, _), seconds = _best_seconds(lambda: index.search(queries, k), repeat)  # noqa: B023
        exact = found if exact is None else exact
        rows.append(
            {
                "section": section,
                "case": f"{kind} ({len(vectors):,} x {vectors.shape[1]})",
                "build s": built,
                "rate": len(queries) / seconds,
                "unit": "queries/s",
                "recall": recall_at_k(found, exact, k),
            }
        )
    return rows


def item_index_speed(
    model: Any, *, k: int = 10, kinds: Sequence[str] = INDEX_KINDS, repeat: int = 3
) -> list[dict[str, Any]]:
    """:func:`index_speed` over a two-tower model's item embeddings, its users as queries."""
    users = pd.DataFrame({model.col_user: np.asarray(model.user_ids_)})
    metric = (
        "cosine" if model.config.model_config.model_params.match.similarity == "cosine" else "ip"
    )
    return index_speed(
        model.item_vectors_,
        model.user_embeddings(users),
        k=k,
        metric=metric,
        kinds=kinds,
        repeat=repeat,
        section="index items",
    )


def recommend_speed(
    model: Any, *, k: int = 10, kind: str = "hnsw", repeat: int = 3
) -> list[dict[str, Any]]:
    """Users/s of ``recommend_k_items`` for every user against the same through an index.

    Returns:
        Two table rows: the exact path, then the index path (with its build seconds and its
        recall@k against the exact path's items).

    Raises:
        DataError: a user with fewer than ``k`` unseen items.
    """
    from recutils.retrieval import recall_at_k

    user_ids = np.asarray(model.user_ids_)
    users = pd.DataFrame({model.col_user: user_ids})
    top, exact_s = _best_seconds(
        lambda: model.recommend_k_items(users, top_k=k, remove_seen=True), repeat
    )
    if len(top) != k * len(user_ids):
        raise DataError(
            f"recommend_k_items returned {len(top)} rows for {len(user_ids)} users at k={k}: "
            "some user has fewer than k unseen items; lower k."
        )
    position = pd.Index(user_ids).get_indexer(top[model.col_user])
    order = np.lexsort((top[model.col_rank].to_numpy(), position))
    exact_ids = top[model.col_item].to_numpy()[order].reshape(len(user_ids), k)
    start = time.perf_counter()
    index = model.build_index(kind)
    built = time.perf_counter() - start
    (found, _), index_s = _best_seconds(
        lambda: index.search(model.user_embeddings(users), k, exclude=model.seen_), repeat
    )
    return [
        {
            "section": "recommend",
            "case": f"recommend_k_items ({len(user_ids):,} users)",
            "build s": None,
            "rate": len(user_ids) / exact_s,
            "unit": "users/s",
            "recall": 1.0,
        },
        {
            "section": "recommend",
            "case": f"{kind} index search",
            "build s": built,
            "rate": len(user_ids) / index_s,
            "unit": "users/s",
            "recall": recall_at_k(found, exact_ids, k),
        },
    ]


def _ratio(value: float) -> str:
    return f"{value:.1f}x" if value >= 1 else f"{value:.2g}x"


def format_table(rows: Sequence[dict[str, Any]], k: int) -> str:
    """The rows as one fixed-width table; ``vs exact``: the rate over the section's first row's."""
    head = (
        f"{'section':<14} {'case':<46} {'build s':>8} {'rate':>12} {'unit':<10} "
        f"{'recall@' + str(k):>10} {'vs exact':>9}"
    )
    lines, reference = [head, "-" * len(head)], {}
    for row in rows:
        section = row["section"]
        exact = section != "train" and section not in reference
        if section != "train":
            reference.setdefault(section, row["rate"])
        built = "-" if row["build s"] is None else f"{row['build s']:.2f}"
        recall = "-" if row["recall"] is None else f"{row['recall']:.4f}"
        ratio = (
            "-"
            if section == "train"
            else _ratio(1.0 if exact else row["rate"] / reference[section])
        )
        lines.append(
            f"{section:<14} {row['case']:<46} {built:>8} {row['rate']:>12,.0f} {row['unit']:<10} "
            f"{recall:>10} {ratio:>9}"
        )
    return "\n".join(lines)


def _loadtest() -> Any:
    """``tools/loadtest/run_loadtest.py`` as a module."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "run_loadtest", Path(__file__).resolve().parents[1] / "loadtest" / "run_loadtest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def service_speed(
    data: str = "auto",
    *,
    epochs: int = 3,
    duration: int = 20,
    users: int = 20,
    rate: float = 10.0,
    k: int = 10,
    candidates: int = 100,
    threads: int = 1,
    workdir: str | None = None,
    scenarios: Sequence[str] | None = None,
) -> dict[str, dict[str, float]]:
    """Load-test figures of the service's retrieval routes (see the module docstring).

    Args:
        data: ``movielens`` / ``auto`` (MovieLens 100k; the synthetic stand-in without the
            mirror), ``synthetic``, or a load-test size such as ``mock5000``.
        epochs: Training epochs of DSSM and DeepFM.
        duration, users, rate: Seconds per scenario, locust clients, requests/s per client.
        k, candidates: Items answered; candidates ranked by the two-stage route.
        threads: Torch threads of the training.
        workdir: Folder of the artifacts and logs (default: a temporary one).
        scenarios: Load-test scenarios (default: ``retrieve-hnsw``, ``retrieve-brute``,
            ``two-stage``).

    Returns:
        Scenario -> ``requests``, ``failures``, ``requests_per_s``, ``p50_ms``, ``p95_ms``,
        ``p99_ms``, ``max_ms``.

    Raises:
        DataError: the load test failed (a failed request, or the runner's error).
    """
    import json
    import tempfile
    from pathlib import Path

    loadtest = _loadtest()
    size = {
        "auto": "100k" if os.environ.get("RECUTILS_DATA_MIRROR") else "mock100000",
        "movielens": "100k",
        "synthetic": "mock100000",
    }.get(data, data)
    folder = Path(workdir or tempfile.mkdtemp(prefix="recutils-bench-service-"))
    out = folder / "service.json"
    status = loadtest.main(
        [
            "--data",
            size,
            "--epochs",
            str(epochs),
            "--duration",
            str(duration),
            "--users",
            str(users),
            "--rate",
            str(rate),
            "--top-k",
            str(k),
            "--candidates",
            str(candidates),
            "--threads",
            str(threads),
            "--scenarios",
            ",".join(scenarios or loadtest.RETRIEVAL_SCENARIOS),
            "--workdir",
            str(folder / "work"),
            "--json",
            str(out),
        ]
    )
    if not out.exists():
        raise DataError(f"the load test wrote no figures (exit status {status}).")
    results = json.loads(out.read_text())
    if status != 0:
        raise DataError(f"the load test had failed requests: {results}")
    return results


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {load}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (2 with one ``error:`` line on a bad input)."""
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data",
        default="auto",
        choices=("auto", "movielens", "synthetic"),
        help="training frame (auto: MovieLens 100k when RECUTILS_DATA_MIRROR is set)",
    )
    p.add_argument("--losses", nargs="+", default=list(LOSSES), choices=LOSSES, help="losses timed")
    p.add_argument("--batch-size", type=int, default=1024, help="training batch size")
    p.add_argument(
        "--negatives", type=int, default=1024, help="sampled_softmax's negatives per batch"
    )
    p.add_argument(
        "--kinds",
        nargs="*",
        default=list(INDEX_KINDS),
        choices=INDEX_KINDS,
        help="faiss index kinds timed against brute force",
    )
    p.add_argument("--index-n", type=int, default=100_000, help="mixture vectors indexed")
    p.add_argument("--queries", type=int, default=1000, help="mixture query vectors")
    p.add_argument(
        "--serve-kind", default="hnsw", choices=INDEX_KINDS, help="index of the recommend rows"
    )
    p.add_argument("--k", type=int, default=10, help="items per user / neighbours per query")
    p.add_argument("--repeat", type=int, default=3, help="timed epochs / searches (best is kept)")
    p.add_argument("--threads", type=int, default=1, help="threads of torch, BLAS and faiss")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--service",
        action="store_true",
        help="measure the HTTP service's retrieval routes instead (load test)",
    )
    p.add_argument("--service-epochs", type=int, default=3, help="epochs of DSSM and DeepFM")
    p.add_argument("--service-duration", type=int, default=20, help="seconds per scenario")
    p.add_argument("--service-users", type=int, default=20, help="concurrent locust clients")
    p.add_argument("--service-rate", type=float, default=10.0, help="requests/s per client")
    p.add_argument("--service-candidates", type=int, default=100, help="two-stage candidates")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.threads < 1:
        p.error("--repeat and --threads must be at least 1")
    if args.service:
        print(f"machine: {_machine()}; threads {args.threads}, k {args.k}", flush=True)
        started = time.perf_counter()
        try:
            results = service_speed(
                args.data,
                epochs=args.service_epochs,
                duration=args.service_duration,
                users=args.service_users,
                rate=args.service_rate,
                k=args.k,
                candidates=args.service_candidates,
                threads=args.threads,
            )
        except RecUtilsError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        # the load-test runner has printed its table of ``results`` above
        print(
            f"service: {args.service_users} locust clients at {args.service_rate:g} requests/s each, "
            f"{args.service_duration} s per scenario ({len(results)} scenarios), one uvicorn process, "
            f"k {args.k}, {args.service_candidates} two-stage candidates"
        )
        print(f"done in {time.perf_counter() - started:.0f} s; machine now: {_machine()}")
        return 0

    import faiss
    import torch
    from threadpoolctl import threadpool_limits

    from recutils.retrieval import gaussian_mixture_vectors

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    started = time.perf_counter()
    print(f"machine: {_machine()}; threads {args.threads}, repeat {args.repeat}, k {args.k}")
    try:
        with threadpool_limits(limits=args.threads):
            frame, what = load_frame(args.data, seed=args.seed)
            print(f"data: {what}")
            rows, model = [], None
            for loss in args.losses:
                row, fitted = training_speed(
                    frame,
                    loss,
                    batch_size=args.batch_size,
                    negatives=args.negatives,
                    repeat=args.repeat,
                    threads=args.threads,
                    seed=args.seed,
                )
                rows.append(row)
                model = fitted if model is None or loss == "in_batch_softmax" else model
            rows += item_index_speed(model, k=args.k, kinds=args.kinds, repeat=args.repeat)
            vectors = gaussian_mixture_vectors(args.index_n + args.queries, 64, seed=args.seed)
            rows += index_speed(
                vectors[: args.index_n],
                vectors[args.index_n :],
                k=args.k,
                kinds=args.kinds,
                repeat=args.repeat,
                section="index mixture",
            )
            rows += recommend_speed(model, k=args.k, kind=args.serve_kind, repeat=args.repeat)
    except RecUtilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_table(rows, args.k))
    print(f"done in {time.perf_counter() - started:.0f} s; machine now: {_machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
