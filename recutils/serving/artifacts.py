"""Model artifacts: a model folder plus checksums, training time and metrics, loaded safely.

An *artifact* is what a model's own ``save(path)`` writes (``manifest.json`` with the
recutils version, model name, columns and config; ``arrays.npz`` or the wrapped
library's own files) with one more section in ``manifest.json``::

    "artifact": {
      "format_version": 1,              # of this section; newer -> ArtifactVersionError
      "recutils_version": "0.1.0",      # recutils that wrote the artifact
      "created_at": "...Z",             # when the artifact was written (UTC, ISO 8601)
      "trained_at": "...Z",             # when the model was trained (given, else created_at)
      "metrics": {"ndcg@10": 0.37},     # recorded at training, served by GET /v1/model
      "files": {"arrays.npz": {"sha256": "...", "bytes": 123}},   # every other file
      "pickled_files": [],              # files only a trusted load may read
      "manifest_sha256": "..."          # the rest of manifest.json, canonical JSON
    }

The section lives in the serving layer, not in :meth:`BaseRecommender.save`, because
some models write files *after* the base manifest (SparkALS adds Spark's model
folder) and LightGBMCTR has its own ``save``: checksums taken once the model's own
``save`` has returned cover every file of every model, and the base format (shared by
every model and its tests) stays as it is.

:func:`save_artifact` writes into a temporary sibling folder and renames it into place,
so a reader (a service hot-swapping artifacts) never sees a half-written artifact.
:func:`load_model` checks, in this order: the manifest parses and is a recutils model;
the format versions and the recutils version are not newer than this recutils; the
artifact holds no pickled file unless ``trust=True``; every file path is a plain path
inside the folder (no ``..``, no absolute path, no link); every file's size and SHA-256
and the manifest's own digest match; no unlisted file was added. Only then is the
model class looked up -- by the manifest's model name in the explicit registry, never
by an importable path written in the manifest -- and its ``load`` called, which reads
arrays with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from recutils.exceptions import ConfigError, MissingDependencyError, RecUtilsError

logger = logging.getLogger(__name__)

#: Version of the ``artifact`` section written by :func:`save_artifact`.
ARTIFACT_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Files with these suffixes are treated as pickles (need ``trust=True``).
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".dill", ".cloudpickle")
#: Largest manifest read (bytes): a hostile artifact cannot exhaust memory through it.
MAX_MANIFEST_BYTES = 16 * 2**20
#: Models that save/load like registered ones but are not in the registry (explicit table).
EXTRA_MODELS: dict[str, str] = {"lightgbm_ctr": "recutils.models.lightgbm:LightGBMCTR"}

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


class ArtifactError(RecUtilsError, ValueError):
    """An artifact cannot be written or loaded (not an artifact, unknown model, ...)."""


class ArtifactVersionError(ArtifactError):
    """An artifact was written by a newer (or an unknown) format or recutils version."""


class ArtifactIntegrityError(ArtifactError):
    """An artifact's files do not match its recorded checksums (tampered or truncated)."""


class UntrustedArtifactError(ArtifactError):
    """An artifact holds pickled files and ``trust=True`` was not given."""


