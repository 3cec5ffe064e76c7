"""Configs from a hostile user: every bad document is a RecUtilsError, never a crash.

Each probe names what it guards. The fuzz tests at the end throw random YAML text,
EasyRec text and random values at every known section and key; any exception other
than a :class:`~recutils.exceptions.RecUtilsError` (or a valid config) fails them.
A new model family inherits these probes by adding its config class to ``CONFIG_CLASSES``.
"""

from __future__ import annotations

import copy
import json
import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recutils.config import load_config
from recutils.exceptions import ConfigError, RecUtilsError
from recutils.limits import (
    LIMITS_ENV,
    MAX_CONFIG_DEPTH,
    MAX_EMBEDDING_DIM,
    MAX_HASH_BUCKETS,
    MAX_HIDDEN_UNITS,
    MAX_PARAMETERS,
    check_config_structure,
)
from recutils.models.deep.config import DeepRankConfig
from recutils.nn.components.registry import check_layer_params, get_component_spec, list_components
from recutils.nn.config import ModelConfig, OptimizerConfig, TrainConfig
from recutils.nn.config_io import (
    load_config_with,
    load_model_config,
    read_mapping,
    shipped_config_path,
)
from recutils.nn.easyrec import easyrec_to_dict, load_easyrec_config, parse_easyrec_text
from recutils.nn.features import FeatureConfig

CONFIG_CLASSES = [DeepRankConfig]


def wide_deep() -> dict:
    """The shipped Wide & Deep config as plain data (a realistic starting point)."""
    return DeepRankConfig().to_dict()


def with_mlp(**params: object) -> dict:
    data = wide_deep()
    data["model_config"]["backbone"]["blocks"][1]["layer"]["params"].update(params)
    return data


EASYREC = """
model_config {
  feature_groups { group_name: 'deep' feature_names: 'user' feature_names: 'item' wide_deep: DEEP }
  backbone {
    blocks { name: 'mlp' inputs { feature_group_name: 'deep' }
             keras_layer { class_name: 'MLP' mlp { hidden_units: [8, 1] final_activation: 'linear' } } }
    concat_blocks: 'mlp'
  }
  num_class: NUM
}
"""


# ------------------------------------------------------------------ 1. nesting depth
@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,
        "{a: " * 5000 + "1" + "}" * 5000,
        "".join(f"{'  ' * i}a:\n" for i in range(5000)) + "  " * 5000 + "1\n",
        "- " * 3000 + "1",
    ],
    ids=["flow-list", "flow-mapping", "block-mapping", "block-list"],
)
def test_yaml_nested_5000_deep_raises_config_error_not_recursion_error(text: str) -> None:
    with pytest.raises(ConfigError, match="deeper than"):
        load_config_with(text, DeepRankConfig)
    with pytest.raises(ConfigError):
        load_config(text, TrainConfig)
    with pytest.raises(ConfigError):
        read_mapping(text)


def test_yaml_nesting_at_the_limit_is_read_and_one_more_level_is_refused() -> None:
    # "a: [[...]]" nests the mapping and MAX_CONFIG_DEPTH - 1 lists: exactly the limit
    assert read_mapping("a: " + "[" * (MAX_CONFIG_DEPTH - 1) + "]" * (MAX_CONFIG_DEPTH - 1)) == {
        "a": _nested_list(MAX_CONFIG_DEPTH - 1)
    }
    with pytest.raises(ConfigError, match="deeper than"):
        read_mapping("a: " + "[" * MAX_CONFIG_DEPTH + "]" * MAX_CONFIG_DEPTH)


def _nested_list(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_mapping_nested_5000_deep_raises_config_error() -> None:
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]
    with pytest.raises(ConfigError, match="deeper than"):
        DeepRankConfig.from_dict({"model_config": {"backbone": {"blocks": [deep]}}})
    with pytest.raises(ConfigError, match="deeper than"):
        load_config_with(None, DeepRankConfig, {"train": {"optimizers": [{"lr": deep}]}})
    deep_list = _nested_list(5000)
    with pytest.raises(ConfigError, match="deeper than"):
        check_layer_params("MLP", {"hidden_units": deep_list})


