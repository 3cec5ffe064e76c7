"""Multi-task networks and models: config checks, the loss formulas, the trainer's per-task
history, labels, ESMM's entire space, save/load and ONNX with one output per task."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ColumnMismatchError, ConfigError, DataError
from recutils.nn.config import ModelConfig, TaskTowerConfig

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")

from recutils.models import create_model, load_model  # noqa: E402
from recutils.models.multitask import MULTITASK_PRESETS, MultiTaskRankModel  # noqa: E402
from recutils.nn.data import TensorData  # noqa: E402
from recutils.nn.multitask import build_multitask_network  # noqa: E402
from recutils.nn.trainer import Trainer  # noqa: E402
from tests.unit._nn_helpers import toy_encoded, toy_specs  # noqa: E402

FEATS = ["u", "i", "tags", "x"]


def _config(towers: list[dict], **params) -> dict:
    return {
        "model_name": "mt",
        "model_class": "MultiTaskModel",
        "feature_groups": [{"group_name": "all", "feature_names": FEATS}],
        "backbone": {
            "blocks": [
                {"name": "all", "inputs": [{"feature_group_name": "all"}], "input_layer": {}},
                {
                    "name": "bottom",
                    "inputs": [{"block_name": "all"}],
                    "layer": {"class_name": "MLP", "params": {"hidden_units": [16]}},
                },
            ],
            "concat_blocks": ["bottom"],
        },
        "model_params": {"task_towers": towers, **params},
    }


TWO = [
    {"tower_name": "ctr", "label_name": "click", "mlp": {"hidden_units": [8]}},
    {"tower_name": "cvr", "label_name": "buy", "mlp": {"hidden_units": [8]}},
]


def _network(towers=TWO, **params):
    return build_multitask_network(
        ModelConfig.from_dict(_config(copy.deepcopy(towers), **params)), toy_specs(), seed=0
    )


def _batch(n: int = 64, seed: int = 0) -> tuple[dict, torch.Tensor]:
    encoded, y = toy_encoded(n, seed)
    from recutils.nn.data import BatchLayout

    data = TensorData.from_encoded(encoded, BatchLayout.from_specs(toy_specs()))
    rng = np.random.default_rng(seed)
    buy = y * (rng.random(n) < 0.5)
    return data.tensors, torch.tensor(np.stack([y, buy], axis=1), dtype=torch.float32)


def _bce(p: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


# ---------------------------------------------------------------- config
@pytest.mark.parametrize(
    "towers, params, match",
    [
        ([], {}, "needs model_params.task_towers"),
        ([{**TWO[0]}, {**TWO[1], "entire_space_of": "nope"}], {}, "'nope', which does not exist"),
        ([{**TWO[0], "relation_tower_names": ["cvr"]}, TWO[1]], {}, "comes after it"),
        ([TWO[0], {**TWO[1], "transfer_from": "cvr"}], {}, "depends on itself"),
        ([TWO[0], {**TWO[1], "calibration_weight": 0.5}], {}, "needs transfer_from"),
        ([TWO[0], {**TWO[1], "input": "missing"}], {}, "input 'missing' is not a block"),
        ([TWO[0], {**TWO[1], "tower_name": "ctr"}], {}, "used twice"),
        (
            [TWO[0], {**TWO[1], "loss_type": "regression", "entire_space_of": "ctr"}],
            {},
            "needs a classification",
        ),
        ([TWO[0], {**TWO[1], "metrics": ["logloss"]}], {}, "mix higher- and lower-is-better"),
        (TWO, {"rank_task": "ctcvr"}, "rank_task 'ctcvr' is not a task tower"),
        ([TWO[0], {**TWO[1], "metrics": ["precision_at_k"]}], {}, "rating metrics"),
        ([TWO[0], {**TWO[1], "mlp": {"hidden_unit": [4]}}], {}, "mlp"),
        ([TWO[0], {**TWO[1], "label_name": ""}], {}, "label_name"),
        ([{**TWO[0], "weight": 0}, {**TWO[1], "weight": 0}], {}, "every task tower has weight 0"),
        ([TWO[0], {**TWO[1], "weight": -1}], {}, "weight must be a finite number >= 0"),
    ],
)
def test_bad_multitask_configs_name_the_field(towers, params, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig.from_dict(_config(copy.deepcopy(towers), **params))


def test_task_towers_belong_to_multitask_models_only():
    cfg = _config(copy.deepcopy(TWO))
    cfg["model_class"] = "RankModel"
    with pytest.raises(ConfigError, match="task_towers need model_class: MultiTaskModel"):
        ModelConfig.from_dict(cfg)
    from recutils.nn.backbone import build_rank_network

    with pytest.raises(ConfigError, match="not a rank model"):
        build_rank_network(ModelConfig.from_dict(_config(copy.deepcopy(TWO))), toy_specs())


def test_tower_defaults_and_easyrec_loss_names():
    t = TaskTowerConfig.from_dict(
        {"tower_name": "watch", "label_name": "secs", "loss_type": "L2_LOSS"}
    )
    assert (t.loss_type, t.metrics) == ("regression", ["rmse"])
    assert TaskTowerConfig.from_dict({"tower_name": "c", "label_name": "y"}).metrics == ["auc"]


# ---------------------------------------------------------------- network
def test_outputs_predictions_and_the_fixed_weighted_loss_by_hand():
    towers = [{**TWO[0], "weight": 1.0}, {**TWO[1], "weight": 0.5}]
    net = _network(towers).eval()
    batch, labels = _batch()
    logits = net(batch)
    assert logits.shape == (64, 2)
    with torch.no_grad():
        p = torch.sigmoid(logits).numpy()
        y = labels.numpy()
        expected = 1.0 * _bce(p[:, 0], y[:, 0]) + 0.5 * _bce(p[:, 1], y[:, 1])
        assert float(net.compute_loss(logits, labels)) == pytest.approx(expected, rel=1e-5)
        np.testing.assert_allclose(net.to_prediction(logits).numpy(), p, rtol=1e-6)


def test_esmm_predicts_and_trains_on_the_product_of_the_two_towers():
    net = _network([TWO[0], {**TWO[1], "entire_space_of": "ctr"}]).eval()
    batch, labels = _batch()
    with torch.no_grad():
        logits = net(batch)
        p = torch.sigmoid(logits).numpy()
        pred = net.to_prediction(logits).numpy()
        np.testing.assert_allclose(pred[:, 1], p[:, 0] * p[:, 1], rtol=1e-6)
        np.testing.assert_allclose(net.conditional_probabilities(logits).numpy(), p, rtol=1e-6)
        y = labels.numpy()
        expected = _bce(p[:, 0], y[:, 0]) + _bce(p[:, 0] * p[:, 1], y[:, 1])
        assert float(net.compute_loss(logits, labels)) == pytest.approx(expected, rel=1e-5)


def test_esmm_loss_stays_finite_at_saturated_logits():
    net = _network([TWO[0], {**TWO[1], "entire_space_of": "ctr"}])
    logits = torch.tensor([[40.0, 40.0], [-40.0, -40.0]], requires_grad=True)
    loss = net.compute_loss(logits, torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_uncertainty_weighting_learns_a_log_variance_per_task():
    net = _network(TWO, loss_weighting="uncertainty").eval()
    assert net.log_vars is not None and net.log_vars.shape == (2,)
    batch, labels = _batch()
    with torch.no_grad():
        net.log_vars.copy_(torch.tensor([0.5, -1.0]))
        logits = net(batch)
        losses = net.task_losses(logits, labels).numpy()
        expected = float(np.sum(np.exp([-0.5, 1.0]) * losses + np.array([0.5, -1.0])))
        assert float(net.compute_loss(logits, labels)) == pytest.approx(expected, rel=1e-5)
    assert any(p is net.log_vars for p in net.parameters())


def test_dbmtl_relation_towers_read_the_earlier_relation_output():
    towers = [
        {**TWO[0], "relation_mlp": {"hidden_units": [4]}},
        {**TWO[1], "relation_tower_names": ["ctr"], "relation_mlp": {"hidden_units": [4]}},
    ]
    net = _network(towers)
    assert (net.towers[0].relation_dim, net.towers[1].relation_dim) == (4, 4)
    batch, _ = _batch()
    ctr_before = net.eval()(batch)[:, 0].detach().clone()
    with (
        torch.no_grad()
    ):  # the ctr logit does not read the cvr tower; the cvr logit reads ctr's relation
        for p in net.towers[1].parameters():
            p.add_(0.5)
    out = net(batch)
    torch.testing.assert_close(out[:, 0], ctr_before)
    with torch.no_grad():
        for p in net.towers[0].relation.parameters():
            p.add_(0.5)
    assert not torch.allclose(net(batch)[:, 1], out[:, 1])


def test_labels_must_have_one_column_per_task():
    net = _network()
    with pytest.raises(DataError, match=r"labels of shape \[batch, 2\]"):
        net.compute_loss(torch.zeros(4, 2), torch.zeros(4))


# ---------------------------------------------------------------- trainer
def test_trainer_records_every_task_metric_and_stops_on_the_chosen_task():
    encoded, y = toy_encoded(800, 1)
    from recutils.nn.data import BatchLayout

    rng = np.random.default_rng(1)
    labels = np.stack([y, y * (rng.random(800) < 0.5)], axis=1)
    layout = BatchLayout.from_specs(toy_specs())
    data = TensorData.from_encoded(encoded, layout, labels)
    net = _network(TWO, early_stopping_task="cvr")
    trainer = Trainer(
        net,
        {
            "epochs": 8,
            "batch_size": 64,
            "progress": False,
            "patience": 10,
            "optimizers": [{"name": "adam", "lr": 0.01}],
        },
        seed=0,
    )
    history = trainer.fit(data.subset(np.arange(600)), data.subset(np.arange(600, 800)))
    assert {"valid_cvr_auc", "valid_ctr_auc"} <= set(history.columns)
    assert "valid_weighted_auc" not in history.columns  # the stopping value is the cvr task's AUC
    assert trainer.best_metric_ == history["valid_cvr_auc"].max()
    assert history["valid_ctr_auc"].iloc[-1] > 0.6
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
    pred = trainer.predict(data.subset(np.arange(600, 800)))
    assert pred.shape == (200, 2)


# ---------------------------------------------------------------- model
@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 1500
    users, items = rng.integers(0, 40, n), rng.integers(0, 30, n)
    like = (rng.random(n) < 1 / (1 + np.exp(-((users % 4) - 1.5 + (items % 3) - 1)))).astype(int)
    love = like * (rng.random(n) < np.where(items % 2 == 0, 0.7, 0.2)).astype(int)
    return pd.DataFrame(
        {
            "userID": users,
            "itemID": items,
            "rating": 1.0 + 2 * like + 2 * love,
            "click": like,
            "buy": love,
        }
    )


def _fit(name: str, frame: pd.DataFrame, **params) -> MultiTaskRankModel:
    base = {
        "features": [{"name": "user", "column": "@user"}, {"name": "item", "column": "@item"}],
        "feature_groups": {"all": ["user", "item"]},
        "default_embedding_dim": 4,
        "train": {"epochs": 6, "batch_size": 128, "progress": False, "num_threads": 1},
    }
    return create_model(name, **{**base, **params}).fit(frame)


@pytest.mark.parametrize("name", ["simple_multitask", "dbmtl", "esmm"])
def test_presets_learn_both_tasks_and_round_trip(name, frame, tmp_path):
    from sklearn.metrics import roc_auc_score

    model = _fit(name, frame)
    tasks = model.predict_tasks(frame)
    assert roc_auc_score(frame.rating >= 4, tasks["like"]) > 0.65
    assert roc_auc_score(frame.rating >= 5, tasks["love"]) > 0.65
    assert {"valid_like_auc", "valid_love_auc"} <= set(model.history_.columns)
    pred = model.predict(frame)["prediction"].to_numpy()
    np.testing.assert_allclose(pred, tasks["like"], rtol=1e-9)  # rank_task: the first task
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model)
    pd.testing.assert_frame_equal(loaded.predict_tasks(frame), tasks)
    if name == "esmm":
        np.testing.assert_allclose(
            tasks["love"], tasks["like"] * tasks["love_conditional"], rtol=1e-6
        )


def test_onnx_export_has_one_output_per_task(frame, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from recutils.serving.onnx_export import export_onnx, load_onnx_scorer

    model = _fit("esmm", frame, train={"epochs": 1, "batch_size": 256, "progress": False})
    scorer = load_onnx_scorer(export_onnx(model, tmp_path / "onnx"))
    assert scorer.outputs == ["like", "love"]
    outputs = scorer.predict_outputs(frame)
    tasks = model.predict_tasks(frame)
    for task in ("like", "love"):
        np.testing.assert_allclose(outputs[task], tasks[task], atol=1e-5)
    np.testing.assert_allclose(scorer.predict(frame), tasks["like"], atol=1e-5)


def test_labels_from_columns_and_rank_task(frame):
    model = _fit(
        "simple_multitask",
        frame,
        task_labels={"like": "click", "love": "buy"},
        model_config={"model_params": {"rank_task": "love"}},
    )
    towers = model.config.model_config.model_params.task_towers
    assert [(t.label_name, t.label_threshold) for t in towers] == [("click", None), ("buy", None)]
    tasks = model.predict_tasks(frame)
    np.testing.assert_allclose(model.predict(frame)["prediction"], tasks["love"], rtol=1e-9)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda f: f.assign(buy=f.buy.astype(float).where(f.index > 0)), DataError, "NaN"),
        (lambda f: f.assign(buy=f.buy * 2), DataError, "0/1 labels"),
        (lambda f: f.assign(buy=0), DataError, "both positive"),
        (lambda f: f.drop(columns="buy"), ColumnMismatchError, "buy"),
        (lambda f: f.assign(buy=f.buy.astype(str)), DataError, "numeric"),
    ],
)
def test_bad_labels_name_the_task_and_column(frame, change, error, match):
    model = create_model(
        "simple_multitask",
        task_labels={"like": "click", "love": "buy"},
        train={"epochs": 1, "progress": False},
    )
    with pytest.raises(error, match=match):
        model.fit(change(frame))


def test_esmm_refuses_conversions_without_clicks(frame):
    model = create_model(
        "esmm", task_labels={"like": "click", "love": "buy"}, train={"epochs": 1, "progress": False}
    )
    bad = frame.assign(
        buy=np.where(frame.index == 0, 1, frame.buy),
        click=np.where(frame.index == 0, 0, frame.click),
    )
    with pytest.raises(DataError, match="positive for 'love' but not for 'like'"):
        model.fit(bad)


def test_multitask_config_refuses_a_top_level_threshold_and_rank_models():
    with pytest.raises(ConfigError, match="label_threshold is per task"):
        create_model("mmoe", label_threshold=4.0)
    with pytest.raises(ConfigError, match="MultiTaskModel"):
        from recutils.nn.config_io import shipped_config_path

        MultiTaskRankModel(config=shipped_config_path("deepfm_movielens.yaml"))


def test_every_preset_is_registered_and_shipped():
    from recutils.models import list_models
    from recutils.nn.config_io import list_shipped_configs

    assert set(MULTITASK_PRESETS) <= set(list_models())
    assert set(MULTITASK_PRESETS.values()) <= set(list_shipped_configs())


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["esmm", "aitm"])
def test_entire_space_models_on_the_aliexpress_sample(require_dataset, name, tmp_path):
    """Shape and API only: the sample (100 training rows) is far too small for quality claims."""
    from recutils.datasets import multitask_samples as mts

    require_dataset(mts.FOLDER)
    train, test = (mts.load_aliexpress_sample(s, progress=False) for s in ("train", "test"))
    features = [*mts.ALIEXPRESS_SPARSE[:4], *mts.ALIEXPRESS_DENSE[:4]]
    train, test = (f.assign(userID=np.arange(len(f)), itemID=0) for f in (train, test))
    model = create_model(
        name,
        feature_groups={"all": features},
        features=[
            *[{"name": c, "side": "context"} for c in mts.ALIEXPRESS_SPARSE[:4]],
            *[{"name": c, "type": "numeric", "side": "context"} for c in mts.ALIEXPRESS_DENSE[:4]],
        ],
        task_labels={"like": "click", "love": "conversion"},
        train={
            "epochs": 2,
            "batch_size": 32,
            "progress": False,
            "num_threads": 1,
            "validation_fraction": 0.0,
            "early_stopping_metric": None,
        },
    ).fit(train)
    tasks = model.predict_tasks(test, score_unknown=True)
    assert len(tasks) == len(test)
    values = tasks[["like", "love"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all()
    if name == "esmm":  # the conversion after a click is never likelier than the click
        assert (tasks["love"] <= tasks["like"] + 1e-7).all()
    pytest.importorskip("onnxruntime")
    from recutils.serving.onnx_export import export_onnx, load_onnx_scorer

    outputs = load_onnx_scorer(export_onnx(model, tmp_path / "onnx")).predict_outputs(test)
    np.testing.assert_allclose(outputs["love"], tasks["love"], atol=1e-5)


@pytest.mark.realdata
def test_the_documented_example_runs(require_dataset, tmp_path):
    from tests._docsnippets import run_snippet

    require_dataset("ml-100k")
    out = run_snippet("docs/multitask.md", "multitask-python", cwd=tmp_path, timeout=300).stdout
    assert "['userID', 'itemID', 'like', 'love', 'love_conditional']" in out
    assert "valid_like_auc" in out and "valid_love_auc" in out


def test_a_one_logit_model_refuses_a_multitask_config():
    from recutils.models.deep import DeepRankModel
    from recutils.nn.config_io import shipped_config_path

    with pytest.raises(ConfigError, match="use a multi-task model"):
        DeepRankModel(config=shipped_config_path("mmoe_movielens.yaml"))
    from recutils.nn.config_io import read_mapping

    with pytest.raises(ConfigError, match="use a two-tower model"):
        DeepRankModel(
            model_config=read_mapping(shipped_config_path("dssm_movielens.yaml"))["model_config"]
        )


def test_kd_distils_into_the_named_task(frame):
    """A teacher column with a signal the labels lack moves the named task's predictions toward it."""
    rng = np.random.default_rng(5)
    teacher = 1 / (1 + np.exp(-((frame["itemID"] % 5) - 2.0)))  # a signal absent from the labels
    data = frame.assign(teacher=teacher, love=rng.integers(0, 2, len(frame)))
    params = {
        "task_labels": {"like": "click", "love": "love"},
        "seed": 3,
        "train": {
            "epochs": 15,
            "batch_size": 128,
            "progress": False,
            "num_threads": 1,
            "validation_fraction": 0.0,
            "early_stopping_metric": None,
            "optimizers": [{"name": "adam", "lr": 0.01}],
        },
        "features": [{"name": "user", "column": "@user"}, {"name": "item", "column": "@item"}],
        "feature_groups": {"all": ["user", "item"]},
        "default_embedding_dim": 4,
    }
    alone = create_model("simple_multitask", **params).fit(data).predict_tasks(data)
    taught = (
        create_model(
            "simple_multitask",
            kd=[{"teacher_column": "teacher", "task": "love", "loss_weight": 5.0}],
            **params,
        )
        .fit(data)
        .predict_tasks(data)
    )
    assert np.corrcoef(taught["love"], teacher)[0, 1] > 0.8
    assert (
        np.corrcoef(alone["love"], teacher)[0, 1] < np.corrcoef(taught["love"], teacher)[0, 1] - 0.3
    )