@dataclass(frozen=True)
class ArtifactInfo:
    """What the manifest of an artifact says (served by ``GET /v1/model``).

    Attributes:
        path: The artifact folder.
        model: Registry name of the model.
        recutils_version: recutils that wrote it.
        format_version: Version of the artifact section.
        created_at, trained_at: ISO 8601 UTC times.
        metrics: Metrics recorded at training.
        digest: SHA-256 over the file checksums and the manifest: a version id.
        pickled_files: Files that needed ``trust=True``.
        config: The model's config.
    """

    path: Path
    model: str
    recutils_version: str
    format_version: int
    created_at: str
    trained_at: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    digest: str = ""
    pickled_files: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view (path as a string)."""
        return {
            "path": str(self.path), "model": self.model,
            "recutils_version": self.recutils_version, "format_version": self.format_version,
            "created_at": self.created_at, "trained_at": self.trained_at,
            "metrics": dict(self.metrics), "digest": self.digest,
            "pickled_files": list(self.pickled_files), "config": dict(self.config),
        }


# ------------------------------------------------------------------ helpers
def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _canonical_digest(manifest: Mapping[str, Any]) -> str:
    body = {k: v for k, v in manifest.items() if k != "artifact"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _parse_version(text: Any) -> tuple[int, int, int] | None:
    if not isinstance(text, str):
        return None
    match = _VERSION_RE.match(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def check_relative_path(name: Any, *, what: str = "file") -> PurePosixPath:
    """``name`` as a safe relative POSIX path, else :class:`ArtifactError`.

    Rejects non-strings, empty names, NUL bytes, backslashes, absolute paths, drive
    letters and any ``..`` or ``.`` component: a path read from a manifest or a request
    can never point outside the folder it is joined to.
    """
    if not isinstance(name, str) or not name or len(name) > 1024:
        raise ArtifactError(f"{what} path {name!r} is not a non-empty string of <= 1024 chars.")
    if "\x00" in name or "\\" in name or ":" in name:
        raise ArtifactError(f"{what} path {name!r} contains a forbidden character (NUL, '\\', ':').")
    pure = PurePosixPath(name)
    if pure.is_absolute() or any(part in ("..", ".", "") for part in name.split("/")):
        raise ArtifactError(
            f"{what} path {name!r} must be relative and must not contain '..' or '.' parts.")
    return pure


def resolve_under(root: str | Path, name: str) -> Path:
    """``root / name`` for an untrusted ``name``, guaranteed to stay under ``root``.

    Raises:
        ArtifactError: ``name`` is absolute, has ``..`` parts, or resolves (through
            links) outside ``root``.
    """
    pure = check_relative_path(name, what="artifact")
    base = Path(root).resolve()
    target = (base / Path(*pure.parts)).resolve()
    if target != base and base not in target.parents:
        raise ArtifactError(f"artifact path {name!r} resolves outside {str(base)!r}.")
    return target


def _list_files(folder: Path) -> dict[str, Path]:
    """Every file under ``folder`` but the manifest, by POSIX relative path; links rejected."""
    files: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        for name in list(dirnames) + filenames:
            path = here / name
            if path.is_symlink():
                raise ArtifactIntegrityError(
                    f"{path} is a symbolic link; artifacts hold plain files only.")
        for name in filenames:
            path = here / name
            rel = path.relative_to(folder).as_posix()
            if rel == MANIFEST:
                continue
            files[rel] = path
    return files


def _is_pickled(rel: str, declared: tuple[str, ...]) -> bool:
    pure = PurePosixPath(rel)
    return rel.lower().endswith(PICKLE_SUFFIXES) or any(pure.match(p) for p in declared)


def _clean_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float | None]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise ConfigError(f"metrics must be a mapping name -> number, got {type(metrics).__name__}.")
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"metric names must be non-empty strings, got {key!r}.")
        if value is None:
            out[key] = None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"metric {key!r} must be a number, got {value!r}.") from None
        out[key] = number if math.isfinite(number) else None
    return out


# ------------------------------------------------------------------ save
def save_artifact(
    model: Any,
    path: str | Path,
    metrics: Mapping[str, Any] | None = None,
    *,
    trained_at: str | datetime | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a fitted model as an artifact folder (see the module docstring).

    Args:
        model: A fitted recutils model (anything with ``save(path)`` writing a
            recutils manifest: every registered model, LightGBMCTR).
        path: The artifact folder; it must not exist unless ``overwrite``.
        metrics: Metrics recorded at training (name -> number), served by the API.
        trained_at: When the model was trained (``datetime`` or ISO text); default:
            now, i.e. the usual train-then-save flow.
        overwrite: Replace an existing artifact (the swap is a rename: readers see the
            old or the new artifact, never a mix).

    Returns:
        The artifact folder.

    Raises:
        ArtifactError: ``path`` exists (without ``overwrite``), or the model did not
            write a recutils manifest.
        ConfigError: malformed metrics.
    """
    from recutils import __version__

    target = Path(path)
    clean = _clean_metrics(metrics)
    if isinstance(trained_at, datetime):
        stamp = trained_at if trained_at.tzinfo else trained_at.replace(tzinfo=timezone.utc)
        trained = stamp.astimezone(timezone.utc).isoformat(timespec="seconds").replace(
            "+00:00", "Z")
    elif trained_at is None:
        trained = _utc_now()
    else:
        trained = str(trained_at)
    if target.exists() and not overwrite:
        raise ArtifactError(f"{str(target)!r} exists; pass overwrite=True to replace it.")
    if not getattr(model, "is_fitted", True):
        raise ArtifactError(f"{type(model).__name__} is not fitted; fit it before saving.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        model.save(tmp)
        manifest_file = tmp / MANIFEST
        if not manifest_file.is_file():
            raise ArtifactError(f"{type(model).__name__}.save wrote no {MANIFEST}.")
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        if manifest.get("format") != "recutils-model" or not manifest.get("model"):
            raise ArtifactError(f"{type(model).__name__}.save did not write a recutils manifest.")
        declared = tuple(getattr(type(model), "pickled_files", ()) or ())
        files = _list_files(tmp)
        entries = {rel: {"sha256": _sha256_file(p), "bytes": p.stat().st_size}
                   for rel, p in sorted(files.items())}
        manifest["artifact"] = {
            "format_version": ARTIFACT_FORMAT_VERSION,
            "recutils_version": __version__,
            "created_at": _utc_now(),
            "trained_at": trained,
            "metrics": clean,
            "files": entries,
            "pickled_files": sorted(rel for rel in files if _is_pickled(rel, declared)),
            "manifest_sha256": _canonical_digest(manifest),
        }
        manifest_tmp = tmp / (MANIFEST + ".tmp")
        manifest_tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False),
                                encoding="utf-8")
        os.replace(manifest_tmp, manifest_file)
        if target.exists():
            trash = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
            os.replace(target, trash)
            os.replace(tmp, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("saved artifact %s (%s, %d files)", target, manifest["model"], len(entries))
    return target


# ------------------------------------------------------------------ load
def read_manifest(path: str | Path) -> dict[str, Any]:
    """The parsed ``manifest.json`` of an artifact folder (no integrity check).

    Raises:
        ArtifactError: no folder, no manifest, an oversized or malformed manifest, or
            not a recutils model manifest.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ArtifactError(f"{str(path)!r} is not an artifact folder (no such directory).")
    file = folder / MANIFEST
    if file.is_symlink() or not file.is_file():
        raise ArtifactError(f"{str(path)!r} is not an artifact (no plain {MANIFEST}).")
    if file.stat().st_size > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{file} is larger than {MAX_MANIFEST_BYTES} bytes.")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactIntegrityError(f"{file} is not valid JSON: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != "recutils-model":
        raise ArtifactError(f"{file} is not a recutils model manifest.")
    return manifest


def _check_versions(manifest: Mapping[str, Any], folder: Path) -> Mapping[str, Any]:
    from recutils import __version__
    from recutils.models.base import FORMAT_VERSION

    model_version = manifest.get("format_version")
    if not isinstance(model_version, int) or isinstance(model_version, bool) or model_version < 1:
        raise ArtifactVersionError(f"{folder}: unknown model format version {model_version!r}.")
    if model_version > FORMAT_VERSION:
        raise ArtifactVersionError(
            f"{folder}: model format version {model_version} is newer than this recutils "
            f"reads (<= {FORMAT_VERSION}); upgrade recutils to load it.")
    section = manifest.get("artifact")
    if not isinstance(section, dict):
        raise ArtifactError(
            f"{folder} is a saved model but not an artifact (no checksums): write it with "
            "recutils.serving.save_artifact, or load it with its class's load() if you trust it.")
    version = section.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArtifactVersionError(f"{folder}: unknown artifact format version {version!r}.")
    if version > ARTIFACT_FORMAT_VERSION:
        raise ArtifactVersionError(
            f"{folder}: artifact format version {version} is newer than this recutils reads "
            f"(<= {ARTIFACT_FORMAT_VERSION}); upgrade recutils to load it.")
    written = _parse_version(section.get("recutils_version"))
    if written is None:
        raise ArtifactVersionError(
            f"{folder}: unknown recutils version {section.get('recutils_version')!r}.")
    mine = _parse_version(__version__) or (0, 0, 0)
    if written[:2] > mine[:2]:
        raise ArtifactVersionError(
            f"{folder} was written by recutils {section['recutils_version']}, newer than the "
            f"installed {__version__}; upgrade recutils to load it.")
    return section


def verify_artifact(path: str | Path) -> dict[str, Any]:
    """Check an artifact's versions, paths and checksums; return its manifest.

    Raises:
        ArtifactError, ArtifactVersionError, ArtifactIntegrityError: see the module
            docstring.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    section = _check_versions(manifest, folder)
    entries = section.get("files")
    if not isinstance(entries, dict):
        raise ArtifactIntegrityError(f"{folder}: the artifact's file list is malformed.")
    for rel in entries:
        check_relative_path(rel)
    if section.get("manifest_sha256") != _canonical_digest(manifest):
        raise ArtifactIntegrityError(
            f"{folder}/{MANIFEST} was modified after the artifact was written "
            "(its digest does not match).")
    present = _list_files(folder)
    extra = sorted(set(present) - set(entries))
    if extra:
        raise ArtifactIntegrityError(f"{folder} holds files not in its manifest: {extra[:5]}.")
    for rel, entry in entries.items():
        file = present.get(rel)
        if file is None:
            raise ArtifactIntegrityError(f"{folder}: file {rel!r} is missing.")
        if not isinstance(entry, dict):
            raise ArtifactIntegrityError(f"{folder}: malformed entry for {rel!r}.")
        if file.stat().st_size != entry.get("bytes"):
            raise ArtifactIntegrityError(
                f"{folder}: {rel!r} has {file.stat().st_size} bytes, the manifest records "
                f"{entry.get('bytes')!r} (truncated or modified).")
        if _sha256_file(file) != entry.get("sha256"):
            raise ArtifactIntegrityError(
                f"{folder}: {rel!r} does not match its recorded SHA-256 (modified).")
    return manifest


def _model_class(name: Any) -> type:
    from recutils.models.registry import get_model_class, list_models

    if not isinstance(name, str):
        raise ArtifactError(f"the manifest's model name {name!r} is not a string.")
    if name in list_models():
        return get_model_class(name)
    if name in EXTRA_MODELS:
        import importlib

        module, cls = EXTRA_MODELS[name].split(":")
        return getattr(importlib.import_module(module), cls)
    raise ArtifactError(
        f"unknown model {name!r} in the artifact; known models: "
        f"{sorted(list_models() + list(EXTRA_MODELS))}.")


def artifact_info(path: str | Path, manifest: Mapping[str, Any] | None = None) -> ArtifactInfo:
    """The :class:`ArtifactInfo` of an artifact (reads the manifest; no checksum check)."""
    folder = Path(path)
    manifest = read_manifest(folder) if manifest is None else manifest
    section = manifest.get("artifact") or {}
    entries = section.get("files") or {}
    digest = hashlib.sha256(json.dumps(
        [section.get("manifest_sha256"), sorted((k, v.get("sha256")) for k, v in entries.items()
                                                if isinstance(v, dict))]).encode()).hexdigest()
    return ArtifactInfo(
        path=folder.resolve(), model=str(manifest.get("model")),
        recutils_version=str(section.get("recutils_version")),
        format_version=int(section.get("format_version", 0)),
        created_at=str(section.get("created_at")), trained_at=str(section.get("trained_at")),
        metrics=dict(section.get("metrics") or {}), digest=digest,
        pickled_files=tuple(section.get("pickled_files") or ()),
        config=dict(manifest.get("config") or {}),
    )


@dataclass(frozen=True)
class LoadedArtifact:
    """A loaded model with what its manifest says."""

    model: Any
    info: ArtifactInfo


def load_artifact(path: str | Path, trust: bool = False, verify: bool = True) -> LoadedArtifact:
    """Load an artifact: checks first (see the module docstring), then the model's ``load``.

    Args:
        path: The artifact folder.
        trust: Allow an artifact with pickled files (a wrapped library that can only
            pickle). Pickles can run code: only for artifacts from a trusted source.
            Checksums are verified before anything is read.
        verify: Check checksums (default). ``verify=False`` still checks versions,
            paths and pickles.

    Raises:
        ArtifactError: not an artifact, unknown model, or the model's loader failed.
        ArtifactVersionError: newer or unknown format/recutils version.
        ArtifactIntegrityError: tampered, truncated or added files.
        UntrustedArtifactError: pickled files without ``trust=True``.
        MissingDependencyError: the model's library is not installed.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    section = _check_versions(manifest, folder)
    pickled = section.get("pickled_files") or []
    if not isinstance(pickled, list):
        raise ArtifactIntegrityError(f"{folder}: malformed pickled_files entry.")
    present = _list_files(folder)
    sneaky = sorted(rel for rel in present if _is_pickled(rel, ()) and rel not in pickled)
    if (pickled or sneaky) and not trust:
        raise UntrustedArtifactError(
            f"{folder} holds pickled files {sorted(set(pickled) | set(sneaky))[:5]}; unpickling "
            "can run arbitrary code, so it is refused by default. Pass trust=True only for an "
            "artifact from a trusted source (its checksums are verified first).")
    if verify or pickled:
        manifest = verify_artifact(folder)
    cls = _model_class(manifest.get("model"))
    try:
        model = cls.load(folder)
    except (MissingDependencyError, ArtifactError):
        raise
    except (ConfigError, KeyError, ValueError, OSError, TypeError) as err:
        raise ArtifactError(f"{folder}: the {manifest.get('model')!r} loader failed: {err}") from err
    info = artifact_info(folder, manifest)
    logger.info("loaded artifact %s (%s, trained %s)", folder, info.model, info.trained_at)
    return LoadedArtifact(model=model, info=info)


def load_model(path: str | Path, trust: bool = False, verify: bool = True) -> Any:
    """Load the model of an artifact, dispatching by its manifest (see :func:`load_artifact`)."""
    return load_artifact(path, trust=trust, verify=verify).model


__all__ = [
    "ARTIFACT_FORMAT_VERSION",
    "ArtifactError",
    "ArtifactInfo",
    "ArtifactIntegrityError",
    "ArtifactVersionError",
    "LoadedArtifact",
    "UntrustedArtifactError",
    "artifact_info",
    "check_relative_path",
    "load_artifact",
    "load_model",
    "read_manifest",
    "resolve_under",
    "save_artifact",
    "verify_artifact",
]
