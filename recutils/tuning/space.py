"""Search spaces as data: a mapping (or YAML) of parameter name -> specification.

A search space names the model parameters to tune and how to draw them. It is plain
data, written beside the model configs, and never executes code::

    n_factors: {type: int, low: 10, high: 200, step: 10}
    lr_all: {type: float, low: 1.0e-3, high: 1.0e-1, log: true}
    reg_all: {type: float, low: 0.01, high: 0.2}
    biased: [true, false]                 # a list: categorical (swept by grid search)
    n_epochs: 20                          # a scalar: fixed
    loss: {type: categorical, choices: [warp, bpr]}
    max_sampled: {type: int, low: 5, high: 30, when: {loss: warp}}   # conditional
    hidden_units: {type: fixed, value: [64, 32]}                      # a fixed list

Specification kinds:

* ``{type: int, low, high[, step=1][, log=false]}``: an integer in ``[low, high]``.
* ``{type: float, low, high[, step][, log=false]}``: a float in ``[low, high]``,
  uniform or log-uniform (``log: true``, needs ``low > 0``).
* ``{type: categorical, choices: [...]}`` or a plain list: one of the choices
  (numbers, strings, booleans or null).
* ``{type: fixed, value: ...}`` or a plain scalar: always that value.
* Any of the above with ``when: {other: value-or-list}``: the parameter exists only
  when ``other`` (a categorical or fixed parameter of the same space) takes one of the
  listed values; otherwise the model's default applies. Conditions may chain but not
  form cycles.

Names are config fields of the model (``n_factors``), or dotted paths into nested
configs (``train.epochs`` for :class:`~recutils.models.deep.DeepRankModel`, whose
``train`` field is a config; ``sim_options.name`` for a mapping field); a number
addresses an element of a list of configs (``train.optimizers.0.lr``,
``model_config.backbone.blocks.1.layer.params.hidden_units``; ``DeepRankModel`` and the
click-through zoo models (``deepfm``, ...) merge such values into their config with
:func:`recutils.nn.config_io.merge_config`, the one merge of nested configs).
:meth:`SearchSpace.validate` checks every name against the model's ``config_class``:
an unknown name raises :class:`~recutils.exceptions.ConfigError` naming it and the
allowed ones.

Grid search keeps Microsoft Recommenders' ``generate_param_grid`` semantics: lists
are swept, scalars fixed (:func:`generate_param_grid`, :meth:`SearchSpace.grid`).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from recutils.config import BaseConfig
from recutils.exceptions import ConfigError
from recutils.utils.validation import is_int, is_number

logger = logging.getLogger(__name__)

KINDS = ("int", "float", "categorical", "fixed")
_SPEC_KEYS = {
    "int": ("type", "low", "high", "step", "log", "when"),
    "float": ("type", "low", "high", "step", "log", "when"),
    "categorical": ("type", "choices", "when"),
    "fixed": ("type", "value", "when"),
}
_SCALARS = (bool, int, float, str, type(None))


class TrialLike(Protocol):
    """What :meth:`SearchSpace.suggest` needs from a trial (an ``optuna.Trial`` fits)."""

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int: ...

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


def _is_number(value: Any) -> bool:
    return is_number(value)


@dataclass(frozen=True)
class Param:
    """One parameter of a search space.

    Attributes:
        name: Parameter name (a config field or a dotted path).
        kind: ``"int"``, ``"float"``, ``"categorical"`` or ``"fixed"``.
        low, high, step, log: Range of ``int`` / ``float`` parameters.
        choices: Choices of a ``categorical`` parameter.
        value: Value of a ``fixed`` parameter.
        when: ``{parent name: allowed parent values}``: the parameter is active only
            when every parent takes one of its listed values.
    """

    name: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    value: Any = None
    when: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, name: str, spec: Any) -> Param:
        """Build a :class:`Param` from its data form (see the module docstring).

        Raises:
            ConfigError: an unknown ``type`` or key, a bad range, empty choices, a
                malformed ``when``.
        """
        if not isinstance(name, str) or not name or any(not part for part in name.split(".")):
            raise ConfigError(f"search-space parameter names are non-empty strings, got {name!r}.")
        if isinstance(spec, Param):
            return spec
        if isinstance(spec, (list, tuple)):
            return cls._categorical(name, spec, {})
        if not isinstance(spec, Mapping):
            if not isinstance(spec, _SCALARS):
                raise ConfigError(
                    f"search space {name!r}: a fixed value must be a number, string, boolean or "
                    f"null (or use {{type: fixed, value: ...}}), got {type(spec).__name__}."
                )
            return cls(name=name, kind="fixed", value=spec)
        if "type" not in spec:
            raise ConfigError(
                f"search space {name!r}: a mapping needs a 'type' (one of {list(KINDS)}), got "
                f"keys {sorted(map(str, spec))}; write a fixed mapping value as "
                "{type: fixed, value: {...}}."
            )
        kind = spec["type"]
        if kind not in KINDS:
            raise ConfigError(
                f"search space {name!r}: unknown type {kind!r}; allowed: {list(KINDS)}."
            )
        unknown = [k for k in spec if k not in _SPEC_KEYS[kind]]
        if unknown:
            raise ConfigError(
                f"search space {name!r}: unknown key(s) {unknown} for type {kind!r}; "
                f"allowed: {list(_SPEC_KEYS[kind])}."
            )
        when = cls._parse_when(name, spec.get("when"))
        if kind == "fixed":
            if "value" not in spec:
                raise ConfigError(f"search space {name!r}: type fixed needs a 'value'.")
            return cls(name=name, kind="fixed", value=spec["value"], when=when)
        if kind == "categorical":
            if "choices" not in spec:
                raise ConfigError(f"search space {name!r}: type categorical needs 'choices'.")
            return cls._categorical(name, spec["choices"], when)
        return cls._range(name, kind, spec, when)

    @classmethod
    def _categorical(cls, name: str, choices: Any, when: dict[str, tuple[Any, ...]]) -> Param:
        if not isinstance(choices, (list, tuple)) or len(choices) == 0:
            raise ConfigError(
                f"search space {name!r}: choices must be a non-empty list, got {choices!r}."
            )
        bad = [c for c in choices if not isinstance(c, _SCALARS)]
        if bad:
            raise ConfigError(
                f"search space {name!r}: choices must be numbers, strings, booleans or null, got "
                f"{bad[:3]!r}."
            )
        return cls(name=name, kind="categorical", choices=tuple(choices), when=when)

    @classmethod
    def _range(
        cls, name: str, kind: str, spec: Mapping[str, Any], when: dict[str, tuple[Any, ...]]
    ) -> Param:
        for key in ("low", "high"):
            if key not in spec:
                raise ConfigError(f"search space {name!r}: type {kind} needs '{key}'.")
        low, high, step = spec["low"], spec["high"], spec.get("step")
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise ConfigError(f"search space {name!r}: log must be true or false, got {log!r}.")
        numbers = [low, high] + ([step] if step is not None else [])
        if kind == "int":
            if not all(is_int(v) for v in numbers):
                raise ConfigError(
                    f"search space {name!r}: low/high/step of an int must be integers, got "
                    f"low={low!r}, high={high!r}, step={step!r}."
                )
            step = 1 if step is None else step
        elif not all(_is_number(v) and math.isfinite(v) for v in numbers):
            raise ConfigError(
                f"search space {name!r}: low/high/step of a float must be finite numbers, got "
                f"low={low!r}, high={high!r}, step={step!r}."
            )
        if low > high:
            raise ConfigError(f"search space {name!r}: low={low!r} is above high={high!r}.")
        if step is not None and step <= 0:
            raise ConfigError(f"search space {name!r}: step must be positive, got {step!r}.")
        if log and low <= 0:
            raise ConfigError(f"search space {name!r}: log scale needs low > 0, got low={low!r}.")
        if log and step is not None and not (kind == "int" and step == 1):
            raise ConfigError(f"search space {name!r}: log scale cannot take a step.")
        if kind == "float":
            low, high = float(low), float(high)
            step = None if step is None else float(step)
        return cls(name=name, kind=kind, low=low, high=high, step=step, log=log, when=when)

    @staticmethod
    def _parse_when(name: str, when: Any) -> dict[str, tuple[Any, ...]]:
        if when is None:
            return {}
        if not isinstance(when, Mapping) or not when:
            raise ConfigError(
                f"search space {name!r}: 'when' must map a parameter to its value(s), e.g. "
                f"{{loss: warp}}, got {when!r}."
            )
        out = {}
        for parent, values in when.items():
            values = tuple(values) if isinstance(values, (list, tuple)) else (values,)
            if not values:
                raise ConfigError(f"search space {name!r}: 'when' lists no value for {parent!r}.")
            out[str(parent)] = values
        return out

    # ------------------------------------------------------------------ using
    @property
    def is_fixed(self) -> bool:
        """Whether the parameter has one value."""
        return self.kind == "fixed"

    def values(self) -> tuple[Any, ...]:
        """Every value the parameter can take (categorical choices or the fixed value).

        Raises:
            ConfigError: an int/float range (grid search needs lists).
        """
        if self.kind == "fixed":
            return (self.value,)
        if self.kind == "categorical":
            return self.choices
        raise ConfigError(
            f"search space {self.name!r}: grid search sweeps lists only; give the values as a "
            f"list instead of a {self.kind} range."
        )

    def suggest(self, trial: TrialLike) -> Any:
        """Draw this parameter from ``trial`` (fixed values are returned as they are)."""
        if self.kind == "fixed":
            return self.value
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(
            self.name, float(self.low), float(self.high), step=self.step, log=self.log
        )

    def to_data(self) -> Any:
        """The data form (inverse of :meth:`parse`)."""
        if self.kind == "fixed":
            out: dict[str, Any] = {"type": "fixed", "value": self.value}
        elif self.kind == "categorical":
            out = {"type": "categorical", "choices": list(self.choices)}
        else:
            out = {"type": self.kind, "low": self.low, "high": self.high}
            if self.step is not None and not (self.kind == "int" and self.step == 1):
                out["step"] = self.step
            if self.log:
                out["log"] = True
        if self.when:
            out["when"] = {k: list(v) for k, v in self.when.items()}
        return out


class SearchSpace:
    """An ordered set of :class:`Param` s (see the module docstring).

    Args:
        params: ``{name: spec}`` in the data form, or :class:`Param` objects.

    Raises:
        ConfigError: a bad specification, a condition on an unknown parameter or on an
            int/float range, a condition value the parent cannot take, or a cycle.
    """

    def __init__(self, params: Mapping[str, Any] | Iterable[Param]) -> None:
        if isinstance(params, Mapping):
            parsed = [Param.parse(name, spec) for name, spec in params.items()]
        else:
            parsed = [p if isinstance(p, Param) else _not_param(p) for p in params]
        names = [p.name for p in parsed]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"search space names {dup} more than once.")
        self.params: dict[str, Param] = {p.name: p for p in parsed}
        self._check_paths()
        self._order = self._topological_order()

    # -------------------------------------------------------------- building
    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> SearchSpace:
        """A space from ``{name: spec}``."""
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"a search space is a mapping of name -> spec, got {type(values).__name__}."
            )
        return cls(values)

    @classmethod
    def from_yaml(cls, source: str | Path) -> SearchSpace:
        """A space from YAML text or a ``.yaml``/``.yml`` file (``yaml.safe_load``)."""
        import yaml

        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
        ):
            path = Path(source)
            if not path.is_file():
                raise ConfigError(f"search-space file {str(path)!r} does not exist.")
            source = path.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as err:
            raise ConfigError(f"invalid search-space YAML: {err}") from err
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """The data form; ``SearchSpace(space.to_dict())`` is an equal space."""
        return {name: p.to_data() for name, p in self.params.items()}

    def to_yaml(self) -> str:
        """The data form as YAML."""
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SearchSpace) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"SearchSpace({self.to_dict()!r})"

    def __len__(self) -> int:
        return len(self.params)

    def __contains__(self, name: object) -> bool:
        return name in self.params

    @property
    def names(self) -> list[str]:
        """Parameter names in the order given."""
        return list(self.params)

    @property
    def searched(self) -> list[str]:
        """Names of the parameters that are not fixed."""
        return [n for n, p in self.params.items() if not p.is_fixed]

    # ------------------------------------------------------------ structure
    def _check_paths(self) -> None:
        names = set(self.params)
        for name in names:
            parts = name.split(".")
            for i in range(1, len(parts)):
                prefix = ".".join(parts[:i])
                if prefix in names:
                    raise ConfigError(
                        f"search space sets both {prefix!r} and its sub-parameter {name!r}; keep one."
                    )

    def _topological_order(self) -> list[str]:
        for p in self.params.values():
            for parent, values in p.when.items():
                if parent not in self.params:
                    raise ConfigError(
                        f"search space {p.name!r}: condition on unknown parameter {parent!r}; "
                        f"known: {self.names}."
                    )
                if parent == p.name:
                    raise ConfigError(
                        f"search space {p.name!r}: a parameter cannot depend on itself."
                    )
                pp = self.params[parent]
                if pp.kind in ("int", "float"):
                    raise ConfigError(
                        f"search space {p.name!r}: conditions need a categorical or fixed parent; "
                        f"{parent!r} is a {pp.kind} range."
                    )
                possible = pp.values()
                missing = [v for v in values if not any(_same(v, c) for c in possible)]
                if missing:
                    raise ConfigError(
                        f"search space {p.name!r}: condition {parent}={missing!r} can never hold; "
                        f"{parent!r} takes {list(possible)!r}."
                    )
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                raise ConfigError(
                    f"search space conditions form a cycle: {' -> '.join(path + [name])}."
                )
            state[name] = 1
            for parent in self.params[name].when:
                visit(parent, path + [name])
            state[name] = 2
            order.append(name)

        for name in self.params:
            visit(name, [])
        return order

    def is_active(self, name: str, values: Mapping[str, Any]) -> bool:
        """Whether ``name`` is active given the already drawn ``values`` (flat names)."""
        for parent, allowed in self.params[name].when.items():
            if parent not in values or not any(_same(values[parent], a) for a in allowed):
                return False
        return True

    # ------------------------------------------------------------- validation
    def validate(self, model: str | type, config: Any = None) -> SearchSpace:
        """Check every name against the model's config class; return ``self``.

        Args:
            model: A registered model name, a model class (with ``config_class``) or a
                :class:`~recutils.config.BaseConfig` subclass.
            config: The base config trials start from (a config, mapping, YAML text or
                file, as the model's ``config`` argument); list positions are checked
                against it. Default: the config class's defaults.

        Then, so that a bad key or value fails here and not in the first trial, the
        space's values are merged into the base config and the config is built: each
        parameter at its first value (``low`` of a range, the first choice, the fixed
        value) added one at a time, then each other choice and each range's ``high`` in
        turn. Keys inside mapping fields (a component's ``params``) are checked this way.

        Raises:
            ConfigError: a name that is not a config field (the message names it and
                lists the allowed ones), a dotted path into a field that is neither a
                config nor a mapping, or a value the config rejects (the message names
                the parameter and the value).
        """
        config_class = _config_class_of(model)
        if config is not None:
            from recutils.config import load_config

            defaults = load_config(config, config_class)
        else:
            defaults = _defaults(config_class)
        for name in self.params:
            _check_path(name, config_class, defaults)
        if defaults is not None:
            self._probe(config_class, defaults)
        return self

    def _probe(self, config_class: type[BaseConfig], base: BaseConfig) -> None:
        """Build ``base`` with the space's values merged in (see :meth:`validate`)."""
        from recutils.nn.config_io import merge_config

        plain = base.to_dict()

        def build(values: Mapping[str, Any], name: str, value: Any) -> None:
            try:
                config_class.from_dict(merge_config(plain, nest_params(values)))
            except ConfigError as err:
                raise ConfigError(
                    f"search space {name!r}: the value {value!r} gives a config the model "
                    f"rejects (checked before the first trial): {err}"
                ) from err

        def candidates(p: Param) -> tuple[Any, ...]:
            return (p.low, p.high) if p.kind in ("int", "float") else p.values()

        first: dict[str, Any] = {}
        for name in self._order:
            if self.is_active(name, first):
                first[name] = candidates(self.params[name])[0]
                build(first, name, first[name])
        for name in first:
            for value in candidates(self.params[name])[1:]:
                values = {**first, name: value}
                active = {n: v for n, v in values.items() if self.is_active(n, values)}
                build(active, name, value)

    # --------------------------------------------------------------- drawing
    def suggest(self, trial: TrialLike) -> dict[str, Any]:
        """Draw the active parameters from ``trial``: ``{flat name: value}``."""
        values: dict[str, Any] = {}
        for name in self._order:
            if self.is_active(name, values):
                values[name] = self.params[name].suggest(trial)
        return values

    def grid(self) -> list[dict[str, Any]]:
        """Every combination, swept like :func:`generate_param_grid` (flat names).

        Inactive conditional parameters are left out of a combination, so no
        combination appears twice. Order: parameters sorted by name are the digits of
        an odometer whose last name turns fastest (as ``generate_param_grid``).

        Raises:
            ConfigError: an int/float range in the space (grids need lists).
        """
        for p in self.params.values():
            p.values()
        names = sorted(self.params)
        combos: list[dict[str, Any]] = [{}]
        # expand in dependency order (parents first); sort into odometer order after
        for name in self._order:
            p = self.params[name]
            expanded = []
            for combo in combos:
                if self.is_active(name, combo):
                    expanded.extend({**combo, name: v} for v in p.values())
                else:
                    expanded.append(combo)
            combos = expanded

        def key(combo: Mapping[str, Any]) -> tuple:
            out = []
            for name in names:
                p = self.params[name]
                if name in combo:
                    idx = next(i for i, v in enumerate(p.values()) if _same(v, combo[name]))
                    out.append((0, idx))
                else:
                    out.append((-1, 0))
            return tuple(out)

        combos.sort(key=key)
        return [{n: c[n] for n in names if n in c} for c in combos]


def _not_param(value: Any) -> Param:
    raise ConfigError(f"SearchSpace takes a mapping or Param objects, got {type(value).__name__}.")


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from 0/1."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _config_class_of(model: str | type) -> type[BaseConfig]:
    if isinstance(model, str):
        from recutils.models.registry import get_model_class

        model = get_model_class(model)
    if isinstance(model, type) and issubclass(model, BaseConfig):
        return model
    config_class = getattr(model, "config_class", None)
    if not (isinstance(config_class, type) and issubclass(config_class, BaseConfig)):
        raise ConfigError(f"{model!r} has no config_class to validate a search space against.")
    return config_class


def _defaults(config_class: type[BaseConfig]) -> BaseConfig | None:
    try:
        return config_class()
    except Exception:  # a config without defaults for every field: names only
        logger.debug(
            "cannot build default %s; nested paths are checked by name only",
            config_class.__name__,
            exc_info=True,
        )
        return None


def _check_path(name: str, config_class: type[BaseConfig], defaults: BaseConfig | None) -> None:
    parts = name.split(".")
    cls: type[BaseConfig] | None = config_class
    obj: Any = defaults
    where = config_class.__name__
    i = 0
    while i < len(parts):
        part = parts[i]
        if cls is None:  # inside a mapping field: any key (the config checks it when built)
            return
        allowed = cls.field_names()
        if part not in allowed:
            raise ConfigError(
                f"unknown parameter {'.'.join(parts[: i + 1])!r} in the search space for {where}; "
                f"allowed: {allowed}."
            )
        if i == len(parts) - 1:
            return
        value = getattr(obj, part, None) if obj is not None else None
        # a list of configs (``train.optimizers.0.lr``): the next part is a position in it
        while isinstance(value, list) and i + 1 < len(parts) and parts[i + 1].isdigit():
            pos = int(parts[i + 1])
            if pos >= len(value):
                raise ConfigError(
                    f"search space {name!r}: {where}.{part} has {len(value)} element(s) "
                    f"in the base config; position {pos} is out of range."
                )
            value, part, where = value[pos], parts[i + 1], f"{where}.{part}"
            i += 1
            if i == len(parts) - 1:
                return
        i += 1
        if isinstance(value, BaseConfig):
            cls, obj, where = type(value), value, f"{where}.{part}"
        elif isinstance(value, Mapping) or _field_is_mapping(cls, part):
            cls, obj = None, None
        else:
            raise ConfigError(
                f"search space {name!r}: {where}.{part} is not a nested config or mapping, so it "
                "has no sub-parameters."
            )


def _field_is_mapping(cls: type[BaseConfig], name: str) -> bool:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return "dict" in str(f.type) or "Mapping" in str(f.type)
    return False


def nest_params(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"train.epochs": 3, "seed": 1}`` -> ``{"train": {"epochs": 3}, "seed": 1}``."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        parts = name.split(".")
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"parameter {name!r} conflicts with {part!r} set to {child!r}.")
            node = child
        if parts[-1] in node and isinstance(node[parts[-1]], dict):
            raise ConfigError(f"parameter {name!r} conflicts with its sub-parameters.")
        node[parts[-1]] = value
    return out


def as_search_space(space: SearchSpace | Mapping[str, Any] | str | Path) -> SearchSpace:
    """A :class:`SearchSpace` from a space, a mapping, YAML text or a YAML file."""
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, (str, Path)):
        return SearchSpace.from_yaml(space)
    return SearchSpace.from_dict(space)


