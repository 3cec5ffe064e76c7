"""Multi-task models on census income: shipped presets x seeds, per-task test AUC, DeLong tests.

The protocol of the MMoE paper's census experiment (Ma et al. 2018) on the rows recutils
ships (:func:`recutils.datasets.census.load_census_income`: UCI Census-Income (KDD)'s test
file, split 60/20/20 stratified on income): two tasks, ``income`` (income above $50,000)
and ``marital`` (never married). Each model is trained on the train split, early-stopped
on the **valid** split (the weighted validation AUC of its tasks, the preset's
``train.patience``; the best epoch's weights are kept) and scores the test split. The
rows are tabular, so each row is its own user (``userID`` = its row in the file) and
every row has item ``0``; the test rows are scored with
``predict_tasks(test, score_unknown=True)``, their features read from the frame.

* :func:`census_models`: the shipped census presets as ``(name, config)`` pairs:
  ``single_task_income`` and ``single_task_marital`` (one tower, the single-task
  references), ``simple_multitask`` (shared bottom), ``mmoe``, ``ple`` and ``dbmtl``.
* :func:`fit_census_model`: one fit with early stopping on the valid split.
* :func:`run_multitask_benchmark`: models x seeds, a tidy frame (``model, seed, task, auc,
  logloss, fit_s, epochs``), the paired tests and the bar verdicts (:func:`check_bars`);
  resumable from a results CSV and a file of test scores.
* :func:`paired_delong_tests`: each multi-task model against the single-task model of each
  task, :func:`~recutils.benchmark.stats.delong_test` on the test rows using the
  seed-averaged scores, Holm-adjusted per task.

torch is imported only when a model is fitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.benchmark.data import sample_rows_of
from recutils.benchmark.stats import _holm, delong_test
from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recutils.datasets.census import CENSUS_SEED, INCOME_COL, NEVER_MARRIED_COL, split_census_income
from recutils.exceptions import ConfigError, DataError

logger = logging.getLogger(__name__)

#: The census tasks: name -> label column.
CENSUS_TASKS: dict[str, str] = {"income": INCOME_COL, "marital": NEVER_MARRIED_COL}
#: The folder of the shipped census presets (beside the MovieLens ones).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "models" / "multitask" / "configs"
#: Preset name -> shipped config file. ``single_task`` has one tower (``income``); its
#: label is chosen with ``task_labels`` (:func:`census_models`).
CENSUS_PRESETS: dict[str, str] = {
    "single_task": "single_task_census.yaml",
    "simple_multitask": "simple_multitask_census.yaml",
    "mmoe": "mmoe_census.yaml",
    "ple": "ple_census.yaml",
    "dbmtl": "dbmtl_census.yaml",
}
#: Name of the single-task reference of ``task`` in the results.
SINGLE_TASK = "single_task_{task}"
#: The shared-bottom model the bar (b) compares with.
SHARED_BOTTOM = "simple_multitask"
#: The models bar (a) asks to match or beat the single-task references.
BAR_A_MODELS: tuple[str, ...] = ("mmoe", "ple")
#: Result columns, in order.
RESULT_COLUMNS: tuple[str, ...] = (
    "model",
    "seed",
    "task",
    "auc",
    "logloss",
    "valid_auc",
    "fit_s",
    "epochs",
    "config_sha",
)


# --------------------------------------------------------------------------- data


def census_rows(
    frame: pd.DataFrame, *, col_user: str = DEFAULT_USER_COL, col_item: str = DEFAULT_ITEM_COL
) -> pd.DataFrame:
    """``frame`` with the ids the Recommender contract needs: each row its own user (its
    index, the row of the file for :func:`~recutils.datasets.census.load_census_income`)
    and item ``0``. The input is not modified.

    Raises:
        DataError: the index has repeated values (two rows would share a user).
    """
    if not frame.index.is_unique:
        raise DataError(
            "census rows need a unique index (it becomes the user id); call reset_index() first."
        )
    return frame.assign(**{col_user: frame.index.to_numpy(), col_item: 0})


def census_splits(
    frame: pd.DataFrame | None = None, *, sample_rows: int | None = None, seed: int = CENSUS_SEED
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train, valid and test census rows with ids (:func:`census_rows`).

    Args:
        frame: A loaded census frame (default: :func:`load_census_income` ``"all"``).
        sample_rows: Keep this many rows (drawn with ``seed``, in file order) before
            splitting; None keeps every row (the benchmark).
        seed: Seed of the sample and of :func:`split_census_income`.
    """
    if frame is None:
        from recutils.datasets.census import load_census_income

        frame = load_census_income("all", progress=False)
    frame = sample_rows_of(frame, sample_rows, seed)
    return tuple(census_rows(part) for part in split_census_income(frame, seed=seed))  # type: ignore[return-value]


