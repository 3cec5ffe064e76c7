"""The click-through model zoo: each model is a shipped YAML config, built by name.

A zoo model is a :class:`~recutils.models.deep.DeepRankModel` whose default config is
a file in ``recutils/models/ctr/configs`` (:data:`PRESETS`; Wide & Deep's is the
``recutils/models/deep/configs`` example of :class:`DeepRankModel`); the class adds nothing but that
default, its registry name and a small contract case, so the architecture lives in
the YAML a user reads and edits::

    from recutils.models import create_model
    model = create_model("deepfm", col_rating="label")                # the shipped config
    model = create_model("deepfm", train={"epochs": 5})                # overrides
    model = create_model("deepfm", features=[...],                     # your own features
                         feature_groups={"wide": ["user", "item", "city"],
                                         "deep": ["user", "item", "city"]})

``feature_groups`` maps a preset's group names to your feature names (a group not
named keeps the preset's features); features named without a config are inferred from
the training frame. :func:`list_presets` lists each name with its config file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from recutils.exceptions import ConfigError
from recutils.models.base import ContractCase
from recutils.models.deep import DeepRankConfig, DeepRankModel, example_config_path
from recutils.nn.config_io import load_config_with, read_mapping

#: registry name -> shipped config (``recutils/models/ctr/configs``; ``wide_deep``: the
#: example of ``recutils/models/deep/configs``), found by :func:`example_config_path`. Keep it sorted.
PRESETS: dict[str, str] = {
    "autoint": "autoint_movielens.yaml",
    "dcn": "dcn_movielens.yaml",
    "dcnv2": "dcnv2_movielens.yaml",
    "deepfm": "deepfm_movielens.yaml",
    "dlrm": "dlrm_movielens.yaml",
    "ffm": "ffm_movielens.yaml",
    "fibinet": "fibinet_movielens.yaml",
    "fm": "fm_movielens.yaml",
    "highway": "highway_movielens.yaml",
    "masknet": "masknet_movielens.yaml",
    "multitower": "multitower_movielens.yaml",
    "ppnet": "ppnet_movielens.yaml",
    "wide_deep": "wide_deep_movielens.yaml",
    "xdeepfm": "xdeepfm_movielens.yaml",
}


def list_presets() -> dict[str, str]:
    """Zoo model name -> its shipped config file name."""
    return dict(PRESETS)


def preset_path(name: str) -> Path:
    """Path of the shipped config of zoo model ``name``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown zoo model {name!r}; known: {sorted(PRESETS)}.")
    return example_config_path(PRESETS[name])


def preset_config(name: str) -> dict[str, Any]:
    """The shipped config of zoo model ``name`` as a mapping (a fresh copy, as written)."""
    return read_mapping(preset_path(name))


