"""Benchmark the approximate-nearest-neighbour indexes against exact brute force.

    python tools/benchmarks/bench_ann.py --n 1000000 --dim 64 --queries 1000 --k 10

Data: ``n + queries`` float32 vectors from one seeded Gaussian mixture
(:func:`recutils.retrieval.gaussian_mixture_vectors`: ``--clusters`` standard-normal
centres, noise of scale ``--spread`` around each); the last ``queries`` vectors are the
queries, the rest are indexed. Clustered data stands in for real embeddings, which cluster;
uniformly random vectors have no neighbourhood structure (every point is nearly as far
from every other), so on them no approximate index can beat a scan and recall says nothing.

For brute force (numpy, :class:`~recutils.retrieval.BruteForceIndex`) and each faiss kind
(``flat``, ``ivf``, ``hnsw`` at their default parameters) it prints the build seconds, the
queries per second of one search of all queries, recall@k against brute force and the
speed-up of the search over brute force, all measured in this one run on this machine.
The bar: ``ivf`` or ``hnsw`` with recall@10 >= 0.95 while >= 10x faster than brute force.
Needs faiss: ``pip install "recutils[retrieval]"``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from recutils.exceptions import RecUtilsError
from recutils.retrieval import (
    FAISS_KINDS,
    METRICS,
    BruteForceIndex,
    FaissIndex,
    VectorIndex,
    gaussian_mixture_vectors,
    recall_at_k,
)

BAR_RECALL, BAR_SPEEDUP = 0.95, 10.0


def _timed(index: VectorIndex, vectors, ids, queries, k: int):
    start = time.perf_counter()
    index.build(vectors, ids)
    built = time.perf_counter() - start
    index.search(queries[:10], k)  # warm-up: thread pools, first-touch of the index's memory
    start = time.perf_counter()
    found, _ = index.search(queries, k)
    return found, built, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit status (2 with one ``error:`` line on a bad input)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000, help="indexed vectors")
    p.add_argument("--dim", type=int, default=64, help="dimension")
    p.add_argument("--queries", type=int, default=1000, help="query vectors")
    p.add_argument("--k", type=int, default=10, help="neighbours per query")
    p.add_argument("--metric", default="ip", choices=METRICS)
    p.add_argument("--kinds", nargs="*", default=list(FAISS_KINDS), choices=FAISS_KINDS)
    p.add_argument("--clusters", type=int, default=256, help="mixture components")
    p.add_argument("--spread", type=float, default=1.0, help="noise scale around a centre")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    try:
        vectors = gaussian_mixture_vectors(
            args.n + args.queries,
            args.dim,
            n_clusters=args.clusters,
            spread=args.spread,
            seed=args.seed,
        )
        data, queries = vectors[: args.n], vectors[args.n :]
        ids = np.arange(args.n)
        print(
            f"{args.n:,} vectors x {args.dim}, {args.queries:,} queries, k={args.k}, "
            f"metric {args.metric}, {args.clusters} clusters, spread {args.spread}, "
            f"seed {args.seed}; {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} CPUs"
        )
        exact, built, searched = _timed(BruteForceIndex(args.metric), data, ids, queries, args.k)
        rows = [("brute_force", built, searched, 1.0)]
        for kind in args.kinds:
            found, built_k, searched_k = _timed(
                FaissIndex(kind, args.metric), data, ids, queries, args.k
            )
            rows.append((kind, built_k, searched_k, recall_at_k(found, exact, args.k)))
    except RecUtilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"{'index':<12} {'build s':>9} {'queries/s':>11} {'recall@' + str(args.k):>10} "
        f"{'speed-up':>9}"
    )
    met = []
    for kind, built, seconds, recall in rows:
        speedup = searched / seconds
        print(
            f"{kind:<12} {built:>9.2f} {args.queries / seconds:>11,.0f} {recall:>10.4f} "
            f"{speedup:>8.1f}x"
        )
        if kind in ("ivf", "hnsw") and recall >= BAR_RECALL and speedup >= BAR_SPEEDUP:
            met.append(kind)
    print(
        f"bar (ivf or hnsw: recall@{args.k} >= {BAR_RECALL} and >= {BAR_SPEEDUP:.0f}x faster "
        f"than brute force): {'met by ' + ', '.join(met) if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
