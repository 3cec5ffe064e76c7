"""The model registry: an explicit table name -> ``"module:Class"``, imported lazily.

Adding a model is one line in :data:`_MODELS` (or a call to
:func:`register_model` for models living outside recutils). Nothing is found by
file name and unknown names never fall back silently: they raise
:class:`~recutils.exceptions.ConfigError` listing the known ones.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any

from recutils.exceptions import ConfigError, UnknownKeywordError

if TYPE_CHECKING:  # pragma: no cover
    from recutils.models.base import BaseRecommender

#: name -> "module:Class". Keep it sorted; one line per model.
_MODELS: dict[str, str] = {
    "a2svd": "recutils.models.ctr:A2SVD",
    "aitm": "recutils.models.multitask:AITM",
    "als": "recutils.models.als:SparkALS",
    "autoint": "recutils.models.ctr:AutoInt",
    "bert4rec": "recutils.models.sequential:BERT4Rec",
    "bias": "recutils.models.baselines:BiasBaseline",
    "bst": "recutils.models.ctr:BST",
    "caser": "recutils.models.sequential:Caser",
    "comet_i2i": "recutils.models.retrieval:CoMetricLearningI2I",
    "cornac_bivae": "recutils.models.cornac:CornacBiVAE",
    "cornac_bpr": "recutils.models.cornac:CornacBPR",
    "dbmtl": "recutils.models.multitask:DBMTL",
    "dcn": "recutils.models.ctr:DCN",
    "dcnv2": "recutils.models.ctr:DCNv2",
    "deep_rank": "recutils.models.deep:DeepRankModel",
    "deepfm": "recutils.models.ctr:DeepFM",
    "dien": "recutils.models.ctr:DIEN",
    "din": "recutils.models.ctr:DIN",
    "dkn": "recutils.models.news:DKN",
    "dlrm": "recutils.models.ctr:DLRM",
    "dropoutnet": "recutils.models.retrieval:DropoutNetModel",
    "dssm": "recutils.models.retrieval:TwoTowerModel",
    "dssm_senet": "recutils.models.retrieval:DSSMSENet",
    "embedding_dot_bias": "recutils.models.dotbias:EmbeddingDotBias",
    "esmm": "recutils.models.multitask:ESMM",
    "ffm": "recutils.models.ctr:FFM",
    "fibinet": "recutils.models.ctr:FiBiNet",
    "fm": "recutils.models.ctr:FM",
    "geoimc": "recutils.models.riemannian:GeoIMC",
    "gru_history": "recutils.models.ctr:GRUHistory",
    "gru4rec": "recutils.models.sequential:GRU4Rec",
    "highway": "recutils.models.ctr:HighwayWideDeep",
    "implicit_als": "recutils.models.implicit:ImplicitALS",
    "implicit_bpr": "recutils.models.implicit:ImplicitBPR",
    "itemknn": "recutils.models.baselines:ItemKNN",
    "kgcn": "recutils.models.kg:KGCN",
    "lightfm": "recutils.models.lightfm:LightFMRecommender",
    "lightgcn": "recutils.models.lightgcn:LightGCN",
    "lstur": "recutils.models.news:LSTUR",
    "masknet": "recutils.models.ctr:MaskNet",
    "mind": "recutils.models.retrieval:MindModel",
    "mmoe": "recutils.models.multitask:MMoE",
    "multi_dae": "recutils.models.vae:MultiDAE",
    "multi_vae": "recutils.models.vae:MultiVAE",
    "multitower": "recutils.models.ctr:MultiTower",
    "naml": "recutils.models.news:NAML",
    "ncf": "recutils.models.ncf:NCF",
    "nextitnet": "recutils.models.sequential:NextItNet",
    "pdn": "recutils.models.retrieval:PDN",
    "npa": "recutils.models.news:NPA",
    "nrms": "recutils.models.news:NRMS",
    "ple": "recutils.models.multitask:PLE",
    "popularity": "recutils.models.baselines:Popularity",
    "ppnet": "recutils.models.ctr:PPNet",
    "random": "recutils.models.baselines:RandomRecommender",
    "rbm": "recutils.models.rbm:RBM",
    "rlrmc": "recutils.models.riemannian:RLRMC",
    "sar": "recutils.models.sar:SAR",
    "sasrec": "recutils.models.sequential:SASRec",
    "simple_multitask": "recutils.models.multitask:SimpleMultiTask",
    "slirec": "recutils.models.ctr:SLiRec",
    "spark_sar": "recutils.models.sar.spark:SparkSAR",
    "ssept": "recutils.models.sequential:SSEPT",
    "standard_vae": "recutils.models.vae:StandardVAE",
    "sum": "recutils.models.ctr:SUM",
    "surprise_knnbaseline": "recutils.models.surprise:SurpriseKNNBaseline",
    "surprise_nmf": "recutils.models.surprise:SurpriseNMF",
    "surprise_svd": "recutils.models.surprise:SurpriseSVD",
    "surprise_svdpp": "recutils.models.surprise:SurpriseSVDpp",
    "tfidf": "recutils.models.tfidf:TfidfRecommender",
    "tfrs_ranking": "recutils.models.tfrs:TFRSRanking",
    "tfrs_retrieval": "recutils.models.tfrs:TFRSRetrieval",
    "vowpal_wabbit": "recutils.models.vowpal:VowpalWabbit",
    "wide_deep": "recutils.models.ctr:WideAndDeep",
    "xdeepfm": "recutils.models.ctr:XDeepFM",
}

_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def list_models() -> list[str]:
    """Names of the registered models, sorted."""
    return sorted(_MODELS)


def register_model(name: str, target: str, *, overwrite: bool = False) -> None:
    """Register ``name`` -> ``"package.module:Class"`` (imported on first use).

    Raises:
        ConfigError: a malformed target, or a name already taken (unless ``overwrite``).
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"model name must be a non-empty string, got {name!r}.")
    if not isinstance(target, str) or not _TARGET.match(target):
        raise ConfigError(f"target must look like 'package.module:Class', got {target!r}.")
    if name in _MODELS and _MODELS[name] != target and not overwrite:
        raise ConfigError(
            f"model name {name!r} is already registered to {_MODELS[name]!r}; "
            "pass overwrite=True to replace it."
        )
    _MODELS[name] = target


