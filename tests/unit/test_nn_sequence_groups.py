"""SEQUENCE feature groups: the history position by position for sequence components, its errors,
training, save/load and ONNX export of a model that reads one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from recutils.exceptions import ConfigError  # noqa: E402
from recutils.models.deep import DeepRankModel  # noqa: E402
from recutils.nn.components.sequence_input import SequenceFeatures, SequencePooling  # noqa: E402

TRAIN = {
    "epochs": 4,
    "batch_size": 64,
    "progress": False,
    "num_threads": 1,
    "optimizers": [{"name": "adam", "lr": 0.01, "params": "all"}],
}


def _config(
    seq_block: dict | None = None, groups: list | None = None, features: list | None = None
) -> dict:
    return {
        "features": features
        or [
            {"name": "user", "column": "@user"},
            {"name": "item", "column": "@item", "embedding_name": "items"},
            {"name": "hist", "type": "sequence", "max_length": 4, "embedding_name": "items"},
        ],
        "default_embedding_dim": 8,
        "model_config": {
            "feature_groups": groups
            or [
                {
                    "group_name": "behaviour",
                    "feature_names": ["hist", "item"],
                    "wide_deep": "SEQUENCE",
                },
                {"group_name": "deep", "feature_names": ["user", "item"]},
            ],
            "backbone": {
                "blocks": [
                    seq_block
                    or {
                        "name": "history",
                        "inputs": [{"feature_group_name": "behaviour"}],
                        "layer": {
                            "class_name": "SequencePooling",
                            "params": {"mode": "last", "concat_query": True},
                        },
                    },
                    {
                        "name": "top",
                        "inputs": [{"feature_group_name": "deep"}, {"block_name": "history"}],
                        "layer": {"class_name": "MLP", "params": {"hidden_units": [16]}},
                    },
                ],
                "concat_blocks": ["top"],
            },
        },
        "train": TRAIN,
    }


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """Clicks follow the newest behaviour: the target is the last history item + 1 (label 1) or a
    random item; the earlier history items are noise."""
    rng = np.random.default_rng(0)
    n, n_items = 3000, 20
    length = rng.choice([0, 4, 5, 6], n)
    last = rng.integers(0, n_items, n)
    earlier = rng.integers(0, n_items, (n, 5))
    hist = [
        [int(v) for v in row[: m - 1]] + [int(x)] if m else []
        for row, x, m in zip(earlier, last, length)
    ]
    positive = rng.random(n) < 0.5
    item = np.where(positive, (last + 1) % n_items, rng.integers(0, n_items, n))
    label = ((item == (last + 1) % n_items) & (length > 0)).astype(float)
    return pd.DataFrame(
        {"userID": rng.integers(0, 30, n), "itemID": item, "hist": hist, "label": label}
    )


@pytest.fixture(scope="module")
def model(data) -> DeepRankModel:
    return DeepRankModel(config=_config(), col_rating="label", seed=0).fit(data)


def test_the_input_layer_gives_history_mask_and_query(model, data):
    from recutils.nn.data import TensorData

    net = model.network_
    layer = next(m for m in net.modules() if type(m).__name__ == "SequenceInputLayer")
    rows = data.iloc[:6]
    encoded = model.encoder_.transform(
        rows.rename(columns={"userID": "user", "itemID": "item"}).assign(
            userID=rows["userID"], itemID=rows["itemID"]
        )
    )
    batch = TensorData.from_encoded(encoded, net.backbone.layout).batch(slice(0, 6))
    with torch.no_grad():
        out = layer(batch)
    assert isinstance(out, SequenceFeatures)
    assert out.seq.shape == (6, 4, 8) and out.mask.shape == (6, 4) and out.query.shape == (6, 8)
    lengths = np.minimum(data["hist"].iloc[:6].map(len).to_numpy(), 4)
    np.testing.assert_array_equal(out.lengths.numpy(), lengths)
    assert torch.all(out.seq[~out.mask] == 0)


def test_a_model_reading_the_history_learns_what_pooling_cannot(model, data):
    """The label needs the newest history item; the same data with the history mean-pooled in
    a DEEP group (the only way before SEQUENCE groups) stays near chance."""
    from sklearn.metrics import roc_auc_score

    test = data.sample(800, random_state=1)
    with_history = roc_auc_score(test["label"], model.predict(test)["prediction"])
    assert with_history > 0.9
    pooled = _config(
        groups=[
            {"group_name": "behaviour", "feature_names": ["hist", "item"], "wide_deep": "SEQUENCE"},
            {"group_name": "deep", "feature_names": ["user", "item", "hist"]},
        ],
        seq_block={
            "name": "history",
            "inputs": [{"feature_group_name": "behaviour"}],
            "layer": {"class_name": "SequencePooling", "params": {"mode": "mean"}},
        },
    )
    pooled["model_config"]["backbone"]["blocks"][1]["inputs"] = [{"feature_group_name": "deep"}]
    pooled["model_config"]["feature_groups"] = pooled["model_config"]["feature_groups"][1:]
    pooled["model_config"]["backbone"]["blocks"] = pooled["model_config"]["backbone"]["blocks"][1:]
    baseline = DeepRankModel(config=pooled, col_rating="label", seed=0).fit(data)
    assert roc_auc_score(test["label"], baseline.predict(test)["prediction"]) < with_history - 0.1
    assert model.history_["valid_auc"].iloc[-1] > model.history_["valid_auc"].iloc[0]


def test_save_load_and_onnx_export_agree(model, data, tmp_path):
    from recutils.models import load_model
    from recutils.serving.onnx_export import export_onnx, load_onnx_scorer

    rows = data.iloc[:50]
    expected = model.predict(rows)["prediction"].to_numpy()
    model.save(tmp_path / "m")
    np.testing.assert_allclose(
        load_model(tmp_path / "m").predict(rows)["prediction"], expected, rtol=1e-6
    )
    scorer = load_onnx_scorer(export_onnx(model, tmp_path / "onnx"))
    np.testing.assert_allclose(scorer.predict(rows), expected, atol=1e-5, rtol=0)


def test_pooling_modes_known_answers():
    seq = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    x = SequenceFeatures(seq, mask, torch.ones(2, 2))
    expect = {
        "mean": [[2.0, 3.0], [0, 0]],
        "sum": [[4.0, 6.0], [0, 0]],
        "max": [[3.0, 4.0], [0, 0]],
        "last": [[3.0, 4.0], [0, 0]],
    }
    for mode, want in expect.items():
        np.testing.assert_allclose(SequencePooling(2, 2, mode)(x).numpy(), want)
    assert SequencePooling(2, 2, "mean", concat_query=True)(x).shape == (2, 4)
    with pytest.raises(ValueError, match="query"):
        SequencePooling(2, 0, "mean", concat_query=True)


def test_wiring_errors_name_the_block_and_the_fix(data):
    mlp_on_sequence = {
        "name": "history",
        "inputs": [{"feature_group_name": "behaviour"}],
        "layer": {"class_name": "MLP", "params": {"hidden_units": [4]}},
    }
    with pytest.raises(ConfigError, match="block 'history': MLP needs .* SEQUENCE group"):
        DeepRankModel(config=_config(mlp_on_sequence), col_rating="label").fit(data.iloc[:200])
    pooling_on_deep = {
        "name": "history",
        "inputs": [{"feature_group_name": "deep"}],
        "layer": {"class_name": "SequencePooling"},
    }
    with pytest.raises(ConfigError, match="reads a behaviour sequence"):
        DeepRankModel(config=_config(pooling_on_deep), col_rating="label").fit(data.iloc[:200])
    two_inputs = {
        "name": "history",
        "inputs": [{"feature_group_name": "behaviour"}, {"feature_group_name": "deep"}],
        "layer": {"class_name": "SequencePooling"},
    }
    with pytest.raises(ConfigError, match="must be the block's only input"):
        DeepRankModel(config=_config(two_inputs), col_rating="label")
    features = _config()["features"] + [
        {"name": "hist2", "type": "sequence", "max_length": 3, "embedding_name": "items"},
        {"name": "price", "type": "numeric", "column": "userID"},
    ]
    data2 = data.assign(hist2=data["hist"])
    for names, match in (
        (["hist", "hist2", "item"], "one max_length"),
        (["hist", "price"], "price"),
        (["item"], "no sequence feature"),
    ):
        groups = [
            {"group_name": "behaviour", "feature_names": names, "wide_deep": "SEQUENCE"},
            {"group_name": "deep", "feature_names": ["user", "item"]},
        ]
        with pytest.raises(ConfigError, match=match):
            DeepRankModel(config=_config(groups=groups, features=features), col_rating="label").fit(
                data2.iloc[:200]
            )


def test_a_history_item_and_the_same_target_item_share_one_row(model):
    """Numeric item ids in the target column and in the history lists meet in one vocabulary."""
    vocab = model.encoder_._tables["items"].vocab
    assert vocab.is_unique and len(vocab) == 20
    target = model.encoder_.encode_feature("item", pd.Series([3, 7]))
    history = model.encoder_.encode_feature("hist", pd.Series([[3, 7]]))
    np.testing.assert_array_equal(history[0, :2], target)


@pytest.mark.parametrize(
    "component,params",
    [
        ("TargetAttention", {"normalization": "softmax", "concat_query": True}),
        ("InterestEvolution", {"concat_query": True, "auxiliary_loss_weight": 0.5}),
        ("BSTBlock", {"max_len": 4}),
        ("AttentiveAsyncSVD", {}),
        ("UserMemory", {}),
    ],
)
def test_every_sequence_component_trains_through_the_backbone_and_exports(
    component, params, data, tmp_path
):
    from sklearn.metrics import roc_auc_score

    from recutils.serving.onnx_export import export_onnx, load_onnx_scorer

    block = {
        "name": "history",
        "inputs": [{"feature_group_name": "behaviour"}],
        "layer": {"class_name": component, "params": params},
    }
    model = DeepRankModel(config=_config(block), col_rating="label", seed=0).fit(data)
    test = data.sample(600, random_state=2)
    assert roc_auc_score(test["label"], model.predict(test)["prediction"]) > 0.65  # chance: 0.5
    rows = data.iloc[:40]
    scorer = load_onnx_scorer(export_onnx(model, tmp_path / component))
    np.testing.assert_allclose(
        scorer.predict(rows), model.predict(rows)["prediction"], atol=1e-5, rtol=0
    )


def test_dien_adds_its_weighted_auxiliary_loss_once_per_training_step(data):
    block = {
        "name": "history",
        "inputs": [{"feature_group_name": "behaviour"}],
        "layer": {"class_name": "InterestEvolution", "params": {"auxiliary_loss_weight": 0.5}},
    }
    model = DeepRankModel(config=_config(block), col_rating="label", seed=0).fit(data.iloc[:300])
    net = model.network_.train()
    from recutils.nn.data import TensorData

    rows = data.iloc[:32]
    encoded = model.encoder_.transform(rows.assign(user=rows["userID"], item=rows["itemID"]))
    batch = TensorData.from_encoded(encoded, net.backbone.layout).batch(slice(0, 32))
    net(batch)
    dien = next(m for m in net.modules() if type(m).__name__ == "InterestEvolution")
    raw = float(dien.auxiliary_loss.detach())
    assert raw > 0 and float(net.regularization_loss().detach()) == pytest.approx(
        0.5 * raw, rel=1e-6
    )
    assert net.regularization_loss() is None  # read once
    net.eval()
    net(batch)
    assert dien.auxiliary_loss is None and net.regularization_loss() is None


def _timed(data: pd.DataFrame) -> pd.DataFrame:
    """The toy data with a time gap per history position (hours before the target)."""
    return data.assign(gaps=data["hist"].map(lambda h: [float(len(h) - k) for k in range(len(h))]))


TIMED_FEATURES = [
    {"name": "user", "column": "@user"},
    {"name": "item", "column": "@item", "embedding_name": "items"},
    {"name": "hist", "type": "sequence", "max_length": 4, "embedding_name": "items"},
    {"name": "gaps", "type": "sequence", "numeric": True, "max_length": 4},
]
TIMED_GROUPS = [
    {"group_name": "behaviour", "feature_names": ["hist", "item", "gaps"], "wide_deep": "SEQUENCE"},
    {"group_name": "deep", "feature_names": ["user", "item"]},
]


@pytest.mark.parametrize("component", ["TimeAwareLSTM", "SLiRec"])
def test_numeric_sequences_reach_time_aware_components(component, data, tmp_path):
    from sklearn.metrics import roc_auc_score

    from recutils.serving.onnx_export import export_onnx, load_onnx_scorer

    timed = _timed(data)
    block = {
        "name": "history",
        "inputs": [{"feature_group_name": "behaviour"}],
        "layer": {"class_name": component},
    }
    model = DeepRankModel(
        config=_config(block, TIMED_GROUPS, TIMED_FEATURES), col_rating="label", seed=0
    ).fit(timed)
    gaps = model.encoder_.encode_feature(
        "gaps", pd.Series([[3.0, 2.0, 1.0], [], [9.0, 8.0, 7.0, 6.0, 5.0]])
    )
    assert gaps.dtype == np.float32 and gaps.shape == (3, 4)
    assert (gaps[0, 3] == 0) and (gaps[1] == 0).all() and gaps[0, 0] > gaps[0, 1] > gaps[0, 2]
    state = model.encoder_._fitted["gaps"]
    np.testing.assert_allclose(
        gaps[2], (np.array([8.0, 7.0, 6.0, 5.0]) - state.mean) / state.scale, rtol=1e-6
    )
    test = timed.sample(600, random_state=2)
    assert roc_auc_score(test["label"], model.predict(test)["prediction"]) > 0.65  # chance: 0.5
    rows = timed.iloc[:40]
    scorer = load_onnx_scorer(export_onnx(model, tmp_path / component))
    np.testing.assert_allclose(
        scorer.predict(rows), model.predict(rows)["prediction"], atol=1e-5, rtol=0
    )


def test_numeric_sequences_are_refused_outside_sequence_groups_and_checked(data):
    timed = _timed(data)
    groups = [
        {"group_name": "behaviour", "feature_names": ["hist", "item"], "wide_deep": "SEQUENCE"},
        {"group_name": "deep", "feature_names": ["user", "item", "gaps"]},
    ]
    with pytest.raises(ConfigError, match="'gaps' is a numeric sequence"):
        DeepRankModel(config=_config(None, groups, TIMED_FEATURES), col_rating="label").fit(
            timed.iloc[:200]
        )
    from recutils.nn.features import FeatureConfig

    with pytest.raises(ConfigError, match="sequence features only"):
        FeatureConfig(name="x", type="numeric", numeric=True)
    with pytest.raises(ConfigError, match="no embedding table"):
        FeatureConfig(name="x", type="sequence", numeric=True, embedding_name="items")
