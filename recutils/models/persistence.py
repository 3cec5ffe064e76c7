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
  artifacts only, checksums verified;
* :func:`recutils.models.load_model`: any saved folder, model class from the registry;
* :meth:`BaseRecommender.load <recutils.models.base.BaseRecommender.load>` and
  ``LightGBMCTR.load``: a folder of that class.

Every one refuses pickled files unless called with ``trust=True`` (no registered
model's ``save`` writes any), and with a signing key configured (an argument, or
:data:`ARTIFACT_KEY_ENV` / :data:`ARTIFACT_KEY_FILE_ENV`, see
:func:`resolve_artifact_key`) loads only artifacts carrying a valid HMAC-SHA256
signature under it.

It checks, in this order: the manifest parses and is a recutils model; the format
versions (and an artifact's recutils version) are not newer than this recutils; with
an ``artifact`` section: no pickled file unless trusted, every file path a plain path
inside the folder (no ``..``, no absolute path, no link), the manifest's own digest
and (with a key) its signature match, no unlisted file added, every file's size and
SHA-256 match. Only then is the class looked up -- by the manifest's model name in
the explicit registry (or the class the caller named), never by an importable path
written in the manifest -- and rebuilt with its ``_from_saved(folder, manifest)``
classmethod (or, for a class that overrides ``load`` itself, with that ``load``).

Checksums and signatures say who wrote a folder, not that its contents are sane: the
arrays are untrusted input all the same. :func:`check_array`, :func:`check_csr`,
:func:`read_csr`, :func:`check_permutation` and :func:`check_weights` are the one
place that checks them (dtype kind, shape against ``n_users`` / ``n_items`` / the
config, CSR structure and index ranges, finite values, network weights against a
freshly built network); the base loader checks the ids and the training matrix, each
model's ``_set_state`` its own arrays, before any is used. A failed check is an
:class:`ArtifactArrayError` naming the file, the array and the problem.

This module imports the registry lazily (inside :func:`model_class`) and never
imports :mod:`recutils.models.base`, so ``base -> persistence`` and
``registry -> persistence`` hold no import cycle.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

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


class ArtifactSignatureError(ArtifactIntegrityError):
    """A signing key is configured and the folder's signature is missing or wrong."""


class ArtifactArrayError(ArtifactError):
    """An array read from a saved folder has the wrong dtype, shape or values."""


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
        f"{what} ids of dtype {dtype} cannot be saved without pickle; use numeric or string ids."
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


class SavedArrays(dict):
    """The arrays of a saved folder (name -> array) and the file they were read from.

    A plain ``dict`` with one attribute, ``source``, which :func:`check_array` names in
    its errors.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], source: str = ARRAYS) -> None:
        super().__init__(arrays)
        self.source = source


def read_arrays(folder: str | Path) -> SavedArrays:
    """The arrays of ``folder/arrays.npz``, read with ``allow_pickle=False``.

    Nothing is checked but that the file is a readable ``.npz`` of plain arrays: the
    caller checks each array it uses with :func:`check_array` / :func:`read_csr`.

    Raises:
        ArtifactError: the file is missing or not a readable pickle-free ``.npz``.
    """
    file = Path(folder) / ARRAYS
    try:
        with np.load(file, allow_pickle=False) as z:
            return SavedArrays({k: z[k] for k in z.files}, source=str(file))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ArtifactError(
            f"{file}: not a readable array file ({type(err).__name__}: {str(err)[:200]})."
        ) from err


# ---------------------------------------------------------- array validation
#: dtype kinds accepted by :func:`check_array`: integers, floats, numbers, id values.
INTEGER = "iu"
FLOAT = "f"
NUMBER = "iuf"
IDS = "iufU"
_KIND_NAMES = {
    "i": "signed integer",
    "u": "unsigned integer",
    "f": "float",
    "U": "string",
    "b": "bool",
    "c": "complex",
    "O": "object",
    "S": "bytes",
    "V": "void",
    "M": "datetime",
    "m": "timedelta",
}


def _array_error(arrays: Mapping[str, Any], name: str, problem: str) -> ArtifactArrayError:
    source = getattr(arrays, "source", ARRAYS)
    return ArtifactArrayError(f"{source}: array {name!r} {problem}")


def check_array(
    arrays: Mapping[str, Any],
    name: str,
    kind: str,
    shape: tuple[int | None, ...],
    *,
    bounds: tuple[int, int] | None = None,
) -> np.ndarray:
    """``arrays[name]``, checked before any use: dtype kind, shape, values.

    An array read from a saved folder is untrusted (a checksum re-computed after
    tampering passes): a wrong length or an index past the end would reach numpy,
    scipy or torch kernels that do not check bounds. Every float array must be
    finite (a fitted model never saves NaN or infinity).

    Args:
        arrays: The arrays (a :class:`SavedArrays` names its file in the error).
        name: The array's name.
        kind: Allowed dtype kinds (:data:`INTEGER`, :data:`FLOAT`, :data:`NUMBER`,
            :data:`IDS`, or any string of numpy kind characters).
        shape: The expected shape; ``None`` for an axis of any length (the number of
            entries is the number of dimensions).
        bounds: ``(low, high)``: every value must lie in ``[low, high)`` (index arrays).

    Returns:
        The array, unchanged.

    Raises:
        ArtifactArrayError: missing, or a wrong dtype kind, shape or value, naming the
            file, the array and the problem.
    """
    if name not in arrays:
        raise _array_error(arrays, name, "is missing.")
    value = arrays[name]
    if not isinstance(value, np.ndarray):
        raise _array_error(arrays, name, f"is a {type(value).__name__}, not an array.")
    if value.dtype.kind not in kind:
        allowed = " or ".join(_KIND_NAMES.get(k, k) for k in kind)
        raise _array_error(
            arrays,
            name,
            f"has dtype {value.dtype} "
            f"({_KIND_NAMES.get(value.dtype.kind, value.dtype.kind)}); "
            f"expected {allowed}.",
        )
    if value.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(value.shape, shape)
    ):
        parts = ["*" if w is None else str(w) for w in shape]
        want_text = f"({parts[0]},)" if len(parts) == 1 else "(" + ", ".join(parts) + ")"
        raise _array_error(arrays, name, f"has shape {value.shape}; expected {want_text}.")
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise _array_error(
            arrays, name, f"holds {int((~np.isfinite(value)).sum())} NaN or infinite value(s)."
        )
    if bounds is not None and value.size:
        low, high = bounds
        lo, hi = value.min(), value.max()
        if lo < low or hi >= high:
            bad = lo if lo < low else hi
            raise _array_error(arrays, name, f"has values outside [{low}, {high}) (e.g. {bad}).")
    return value


def check_permutation(arrays: Mapping[str, Any], name: str, n: int) -> np.ndarray:
    """``arrays[name]``: an integer array holding each of ``0 .. n-1`` once.

    Raises:
        ArtifactArrayError: see :func:`check_array`, or a repeated value.
    """
    value = check_array(arrays, name, INTEGER, (n,), bounds=(0, max(n, 1)))
    if n and np.bincount(value, minlength=n).max() != 1:
        raise _array_error(arrays, name, f"is not a permutation of 0..{n - 1} (a value repeats).")
    return value


def check_csr(
    arrays: Mapping[str, Any], indptr: str, indices: str, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(indptr, indices)`` arrays of a CSR matrix of ``shape``, checked.

    ``indptr``: integers, ``n_rows + 1`` of them, starting at 0, never decreasing,
    ending at ``len(indices)``; ``indices``: integers in ``[0, n_cols)``.

    Raises:
        ArtifactArrayError: see :func:`check_array`.
    """
    n_rows, n_cols = shape
    ptr = check_array(arrays, indptr, INTEGER, (n_rows + 1,))
    idx = check_array(arrays, indices, INTEGER, (None,), bounds=(0, max(n_cols, 1)))
    if idx.size and n_cols == 0:
        raise _array_error(arrays, indices, "has entries for a matrix without columns.")
    if ptr[0] != 0 or ptr[-1] != idx.size:
        raise _array_error(
            arrays,
            indptr,
            f"must start at 0 and end at len({indices}) = "
            f"{idx.size}; it runs from {ptr[0]} to {ptr[-1]}.",
        )
    if (np.diff(ptr) < 0).any():
        raise _array_error(arrays, indptr, "decreases (row pointers must not decrease).")
    return ptr, idx


def read_csr(
    arrays: Mapping[str, Any], indptr: str, indices: str, data: str, shape: tuple[int, int]
) -> sp.csr_matrix:
    """The CSR matrix ``(arrays[data], arrays[indices], arrays[indptr])`` of ``shape``,
    its structure checked with :func:`check_csr` and its values (numbers, finite)
    with :func:`check_array`.

    Raises:
        ArtifactArrayError: see :func:`check_array`.
    """
    ptr, idx = check_csr(arrays, indptr, indices, shape)
    values = check_array(arrays, data, NUMBER, (idx.size,))
    return sp.csr_matrix((values, idx, ptr), shape=shape)


def check_weights(
    arrays: Mapping[str, Any], reference: Mapping[str, np.ndarray], prefix: str = ""
) -> None:
    """The network weights ``arrays[prefix + key]`` match ``reference`` (key -> array).

    ``reference`` is the state dict of a freshly built network (as numpy arrays):
    the saved keys must be exactly its keys, each array of its dtype and shape, float
    weights finite. Run before ``load_state_dict``.

    Raises:
        ArtifactArrayError: a missing or unexpected weight, or a wrong dtype, shape or
            value.
    """
    saved = {k[len(prefix) :] for k in arrays if k.startswith(prefix)}
    missing, extra = sorted(set(reference) - saved), sorted(saved - set(reference))
    if missing or extra:
        source = getattr(arrays, "source", ARRAYS)
        raise ArtifactArrayError(
            f"{source}: the network weights do not match the network this config builds "
            f"(missing {missing[:5]}, unexpected {extra[:5]})."
        )
    for key, ref in reference.items():
        value = check_array(arrays, prefix + key, ref.dtype.kind, tuple(ref.shape))
        if value.dtype != ref.dtype:
            raise _array_error(
                arrays,
                prefix + key,
                f"has dtype {value.dtype}; the network's weight is {ref.dtype}.",
            )


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
            f"{str(path)!r} is not a saved model folder (no such directory, so no {MANIFEST})."
        )
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
            f"(<= {newest}); upgrade recutils to load it."
        )


