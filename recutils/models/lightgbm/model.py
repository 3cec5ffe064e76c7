"""LightGBM click-through-rate model on raw Criteo DAC rows.

:class:`LightGBMCTR` encodes the rows with :class:`~recutils.models.lightgbm.features.
CTRFeatureEncoder` (learned on the training rows only), trains a binary LightGBM
booster with early stopping on a validation split and predicts click probabilities.

It is not a :class:`~recutils.models.base.BaseRecommender` and is not in the model
registry: it scores feature rows (an impression's 39 features), not (user, item)
pairs, so ``recommend_k_items`` and the user-item contract do not apply. It keeps the
other conventions: a config dataclass (:class:`LightGBMCTRConfig`) whose ``params``
pass LightGBM's own options through, fitted attributes ending in ``_``,
:class:`~recutils.exceptions.NotFittedError` before ``fit``, and ``save`` / ``load``
of a folder with ``manifest.json``, LightGBM's text model ``model.txt`` and the
encoder as ``encoder.json`` (nothing pickled).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.config import BaseConfig, load_config
from recutils.constants import DEFAULT_PREDICTION_COL, SEED
from recutils.datasets.criteo import CAT_COLS, INT_COLS, LABEL_COL
from recutils.evaluation import score_arrays
from recutils.exceptions import (
    ColumnMismatchError,
    ConfigError,
    DataError,
    DataWarning,
    ModelFitError,
    NotFittedError,
)
from recutils.models import persistence
from recutils.models.lightgbm.features import NUMERIC_MISSING, CTRFeatureEncoder
from recutils.models.persistence import FORMAT_VERSION, MANIFEST  # noqa: F401 - names of this module
from recutils.splitting import python_stratified_split
from recutils.utils.deps import require
from recutils.utils.validation import check_bool, is_int

logger = logging.getLogger(__name__)

MODEL_FILE = "model.txt"
ENCODER_FILE = "encoder.json"

#: LightGBM parameters used unless ``LightGBMCTRConfig.params`` overrides them; chosen
#: for small data (hundreds to a few thousand rows): small trees, a minimum leaf size
#: and per-category group size that a few hundred rows can fill, L2 regularisation and
#: deterministic, row-wise histogram construction.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "metric": "binary_logloss",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "max_depth": -1,
    "min_data_in_leaf": 30,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "min_data_per_group": 20,
    "cat_smooth": 10.0,
    "max_cat_to_onehot": 4,
    "verbosity": -1,
    "deterministic": True,
    "force_row_wise": True,
}

#: LightGBM options set by config fields instead of ``params`` (every alias LightGBM
#: accepts for them), so each has a single place.
_OWNED: dict[str, tuple[str, ...]] = {
    "num_boost_round": (
        "num_iterations",
        "num_iteration",
        "n_iter",
        "num_tree",
        "num_trees",
        "num_round",
        "num_rounds",
        "nrounds",
        "num_boost_round",
        "n_estimators",
        "max_iter",
    ),
    "early_stopping_rounds": (
        "early_stopping_round",
        "early_stopping_rounds",
        "early_stopping",
        "n_iter_no_change",
    ),
    "seed": ("seed", "random_seed", "random_state"),
    "num_threads": ("num_threads", "num_thread", "nthread", "nthreads", "n_jobs"),
}
_BINARY_OBJECTIVES = ("binary", "cross_entropy", "xentropy")


def _lightgbm() -> ModuleType:
    """Import lightgbm or raise MissingDependencyError naming the ``lightgbm`` extra."""
    return require("lightgbm", "lightgbm")


def _is_int(value: Any, minimum: int) -> bool:
    return is_int(value) and value >= minimum


@dataclasses.dataclass
class LightGBMCTRConfig(BaseConfig):
    """Settings of :class:`LightGBMCTR`.

    Attributes:
        params: LightGBM parameters (any name or alias LightGBM accepts), merged over
            :data:`DEFAULT_PARAMS`. The options below that have a field here
            (iterations, early stopping, seed, threads) cannot be given in ``params``.
        num_boost_round: Most boosting rounds.
        early_stopping_rounds: Stop when the validation logloss has not improved for this
            many rounds (``0``: no early stopping; all ``num_boost_round`` rounds).
        valid_fraction: Share of the training rows carved out (stratified by label,
            seeded) as the validation split when ``fit`` gets no ``valid_df``;
            ``0`` trains on every row without validation.
        seed: Seed of the validation carve and of LightGBM (``seed`` parameter).
        num_threads: LightGBM threads (set explicitly; ``0`` lets OpenMP decide).
        min_count: Categorical values seen fewer times in training share the unknown
            bucket.
        numeric_missing: ``"keep"`` (NaN, LightGBM's missing-value handling),
            ``"median"`` or ``"zero"``.
        log_transform: ``sign(x) * log1p(|x|)`` on the numeric columns.
        numeric_cols: Numeric columns (``None``: Criteo's ``I1..I13``).
        categorical_cols: Categorical columns (``None``: Criteo's ``C1..C26``).
    """

    params: dict[str, Any] = dataclasses.field(default_factory=dict)
    num_boost_round: int = 500
    early_stopping_rounds: int = 30
    valid_fraction: float = 0.15
    seed: int = SEED
    num_threads: int = 1
    min_count: int = 5
    numeric_missing: str = "keep"
    log_transform: bool = False
    numeric_cols: list[str] | None = None
    categorical_cols: list[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.params, Mapping):
            raise ConfigError(
                f"params must be a mapping of LightGBM parameters, got {self.params!r}."
            )
        self.params = dict(self.params)
        for key in self.params:
            if not isinstance(key, str):
                raise ConfigError(f"LightGBM parameter names must be strings, got {key!r}.")
            for field_name, aliases in _OWNED.items():
                if key in aliases:
                    raise ConfigError(
                        f"LightGBM parameter {key!r} is set by the config field "
                        f"{field_name!r}; remove it from params."
                    )
        objective = self.params.get("objective", DEFAULT_PARAMS["objective"])
        if objective not in _BINARY_OBJECTIVES:
            raise ConfigError(
                f"objective {objective!r} does not predict click probabilities; "
                f"allowed: {list(_BINARY_OBJECTIVES)}."
            )
        try:
            json.dumps(self.params)
        except (TypeError, ValueError) as err:
            raise ConfigError(
                f"params must hold JSON values (numbers, strings, lists): {err}"
            ) from err
        if not _is_int(self.num_boost_round, 1):
            raise ConfigError(
                f"num_boost_round must be an integer >= 1, got {self.num_boost_round!r}."
            )
        if not _is_int(self.early_stopping_rounds, 0):
            raise ConfigError(
                "early_stopping_rounds must be an integer >= 0, got "
                f"{self.early_stopping_rounds!r}."
            )
        if (
            isinstance(self.valid_fraction, bool)
            or not isinstance(self.valid_fraction, (int, float, np.floating))
            or not 0.0 <= float(self.valid_fraction) < 1.0
        ):
            raise ConfigError(f"valid_fraction must be in [0, 1), got {self.valid_fraction!r}.")
        self.valid_fraction = float(self.valid_fraction)
        if not _is_int(self.seed, 0):
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}.")
        if not _is_int(self.num_threads, 0):
            raise ConfigError(f"num_threads must be an integer >= 0, got {self.num_threads!r}.")
        if not _is_int(self.min_count, 1):
            raise ConfigError(f"min_count must be an integer >= 1, got {self.min_count!r}.")
        if self.numeric_missing not in NUMERIC_MISSING:
            raise ConfigError(
                f"numeric_missing {self.numeric_missing!r} is unknown; "
                f"allowed: {list(NUMERIC_MISSING)}."
            )
        check_bool("log_transform", self.log_transform)
        for name in ("numeric_cols", "categorical_cols"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, str) or not all(isinstance(c, str) for c in value):
                    raise ConfigError(
                        f"{name} must be a list of column names or null, got {value!r}."
                    )
                setattr(self, name, list(value))

    def lightgbm_params(self) -> dict[str, Any]:
        """The parameters handed to ``lightgbm.train``: defaults, ``params``, seed, threads."""
        return {
            **DEFAULT_PARAMS,
            **self.params,
            "seed": int(self.seed),
            "num_threads": int(self.num_threads),
        }


def _check_lightgbm_param_names(lgb: ModuleType, params: Mapping[str, Any]) -> None:
    """Reject parameter names LightGBM does not know (it would only log a warning)."""
    try:  # private helper of lightgbm >= 4; skip the check when it moves
        aliases = lgb.basic._ConfigAliases._get_all_param_aliases()
    except AttributeError:  # pragma: no cover - depends on the installed lightgbm
        return
    known = {name for names in aliases.values() for name in names} | set(aliases)
    unknown = sorted(k for k in params if k not in known)
    if unknown:
        raise ConfigError(
            f"unknown LightGBM parameter(s) {unknown} in params; see "
            "https://lightgbm.readthedocs.io/en/latest/Parameters.html for the allowed names."
        )


def label_array(df: pd.DataFrame, col_label: str, what: str = "frame") -> np.ndarray:
    """The 0/1 labels of ``df[col_label]`` as float64.

    Raises:
        ColumnMismatchError: no ``col_label`` column.
        DataError: missing labels or labels other than 0/1.
    """
    if col_label not in df.columns:
        raise ColumnMismatchError(
            f"{what} has no label column {col_label!r}; columns are {list(df.columns)[:45]}."
        )
    values = df[col_label]
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64)
    if not pd.api.types.is_numeric_dtype(values.dtype):
        raise DataError(
            f"{what}: label column {col_label!r} must be numeric 0/1, got dtype {values.dtype}."
        )
    y = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise DataError(
            f"{what}: label column {col_label!r} must hold 0 or 1 (click / no click); "
            f"found {y[bad][:3].tolist()} (first at row {int(np.flatnonzero(bad)[0])})."
        )
    return y


def stratified_label_split(
    df: pd.DataFrame,
    ratio: float | list[float],
    seed: int = SEED,
    col_label: str = LABEL_COL,
) -> list[pd.DataFrame]:
    """Split rows at random keeping the click rate of every part (seeded).

    A thin use of :func:`recutils.splitting.python_stratified_split` with the label as
    the group column; ``ratio`` is the first part's share or a list of shares.
    """
    label_array(df, col_label)
    return python_stratified_split(
        df, ratio=ratio, min_rating=1, filter_by="user", col_user=col_label, seed=seed
    )


def ctr_metrics(
    labels: np.ndarray | pd.Series,
    probabilities: np.ndarray | pd.Series,
) -> dict[str, float]:
    """AUC and logloss of click probabilities through :func:`recutils.evaluation.score_arrays`.

    The same values as :func:`recutils.evaluation.auc` and ``logloss`` of frames that
    give each row its own (user, item) pair.

    Returns:
        ``{"auc": ..., "logloss": ...}``.
    """
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    if y.shape != p.shape or y.ndim != 1:
        raise DataError(
            f"labels and probabilities must be 1-d of one length, got {y.shape} and {p.shape}."
        )
    return {"auc": score_arrays("auc", y, p), "logloss": score_arrays("logloss", y, p)}


def base_rate_metrics(
    train_labels: np.ndarray | pd.Series, labels: np.ndarray | pd.Series
) -> dict[str, float]:
    """:func:`ctr_metrics` of the baseline that predicts the training click rate for every row.

    Its AUC is 0.5 (every score tied); its logloss is the cross-entropy of the
    test labels against the training base rate.
    """
    rate = float(np.mean(np.asarray(train_labels, dtype=np.float64)))
    y = np.asarray(labels, dtype=np.float64)
    return ctr_metrics(y, np.full(y.shape, rate))


class LightGBMCTR:
    """Gradient-boosted trees predicting click probabilities from raw DAC rows.

    Args:
        config: A :class:`LightGBMCTRConfig`, a mapping, YAML text or a YAML file;
            keyword ``params`` override it.
        col_label: The 0/1 click column.
        col_prediction: Column of :meth:`predict`'s output.
        **params: Config fields (unknown names raise :class:`ConfigError`).

    Attributes (after ``fit``):
        booster_: The trained ``lightgbm.Booster``.
        encoder_: The fitted :class:`CTRFeatureEncoder`.
        best_iteration_: Boosting rounds used for prediction (the best on validation).
        base_rate_: Click rate of the training rows (the baseline prediction).
        evals_result_: ``{"train": {"binary_logloss": [...]}, "valid": {...}}`` per round.
        n_train_, n_valid_: Rows used for training and validation.

    Examples:
        >>> model = LightGBMCTR(num_boost_round=200, params={"num_leaves": 7})  # doctest: +SKIP
        >>> model.fit(train_df).predict_proba(test_df)                          # doctest: +SKIP
    """

    name: ClassVar[str] = "lightgbm_ctr"
    config_class: ClassVar[type[LightGBMCTRConfig]] = LightGBMCTRConfig

    def __init__(
        self,
        config: LightGBMCTRConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        col_label: str = LABEL_COL,
        col_prediction: str = DEFAULT_PREDICTION_COL,
        **params: Any,
    ) -> None:
        base = load_config(config, LightGBMCTRConfig)
        self.config = base.replace(**params) if params else base
        self.col_label = col_label
        self.col_prediction = col_prediction

    # ------------------------------------------------------------------ helpers
    def __getattr__(self, name: str) -> Any:
        if name.endswith("_") and not name.startswith("__"):
            raise NotFittedError(
                f"{type(self).__name__}.{name} is not available: call fit() first."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.config.to_dict().items())
        return f"{type(self).__name__}({params})"

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run (or a fitted model was loaded)."""
        return "booster_" in self.__dict__

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit() before using it."
            )

    def _new_encoder(self) -> CTRFeatureEncoder:
        cfg = self.config
        return CTRFeatureEncoder(
            INT_COLS if cfg.numeric_cols is None else cfg.numeric_cols,
            CAT_COLS if cfg.categorical_cols is None else cfg.categorical_cols,
            min_count=cfg.min_count,
            numeric_missing=cfg.numeric_missing,
            log_transform=cfg.log_transform,
        )

    # ---------------------------------------------------------------------- fit
    def fit(self, train_df: pd.DataFrame, valid_df: pd.DataFrame | None = None) -> LightGBMCTR:
        """Learn the encoder on the training rows and train the booster.

        Args:
            train_df: Rows with the label and feature columns (e.g. from
                :func:`recutils.datasets.criteo.read_dac`). Never modified.
            valid_df: Validation rows for early stopping. ``None``: carve
                ``valid_fraction`` of ``train_df`` (stratified by label, seeded).

        Raises:
            ColumnMismatchError: a frame lacks the label or a feature column.
            DataError: labels other than 0/1, one class only in training, empty frames.
            ConfigError: a parameter name LightGBM does not know.
            MissingDependencyError: lightgbm is not installed (``recutils[lightgbm]``).
            ModelFitError: LightGBM failed.
        """
        lgb = _lightgbm()
        cfg = self.config
        params = cfg.lightgbm_params()
        _check_lightgbm_param_names(lgb, params)
        encoder = self._new_encoder()
        encoder.check_columns(train_df, "train_df")
        if label_array(train_df, self.col_label, "train_df").size == 0:
            raise DataError("train_df is empty.")
        if valid_df is not None:
            encoder.check_columns(valid_df, "valid_df")
            y_valid = label_array(valid_df, self.col_label, "valid_df")
            if y_valid.size == 0:
                raise DataError("valid_df is empty.")
            train_part, valid_part = train_df, valid_df
        elif cfg.valid_fraction > 0:
            train_part, valid_part = stratified_label_split(
                train_df,
                [1.0 - cfg.valid_fraction, cfg.valid_fraction],
                seed=cfg.seed,
                col_label=self.col_label,
            )
            if len(valid_part) == 0:
                raise DataError(
                    f"valid_fraction={cfg.valid_fraction} of {len(train_df)} rows leaves no "
                    "validation row; pass valid_df, more rows or valid_fraction=0."
                )
        else:
            train_part, valid_part = train_df, None
        y_train = label_array(train_part, self.col_label, "train_df")
        if y_train.size == 0:
            raise DataError("train_df is empty.")
        if y_train.min() == y_train.max():
            raise DataError(
                f"the training rows hold one class only (label {int(y_train[0])}); a CTR model "
                "needs clicks and non-clicks."
            )
        x_train = encoder.fit_transform(train_part)
        cat_features = list(encoder.categorical_cols)
        dtrain = lgb.Dataset(
            x_train,
            label=y_train,
            categorical_feature=cat_features,
            free_raw_data=True,
            params={"verbosity": params["verbosity"]},
        )
        valid_sets, valid_names = [dtrain], ["train"]
        if valid_part is not None:
            y_valid = label_array(valid_part, self.col_label, "validation rows")
            if y_valid.min() == y_valid.max():
                warnings.warn(
                    f"the validation rows hold one class only (label {int(y_valid[0])}); early "
                    "stopping on their logloss is unreliable.",
                    DataWarning,
                    stacklevel=2,
                )
            dvalid = lgb.Dataset(
                encoder.transform(valid_part),
                label=y_valid,
                categorical_feature=cat_features,
                reference=dtrain,
            )
            valid_sets.append(dvalid)
            valid_names.append("valid")
        evals: dict[str, Any] = {}
        callbacks = [lgb.record_evaluation(evals)]
        if valid_part is not None and cfg.early_stopping_rounds > 0:
            callbacks.append(
                lgb.early_stopping(cfg.early_stopping_rounds, first_metric_only=True, verbose=False)
            )
        try:
            booster = lgb.train(
                params,
                dtrain,
                num_boost_round=cfg.num_boost_round,
                valid_sets=valid_sets,
                valid_names=valid_names,
                callbacks=callbacks,
            )
        except lgb.basic.LightGBMError as err:
            raise ModelFitError(f"LightGBM failed to train: {err}") from err
        best = int(booster.best_iteration or 0)
        self.booster_ = booster
        self.encoder_ = encoder
        self.best_iteration_ = best if best > 0 else int(booster.current_iteration())
        self.base_rate_ = float(y_train.mean())
        self.evals_result_ = {
            name: {m: [float(v) for v in vals] for m, vals in metrics.items()}
            for name, metrics in evals.items()
        }
        self.n_train_ = int(y_train.size)
        self.n_valid_ = 0 if valid_part is None else int(len(valid_part))
        logger.info(
            "LightGBMCTR: %d train rows (click rate %.4f), %d validation rows; best iteration %d "
            "of %d",
            self.n_train_,
            self.base_rate_,
            self.n_valid_,
            self.best_iteration_,
            booster.current_iteration(),
        )
        return self

    # ------------------------------------------------------------------ predict
    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """The encoded feature frame LightGBM sees for ``df``."""
        self._check_fitted()
        return self.encoder_.transform(df)

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Click probabilities (float64, one per row of ``df``, in order).

        ``df`` needs the feature columns only (a label column is ignored); unseen and
        rare categorical values fall in the unknown bucket.
        """
        self._check_fitted()
        x = self.encoder_.transform(df)
        if len(x) == 0:
            return np.empty(0, dtype=np.float64)
        return np.asarray(
            self.booster_.predict(x, num_iteration=self.best_iteration_), dtype=np.float64
        )

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """A frame with ``col_prediction`` (click probability), indexed like ``df``."""
        return pd.DataFrame({self.col_prediction: self.predict_proba(df)}, index=df.index)

    def evaluate(self, df: pd.DataFrame, *, baseline: bool = True) -> dict[str, float]:
        """AUC and logloss on the labelled rows ``df`` (see :func:`ctr_metrics`).

        With ``baseline``, also ``baseline_auc`` / ``baseline_logloss`` of predicting
        the training click rate :attr:`base_rate_` for every row.
        """
        self._check_fitted()
        y = label_array(df, self.col_label)
        out = ctr_metrics(y, self.predict_proba(df))
        if baseline:
            base = ctr_metrics(y, np.full(y.shape, self.base_rate_))
            out.update({f"baseline_{k}": v for k, v in base.items()})
        return out

    def feature_importance(self, importance_type: str = "gain") -> pd.Series:
        """Importance per input column (``"gain"`` or ``"split"``), largest first."""
        self._check_fitted()
        if importance_type not in ("gain", "split"):
            raise ConfigError(f"importance_type {importance_type!r}; allowed: ['gain', 'split'].")
        values = self.booster_.feature_importance(
            importance_type=importance_type, iteration=self.best_iteration_
        )
        return pd.Series(
            values, index=self.encoder_.feature_names, name=importance_type
        ).sort_values(ascending=False, kind="stable")

    # ---------------------------------------------------------------- save/load
    def save(self, path: str | Path) -> Path:
        """Write the model to the folder ``path`` (created if needed).

        Layout: ``manifest.json`` (format, recutils and LightGBM versions, model name,
        columns, config, fitted metadata), ``model.txt`` (LightGBM's text format, the
        best iteration's trees) and ``encoder.json``. Nothing is pickled.
        """
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        manifest = persistence.model_manifest(
            self, {"col_label": self.col_label, "col_prediction": self.col_prediction}
        )
        if self.is_fitted:
            lgb = _lightgbm()
            self.booster_.save_model(str(folder / MODEL_FILE), num_iteration=self.best_iteration_)
            self.encoder_.save(folder / ENCODER_FILE)
            manifest["files"] = {"model": MODEL_FILE, "encoder": ENCODER_FILE}
            manifest["state"] = {
                "lightgbm_version": lgb.__version__,
                "best_iteration": self.best_iteration_,
                "base_rate": self.base_rate_,
                "n_train": self.n_train_,
                "n_valid": self.n_valid_,
                "evals_result": self.evals_result_,
            }
        persistence.write_manifest(folder, manifest)
        logger.info("saved %s to %s", type(self).__name__, folder)
        return folder

    @classmethod
    def load(cls, path: str | Path, *, trust: bool = False) -> LightGBMCTR:
        """Rebuild a model written by :meth:`save` (or an artifact of it, verified).

        Runs :func:`recutils.models.persistence.load_saved`, the one loader.

        Args:
            path: The folder.
            trust: Allow pickled files (refused by default; :meth:`save` writes none).

        Raises:
            ConfigError: not a saved model, another model, a newer format version, or
                a booster or encoder that does not load or does not fit together.
            MissingDependencyError: lightgbm is not installed.
        """
        model, _ = persistence.load_saved(path, trust=trust, require_artifact=False, cls=cls)
        return model

    @classmethod
    def _from_saved(cls, folder: Path, manifest: Mapping[str, Any]) -> LightGBMCTR:
        """Rebuild from a checked folder: the booster (``model.txt``) and the encoder.

        The booster must use exactly the encoder's features and the best iteration
        must be one of its trees; LightGBM's own parser reads the text model.

        Raises:
            ArtifactError: a model file LightGBM refuses, or a booster, encoder and
                state that do not fit together.
        """
        model = cls(config=LightGBMCTRConfig.from_dict(manifest["config"]), **manifest["columns"])
        if manifest.get("fitted"):
            lgb = _lightgbm()
            files, state = manifest["files"], manifest["state"]
            model_file, encoder_file = (
                persistence.check_relative_path(files[key]) for key in ("model", "encoder")
            )
            try:
                model.booster_ = lgb.Booster(model_file=str(folder / model_file))
            except lgb.basic.LightGBMError as err:
                raise persistence.ArtifactError(
                    f"{folder / model_file}: LightGBM cannot read the model: {err}"
                ) from err
            model.encoder_ = CTRFeatureEncoder.load(folder / encoder_file)
            n_features = len(model.encoder_.feature_names)
            if model.booster_.num_feature() != n_features:
                raise persistence.ArtifactError(
                    f"{folder / model_file}: the booster uses {model.booster_.num_feature()} "
                    f"features, the encoder ({encoder_file}) makes {n_features}."
                )
            best = state["best_iteration"]
            if not _is_int(best, 0) or best > model.booster_.num_trees():
                raise persistence.ArtifactError(
                    f"{folder}: best_iteration {best!r} is not an iteration of the booster "
                    f"(0..{model.booster_.num_trees()})."
                )
            model.best_iteration_ = int(state["best_iteration"])
            model.base_rate_ = float(state["base_rate"])
            model.n_train_ = int(state["n_train"])
            model.n_valid_ = int(state["n_valid"])
            model.evals_result_ = state["evals_result"]
        return model


__all__ = [
    "DEFAULT_PARAMS",
    "LightGBMCTR",
    "LightGBMCTRConfig",
    "base_rate_metrics",
    "ctr_metrics",
    "label_array",
    "stratified_label_split",
]
