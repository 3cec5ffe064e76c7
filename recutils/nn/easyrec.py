"""EasyRec's protobuf text format, read by our own parser into :class:`ModelConfig`.

EasyRec (Alibaba) describes models in protobuf text format (``model_config: { ... }``).
This module reads that text *without* protobuf or EasyRec: :func:`parse_easyrec_text`
is a small tokenizer and recursive-descent parser producing a generic tree, and
:func:`load_easyrec_config` maps the fields recutils supports onto the same dataclasses
YAML produces, so both go through one validation. Fields recutils does not support are
a :class:`~recutils.exceptions.ConfigError` naming them (never silently dropped).

Supported: ``model_config`` (``model_name``, ``model_class``, ``feature_groups``,
``backbone`` with ``blocks`` / ``concat_blocks``, ``model_params``,
``embedding_regularization``, ``num_class``); blocks with ``name``, ``inputs``
(``feature_group_name`` / ``block_name`` / ``input_fn``), ``input_layer``
(``only_output_feature_list``, ``wide_output_dim``), ``keras_layer`` (``class_name``
plus the component's message, e.g. ``mlp { ... }``, or ``st_params``) and
``merge_inputs_into_list``. Optionally ``feature_config { features { ... } }`` /
``feature_configs { ... }`` with ``input_names``, ``feature_name``, ``feature_type``
(``IdFeature``, ``RawFeature``, ``TagFeature``, ``SequenceFeature``), ``embedding_dim``,
``embedding_name``, ``hash_bucket_size``, ``boundaries``, ``separator``, ``max_seq_len`` and
``min_count`` (a recutils extension: the minimum count of a learned vocabulary).
``input_fn`` lambdas go through :mod:`recutils.nn.expressions`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recutils.exceptions import ConfigError
from recutils.limits import MAX_CONFIG_DEPTH
from recutils.nn.config import ModelConfig
from recutils.nn.features import FeatureConfig

Message = list[tuple[str, Any]]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?[fF]?(?![\w.]))
  | (?P<ident>[-+]?[A-Za-z_][\w.]*)
  | (?P<punct>[{}\[\]<>:,;])
""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
MAX_TEXT = 1_000_000
#: Deepest message nesting (the shared :data:`recutils.limits.MAX_CONFIG_DEPTH`).
MAX_DEPTH = MAX_CONFIG_DEPTH
#: Integers protobuf can hold: int64 and uint64 (longer literals are refused before
#: Python converts them, so a 5,000-digit number is a ConfigError, not a ValueError).
INT_RANGE = (-(2**63), 2**64 - 1)


@dataclass
class _Tok:
    kind: str
    value: str
    line: int


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _tokenize(text: str) -> list[_Tok]:
    tokens, pos, line = [], 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConfigError(f"EasyRec text, line {line}: unexpected character {text[pos]!r}.")
        kind = m.lastgroup or ""
        value = m.group(0)
        if kind != "ws":
            tokens.append(_Tok(kind, value, line))
        line += value.count("\n")
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise ConfigError("EasyRec text ends unexpectedly (a '}' or value is missing).")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok.value != value:
            raise ConfigError(
                f"EasyRec text, line {tok.line}: expected {value!r}, found {tok.value!r}."
            )

    def message(self, close: str | None, depth: int) -> Message:
        if depth > MAX_DEPTH:
            raise ConfigError(f"EasyRec text nests deeper than {MAX_DEPTH} levels.")
        out: Message = []
        while True:
            tok = self.peek()
            if tok is None:
                if close is not None:
                    raise ConfigError(f"EasyRec text ends before the closing {close!r}.")
                return out
            if close is not None and tok.value == close:
                self.i += 1
                return out
            if tok.value in (",", ";"):
                self.i += 1
                continue
            if tok.kind != "ident":
                raise ConfigError(
                    f"EasyRec text, line {tok.line}: expected a field name, found {tok.value!r}."
                )
            self.i += 1
            name = tok.value
            nxt = self.peek()
            if nxt is not None and nxt.value == ":":
                self.i += 1
                nxt = self.peek()
            if nxt is not None and nxt.value in ("{", "<"):
                self.i += 1
                out.append((name, self.message("}" if nxt.value == "{" else ">", depth + 1)))
            elif nxt is not None and nxt.value == "[":
                self.i += 1
                out.append((name, self.list_value(name)))
            else:
                out.append((name, self.scalar(name)))

    def list_value(self, name: str) -> list[Any]:
        values: list[Any] = []
        while True:
            tok = self.peek()
            if tok is None:
                raise ConfigError("EasyRec text ends inside a [ ... ] list.")
            if tok.value == "]":
                self.i += 1
                return values
            if tok.value == ",":
                self.i += 1
                continue
            values.append(self.scalar(name))

    def scalar(self, name: str) -> Any:
        tok = self.take()
        if tok.kind == "str":
            value = _unquote(tok.value)
            while (
                nxt := self.peek()
            ) is not None and nxt.kind == "str":  # adjacent strings concatenate
                value += _unquote(self.take().value)
            return value
        if tok.kind == "num":
            return _number(tok, name)
        if tok.kind == "ident":
            low = tok.value.lower()
            if low in ("true", "t"):
                return True
            if low in ("false", "f"):
                return False
            if low in ("inf", "+inf", "infinity"):
                return float("inf")
            if low in ("-inf", "-infinity"):
                return float("-inf")
            return tok.value  # an enum value such as WIDE
        raise ConfigError(f"EasyRec text, line {tok.line}: expected a value, found {tok.value!r}.")


def _number(tok: _Tok, name: str) -> int | float:
    """The number literal ``tok`` of field ``name``; integers must fit protobuf's 64 bits."""
    text = tok.value.rstrip("fF")
    if any(c in text for c in ".eE"):
        return float(text)
    low, high = INT_RANGE
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) <= len(str(high)):
        value = int(text)
        if low <= value <= high:
            return value
    shown = text if len(text) <= 24 else f"{text[:10]}...{text[-10:]} ({len(digits)} digits)"
    raise ConfigError(
        f"EasyRec text, line {tok.line}: field {name!r}: the integer {shown} is outside "
        f"the 64-bit range protobuf allows [{low}, {high}]."
    )


