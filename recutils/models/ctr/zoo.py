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

The behaviour-sequence models (:data:`BEHAVIOUR_PRESETS`) read a user's history besides the
target, so they are listed apart (``list_presets(behaviour=True)``) from the models that train on
any frame with a user and an item:

* DIN, DIEN, BST (``<name>_taobao.yaml``) expect the sample frames of
  :func:`recutils.datasets.behaviour_ctr.history_samples` (list columns ``hist_itemID``,
  ``hist_category``, ``hist_behavior``, the target's ``category``); their history-free
  reference, the same features without the history, is the shipped ``mlp_taobao.yaml``
  (:data:`BEHAVIOUR_REFERENCE`);
* SLi-Rec, A2SVD, SUM (``<name>_grocery.yaml``) expect Microsoft Recommenders' sequential
  setting, :func:`recutils.datasets.behaviour_ctr.leave_last_out_samples` on Amazon Grocery
  (``hist_itemID``, ``hist_category``, SLi-Rec also ``hist_time_gap_hours``, the target's
  ``category``); their history-free reference is the shipped ``deepfm_grocery.yaml``
  (:data:`SEQUENTIAL_REFERENCE`).

A reference is built with ``DeepRankModel.from_example(...)``; it is not a registered model: it
is a baseline of those models, not a model family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

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
#: registry name -> shipped config of the models that read a behaviour history (a ``SEQUENCE``
#: group over ``history_samples``' list columns). Keep it sorted.
BEHAVIOUR_PRESETS: dict[str, str] = {
    "a2svd": "a2svd_grocery.yaml",
    "bst": "bst_taobao.yaml",
    "dien": "dien_taobao.yaml",
    "din": "din_taobao.yaml",
    "gru_history": "gru_history_grocery.yaml",
    "slirec": "slirec_grocery.yaml",
    "sum": "sum_grocery.yaml",
}
#: The history-free reference config of the Taobao presets (DIN, DIEN, BST: same features, no history).
BEHAVIOUR_REFERENCE = "mlp_taobao.yaml"
#: The history-free reference config of the Amazon Grocery presets (SLi-Rec, A2SVD, SUM): DeepFM
#: over the user, the target item and its category.
SEQUENTIAL_REFERENCE = "deepfm_grocery.yaml"


def list_presets(behaviour: bool = False) -> dict[str, str]:
    """Zoo model name -> its shipped config file name.

    Args:
        behaviour: List the behaviour-sequence models (:data:`BEHAVIOUR_PRESETS`, which need
            history columns) instead of the models that train on any user-item frame.
    """
    return dict(BEHAVIOUR_PRESETS if behaviour else PRESETS)


def preset_path(name: str) -> Path:
    """Path of the shipped config of zoo model ``name`` (either table)."""
    presets = {**PRESETS, **BEHAVIOUR_PRESETS}
    if name not in presets:
        raise ConfigError(f"unknown zoo model {name!r}; known: {sorted(presets)}.")
    return example_config_path(presets[name])


def preset_config(name: str) -> dict[str, Any]:
    """The shipped config of zoo model ``name`` as a mapping (a fresh copy, as written)."""
    return read_mapping(preset_path(name))


def with_feature_groups(
    config: Mapping[str, Any], groups: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """``config`` with the named feature groups' ``feature_names`` replaced.

    Raises:
        ConfigError: a group name the config does not have (the message lists them).
    """
    out = dict(config)
    model_config = dict(out["model_config"])
    existing = [g["group_name"] for g in model_config["feature_groups"]]
    unknown = [g for g in groups if g not in existing]
    if unknown:
        raise ConfigError(
            f"feature_groups names unknown group(s) {unknown}; this model's groups: {existing}."
        )
    model_config["feature_groups"] = [
        {**g, "feature_names": list(groups[g["group_name"]])}
        if g["group_name"] in groups
        else dict(g)
        for g in model_config["feature_groups"]
    ]
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

    def __init__(
        self,
        config: DeepRankConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        feature_groups: Mapping[str, Sequence[str]] | None = None,
        **params: Any,
    ) -> None:
        fields = self.config_class.field_names()
        overrides = {k: params.pop(k) for k in list(params) if k in fields}
        resolved = load_config_with(
            preset_path(self.name) if config is None else config, self.config_class, overrides
        )
        if feature_groups:
            resolved = self.config_class.from_dict(
                with_feature_groups(resolved.to_dict(), feature_groups)
            )
        super().__init__(resolved, **params)

    @classmethod
    def contract_case(cls) -> ContractCase:
        """Every feature group of the preset reads the toy frame's user and item; 2 epochs."""
        cfg = preset_config(cls.name)
        groups = {g["group_name"]: ["user", "item"] for g in cfg["model_config"]["feature_groups"]}
        return ContractCase(
            params={
                "label_threshold": 4.0,
                "features": [
                    {"name": "user", "column": "@user"},
                    {"name": "item", "column": "@item"},
                ],
                "feature_groups": groups,
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


def behaviour_toy_frame(
    n_users: int = 12, n_items: int = 15, length: int = 20, max_len: int = 4, seed: int = 0
) -> pd.DataFrame:
    """A tiny seeded behaviour log turned into ``history_samples`` rows (list columns).

    ``n_users`` users with ``length`` behaviours each over ``n_items`` items in three
    categories; every user favours one category, so the history tells which targets are
    clicked. One negative per positive, histories of at most ``max_len`` behaviours.
    """
    from recutils.datasets.behaviour_ctr import history_samples

    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), length)
    favourite = rng.integers(0, 3, n_users)[users]
    own = rng.random(users.size) < 0.8
    category = np.where(own, favourite, rng.integers(0, 3, users.size))
    item = category + 3 * rng.integers(0, n_items // 3, users.size)
    log = pd.DataFrame(
        {
            "userID": users,
            "itemID": item,
            "category": item % 3,
            "behavior": rng.choice(["pv", "pv", "pv", "cart", "fav", "buy"], users.size),
            "timestamp": np.tile(np.arange(length) * 3600, n_users) + 1_511_000_000,
        }
    )
    return history_samples(log, max_len=max_len, n_negatives=1, seed=seed)


class BehaviourZooModel(ZooModel):
    """A zoo model whose preset reads a behaviour history (:data:`BEHAVIOUR_PRESETS`)."""

    @classmethod
    def contract_case(cls) -> ContractCase:
        """The contract suite's frames have no history lists: its user and item play the
        user and the target, and the item column read as a one-behaviour list (the target
        itself) stands for the history, so the history path runs through every check; a
        preset whose history has times (SLi-Rec) reads the item id as the one time too (the
        separator ``i`` drops the prefix of the suite's string ids, so ``3`` and ``"i3"`` give
        the same number). The preset itself trains on :func:`behaviour_toy_frame` in the unit
        tests. 2 epochs."""
        cfg = preset_config(cls.name)
        features = {f["name"]: f for f in cfg["features"]}
        timed = any(
            features[n].get("numeric", False)
            for g in cfg["model_config"]["feature_groups"]
            if g.get("wide_deep") == "SEQUENCE"
            for n in g["feature_names"]
        )
        history = ["hist_item", "item"] + (["hist_time"] if timed else [])
        groups = {
            g["group_name"]: (history if g.get("wide_deep") == "SEQUENCE" else ["user", "item"])
            for g in cfg["model_config"]["feature_groups"]
        }
        time_feature = (
            [
                {
                    "name": "hist_time",
                    "column": "@item",
                    "type": "sequence",
                    "numeric": True,
                    "max_length": 4,
                    "separator": "i",
                }
            ]
            if timed
            else []
        )
        return ContractCase(
            params={
                "label_threshold": 4.0,
                "features": [
                    {"name": "user", "column": "@user"},
                    {"name": "item", "column": "@item", "embedding_name": "items"},
                    {
                        "name": "hist_item",
                        "column": "@item",
                        "type": "sequence",
                        "max_length": 4,
                        "embedding_name": "items",
                    },
                    *time_feature,
                ],
                "feature_groups": groups,
                "default_embedding_dim": 8,
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


def _zoo(class_name: str, name: str, doc: str) -> type[ZooModel]:
    base = BehaviourZooModel if name in BEHAVIOUR_PRESETS else ZooModel
    preset = {**PRESETS, **BEHAVIOUR_PRESETS}[name]
    return type(
        class_name,
        (base,),
        {"name": name, "preset": preset, "__doc__": doc, "__module__": __name__},
    )


BST = _zoo("BST", "bst", "Behavior Sequence Transformer (Chen et al. 2019): ``bst_taobao.yaml``.")
DIEN = _zoo(
    "DIEN", "dien", "Deep Interest Evolution Network (Zhou et al. 2019): ``dien_taobao.yaml``."
)
DIN = _zoo("DIN", "din", "Deep Interest Network (Zhou et al. 2018): ``din_taobao.yaml``.")
GRUHistory = _zoo(
    "GRUHistory",
    "gru_history",
    "A GRU over the history (GRU4Rec's encoder) in the click-through setting: ``gru_history_grocery.yaml``.",
)
A2SVD = _zoo(
    "A2SVD", "a2svd", "Attentive asynchronous SVD (Yu et al. 2019): ``a2svd_grocery.yaml``."
)
SLiRec = _zoo(
    "SLiRec",
    "slirec",
    "SLi-Rec, long- and short-term interests (Yu et al. 2019): ``slirec_grocery.yaml``.",
)
SUM = _zoo("SUM", "sum", "Sequential User Matrix (Lian et al. 2021): ``sum_grocery.yaml``.")
AutoInt = _zoo("AutoInt", "autoint", "AutoInt+ (Song et al. 2019): ``autoint_movielens.yaml``.")
DCN = _zoo("DCN", "dcn", "Deep & Cross Network (Wang et al. 2017): ``dcn_movielens.yaml``.")
DCNv2 = _zoo("DCNv2", "dcnv2", "DCN-v2 (Wang et al. 2021): ``dcnv2_movielens.yaml``.")
DeepFM = _zoo("DeepFM", "deepfm", "DeepFM (Guo et al. 2017): ``deepfm_movielens.yaml``.")
DLRM = _zoo("DLRM", "dlrm", "DLRM (Naumov et al. 2019): ``dlrm_movielens.yaml``.")
FFM = _zoo(
    "FFM", "ffm", "Field-aware factorization machine (Juan et al. 2016): ``ffm_movielens.yaml``."
)
FiBiNet = _zoo("FiBiNet", "fibinet", "FiBiNet (Huang et al. 2019): ``fibinet_movielens.yaml``.")
FM = _zoo("FM", "fm", "Factorization machine (Rendle 2010): ``fm_movielens.yaml``.")
HighwayWideDeep = _zoo(
    "HighwayWideDeep", "highway", "Wide & Deep with highway layers: ``highway_movielens.yaml``."
)
MaskNet = _zoo("MaskNet", "masknet", "MaskNet (Wang et al. 2021): ``masknet_movielens.yaml``.")
MultiTower = _zoo(
    "MultiTower", "multitower", "Per-group MLP towers: ``multitower_movielens.yaml``."
)
PPNet = _zoo("PPNet", "ppnet", "Parameter-personalized net (gated MLP): ``ppnet_movielens.yaml``.")
WideAndDeep = _zoo(
    "WideAndDeep", "wide_deep", "Wide & Deep (Cheng et al. 2016): ``wide_deep_movielens.yaml``."
)
XDeepFM = _zoo("XDeepFM", "xdeepfm", "xDeepFM (Lian et al. 2018): ``xdeepfm_movielens.yaml``.")

#: registry name -> class
ZOO_CLASSES: dict[str, type[ZooModel]] = {
    c.name: c
    for c in (
        AutoInt,
        DCN,
        DCNv2,
        DeepFM,
        DLRM,
        FFM,
        FiBiNet,
        FM,
        HighwayWideDeep,
        MaskNet,
        MultiTower,
        PPNet,
        WideAndDeep,
        XDeepFM,
        A2SVD,
        BST,
        DIEN,
        DIN,
        GRUHistory,
        SLiRec,
        SUM,
    )
}

__all__ = [
    "BEHAVIOUR_PRESETS",
    "BEHAVIOUR_REFERENCE",
    "PRESETS",
    "SEQUENTIAL_REFERENCE",
    "ZOO_CLASSES",
    "BehaviourZooModel",
    "ZooModel",
    "behaviour_toy_frame",
    "list_presets",
    "preset_config",
    "preset_path",
    "with_feature_groups",
    *sorted(c.__name__ for c in ZOO_CLASSES.values()),
]
