"""Configuration dataclasses: strict ``from_dict``, ``to_dict`` and YAML loading.

Every model (and component) declares one ``@dataclass`` deriving from
:class:`BaseConfig` with its defaults. :meth:`BaseConfig.from_dict` rejects
unknown keys with a :class:`~recutils.exceptions.ConfigError` naming the key and
the allowed ones; ``to_dict()`` -> ``from_dict()`` round-trips. YAML is read with
``yaml.safe_load`` only (configs never execute code).

Examples:
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class ToyConfig(BaseConfig):
    ...     alpha: float = 1.0
    >>> load_config("alpha: 2.5", ToyConfig)
    ToyConfig(alpha=2.5)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from recutils.exceptions import ConfigError

C = TypeVar("C", bound="BaseConfig")


@dataclasses.dataclass
class BaseConfig:
    """Base of every config dataclass.

    Subclasses are ``@dataclass`` es with a default for every field; they may
    validate values in ``__post_init__`` (raising :class:`ConfigError`).
    """

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of the fields, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any] | None = None, **overrides: Any) -> C:
        """Build a config from a mapping (and keyword overrides) on top of the defaults.

        Raises:
            ConfigError: ``values`` is not a mapping, or holds a key that is not a field.
        """
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"{cls.__name__} needs a mapping of parameters, got {type(values).__name__}."
            )
        merged = {**dict(values), **overrides}
        allowed = cls.field_names()
        unknown = [k for k in merged if k not in allowed]
        if unknown:
            raise ConfigError(
                f"unknown parameter(s) {unknown} for {cls.__name__}; allowed: {allowed}."
            )
        return cls(**merged)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON/YAML friendly when the values are)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (unknown keys raise :class:`ConfigError`)."""
        return type(self).from_dict(self.to_dict(), **changes)


def _read_yaml(source: str | Path) -> Any:
    import yaml  # pyyaml is a core dependency; imported here to keep `import recutils` light

    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and source.endswith((".yaml", ".yml"))):
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist.")
        text = path.read_text(encoding="utf-8")
    else:
        text = source
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid YAML config: {err}") from err


def load_config(source: str | Path | Mapping[str, Any] | BaseConfig | None, cls: type[C]) -> C:
    """Build a ``cls`` config from YAML text, a YAML file, a mapping or a config.

    Args:
        source: YAML text, a path to a ``.yaml``/``.yml`` file, a mapping of
            overrides, an instance of ``cls`` (returned as a copy) or ``None``
            (the defaults).
        cls: The config dataclass.

    Raises:
        ConfigError: invalid YAML, a document that is not a mapping, unknown keys,
            or invalid values.
    """
    if source is None:
        return cls()
    if isinstance(source, cls):
        return cls.from_dict(source.to_dict())
    if isinstance(source, BaseConfig):
        raise ConfigError(f"expected a {cls.__name__}, got a {type(source).__name__}.")
    if isinstance(source, (str, Path)):
        data = _read_yaml(source)
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"a {cls.__name__} YAML document must be a mapping, got {type(data).__name__}."
            )
        return cls.from_dict(data)
    return cls.from_dict(source)


__all__ = ["BaseConfig", "load_config"]
