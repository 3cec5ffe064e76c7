"""Knowledge distillation (the ``kd`` config: teacher columns and teacher models) and Rocket
Launching (a light net trained beside a booster, served alone)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ColumnMismatchError, ConfigError, DataError
from recutils.nn.config import DistillationConfig, ModelConfig

pytestmark = pytest.mark.unit

torch = pytest.importorskip("torch")

from recutils.models import load_model  # noqa: E402
from recutils.models.deep import DeepRankModel  # noqa: E402
from recutils.nn.distill import DistillationObjective  # noqa: E402
from recutils.nn.networks import build_network  # noqa: E402
from recutils.nn.rocket import RocketNetwork  # noqa: E402
from tests.unit._nn_helpers import toy_specs  # noqa: E402

FEATURES = [{"name": "user", "column": "@user"}, {"name": "item", "column": "@item"}]
MLP = {
    "model_name": "student",
    "feature_groups": [{"group_name": "deep", "feature_names": ["user", "item"]}],
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
}
TRAIN = {
    "epochs": 20,
    "batch_size": 128,
    "progress": False,
    "num_threads": 1,
    "validation_fraction": 0.0,
    "early_stopping_metric": None,
    "optimizers": [{"name": "adam", "lr": 0.02}],
}


def _rocket_dict(hint: float = 1.0, feats=("u", "i", "tags", "x")) -> dict:
    return {
        "model_name": "rocket",
        "feature_groups": [{"group_name": "deep", "feature_names": list(feats)}],
        "backbone": {
            "blocks": [
                {"name": "emb", "inputs": [{"feature_group_name": "deep"}], "input_layer": {}},
                {
                    "name": "light",
                    "inputs": [{"block_name": "emb"}],
                    "layer": {
                        "class_name": "MLP",
                        "params": {"hidden_units": [4], "use_final_bn": False},
                    },
                },
                {
                    "name": "booster",
                    "inputs": [{"block_name": "emb"}],
                    "layer": {
                        "class_name": "MLP",
                        "params": {"hidden_units": [16, 8], "use_final_bn": False},
                    },
                },
            ],
            "concat_blocks": ["light"],
        },
        "model_params": {
            "rocket": {"light_block": "light", "booster_block": "booster", "hint_weight": hint}
        },
    }


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Labels that are pure noise; the teacher column carries the signal ``signal``."""
    rng = np.random.default_rng(0)
    n = 3000
    users, items = rng.integers(0, 60, n), rng.integers(0, 40, n)
    signal = (users % 5 - 2) * 0.8 + (items % 4 - 1.5) * 0.8
    teacher = 1 / (1 + np.exp(-signal))
    return pd.DataFrame(
        {
            "userID": users,
            "itemID": items,
            "label": rng.integers(0, 2, n).astype(float),
            "teacher": teacher,
            "signal": signal,
        }
    )


# ---------------------------------------------------------------- config
@pytest.mark.parametrize(
    "values, match",
    [
        ({}, "exactly one of teacher_column"),
        ({"teacher_column": "p", "teacher_model": "m"}, "exactly one of teacher_column"),
        ({"teacher_column": "p", "temperature": 0}, "temperature must be > 0"),
        ({"teacher_column": "p", "loss_type": "hinge"}, "loss_type 'hinge'"),
        ({"teacher_column": ""}, "teacher_column must be a non-empty string"),
    ],
)
def test_bad_kd_terms_name_the_field(values, match):
    with pytest.raises(ConfigError, match=match):
        DistillationConfig.from_dict(values)


def test_kd_task_must_match_the_model():
    with pytest.raises(ConfigError, match="the model has one output"):
        DeepRankModel(
            features=FEATURES, model_config=MLP, kd=[{"teacher_column": "t", "task": "ctr"}]
        )
    with pytest.raises(ConfigError, match="kd: task 'ctr' is not a task"):
        from recutils.models import create_model

        create_model("mmoe", kd=[{"teacher_column": "t", "task": "ctr"}])


