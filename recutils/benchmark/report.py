"""Reports of a benchmark: a Markdown table and a description of the machine."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from recutils.exceptions import DataError

#: Libraries whose versions :func:`machine_info` records (when installed).
LIBRARIES = (
    "numpy",
    "pandas",
    "scipy",
    "torch",
    "cornac",
    "scikit-surprise",
    "pyspark",
    "implicit",
    "lightfm",
    "rectools-lightfm",
    "lightfm-next",
    "recutils",
)

#: Result column -> header of the Markdown table.
HEADERS = {
    "mean_average_precision": "MAP",
    "map@{k}": "MAP@{k}",
    "ndcg@{k}": "nDCG@{k}",
    "precision@{k}": "P@{k}",
    "recall@{k}": "R@{k}",
    "rmse": "RMSE",
    "mae": "MAE",
    "rsquared": "R2",
    "exp_var": "exp. var.",
    "catalog_coverage@{k}": "coverage@{k}",
    "novelty@{k}": "novelty@{k}",
    "fit_s": "fit s",
    "recommend_s": "top-k s",
    "predict_s": "predict s",
    "peak_mem_mb": "peak MB",
}
_SHORT = {
    "mean_average_precision": "MAP",
    "ndcg": "nDCG",
    "precision": "P",
    "recall": "R",
    "map": "MAP@k",
    "rmse": "RMSE",
    "mae": "MAE",
}


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError:
        return None


def machine_info(note: str | None = None) -> dict[str, Any]:
    """Describe this machine and environment for a results file.

    Returns:
        CPU model (``/proc/cpuinfo`` on Linux, else ``platform.processor()``), logical
        cores, RAM, OS, Python and library versions, the 1-minute load average when
        known, the UTC time, and ``note`` (e.g. that the machine was shared).
    """
    cpuinfo = _read("/proc/cpuinfo") or ""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.lower().startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    meminfo = _read("/proc/meminfo") or ""
    mem_kb = next(
        (int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")),
        None,
    )
    versions = {}
    for lib in LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            continue
    try:
        load = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = None
    return {
        "cpu_model": model,
        "logical_cores": os.cpu_count(),
        "ram_gb": round(mem_kb / 2**20, 1) if mem_kb else None,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "libraries": versions,
        "load_average_1min_at_start": load,
        "utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "note": note or "",
    }


def _fmt(mean: float, sd: float, digits: int) -> str:
    if mean is None or not np.isfinite(mean):
        return ""
    if sd is None or not np.isfinite(sd):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def _p(p: float) -> str:
    if not np.isfinite(p):
        return "-"
    return f"{p:.0e}" if p < 1e-3 else f"{p:.3f}"


def markdown_table(
    summary: pd.DataFrame,
    tests: pd.DataFrame | None = None,
    comparison: pd.DataFrame | None = None,
    *,
    protocol: str,
    k: int = 10,
    columns: Sequence[str] = (
        "mean_average_precision",
        "map@{k}",
        "ndcg@{k}",
        "precision@{k}",
        "recall@{k}",
        "rmse",
        "mae",
        "catalog_coverage@{k}",
        "novelty@{k}",
        "fit_s",
        "recommend_s",
    ),
    test_metric: str = "ndcg@{k}",
    digits: int = 4,
) -> str:
    """A Markdown table of one protocol: mean ± sd over seeds, the paired test, the reference check.

    Args:
        summary: :func:`recutils.benchmark.summarize` output.
        tests: :func:`recutils.benchmark.paired_tests` output (or None: no test column).
        comparison: :func:`recutils.benchmark.compare_to_reference` output (or None).
        protocol: The protocol shown.
        k: List length (fills ``{k}`` in column names).
        columns: Result columns shown (``{k}`` is filled in); columns absent for every
            model are dropped.
        test_metric: The metric whose paired test is shown.
        digits: Decimals of metrics (timings get 2).

    Returns:
        The table, rows in the order of ``summary``, ending with a newline.
    """
    part = summary[summary["protocol"] == protocol]
    if part.empty:
        raise DataError(
            f"no results for protocol {protocol!r}; have {sorted(summary['protocol'].unique())}."
        )
    cols = [c.format(k=k) for c in columns]
    cols = [c for c in cols if f"{c}_mean" in part.columns and part[f"{c}_mean"].notna().any()]
    header = ["model", "seeds"] + [
        HEADERS.get(c.replace(f"@{k}", "@{k}"), c).format(k=k) for c in cols
    ]
    metric = test_metric.format(k=k)
    ref_model = None
    if tests is not None and not tests.empty:
        tp = tests[(tests["protocol"] == protocol) & (tests["metric"] == metric)]
        ref_model = tp["reference"].iloc[0] if len(tp) else None
        header.append(
            f"{HEADERS.get(metric.replace(f'@{k}', '@{k}'), metric).format(k=k)} vs {ref_model}: "
            "diff, Cohen's d, p (t), p (Wilcoxon)"
        )
    if comparison is not None:
        header.append("Microsoft Recommenders' figure: met within 1 sd?")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for s in part.itertuples(index=False):
        s = s._asdict() if hasattr(s, "_asdict") else dict(s)
        row = dict(zip(part.columns, s.values()))
        cells = [f"`{row['model']}`", str(int(row["n_seeds"]))]
        for c in cols:
            d = 2 if c in ("fit_s", "recommend_s", "predict_s", "peak_mem_mb") else digits
            cells.append(_fmt(row[f"{c}_mean"], row[f"{c}_sd"], d))
        if tests is not None and ref_model is not None:
            if row["model"] == ref_model:
                cells.append("reference")
            else:
                t = tp[tp["model"] == row["model"]]
                if t.empty:
                    cells.append("")
                else:
                    t = t.iloc[0]
                    verdict = (
                        ("**better**" if t["mean_diff"] > 0 else "**worse**")
                        if t["significant"]
                        else "no significant difference"
                    )
                    cells.append(
                        f"{t['mean_diff']:+.{digits}f}, d {t['cohens_d']:+.2f}, "
                        f"{_p(t['t_pvalue'])}, {_p(t['wilcoxon_pvalue'])}: {verdict}"
                    )
        if comparison is not None:
            c = comparison[
                (comparison["protocol"] == protocol) & (comparison["model"] == row["model"])
            ]
            if c.empty:
                cells.append("")
            else:
                parts = [
                    f"{_SHORT.get(m.split('@')[0], m)} {v:.4f} {'yes' if ok else '**no**'}"
                    for m, v, ok in zip(c["metric"], c["reference"], c["passes"])
                ]
                cells.append(", ".join(parts))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _machine_text(m: dict[str, Any]) -> str:
    libs = m.get("libraries", {})
    versions = ", ".join(
        f"{lib} {libs[lib]}"
        for lib in ("numpy", "pandas", "torch", "cornac", "pyspark")
        if lib in libs
    )
    return (
        f"{m.get('cpu_model', 'unknown CPU')}, {m.get('logical_cores')} logical cores, "
        f"{m.get('ram_gb')} GB RAM, Python {m.get('python')} ({versions})"
    )


def _machine_line(machine: dict[str, Any] | None) -> str:
    """Where the runs were taken: every distinct machine (in the order of the runs) and
    every distinct note, so that rows run on different machines are not credited to one."""
    if not machine or not machine.get("runs"):
        return ""
    runs = machine["runs"]
    machines = list(dict.fromkeys(_machine_text(m) for m in runs))
    notes = list(dict.fromkeys(m["note"].rstrip(".") for m in runs if m.get("note")))
    if len(machines) == 1:
        text = f"Machine: {machines[0]}."
    else:
        text = f"Machines (runs on {len(machines)}): " + "; ".join(machines) + "."
    if len(notes) == 1:
        text += f" {notes[0]}."
    elif notes:
        # numbered: a note may hold semicolons of its own
        text += " Run notes: " + "; ".join(f"({i}) {n}" for i, n in enumerate(notes, 1)) + "."
    return text


def benchmark_markdown(
    results: pd.DataFrame,
    per_user: pd.DataFrame | None = None,
    reference_figures: pd.DataFrame | None = None,
    *,
    reference_model: str | None = None,
    machine: dict[str, Any] | None = None,
    test_metric: str = "ndcg@{k}",
    alpha: float = 0.05,
) -> str:
    """The whole Markdown report of a results table: one table per protocol and the notes.

    Args:
        results: The frame of :func:`recutils.benchmark.run_benchmark` (or its CSV).
        per_user: Per-user values (for the paired tests), or None.
        reference_figures: :func:`recutils.benchmark.load_reference` output, or None.
        reference_model: Model the others are tested against (needs ``per_user``).
        machine: The ``*_machine.json`` document written by ``tools/benchmarks/movielens.py``.
        test_metric: Metric of the paired test column.
        alpha: Level of the tests (Holm-adjusted t-test and Wilcoxon both below it).

    Returns:
        Markdown text ending with a newline. Everything in it is computed from the inputs.
    """
    from recutils.benchmark.stats import compare_to_reference, paired_tests, summarize

    k = int(results["k"].iloc[0])
    summary = summarize(results)
    metric = test_metric.format(k=k)
    tests = None
    if per_user is not None and reference_model is not None:
        tests = paired_tests(per_user, reference=reference_model, metrics=[metric], alpha=alpha)
    comparison = (
        compare_to_reference(summary, reference_figures) if reference_figures is not None else None
    )
    datasets = ", ".join(sorted(results["dataset"].unique()))
    seeds = sorted(results["seed"].unique().tolist())
    parts = [
        f"{datasets}, top {k}, seeds {seeds}: mean ± standard deviation over seeds "
        f"({len(results)} runs)."
    ]
    from recutils.benchmark.protocols import PROTOCOLS

    for protocol in results["protocol"].drop_duplicates():
        desc = PROTOCOLS[protocol].description if protocol in PROTOCOLS else protocol
        parts.append(f"**{protocol}** ({desc}):")
        has_figures = comparison is not None and protocol in set(comparison["protocol"])
        parts.append(
            markdown_table(
                summary,
                tests,
                comparison if has_figures else None,
                protocol=protocol,
                k=k,
                test_metric=test_metric,
            ).rstrip("\n")
        )
    notes = []
    if tests is not None:
        notes.append(
            f"The test column compares each model with `{reference_model}` user by user "
            f"({metric} averaged over the seeds for each test user): difference of the means, "
            "Cohen's d of the paired differences, p-values of the paired t-test and the "
            f"Wilcoxon signed-rank test; **better**/**worse** when both Holm-adjusted "
            f"p-values are below {alpha}."
        )
    if comparison is not None and len(comparison):
        n_pass = int(comparison["passes"].sum())
        notes.append(
            f"The last column checks Microsoft Recommenders' published figure for the same "
            f"algorithm and parameters: met when mean + sd >= figure (mean - sd <= figure for "
            f"RMSE and MAE); {n_pass} of {len(comparison)} figures met."
        )
    if "chrono" in set(results["protocol"]):
        notes.append(
            "The chrono split does not depend on the seed, so a deterministic model has sd 0 there."
        )
    notes.append(
        "Times are wall-clock seconds (fit; top-k for every test user); compare them within "
        "the table only."
    )
    line = _machine_line(machine)
    if line:
        notes.append(line)
    parts.append(" ".join(notes))
    return "\n\n".join(parts) + "\n"


__all__ = ["machine_info", "markdown_table", "benchmark_markdown", "HEADERS", "LIBRARIES"]