def test_a_mapping_that_contains_itself_raises_config_error() -> None:
    loop: dict = {"name": "adam"}
    loop["lr"] = loop
    with pytest.raises(ConfigError, match="contains itself"):
        OptimizerConfig.from_dict(loop)
    with pytest.raises(ConfigError, match="contains itself"):
        load_config_with("a: &x [*x]", DeepRankConfig)


def test_yaml_billion_laughs_raises_config_error_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(ConfigError, match="more than"):
        read_mapping("\n".join(lines))


def test_structure_check_counts_shared_values_once_per_use() -> None:
    shared = list(range(10))
    check_config_structure({"a": [shared] * 100})  # 1,000 values: fine
    with pytest.raises(ConfigError, match="more than"):
        check_config_structure({"a": [[shared] * 1000] * 1000})


# ------------------------------------------------------------- 2. huge integers
def test_easyrec_integer_of_5000_digits_raises_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="'num_class'.*5000 digits.*64-bit"):
        load_model_config(EASYREC.replace("NUM", "9" * 5000))
    with pytest.raises(ConfigError, match="'hidden_units'"):
        load_model_config(EASYREC.replace("[8, 1]", "[8, " + "1" * 5000 + "]").replace("NUM", "1"))


def test_easyrec_integers_at_the_protobuf_range_edges() -> None:
    with pytest.raises(ConfigError, match="num_class must be 1"):  # in range: read, then validated
        load_model_config(EASYREC.replace("NUM", str(2**64 - 1)))
    with pytest.raises(ConfigError, match="64-bit"):
        load_model_config(EASYREC.replace("NUM", str(2**64)))
    assert load_model_config(EASYREC.replace("NUM", "0001")).num_class == 1


def test_yaml_integer_of_5000_digits_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config_with("default_embedding_dim: " + "9" * 5000, DeepRankConfig)


def test_yaml_date_that_does_not_exist_raises_config_error() -> None:
    with pytest.raises(ConfigError):
        load_config_with("model_dir: 2020-13-45", DeepRankConfig)


# ------------------------------------------------------------------ 3. nulls
@pytest.mark.parametrize(
    "text",
    [
        "model_config:\n  backbone: null",  # block style: "model_config: {" reads as EasyRec text
        "model_config:\n  model_params: null",
        "model_config:\n  feature_groups: null",
        "model_config:\n  backbone: {blocks: null, concat_blocks: [x]}",
        "model_config: null",
        "train: null",
        "features: null",
        "train: {optimizers: null}",
    ],
)
def test_null_section_raises_config_error_not_attribute_error(text: str) -> None:
    with pytest.raises(ConfigError, match="is null"):
        load_config_with(text, DeepRankConfig)


def test_backbone_null_in_a_model_config_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="ModelConfig.backbone is null"):
        load_model_config("backbone: null\nfeature_groups: [{group_name: g, feature_names: [a]}]")


@pytest.mark.parametrize(
    "text",
    [
        "model_config:\n  model_name: null",
        "model_config:\n  backbone: {concat_blocks: 5}",
        "model_config:\n  feature_groups: [{group_name: g, feature_names: 5}]",
        "train: {progress: null}",
        "train: {restore_best: maybe}",
        "train: {validation_fraction: abc}",
        "features: [{name: u, column: [1]}]",
        "features: [{name: u, embedding_name: {a: 1}}]",
        "features: [{name: x, type: numeric, boundaries: 5}]",
    ],
)
def test_wrong_types_where_a_string_list_or_flag_is_expected_raise_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        load_config_with(text, DeepRankConfig)


def test_null_where_null_means_the_default_still_reads() -> None:
    data = wide_deep()
    data["label_threshold"] = None
    data["model_config"]["backbone"]["blocks"][1]["input_layer"] = None
    data["model_config"]["backbone"]["blocks"][1]["layer"]["params"] = {"hidden_units": [4, 1]}
    cfg = DeepRankConfig.from_dict(data)
    assert cfg.label_threshold is None and cfg.model_config.backbone.blocks[1].input_layer is None


