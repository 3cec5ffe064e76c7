"""Knowledge distillation on MovieLens click-through: teacher, small students, the bar.

The task is the click-through zoo's (notebooks/02_model_hybrid/ctr_model_zoo_movielens.ipynb):
MovieLens 100k ratings as clicks (label ``rating >= 4``,
:func:`recutils.datasets.movielens_features.movielens_ctr_frame`), its 7 feature fields,
a random 80/20 split with seed 42 (:data:`SPLIT_SEED`, the same for every seed of the
benchmark: the seed drives the weights and the batches), test rows scored with
``predict(test, score_unknown=True)``. Every model early-stops on the AUC of 10% of the
training part, never on the test rows.

The models of one seed (:data:`MODELS`):

* ``logistic_regression``: bias + first-order terms over the same features (the zoo's
  ``FirstOrder`` block alone: logistic regression on the one-hot (bucketed, multi-hot for
  genres) features; :func:`logistic_regression_config`), the reference of the gain;
* ``teacher``: the zoo model with the best committed test AUC, :data:`TEACHER` (xDeepFM,
  0.7907 in the zoo notebook's figures);
* ``student``: the shipped small MLP (``mlp_student_movielens.yaml``) on the labels alone;
* ``student_kd``: the same MLP with its ``kd`` term, the soft labels being the teacher's
  probabilities of the training rows in the frame's ``teacher`` column
  (:data:`TEACHER_COLUMN`; the teacher of the same seed);
* ``rocket_light``: the light net of Rocket Launching (``rocket_launching_movielens.yaml``),
  the same small MLP trained beside a booster net on shared embeddings, served alone.

**Scoring speed** (:func:`scoring_speed`): rows per second of the network forward on the
test rows already encoded as tensors (one batch, ``torch.no_grad``, one thread, best of
``repeat``): the part of scoring a smaller network changes, the feature encoding being
the same for every model. ``predict`` rows per second (the encoding included) are
measured beside it. Teacher and students are timed in the same run, alternately.

**The bar** (:func:`check_bar`): the KD student keeps at least 98% of the teacher's AUC gain
over logistic regression, ``(AUC_student - AUC_LR) / (AUC_teacher - AUC_LR)`` of the mean
test AUCs over the seeds, while its forward is at least 3x faster than the teacher's (the
mean of the per-seed ratios).

The settings of the shipped student and Rocket Launching configs were chosen by
:func:`tune_distillation` (:data:`TUNING_GRID`): validation AUC on 10% of the training rows
held out, never the test rows.

Only numpy and pandas are imported here; torch when a model is fitted or timed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.benchmark.data import sample_rows_of
from recutils.exceptions import ConfigError, DataError

logger = logging.getLogger(__name__)

#: The teacher: the zoo model with the best committed test AUC on this task.
TEACHER = "xdeepfm"
#: Shipped config of the small MLP student (its ``kd`` term reads :data:`TEACHER_COLUMN`).
STUDENT_CONFIG = "mlp_student_movielens.yaml"
#: Shipped config of Rocket Launching (light net = the student's MLP, booster = a larger MLP).
ROCKET_CONFIG = "rocket_launching_movielens.yaml"
#: The frame column holding the teacher's probabilities of the training rows.
TEACHER_COLUMN = "teacher"
#: Seed of the 80/20 split (the zoo's), whatever the seed of the weights.
SPLIT_SEED = 42
#: Share of the teacher's AUC gain over logistic regression the student must keep.
RETENTION_BAR = 0.98
#: How many times faster than the teacher's the student's forward must be.
SPEEDUP_BAR = 3.0
#: The models of one seed, in run order.
MODELS: tuple[str, ...] = (
    "logistic_regression",
    "teacher",
    "student",
    "student_kd",
    "rocket_light",
)
#: The models scored against the teacher (gain retention, speed-up).
STUDENTS: tuple[str, ...] = ("student", "student_kd", "rocket_light")
#: Result columns, in order.
RESULT_COLUMNS: tuple[str, ...] = (
    "model",
    "seed",
    "auc",
    "logloss",
    "valid_auc",
    "fit_s",
    "epochs",
    "parameters",
    "forward_rows_per_s",
    "predict_rows_per_s",
    "gain_retention",
    "speedup",
    "config_sha",
)


# --------------------------------------------------------------------------- data


def ctr_split(
    frame: pd.DataFrame | None = None,
    *,
    size: str = "100k",
    sample_rows: int | None = None,
    seed: int = SPLIT_SEED,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The zoo's split: ``(train, test)``, random 80/20 with ``seed``.

    Args:
        frame: A click-through frame (default :func:`movielens_ctr_frame` of ``size``).
        size: MovieLens size when ``frame`` is None.
        sample_rows: Keep this many rows (drawn with ``seed``, in frame order) before
            splitting; None keeps every row (the benchmark).
        seed: Seed of the sample and of the split.

    Raises:
        ConfigError: ``sample_rows`` is not an integer >= 10.
    """
    from recutils.splitting import python_random_split

    if frame is None:
        from recutils.datasets.movielens_features import movielens_ctr_frame

        frame = movielens_ctr_frame(size)
    frame = sample_rows_of(frame, sample_rows, seed)
    train, test = python_random_split(frame, ratio=0.8, seed=seed)
    return train, test


