"""ESMM's sample-selection bias, measured on a constructed entire-space task.

A conversion-rate (CVR) model is usually trained on clicked impressions only and then used
on every impression. ESMM (Ma et al., SIGIR 2018) trains its CVR tower over the entire
impression space through ``pCTCVR = pCTR * pCVR``. On logged data the bias this is meant
to remove cannot be measured, because the conversion probability of an impression nobody
clicked is never seen; on :mod:`recutils.datasets.entire_space` it is known for every
impression, so each model's ``pCVR`` can be scored against the truth over all of them.

Per seed (:func:`run_seed`):

1. Draw ``n_impressions`` impressions (:func:`~recutils.datasets.entire_space.entire_space_impressions`,
   seed ``seed``) and split them at random into train / validation / test
   (:func:`split_impressions`, its own stream of ``seed``).
2. For each candidate embedding weight decay (:data:`ESMM_WEIGHT_DECAYS`,
   :data:`NAIVE_WEIGHT_DECAYS`), fit

   * **ESMM** (``create_model("esmm", task_labels={"like": "click", "love": "conversion"})``)
     on every training impression, and
   * the **naive CVR** model (``deep_rank`` whose network is ESMM's CVR tower alone: the same
     feature embeddings, the same 128-64 MLP, the same optimizers) on the clicked training
     impressions, label ``conversion``;

   both read the user and item ids and the MovieLens side features (:data:`FEATURES`,
   width :data:`EMBEDDING_DIM`) and stop early on 10% of their own training rows. Each
   model keeps the candidate with the lowest loss on the validation impressions by its
   *own observable* objective (ESMM: CTR log loss + CTCVR log loss over every validation
   impression; naive: conversion log loss over the clicked validation impressions). The
   test impressions and the true probabilities play no part in any choice.
3. Score the test impressions (unknown ids fall in the out-of-vocabulary bucket, as at
   serving time) and compare each model's ``pCVR`` (ESMM: ``love_conditional``, the CVR
   tower's ``p(conversion | click)``) with ``true_cvr`` over three scopes: ``entire`` (every
   test impression, where the estimate is used at serving time), ``clicked`` and
   ``unclicked`` (:func:`cvr_calibration`: mean bias, expected calibration error against the
   true probabilities over :data:`N_BINS` equal-width bins of the prediction, RMSE).
   On the entire scope also the AUC of ``pCTCVR`` against ``conversion``: ESMM's ``love``,
   and for the naive model ESMM's ``pCTR`` (the ``like`` tower of the same seed) times the
   naive ``pCVR``.

:func:`run_esmm_bias` runs the seeds; :func:`summarize_esmm_bias` gives mean and standard
deviation over them; :func:`esmm_bar` checks the bar: ESMM's mean expected calibration
error over the entire space is below the naive model's.

torch is imported when a model is fitted, not by this module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recutils.datasets.entire_space import (
    CLICK_COL,
    CONVERSION_COL,
    TRUE_CVR_COL,
    EntireSpaceWorld,
    entire_space_impressions,
    entire_space_world,
)
from recutils.evaluation.rating import binary_auc
from recutils.exceptions import ConfigError, DataError
from recutils.utils.progress import progress_bar
from recutils.utils.validation import check_positive_int, check_probability

logger = logging.getLogger(__name__)

#: The two models compared.
ESMM = "esmm"
NAIVE = "naive_cvr"
#: Scopes of the test impressions the CVR estimates are scored on.
SCOPES = ("entire", "clicked", "unclicked")
#: Bins of the expected calibration error (equal width over [0, 1]).
N_BINS = 10
#: Features both models read (user and item ids, the MovieLens side features).
FEATURES: tuple[dict[str, Any], ...] = (
    {"name": "user_id", "column": "@user", "min_count": 3},
    {"name": "movie_id", "column": "@item", "min_count": 3},
    {"name": "age"},
    {"name": "gender"},
    {"name": "occupation"},
    {"name": "genres", "type": "tags", "separator": "|", "pooling": "mean"},
    {"name": "year"},
)
#: Width of every feature embedding.
EMBEDDING_DIM = 16
#: The hidden layers of ESMM's towers (its preset) and of the naive model.
TOWER_UNITS = (128, 64)
#: ESMM's candidate embedding weight decays (its preset: 0.002), chosen per seed on validation.
ESMM_WEIGHT_DECAYS = (0.0005, 0.002, 0.008)
#: The naive model's candidates: it trains on a tenth of the rows (the clicked ones) and its
#: validation loss still fell at 0.032, so its range reaches further.
NAIVE_WEIGHT_DECAYS = (0.008, 0.032, 0.128, 0.512)
#: Default number of impressions per seed.
N_IMPRESSIONS = 500_000
#: Seed-sequence tag of the train / validation / test split (apart from the impressions' stream).
_SPLIT_STREAM = 1


def split_impressions(
    frame: pd.DataFrame, seed: int, test_fraction: float = 0.2, valid_fraction: float = 0.1
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A seeded random split of impressions into train, validation and test (fresh indexes).

    The permutation comes from ``np.random.default_rng([seed, 1])``, a stream apart from
    the one that drew the impressions with the same ``seed``.

    Raises:
        ConfigError: fractions outside [0, 1) or adding up to 1 or more.
    """
    check_probability("test_fraction", test_fraction, open_right=True)
    check_probability("valid_fraction", valid_fraction, open_right=True)
    if test_fraction + valid_fraction >= 1:
        raise ConfigError(
            f"test_fraction + valid_fraction must be below 1, got {test_fraction} + {valid_fraction}."
        )
    order = np.random.default_rng([seed, _SPLIT_STREAM]).permutation(len(frame))
    n_test = int(round(test_fraction * len(frame)))
    n_valid = int(round(valid_fraction * len(frame)))
    parts = (order[n_test + n_valid :], order[n_test : n_test + n_valid], order[:n_test])
    return tuple(frame.iloc[np.sort(rows)].reset_index(drop=True) for rows in parts)  # type: ignore[return-value]