def generate_param_grid(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of a parameter dict: lists are swept, anything else is fixed.

    The semantics of Microsoft Recommenders' ``generate_param_grid``: keys whose value
    is a ``list`` are swept (cartesian product over the keys in sorted order, the last
    key turning fastest), other values (tuples and dicts included) are copied into
    every combination. A dict without lists gives one combination.

    Examples:
        >>> generate_param_grid({"a": [1, 2], "b": ["x", "y"], "c": 0})
        [{'a': 1, 'b': 'x', 'c': 0}, {'a': 1, 'b': 'y', 'c': 0}, {'a': 2, 'b': 'x', 'c': 0}, {'a': 2, 'b': 'y', 'c': 0}]
    """
    if not isinstance(params, Mapping):
        raise ConfigError(f"generate_param_grid needs a mapping, got {type(params).__name__}.")
    swept = sorted(
        ((k, v) for k, v in params.items() if isinstance(v, list)), key=lambda kv: str(kv[0])
    )
    fixed = {k: v for k, v in params.items() if not isinstance(v, list)}
    keys = [k for k, _ in swept]
    grid = []
    for combo in itertools.product(*(v for _, v in swept)):
        point = dict(zip(keys, combo))
        point.update(fixed)
        grid.append(point)
    return grid


__all__ = ["Param", "SearchSpace", "as_search_space", "generate_param_grid", "nest_params", "KINDS"]
