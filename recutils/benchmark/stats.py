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
* :func:`delong_test`: DeLong's test of two correlated ROC AUCs measured on the same rows.
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
    return [
        c
        for c in df.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(pd.to_numeric(df[c], errors="coerce"))
        and pd.to_numeric(df[c], errors="coerce").notna().any() | df[c].isna().all()
    ]


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
        raise DataError(
            f"results lack the columns {missing}; pass the frame run_benchmark returns."
        )
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
        raise DataError(
            f"reference model {reference!r} is not in the per-user frame; it has "
            f"{sorted(per_user['model'].unique())}."
        )
    if metrics is None:
        metrics = [
            c
            for c in per_user.columns
            if c not in keys and pd.api.types.is_numeric_dtype(per_user[c])
        ]
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in per_user.columns]
    if unknown:
        raise DataError(f"metrics {unknown} are not columns of the per-user frame.")
    ref = per_user[per_user["model"] == reference].drop(columns="model")
    rows: list[dict[str, Any]] = []
    for (dataset, protocol, model), part in per_user[per_user["model"] != reference].groupby(
        ["dataset", "protocol", "model"], sort=False
    ):
        joined = part.drop(columns="model").merge(
            ref[ref["protocol"] == protocol],
            on=["dataset", "protocol", "seed", col_user],
            suffixes=("_m", "_r"),
        )
        n_seeds = int(joined["seed"].nunique())
        for metric in metrics:
            by_user = joined.groupby(col_user)[[f"{metric}_m", f"{metric}_r"]].mean().dropna()
            a = by_user[f"{metric}_m"].to_numpy()
            b = by_user[f"{metric}_r"].to_numpy()
            diff = a - b
            row = {
                "dataset": dataset,
                "protocol": protocol,
                "model": model,
                "reference": reference,
                "metric": metric,
                "n_users": int(diff.size),
                "n_seeds": n_seeds,
                "mean_model": float(a.mean()) if a.size else np.nan,
                "mean_reference": float(b.mean()) if b.size else np.nan,
                "mean_diff": float(diff.mean()) if diff.size else np.nan,
            }
            sd = float(diff.std(ddof=1)) if diff.size > 1 else np.nan
            if diff.size < 2 or not np.any(diff != 0):
                row.update(
                    cohens_d=0.0 if diff.size else np.nan,
                    t_stat=0.0,
                    t_pvalue=1.0,
                    wilcoxon_stat=np.nan,
                    wilcoxon_pvalue=1.0,
                )
            else:
                t = stats.ttest_rel(a, b)
                w = stats.wilcoxon(a, b, zero_method="wilcox")
                row.update(
                    cohens_d=float(np.mean(diff) / sd) if sd > 0 else np.nan,
                    t_stat=float(t.statistic),
                    t_pvalue=float(t.pvalue),
                    wilcoxon_stat=float(w.statistic),
                    wilcoxon_pvalue=float(w.pvalue),
                )
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
        doc = yaml.safe_load(
            resources.files("recutils.benchmark")
            .joinpath("references", BUILTIN_REFERENCES[source])
            .read_text()
        )
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(
                f"reference file {str(path)!r} does not exist; built-in: {sorted(BUILTIN_REFERENCES)}."
            )
        doc = yaml.safe_load(path.read_text())
    allowed, fig_allowed = (
        {"source", "dataset", "protocol", "k", "figures"},
        {"model", "their_model", "their_params", "metrics"},
    )
    if not isinstance(doc, Mapping) or not isinstance(doc.get("figures"), list):
        raise ConfigError("a reference document is a mapping with a 'figures' list.")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise ConfigError(f"unknown reference key(s) {unknown}; allowed: {sorted(allowed)}.")
    rows = []
    for fig in doc["figures"]:
        bad = sorted(set(fig) - fig_allowed) if isinstance(fig, Mapping) else ["<not a mapping>"]
        if bad or "model" not in fig or not isinstance(fig.get("metrics"), Mapping):
            raise ConfigError(
                f"reference figure {fig!r}: needs model and metrics; unknown keys {bad}, "
                f"allowed {sorted(fig_allowed)}."
            )
        for metric, value in fig["metrics"].items():
            rows.append(
                {
                    "dataset": doc.get("dataset"),
                    "protocol": doc.get("protocol"),
                    "model": fig["model"],
                    "their_model": fig.get("their_model", fig["model"]),
                    "metric": metric,
                    "value": float(value),
                    "source": doc.get("source", ""),
                }
            )
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
        hit = summary[
            (summary["model"] == ref.model)
            & (summary["dataset"] == ref.dataset)
            & (summary["protocol"] == ref.protocol)
        ]
        if hit.empty or f"{ref.metric}_mean" not in summary.columns:
            continue
        s = hit.iloc[0]
        mean, sd = float(s[f"{ref.metric}_mean"]), float(s[f"{ref.metric}_sd"])
        sd0 = 0.0 if np.isnan(sd) else sd
        ok = mean + sd0 >= ref.value if higher_is_better(ref.metric) else mean - sd0 <= ref.value
        rows.append(
            {
                "dataset": ref.dataset,
                "protocol": ref.protocol,
                "model": ref.model,
                "their_model": ref.their_model,
                "metric": ref.metric,
                "reference": ref.value,
                "mean": mean,
                "sd": sd,
                "n_seeds": int(s["n_seeds"]),
                "diff": mean - ref.value,
                "passes": bool(ok) if np.isfinite(mean) else False,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "dataset",
            "protocol",
            "model",
            "their_model",
            "metric",
            "reference",
            "mean",
            "sd",
            "n_seeds",
            "diff",
            "passes",
        ],
    )