def cvr_calibration(pred: np.ndarray, true: np.ndarray, n_bins: int = N_BINS) -> dict[str, Any]:
    """How far predicted probabilities are from the true ones.

    Args:
        pred: Predicted probabilities.
        true: The true probabilities of the same rows.
        n_bins: Equal-width bins of ``pred`` over [0, 1] (1.0 falls in the last one).

    Returns:
        ``bias`` (mean pred - mean true), ``ece`` (sum over bins of the bin's share of rows
        times ``|mean pred - mean true|`` in the bin), ``rmse`` (to ``true``), and per bin
        ``n_bin`` (rows), ``pred_bin`` and ``true_bin`` (means; NaN for an empty bin).

    Raises:
        DataError: empty or unequal inputs, or values outside [0, 1] or NaN.
    """
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    check_positive_int("n_bins", n_bins)
    if pred.shape != true.shape or pred.ndim != 1 or pred.size == 0:
        raise DataError(
            f"pred and true must be non-empty 1-d arrays of one length, got shapes "
            f"{pred.shape} and {true.shape}."
        )
    for name, values in (("pred", pred), ("true", true)):
        if not ((values >= 0) & (values <= 1)).all():  # NaN fails too
            raise DataError(f"{name} must hold probabilities in [0, 1] (no NaN).")
    bins = np.minimum((pred * n_bins).astype(np.int64), n_bins - 1)
    n = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        pred_bin = np.bincount(bins, weights=pred, minlength=n_bins) / n
        true_bin = np.bincount(bins, weights=true, minlength=n_bins) / n
    filled = n > 0
    ece = float(np.sum(n[filled] * np.abs(pred_bin[filled] - true_bin[filled])) / pred.size)
    return {
        "bias": float(pred.mean() - true.mean()),
        "ece": ece,
        "rmse": float(np.sqrt(np.mean((pred - true) ** 2))),
        "n_bin": n,
        "pred_bin": pred_bin,
        "true_bin": true_bin,
    }


def _log_loss(labels: np.ndarray, p: np.ndarray) -> float:
    eps = 1e-7
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(np.where(labels > 0, np.log(p), np.log1p(-p))))


def _train_settings(weight_decay: float, num_threads: int) -> dict[str, Any]:
    """ESMM preset's training (batch 1024, Adam at 0.001, early stopping on validation AUC)
    with the given embedding weight decay; used by both models."""
    return {
        "batch_size": 1024,
        "epochs": 30,
        "patience": 2,
        "validation_fraction": 0.1,
        "early_stopping_metric": "auc",
        "progress": False,
        "num_threads": num_threads,
        "optimizers": [
            {"name": "adam", "lr": 0.001, "params": "embedding", "weight_decay": weight_decay},
            {"name": "adam", "lr": 0.001, "params": "dense"},
        ],
    }


