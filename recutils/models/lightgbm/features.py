"""Tabular CTR features for gradient-boosted trees (numpy/pandas only; no torch).

:class:`CTRFeatureEncoder` turns raw Criteo DAC rows (13 integer counts ``I1..I13``,
26 hashed categoricals ``C1..C26``; see :mod:`recutils.datasets.criteo`), or any frame
of numeric and categorical columns, into the matrix LightGBM trains on:

* numeric columns stay float64. Missing values are kept as NaN (``numeric_missing=
  "keep"``: LightGBM learns which side of each split they go to), or imputed with
  the training median (``"median"``) or zero (``"zero"``). ``log_transform`` applies
  ``sign(x) * log1p(|x|)`` (Criteo's ``I2`` holds small negative values); trees are
  invariant to monotone transforms, so it matters little for LightGBM itself but
  keeps the features identical to a neural pipeline's.
* categorical columns become int32 codes with the id convention of
  :mod:`recutils.nn.features`: ``0`` missing, ``1`` the out-of-vocabulary bucket,
  ``2..`` the vocabulary: values seen at least ``min_count`` times in the training
  data, ordered by decreasing training frequency (ties by first appearance).
  Rare training values and values never seen in training share bucket ``1``, so the
  model learns what to do with unknown values. Values are compared as strings
  (Criteo's hashes are 8 hex digits).

The encoder is fitted once on training rows and saved with the model as one JSON
file (no pickle); :meth:`CTRFeatureEncoder.transform` encodes every column in one
vectorized pass, identically at training and prediction time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recutils.datasets.criteo import CAT_COLS, INT_COLS
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, NotFittedError

logger = logging.getLogger(__name__)

MISSING_ID, OOV_ID, FIRST_ID = 0, 1, 2
NUMERIC_MISSING = ("keep", "median", "zero")
ENCODER_FORMAT = "recutils-ctr-encoder"
ENCODER_FORMAT_VERSION = 1


def _check_columns_arg(cols: Any, what: str) -> list[str]:
    if isinstance(cols, str) or not isinstance(cols, Sequence):
        raise ConfigError(f"{what} must be a list of column names, got {cols!r}.")
    cols = list(cols)
    if not all(isinstance(c, str) and c for c in cols):
        raise ConfigError(f"{what} must hold non-empty strings, got {cols!r}.")
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise ConfigError(f"{what} repeats column(s) {dup}.")
    return cols


def _as_strings(values: pd.Series) -> tuple[pd.Index, np.ndarray]:
    """Values as a string Index (missing ones as NaN) and the missing mask."""
    missing = values.isna().to_numpy()
    if isinstance(values.dtype, pd.StringDtype):
        strings = values
    else:
        strings = values.astype(object).where(~missing, None).map(str, na_action="ignore")
    return pd.Index(strings.to_numpy(dtype=object)), missing


def learn_vocabulary(values: pd.Series, min_count: int) -> list[str]:
    """Values of ``values`` seen at least ``min_count`` times, most frequent first.

    Ties keep the order of first appearance; missing values are ignored.
    """
    index, missing = _as_strings(values)
    codes, uniques = pd.factorize(index[~missing], sort=False)
    counts = np.bincount(codes, minlength=len(uniques))
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= min_count]
    return [str(v) for v in np.asarray(uniques, dtype=object)[order]]


class CTRFeatureEncoder:
    """Encode numeric and categorical columns for LightGBM (see the module docstring).

    Args:
        numeric_cols: Numeric columns (default: Criteo's ``I1..I13``).
        categorical_cols: Categorical columns (default: Criteo's ``C1..C26``).
        min_count: Minimum training count for a categorical value to get its own code.
        numeric_missing: ``"keep"`` (NaN), ``"median"`` (training median) or ``"zero"``.
        log_transform: Apply ``sign(x) * log1p(|x|)`` to numeric columns.

    Attributes:
        vocabularies_: Column -> list of the values with their own code (code ``i + 2``).
        fill_values_: Column -> value that replaces NaN (empty with ``"keep"``).

    Examples:
        >>> df = pd.DataFrame({"n": [1.0, None, 3.0], "c": ["a", "a", "b"]})
        >>> enc = CTRFeatureEncoder(["n"], ["c"], min_count=2).fit(df)
        >>> enc.transform(pd.DataFrame({"n": [2.0], "c": ["z"]}))["c"].tolist()
        [1]
    """

    def __init__(
        self,
        numeric_cols: Sequence[str] = INT_COLS,
        categorical_cols: Sequence[str] = CAT_COLS,
        *,
        min_count: int = 1,
        numeric_missing: str = "keep",
        log_transform: bool = False,
    ) -> None:
        self.numeric_cols = _check_columns_arg(numeric_cols, "numeric_cols")
        self.categorical_cols = _check_columns_arg(categorical_cols, "categorical_cols")
        both = sorted(set(self.numeric_cols) & set(self.categorical_cols))
        if both:
            raise ConfigError(f"column(s) {both} are both numeric and categorical.")
        if not self.numeric_cols and not self.categorical_cols:
            raise ConfigError("the encoder needs at least one numeric or categorical column.")
        if (
            isinstance(min_count, bool)
            or not isinstance(min_count, (int, np.integer))
            or min_count < 1
        ):
            raise ConfigError(f"min_count must be an integer >= 1, got {min_count!r}.")
        if numeric_missing not in NUMERIC_MISSING:
            raise ConfigError(
                f"numeric_missing {numeric_missing!r} is unknown; allowed: {list(NUMERIC_MISSING)}."
            )
        if not isinstance(log_transform, (bool, np.bool_)):
            raise ConfigError(f"log_transform must be a boolean, got {log_transform!r}.")
        self.min_count = int(min_count)
        self.numeric_missing = numeric_missing
        self.log_transform = bool(log_transform)
        self.vocabularies_: dict[str, list[str]] | None = None
        self.fill_values_: dict[str, float] = {}
        self._lookup: dict[str, pd.Index] = {}

    # --------------------------------------------------------------- properties
    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has run (or a fitted encoder was loaded)."""
        return self.vocabularies_ is not None

    @property
    def feature_names(self) -> list[str]:
        """Output columns, in order: numeric then categorical."""
        return [*self.numeric_cols, *self.categorical_cols]

    @property
    def input_columns(self) -> list[str]:
        """Columns a frame must have to be encoded."""
        return self.feature_names

    def vocabulary_size(self, col: str) -> int:
        """Number of codes of categorical ``col``, missing and OOV buckets included."""
        self._check_fitted()
        return FIRST_ID + len(self.vocabularies_[col])  # type: ignore[index]

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("this CTRFeatureEncoder is not fitted yet: call fit() first.")

    def check_columns(self, df: pd.DataFrame, what: str = "frame") -> None:
        """Raise :class:`ColumnMismatchError` naming the feature columns ``df`` lacks."""
        if not isinstance(df, pd.DataFrame):
            raise ColumnMismatchError(
                f"{what} must be a pandas DataFrame, got {type(df).__name__}."
            )
        missing = [c for c in self.input_columns if c not in df.columns]
        if missing:
            raise ColumnMismatchError(
                f"{what} lacks feature column(s) {missing}; expected {len(self.numeric_cols)} "
                f"numeric and {len(self.categorical_cols)} categorical columns "
                f"(Criteo DAC: label, I1..I13, C1..C26). It has {list(df.columns)[:45]}."
            )

    # ---------------------------------------------------------------- numerics
    def _numeric(self, df: pd.DataFrame) -> np.ndarray:
        """The numeric columns as a float64 ``[n, n_numeric]`` array (NaN for missing)."""
        out = np.empty((len(df), len(self.numeric_cols)), dtype=np.float64)
        for j, col in enumerate(self.numeric_cols):
            values = df[col]
            dtype = values.dtype
            if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
                coerced = pd.to_numeric(values, errors="coerce")
                bad = coerced.isna().to_numpy() & values.notna().to_numpy()
                if bad.any():
                    example = values[bad].iloc[0]
                    raise DataError(
                        f"numeric column {col!r} holds non-numeric value {example!r} "
                        f"(row {int(np.flatnonzero(bad)[0])})."
                    )
                values = coerced
            out[:, j] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(out).any():
            col = self.numeric_cols[int(np.flatnonzero(np.isinf(out).any(axis=0))[0])]
            raise DataError(f"numeric column {col!r} holds infinite values.")
        if self.log_transform:
            out = np.sign(out) * np.log1p(np.abs(out))
        return out

    # --------------------------------------------------------------- fit/apply
    def fit(self, df: pd.DataFrame) -> CTRFeatureEncoder:
        """Learn vocabularies (and fill values) from the training rows ``df``."""
        self.check_columns(df, "training frame")
        if len(df) == 0:
            raise DataError("cannot fit the feature encoder on an empty frame.")
        numeric = self._numeric(df)
        fills: dict[str, float] = {}
        if self.numeric_missing == "median":
            with np.errstate(all="ignore"):
                med = np.nanmedian(numeric, axis=0) if numeric.size else np.array([])
            fills = {c: float(0.0 if np.isnan(m) else m) for c, m in zip(self.numeric_cols, med)}
        elif self.numeric_missing == "zero":
            fills = dict.fromkeys(self.numeric_cols, 0.0)
        vocabs = {col: learn_vocabulary(df[col], self.min_count) for col in self.categorical_cols}
        self._set_fitted(vocabs, fills)
        logger.info(
            "fitted CTR encoder on %d rows: %d numeric, %d categorical columns, %d codes in all "
            "(min_count=%d)",
            len(df),
            len(self.numeric_cols),
            len(self.categorical_cols),
            sum(len(v) for v in vocabs.values()),
            self.min_count,
        )
        return self

    def _set_fitted(self, vocabs: Mapping[str, list[str]], fills: Mapping[str, float]) -> None:
        self.vocabularies_ = {c: list(vocabs[c]) for c in self.categorical_cols}
        self.fill_values_ = {c: float(fills[c]) for c in self.numeric_cols if c in fills}
        self._lookup = {
            c: pd.Index(np.asarray(v, dtype=object)) for c, v in self.vocabularies_.items()
        }

    def encode_categorical(self, col: str, values: pd.Series) -> np.ndarray:
        """int32 codes of one categorical column (0 missing, 1 unknown, 2.. vocabulary)."""
        self._check_fitted()
        index, missing = _as_strings(values)
        pos = self._lookup[col].get_indexer(index)
        codes = np.where(pos >= 0, pos + FIRST_ID, OOV_ID)
        codes[missing] = MISSING_ID
        return codes.astype(np.int32)

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """Encode ``df`` (never modified) into a frame of :attr:`feature_names`.

        Numeric columns are float64, categorical columns int32 codes; the index is
        ``df``'s. Extra columns of ``df`` (the label, ids, ...) are ignored.
        """
        self._check_fitted()
        self.check_columns(df)
        numeric = self._numeric(df)
        if self.fill_values_:
            fill = np.array([self.fill_values_[c] for c in self.numeric_cols])
            numeric = np.where(np.isnan(numeric), fill, numeric)
        data: dict[str, np.ndarray] = {c: numeric[:, j] for j, c in enumerate(self.numeric_cols)}
        for col in self.categorical_cols:
            data[col] = self.encode_categorical(col, df[col])
        return pd.DataFrame(data, index=df.index, columns=self.feature_names)

    def fit_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """:meth:`fit` then :meth:`transform` on the same rows."""
        return self.fit(df).transform(df)

    # -------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-able settings and fitted state; see :meth:`from_dict`."""
        self._check_fitted()
        return {
            "format": ENCODER_FORMAT,
            "format_version": ENCODER_FORMAT_VERSION,
            "numeric_cols": list(self.numeric_cols),
            "categorical_cols": list(self.categorical_cols),
            "min_count": self.min_count,
            "numeric_missing": self.numeric_missing,
            "log_transform": self.log_transform,
            "fill_values": dict(self.fill_values_),
            "vocabularies": {c: list(v) for c, v in self.vocabularies_.items()},  # type: ignore[union-attr]
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> CTRFeatureEncoder:
        """Rebuild a fitted encoder from :meth:`to_dict`'s output.

        Raises:
            ConfigError: not an encoder state, or a newer format version.
        """
        if not isinstance(state, Mapping) or state.get("format") != ENCODER_FORMAT:
            raise ConfigError("not a recutils CTR feature encoder state.")
        version = state.get("format_version")
        if not isinstance(version, int) or version > ENCODER_FORMAT_VERSION:
            raise ConfigError(
                f"CTR encoder format version {version!r}; this recutils reads versions "
                f"<= {ENCODER_FORMAT_VERSION}."
            )
        enc = cls(
            state["numeric_cols"],
            state["categorical_cols"],
            min_count=state["min_count"],
            numeric_missing=state["numeric_missing"],
            log_transform=state["log_transform"],
        )
        vocabs = state["vocabularies"]
        missing = [c for c in enc.categorical_cols if c not in vocabs]
        if missing:
            raise ConfigError(f"CTR encoder state lacks the vocabularies of {missing}.")
        enc._set_fitted(vocabs, state.get("fill_values", {}))
        return enc

    def save(self, path: str | Path) -> Path:
        """Write the fitted encoder to the JSON file ``path``; returns it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> CTRFeatureEncoder:
        """Read an encoder written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"no CTR feature encoder file at {str(path)!r}.")
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path} is not valid JSON: {err}") from err
        return cls.from_dict(state)

    def __repr__(self) -> str:
        return (
            f"CTRFeatureEncoder({len(self.numeric_cols)} numeric, {len(self.categorical_cols)} "
            f"categorical, min_count={self.min_count}, numeric_missing={self.numeric_missing!r}, "
            f"log_transform={self.log_transform}, fitted={self.is_fitted})"
        )


__all__ = [
    "CTRFeatureEncoder",
    "FIRST_ID",
    "MISSING_ID",
    "NUMERIC_MISSING",
    "OOV_ID",
    "learn_vocabulary",
]
