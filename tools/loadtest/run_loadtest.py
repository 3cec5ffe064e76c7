"""Load test of the recutils service: store-backed lookups and on-the-fly SAR scoring.

Steps: train SAR on MovieLens (``--data 100k`` through the loaders' cache/mirror; a
synthetic MovieLens-like set, labelled, when it is unavailable or with ``--data
mock<N>``), save it as an artifact, batch-score every user into a SQLite store; then
for each scenario start ``recutils serve`` (uvicorn, one process) on 127.0.0.1 and a free
port, run locust headless (``--users`` concurrent users for ``--duration`` seconds),
and print requests/s, p50/p95/p99 latency and failures.

Targets on a 2-core machine (checked with ``--check``): the store-backed endpoint serves
>= 500 requests/s with p99 <= 50 ms; no scenario has a failed request.

Usage::

    python tools/loadtest/run_loadtest.py                      # full: 30 s per scenario
    python tools/loadtest/run_loadtest.py --duration 5 --data mock20000   # short form

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


def prepare(workdir: Path, data: str, top_k: int, seed: int = 42) -> dict[str, Any]:
    """Train SAR, write its artifact, batch-score everyone into SQLite; ids for locust."""
    import numpy as np

    from recutils.cli import load_quickstart_data
    from recutils.models.sar import SAR
    from recutils.serving import batch_recommend, save_artifact

    ratings, label, _reason = load_quickstart_data(data, progress=False, seed=seed)
    model = SAR(similarity_type="jaccard", time_decay_coefficient=30,
                timedecay_formula=True).fit(ratings)
    artifact = save_artifact(model, workdir / "sar_artifact", overwrite=True)
    store_url = f"sqlite:///{workdir / 'recs.db'}"
    batch_recommend(model, top_k=top_k, store=store_url, progress=False)
    users = [str(u) for u in model.user_ids_]
    rng = np.random.default_rng(seed)
    unknown = [str(10_000_000 + i) for i in range(max(1, len(users) // 20))]
    ids = list(rng.permutation(users + unknown))
    ids_file = workdir / "ids.txt"
    ids_file.write_text("\n".join(ids) + "\n", encoding="utf-8")
    return {"artifact": artifact, "store": store_url, "ids": ids_file, "label": label,
            "n_users": len(users), "n_items": len(model.item_ids_)}


def run_locust(url: str, ids: Path, users: int, duration: int, rate: float, k: int,
               prefix: Path) -> dict[str, float]:
    """Run locust headless against ``url``; the aggregated figures of its CSV."""
    env = {**os.environ, "RECUTILS_LOADTEST_IDS": str(ids), "RECUTILS_LOADTEST_K": str(k),
           "RECUTILS_LOADTEST_RATE": str(rate)}
    cmd = [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
           "-u", str(users), "-r", str(users), "-t", f"{duration}s", "--host", url,
           "--csv", str(prefix), "--only-summary", "--stop-timeout", "5",
           "--loglevel", "ERROR", "--exit-code-on-error", "0"]
    subprocess.run(cmd, env=env, check=True, timeout=duration + 120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    parser.add_argument("--rate", type=float, default=12.0,
                        help="requests/s per locust user (default 12: 600 offered at 50 users)")
    parser.add_argument("--data", default="100k", help="MovieLens size or mock<N>")
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--scenarios", default="store,sar", help="store,sar")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--check", action="store_true",
                        help=f"fail unless store-backed >= {TARGET_RPS:.0f} req/s and "
                             f"p99 <= {TARGET_P99_MS:.0f} ms")
    args = parser.parse_args(argv)

    from recutils.serving.process import ServiceProcess

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="recutils-loadtest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    prep = prepare(workdir, args.data, args.top_k)
    print(f"data: {prep['label']} ({prep['n_users']} users, {prep['n_items']} items); "
          f"prepared in {time.perf_counter() - t0:.1f} s; workdir {workdir}", flush=True)
    results: dict[str, dict[str, float]] = {}
    for scenario in [s.strip() for s in args.scenarios.split(",") if s.strip()]:
        if scenario == "store":
            service = ServiceProcess(store=prep["store"], log_file=workdir / "store.log")
        elif scenario == "sar":
            service = ServiceProcess(artifact=prep["artifact"], log_file=workdir / "sar.log")
        else:
            parser.error(f"unknown scenario {scenario!r}; use store and/or sar")
        with service:
            results[scenario] = run_locust(service.url, prep["ids"], args.users, args.duration,
                                           args.rate, args.top_k, workdir / scenario)
    print(f"\n{args.users} users, {args.rate:g} req/s each offered, {args.duration} s per "
          f"scenario, GET /v1/recommendations/{{user_id}}?k={args.top_k}")
    print(f"{'scenario':<10}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'p99 ms':>9}{'max ms':>9}{'failures':>10}")
    for name, r in results.items():
        print(f"{name:<10}{r['requests']:>10}{r['requests_per_s']:>10.1f}{r['p50_ms']:>9.1f}"
              f"{r['p95_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['max_ms']:>9.1f}{r['failures']:>10}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    ok = all(r["failures"] == 0 for r in results.values())
    if args.check and "store" in results:
        s = results["store"]
        met = s["requests_per_s"] >= TARGET_RPS and s["p99_ms"] <= TARGET_P99_MS
        print(f"store-backed targets (>= {TARGET_RPS:.0f} req/s, p99 <= {TARGET_P99_MS:.0f} ms): "
              f"{'met' if met else 'NOT met'}")
        ok = ok and met
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
