"""Artifacts against a hostile user: forged arrays with re-computed checksums, signed
artifacts (HMAC-SHA256), and loaders that never unpickle by default.

Checksums are unkeyed, so whoever can edit a folder can re-compute them: :func:`resign`
does exactly that after each forgery, and the loaders must still refuse the folder with
an :class:`ArtifactError` naming the file, the array and the problem -- never crash.
Probes that crashed the process before the array checks (a segfault in scipy's sparse
kernels) run in a subprocess, so a crash fails the test instead of killing pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataWarning, MissingDependencyError
from recutils.models import get_model_class, list_models, persistence
from recutils.models import load_model as load_any
from recutils.models.base import BaseRecommender
from recutils.models.baselines import ItemKNN, Popularity
from recutils.models.persistence import (
    ARTIFACT_KEY_ENV,
    ARTIFACT_KEY_FILE_ENV,
    ArtifactArrayError,
    ArtifactError,
    ArtifactSignatureError,
    SavedArrays,
    UntrustedArtifactError,
    canonical_digest,
    check_array,
    check_csr,
    check_permutation,
    check_weights,
    read_csr,
    resolve_artifact_key,
    sign_manifest,
)
from recutils.models.sar import SAR
from recutils.serving import load_artifact, load_model, save_artifact, verify_artifact
from recutils.testing import registry_factory
from recutils.testing.contract import toy_interactions

ROOT = Path(__file__).resolve().parents[2]
KEY = b"k" * 32
OTHER_KEY = b"o" * 32


@pytest.fixture(autouse=True)
def _no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ARTIFACT_KEY_ENV, raising=False)
    monkeypatch.delenv(ARTIFACT_KEY_FILE_ENV, raising=False)


# ------------------------------------------------------------------ forging helpers
def resign(folder: Path, key: bytes | None = None) -> None:
    """Re-compute an artifact's checksums (and, with ``key``, its signature) after tampering,
    as an attacker who can edit the folder would (the checksums are unkeyed)."""
    file = folder / "manifest.json"
    manifest = json.loads(file.read_text())
    section = manifest["artifact"]
    section["files"] = {
        p.relative_to(folder).as_posix(): {
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "bytes": p.stat().st_size,
        }
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    section["manifest_sha256"] = canonical_digest(manifest)
    if key is not None:
        section["signature"] = sign_manifest(manifest, key)
    file.write_text(json.dumps(manifest))


def forge_array(
    folder: Path, name: str, edit: Callable[[np.ndarray], np.ndarray], key: bytes | None = None
) -> Path:
    """Replace ``arrays.npz[name]`` by ``edit(array)`` and re-sign the checksums."""
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays[name] = edit(arrays[name])
    np.savez(folder / "arrays.npz", **arrays)
    resign(folder, key)
    return folder


def add_2e9(values: np.ndarray) -> np.ndarray:
    return values.astype(np.int64) + 2_000_000_000


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    return toy_interactions()


@pytest.fixture(scope="module")
def sar_artifact(tmp_path_factory: pytest.TempPathFactory, toy: pd.DataFrame) -> Path:
    return save_artifact(
        SAR(similarity_type="jaccard").fit(toy), tmp_path_factory.mktemp("art") / "sar"
    )


@pytest.fixture(scope="module")
def forged(sar_artifact: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The probe of the report: 2e9 added to ``seen_indices``, checksums re-computed."""
    folder = _copy(sar_artifact, tmp_path_factory.mktemp("forged") / "forged")
    return forge_array(folder, "seen_indices", add_2e9)


# --------------------------------------------------------- the forged seen_indices
def test_forged_seen_indices_with_valid_checksums_is_an_artifact_error_not_a_segfault(
    forged: Path,
) -> None:
    verify_artifact(forged)  # the forgery passes the checksums ...
    for load in (load_model, load_any, BaseRecommender.load, SAR.load):
        with pytest.raises(
            ArtifactArrayError,
            match=r"arrays\.npz: array 'seen_indices' has "
            r"values outside \[0, \d+\)",
        ):
            load(forged)  # ... and is refused by the array checks before any use
    assert issubclass(ArtifactArrayError, ArtifactError)


