"""Export a trained click-through model with its feature encoder to a self-contained ONNX artifact.

:func:`export_onnx` writes a folder that scores raw feature rows without recutils::

    model.onnx      the network, inputs ids [B, n_id] int64 / dense [B, n_dense] float32 /
                    bag__<feature> [B, L] int64 / series__<feature> [B, L] float32 (dynamic
                    batch), output probability [B] (a multi-task model: one output per
                    task, named after it, each its prediction [B])
    encoder.json    how each raw column becomes an input (column, kind, boundaries,
    encoder.npz     normalization, hashing, bag width) and the vocabularies (no pickle)
    scorer.py       a copy of recutils.serving.onnx_scorer: numpy + pandas + onnxruntime
    manifest.json   recutils version, model name, inputs, columns, SHA-256 of each file

Why ONNX: the scoring side then needs only ``onnxruntime`` (about 15 MB, no torch),
any language with an ONNX runtime can serve the model, and the graph is a plain data
file (TorchScript would need libtorch at serving time and loads a code archive). The
graph is produced by torch's TorchScript-based ONNX exporter (``dynamo=False``): the
backbone's block graph is static once built, tracing it takes about a second and
needs only the ``onnx`` package, where the ``torch.export``-based exporter takes
tens of seconds per model and needs ``onnxscript``. ``exporter="dynamo"`` selects the
latter (for a torch release that drops the former).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from recutils.exceptions import ConfigError, NotFittedError
from recutils.serving.onnx_scorer import SCORER_FORMAT, OnnxScorer
from recutils.utils.deps import require

EXPORTERS = ("torchscript", "dynamo")


def _encoder_spec(model: Any) -> tuple[dict[str, Any], dict[str, np.ndarray], list[str]]:
    """(encoder.json content, encoder.npz arrays, input keys in the network's batch order)."""
    encoder = model.encoder_
    layout = model.network_.backbone.layout
    arrays, state = encoder.state()
    configs = {f["name"]: f for f in state["features"]}
    fitted = state["fitted"]
    features = []
    for name in (
        layout.id_features + layout.dense_features + layout.bag_features + layout.series_features
    ):
        cfg, fit = configs[name], fitted[name]
        spec = encoder.specs[name]
        features.append(
            {
                "name": name,
                "column": fit["column"],
                "kind": spec.kind,
                "type": cfg["type"],
                "table": cfg.get("embedding_name") or name,
                "boundaries": cfg.get("boundaries"),
                "mean": fit["mean"],
                "scale": fit["scale"],
                "length": fit["length"],
                "separator": cfg["separator"],
                "input": f"{spec.kind}__{name}" if spec.kind in ("bag", "series") else None,
            }
        )
    keys = (
        (["ids"] if layout.id_features else [])
        + (["dense"] if layout.dense_features else [])
        + [layout.bag_key(f) for f in layout.bag_features]
        + [layout.series_key(f) for f in layout.series_features]
    )
    meta = {
        "format": SCORER_FORMAT,
        "features": features,
        "tables": state["tables"],
        "has_ids": bool(layout.id_features),
    }
    return meta, arrays, keys


def _onnx_name(key: str) -> str:
    return key.replace("bag:", "bag__").replace("series:", "series__")


def export_onnx(
    model: Any,
    path: str | Path,
    *,
    opset: int | None = None,
    exporter: str = "torchscript",
    overwrite: bool = False,
) -> Path:
    """Write ``model`` (a fitted :class:`~recutils.models.deep.DeepRankModel`, e.g. any zoo
    model) and its feature encoder to the folder ``path``; see the module docstring.

    Args:
        model: The fitted model.
        path: Output folder (created; must not exist unless ``overwrite``).
        opset: ONNX opset (default 17 with ``torchscript``, 18 with ``dynamo``, whose
            graphs use opset-18 operator forms).
        exporter: ``torchscript`` (default, fast) or ``dynamo`` (needs ``onnxscript``).
        overwrite: Replace an existing folder.

    Returns:
        The folder. Score with :func:`load_onnx_scorer` or the folder's ``scorer.py``.

    Raises:
        NotFittedError: the model is not fitted.
        ConfigError: not a deep rank model, an unknown exporter, or the folder exists.
        MissingDependencyError: ``onnx`` (``pip install "recutils[onnx]"``).
    """
    torch = require("torch", "torch")
    if exporter not in EXPORTERS:
        raise ConfigError(f"exporter {exporter!r} is unknown; allowed: {list(EXPORTERS)}.")
    if not hasattr(model, "network_") and not hasattr(type(model), "_forward"):
        raise ConfigError(f"export_onnx needs a deep rank model, got {type(model).__name__}.")
    try:
        network, _ = model.network_, model.encoder_
    except AttributeError:
        raise NotFittedError(
            f"{type(model).__name__} is not fitted yet: call fit() before export_onnx."
        ) from None
    require("onnx", "onnx")
    if opset is None:
        opset = 17 if exporter == "torchscript" else 18
    folder = Path(path)
    if folder.exists():
        if not overwrite:
            raise ConfigError(f"{folder} exists; pass overwrite=True to replace it.")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    meta, arrays, keys = _encoder_spec(model)
    tasks = list(getattr(network, "task_names", []))  # a multi-task network: one output per task
    outputs = tasks or ["probability"]

    class _Probability(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, *tensors: Any) -> Any:
            out = self.network(dict(zip(keys, tensors)))
            if tasks:
                return tuple(self.network.to_prediction(out).unbind(-1))
            return torch.sigmoid(out)

    layout = network.backbone.layout
    specs = model.encoder_.specs
    n = 3
    example = []
    for key in keys:
        if key == "ids":
            example.append(torch.ones((n, len(layout.id_features)), dtype=torch.int64))
        elif key == "dense":
            example.append(torch.zeros((n, len(layout.dense_features))))
        elif key.startswith("series:"):
            example.append(torch.zeros((n, specs[key.removeprefix("series:")].length)))
        else:
            example.append(
                torch.ones((n, specs[key.removeprefix("bag:")].length), dtype=torch.int64)
            )
    wrapper = _Probability().eval()
    names = [_onnx_name(k) for k in keys]
    device = next(network.parameters()).device
    network.cpu()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation notice and tracer warnings
            if exporter == "torchscript":
                torch.onnx.export(
                    wrapper,
                    tuple(example),
                    str(folder / "model.onnx"),
                    dynamo=False,
                    input_names=names,
                    output_names=outputs,
                    opset_version=opset,
                    dynamic_axes={k: {0: "batch"} for k in [*names, *outputs]},
                )
            else:
                batch = torch.export.Dim("batch")
                torch.onnx.export(
                    wrapper,
                    tuple(example),
                    str(folder / "model.onnx"),
                    dynamo=True,
                    input_names=names,
                    output_names=outputs,
                    opset_version=opset,
                    dynamic_shapes=(tuple({0: batch} for _ in keys),),
                )
    finally:
        network.to(device)
    (folder / "encoder.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    np.savez(folder / "encoder.npz", **arrays)
    shutil.copyfile(Path(__file__).with_name("onnx_scorer.py"), folder / "scorer.py")
    from recutils import __version__

    files = {
        p.name: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size}
        for p in sorted(folder.iterdir())
    }
    manifest = {
        "format": "recutils-onnx-ctr",
        "format_version": 1,
        "recutils_version": __version__,
        "model": model.name,
        "model_name": model.config.model_config.model_name,
        "inputs": names,
        "output": outputs[0],
        "outputs": outputs,
        "columns": sorted({f["column"] for f in meta["features"]}),
        "opset": opset,
        "exporter": exporter,
        "files": files,
    }
    (folder / "manifest.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8"
    )
    return folder


def load_onnx_scorer(path: str | Path, threads: int | None = None) -> OnnxScorer:
    """An :class:`~recutils.serving.onnx_scorer.OnnxScorer` for an exported folder, after
    checking every file's SHA-256 against the manifest.

    Raises:
        ConfigError: not an exported model, or a file that does not match its checksum.
    """
    folder = Path(path)
    manifest_file = folder / "manifest.json"
    if not manifest_file.is_file():
        raise ConfigError(f"{folder} has no manifest.json: not an export_onnx folder.")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    if manifest.get("format") != "recutils-onnx-ctr":
        raise ConfigError(
            f"{folder} is not an export_onnx folder (format {manifest.get('format')!r})."
        )
    for name, entry in manifest["files"].items():
        file = folder / name
        if not file.is_file() or hashlib.sha256(file.read_bytes()).hexdigest() != entry["sha256"]:
            raise ConfigError(f"{file} is missing or does not match its checksum in the manifest.")
    require("onnxruntime", "onnx")
    return OnnxScorer(folder, threads=threads)


__all__ = ["EXPORTERS", "export_onnx", "load_onnx_scorer"]
