"""recutils.benchmark.distillation: the configs, gain retention, the bar, a tiny run end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recutils.benchmark import distillation as kd
from recutils.exceptions import ConfigError, DataError

pytestmark = pytest.mark.unit

GENRES = ["Action", "Comedy", "Drama", "Romance", "Thriller"]


def _ctr_frame(n: int = 900, seed: int = 0) -> pd.DataFrame:
    """A frame shaped like ``movielens_ctr_frame``'s, with a label that depends on the features."""
    rng = np.random.default_rng(seed)
    pairs = rng.choice(40 * 60, n, replace=False)  # each (user, item) once
    users, items = 1 + pairs // 60, 1 + pairs % 60
    age = 15 + users % 50
    signal = (users % 3 - 1) * 0.8 + (items % 4 - 1.5) * 0.6 + rng.normal(0, 0.5, n)
    genres = np.array(
        ["|".join(GENRES[j] for j in range(5) if (i >> j) & 1) or "Drama" for i in range(64)],
        dtype=object,
    )
    return pd.DataFrame(
        {
            "userID": users,
            "itemID": items,
            "rating": np.clip(np.round(3 + signal), 1, 5),
            "timestamp": np.arange(n),
            "genres": genres[items % 64],
            "year": 1950 + items % 48,
            "age": age,
            "gender": np.where(users % 2 == 0, "M", "F"),
            "occupation": np.array(["a", "b", "c"])[users % 3],
            "zip_code": "00000",
            "label": (signal > 0).astype("float64"),
        }
    )


# --------------------------------------------------------------------------- configs


def test_shipped_student_and_rocket_configs_build():
    from recutils.models.deep import DeepRankConfig

    student = DeepRankConfig.from_dict(kd.student_config())
    (term,) = student.kd
    assert term.teacher_column == kd.TEACHER_COLUMN
    assert student.default_embedding_dim == 8
    assert DeepRankConfig.from_dict(kd.student_config(kd=False)).kd == []
    rocket = DeepRankConfig.from_dict(kd.rocket_config())
    params = rocket.model_config.model_params.rocket
    assert (params.light_block, params.booster_block) == ("light", "booster")
    light = next(b for b in rocket.model_config.backbone.blocks if b.name == "light")
    (mlp,) = student.model_config.backbone.blocks
    assert light.layer.params == mlp.layer.params  # the same small MLP


def test_student_and_rocket_overrides():
    cfg = kd.student_config(
        hidden_units=[16], temperature=3.0, loss_weight=0.5, loss_type="kl", lr=0.01, patience=4
    )
    assert cfg["model_config"]["backbone"]["blocks"][0]["layer"]["params"]["hidden_units"] == [16]
    assert (
        cfg["kd"][0] | {"temperature": 3.0, "loss_weight": 0.5, "loss_type": "kl"} == cfg["kd"][0]
    )
    assert {o["lr"] for o in cfg["train"]["optimizers"]} == {0.01} and cfg["train"]["patience"] == 4
    assert kd.student_config()["kd"][0]["temperature"] == 2.0  # a fresh copy each time
    rocket = kd.rocket_config(hint_weight=0.25, lr=0.002)
    assert rocket["model_config"]["model_params"]["rocket"]["hint_weight"] == 0.25
    assert {o["lr"] for o in rocket["train"]["optimizers"]} == {0.002}


def test_logistic_regression_is_a_first_order_model():
    pytest.importorskip("torch")
    from recutils.models.deep import DeepRankConfig

    cfg = DeepRankConfig.from_dict(kd.logistic_regression_config())
    blocks = cfg.model_config.backbone.blocks
    assert [b.layer.class_name for b in blocks if b.layer is not None] == ["FirstOrder"]
    assert [g.group_name for g in cfg.model_config.feature_groups] == ["wide"]
    assert len(cfg.model_config.feature_names) == 7
    assert set(kd.benchmark_configs()) == set(kd.MODELS)


def test_ctr_split_is_the_zoo_split_and_samples_rows():
    frame = _ctr_frame()
    train, test = kd.ctr_split(frame)
    assert len(train) == 720 and len(test) == 180
    again, _ = kd.ctr_split(frame)
    pd.testing.assert_frame_equal(train, again)
    small, small_test = kd.ctr_split(frame, sample_rows=100)
    assert len(small) + len(small_test) == 100 and set(small.index) <= set(frame.index)
    with pytest.raises(ConfigError, match="sample_rows"):
        kd.ctr_split(frame, sample_rows=5)