def _run(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {**os.environ, **(env or {})}
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), environ.get("PYTHONPATH", "")])
    environ.pop(ARTIFACT_KEY_ENV, None)
    environ.pop(ARTIFACT_KEY_FILE_ENV, None)
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=environ,
        cwd=str(ROOT),
    )


_SERVE = """
import sys
import uvicorn
# had the forged artifact loaded, serving a request would run scipy on its indices
uvicorn.run = lambda app, **kw: print(app.state.service.recommend(0, 5))
from recutils.cli import main
sys.exit(main(["serve", "--artifact", sys.argv[1]]))
"""


def test_cli_serve_refuses_the_forged_artifact_without_crashing(forged: Path) -> None:
    pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    proc = _run(_SERVE, str(forged))
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])  # -11 was a segfault
    assert "error:" in proc.stderr and "seen_indices" in proc.stderr


def test_admin_swap_to_the_forged_artifact_keeps_the_old_model(
    sar_artifact: Path, forged: Path, tmp_path: Path
) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from recutils.serving import create_app

    root = tmp_path / "root"
    _copy(sar_artifact, root / "good")
    _copy(forged, root / "forged")
    app = create_app(artifact=root / "good", artifact_root=root, admin_token="t" * 20)
    with TestClient(app, headers={"X-Admin-Token": "t" * 20}) as c:
        before = c.get("/v1/model").json()["artifact"]["version"]
        resp = c.post("/v1/admin/artifact", json={"path": "forged"})
        assert resp.status_code == 422, resp.text
        error = resp.json()["error"]
        assert error["code"] == "invalid_artifact" and "seen_indices" in error["message"]
        assert c.get("/v1/model").json()["artifact"]["version"] == before
        rec = c.get("/v1/recommendations/1?k=3")
        assert rec.status_code == 200 and rec.json()["source"] == "model"
        assert len(rec.json()["items"]) == 3


def test_service_swap_refuses_the_forged_artifact_and_keeps_serving(
    sar_artifact: Path, forged: Path
) -> None:
    from recutils.serving import RecommendationService

    svc = RecommendationService(artifact=sar_artifact)
    before = svc.state
    with pytest.raises(ArtifactArrayError, match="seen_indices"):
        svc.swap_artifact(forged)
    assert svc.state is before and len(svc.recommend(1, 3)["items"]) == 3


# ------------------------------------------------------ every model, every array
_INDEX_SUFFIXES = ("indices", "indptr", "_order", "train_user", "train_item")


def _probes(arrays: dict[str, np.ndarray]) -> dict[str, tuple[str, Callable]]:
    """Forgeries every loader must refuse: ``probe id -> (array, edit)``.

    Every array of the model: a wrong shape; every float array: a NaN; every index
    array (CSR parts, permutations, row codes, encoded feature tables): a value 2e9 past
    its range; and the report's probe, 2e9 added to all of ``seen_indices``. Of the
    network weights (``w__``), the first and the last.
    """
    weights = sorted(k for k in arrays if k.startswith("w__"))
    names = [k for k in sorted(arrays) if not k.startswith("w__")] + weights[:1] + weights[-1:]
    probes: dict[str, tuple[str, Callable]] = {"seen_indices+2e9": ("seen_indices", add_2e9)}

    def shorter(a: np.ndarray) -> np.ndarray:
        return (
            a.reshape(1) if a.ndim == 0 else np.concatenate([a, a[:1]]) if len(a) == 0 else a[:-1]
        )

    def nan(a: np.ndarray) -> np.ndarray:
        a = a.copy()
        a.flat[0] = np.nan
        return a

    def out_of_range(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.int64)
        a.flat[-1] += 2_000_000_000
        return a

    for name in names:
        a = arrays[name]
        if a.ndim and len(a) == 0:
            continue
        probes[f"shape:{name}"] = (name, shorter)
        if a.dtype.kind == "f":
            probes[f"nan:{name}"] = (name, nan)
        is_table = name.startswith(("ut__", "it__")) and a.dtype.kind in "iu"
        if a.dtype.kind in "iu" and (name.endswith(_INDEX_SUFFIXES) or is_table):
            probes[f"range:{name}"] = (name, out_of_range)
    return probes