def check_versions(
    manifest: Mapping[str, Any], folder: Path, *, require_artifact: bool = True
) -> Mapping[str, Any] | None:
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
            "recutils.serving.save_artifact, or load it with its class's load() if you trust it."
        )
    _check_format_version(
        section.get("format_version"), ARTIFACT_FORMAT_VERSION, "artifact", folder
    )
    written = _parse_version(section.get("recutils_version"))
    if written is None:
        raise ArtifactVersionError(
            f"{folder}: unknown recutils version {section.get('recutils_version')!r}."
        )
    mine = _parse_version(__version__) or (0, 0, 0)
    if written[:2] > mine[:2]:
        raise ArtifactVersionError(
            f"{folder} was written by recutils {section['recutils_version']}, newer than the "
            f"installed {__version__}; upgrade recutils to load it."
        )
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
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=str
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# ------------------------------------------------------------------ signing
#: Environment variable holding the artifact signing key (text).
ARTIFACT_KEY_ENV = "RECUTILS_ARTIFACT_KEY"
#: Environment variable naming a file that holds the artifact signing key.
ARTIFACT_KEY_FILE_ENV = "RECUTILS_ARTIFACT_KEY_FILE"
#: The one signature algorithm: HMAC-SHA256 over :func:`signed_digest`.
SIGNATURE_ALGORITHM = "hmac-sha256"
#: Shortest signing key accepted (bytes).
MIN_KEY_BYTES = 16


