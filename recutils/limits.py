"""Upper bounds on what a config may ask for (torch-free).

A config file is input like any other: a hostile (or mistyped) one must get a
:class:`~recutils.exceptions.ConfigError`, never a crash or a terabyte allocation.
Two kinds of limit apply.

**Structure limits** (always on): a config document (YAML text, EasyRec text or a
mapping) may nest lists and mappings at most :data:`MAX_CONFIG_DEPTH` levels deep and
hold at most :data:`MAX_CONFIG_VALUES` values once YAML aliases are expanded. Real configs
nest about ten levels and hold a few hundred values; the limits keep a document from
exhausting Python's recursion limit or expanding into billions of values ("billion
laughs"). :func:`check_config_structure` checks them without recursion.

**Size limits** (on by default): the sizes a network is built from.

=============================  ==============================  =====================
limit                          applies to                      value
=============================  ==============================  =====================
:data:`MAX_EMBEDDING_DIM`      ``embedding_dim``,              4,096
                               ``default_embedding_dim``,
                               ``wide_output_dim``
:data:`MAX_HIDDEN_UNITS`       each layer's width              65,536
                               (``hidden_units``,
                               ``layer_sizes``, ``block_dim``,
                               ``head_dim``, ``low_rank``,
                               ``output_dim``, ...)
:data:`MAX_LAYERS`             ``num_layers``, ``num_blocks``, 256
                               the length of ``hidden_units``
                               / ``layer_sizes``
:data:`MAX_HEADS`              ``head_num``                    1,024
:data:`MAX_EXPERTS`            ``num_experts``                 1,024
:data:`MAX_HASH_BUCKETS`       ``hash_buckets``                2**31 - 1
:data:`MAX_SEQUENCE_LENGTH`    ``max_length`` (tags,           65,536
                               sequences)
:data:`MAX_RATIO`              ``aggregation_ratio``           1,024
:data:`MAX_PARAMETERS`         the whole network, counted      2,000,000,000
                               before any weight exists
=============================  ==============================  =====================

The parameter count is exact: :func:`recutils.nn.backbone.build_rank_network` builds the
network on PyTorch's ``meta`` device (shapes only, no memory) and counts its parameters
before the real tables and layers are allocated; learned vocabularies count with their
fitted sizes.

To lift the size limits (a real model with more than two billion parameters on a machine
that holds it), set the environment variable ``RECUTILS_CONFIG_LIMITS=off`` (also
``0``, ``false`` or ``no``) before building the config and the model; it is read at each
check, so it can be set in a running process. The structure limits stay on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from recutils.exceptions import ConfigError

#: Environment variable that lifts the size limits when set to ``off`` (or 0/false/no).
LIMITS_ENV = "RECUTILS_CONFIG_LIMITS"
_OFF = ("off", "0", "false", "no")

#: Deepest nesting of lists and mappings in a config document (always on).
MAX_CONFIG_DEPTH = 64
#: Most values (containers and scalars, YAML aliases expanded) in a config document (always on).
MAX_CONFIG_VALUES = 1_000_000

MAX_EMBEDDING_DIM = 4096
MAX_HIDDEN_UNITS = 65_536
MAX_LAYERS = 256
MAX_HEADS = 1024
MAX_EXPERTS = 1024
MAX_HASH_BUCKETS = 2**31 - 1
MAX_SEQUENCE_LENGTH = 65_536
MAX_RATIO = 1024.0
MAX_PARAMETERS = 2_000_000_000

_HINT = f"set {LIMITS_ENV}=off to lift the size limits (see recutils.limits)"


def limits_enabled() -> bool:
    """Whether the size limits apply (``RECUTILS_CONFIG_LIMITS`` is not ``off``)."""
    return os.environ.get(LIMITS_ENV, "").strip().lower() not in _OFF


def check_at_most(name: str, value: Any, limit: float, *, owner: str | None = None) -> None:
    """Raise :class:`ConfigError` when the (already validated) number ``value`` exceeds ``limit``.

    Does nothing when the size limits are lifted (:func:`limits_enabled`).
    """
    if value is not None and value > limit and limits_enabled():
        where = f"{owner}: {name}" if owner else name
        raise ConfigError(
            f"{where}={value!r} is above the limit of {limit:,}; use a smaller value or {_HINT}."
        )


def check_all_at_most(
    name: str,
    values: list[Any],
    limit: float,
    *,
    max_count: int | None = None,
    owner: str | None = None,
) -> None:
    """:func:`check_at_most` on each of ``values``, and on their number against ``max_count``."""
    if max_count is not None:
        check_at_most(f"the number of {name}", len(values), max_count, owner=owner)
    if values:
        check_at_most(name, max(values), limit, owner=owner)


def check_parameter_count(count: int, *, what: str = "the network", detail: str = "") -> None:
    """Raise :class:`ConfigError` when ``count`` parameters exceed :data:`MAX_PARAMETERS`."""
    if count > MAX_PARAMETERS and limits_enabled():
        raise ConfigError(
            f"{what} would have {count:,} parameters{detail}, above the limit of {MAX_PARAMETERS:,} "
            f"(about {4 * MAX_PARAMETERS / 2**30:.0f} GiB of float32 weights); lower embedding_dim, "
            f"hash_buckets or hidden_units, or {_HINT}."
        )


def check_config_structure(value: Any, where: str = "config") -> None:
    """Check the nesting depth and the expanded size of a config document, without recursion.

    Lists, tuples and mappings count as levels; a value shared by several parents (a
    YAML alias) counts once per use, as a reader walking the config would see it.

    Raises:
        ConfigError: deeper than :data:`MAX_CONFIG_DEPTH`, more than
            :data:`MAX_CONFIG_VALUES` values, or a container that holds itself.
    """
    sizes: dict[int, int] = {}  # id of a finished container -> its expanded size
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        node, leaving = stack.pop()
        if not isinstance(node, (Mapping, list, tuple)):
            continue
        key = id(node)
        children = list(node.values()) if isinstance(node, Mapping) else list(node)
        if leaving:
            on_path.discard(key)
            size = 1 + sum(
                sizes.get(id(c), 1) if isinstance(c, (Mapping, list, tuple)) else 1
                for c in children
            )
            if size > MAX_CONFIG_VALUES:
                raise ConfigError(
                    f"{where} holds more than {MAX_CONFIG_VALUES:,} values (YAML aliases "
                    "expanded); a config is a few hundred values."
                )
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ConfigError(f"{where} contains itself (a recursive YAML alias or mapping).")
        on_path.add(key)
        if len(on_path) > MAX_CONFIG_DEPTH:
            raise ConfigError(
                f"{where} nests lists/mappings deeper than {MAX_CONFIG_DEPTH} levels."
            )
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, (Mapping, list, tuple)))


__all__ = [
    "LIMITS_ENV",
    "MAX_CONFIG_DEPTH",
    "MAX_CONFIG_VALUES",
    "MAX_EMBEDDING_DIM",
    "MAX_EXPERTS",
    "MAX_HASH_BUCKETS",
    "MAX_HEADS",
    "MAX_HIDDEN_UNITS",
    "MAX_LAYERS",
    "MAX_PARAMETERS",
    "MAX_RATIO",
    "MAX_SEQUENCE_LENGTH",
    "check_all_at_most",
    "check_at_most",
    "check_config_structure",
    "check_parameter_count",
    "limits_enabled",
]