def parse_easyrec_text(text: str) -> Message:
    """Parse protobuf text format into ``[(field, value), ...]`` (sub-messages nested).

    Raises:
        ConfigError: a syntax error, with its line.
    """
    if not isinstance(text, str):
        raise ConfigError(f"EasyRec config must be text, got {type(text).__name__}.")
    if len(text) > MAX_TEXT:
        raise ConfigError(f"EasyRec config is larger than {MAX_TEXT} characters.")
    return _Parser(_tokenize(text)).message(None, 0)


# ------------------------------------------------------------------ mapping
def _check_message(msg: Any, where: str) -> None:
    """Raise :class:`ConfigError` unless ``msg`` is a ``{ ... }`` message (a scalar or a
    ``[ ... ]`` list of scalars where a message belongs is the user's mistake)."""
    if not (isinstance(msg, list) and all(isinstance(v, tuple) and len(v) == 2 for v in msg)):
        raise ConfigError(f"{where} must be a {{ ... }} message, got {msg!r}.")


def _fields(msg: Any, where: str, allowed: Mapping[str, bool]) -> dict[str, Any]:
    """Group a message's fields: ``allowed`` maps name -> repeated. Unknown names fail."""
    _check_message(msg, where)
    out: dict[str, Any] = {}
    for name, value in msg:
        if name not in allowed:
            raise ConfigError(
                f"{where}: field {name!r} is not supported by recutils; supported: "
                f"{sorted(allowed)}."
            )
        if allowed[name]:
            out.setdefault(name, []).extend(
                value if isinstance(value, list) and not _is_msg(value) else [value]
            )
        else:
            if name in out:
                raise ConfigError(f"{where}: field {name!r} is given twice.")
            out[name] = value
    return out


def _is_msg(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, tuple) and len(v) == 2 for v in value)
    )


def _plain(msg: Any, where: str) -> dict[str, Any]:
    """A component's parameter message as a dict (repeated scalars become lists)."""
    _check_message(msg, where)
    out: dict[str, Any] = {}
    for name, value in msg:
        if _is_msg(value):
            value = _plain(value, f"{where}.{name}")
        if name in out:
            prev = out[name]
            out[name] = (prev if isinstance(prev, list) else [prev]) + (
                value if isinstance(value, list) else [value]
            )
        else:
            out[name] = value
    return out


