"""Time the pandas splitters on a synthetic log of about 1.99 million rows.

    python tools/benchmarks/bench_splitters.py
    python tools/benchmarks/bench_splitters.py --peer-python PEER_PYTHON  # an interpreter with recommenders==1.2.1

The log: 2,000,000 draws from ``numpy.random.default_rng(42)`` (users uniform over
20,000, items uniform over 10,000, ratings 1-5, timestamps uniform over 10**7 s),
de-duplicated on (user, item). Targets are 5x faster than Microsoft Recommenders
1.2.1 measured on the reference machine (3.4 s stratified, 3.0 s chrono). With
``--peer-python`` the peer is timed on the same data in the same run and the
ratio peer / recutils is printed: that ratio is the target (>= 5 for both).

The stratified split must also stay within 3x of its floor on this machine, one
``np.argsort`` over one float key per row (the work a split cannot avoid: every row
must be ordered inside its group); the line ``stratified / argsort`` prints it. Its
output is Microsoft's split row for row (tests/unit/test_splitting.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import best_time, parser, report, run_peer  # noqa: E402

from recutils.splitting import (  # noqa: E402
    leave_last_k_out,
    python_chrono_split,
    python_kfold_split,
    python_random_split,
    python_stratified_split,
)

# Microsoft Recommenders 1.2.1 on the reference machine, seconds.
REFERENCE_PEER = {"python_stratified_split": 3.4, "python_chrono_split": 3.0}
SPEEDUP = 5.0


def make_log(n_draws: int = 2_000_000, seed: int = 42) -> pd.DataFrame:
    """The synthetic interaction log described in the module docstring."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "userID": rng.integers(0, 20_000, n_draws),
            "itemID": rng.integers(0, 10_000, n_draws),
            "rating": rng.integers(1, 6, n_draws).astype(np.float64),
            "timestamp": rng.integers(0, 10**7, n_draws),
        }
    )
    return df.drop_duplicates(["userID", "itemID"]).reset_index(drop=True)


def main() -> None:
    args = parser(__doc__.splitlines()[0]).parse_args()
    data = make_log()
    print(
        f"log: {len(data):,} rows, {data['userID'].nunique():,} users, "
        f"{data['itemID'].nunique():,} items"
    )

    ours = {
        "python_stratified_split": lambda: python_stratified_split(data, ratio=0.75),
        "python_chrono_split": lambda: python_chrono_split(data, ratio=0.75),
        "python_random_split": lambda: python_random_split(data, ratio=0.75),
        "leave_last_k_out": lambda: leave_last_k_out(data, k=1),
        "python_kfold_split(5)": lambda: list(python_kfold_split(data, n_folds=5)),
    }
    times = {name: best_time(fn, repeat=args.repeat) for name, fn in ours.items()}
    keys = np.random.RandomState(0).random_sample(len(data))
    floor = best_time(lambda: np.argsort(keys), repeat=max(args.repeat, 3))

    peer: dict[str, float] = {}
    if args.peer_python:
        peer = run_peer(
            args.peer_python,
            {"data": data},
            "from recommenders.datasets.python_splitters import "
            "python_stratified_split, python_chrono_split, python_random_split\n",
            {
                # The peer's stratified split adds a column to its input: give it a copy.
                "python_stratified_split": "python_stratified_split(data.copy(), ratio=0.75)",
                "python_chrono_split": "python_chrono_split(data, ratio=0.75)",
                "python_random_split": "python_random_split(data, ratio=0.75)",
            },
            repeat=args.repeat,
        )

    rows = []
    for name, seconds in times.items():
        target = REFERENCE_PEER[name] / SPEEDUP if name in REFERENCE_PEER else float("nan")
        row = {"splitter": name, "recutils_s": seconds, "target_s": target}
        if target == target:
            row["meets_target"] = seconds <= target
        if args.peer_python:
            row["peer_s"] = peer.get(name, float("nan"))
            row["peer/recutils"] = row["peer_s"] / seconds
        rows.append(row)
    report(rows)
    ratio = times["python_stratified_split"] / floor
    print(
        f"floor: one np.argsort over {len(data):,} float keys {floor:.3f} s; "
        f"stratified / argsort = {ratio:.2f} (target <= 3: {'met' if ratio <= 3 else 'NOT met'})"
    )
    if args.peer_python:
        for name in ("python_stratified_split", "python_chrono_split"):
            speedup = peer[name] / times[name]
            print(
                f"{name}: {speedup:.1f}x Microsoft Recommenders in this run "
                f"(target >= {SPEEDUP:g}: {'met' if speedup >= SPEEDUP else 'NOT met'})"
            )


if __name__ == "__main__":
    main()