# ------------------------------------------------------------ 4. finite floats
NON_FINITE = [".nan", ".inf", "-.inf"]


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize(
    "text",
    [
        "train: {optimizers: [{name: adam, lr: V}]}",
        "train: {optimizers: [{name: adam, lr: 0.01, weight_decay: V}]}",
        "train: {optimizers: [{name: sgd, lr: 0.01, momentum: V}]}",
        "train: {lr_decay_rate: V}",
        "train: {min_delta: V}",
        "train: {validation_fraction: V}",
        "train: {ema_decay: V}",
        "label_threshold: V",
        "model_config:\n  embedding_regularization: V",
        "model_config:\n  model_params: {l2_regularization: V}",
        "features: [{name: x, type: numeric, boundaries: [0.0, V]}]",
    ],
)
def test_non_finite_float_raises_config_error(text: str, value: str) -> None:
    with pytest.raises(ConfigError):
        load_config_with(text.replace("V", value), DeepRankConfig)


@pytest.mark.parametrize(
    "component,params",
    [
        ("MLP", {"hidden_units": [4], "dropout_ratio": math.nan}),
        ("MLP", {"hidden_units": [4, 2], "dropout_ratio": [0.1, math.inf]}),
        ("MaskBlock", {"aggregation_ratio": math.nan}),
        ("MaskBlock", {"dropout": math.nan}),
        ("MaskNet", {"aggregation_ratio": math.inf}),
        ("Highway", {"carry_bias": -math.inf}),
        ("Highway", {"dropout": math.nan}),
        ("PPNet", {"dropout_ratio": math.nan}),
    ],
)
def test_non_finite_component_params_raise_config_error(component: str, params: dict) -> None:
    with pytest.raises(ConfigError):
        check_layer_params(component, params)


def test_lr_nan_in_the_yaml_of_a_model_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="lr must be a finite number"):
        load_config_with("train: {optimizers: [{name: adam, lr: .nan}]}", DeepRankConfig)


# ------------------------------------------------------------------ 5. sizes
@pytest.mark.parametrize(
    "data,match",
    [
        ({"default_embedding_dim": MAX_EMBEDDING_DIM + 1}, "default_embedding_dim"),
        (
            {"features": [{"name": "user", "column": "@user", "embedding_dim": 10**9}]},
            "embedding_dim",
        ),
        (
            {
                "features": [
                    {"name": "user", "column": "@user", "hash_buckets": MAX_HASH_BUCKETS + 1}
                ]
            },
            "hash_buckets",
        ),
        (
            {
                "features": [
                    {"name": "user", "column": "@user", "type": "sequence", "max_length": 10**8}
                ]
            },
            "max_length",
        ),
        (with_mlp(hidden_units=[MAX_HIDDEN_UNITS + 1, 1]), "hidden_units"),
        (with_mlp(hidden_units=[1] * 1000), "number of hidden_units"),
    ],
)
def test_sizes_above_the_limits_raise_config_error(data: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=f"{match}.*limit.*{LIMITS_ENV}=off"):
        DeepRankConfig.from_dict(data)


@pytest.mark.parametrize(
    "component,params",
    [
        ("Cross", {"num_layers": 10**6}),
        ("CrossV2", {"num_experts": 10**6, "low_rank": 4}),
        ("CrossV2", {"low_rank": 10**7}),
        ("CIN", {"layer_sizes": [10**6]}),
        ("MultiHeadSelfAttention", {"head_num": 10**5}),
        ("MultiHeadSelfAttention", {"head_dim": 10**6}),
        ("MaskNet", {"block_dim": 10**6}),
        ("MaskNet", {"num_blocks": 10**4}),
        ("MaskBlock", {"aggregation_ratio": 1e9}),
        ("Highway", {"num_layers": 10**5}),
        ("PPNet", {"gate_hidden_dim": 10**6}),
        ("FirstOrder", {"output_dim": 10**6}),
    ],
)
def test_component_sizes_above_the_limits_raise_config_error(component: str, params: dict) -> None:
    with pytest.raises(ConfigError, match="limit"):
        check_layer_params(component, params)