def _check_key(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the artifact signing key from {where} has {len(key)} bytes; use at "
            f'least {MIN_KEY_BYTES} (e.g. `python -c "import secrets; '
            'print(secrets.token_hex(32))"`).'
        )
    return key


def resolve_artifact_key(
    key: bytes | str | None = None,
    key_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> bytes | None:
    """The artifact signing key: ``key``, else the contents of ``key_file``, else
    :data:`ARTIFACT_KEY_ENV`, else the file named by :data:`ARTIFACT_KEY_FILE_ENV`;
    ``None`` when none is set (an empty variable counts as unset).

    Text keys are UTF-8 encoded; white space around a key (a file's final newline) is
    dropped.

    Raises:
        ConfigError: both ``key`` and ``key_file`` given, an unreadable key file, or a
            key shorter than :data:`MIN_KEY_BYTES` bytes.
    """
    if key is not None and key_file is not None:
        raise ConfigError("give the artifact signing key once: a key or a key file.")
    if key is not None:
        raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        return _check_key(raw.strip(), "the key argument")
    env = os.environ if environ is None else environ
    where = f"file {str(key_file)!r}"
    if key_file is None:
        text = env.get(ARTIFACT_KEY_ENV, "").strip()
        if text:
            return _check_key(text.encode("utf-8"), f"${ARTIFACT_KEY_ENV}")
        key_file = env.get(ARTIFACT_KEY_FILE_ENV, "").strip() or None
        if key_file is None:
            return None
        where = f"${ARTIFACT_KEY_FILE_ENV} ({key_file!r})"
    try:
        raw = Path(key_file).read_bytes()
    except OSError as err:
        raise ConfigError(f"cannot read the artifact signing key {where}: {err}") from err
    return _check_key(raw.strip(), where)


def signed_digest(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of the whole manifest but the signature, as canonical JSON.

    Unlike :func:`canonical_digest` (the manifest without its ``artifact`` section),
    this covers the artifact section too, so the file checksums are signed with the
    rest: a signature binds every file of the folder.
    """
    body = dict(manifest)
    section = body.get("artifact")
    if isinstance(section, Mapping):
        body["artifact"] = {k: v for k, v in section.items() if k != "signature"}
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=str
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def sign_manifest(manifest: Mapping[str, Any], key: bytes) -> dict[str, str]:
    """The ``signature`` entry of an artifact section: HMAC-SHA256 of
    :func:`signed_digest` under ``key``."""
    value = hmac.new(key, signed_digest(manifest).encode("ascii"), hashlib.sha256).hexdigest()
    return {"algorithm": SIGNATURE_ALGORITHM, "value": value}


def check_signature(manifest: Mapping[str, Any], key: bytes, folder: Path) -> None:
    """The manifest carries a valid signature under ``key`` (constant-time comparison).

    Raises:
        ArtifactSignatureError: no artifact section, no signature, another algorithm,
            or a signature that does not match (another key, or a modified manifest).
    """
    section = manifest.get("artifact")
    signature = section.get("signature") if isinstance(section, Mapping) else None
    if signature is None:
        raise ArtifactSignatureError(
            f"{folder} is not signed, and a signing key is configured ({ARTIFACT_KEY_ENV}, "
            f"{ARTIFACT_KEY_FILE_ENV} or a key argument): only artifacts signed with that key "
            "are loaded. Write it with recutils.serving.save_artifact(..., sign_key=...)."
        )
    if not isinstance(signature, Mapping) or signature.get("algorithm") != SIGNATURE_ALGORITHM:
        raise ArtifactSignatureError(
            f"{folder}: unknown signature algorithm; expected {SIGNATURE_ALGORITHM!r}."
        )
    given = signature.get("value")
    expected = sign_manifest(manifest, key)["value"]
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode("ascii", "replace"), expected.encode("ascii")
    ):
        raise ArtifactSignatureError(
            f"{folder}: the signature does not match (signed with another key, or modified "
            "after signing)."
        )


def check_relative_path(name: Any, *, what: str = "file") -> PurePosixPath:
    """``name`` as a safe relative POSIX path, else :class:`ArtifactError`.

    Rejects non-strings, empty names, NUL bytes, backslashes, absolute paths, drive
    letters and any ``..`` or ``.`` component: a path read from a manifest or a request
    can never point outside the folder it is joined to.
    """
    if not isinstance(name, str) or not name or len(name) > 1024:
        raise ArtifactError(f"{what} path {name!r} is not a non-empty string of <= 1024 chars.")
    if "\x00" in name or "\\" in name or ":" in name:
        raise ArtifactError(
            f"{what} path {name!r} contains a forbidden character (NUL, '\\', ':')."
        )
    pure = PurePosixPath(name)
    if pure.is_absolute() or any(part in ("..", ".", "") for part in name.split("/")):
        raise ArtifactError(
            f"{what} path {name!r} must be relative and must not contain '..' or '.' parts."
        )
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
                    f"{path} is a symbolic link; artifacts hold plain files only."
                )
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


def verify_artifact(path: str | Path, key: bytes | str | None = None) -> dict[str, Any]:
    """Check an artifact's versions, paths, checksums and signature; return its manifest.

    Args:
        path: The artifact folder.
        key: The signing key; ``None``: from the environment
            (:func:`resolve_artifact_key`). With a key, the artifact must carry a
            valid signature; without one, a signature is not checked.

    Raises:
        ArtifactError, ArtifactVersionError, ArtifactIntegrityError: see the module
            docstring.
        ArtifactSignatureError: a key is configured and the signature is missing or
            wrong.
    """
    folder = Path(path)
    secret = resolve_artifact_key(key)
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
            "(its digest does not match)."
        )
    if secret is not None:
        check_signature(manifest, secret, folder)
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
                f"{entry.get('bytes')!r} (truncated or modified)."
            )
        if sha256_file(file) != entry.get("sha256"):
            raise ArtifactIntegrityError(
                f"{folder}: {rel!r} does not match its recorded SHA-256 (modified)."
            )
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
        f"{sorted(list_models() + list(EXTRA_MODELS))}."
    )


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
            "artifact from a trusted source (its checksums are verified first)."
        )
    return pickled


def _check_plain_pickles(folder: Path, target: type, trust: bool) -> None:
    """A plain saved folder (no checksums) holds no pickled file unless ``trust``.

    Pickled files are found by suffix and by the class's ``pickled_files`` patterns.
    """
    if trust:
        return
    declared = tuple(getattr(target, "pickled_files", ()) or ())
    pickled = sorted(
        (Path(dirpath) / name).relative_to(folder).as_posix()
        for dirpath, _, filenames in os.walk(folder, followlinks=False)
        for name in filenames
        if is_pickled((Path(dirpath) / name).relative_to(folder).as_posix(), declared)
    )
    if pickled:
        raise UntrustedArtifactError(
            f"{folder} holds pickled files {pickled[:5]}; unpickling can run arbitrary code, "
            "so it is refused by default. Pass trust=True only for a folder from a trusted "
            "source."
        )


def _call_own_load(target: type, folder: Path, trust: bool) -> Any:
    """``target.load(folder)``, passing ``trust`` on when that ``load`` takes it."""
    import inspect

    try:
        takes_trust = "trust" in inspect.signature(target.load).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        takes_trust = False
    return target.load(folder, trust=trust) if takes_trust else target.load(folder)


def load_saved(
    path: str | Path,
    *,
    trust: bool = False,
    verify: bool = True,
    require_artifact: bool = True,
    cls: type | None = None,
    key: bytes | str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Load a saved model folder: read its manifest, verify it, rebuild it.

    The one implementation behind every public loader (see the module docstring).

    Args:
        path: The folder.
        trust: Allow pickled files (a wrapped library that can only pickle). Pickles
            can run code: only for folders from a trusted source. Checksums are
            verified before anything is read.
        verify: Check an artifact's checksums (default). ``verify=False`` still checks
            versions, paths and pickles; pickled files are always verified, and so is
            everything when a signing key is configured.
        require_artifact: Refuse a folder without an ``artifact`` section (no checksums).
            Without it, such a folder is rebuilt as written (the model classes' own
            ``load``); an artifact is still verified.
        cls: The class the folder must hold (its ``name`` must match the manifest's);
            ``None``: found from the manifest's model name (:func:`model_class`).
        key: The signing key; ``None``: from the environment
            (:func:`resolve_artifact_key`). With a key, only an artifact carrying a
            valid signature under it is loaded (a plain folder is refused).

    Returns:
        ``(model, manifest)``.

    Raises:
        ArtifactError: not a saved model, unknown model, another model's folder, or
            the model's loader failed (all :class:`~recutils.exceptions.ConfigError`).
        ArtifactArrayError: an array of the folder has a wrong dtype, shape or value.
        ArtifactVersionError: newer or unknown format/recutils version.
        ArtifactIntegrityError: tampered, truncated or added files.
        ArtifactSignatureError: a key is configured and the signature is missing or
            wrong.
        UntrustedArtifactError: pickled files without ``trust=True``.
        MissingDependencyError: the model's library is not installed.
    """
    folder = Path(path)
    secret = resolve_artifact_key(key)
    manifest = read_manifest(folder)
    section = check_versions(manifest, folder, require_artifact=require_artifact)
    if section is not None:
        pickled = _check_pickles(folder, section, trust)
        if verify or pickled or secret is not None:
            manifest = verify_artifact(folder, key=secret or None)
    elif secret is not None:
        check_signature(manifest, secret, folder)  # raises: a plain folder is not signed
    name = manifest.get("model")
    if cls is not None and name != getattr(cls, "name", None):
        raise ArtifactError(
            f"{path} holds a {name!r} model, not a {getattr(cls, 'name', None)!r} "
            f"({cls.__name__}) model."
        )
    target = model_class(name) if cls is None else cls
    if section is None:
        _check_plain_pickles(folder, target, trust)
    try:
        if cls is None and _own_load(target):
            model = _call_own_load(target, folder, trust)
        else:
            model = target._from_saved(folder, manifest)
    except (MissingDependencyError, ArtifactError):
        raise
    except (ConfigError, KeyError, ValueError, OSError, TypeError, IndexError) as err:
        raise ArtifactError(f"{folder}: the {name!r} loader failed: {err}") from err
    logger.debug("loaded %s from %s", type(model).__name__, folder)
    return model, manifest


def load_any(path: str | Path, *, trust: bool = False) -> Any:
    """Load any saved model folder; its class is found from the manifest's model name.

    This is :func:`recutils.models.load_model`: a plain saved folder loads as written
    (its model class's own files); an artifact's checksums are verified; with a
    signing key configured (:func:`resolve_artifact_key`), only a signed artifact loads.

    Args:
        path: The folder.
        trust: Allow pickled files. No registered model's ``save`` writes any, so the
            default refuses them: pass ``trust=True`` only for a folder from a trusted
            source written by a model that pickles.

    Raises:
        ConfigError: not a model folder, a newer format version, an unknown model, or
            a malformed array (:class:`ArtifactError` and its subclasses).
        UntrustedArtifactError: pickled files without ``trust=True``.
    """
    model, _ = load_saved(path, trust=trust, require_artifact=False)
    return model


def load_model(
    path: str | Path, trust: bool = False, verify: bool = True, key: bytes | str | None = None
) -> Any:
    """Load the model of an artifact, dispatching by its manifest (see :func:`load_saved`).

    This is :func:`recutils.serving.load_model`: the folder must be an artifact
    (checksums), pickled files need ``trust=True``, and with a signing key (``key``
    or the environment, :func:`resolve_artifact_key`) a valid signature.
    """
    return load_saved(path, trust=trust, verify=verify, key=key)[0]


__all__ = [
    "ARRAYS",
    "ARTIFACT_FORMAT_VERSION",
    "ARTIFACT_KEY_ENV",
    "ARTIFACT_KEY_FILE_ENV",
    "ArtifactArrayError",
    "ArtifactError",
    "ArtifactIntegrityError",
    "ArtifactSignatureError",
    "ArtifactVersionError",
    "EXTRA_MODELS",
    "FLOAT",
    "FORMAT_VERSION",
    "IDS",
    "INTEGER",
    "MANIFEST",
    "NUMBER",
    "SavedArrays",
    "UntrustedArtifactError",
    "check_array",
    "check_csr",
    "check_permutation",
    "check_relative_path",
    "check_signature",
    "check_versions",
    "check_weights",
    "load_model",
    "load_any",
    "load_saved",
    "model_class",
    "model_manifest",
    "read_arrays",
    "read_csr",
    "read_manifest",
    "resolve_artifact_key",
    "sign_manifest",
    "signed_digest",
    "verify_artifact",
    "write_manifest",
]