def _st_params(msg: Any, where: str) -> dict[str, Any]:
    """``st_params { fields { key: 'k' value { number_value: 1 } } }`` -> dict."""
    _check_message(msg, where)
    out: dict[str, Any] = {}
    for name, entry in msg:
        if name != "fields":
            raise ConfigError(f"{where}: unexpected field {name!r} in st_params.")
        f = _fields(entry, where, {"key": False, "value": False})
        if not isinstance(f.get("key"), str):
            raise ConfigError(
                f"{where}: each st_params field needs a string key, got {f.get('key')!r}."
            )
        out[f["key"]] = _struct_value(f.get("value"), where)
    return out


def _struct_value(msg: Any, where: str) -> Any:
    f = _fields(
        msg,
        where,
        {
            "number_value": False,
            "string_value": False,
            "bool_value": False,
            "list_value": False,
            "null_value": False,
        },
    )
    if "list_value" in f:
        lv = _fields(f["list_value"], where, {"values": True})
        return [_struct_value(v, where) for v in lv.get("values", [])]
    for key in ("number_value", "string_value", "bool_value"):
        if key in f:
            value = f[key]
            if key == "number_value" and isinstance(value, float) and value.is_integer():
                return int(value)
            return value
    return None


def _block(msg: Any) -> dict[str, Any]:
    f = _fields(
        msg,
        "backbone.blocks",
        {
            "name": False,
            "inputs": True,
            "input_layer": False,
            "keras_layer": False,
            "merge_inputs_into_list": False,
        },
    )
    where = f"block {f.get('name')!r}"
    out: dict[str, Any] = {"name": f.get("name", "")}
    out["inputs"] = [
        _fields(
            i,
            f"{where} inputs",
            {"feature_group_name": False, "block_name": False, "input_fn": False},
        )
        for i in f.get("inputs", [])
    ]
    if "input_layer" in f:
        out["input_layer"] = _fields(
            f["input_layer"],
            f"{where} input_layer",
            {"only_output_feature_list": False, "wide_output_dim": False},
        )
    if "keras_layer" in f:
        out["layer"] = _keras_layer(f["keras_layer"], where)
    if "merge_inputs_into_list" in f:
        out["merge_inputs_into_list"] = f["merge_inputs_into_list"]
    return out


def _keras_layer(msg: Any, where: str) -> dict[str, Any]:
    from recutils.nn.components.registry import get_component_spec

    _check_message(msg, f"{where}: keras_layer")
    names = [n for n, _ in msg]
    if "class_name" not in names:
        raise ConfigError(f"{where}: keras_layer needs a class_name.")
    class_name = dict(msg)["class_name"]
    try:
        spec = get_component_spec(class_name)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    params: dict[str, Any] = {}
    for name, value in msg:
        if name == "class_name":
            continue
        if name == "st_params":
            params.update(_st_params(value, f"{where} st_params"))
        elif spec.easyrec_field is not None and name == spec.easyrec_field:
            params.update(_plain(value, f"{where} {name}"))
        else:
            expected = (
                f"'{spec.easyrec_field}' or 'st_params'" if spec.easyrec_field else "'st_params'"
            )
            raise ConfigError(
                f"{where}: keras_layer field {name!r} does not match class_name {class_name!r} "
                f"(expected {expected})."
            )
    return {"class_name": class_name, "params": params}


_FEATURE_TYPES = {
    "IdFeature": "categorical",
    "RawFeature": "numeric",
    "TagFeature": "tags",
    "SequenceFeature": "sequence",
}