def validation_split(
    train: pd.DataFrame, *, ratio: float = 0.9, seed: int = SPLIT_SEED
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(fit, valid)``: a random part of the training rows held out to choose settings
    (never the test rows)."""
    from recutils.splitting import python_random_split

    fit, valid = python_random_split(train, ratio=ratio, seed=seed)
    return fit, valid


# --------------------------------------------------------------------------- configs


def _shipped(name: str) -> dict[str, Any]:
    from recutils.models.deep.config import example_config_path
    from recutils.nn.config_io import read_mapping

    return read_mapping(example_config_path(name))


def teacher_config(name: str = TEACHER) -> dict[str, Any]:
    """The zoo preset ``name``'s config (a fresh copy)."""
    from recutils.models.ctr.zoo import preset_config

    return preset_config(name)


def _with_training(
    config: dict[str, Any], lr: float | None, patience: int | None
) -> dict[str, Any]:
    """``config`` with every optimizer's rate ``lr`` and the early-stopping ``patience``, where given."""
    if lr is not None:
        for optimizer in config["train"]["optimizers"]:
            optimizer["lr"] = float(lr)
    if patience is not None:
        config["train"]["patience"] = int(patience)
    return config


def student_config(
    *,
    kd: bool = True,
    hidden_units: Sequence[int] | None = None,
    temperature: float | None = None,
    loss_weight: float | None = None,
    loss_type: str | None = None,
    lr: float | None = None,
    patience: int | None = None,
) -> dict[str, Any]:
    """The shipped student (:data:`STUDENT_CONFIG`), with its ``kd`` term or without (``kd=False``).

    Args:
        kd: Keep the config's ``kd`` term (soft labels from :data:`TEACHER_COLUMN`).
        hidden_units: Replace the MLP's hidden layers.
        temperature, loss_weight, loss_type: Replace the ``kd`` term's settings.
        lr: Replace every optimizer's learning rate.
        patience: Replace the early-stopping patience.
    """
    config = _with_training(_shipped(STUDENT_CONFIG), lr, patience)
    if hidden_units is not None:
        (block,) = config["model_config"]["backbone"]["blocks"]
        block["layer"]["params"]["hidden_units"] = [int(h) for h in hidden_units]
    if not kd:
        config["kd"] = []
        return config
    changes = {"temperature": temperature, "loss_weight": loss_weight, "loss_type": loss_type}
    config["kd"] = [
        {**term, **{k: v for k, v in changes.items() if v is not None}} for term in config["kd"]
    ]
    return config


def rocket_config(
    *, hint_weight: float | None = None, lr: float | None = None, patience: int | None = None
) -> dict[str, Any]:
    """The shipped Rocket Launching config (:data:`ROCKET_CONFIG`), its hint weight, learning
    rates (``lr``) and early-stopping ``patience`` replaced where given."""
    config = _with_training(_shipped(ROCKET_CONFIG), lr, patience)
    if hint_weight is not None:
        config["model_config"]["model_params"]["rocket"]["hint_weight"] = float(hint_weight)
    return config


def logistic_regression_config() -> dict[str, Any]:
    """Logistic regression on the zoo's features: a bias plus one weight per feature value
    (the ``FirstOrder`` block over a ``WIDE`` group: the linear part of the zoo's FM, with
    the FM's features, optimizers, penalty and schedule)."""
    config = _shipped("fm_movielens.yaml")
    model = config["model_config"]
    wide = next(g for g in model["feature_groups"] if g["group_name"] == "wide")
    model["model_name"] = "LogisticRegression"
    model["feature_groups"] = [wide]
    model["backbone"] = {
        "blocks": [
            {
                "name": "wide",
                "inputs": [{"feature_group_name": "wide"}],
                "input_layer": {"only_output_feature_list": True, "wide_output_dim": 1},
            },
            {
                "name": "linear_logit",
                "inputs": [{"block_name": "wide"}],
                "layer": {"class_name": "FirstOrder"},
            },
        ],
        "concat_blocks": ["linear_logit"],
    }
    return config


def benchmark_configs(teacher: str = TEACHER) -> dict[str, dict[str, Any]]:
    """Name -> config of every model of :data:`MODELS`."""
    return {
        "logistic_regression": logistic_regression_config(),
        "teacher": teacher_config(teacher),
        "student": student_config(kd=False),
        "student_kd": student_config(),
        "rocket_light": rocket_config(),
    }


def config_sha(config: Mapping[str, Any]) -> str:
    """A short digest of a config mapping (keys sorted), to tell runs of one name apart."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- fitting


def fit_model(
    config: Mapping[str, Any],
    train: pd.DataFrame,
    *,
    seed: int,
    num_threads: int | None = 1,
    epochs: int | None = None,
    progress: bool = False,
) -> Any:
    """A :class:`~recutils.models.deep.DeepRankModel` of ``config`` fitted on ``train``
    (label column ``label``) with ``seed``; ``epochs`` overrides the config's most epochs."""
    from recutils.models.deep import DeepRankModel

    train_changes: dict[str, Any] = {"progress": progress}
    if num_threads is not None:
        train_changes["num_threads"] = int(num_threads)
    if epochs is not None:
        train_changes["epochs"] = int(epochs)
    model = DeepRankModel(
        copy.deepcopy(dict(config)), col_rating="label", seed=int(seed), train=train_changes
    )
    return model.fit(train)


def with_teacher_column(
    frame: pd.DataFrame, teacher: Any, column: str = TEACHER_COLUMN
) -> pd.DataFrame:
    """``frame`` with ``column`` = the teacher's probabilities of its rows (a copy).

    Raises:
        DataError: the teacher gave NaN for some row.
    """
    pred = teacher.predict(frame, score_unknown=True)["prediction"].to_numpy(dtype=np.float64)
    if np.isnan(pred).any():
        raise DataError(
            f"the teacher scored {int(np.isnan(pred).sum())} row(s) NaN; it must score every row."
        )
    return frame.assign(**{column: pred})


def gain_retention(auc_student: float, auc_teacher: float, auc_reference: float) -> float:
    """``(auc_student - auc_reference) / (auc_teacher - auc_reference)``: the share of the
    teacher's gain over the reference the student keeps (NaN when the teacher has no gain)."""
    gain = auc_teacher - auc_reference
    if not gain > 0:
        return float("nan")
    return float((auc_student - auc_reference) / gain)


def _test_metrics(test: pd.DataFrame, pred: pd.DataFrame) -> dict[str, float]:
    from recutils.evaluation import auc, logloss

    return {
        "auc": float(auc(test, pred, col_rating="label")),
        "logloss": float(logloss(test, pred, col_rating="label")),
    }


def served_parameters(model: Any) -> int:
    """Parameters of the network that scores (a Rocket Launching model's light net alone)."""
    network = model.network_
    params = (
        network.light_parameters()
        if hasattr(network, "light_parameters")
        else list(network.parameters())
    )
    return int(sum(p.numel() for p in params))


# --------------------------------------------------------------------------- speed


def encoded_batch(model: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """The tensors ``model``'s network reads for the rows of ``frame`` (ids unknown to the
    model in the out-of-vocabulary bucket, as ``predict(..., score_unknown=True)``)."""
    from recutils.nn.data import TensorData

    user = model.user_ids_.get_indexer(pd.Index(frame[model.col_user]))
    item = model.item_ids_.get_indexer(pd.Index(frame[model.col_item]))
    encoded = model._rows_features(user, item, model._side_frame(frame))
    return TensorData.from_encoded(encoded, model.network_.backbone.layout).tensors


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def scoring_speed(
    models: Mapping[str, Any], rows: pd.DataFrame, *, repeat: int = 5, num_threads: int = 1
) -> pd.DataFrame:
    """Rows per second of each model scoring ``rows``, best of ``repeat``, on ``num_threads``.

    ``forward_rows_per_s``: the network's forward on the rows already encoded
    (:func:`encoded_batch`; one batch, eval mode, no gradients); ``predict_rows_per_s``:
    ``predict(rows, score_unknown=True)``, the encoding included. The models take turns
    in each repetition (one untimed call each first), so that all see the same load.

    Returns:
        One row per model: ``model, forward_rows_per_s, predict_rows_per_s``.
    """
    import torch

    if repeat < 1:
        raise ConfigError(f"repeat must be >= 1, got {repeat!r}.")
    previous = torch.get_num_threads()
    torch.set_num_threads(int(num_threads))
    try:
        batches = {name: encoded_batch(m, rows) for name, m in models.items()}
        forward = {name: float("inf") for name in models}
        predict = {name: float("inf") for name in models}

        def run_forward(name: str) -> None:
            with torch.no_grad():
                models[name].network_(batches[name])

        for name, m in models.items():
            m.network_.eval()
            run_forward(name)
            m.predict(rows, score_unknown=True)
        for _ in range(repeat):
            for name, m in models.items():
                forward[name] = min(forward[name], _seconds(lambda name=name: run_forward(name)))
                predict[name] = min(
                    predict[name], _seconds(lambda m=m: m.predict(rows, score_unknown=True))
                )
    finally:
        torch.set_num_threads(previous)
    n = len(rows)
    return pd.DataFrame(
        {
            "model": list(models),
            "forward_rows_per_s": [n / forward[k] for k in models],
            "predict_rows_per_s": [n / predict[k] for k in models],
        }
    )


# --------------------------------------------------------------------------- the bar


def summarize_results(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation (``ddof=1``) over seeds of each model's test AUC,
    logloss, parameters, rows/s, gain retention and speed-up (models in run order)."""
    cols = [
        c
        for c in (
            "auc",
            "logloss",
            "forward_rows_per_s",
            "predict_rows_per_s",
            "gain_retention",
            "speedup",
            "fit_s",
            "epochs",
        )
        if c in results.columns
    ]
    grouped = results.groupby("model", sort=False)
    out = grouped[cols].agg(["mean", "std"])
    out.columns = [f"{c}_{'mean' if s == 'mean' else 'sd'}" for c, s in out.columns]
    out.insert(0, "parameters", grouped["parameters"].first())
    out.insert(0, "n_seeds", grouped["seed"].nunique())
    return out.reset_index()


def check_bar(
    results: pd.DataFrame, *, retention_bar: float = RETENTION_BAR, speedup_bar: float = SPEEDUP_BAR
) -> pd.DataFrame:
    """The bar for each student: gain retention of the mean test AUCs over the seeds
    (:func:`gain_retention`) >= ``retention_bar`` and mean forward speed-up over the
    teacher >= ``speedup_bar``.

    Returns:
        One row per student model present: ``model, n_seeds, auc_lr, auc_teacher,
        auc_student, auc_student_sd, retention, retention_sd`` (over the per-seed
        retentions), ``speedup, speedup_sd, met_retention, met_speed, met``.
    """
    needed = {"logistic_regression", "teacher"}
    present = set(results["model"]) if len(results) else set()
    if not needed <= present:
        raise DataError(
            f"the bar needs the models {sorted(needed)}; the results have {sorted(present)}."
        )
    mean = results.groupby("model")["auc"].mean()
    rows = []
    for name in STUDENTS:
        part = results[results["model"] == name]
        if part.empty:
            continue
        retention = gain_retention(mean[name], mean["teacher"], mean["logistic_regression"])
        speedup = float(part["speedup"].mean())
        rows.append(
            {
                "model": name,
                "n_seeds": int(part["seed"].nunique()),
                "auc_lr": float(mean["logistic_regression"]),
                "auc_teacher": float(mean["teacher"]),
                "auc_student": float(mean[name]),
                "auc_student_sd": float(part["auc"].std()),
                "retention": retention,
                "retention_sd": float(part["gain_retention"].std()),
                "speedup": speedup,
                "speedup_sd": float(part["speedup"].std()),
                "met_retention": bool(retention >= retention_bar),
                "met_speed": bool(speedup >= speedup_bar),
            }
        )
        rows[-1]["met"] = rows[-1]["met_retention"] and rows[-1]["met_speed"]
    return pd.DataFrame(
        rows,
        columns=[
            "model",
            "n_seeds",
            "auc_lr",
            "auc_teacher",
            "auc_student",
            "auc_student_sd",
            "retention",
            "retention_sd",
            "speedup",
            "speedup_sd",
            "met_retention",
            "met_speed",
            "met",
        ],
    )


# --------------------------------------------------------------------------- the run


@dataclass
class DistillationBenchmark:
    """The outcome of :func:`run_distillation_benchmark`.

    Attributes:
        results: One row per model and seed (:data:`RESULT_COLUMNS`).
        bar: :func:`check_bar` of the results.
        models: ``(name, seed) -> fitted model`` when asked to keep them.
    """

    results: pd.DataFrame
    bar: pd.DataFrame
    models: dict[tuple[str, int], Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """:func:`summarize_results` of the results."""
        return summarize_results(self.results)


def run_seed(
    seed: int,
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    epochs: int | None = None,
    num_threads: int = 1,
    repeat: int = 5,
    progress: bool = False,
    on_model: Callable[[str, dict[str, Any]], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit the models of one seed and score the test rows.

    Args:
        seed: Seed of the weights and batches.
        train, test: The split (:func:`ctr_split`).
        configs: Name -> config (default :func:`benchmark_configs`); ``teacher`` is
            needed by ``student_kd`` and by the speed-up.
        epochs: Override of every model's most epochs.
        num_threads: torch CPU threads for fitting and timing.
        repeat: Timed repetitions of :func:`scoring_speed`.
        progress: Training progress bars.
        on_model: Called with each model's name and row once fitted.

    Returns:
        The result rows of the seed and the fitted models by name.
    """
    configs = benchmark_configs() if configs is None else configs
    unknown = [n for n in configs if n not in MODELS]
    if unknown:
        raise ConfigError(f"unknown benchmark model(s) {unknown}; known: {list(MODELS)}.")
    if "student_kd" in configs and "teacher" not in configs:
        raise ConfigError("student_kd needs the teacher's config (its soft labels).")
    fitted: dict[str, Any] = {}
    rows: dict[str, dict[str, Any]] = {}
    kd_train = None
    for name in [m for m in MODELS if m in configs]:
        data = train
        if name == "student_kd":
            kd_train = (
                with_teacher_column(train, fitted["teacher"]) if kd_train is None else kd_train
            )
            data = kd_train
        start = time.perf_counter()
        model = fit_model(
            configs[name],
            data,
            seed=seed,
            num_threads=num_threads,
            epochs=epochs,
            progress=progress,
        )
        fit_s = time.perf_counter() - start
        history = model.history_
        rows[name] = {
            "model": name,
            "seed": int(seed),
            **_test_metrics(test, model.predict(test, score_unknown=True)),
            "valid_auc": float(history["valid_auc"].max()) if "valid_auc" in history else np.nan,
            "fit_s": fit_s,
            "epochs": len(history),
            "parameters": served_parameters(model),
            "config_sha": config_sha(configs[name]),
        }
        fitted[name] = model
        if on_model is not None:
            on_model(name, rows[name])
    speed = scoring_speed(fitted, test, repeat=repeat, num_threads=num_threads).set_index("model")
    for name, row in rows.items():
        row["forward_rows_per_s"] = float(speed.loc[name, "forward_rows_per_s"])
        row["predict_rows_per_s"] = float(speed.loc[name, "predict_rows_per_s"])
    for name in STUDENTS:
        if name in rows and "teacher" in rows and "logistic_regression" in rows:
            rows[name]["gain_retention"] = gain_retention(
                rows[name]["auc"], rows["teacher"]["auc"], rows["logistic_regression"]["auc"]
            )
        if name in rows and "teacher" in rows:
            rows[name]["speedup"] = (
                rows[name]["forward_rows_per_s"] / rows["teacher"]["forward_rows_per_s"]
            )
    frame = pd.DataFrame(list(rows.values())).reindex(columns=list(RESULT_COLUMNS))
    return frame, fitted


def run_distillation_benchmark(
    seeds: Sequence[int] = (1, 2, 3),
    *,
    split: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    results_path: str | Path | None = None,
    epochs: int | None = None,
    num_threads: int = 1,
    repeat: int = 5,
    progress: bool = False,
    on_seed: Callable[[pd.DataFrame], None] | None = None,
    keep_models: bool = False,
) -> DistillationBenchmark:
    """Every model of :data:`MODELS` with every seed, the speed of each, the bar.

    Args:
        seeds: Seeds of the weights and batches (the split stays :data:`SPLIT_SEED`).
        split: ``(train, test)`` (default :func:`ctr_split`).
        configs: Name -> config (default :func:`benchmark_configs`).
        results_path: A CSV to resume from and to write after every seed: a seed whose
            rows are all there with the same config digests is not run again (a seed is
            run as a whole: its students need its teacher, its speed-ups its timings).
        epochs: Override of every model's most epochs.
        num_threads: torch CPU threads for fitting and timing.
        repeat: Timed repetitions (best kept).
        progress: Training progress bars.
        on_seed: Called with each new seed's rows.
        keep_models: Keep the fitted models (:attr:`DistillationBenchmark.models`).
    """
    configs = benchmark_configs() if configs is None else dict(configs)
    train, test = ctr_split() if split is None else split
    path = None if results_path is None else Path(results_path)
    old = pd.read_csv(path) if path is not None and path.exists() else None
    shas = {name: config_sha(c) for name, c in configs.items()}
    kept: list[pd.DataFrame] = []
    models: dict[tuple[str, int], Any] = {}
    for seed in seeds:
        done = None if old is None else old[old["seed"] == seed]
        if (
            done is not None
            and len(done) == len(configs)
            and all(
                (done["model"] == name).any()
                and (done.loc[done["model"] == name, "config_sha"] == sha).all()
                for name, sha in shas.items()
            )
        ):
            kept.append(done.reindex(columns=list(RESULT_COLUMNS)))
            continue
        logger.info("distillation: seed %d", seed)
        rows, fitted = run_seed(
            int(seed),
            train,
            test,
            configs=configs,
            epochs=epochs,
            num_threads=num_threads,
            repeat=repeat,
            progress=progress,
        )
        if keep_models:
            models.update({(name, int(seed)): m for name, m in fitted.items()})
        kept.append(rows)
        if on_seed is not None:
            on_seed(rows)
        if path is not None:
            pd.concat(kept, ignore_index=True).to_csv(path, index=False)
    results = (
        pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=list(RESULT_COLUMNS))
    )
    return DistillationBenchmark(results=results, bar=check_bar(results), models=models)


# --------------------------------------------------------------------------- settings search


#: The students tried on the validation part by :func:`tune_distillation`, in the order
#: the search went: the first schedule (``lr`` 0.001, patience 3) with the ``kd`` term's
#: loss weight and temperature; the faster rate and longer patience alone and with kd; then
#: weight, temperature and width around the choice. The shipped configs hold the choice
#: (rate 0.003, patience 10, weight 5, T = 2, 32 units; Rocket Launching takes the same
#: schedule, its hint weight 1 was not searched). ``rocket_light`` candidates can be added.
_SLOW = {"lr": 0.001, "patience": 3}
TUNING_GRID: tuple[dict[str, Any], ...] = (
    {"name": "logistic_regression", "kind": "logistic_regression"},
    {"name": "student_slow", "kind": "student", **_SLOW},
    {
        "name": "kd_slow_w1_T1",
        "kind": "student_kd",
        "loss_weight": 1.0,
        "temperature": 1.0,
        **_SLOW,
    },
    {
        "name": "kd_slow_w5_T1",
        "kind": "student_kd",
        "loss_weight": 5.0,
        "temperature": 1.0,
        **_SLOW,
    },
    {
        "name": "kd_slow_w1_T4",
        "kind": "student_kd",
        "loss_weight": 1.0,
        "temperature": 4.0,
        **_SLOW,
    },
    {"name": "student", "kind": "student"},
    {"name": "kd_w1_T1", "kind": "student_kd", "loss_weight": 1.0, "temperature": 1.0},
    {"name": "kd_w5_T1", "kind": "student_kd", "loss_weight": 5.0, "temperature": 1.0},
    {"name": "kd_w5_T2", "kind": "student_kd", "loss_weight": 5.0, "temperature": 2.0},
    {"name": "kd_w20_T2", "kind": "student_kd", "loss_weight": 20.0, "temperature": 2.0},
    {
        "name": "kd_w5_T2_h16",
        "kind": "student_kd",
        "loss_weight": 5.0,
        "temperature": 2.0,
        "hidden_units": [16],
    },
    {
        "name": "kd_w5_T2_h64",
        "kind": "student_kd",
        "loss_weight": 5.0,
        "temperature": 2.0,
        "hidden_units": [64],
    },
)
_TUNING_COLUMNS = ("name", "kind", "seed", "valid_auc", "epochs", "fit_s", "settings")


def _candidate_config(candidate: Mapping[str, Any]) -> dict[str, Any]:
    kind = candidate.get("kind")
    settings = {k: v for k, v in candidate.items() if k not in ("name", "kind")}
    if kind == "student":
        return student_config(kd=False, **settings)
    if kind == "student_kd":
        return student_config(**settings)
    if kind == "rocket_light":
        return rocket_config(**settings)
    if kind == "logistic_regression" and not settings:
        return logistic_regression_config()
    raise ConfigError(
        f"tuning candidate {candidate.get('name')!r}: kind {kind!r} with settings {settings}; "
        "allowed kinds: ['logistic_regression' (no settings), 'student', 'student_kd', 'rocket_light']."
    )


def tune_distillation(
    candidates: Sequence[Mapping[str, Any]] = TUNING_GRID,
    *,
    seeds: Sequence[int] = (1, 2, 3),
    train: pd.DataFrame | None = None,
    teacher: Any | None = None,
    epochs: int | None = None,
    num_threads: int = 1,
    results_path: str | Path | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """Validation AUC of each candidate student: the settings search, on the training rows only.

    The training part of the split (:func:`ctr_split`) is split again
    (:func:`validation_split`, 90/10); one teacher is fitted on the 90% (with the first
    seed) and its probabilities of those rows are the soft labels; each candidate is
    fitted there with every seed (early stopping on 10% of it, as always) and scored on
    the held-out 10%.

    Args:
        candidates: Mappings with ``name``, ``kind`` (``logistic_regression``, ``student``,
            ``student_kd``, ``rocket_light``) and the settings of :func:`student_config` /
            :func:`rocket_config` (default :data:`TUNING_GRID`).
        seeds: Seeds of the weights and batches of the candidates.
        train: The training part (default :func:`ctr_split`'s).
        teacher: The teacher already fitted on the 90% part with the first seed (default:
            fitted here when a ``student_kd`` candidate needs it; its row's ``fit_s`` is
            NaN when given).
        epochs: Override of every model's most epochs.
        num_threads: torch CPU threads.
        results_path: A CSV to resume from (a candidate and seed already there is not
            refitted) and to write after each fit.
        on_run: Called with each new row.

    Returns:
        One row per candidate and seed, and the teacher's: ``name, kind, seed, valid_auc,
        epochs, fit_s, settings`` (JSON).
    """
    from recutils.evaluation import auc

    configs = {c["name"]: _candidate_config(c) for c in candidates}  # check every candidate first
    if not seeds:
        raise ConfigError("tune_distillation needs at least one seed.")
    train = ctr_split()[0] if train is None else train
    fit, valid = validation_split(train)
    path = None if results_path is None else Path(results_path)
    rows = pd.read_csv(path).to_dict("records") if path is not None and path.exists() else []
    done = {(r["name"], int(r["seed"])) for r in rows}

    def record(
        name: str, kind: str, seed: int, model: Any, seconds: float, settings: Mapping[str, Any]
    ) -> None:
        pred = model.predict(valid, score_unknown=True)
        row = {
            "name": name,
            "kind": kind,
            "seed": int(seed),
            "valid_auc": float(auc(valid, pred, col_rating="label")),
            "epochs": len(model.history_),
            "fit_s": seconds,
            "settings": json.dumps(dict(settings), sort_keys=True),
        }
        rows.append(row)
        if on_run is not None:
            on_run(row)
        if path is not None:
            pd.DataFrame(rows, columns=list(_TUNING_COLUMNS)).to_csv(path, index=False)

    kd_fit = None
    needs_teacher = any(
        c["kind"] == "student_kd" and (c["name"], int(s)) not in done
        for c in candidates
        for s in seeds
    )
    if needs_teacher or (teacher is not None and ("teacher", int(seeds[0])) not in done):
        start = time.perf_counter()
        fitted_here = teacher is None
        if fitted_here:
            teacher = fit_model(
                teacher_config(), fit, seed=seeds[0], num_threads=num_threads, epochs=epochs
            )
        if ("teacher", int(seeds[0])) not in done:
            record(
                "teacher",
                "teacher",
                seeds[0],
                teacher,
                time.perf_counter() - start if fitted_here else np.nan,
                {"preset": TEACHER},
            )
        kd_fit = with_teacher_column(fit, teacher)
    for candidate in candidates:
        name, kind = candidate["name"], candidate["kind"]
        settings = {k: v for k, v in candidate.items() if k not in ("name", "kind")}
        for seed in seeds:
            if (name, int(seed)) in done:
                continue
            data = kd_fit if kind == "student_kd" else fit
            start = time.perf_counter()
            model = fit_model(
                configs[name], data, seed=seed, num_threads=num_threads, epochs=epochs
            )
            record(name, kind, seed, model, time.perf_counter() - start, settings)
    return pd.DataFrame(rows, columns=list(_TUNING_COLUMNS))


def summarize_tuning(tuning: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd of the validation AUC of each candidate over its seeds (search order kept)."""
    grouped = tuning.groupby("name", sort=False)
    out = (
        grouped["valid_auc"]
        .agg(["mean", "std", "count"])
        .rename(columns={"mean": "valid_auc_mean", "std": "valid_auc_sd", "count": "n_seeds"})
    )
    out.insert(0, "kind", grouped["kind"].first())
    out["settings"] = grouped["settings"].first()
    return out.reset_index()


__all__ = [
    "MODELS",
    "TUNING_GRID",
    "tune_distillation",
    "RESULT_COLUMNS",
    "RETENTION_BAR",
    "ROCKET_CONFIG",
    "SPEEDUP_BAR",
    "SPLIT_SEED",
    "STUDENTS",
    "STUDENT_CONFIG",
    "TEACHER",
    "TEACHER_COLUMN",
    "DistillationBenchmark",
    "benchmark_configs",
    "check_bar",
    "config_sha",
    "ctr_split",
    "encoded_batch",
    "fit_model",
    "gain_retention",
    "logistic_regression_config",
    "rocket_config",
    "run_distillation_benchmark",
    "run_seed",
    "scoring_speed",
    "served_parameters",
    "student_config",
    "summarize_results",
    "summarize_tuning",
    "teacher_config",
    "validation_split",
    "with_teacher_column",
]
