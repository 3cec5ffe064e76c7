"""Artifacts: every registered model round-trips; versions, tampering, pickles and paths."""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import DataWarning, MissingDependencyError, RecUtilsError
from recutils.models import get_model_class, list_models
from recutils.models.baselines import Popularity
from recutils.models.registry import register_model, unregister_model
from recutils.serving import (
    ArtifactError,
    ArtifactIntegrityError,
    ArtifactVersionError,
    UntrustedArtifactError,
    artifact_info,
    load_artifact,
    load_model,
    save_artifact,
    verify_artifact,
)
from recutils.serving.artifacts import _canonical_digest, check_relative_path, resolve_under
from recutils.testing import registry_factory
from recutils.testing.contract import toy_interactions


def _model_class_or_skip(name: str) -> type:
    """The registered class; a model whose library is missing skips (importorskip)."""
    try:
        cls = get_model_class(name)
    except MissingDependencyError as err:
        pytest.importorskip(err.package)
        raise
    for module in getattr(cls, "requires", ()):
        pytest.importorskip(module)
    return cls


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    return toy_interactions()


@pytest.fixture(scope="module")
def sar_artifact(tmp_path_factory: pytest.TempPathFactory, toy: pd.DataFrame) -> Path:
    model = registry_factory("sar")().fit(toy)
    return save_artifact(
        model,
        tmp_path_factory.mktemp("art") / "sar",
        metrics={"ndcg@10": 0.25, "map": np.float32(0.1)},
        trained_at="2024-01-02T03:04:05Z",
    )


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def _rewrite_manifest(folder: Path, edit: Any, redigest: bool = False) -> None:
    file = folder / "manifest.json"
    manifest = json.loads(file.read_text())
    edit(manifest)
    if redigest:
        manifest["artifact"]["manifest_sha256"] = _canonical_digest(manifest)
    file.write_text(json.dumps(manifest))


# --------------------------------------------------------------- round trip
@pytest.mark.parametrize(
    "name", [m for m in list_models() if not getattr(get_model_class(m), "needs_spark", False)]
)
def test_every_registered_model_round_trips_through_an_artifact(
    name: str, tmp_path: Path, toy: pd.DataFrame
) -> None:
    _model_class_or_skip(name)
    factory = registry_factory(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        model = factory().fit(toy)
        path = save_artifact(model, tmp_path / name, metrics={"ndcg@10": 0.5})
        loaded = load_model(path)
        assert type(loaded) is type(model)
        users = list(toy["userID"].unique()[:7])
        pd.testing.assert_frame_equal(
            loaded.recommend_k_items(users, top_k=5), model.recommend_k_items(users, top_k=5)
        )
        pairs = toy.iloc[:25][["userID", "itemID"]]
        pd.testing.assert_frame_equal(loaded.predict(pairs), model.predict(pairs))
    manifest = json.loads((path / "manifest.json").read_text())
    section = manifest["artifact"]
    assert manifest["model"] == name and manifest["recutils_version"]
    assert manifest["columns"]["col_user"] == "userID" and "config" in manifest
    assert section["metrics"] == {"ndcg@10": 0.5} and section["trained_at"]
    assert section["files"] and all(len(e["sha256"]) == 64 for e in section["files"].values())
    assert section["pickled_files"] == []


def test_lightgbm_ctr_artifact_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("lightgbm")
    from recutils.datasets.criteo import CAT_COLS, DEFAULT_HEADER, INT_COLS
    from recutils.models.lightgbm import LightGBMCTR

    rng = np.random.default_rng(0)
    n = 300
    data: dict[str, Any] = {"label": rng.integers(0, 2, n).astype(np.int8)}
    for col in INT_COLS:
        data[col] = rng.poisson(3, n).astype(np.float64)
    for col in CAT_COLS:
        data[col] = pd.array(rng.choice(["a", "b", "c"], n).astype(object), dtype="str")
    df = pd.DataFrame(data)[list(DEFAULT_HEADER)]
    model = LightGBMCTR(num_boost_round=5, early_stopping_rounds=2, min_count=1).fit(df)
    path = save_artifact(model, tmp_path / "ctr")
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict_proba(df), model.predict_proba(df))


def test_artifact_info_and_overwrite(sar_artifact: Path, tmp_path: Path, toy) -> None:
    info = artifact_info(sar_artifact)
    assert info.model == "sar" and info.trained_at == "2024-01-02T03:04:05Z"
    assert info.metrics == {"ndcg@10": 0.25, "map": pytest.approx(0.1)}
    assert len(info.digest) == 64 and info.to_dict()["path"] == str(sar_artifact.resolve())
    loaded = load_artifact(sar_artifact)
    assert loaded.info.digest == info.digest
    target = _copy(sar_artifact, tmp_path / "a")
    with pytest.raises(ArtifactError, match="exists"):
        save_artifact(Popularity().fit(toy), target)
    save_artifact(Popularity().fit(toy), target, overwrite=True)
    assert load_artifact(target).info.model == "popularity"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_bad_metrics_and_unfitted_model(tmp_path: Path) -> None:
    model = Popularity().fit(toy_interactions())
    with pytest.raises(RecUtilsError, match="metric 'x' must be a number"):
        save_artifact(model, tmp_path / "m", metrics={"x": "high"})
    with pytest.raises(ArtifactError, match="not fitted"):
        save_artifact(Popularity(), tmp_path / "u")
    assert not (tmp_path / "m").exists()


