"""Saved model folders: the manifest, pickle-free arrays, and the one loader.

A saved model is a folder with ``manifest.json`` (format version, recutils version,
model name, columns, config, fitted metadata) and the model's files (``arrays.npz``
read with ``allow_pickle=False``, or a wrapped library's own format). An *artifact*
(:func:`recutils.serving.save_artifact`) is such a folder whose manifest also has an
``artifact`` section with the checksums of every file (see
:mod:`recutils.serving.artifacts`).

:func:`load_saved` is the single implementation of "load a saved model folder,
verify it, rebuild it"; every public loader calls it:

* :func:`recutils.serving.load_model` (re-exported from here as :func:`load_model`):
  artifacts only, checksums verified, pickled files refused unless ``trust=True``;
* :func:`recutils.models.load_model`: any saved folder, model class from the registry;
* :meth:`BaseRecommender.load <recutils.models.base.BaseRecommender.load>` and
  ``LightGBMCTR.load``: a folder of that class.

It checks, in this order: the manifest parses and is a recutils model; the format
versions (and an artifact's recutils version) are not newer than this recutils; with
an ``artifact`` section: no pickled file unless trusted, every file path a plain path
inside the folder (no ``..``, no absolute path, no link), every file's size and
SHA-256 and the manifest's own digest match, no unlisted file added. Only then is the
class looked up -- by the manifest's model name in the explicit registry (or the
class the caller named), never by an importable path written in the manifest -- and
rebuilt with its ``_from_saved(folder, manifest)`` classmethod (or, for a class that
overrides ``load`` itself, with that ``load``).

This module imports the registry lazily (inside :func:`model_class`) and never
imports :mod:`recutils.models.base`, so ``base -> persistence`` and
``registry -> persistence`` hold no import cycle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from recutils.exceptions import ConfigError, DataError, MissingDependencyError

logger = logging.getLogger(__name__)

#: Version of the on-disk model format written by ``save``.
FORMAT_VERSION = 1
#: Version of the ``artifact`` section written by :func:`recutils.serving.save_artifact`.
ARTIFACT_FORMAT_VERSION = 1
#: Value of the manifest's ``format`` key.
FORMAT = "recutils-model"
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
#: Files with these suffixes are treated as pickles (need ``trust=True``).
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".dill", ".cloudpickle")
#: Largest manifest read (bytes): a hostile folder cannot exhaust memory through it.
MAX_MANIFEST_BYTES = 16 * 2**20
#: Models that save/load like registered ones but are not in the registry (explicit table).
EXTRA_MODELS: dict[str, str] = {"lightgbm_ctr": "recutils.models.lightgbm:LightGBMCTR"}

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


class ArtifactError(ConfigError):
    """A saved model or artifact cannot be written or loaded (not a model folder,
    unknown model, another model's folder, ...). A :class:`ConfigError`, as the
    model classes' ``load`` has always raised."""


class ArtifactVersionError(ArtifactError):
    """A folder was written by a newer (or an unknown) format or recutils version."""


class ArtifactIntegrityError(ArtifactError):
    """A folder's files do not match its recorded checksums (tampered or truncated)."""


class UntrustedArtifactError(ArtifactError):
    """A folder holds pickled files and ``trust=True`` was not given."""


# ------------------------------------------------------------- ids and JSON
def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _ids_to_array(index: pd.Index, what: str) -> tuple[np.ndarray, str]:
    """Ids as a pickle-free numpy array plus the dtype to restore."""
    dtype = str(index.dtype)
    if pd.api.types.is_numeric_dtype(index.dtype) and not pd.api.types.is_bool_dtype(index.dtype):
        return index.to_numpy(), dtype
    values = index.to_numpy(dtype=object)
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str) if len(values) else np.array([], dtype="<U1"), dtype
    raise DataError(
        f"{what} ids of dtype {dtype} cannot be saved without pickle; "
        "use numeric or string ids."
    )


def _ids_from_array(values: np.ndarray, dtype: str) -> pd.Index:
    """The id index written by :func:`_ids_to_array`."""
    if values.dtype.kind == "U":
        index = pd.Index(values.astype(object))
    else:
        index = pd.Index(values)
    try:
        return index.astype(dtype)
    except (TypeError, ValueError):
        return index