@pytest.mark.parametrize(
    "values, match",
    [
        ({"light_block": "light", "booster_block": "light"}, "need blocks of their own"),
        ({"light_block": "light", "booster_block": "nope"}, "block 'nope' does not exist"),
    ],
)
def test_bad_rocket_configs(values, match):
    cfg = _rocket_dict()
    cfg["model_params"]["rocket"] = values
    with pytest.raises(ConfigError, match=match):
        ModelConfig.from_dict(cfg)


# ------------------------------------------------------------- objective
def test_distillation_terms_by_hand():
    z = torch.tensor([0.3, -1.2, 2.0])
    p = torch.tensor([0.6, 0.1, 0.95])
    zs, ps = z.numpy().astype(np.float64), p.numpy().astype(np.float64)
    q = 1 / (1 + np.exp(-zs))
    bce = -np.mean(ps * np.log(q) + (1 - ps) * np.log(1 - q))
    kl = np.mean(ps * np.log(ps / q) + (1 - ps) * np.log((1 - ps) / (1 - q)))
    mse = np.mean((zs - np.log(ps / (1 - ps))) ** 2)
    soft = p[:, None].repeat(1, 3)
    terms = [
        DistillationConfig(teacher_column="a", loss_type="bce", loss_weight=1.0),
        DistillationConfig(teacher_column="b", loss_type="kl", loss_weight=2.0),
        DistillationConfig(teacher_column="c", loss_type="mse", loss_weight=0.5),
    ]
    for term, expected in zip(terms, [bce, 2 * kl, 0.5 * mse]):
        value = float(DistillationObjective([term], [None])(z, soft[:, :1]))
        assert value == pytest.approx(expected, rel=1e-5)
    assert float(DistillationObjective(terms, [None] * 3)(z, soft)) == pytest.approx(
        bce + 2 * kl + 0.5 * mse, rel=1e-5
    )
    t2 = DistillationConfig(teacher_column="a", temperature=2.0)  # softened both sides, times T**2
    ps2 = 1 / (1 + np.exp(-np.log(ps / (1 - ps)) / 2))
    q2 = 1 / (1 + np.exp(-zs / 2))
    expected = 4 * -np.mean(ps2 * np.log(q2) + (1 - ps2) * np.log(1 - q2))
    assert float(DistillationObjective([t2], [None])(z, p[:, None])) == pytest.approx(
        expected, rel=1e-5
    )


# ------------------------------------------------------------------- kd
def _fit_student(frame: pd.DataFrame, **params) -> DeepRankModel:
    return DeepRankModel(
        features=FEATURES,
        model_config=MLP,
        col_rating="label",
        default_embedding_dim=4,
        train=TRAIN,
        seed=3,
        **params,
    ).fit(frame)


def test_a_teacher_column_teaches_what_the_labels_do_not(frame):
    from sklearn.metrics import roc_auc_score

    alone = _fit_student(frame).predict(frame)["prediction"]
    taught = _fit_student(frame, kd=[{"teacher_column": "teacher", "loss_weight": 5.0}]).predict(
        frame
    )["prediction"]
    high = frame["signal"] > 0
    assert (
        roc_auc_score(high, taught) > 0.9
    )  # the teacher's signal, learned through the soft labels
    assert roc_auc_score(high, alone) < 0.75  # the noisy labels alone do not carry it
    assert np.corrcoef(taught, frame["teacher"])[0, 1] > 0.9


def test_a_saved_teacher_model_gives_the_soft_labels(frame, tmp_path):
    teacher = DeepRankModel(
        features=FEATURES,
        model_config=MLP,
        col_rating="teacher",
        default_embedding_dim=4,
        train=TRAIN,
        seed=1,
    ).fit(frame.drop(columns="label"))
    teacher.save(tmp_path / "teacher")
    student = DeepRankModel(
        features=FEATURES,
        model_config=MLP,
        col_rating="label",
        default_embedding_dim=4,
        train=TRAIN,
        seed=3,
        kd=[{"teacher_model": str(tmp_path / "teacher"), "loss_weight": 5.0}],
    )
    student.fit(frame)
    pred_teacher = teacher.predict(frame)["prediction"].to_numpy()
    pred_student = student.predict(frame)["prediction"].to_numpy()
    assert np.corrcoef(pred_student, pred_teacher)[0, 1] > 0.9
    student.save(tmp_path / "student")
    np.testing.assert_allclose(
        load_model(tmp_path / "student").predict(frame)["prediction"], pred_student, rtol=1e-6
    )


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda f: f.assign(teacher=f.teacher * 2), DataError, r"outside \[0, 1\]"),
        (lambda f: f.assign(teacher=f.teacher.where(f.index > 0)), DataError, "NaN"),
        (lambda f: f.drop(columns="teacher"), ColumnMismatchError, "teacher"),
        (lambda f: f.assign(teacher="x"), DataError, "numeric"),
    ],
)
def test_bad_teacher_columns_are_refused(frame, change, error, match):
    model = DeepRankModel(
        features=FEATURES,
        model_config=MLP,
        col_rating="label",
        train={**TRAIN, "epochs": 1},
        kd=[{"teacher_column": "teacher"}],
    )
    with pytest.raises(error, match=match):
        model.fit(change(frame))


