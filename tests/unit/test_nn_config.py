"""Model config: YAML and EasyRec text into one structure, validation naming the block."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from recutils.exceptions import ConfigError
from recutils.nn.config import ModelConfig, TrainConfig, load_model_config
from recutils.nn.easyrec import load_easyrec_config, parse_easyrec_text

CONFIGS = Path(__file__).resolve().parents[2] / "recutils" / "models" / "deep" / "configs"

# The requirements' example, verbatim.
EXAMPLE = """
model_config: {
  model_name: "WideAndDeep"
  model_class: "RankModel"
  feature_groups: {
    group_name: 'wide'
    feature_names: 'user_id'
    feature_names: 'movie_id'
    feature_names: 'job_id'
    feature_names: 'age'
    feature_names: 'gender'
    feature_names: 'year'
    feature_names: 'genres'
    wide_deep: WIDE
  }
  feature_groups: {
    group_name: 'deep'
    feature_names: 'user_id'
    feature_names: 'movie_id'
    feature_names: 'job_id'
    feature_names: 'age'
    feature_names: 'gender'
    feature_names: 'year'
    feature_names: 'genres'
    wide_deep: DEEP
  }
  backbone {
    blocks {
      name: 'wide'
      inputs { feature_group_name: 'wide' }
      input_layer { only_output_feature_list: true  wide_output_dim: 1 }
    }
    blocks {
      name: 'deep_logit'
      inputs { feature_group_name: 'deep' }
      keras_layer {
        class_name: 'MLP'
        mlp { hidden_units: [256, 256, 256, 1]  use_final_bn: false  final_activation: 'linear' }
      }
    }
    blocks {
      name: 'final_logit'
      inputs { block_name: 'wide'  input_fn: 'lambda x: tf.add_n(x)' }
      inputs { block_name: 'deep_logit' }
      merge_inputs_into_list: true
      keras_layer { class_name: 'Add' }
    }
    concat_blocks: 'final_logit'
  }
  model_params { l2_regularization: 1e-4 }
  embedding_regularization: 1e-4
}
"""


def _yaml_model() -> dict:
    return yaml.safe_load((CONFIGS / "wide_deep_movielens.yaml").read_text())["model_config"]


def test_easyrec_example_equals_shipped_yaml():
    from_text = load_easyrec_config(EXAMPLE).model_config
    from_yaml = ModelConfig.from_dict(_yaml_model())
    assert from_text == from_yaml
    assert from_text.to_dict() == from_yaml.to_dict()
    assert [b.name for b in from_text.block_order()] == ["wide", "deep_logit", "final_logit"]
    assert from_text.backbone.blocks[1].layer.params["hidden_units"] == [256, 256, 256, 1]
    assert from_text.model_params.l2_regularization == 1e-4


def test_shipped_easyrec_file_has_features_and_same_model():
    loaded = load_easyrec_config(CONFIGS / "wide_deep_movielens.config")
    assert loaded.model_config == load_easyrec_config(EXAMPLE).model_config
    names = {f.name: f for f in loaded.features}
    assert names["job_id"].column == "occupation" and names["genres"].type == "tags"
    assert load_model_config(CONFIGS / "wide_deep_movielens.config") == loaded.model_config


def test_round_trip_and_load_from_yaml_text():
    cfg = ModelConfig.from_dict(_yaml_model())
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert load_model_config(yaml.safe_dump({"model_config": cfg.to_dict()})) == cfg
    train = TrainConfig.from_dict(
        {
            "optimizers": [
                {"name": "adagrad", "params": "embedding"},
                {"name": "adam", "params": "dense"},
            ]
        }
    )
    assert TrainConfig.from_dict(train.to_dict()) == train


def test_parser_syntax_details():
    tree = parse_easyrec_text(
        'a: 1 b: -2.5e-3 c: \'x\\\'y\' d: "p" "q" e: [1, 2] f { g: true } # comment\n h: <i: WIDE>'
    )
    assert tree == [
        ("a", 1),
        ("b", -2.5e-3),
        ("c", "x'y"),
        ("d", "pq"),
        ("e", [1, 2]),
        ("f", [("g", True)]),
        ("h", [("i", "WIDE")]),
    ]
    with pytest.raises(ConfigError, match="closing"):
        parse_easyrec_text("a: 1\n b: {")  # unterminated
    with pytest.raises(ConfigError, match="line 2"):
        parse_easyrec_text("a: 1\n b: ]")
    with pytest.raises(ConfigError, match="line 1"):
        parse_easyrec_text("a: 1 }")


def test_easyrec_unsupported_field_is_named():
    text = EXAMPLE.replace(
        "embedding_regularization: 1e-4", "embedding_regularization: 1e-4 loss_type: FOO"
    )
    with pytest.raises(ConfigError, match="loss_type"):
        load_easyrec_config(text)
    text = EXAMPLE.replace("mlp { hidden_units", "dnn { hidden_units")
    with pytest.raises(ConfigError, match="dnn"):
        load_easyrec_config(text)


def _bad(mutate) -> str:
    data = copy.deepcopy(_yaml_model())
    mutate(data)
    with pytest.raises(ConfigError) as err:
        ModelConfig.from_dict(data)
    return str(err.value)


def blocks(d):
    return d["backbone"]["blocks"]


def test_unknown_group_named_with_block():
    msg = _bad(lambda d: blocks(d)[1]["inputs"][0].update(feature_group_name="dep"))
    assert "deep_logit" in msg and "dep" in msg and "known groups" in msg


def test_unknown_block_input():
    msg = _bad(lambda d: blocks(d)[2]["inputs"][1].update(block_name="deep"))
    assert "final_logit" in msg and "'deep'" in msg


def test_unknown_component():
    msg = _bad(lambda d: blocks(d)[1]["layer"].update(class_name="MLPX"))
    assert "deep_logit" in msg and "MLPX" in msg and "MLP" in msg


def test_unknown_component_parameter():
    msg = _bad(lambda d: blocks(d)[1]["layer"]["params"].update(hiden_units=[3]))
    assert "deep_logit" in msg and "hiden_units" in msg and "hidden_units" in msg


def test_bad_parameter_value():
    msg = _bad(lambda d: blocks(d)[1]["layer"]["params"].update(hidden_units=[0]))
    assert "deep_logit" in msg and "positive" in msg


def test_cycle_detected():
    def mutate(d):
        blocks(d)[1]["inputs"] = [{"block_name": "final_logit"}]

    msg = _bad(mutate)
    assert "cycle" in msg and "deep_logit" in msg and "final_logit" in msg


def test_self_loop_detected():
    msg = _bad(lambda d: blocks(d)[1].update(inputs=[{"block_name": "deep_logit"}]))
    assert "cycle" in msg and "deep_logit" in msg


def test_block_needs_one_kind():
    msg = _bad(lambda d: blocks(d)[1].update(input_layer={"only_output_feature_list": True}))
    assert "deep_logit" in msg and "exactly one" in msg


def test_hostile_input_fn_in_config():
    msg = _bad(
        lambda d: blocks(d)[2]["inputs"][0].update(input_fn="__import__('os').system('echo hi')")
    )
    assert "final_logit" in msg and "__import__" in msg
    text = EXAMPLE.replace("lambda x: tf.add_n(x)", "lambda x: x.__class__")
    with pytest.raises(ConfigError, match="final_logit"):
        load_easyrec_config(text)


def test_unknown_keys_rejected():
    msg = _bad(lambda d: d.update(backbone_={}))
    assert "backbone_" in msg
    msg = _bad(lambda d: blocks(d)[0].update(keras_layer={"class_name": "MLP"}))
    assert "keras_layer" in msg
    with pytest.raises(ConfigError, match="batch_sise"):
        TrainConfig.from_dict({"batch_sise": 3})


def test_concat_blocks_checked():
    msg = _bad(lambda d: d["backbone"].update(concat_blocks=["nope"]))
    assert "nope" in msg


def test_train_config_checks():
    with pytest.raises(ConfigError, match="ndcg"):
        TrainConfig(early_stopping_metric="ndcg@10")
    with pytest.raises(ConfigError, match="each parameter once"):
        TrainConfig.from_dict({"optimizers": [{"params": "all"}, {"params": "dense"}]})
    with pytest.raises(ConfigError, match="unknown"):
        TrainConfig.from_dict({"optimizers": [{"name": "adamm"}]})
