"""Reports of the next-item benchmark: summary over seeds, paired tests, bars, ranking shifts.

:func:`recutils.benchmark.next_item.run_next_item_benchmark` writes one row per model and
seed (full and sampled HR, NDCG, MRR at each k) and every user's full and sampled rank.
This module turns them into

* :func:`next_item_summary`: mean and sd over seeds, one row per model;
* :func:`next_item_per_user`: per-user HR/NDCG/MRR from the ranks, in the long form that
  :func:`recutils.benchmark.paired_tests` reads (``protocol`` is ``full`` or ``sampled``);
* :func:`check_bars`: the spec's quality bars (a figure to reach, a model to beat);
* :func:`ranking_shift`: each model's place when ordered by a full-ranking metric and by
  its sampled counterpart, with Kendall's tau between the two orders (how far sampled
  metrics move model rankings, Krichene & Rendle, KDD 2020);
* :func:`next_item_markdown`: the README table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from recutils.benchmark.report import _fmt, _machine_line, _p
from recutils.constants import DEFAULT_USER_COL
from recutils.exceptions import DataError

_NAMES = {"hr": "HR", "ndcg": "NDCG", "mrr": "MRR"}


def _metric_columns(results: pd.DataFrame) -> list[str]:
    return [c for c in results.columns if c.startswith(("full_", "sampled_"))]


def next_item_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds of every metric, ``fit_s``, ``eval_s`` and ``epochs``.

    Args:
        results: Rows of :func:`~recutils.benchmark.next_item.run_next_item_benchmark` (or its CSV).

    Returns:
        One row per model in order of first appearance: ``model``, ``n_seeds`` and
        ``<column>_mean`` / ``<column>_sd`` (sd NaN with one seed).
    """
    missing = [c for c in ("model", "seed") if c not in results.columns]
    metrics = _metric_columns(results)
    if missing or not metrics:
        raise DataError(
            f"next-item results need model, seed and full_/sampled_ metric columns; missing "
            f"{missing or 'the metric columns'}."
        )
    values = [c for c in metrics + ["fit_s", "eval_s", "epochs"] if c in results.columns]
    frame = results[["model", "seed"] + values].copy()
    frame[values] = frame[values].apply(pd.to_numeric, errors="coerce")
    grouped = frame.groupby("model", sort=False)
    out = grouped["seed"].nunique().rename("n_seeds").to_frame()
    agg = grouped[values].agg(["mean", "std"])
    agg.columns = [f"{c}_{'mean' if s == 'mean' else 'sd'}" for c, s in agg.columns]
    return out.join(agg).reset_index()


