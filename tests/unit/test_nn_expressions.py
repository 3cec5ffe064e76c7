"""The input_fn whitelist: EasyRec lambdas work, anything else is a ConfigError."""

from __future__ import annotations

import pytest

from recutils.exceptions import ConfigError
from recutils.nn.expressions import compile_input_fn

torch = pytest.importorskip("torch")

HOSTILE = [
    "__import__('os').system('echo hi')",
    "lambda x: __import__('os').system('echo hi')",
    "lambda x: x.__class__",
    "lambda x: x.__class__.__bases__[0].__subclasses__()",
    "lambda x: x.shape",
    "lambda x: tf.add_n.__globals__",
    "lambda x: os.system('echo hi')",
    "lambda x: [c for c in x]",
    "lambda x: {c: c for c in x}",
    "lambda x: (lambda y: y)(x)",
    "lambda x: open('/etc/passwd')",
    "lambda x: eval('1')",
    "lambda x: getattr(x, 'numpy')()",
    "lambda x: x if x else x",
    "lambda x: 'a' * 10",
    "lambda x: tf.add_n(*x)",
    "lambda x: tf.concat(x, axis=__import__('os'))",
    "lambda x: tf.concat(x, name='boom')",
    "lambda x: x ** 1000000",
    "lambda x, y: x",
    "lambda *x: x",
    "lambda x=1: x",
    "lambda x: (y := x)",
    "lambda x: foo.add_n(x)",
    "lambda x: tf.io.gfile.remove(x)",
    "import os",
    "x",
    "lambda x: x[x]",
    "lambda x: x[0.5]",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_expressions_rejected(text):
    with pytest.raises(ConfigError, match="input_fn"):
        compile_input_fn(text)


def test_hostile_expression_error_names_it():
    with pytest.raises(ConfigError) as err:
        compile_input_fn("lambda x: x.__class__")
    assert "x.__class__" in str(err.value)


def test_whitelisted_expressions():
    a, b = torch.ones(2, 1), torch.full((2, 1), 2.0)
    assert compile_input_fn("lambda x: tf.add_n(x)")([a, b]).tolist() == [[3.0], [3.0]]
    assert compile_input_fn("lambda x: sum(x)")([a, b]).tolist() == [[3.0], [3.0]]
    assert compile_input_fn("lambda x: tf.concat(x, axis=-1)")([a, b]).shape == (2, 2)
    assert compile_input_fn("lambda x: torch.stack(x, dim=1)")([a, b]).shape == (2, 2, 1)
    assert compile_input_fn("lambda x: tf.reduce_mean(x, axis=0)")([a, b]).tolist() == [
        [1.5],
        [1.5],
    ]
    assert compile_input_fn("lambda x: x[1]")([a, b]) is b
    assert compile_input_fn("lambda x: x[0:1]")([a, b]) == [a]
    t = torch.arange(6.0).reshape(2, 3)
    assert compile_input_fn("lambda x: x[:, :2]")(t).tolist() == [[0, 1], [3, 4]]
    assert compile_input_fn("lambda x: x[..., -1]")(t).tolist() == [2, 5]
    assert compile_input_fn("lambda x: (x[0] + x[1]) * 0.5 - 1")([a, b]).tolist() == [[0.5], [0.5]]
    assert compile_input_fn("lambda x: -x")(a).tolist() == [[-1.0], [-1.0]]


def test_flatten_collapses_all_but_the_batch_axis():
    import torch

    from recutils.nn.expressions import compile_input_fn

    x = torch.arange(24.0).reshape(2, 3, 4)
    for text in ("lambda x: flatten(x)", "lambda x: tf.layers.flatten(x)"):
        out = compile_input_fn(text)(x)
        assert out.shape == (2, 12)
        assert torch.equal(out[1], x[1].reshape(-1))
    fields = [torch.ones(2, 4), torch.zeros(2, 4)]  # a list of fields: stacked on axis 1 first
    assert torch.equal(compile_input_fn("lambda x: flatten(x)")(fields), torch.cat(fields, dim=1))
