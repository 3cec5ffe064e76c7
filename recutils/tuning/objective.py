"""One objective for every registered model: ``create_model -> fit(train) -> evaluate(valid)``.

* The model comes from the model registry (:func:`recutils.models.registry.create_model`),
  the metric from the metric registry (:func:`recutils.evaluation.parse_metric`): its
  ``higher_is_better`` sets the direction of the study.
* Validation data are a user-given ``(train, valid)`` pair or a *splitter spec*
  ``{"name": "python_stratified_split", "ratio": 0.75, ...}`` resolved through the
  explicit table :data:`SPLITTERS` (never ``eval``): the first part trains, the second
  validates.
* Rating metrics (``rmse``, ``mae`` ...) score ``predict(valid)``; ranking and
  beyond-accuracy metrics score ``recommend_k_items(valid users, top_k=k)`` (seen
  training items removed).
* Spark DataFrames (for ``als``, :class:`~recutils.models.als.SparkALS`) stay on Spark:
  the model fits on the Spark frame and is evaluated with
  :func:`recutils.spark.evaluation.evaluate`.
* Iterative models (a class attribute ``epochs_field`` naming the config field that
  counts epochs, and a ``fit_partial(epochs)`` method, such as LightFM; listed by
  :data:`ITERATIVE_MODELS`) are trained a few epochs at a time; after each chunk the
  validation metric is reported to the trial, so a pruner can stop an unpromising
  trial early.
* Deep models trained by :class:`recutils.nn.trainer.Trainer` (model classes with
  ``evaluation_callbacks = True``, such as
  :class:`~recutils.models.deep.DeepRankModel`) report the same way from inside one
  ``fit``: a trainer callback passes each evaluation's validation metric (on the
  model's ``train.validation_fraction`` hold-out, once per epoch by default) to the
  trial and raises ``TrialPruned`` when the pruner says so. The trainer evaluates the
  study's metric when it is a rating metric (``auc``, ``logloss`` ...), so early
  stopping and pruning follow what is tuned; for other metrics nothing is reported.
* The deep CF models (NCF, LightGCN, Multi-VAE/DAE: ``validation_frame = True``) report
  the same way when the study's metric is a ranking metric: they are fitted with
  ``fit(train, valid=valid)`` and ``valid_metric`` set to the study's metric, so after
  every epoch the trainer computes it on the validation users' top-k lists (seen items
  removed, default evaluation arguments) and the callback reports it.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_K,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RATING_COL,
    DEFAULT_USER_COL,
    SEED,
)
from recutils.exceptions import ConfigError, DataError
from recutils.tuning.space import SearchSpace, nest_params
from recutils.utils.deps import is_spark_frame  # noqa: F401 - public here since before

logger = logging.getLogger(__name__)

#: Splitter name -> ``"module:function"``; a spec names one of these.
SPLITTERS: dict[str, str] = {
    "leave_last_k_out": "recutils.splitting:leave_last_k_out",
    "python_chrono_split": "recutils.splitting:python_chrono_split",
    "python_random_split": "recutils.splitting:python_random_split",
    "python_stratified_split": "recutils.splitting:python_stratified_split",
    "spark_chrono_split": "recutils.spark.splitting:spark_chrono_split",
    "spark_random_split": "recutils.spark.splitting:spark_random_split",
    "spark_stratified_split": "recutils.spark.splitting:spark_stratified_split",
}


def chunk_epochs_field(model_class: type) -> str | None:
    """The config field counting epochs of a model trained a chunk at a time with
    ``fit_partial(epochs)`` (its class attribute ``epochs_field``), else ``None``."""
    name = getattr(model_class, "epochs_field", None)
    return name if name and callable(getattr(model_class, "fit_partial", None)) else None


class _IterativeModels(Mapping[str, str]):
    """Read-only view: registered model name -> :func:`chunk_epochs_field` of its class.

    Derived from the model classes' ``epochs_field`` attributes; a model's class is
    imported when it is looked up (iterating imports every registered model whose
    dependencies are installed).
    """

    def _field(self, name: str) -> str | None:
        from recutils.models.registry import get_model_class

        try:
            return chunk_epochs_field(get_model_class(name))
        except (ConfigError, ImportError):
            return None

    def __getitem__(self, name: str) -> str:
        found = self._field(name) if isinstance(name, str) else None
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        from recutils.models.registry import list_models

        return iter([name for name in list_models() if self._field(name) is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"ITERATIVE_MODELS({dict(self)!r})"


#: Registered model name -> the config field counting epochs, for models trained a
#: chunk at a time with ``fit_partial(epochs)`` (intermediate values for pruning); a
#: read-only view of the classes' ``epochs_field`` attributes.
ITERATIVE_MODELS: Mapping[str, str] = _IterativeModels()

#: The default validation split when none is given: a stratified 75/25 split of train.
DEFAULT_SPLIT: dict[str, Any] = {"name": "python_stratified_split", "ratio": 0.75}

#: Trial user attribute holding the drawn parameters (flat names).
PARAMS_ATTR = "recutils_params"


def _resolve(table: Mapping[str, str], name: str, what: str) -> Callable[..., Any]:
    if name not in table:
        raise ConfigError(f"unknown {what} {name!r}; known: {sorted(table)}.")
    module, attr = table[name].split(":")
    return getattr(importlib.import_module(module), attr)


def split_from_spec(
    data: Any, spec: Mapping[str, Any] | str, *, seed: int | None = None
) -> tuple[Any, Any]:
    """Split ``data`` into ``(train, valid)`` with a splitter spec.

    Args:
        data: Interactions (pandas, or Spark for the ``spark_*`` splitters).
        spec: ``{"name": <a key of SPLITTERS>, **keyword arguments}`` or just the name.
            ``ratio`` defaults to the splitter's; a list ratio must have two parts.
        seed: Used as the splitter's ``seed`` when it takes one and the spec sets none.

    Raises:
        ConfigError: an unknown splitter, or an argument it does not take (the message
            lists the allowed ones).
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise ConfigError(
            f"a split spec is a mapping with a 'name' (one of {sorted(SPLITTERS)}), got {spec!r}."
        )
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    func = _resolve(SPLITTERS, str(spec["name"]), "splitter")
    params = list(inspect.signature(func).parameters)
    allowed = params[1:]
    unknown = [k for k in kwargs if k not in allowed]
    if unknown:
        raise ConfigError(
            f"splitter {spec['name']!r} takes no argument(s) {unknown}; allowed: {allowed}."
        )
    if "seed" in allowed and "seed" not in kwargs and seed is not None:
        kwargs["seed"] = seed
    ratio = kwargs.get("ratio")
    if isinstance(ratio, (list, tuple)) and len(ratio) != 2:
        raise ConfigError(f"a validation split needs two parts, got ratio={ratio!r}.")
    parts = func(data, **kwargs)
    if len(parts) != 2:
        raise ConfigError(f"splitter {spec['name']!r} returned {len(parts)} parts; need 2.")
    return parts[0], parts[1]


