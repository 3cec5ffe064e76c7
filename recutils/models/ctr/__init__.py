"""The click-through / ranking model zoo: FM, FFM, DeepFM, DCN, DCN-v2, xDeepFM, AutoInt, FiBiNet,
MaskNet, DLRM, PPNet, multi-tower, Highway and Wide & Deep, and the behaviour-sequence models DIN,
DIEN, BST, SLi-Rec, A2SVD and SUM, each a shipped YAML config
(``recutils/models/ctr/configs``) built by name (``create_model("deepfm")``), and their export
for serving (:mod:`recutils.models.ctr.export`). Needs ``pip install "recutils[torch]"``.
"""

from recutils.models.ctr.zoo import (
    A2SVD,
    BEHAVIOUR_PRESETS,
    BEHAVIOUR_REFERENCE,
    BST,
    DCN,
    DIEN,
    DIN,
    DLRM,
    FFM,
    FM,
    PRESETS,
    SEQUENTIAL_REFERENCE,
    SUM,
    ZOO_CLASSES,
    AutoInt,
    BehaviourZooModel,
    DCNv2,
    DeepFM,
    FiBiNet,
    HighwayWideDeep,
    MaskNet,
    MultiTower,
    PPNet,
    SLiRec,
    WideAndDeep,
    XDeepFM,
    ZooModel,
    behaviour_toy_frame,
    list_presets,
    preset_config,
    preset_path,
    with_feature_groups,
)

__all__ = ["A2SVD", "BEHAVIOUR_PRESETS", "BEHAVIOUR_REFERENCE", "BST", "DCN", "DIEN", "DIN", "DLRM", "FFM", "FM",
           "PPNet", "PRESETS", "SEQUENTIAL_REFERENCE", "SUM", "ZOO_CLASSES", "AutoInt", "BehaviourZooModel", "DCNv2",
           "DeepFM", "FiBiNet", "HighwayWideDeep", "MaskNet", "MultiTower", "SLiRec", "WideAndDeep", "XDeepFM",
           "ZooModel", "behaviour_toy_frame", "list_presets", "preset_config", "preset_path", "with_feature_groups"]