def next_item_per_user(
    per_user: pd.DataFrame,
    k: Sequence[int] = (10,),
    dataset: str = "beauty",
    col_user: str = DEFAULT_USER_COL,
) -> pd.DataFrame:
    """Per-user HR@k, NDCG@k and MRR@k from the ranks of the per-user file.

    Args:
        per_user: ``model, seed, <user>, full_rank, sampled_rank`` (0-based ranks).
        k: Cut-offs.
        dataset: Value of the ``dataset`` column.
        col_user: User column.

    Returns:
        ``dataset, protocol (full | sampled), model, seed, <user>, hr@k, ndcg@k, mrr@k``:
        the form :func:`recutils.benchmark.paired_tests` reads.
    """
    from recutils.evaluation.next_item import metric_from_ranks

    need = ["model", "seed", col_user, "full_rank", "sampled_rank"]
    missing = [c for c in need if c not in per_user.columns]
    if missing:
        raise DataError(f"the per-user ranks lack the columns {missing}.")
    parts = []
    for protocol in ("full", "sampled"):
        ranks = per_user[f"{protocol}_rank"].to_numpy()
        part = per_user[["model", "seed", col_user]].copy()
        part.insert(0, "protocol", protocol)
        part.insert(0, "dataset", dataset)
        for cut in k:
            for metric in _NAMES:
                part[f"{metric}@{cut}"] = metric_from_ranks(ranks, metric, int(cut))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def check_bars(summary: pd.DataFrame, bars: Sequence[Any]) -> pd.DataFrame:
    """Check quality bars against the means over seeds.

    Args:
        summary: :func:`next_item_summary` output.
        bars: :class:`~recutils.benchmark.next_item.Bar` entries (or mappings with their keys).

    Returns:
        One row per bar: ``model``, ``bar`` (its text), ``value`` (the mean, or the smallest
        margin over the beaten model), ``met`` (bool; ``False`` when the model has no results).
    """
    from recutils.benchmark.next_item import Bar

    by_model = summary.set_index("model")
    metrics = [
        c.removesuffix("_mean")
        for c in summary.columns
        if c.startswith(("full_", "sampled_")) and c.endswith("_mean")
    ]
    rows = []
    for bar in bars:
        bar = bar if isinstance(bar, Bar) else Bar.from_dict(dict(bar))
        if bar.at_least is not None:
            text = f"{bar.metric} >= {bar.at_least:.4f}" + (
                f" ({bar.source})" if bar.source else ""
            )
            value = (
                by_model[f"{bar.metric}_mean"].get(bar.model, np.nan)
                if f"{bar.metric}_mean" in by_model
                else np.nan
            )
            met = bool(np.isfinite(value) and value >= bar.at_least)
        else:
            text = f"beats `{bar.beats}` on every metric"
            if bar.model in by_model.index and bar.beats in by_model.index:
                margins = [
                    by_model.at[bar.model, f"{m}_mean"] - by_model.at[bar.beats, f"{m}_mean"]
                    for m in metrics
                ]
                value = float(np.min(margins))
                met = bool(value > 0)
            else:
                value, met = np.nan, False
        rows.append({"model": bar.model, "bar": text, "value": value, "met": met})
    return pd.DataFrame(rows, columns=["model", "bar", "value", "met"])


def ranking_shift(summary: pd.DataFrame, metric: str = "NDCG@10") -> tuple[pd.DataFrame, float]:
    """Model places under a full-ranking metric and under its sampled counterpart.

    Args:
        summary: :func:`next_item_summary` output.
        metric: ``HR@k``, ``NDCG@k`` or ``MRR@k``.

    Returns:
        ``(places, tau)``: ``model, full, sampled, full_place, sampled_place, moved``
        (places 1 = best, ties in the summary's order; ``moved`` = sampled place - full
        place) sorted by full place,
        and Kendall's tau between the two orders (1: the same order).
    """
    from scipy import stats

    cols = {r: f"{r}_{metric}_mean" for r in ("full", "sampled")}
    missing = [c for c in cols.values() if c not in summary.columns]
    if missing:
        raise DataError(
            f"the summary lacks {missing}; metrics have the form HR@10, NDCG@10, MRR@10."
        )
    out = summary[["model", cols["full"], cols["sampled"]]].rename(
        columns={v: k for k, v in cols.items()}
    )
    for r in ("full", "sampled"):
        out[f"{r}_place"] = out[r].rank(ascending=False, method="first").astype(int)
    out["moved"] = out["sampled_place"] - out["full_place"]
    tau = (
        float(stats.kendalltau(out["full"], out["sampled"]).statistic)
        if len(out) > 1
        else float("nan")
    )
    return out.sort_values(["full_place", "model"]).reset_index(drop=True), tau