def test_config_sha_tells_configs_apart():
    assert kd.config_sha(kd.student_config()) == kd.config_sha(kd.student_config())
    assert kd.config_sha(kd.student_config()) != kd.config_sha(kd.student_config(kd=False))


# --------------------------------------------------------------------------- retention and the bar


def test_gain_retention_by_hand():
    assert kd.gain_retention(0.785, 0.787, 0.774) == pytest.approx(0.011 / 0.013)
    assert kd.gain_retention(0.787, 0.787, 0.774) == pytest.approx(1.0)
    assert kd.gain_retention(0.770, 0.787, 0.774) < 0  # below the reference
    assert np.isnan(kd.gain_retention(0.78, 0.774, 0.774))  # a teacher without a gain


def _results(student_aucs, speedups) -> pd.DataFrame:
    rows = []
    for seed, (lr, teacher) in enumerate([(0.774, 0.790), (0.772, 0.788), (0.776, 0.792)], start=1):
        rows += [
            {"model": "logistic_regression", "seed": seed, "auc": lr},
            {"model": "teacher", "seed": seed, "auc": teacher},
        ]
        for name, values in student_aucs.items():
            rows.append(
                {
                    "model": name,
                    "seed": seed,
                    "auc": values[seed - 1],
                    "gain_retention": kd.gain_retention(values[seed - 1], teacher, lr),
                    "speedup": speedups[name][seed - 1],
                }
            )
    return pd.DataFrame(rows)


def test_the_bar_uses_the_mean_aucs_and_the_mean_speedup():
    results = _results(
        {"student_kd": [0.7898, 0.7880, 0.7915], "student": [0.780, 0.779, 0.781]},
        {"student_kd": [10.0, 12.0, 11.0], "student": [2.0, 3.0, 3.1]},
    )
    bar = kd.check_bar(results).set_index("model")
    assert list(bar.index) == ["student", "student_kd"]
    # means: LR 0.774, teacher 0.790, KD student 0.7897667 -> (0.0157667 / 0.016)
    assert bar.loc["student_kd", "retention"] == pytest.approx(0.0157667 / 0.016, rel=1e-4)
    assert bar.loc["student_kd", "met_retention"] and bar.loc["student_kd", "met_speed"]
    assert bar.loc["student_kd", "speedup"] == pytest.approx(11.0)
    assert bar.loc["student_kd", "met"]
    assert bar.loc["student", "retention"] == pytest.approx(0.006 / 0.016)
    assert (
        not bar.loc["student", "met_retention"] and not bar.loc["student", "met_speed"]
    )  # 2.7x < 3x
    assert not bar.loc["student", "met"]


def test_the_bar_needs_the_teacher_and_the_reference():
    results = _results({"student_kd": [0.79] * 3}, {"student_kd": [5.0] * 3})
    with pytest.raises(DataError, match="teacher"):
        kd.check_bar(results[results["model"] != "teacher"])


# --------------------------------------------------------------------------- a tiny run


@pytest.fixture(scope="module")
def split():
    pytest.importorskip("torch")
    return kd.ctr_split(_ctr_frame())


def _configs() -> dict:
    return {name: config for name, config in kd.benchmark_configs().items()}