def with_feature_groups(config: Mapping[str, Any], groups: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """``config`` with the named feature groups' ``feature_names`` replaced.

    Raises:
        ConfigError: a group name the config does not have (the message lists them).
    """
    out = dict(config)
    model_config = dict(out["model_config"])
    existing = [g["group_name"] for g in model_config["feature_groups"]]
    unknown = [g for g in groups if g not in existing]
    if unknown:
        raise ConfigError(f"feature_groups names unknown group(s) {unknown}; this model's groups: {existing}.")
    model_config["feature_groups"] = [
        {**g, "feature_names": list(groups[g["group_name"]])} if g["group_name"] in groups else dict(g)
        for g in model_config["feature_groups"]]
    out["model_config"] = model_config
    return out


class ZooModel(DeepRankModel):
    """A :class:`DeepRankModel` whose default config is the shipped preset of :attr:`name`.

    Args:
        config: A config replacing the preset (mapping, YAML text or path); default the preset.
        feature_groups: Group name -> feature names, replacing the preset's groups' features.
        **params: Column names and config overrides (``train={"epochs": 5}``, ``features=[...]``,
            ``seed``), merged into the preset by :func:`recutils.nn.config_io.merge_config`:
            mappings key by key, list positions element by element
            (``train={"optimizers": {"0": {"lr": 0.01}}}``), other values replace.
    """

    preset: ClassVar[str] = ""

    def __init__(self, config: DeepRankConfig | Mapping[str, Any] | str | Path | None = None, *,
                 feature_groups: Mapping[str, Sequence[str]] | None = None, **params: Any) -> None:
        fields = self.config_class.field_names()
        overrides = {k: params.pop(k) for k in list(params) if k in fields}
        resolved = load_config_with(preset_path(self.name) if config is None else config, self.config_class,
                                    overrides)
        if feature_groups:
            resolved = self.config_class.from_dict(with_feature_groups(resolved.to_dict(), feature_groups))
        super().__init__(resolved, **params)

    @classmethod
    def contract_case(cls) -> ContractCase:
        """Every feature group of the preset reads the toy frame's user and item; 2 epochs."""
        cfg = preset_config(cls.name)
        groups = {g["group_name"]: ["user", "item"] for g in cfg["model_config"]["feature_groups"]}
        return ContractCase(
            params={"label_threshold": 4.0,
                    "features": [{"name": "user", "column": "@user"}, {"name": "item", "column": "@item"}],
                    "feature_groups": groups,
                    "train": {"epochs": 2, "batch_size": 256, "num_threads": 1, "validation_fraction": 0.0,
                              "early_stopping_metric": None, "progress": False}},
            known_answer=None,
            stochastic=True,
        )


def _zoo(class_name: str, name: str, doc: str) -> type[ZooModel]:
    return type(class_name, (ZooModel,), {"name": name, "preset": PRESETS[name], "__doc__": doc,
                                          "__module__": __name__})


AutoInt = _zoo("AutoInt", "autoint", "AutoInt+ (Song et al. 2019): ``autoint_movielens.yaml``.")
DCN = _zoo("DCN", "dcn", "Deep & Cross Network (Wang et al. 2017): ``dcn_movielens.yaml``.")
DCNv2 = _zoo("DCNv2", "dcnv2", "DCN-v2 (Wang et al. 2021): ``dcnv2_movielens.yaml``.")
DeepFM = _zoo("DeepFM", "deepfm", "DeepFM (Guo et al. 2017): ``deepfm_movielens.yaml``.")
DLRM = _zoo("DLRM", "dlrm", "DLRM (Naumov et al. 2019): ``dlrm_movielens.yaml``.")
FFM = _zoo("FFM", "ffm", "Field-aware factorization machine (Juan et al. 2016): ``ffm_movielens.yaml``.")
FiBiNet = _zoo("FiBiNet", "fibinet", "FiBiNet (Huang et al. 2019): ``fibinet_movielens.yaml``.")
FM = _zoo("FM", "fm", "Factorization machine (Rendle 2010): ``fm_movielens.yaml``.")
HighwayWideDeep = _zoo("HighwayWideDeep", "highway", "Wide & Deep with highway layers: ``highway_movielens.yaml``.")
MaskNet = _zoo("MaskNet", "masknet", "MaskNet (Wang et al. 2021): ``masknet_movielens.yaml``.")
MultiTower = _zoo("MultiTower", "multitower", "Per-group MLP towers: ``multitower_movielens.yaml``.")
PPNet = _zoo("PPNet", "ppnet", "Parameter-personalized net (gated MLP): ``ppnet_movielens.yaml``.")
WideAndDeep = _zoo("WideAndDeep", "wide_deep", "Wide & Deep (Cheng et al. 2016): ``wide_deep_movielens.yaml``.")
XDeepFM = _zoo("XDeepFM", "xdeepfm", "xDeepFM (Lian et al. 2018): ``xdeepfm_movielens.yaml``.")

#: registry name -> class
ZOO_CLASSES: dict[str, type[ZooModel]] = {c.name: c for c in (
    AutoInt, DCN, DCNv2, DeepFM, DLRM, FFM, FiBiNet, FM, HighwayWideDeep, MaskNet, MultiTower, PPNet, WideAndDeep,
    XDeepFM)}

__all__ = ["PRESETS", "ZOO_CLASSES", "ZooModel", "list_presets", "preset_config", "preset_path", "with_feature_groups",
           *sorted(c.__name__ for c in ZOO_CLASSES.values())]
