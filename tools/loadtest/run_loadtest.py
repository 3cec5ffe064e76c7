"""Load test of the recutils service: store-backed lookups, on-the-fly SAR scoring, and
two-tower retrieval with a second ranking stage.

Scenarios (``--scenarios``, comma-separated):

* ``store``, ``sar``: train SAR on MovieLens (``--data 100k`` through the loaders'
  cache/mirror; a synthetic MovieLens-like set, labelled, when it is unavailable or with
  ``--data mock<N>``), save it as an artifact, batch-score every user into a SQLite store;
  ``GET /v1/recommendations/{user_id}`` from the store, or scored by the artifact.
* ``retrieve-hnsw``, ``retrieve-brute``, ``two-stage``: train a small DSSM and DeepFM
  (``--epochs``) on MovieLens with its user and item features (``movielens_ctr_frame``; the
  synthetic stand-in of ``tools/benchmarks/bench_retrieval.py`` for ``mock<N>`` or when
  MovieLens is unavailable), save them as artifacts and the DSSM's HNSW index beside its
  artifact; ``POST /v1/retrieve`` through the HNSW index (``--index``) or the exact index the
  service builds without one, and ``POST /v1/two-stage`` (HNSW, ``--candidates`` candidates
  ranked by DeepFM). About 5% of the requests are new users given by their features.

For each scenario: start ``recutils serve`` (uvicorn, one process) on 127.0.0.1 and a free
port, run locust headless (``--users`` concurrent users for ``--duration`` seconds), and
print requests/s, p50/p95/p99 latency and failures.

Targets on a 2-core machine (checked with ``--check``): the store-backed endpoint serves
>= 500 requests/s with p99 <= 50 ms; no scenario has a failed request.

Usage::

    python tools/loadtest/run_loadtest.py                      # full: 30 s per scenario
    python tools/loadtest/run_loadtest.py --duration 5 --data mock20000   # short form
    python tools/loadtest/run_loadtest.py --scenarios retrieve-hnsw,retrieve-brute,two-stage

Exit status: 0 when every scenario had zero failures (and, with ``--check``, the
store-backed targets are met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TARGET_RPS = 500.0
TARGET_P99_MS = 50.0
#: The scenarios of the SAR artifact and its store, and those of the two-tower artifact.
SAR_SCENARIOS = ("store", "sar")
RETRIEVAL_SCENARIOS = ("retrieve-hnsw", "retrieve-brute", "two-stage")
_USER_COLUMNS = ("age", "gender", "occupation")


def prepare(workdir: Path, data: str, top_k: int, seed: int = 42) -> dict[str, Any]:
    """Train SAR, write its artifact, batch-score everyone into SQLite; ids for locust."""
    import numpy as np

    from recutils.cli import load_quickstart_data
    from recutils.models.sar import SAR
    from recutils.serving import batch_recommend, save_artifact

    ratings, label, _reason = load_quickstart_data(data, progress=False, seed=seed)
    model = SAR(similarity_type="jaccard", time_decay_coefficient=30, timedecay_formula=True).fit(
        ratings
    )
    artifact = save_artifact(model, workdir / "sar_artifact", overwrite=True)
    store_url = f"sqlite:///{workdir / 'recs.db'}"
    batch_recommend(model, top_k=top_k, store=store_url, progress=False)
    users = [str(u) for u in model.user_ids_]
    rng = np.random.default_rng(seed)
    unknown = [str(10_000_000 + i) for i in range(max(1, len(users) // 20))]
    ids = list(rng.permutation(users + unknown))
    ids_file = workdir / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n", encoding="utf-8")
    return {
        "artifact": artifact,
        "store": store_url,
        "ids": ids_file,
        "label": label,
        "n_users": len(users),
        "n_items": len(model.item_ids_),
    }


def _bench_retrieval() -> Any:
    """``tools/benchmarks/bench_retrieval.py`` as a module (its frame loader)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_retrieval", HERE.parent / "benchmarks" / "bench_retrieval.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def retrieval_frame(data: str, seed: int = 42) -> tuple[Any, str]:
    """MovieLens with user and item features (``data`` a MovieLens size), else the synthetic
    frame of the same columns (``mock<N>``: N rows; or MovieLens unavailable)."""
    from recutils.exceptions import DatasetUnavailableError

    bench = _bench_retrieval()
    if data.strip().lower().startswith("mock"):
        return bench.load_frame("synthetic", seed=seed, n_interactions=int(data[4:] or 100_000))
    try:
        from recutils.datasets.movielens_features import movielens_ctr_frame

        frame = movielens_ctr_frame(data)
    except DatasetUnavailableError as err:
        frame, what = bench.load_frame("synthetic", seed=seed)
        return frame, f"{what} (MovieLens unavailable: {str(err)[:80]})"
    return frame, (
        f"MovieLens {data}: {len(frame):,} rows, {frame['userID'].nunique():,} users, "
        f"{frame['itemID'].nunique():,} items"
    )


