"""Behaviour-sequence click-through models against the same features without the history.

Two settings, each a fixed data preparation, a list of models and a history-free reference
(:data:`SETTINGS`):

* ``taobao``: the Taobao UserBehavior head (:mod:`recutils.datasets.taobao`, behaviours
  outside the data set's window dropped) made into click-through samples by
  :func:`recutils.datasets.behaviour_ctr.history_samples` (every behaviour a positive
  target with its latest ``max_len`` behaviours as the history, one negative per positive
  drawn from the items of the day up to the target, seed 42), split by time: targets on the
  test day (2017-12-03, China time) are the test rows, earlier ones the training rows. DIN,
  DIEN and BST against ``mlp_no_history``, the same feature set without the history
  (``mlp_taobao.yaml``).
* ``grocery``: Amazon Grocery reviews (ReChorus' file) in Microsoft Recommenders'
  sequential setting, :func:`recutils.datasets.behaviour_ctr.leave_last_out_samples`
  (each user's last review for test with 9 popularity-drawn negatives, the one before for
  validation, earlier ones for training with 4 negatives each, seed 42). SLi-Rec, A2SVD,
  SUM and a GRU over the history against ``deepfm_no_history`` (``deepfm_grocery.yaml``).

Every model is its shipped config (``recutils/models/ctr/configs``) trained by the trainer
with the config's early stopping (the AUC of 10% of the training rows drawn at random,
never the test rows); the seed is the model's (weights, batches, the early-stopping rows),
the samples are the same for every seed. Test rows are scored with
``predict(test, score_unknown=True)``. Metrics per run: pooled ``auc``, ``gauc`` (each
user's AUC weighted by the user's rows), ``logloss`` and, on grocery, ``mrr`` (at 10) and
``ndcg@2`` per user as Microsoft's notebook reports them. Per user: ``user_auc`` (the
user's AUC, ties counting one half), the values of the paired tests
(:func:`recutils.benchmark.paired_tests`: each model against the reference, and on grocery
SLi-Rec against the GRU and against A2SVD, whatever the sign).

The bars (:func:`behaviour_bars`): a model clears its setting's bar when its mean over the
seeds of the setting's metric (``auc`` on taobao, ``gauc`` on grocery) is above the
reference's and its per-user AUC is above the reference's with both paired tests
(Holm-adjusted) below 0.05.

Only numpy and pandas are imported here; the models and torch when a model is fitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.constants import DEFAULT_LABEL_COL, DEFAULT_TIMESTAMP_COL, DEFAULT_USER_COL
from recutils.exceptions import ConfigError, DataError

logger = logging.getLogger(__name__)

#: The test day of the Taobao setting (China time).
TAOBAO_TEST_DAY = "2017-12-03"
#: Seed of the samples (negatives) of both settings, whatever the model's seed.
SAMPLE_SEED = 42
#: The row key the metrics join predictions to labels on.
ROW_COL = "row"


@dataclass(frozen=True)
class BehaviourSetting:
    """One setting of the benchmark: its models (the reference first), the reference's
    shipped config, the metric of the bar and the extra comparisons reported."""

    name: str
    models: tuple[str, ...]
    reference: str
    reference_config: str
    bar_metric: str
    protocol: str
    #: (model, against) pairs tested besides every model against the reference.
    comparisons: tuple[tuple[str, str], ...] = ()


#: The two settings; models run in this order.
SETTINGS: dict[str, BehaviourSetting] = {
    "taobao": BehaviourSetting(
        name="taobao",
        models=("mlp_no_history", "din", "dien", "bst"),
        reference="mlp_no_history",
        reference_config="mlp_taobao.yaml",
        bar_metric="auc",
        protocol=f"test day {TAOBAO_TEST_DAY}",
    ),
    "grocery": BehaviourSetting(
        name="grocery",
        models=("deepfm_no_history", "gru_history", "a2svd", "slirec", "sum"),
        reference="deepfm_no_history",
        reference_config="deepfm_grocery.yaml",
        bar_metric="gauc",
        protocol="leave last out",
        comparisons=(("slirec", "gru_history"), ("slirec", "a2svd")),
    ),
}

#: Result columns, in order (``mrr`` and ``ndcg@2`` are empty on taobao).
RESULT_COLUMNS: tuple[str, ...] = (
    "setting",
    "model",
    "seed",
    "n_users",
    "max_len",
    "n_train",
    "n_test",
    "epochs",
    "best_epoch",
    "auc",
    "gauc",
    "logloss",
    "mrr",
    "ndcg@2",
    "fit_s",
    "config_sha",
)
#: Per-user columns.
PER_USER_COLUMNS: tuple[str, ...] = ("setting", "model", "seed", DEFAULT_USER_COL, "user_auc")


def get_setting(name: str) -> BehaviourSetting:
    """The setting ``name`` (``taobao`` or ``grocery``); a ConfigError names the known ones."""
    if name not in SETTINGS:
        raise ConfigError(f"unknown setting {name!r}; known settings: {sorted(SETTINGS)}.")
    return SETTINGS[name]


# --------------------------------------------------------------------------- data


def _first_users(log: pd.DataFrame, n_users: int | None) -> pd.DataFrame:
    """The rows of the first ``n_users`` users by id (all users for ``None``)."""
    if n_users is None:
        return log
    if int(n_users) < 1:
        raise ConfigError(f"n_users must be a positive integer or None, got {n_users!r}.")
    users = np.sort(log[DEFAULT_USER_COL].unique())[: int(n_users)]
    return log[log[DEFAULT_USER_COL].isin(users)]


def taobao_data(
    n_users: int | None = None, max_len: int = 50, test_day: str = TAOBAO_TEST_DAY
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, test)`` of the taobao setting: samples with targets before / on ``test_day``.

    Args:
        n_users: Keep the first ``n_users`` users by id (``None``: all 815).
        max_len: Latest behaviours kept in a history.
        test_day: ``YYYY-MM-DD``, China time.

    Raises:
        DataError: no test rows (a ``test_day`` outside the data) or no training rows.
    """
    from recutils.datasets import taobao
    from recutils.datasets.behaviour_ctr import history_samples

    log = _first_users(taobao.load_pandas_df(drop_outside_window=True, progress=False), n_users)
    samples = history_samples(
        log, max_len=max_len, n_negatives=1, negative_sampling="contemporary", seed=SAMPLE_SEED
    )
    day = (
        pd.to_datetime(samples[DEFAULT_TIMESTAMP_COL], unit="s", utc=True)
        .dt.tz_convert("Asia/Shanghai")
        .dt.strftime("%Y-%m-%d")
    )
    is_test = (day == test_day).to_numpy()
    if not is_test.any() or is_test.all():
        raise DataError(
            f"test day {test_day!r} gives {int(is_test.sum())} test rows of {len(samples)}: "
            "choose a day of the data set (2017-11-25 .. 2017-12-03) other than the first."
        )
    train = samples[~is_test].reset_index(drop=True)
    test = samples[is_test].reset_index(drop=True)
    return train, test.assign(**{ROW_COL: np.arange(len(test))})