def test_a_tiny_run_fills_every_column_and_resumes(split, tmp_path, monkeypatch):
    path = tmp_path / "results.csv"
    bench = kd.run_distillation_benchmark(
        (1,), split=split, results_path=path, epochs=1, repeat=1, keep_models=True
    )
    res = bench.results.set_index("model")
    assert list(res.index) == list(kd.MODELS)
    assert res["auc"].between(0, 1).all() and (res["forward_rows_per_s"] > 0).all()
    assert (res["predict_rows_per_s"] > 0).all()
    assert res.loc[list(kd.STUDENTS), "speedup"].notna().all()
    assert (
        res.loc[["logistic_regression", "teacher"], ["speedup", "gain_retention"]]
        .isna()
        .all()
        .all()
    )
    assert res.loc["student_kd", "speedup"] == pytest.approx(
        res.loc["student_kd", "forward_rows_per_s"] / res.loc["teacher", "forward_rows_per_s"]
    )
    # the rocket's served parameters are the light net's: as many as the student's MLP and embeddings
    assert res.loc["rocket_light", "parameters"] == res.loc["student", "parameters"]
    assert res.loc["teacher", "parameters"] > 5 * res.loc["student", "parameters"]
    assert list(bench.bar["model"]) == list(kd.STUDENTS)
    assert pd.read_csv(path)["model"].tolist() == list(kd.MODELS)
    # the KD student's soft labels are the teacher's probabilities of the training rows
    kd_model, teacher = bench.models[("student_kd", 1)], bench.models[("teacher", 1)]
    assert kd_model.config.kd[0].teacher_column == kd.TEACHER_COLUMN
    assert teacher.config.model_config.model_name == "xDeepFM"

    def no_fit(*args, **kwargs):
        raise AssertionError("a finished seed was fitted again")

    monkeypatch.setattr(kd, "fit_model", no_fit)
    again = kd.run_distillation_benchmark((1,), split=split, results_path=path, epochs=1, repeat=1)
    pd.testing.assert_frame_equal(again.results, pd.read_csv(path), check_dtype=False)


def test_run_seed_refuses_unknown_models_and_kd_without_teacher(split):
    train, test = split
    with pytest.raises(ConfigError, match="unknown benchmark model"):
        kd.run_seed(1, train, test, configs={"gbdt": {}})
    with pytest.raises(ConfigError, match="needs the teacher"):
        kd.run_seed(1, train, test, configs={"student_kd": kd.student_config()})


def test_teacher_column_and_scoring_speed(split):
    import torch

    train, test = split
    teacher = kd.fit_model(kd.teacher_config(), train, seed=1, epochs=1)
    student = kd.fit_model(kd.student_config(kd=False), train, seed=1, epochs=1)
    taught = kd.with_teacher_column(train, teacher)
    assert kd.TEACHER_COLUMN not in train.columns  # the input is not modified
    np.testing.assert_allclose(
        taught[kd.TEACHER_COLUMN], teacher.predict(train)["prediction"], rtol=1e-6
    )
    before = torch.get_num_threads()
    speed = kd.scoring_speed(
        {"teacher": teacher, "student": student}, test, repeat=2, num_threads=1
    )
    assert torch.get_num_threads() == before
    assert list(speed["model"]) == ["teacher", "student"] and (speed.iloc[:, 1:] > 0).all().all()
    batch = kd.encoded_batch(student, test)
    with torch.no_grad():
        probs = torch.sigmoid(student.network_(batch)).double().numpy()
    np.testing.assert_allclose(
        probs, student.predict(test, score_unknown=True)["prediction"], rtol=1e-6
    )
    with pytest.raises(ConfigError, match="repeat"):
        kd.scoring_speed({"student": student}, test, repeat=0)


def test_tuning_scores_the_held_out_part_and_resumes(split, tmp_path):
    train, _ = split
    grid = [
        {"name": "student", "kind": "student"},
        {"name": "kd_w2", "kind": "student_kd", "loss_weight": 2.0},
        {"name": "rocket", "kind": "rocket_light", "hint_weight": 0.5},
    ]
    path = tmp_path / "tuning.csv"
    table = kd.tune_distillation(grid, seeds=(1, 2), train=train, epochs=1, results_path=path)
    assert table["name"].tolist() == [
        "teacher",
        "student",
        "student",
        "kd_w2",
        "kd_w2",
        "rocket",
        "rocket",
    ]
    assert table["valid_auc"].between(0, 1).all()
    assert json.loads(table.loc[table["name"] == "kd_w2", "settings"].iloc[0]) == {
        "loss_weight": 2.0
    }
    summary = kd.summarize_tuning(table).set_index("name")
    assert summary.loc["student", "n_seeds"] == 2 and summary.loc["teacher", "n_seeds"] == 1
    again = kd.tune_distillation(grid, seeds=(1, 2), train=train, epochs=1, results_path=path)
    assert len(again) == len(table)  # nothing refitted
    with pytest.raises(ConfigError, match="kind 'gbdt'"):
        kd.tune_distillation([{"name": "x", "kind": "gbdt"}], train=train)