def test_plain_saved_model_is_not_an_artifact(tmp_path: Path, toy) -> None:
    folder = Popularity().fit(toy).save(tmp_path / "plain")
    with pytest.raises(ArtifactError, match="not an artifact"):
        load_model(folder)
    with pytest.raises(ArtifactError, match="no such directory"):
        load_model(tmp_path / "missing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_model(tmp_path / "junk")


# --------------------------------------------------------------- versions
@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: m["artifact"].update(format_version=99), "artifact format version 99 is newer"),
        (lambda m: m["artifact"].update(format_version="1"), "unknown artifact format version"),
        (lambda m: m.update(format_version=7), "model format version 7 is newer"),
        (lambda m: m["artifact"].update(recutils_version="999.0.0"), "newer than the installed"),
        (lambda m: m["artifact"].update(recutils_version="banana"), "unknown recutils version"),
    ],
)
def test_newer_or_unknown_versions_are_refused(sar_artifact, tmp_path, edit, match) -> None:
    folder = _copy(sar_artifact, tmp_path / "v")
    _rewrite_manifest(folder, edit)
    with pytest.raises(ArtifactVersionError, match=match):
        load_model(folder)


def test_unknown_model_name_is_a_clear_error(sar_artifact, tmp_path) -> None:
    folder = _copy(sar_artifact, tmp_path / "u")
    _rewrite_manifest(
        folder, lambda m: m.update(model="os_system", **{"class": "os:system"}), redigest=True
    )
    with pytest.raises(ArtifactError, match="unknown model 'os_system'.*known models"):
        load_model(folder)


