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


def test_logq_and_accidental_hit_options_are_checked_and_round_trip() -> None:
    with pytest.raises(ConfigError, match="logq_correction"):
        TFRSRetrieval(logq_correction="yes")
    with pytest.raises(ConfigError, match="remove_accidental_hits"):
        TFRSRetrieval(remove_accidental_hits=1)
    config = TFRSRetrieval(logq_correction=True, remove_accidental_hits=True).config
    again = type(config).from_dict(config.to_dict())
    assert again.logq_correction and again.remove_accidental_hits
    default = TFRSRetrieval().config
    assert not default.logq_correction and not default.remove_accidental_hits  # TFRS' defaults


@pytest.mark.parametrize("logq", [False, True])
def test_logq_probability_passed_is_the_training_frequency(logq, monkeypatch) -> None:
    """The network gets, per item, its share of the training rows (or nothing when off)."""
    _needs_tfrs()
    tf_helper.import_tfrs(1)
    from recutils.models.tfrs import _networks as nets

    seen = []
    real_train = nets.train

    def spy(net, *args, **kwargs):
        seen.append(net)
        return real_train(net, *args, **kwargs)

    monkeypatch.setattr(nets, "train", spy)
    df = toy_interactions()
    model = TFRSRetrieval(**FAST, logq_correction=logq).fit(df)
    (net,) = seen
    if not logq:
        assert net.item_probability is None
        return
    by_row = net.item_probability.numpy()
    share = df["itemID"].value_counts(normalize=True)
    expected = share.reindex(model.item_ids_).to_numpy()
    np.testing.assert_allclose(by_row[model.item_rows_], expected, rtol=1e-6)
    assert by_row.sum() == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("logq, hits", [(False, False), (True, False), (False, True), (True, True)])
def test_retrieval_loss_known_answer_with_logq_and_accidental_hits(logq, hits) -> None:
    """The task's loss equals the in-batch softmax cross-entropy computed by hand: logits
    ``u . i - log p(i)`` (logQ), and a repeated positive masked out as a negative."""
    _needs_tfrs()
    tf_helper.import_tfrs(1)
    from recutils.models.tfrs import _networks as nets

    nets.tf.keras.utils.set_random_seed(0)
    n_users, n_items, d = 3, 4, 5
    user = nets.Tower(n_users, np.zeros((n_users, 0), np.int64), [], d)
    item = nets.Tower(n_items, np.zeros((n_items, 0), np.int64), [], d)
    p = np.array([0.1, 0.4, 0.3, 0.2])
    net = nets.RetrievalNet(
        user, item, n_items, None, item_probability=p if logq else None, remove_accidental_hits=hits
    )
    users = np.array([0, 1, 2, 0], np.int64)
    items = np.array([1, 2, 1, 3], np.int64)  # item 1 is the positive of rows 0 and 2
    batch = {"user": nets.tf.constant(users), "item": nets.tf.constant(items)}
    loss = float(net.compute_loss(batch, training=True))

    u = user(batch["user"]).numpy().astype(np.float64)
    v = item(batch["item"]).numpy().astype(np.float64)
    logits = u @ v.T
    if logq:
        logits -= np.log(p[items])[None, :]
    if hits:
        same = (items[:, None] == items[None, :]) & ~np.eye(len(items), dtype=bool)
        logits[same] = -np.inf
    logsumexp = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    expected = float((logsumexp - np.diag(logits)).sum())
    assert loss == pytest.approx(expected, rel=1e-5)
    if logq or hits:  # the options change the loss
        plain = nets.RetrievalNet(user, item, n_items, None)
        assert float(plain.compute_loss(batch, training=True)) != pytest.approx(expected, rel=1e-5)
