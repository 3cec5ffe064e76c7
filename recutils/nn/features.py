"""Feature configs and the fitted feature encoder (numpy/pandas only; no torch).

A :class:`FeatureConfig` says how one input column becomes model input:

* ``categorical``: one id per row; a vocabulary learned from the training data
  (values seen at least ``min_count`` times) or ``hash_buckets`` stable hash buckets;
* ``numeric``: one float per row, normalized (``standard`` / ``minmax`` / ``none``);
  with ``boundaries`` it is bucketized into an id instead (and embedded);
* ``tags``: several ids per row (a ``separator``-joined string such as MovieLens'
  ``"Action|Comedy"``, or a list), pooled by ``mean`` or ``sum``;
* ``sequence``: an ordered list of ids (string or list), the last ``max_length`` kept;
  with ``numeric: true`` an ordered list of numbers (times, time gaps, prices), normalized
  like a numeric feature and read by ``SEQUENCE`` groups position by position.

Id encoding, the same for every id-like feature: ``0`` is padding / missing value,
``1`` is the out-of-vocabulary bucket, ``2..`` the vocabulary (ordered by decreasing
training frequency, ties by first appearance, so the coding does not depend on the
ids' type or sort order). Features that name the same ``embedding_name`` share one
table and one vocabulary (learned from all their columns).

:class:`FeatureEncoder` is fitted once on training data and stored with the model
(``features.json`` + ``features.npz``, no pickle); :meth:`FeatureEncoder.transform`
turns a frame into column arrays in one vectorized pass, identically at training,
prediction and serving time.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.config import BaseConfig
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError
from recutils.limits import MAX_EMBEDDING_DIM, MAX_HASH_BUCKETS, MAX_SEQUENCE_LENGTH, check_at_most
from recutils.utils.validation import check_positive_int, check_type, is_number

logger = logging.getLogger(__name__)

FEATURE_TYPES = ("categorical", "numeric", "tags", "sequence")
NORMALIZATIONS = ("standard", "minmax", "none")
POOLINGS = ("mean", "sum")
SIDES = ("auto", "user", "item", "context")
PAD, OOV, FIRST_ID = 0, 1, 2
ENCODER_FORMAT = 1


@dataclass
class FeatureConfig(BaseConfig):
    """How one column becomes model input.

    Attributes:
        name: Feature name, as used in ``feature_groups``.
        type: ``categorical``, ``numeric``, ``tags`` or ``sequence``.
        column: Source column (default: ``name``). ``"@user"`` / ``"@item"`` stand for
            the model's ``col_user`` / ``col_item``.
        embedding_dim: Embedding size (default: the model's ``default_embedding_dim``);
            at most :data:`recutils.limits.MAX_EMBEDDING_DIM` (4,096).
        embedding_name: Name of a table shared with other features (same vocabulary).
        min_count: Minimum training count for a value to enter the vocabulary.
        hash_buckets: Hash values into this many buckets instead of learning a vocabulary;
            at most :data:`recutils.limits.MAX_HASH_BUCKETS` (2**31 - 1).
        boundaries: Numeric only: bucketize by these increasing boundaries into an id.
        normalization: Numeric only: ``standard``, ``minmax`` or ``none``.
        separator: Tags / sequence given as strings: the separator.
        pooling: Tags / sequence in a plain group: ``mean`` or ``sum``.
        max_length: Tags: keep at most this many (first); sequence: the last this many;
            at most :data:`recutils.limits.MAX_SEQUENCE_LENGTH` (65,536).
        side: ``user`` / ``item`` (constant per user / item, looked up when scoring
            candidates), ``context`` or ``auto`` (detected from the training data).
        numeric: Sequence only: the values are numbers (normalized with
            ``normalization``), not ids; no embedding table.
    """

    name: str = ""
    type: str = "categorical"
    column: str | None = None
    embedding_dim: int | None = None
    embedding_name: str | None = None
    min_count: int = 1
    hash_buckets: int | None = None
    boundaries: list[float] | None = None
    normalization: str = "standard"
    separator: str = "|"
    pooling: str = "mean"
    max_length: int | None = None
    side: str = "auto"
    numeric: bool = False

    def __post_init__(self) -> None:
        where = f"feature {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"a feature needs a non-empty string 'name', got {self.name!r}.")
        if self.type not in FEATURE_TYPES:
            raise ConfigError(
                f"{where}: type {self.type!r} is unknown; allowed: {list(FEATURE_TYPES)}."
            )
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(
                f"{where}: normalization {self.normalization!r}; allowed: {list(NORMALIZATIONS)}."
            )
        if self.pooling not in POOLINGS:
            raise ConfigError(f"{where}: pooling {self.pooling!r}; allowed: {list(POOLINGS)}.")
        if self.side not in SIDES:
            raise ConfigError(f"{where}: side {self.side!r}; allowed: {list(SIDES)}.")
        for attr in ("column", "embedding_name"):
            if getattr(self, attr) is not None:
                check_type(attr, getattr(self, attr), str, "a string or null", owner=where)
        for attr, limit in (
            ("embedding_dim", MAX_EMBEDDING_DIM),
            ("hash_buckets", MAX_HASH_BUCKETS),
            ("max_length", MAX_SEQUENCE_LENGTH),
        ):
            value = getattr(self, attr)
            if value is not None:
                check_positive_int(attr, value, owner=where)
                check_at_most(attr, value, limit, owner=where)
        check_positive_int("min_count", self.min_count, owner=where)
        if self.boundaries is not None:
            if self.type != "numeric":
                raise ConfigError(f"{where}: boundaries apply to numeric features only.")
            b = list(self.boundaries) if isinstance(self.boundaries, (list, tuple)) else []
            if not b or not all(is_number(v) and math.isfinite(v) for v in b):
                raise ConfigError(f"{where}: boundaries must be a non-empty list of numbers.")
            if any(x >= y for x, y in zip(b, b[1:])):
                raise ConfigError(f"{where}: boundaries must be strictly increasing, got {b}.")
            self.boundaries = [float(v) for v in b]
        if self.hash_buckets is not None and self.type == "numeric":
            raise ConfigError(f"{where}: hash_buckets does not apply to numeric features.")
        check_type("numeric", self.numeric, bool, "true or false", owner=where)
        if self.numeric and self.type != "sequence":
            raise ConfigError(
                f"{where}: numeric: true applies to sequence features only (a single number "
                "is type: numeric)."
            )
        if self.numeric and (self.hash_buckets is not None or self.embedding_name is not None):
            raise ConfigError(
                f"{where}: a numeric sequence has no embedding table (no hash_buckets or "
                "embedding_name)."
            )
        if not isinstance(self.separator, str) or not self.separator:
            raise ConfigError(f"{where}: separator must be a non-empty string.")

    @property
    def is_dense(self) -> bool:
        """Whether the feature is a plain float (numeric without boundaries)."""
        return self.type == "numeric" and self.boundaries is None

    @property
    def has_table(self) -> bool:
        """Whether the feature is embedded (ids), i.e. neither numbers nor a numeric sequence."""
        return not self.is_dense and not self.numeric

    @property
    def kind(self) -> str:
        """``dense`` (one float), ``id`` (one id), ``bag`` (a padded list of ids) or
        ``series`` (a padded list of floats)."""
        if self.is_dense:
            return "dense"
        if self.numeric:
            return "series"
        return "bag" if self.type in ("tags", "sequence") else "id"

    @property
    def table(self) -> str:
        """Name of the embedding table (shared through ``embedding_name``)."""
        return self.embedding_name or self.name


@dataclass
class FeatureSpec:
    """What a network needs to know about a fitted feature."""

    name: str
    kind: str  # dense | id | bag
    table: str
    num_embeddings: int  # 0 for dense
    embedding_dim: int
    length: int  # bag width, 1 otherwise
    pooling: str
    type: str


@dataclass
class _Fitted:
    """Fitted state of one feature (vocabulary lives with the table)."""

    column: str
    mean: float = 0.0
    scale: float = 1.0
    length: int = 1
    side: str = "context"


@dataclass
class _Table:
    vocab: pd.Index | None = None
    hash_buckets: int | None = None
    n_buckets: int | None = None  # bucketized numeric
    members: list[str] = field(default_factory=list)

    @property
    def num_embeddings(self) -> int:
        if self.vocab is not None:
            return FIRST_ID + len(self.vocab)
        if self.hash_buckets is not None:
            return FIRST_ID + self.hash_buckets
        return FIRST_ID + int(self.n_buckets or 0)


# ---------------------------------------------------------------- helpers
def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _scalar_values(values: pd.Series) -> pd.Series:
    """Categorical values in a canonical form: numbers stay numbers, the rest become str."""
    if _is_numeric(values):
        return values
    mask = values.isna()
    out = values.astype(str)
    if mask.any():
        out = out.where(~mask, None)
    return out


def _tokens(values: pd.Series, cfg: FeatureConfig) -> tuple[np.ndarray, pd.Series]:
    """(row positions, tokens as str) of a tags / sequence column, in row order."""
    values = values.reset_index(drop=True)
    if (
        values.dtype == object
        and values.map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any()
    ):
        lists = values
    else:
        lists = (
            values.astype("object")
            .where(values.notna(), "")
            .astype(str)
            .str.split(cfg.separator, regex=False)
        )
    exploded = lists.explode()
    keep = exploded.notna().to_numpy()
    exploded = exploded[keep].astype(str)
    exploded = exploded[(exploded != "").to_numpy()]
    return exploded.index.to_numpy(dtype=np.int64), exploded


def _numbers(values: pd.Series, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """(row positions, float64 values; NaN where a token is not a number) of a numeric sequence."""
    rows, tokens = _tokens(values, cfg)
    return rows, pd.to_numeric(tokens, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _place_last(rows: np.ndarray, n: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """(keep mask, position) of each token of a right-padded sequence keeping the last ``length``."""
    pos = pd.Series(rows).groupby(rows, sort=False).cumcount().to_numpy()
    counts = np.bincount(rows, minlength=n)[rows]
    pos = pos - np.maximum(counts - length, 0)
    return (pos >= 0) & (pos < length), pos


def _learn_vocab(values: pd.Series, min_count: int) -> pd.Index:
    codes, uniques = pd.factorize(values, sort=False)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= min_count]
    return pd.Index(uniques).take(order)


def _stable_hash(values: pd.Series, buckets: int) -> np.ndarray:
    hashed = pd.util.hash_array(values.astype(str).to_numpy(dtype=object))
    return (hashed % np.uint64(buckets)).astype(np.int64) + FIRST_ID


def _index_to_array(index: pd.Index) -> np.ndarray:
    if _is_numeric(pd.Series(index)):
        return np.asarray(index.to_numpy(dtype=np.float64, na_value=np.nan))
    values = index.to_numpy(dtype=object)
    return np.asarray([str(v) for v in values], dtype=str) if len(values) else np.array([], "<U1")


def infer_feature_configs(
    df: pd.DataFrame,
    names: Iterable[str],
    *,
    column_map: Mapping[str, str] | None = None,
    separator: str = "|",
) -> list[FeatureConfig]:
    """Guess a :class:`FeatureConfig` for each named column of ``df``.

    Rules: a string column holding ``separator`` in some value is ``tags``; a float
    column with more than 100 distinct values is ``numeric``; anything else
    (ids, small integer ranges, strings, booleans) is ``categorical``.

    Raises:
        ColumnMismatchError: a name is not a column of ``df``.
    """
    column_map = dict(column_map or {})
    out = []
    for name in names:
        column = column_map.get(name, name)
        if column not in df.columns:
            raise ColumnMismatchError(
                f"feature {name!r} has no configuration and no column {column!r} to infer it "
                f"from; columns are {list(df.columns)}. Add it to 'features'."
            )
        values = df[column]
        if (
            not _is_numeric(values)
            and values.astype(str).str.contains(separator, regex=False).any()
        ):
            kind = "tags"
        elif pd.api.types.is_float_dtype(values) and values.nunique() > 100:
            kind = "numeric"
        else:
            kind = "categorical"
        out.append(
            FeatureConfig(
                name=name, type=kind, column=None if column == name else column, separator=separator
            )
        )
        logger.info("inferred feature %r (column %r) as %s", name, column, kind)
    return out


class FeatureEncoder:
    """Learns vocabularies and statistics from training data and encodes frames.

    Args:
        features: The feature configs (names must be unique).
        column_map: Placeholder -> column (``{"@user": "userID", "@item": "itemID"}``).
        default_embedding_dim: Embedding size of features that do not set one.
    """

    def __init__(
        self,
        features: Sequence[FeatureConfig],
        *,
        column_map: Mapping[str, str] | None = None,
        default_embedding_dim: int = 16,
    ) -> None:
        names = [f.name for f in features]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"feature names must be unique; repeated: {dup}.")
        self.features: dict[str, FeatureConfig] = {f.name: f for f in features}
        self.column_map = dict(column_map or {})
        self.default_embedding_dim = int(default_embedding_dim)
        self._fitted: dict[str, _Fitted] | None = None
        self._tables: dict[str, _Table] = {}

    # ----------------------------------------------------------- properties
    @property
    def is_fitted(self) -> bool:
        return self._fitted is not None

    def column_of(self, name: str) -> str:
        """The source column of feature ``name``."""
        cfg = self.features[name]
        column = cfg.column or cfg.name
        return self.column_map.get(column, column)

    @property
    def specs(self) -> dict[str, FeatureSpec]:
        """name -> :class:`FeatureSpec` (needs a fitted encoder)."""
        self._check_fitted()
        out = {}
        for name, cfg in self.features.items():
            fitted = self._fitted[name]  # type: ignore[index]
            out[name] = FeatureSpec(
                name=name,
                kind=cfg.kind,
                table=cfg.table,
                num_embeddings=self._tables[cfg.table].num_embeddings if cfg.has_table else 0,
                embedding_dim=cfg.embedding_dim or self.default_embedding_dim,
                length=fitted.length,
                pooling=cfg.pooling,
                type=cfg.type,
            )
        return out

    def side_of(self, name: str) -> str:
        """``user``, ``item`` or ``context`` (fitted)."""
        self._check_fitted()
        return self._fitted[name].side  # type: ignore[index]

    def _check_fitted(self) -> None:
        if self._fitted is None:
            from recutils.exceptions import NotFittedError

            raise NotFittedError("this FeatureEncoder is not fitted yet: call fit() first.")

    # ------------------------------------------------------------------ fit
    def fit(
        self, df: pd.DataFrame, *, col_user: str | None = None, col_item: str | None = None
    ) -> FeatureEncoder:
        """Learn vocabularies, normalization statistics, bag widths and sides from ``df``.

        ``col_user`` / ``col_item`` (when given) let ``side="auto"`` features be
        detected as per-user or per-item attributes.
        """
        self._check_columns(df)
        fitted: dict[str, _Fitted] = {}
        tables: dict[str, _Table] = {}
        # group id-like features by table so shared tables learn one vocabulary
        by_table: dict[str, list[FeatureConfig]] = {}
        for cfg in self.features.values():
            if cfg.has_table:
                by_table.setdefault(cfg.table, []).append(cfg)
        for table, members in by_table.items():
            kinds = {
                ("bucket", tuple(m.boundaries))
                if m.boundaries
                else ("hash", m.hash_buckets)
                if m.hash_buckets
                else ("vocab", None)
                for m in members
            }
            if len(kinds) > 1:
                raise ConfigError(
                    f"features {[m.name for m in members]} share embedding table {table!r} but "
                    "encode differently (vocabulary / hash_buckets / boundaries); make them agree."
                )
            kind, arg = kinds.pop()
            if kind == "bucket":
                tables[table] = _Table(n_buckets=len(arg) + 1, members=[m.name for m in members])
            elif kind == "hash":
                tables[table] = _Table(hash_buckets=int(arg), members=[m.name for m in members])
            else:
                pieces = []
                # lists are read as text tokens: a table shared with one keeps its single ids as text
                # too, so that item 3 of a history and target item 3 are one row
                as_text = any(m.kind == "bag" for m in members)
                for m in members:
                    values = df[self.column_of(m.name)]
                    if m.kind == "bag":
                        pieces.append(_tokens(values, m)[1])
                    else:
                        pieces.append(_scalar_values(values.astype(object) if as_text else values))
                allv = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0]
                vocab = _learn_vocab(allv, min(m.min_count for m in members))
                if len(vocab) == 0:
                    raise DataError(
                        f"embedding table {table!r}: no value of {[m.name for m in members]} "
                        "reaches min_count in the training data."
                    )
                tables[table] = _Table(vocab=vocab, members=[m.name for m in members])
        for name, cfg in self.features.items():
            values = df[self.column_of(name)]
            state = _Fitted(column=self.column_of(name))
            if cfg.is_dense or cfg.numeric:
                if cfg.numeric:
                    rows, x = _numbers(values, cfg)
                else:
                    x = pd.to_numeric(values, errors="coerce").to_numpy(
                        dtype=np.float64, na_value=np.nan
                    )
                if np.isnan(x).all():
                    raise DataError(
                        f"numeric feature {name!r}: column {state.column!r} has no numbers."
                    )
                if cfg.normalization == "standard":
                    state.mean, state.scale = float(np.nanmean(x)), float(np.nanstd(x)) or 1.0
                elif cfg.normalization == "minmax":
                    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
                    state.mean, state.scale = lo, (hi - lo) or 1.0
            if cfg.kind in ("bag", "series"):
                rows = _tokens(values, cfg)[0] if cfg.kind == "bag" else rows
                longest = int(np.bincount(rows).max()) if rows.size else 1
                state.length = max(1, min(longest, cfg.max_length or longest))
            state.side = self._detect_side(cfg, state.column, df, col_user, col_item)
            fitted[name] = state
        self._fitted, self._tables = fitted, tables
        logger.info(
            "fitted feature encoder: %s",
            {n: s.num_embeddings or "dense" for n, s in self.specs.items()},
        )
        return self

    @staticmethod
    def _detect_side(
        cfg: FeatureConfig,
        column: str,
        df: pd.DataFrame,
        col_user: str | None,
        col_item: str | None,
    ) -> str:
        if cfg.side != "auto":
            return cfg.side
        for side, key in (("user", col_user), ("item", col_item)):
            if key is None or key not in df.columns:
                continue
            if column == key:
                return side
            values = df[column]
            if (
                values.dtype == object
                and values.map(lambda v: isinstance(v, (list, np.ndarray))).any()
            ):
                values = values.astype(str)
            # list-valued columns are compared as text (lists cannot be hashed)
            if (
                values.groupby(df[key], sort=False, observed=True).nunique(dropna=False) <= 1
            ).all():
                return side
        return "context"

    def _check_columns(self, df: pd.DataFrame) -> None:
        missing = {
            n: self.column_of(n) for n in self.features if self.column_of(n) not in df.columns
        }
        if missing:
            raise ColumnMismatchError(
                f"feature column(s) missing: {missing} (feature -> column); the frame has "
                f"{list(df.columns)}."
            )

    # ------------------------------------------------------------ transform
    def encode_feature(self, name: str, values: pd.Series) -> np.ndarray:
        """Encode one feature's column: int64 ids ``[n]``, ``[n, L]`` or float32 ``[n]``."""
        self._check_fitted()
        cfg = self.features[name]
        state = self._fitted[name]  # type: ignore[index]
        values = values.reset_index(drop=True)
        if cfg.is_dense:
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            x = (x - state.mean) / state.scale
            return np.nan_to_num(x, nan=0.0).astype(np.float32)
        if cfg.numeric:
            rows, x = _numbers(values, cfg)
            keep, pos = _place_last(rows, len(values), state.length)
            out = np.zeros((len(values), state.length), dtype=np.float32)
            out[rows[keep], pos[keep]] = np.nan_to_num(
                (x[keep] - state.mean) / state.scale, nan=0.0
            )
            return out
        table = self._tables[cfg.table]
        if cfg.kind == "bag":
            rows, tokens = _tokens(values, cfg)
            ids = self._lookup(table, tokens)
            length = state.length
            if cfg.type == "sequence":
                keep, pos = _place_last(rows, len(values), length)
            else:
                pos = pd.Series(rows).groupby(rows, sort=False).cumcount().to_numpy()
                keep = (pos >= 0) & (pos < length)
            out = np.zeros((len(values), length), dtype=np.int64)
            out[rows[keep], pos[keep]] = ids[keep]
            return out
        if table.n_buckets is not None:
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            ids = np.searchsorted(np.asarray(cfg.boundaries), x, side="right") + FIRST_ID
            return np.where(np.isnan(x), PAD, ids).astype(np.int64)
        return self._lookup(table, _scalar_values(values))

    def sequence_lengths(self, name: str, values: pd.Series) -> np.ndarray:
        """Each row's number of values in the column of sequence feature ``name``, before
        ``max_length`` keeps the last ones (what parallel histories must agree on)."""
        self._check_fitted()
        rows = _tokens(values, self.features[name])[0]
        return np.bincount(rows, minlength=len(values))

    @staticmethod
    def _lookup(table: _Table, values: pd.Series) -> np.ndarray:
        missing = values.isna().to_numpy()
        if table.hash_buckets is not None:
            ids = _stable_hash(values.fillna(""), table.hash_buckets)
        else:
            vocab = table.vocab
            if _is_numeric(pd.Series(vocab)) and not _is_numeric(values):
                values = pd.to_numeric(values, errors="coerce")
            elif not _is_numeric(pd.Series(vocab)) and _is_numeric(values):
                values = _scalar_values(values.astype(object))
            pos = vocab.get_indexer(pd.Index(values))
            ids = np.where(pos >= 0, pos + FIRST_ID, OOV).astype(np.int64)
        return np.where(missing, PAD, ids).astype(np.int64)

    def transform(
        self, df: pd.DataFrame, names: Iterable[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Encode ``df`` (never modified): feature name -> array, one vectorized pass each."""
        self._check_fitted()
        names = list(self.features) if names is None else list(names)
        missing = {n: self.column_of(n) for n in names if self.column_of(n) not in df.columns}
        if missing:
            raise ColumnMismatchError(
                f"feature column(s) missing: {missing}; the frame has {list(df.columns)}."
            )
        return {n: self.encode_feature(n, df[self.column_of(n)]) for n in names}

    def fit_transform(self, df: pd.DataFrame, **kwargs: Any) -> dict[str, np.ndarray]:
        """:meth:`fit` then :meth:`transform`."""
        return self.fit(df, **kwargs).transform(df)

    # ---------------------------------------------------------- persistence
    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Arrays (vocabularies) and JSON-able metadata; see :meth:`from_state`."""
        self._check_fitted()
        arrays: dict[str, np.ndarray] = {}
        tables = {}
        for i, (name, table) in enumerate(self._tables.items()):
            entry: dict[str, Any] = {
                "members": table.members,
                "hash_buckets": table.hash_buckets,
                "n_buckets": table.n_buckets,
            }
            if table.vocab is not None:
                key = f"vocab_{i}"
                arrays[key] = _index_to_array(table.vocab)
                entry["vocab"] = key
                entry["vocab_numeric"] = arrays[key].dtype.kind == "f"
                entry["vocab_integer"] = bool(pd.api.types.is_integer_dtype(table.vocab.dtype))
            tables[name] = entry
        meta = {
            "format": ENCODER_FORMAT,
            "features": [f.to_dict() for f in self.features.values()],
            "column_map": self.column_map,
            "default_embedding_dim": self.default_embedding_dim,
            "fitted": {n: vars(s) for n, s in self._fitted.items()},  # type: ignore[union-attr]
            "tables": tables,
        }
        return arrays, meta

    @classmethod
    def from_state(
        cls, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]
    ) -> FeatureEncoder:
        """Rebuild a fitted encoder from :meth:`state`'s output."""
        if meta.get("format") != ENCODER_FORMAT:
            raise ConfigError(f"unsupported feature encoder format {meta.get('format')!r}.")
        enc = cls(
            [FeatureConfig.from_dict(f) for f in meta["features"]],
            column_map=meta["column_map"],
            default_embedding_dim=meta["default_embedding_dim"],
        )
        enc._fitted = {n: _Fitted(**s) for n, s in meta["fitted"].items()}
        tables = {}
        for name, entry in meta["tables"].items():
            vocab = None
            if entry.get("vocab"):
                values = np.asarray(arrays[entry["vocab"]])
                if entry.get("vocab_integer"):
                    values = values.astype(np.int64)
                elif values.dtype.kind == "U":
                    values = values.astype(object)
                vocab = pd.Index(values)
            tables[name] = _Table(
                vocab=vocab,
                hash_buckets=entry["hash_buckets"],
                n_buckets=entry["n_buckets"],
                members=list(entry["members"]),
            )
        enc._tables = tables
        return enc

    def save(self, path: str | Path) -> Path:
        """Write ``features.json`` and ``features.npz`` into the folder ``path``."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        arrays, meta = self.state()
        (folder / "features.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        np.savez(folder / "features.npz", **arrays)
        return folder

    @classmethod
    def load(cls, path: str | Path) -> FeatureEncoder:
        """Read an encoder written by :meth:`save` (``allow_pickle=False``)."""
        folder = Path(path)
        meta = json.loads((folder / "features.json").read_text(encoding="utf-8"))
        with np.load(folder / "features.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return cls.from_state(arrays, meta)


__all__ = [
    "FEATURE_TYPES",
    "FeatureConfig",
    "FeatureEncoder",
    "FeatureSpec",
    "infer_feature_configs",
]
