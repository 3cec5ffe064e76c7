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
      "manifest_sha256": "...",         # the rest of manifest.json, canonical JSON
      "signature": {"algorithm": "hmac-sha256", "value": "..."}   # only when signed
    }

Checksums catch accidents (a truncated copy, a flipped bit), not tampering: anyone who
can edit the folder can re-compute them. A *signed* artifact adds an HMAC-SHA256 under a
secret key over the whole manifest (:func:`~recutils.models.persistence.signed_digest`:
everything but the signature, so the file checksums too). :func:`save_artifact` signs
with ``sign_key`` or, by default, the key of the environment (``RECUTILS_ARTIFACT_KEY``,
or a file named by ``RECUTILS_ARTIFACT_KEY_FILE``); every loader, given a key or finding
one in the environment, loads only artifacts carrying a valid signature under it.

The section is written here, in the serving layer, not in :meth:`BaseRecommender.save`,
because some models write files *after* the base manifest (SparkALS adds Spark's model
folder) and LightGBMCTR has its own ``save``: checksums taken once the model's own
``save`` has returned cover every file of every model, and the base format (shared by
every model and its tests) stays as it is.

:func:`save_artifact` writes into a temporary sibling folder and renames it into place,
so a reader (a service hot-swapping artifacts) never sees a half-written artifact.

Reading and verifying live one layer down, in :mod:`recutils.models.persistence`
(the one loader of saved model folders, also behind ``BaseRecommender.load`` and
:func:`recutils.models.load_model`): :func:`load_model`, :func:`verify_artifact`,
:func:`read_manifest`, :func:`check_relative_path` and the error classes are re-exported
from there. :func:`load_model` checks, in this order: the manifest parses and is a
recutils model; the format versions and the recutils version are not newer than this
recutils; the artifact holds no pickled file unless ``trust=True``; every file path is a
plain path inside the folder (no ``..``, no absolute path, no link); every file's size
and SHA-256 and the manifest's own digest match; with a signing key configured, the
signature matches; no unlisted file was added. Only then is the model class looked up --
by the manifest's model name in the explicit registry, never by an importable path
written in the manifest -- and rebuilt, reading arrays with ``allow_pickle=False`` and
checking each (dtype, shape, index ranges, finite values) before use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from recutils.exceptions import ConfigError
from recutils.models import persistence
from recutils.models.persistence import (  # noqa: F401 - re-exported: the loader lives below
    ARTIFACT_FORMAT_VERSION,
    ARTIFACT_KEY_ENV,
    ARTIFACT_KEY_FILE_ENV,
    EXTRA_MODELS,
    MANIFEST,
    MAX_MANIFEST_BYTES,
    PICKLE_SUFFIXES,
    ArtifactArrayError,
    ArtifactError,
    ArtifactIntegrityError,
    ArtifactSignatureError,
    ArtifactVersionError,
    UntrustedArtifactError,
    check_relative_path,
    load_model,
    read_manifest,
    resolve_artifact_key,
    verify_artifact,
)
from recutils.models.persistence import canonical_digest as _canonical_digest
from recutils.models.persistence import is_pickled as _is_pickled
from recutils.models.persistence import list_files as _list_files
from recutils.models.persistence import sha256_file as _sha256_file

logger = logging.getLogger(__name__)


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
            "path": str(self.path),
            "model": self.model,
            "recutils_version": self.recutils_version,
            "format_version": self.format_version,
            "created_at": self.created_at,
            "trained_at": self.trained_at,
            "metrics": dict(self.metrics),
            "digest": self.digest,
            "pickled_files": list(self.pickled_files),
            "config": dict(self.config),
        }


# ------------------------------------------------------------------ helpers
def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


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