_MODELS = [m for m in list_models() if not getattr(get_model_class(m), "needs_spark", False)]

_LOADER = """
import json, sys, warnings
warnings.simplefilter("ignore")
from recutils.serving import ArtifactError, load_model, popularity_fallback
for line in open(sys.argv[1]):
    probe = json.loads(line)
    print(json.dumps({"start": probe["id"]}), flush=True)
    try:
        model = load_model(probe["path"])
        # what the service does with a loaded model (the forged seen_indices crashed here)
        popularity_fallback(model, 10)
        model.recommend_k_items(list(model.user_ids_[:3]), top_k=3)
        outcome = {"loaded": True}
    except Exception as err:
        outcome = {"error": type(err).__name__, "artifact_error": isinstance(err, ArtifactError),
                   "message": str(err)[:300]}
    print(json.dumps({"done": probe["id"], **outcome}), flush=True)
"""


@pytest.fixture(scope="module")
def probe_results(tmp_path_factory: pytest.TempPathFactory, toy: pd.DataFrame) -> dict[str, Any]:
    """Fit and save every model, forge each probe, and load them all in one subprocess."""
    root = tmp_path_factory.mktemp("probes")
    plan: list[dict[str, str]] = []
    skipped: dict[str, str] = {}
    for name in _MODELS:
        try:
            cls = get_model_class(name)
            for module in getattr(cls, "requires", ()):
                __import__(module)
        except (MissingDependencyError, ImportError) as err:
            skipped[name] = str(err)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            clean = save_artifact(registry_factory(name)().fit(toy), root / name / "clean")
        with np.load(clean / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        for i, (probe, (array, edit)) in enumerate(_probes(arrays).items()):
            folder = forge_array(_copy(clean, root / name / f"p{i}"), array, edit)
            plan.append({"id": f"{name}/{probe}", "path": str(folder)})
    plan_file = root / "plan.jsonl"
    plan_file.write_text("".join(json.dumps(p) + "\n" for p in plan))
    proc = _run(_LOADER, str(plan_file))
    started, results = None, {}
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        if "start" in record:
            started = record["start"]
        else:
            results[record["done"]] = record
            started = None
    return {
        "plan": plan,
        "results": results,
        "skipped": skipped,
        "returncode": proc.returncode,
        "crashed_at": started,
        "stderr": proc.stderr[-2000:],
    }


@pytest.mark.parametrize("name", _MODELS)
def test_every_model_refuses_forged_arrays_with_valid_checksums(
    name: str, probe_results: dict[str, Any]
) -> None:
    if name in probe_results["skipped"]:
        pytest.skip(probe_results["skipped"][name])
    mine = [p["id"] for p in probe_results["plan"] if p["id"].startswith(name + "/")]
    assert len(mine) >= 3  # the seen_indices probe and at least one shape probe per array
    assert probe_results["returncode"] == 0 or probe_results["crashed_at"] not in mine, (
        f"the loader process died (code {probe_results['returncode']}) at "
        f"{probe_results['crashed_at']}: {probe_results['stderr']}"
    )
    for probe in mine:
        result = probe_results["results"].get(probe)
        assert result is not None, f"{probe} did not finish (the process died earlier)"
        assert not result.get("loaded"), f"{probe}: the forged artifact loaded"
        assert result["artifact_error"], f"{probe}: {result['error']}: {result['message']}"
        # the file, the array (or the weights / feature tables) and the problem
        assert _NAMED.search(result["message"]), (probe, result["message"])


_NAMED = re.compile(
    r"arrays\.npz: (array '[^']+' (has|holds|is|must|decreases)|the network "
    r"weights do not match|the (user|item) feature tables)"
)


# ------------------------------------------------------------------ array checks
def _arrays(**arrays: Any) -> SavedArrays:
    return SavedArrays(arrays, source="/m/arrays.npz")


@pytest.mark.parametrize(
    "arrays, shape, match",
    [
        ({}, (None,), r"/m/arrays\.npz: array 'a' is missing"),
        ({"a": np.array(["x", "y"])}, (2,), r"array 'a' has dtype <U1 \(string\); expected float"),
        ({"a": np.zeros((2, 3))}, (3, None), r"array 'a' has shape \(2, 3\); expected \(3, \*\)"),
        ({"a": np.zeros(3)}, (3, 1), r"array 'a' has shape \(3,\); expected \(3, 1\)"),
        ({"a": np.array([[1.0, np.nan], [0.0, 0.0]])}, (2, 2), r"holds 1 NaN or infinite"),
        ({"a": np.full((2, 2), -np.inf)}, (2, 2), r"holds 4 NaN or infinite"),
    ],
)
def test_check_array_names_the_file_the_array_and_the_problem(
    arrays: dict, shape: tuple, match: str
) -> None:
    with pytest.raises(ArtifactArrayError, match=match):
        check_array(_arrays(**arrays), "a", persistence.FLOAT, shape)


def test_check_array_bounds_and_good_input_unchanged() -> None:
    good = np.array([0, 3, 4], dtype=np.int32)
    assert check_array(_arrays(i=good), "i", persistence.INTEGER, (3,), bounds=(0, 5)) is good
    for bad, shown in (([0, 5], "5"), ([-1, 2], "-1")):
        with pytest.raises(ArtifactArrayError, match=rf"outside \[0, 5\) \(e\.g\. {shown}\)"):
            check_array(_arrays(i=np.array(bad)), "i", persistence.INTEGER, (2,), bounds=(0, 5))
    with pytest.raises(ArtifactArrayError, match="expected signed integer or unsigned"):
        check_array(_arrays(i=np.array([0.0])), "i", persistence.INTEGER, (1,))


@pytest.mark.parametrize(
    "indptr, indices, match",
    [
        ([0, 1], [0], r"array 'p' has shape \(2,\); expected \(3,\)"),
        ([1, 1, 2], [0, 1], r"'p' must start at 0 and end at len\(i\) = 2; it runs from 1 to 2"),
        ([0, 1, 3], [0, 1], r"must start at 0 and end at len\(i\) = 2; it runs from 0 to 3"),
        ([0, 2, 1], [0], r"'p' decreases"),
        ([0, 2, 2], [0, 1], None),
        ([0, 2, 2], [0, 4], r"'i' has values outside \[0, 4\)"),
        ([0, 2, 2], [0, -1], r"'i' has values outside"),
        ([0, 0, 0], np.array([], dtype=np.float64), r"'i' has dtype float64"),
    ],
)
def test_check_csr_refuses_malformed_structure(indptr, indices, match) -> None:
    arrays = _arrays(p=np.asarray(indptr), i=np.asarray(indices))
    if match is None:
        ptr, idx = check_csr(arrays, "p", "i", (2, 4))
        assert ptr is arrays["p"] and idx is arrays["i"]
        return
    with pytest.raises(ArtifactArrayError, match=match):
        check_csr(arrays, "p", "i", (2, 4))


def test_check_csr_refuses_decreasing_row_pointers() -> None:
    arrays = _arrays(p=np.array([0, 2, 1, 2]), i=np.array([0, 1]))
    with pytest.raises(ArtifactArrayError, match="'p' decreases"):
        check_csr(arrays, "p", "i", (3, 4))


def test_read_csr_builds_the_same_matrix_and_checks_values() -> None:
    arrays = _arrays(p=np.array([0, 2, 3]), i=np.array([0, 3, 1]), d=np.array([1.0, 2.0, 3.0]))
    m = read_csr(arrays, "p", "i", "d", (2, 4))
    assert m.shape == (2, 4) and m.toarray().tolist() == [[1, 0, 0, 2], [0, 3, 0, 0]]
    arrays["d"] = np.array([1.0, np.nan, 3.0])
    with pytest.raises(ArtifactArrayError, match="'d' holds 1 NaN"):
        read_csr(arrays, "p", "i", "d", (2, 4))
    arrays["d"] = np.array([1.0, 2.0])
    with pytest.raises(ArtifactArrayError, match=r"'d' has shape \(2,\); expected \(3,\)"):
        read_csr(arrays, "p", "i", "d", (2, 4))


def test_check_permutation_and_check_weights() -> None:
    assert check_permutation(_arrays(o=np.array([2, 0, 1])), "o", 3).tolist() == [2, 0, 1]
    with pytest.raises(ArtifactArrayError, match="not a permutation"):
        check_permutation(_arrays(o=np.array([0, 0, 1])), "o", 3)
    ref = {"emb.weight": np.zeros((3, 2), dtype=np.float32), "n": np.array(0)}
    good = _arrays(**{"w__emb.weight": np.ones((3, 2), dtype=np.float32), "w__n": np.array(4)})
    check_weights(good, ref, "w__")
    with pytest.raises(ArtifactArrayError, match=r"missing \['n'\], unexpected \[\]"):
        check_weights(_arrays(**{"w__emb.weight": good["w__emb.weight"]}), ref, "w__")
    with pytest.raises(ArtifactArrayError, match=r"'w__emb.weight' has shape \(4, 2\)"):
        check_weights(_arrays(**{**good, "w__emb.weight": np.ones((4, 2), np.float32)}), ref, "w__")
    with pytest.raises(ArtifactArrayError, match="the network's weight is float32"):
        check_weights(_arrays(**{**good, "w__emb.weight": np.ones((3, 2))}), ref, "w__")


def test_repeated_ids_are_refused(sar_artifact: Path, tmp_path: Path) -> None:
    folder = forge_array(
        _copy(sar_artifact, tmp_path / "dup"), "item_ids", lambda a: np.concatenate([a[:1], a[:-1]])
    )
    with pytest.raises(ArtifactArrayError, match="'item_ids' holds repeated ids"):
        load_model(folder)


def test_unreadable_array_file_is_an_artifact_error(sar_artifact: Path, tmp_path: Path) -> None:
    folder = _copy(sar_artifact, tmp_path / "junk")
    (folder / "arrays.npz").write_bytes(b"PK\x03\x04 not really a zip")
    resign(folder)
    with pytest.raises(ArtifactError, match=r"arrays\.npz: not a readable array file"):
        load_model(folder)


def test_good_artifacts_load_exactly_as_before(sar_artifact: Path, toy: pd.DataFrame) -> None:
    model = SAR(similarity_type="jaccard").fit(toy)
    loaded = load_model(sar_artifact)
    users = list(toy["userID"].unique())
    pd.testing.assert_frame_equal(
        loaded.recommend_k_items(users, top_k=5), model.recommend_k_items(users, top_k=5)
    )
    assert (loaded.seen_ != model.seen_).nnz == 0


# ------------------------------------------------------------------ signing
def test_signed_artifact_loads_with_its_key_only(toy: pd.DataFrame, tmp_path: Path) -> None:
    path = save_artifact(Popularity().fit(toy), tmp_path / "signed", sign_key=KEY)
    signature = json.loads((path / "manifest.json").read_text())["artifact"]["signature"]
    assert signature["algorithm"] == "hmac-sha256" and len(signature["value"]) == 64
    assert type(load_model(path, key=KEY)) is Popularity
    assert type(load_model(path)) is Popularity  # no key configured: checksums only
    with pytest.raises(ArtifactSignatureError, match="signature does not match"):
        load_model(path, key=OTHER_KEY)
    with pytest.raises(ArtifactSignatureError, match="signature does not match"):
        verify_artifact(path, key=OTHER_KEY)
    assert load_artifact(path, key=KEY.decode()).info.model == "popularity"


def test_unsigned_artifact_is_refused_when_a_key_is_configured(
    sar_artifact: Path, tmp_path: Path, toy: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ArtifactSignatureError, match="is not signed, and a signing key"):
        load_model(sar_artifact, key=KEY)
    monkeypatch.setenv(ARTIFACT_KEY_ENV, KEY.decode())
    for load in (load_model, load_artifact, load_any, BaseRecommender.load, SAR.load):
        with pytest.raises(ArtifactSignatureError, match="not signed"):
            load(sar_artifact)
    plain = Popularity().fit(toy).save(tmp_path / "plain")  # a plain folder has no signature
    with pytest.raises(ArtifactSignatureError, match="not signed"):
        load_any(plain)
    # the environment's key signs by default, and every loader accepts that signature
    signed = save_artifact(Popularity().fit(toy), tmp_path / "env-signed")
    assert "signature" in json.loads((signed / "manifest.json").read_text())["artifact"]
    for load in (load_model, load_any, BaseRecommender.load, Popularity.load):
        assert type(load(signed)) is Popularity


def test_tampering_with_recomputed_checksums_breaks_the_signature(
    toy: pd.DataFrame, tmp_path: Path
) -> None:
    path = save_artifact(SAR(similarity_type="jaccard").fit(toy), tmp_path / "s", sign_key=KEY)
    forged = forge_array(_copy(path, tmp_path / "f"), "item_frequencies", lambda a: a * 2)
    load_model(forged)  # without a key the re-computed checksums pass (and the values are sane)
    with pytest.raises(ArtifactSignatureError, match="does not match"):
        load_model(forged, key=KEY)
    with pytest.raises(ArtifactSignatureError, match="does not match"):
        load_model(forged, key=KEY, verify=False)  # a key always verifies
    # the signature covers the file checksums, not only the manifest body
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["artifact"]["files"]["arrays.npz"]["sha256"] = "0" * 64
    assert sign_manifest(manifest, KEY) != manifest["artifact"]["signature"]
    # and a forger holding the key is, by definition, trusted
    resigned = forge_array(
        _copy(path, tmp_path / "k"), "item_frequencies", lambda a: a * 2, key=KEY
    )
    assert type(load_model(resigned, key=KEY)) is SAR


def test_signature_comparison_is_constant_time(
    toy: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hmac

    path = save_artifact(Popularity().fit(toy), tmp_path / "s", sign_key=KEY)
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(persistence.hmac, "compare_digest", spy)
    load_model(path, key=KEY)
    assert len(calls) == 1


def test_signature_with_an_unknown_algorithm_is_refused(toy: pd.DataFrame, tmp_path: Path) -> None:
    path = save_artifact(Popularity().fit(toy), tmp_path / "s", sign_key=KEY)
    file = path / "manifest.json"
    manifest = json.loads(file.read_text())
    manifest["artifact"]["signature"]["algorithm"] = "none"
    file.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactSignatureError, match="unknown signature algorithm"):
        load_model(path, key=KEY)


def test_resolve_artifact_key_sources_and_errors(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    assert resolve_artifact_key(environ={}) is None
    assert resolve_artifact_key(environ={ARTIFACT_KEY_ENV: "  "}) is None
    assert resolve_artifact_key(KEY.decode(), environ={}) == KEY
    assert resolve_artifact_key(key_file=key_file, environ={}) == KEY
    assert resolve_artifact_key(environ={ARTIFACT_KEY_ENV: OTHER_KEY.decode()}) == OTHER_KEY
    assert resolve_artifact_key(environ={ARTIFACT_KEY_FILE_ENV: str(key_file)}) == KEY
    # an explicit key or file wins over the environment
    assert (
        resolve_artifact_key(key_file=key_file, environ={ARTIFACT_KEY_ENV: OTHER_KEY.decode()})
        == KEY
    )
    with pytest.raises(ConfigError, match="at least 16"):
        resolve_artifact_key("short", environ={})
    with pytest.raises(ConfigError, match="once"):
        resolve_artifact_key(KEY, key_file, environ={})
    with pytest.raises(ConfigError, match="cannot read the artifact signing key"):
        resolve_artifact_key(key_file=tmp_path / "missing", environ={})
    with pytest.raises(ConfigError, match=r"\$RECUTILS_ARTIFACT_KEY_FILE"):
        resolve_artifact_key(environ={ARTIFACT_KEY_FILE_ENV: str(tmp_path / "missing")})


@pytest.mark.parametrize("source", ["file", "env", "none"])
def test_cli_serve_refuses_unsigned_artifacts_when_a_key_is_configured(
    source: str,
    sar_artifact: Path,
    tmp_path: Path,
    toy: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    pytest.importorskip("fastapi")
    from recutils.cli import main

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    signed = save_artifact(
        SAR(similarity_type="jaccard").fit(toy), tmp_path / "signed", sign_key=KEY
    )
    options: list[str] = []
    if source == "file":
        (tmp_path / "key").write_bytes(KEY + b"\n")
        options = ["--artifact-key-file", str(tmp_path / "key")]
    elif source == "env":
        monkeypatch.setenv(ARTIFACT_KEY_ENV, KEY.decode())
    unsigned_status = main(["serve", "--artifact", str(sar_artifact), *options])
    err = capsys.readouterr().err
    if source == "none":
        assert unsigned_status == 0 and "no artifact signing key" in err
    else:
        assert unsigned_status == 1 and "is not signed" in err
    assert main(["serve", "--artifact", str(signed), *options]) == 0
    assert type(served[-1].state.service.state.model) is SAR


def test_service_with_a_key_refuses_an_unsigned_swap_and_keeps_the_old_model(
    toy: pd.DataFrame, sar_artifact: Path, tmp_path: Path
) -> None:
    from recutils.serving import RecommendationService

    signed = save_artifact(ItemKNN(k=5).fit(toy), tmp_path / "signed", sign_key=KEY)
    with pytest.raises(ArtifactSignatureError):
        RecommendationService(artifact=sar_artifact, artifact_key=KEY)
    svc = RecommendationService(artifact=signed, artifact_key=KEY)
    before = svc.state
    with pytest.raises(ArtifactSignatureError, match="not signed"):
        svc.swap_artifact(sar_artifact)
    assert svc.state is before and svc.state.info.model == "itemknn"


# ------------------------------------------------------------------ never unpickle by default
def test_plain_folder_with_a_pickle_needs_trust(toy: pd.DataFrame, tmp_path: Path) -> None:
    """No registered model's save writes a pickle (the round-trip test checks every
    artifact's ``pickled_files == []``), so the plain loaders refuse one by default."""
    folder = Popularity().fit(toy).save(tmp_path / "plain")
    (folder / "extra.pkl").write_bytes(b"not even read")
    for load in (load_any, BaseRecommender.load, Popularity.load):
        with pytest.raises(UntrustedArtifactError, match=r"pickled files \['extra.pkl'\]"):
            load(folder)
    for load in (load_any, BaseRecommender.load, Popularity.load):
        assert type(load(folder, trust=True)) is Popularity
    (folder / "extra.pkl").unlink()
    assert type(load_any(folder)) is Popularity  # a plain folder without pickles: as before


# ------------------------------------------------------------------ LightGBMCTR
def _lightgbm_artifact(tmp_path: Path) -> Path:
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
    model = LightGBMCTR(num_boost_round=5, early_stopping_rounds=2, min_count=1)
    return save_artifact(model.fit(pd.DataFrame(data)[list(DEFAULT_HEADER)]), tmp_path / "ctr")


def test_lightgbm_artifact_with_forged_state_or_model_file_is_refused(tmp_path: Path) -> None:
    path = _lightgbm_artifact(tmp_path)
    bad_iteration = _copy(path, tmp_path / "iteration")
    manifest = json.loads((bad_iteration / "manifest.json").read_text())
    manifest["state"]["best_iteration"] = 10**9
    (bad_iteration / "manifest.json").write_text(json.dumps(manifest))
    resign(bad_iteration)
    with pytest.raises(ArtifactError, match="best_iteration 1000000000 is not an iteration"):
        load_model(bad_iteration)
    garbage = _copy(path, tmp_path / "garbage")
    (garbage / manifest["files"]["model"]).write_text("tree\nnot a model\n")
    resign(garbage)
    with pytest.raises(ArtifactError, match="LightGBM cannot read the model"):
        load_model(garbage)
    encoder = _copy(path, tmp_path / "encoder")
    state = json.loads((encoder / manifest["files"]["encoder"]).read_text())
    first = next(k for k in ("numeric_cols", "categorical_cols") if state.get(k))
    state[first] = state[first][:-1]
    (encoder / manifest["files"]["encoder"]).write_text(json.dumps(state))
    resign(encoder)
    with pytest.raises(ArtifactError, match=r"the booster uses \d+ features, the encoder"):
        load_model(encoder)
