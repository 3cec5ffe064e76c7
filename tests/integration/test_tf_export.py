"""Export of click-through models to a TensorFlow SavedModel: TensorFlow's own loader serves
raw feature columns and agrees with the PyTorch model to 1e-5.

The four models below use, together, every ONNX operator of the zoo's exported graphs
(:data:`recutils.serving.tf_export.SUPPORTED_OPS`); the remaining zoo models were checked
the same way when the translator was written (``RECUTILS_TF_EXPORT_ALL=1`` runs them all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("tensorflow")

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.models import create_model  # noqa: E402
from recutils.models.ctr import PRESETS  # noqa: E402
from recutils.serving.tf_export import (  # noqa: E402
    SUPPORTED_OPS,
    OnnxToTensorFlow,
    export_tensorflow,
    load_tensorflow_scorer,
)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "unit"))
from test_ctr_export import FAST, held_out, movielens_like  # noqa: E402

COVERING = ["autoint", "deepfm", "fibinet", "masknet"]
MODELS = sorted(PRESETS) if os.environ.get("RECUTILS_TF_EXPORT_ALL") == "1" else COVERING


@pytest.fixture(scope="module")
def data():
    df = movielens_like()
    return df, held_out(df)


def _serve_with_tensorflow_alone(folder, rows) -> dict:
    """Scores from a fresh process that imports TensorFlow only (no recutils, no torch)."""
    code = textwrap.dedent(f"""
        import json, os, sys
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import tensorflow as tf
        served = tf.saved_model.load({str(folder / "saved_model")!r})
        feed = json.loads(sys.stdin.read())
        sig = served.signatures["serving_default"]
        specs = sig.structured_input_signature[1]
        out = sig(**{{k: tf.constant(v, dtype=specs[k].dtype) for k, v in feed.items()}})
        try:
            sig(**{{k: tf.constant(v, dtype=specs[k].dtype) for k, v in feed.items()}},
                not_a_feature=tf.constant(["x"] * len(next(iter(feed.values())))))
            unknown = "accepted"
        except Exception as err:
            unknown = str(err)
        leaked = [m for m in ("recutils", "torch") if m in sys.modules]
        print(json.dumps({{"probability": out["probability"].numpy().tolist(),
                          "unknown": unknown, "leaked": leaked}}))
    """)
    env = {**os.environ, "PYTHONPATH": ""}
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(rows),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", MODELS)
def test_saved_model_scores_raw_rows_like_the_torch_model(name, data, tmp_path):
    train, test = data
    model = create_model(name, col_rating="label", train=FAST).fit(train)
    folder = export_tensorflow(model, tmp_path / name)
    want = model.predict(test, score_unknown=True)["prediction"].to_numpy()
    got = load_tensorflow_scorer(folder)(test)["probability"]
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert np.std(want) > 0
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"] == name and set(manifest["inputs"]) <= set(test.columns)


def test_tensorflow_alone_serves_the_export(data, tmp_path):
    """tf.saved_model.load, no recutils: same scores; an unknown feature is refused by name."""
    train, test = data
    model = create_model("deepfm", col_rating="label", train=FAST).fit(train)
    folder = export_tensorflow(model, tmp_path / "m")
    inputs = json.loads((folder / "manifest.json").read_text())["inputs"]
    rows = {
        c: (
            test[c].astype(float).tolist()
            if t == "float64"
            else test[c].astype(object).where(test[c].notna(), "").astype(str).tolist()
        )
        for c, t in inputs.items()
    }
    served = _serve_with_tensorflow_alone(folder, rows)  # NaN travels as JSON's NaN
    assert served["leaked"] == []
    want = model.predict(test, score_unknown=True)["prediction"].to_numpy()
    np.testing.assert_allclose(served["probability"], want, atol=1e-5, rtol=0)
    assert "not_a_feature" in served["unknown"]


def test_unknown_and_missing_columns_and_tampering_raise(data, tmp_path):
    train, test = data
    model = create_model("fm", col_rating="label", train=FAST).fit(train)
    folder = export_tensorflow(model, tmp_path / "m")
    score = load_tensorflow_scorer(folder)
    columns = {c: test[c] for c in json.loads((folder / "manifest.json").read_text())["inputs"]}
    with pytest.raises(ConfigError, match=r"unknown \['colour'\]"):
        score({**columns, "colour": test["gender"]})
    with pytest.raises(ConfigError, match=r"missing \['age'\]"):
        score(test.drop(columns="age"))
    with pytest.raises(ConfigError, match="exists"):
        export_tensorflow(model, folder)
    variables = next((folder / "saved_model" / "variables").glob("*.data-*"))
    blob = bytearray(variables.read_bytes())
    blob[-1] ^= 0xFF
    variables.write_bytes(bytes(blob))
    with pytest.raises(ConfigError, match="checksum"):
        load_tensorflow_scorer(folder)


def test_unsupported_onnx_operator_is_named(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("Tanh", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
    )
    path = tmp_path / "tanh.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ConfigError, match=r"\['Tanh'\]"):
        OnnxToTensorFlow(path)
    assert "Tanh" not in SUPPORTED_OPS