# ---------------------------------------------------------------- rocket
def test_rank_network_builder_refuses_a_rocket_config():
    from recutils.nn.backbone import build_rank_network

    with pytest.raises(ConfigError, match="build_network"):
        build_rank_network(ModelConfig.from_dict(_rocket_dict()), toy_specs())


def test_rocket_trains_both_nets_and_serves_the_light_one_alone():
    net = build_network(ModelConfig.from_dict(_rocket_dict(hint=0.7)), toy_specs(), seed=0)
    assert isinstance(net, RocketNetwork)
    from recutils.nn.data import BatchLayout, TensorData
    from tests.unit._nn_helpers import toy_encoded

    encoded, y = toy_encoded(32)
    batch = TensorData.from_encoded(encoded, BatchLayout.from_specs(toy_specs())).tensors
    labels = torch.tensor(y)
    calls = []
    net.backbone.layers["booster"].register_forward_hook(lambda *a: calls.append(1))
    net.train()
    out = net(batch)
    assert out.shape == (32, 2) and len(calls) == 1
    light, booster = out[:, 0], out[:, 1]
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = bce(light, labels) + bce(booster, labels) + 0.7 * torch.mean((light - booster) ** 2)
    torch.testing.assert_close(net.compute_loss(out, labels), expected)
    net.eval()
    with torch.no_grad():
        served = net(batch)
    assert served.shape == (32,) and len(calls) == 1  # the booster did not run
    torch.testing.assert_close(served, light.detach(), rtol=1e-5, atol=1e-6)
    # the hint moves the light net only: its gradient never reaches the booster's head
    net.train()
    net.zero_grad()
    hint_only = 0.7 * torch.mean((net(batch)[:, 0] - net(batch)[:, 1].detach()) ** 2)
    hint_only.backward()
    assert (
        net.booster_head.weight.grad is None
        or float(net.booster_head.weight.grad.abs().sum()) == 0.0
    )
    assert float(net.light_head.weight.grad.abs().sum()) > 0.0


def test_rocket_model_fits_round_trips_and_exports_the_light_net(frame, tmp_path):
    cfg = _rocket_dict(feats=("user", "item"))
    model = DeepRankModel(
        features=FEATURES,
        model_config=cfg,
        col_rating="label",
        default_embedding_dim=4,
        train={**TRAIN, "epochs": 3},
        seed=0,
    ).fit(frame)
    assert isinstance(model.network_, RocketNetwork)
    pred = model.predict(frame)["prediction"].to_numpy()
    assert np.isfinite(pred).all() and pred.std() > 0
    model.save(tmp_path / "m")
    np.testing.assert_allclose(
        load_model(tmp_path / "m").predict(frame)["prediction"], pred, rtol=1e-6
    )
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from recutils.serving.onnx_export import export_onnx, load_onnx_scorer

    scorer = load_onnx_scorer(export_onnx(model, tmp_path / "onnx"))
    np.testing.assert_allclose(scorer.predict(frame), pred, atol=1e-5)
    import onnx

    graph = onnx.load(str(tmp_path / "onnx" / "model.onnx")).graph
    dims = {tuple(init.dims) for init in graph.initializer}
    assert (16, 8) not in dims and (8, 16) not in dims  # no booster weights in the served graph
