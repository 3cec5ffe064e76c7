"""Mean and spread over seeds, paired tests per user, and the check against reference figures.

* :func:`summarize`: mean, standard deviation (``ddof=1``) and number of seeds of every
  metric and timing, per dataset x protocol x model.
* :func:`paired_tests`: each model against a reference model, user by user: for every
  user the metric is averaged over the seeds in which both models were evaluated on the
  same split, then the paired differences (model - reference) over users are tested with
  the paired t-test (:func:`scipy.stats.ttest_rel`) and the Wilcoxon signed-rank test
  (:func:`scipy.stats.wilcoxon`, zero differences dropped), with Cohen's d of the paired
  differences (:math:`d_z = \\bar{\\Delta} / s_\\Delta`) as the effect size, and Holm's
  correction of the p-values over the models compared within one protocol and metric.
* :func:`compare_to_reference`: whether each model "matches or beats" a published figure
  within one standard deviation over seeds: ``mean + sd >= figure`` for metrics where
  higher is better, ``mean - sd <= figure`` for errors (RMSE, MAE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_USER_COL
from recutils.exceptions import ConfigError, DataError

GROUP = ["dataset", "protocol", "model"]
#: Metrics where lower is better (everything else: higher is better).
LOWER_IS_BETTER = {"rmse", "mae", "fit_s", "recommend_s", "predict_s", "peak_mem_mb"}
#: Built-in reference figures (name -> file in ``recutils/benchmark/references``).
BUILTIN_REFERENCES = {"movielens_100k": "movielens_100k.yaml"}


def higher_is_better(metric: str) -> bool:
    """Direction of a result column (``"ndcg@10"``, ``"rmse"`` ...)."""
    return metric.split("@")[0] not in LOWER_IS_BETTER


def _value_columns(df: pd.DataFrame) -> list[str]:
    skip = set(GROUP) | {"registry", "seed", "k", "memory_method", "params"}
    return [c for c in df.columns if c not in skip
            and pd.api.types.is_numeric_dtype(pd.to_numeric(df[c], errors="coerce"))
            and pd.to_numeric(df[c], errors="coerce").notna().any() | df[c].isna().all()]


def summarize(results: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean and standard deviation over seeds.

    Args:
        results: The frame of :func:`recutils.benchmark.run_benchmark`.
        columns: Value columns to summarize; default every numeric column but the keys.

    Returns:
        One row per dataset x protocol x model (in order of first appearance), columns
        ``n_seeds`` and ``<col>_mean``, ``<col>_sd`` for each value column (sd is NaN with
        one seed; columns that are NaN for a model, such as RMSE of a ranking model, stay NaN).
    """
    missing = [c for c in GROUP + ["seed"] if c not in results.columns]
    if missing:
        raise DataError(f"results lack the columns {missing}; pass the frame run_benchmark returns.")
    cols = list(columns) if columns is not None else _value_columns(results)
    grouped = results.groupby(GROUP, sort=False)
    out = grouped["seed"].nunique().rename("n_seeds").to_frame()
    values = results[GROUP + cols].copy()
    values[cols] = values[cols].apply(pd.to_numeric, errors="coerce")
    agg = values.groupby(GROUP, sort=False)[cols].agg(["mean", "std"])
    agg.columns = [f"{c}_{'mean' if s == 'mean' else 'sd'}" for c, s in agg.columns]
    return out.join(agg).reset_index()


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN kept)."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adj, 1.0)
    return out


