"""What a benchmark runs: :class:`ModelSpec` and :class:`BenchmarkSpec`, as data.

A spec is a dataclass that YAML overrides (``yaml.safe_load``); unknown keys raise
:class:`~recutils.exceptions.ConfigError` naming the key and the allowed ones, and
``to_dict()`` -> ``from_dict()`` round-trips. Models are named by their registry name
(:func:`recutils.models.registry.create_model`), so a model registered later joins a
benchmark by adding one entry to a spec, with no code.

Example (YAML)::

    dataset: movielens
    data_size: 100k
    protocols: [ms_stratified, chrono]
    seeds: [1, 2, 3]
    k: 10
    reference: sar
    models:
      - name: sar
        params: {similarity_type: jaccard, time_decay_coefficient: 30, timedecay_formula: true}
      - name: svd
        model: surprise_svd
        params: {n_factors: 150, n_epochs: 15, lr_all: 0.005, reg_all: 0.02}
        rating_metrics: true
      - name: cornac_bivae              # slow: Microsoft's protocol only
        params: {n_epochs: 150}
        protocols: [ms_stratified]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from recutils.config import BaseConfig, load_config
from recutils.exceptions import ConfigError
from recutils.utils.validation import check_positive_int, is_int

#: Peak-memory measurements :func:`recutils.benchmark.run_benchmark` knows.
MEMORY_METHODS = ("tracemalloc", "none")
#: Built-in specs shipped in ``recutils/benchmark/specs`` (name -> file).
BUILTIN_SPECS = {"movielens": "movielens.yaml", "retrieval": "retrieval.yaml"}


@dataclass
class ModelSpec(BaseConfig):
    """One model of a benchmark.

    Attributes:
        name: Label of the model in the results (unique within a spec).
        model: Registry name (``list_models()``); default: ``name``.
        params: Constructor parameters passed to ``create_model(model, **params)``.
        seed_param: Parameter that receives the run's seed: ``"auto"`` (``"seed"`` when
            the model's config has such a field, else none), a parameter name, or
            ``None`` (the model is deterministic).
        rating_metrics: The model predicts ratings: also score the test pairs with
            ``predict`` and report RMSE, MAE, R2 and explained variance.
        warmup: Fit once, untimed, on a small head of the training data first (pays
            one-off costs such as starting a Spark session outside the timings).
        protocols: Run this model on these protocols only (a subset of the spec's);
            ``None``: every protocol of the spec. For models too slow to run everywhere.
        side_data: Name of side data of the spec's data set
            (:data:`recutils.benchmark.data.SIDE_DATA`: MovieLens ``text``, item titles,
            genres and tags; ``features``, user and item feature frames), loaded once and
            passed to ``fit`` as keyword arguments (``item_features=``, ``user_features=``);
            ``None``: ``fit(train)``.
    """

    name: str = ""
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    seed_param: str | None = "auto"
    rating_metrics: bool = False
    warmup: bool = False
    protocols: list[str] | None = None
    side_data: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"a model spec needs a non-empty string name, got {self.name!r}.")
        if self.model is None:
            self.model = self.name
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(
                f"model spec {self.name!r}: model must be a registry name, got {self.model!r}."
            )
        if not isinstance(self.params, Mapping):
            raise ConfigError(
                f"model spec {self.name!r}: params must be a mapping, got {self.params!r}."
            )
        self.params = dict(self.params)
        if self.seed_param is not None and (
            not isinstance(self.seed_param, str) or not self.seed_param
        ):
            raise ConfigError(
                f"model spec {self.name!r}: seed_param must be 'auto', a parameter name "
                f"or null, got {self.seed_param!r}."
            )
        if isinstance(self.protocols, str):
            self.protocols = [self.protocols]
        if self.protocols is not None and (
            not isinstance(self.protocols, list) or not self.protocols
        ):
            raise ConfigError(
                f"model spec {self.name!r}: protocols must be null or a non-empty list, "
                f"got {self.protocols!r}."
            )
        if self.side_data is not None and (
            not isinstance(self.side_data, str) or not self.side_data
        ):
            raise ConfigError(
                f"model spec {self.name!r}: side_data must be null or a side-data "
                f"name, got {self.side_data!r}."
            )
        for flag in ("rating_metrics", "warmup"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(
                    f"model spec {self.name!r}: {flag} must be true or false, "
                    f"got {getattr(self, flag)!r}."
                )


@dataclass
class BenchmarkSpec(BaseConfig):
    """A benchmark: data, protocols, seeds, list length and the models.

    Attributes:
        dataset: Data set name (see :data:`recutils.benchmark.data.DATASETS`).
        data_size: Size passed to the loader (MovieLens: ``"100k"``, ``"1m"``, ...).
        protocols: Names from :data:`recutils.benchmark.protocols.PROTOCOLS`.
        seeds: Seeds; each seeds both the split (when the protocol is random) and the model.
        k: Length of the top-k lists and cut-off of the ranking metrics.
        reference: Model (its ``name``) every other model is tested against, or None.
        memory: Peak-memory measurement, one of :data:`MEMORY_METHODS`.
        models: The :class:`ModelSpec` entries (mappings are converted).
    """

    dataset: str = "movielens"
    data_size: str = "100k"
    protocols: list[str] = field(default_factory=lambda: ["ms_stratified"])
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    k: int = 10
    reference: str | None = None
    memory: str = "tracemalloc"
    models: list[ModelSpec] = field(default_factory=list)

    def __post_init__(self) -> None:
        from recutils.benchmark.data import DATASETS, check_side_data
        from recutils.benchmark.protocols import PROTOCOLS

        if self.dataset not in DATASETS:
            raise ConfigError(f"unknown dataset {self.dataset!r}; known: {sorted(DATASETS)}.")
        if not isinstance(self.data_size, str) or not self.data_size:
            raise ConfigError(f"data_size must be a non-empty string, got {self.data_size!r}.")
        if isinstance(self.protocols, str):
            self.protocols = [self.protocols]
        if not self.protocols:
            raise ConfigError("protocols must name at least one protocol.")
        for name in self.protocols:
            if name not in PROTOCOLS:
                raise ConfigError(f"unknown protocol {name!r}; known: {sorted(PROTOCOLS)}.")
        if isinstance(self.seeds, int):
            self.seeds = [self.seeds]
        if not self.seeds or not all(is_int(s) for s in self.seeds):
            raise ConfigError(f"seeds must be a non-empty list of integers, got {self.seeds!r}.")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be distinct, got {self.seeds!r}.")
        check_positive_int("k", self.k)
        if self.memory not in MEMORY_METHODS:
            raise ConfigError(f"memory must be one of {list(MEMORY_METHODS)}, got {self.memory!r}.")
        models = []
        for entry in self.models:
            if isinstance(entry, ModelSpec):
                models.append(entry)
            elif isinstance(entry, Mapping):
                models.append(ModelSpec.from_dict(entry))
            else:
                raise ConfigError(f"each models entry must be a mapping, got {entry!r}.")
        self.models = models
        for m in models:
            extra = [p for p in (m.protocols or []) if p not in self.protocols]
            if extra:
                raise ConfigError(
                    f"model {m.name!r}: protocols {extra} are not among the spec's "
                    f"protocols {self.protocols}."
                )
            if m.side_data is not None:
                try:
                    check_side_data(self.dataset, m.side_data)
                except ConfigError as err:
                    raise ConfigError(f"model {m.name!r}: {err}") from None
        names = [m.name for m in models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"model names must be unique within a spec; repeated: {dupes}.")
        if self.reference is not None and self.reference not in names:
            raise ConfigError(f"reference {self.reference!r} is not one of the models {names}.")

    @property
    def dataset_label(self) -> str:
        """``"<dataset>-<data_size>"``, the value of the ``dataset`` column of the results."""
        return f"{self.dataset}-{self.data_size}"

    def runs(self) -> list[tuple[ModelSpec, str, int]]:
        """Every (model, protocol, seed) the spec asks for, in order."""
        return [
            (m, p, s)
            for m in self.models
            for p in self.protocols
            if m.protocols is None or p in m.protocols
            for s in self.seeds
        ]

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["models"] = [m.to_dict() for m in self.models]
        return out

    def select(
        self,
        models: list[str] | None = None,
        seeds: list[int] | None = None,
        protocols: list[str] | None = None,
        **changes: Any,
    ) -> BenchmarkSpec:
        """A copy restricted to some models / seeds / protocols (and other fields changed).

        Raises:
            ConfigError: a model name that is not in the spec.
        """
        values = self.to_dict()
        if models is not None:
            known = [m.name for m in self.models]
            unknown = [m for m in models if m not in known]
            if unknown:
                raise ConfigError(f"models {unknown} are not in the spec; it has {known}.")
            values["models"] = [m for m in values["models"] if m["name"] in models]
            if values["reference"] not in models:
                values["reference"] = None
        if seeds is not None:
            values["seeds"] = list(seeds)
        if protocols is not None:
            values["protocols"] = list(protocols)
            kept = []
            for m in values["models"]:
                if m["protocols"] is not None:
                    m["protocols"] = [p for p in m["protocols"] if p in protocols]
                    if not m["protocols"]:
                        continue  # the model runs on none of the protocols kept
                kept.append(m)
            values["models"] = kept
            if values["reference"] not in [m["name"] for m in kept]:
                values["reference"] = None
        values.update(changes)
        return BenchmarkSpec.from_dict(values)


def load_spec(source: str | Path | Mapping[str, Any] | BenchmarkSpec) -> BenchmarkSpec:
    """A :class:`BenchmarkSpec` from a built-in name (``"movielens"``), a YAML file or text, or a mapping.

    Raises:
        ConfigError: unknown keys (at any level), invalid values, a missing file, or a
            one-word name that is neither a built-in spec nor a file (naming the built-ins).
    """
    if isinstance(source, str) and source in BUILTIN_SPECS:
        text = (
            resources.files("recutils.benchmark")
            .joinpath("specs", BUILTIN_SPECS[source])
            .read_text()
        )
        return load_config(text, BenchmarkSpec)
    if (
        isinstance(source, (str, Path))
        and not any(c in str(source) for c in "\n:{")
        and not Path(source).exists()
    ):
        raise ConfigError(
            f"spec {str(source)!r} is neither a built-in spec {sorted(BUILTIN_SPECS)} "
            "nor an existing YAML file."
        )
    return load_config(source, BenchmarkSpec)


__all__ = ["ModelSpec", "BenchmarkSpec", "load_spec", "MEMORY_METHODS", "BUILTIN_SPECS"]
