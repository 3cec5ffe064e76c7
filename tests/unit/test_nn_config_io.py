"""recutils.nn.config_io: one reader of config sources, one merge, the shipped configs' folders."""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import pytest
import yaml

import recutils
import recutils.nn
from recutils.exceptions import ConfigError
from recutils.models.deep.config import DeepRankConfig, example_config_path
from recutils.nn.config import ModelConfig, OptimizerConfig, TrainConfig
from recutils.nn.config_io import (
    SHIPPED_CONFIG_DIRS,
    list_shipped_configs,
    load_config_with,
    load_model_config,
    load_model_source,
    merge_config,
    shipped_config_path,
    source_kind,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(recutils.__file__).resolve().parent
WIDE_DEEP_YAML = PACKAGE / "models" / "deep" / "configs" / "wide_deep_movielens.yaml"
WIDE_DEEP_EASYREC = PACKAGE / "models" / "deep" / "configs" / "wide_deep_movielens.config"
ZOO_PRESETS = [
    "autoint",
    "dcn",
    "dcnv2",
    "deepfm",
    "dlrm",
    "ffm",
    "fibinet",
    "fm",
    "highway",
    "masknet",
    "multitower",
    "ppnet",
    "xdeepfm",
]
# the behaviour-sequence models' configs and their history-free reference (mlp)
TAOBAO_CONFIGS = ["bst", "dien", "din", "mlp"]
GROCERY_CONFIGS = (
    "a2svd",
    "deepfm",
    "gru_history",
    "slirec",
    "sum",
)  # the grocery behaviour presets and their reference


# ------------------------------------------------------------- import graph
def _imported_modules(module: str) -> dict[str, set[str]]:
    """Modules ``module`` imports -> the enclosing functions (``""``: module level)."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = (
                child.name
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                else function
            )
            if isinstance(child, ast.Import):
                for alias in child.names:
                    out.setdefault(alias.name, set()).add(function)
            elif isinstance(child, ast.ImportFrom) and child.module:
                out.setdefault(child.module, set()).add(function)
                for alias in child.names:  # ``from recutils.nn import easyrec``
                    out.setdefault(f"{child.module}.{alias.name}", set()).add(function)
            visit(child, inner)

    visit(tree, "")
    return out


def test_no_import_circle_between_config_and_easyrec():
    """The circle nn.config <-> nn.easyrec is gone, counting imports inside functions too."""
    config = _imported_modules("recutils.nn.config")
    easyrec = _imported_modules("recutils.nn.easyrec")
    io = _imported_modules("recutils.nn.config_io")
    assert "recutils.nn.easyrec" not in config
    assert "recutils.nn.config" in easyrec and "recutils.nn.config_io" not in easyrec
    assert {"recutils.nn.config", "recutils.nn.easyrec"} <= set(io)
    # nn.config names config_io only in the lazy alias of the moved load_model_config
    assert config.get("recutils.nn.config_io", set()) <= {"__getattr__"}


def test_moved_names_resolve_from_their_old_paths():
    import recutils.nn.config as nn_config
    from recutils.nn.config import load_model_config as old

    assert old is load_model_config and recutils.nn.load_model_config is load_model_config
    with pytest.raises(AttributeError, match="no_such_name"):
        nn_config.no_such_name  # noqa: B018


# ---------------------------------------------------------------- sources
def test_source_kind_decides_each_kind():
    text = "# a comment\nmodel_config {\n  model_name: 'x'\n}\n"
    assert source_kind(ModelConfig()) == "config"
    assert source_kind({"model_name": "x"}) == "mapping"
    assert source_kind(text) == "easyrec"
    assert source_kind(WIDE_DEEP_EASYREC) == source_kind(str(WIDE_DEEP_EASYREC)) == "easyrec"
    assert source_kind("model_name: x\n") == source_kind(WIDE_DEEP_YAML) == "yaml"
    with pytest.raises(ConfigError, match="got int"):
        source_kind(3)


def test_every_source_gives_the_same_model_config():
    data = yaml.safe_load(WIDE_DEEP_YAML.read_text())
    expected = ModelConfig.from_dict(data["model_config"])
    sources = [
        WIDE_DEEP_YAML,
        str(WIDE_DEEP_YAML),
        WIDE_DEEP_YAML.read_text(),
        data,
        data["model_config"],
        yaml.safe_dump(data["model_config"]),
        expected,
        WIDE_DEEP_EASYREC,
    ]
    for source in sources:
        assert load_model_config(source) == expected, source_kind(source)
    copy = load_model_config(expected)
    assert copy == expected and copy is not expected
    model, features = load_model_source(WIDE_DEEP_EASYREC)
    assert model == expected and {f.name for f in features} >= {"job_id", "genres"}
    assert load_model_source(WIDE_DEEP_YAML) == (expected, [])
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_model_config("")  # an empty document is not a model config
    with pytest.raises(ConfigError, match="expected a ModelConfig"):
        load_model_config(TrainConfig())


def test_load_config_with_reads_easyrec_as_a_whole_config():
    cfg = load_config_with(WIDE_DEEP_EASYREC, DeepRankConfig, {"seed": 3})
    assert cfg.model_config == load_model_config(WIDE_DEEP_YAML) and cfg.seed == 3
    assert [f.name for f in cfg.features] == [
        f.name for f in load_model_source(WIDE_DEEP_EASYREC)[1]
    ]
    assert load_config_with(None, DeepRankConfig) == DeepRankConfig()
    with pytest.raises(ConfigError, match="TrainConfig has no such field"):
        load_config_with(WIDE_DEEP_EASYREC, TrainConfig)


# ------------------------------------------------------------------ merge
def test_merge_config_rules():
    base = {
        "train": {
            "epochs": 1,
            "optimizers": [{"name": "adam", "lr": 0.1}, {"name": "sgd", "lr": 0.2}],
        },
        "seed": 1,
    }
    merged = merge_config(
        base, {"train": {"epochs": 3, "optimizers": {"1": {"lr": 0.5}}}, "seed": 2}
    )
    assert merged == {
        "train": {
            "epochs": 3,
            "optimizers": [{"name": "adam", "lr": 0.1}, {"name": "sgd", "lr": 0.5}],
        },
        "seed": 2,
    }
    assert base["train"]["optimizers"][1]["lr"] == 0.2  # the input is not modified
    assert merge_config(base, {"train": {"optimizers": [{"name": "adam"}]}})["train"][
        "optimizers"
    ] == [{"name": "adam"}]  # a list replaces
    assert merge_config(base, {"new": {"a": 1}})["new"] == {"a": 1}
    opt = OptimizerConfig(lr=0.3)
    assert merge_config({"o": {"lr": 1}}, {"o": opt})["o"] is opt  # a config replaces
    assert merge_config(None, {"a": 1}) == {"a": 1}
    with pytest.raises(ConfigError, match=r"config\.train\.optimizers\.5: position out of range"):
        merge_config(base, {"train": {"optimizers": {"5": {"lr": 1}}}})


# -------------------------------------------------------- shipped configs
def test_shipped_configs_by_bare_name_and_old_folder(tmp_path, monkeypatch):
    names = list_shipped_configs()
    assert {f"{n}_movielens.yaml" for n in ZOO_PRESETS} | {
        f"{n}_taobao.yaml" for n in TAOBAO_CONFIGS
    } | {f"{n}_grocery.yaml" for n in GROCERY_CONFIGS} | {
        "wide_deep_movielens.yaml",
        "wide_deep_movielens.config",
    } | {"mlp_student_movielens.yaml", "rocket_launching_movielens.yaml"} | {
        p.name
        for folder in ("multitask", "retrieval")
        for p in (PACKAGE / "models" / folder / "configs").iterdir()
    } == set(names)
    from recutils.models.multitask import MULTITASK_PRESETS

    for file in MULTITASK_PRESETS.values():
        assert shipped_config_path(file).parent == PACKAGE / "models" / "multitask" / "configs"
    for name in ZOO_PRESETS:
        assert (
            shipped_config_path(f"{name}_movielens.yaml").parent
            == PACKAGE / "models" / "ctr" / "configs"
        )
    assert example_config_path() == WIDE_DEEP_YAML
    assert example_config_path("wide_deep_movielens.config") == WIDE_DEEP_EASYREC
    # the old folder's paths (documented before the presets moved) still resolve
    assert shipped_config_path("recutils/nn/configs/deepfm_movielens.yaml") == example_config_path(
        "deepfm_movielens.yaml"
    )
    monkeypatch.chdir(tmp_path)
    old = "recutils/nn/configs/wide_deep_movielens.yaml"
    assert load_model_config(old) == load_model_config(WIDE_DEEP_YAML)
    assert load_model_config(
        Path("recutils/nn/configs/wide_deep_movielens.config")
    ) == load_model_config(WIDE_DEEP_YAML)
    assert load_config_with(old, DeepRankConfig) == load_config_with(WIDE_DEEP_YAML, DeepRankConfig)
    with pytest.raises(ConfigError, match="shipped: .*deepfm_movielens.yaml"):
        example_config_path("deep_fm.yaml")
    with pytest.raises(ConfigError, match="give a file name"):
        shipped_config_path("elsewhere/deepfm_movielens.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_model_config("recutils/nn/configs/not_shipped.yaml")


def test_package_data_ships_every_config():
    """Each shipped config matches a package_data glob of its package in setup.py."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    call = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup"
    )
    package_data = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "package_data"))
    for folder in SHIPPED_CONFIG_DIRS:
        files = [p for p in folder.iterdir() if p.is_file()]
        assert files, folder
        package = ".".join(folder.parent.relative_to(PACKAGE.parent).parts)
        globs = package_data.get(package, [])
        for file in files:
            relative = file.relative_to(folder.parent).as_posix()
            assert any(fnmatch.fnmatch(relative, g) for g in globs), (package, relative, globs)