def paired_tests(
    per_user: pd.DataFrame,
    reference: str,
    metrics: Sequence[str] | None = None,
    *,
    col_user: str = DEFAULT_USER_COL,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Paired tests per user of every model against ``reference``.

    Args:
        per_user: Per-user values (columns dataset, protocol, model, seed, ``col_user`` and
            metric columns), as returned by ``run_benchmark(..., return_per_user=True)``.
        reference: The model every other model is compared with.
        metrics: Metric columns to test; default every numeric column but the keys.
        col_user: User column.
        alpha: Level of the ``significant`` column (Holm-adjusted Wilcoxon and t-test
            p-values both below it).

    Returns:
        One row per dataset x protocol x model (reference excluded) x metric with
        ``n_users``, ``n_seeds``, ``mean_model``, ``mean_reference``, ``mean_diff``,
        ``cohens_d``, ``t_stat``, ``t_pvalue``, ``wilcoxon_stat``, ``wilcoxon_pvalue``,
        ``t_pvalue_holm``, ``wilcoxon_pvalue_holm`` and ``significant``.

    Raises:
        DataError: missing columns, or ``reference`` absent from ``per_user``.
    """
    from scipy import stats

    keys = ["dataset", "protocol", "model", "seed", col_user]
    missing = [c for c in keys if c not in per_user.columns]
    if missing:
        raise DataError(f"per-user frame lacks the columns {missing}.")
    if reference not in set(per_user["model"]):
        raise DataError(f"reference model {reference!r} is not in the per-user frame; it has "
                        f"{sorted(per_user['model'].unique())}.")
    if metrics is None:
        metrics = [c for c in per_user.columns if c not in keys and pd.api.types.is_numeric_dtype(per_user[c])]
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in per_user.columns]
    if unknown:
        raise DataError(f"metrics {unknown} are not columns of the per-user frame.")
    ref = per_user[per_user["model"] == reference].drop(columns="model")
    rows: list[dict[str, Any]] = []
    for (dataset, protocol, model), part in per_user[per_user["model"] != reference].groupby(
            ["dataset", "protocol", "model"], sort=False):
        joined = part.drop(columns="model").merge(
            ref[ref["protocol"] == protocol], on=["dataset", "protocol", "seed", col_user],
            suffixes=("_m", "_r"))
        n_seeds = int(joined["seed"].nunique())
        for metric in metrics:
            by_user = joined.groupby(col_user)[[f"{metric}_m", f"{metric}_r"]].mean().dropna()
            a = by_user[f"{metric}_m"].to_numpy()
            b = by_user[f"{metric}_r"].to_numpy()
            diff = a - b
            row = {"dataset": dataset, "protocol": protocol, "model": model, "reference": reference,
                   "metric": metric, "n_users": int(diff.size), "n_seeds": n_seeds,
                   "mean_model": float(a.mean()) if a.size else np.nan,
                   "mean_reference": float(b.mean()) if b.size else np.nan,
                   "mean_diff": float(diff.mean()) if diff.size else np.nan}
            sd = float(diff.std(ddof=1)) if diff.size > 1 else np.nan
            if diff.size < 2 or not np.any(diff != 0):
                row.update(cohens_d=0.0 if diff.size else np.nan, t_stat=0.0, t_pvalue=1.0,
                           wilcoxon_stat=np.nan, wilcoxon_pvalue=1.0)
            else:
                t = stats.ttest_rel(a, b)
                w = stats.wilcoxon(a, b, zero_method="wilcox")
                row.update(cohens_d=float(np.mean(diff) / sd) if sd > 0 else np.nan,
                           t_stat=float(t.statistic), t_pvalue=float(t.pvalue),
                           wilcoxon_stat=float(w.statistic), wilcoxon_pvalue=float(w.pvalue))
            rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    for col in ("t_pvalue", "wilcoxon_pvalue"):
        out[f"{col}_holm"] = np.nan
        for _, idx in out.groupby(["dataset", "protocol", "metric"], sort=False).groups.items():
            out.loc[idx, f"{col}_holm"] = _holm(out.loc[idx, col].to_numpy())
    out["significant"] = (out["t_pvalue_holm"] < alpha) & (out["wilcoxon_pvalue_holm"] < alpha)
    return out


def load_reference(source: str | Path | Mapping[str, Any] = "movielens_100k") -> pd.DataFrame:
    """Reference figures as a long frame: dataset, protocol, model, their_model, metric, value, source.

    Args:
        source: A built-in name (``"movielens_100k"``: Microsoft Recommenders' table), a
            YAML file, or the parsed mapping (keys ``source``, ``dataset``, ``protocol``,
            ``figures``: a list of ``{model, their_model, their_params, metrics}``).

    Raises:
        ConfigError: an unknown key or a malformed document.
    """
    import yaml

    if isinstance(source, Mapping):
        doc = source
    elif isinstance(source, str) and source in BUILTIN_REFERENCES:
        doc = yaml.safe_load(resources.files("recutils.benchmark").joinpath(
            "references", BUILTIN_REFERENCES[source]).read_text())
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"reference file {str(path)!r} does not exist; built-in: {sorted(BUILTIN_REFERENCES)}.")
        doc = yaml.safe_load(path.read_text())
    allowed, fig_allowed = {"source", "dataset", "protocol", "k", "figures"}, {
        "model", "their_model", "their_params", "metrics"}
    if not isinstance(doc, Mapping) or not isinstance(doc.get("figures"), list):
        raise ConfigError("a reference document is a mapping with a 'figures' list.")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ConfigError(f"unknown reference key(s) {unknown}; allowed: {sorted(allowed)}.")
    rows = []
    for fig in doc["figures"]:
        bad = sorted(set(fig) - fig_allowed) if isinstance(fig, Mapping) else ["<not a mapping>"]
        if bad or "model" not in fig or not isinstance(fig.get("metrics"), Mapping):
            raise ConfigError(f"reference figure {fig!r}: needs model and metrics; unknown keys {bad}, "
                              f"allowed {sorted(fig_allowed)}.")
        for metric, value in fig["metrics"].items():
            rows.append({"dataset": doc.get("dataset"), "protocol": doc.get("protocol"), "model": fig["model"],
                         "their_model": fig.get("their_model", fig["model"]), "metric": metric,
                         "value": float(value), "source": doc.get("source", "")})
    return pd.DataFrame(rows)


def compare_to_reference(summary: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Check each model against the reference figures within one standard deviation over seeds.

    Args:
        summary: The frame of :func:`summarize`.
        reference: The frame of :func:`load_reference`.

    Returns:
        One row per reference figure whose model, dataset and protocol are in ``summary``:
        dataset, protocol, model, their_model, metric, reference, mean, sd, n_seeds,
        ``passes`` (``mean + sd >= reference``, or ``mean - sd <= reference`` for errors)
        and ``diff`` (mean - reference). Models of the reference that were not run are
        left out.
    """
    rows = []
    for ref in reference.itertuples(index=False):
        hit = summary[(summary["model"] == ref.model) & (summary["dataset"] == ref.dataset)
                      & (summary["protocol"] == ref.protocol)]
        if hit.empty or f"{ref.metric}_mean" not in summary.columns:
            continue
        s = hit.iloc[0]
        mean, sd = float(s[f"{ref.metric}_mean"]), float(s[f"{ref.metric}_sd"])
        sd0 = 0.0 if np.isnan(sd) else sd
        ok = mean + sd0 >= ref.value if higher_is_better(ref.metric) else mean - sd0 <= ref.value
        rows.append({"dataset": ref.dataset, "protocol": ref.protocol, "model": ref.model,
                     "their_model": ref.their_model, "metric": ref.metric, "reference": ref.value,
                     "mean": mean, "sd": sd, "n_seeds": int(s["n_seeds"]), "diff": mean - ref.value,
                     "passes": bool(ok) if np.isfinite(mean) else False})
    return pd.DataFrame(rows, columns=["dataset", "protocol", "model", "their_model", "metric", "reference",
                                       "mean", "sd", "n_seeds", "diff", "passes"])


__all__ = ["summarize", "paired_tests", "load_reference", "compare_to_reference", "higher_is_better",
           "BUILTIN_REFERENCES", "LOWER_IS_BETTER"]
