"""Shared pieces of the benchmark scripts: timing and an optional peer run.

A benchmark times recutils in this interpreter and, when given
``--peer-python PATH`` (an interpreter with the peer library installed, such as
a virtual environment with ``recommenders==1.2.1``), runs the same calls there on
the same data in a subprocess, so that the ratio printed comes from one run on one
machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def run_cli(run: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """``run(argv)``'s exit status, or 2 with one ``error:`` line on stderr for a bad input
    (a :class:`~recutils.exceptions.RecUtilsError`): the ``main`` of every benchmark script."""
    from recutils.exceptions import RecUtilsError

    try:
        return run(argv)
    except RecUtilsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall-clock seconds of ``repeat`` calls of ``fn`` (the first call included)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repeat", type=int, default=3, help="timed repetitions (best is kept)")
    p.add_argument(
        "--peer-python",
        default=None,
        help="python interpreter of an environment with the peer library installed; "
        "when given, the peer is timed on the same data in the same run",
    )
    return p


def run_peer(
    python: str, frames: dict[str, pd.DataFrame], setup: str, calls: dict[str, str], repeat: int = 3
) -> dict[str, float]:
    """Time ``calls`` in another interpreter on the same frames.

    Args:
        python: Path of the peer's python interpreter.
        frames: Data frames made available to the peer under these variable names.
        setup: Python code run once in the peer before timing (imports).
        calls: Name -> Python expression to time in the peer.
        repeat: Timed repetitions; the best is reported.

    Returns:
        Name -> best seconds measured in the peer.
    """
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, df in frames.items():
            # Plain numeric columns in .npz travel between numpy and pandas versions.
            path = Path(tmp) / f"{name}.npz"
            np.savez(path, **{str(c): df[c].to_numpy() for c in df.columns})
            paths[name] = str(path)
        script = (
            textwrap.dedent(
                f"""
            import json, sys, time
            import numpy as np
            import pandas as pd
            def _load(path):
                with np.load(path, allow_pickle=False) as z:
                    return pd.DataFrame({{c: z[c] for c in z.files}})
            frames = {{k: _load(v) for k, v in {paths!r}.items()}}
            globals().update(frames)
            """
            )
            + setup
            + textwrap.dedent(
                f"""
            out = {{}}
            for name, expr in {calls!r}.items():
                best = float("inf")
                for _ in range({repeat}):
                    t0 = time.perf_counter(); eval(expr); best = min(best, time.perf_counter() - t0)
                out[name] = best
            print("PEER_RESULT " + json.dumps(out))
            """
            )
        )
        proc = subprocess.run([python, "-c", script], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise RuntimeError(f"peer run failed with exit code {proc.returncode}")
        line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("PEER_RESULT "))
        return json.loads(line[len("PEER_RESULT ") :])


def report(rows: list[dict]) -> None:
    """Print a table of benchmark rows (name, seconds, target, peer seconds, ratio)."""
    df = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(df.to_string(index=False, float_format=lambda x: f"{x:0.3f}"))


class MachineRecord:
    """The ``<stem>_machine.json`` beside a results CSV: one entry per invocation of a benchmark
    script, written before the run (so that a stopped run is described too) and completed by
    :meth:`finish`."""

    def __init__(self, out: Path, script: str, argv: list[str], note: str = "") -> None:
        from recutils.benchmark import machine_info

        self.path = out.with_name(out.name.removesuffix(".csv") + "_machine.json")
        self.runs = json.loads(self.path.read_text())["runs"] if self.path.exists() else []
        self.entry = machine_info(note)
        self.entry["command"] = " ".join(["python", script, *argv])
        self.entry["finished_utc"] = None
        self.runs.append(self.entry)
        self._write()

    def finish(self, n_results: int) -> None:
        """Stamp the end time and the number of result rows."""
        from recutils.benchmark import machine_info

        self.entry["finished_utc"] = machine_info()["utc"]
        self.entry["runs_in_results"] = int(n_results)
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"runs": self.runs}, indent=2) + "\n")
