"""TensorFlow Recommenders wrappers: the lazy TensorFlow import, features, artifacts, errors.

The contract suite (tests/unit/test_contract.py) covers both models' lifecycle; here:
what is specific to TensorFlow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError, MissingDependencyError
from recutils.models import create_model, list_models
from recutils.models.factors import block_toy
from recutils.models.persistence import ArtifactIntegrityError
from recutils.models.tfrs import TFRSRanking, TFRSRetrieval
from recutils.testing import toy_interactions
from recutils.utils import tensorflow as tf_helper

FAST = {"embedding_dim": 8, "epochs": 2, "batch_size": 64, "seed": 0, "num_threads": 1}


def _needs_tfrs() -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("tensorflow_recommenders")


def test_registry_and_package_import_no_tensorflow() -> None:
    code = (
        "import sys, recutils, recutils.models, recutils.models.registry\n"
        "from recutils.models import get_model_class\n"
        "get_model_class('tfrs_retrieval'); get_model_class('tfrs_ranking')\n"
        "import recutils.models.tfrs, recutils.utils.tensorflow, recutils.serving.tf_export\n"
        "print([m for m in ('tensorflow', 'tensorflow_recommenders', 'tf_keras') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert {"tfrs_retrieval", "tfrs_ranking"} <= set(list_models())


def test_missing_tensorflow_names_the_extra(monkeypatch) -> None:
    for name in [m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # "import tensorflow" now raises
    model = TFRSRetrieval(**FAST)  # building a model needs no TensorFlow
    with pytest.raises(MissingDependencyError, match=r"recutils\[tensorflow\]") as info:
        model.fit(toy_interactions())
    assert info.value.extra == "tensorflow"
    assert not model.is_fitted


def test_keras3_already_loaded_is_a_clear_error(monkeypatch) -> None:
    fake = types.ModuleType("tensorflow")
    fake.keras = types.SimpleNamespace(__name__="keras._tf_keras.keras")  # Keras 3's tf.keras
    monkeypatch.setitem(sys.modules, "tensorflow", fake)
    monkeypatch.setitem(sys.modules, "tf_keras", types.ModuleType("tf_keras"))
    with pytest.raises(ConfigError, match="TF_USE_LEGACY_KERAS=1"):
        tf_helper.import_tensorflow()


def test_importing_the_package_selects_legacy_keras() -> None:
    assert os.environ.get(tf_helper.LEGACY_KERAS_ENV) == "1"
    _needs_tfrs()
    tf = tf_helper.import_tensorflow()
    assert tf.keras.__name__.startswith("tf_keras")


def test_bad_config_names_the_value() -> None:
    with pytest.raises(ConfigError, match="optimizer"):
        TFRSRetrieval(optimizer="lbfgs")
    with pytest.raises(ConfigError, match="target"):
        TFRSRanking(target="hinge")
    with pytest.raises(ConfigError, match="user_features"):
        TFRSRetrieval(user_features=["a", "a"])


def test_retrieval_learns_the_block_structure() -> None:
    """Two disjoint communities: the top item a user lacks comes from their own block."""
    _needs_tfrs()
    train, _ = block_toy()
    model = TFRSRetrieval(embedding_dim=8, epochs=40, batch_size=8, learning_rate=0.2, seed=0).fit(
        train
    )
    rec = model.recommend_k_items(train["userID"].unique(), top_k=1)
    own = np.where(rec["userID"] <= 6, rec["itemID"] <= 5, rec["itemID"] >= 6)
    assert own.mean() >= 0.9, rec
    assert model.loss_history_[-1] < model.loss_history_[0]


def test_features_reach_the_towers_and_missing_ones_raise() -> None:
    _needs_tfrs()
    df = toy_interactions()
    df["genre"] = np.where(df["itemID"] % 2 == 0, "even", "odd")
    df["age"] = (df["userID"] % 3).astype(str)
    model = TFRSRetrieval(**FAST, user_features=["age"], item_features=["genre"]).fit(df)
    assert model.item_feature_codes_.shape == (model.n_items_, 1)
    assert model.item_feature_sizes_ == [3]  # missing, even, odd
    assert model.user_embeddings_.shape == (model.n_users_, 8)
    ranking = TFRSRanking(**FAST, item_features=["genre"]).fit(df)
    assert np.isfinite(ranking.predict(df)["prediction"]).all()
    with pytest.raises(DataError, match=r"\['genre'\]"):
        TFRSRetrieval(**FAST, item_features=["genre"]).fit(df.drop(columns="genre"))


def test_click_target_gives_probabilities_and_checks_labels() -> None:
    _needs_tfrs()
    df = toy_interactions()
    df["click"] = (df["rating"] >= 4).astype(float)
    model = TFRSRanking(**FAST, target="click", col_rating="click").fit(df)
    p = model.predict(df)["prediction"]
    assert ((p > 0) & (p < 1)).all()
    with pytest.raises(DataError, match="0/1"):
        TFRSRanking(**FAST, target="click").fit(df)  # ratings 1..5 are not labels


@pytest.mark.parametrize("cls", [TFRSRetrieval, TFRSRanking])
def test_tampered_saved_model_is_refused(cls, tmp_path) -> None:
    """A changed SavedModel file fails its checksum before TensorFlow reads it."""
    _needs_tfrs()
    df = toy_interactions()
    model = cls(**FAST).fit(df)
    folder = model.save(tmp_path / "m")
    files = sorted((folder / "saved_model").rglob("*.data-*"))
    assert files, "a SavedModel holds its variables"
    pd.testing.assert_frame_equal(cls.load(folder).predict(df), model.predict(df))
    blob = bytearray(files[0].read_bytes())
    blob[-1] ^= 0xFF
    files[0].write_bytes(bytes(blob))
    with pytest.raises(ArtifactIntegrityError, match="SHA-256"):
        cls.load(folder)


def test_artifact_of_a_tfrs_model_verifies_and_loads(tmp_path) -> None:
    _needs_tfrs()
    from recutils.serving import load_model, save_artifact

    df = toy_interactions()
    model = create_model("tfrs_retrieval", **FAST).fit(df)
    folder = save_artifact(model, tmp_path / "a")
    loaded = load_model(folder)
    np.testing.assert_array_equal(loaded.item_embeddings_, model.item_embeddings_)
    (folder / "saved_model" / "extra.txt").write_text("x")
    with pytest.raises(ArtifactIntegrityError):
        load_model(folder)
