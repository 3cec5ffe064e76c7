"""Time SAR (jaccard, time decay) fit and recommend_k_items on a synthetic log of about 548k rows.

    python tools/benchmarks/bench_sar.py
    python tools/benchmarks/bench_sar.py --peer-python PEER_PYTHON  # an interpreter with recommenders==1.2.1

The log: 1,000,000 draws from ``numpy.random.default_rng(42)`` (users uniform over
20,000, items ``zipf(1.3) % 5000``, ratings 1-5, timestamps uniform over 10**7 s),
de-duplicated on (user, item). SAR uses ``similarity_type="jaccard",
time_decay_coefficient=30, timedecay_formula=True``; ``recommend_k_items`` serves
the first 5,000 distinct users, top 10, seen items removed.

Targets: 3x faster than Microsoft Recommenders 1.2.1 on the reference machine
(3.5 s fit, 1.6 s recommend), with a peak of traced memory (``tracemalloc``,
measured in separate untimed runs) no higher than the peer's. With
``--peer-python`` the peer is timed and measured on the same data in the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_time, parser, report, run_peer  # noqa: E402

from recutils.models.sar import SAR  # noqa: E402

REFERENCE_PEER = {"fit": 3.5, "recommend_k_items": 1.6}
SPEEDUP = 3.0
N_USERS_SERVED = 5_000
PARAMS = {"similarity_type": "jaccard", "time_decay_coefficient": 30, "timedecay_formula": True}


def make_log(n_draws: int = 1_000_000, seed: int = 42) -> pd.DataFrame:
    """The synthetic interaction log described in the module docstring."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "userID": rng.integers(0, 20_000, n_draws),
            "itemID": rng.zipf(1.3, n_draws) % 5_000,
            "rating": rng.integers(1, 6, n_draws).astype(np.float64),
            "timestamp": rng.integers(0, 10**7, n_draws),
        }
    )
    return df.drop_duplicates(["userID", "itemID"]).reset_index(drop=True)


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak traced allocation (MiB) while ``fn`` runs."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


_PEER_MEMORY = """
import json, tracemalloc
import numpy as np, pandas as pd
from recommenders.models.sar import SAR
with np.load({data!r}, allow_pickle=False) as z:
    data = pd.DataFrame({{c: z[c] for c in z.files}})
users = pd.DataFrame({{"userID": data["userID"].unique()[:{n}]}})
def peak(fn):
    tracemalloc.start(); tracemalloc.reset_peak(); fn()
    p = tracemalloc.get_traced_memory()[1]; tracemalloc.stop(); return p / 2**20
model = SAR(**{params!r})
out = {{"fit": peak(lambda: model.fit(data))}}
out["recommend_k_items"] = peak(lambda: model.recommend_k_items(users, top_k=10, remove_seen=True))
print("PEER_MEMORY " + json.dumps(out))
"""


def peer_memory(python: str, data: pd.DataFrame) -> dict[str, float]:
    """Peak traced MiB of the peer's fit and recommend_k_items on ``data``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.npz"
        np.savez(path, **{str(c): data[c].to_numpy() for c in data.columns})
        code = textwrap.dedent(_PEER_MEMORY).format(data=str(path), n=N_USERS_SERVED, params=PARAMS)
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise RuntimeError(f"peer memory run failed with exit code {proc.returncode}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("PEER_MEMORY "))
    return json.loads(line[len("PEER_MEMORY ") :])


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    data = make_log()
    users = pd.DataFrame({"userID": data["userID"].unique()[:N_USERS_SERVED]})
    print(
        f"log: {len(data):,} rows, {data['userID'].nunique():,} users, "
        f"{data['itemID'].nunique():,} items; serving {len(users):,} users"
    )

    model = SAR(**PARAMS)
    times = {
        "fit": best_time(lambda: model.fit(data), repeat=args.repeat),
        "recommend_k_items": best_time(
            lambda: model.recommend_k_items(users, top_k=10, remove_seen=True), repeat=args.repeat
        ),
    }
    fresh = SAR(**PARAMS)
    memory = {"fit": peak_mib(lambda: fresh.fit(data))}
    memory["recommend_k_items"] = peak_mib(
        lambda: fresh.recommend_k_items(users, top_k=10, remove_seen=True)
    )

    peer_t: dict[str, float] = {}
    peer_m: dict[str, float] = {}
    if args.peer_python:
        peer_t = run_peer(
            args.peer_python,
            {"data": data, "users": users},
            "from recommenders.models.sar import SAR\n"
            f"model = SAR(**{PARAMS!r})\nmodel.fit(data)\n",
            {
                "fit": f"SAR(**{PARAMS!r}).fit(data)",
                "recommend_k_items": "model.recommend_k_items(users, top_k=10, remove_seen=True)",
            },
            repeat=args.repeat,
        )
        peer_m = peer_memory(args.peer_python, data)

    rows = []
    for name, seconds in times.items():
        target = REFERENCE_PEER[name] / SPEEDUP
        row = {
            "call": name,
            "recutils_s": seconds,
            "target_s": target,
            "meets_target": seconds <= target,
            "recutils_peak_mib": memory[name],
        }
        if args.peer_python:
            row["peer_s"] = peer_t[name]
            row["speedup"] = peer_t[name] / seconds
            row["peer_peak_mib"] = peer_m[name]
            row["memory_ok"] = memory[name] <= peer_m[name]
        rows.append(row)
    report(rows)


if __name__ == "__main__":
    main()
