"""ONNX export of trained click-through models: raw rows scored by the stand-alone scorer
agree with the in-process predict to 1e-5, for every zoo model."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from recutils.exceptions import ConfigError, NotFittedError  # noqa: E402
from recutils.models import create_model  # noqa: E402
from recutils.models.ctr import PRESETS  # noqa: E402
from recutils.models.deep import DeepRankModel  # noqa: E402
from recutils.serving.onnx_export import export_onnx, load_onnx_scorer  # noqa: E402

FAST = {
    "epochs": 1,
    "batch_size": 128,
    "validation_fraction": 0.0,
    "early_stopping_metric": None,
    "progress": False,
}


def movielens_like(n: int = 700, seed: int = 0) -> pd.DataFrame:
    """Rows with MovieLens' CTR columns (the zoo presets' features) and a learnable label."""
    rng = np.random.default_rng(seed)
    genres = np.array(["Action", "Comedy", "Drama", "Action|Comedy", "Drama|Romance|War", "Horror"])
    df = pd.DataFrame(
        {
            "userID": rng.integers(1, 40, n),
            "itemID": rng.integers(1, 60, n),
            "occupation": rng.choice(["artist", "doctor", "student", "writer"], n),
            "age": rng.integers(7, 74, n).astype(float),
            "gender": rng.choice(["M", "F"], n),
            "year": rng.integers(1930, 1999, n).astype(float),
            "genres": rng.choice(genres, n),
        }
    )
    df["label"] = (
        (df["userID"] % 3 == 0) ^ (df["itemID"] % 2 == 0) ^ (rng.random(n) < 0.2)
    ).astype(float)
    return df


def held_out(df: pd.DataFrame) -> pd.DataFrame:
    """Held-out rows, with unseen ids, unseen categories and missing values mixed in."""
    rows = movielens_like(120, seed=1)
    rows.loc[:9, "userID"] = 999
    rows.loc[10:14, "itemID"] = 5000
    rows.loc[15:19, "occupation"] = "astronaut"
    rows.loc[20:24, ["age", "year"]] = np.nan
    rows.loc[25:29, "genres"] = None
    rows.loc[30:34, "genres"] = "Sci-Fi|Action"
    rows.loc[35:37, "gender"] = None
    return rows


@pytest.fixture(scope="module")
def data():
    df = movielens_like()
    return df, held_out(df)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_zoo_model_exports_and_scores_raw_rows(name, data, tmp_path):
    train, test = data
    model = create_model(name, col_rating="label", train=FAST).fit(train)
    folder = export_onnx(model, tmp_path / name)
    scorer = load_onnx_scorer(folder)
    exported = scorer.predict(test)
    in_process = model.predict(test, score_unknown=True)["prediction"].to_numpy()
    assert exported.shape == (len(test),)
    assert np.isfinite(exported).all()
    np.testing.assert_allclose(exported, in_process, atol=1e-5, rtol=0)
    assert np.std(in_process) > 0  # the rows are not all scored alike
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"] == name and set(manifest["columns"]) <= set(test.columns)


def test_encoder_kinds_hash_sequence_and_numeric(tmp_path):
    """Hashing, sequences, standardized numeric and bucketized features encode alike."""
    df = movielens_like(500)
    df["history"] = df["itemID"].astype(str) + "," + (df["itemID"] + 1).astype(str) + ",7"
    cfg = {
        "features": [
            {"name": "user", "column": "@user", "hash_buckets": 16},
            {"name": "item", "column": "@item"},
            {"name": "occupation", "hash_buckets": 5},
            {"name": "age", "type": "numeric"},
            {"name": "year", "type": "numeric", "normalization": "minmax"},
            {"name": "history", "type": "sequence", "separator": ",", "max_length": 2},
        ],
        "default_embedding_dim": 4,
        "model_config": {
            "feature_groups": [
                {
                    "group_name": "deep",
                    "feature_names": ["user", "item", "occupation", "age", "year", "history"],
                }
            ],
            "backbone": {
                "blocks": [
                    {
                        "name": "mlp",
                        "inputs": [{"feature_group_name": "deep"}],
                        "layer": {"class_name": "MLP", "params": {"hidden_units": [8]}},
                    }
                ],
                "concat_blocks": ["mlp"],
            },
        },
        "train": FAST,
    }
    model = DeepRankModel(config=cfg, col_rating="label").fit(df)
    test = held_out(df)
    test["history"] = ["1,2,3", None, "999"] * 40
    scorer = load_onnx_scorer(export_onnx(model, tmp_path / "m"))
    np.testing.assert_allclose(
        scorer.predict(test),
        model.predict(test, score_unknown=True)["prediction"],
        atol=1e-5,
        rtol=0,
    )
    assert scorer.predict(test.iloc[:0]).shape == (0,)


def test_artifact_scores_without_recutils(tmp_path, data):
    """The folder's scorer.py runs in a process where importing recutils fails."""
    train, test = data
    model = create_model("deepfm", col_rating="label", train=FAST).fit(train)
    folder = export_onnx(model, tmp_path / "deepfm")
    test.to_csv(tmp_path / "rows.csv", index=False)
    expected = model.predict(test, score_unknown=True)["prediction"].to_numpy()
    script = textwrap.dedent(f"""
        import importlib.abc, importlib.util, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "recutils" or name.startswith("recutils."):
                    raise ImportError("recutils is not available here")
        sys.meta_path.insert(0, Block())
        import numpy as np, pandas as pd
        spec = importlib.util.spec_from_file_location("scorer", {str(folder / "scorer.py")!r})
        scorer = importlib.util.module_from_spec(spec); spec.loader.exec_module(scorer)
        rows = pd.read_csv({str(tmp_path / "rows.csv")!r})
        np.save({str(tmp_path / "out.npy")!r}, scorer.OnnxScorer({str(folder)!r}).predict(rows))
        assert not any(m == "recutils" or m.startswith("recutils.") for m in sys.modules)
        assert "torch" not in sys.modules
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5, rtol=0)


def test_export_errors(tmp_path, data):
    train, _ = data
    with pytest.raises(NotFittedError):
        export_onnx(create_model("fm"), tmp_path / "x")
    model = create_model("fm", col_rating="label", train=FAST).fit(train)
    folder = export_onnx(model, tmp_path / "fm")
    with pytest.raises(ConfigError, match="exists"):
        export_onnx(model, folder)
    with pytest.raises(ConfigError, match="exporter"):
        export_onnx(model, tmp_path / "y", exporter="tflite")
    (folder / "encoder.json").write_text(
        (folder / "encoder.json").read_text().replace('"mean"', '"mean" ')
    )
    with pytest.raises(ConfigError, match="checksum"):
        load_onnx_scorer(folder)
    with pytest.raises(KeyError, match="gender"):
        load_onnx_scorer(export_onnx(model, folder, overwrite=True)).predict(
            train.drop(columns="gender")
        )
