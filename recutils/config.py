"""Configuration dataclasses: strict ``from_dict``, ``to_dict`` and YAML loading.

Every model (and component) declares one ``@dataclass`` deriving from
:class:`BaseConfig` with its defaults. :meth:`BaseConfig.from_dict` rejects
unknown keys with a :class:`~recutils.exceptions.ConfigError` naming the key and
the allowed ones; ``to_dict()`` -> ``from_dict()`` round-trips. YAML is read with PyYAML's safe loader
only (configs never execute code; tags such as ``!!python/object`` are refused), and
every document or mapping is checked against the structure limits of
:mod:`recutils.limits` (nesting depth, expanded size) before it is used.

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

from recutils.exceptions import ConfigError, UnknownKeywordError
from recutils.limits import MAX_CONFIG_DEPTH, check_config_structure

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
    def _checked_values(
        cls, values: Mapping[str, Any] | None, overrides: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``values`` merged with ``overrides``, after the checks every ``from_dict`` makes:
        a mapping, within :mod:`recutils.limits`' structure limits, with known keys only."""
        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"{cls.__name__} needs a mapping of parameters, got {type(values).__name__}."
            )
        merged = {**dict(values), **overrides}
        check_config_structure(merged, where=f"the {cls.__name__} mapping")
        allowed = cls.field_names()
        unknown = [k for k in merged if k not in allowed]
        if unknown:
            raise UnknownKeywordError(
                f"unknown parameter(s) {unknown} for {cls.__name__}; allowed: {allowed}."
            )
        return merged

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any] | None = None, **overrides: Any) -> C:
        """Build a config from a mapping (and keyword overrides) on top of the defaults.

        Raises:
            ConfigError: ``values`` is not a mapping, nests too deep (see
                :mod:`recutils.limits`), or holds a key that is not a field.
        """
        return cls(**cls._checked_values(values, overrides))

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON/YAML friendly when the values are)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (unknown keys raise :class:`ConfigError`)."""
        return type(self).from_dict(self.to_dict(), **changes)


def _safe_loader() -> type:
    """PyYAML's safe loader, refusing documents nested deeper than ``MAX_CONFIG_DEPTH``.

    The composer builds nodes recursively, so the depth is checked while composing,
    before Python's recursion limit can be reached.
    """
    import yaml  # pyyaml is a core dependency; imported here to keep `import recutils` light

    class DepthLimitedSafeLoader(yaml.SafeLoader):
        _depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self._depth += 1
            try:
                if self._depth > MAX_CONFIG_DEPTH + 1:  # +1: the scalar inside the deepest list
                    raise ConfigError(
                        f"YAML config nests lists/mappings deeper than {MAX_CONFIG_DEPTH} levels."
                    )
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    return DepthLimitedSafeLoader


def _read_yaml(source: str | Path) -> Any:
    """The YAML document ``source`` (text or a ``.yaml``/``.yml`` path), within the structure limits.

    Raises:
        ConfigError: a missing or unreadable file, invalid YAML (tags that build Python
            objects included), a value YAML cannot convert (an integer of thousands of
            digits, a date such as ``2020-13-45``), or a document beyond the limits of
            :mod:`recutils.limits`.
    """
    import yaml

    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
    ):
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist.")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"cannot read config file {str(path)!r}: {err}") from None
    else:
        text = source
    try:
        data = yaml.load(text, Loader=_safe_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid YAML config: {err}") from err
    except RecursionError:
        raise ConfigError(
            f"YAML config nests too deep (the limit is {MAX_CONFIG_DEPTH} levels)."
        ) from None
    except ConfigError:
        raise
    except Exception as err:  # noqa: BLE001 - PyYAML's constructors fail in many ways on bad scalars:
        # ValueError for int('9' * 5000) or 2020-13-45, IndexError for an empty '!!int', ...
        raise ConfigError(
            f"invalid YAML config: a value cannot be read ({type(err).__name__}: {err})."
        ) from None
    check_config_structure(data, where="YAML config")
    return data


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