@dataclass
class MetricTarget:
    """The metric a study optimises.

    Attributes:
        text: As given (``"ndcg@10"``).
        name: Canonical registry name (``"ndcg"``).
        k: List length of ranking metrics (``@k`` or the default).
        kind: ``"rating"``, ``"ranking"`` or ``"beyond"``.
        higher_is_better: From the metric registry.
    """

    text: str
    name: str
    k: int
    kind: str
    higher_is_better: bool

    @classmethod
    def parse(cls, text: str, default_k: int = DEFAULT_K) -> MetricTarget:
        """Parse a metric name through the registry (unknown names: ``ConfigError``)."""
        from recutils.evaluation import parse_metric

        spec, k = parse_metric(text)
        return cls(
            text=text,
            name=spec.name,
            k=int(k or default_k),
            kind=spec.kind,
            higher_is_better=spec.higher_is_better,
        )

    @property
    def direction(self) -> str:
        """``"maximize"`` or ``"minimize"``."""
        return "maximize" if self.higher_is_better else "minimize"

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b``."""
        return a > b if self.higher_is_better else a < b


@dataclass
class Columns:
    """Column names used by the objective (the recutils defaults)."""

    col_user: str = DEFAULT_USER_COL
    col_item: str = DEFAULT_ITEM_COL
    col_rating: str = DEFAULT_RATING_COL
    col_prediction: str = DEFAULT_PREDICTION_COL

    def model_kwargs(self) -> dict[str, str]:
        return {
            "col_user": self.col_user,
            "col_item": self.col_item,
            "col_rating": self.col_rating,
            "col_prediction": self.col_prediction,
        }

    def eval_kwargs(self) -> dict[str, str]:
        return self.model_kwargs()


def evaluate_model(
    model: Any,
    train: Any,
    valid: Any,
    metric: MetricTarget | str,
    *,
    columns: Columns | None = None,
    remove_seen: bool = True,
    eval_kwargs: Mapping[str, Any] | None = None,
) -> float:
    """The value of ``metric`` for a fitted ``model`` on ``valid`` (pandas or Spark).

    Rating metrics score ``predict`` on the validation pairs (pairs the model cannot
    score, unknown users or items, are left out); ranking and beyond-accuracy metrics
    score ``recommend_k_items`` for the validation users.
    """
    target = metric if isinstance(metric, MetricTarget) else MetricTarget.parse(metric)
    cols = columns or Columns()
    kw = {**cols.eval_kwargs(), **dict(eval_kwargs or {})}
    if is_spark_frame(valid):
        from recutils.spark.evaluation import evaluate as spark_evaluate

        if target.kind == "rating":
            pred = model.predict(valid.select(cols.col_user, cols.col_item))
            pred = pred.dropna(subset=[cols.col_prediction])
        else:
            users = valid.select(cols.col_user).distinct()
            pred = model.recommend_k_items(users, top_k=target.k, remove_seen=remove_seen)
        extra = {"train_df": train} if target.kind == "beyond" else {}
        result = spark_evaluate(valid, pred, [target.text], k=target.k, **kw, **extra)
        return float(result[target.text])
    from recutils.evaluation import evaluate

    if target.kind == "rating":
        pairs = valid[[cols.col_user, cols.col_item]]
        pred = model.predict(pairs)
        known = pred[cols.col_prediction].notna().to_numpy()
        if not known.all():
            logger.debug("%d validation pair(s) cannot be scored; left out", int((~known).sum()))
        pred = pred.loc[known]
    else:
        users = pd.unique(valid[cols.col_user])
        pred = model.recommend_k_items(users, top_k=target.k, remove_seen=remove_seen)
    if len(pred) == 0:
        raise DataError(
            "the model scored no validation row; check that train and valid share users."
        )
    extra = {"train_df": train} if target.kind == "beyond" else {}
    result = evaluate(valid, pred, [target.text], k=target.k, **kw, **extra)
    return float(result[target.text])


@dataclass
class Objective:
    """The trial function: draw parameters, fit the model, return the validation metric.

    Instances are picklable when the data are (worker processes receive one).

    Attributes:
        model: Registered model name.
        space: The validated :class:`SearchSpace`.
        train, valid: Training and validation data (pandas or Spark).
        metric: The :class:`MetricTarget`.
        model_kwargs: Extra constructor arguments fixed for every trial (column names,
            ``progress=False`` ...); config fields belong in the space as fixed values.
        seed: Passed as the model's ``seed`` when its config has one and the space
            does not set it (trials are then reproducible).
        prune: Report intermediate values of iterative models (:data:`ITERATIVE_MODELS`)
            and of models that report per epoch through trainer callbacks.
        report_every: Epochs per chunk between reports.
        remove_seen: Remove training items from the ranked lists.
        eval_kwargs: Extra arguments of ``evaluate`` (``relevancy_method`` ...).
    """

    model: str
    space: SearchSpace
    train: Any
    valid: Any
    metric: MetricTarget
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int | None = SEED
    prune: bool = True
    report_every: int = 1
    remove_seen: bool = True
    columns: Columns = field(default_factory=Columns)
    eval_kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (
            isinstance(self.report_every, bool)
            or not isinstance(self.report_every, int)
            or self.report_every < 1
        ):
            raise ConfigError(
                f"report_every must be a positive integer, got {self.report_every!r}."
            )

    # ---------------------------------------------------------------- params
    def config_fields(self) -> list[str]:
        from recutils.models.registry import get_model_class

        return get_model_class(self.model).config_class.field_names()

    def model_params(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Constructor keyword arguments for drawn ``flat`` parameters (seed added)."""
        params = nest_params(flat)
        if self.seed is not None and "seed" not in params and "seed" in self.config_fields():
            params["seed"] = self.seed
        return params

    def build(self, flat: Mapping[str, Any]) -> Any:
        """The unfitted model for drawn parameters."""
        from recutils.models.registry import create_model

        return create_model(
            self.model, **model_arguments(self.columns, self.model_kwargs, self.model_params(flat))
        )

    # ---------------------------------------------------------------- scoring
    def score(self, model: Any) -> float:
        return evaluate_model(
            model,
            self.train,
            self.valid,
            self.metric,
            columns=self.columns,
            remove_seen=self.remove_seen,
            eval_kwargs=self.eval_kwargs,
        )

    def is_iterative(self) -> bool:
        from recutils.models.registry import get_model_class

        return (
            self.prune
            and chunk_epochs_field(get_model_class(self.model)) is not None
            and not is_spark_frame(self.train)
        )

    def reports_evaluations(self, model: Any) -> bool:
        """Whether ``model`` reports per-evaluation metrics through trainer callbacks: a
        rating metric for the CTR models, a ranking metric for the models that take a
        validation frame (the deep CF models)."""
        if not (
            self.prune
            and bool(getattr(type(model), "evaluation_callbacks", False))
            and not is_spark_frame(self.train)
        ):
            return False
        if getattr(type(model), "validation_frame", False):
            from recutils.evaluation import get_metric

            return self.metric.kind == "ranking" and get_metric(self.metric.name).takes_k
        return self.metric.kind == "rating"

    def __call__(self, trial: Any) -> float:
        flat = self.space.suggest(trial)
        trial.set_user_attr(PARAMS_ATTR, _jsonable(flat))
        model = self.build(flat)
        start = time.perf_counter()
        if self.is_iterative():
            value = self._fit_iteratively(model, trial)
        elif self.reports_evaluations(model):
            value = self._fit_with_reports(model, trial)
        else:
            try:
                model.fit(self.train)
                value = self.score(model)
            finally:
                if is_spark_frame(self.train):
                    release_spark_tables(model, keep=(self.train, self.valid))
        logger.info(
            "trial %s: %s=%.6g in %.2fs with %s",
            getattr(trial, "number", "?"),
            self.metric.text,
            value,
            time.perf_counter() - start,
            flat,
        )
        if not math.isfinite(value):
            raise DataError(f"{self.metric.text} is {value} for parameters {flat}.")
        return value

    def _fit_with_reports(self, model: Any, trial: Any) -> float:
        """Fit once; the trainer reports each validation value to ``trial`` (see the module docstring)."""
        from recutils.utils.deps import require

        optuna = require("optuna", "tuning")
        if getattr(type(model), "validation_frame", False):
            return self._fit_with_valid_reports(model, trial, optuna.TrialPruned)
        train_cfg = model.config.train
        if train_cfg.validation_fraction <= 0:
            logger.info(
                "trial %s: validation_fraction is 0, no intermediate values to report",
                getattr(trial, "number", "?"),
            )
            model.fit(self.train)
            return self.score(model)
        if train_cfg.early_stopping_metric != self.metric.name:
            model.config = model.config.replace(
                train=train_cfg.replace(early_stopping_metric=self.metric.name)
            )
        reporter = TrialReporter(trial, f"valid_{self.metric.name}", optuna.TrialPruned)
        callbacks = list(getattr(model, "callbacks", []))
        model.callbacks = [*callbacks, reporter]
        try:
            model.fit(self.train)
        finally:
            model.callbacks = callbacks
        return self.score(model)

    def _fit_with_valid_reports(
        self, model: Any, trial: Any, pruned_error: type[Exception]
    ) -> float:
        """Fit with ``valid=self.valid``: the model evaluates the study's ranking metric
        after every epoch and the trainer callback reports it (see the module docstring)."""
        metric = f"{self.metric.name}@{self.metric.k}"
        if model.config.valid_metric != metric:
            model.config = model.config.replace(valid_metric=metric)
        reporter = TrialReporter(trial, f"valid_{metric}", pruned_error)
        callbacks = list(getattr(model, "callbacks", []))
        model.callbacks = [*callbacks, reporter]
        try:
            model.fit(self.train, valid=self.valid)
        finally:
            model.callbacks = callbacks
        return self.score(model)

    def _fit_iteratively(self, model: Any, trial: Any) -> float:
        from recutils.utils.deps import require

        optuna = require("optuna", "tuning")
        epochs_field = chunk_epochs_field(type(model))
        total = int(getattr(model.config, epochs_field))
        chunk = min(self.report_every, total) if total > 0 else 0
        model.config = model.config.replace(**{epochs_field: chunk})
        model.fit(self.train)
        done = chunk
        value = self.score(model)
        trial.report(value, done)
        while done < total:
            if trial.should_prune():
                raise optuna.TrialPruned(
                    f"pruned after {done} epoch(s): {self.metric.text}={value:.6g}"
                )
            step = min(self.report_every, total - done)
            model.fit_partial(step)
            done += step
            value = self.score(model)
            trial.report(value, done)
        model.config = model.config.replace(**{epochs_field: total})
        return value