def prepare_retrieval(
    workdir: Path, data: str, epochs: int = 3, threads: int = 1, seed: int = 42
) -> dict[str, Any]:
    """Train DSSM and DeepFM (``epochs`` each, validation off), save their artifacts and the
    DSSM's HNSW index beside its artifact; JSON request bodies for locust."""
    import json

    import numpy as np

    from recutils.models import create_model
    from recutils.serving import save_artifact

    frame, label = retrieval_frame(data, seed)
    train = {
        "epochs": epochs,
        "num_threads": threads,
        "progress": False,
        "early_stopping_metric": None,
        "validation_fraction": 0.0,
    }
    if "label" not in frame.columns:
        frame = frame.assign(label=(frame["rating"] >= 4).astype("float64"))
    t0 = time.perf_counter()
    dssm = create_model("dssm", seed=seed, train=train).fit(frame)
    deepfm = create_model("deepfm", col_rating="label", seed=seed, train=train).fit(frame)
    fit_s = time.perf_counter() - t0
    dssm_path = save_artifact(dssm, workdir / "dssm_artifact", overwrite=True)
    ranker_path = save_artifact(deepfm, workdir / "deepfm_artifact", overwrite=True)
    index_path = dssm.build_index("hnsw").save(workdir / "dssm_hnsw_index", overwrite=True)
    rng = np.random.default_rng(seed)
    users = frame.drop_duplicates("userID").set_index("userID")
    bodies = [
        {"user_id": int(u) if isinstance(u, (int, np.integer)) else str(u)} for u in dssm.user_ids_
    ]
    for uid in rng.choice(np.asarray(users.index), max(1, len(bodies) // 20)):  # new users
        row = users.loc[uid]
        bodies.append(
            {
                "features": {
                    c: (row[c].item() if hasattr(row[c], "item") else row[c]) for c in _USER_COLUMNS
                }
            }
        )
    order = rng.permutation(len(bodies))
    bodies_file = workdir / "retrieval_bodies.jsonl"
    bodies_file.write_text("\n".join(json.dumps(bodies[i]) for i in order) + "\n", encoding="utf-8")
    return {
        "artifact": dssm_path,
        "ranker": ranker_path,
        "index": index_path,
        "bodies": bodies_file,
        "label": label,
        "fit_s": fit_s,
        "n_users": len(dssm.user_ids_),
        "n_items": len(dssm.item_ids_),
    }


def run_locust(
    url: str,
    ids: Path,
    users: int,
    duration: int,
    rate: float,
    k: int,
    prefix: Path,
    endpoint: str = "recommendations",
    candidates: int | None = None,
    latency_log: Path | None = None,
) -> dict[str, float]:
    """Run locust headless against ``url``; the aggregated figures of its CSV.

    Locust also writes ``{prefix}_stats_history.csv`` (percentiles of the last seconds, once
    a second); with ``latency_log``, every request's start time and latency go to that CSV
    file (``latency_log.py``).
    """
    env = {
        **os.environ,
        "RECUTILS_LOADTEST_IDS": str(ids),
        "RECUTILS_LOADTEST_K": str(k),
        "RECUTILS_LOADTEST_RATE": str(rate),
        "RECUTILS_LOADTEST_ENDPOINT": endpoint,
    }
    if candidates is not None:
        env["RECUTILS_LOADTEST_CANDIDATES"] = str(candidates)
    files = str(HERE / "locustfile.py")
    if latency_log is not None:
        env["RECUTILS_LOADTEST_LATENCY_LOG"] = str(latency_log)
        files += "," + str(HERE / "latency_log.py")
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        files,
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{duration}s",
        "--host",
        url,
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "5",
        "--loglevel",
        "ERROR",
        "--exit-code-on-error",
        "0",
    ]
    subprocess.run(
        cmd,
        env=env,
        check=True,
        timeout=duration + 120,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as fh:
        rows = {row["Name"]: row for row in csv.DictReader(fh)}
    agg = rows["Aggregated"]
    return {
        "requests": int(agg["Request Count"]),
        "failures": int(agg["Failure Count"]),
        "requests_per_s": float(agg["Requests/s"]),
        "p50_ms": float(agg["50%"]),
        "p95_ms": float(agg["95%"]),
        "p99_ms": float(agg["99%"]),
        "max_ms": float(agg["Max Response Time"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=30, help="seconds per scenario")
    parser.add_argument("--users", type=int, default=50, help="concurrent locust users")
    parser.add_argument(
        "--rate",
        type=float,
        default=12.0,
        help="requests/s per locust user (default 12: 600 offered at 50 users)",
    )
    parser.add_argument("--data", default="100k", help="MovieLens size or mock<N>")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument(
        "--scenarios",
        default="store,sar",
        help="comma-separated: " + ",".join(SAR_SCENARIOS + RETRIEVAL_SCENARIOS),
    )
    parser.add_argument("--epochs", type=int, default=3, help="epochs of DSSM and DeepFM")
    parser.add_argument(
        "--candidates",
        type=int,
        default=100,
        help="candidates retrieved and ranked by the two-stage route",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"fail unless store-backed >= {TARGET_RPS:.0f} req/s and "
        f"p99 <= {TARGET_P99_MS:.0f} ms",
    )
    args = parser.parse_args(argv)

    from recutils.serving.process import ServiceProcess

    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in scenarios if s not in SAR_SCENARIOS + RETRIEVAL_SCENARIOS]
    if unknown:
        parser.error(
            f"unknown scenario(s) {unknown}; use {', '.join(SAR_SCENARIOS + RETRIEVAL_SCENARIOS)}"
        )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="recutils-loadtest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    prep: dict[str, Any] = {}
    if set(scenarios) & set(SAR_SCENARIOS):
        t0 = time.perf_counter()
        prep = prepare(workdir, args.data, args.top_k)
        print(
            f"data: {prep['label']} ({prep['n_users']} users, {prep['n_items']} items); "
            f"prepared in {time.perf_counter() - t0:.1f} s; workdir {workdir}",
            flush=True,
        )
    retrieval: dict[str, Any] = {}
    if set(scenarios) & set(RETRIEVAL_SCENARIOS):
        retrieval = prepare_retrieval(workdir, args.data, args.epochs, args.threads)
        print(
            f"retrieval data: {retrieval['label']}; DSSM + DeepFM, {args.epochs} epochs each, "
            f"trained in {retrieval['fit_s']:.1f} s; workdir {workdir}",
            flush=True,
        )
    results: dict[str, dict[str, float]] = {}
    for scenario in scenarios:
        ids, endpoint = prep.get("ids"), "recommendations"
        if scenario == "store":
            service = ServiceProcess(store=prep["store"], log_file=workdir / "store.log")
        elif scenario == "sar":
            service = ServiceProcess(artifact=prep["artifact"], log_file=workdir / "sar.log")
        else:
            extra = ["--num-threads", "1"]
            if scenario != "retrieve-brute":
                extra += ["--index", str(retrieval["index"])]
            if scenario == "two-stage":
                extra += ["--ranker-artifact", str(retrieval["ranker"])]
            service = ServiceProcess(
                artifact=retrieval["artifact"],
                extra_args=extra,
                log_file=workdir / f"{scenario}.log",
            )
            ids = retrieval["bodies"]
            endpoint = "two-stage" if scenario == "two-stage" else "retrieve"
        with service:
            results[scenario] = run_locust(
                service.url,
                ids,
                args.users,
                args.duration,
                args.rate,
                args.top_k,
                workdir / scenario,
                endpoint,
                args.candidates if endpoint == "two-stage" else None,
            )
    print(
        f"\n{args.users} users, {args.rate:g} req/s each offered, {args.duration} s per "
        f"scenario, k={args.top_k}"
    )
    print(format_results(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    ok = all(r["failures"] == 0 for r in results.values())
    if args.check and "store" in results:
        s = results["store"]
        met = s["requests_per_s"] >= TARGET_RPS and s["p99_ms"] <= TARGET_P99_MS
        print(
            f"store-backed targets (>= {TARGET_RPS:.0f} req/s, p99 <= {TARGET_P99_MS:.0f} ms): "
            f"{'met' if met else 'NOT met'}"
        )
        ok = ok and met
    return 0 if ok else 1


#: What each scenario requests (the table's last column).
REQUESTS = {
    "store": "GET /v1/recommendations/{user_id} (store)",
    "sar": "GET /v1/recommendations/{user_id} (SAR)",
    "retrieve-hnsw": "POST /v1/retrieve (DSSM, HNSW index)",
    "retrieve-brute": "POST /v1/retrieve (DSSM, exact index)",
    "two-stage": "POST /v1/two-stage (DSSM HNSW + DeepFM)",
}


def format_results(results: dict[str, dict[str, float]]) -> str:
    """The figures as a fixed-width table, one row per scenario."""
    lines = [
        f"{'scenario':<15}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'failures':>10}  request"
    ]
    for name, r in results.items():
        lines.append(
            f"{name:<15}{r['requests']:>10}{r['requests_per_s']:>10.1f}"
            f"{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['p99_ms']:>9.1f}"
            f"{r['max_ms']:>9.1f}{r['failures']:>10}  {REQUESTS.get(name, '')}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
