"""``recutils train`` (config -> fit -> evaluate) and ``recutils models`` (kind and extra)."""

from __future__ import annotations

import json

import pytest

from recutils.cli import main
from recutils.cli.models import MODEL_INFO
from recutils.cli.train import parse_overrides, resolve_config
from recutils.exceptions import ConfigError
from recutils.models import list_models, register_model
from recutils.models.registry import unregister_model


def test_models_lists_every_registered_model_with_kind_and_extra(capsys) -> None:
    assert set(MODEL_INFO) == set(list_models())
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "kind", "extra"]
    rows = {
        line.split()[0]: line
        for line in lines[2:]
        if line.strip() and not line.startswith("extra:")
    }
    assert set(rows) == set(list_models())
    assert rows["sar"].rstrip().endswith("core") and "item-item" in rows["sar"]
    assert rows["als"].rstrip().endswith("spark")
    assert rows["cornac_bivae"].rstrip().endswith("cornac, torch")
    assert "click-through" in rows["deepfm"] and rows["deepfm"].rstrip().endswith("torch")


def test_models_names_only_and_a_model_registered_at_run_time(capsys) -> None:
    register_model("my_model", "mypkg.models:MyModel")
    try:
        assert main(["models"]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("my_model"))
        assert line.split()[1:] == ["-", "-"]
        assert main(["models", "--names-only"]) == 0
        assert capsys.readouterr().out.split() == list_models()
    finally:
        unregister_model("my_model")


def test_parse_overrides_nests_dotted_keys_with_yaml_values() -> None:
    assert parse_overrides(
        [
            "train.epochs=3",
            "train.optimizers.0.lr=0.01",
            "label_threshold=4",
            "train.early_stopping_metric=null",
        ]
    ) == {
        "train": {"epochs": 3, "optimizers": {"0": {"lr": 0.01}}, "early_stopping_metric": None},
        "label_threshold": 4,
    }
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["train.epochs"])
    with pytest.raises(ConfigError, match="section"):
        parse_overrides(["train=1", "train.epochs=2"])


def test_resolve_config_takes_a_file_or_a_shipped_name(tmp_path) -> None:
    assert resolve_config("deepfm_movielens.yaml").name == "deepfm_movielens.yaml"
    own = tmp_path / "own.yaml"
    own.write_text("seed: 1\n")
    assert resolve_config(str(own)) == own
    with pytest.raises(ConfigError, match="shipped: \\["):
        resolve_config("nope.yaml")


@pytest.fixture
def ctr_csv(tmp_path):
    pytest.importorskip("torch")
    from recutils.datasets.synthetic import make_interactions

    df = make_interactions(120, 60, 3000, seed=1).ratings
    df["label"] = (df["rating"] >= 4).astype(float)
    path = tmp_path / "rows.csv"
    df.to_csv(path, index=False)
    return path


def test_train_fits_evaluates_saves_and_reports_whole_epochs(ctr_csv, tmp_path, capsys) -> None:
    config = tmp_path / "model.yaml"
    config.write_text(
        "default_embedding_dim: 4\ntrain: {batch_size: 256, epochs: 5, patience: 5}\n"
    )
    metrics = tmp_path / "m.json"
    rc = main(
        [
            "train",
            "--config",
            str(config),
            "--data",
            str(ctr_csv),
            "--epochs",
            "3",
            "--set",
            "train.optimizers.0.lr=0.01",
            "--no-progress",
            "--save",
            str(tmp_path / "model"),
            "--metrics-out",
            str(metrics),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "training settings: the train section of model.yaml" in text
    assert "epochs 3, batch size 256" in text
    figures = json.loads(metrics.read_text())
    assert figures["epochs_run"] == 3 and figures["best_epoch"] in (1, 2, 3)
    assert figures["eval_rows"] == 600 and figures["train_rows"] == 2400
    assert 0.0 <= figures["auc"] <= 1.0 and figures["logloss"] > 0
    assert f"Best epoch: {figures['best_epoch']} of 3" in text
    from recutils.models import load_model

    loaded = load_model(tmp_path / "model")
    assert loaded.config.train.optimizers[0].lr == 0.01
    assert loaded.best_epoch_ == figures["best_epoch"]


def test_train_says_where_training_settings_come_from_for_easyrec(
    ctr_csv, tmp_path, capsys
) -> None:
    easyrec = tmp_path / "m.config"
    easyrec.write_text("""model_config: {
  model_name: "WideAndDeep"
  model_class: "RankModel"
  feature_groups: { group_name: 'wide' feature_names: 'userID' feature_names: 'itemID' wide_deep: WIDE }
  feature_groups: { group_name: 'deep' feature_names: 'userID' feature_names: 'itemID' wide_deep: DEEP }
  backbone: {
    blocks: { name: 'wide' inputs: { feature_group_name: 'wide' } input_layer: { only_output_feature_list: true wide_output_dim: 1 } }
    blocks: { name: 'deep_logit' inputs: { feature_group_name: 'deep' }
              keras_layer: { class_name: 'MLP' mlp: { hidden_units: [8, 1] use_final_bn: false final_activation: 'linear' } } }
    blocks: { name: 'final_logit' inputs: { block_name: 'wide' input_fn: 'lambda x: tf.add_n(x)' } inputs: { block_name: 'deep_logit' }
              merge_inputs_into_list: true keras_layer: { class_name: 'Add' } }
    concat_blocks: 'final_logit'
  }
}
""")
    settings = tmp_path / "train.yaml"
    settings.write_text("train: {batch_size: 512, epochs: 1}\n")
    assert (
        main(
            [
                "train",
                "--config",
                str(easyrec),
                "--data",
                str(ctr_csv),
                "--no-progress",
                "--train-config",
                str(settings),
                "--eval-fraction",
                "0.5",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert f"training settings: {settings}" in text and "epochs 1, batch size 512" in text
    assert "1,500 evaluation" in text


def test_train_errors_are_one_line(ctr_csv, capsys) -> None:
    assert main(["train", "--config", "nope.yaml", "--data", str(ctr_csv)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: --config 'nope.yaml'") and len(err.strip().splitlines()) == 1
    assert (
        main(
            [
                "train",
                "--config",
                "wide_deep_movielens.yaml",
                "--data",
                str(ctr_csv),
                "--label",
                "rating",
                "--epochs",
                "1",
                "--no-progress",
            ]
        )
        == 1
    )
    assert "label_threshold" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "models"])
def test_help_imports_no_torch(command) -> None:
    import subprocess
    import sys

    code = (
        f"import sys; from recutils.cli import main; main([{command!r}, '--help']); "
        "print('LOADED', 'torch' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "LOADED False" in run.stdout, run.stderr
    assert ("--config" in run.stdout) == (command == "train")
