"""Run the repository's notebooks and keep their stored outputs in step with their code.

Every notebook under ``notebooks/`` and ``scenarios/`` is committed with the outputs of a
run with its full default parameters, stamped with a hash of its code cells::

    python tools/notebooks.py run --store notebooks/00_quick_start/sar_movielens.ipynb
    python tools/notebooks.py run --store --stale      # every notebook whose stamp is not ok
    python tools/notebooks.py check                    # exit 1 when a stamp is missing or stale
    python tools/notebooks.py status                   # one line per notebook

``run`` executes each notebook in a clean kernel from its own folder with its default
parameters (none injected), with progress bars off (``RECUTILS_PROGRESS=0``). With
``--store`` the outputs are cleaned (no progress bars, widget state or papermill timings)
and written back into the notebook with the stamp (code hash, recutils version, date,
machine); without it the executed copy goes to a temporary folder and the notebook is left
as it is. A notebook that fails is reported and left unchanged; the exit status is 1 when
any failed.

The tests (``tests/notebooks``) fail when a committed notebook has no stamp, a stale one
or no outputs, and still execute every notebook with its small test parameters into a
temporary copy.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recutils import __version__  # noqa: E402
from recutils.utils.notebook import (  # noqa: E402
    clean_outputs,
    execute_notebook,
    stamp_notebook,
    stamp_status,
)
from recutils.utils.progress import PROGRESS_ENV  # noqa: E402

ROOTS = ("notebooks", "scenarios")
#: A stored notebook above this size is refused: outputs are for reading, not data dumps.
MAX_BYTES = 2_000_000


def all_notebooks() -> list[Path]:
    """Every notebook under the roots, in path order (checkpoints excluded)."""
    found = []
    for root in ROOTS:
        found += [p for p in (REPO / root).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts]
    return sorted(found)


def machine_line() -> str:
    """One line: CPU model, logical cores, memory, OS (from the benchmark reports' probe)."""
    from recutils.benchmark.report import machine_info

    m = machine_info()
    return (
        f"{m['cpu_model']}, {m['logical_cores']} logical cores, {m['ram_gb']} GB RAM, "
        f"{m['os']}, Python {m['python']}"
    )


def _read(path: Path):
    import nbformat

    return nbformat.read(str(path), as_version=4)


def _resolve(paths: list[str], stale_only: bool) -> list[Path]:
    chosen = [Path(p).resolve() for p in paths] if paths else all_notebooks()
    missing = [str(p) for p in chosen if not p.is_file()]
    if missing:
        raise SystemExit(f"no such notebook: {', '.join(missing)}")
    if stale_only:
        chosen = [p for p in chosen if stamp_status(_read(p)) != "ok"]
    return chosen


def run(paths: list[str], *, store: bool, stale_only: bool, timeout: float | None) -> int:
    """Execute notebooks with their defaults; with ``store``, write outputs and stamp back."""
    import nbformat

    os.environ[PROGRESS_ENV] = "0"  # inherited by the kernels papermill starts
    machine = machine_line()
    failed = []
    targets = _resolve(paths, stale_only)
    print(f"{len(targets)} notebook(s) to run{' and store' if store else ''}", flush=True)
    for path in targets:
        rel = path.relative_to(REPO)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / path.name
            try:
                execute_notebook(path, out, kernel_name="python3", timeout=timeout)
            except Exception as err:  # report and go on with the next notebook
                failed.append(str(rel))
                print(
                    f"FAILED  {rel}: {type(err).__name__}: {str(err).splitlines()[0][:300]}",
                    flush=True,
                )
                continue
            seconds = time.perf_counter() - start
            if store:
                nb = clean_outputs(_read(out))
                stamp_notebook(
                    nb, version=__version__, machine=machine, date=date.today().isoformat()
                )
                text = nbformat.writes(nb) + "\n"
                if len(text.encode("utf-8")) > MAX_BYTES:
                    failed.append(str(rel))
                    print(
                        f"FAILED  {rel}: outputs take {len(text) / 1e6:.1f} MB (> {MAX_BYTES / 1e6:.0f} MB): "
                        "print summaries, not data",
                        flush=True,
                    )
                    continue
                path.write_text(text, encoding="utf-8")
        print(f"ok      {rel} ({seconds:.0f} s)", flush=True)
    if failed:
        print(f"{len(failed)} failed: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


def check(paths: list[str]) -> int:
    """Exit status 1 when any notebook's stamp is missing or stale, or it has no outputs."""
    bad = []
    for path in _resolve(paths, stale_only=False):
        status = stamp_status(_read(path))
        if status != "ok":
            bad.append(f"{status:10s} {path.relative_to(REPO)}")
    for line in bad:
        print(line)
    if bad:
        print(f"{len(bad)} notebook(s) need `python tools/notebooks.py run --store PATH`")
    return 1 if bad else 0


def status(paths: list[str]) -> int:
    """Print each notebook's stamp state, run date and machine."""
    from recutils.utils.notebook import STAMP_KEY

    for path in _resolve(paths, stale_only=False):
        nb = _read(path)
        stamp = nb.metadata.get(STAMP_KEY, {})
        print(f"{stamp_status(nb):10s} {stamp.get('date', '-'):10s} {path.relative_to(REPO)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="execute notebooks with their default parameters")
    p_run.add_argument("paths", nargs="*", help="notebooks (default: all)")
    p_run.add_argument(
        "--store", action="store_true", help="write outputs and stamp into the notebooks"
    )
    p_run.add_argument("--stale", action="store_true", help="only notebooks whose stamp is not ok")
    p_run.add_argument("--timeout", type=float, default=None, help="seconds allowed per cell")
    for name, text in (("check", "fail on a missing or stale stamp"), ("status", "list stamps")):
        p = sub.add_parser(name, help=text)
        p.add_argument("paths", nargs="*", help="notebooks (default: all)")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.paths, store=args.store, stale_only=args.stale, timeout=args.timeout)
    if args.command == "check":
        return check(args.paths)
    return status(args.paths)


if __name__ == "__main__":
    sys.exit(main())