def _midranks(x: np.ndarray) -> np.ndarray:
    """Midranks (1-based, ties get the mean of their ranks) along the last axis."""
    from scipy.stats import rankdata

    return rankdata(x, method="average", axis=-1)


def delong_test(
    labels: Sequence[float] | np.ndarray,
    scores_a: Sequence[float] | np.ndarray,
    scores_b: Sequence[float] | np.ndarray,
) -> dict[str, float]:
    """DeLong's test of two correlated ROC AUCs on the same rows (DeLong et al. 1988).

    With ``m`` positive rows ``X_i`` and ``n`` negative rows ``Y_j``, the AUC of a scorer is
    the Mann-Whitney statistic ``A = mean_ij psi(X_i, Y_j)``, ``psi = 1`` when the positive
    scores higher, ``1/2`` on a tie. Its structural components are
    ``V10_i = mean_j psi(X_i, Y_j)`` (per positive) and ``V01_j = mean_i psi(X_i, Y_j)``
    (per negative); with ``S10`` and ``S01`` their 2 x 2 sample covariances over the two
    scorers, ``Var(A_a - A_b) = (S10_aa + S10_bb - 2 S10_ab) / m + (S01_aa + S01_bb -
    2 S01_ab) / n`` and ``z = (A_a - A_b) / sqrt(Var)``, two-sided ``p = 2 (1 - Phi(|z|))``.
    The components come from midranks (Sun and Xu 2014): ``V10_i = (R_i - T_i) / n`` and
    ``V01_j = 1 - (R_j - U_j) / m``, where ``R`` ranks every row, ``T`` the positives among
    themselves and ``U`` the negatives, so the test costs three sorts per scorer.

    A zero variance (for example identical scores, or both scorers perfect) is handled
    explicitly, never as 0/0: ``z = 0`` and ``pvalue = 1`` when the AUCs are equal,
    ``z = +-inf`` and ``pvalue = 0`` otherwise.

    Args:
        labels: 0/1 (or boolean) labels, both classes present.
        scores_a: Scores of the first model (higher: more likely positive), one per label.
        scores_b: Scores of the second model, on the same rows.

    Returns:
        ``{"auc_a", "auc_b", "diff" (auc_a - auc_b), "z", "pvalue"}``.

    Raises:
        DataError: lengths differ, labels not 0/1 or of one class only, scores not finite,
            or fewer than two rows of a class (the covariances need two).
    """
    from scipy.stats import norm

    y = np.asarray(labels)
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    if y.ndim != 1 or a.shape != y.shape or b.shape != y.shape:
        raise DataError(
            f"delong_test needs three 1-d arrays of one length, got labels {y.shape}, "
            f"scores_a {a.shape} and scores_b {b.shape}."
        )
    if not (np.isin(y, (0, 1)).all() and (y.dtype == bool or np.issubdtype(y.dtype, np.number))):
        raise DataError(
            "delong_test: labels must be 0/1 (or boolean); found "
            f"{pd.unique(y[~np.isin(y, (0, 1))])[:5].tolist()}."
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise DataError("delong_test: scores must be finite (NaN or infinite values found).")
    pos = y.astype(bool)
    m, n = int(pos.sum()), int((~pos).sum())
    if m < 2 or n < 2:
        raise DataError(
            f"delong_test needs at least two positive and two negative rows, got {m} and {n}."
        )
    scores = np.stack([a, b])  # [2, rows]
    x, yy = scores[:, pos], scores[:, ~pos]
    r_all = _midranks(scores)
    r_pos, r_neg = r_all[:, pos], r_all[:, ~pos]
    v10 = (r_pos - _midranks(x)) / n  # [2, m]
    v01 = 1.0 - (r_neg - _midranks(yy)) / m  # [2, n]
    auc = v10.mean(axis=1)
    cov = np.cov(v10) / m + np.cov(v01) / n
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    diff = float(auc[0] - auc[1])
    if var <= 0.0:  # identical scorers (or a degenerate case): no spread
        z = 0.0 if diff == 0.0 else float(np.copysign(np.inf, diff))
        pvalue = 1.0 if diff == 0.0 else 0.0
    else:
        z = diff / float(np.sqrt(var))
        pvalue = float(2.0 * norm.sf(abs(z)))
    return {"auc_a": float(auc[0]), "auc_b": float(auc[1]), "diff": diff, "z": z, "pvalue": pvalue}


__all__ = [
    "summarize",
    "paired_tests",
    "load_reference",
    "compare_to_reference",
    "higher_is_better",
    "delong_test",
    "BUILTIN_REFERENCES",
    "LOWER_IS_BETTER",
]