def test_wide_output_dim_above_the_limit_raises_config_error() -> None:
    data = wide_deep()
    data["model_config"]["backbone"]["blocks"][0]["input_layer"]["wide_output_dim"] = 10**6
    with pytest.raises(ConfigError, match="wide_output_dim"):
        DeepRankConfig.from_dict(data)


def test_sizes_at_the_limits_are_accepted() -> None:
    cfg = FeatureConfig(name="u", embedding_dim=MAX_EMBEDDING_DIM, hash_buckets=MAX_HASH_BUCKETS)
    assert cfg.hash_buckets == MAX_HASH_BUCKETS
    assert (
        check_layer_params("MLP", {"hidden_units": [MAX_HIDDEN_UNITS, 1]}).hidden_units[0]
        == MAX_HIDDEN_UNITS
    )


def test_limits_off_lifts_the_size_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIMITS_ENV, "off")
    assert FeatureConfig(name="u", embedding_dim=10**5).embedding_dim == 10**5
    assert DeepRankConfig.from_dict(with_mlp(hidden_units=[MAX_HIDDEN_UNITS * 2, 1]))
    with pytest.raises(ConfigError, match="deeper than"):  # the structure limits stay on
        read_mapping("[" * 5000 + "]" * 5000)


def _specs(rows: int, dim: int) -> dict:
    from recutils.nn.features import FeatureSpec

    return {
        "user": FeatureSpec("user", "id", "user", rows, dim, 1, "mean", "categorical"),
        "item": FeatureSpec("item", "id", "item", 100, dim, 1, "mean", "categorical"),
    }


def test_a_terabyte_network_is_refused_before_any_weight_is_allocated() -> None:
    torch = pytest.importorskip("torch")
    from recutils.nn.backbone import build_rank_network

    cfg = DeepRankConfig().model_config
    rows = MAX_HASH_BUCKETS + 2  # the largest hash table, at the largest width: 8.8e12 parameters
    with pytest.raises(ConfigError, match=r"parameters \(.*embedding tables.*above the limit"):
        build_rank_network(cfg, _specs(rows, MAX_EMBEDDING_DIM), seed=0)
    assert torch.get_default_device().type == "cpu"


def test_a_dense_network_above_the_parameter_limit_is_refused() -> None:
    pytest.importorskip("torch")
    from recutils.nn.backbone import build_rank_network

    data = with_mlp(hidden_units=[MAX_HIDDEN_UNITS, MAX_HIDDEN_UNITS, 1])  # 4.3e9 dense parameters
    cfg = DeepRankConfig.from_dict(data).model_config
    with pytest.raises(ConfigError, match=f"above the limit of {MAX_PARAMETERS:,}"):
        build_rank_network(cfg, _specs(100, 8), seed=0)


def test_parameter_count_leaves_the_built_network_and_the_global_rng_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch = pytest.importorskip("torch")
    from recutils.nn.backbone import build_rank_network

    cfg = DeepRankConfig().model_config
    state = torch.random.get_rng_state()
    checked = build_rank_network(cfg, _specs(50, 8), seed=3)
    assert torch.equal(state, torch.random.get_rng_state())
    monkeypatch.setenv(LIMITS_ENV, "off")
    unchecked = build_rank_network(cfg, _specs(50, 8), seed=3)
    a, b = checked.state_dict(), unchecked.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------- 7. probes that already pass
@pytest.mark.parametrize(
    "text",
    [
        "!!python/object/apply:os.system ['true']",
        "train: !!python/object:collections.OrderedDict {}",
        "seed: !!python/name:os.system",
        "a: !!binary aGVsbG8=\nb: !!set {x}",
    ],
)
def test_yaml_python_tags_are_refused(text: str) -> None:
    with pytest.raises(RecUtilsError):
        load_config_with(text, DeepRankConfig)


@pytest.mark.parametrize(
    "fn",
    [
        "lambda x: __import__('os').system('true')",
        "lambda x: x.__class__",
        "lambda x: eval('1')",
        "lambda x: [y for y in x]",
        "lambda x, y: x",
        "lambda x: open('/etc/passwd')",
        "lambda x: (lambda y: y)(x)",
        "x" * 10_000,
    ],
)
def test_input_fn_outside_the_whitelist_is_refused(fn: str) -> None:
    data = wide_deep()
    data["model_config"]["backbone"]["blocks"][2]["inputs"][0]["input_fn"] = fn
    with pytest.raises(ConfigError):
        DeepRankConfig.from_dict(data)