def _feature_names() -> list[str]:
    return [f["name"] for f in FEATURES]


def esmm_model(seed: int, weight_decay: float, num_threads: int = 1) -> Any:
    """The ESMM preset with ``like`` = ``click`` and ``love`` = ``conversion``, reading :data:`FEATURES`."""
    from recutils.models import create_model

    return create_model(
        ESMM,
        task_labels={"like": CLICK_COL, "love": CONVERSION_COL},
        features=[dict(f) for f in FEATURES],
        feature_groups={"all": _feature_names()},
        default_embedding_dim=EMBEDDING_DIM,
        seed=seed,
        train=_train_settings(weight_decay, num_threads),
    )


def naive_cvr_model(seed: int, weight_decay: float, num_threads: int = 1) -> Any:
    """ESMM's CVR tower as a one-task ``deep_rank`` model (label column ``conversion``):
    :data:`FEATURES` embedded and concatenated, the :data:`TOWER_UNITS` MLP, one logit."""
    from recutils.models import create_model

    network = {
        "model_name": "NaiveCVR",
        "model_class": "RankModel",
        "feature_groups": [
            {"group_name": "all", "feature_names": _feature_names(), "wide_deep": "DEEP"}
        ],
        "backbone": {
            "blocks": [
                {"name": "all", "inputs": [{"feature_group_name": "all"}], "input_layer": {}},
                {
                    "name": "tower",
                    "inputs": [{"block_name": "all"}],
                    "layer": {
                        "class_name": "MLP",
                        "params": {
                            "hidden_units": [*TOWER_UNITS, 1],
                            "use_final_bn": False,
                            "final_activation": "linear",
                        },
                    },
                },
            ],
            "concat_blocks": ["tower"],
        },
        "model_params": {"l2_regularization": 1.0e-4},  # ESMM preset's
    }
    return create_model(
        "deep_rank",
        col_rating=CONVERSION_COL,
        features=[dict(f) for f in FEATURES],
        default_embedding_dim=EMBEDDING_DIM,
        model_config=network,
        seed=seed,
        train=_train_settings(weight_decay, num_threads),
    )