def _clean_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float | None]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise ConfigError(
            f"metrics must be a mapping name -> number, got {type(metrics).__name__}."
        )
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
    sign_key: bytes | str | None = None,
    extra_folders: Mapping[str, Callable[[Path], Any]] | None = None,
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
        sign_key: Sign the artifact with this key (HMAC-SHA256, at least 16 bytes);
            ``None``: the environment's key (``RECUTILS_ARTIFACT_KEY`` or the file named
            by ``RECUTILS_ARTIFACT_KEY_FILE``), unsigned when there is none.
        extra_folders: Sub-folder name -> a function writing that folder (given its path),
            called after the model's ``save`` and before the checksums are taken, so the
            artifact's checksums and signature cover what it writes (e.g. a retrieval index:
            :func:`~recutils.serving.retrieval.save_retrieval_artifact`).

    Returns:
        The artifact folder.

    Raises:
        ArtifactError: ``path`` exists (without ``overwrite``), the model did not
            write a recutils manifest, or an extra folder's name is not a plain name or is
            taken by the model's own files.
        ConfigError: malformed metrics, or a signing key that is too short or cannot
            be read.
    """
    from recutils import __version__

    target = Path(path)
    clean = _clean_metrics(metrics)
    key = resolve_artifact_key(sign_key)
    if isinstance(trained_at, datetime):
        stamp = trained_at if trained_at.tzinfo else trained_at.replace(tzinfo=timezone.utc)
        trained = (
            stamp.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        )
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
        for name, write in (extra_folders or {}).items():
            pure = check_relative_path(name, what="extra folder")
            if len(pure.parts) != 1 or (tmp / name).exists():
                raise ArtifactError(
                    f"extra folder {name!r} must be a plain name not written by "
                    f"{type(model).__name__}.save."
                )
            write(tmp / name)
        declared = tuple(getattr(type(model), "pickled_files", ()) or ())
        files = _list_files(tmp)
        entries = {
            rel: {"sha256": _sha256_file(p), "bytes": p.stat().st_size}
            for rel, p in sorted(files.items())
        }
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
        if key is not None:
            manifest["artifact"]["signature"] = persistence.sign_manifest(manifest, key)
        manifest_tmp = tmp / (MANIFEST + ".tmp")
        manifest_tmp.write_text(
            json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False), encoding="utf-8"
        )
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
    logger.info(
        "saved artifact %s (%s, %d files%s)",
        target,
        manifest["model"],
        len(entries),
        ", signed" if key is not None else "",
    )
    return target


# ------------------------------------------------------------------ load
def artifact_info(path: str | Path, manifest: Mapping[str, Any] | None = None) -> ArtifactInfo:
    """The :class:`ArtifactInfo` of an artifact (reads the manifest; no checksum check)."""
    folder = Path(path)
    manifest = read_manifest(folder) if manifest is None else manifest
    section = manifest.get("artifact") or {}
    entries = section.get("files") or {}
    digest = hashlib.sha256(
        json.dumps(
            [
                section.get("manifest_sha256"),
                sorted((k, v.get("sha256")) for k, v in entries.items() if isinstance(v, dict)),
            ]
        ).encode()
    ).hexdigest()
    return ArtifactInfo(
        path=folder.resolve(),
        model=str(manifest.get("model")),
        recutils_version=str(section.get("recutils_version")),
        format_version=int(section.get("format_version", 0)),
        created_at=str(section.get("created_at")),
        trained_at=str(section.get("trained_at")),
        metrics=dict(section.get("metrics") or {}),
        digest=digest,
        pickled_files=tuple(section.get("pickled_files") or ()),
        config=dict(manifest.get("config") or {}),
    )


@dataclass(frozen=True)
class LoadedArtifact:
    """A loaded model with what its manifest says."""

    model: Any
    info: ArtifactInfo


def load_artifact(
    path: str | Path, trust: bool = False, verify: bool = True, key: bytes | str | None = None
) -> LoadedArtifact:
    """Load an artifact (:func:`load_model`) together with what its manifest says.

    Args:
        path: The artifact folder.
        trust: Allow an artifact with pickled files (a wrapped library that can only
            pickle). Pickles can run code: only for artifacts from a trusted source.
            Checksums are verified before anything is read.
        verify: Check checksums (default). ``verify=False`` still checks versions,
            paths and pickles (and everything when a signing key is configured).
        key: The signing key; ``None``: from the environment
            (:func:`resolve_artifact_key`). With a key, only an artifact carrying a
            valid signature under it loads.

    Raises:
        ArtifactError: not an artifact, unknown model, or the model's loader failed;
            its subclasses (:class:`ArtifactArrayError`, :class:`ArtifactVersionError`,
            :class:`ArtifactIntegrityError`, :class:`ArtifactSignatureError`,
            :class:`UntrustedArtifactError`) as listed by
            :func:`~recutils.models.persistence.load_saved`.
        MissingDependencyError: the model's library is not installed.
    """
    folder = Path(path)
    model, manifest = persistence.load_saved(folder, trust=trust, verify=verify, key=key)
    info = artifact_info(folder, manifest)
    logger.info("loaded artifact %s (%s, trained %s)", folder, info.model, info.trained_at)
    return LoadedArtifact(model=model, info=info)


__all__ = [
    "ARTIFACT_FORMAT_VERSION",
    "ARTIFACT_KEY_ENV",
    "ARTIFACT_KEY_FILE_ENV",
    "ArtifactArrayError",
    "ArtifactError",
    "ArtifactInfo",
    "ArtifactIntegrityError",
    "ArtifactSignatureError",
    "ArtifactVersionError",
    "EXTRA_MODELS",
    "LoadedArtifact",
    "UntrustedArtifactError",
    "artifact_info",
    "check_relative_path",
    "load_artifact",
    "load_model",
    "read_manifest",
    "resolve_artifact_key",
    "resolve_under",
    "save_artifact",
    "verify_artifact",
]
