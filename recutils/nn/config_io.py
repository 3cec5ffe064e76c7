"""Reading and merging model configs: the one place that decides what a source is.

A config source is one of (checked in this order, by :func:`source_kind`):

* ``"config"``: a config instance (copied);
* ``"mapping"``: plain data (a ``dict``);
* ``"easyrec"``: EasyRec's protobuf text (``model_config { ... }``) or the path of a
  ``.config`` / ``.pbtxt`` / ``.prototxt`` file (:func:`recutils.nn.easyrec.is_easyrec_source`);
* ``"yaml"``: YAML text or the path of a ``.yaml`` / ``.yml`` file.

:func:`load_model_config` reads a :class:`~recutils.nn.config.ModelConfig` from any of
them, :func:`load_model_source` also returns the feature configs an EasyRec text holds,
:func:`load_config_with` reads a whole model config (``DeepRankConfig``) and merges
overrides into it with :func:`merge_config`, the only merge of nested configs: mappings
merge key by key, a mapping whose keys are list positions updates those elements,
anything else replaces. Search spaces address the same structure with dotted names
(``train.optimizers.0.lr``).

The configs shipped with recutils live beside the models that use them
(:data:`SHIPPED_CONFIG_DIRS`); :func:`shipped_config_path` finds one by file name. The
folder they used to live in (``recutils/nn/configs``) still resolves: a path under it
that no longer exists is read from the shipped file of the same name.

Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from recutils.config import BaseConfig, _read_yaml, load_config
from recutils.exceptions import ConfigError
from recutils.nn.config import ModelConfig
from recutils.nn.easyrec import is_easyrec_source, load_easyrec_config
from recutils.nn.features import FeatureConfig

C = TypeVar("C", bound=BaseConfig)

SOURCE_KINDS = ("config", "mapping", "easyrec", "yaml")

_PACKAGE = Path(__file__).resolve().parents[1]
#: Folders of the shipped configs, searched in this order: the Wide & Deep example of
#: :class:`~recutils.models.deep.DeepRankModel` (YAML and EasyRec text), the
#: click-through model zoo's presets (:mod:`recutils.models.ctr.zoo`), then the
#: multi-task presets (:mod:`recutils.models.multitask`) and the two-tower presets
#: (:mod:`recutils.models.retrieval`).
SHIPPED_CONFIG_DIRS: tuple[Path, ...] = (
    _PACKAGE / "models" / "deep" / "configs",
    _PACKAGE / "models" / "ctr" / "configs",
    _PACKAGE / "models" / "multitask" / "configs",
    _PACKAGE / "models" / "retrieval" / "configs",
)
#: Where the shipped configs lived before; paths under it resolve to the shipped file.
LEGACY_CONFIG_DIR = "recutils/nn/configs"


# ------------------------------------------------------------ shipped files
def list_shipped_configs() -> list[str]:
    """File names of every shipped config, sorted."""
    return sorted(p.name for d in SHIPPED_CONFIG_DIRS for p in d.glob("*") if p.is_file())


def shipped_config_path(name: str) -> Path:
    """Path of the shipped config ``name`` (a bare file name such as ``"deepfm_movielens.yaml"``).

    A name under the old folder (``"recutils/nn/configs/deepfm_movielens.yaml"``) is
    accepted too.

    Raises:
        ConfigError: no shipped config has that name (the message lists them).
    """
    text = str(name)
    if "/" in text or "\\" in text:
        legacy = _legacy_name(text)
        if legacy is None:
            raise ConfigError(
                f"no shipped config {text!r}: give a file name; shipped: {list_shipped_configs()}."
            )
        text = legacy
    for folder in SHIPPED_CONFIG_DIRS:
        path = folder / text
        if path.is_file():
            return path
    raise ConfigError(f"no shipped config {text!r}; shipped: {list_shipped_configs()}.")


def _legacy_name(path: str) -> str | None:
    """The file name of ``path`` when it lies in the old folder (``.../nn/configs/``), else None."""
    parent, _, file_name = path.replace("\\", "/").rpartition("/")
    parts = [p for p in parent.split("/") if p not in ("", ".")]
    return file_name if file_name and parts[-2:] == ["nn", "configs"] else None


def _redirect(source: Any) -> Any:
    """``source``, or the shipped file when ``source`` names a missing file under the old folder."""
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and "{" not in source
    ):
        name = _legacy_name(str(source))
        if (
            name is not None
            and not Path(source).exists()
            and any((d / name).is_file() for d in SHIPPED_CONFIG_DIRS)
        ):
            return shipped_config_path(name)
    return source


# ------------------------------------------------------------------ reading
def source_kind(source: Any) -> str:
    """Which of :data:`SOURCE_KINDS` ``source`` is (see the module docstring).

    Raises:
        ConfigError: ``source`` is none of them (e.g. a number).
    """
    if isinstance(source, BaseConfig):
        return "config"
    if isinstance(source, Mapping):
        return "mapping"
    if is_easyrec_source(source):
        return "easyrec"
    if isinstance(source, (str, Path)):
        return "yaml"
    raise ConfigError(
        f"a config must be a config, a mapping, YAML or EasyRec text or a file path; "
        f"got {type(source).__name__}: {source!r}."
    )


def read_mapping(source: str | Path | Mapping[str, Any], empty_ok: bool = True) -> dict[str, Any]:
    """A YAML text or file (or a mapping) as a fresh ``dict``.

    Args:
        source: YAML text, a ``.yaml`` / ``.yml`` path or a mapping.
        empty_ok: An empty document reads as ``{}`` (else it is an error).

    Raises:
        ConfigError: invalid YAML, a missing file or a document that is not a mapping.
    """
    if isinstance(source, Mapping):
        return dict(source)
    data = _read_yaml(_redirect(source))
    if data is None and empty_ok:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"a config document must be a mapping, got {type(data).__name__}.")
    return dict(data)


def load_model_source(
    source: str | Path | Mapping[str, Any] | ModelConfig,
) -> tuple[ModelConfig, list[FeatureConfig]]:
    """A :class:`ModelConfig` and the feature configs the source holds (EasyRec text only).

    A mapping or YAML document may hold the model config itself or a ``model_config``
    key; EasyRec text is read by :func:`recutils.nn.easyrec.load_easyrec_config`.
    """
    kind = source_kind(source)
    if kind == "config":
        if not isinstance(source, ModelConfig):
            raise ConfigError(f"expected a ModelConfig, got a {type(source).__name__}.")
        return ModelConfig.from_dict(source.to_dict()), []
    if kind == "easyrec":
        loaded = load_easyrec_config(_redirect(source))
        return loaded.model_config, list(loaded.features)
    data = read_mapping(source, empty_ok=False)
    return ModelConfig.from_dict(data["model_config"] if "model_config" in data else data), []


def load_model_config(source: str | Path | Mapping[str, Any] | ModelConfig) -> ModelConfig:
    """A :class:`ModelConfig` from YAML text or file, a mapping, EasyRec text or file, or a config.

    Text starting with ``model_config`` (or a ``.config`` / ``.pbtxt`` file) is read as
    EasyRec's protobuf text format through :func:`recutils.nn.easyrec.load_easyrec_config`.
    A YAML document may hold the model config itself or a ``model_config`` key.
    """
    return load_model_source(source)[0]


def load_config_with(source: Any, cls: type[C], changes: Mapping[str, Any] | None = None) -> C:
    """A ``cls`` config from ``source`` with ``changes`` merged in (:func:`merge_config`).

    Args:
        source: None (the defaults), a ``cls`` instance, a mapping, YAML text or file, or
            (for a config with a ``model_config`` field) EasyRec text or file, whose feature
            configs, if any, become the ``features``.
        cls: The config class (e.g. :class:`~recutils.models.deep.DeepRankConfig`).
        changes: Overrides; config instances among the values count as their ``to_dict()``.

    Raises:
        ConfigError: an invalid source, unknown keys or invalid values.
    """
    if source is not None and source_kind(source) == "easyrec":
        if "model_config" not in cls.field_names():
            raise ConfigError(
                f"EasyRec text describes a model_config; {cls.__name__} has no such field."
            )
        model_config, features = load_model_source(source)
        values: dict[str, Any] = {"model_config": model_config}
        if features:
            values["features"] = features
        base = cls.from_dict(values)
    else:
        base = load_config(_redirect(source), cls)
    if not changes:
        return base
    plain = {k: v.to_dict() if isinstance(v, BaseConfig) else v for k, v in changes.items()}
    return cls.from_dict(merge_config(base.to_dict(), plain))


# ------------------------------------------------------------------ merging
def merge_config(base: Any, changes: Mapping[str, Any], where: str = "config") -> Any:
    """``base`` (a config as plain data) with ``changes`` merged in.

    Mappings merge key by key (``{"train": {"epochs": 3}}`` changes only the epochs); a
    mapping whose keys are list positions (``{"optimizers": {"0": {"lr": 0.01}}}``)
    updates those list elements; anything else (scalars, lists, configs, EasyRec
    text) replaces the value. Search spaces address these as ``train.epochs`` and
    ``train.optimizers.0.lr``.

    Raises:
        ConfigError: a list position out of range.
    """
    if isinstance(changes, BaseConfig) or not isinstance(changes, Mapping):
        return changes
    if isinstance(base, list) and changes and all(str(k).isdigit() for k in changes):
        out = list(base)
        for key, value in changes.items():
            i = int(key)
            if i >= len(out):
                raise ConfigError(
                    f"{where}.{key}: position out of range; {where} has {len(out)} element(s)."
                )
            out[i] = merge_config(out[i], value, f"{where}.{key}")
        return out
    if not isinstance(base, Mapping):
        return dict(changes)
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = merge_config(merged[key], value, f"{where}.{key}") if key in merged else value
    return merged


__all__ = [
    "LEGACY_CONFIG_DIR",
    "SHIPPED_CONFIG_DIRS",
    "SOURCE_KINDS",
    "list_shipped_configs",
    "load_config_with",
    "load_model_config",
    "load_model_source",
    "merge_config",
    "read_mapping",
    "shipped_config_path",
    "source_kind",
]