def _feature(msg: Any) -> FeatureConfig:
    f = _fields(
        msg,
        "feature_config.features",
        {
            "input_names": True,
            "feature_name": False,
            "feature_type": False,
            "embedding_dim": False,
            "embedding_name": False,
            "hash_bucket_size": False,
            "boundaries": True,
            "separator": False,
            "max_seq_len": False,
            "min_count": False,
        },
    )
    inputs = f.get("input_names", [])
    if not inputs:
        raise ConfigError("feature_config.features: input_names is required.")
    name = f.get("feature_name", inputs[0])
    ftype = f.get("feature_type", "IdFeature")
    if not isinstance(ftype, str) or ftype not in _FEATURE_TYPES:
        raise ConfigError(
            f"feature {name!r}: feature_type {ftype!r} is not supported; supported: "
            f"{sorted(_FEATURE_TYPES)}."
        )
    values: dict[str, Any] = {"name": name, "type": _FEATURE_TYPES[ftype]}
    if inputs[0] != name:
        values["column"] = inputs[0]
    mapping = {
        "embedding_dim": "embedding_dim",
        "embedding_name": "embedding_name",
        "hash_bucket_size": "hash_buckets",
        "separator": "separator",
        "max_seq_len": "max_length",
        "min_count": "min_count",
    }
    values.update({ours: f[theirs] for theirs, ours in mapping.items() if theirs in f})
    if f.get("boundaries"):
        values["boundaries"] = f["boundaries"]
    return FeatureConfig.from_dict(values)


@dataclass
class EasyRecConfig:
    """What an EasyRec text yields: the model config and any feature configs it holds."""

    model_config: ModelConfig
    features: list[FeatureConfig] = field(default_factory=list)


def easyrec_to_dict(tree: Message) -> tuple[dict[str, Any], list[FeatureConfig]]:
    """Map a parsed tree to a ``ModelConfig`` mapping (YAML's shape) and feature configs."""
    top = dict.fromkeys(n for n, _ in tree)
    if "model_config" in top:
        outer = _fields(
            tree,
            "EasyRec config",
            {"model_config": False, "feature_config": False, "feature_configs": True},
        )
        body = outer["model_config"]
        features_msgs = list(outer.get("feature_configs", []))
        if "feature_config" in outer:
            features_msgs += _fields(
                outer["feature_config"], "feature_config", {"features": True}
            ).get("features", [])
    else:
        body, features_msgs = tree, []
    m = _fields(
        body,
        "model_config",
        {
            "model_name": False,
            "model_class": False,
            "feature_groups": True,
            "backbone": False,
            "model_params": False,
            "embedding_regularization": False,
            "num_class": False,
        },
    )
    out: dict[str, Any] = {
        k: m[k]
        for k in ("model_name", "model_class", "embedding_regularization", "num_class")
        if k in m
    }
    out["feature_groups"] = [
        _fields(
            g, "feature_groups", {"group_name": False, "feature_names": True, "wide_deep": False}
        )
        for g in m.get("feature_groups", [])
    ]
    if "backbone" in m:
        b = _fields(m["backbone"], "backbone", {"blocks": True, "concat_blocks": True})
        out["backbone"] = {
            "blocks": [_block(x) for x in b.get("blocks", [])],
            "concat_blocks": b.get("concat_blocks", []),
        }
    if "model_params" in m:
        out["model_params"] = _fields(
            m["model_params"], "model_params", {"l2_regularization": False}
        )
    return out, [_feature(x) for x in features_msgs]


def is_easyrec_source(source: Any) -> bool:
    """Whether ``source`` looks like EasyRec text (or names a ``.config``/``.pbtxt`` file)."""
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and "{" not in source
    ):
        return str(source).endswith((".config", ".pbtxt", ".prototxt"))
    if isinstance(source, str):
        stripped = re.sub(r"#[^\n]*", "", source).lstrip()
        return bool(re.match(r"model_config\s*:?\s*[{<]", stripped))
    return False


def load_easyrec_config(source: str | Path) -> EasyRecConfig:
    """Read EasyRec text (or a ``.config`` file) into a validated :class:`EasyRecConfig`.

    Raises:
        ConfigError: syntax errors (with the line), unsupported fields, or any
            validation error of :class:`ModelConfig`.
    """
    text = source
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and "{" not in source
    ):
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"EasyRec config file {str(path)!r} does not exist.")
        text = path.read_text(encoding="utf-8")
    mapping, features = easyrec_to_dict(parse_easyrec_text(str(text)))
    return EasyRecConfig(ModelConfig.from_dict(mapping), features)


__all__ = [
    "EasyRecConfig",
    "easyrec_to_dict",
    "is_easyrec_source",
    "load_easyrec_config",
    "parse_easyrec_text",
]
