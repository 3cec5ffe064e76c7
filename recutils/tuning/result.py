"""The result of a tuning run: :class:`TuningResult` and :func:`load_result`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from recutils.constants import SEED
from recutils.exceptions import ConfigError, StateError
from recutils.tuning.backend import (
    SPEC_ATTR,
    StudyNotFoundError,
    is_surplus,
    load_optuna,
    make_storage,
    plain,
    state_name,
    storage_label,
    study_names,
)
from recutils.tuning.objective import (
    PARAMS_ATTR,
    Columns,
    MetricTarget,
    is_spark_frame,
    model_arguments,
)
from recutils.tuning.space import SearchSpace, nest_params

logger = logging.getLogger(__name__)


class TuningResult:
    """A finished (or running) study with what is needed to use its best parameters.

    Attributes:
        study: The ``optuna.Study``.
        model: Registered model name.
        space: The :class:`SearchSpace`.
        metric: The :class:`~recutils.tuning.objective.MetricTarget`.
        model_kwargs: Constructor arguments fixed for every trial.
        seed: Seed given to models whose config takes one (unless the space sets it).
    """

    def __init__(
        self,
        study: Any,
        model: str,
        space: SearchSpace,
        metric: MetricTarget,
        model_kwargs: Mapping[str, Any] | None = None,
        seed: int | None = SEED,
        columns: Columns | None = None,
    ) -> None:
        self.study = study
        self.model = model
        self.space = space
        self.metric = metric
        self.model_kwargs = dict(model_kwargs or {})
        self.seed = seed
        self.columns = columns or Columns()

    def __repr__(self) -> str:
        done = self.trials
        best = (
            f", best {self.metric.text}={self.best_value:.6g}"
            if (done["state"] == "COMPLETE").any()
            else ""
        )
        return f"TuningResult(model={self.model!r}, {len(done)} trials{best})"

    @property
    def study_name(self) -> str:
        return self.study.study_name

    @property
    def direction(self) -> str:
        return self.metric.direction

    def _real_trials(self) -> list[Any]:
        return [t for t in self.study.get_trials(deepcopy=False) if not is_surplus(t)]

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial: ``number``, ``state``, ``value``, ``params_<name>`` for each
        searched parameter, ``duration`` (seconds), ``datetime_start``; sorted by number.
        Surplus trials (see the module docstring) are left out."""
        names = self.space.searched
        rows = []
        for t in self._real_trials():
            params = t.user_attrs.get(PARAMS_ATTR, {})
            duration = None
            if t.datetime_start is not None and t.datetime_complete is not None:
                duration = (t.datetime_complete - t.datetime_start).total_seconds()
            row = {
                "number": t.number,
                "state": state_name(t.state),
                "value": t.value if t.values else None,
            }
            row.update({f"params_{n}": params.get(n) for n in names})
            row["duration"] = duration
            row["datetime_start"] = t.datetime_start
            rows.append(row)
        columns = [
            "number",
            "state",
            "value",
            *[f"params_{n}" for n in names],
            "duration",
            "datetime_start",
        ]
        frame = pd.DataFrame(rows, columns=columns)
        if len(frame):
            frame["value"] = frame["value"].astype(float)
            frame["duration"] = frame["duration"].astype(float)
        return frame.sort_values("number", ignore_index=True)

    def _best_trial(self) -> Any:
        optuna = load_optuna()
        done = [t for t in self._real_trials() if t.state == optuna.trial.TrialState.COMPLETE]
        if not done:
            raise StateError(f"study {self.study_name!r} has no complete trial yet.")
        best = done[0]
        for t in done[1:]:
            if self.metric.better(t.value, best.value):
                best = t
        return best

    @property
    def best_trial_number(self) -> int:
        return int(self._best_trial().number)

    @property
    def best_value(self) -> float:
        """The best validation value of a complete trial."""
        return float(self._best_trial().value)

    @property
    def best_flat_params(self) -> dict[str, Any]:
        """The best trial's drawn parameters, flat names (``train.epochs``)."""
        return dict(self._best_trial().user_attrs.get(PARAMS_ATTR, {}))

    @property
    def best_params(self) -> dict[str, Any]:
        """The best parameters as model keyword arguments (nested, fixed values and seed
        included): ``create_model(result.model, **result.best_params)``."""
        params = nest_params(self.best_flat_params)
        from recutils.models.registry import get_model_class

        if (
            self.seed is not None
            and "seed" not in params
            and "seed" in get_model_class(self.model).config_class.field_names()
        ):
            params["seed"] = self.seed
        return params

    def best_config(self) -> dict[str, Any]:
        """The complete config of :meth:`best_model` as plain data: every field of the
        model's config, the base config and fixed ``model_kwargs`` with the best parameters
        merged in (list positions resolved), so that ``create_model(model, config=...)``
        builds the same model."""
        return plain(self.best_model().config.to_dict())

    def best_config_yaml(self) -> str:
        """:meth:`best_config` as YAML, loadable with ``create_model(model, config=path)``;
        comments name the model, the trial, the metric and its value, and the searched values."""
        import yaml

        searched = ", ".join(f"{k}={v!r}" for k, v in sorted(self.best_flat_params.items()))
        header = (
            f"# recutils tuning: the complete config of model {self.model!r} with the best parameters\n"
            f"# study {self.study_name!r}, trial {self.best_trial_number}, "
            f"{self.metric.text}={self.best_value!r} ({self.direction})\n"
            f"# searched: {searched}\n"
        )
        return header + yaml.safe_dump(self.best_config(), sort_keys=False)

    def write_best_config(self, path: str | Path) -> Path:
        """Write :meth:`best_config_yaml` (the complete config) to ``path``; return the path.

        ``create_model(result.model, config=path)`` then builds the model
        :meth:`best_model` returns (column names and other non-config arguments aside)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.best_config_yaml(), encoding="utf-8")
        logger.info("best config written to %s", path)
        return path

    def best_model(self, **overrides: Any) -> Any:
        """An unfitted model with the best parameters (``overrides`` win)."""
        from recutils.models.registry import create_model

        kwargs = model_arguments(self.columns, self.model_kwargs, self.best_params)
        return create_model(self.model, **{**kwargs, **overrides})

    def fit_best(self, train: Any, valid: Any | None = None, **overrides: Any) -> Any:
        """Train the final model with the best parameters on ``train`` + ``valid``."""
        data = train
        if valid is not None:
            if is_spark_frame(train):
                data = train.unionByName(valid)
            else:
                data = pd.concat([train, valid], ignore_index=True)
        model = self.best_model(**overrides)
        logger.info(
            "fitting %s with the best parameters on %s rows",
            self.model,
            "Spark" if is_spark_frame(data) else len(data),
        )
        return model.fit(data)

    def plot_optimization_history(self, ax: Any = None) -> Any:
        """Each complete trial's value and the best so far (matplotlib)."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        frame = self.trials
        done = frame[frame["state"] == "COMPLETE"]
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        ax.scatter(done["number"], done["value"], s=18, label="trial")
        best = done["value"].cummax() if self.metric.higher_is_better else done["value"].cummin()
        ax.step(done["number"], best, where="post", color="C3", label="best so far")
        ax.set_xlabel("trial")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(self.metric.text)
        ax.set_title(f"{self.model}: optimization history")
        ax.legend()
        return ax

    def param_importances(self) -> dict[str, float]:
        """Optuna's fANOVA importance of each searched parameter (needs 2+ complete trials)."""
        optuna = load_optuna()
        return dict(optuna.importance.get_param_importances(self.study))

    def plot_intermediate_values(self, ax: Any = None) -> Any:
        """Each trial's reported values by step (epoch), pruned trials dashed (matplotlib)."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        labelled: set[str] = set()
        for t in self.study.get_trials(deepcopy=False):
            if not t.intermediate_values:
                continue
            steps = sorted(t.intermediate_values)
            state = t.state.name.lower()
            pruned = state == "pruned"
            ax.plot(
                steps,
                [t.intermediate_values[s] for s in steps],
                marker="o",
                ms=3,
                lw=1,
                ls="--" if pruned else "-",
                color="C3" if pruned else "C0",
                alpha=0.8,
                label=None if state in labelled else state,
            )
            labelled.add(state)
        ax.set_xlabel("step (epoch)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"intermediate {self.metric.text}")
        ax.set_title(f"{self.model}: intermediate values")
        if labelled:
            ax.legend()
        return ax

    def plot_param_importances(self, ax: Any = None) -> Any:
        """Horizontal bars of :meth:`param_importances` (matplotlib)."""
        import matplotlib.pyplot as plt

        imp = self.param_importances()
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 0.5 + 0.5 * max(len(imp), 1)))
        names = list(imp)[::-1]
        ax.barh(names, [imp[n] for n in names])
        ax.set_xlabel("importance")
        ax.set_title(f"{self.model}: parameter importance")
        return ax


def load_result(storage: str | Any, study_name: str) -> TuningResult:
    """The :class:`TuningResult` of a study in a database (created by :func:`tune` or a worker).

    Reading never creates anything: an SQLite file that does not exist is an error, not
    a new empty database.

    Raises:
        ConfigError: ``storage`` is not a database URL or storage object (see
            :func:`~recutils.tuning.backend.make_storage`), its SQLite file does not exist,
            or the study was not created by recutils (no stored spec).
        StudyNotFoundError: no study ``study_name`` in the storage (the message lists the
            studies it holds); a :class:`ConfigError`.
        StorageError, CorruptStorageError: the database cannot be read, or its file is not
            an Optuna database.
    """
    optuna = load_optuna()
    if storage is None or isinstance(storage, optuna.storages.InMemoryStorage):
        raise ConfigError(
            "load_result reads a study from a database: give its URL "
            "(e.g. 'sqlite:///tune.db') or an optuna database storage; an in-memory "
            "study is only in the TuningResult that tune() returned."
        )
    if not isinstance(study_name, str) or not study_name:
        raise ConfigError(f"study_name must be a non-empty string, got {study_name!r}.")
    store = make_storage(storage, heartbeat_interval=None, create=False)
    label = storage_label(storage)
    known = study_names(store, label)
    if study_name not in known:
        raise StudyNotFoundError(
            f"no study {study_name!r} in storage {label!r}; known studies: {known}."
        )
    study = optuna.load_study(study_name=study_name, storage=store)
    spec = study.user_attrs.get(SPEC_ATTR)
    if not spec:
        raise ConfigError(f"study {study_name!r} holds no recutils tuning spec.")
    return TuningResult(
        study,
        spec["model"],
        SearchSpace.from_dict(spec["space"]),
        MetricTarget.parse(spec["metric"]),
        spec.get("model_kwargs", {}),
        spec.get("seed"),
        Columns(**spec.get("columns", {})),
    )


__all__ = ["TuningResult", "load_result"]