# --------------------------------------------------------------------------- models


def census_config(name: str) -> dict[str, Any]:
    """The shipped census preset ``name`` (:data:`CENSUS_PRESETS`) as a mapping.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    from recutils.nn.config_io import read_mapping

    if name not in CENSUS_PRESETS:
        raise ConfigError(f"unknown census preset {name!r}; known: {sorted(CENSUS_PRESETS)}.")
    return read_mapping(CONFIG_DIR / CENSUS_PRESETS[name])


def single_task_config(task: str) -> dict[str, Any]:
    """The single-task preset with its tower renamed ``task`` and labelled by that task's column.

    Raises:
        ConfigError: an unknown task (the message lists :data:`CENSUS_TASKS`).
    """
    from recutils.models.multitask.model import with_task_labels

    if task not in CENSUS_TASKS:
        raise ConfigError(f"unknown census task {task!r}; known: {sorted(CENSUS_TASKS)}.")
    config = census_config("single_task")
    (tower,) = [t["tower_name"] for t in config["model_config"]["model_params"]["task_towers"]]
    return with_task_labels(config, {tower: {"tower_name": task, "label_name": CENSUS_TASKS[task]}})


def census_models(names: Iterable[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``(name, config)`` of the census models: ``single_task_income``,
    ``single_task_marital``, then the multi-task presets (default: all, in that order).

    Raises:
        ConfigError: an unknown name.
    """
    every = [SINGLE_TASK.format(task=t) for t in CENSUS_TASKS] + [
        n for n in CENSUS_PRESETS if n != "single_task"
    ]
    wanted = every if names is None else list(names)
    unknown = [n for n in wanted if n not in every]
    if unknown:
        raise ConfigError(f"unknown census model(s) {unknown}; known: {every}.")
    out = []
    for name in wanted:
        task = next((t for t in CENSUS_TASKS if name == SINGLE_TASK.format(task=t)), None)
        out.append((name, single_task_config(task) if task is not None else census_config(name)))
    return out