# --------------------------------------------------------------- tampering
def test_tampered_array_file_is_detected(sar_artifact, tmp_path) -> None:
    folder = _copy(sar_artifact, tmp_path / "t")
    data = bytearray((folder / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="SHA-256"):
        load_model(folder)
    with pytest.raises(ArtifactIntegrityError):
        verify_artifact(folder)


def test_truncated_missing_and_added_files_are_detected(sar_artifact, tmp_path) -> None:
    a = _copy(sar_artifact, tmp_path / "a")
    with open(a / "arrays.npz", "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(ArtifactIntegrityError, match="truncated"):
        load_model(a)
    b = _copy(sar_artifact, tmp_path / "b")
    (b / "arrays.npz").unlink()
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        load_model(b)
    c = _copy(sar_artifact, tmp_path / "c")
    (c / "extra.npy").write_bytes(b"x")
    with pytest.raises(ArtifactIntegrityError, match="not in its manifest"):
        load_model(c)


def test_edited_manifest_is_detected(sar_artifact, tmp_path) -> None:
    folder = _copy(sar_artifact, tmp_path / "m")
    _rewrite_manifest(folder, lambda m: m["config"].update(similarity_type="lift"))
    with pytest.raises(ArtifactIntegrityError, match="modified after"):
        load_model(folder)
    # checksums can be skipped explicitly (versions, paths and pickles are still checked)
    assert load_model(folder, verify=False).config.similarity_type == "lift"


def test_symlink_in_artifact_is_refused(sar_artifact, tmp_path) -> None:
    folder = _copy(sar_artifact, tmp_path / "s")
    os.symlink("/etc/passwd", folder / "link.txt")
    with pytest.raises(ArtifactIntegrityError, match="symbolic link"):
        load_model(folder)


# --------------------------------------------------------------- paths
@pytest.mark.parametrize(
    "bad", ["../x", "/etc/passwd", "a/../../b", "a\\..\\b", "", "a\x00b", "./a", "C:/x", "a//b"]
)
def test_path_traversal_in_artifact_paths_is_rejected(bad: str, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError):
        check_relative_path(bad)
    with pytest.raises(ArtifactError):
        resolve_under(tmp_path, bad)


def test_resolve_under_follows_links_and_stays_inside(tmp_path: Path) -> None:
    (tmp_path / "root" / "ok").mkdir(parents=True)
    os.symlink(tmp_path, tmp_path / "root" / "escape")
    assert resolve_under(tmp_path / "root", "ok") == (tmp_path / "root" / "ok").resolve()
    with pytest.raises(ArtifactError, match="outside"):
        resolve_under(tmp_path / "root", "escape")


def test_traversal_in_manifest_file_list_is_rejected(sar_artifact, tmp_path) -> None:
    folder = _copy(sar_artifact, tmp_path / "p")

    def edit(m: dict) -> None:
        m["artifact"]["files"]["../../etc/passwd"] = {"sha256": "0" * 64, "bytes": 1}

    _rewrite_manifest(folder, edit)
    with pytest.raises(ArtifactError, match="must be relative"):
        load_model(folder)


# --------------------------------------------------------------- pickles
class _Boom:
    """Unpickling this creates a marker file: proves whether a pickle was ever loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


class PickleOnlyModel(Popularity):
    """A stand-in for a wrapper whose library can only pickle its state."""

    name: ClassVar[str] = "pickle_only_test"
    pickled_files: ClassVar[tuple[str, ...]] = ("state.bin",)

    def save(self, path):  # type: ignore[override]
        folder = super().save(path)
        (Path(folder) / "state.bin").write_bytes(pickle.dumps({"answer": 42}))
        return folder

    @classmethod
    def load(cls, path, *, trust=False):  # type: ignore[override]
        model = super().load(path, trust=trust)
        model.extra_ = pickle.loads((Path(path) / "state.bin").read_bytes())
        return model


@pytest.fixture
def pickle_model():
    register_model("pickle_only_test", f"{__name__}:PickleOnlyModel")
    yield PickleOnlyModel
    unregister_model("pickle_only_test")


def test_pickled_artifact_needs_trust_and_checksums_come_first(pickle_model, tmp_path, toy) -> None:
    path = save_artifact(pickle_model().fit(toy), tmp_path / "pk")
    assert artifact_info(path).pickled_files == ("state.bin",)
    with pytest.raises(UntrustedArtifactError, match="trust=True"):
        load_model(path)
    assert load_model(path, trust=True).extra_ == {"answer": 42}
    # a swapped-in malicious pickle: refused by the checksum before any unpickling
    marker = tmp_path / "pwned"
    (path / "state.bin").write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(ArtifactIntegrityError):
        load_model(path, trust=True)
    with pytest.raises(ArtifactIntegrityError):
        load_model(path, trust=True, verify=False)  # pickles are always verified
    assert not marker.exists()


def test_undeclared_pickle_file_is_refused_without_trust(sar_artifact, tmp_path) -> None:
    folder = _copy(sar_artifact, tmp_path / "sneaky")
    (folder / "model.pkl").write_bytes(pickle.dumps(_Boom(str(tmp_path / "m"))))
    with pytest.raises(UntrustedArtifactError):
        load_model(folder)
    with pytest.raises(ArtifactIntegrityError):
        load_model(folder, trust=True)
    assert not (tmp_path / "m").exists()


# --------------------------------------------------------------- one loader
def test_every_load_model_name_runs_the_one_loader(
    sar_artifact, tmp_path, toy, monkeypatch
) -> None:
    """serving.load_model, models.load_model, BaseRecommender.load and a class's load all
    go through persistence.load_saved, with their own documented options."""
    from recutils import models, serving
    from recutils.models import persistence, registry
    from recutils.models.base import BaseRecommender
    from recutils.models.lightgbm import LightGBMCTR
    from recutils.models.sar import SAR

    assert serving.load_model is persistence.load_model is load_model
    assert models.load_model is registry.load_model is persistence.load_any
    assert serving.ArtifactError is persistence.ArtifactError
    calls: list[dict[str, Any]] = []
    real = persistence.load_saved

    def spy(path, **options):
        calls.append(options)
        return real(path, **options)

    monkeypatch.setattr(persistence, "load_saved", spy)
    plain = Popularity().fit(toy).save(tmp_path / "plain")
    assert type(serving.load_model(sar_artifact)) is SAR
    assert type(models.load_model(plain)) is Popularity
    assert type(BaseRecommender.load(plain)) is Popularity
    assert type(SAR.load(sar_artifact)) is SAR
    assert type(load_artifact(sar_artifact).model) is SAR
    with pytest.raises(ArtifactError, match="holds a 'popularity' model"):
        LightGBMCTR.load(plain)
    assert calls == [
        {"trust": False, "verify": True, "key": None},
        {"trust": False, "require_artifact": False},
        {"trust": False, "require_artifact": False, "cls": None},
        {"trust": False, "require_artifact": False, "cls": SAR},
        {"trust": False, "verify": True, "key": None},
        {"trust": False, "require_artifact": False, "cls": LightGBMCTR},
    ]


def test_class_load_verifies_an_artifact_and_keeps_config_errors(sar_artifact, tmp_path) -> None:
    from recutils.exceptions import ConfigError
    from recutils.models.sar import SAR

    folder = _copy(sar_artifact, tmp_path / "t")
    _rewrite_manifest(folder, lambda m: m["config"].update(similarity_type="lift"))
    with pytest.raises(ArtifactIntegrityError, match="modified after"):
        SAR.load(folder)
    # the loader's errors stay ConfigErrors, as the class loaders always raised
    assert issubclass(ArtifactError, ConfigError)