@pytest.mark.parametrize(
    "path,key",
    [
        ((), "colour"),
        (("train",), "learning_rate"),
        (("model_config",), "eval"),
        (("model_config", "backbone"), "extra"),
    ],
)
def test_unknown_keys_are_refused_and_named(path: tuple, key: str) -> None:
    data = wide_deep()
    node = data
    for p in path:
        node = node[p]
    node[key] = 1
    with pytest.raises(ConfigError, match=key):
        DeepRankConfig.from_dict(data)


def test_unknown_component_param_and_easyrec_field_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown parameter"):
        check_layer_params("MLP", {"hidden_units": [4], "units": 3})
    with pytest.raises(ConfigError, match="not supported"):
        load_model_config(EASYREC.replace("NUM", "1").replace("num_class: 1", "exec: 'rm -rf /'"))


def test_shipped_configs_read_under_the_limits() -> None:
    for name in ("wide_deep_movielens.yaml", "wide_deep_movielens.config"):
        assert isinstance(
            load_config_with(shipped_config_path(name), DeepRankConfig), DeepRankConfig
        )


# ------------------------------------------------------------------ 6. fuzzing
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, -1, 10**400, 2**31, 2**64, MAX_HIDDEN_UNITS + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "adam",
            "MLP",
            "relu",
            "WIDE",
            "DEEP",
            "linear",
            "auc",
            "@user",
            "lambda x: x[0]",
            "categorical",
            "numeric",
            "tags",
            "sequence",
            "user",
            "item",
            "wide",
            "deep",
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    """Every path (dict keys / list positions) into ``node``, containers included."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _set(root: dict, path: tuple, value: object) -> dict:
    if not path:
        return value  # type: ignore[return-value]
    node = root
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    return root


def _component_blocks() -> list[dict]:
    """One layer per registered component with all its parameters, so mutations reach every one."""
    return [
        {
            "class_name": name,
            "params": check_layer_params(
                name, {"hidden_units": [4, 1]} if name in ("MLP", "PPNet") else {}
            ).to_dict(),
        }
        for name in list_components()
    ]


BASES = [wide_deep()]
for _layer in _component_blocks():
    _base = wide_deep()
    _base["model_config"]["backbone"]["blocks"][1]["layer"] = _layer
    BASES.append(_base)
_zoo = read_mapping(shipped_config_path("deepfm_movielens.yaml"))
BASES.append({k: v for k, v in _zoo.items() if k in DeepRankConfig.field_names()})
_base = wide_deep()
_base["features"] = [
    {"name": "user", "column": "@user", "type": "tags", "max_length": 3, "embedding_dim": 8},
    {"name": "item", "column": "@item", "type": "numeric", "boundaries": [0.5, 1.5]},
]
_base["train"]["optimizers"] = [
    {"name": "adagrad", "sparse": True, "params": "embedding"},
    {"name": "adam", "params": "dense"},
]
BASES.append(_base)
KEYS = sorted({p[-1] for b in BASES for p in _paths(b) if p and isinstance(p[-1], str)})


def _accepts_or_config_error(build) -> None:
    try:
        build()
    except RecUtilsError:
        pass


@FUZZ
@given(
    base=st.sampled_from(range(len(BASES))),
    picks=st.lists(st.tuples(st.integers(0, 10**6), VALUES), min_size=1, max_size=4),
)
def test_fuzz_mutated_configs_raise_only_recutils_errors(base: int, picks: list) -> None:
    data = copy.deepcopy(BASES[base])
    for index, value in picks:
        paths = _paths(data)
        data = _set(data, paths[index % len(paths)], value)
    _accepts_or_config_error(lambda: DeepRankConfig.from_dict(data))
    _accepts_or_config_error(
        lambda: load_config_with(
            None, DeepRankConfig, data if isinstance(data, dict) else {"train": data}
        )
    )


@FUZZ
@given(
    base=st.sampled_from(range(len(BASES))),
    key=st.sampled_from(KEYS),
    value=VALUES,
    depth=st.integers(0, 4),
)
def test_fuzz_known_keys_with_random_values_raise_only_recutils_errors(
    base: int, key: str, value: object, depth: int
) -> None:
    data = copy.deepcopy(BASES[base])
    targets = [p for p in _paths(data) if p and p[-1] == key]
    for path in targets[depth % max(len(targets), 1) :][:1]:
        data = _set(data, path, value)
    text = yaml.safe_dump(data, allow_unicode=True)
    _accepts_or_config_error(lambda: load_config_with(text, DeepRankConfig))
    if isinstance(data.get("model_config"), dict):
        _accepts_or_config_error(lambda: load_model_config(data["model_config"]))


@FUZZ
@given(
    component=st.sampled_from(list_components()),
    params=st.dictionaries(
        st.sampled_from(
            sorted(
                {f for c in list_components() for f in get_component_spec(c).params.field_names()}
            )
        ),
        VALUES,
        max_size=4,
    ),
)
def test_fuzz_component_params_raise_only_recutils_errors(component: str, params: dict) -> None:
    _accepts_or_config_error(lambda: check_layer_params(component, params))


YAML_PIECES = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        ":",
        "-",
        " ",
        "\n",
        "  ",
        "&a",
        "*a",
        "!!",
        "!!python/tuple",
        "!!int",
        "!!float",
        "!!str",
        "'",
        '"',
        "#",
        "?",
        ",",
        "|",
        ">",
        "%YAML 1.1\n",
        "---\n",
        "...\n",
        "train",
        "model_config",
        "lr",
        ".nan",
        "1e999",
        "0x1F",
        "0o17",
        "2020-02-30",
        "1_000",
        "null",
        "~",
        "yes",
        "<<",
        "9" * 5000,
    ]
)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.lists(YAML_PIECES, max_size=40).map("".join)))
def test_fuzz_random_yaml_text_raises_only_recutils_errors(text: str) -> None:
    _accepts_or_config_error(lambda: load_config_with(text, DeepRankConfig))
    _accepts_or_config_error(lambda: load_model_config(text))


EASYREC_PIECES = st.sampled_from(
    [
        "model_config",
        "{",
        "}",
        "<",
        ">",
        "[",
        "]",
        ":",
        ",",
        ";",
        " ",
        "\n",
        "feature_groups",
        "group_name",
        "'g'",
        "feature_names",
        "backbone",
        "blocks",
        "name",
        "inputs",
        "feature_group_name",
        "block_name",
        "input_fn",
        "keras_layer",
        "class_name",
        "'MLP'",
        "'Add'",
        "mlp",
        "hidden_units",
        "st_params",
        "fields",
        "key",
        "value",
        "number_value",
        "list_value",
        "values",
        "string_value",
        "concat_blocks",
        "input_layer",
        "wide_deep",
        "DEEP",
        "feature_config",
        "features",
        "input_names",
        "feature_type",
        "IdFeature",
        "embedding_dim",
        "hash_bucket_size",
        "boundaries",
        "1",
        "-1",
        "1.5",
        "inf",
        "nan",
        "true",
        "1e999",
        "9" * 5000,
        '"\\x"',
        "'a' 'b'",
        "#c\n",
    ]
)


@FUZZ
@given(tokens=st.lists(EASYREC_PIECES, max_size=60), tail=st.text(max_size=30))
def test_fuzz_random_easyrec_text_raises_only_recutils_errors(tokens: list, tail: str) -> None:
    text = "model_config {" + " ".join(tokens) + tail
    _accepts_or_config_error(lambda: load_easyrec_config(text))
    _accepts_or_config_error(lambda: load_config_with(text, DeepRankConfig))


RICH_EASYREC = """
model_config {
  model_name: 'fuzz' model_class: 'RankModel' embedding_regularization: 1e-5 num_class: 1
  feature_groups { group_name: 'wide' feature_names: 'user' feature_names: 'item' wide_deep: WIDE }
  feature_groups { group_name: 'deep' feature_names: 'user' feature_names: 'item' wide_deep: DEEP }
  backbone {
    blocks { name: 'wide' inputs { feature_group_name: 'wide' }
             input_layer { only_output_feature_list: true wide_output_dim: 1 } }
    blocks { name: 'mlp' inputs { feature_group_name: 'deep' }
             keras_layer { class_name: 'MLP' mlp { hidden_units: [8, 1] final_activation: 'linear' } } }
    blocks { name: 'cross' inputs { feature_group_name: 'deep' }
             keras_layer { class_name: 'CrossV2' st_params {
               fields { key: 'num_layers' value { number_value: 2 } }
               fields { key: 'low_rank' value { null_value: NULL_VALUE } }
               fields { key: 'activation' value { string_value: 'linear' } } } } }
    blocks { name: 'out' merge_inputs_into_list: true
             inputs { block_name: 'wide' input_fn: 'lambda x: tf.add_n(x)' } inputs { block_name: 'mlp' }
             keras_layer { class_name: 'Add' } }
    concat_blocks: 'out' concat_blocks: 'cross'
  }
  model_params { l2_regularization: 1e-4 }
}
feature_config {
  features { input_names: 'user' feature_type: IdFeature embedding_dim: 8 hash_bucket_size: 1000 }
  features { input_names: 'item' feature_name: 'item' embedding_name: 'items' min_count: 2 }
  features { input_names: 'tags' feature_type: TagFeature separator: '|' max_seq_len: 4 }
  features { input_names: 'age' feature_type: RawFeature boundaries: [18, 30, 50] }
}
"""
TREE_SCALARS = st.one_of(
    SCALARS.filter(lambda v: not isinstance(v, (dict, list)) and v is not None),
    st.sampled_from(["IdFeature", "MLP", "DEEP", "key", "fields"]),
)
TREE_VALUES = st.recursive(
    TREE_SCALARS,
    lambda inner: st.one_of(
        st.lists(TREE_SCALARS, max_size=3),  # a [ ... ] list holds scalars only
        st.lists(
            st.tuples(
                st.sampled_from(
                    [
                        "key",
                        "value",
                        "fields",
                        "number_value",
                        "list_value",
                        "values",
                        "name",
                        "class_name",
                        "hidden_units",
                        "input_names",
                        "features",
                    ]
                ),
                inner,
            ),
            max_size=3,
        ),
    ),
    max_leaves=8,
)


def _tree_paths(node: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, tuple):
                out += _tree_paths(item[1], prefix + (i,))
    return out


def _tree_set(tree: list, path: tuple, value: object) -> list:
    if not path:
        return value  # type: ignore[return-value]
    node = tree
    for i in path[:-1]:
        node = node[i][1]
    node[path[-1]] = (node[path[-1]][0], value)
    return tree


@FUZZ
@given(picks=st.lists(st.tuples(st.integers(0, 10**6), TREE_VALUES), min_size=1, max_size=3))
def test_fuzz_mutated_easyrec_trees_raise_only_recutils_errors(picks: list) -> None:
    tree = parse_easyrec_text(RICH_EASYREC)
    for index, value in picks:
        paths = _tree_paths(tree)[1:]  # the parser always returns a message at the top
        tree = _tree_set(tree, paths[index % len(paths)], value)
    _accepts_or_config_error(lambda: ModelConfig.from_dict(easyrec_to_dict(tree)[0]))


def test_rich_easyrec_base_of_the_fuzz_is_valid() -> None:
    loaded = load_easyrec_config(RICH_EASYREC)
    assert [f.name for f in loaded.features] == ["user", "item", "tags", "age"]
    assert loaded.model_config.backbone.blocks[2].layer.params == {
        "num_layers": 2,
        "low_rank": None,
        "activation": "linear",
    }


@FUZZ
@given(value=VALUES)
def test_fuzz_random_json_documents_raise_only_recutils_errors(value: object) -> None:
    text = json.dumps(value, allow_nan=True)
    for cls in CONFIG_CLASSES:
        _accepts_or_config_error(lambda cls=cls: load_config_with(text, cls))
        _accepts_or_config_error(
            lambda cls=cls: load_config(value if isinstance(value, dict) else text, cls)
        )