def config_sha(config: Mapping[str, Any]) -> str:
    """A short digest of a config mapping (keys sorted), to tell runs of one name apart."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _towers(config: Any) -> list[tuple[str, str]]:
    """``(tower name, census task)`` of each tower of a fitted model's config.

    Raises:
        ConfigError: a tower whose label is not a census label.
    """
    by_label = {label: task for task, label in CENSUS_TASKS.items()}
    out = []
    for tower in config.model_config.model_params.task_towers:
        if tower.label_name not in by_label:
            raise ConfigError(
                f"task tower {tower.tower_name!r}: label {tower.label_name!r} is not a census "
                f"label; census labels: {sorted(by_label)}."
            )
        out.append((tower.tower_name, by_label[tower.label_name]))
    return out


class ValidSplitStopping:
    """A training callback: early stopping on a fixed validation split.

    After each evaluation of the trainer it scores ``valid`` (encoded once, with an
    encoder fitted like the model's) with every task's metrics, keeps the weights of the
    best weighted value (the network's ``evaluate_tasks``) and asks to stop after
    more than ``patience`` evaluations in a row without an improvement of more than
    ``min_delta`` (:class:`~recutils.nn.trainer.EarlyStopping`).

    Attributes:
        history: One row per evaluation: ``epoch``, ``valid`` (the weighted value) and
            ``valid_<task>_<metric>``.
        stopper: The :class:`~recutils.nn.trainer.EarlyStopping` state (best value and weights).
    """

    def __init__(
        self, valid: Any, labels: np.ndarray, patience: int, min_delta: float = 0.0
    ) -> None:
        self.valid = valid
        self.labels = np.asarray(labels, dtype=np.float64)
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.history: list[dict[str, Any]] = []
        self.stopper: Any = None

    def on_step(self, step: int, trainer: Any) -> None:
        """Nothing per step."""

    def on_evaluate(self, row: Mapping[str, Any], trainer: Any) -> bool:
        """Score the split; True once more than ``patience`` evaluations in a row passed
        without a better value."""
        from recutils.nn.trainer import EarlyStopping

        network = trainer.model
        if self.stopper is None:
            self.stopper = EarlyStopping(
                bool(network.stopping_higher_is_better), self.patience, self.min_delta
            )
        value, details = network.evaluate_tasks(self.labels, trainer.predict(self.valid))
        network.train()
        better = self.stopper.is_better(value)
        if better:
            self.stopper.keep(network)
        self.history.append(
            {
                "epoch": int(row["epoch"]),
                "valid": float(value),
                **{f"valid_{k}": float(v) for k, v in details.items()},
            }
        )
        return self.stopper.record(value, better)

    @property
    def best_epoch(self) -> int | None:
        """The epoch of the best value (None before the first evaluation)."""
        if not self.history:
            return None
        values = np.array([r["valid"] for r in self.history])
        best = np.argmax(values) if self.stopper.higher else np.argmin(values)
        return int(self.history[int(best)]["epoch"])


@dataclass
class CensusFit:
    """A fitted census model.

    Attributes:
        model: The fitted :class:`~recutils.models.multitask.MultiTaskRankModel` (the
            best validation epoch's weights).
        tasks: Tower name -> census task.
        fit_s: Seconds of ``fit`` (validation scoring included).
        epochs: The best validation epoch.
        history: One row per epoch: ``epoch``, ``valid`` (weighted) and
            ``valid_<tower>_<metric>``.
    """

    model: Any
    tasks: dict[str, str]
    fit_s: float
    epochs: int | None
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Each task's probability for ``rows`` (columns named by census task, same order)."""
        pred = self.model.predict_tasks(rows, score_unknown=True)
        return pd.DataFrame(
            {task: pred[tower].to_numpy() for tower, task in self.tasks.items()}, index=rows.index
        )

    def gate_weights(self, rows: pd.DataFrame, block: str = "mmoe") -> np.ndarray:
        """The gates' weights of the ``MMoE`` block ``block`` for ``rows``:
        ``[tasks, rows, experts]``, each row of a task summing to 1 (tasks in tower order).

        Raises:
            ConfigError: the model has no ``MMoE`` block of that name.
        """
        import torch

        from recutils.nn.components.multitask import MMoE
        from recutils.nn.data import TensorData

        network = self.model.network_
        layers = network.backbone.layers
        if block not in layers or not isinstance(layers[block], MMoE):
            blocks = [n for n, m in layers.items() if isinstance(m, MMoE)]
            raise ConfigError(
                f"block {block!r} is not an MMoE block of this model; its MMoE blocks: {blocks}."
            )
        (source,) = [
            i.source
            for b in network.backbone.config.backbone.blocks
            if b.name == block
            for i in b.inputs
        ]
        data = TensorData.from_encoded(self.model.encoder_.transform(rows), network.backbone.layout)
        network.eval()
        with torch.no_grad():
            x = network.backbone.block_outputs(data.batch(slice(0, len(data))))[source]
            return layers[block].gate_weights(x).double().cpu().numpy()


def fit_census_model(
    config: Mapping[str, Any],
    train: pd.DataFrame,
    valid: pd.DataFrame,
    *,
    seed: int = 42,
    epochs: int | None = None,
    num_threads: int | None = 1,
    progress: bool = False,
) -> CensusFit:
    """Fit one census model on ``train``, early-stopped on ``valid``.

    The model's own hold-out (``train.validation_fraction``) is turned off: ``valid``
    decides (:class:`ValidSplitStopping`, the preset's ``train.patience`` and
    ``min_delta``), and the best epoch's weights are restored.

    Args:
        config: A multi-task config mapping whose towers' labels are census labels and
            whose every feature is listed in ``features`` (the shipped census presets).
        train: Training rows with ids (:func:`census_splits`).
        valid: Validation rows with ids.
        seed: Seed of the weights and the batches.
        epochs: Override of ``train.epochs`` (the most epochs).
        num_threads: torch CPU threads while training (None: torch's setting).
        progress: Show the training progress bar.

    Raises:
        ConfigError: a feature without a config, or a tower without a census label.
    """
    from recutils.models.multitask.model import MultiTaskRankModel
    from recutils.nn.data import BatchLayout, TensorData
    from recutils.nn.features import FeatureEncoder

    changes: dict[str, Any] = {
        "validation_fraction": 0.0,
        "progress": bool(progress),
        "num_threads": num_threads,
    }
    if epochs is not None:
        changes["epochs"] = int(epochs)
    model = MultiTaskRankModel(config, seed=int(seed), train=changes)
    cfg = model.config
    tasks = dict(_towers(cfg))
    configured = {f.name for f in cfg.features}
    missing = [n for n in cfg.model_config.feature_names if n not in configured]
    if missing:
        raise ConfigError(
            f"features {missing} have no config; a census preset lists every feature it reads."
        )
    # the validation rows, encoded as the model will encode them (an encoder fitted on the same rows)
    encoder = FeatureEncoder(
        cfg.features,
        column_map={"@user": model.col_user, "@item": model.col_item},
        default_embedding_dim=cfg.default_embedding_dim,
    ).fit(train)
    labels = valid[[CENSUS_TASKS[t] for t in tasks.values()]].to_numpy(dtype=np.float64)
    layout = BatchLayout.from_specs(encoder.specs)
    stopping = ValidSplitStopping(
        TensorData.from_encoded(encoder.transform(valid), layout),
        labels,
        patience=cfg.train.patience,
        min_delta=cfg.train.min_delta,
    )
    model.callbacks = [stopping]
    start = time.perf_counter()
    model.fit(train)
    if stopping.stopper is not None and stopping.stopper.best_state is not None:
        model.network_.load_state_dict(stopping.stopper.best_state)
    model.network_.eval()
    fit_s = time.perf_counter() - start
    return CensusFit(
        model=model,
        tasks=tasks,
        fit_s=fit_s,
        epochs=stopping.best_epoch,
        history=pd.DataFrame(stopping.history),
    )


# --------------------------------------------------------------------------- scoring


def _scores_key(model: str, task: str, seed: int) -> str:
    return f"{model}/{task}/{seed}"


def _task_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from recutils.evaluation import score_arrays

    clipped = np.clip(scores, 1e-7, 1 - 1e-7)
    return {
        "auc": float(score_arrays("auc", labels, scores)),
        "logloss": float(score_arrays("logloss", labels, clipped)),
    }


@dataclass
class MultiTaskBenchmark:
    """What :func:`run_multitask_benchmark` returns.

    Attributes:
        results: One row per model x seed x task (:data:`RESULT_COLUMNS`).
        scores: Test probabilities, one column ``<model>/<task>/<seed>`` per run and task,
            indexed by the test rows' user id.
        labels: The test labels, one column per task, same index.
        tests: :func:`paired_delong_tests`.
        bars: :func:`check_bars`.
        fits: ``(model, seed) -> CensusFit`` of the runs fitted in this call, with
            ``keep_models=True`` (runs read back from a results file have none).
    """

    results: pd.DataFrame
    scores: pd.DataFrame
    labels: pd.DataFrame
    tests: pd.DataFrame
    bars: pd.DataFrame
    fits: dict[tuple[str, int], CensusFit] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over seeds of AUC, logloss, fit seconds and epochs,
        per model and task (models in run order)."""
        return summarize_results(self.results)


def summarize_results(results: pd.DataFrame) -> pd.DataFrame:
    """Mean, standard deviation (``ddof=1``) and number of seeds of ``auc``, ``logloss``,
    ``fit_s`` and ``epochs`` per model and task (in order of first appearance)."""
    cols = [c for c in ("auc", "logloss", "valid_auc", "fit_s", "epochs") if c in results.columns]
    grouped = results.groupby(["model", "task"], sort=False)
    out = grouped[cols].agg(["mean", "std"])
    out.columns = [f"{c}_{'mean' if s == 'mean' else 'sd'}" for c, s in out.columns]
    out.insert(0, "n_seeds", grouped["seed"].nunique())
    return out.reset_index()


def multitask_markdown(
    results: pd.DataFrame,
    tests: pd.DataFrame | None = None,
    bars: pd.DataFrame | None = None,
    machine: Mapping[str, Any] | None = None,
) -> str:
    """The README block of a census run: per-task test AUC (mean ± sd over seeds), each model's
    DeLong test against the single-task model of each task, and the bars' verdicts."""
    summary = summarize_results(results)
    tasks = list(dict.fromkeys(summary["task"]))
    models = list(dict.fromkeys(summary["model"]))
    by = {(r.model, r.task): r for r in summary.itertuples(index=False)}
    test_by = {} if tests is None else {(r.model, r.task): r for r in tests.itertuples(index=False)}
    head = [
        "model",
        "seeds",
        *[f"AUC {t}" for t in tasks],
        *[f"vs single-task, {t}: diff (Holm p)" for t in tasks],
        "epochs",
        "fit s",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model in models:
        rows = [by.get((model, t)) for t in tasks]
        first = next(r for r in rows if r is not None)
        cells = [f"`{model}`", str(int(first.n_seeds))]
        for r in rows:
            cells.append(
                ""
                if r is None
                else f"{r.auc_mean:.4f} ± {0.0 if pd.isna(r.auc_sd) else r.auc_sd:.4f}"
            )
        for t in tasks:
            test = test_by.get((model, t))
            if test is None:
                cells.append("")
                continue
            verdict = (
                (" **better**" if test.diff > 0 else " **worse**") if bool(test.significant) else ""
            )
            cells.append(f"{test.diff:+.4f} ({test.pvalue_holm:.2f}){verdict}")
        epochs = [r.epochs_mean for r in rows if r is not None]
        fits = [r.fit_s_mean for r in rows if r is not None]
        cells += [f"{np.mean(epochs):.1f}", f"{np.mean(fits):.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    out = "\n".join(lines) + "\n"
    if bars is not None and len(bars):
        out += "\nBars:\n\n"
        for r in bars.itertuples(index=False):
            out += (
                f"- ({r.bar}) `{r.model}` on {r.task} against `{r.reference}`: {r.auc_model:.4f} vs "
                f"{r.auc_reference:.4f} (Holm p {r.pvalue_holm:.2f}): **{'met' if bool(r.met) else 'not met'}** "
                f"({r.rule})\n"
            )
    out += (
        "\nTest AUC, mean ± sd over seeds; the single-task columns compare each model with the single-task "
        "model of that task by DeLong's test on the test rows (scores averaged over the seeds), Holm-adjusted "
        "per task; **better**/**worse** when p < 0.05. Epochs: mean over the tasks' rows; fit s: seconds per "
        "fit."
    )
    if machine:
        out += f" Machine: {machine.get('description', machine.get('machine', ''))}".rstrip() + "."
    return out + "\n"


def _mean_scores(scores: pd.DataFrame, model: str, task: str) -> np.ndarray | None:
    cols = [c for c in scores.columns if c.rsplit("/", 1)[0] == f"{model}/{task}"]
    return scores[cols].to_numpy(dtype=np.float64).mean(axis=1) if cols else None


def paired_delong_tests(
    results: pd.DataFrame, scores: pd.DataFrame, labels: pd.DataFrame, *, alpha: float = 0.05
) -> pd.DataFrame:
    """Each multi-task model against the single-task model of each task (DeLong).

    For every task and every model with that task other than its single-task reference,
    the seed-averaged test scores of the model and of ``single_task_<task>`` are compared
    with :func:`~recutils.benchmark.stats.delong_test` on the test rows; the p-values are
    Holm-adjusted over the models of one task. Where the best multi-task model on the
    harder task (:func:`check_bars`) is not the shared bottom, one more row compares it
    with the shared bottom (its own family, unadjusted).

    Returns:
        One row per comparison: ``task, model, reference, n_seeds, auc_model,
        auc_reference, diff, z, pvalue, pvalue_holm, significant``.
    """
    rows: list[dict[str, Any]] = []

    def compare(task: str, model: str, reference: str) -> None:
        a, b = _mean_scores(scores, model, task), _mean_scores(scores, reference, task)
        if a is None or b is None:
            return
        test = delong_test(labels[task].to_numpy(), a, b)
        n_seeds = int(
            results[(results["model"] == model) & (results["task"] == task)]["seed"].nunique()
        )
        rows.append(
            {
                "task": task,
                "model": model,
                "reference": reference,
                "n_seeds": n_seeds,
                "auc_model": test["auc_a"],
                "auc_reference": test["auc_b"],
                "diff": test["diff"],
                "z": test["z"],
                "pvalue": test["pvalue"],
            }
        )

    models = list(dict.fromkeys(results["model"]))
    for task in CENSUS_TASKS:
        single = SINGLE_TASK.format(task=task)
        for model in models:
            if model != single and not model.startswith("single_task_"):
                compare(task, model, single)
    harder, best = _harder_and_best(results)
    if harder is not None and best is not None and best != SHARED_BOTTOM:
        compare(harder, best, SHARED_BOTTOM)
    out = pd.DataFrame(
        rows,
        columns=[
            "task",
            "model",
            "reference",
            "n_seeds",
            "auc_model",
            "auc_reference",
            "diff",
            "z",
            "pvalue",
        ],
    )
    out["pvalue_holm"] = np.nan
    for _, idx in out.groupby(["task", "reference"], sort=False).groups.items():
        out.loc[idx, "pvalue_holm"] = _holm(out.loc[idx, "pvalue"].to_numpy())
    out["significant"] = out["pvalue_holm"] < alpha
    return out


def _means(results: pd.DataFrame) -> pd.Series:
    return results.groupby(["model", "task"], sort=False)["auc"].mean()


def _harder_and_best(results: pd.DataFrame) -> tuple[str | None, str | None]:
    """The harder task (the lower single-task mean AUC) and the multi-task model (shared
    bottom excluded) with the highest mean AUC on it."""
    means = _means(results)
    singles = {t: means.get((SINGLE_TASK.format(task=t), t)) for t in CENSUS_TASKS}
    singles = {t: v for t, v in singles.items() if v is not None and not np.isnan(v)}
    if not singles:
        return None, None
    harder = min(singles, key=singles.get)  # type: ignore[arg-type]
    candidates = {
        m: v
        for (m, t), v in means.items()
        if t == harder and not m.startswith("single_task_") and m != SHARED_BOTTOM
    }
    best = max(candidates, key=candidates.get) if candidates else None  # type: ignore[arg-type]
    return harder, best


def check_bars(results: pd.DataFrame, tests: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """The bars of the census benchmark, one row per check.

    (a) ``mmoe`` and ``ple`` each match or beat the single-task model on both tasks' AUC:
    a check is met when the model's mean test AUC over seeds is at least the single-task
    model's, or, if lower, when DeLong's test on the seed-averaged scores does not find it
    worse (Holm-adjusted p-value at least ``alpha``).
    (b) The best multi-task model (highest mean AUC on the harder task, the one with the
    lower single-task AUC; shared bottom excluded) beats the shared bottom there: its
    mean AUC over seeds is higher **and** DeLong's test on the seed-averaged scores finds
    it better (a positive difference, p-value below ``alpha``). A higher mean alone can be
    a tie: "beats" asks for more than (a)'s "matches".

    Returns:
        Columns ``bar, model, task, reference, auc_model, sd_model, auc_reference,
        sd_reference, diff, pvalue_holm, met, rule``.
    """
    stats = results.groupby(["model", "task"], sort=False)["auc"].agg(["mean", "std"])
    rows: list[dict[str, Any]] = []

    def row(bar: str, model: str, task: str, reference: str) -> dict[str, Any] | None:
        if (model, task) not in stats.index or (reference, task) not in stats.index:
            return None
        m, r = stats.loc[(model, task)], stats.loc[(reference, task)]
        hit = tests[
            (tests["task"] == task) & (tests["model"] == model) & (tests["reference"] == reference)
        ]
        p = float(hit["pvalue_holm"].iloc[0]) if len(hit) else np.nan
        return {
            "bar": bar,
            "model": model,
            "task": task,
            "reference": reference,
            "auc_model": float(m["mean"]),
            "sd_model": float(m["std"]),
            "auc_reference": float(r["mean"]),
            "sd_reference": float(r["std"]),
            "diff": float(m["mean"] - r["mean"]),
            "pvalue_holm": p,
        }

    for model in BAR_A_MODELS:
        for task in CENSUS_TASKS:
            r = row("a", model, task, SINGLE_TASK.format(task=task))
            if r is not None:
                r["met"] = bool(r["diff"] >= 0 or not (r["pvalue_holm"] < alpha))
                r["rule"] = f"mean AUC >= single-task, or not worse by DeLong (Holm p >= {alpha:g})"
                rows.append(r)
    harder, best = _harder_and_best(results)
    if harder is not None and best is not None:
        r = row("b", best, harder, SHARED_BOTTOM)
        if r is not None:
            hit = tests[
                (tests["task"] == harder)
                & (tests["model"] == best)
                & (tests["reference"] == SHARED_BOTTOM)
            ]
            delong_better = (
                bool(len(hit)) and bool(hit["diff"].iloc[0] > 0) and bool(r["pvalue_holm"] < alpha)
            )
            r["met"] = bool(r["diff"] > 0 and delong_better)
            r["rule"] = (
                f"best multi-task model's mean AUC > shared bottom's on the harder task ({harder}) and "
                f"better by DeLong (p < {alpha:g})"
            )
            rows.append(r)
    return pd.DataFrame(
        rows,
        columns=[
            "bar",
            "model",
            "task",
            "reference",
            "auc_model",
            "sd_model",
            "auc_reference",
            "sd_reference",
            "diff",
            "pvalue_holm",
            "met",
            "rule",
        ],
    )


# --------------------------------------------------------------------------- the run


def default_scores_path(results_path: str | Path) -> Path:
    """``<stem>_scores.npz`` beside a results CSV: the test scores of every run."""
    path = Path(results_path)
    return path.with_name(path.name.removesuffix(".csv") + "_scores.npz")


def _read_scores(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    with np.load(path, allow_pickle=False) as saved:
        return {k: saved[k] for k in saved.files}


def run_multitask_benchmark(
    models: Sequence[tuple[str, Mapping[str, Any]]] | None = None,
    seeds: Sequence[int] = (1, 2, 3),
    *,
    splits: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None,
    results_path: str | Path | None = None,
    scores_path: str | Path | None = None,
    epochs: int | None = None,
    num_threads: int | None = 1,
    progress: bool = False,
    on_run: Callable[[pd.DataFrame], None] | None = None,
    keep_models: bool = False,
) -> MultiTaskBenchmark:
    """Fit every model with every seed on census train/valid, score the test rows.

    Args:
        models: ``(name, config)`` pairs (default :func:`census_models`); the single-task
            references are named ``single_task_<task>``.
        seeds: Seeds of the weights and batches (the split is the data set's fixed one).
        splits: ``(train, valid, test)`` with ids (default :func:`census_splits`).
        results_path: A CSV to resume from and to write after every run: runs already
            there with the same model name, seed and config digest are not repeated.
        scores_path: The test scores of every run (``.npz``, default beside
            ``results_path``); needed to resume the paired tests.
        epochs: Override of every model's ``train.epochs``.
        num_threads: torch CPU threads per fit.
        progress: Training progress bars.
        on_run: Called with each new run's rows (e.g. to print them).
        keep_models: Keep the fitted models (:attr:`MultiTaskBenchmark.fits`).

    Returns:
        :class:`MultiTaskBenchmark`.
    """
    models = census_models() if models is None else list(models)
    names = [n for n, _ in models]
    if len(set(names)) != len(names):
        raise ConfigError(f"model names must be unique, got {names}.")
    train, valid, test = census_splits() if splits is None else splits
    labels = pd.DataFrame(
        {t: test[c].to_numpy() for t, c in CENSUS_TASKS.items()}, index=test.index
    )
    results_path = None if results_path is None else Path(results_path)
    scores_file = (
        None
        if results_path is None and scores_path is None
        else Path(scores_path)
        if scores_path is not None
        else default_scores_path(results_path)
    )
    saved = _read_scores(scores_file) if scores_file is not None else {}
    if saved and "rows" in saved and not np.array_equal(saved["rows"], test.index.to_numpy()):
        logger.warning("the saved scores in %s are of other test rows: starting over", scores_file)
        saved = {}
    old = pd.read_csv(results_path) if results_path is not None and results_path.exists() else None
    kept: list[pd.DataFrame] = []
    scores: dict[str, np.ndarray] = {}
    fits: dict[tuple[str, int], CensusFit] = {}
    for name, config in models:
        sha = config_sha(config)
        for seed in seeds:
            done = (
                None
                if old is None
                else old[
                    (old["model"] == name) & (old["seed"] == seed) & (old["config_sha"] == sha)
                ]
            )
            keys = [] if done is None else [_scores_key(name, t, seed) for t in done["task"]]
            if done is not None and len(done) and all(k in saved for k in keys):
                kept.append(done[list(RESULT_COLUMNS)])
                scores.update({k: saved[k] for k in keys})
                continue
            logger.info("census: fitting %s, seed %d", name, seed)
            fitted = fit_census_model(
                config,
                train,
                valid,
                seed=seed,
                epochs=epochs,
                num_threads=num_threads,
                progress=progress,
            )
            if keep_models:
                fits[(name, int(seed))] = fitted
            pred = fitted.predict(test)
            last = fitted.history.iloc[-1] if len(fitted.history) else None
            best = (
                fitted.history.loc[fitted.history["valid"].idxmax()] if last is not None else None
            )
            rows = []
            for tower, task in fitted.tasks.items():
                values = pred[task].to_numpy(dtype=np.float64)
                scores[_scores_key(name, task, seed)] = values.astype(np.float32)
                rows.append(
                    {
                        "model": name,
                        "seed": int(seed),
                        "task": task,
                        **_task_metrics(labels[task].to_numpy(), values),
                        "valid_auc": float(best[f"valid_{tower}_auc"])
                        if best is not None
                        else np.nan,
                        "fit_s": fitted.fit_s,
                        "epochs": fitted.epochs,
                        "config_sha": sha,
                    }
                )
            part = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
            kept.append(part)
            if on_run is not None:
                on_run(part)
            if results_path is not None:
                pd.concat(kept, ignore_index=True).to_csv(results_path, index=False)
            if scores_file is not None:
                np.savez_compressed(scores_file, rows=test.index.to_numpy(), **scores)
    results = (
        pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=list(RESULT_COLUMNS))
    )
    # scores are stored as float32 (the model's precision); tests read them back the same way
    score_frame = pd.DataFrame(
        {k: v.astype(np.float64) for k, v in scores.items()}, index=test.index
    )
    tests = paired_delong_tests(results, score_frame, labels)
    return MultiTaskBenchmark(
        results=results,
        scores=score_frame,
        labels=labels,
        tests=tests,
        bars=check_bars(results, tests),
        fits=fits,
    )


__all__ = [
    "multitask_markdown",
    "BAR_A_MODELS",
    "CENSUS_PRESETS",
    "CENSUS_TASKS",
    "CONFIG_DIR",
    "CensusFit",
    "MultiTaskBenchmark",
    "RESULT_COLUMNS",
    "SHARED_BOTTOM",
    "SINGLE_TASK",
    "ValidSplitStopping",
    "census_config",
    "census_models",
    "census_rows",
    "census_splits",
    "check_bars",
    "config_sha",
    "default_scores_path",
    "fit_census_model",
    "paired_delong_tests",
    "run_multitask_benchmark",
    "single_task_config",
    "summarize_results",
]