def unregister_model(name: str) -> None:
    """Remove ``name`` from the registry (mainly for tests)."""
    _MODELS.pop(name, None)


def get_model_class(name: str) -> type[BaseRecommender]:
    """The class registered as ``name``, imported now.

    Raises:
        ConfigError: unknown name (the message lists the known ones).
    """
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; known models: {list_models()}.")
    module_name, class_name = _MODELS[name].split(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, class_name)
    except AttributeError as err:
        raise ConfigError(f"model {name!r}: {module_name} has no {class_name}.") from err


def create_model(name: str, **params: Any) -> BaseRecommender:
    """Instantiate the model registered as ``name`` with ``params``.

    ``params`` are the model's constructor arguments (config fields, column names,
    ``config=`` a mapping/YAML).

    Raises:
        ConfigError: unknown model name (listing the known ones), or invalid values.
        UnknownKeywordError: a keyword the model does not accept, naming it and listing
            the accepted ones (a :class:`ConfigError` and a :class:`TypeError`), the same
            for every model.
    """
    cls = get_model_class(name)
    accepted = getattr(cls, "accepted_keywords", None)
    if accepted is not None:
        allowed = accepted()
        unknown = [k for k in params if k not in allowed]
        if unknown:
            raise UnknownKeywordError(
                f"model {name!r} got unknown parameter(s) {unknown}; allowed: {allowed}."
            )
    return cls(**params)


def __getattr__(name: str) -> Any:
    # ``recutils.models.registry.load_model``, the path of the loader before it moved
    # next to the saved-folder format (the registry itself does not import it)
    if name == "load_model":
        from recutils.models.persistence import load_any

        return load_any
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "create_model",
    "get_model_class",
    "list_models",
    "load_model",  # noqa: F822 (resolved lazily by the module __getattr__)
    "register_model",
    "unregister_model",
]
