"""Export a trained click-through model to a TensorFlow SavedModel that scores raw feature rows.

:func:`export_tensorflow` writes a folder that TensorFlow serves on its own
(``tf.saved_model.load`` or TF Serving, no recutils and no torch)::

    saved_model/    the SavedModel; its ``serving_default`` signature takes one 1-D tensor
                    per raw column and returns ``{"probability": [B] float32}`` (a
                    multi-task model: one output per task, named after it)
    manifest.json   recutils version, model name, the inputs (column -> dtype), outputs,
                    SHA-256 and size of every file

Inputs follow the raw columns that :class:`~recutils.serving.onnx_scorer.OnnxScorer` reads:
a categorical column with a text vocabulary is a ``tf.string`` tensor (``""``: missing);
one with an integer vocabulary, and every numeric column, is ``tf.float64`` (``NaN``:
missing); a tag column is a ``tf.string`` of tokens joined by the feature's separator.
Inside the graph the feature encoding is recutils' (vocabulary lookups with ``0`` =
missing and ``1`` = out of vocabulary, bucket boundaries, standardization, tag padding),
and the network is the model's ONNX graph (:func:`~recutils.serving.onnx_export.export_onnx`)
translated op by op into TensorFlow (:class:`OnnxToTensorFlow`): the exported scores agree
with the PyTorch model's ``predict`` to 1e-5.

Why a translator of our own, not ``onnx2tf`` or ``onnx-tf``: the current ``onnx2tf`` pins
TensorFlow 2.19, onnx 1.19, protobuf 4 and numpy 1.26 (it cannot install beside the
``tensorflow`` extra's TensorFlow 2.21 and the ``onnx`` extra), and ``onnx-tf`` needs
``tensorflow-addons``, which has no release for current TensorFlow. Neither would put the
feature encoding into the graph. The zoo's exported graphs use the 29 operators of
:data:`SUPPORTED_OPS`; a graph with any other operator raises a
:class:`~recutils.exceptions.ConfigError` naming it.

Not exportable (a clear :class:`~recutils.exceptions.ConfigError`): hashed features
(pandas' hash has no TensorFlow twin), numeric sequence features, sequence-typed bags and
non-integer numeric vocabularies.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from recutils.exceptions import ConfigError
from recutils.serving.onnx_export import export_onnx
from recutils.serving.onnx_scorer import FIRST_ID, OOV, PAD
from recutils.utils.deps import require
from recutils.utils.tensorflow import import_tensorflow

#: Value of the manifest's ``format`` key.
FORMAT = "recutils-tf-ctr"
SAVED_MODEL_DIR = "saved_model"


# ----------------------------------------------------------------- ONNX -> TF
def _attrs(node: Any) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _static(tf: Any, value: Any, what: str, op: str) -> np.ndarray:
    """The constant value of a tensor (shape arguments must be known when tracing)."""
    static = tf.get_static_value(value)
    if static is None:
        raise ConfigError(f"ONNX {op}: its {what} is not a constant; cannot translate it.")
    return np.asarray(static)


def _translations(tf: Any) -> dict[str, Callable[..., Any]]:
    """ONNX operator -> ``fn(tf, inputs, attrs) -> output or list of outputs``."""

    def gemm(x: list[Any], a: dict[str, Any]) -> Any:
        left = tf.transpose(x[0]) if a.get("transA", 0) else x[0]
        right = tf.transpose(x[1]) if a.get("transB", 0) else x[1]
        out = a.get("alpha", 1.0) * tf.matmul(left, right)
        if len(x) > 2 and x[2] is not None:
            out = out + a.get("beta", 1.0) * x[2]
        return out

    def reduce(fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(x: list[Any], a: dict[str, Any]) -> Any:
            axes = a.get("axes")
            if axes is None and len(x) > 1 and x[1] is not None:
                axes = _static(tf, x[1], "axes", "Reduce").tolist()
            if axes is None or len(axes) == 0:
                if a.get("noop_with_empty_axes", 0):
                    return x[0]
                axes = None
            return fn(x[0], axis=axes, keepdims=bool(a.get("keepdims", 1)))

        return run

    def reshape(x: list[Any], a: dict[str, Any]) -> Any:
        shape = tf.cast(x[1], tf.int64)
        static = tf.get_static_value(shape)
        if static is not None and not (np.asarray(static) == 0).any():
            return tf.reshape(x[0], static)
        if a.get("allowzero", 0):
            return tf.reshape(x[0], shape)
        n = int(shape.shape[0])
        current = tf.shape(x[0], out_type=tf.int64)
        rank = x[0].shape.rank
        copy = current[:n] if rank >= n else tf.concat([current, tf.zeros([n - rank], tf.int64)], 0)
        return tf.reshape(x[0], tf.where(shape == 0, copy, shape))

    def shape(x: list[Any], a: dict[str, Any]) -> Any:
        full = tf.shape(x[0], out_type=tf.int64)
        return full[a.get("start", 0) : a.get("end")] if ("start" in a or "end" in a) else full

    def slice_(x: list[Any], a: dict[str, Any]) -> Any:
        # ONNX Slice as one strided slice over every axis: the sliced axes get their
        # (possibly traced) starts/ends, the others are taken whole (begin/end masks);
        # out-of-range bounds clamp, as in ONNX
        rank = x[0].shape.rank
        n = int(x[1].shape[0])
        axes = (
            _static(tf, x[3], "axes", "Slice") if len(x) > 3 and x[3] is not None else np.arange(n)
        )
        steps = (
            _static(tf, x[4], "steps", "Slice")
            if len(x) > 4 and x[4] is not None
            else np.ones(n, dtype=np.int64)
        )
        starts, ends = tf.cast(x[1], tf.int64), tf.cast(x[2], tf.int64)
        slot = {int(ax) % rank: j for j, ax in enumerate(axes)}
        zero = tf.constant(0, tf.int64)
        begin = tf.stack([starts[slot[d]] if d in slot else zero for d in range(rank)])
        end = tf.stack([ends[slot[d]] if d in slot else zero for d in range(rank)])
        strides = [int(steps[slot[d]]) if d in slot else 1 for d in range(rank)]
        mask = sum(1 << d for d in range(rank) if d not in slot)
        return tf.strided_slice(x[0], begin, end, strides, begin_mask=mask, end_mask=mask)

    def split(x: list[Any], a: dict[str, Any], n_out: int) -> list[Any]:
        axis = a.get("axis", 0)
        if len(x) > 1 and x[1] is not None:
            sizes = _static(tf, x[1], "split", "Split").tolist()
        elif "split" in a:
            sizes = list(a["split"])
        else:
            sizes = n_out
        return tf.split(x[0], sizes, axis=axis)

    def axes_of(x: list[Any], a: dict[str, Any], op: str) -> list[int] | None:
        if "axes" in a:
            return list(a["axes"])
        if len(x) > 1 and x[1] is not None:
            return _static(tf, x[1], "axes", op).tolist()
        return None

    def unsqueeze(x: list[Any], a: dict[str, Any]) -> Any:
        out = x[0]
        axes = axes_of(x, a, "Unsqueeze")
        rank = out.shape.rank + len(axes)
        for ax in sorted(int(v) % rank for v in axes):
            out = tf.expand_dims(out, ax)
        return out

    def squeeze(x: list[Any], a: dict[str, Any]) -> Any:
        axes = axes_of(x, a, "Squeeze")
        return tf.squeeze(x[0], axis=axes)

    def layer_norm(x: list[Any], a: dict[str, Any]) -> Any:
        axis = a.get("axis", -1)
        rank = x[0].shape.rank
        axes = list(range(axis % rank, rank))
        mean, var = tf.nn.moments(x[0], axes=axes, keepdims=True)
        out = (x[0] - mean) * tf.math.rsqrt(var + a.get("epsilon", 1e-5)) * x[1]
        return out + x[2] if len(x) > 2 and x[2] is not None else out

    def flatten(x: list[Any], a: dict[str, Any]) -> Any:
        axis = a.get("axis", 1)
        dims = tf.shape(x[0])
        return tf.reshape(
            x[0], tf.stack([tf.reduce_prod(dims[:axis]), tf.reduce_prod(dims[axis:])])
        )

    def clip(x: list[Any], a: dict[str, Any]) -> Any:
        out = x[0]
        lo = x[1] if len(x) > 1 and x[1] is not None else a.get("min")
        hi = x[2] if len(x) > 2 and x[2] is not None else a.get("max")
        if lo is not None:
            out = tf.maximum(out, tf.cast(lo, out.dtype))
        if hi is not None:
            out = tf.minimum(out, tf.cast(hi, out.dtype))
        return out

    def cast(x: list[Any], a: dict[str, Any]) -> Any:
        import onnx

        dtype = onnx.helper.tensor_dtype_to_np_dtype(a["to"])
        return tf.cast(x[0], tf.as_dtype(dtype))

    return {
        "Add": lambda x, a: x[0] + x[1],
        "Sub": lambda x, a: x[0] - x[1],
        "Mul": lambda x, a: x[0] * x[1],
        "Div": lambda x, a: x[0] / x[1],
        "Pow": lambda x, a: tf.pow(x[0], tf.cast(x[1], x[0].dtype)),
        "MatMul": lambda x, a: (
            tf.linalg.matmul(x[0], x[1])
            if x[0].shape.rank == x[1].shape.rank
            else tf.experimental.numpy.matmul(x[0], x[1])
        ),
        "Gemm": gemm,
        "Relu": lambda x, a: tf.nn.relu(x[0]),
        "Sigmoid": lambda x, a: tf.sigmoid(x[0]),
        "Softmax": lambda x, a: tf.nn.softmax(x[0], axis=a.get("axis", -1)),
        "Concat": lambda x, a: tf.concat(x, axis=a["axis"]),
        "Cast": cast,
        "Clip": clip,
        "Einsum": lambda x, a: tf.einsum(
            a["equation"].decode() if isinstance(a["equation"], bytes) else a["equation"], *x
        ),
        "Flatten": flatten,
        "Gather": lambda x, a: tf.gather(x[0], x[1], axis=a.get("axis", 0)),
        "Greater": lambda x, a: tf.greater(x[0], x[1]),
        "Identity": lambda x, a: tf.identity(x[0]),
        "LayerNormalization": layer_norm,
        "ReduceMean": reduce(tf.reduce_mean),
        "ReduceSum": reduce(tf.reduce_sum),
        "Reshape": reshape,
        "Shape": shape,
        "Slice": slice_,
        "Split": split,
        "Squeeze": squeeze,
        "Transpose": lambda x, a: tf.transpose(x[0], perm=a.get("perm")),
        "Unsqueeze": unsqueeze,
    }


#: The ONNX operators the translator knows (those of every zoo model's exported graph).
SUPPORTED_OPS = (
    "Add",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "Div",
    "Einsum",
    "Flatten",
    "Gather",
    "Gemm",
    "Greater",
    "Identity",
    "LayerNormalization",
    "MatMul",
    "Mul",
    "Pow",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Shape",
    "Sigmoid",
    "Slice",
    "Softmax",
    "Split",
    "Squeeze",
    "Sub",
    "Transpose",
    "Unsqueeze",
)


class OnnxToTensorFlow:
    """An ONNX graph as a TensorFlow function: ``translator(inputs) -> {output: tensor}``.

    The graph's weights become TensorFlow constants (saved with the SavedModel); each node
    becomes the TensorFlow operation of the same meaning, in the graph's (topological)
    order, when the function is traced.

    Args:
        path: The ``.onnx`` file.

    Raises:
        ConfigError: the graph uses an operator outside :data:`SUPPORTED_OPS` (named).
    """

    def __init__(self, path: str | Path) -> None:
        onnx = require("onnx", "onnx")
        from onnx import numpy_helper

        self.tf = import_tensorflow()
        graph = onnx.load(str(path)).graph
        unknown = sorted({n.op_type for n in graph.node} - set(SUPPORTED_OPS))
        if unknown:
            raise ConfigError(
                f"the exported graph uses ONNX operator(s) {unknown} that the TensorFlow export "
                f"does not translate; supported: {list(SUPPORTED_OPS)}."
            )
        self.nodes = list(graph.node)
        self.weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.inputs = [i.name for i in graph.input if i.name not in self.weights]
        self.outputs = [o.name for o in graph.output]
        self.ops = _translations(self.tf)
        self._numpy_helper = numpy_helper

    def __call__(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        tf = self.tf
        env: dict[str, Any] = {k: tf.constant(v) for k, v in self.weights.items()}
        env.update(inputs)
        for node in self.nodes:
            attrs = _attrs(node)
            if node.op_type == "Constant":
                value = (
                    self._numpy_helper.to_array(attrs["value"])
                    if "value" in attrs
                    else np.asarray(next(iter(attrs.values())))
                )
                out: Any = tf.constant(value)
            else:
                args = [env[name] if name else None for name in node.input]
                fn = self.ops[node.op_type]
                out = (
                    fn(args, attrs, len(node.output))
                    if node.op_type == "Split"
                    else fn(args, attrs)
                )
            outs = out if isinstance(out, (list, tuple)) else [out]
            for name, value in zip(node.output, outs):
                env[name] = value
        return {name: env[name] for name in self.outputs}


# ---------------------------------------------------------- feature encoding
def _input_dtypes(meta: Mapping[str, Any]) -> dict[str, str]:
    """Column -> ``"string"`` or ``"float64"``, checking every feature is exportable."""
    dtypes: dict[str, str] = {}
    for f in meta["features"]:
        table = meta["tables"].get(f["table"], {})
        kind, name = f["kind"], f["name"]
        if kind == "series" or (kind == "bag" and f["type"] == "sequence"):
            raise ConfigError(f"feature {name!r} ({f['type']}) cannot be exported to TensorFlow.")
        if kind in ("id", "bag") and f.get("boundaries") is None and table.get("hash_buckets"):
            raise ConfigError(
                f"feature {name!r} is hashed; hashed features cannot be exported to "
                "TensorFlow (pandas' hash has no TensorFlow twin)."
            )
        if kind == "dense" or f.get("boundaries") is not None:
            dtype = "float64"
        elif table.get("vocab_numeric"):
            if kind == "bag" or not table.get("vocab_integer"):
                raise ConfigError(
                    f"feature {name!r} has a non-integer numeric vocabulary; it "
                    "cannot be exported to TensorFlow."
                )
            dtype = "float64"
        else:
            dtype = "string"
        if dtypes.setdefault(f["column"], dtype) != dtype:
            raise ConfigError(f"column {f['column']!r} is read both as text and as numbers.")
    return dtypes


class _Encoder:
    """recutils' feature encoding of raw column tensors, in TensorFlow (see the module docstring)."""

    def __init__(self, tf: Any, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.tf = tf
        self.meta = meta
        self.tables: dict[str, Any] = {}
        for name, entry in meta["tables"].items():
            if not entry.get("vocab"):
                continue
            values = np.asarray(arrays[entry["vocab"]])
            keys = (
                tf.constant(values.astype(np.int64))
                if entry.get("vocab_integer")
                else tf.constant(values.astype(str).astype(object))
            )
            ids = tf.constant(np.arange(len(values), dtype=np.int64) + FIRST_ID)
            self.tables[name] = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(keys, ids), default_value=OOV
            )

    def _lookup(self, f: Mapping[str, Any], values: Any) -> Any:
        tf = self.tf
        table = self.tables[f["table"]]
        if values.dtype == tf.string:
            return tf.where(values == "", tf.constant(PAD, tf.int64), table.lookup(values))
        missing = tf.math.is_nan(values)
        whole = tf.equal(values, tf.math.round(values))
        keys = tf.cast(tf.where(missing | ~whole, tf.zeros_like(values), values), tf.int64)
        ids = tf.where(whole, table.lookup(keys), tf.constant(OOV, tf.int64))
        return tf.where(missing, tf.constant(PAD, tf.int64), ids)

    def __call__(self, columns: Mapping[str, Any]) -> dict[str, Any]:
        tf = self.tf
        ids, dense, inputs = [], [], {}
        for f in self.meta["features"]:
            values = columns[f["column"]]
            if f["kind"] == "dense":
                x = (values - f["mean"]) / f["scale"]
                dense.append(tf.cast(tf.where(tf.math.is_nan(x), tf.zeros_like(x), x), tf.float32))
            elif f.get("boundaries") is not None:
                bounds = tf.constant(np.asarray(f["boundaries"], dtype=np.float64))[None, :]
                b = tf.searchsorted(bounds, values[None, :], side="right", out_type=tf.int64)[0]
                ids.append(
                    tf.where(tf.math.is_nan(values), tf.constant(PAD, tf.int64), b + FIRST_ID)
                )
            elif f["kind"] == "bag":
                tokens = tf.strings.split(values, sep=f["separator"])
                tokens = tf.ragged.boolean_mask(tokens, tokens != "")
                length = int(f["length"])
                looked = tf.ragged.map_flat_values(self.tables[f["table"]].lookup, tokens)
                inputs[f["input"]] = looked[:, :length].to_tensor(
                    default_value=PAD, shape=[None, length]
                )
            else:
                ids.append(self._lookup(f, values))
        if self.meta["has_ids"]:
            inputs["ids"] = tf.stack(ids, axis=1)
        if dense:
            inputs["dense"] = tf.stack(dense, axis=1)
        return inputs