def model_arguments(
    columns: Columns, fixed: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    """Constructor arguments of a trial's model: the column names, the fixed ``model_kwargs``
    and the drawn ``params``, merged key by key (:func:`recutils.nn.config_io.merge_config`),
    so that a drawn ``train.optimizers.0.lr`` keeps a fixed ``train={"epochs": 1}``. (They
    used to be merged at the top level only, and the drawn ``train`` mapping replaced the
    fixed one.)"""
    from recutils.nn.config_io import merge_config

    return merge_config({**columns.model_kwargs(), **fixed}, dict(params), where="model_kwargs")


class TrialReporter:
    """A trainer callback reporting each evaluation's ``key`` value to an Optuna trial.

    Values are reported at steps 1, 2, ... (one per evaluation: per epoch by default);
    after each report, ``pruned_error`` is raised when ``trial.should_prune()``.
    """

    def __init__(self, trial: Any, key: str, pruned_error: type[Exception]) -> None:
        self.trial = trial
        self.key = key
        self.pruned_error = pruned_error
        self.reported = 0

    def on_evaluate(self, row: Mapping[str, Any], trainer: Any) -> bool | None:
        value = row.get(self.key)
        if value is None:
            return None
        self.reported += 1
        self.trial.report(float(value), self.reported)
        if self.trial.should_prune():
            raise self.pruned_error(
                f"pruned after {self.reported} evaluation(s): {self.key}={value:.6g}"
            )
        return None


def release_spark_tables(model: Any, keep: Sequence[Any] = ()) -> int:
    """Unpersist the Spark tables a fitted model cached (id maps, per-user factor blocks).

    A trial's model is dropped after scoring, but what it cached on the cluster would
    stay there for the rest of the study, trial after trial; only frames the model
    itself marked cached are released, never the frames in ``keep`` (the study's
    train and validation data). Returns the number of tables released.
    """
    released = 0
    values = list(getattr(model, "__dict__", {}).values())
    for value in values:
        frames = list(value.values()) if isinstance(value, Mapping) else [value]
        for frame in frames:
            if (
                is_spark_frame(frame)
                and getattr(frame, "is_cached", False)
                and not any(frame is k for k in keep)
            ):
                frame.unpersist()
                released += 1
    if released:
        logger.debug("released %d cached Spark table(s) of a trial model", released)
    return released


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in values.items():
        if hasattr(v, "item") and not isinstance(v, (str, bytes)):
            v = v.item()
        out[k] = v
    return out


def resolve_data(
    train: Any, valid: Any | None, split: Mapping[str, Any] | str | None, seed: int | None
) -> tuple[Any, Any]:
    """``(train, valid)`` from a given pair, or ``train`` split by ``split`` (default:
    :data:`DEFAULT_SPLIT`, with ``spark_stratified_split`` for Spark frames)."""
    if valid is not None and split is not None:
        raise ConfigError("give either valid or split, not both.")
    if valid is not None:
        return train, valid
    if split is None:
        split = dict(DEFAULT_SPLIT)
        if is_spark_frame(train):
            split["name"] = "spark_stratified_split"
        logger.info("no validation data given: splitting train with %s", split)
    train, valid = split_from_spec(train, split, seed=seed)
    if is_spark_frame(train):
        # every trial reads both parts: compute the split once, not once per trial
        train, valid = train.cache(), valid.cache()
    return train, valid


def check_frames(train: Any, valid: Any, columns: Sequence[str]) -> None:
    """Both frames hold ``columns`` and are of one kind (both pandas or both Spark).

    Spark frames are checked on their schema only (no job is run)."""
    from recutils.exceptions import ColumnMismatchError
    from recutils.utils.validation import check_columns

    if is_spark_frame(train) != is_spark_frame(valid):
        raise DataError(
            f"train and valid must both be pandas or both be Spark DataFrames, got "
            f"{type(train).__name__} and {type(valid).__name__}."
        )
    for name, frame in (("train", train), ("valid", valid)):
        if isinstance(frame, pd.DataFrame):
            check_columns(frame, list(columns), name=name)
            if len(frame) == 0:
                raise DataError(f"{name} is empty.")
        elif is_spark_frame(frame):
            missing = [c for c in columns if c is not None and c not in frame.columns]
            if missing:
                raise ColumnMismatchError(
                    f"{name} is missing column(s) {missing}; it has {list(frame.columns)}. "
                    "Pass the right names with col_user=, col_item=, col_rating= or col_prediction=."
                )
        else:
            raise DataError(
                f"{name} must be a pandas or Spark DataFrame, got {type(frame).__name__}."
            )


__all__ = [
    "DEFAULT_SPLIT",
    "ITERATIVE_MODELS",
    "SPLITTERS",
    "Columns",
    "MetricTarget",
    "Objective",
    "TrialReporter",
    "chunk_epochs_field",
    "evaluate_model",
    "model_arguments",
    "is_spark_frame",
    "release_spark_tables",
    "resolve_data",
    "split_from_spec",
]
