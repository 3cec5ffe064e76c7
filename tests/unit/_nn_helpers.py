"""Small synthetic networks and data for the nn unit tests (imported by tests and subprocesses)."""

from __future__ import annotations

import numpy as np

from recutils.nn.config import ModelConfig
from recutils.nn.features import FeatureSpec


def toy_specs() -> dict[str, FeatureSpec]:
    return {
        "u": FeatureSpec("u", "id", "u", 22, 4, 1, "mean", "categorical"),
        "i": FeatureSpec("i", "id", "i", 32, 4, 1, "mean", "categorical"),
        "tags": FeatureSpec("tags", "bag", "tags", 7, 4, 3, "mean", "tags"),
        "x": FeatureSpec("x", "dense", "x", 0, 4, 1, "mean", "numeric"),
    }


def toy_model_dict(dropout: float = 0.0) -> dict:
    feats = ["u", "i", "tags", "x"]
    return {
        "model_name": "toy",
        "feature_groups": [
            {"group_name": "wide", "feature_names": feats, "wide_deep": "WIDE"},
            {"group_name": "deep", "feature_names": feats, "wide_deep": "DEEP"},
        ],
        "backbone": {
            "blocks": [
                {
                    "name": "wide",
                    "inputs": [{"feature_group_name": "wide"}],
                    "input_layer": {"only_output_feature_list": True},
                },
                {
                    "name": "deep_logit",
                    "inputs": [{"feature_group_name": "deep"}],
                    "layer": {
                        "class_name": "MLP",
                        "params": {
                            "hidden_units": [8, 1],
                            "dropout_ratio": dropout,
                            "use_final_bn": False,
                            "final_activation": "linear",
                        },
                    },
                },
                {
                    "name": "final_logit",
                    "merge_inputs_into_list": True,
                    "inputs": [
                        {"block_name": "wide", "input_fn": "lambda x: tf.add_n(x)"},
                        {"block_name": "deep_logit"},
                    ],
                    "layer": {"class_name": "Add"},
                },
            ],
            "concat_blocks": ["final_logit"],
        },
        "model_params": {"l2_regularization": 1e-4},
        "embedding_regularization": 1e-4,
    }


def toy_model(dropout: float = 0.0) -> ModelConfig:
    return ModelConfig.from_dict(toy_model_dict(dropout))


def toy_encoded(n: int = 600, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Encoded columns and labels with a learnable signal."""
    rng = np.random.default_rng(seed)
    u = rng.integers(2, 22, n)
    i = rng.integers(2, 32, n)
    tags = rng.integers(0, 7, (n, 3))
    x = rng.normal(size=n).astype(np.float32)
    logit = (u % 3 - 1) + (i % 2) * 1.0 + x
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return {"u": u, "i": i, "tags": tags, "x": x}, y


def check_fit_round_trip_and_export(model, frame, tmp_path, min_auc: float = 0.6) -> None:
    """A fitted click-through model: finite, varied predictions with AUC above ``min_auc`` on
    ``frame``, the same scores after save/load and from its ONNX export."""
    from sklearn.metrics import roc_auc_score

    from recutils.models import load_model
    from recutils.serving.onnx_export import export_onnx, load_onnx_scorer

    pred = model.predict(frame)["prediction"].to_numpy()
    assert pred.shape == (len(frame),) and np.isfinite(pred).all() and np.std(pred) > 0
    assert roc_auc_score(frame["label"], pred) > min_auc
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model)
    np.testing.assert_allclose(loaded.predict(frame)["prediction"], pred, rtol=1e-6)
    scorer = load_onnx_scorer(export_onnx(model, tmp_path / "onnx"))
    np.testing.assert_allclose(scorer.predict(frame), pred, atol=1e-5, rtol=0)
