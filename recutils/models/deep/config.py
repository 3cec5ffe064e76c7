"""Config of :class:`recutils.models.deep.DeepRankModel` (torch-free)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from recutils.exceptions import ConfigError
from recutils.limits import MAX_EMBEDDING_DIM, check_at_most
from recutils.nn.config import DistillationConfig, ModelConfig, NestedConfig, TrainConfig
from recutils.nn.config_io import list_shipped_configs, load_model_source, shipped_config_path
from recutils.nn.features import FeatureConfig
from recutils.nn.run import RunConfig
from recutils.utils.validation import check_number

#: Folder of this model's shipped example (Wide & Deep on MovieLens, YAML and EasyRec
#: text); the click-through zoo's presets are in ``recutils/models/ctr/configs``.
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def _default_features() -> list[FeatureConfig]:
    return [FeatureConfig(name="user", column="@user"), FeatureConfig(name="item", column="@item")]


def _default_model_config() -> ModelConfig:
    feats = ["user", "item"]
    return ModelConfig.from_dict(
        {
            "model_name": "WideAndDeep",
            "feature_groups": [
                {"group_name": "wide", "feature_names": feats, "wide_deep": "WIDE"},
                {"group_name": "deep", "feature_names": feats, "wide_deep": "DEEP"},
            ],
            "backbone": {
                "blocks": [
                    {
                        "name": "wide",
                        "inputs": [{"feature_group_name": "wide"}],
                        "input_layer": {"only_output_feature_list": True, "wide_output_dim": 1},
                    },
                    {
                        "name": "deep_logit",
                        "inputs": [{"feature_group_name": "deep"}],
                        "layer": {
                            "class_name": "MLP",
                            "params": {
                                "hidden_units": [64, 32, 1],
                                "use_final_bn": False,
                                "final_activation": "linear",
                            },
                        },
                    },
                    {
                        "name": "final_logit",
                        "merge_inputs_into_list": True,
                        "inputs": [
                            {"block_name": "wide", "input_fn": "lambda x: tf.add_n(x)"},
                            {"block_name": "deep_logit"},
                        ],
                        "layer": {"class_name": "Add"},
                    },
                ],
                "concat_blocks": ["final_logit"],
            },
        }
    )


@dataclass
class DeepRankConfig(RunConfig, NestedConfig):
    """Everything a :class:`~recutils.models.deep.DeepRankModel` needs.

    Attributes:
        features: Feature configs. Features named in ``model_config.feature_groups``
            without a config here are inferred from the training frame
            (:func:`recutils.nn.features.infer_feature_configs`).
        default_embedding_dim: Embedding width of features that do not set one (at most
            :data:`recutils.limits.MAX_EMBEDDING_DIM`).
        model_config: The network (YAML mapping, :class:`ModelConfig`, or EasyRec text).
        train: Training settings (:class:`~recutils.nn.config.TrainConfig`).
        label_threshold: Label = ``rating >= label_threshold``; None: ratings must
            already be labels in [0, 1].
        seed: Seed of the validation split, the weights and training.
        device: ``auto``, ``cpu`` or ``cuda[:i]``, written into ``train.device``; ``None``
            (the default): ``train.device`` decides.
        num_threads: torch CPU threads while training, written into
            ``train.num_threads``; ``None`` (the default): ``train.num_threads`` decides.
        model_dir: Folder for training checkpoints (resume after an interruption).
        kd: Knowledge-distillation terms (:class:`~recutils.nn.config.DistillationConfig`):
            soft labels from a teacher column or a saved teacher model, each adding
            ``loss_weight * KD`` to the training loss (:mod:`recutils.nn.distill`).

    ``seed``, ``device``, ``num_threads`` and ``model_dir`` are the run settings shared
    by every torch model (:class:`~recutils.nn.run.RunConfig`).
    """

    device_optional: ClassVar[bool] = True
    #: The ``model_config.model_class`` values this config's model trains.
    model_classes: ClassVar[tuple[str, ...]] = ("RankModel",)

    _nested: ClassVar = {
        "features": (FeatureConfig, True),
        "model_config": (ModelConfig, False),
        "train": (TrainConfig, False),
        "kd": (DistillationConfig, True),
    }

    features: list[FeatureConfig] = field(default_factory=_default_features)
    default_embedding_dim: int = 16
    model_config: ModelConfig = field(default_factory=_default_model_config)
    train: TrainConfig = field(default_factory=TrainConfig)
    label_threshold: float | None = None
    seed: int = 42
    device: str | None = None
    num_threads: int | None = None
    model_dir: str | None = None
    kd: list[DistillationConfig] = field(default_factory=list)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None = None, **overrides: Any):  # type: ignore[override]
        if values is not None and not isinstance(values, Mapping):
            raise ConfigError(
                f"{cls.__name__} needs a mapping of parameters, got {type(values).__name__}."
            )
        merged = {**dict(values or {}), **overrides}
        if isinstance(merged.get("model_config"), (str, Path)):
            merged["model_config"], features = load_model_source(merged["model_config"])
            if features and "features" not in merged:
                merged["features"] = features
        return super().from_dict(merged)

    def __post_init__(self) -> None:
        if (
            isinstance(self.default_embedding_dim, bool)
            or not isinstance(self.default_embedding_dim, int)
            or self.default_embedding_dim < 1
        ):
            raise ConfigError(
                f"default_embedding_dim must be a positive integer, got {self.default_embedding_dim!r}."
            )
        check_at_most("default_embedding_dim", self.default_embedding_dim, MAX_EMBEDDING_DIM)
        if self.label_threshold is not None:
            check_number("label_threshold", self.label_threshold, minimum=-math.inf)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}.")
        self.check_run()
        run = {
            k: v
            for k, v in (("device", self.device), ("num_threads", self.num_threads))
            if v is not None
        }
        if any(getattr(self.train, k) != v for k, v in run.items()):
            self.train = self.train.replace(**run)
        names = [f.name for f in self.features]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"features: name(s) {dup} configured twice.")
        self.model_config.validate()
        if self.model_config.model_class not in self.model_classes:
            hint = {
                "MultiTaskModel": "a multi-task model (recutils.models.multitask, e.g. create_model('mmoe', "
                "config=...))",
                "MatchModel": "a two-tower model (recutils.models.retrieval, create_model('dssm', config=...))",
            }
            raise ConfigError(
                f"model_class {self.model_config.model_class!r} is not trained by this model (it "
                f"trains {list(self.model_classes)}); use "
                f"{hint.get(self.model_config.model_class, 'the matching model class')}."
            )
        tasks = [t.tower_name for t in self.model_config.model_params.task_towers]
        for term in self.kd:
            if tasks and term.task is not None and term.task not in tasks:
                raise ConfigError(
                    f"kd: task {term.task!r} is not a task of the model; known tasks: {tasks}."
                )
            if not tasks and term.task is not None:
                raise ConfigError(
                    f"kd: task {term.task!r} is set, but the model has one output; leave task null."
                )


def example_config_path(name: str = "wide_deep_movielens.yaml") -> Path:
    """Path of a shipped config by file name (``recutils/models/deep/configs`` or the zoo's
    ``recutils/models/ctr/configs``; see :func:`recutils.nn.config_io.shipped_config_path`).

    Raises:
        ConfigError: no shipped config has that name (the message lists them).
    """
    return shipped_config_path(name)


def shipped_configs() -> list[str]:
    """File names of every shipped config (YAML and EasyRec text), sorted."""
    return list_shipped_configs()


__all__ = ["DeepRankConfig", "example_config_path", "shipped_configs"]