def _esmm_outputs(model: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ESMM's pCTR, pCTCVR and pCVR of each row (unknown ids scored)."""
    tasks = model.predict_tasks(frame, score_unknown=True)
    return tasks["like"].to_numpy(), tasks["love"].to_numpy(), tasks["love_conditional"].to_numpy()


def _naive_cvr(model: Any, frame: pd.DataFrame) -> np.ndarray:
    return model.predict(frame, score_unknown=True)[model.col_prediction].to_numpy()


def _fit_candidates(
    make: Any,
    train: pd.DataFrame,
    valid_loss: Any,
    seed: int,
    weight_decays: Sequence[float],
    num_threads: int,
    name: str,
) -> tuple[Any, dict[str, Any]]:
    """Fit one model per weight decay; keep the one with the lowest ``valid_loss(model)``."""
    best: tuple[float, Any, dict[str, Any]] | None = None
    for decay in weight_decays:
        start = time.perf_counter()
        model = make(seed, decay, num_threads).fit(train)
        seconds = time.perf_counter() - start
        loss = valid_loss(model)
        logger.info(
            "seed %d %s: weight decay %g, validation loss %.5f, %.1f s",
            seed,
            name,
            decay,
            loss,
            seconds,
        )
        if best is None or loss < best[0]:
            best = (
                loss,
                model,
                {
                    "weight_decay": decay,
                    "valid_loss": loss,
                    "fit_s": seconds,
                    "best_epoch": model.best_epoch_,
                },
            )
    if best is None:
        raise ConfigError("weight_decays must name at least one candidate.")
    return best[1], best[2]


def run_seed(
    world: EntireSpaceWorld,
    seed: int,
    n_impressions: int = N_IMPRESSIONS,
    *,
    esmm_weight_decays: Sequence[float] = ESMM_WEIGHT_DECAYS,
    naive_weight_decays: Sequence[float] = NAIVE_WEIGHT_DECAYS,
    num_threads: int = 1,
) -> list[dict[str, Any]]:
    """One seed of the benchmark (see the module docstring).

    Returns:
        One row per model and scope: ``seed``, ``model``, ``scope``, ``n_rows``,
        ``mean_true_cvr``, ``mean_pred_cvr``, ``cvr_bias``, ``cvr_ece``, ``cvr_rmse``,
        ``ctcvr_auc`` (entire scope only, else NaN), ``ctr_source``, the chosen
        ``weight_decay``, its ``valid_loss``, ``fit_s``, ``best_epoch``, the training
        sizes and, per bin ``k``, ``n_bin{k}``, ``pred_bin{k}``, ``true_bin{k}``.
    """
    frame = entire_space_impressions(n_impressions, seed, world=world)
    train, valid, test = split_impressions(frame, seed)
    valid_clicked = valid[valid[CLICK_COL] == 1]

    def esmm_loss(model: Any) -> float:
        p_ctr, p_ctcvr, _ = _esmm_outputs(model, valid)
        return _log_loss(valid[CLICK_COL].to_numpy(), p_ctr) + _log_loss(
            valid[CONVERSION_COL].to_numpy(), p_ctcvr
        )

    def naive_loss(model: Any) -> float:
        return _log_loss(valid_clicked[CONVERSION_COL].to_numpy(), _naive_cvr(model, valid_clicked))

    clicked_train = train[train[CLICK_COL] == 1].reset_index(drop=True)
    esmm, esmm_info = _fit_candidates(
        esmm_model, train, esmm_loss, seed, esmm_weight_decays, num_threads, ESMM
    )
    naive, naive_info = _fit_candidates(
        naive_cvr_model, clicked_train, naive_loss, seed, naive_weight_decays, num_threads, NAIVE
    )
    p_ctr, p_ctcvr, esmm_cvr = _esmm_outputs(esmm, test)
    naive_cvr = _naive_cvr(naive, test)
    conversion = test[CONVERSION_COL].to_numpy() > 0
    clicked = test[CLICK_COL].to_numpy() > 0
    true_cvr = test[TRUE_CVR_COL].to_numpy()
    masks = {"entire": np.ones(len(test), dtype=bool), "clicked": clicked, "unclicked": ~clicked}
    rows = []
    for model, pred, ctcvr, source, info, n_train in (
        (ESMM, esmm_cvr, p_ctcvr, "esmm_like", esmm_info, len(train)),
        (
            NAIVE,
            naive_cvr,
            p_ctr * naive_cvr,
            "esmm_like x naive_cvr",
            naive_info,
            len(clicked_train),
        ),
    ):
        for scope in SCOPES:
            mask = masks[scope]
            cal = cvr_calibration(pred[mask], true_cvr[mask])
            row = {
                "seed": seed,
                "model": model,
                "scope": scope,
                "n_rows": int(mask.sum()),
                "mean_true_cvr": float(true_cvr[mask].mean()),
                "mean_pred_cvr": float(pred[mask].mean()),
                "cvr_bias": cal["bias"],
                "cvr_ece": cal["ece"],
                "cvr_rmse": cal["rmse"],
                "ctcvr_auc": binary_auc(conversion, ctcvr) if scope == "entire" else np.nan,
                "ctr_source": source,
                **info,
                "n_train": n_train,
                "n_impressions": n_impressions,
            }
            for k in range(N_BINS):
                row[f"n_bin{k}"] = int(cal["n_bin"][k])
                row[f"pred_bin{k}"] = float(cal["pred_bin"][k])
                row[f"true_bin{k}"] = float(cal["true_bin"][k])
            rows.append(row)
    return rows


def run_esmm_bias(
    seeds: Iterable[int],
    n_impressions: int = N_IMPRESSIONS,
    *,
    esmm_weight_decays: Sequence[float] = ESMM_WEIGHT_DECAYS,
    naive_weight_decays: Sequence[float] = NAIVE_WEIGHT_DECAYS,
    num_threads: int = 1,
    world: EntireSpaceWorld | None = None,
    progress: bool = True,
    **world_params: Any,
) -> pd.DataFrame:
    """Every seed of :func:`run_seed`, one frame (rows: seed x model x scope).

    Args:
        seeds: Seeds of the impressions, the split and the models.
        n_impressions: Impressions per seed (train 70%, validation 10%, test 20%).
        esmm_weight_decays, naive_weight_decays: Each model's candidate embedding weight
            decays (chosen on validation).
        num_threads: torch CPU threads per fit.
        world: The task (default: :func:`~recutils.datasets.entire_space.entire_space_world`
            with ``world_params``).
        progress: A progress bar over the seeds.
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("seeds must name at least one seed.")
    check_positive_int("n_impressions", n_impressions)
    if world is None:
        world = entire_space_world(**world_params)
    it: Iterable[int] = seeds
    it = progress_bar(seeds, desc="esmm bias", unit="seed", enabled=progress)
    rows = []
    for seed in it:
        rows.extend(
            run_seed(
                world,
                seed,
                n_impressions,
                esmm_weight_decays=esmm_weight_decays,
                naive_weight_decays=naive_weight_decays,
                num_threads=num_threads,
            )
        )
    return pd.DataFrame(rows)


#: Result columns summarised over seeds.
SUMMARY_METRICS = (
    "cvr_bias",
    "cvr_ece",
    "cvr_rmse",
    "ctcvr_auc",
    "mean_pred_cvr",
    "mean_true_cvr",
    "fit_s",
)


def summarize_esmm_bias(
    results: pd.DataFrame, metrics: Sequence[str] = SUMMARY_METRICS
) -> pd.DataFrame:
    """Mean and standard deviation (``ddof=1``) over seeds, per scope and model.

    Returns:
        Index ``(scope, model)`` in :data:`SCOPES` order; columns ``n_seeds``,
        ``<metric>_mean`` and ``<metric>_sd``.
    """
    missing = [c for c in ("seed", "model", "scope", *metrics) if c not in results.columns]
    if missing:
        raise DataError(f"results lack column(s) {missing}.")
    grouped = results.groupby(["scope", "model"], sort=False)
    out = pd.DataFrame({"n_seeds": grouped["seed"].nunique()})
    for metric in metrics:
        out[f"{metric}_mean"] = grouped[metric].mean()
        out[f"{metric}_sd"] = grouped[metric].std(ddof=1)
    known = [
        (scope, model) for scope in SCOPES for model in (ESMM, NAIVE) if (scope, model) in out.index
    ]
    return out.loc[known + [k for k in out.index if k not in known]]


def esmm_bar(results: pd.DataFrame) -> tuple[bool, str]:
    """Whether ESMM's mean expected calibration error of pCVR over the entire space is below
    the naive model's, with a one-line account (ECE, and the bias and RMSE beside it)."""
    entire = results[results["scope"] == "entire"]
    means = entire.groupby("model")[["cvr_ece", "cvr_bias", "cvr_rmse"]].mean()
    if not {ESMM, NAIVE} <= set(means.index):
        raise DataError(f"results need both models {ESMM!r} and {NAIVE!r} on the entire scope.")
    e, n = means.loc[ESMM], means.loc[NAIVE]
    holds = bool(e["cvr_ece"] < n["cvr_ece"])
    seeds = entire["seed"].nunique()
    text = (
        f"over {seeds} seed(s), entire space: ECE {e['cvr_ece']:.4f} (esmm) vs {n['cvr_ece']:.4f} (naive), "
        f"|bias| {abs(e['cvr_bias']):.4f} vs {abs(n['cvr_bias']):.4f}, RMSE {e['cvr_rmse']:.4f} vs "
        f"{n['cvr_rmse']:.4f}: the bar (ESMM's ECE lower) {'holds' if holds else 'does not hold'}."
    )
    return holds, text


def bins_long(results: pd.DataFrame) -> pd.DataFrame:
    """The per-bin columns as a long frame: ``seed, model, scope, bin, n, pred, true``."""
    keys = ["seed", "model", "scope"]
    parts = []
    for k in range(N_BINS):
        part = results[keys + [f"n_bin{k}", f"pred_bin{k}", f"true_bin{k}"]].copy()
        part.columns = [*keys, "n", "pred", "true"]
        part.insert(3, "bin", k)
        parts.append(part)
    return (
        pd.concat(parts, ignore_index=True)
        .sort_values([*keys, "bin"], kind="stable")
        .reset_index(drop=True)
    )


__all__ = [
    "EMBEDDING_DIM",
    "ESMM",
    "ESMM_WEIGHT_DECAYS",
    "FEATURES",
    "NAIVE",
    "NAIVE_WEIGHT_DECAYS",
    "N_BINS",
    "N_IMPRESSIONS",
    "SCOPES",
    "SUMMARY_METRICS",
    "TOWER_UNITS",
    "bins_long",
    "cvr_calibration",
    "esmm_bar",
    "esmm_model",
    "naive_cvr_model",
    "run_esmm_bias",
    "run_seed",
    "split_impressions",
    "summarize_esmm_bias",
]
