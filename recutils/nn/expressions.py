"""A whitelist interpreter for EasyRec's ``input_fn`` lambdas (never ``eval``/``exec``).

EasyRec writes block input functions as Python lambdas over TensorFlow, e.g.
``'lambda x: tf.add_n(x)'``. This module parses such text with :mod:`ast` and turns the
tree into a chain of Python closures that call torch, accepting only:

* ``lambda x: <expr>`` with exactly one argument;
* calls of a whitelisted function, written bare or after ``tf.`` / ``tf.math.`` /
  ``torch.`` / ``K.`` (Keras backend): ``add_n`` / ``sum`` (element-wise sum of a
  list), ``concat`` / ``cat`` (``axis``), ``stack`` (``axis``), ``reduce_mean`` /
  ``mean`` and ``reduce_sum`` (``axis``, ``keepdims``), ``squeeze`` (``axis``), ``flatten``
  (``[B, ...] -> [B, prod(...)]``, also written ``tf.layers.flatten`` in EasyRec configs);
* indexing and slicing with integer literals (``x[0]``, ``x[1:3]``, ``x[:, :4]``,
  ``x[..., -1]``), on lists (block outputs that are lists) or tensors;
* arithmetic ``+ - * /`` and unary minus between expressions and number literals;
* list / tuple literals of allowed expressions.

Everything else (other names, attribute access such as ``x.__class__``, keywords
other than the documented ones, comprehensions, strings, lambdas inside lambdas,
``__import__`` ...) raises :class:`~recutils.exceptions.ConfigError` naming the
expression and the offending construct.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable
from typing import Any

from recutils.exceptions import ConfigError

MAX_LENGTH = 500
_MODULE_PREFIXES = ({"tf"}, {"tf", "math"}, {"tf", "layers"}, {"torch"}, {"K"})
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}

Fn = Callable[[Any], Any]


def _torch():
    import torch

    return torch


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _add_n(values: Any) -> Any:
    items = _as_list(values)
    if len(items) == 1 and not isinstance(values, (list, tuple)):
        return items[0]
    return functools.reduce(operator.add, items)


def _concat(values: Any, axis: int = -1) -> Any:
    return _torch().cat(_as_list(values), dim=axis)


def _stack(values: Any, axis: int = 0) -> Any:
    return _torch().stack(_as_list(values), dim=axis)


def _tensor(value: Any) -> Any:
    return _torch().stack(value, dim=0) if isinstance(value, (list, tuple)) else value


def _mean(value: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    value = _tensor(value)
    return value.mean() if axis is None else value.mean(dim=axis, keepdim=keepdims)


def _rsum(value: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    value = _tensor(value)
    return value.sum() if axis is None else value.sum(dim=axis, keepdim=keepdims)


def _squeeze(value: Any, axis: int | None = None) -> Any:
    return value.squeeze() if axis is None else value.squeeze(axis)


def _flatten(value: Any) -> Any:
    """``[B, ...] -> [B, prod(...)]`` (Keras' ``Flatten``; a list is stacked on axis 1 first)."""
    value = _torch().stack(_as_list(value), dim=1) if isinstance(value, (list, tuple)) else value
    return value.reshape(value.shape[0], -1)


# name -> (function, allowed keyword names, max positional args)
_FUNCTIONS: dict[str, tuple[Callable[..., Any], tuple[str, ...], int]] = {
    "add_n": (_add_n, (), 1),
    "sum": (_add_n, (), 1),
    "concat": (_concat, ("axis",), 2),
    "cat": (_concat, ("axis", "dim"), 2),
    "stack": (_stack, ("axis", "dim"), 2),
    "reduce_mean": (_mean, ("axis", "keepdims"), 3),
    "mean": (_mean, ("axis", "keepdims"), 3),
    "reduce_sum": (_rsum, ("axis", "keepdims"), 3),
    "squeeze": (_squeeze, ("axis",), 2),
    "flatten": (_flatten, (), 1),
}


class _Compiler:
    def __init__(self, text: str, arg: str) -> None:
        self.text = text
        self.arg = arg

    def fail(self, node: ast.AST | None, why: str) -> ConfigError:
        snippet = ast.get_source_segment(self.text, node) if node is not None else None
        at = f" at {snippet!r}" if snippet else ""
        return ConfigError(
            f"input_fn {self.text!r} is not allowed: {why}{at}. Allowed: 'lambda x: ...' using x, "
            f"number literals, indexing/slicing, + - * /, and {sorted(_FUNCTIONS)} "
            "(bare or as tf./torch. functions)."
        )

    def literal(self, node: ast.AST) -> Any:
        """An int/float/bool/None literal (optionally negated)."""
        if isinstance(node, ast.Constant) and (
            node.value is None or type(node.value) in (int, float, bool)
        ):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self.literal(node.operand)
            if type(value) in (int, float):
                return -value if isinstance(node.op, ast.USub) else value
        raise self.fail(node, "only number literals are allowed here")

    def index(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Slice):
            parts = []
            for part in (node.lower, node.upper, node.step):
                if part is None:
                    parts.append(None)
                else:
                    value = self.literal(part)
                    if type(value) is not int:
                        raise self.fail(part, "slice bounds must be integer literals")
                    parts.append(value)
            return slice(*parts)
        if isinstance(node, ast.Tuple):
            return tuple(self.index(e) for e in node.elts)
        if isinstance(node, ast.Constant) and node.value is Ellipsis:
            return Ellipsis
        value = self.literal(node)
        if value is None:
            return None
        if type(value) is not int:
            raise self.fail(node, "indices must be integer literals")
        return value

    def callee(self, node: ast.AST) -> str:
        parts: list[str] = []
        cur = node
        while isinstance(cur, ast.Attribute):
            parts.append(cur.attr)
            cur = cur.value
        if not isinstance(cur, ast.Name):
            raise self.fail(node, "only whitelisted functions may be called")
        parts.append(cur.id)
        parts.reverse()
        name, prefix = parts[-1], set(parts[:-1])
        if len(parts) > 1 and (prefix not in _MODULE_PREFIXES or len(prefix) != len(parts) - 1):
            raise self.fail(node, f"unknown module path {'.'.join(parts[:-1])!r}")
        if name not in _FUNCTIONS:
            raise self.fail(node, f"function {name!r} is not in the whitelist")
        return name

    def expr(self, node: ast.AST) -> Fn:
        if isinstance(node, ast.Name):
            if node.id != self.arg:
                raise self.fail(
                    node, f"unknown name {node.id!r} (only the lambda argument {self.arg!r})"
                )
            return lambda x: x
        if isinstance(node, ast.Constant) or (
            isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)
        ):
            value = self.literal(node)
            return lambda x: value
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub):
                raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
            inner = self.expr(node.operand)
            return lambda x: -inner(x)
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
            left, right = self.expr(node.left), self.expr(node.right)
            return lambda x: op(left(x), right(x))
        if isinstance(node, ast.Subscript):
            base = self.expr(node.value)
            key = self.index(node.slice)
            return lambda x: base(x)[key]
        if isinstance(node, (ast.List, ast.Tuple)):
            elts = [self.expr(e) for e in node.elts]
            return lambda x: [e(x) for e in elts]
        if isinstance(node, ast.Call):
            name = self.callee(node.func)
            fn, kw_allowed, max_pos = _FUNCTIONS[name]
            if any(isinstance(a, ast.Starred) for a in node.args):
                raise self.fail(node, "star arguments are not allowed")
            if len(node.args) < 1 or len(node.args) > max_pos:
                raise self.fail(node, f"{name} takes 1 to {max_pos} positional argument(s)")
            args = [self.expr(node.args[0])] + [self._const(a) for a in node.args[1:]]
            kwargs: dict[str, Any] = {}
            for kw in node.keywords:
                if kw.arg is None or kw.arg not in kw_allowed:
                    raise self.fail(
                        node, f"{name} takes keyword(s) {list(kw_allowed)}, not {kw.arg!r}"
                    )
                kwargs["axis" if kw.arg == "dim" else kw.arg] = self.literal(kw.value)
            consts = [a(None) for a in args[1:]]

            def call(x: Any, fn=fn, first=args[0], consts=consts, kwargs=kwargs) -> Any:
                return fn(first(x), *consts, **kwargs)

            return call
        raise self.fail(node, f"{type(node).__name__} expressions are not allowed")

    def _const(self, node: ast.AST) -> Fn:
        value = self.literal(node)
        return lambda x: value