def _serving_module(tf: Any, folder: Path) -> tuple[Any, dict[str, str], list[str]]:
    """The ``tf.Module`` scoring raw columns, from an :func:`export_onnx` folder."""
    meta = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
    with np.load(folder / "encoder.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    dtypes = _input_dtypes(meta)
    # the translator is plain Python over the graph's nodes: traced as it is, not by AutoGraph
    network = OnnxToTensorFlow(folder / "model.onnx")
    translate = tf.autograph.experimental.do_not_convert(network)
    encoder = _Encoder(tf, meta, arrays)
    spec = {
        col: tf.TensorSpec([None], getattr(tf, dtype), name=col) for col, dtype in dtypes.items()
    }

    class Served(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tables = list(encoder.tables.values())  # tracked: saved with the model

        @tf.function(input_signature=[spec])
        def score(self, columns: dict[str, Any]) -> dict[str, Any]:
            encoded = encoder(columns)
            outputs = translate({k: encoded[k] for k in network.inputs})
            return {name: tf.reshape(value, [-1]) for name, value in outputs.items()}

    return Served(), dtypes, network.outputs


def export_tensorflow(model: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``model`` (a fitted click-through model of the zoo, any
    :class:`~recutils.models.deep.DeepRankModel`) as a TensorFlow SavedModel scoring raw
    feature columns; see the module docstring.

    Serve it with TensorFlow alone::

        served = tf.saved_model.load("folder/saved_model")
        probability = served.signatures["serving_default"](
            userID=tf.constant([1.0]), occupation=tf.constant(["artist"]), ...)["probability"]

    Args:
        model: The fitted model.
        path: Output folder (created; must not exist unless ``overwrite``).
        overwrite: Replace an existing folder.

    Returns:
        The folder.

    Raises:
        NotFittedError: the model is not fitted.
        ConfigError: not a deep rank model, a feature that cannot be exported (hashed,
            numeric sequences), an ONNX operator the translator does not know, or the
            folder exists.
        MissingDependencyError: TensorFlow (``recutils[tensorflow]``), torch or onnx.
    """
    tf = import_tensorflow()
    folder = Path(path)
    if folder.exists() and not overwrite:
        raise ConfigError(f"{folder} exists; pass overwrite=True to replace it.")
    with tempfile.TemporaryDirectory() as tmp:
        onnx_folder = export_onnx(model, Path(tmp) / "onnx")
        module, dtypes, outputs = _serving_module(tf, onnx_folder)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        tf.saved_model.save(
            module,
            str(folder / SAVED_MODEL_DIR),
            signatures={"serving_default": module.score.get_concrete_function()},
        )
    from recutils import __version__

    files = {
        p.relative_to(folder).as_posix(): {
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "bytes": p.stat().st_size,
        }
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    manifest = {
        "format": FORMAT,
        "format_version": 1,
        "recutils_version": __version__,
        "tensorflow_version": tf.__version__,
        "model": model.name,
        "saved_model": SAVED_MODEL_DIR,
        "inputs": dtypes,
        "outputs": outputs,
        "files": files,
    }
    (folder / "manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8"
    )
    return folder


def load_tensorflow_scorer(path: str | Path) -> Callable[..., dict[str, np.ndarray]]:
    """A function scoring raw rows with an exported folder (after checking every file's
    SHA-256 against the manifest): ``score(rows) -> {output: array}``, where ``rows`` is a
    frame (columns the model does not read are left out) or a mapping column -> values (a
    column the model does not know raises :class:`ConfigError`, as does a missing one).

    Raises:
        ConfigError: not an exported folder, or a file that does not match its checksum.
    """
    folder = Path(path)
    manifest_file = folder / "manifest.json"
    if not manifest_file.is_file():
        raise ConfigError(f"{folder} has no manifest.json: not an export_tensorflow folder.")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ConfigError(
            f"{folder} is not an export_tensorflow folder (format {manifest.get('format')!r})."
        )
    for name, entry in manifest["files"].items():
        file = folder / name
        if not file.is_file() or hashlib.sha256(file.read_bytes()).hexdigest() != entry["sha256"]:
            raise ConfigError(f"{file} is missing or does not match its checksum in the manifest.")
    tf = import_tensorflow()
    served = tf.saved_model.load(str(folder / manifest["saved_model"]))
    signature = served.signatures["serving_default"]
    dtypes: dict[str, str] = manifest["inputs"]

    def score(columns: Any) -> dict[str, np.ndarray]:
        if isinstance(columns, Mapping):
            given = list(columns)
            unknown = [c for c in given if c not in dtypes]
        else:  # a frame of raw rows: other columns (labels, ids) are left out
            given = list(columns.columns)
            unknown = []
        missing = [c for c in dtypes if c not in given]
        if unknown or missing:
            raise ConfigError(
                f"the exported model reads columns {sorted(dtypes)}; got unknown "
                f"{unknown} and missing {missing}."
            )
        feed = {c: tf.constant(_column(columns[c], dtypes[c])) for c in dtypes}
        return {k: v.numpy() for k, v in signature(**feed).items()}

    return score


def _column(values: Any, dtype: str) -> np.ndarray:
    """A raw column as the signature's dtype (text: missing -> ``""``; numbers: ``NaN``)."""
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    if dtype == "float64":
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return series.astype(object).where(series.notna(), "").astype(str).to_numpy(dtype=object)


__all__ = [
    "FORMAT",
    "OnnxToTensorFlow",
    "SUPPORTED_OPS",
    "export_tensorflow",
    "load_tensorflow_scorer",
]