def grocery_data(
    n_users: int | None = None, max_len: int = 50
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(train, valid, test)`` of the grocery setting (Microsoft's leave-last-out samples).

    Args:
        n_users: Keep the first ``n_users`` users by id (``None``: all 14,681).
        max_len: Latest reviews kept in a history.
    """
    from recutils.datasets import amazon
    from recutils.datasets.behaviour_ctr import leave_last_out_samples

    log = _first_users(
        amazon.load_pandas_df("grocery", col_category="category", progress=False), n_users
    )
    train, valid, test = leave_last_out_samples(log, max_len=max_len, seed=SAMPLE_SEED)
    return (
        train,
        valid.assign(**{ROW_COL: np.arange(len(valid))}),
        test.assign(**{ROW_COL: np.arange(len(test))}),
    )


# --------------------------------------------------------------------------- metrics


def per_user_auc(users: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> pd.Series:
    """Each user's AUC of ``scores`` against 0/1 ``labels`` (ties count one half), indexed by
    user, for the users with both labels (the others have no AUC)."""
    frame = pd.DataFrame(
        {"user": users, "label": np.asarray(labels, dtype=np.float64), "score": scores}
    )
    frame["rank"] = frame.groupby("user")["score"].rank(method="average")
    agg = (
        frame.assign(n=1.0, rank_pos=frame["rank"] * frame["label"])
        .groupby("user")[["n", "label", "rank_pos"]]
        .sum()
    )
    pos, neg = agg["label"], agg["n"] - agg["label"]
    keep = (pos > 0) & (neg > 0)
    auc = (agg["rank_pos"] - pos * (pos + 1) / 2.0) / (pos * neg)
    return auc[keep].rename("user_auc")


def _metrics(frame: pd.DataFrame, scores: np.ndarray, ranking: bool) -> dict[str, float]:
    """Pooled AUC, gAUC and log loss of ``scores`` on ``frame``'s labels (and per-user MRR@10,
    NDCG@2 with ``ranking``), with the project's metric definitions."""
    from recutils.evaluation import auc, gauc, logloss, mrr_at_k, ndcg_at_k

    pred = pd.DataFrame(
        {DEFAULT_USER_COL: frame[DEFAULT_USER_COL], ROW_COL: frame[ROW_COL], "prediction": scores}
    )
    truth = frame[[DEFAULT_USER_COL, ROW_COL, DEFAULT_LABEL_COL]]
    keys = {"col_item": ROW_COL, "col_rating": DEFAULT_LABEL_COL}
    out = {m.__name__: float(m(truth, pred, **keys)) for m in (auc, gauc, logloss)}
    if ranking:
        relevant = truth[truth[DEFAULT_LABEL_COL] == 1]
        out["mrr"] = float(mrr_at_k(relevant, pred, k=10, **keys))
        out["ndcg@2"] = float(ndcg_at_k(relevant, pred, k=2, **keys))
    return out


# --------------------------------------------------------------------------- models


def build_model(
    setting: BehaviourSetting, name: str, seed: int, train: dict[str, Any] | None = None
) -> Any:
    """A fresh, unfitted model of ``setting``: the reference's config or the zoo's preset.

    Args:
        setting: The setting.
        name: One of ``setting.models``.
        seed: The model's seed.
        train: Training overrides merged into the config's ``train`` section.
    """
    from recutils.models import create_model
    from recutils.models.deep import DeepRankModel

    if name not in setting.models:
        raise ConfigError(
            f"model {name!r} is not in the {setting.name} setting; it has {list(setting.models)}."
        )
    overrides = dict(train or {})
    if name == setting.reference:
        return DeepRankModel.from_example(
            setting.reference_config, col_rating=DEFAULT_LABEL_COL, seed=seed, train=overrides
        )
    return create_model(name, col_rating=DEFAULT_LABEL_COL, seed=seed, train=overrides)


#: Config entries that do not change what a run computes: left out of its hash.
_NOT_HASHED = ("progress", "num_threads")


def config_sha(model: Any) -> str:
    """A short hash of the model's config without its seed and the settings that do not change
    the result (progress bars, threads): the same for every seed of one configuration, and what
    the resume key compares."""
    config = model.config.to_dict()
    config.pop("seed", None)
    config["train"] = {k: v for k, v in config.get("train", {}).items() if k not in _NOT_HASHED}
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- run


def _read(path: Path | None, columns: Sequence[str]) -> pd.DataFrame:
    if path is None or not Path(path).exists():
        return pd.DataFrame(columns=list(columns))
    return pd.read_csv(path)


def run_behaviour_benchmark(
    setting: str,
    seeds: Sequence[int] = (1, 2, 3),
    *,
    models: Sequence[str] | None = None,
    n_users: int | None = None,
    max_len: int = 50,
    epochs: int | None = None,
    num_threads: int | None = 1,
    results_path: str | Path | None = None,
    per_user_path: str | Path | None = None,
    progress: bool = False,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit and score every model of ``setting`` for every seed; resumable.

    Args:
        setting: ``taobao`` or ``grocery``.
        seeds: Model seeds.
        models: A subset of the setting's models (default all, the reference included).
        n_users: Keep the first ``n_users`` users by id (``None``: every user).
        max_len: Latest behaviours kept in a history.
        epochs: Most epochs of every model (``None``: each config's own; early stopping
            applies either way).
        num_threads: Torch CPU threads per fit (``None``: torch's default).
        results_path: CSV of the runs (:data:`RESULT_COLUMNS`): a run whose setting, model,
            seed, size, history length and config hash are already there is kept, not
            refitted; each new run is appended as soon as it ends.
        per_user_path: CSV (``.csv.gz``) of every run's per-user AUC.
        progress: Training progress bars.
        on_run: Called with each new result row.

    Returns:
        ``(results, per_user)`` of every run of the setting, the resumed ones included.
    """
    spec = get_setting(setting)
    chosen = list(spec.models if models is None else models)
    unknown = [m for m in chosen if m not in spec.models]
    if unknown:
        raise ConfigError(
            f"models {unknown} are not in the {setting} setting; it has {list(spec.models)}."
        )
    if not seeds:
        raise ConfigError("give at least one seed.")
    results = _read(results_path, RESULT_COLUMNS)
    per_user = _read(per_user_path, PER_USER_COLUMNS)
    if spec.name == "taobao":
        train, test = taobao_data(n_users, max_len)
    else:
        train, _, test = grocery_data(n_users, max_len)
    size = -1 if n_users is None else int(n_users)
    overrides: dict[str, Any] = {"progress": bool(progress), "num_threads": num_threads}
    if epochs is not None:
        overrides["epochs"] = int(epochs)
    for seed in seeds:
        for name in chosen:
            model = build_model(spec, name, int(seed), overrides)
            sha = config_sha(model)
            done = results[
                (results["setting"] == spec.name)
                & (results["model"] == name)
                & (results["seed"] == int(seed))
                & (results["n_users"] == size)
                & (results["max_len"] == int(max_len))
                & (results["config_sha"] == sha)
            ]
            if len(done):
                logger.info("kept: %s %s seed %d", spec.name, name, seed)
                continue
            logger.info("fitting %s %s seed %d on %d rows", spec.name, name, seed, len(train))
            start = time.perf_counter()
            model.fit(train)
            fit_s = time.perf_counter() - start
            scores = model.predict(test, score_unknown=True)["prediction"].to_numpy()
            metrics = _metrics(test, scores, ranking=spec.name == "grocery")
            row = {
                "setting": spec.name,
                "model": name,
                "seed": int(seed),
                "n_users": size,
                "max_len": int(max_len),
                "n_train": len(train),
                "n_test": len(test),
                "epochs": len(model.history_),
                "best_epoch": model.best_epoch_,
                "mrr": np.nan,
                "ndcg@2": np.nan,
                **metrics,
                "fit_s": fit_s,
                "config_sha": sha,
            }
            users = per_user_auc(
                test[DEFAULT_USER_COL].to_numpy(), test[DEFAULT_LABEL_COL].to_numpy(), scores
            )
            user_rows = pd.DataFrame(
                {
                    "setting": spec.name,
                    "model": name,
                    "seed": int(seed),
                    DEFAULT_USER_COL: users.index,
                    "user_auc": users.to_numpy(),
                }
            )
            results = pd.concat(
                [results.dropna(axis=1, how="all"), pd.DataFrame([row])], ignore_index=True
            ).reindex(columns=list(RESULT_COLUMNS))
            per_user = pd.concat(
                [per_user.dropna(axis=1, how="all"), user_rows], ignore_index=True
            ).reindex(columns=list(PER_USER_COLUMNS))
            if results_path is not None:
                results.to_csv(results_path, index=False)
            if per_user_path is not None:
                per_user.to_csv(per_user_path, index=False)
            if on_run is not None:
                on_run(row)
    return results, per_user


# --------------------------------------------------------------------------- report


def behaviour_tests(results: pd.DataFrame, per_user: pd.DataFrame) -> pd.DataFrame:
    """The paired per-user AUC tests of every setting in ``results``: each model against the
    setting's reference and the setting's extra comparisons (``against`` names the other
    model). Each user's AUC is averaged over the seeds first; only the runs in ``results``
    (same sizes and configs) are read from ``per_user``."""
    from recutils.benchmark.stats import paired_tests

    keys = ["setting", "model", "seed"]
    runs = results[keys].drop_duplicates()
    values = per_user.merge(runs, on=keys)
    out = []
    for name in pd.unique(results["setting"]):
        spec = get_setting(name)
        part = values[values["setting"] == name].assign(dataset=name, protocol=spec.protocol)
        if spec.reference in set(part["model"]) and part["model"].nunique() > 1:
            out.append(
                paired_tests(part, spec.reference, ["user_auc"]).assign(against=spec.reference)
            )
        for model, against in spec.comparisons:
            pair = part[part["model"].isin([model, against])]
            if pair["model"].nunique() == 2:
                out.append(paired_tests(pair, against, ["user_auc"]).assign(against=against))
    if not out:
        return pd.DataFrame()
    return pd.concat(out, ignore_index=True).rename(columns={"dataset": "setting"})


def behaviour_bars(results: pd.DataFrame, tests: pd.DataFrame) -> pd.DataFrame:
    """One row per model (not the reference) of every setting: its mean of the setting's bar
    metric, the reference's, the per-user AUC difference with its Holm-adjusted p-values and
    ``met`` (see the module docstring)."""
    rows = []
    for name in pd.unique(results["setting"]):
        spec = get_setting(name)
        part = results[results["setting"] == name]
        means = part.groupby("model")[spec.bar_metric].mean()
        if spec.reference not in means.index:
            continue
        for model in [m for m in spec.models if m in means.index and m != spec.reference]:
            test = tests[
                (tests["setting"] == name)
                & (tests["model"] == model)
                & (tests["against"] == spec.reference)
            ]
            t = test.iloc[0] if len(test) else None
            diff = float(t["mean_diff"]) if t is not None else np.nan
            significant = bool(t["significant"]) if t is not None else False
            rows.append(
                {
                    "setting": name,
                    "model": model,
                    "metric": spec.bar_metric,
                    "value": float(means[model]),
                    "reference": float(means[spec.reference]),
                    "user_auc_diff": diff,
                    "t_pvalue_holm": float(t["t_pvalue_holm"]) if t is not None else np.nan,
                    "wilcoxon_pvalue_holm": (
                        float(t["wilcoxon_pvalue_holm"]) if t is not None else np.nan
                    ),
                    "met": bool(means[model] > means[spec.reference] and diff > 0 and significant),
                }
            )
    return pd.DataFrame(rows)


def _p(p: float) -> str:
    return "" if pd.isna(p) else ("<0.0001" if p < 1e-4 else f"{p:.4f}")


def _mean_sd(values: pd.Series, digits: int = 4) -> str:
    values = values.astype(float).dropna()
    if values.empty:
        return ""
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {sd:.{digits}f}"


def behaviour_markdown(results: pd.DataFrame, per_user: pd.DataFrame) -> str:
    """Markdown tables of the benchmark, one per setting: metrics as mean ± sd over the
    seeds, the per-user AUC difference from the reference with its paired p-values (t /
    Wilcoxon, Holm-adjusted), the bar; then the extra comparisons."""
    tests = behaviour_tests(results, per_user)
    bars = behaviour_bars(results, tests)
    out = []
    for name in pd.unique(results["setting"]):
        spec = get_setting(name)
        part = results[results["setting"] == name]
        first = part.iloc[0]
        users = (
            "all users" if int(first["n_users"]) < 0 else f"the first {int(first['n_users'])} users"
        )
        out.append(
            f"**{name}** ({spec.protocol}; {users}, histories of {int(first['max_len'])}, "
            f"{int(first['n_train']):,} training rows, {int(first['n_test']):,} test rows):\n"
        )
        metrics = ["auc", "gauc", "logloss"] + (["mrr", "ndcg@2"] if name == "grocery" else [])
        head = [
            "model",
            "seeds",
            "epochs",
            *metrics,
            "fit s",
            "user AUC − reference (p t / W)",
            "bar",
        ]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for model in [m for m in spec.models if m in set(part["model"])]:
            runs = part[part["model"] == model]
            cells = [f"`{model}`", str(runs["seed"].nunique()), f"{runs['epochs'].mean():.1f}"]
            cells += [_mean_sd(runs[m]) for m in metrics]
            cells.append(f"{runs['fit_s'].mean():.0f}")
            t = (
                tests[
                    (tests["setting"] == name)
                    & (tests["model"] == model)
                    & (tests["against"] == spec.reference)
                ]
                if len(tests)
                else tests
            )
            if model == spec.reference:
                cells.append("reference")
            elif len(t):
                r = t.iloc[0]
                cells.append(
                    f"{r['mean_diff']:+.4f} ({_p(r['t_pvalue_holm'])} / {_p(r['wilcoxon_pvalue_holm'])})"
                )
            else:
                cells.append("")
            b = bars[(bars["setting"] == name) & (bars["model"] == model)] if len(bars) else bars
            if len(b):
                verdict = "**met**" if bool(b.iloc[0]["met"]) else "**not met**"
                cells.append(f"{spec.bar_metric} above the reference, paired test: {verdict}")
            else:
                cells.append("")
            lines.append("| " + " | ".join(cells) + " |")
        out.append("\n".join(lines) + "\n")
        for model, against in spec.comparisons:
            t = (
                tests[
                    (tests["setting"] == name)
                    & (tests["model"] == model)
                    & (tests["against"] == against)
                ]
                if len(tests)
                else tests
            )
            if len(t):
                r = t.iloc[0]
                out.append(
                    f"`{model}` against `{against}`, per-user AUC: {r['mean_diff']:+.4f} "
                    f"(paired t p {_p(r['t_pvalue_holm'])}, Wilcoxon p {_p(r['wilcoxon_pvalue_holm'])}, "
                    f"{int(r['n_users']):,} users, {int(r['n_seeds'])} seeds).\n"
                )
    return "\n".join(out)


__all__ = [
    "PER_USER_COLUMNS",
    "RESULT_COLUMNS",
    "SETTINGS",
    "BehaviourSetting",
    "behaviour_bars",
    "behaviour_markdown",
    "behaviour_tests",
    "build_model",
    "config_sha",
    "get_setting",
    "grocery_data",
    "per_user_auc",
    "run_behaviour_benchmark",
    "taobao_data",
]