@functools.lru_cache(maxsize=256)
def compile_input_fn(text: str) -> Callable[[Any], Any]:
    """Compile ``'lambda x: ...'`` into a callable over block outputs (tensors or lists).

    Raises:
        ConfigError: syntax error, not a one-argument lambda, or any construct outside
            the whitelist (the message names the expression).
    """
    if not isinstance(text, str):
        raise ConfigError(f"input_fn must be a string, got {type(text).__name__}.")
    if len(text) > MAX_LENGTH:
        raise ConfigError(f"input_fn is longer than {MAX_LENGTH} characters: {text[:60]!r}...")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ConfigError(f"input_fn {text!r} is not valid Python: {err.msg}.") from None
    lam = tree.body
    if not isinstance(lam, ast.Lambda):
        raise ConfigError(f"input_fn {text!r} must be a lambda such as 'lambda x: tf.add_n(x)'.")
    a = lam.args
    if (
        len(a.args) != 1
        or a.posonlyargs
        or a.kwonlyargs
        or a.vararg
        or a.kwarg
        or a.defaults
        or a.kw_defaults
    ):
        raise ConfigError(
            f"input_fn {text!r} must take exactly one plain argument (lambda x: ...)."
        )
    compiler = _Compiler(text.strip(), a.args[0].arg)
    return compiler.expr(lam.body)


__all__ = ["compile_input_fn"]
