"""The click-through / ranking model zoo: FM, FFM, DeepFM, DCN, DCN-v2, xDeepFM, AutoInt, FiBiNet,
MaskNet, DLRM, PPNet, multi-tower, Highway and Wide & Deep, each a shipped YAML config
(``recutils/models/ctr/configs``) built by name (``create_model("deepfm")``), and their export
for serving (:mod:`recutils.models.ctr.export`). Needs ``pip install "recutils[torch]"``.
"""

from recutils.models.ctr.zoo import (
    DCN,
    DLRM,
    FFM,
    FM,
    PPNet,
    PRESETS,
    ZOO_CLASSES,
    AutoInt,
    DCNv2,
    DeepFM,
    FiBiNet,
    HighwayWideDeep,
    MaskNet,
    MultiTower,
    WideAndDeep,
    XDeepFM,
    ZooModel,
    list_presets,
    preset_config,
    preset_path,
    with_feature_groups,
)

__all__ = ["DCN", "DLRM", "FFM", "FM", "PPNet", "PRESETS", "ZOO_CLASSES", "AutoInt", "DCNv2", "DeepFM", "FiBiNet",
           "HighwayWideDeep", "MaskNet", "MultiTower", "WideAndDeep", "XDeepFM", "ZooModel", "list_presets",
           "preset_config", "preset_path", "with_feature_groups"]