def next_item_markdown(
    results: pd.DataFrame,
    per_user: pd.DataFrame | None = None,
    *,
    bars: Sequence[Any] = (),
    reference_model: str | None = None,
    k: int = 10,
    machine: dict[str, Any] | None = None,
    dataset: str = "beauty",
    alpha: float = 0.05,
) -> str:
    """The Markdown report of a next-item benchmark: the table, the ranking shift, the notes.

    Args:
        results: Rows of the runner (or its CSV).
        per_user: The per-user ranks (for the paired tests), or None.
        bars: Quality bars (:func:`check_bars`).
        reference_model: Model the others are tested against, user by user (NDCG@k, full
            and sampled ranking).
        k: The cut-off shown.
        machine: The machine description (``*_machine.json``).
        dataset: Data set name in the text.
        alpha: Level of the Holm-adjusted tests.

    Returns:
        Markdown text ending with a newline.
    """
    from recutils.benchmark.stats import paired_tests

    summary = next_item_summary(results)
    tests = None
    if (
        per_user is not None
        and reference_model is not None
        and reference_model in set(per_user["model"])
    ):
        tests = paired_tests(
            next_item_per_user(per_user, (k,), dataset), reference_model, [f"ndcg@{k}"], alpha=alpha
        )
    checked = check_bars(summary, bars) if bars else None
    metrics = [f"{r}_{_NAMES[m]}@{k}" for r in ("full", "sampled") for m in _NAMES]
    header = (
        ["model", "seeds", "epochs"]
        + [f"{m.split('_')[1]} {m.split('_')[0]}" for m in metrics]
        + ["fit s", "eval s"]
    )
    if tests is not None:
        header.append(f"NDCG@{k} vs {reference_model}, full / sampled: diff (p t, p Wilcoxon)")
    if checked is not None:
        header.append("bar")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in summary.to_dict("records"):
        cells = [
            f"`{row['model']}`",
            str(int(row["n_seeds"])),
            _fmt(row.get("epochs_mean", np.nan), np.nan, 0),
        ]
        cells += [
            _fmt(row.get(f"{m}_mean", np.nan), row.get(f"{m}_sd", np.nan), 4) for m in metrics
        ]
        cells += [
            _fmt(row.get(f"{c}_mean", np.nan), row.get(f"{c}_sd", np.nan), 1)
            for c in ("fit_s", "eval_s")
        ]
        if tests is not None:
            if row["model"] == reference_model:
                cells.append("reference")
            else:
                parts = []
                for protocol in ("full", "sampled"):
                    t = tests[(tests["model"] == row["model"]) & (tests["protocol"] == protocol)]
                    if t.empty:
                        continue
                    t = t.iloc[0]
                    mark = (
                        ("**better**" if t["mean_diff"] > 0 else "**worse**")
                        if t["significant"]
                        else "n.s."
                    )
                    parts.append(
                        f"{t['mean_diff']:+.4f} ({_p(t['t_pvalue_holm'])}, "
                        f"{_p(t['wilcoxon_pvalue_holm'])}) {mark}"
                    )
                cells.append(" / ".join(parts))
        if checked is not None:
            mine = checked[checked["model"] == row["model"]]
            cells.append(
                "; ".join(
                    f"{b} {'met' if ok else '**not met**'}"
                    for b, ok in zip(mine["bar"], mine["met"])
                )
            )
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    shifts = []
    for m in ("HR", "NDCG"):
        places, tau = ranking_shift(summary, f"{m}@{k}")
        moved = places[places["moved"] != 0]
        detail = ", ".join(
            f"`{r.model}` {r.full_place} -> {r.sampled_place}" for r in moved.itertuples()
        )
        shifts.append(
            f"{m}@{k}: Kendall's tau {tau:.2f}" + (f" ({detail})" if detail else ", no model moves")
        )
    text += (
        "\nFull ranking scores the test item against every item the user has not met; sampled "
        f"ranking against 100 items drawn by popularity, the same draw for every model of a seed. "
        f"Places of the models under full and sampled ranking (full -> sampled): {'; '.join(shifts)}."
    )
    if tests is not None:
        text += (
            f" The test column compares each model with `{reference_model}` user by user "
            f"(NDCG@{k} averaged for each user over the seeds both models ran, since a seed fixes "
            f"the sampled negatives): difference of the means, Holm-adjusted "
            f"p-values of the paired t-test and the Wilcoxon signed-rank test; **better**/**worse** when "
            f"both are below {alpha}."
        )
    text += (
        " Mean ± sd over seeds; epochs: epochs run (with early stopping, training ends "
        "`patience` + 1 epochs after the best validation NDCG@10 and keeps that epoch's "
        "weights). Times are "
        "wall-clock seconds."
    )
    machine_line = _machine_line(machine)
    if machine_line:
        text += " " + machine_line
    return text + "\n"


__all__ = [
    "check_bars",
    "next_item_markdown",
    "next_item_per_user",
    "next_item_summary",
    "ranking_shift",
]