# ------------------------------------------------------------------ writing
def model_manifest(model: Any, columns: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest header every saved model starts with.

    Args:
        model: The model (``name``, ``config.to_dict()`` and ``is_fitted`` are read).
        columns: Its column-name constructor arguments (rebuilt with them on load).
    """
    from recutils import __version__

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "recutils_version": __version__,
        "model": model.name,
        "class": f"{type(model).__module__}:{type(model).__qualname__}",
        "columns": dict(columns),
        "config": model.config.to_dict(),
        "fitted": bool(model.is_fitted),
    }


def write_manifest(folder: str | Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``manifest`` as ``folder/manifest.json`` (sorted keys, numpy values as JSON)."""
    file = Path(folder) / MANIFEST
    with open(file, "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True, default=_json_default)
    return file


def read_arrays(folder: str | Path) -> dict[str, np.ndarray]:
    """The arrays of ``folder/arrays.npz``, read with ``allow_pickle=False``."""
    with np.load(Path(folder) / ARRAYS, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# ------------------------------------------------------------------ reading
def read_manifest(path: str | Path) -> dict[str, Any]:
    """The parsed ``manifest.json`` of a saved model folder (no version or checksum check).

    Raises:
        ArtifactError: no folder, no manifest, an oversized or malformed manifest, or
            not a recutils model manifest.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ArtifactError(
            f"{str(path)!r} is not a saved model folder (no such directory, so no {MANIFEST}).")
    file = folder / MANIFEST
    if file.is_symlink() or not file.is_file():
        raise ArtifactError(f"{str(path)!r} is not a saved recutils model (no plain {MANIFEST}).")
    if file.stat().st_size > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{file} is larger than {MAX_MANIFEST_BYTES} bytes.")
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactIntegrityError(f"{file} is not valid JSON: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{file} is not a recutils model manifest.")
    return manifest


def _parse_version(text: Any) -> tuple[int, int, int] | None:
    if not isinstance(text, str):
        return None
    match = _VERSION_RE.match(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def _check_format_version(value: Any, newest: int, what: str, folder: Path) -> None:
    """``value`` is a format version (int >= 1) no newer than ``newest``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ArtifactVersionError(f"{folder}: unknown {what} format version {value!r}.")
    if value > newest:
        raise ArtifactVersionError(
            f"{folder}: {what} format version {value} is newer than this recutils reads "
            f"(<= {newest}); upgrade recutils to load it.")


def check_versions(manifest: Mapping[str, Any], folder: Path, *,
                   require_artifact: bool = True) -> Mapping[str, Any] | None:
    """Check the format versions; return the ``artifact`` section (``None`` if absent).

    Raises:
        ArtifactVersionError: a newer or unknown model format, artifact format or
            recutils version.
        ArtifactError: no ``artifact`` section while ``require_artifact``.
    """
    from recutils import __version__

    _check_format_version(manifest.get("format_version"), FORMAT_VERSION, "model", folder)
    section = manifest.get("artifact")
    if section is None and not require_artifact:
        return None
    if not isinstance(section, dict):
        raise ArtifactError(
            f"{folder} is a saved model but not an artifact (no checksums): write it with "
            "recutils.serving.save_artifact, or load it with its class's load() if you trust it.")
    _check_format_version(section.get("format_version"), ARTIFACT_FORMAT_VERSION, "artifact",
                          folder)
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


# ---------------------------------------------------------------- checksums
def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_digest(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of the manifest without its ``artifact`` section, as canonical JSON."""
    body = {k: v for k, v in manifest.items() if k != "artifact"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


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


def list_files(folder: Path) -> dict[str, Path]:
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


def is_pickled(rel: str, declared: tuple[str, ...]) -> bool:
    """Whether the file ``rel`` is a pickle (by suffix, or matching a ``declared`` pattern)."""
    pure = PurePosixPath(rel)
    return rel.lower().endswith(PICKLE_SUFFIXES) or any(pure.match(p) for p in declared)


def verify_artifact(path: str | Path) -> dict[str, Any]:
    """Check an artifact's versions, paths and checksums; return its manifest.

    Raises:
        ArtifactError, ArtifactVersionError, ArtifactIntegrityError: see the module
            docstring.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    section = check_versions(manifest, folder) or {}
    entries = section.get("files")
    if not isinstance(entries, dict):
        raise ArtifactIntegrityError(f"{folder}: the artifact's file list is malformed.")
    for rel in entries:
        check_relative_path(rel)
    if section.get("manifest_sha256") != canonical_digest(manifest):
        raise ArtifactIntegrityError(
            f"{folder}/{MANIFEST} was modified after the artifact was written "
            "(its digest does not match).")
    present = list_files(folder)
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
        if sha256_file(file) != entry.get("sha256"):
            raise ArtifactIntegrityError(
                f"{folder}: {rel!r} does not match its recorded SHA-256 (modified).")
    return manifest


# ------------------------------------------------------------------ loading
def model_class(name: Any) -> type:
    """The class saved under model name ``name``: the registry, then :data:`EXTRA_MODELS`.

    Raises:
        ArtifactError: not a string, or an unknown name (the message lists the known ones).
    """
    import importlib

    from recutils.models.registry import get_model_class, list_models

    if not isinstance(name, str):
        raise ArtifactError(f"the manifest's model name {name!r} is not a string.")
    if name in list_models():
        return get_model_class(name)
    if name in EXTRA_MODELS:
        module, cls = EXTRA_MODELS[name].split(":")
        return getattr(importlib.import_module(module), cls)
    raise ArtifactError(
        f"unknown model {name!r} in the artifact; known models: "
        f"{sorted(list_models() + list(EXTRA_MODELS))}.")


def _own_load(target: type) -> bool:
    """Whether ``target`` rebuilds with its own ``load`` rather than ``_from_saved``.

    True for a class without ``_from_saved`` (anything with a ``load``) and for a
    class whose ``load`` override is more derived than its ``_from_saved`` (a model
    that extends ``load`` and calls ``super().load``: that call comes back here with
    the class named, and is rebuilt with ``_from_saved``).
    """
    mro = target.__mro__

    def depth(attr: str) -> int:
        return next((i for i, c in enumerate(mro) if attr in vars(c)), len(mro))

    return depth("load") < depth("_from_saved")


def _check_pickles(folder: Path, section: Mapping[str, Any], trust: bool) -> list[str]:
    pickled = section.get("pickled_files") or []
    if not isinstance(pickled, list):
        raise ArtifactIntegrityError(f"{folder}: malformed pickled_files entry.")
    sneaky = sorted(rel for rel in list_files(folder) if is_pickled(rel, ()) and rel not in pickled)
    if (pickled or sneaky) and not trust:
        raise UntrustedArtifactError(
            f"{folder} holds pickled files {sorted(set(pickled) | set(sneaky))[:5]}; unpickling "
            "can run arbitrary code, so it is refused by default. Pass trust=True only for an "
            "artifact from a trusted source (its checksums are verified first).")
    return pickled


def load_saved(
    path: str | Path,
    *,
    trust: bool = False,
    verify: bool = True,
    require_artifact: bool = True,
    cls: type | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Load a saved model folder: read its manifest, verify it, rebuild it.

    The one implementation behind every public loader (see the module docstring).

    Args:
        path: The folder.
        trust: Allow pickled files (a wrapped library that can only pickle). Pickles
            can run code: only for folders from a trusted source. Checksums are
            verified before anything is read.
        verify: Check an artifact's checksums (default). ``verify=False`` still checks
            versions, paths and pickles; pickled files are always verified.
        require_artifact: Refuse a folder without an ``artifact`` section (no checksums).
            Without it, such a folder is rebuilt as written (the model classes' own
            ``load``); an artifact is still verified.
        cls: The class the folder must hold (its ``name`` must match the manifest's);
            ``None``: found from the manifest's model name (:func:`model_class`).

    Returns:
        ``(model, manifest)``.

    Raises:
        ArtifactError: not a saved model, unknown model, another model's folder, or
            the model's loader failed (all :class:`~recutils.exceptions.ConfigError`).
        ArtifactVersionError: newer or unknown format/recutils version.
        ArtifactIntegrityError: tampered, truncated or added files.
        UntrustedArtifactError: pickled files without ``trust=True``.
        MissingDependencyError: the model's library is not installed.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    section = check_versions(manifest, folder, require_artifact=require_artifact)
    if section is not None:
        pickled = _check_pickles(folder, section, trust)
        if verify or pickled:
            manifest = verify_artifact(folder)
    name = manifest.get("model")
    if cls is not None and name != getattr(cls, "name", None):
        raise ArtifactError(
            f"{path} holds a {name!r} model, not a {getattr(cls, 'name', None)!r} "
            f"({cls.__name__}) model.")
    target = model_class(name) if cls is None else cls
    try:
        if cls is None and _own_load(target):
            model = target.load(folder)
        else:
            model = target._from_saved(folder, manifest)
    except (MissingDependencyError, ArtifactError):
        raise
    except (ConfigError, KeyError, ValueError, OSError, TypeError) as err:
        raise ArtifactError(f"{folder}: the {name!r} loader failed: {err}") from err
    logger.debug("loaded %s from %s", type(model).__name__, folder)
    return model, manifest


def load_any(path: str | Path) -> Any:
    """Load any saved model folder; its class is found from the manifest's model name.

    This is :func:`recutils.models.load_model`: a plain saved folder loads as written
    (its model class's own files, so a wrapped library's own format is allowed); an
    artifact's checksums are verified.

    Raises:
        ConfigError: not a model folder, a newer format version or an unknown model.
    """
    model, _ = load_saved(path, trust=True, require_artifact=False)
    return model


def load_model(path: str | Path, trust: bool = False, verify: bool = True) -> Any:
    """Load the model of an artifact, dispatching by its manifest (see :func:`load_saved`).

    This is :func:`recutils.serving.load_model`: the folder must be an artifact
    (checksums), pickled files need ``trust=True``.
    """
    return load_saved(path, trust=trust, verify=verify)[0]


__all__ = [
    "ARRAYS",
    "ARTIFACT_FORMAT_VERSION",
    "ArtifactError",
    "ArtifactIntegrityError",
    "ArtifactVersionError",
    "EXTRA_MODELS",
    "FORMAT_VERSION",
    "MANIFEST",
    "UntrustedArtifactError",
    "check_relative_path",
    "check_versions",
    "load_model",
    "load_any",
    "load_saved",
    "model_class",
    "model_manifest",
    "read_arrays",
    "read_manifest",
    "verify_artifact",
    "write_manifest",
]
