"""Multi-task ranking models as recutils Recommenders (shared bottom, MMoE, PLE, DBMTL, ESMM, AITM).

A multi-task model is a :class:`~recutils.models.deep.DeepRankModel` whose
``model_config`` has ``model_class: MultiTaskModel``: one tower per task
(:class:`~recutils.nn.config.TaskTowerConfig`), each with its own label column, loss,
weight and validation metrics (the network: :mod:`recutils.nn.multitask`). The shipped
presets (:data:`MULTITASK_PRESETS`) read any user-item frame with a rating: task
``like`` is ``rating >= 4`` and task ``love`` is ``rating >= 5``.

* ``fit(df)`` reads every task's label column (``@rating``: ``col_rating``); labels of a
  classification task must be 0/1 (or come from ``label_threshold``), with both classes.
* ``predict`` / ``recommend_k_items`` rank by ``model_params.rank_task`` (default the
  first task); :meth:`MultiTaskRankModel.predict_tasks` returns every task's
  prediction (and, for an ESMM task, the tower's conditional probability as
  ``<task>_conditional``).
* ``history_`` has one ``valid_<task>_<metric>`` column per task and metric.

Tabular data without users and items (census income): give each row its own user id
and one item id, and score new rows with ``predict_tasks(df, score_unknown=True)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError, DataError
from recutils.models.base import ContractCase, TrainData
from recutils.models.deep.config import DeepRankConfig
from recutils.models.deep.model import DeepRankModel
from recutils.nn.config import ModelConfig
from recutils.nn.config_io import load_config_with, read_mapping
from recutils.utils.deps import require
from recutils.utils.validation import check_columns

torch = require("torch", "torch")

from recutils.nn.data import TensorData  # noqa: E402
from recutils.nn.multitask import build_multitask_network  # noqa: E402

#: The folder of the shipped multi-task configs.
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
#: registry name -> shipped config (MovieLens: like = rating >= 4, love = rating >= 5). Keep it sorted.
MULTITASK_PRESETS: dict[str, str] = {
    "aitm": "aitm_movielens.yaml",
    "dbmtl": "dbmtl_movielens.yaml",
    "esmm": "esmm_movielens.yaml",
    "mmoe": "mmoe_movielens.yaml",
    "ple": "ple_movielens.yaml",
    "simple_multitask": "simple_multitask_movielens.yaml",
}
_RATING = "@rating"


def _default_model_config() -> ModelConfig:
    return ModelConfig.from_dict(
        read_mapping(CONFIG_DIR / MULTITASK_PRESETS["simple_multitask"])["model_config"]
    )


@dataclass
class MultiTaskConfig(DeepRankConfig):
    """A :class:`~recutils.models.deep.DeepRankConfig` whose ``model_config`` is a
    ``MultiTaskModel`` (default: the shared-bottom preset). ``label_threshold`` must stay
    null: each task tower has its own."""

    model_classes: ClassVar[tuple[str, ...]] = ("MultiTaskModel",)

    model_config: ModelConfig = field(default_factory=_default_model_config)

    def __post_init__(self) -> None:
        if self.model_config.model_class != "MultiTaskModel":
            raise ConfigError(
                f"a multi-task model needs model_config.model_class: MultiTaskModel, got "
                f"{self.model_config.model_class!r} (use deep_rank or the zoo for one task)."
            )
        if self.label_threshold is not None:
            raise ConfigError(
                "label_threshold is per task in a multi-task model: set it on the task towers "
                "(model_params.task_towers[i].label_threshold)."
            )
        super().__post_init__()


def with_task_labels(
    config: Mapping[str, Any], labels: Mapping[str, str | Mapping[str, Any]]
) -> dict[str, Any]:
    """``config`` with task towers' labels replaced.

    Args:
        config: A multi-task config mapping.
        labels: Tower name -> label column (its ``label_threshold`` is cleared: 0/1
            labels) or a mapping of tower fields (``{"label_name": "rating",
            "label_threshold": 4.0}``).

    Raises:
        ConfigError: a tower name the config does not have (the message lists them).
    """
    out = dict(config)
    model_config = dict(out["model_config"])
    params = dict(model_config.get("model_params") or {})
    towers = [dict(t) for t in params.get("task_towers", [])]
    names = [t.get("tower_name") for t in towers]
    unknown = [n for n in labels if n not in names]
    if unknown:
        raise ConfigError(
            f"task_labels names unknown task(s) {unknown}; this model's tasks: {names}."
        )
    for tower in towers:
        change = labels.get(tower["tower_name"])
        if change is None:
            continue
        tower.update(
            {"label_name": change, "label_threshold": None}
            if isinstance(change, str)
            else dict(change)
        )
    params["task_towers"] = towers
    model_config["model_params"] = params
    out["model_config"] = model_config
    return out


class MultiTaskRankModel(DeepRankModel):
    """A config-built multi-task ranking network; see the module docstring.

    Args:
        config: A config replacing the class's preset (mapping, YAML text or path).
        feature_groups: Group name -> feature names, replacing the preset's groups' features.
        task_labels: Tower name -> label column (or tower fields), see :func:`with_task_labels`.
        callbacks: Training callbacks (:class:`~recutils.nn.trainer.Callback`).
        **params: Column names and config overrides merged into the preset (``train={"epochs": 5}``).
    """

    name: ClassVar[str] = "multitask"
    config_class: ClassVar[type[MultiTaskConfig]] = MultiTaskConfig
    preset: ClassVar[str] = MULTITASK_PRESETS["simple_multitask"]

    def __init__(
        self,
        config: MultiTaskConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        feature_groups: Mapping[str, Sequence[str]] | None = None,
        task_labels: Mapping[str, str | Mapping[str, Any]] | None = None,
        callbacks: list[Any] | None = None,
        **params: Any,
    ) -> None:
        from recutils.models.ctr.zoo import with_feature_groups

        fields = self.config_class.field_names()
        overrides = {k: params.pop(k) for k in list(params) if k in fields}
        resolved = load_config_with(
            CONFIG_DIR / self.preset if config is None else config, self.config_class, overrides
        )
        if feature_groups or task_labels:
            values = resolved.to_dict()
            if feature_groups:
                values = with_feature_groups(values, feature_groups)
            if task_labels:
                values = with_task_labels(values, task_labels)
            resolved = self.config_class.from_dict(values)
        super().__init__(resolved, callbacks=callbacks, **params)

    # ------------------------------------------------------------- config
    @property
    def task_names(self) -> list[str]:
        """The tasks, in tower order."""
        return [t.tower_name for t in self.config.model_config.model_params.task_towers]

    def _label_column(self, name: str) -> str:
        return self.col_rating if name == _RATING else name

    def _needs_rating(self) -> bool:
        return any(
            t.label_name == _RATING for t in self.config.model_config.model_params.task_towers
        )

    def _side_columns(self) -> list[str]:
        labels = [
            t.label_name
            for t in self.config.model_config.model_params.task_towers
            if t.label_name != _RATING
        ]
        return list(dict.fromkeys([*super()._side_columns(), *labels]))

    # ---------------------------------------------------------------- fit
    def _fit_labels(self, data: TrainData) -> np.ndarray:
        """The ``[rows, tasks]`` label matrix (see the module docstring).

        Raises:
            ColumnMismatchError: a task's label column is missing.
            DataError: NaN labels, classification labels outside {0, 1}, or one class only.
        """
        towers = self.config.model_config.model_params.task_towers
        frame = data.frame
        columns = []
        for tower in towers:
            where = f"task {tower.tower_name!r}: label column"
            if tower.label_name == _RATING:
                values = np.asarray(data.rating, dtype=np.float64)
                column = self.col_rating
            else:
                column = tower.label_name
                if frame is None or column not in frame.columns:
                    check_columns(
                        frame if frame is not None else pd.DataFrame(),
                        [column],
                        name="training frame",
                    )
                raw = frame[column]
                if not pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
                    raise DataError(f"{where} {column!r} must be numeric, got dtype {raw.dtype}.")
                values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
            n_nan = int(np.isnan(values).sum())
            if n_nan:
                raise DataError(
                    f"{where} {column!r} has {n_nan} NaN value(s); drop or impute them before fit."
                )
            if tower.label_threshold is not None:
                values = (values >= tower.label_threshold).astype(np.float64)
            elif tower.loss_type == "classification" and not np.isin(values, (0.0, 1.0)).all():
                bad = values[~np.isin(values, (0.0, 1.0))]
                raise DataError(
                    f"{where} {column!r} of a classification task must hold 0/1 labels, found "
                    f"{bad[:5].tolist()}; give 0/1 labels or set the tower's label_threshold."
                )
            if tower.loss_type == "classification" and values.size and values.min() == values.max():
                raise DataError(
                    f"{where} {column!r} is {values[0]:g} on all {values.size} rows: a "
                    "classification task needs both positive (1) and negative (0) rows."
                )
            if not np.isfinite(values).all():
                raise DataError(f"{where} {column!r} holds infinite values.")
            columns.append(values)
        for tower, values in zip(towers, columns):
            base = tower.entire_space_of
            if base is not None:
                j = self.task_names.index(base)
                if (values > columns[j]).any():
                    n = int((values > columns[j]).sum())
                    raise DataError(
                        f"task {tower.tower_name!r} (entire_space_of {base!r}): {n} row(s) are positive for "
                        f"{tower.tower_name!r} but not for {base!r}; ESMM needs every positive of a task to be a "
                        "positive of the task it builds on (a conversion only after a click)."
                    )
        return np.stack(columns, axis=1).astype(np.float32)

    def _build_network(self, specs: Mapping[str, Any]) -> torch.nn.Module:
        return build_multitask_network(self.config.model_config, specs, seed=self.config.seed)

    def _scores(self, outputs: torch.Tensor) -> torch.Tensor:
        """The rank task's prediction."""
        network = self.network_
        return network.to_prediction(outputs)[:, network.task_names.index(network.rank_task)]

    # ------------------------------------------------------------ scoring
    def _task_outputs(self, encoded: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Predictions and conditional probabilities ``[rows, tasks]`` of encoded rows."""
        layout = self.network_.backbone.layout
        data = TensorData.from_encoded(encoded, layout)
        device = next(self.network_.parameters()).device
        preds, conds = [], []
        self.network_.eval()
        with torch.no_grad():
            for start in range(0, len(data), 1 << 18):
                batch = {
                    k: v.to(device) for k, v in data.batch(slice(start, start + (1 << 18))).items()
                }
                out = self.network_(batch)
                preds.append(self.network_.to_prediction(out).double().cpu())
                conds.append(self.network_.conditional_probabilities(out).double().cpu())
        n_tasks = len(self.task_names)
        if not preds:
            return np.empty((0, n_tasks)), np.empty((0, n_tasks))
        return torch.cat(preds).numpy(), torch.cat(conds).numpy()

    def predict_tasks(self, df: pd.DataFrame, score_unknown: bool = False) -> pd.DataFrame:
        """Every task's prediction for each row of ``df`` (same length and order).

        Columns: the ids, one column per task (its prediction against its label: for an
        ESMM task the entire-space probability), and ``<task>_conditional`` for each ESMM
        task (the tower's own probability given the task it builds on).

        Args:
            df: Rows with ``col_user``, ``col_item`` and any feature columns.
            score_unknown: Also score rows whose user or item was not in training (their
                other features are read from ``df``); default: such rows get NaN.
        """
        self._check_fitted()
        check_columns(df, [self.col_user, self.col_item], name="df")
        u = self.user_ids_.get_indexer(pd.Index(df[self.col_user]))
        i = self.item_ids_.get_indexer(pd.Index(df[self.col_item]))
        preds, conds = self._task_outputs(self._rows_features(u, i, self._side_frame(df)))
        if not score_unknown:
            unknown = (u < 0) | (i < 0)
            preds[unknown] = np.nan
            conds[unknown] = np.nan
        out = {
            self.col_user: df[self.col_user].to_numpy(),
            self.col_item: df[self.col_item].to_numpy(),
        }
        towers = self.config.model_config.model_params.task_towers
        for k, tower in enumerate(towers):
            out[tower.tower_name] = preds[:, k]
        for k, tower in enumerate(towers):
            if tower.entire_space_of is not None:
                out[f"{tower.tower_name}_conditional"] = conds[:, k]
        return pd.DataFrame(out, index=df.index)

    # ----------------------------------------------------------- contract
    @classmethod
    def contract_case(cls) -> ContractCase:
        """Every feature group reads the toy frame's user and item; 2 epochs."""
        cfg = read_mapping(CONFIG_DIR / cls.preset)
        groups = {g["group_name"]: ["user", "item"] for g in cfg["model_config"]["feature_groups"]}
        return ContractCase(
            params={
                "features": [
                    {"name": "user", "column": "@user"},
                    {"name": "item", "column": "@item"},
                ],
                "feature_groups": groups,
                "default_embedding_dim": 4,
                "train": {
                    "epochs": 2,
                    "batch_size": 256,
                    "num_threads": 1,
                    "validation_fraction": 0.0,
                    "early_stopping_metric": None,
                    "progress": False,
                },
            },
            known_answer=None,
            stochastic=True,
        )


def _preset(class_name: str, name: str, doc: str) -> type[MultiTaskRankModel]:
    return type(
        class_name,
        (MultiTaskRankModel,),
        {"name": name, "preset": MULTITASK_PRESETS[name], "__doc__": doc, "__module__": __name__},
    )


AITM = _preset(
    "AITM", "aitm", "AITM, adaptive information transfer (Xi et al. 2021): ``aitm_movielens.yaml``."
)
DBMTL = _preset("DBMTL", "dbmtl", "DBMTL, Bayesian task relations: ``dbmtl_movielens.yaml``.")
ESMM = _preset(
    "ESMM", "esmm", "ESMM, entire-space multi-task model (Ma et al. 2018): ``esmm_movielens.yaml``."
)
MMoE = _preset(
    "MMoE", "mmoe", "MMoE, multi-gate mixture of experts (Ma et al. 2018): ``mmoe_movielens.yaml``."
)
PLE = _preset(
    "PLE", "ple", "PLE, progressive layered extraction (Tang et al. 2020): ``ple_movielens.yaml``."
)
SimpleMultiTask = _preset(
    "SimpleMultiTask",
    "simple_multitask",
    "Shared-bottom multi-task network: ``simple_multitask_movielens.yaml``.",
)

#: registry name -> class of each preset
MULTITASK_CLASSES: dict[str, type[MultiTaskRankModel]] = {
    c.name: c for c in (AITM, DBMTL, ESMM, MMoE, PLE, SimpleMultiTask)
}

__all__ = [
    "AITM",
    "CONFIG_DIR",
    "DBMTL",
    "ESMM",
    "MMoE",
    "MULTITASK_CLASSES",
    "MULTITASK_PRESETS",
    "PLE",
    "MultiTaskConfig",
    "MultiTaskRankModel",
    "SimpleMultiTask",
    "with_task_labels",
]
