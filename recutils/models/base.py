"""``BaseRecommender``: id mapping, validation, remove-seen, top-k and save/load, once.

The saved-folder format and the one loader live in :mod:`recutils.models.persistence`,
top-k selection in :mod:`recutils.models.topk`; their public names
(``FORMAT_VERSION``, ``MANIFEST``, ``ARRAYS``, ``check_top_k``, ``top_k_per_row``)
are importable from here too.

A model derives from :class:`BaseRecommender` and supplies only:

* ``name`` (registry name) and ``config_class`` (a :class:`~recutils.config.BaseConfig`
  dataclass) as class attributes;
* ``_fit(data: TrainData) -> None``: learn from integer-coded arrays
  (``data.user_idx``, ``data.item_idx`` in ``[0, n_users)`` / ``[0, n_items)``,
  ``data.rating``, ``data.timestamp``) and set fitted attributes ending in ``_``;
* ``_score_users(user_idx, **kw) -> ndarray[len(user_idx), n_items]`` (float64);
  higher is better, ``-inf``/``NaN`` mean "never recommend";
* optionally ``_score_pairs(user_idx, item_idx, frame=None, **kw)`` (default:
  gathers from ``_score_users`` over blocks of distinct users; ``frame`` holds the
  scoring rows when the model declares side columns) and
  ``_unknown_user_scores(**kw)`` (a score row over items used for users not seen
  in training; default ``None``: such users are skipped with one ``DataWarning``);
* ``_state() -> (arrays, meta)`` and ``_set_state(arrays, meta)`` for save/load
  (numeric arrays only, JSON-able meta); a model with files of its own extends
  ``save`` and ``_from_saved(folder, manifest)``;
* ``contract_case()`` for the contract suite (small parameters and a known answer).

Class attributes that tune the shared policies:

* ``duplicates``: what ``fit`` does with repeated (user, item) rows:
  ``"error"`` (default, :class:`DataError`), ``"sum"`` (sum the ratings, latest
  timestamp), ``"last"`` / ``"first"`` (keep one row in input order) or ``"keep"``
  (pass every row to ``_fit``, which aggregates; SAR does that).
* ``needs_rating`` / ``needs_timestamp`` (``needs_timestamp`` may be overridden
  by a property depending on the config): the columns ``fit`` requires. Without a
  rating column (``col_rating=None``) ratings are ones. NaN ratings always raise
  :class:`DataError`. A model deciding from its config overrides ``_needs_rating()``
  (never assigns ``needs_rating`` on an instance).

Side data reaches a model through the contract only: ``_side_columns()`` names the
columns (besides the ids) it reads; ``fit`` hands them over as ``TrainData.frame``
and ``predict`` as ``_score_pairs(..., frame=...)``. Per-id side frames given to a
model's ``fit`` (LightFM's ``user_features`` / ``item_features``) go through
``_fit_frames`` into ``TrainData.user_features`` / ``TrainData.item_features``.

Ranking rules (every model): items are ordered by score descending, ties broken
by item index ascending, i.e. by the order of the sorted training item ids (ids
are coded with ``pd.factorize(sort=True)``, falling back to order of first
appearance when ids of mixed types cannot be sorted). Items scored ``-inf`` or
``NaN`` (e.g. seen items under ``remove_seen``) are never returned, so a user may
get fewer than ``top_k`` rows. Ranks run 1..k.
"""

from __future__ import annotations

import inspect
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.config import BaseConfig, load_config
from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_K,
    DEFAULT_PREDICTION_COL,
    DEFAULT_RANK_COL,
    DEFAULT_RATING_COL,
    DEFAULT_TIMESTAMP_COL,
    DEFAULT_USER_COL,
)
from recutils.exceptions import (
    ConfigError,
    DataError,
    DataWarning,
    NotFittedError,
    UnknownKeywordError,
)
from recutils.models import persistence
from recutils.models.persistence import (  # noqa: F401 - public names of this module before the split
    ARRAYS,
    FORMAT_VERSION,
    MANIFEST,
    _ids_from_array,
    _ids_to_array,
    _json_default,
)
from recutils.models.topk import check_top_k, ranking_frame, top_k_per_row
from recutils.utils.progress import progress_bar
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)

_DUPLICATE_POLICIES = ("error", "sum", "first", "last", "keep")
_DEFAULT_BLOCK_BYTES = 32 * 2**20


@dataclass
class TrainData:
    """Integer-coded training data handed to ``_fit``: the only way data reaches a model.

    Attributes:
        user_idx, item_idx: int64 codes (rows/columns of the user-item matrix).
        rating: float64 ratings (ones without a rating column); never NaN.
        timestamp: float64 seconds (datetimes converted), or ``None`` when the model
            does not use timestamps.
        n_users, n_items: Sizes of the id spaces.
        frame: The training rows, aligned with ``user_idx`` (same length and order),
            restricted to the id columns and the side columns the model declares
            (:meth:`BaseRecommender._side_columns`) that the training frame has;
            ``None`` when the model declares none.
        user_features, item_features: Frames of per-user / per-item side data given to
            ``fit`` (one row per id), or ``None``.
    """

    user_idx: np.ndarray
    item_idx: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray | None
    n_users: int
    n_items: int
    frame: pd.DataFrame | None = None
    user_features: pd.DataFrame | None = None
    item_features: pd.DataFrame | None = None


@dataclass
class KnownAnswer:
    """A toy case with its expected recommendations, for the contract suite.

    ``expected`` maps a user id to its expected item ids in rank order
    (``recommend_k_items(users, top_k, remove_seen)``); ``expected_scores``
    optionally the matching scores (compared with ``rtol=1e-6``).
    """

    train: pd.DataFrame
    users: list[Any]
    top_k: int
    remove_seen: bool
    expected: dict[Any, list[Any]]
    expected_scores: dict[Any, list[float]] | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class ContractCase:
    """What a registered model tells the contract suite.

    Attributes:
        params: Small, fast parameters for the generic checks.
        known_answer: A toy case with hand-checked (or reference) output, or ``None``.
        stochastic: Whether the model takes a ``seed`` (checked for determinism).
    """

    params: dict[str, Any] = field(default_factory=dict)
    known_answer: KnownAnswer | None = None
    stochastic: bool = False


def _as_seconds(values: pd.Series) -> np.ndarray:
    """Timestamps as float64 seconds (numbers as they are, datetimes since the epoch)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        ns = values.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        return ns.astype(np.float64) / 1e9
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataError(f"timestamps must be numeric or datetime, got dtype {values.dtype}.")
    out = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(out).any():
        raise DataError(f"{values.name} has {int(np.isnan(out).sum())} missing value(s).")
    return out


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes and sorted distinct ids (order of appearance when ids do not sort)."""
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:
        codes, uniques = pd.factorize(values, sort=False)
    if (codes < 0).any():
        raise DataError(f"{values.name} has {int((codes < 0).sum())} missing id(s).")
    return codes.astype(np.int64), pd.Index(uniques)


def _to_user_list(users: Any, col_user: str) -> pd.Index:
    """Distinct requested user ids, in order of first appearance.

    Raises:
        ColumnMismatchError: a frame without ``col_user``.
        DataError: anything but a frame with ``col_user`` or a 1-D sequence of ids (a 2-D
            array, a list of lists, a string, ...), or missing ids (NaN/None), which would
            otherwise be served as unknown users.
    """
    expected = f"users must be a DataFrame with column {col_user!r} or a 1-D sequence of ids"
    if isinstance(users, pd.DataFrame):
        check_columns(users, [col_user], name="users")
        values = users[col_user]
    elif isinstance(users, np.ndarray):
        if users.ndim != 1:
            raise DataError(f"{expected}, got an array of shape {users.shape}.")
        values = pd.Series(users)
    elif isinstance(users, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray, list, tuple)):
        # ExtensionArray: what ``df[col].unique()`` returns for string, nullable and
        # categorical columns (pandas 3's default string dtype included)
        values = pd.Series(users)
    elif isinstance(users, Sequence) and not isinstance(users, (str, bytes)):
        values = pd.Series(list(users))
    else:
        raise DataError(f"{expected}, got {type(users).__name__}.")
    try:
        distinct = pd.unique(values)
    except TypeError as err:  # unhashable elements: lists, arrays, dicts as ids
        raise DataError(
            f"{expected}; its elements must be single ids, not lists or arrays "
            f"(got e.g. {values.iloc[0]!r})."
        ) from err
    index = pd.Index(distinct)
    n_missing = int(values.isna().sum())
    if n_missing:
        raise DataError(f"users has {n_missing} missing id(s) (NaN/None); drop them first.")
    return index


def _positions(ids: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each of ``values`` in ``ids`` (-1 where absent, NaN included).

    Raises:
        DataError: ``values`` holds lists or arrays instead of single ids.
    """
    try:
        return ids.get_indexer(pd.Index(values))
    except TypeError as err:  # unhashable elements
        raise DataError(
            f"{values.name} must hold single ids, not lists or arrays "
            f"(got e.g. {values.iloc[0]!r})."
        ) from err


class BaseRecommender:
    """Shared machinery of every recutils model (see the module docstring).

    Args:
        config: A config instance, a mapping, YAML text or a YAML file path; keyword
            ``params`` override it.
        col_user, col_item, col_rating, col_timestamp, col_prediction: Column names.
            ``col_rating=None`` treats every row as a rating of 1.
        progress: Show a tqdm progress bar over scoring blocks.
        n_jobs: Threads used to score blocks of users (numpy/scipy release the GIL);
            ``None``: ``min(4, os.cpu_count())``.
        **params: Config fields (unknown names raise :class:`ConfigError`).
    """

    #: Registry name, written to the manifest.
    name: ClassVar[str] = "base"
    #: The config dataclass.
    config_class: ClassVar[type[BaseConfig]] = BaseConfig
    #: Policy for repeated (user, item) rows in ``fit``.
    duplicates: ClassVar[str] = "error"
    #: Whether ``fit`` needs ``col_rating`` (unless it is ``None``).
    needs_rating: ClassVar[bool] = True
    #: Bytes of dense scores computed at once (bounded-memory user blocks).
    block_bytes: ClassVar[int] = _DEFAULT_BLOCK_BYTES
    #: Other spellings the constructor accepts for config fields (alias -> field).
    keyword_aliases: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        config: BaseConfig | Mapping[str, Any] | str | Path | None = None,
        *,
        col_user: str = DEFAULT_USER_COL,
        col_item: str = DEFAULT_ITEM_COL,
        col_rating: str | None = DEFAULT_RATING_COL,
        col_timestamp: str = DEFAULT_TIMESTAMP_COL,
        col_prediction: str = DEFAULT_PREDICTION_COL,
        progress: bool = False,
        n_jobs: int | None = None,
        **params: Any,
    ) -> None:
        fields = self.config_class.field_names()
        unknown = [k for k in params if k not in fields]
        if unknown:
            raise UnknownKeywordError(
                f"{type(self).__name__} got unknown parameter(s) {unknown}; "
                f"allowed: {self.accepted_keywords()}."
            )
        base = load_config(config, self.config_class)
        self.config = base.replace(**params) if params else base
        self.col_user = col_user
        self.col_item = col_item
        self.col_rating = col_rating
        self.col_timestamp = col_timestamp
        self.col_prediction = col_prediction
        self.col_rank = DEFAULT_RANK_COL
        self.progress = progress
        self.n_jobs = n_jobs

    @classmethod
    def accepted_keywords(cls) -> list[str]:
        """Every keyword argument the constructor accepts, in signature order.

        The named parameters of each ``__init__`` up the class chain while they pass
        ``**params`` on, the config fields where they reach :class:`BaseRecommender`,
        and the keys of :attr:`keyword_aliases`. :func:`~recutils.models.registry.create_model`
        refuses any other keyword with :class:`~recutils.exceptions.UnknownKeywordError`.
        """
        names: list[str] = []
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            params = list(inspect.signature(init).parameters.values())
            names += [
                p.name for p in params[1:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            ]
            if not any(p.kind is p.VAR_KEYWORD for p in params):
                break
            if klass is BaseRecommender:
                names += cls.config_class.field_names()
                break
        names += list(cls.keyword_aliases)
        return list(dict.fromkeys(names))

    # ------------------------------------------------------------------ helpers
    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails
        if name.endswith("_") and not name.startswith("__"):
            raise NotFittedError(
                f"{type(self).__name__}.{name} is not available: call fit() first."
            )
        config = self.__dict__.get("config")
        if config is not None and name in config.field_names():
            return getattr(config, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.config.to_dict().items())
        return f"{type(self).__name__}({params})"

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` has been called (or a fitted model loaded)."""
        return "user_ids_" in self.__dict__

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet: call fit() before using it."
            )

    @property
    def needs_timestamp(self) -> bool:
        """Whether ``fit`` needs ``col_timestamp`` (override per config)."""
        return False

    def _needs_rating(self) -> bool:
        """Whether ``fit`` reads ``col_rating`` (default: the ``needs_rating`` attribute).

        Override to decide from the config; never assign ``needs_rating`` on an instance.
        """
        return bool(self.needs_rating)

    def _side_columns(self) -> list[str]:
        """Columns other than the ids that the model reads from its frames (default none).

        A model that declares side columns (features, histories, text) gets the
        training rows with them as :attr:`TrainData.frame` and the scoring rows as
        ``_score_pairs(..., frame=...)`` in :meth:`predict`; columns a frame lacks
        are left out (the model reports what it misses).
        """
        return []

    def _side_frame(self, df: pd.DataFrame, rows: np.ndarray | None = None) -> pd.DataFrame | None:
        """``df`` (or its ``rows``) restricted to the ids and the declared side columns."""
        side = self._side_columns()
        if not side:
            return None
        columns = list(
            dict.fromkeys(c for c in [self.col_user, self.col_item, *side] if c in df.columns)
        )
        return df[columns] if rows is None else df.iloc[rows][columns]

    @property
    def n_users_(self) -> int:
        """Number of training users."""
        self._check_fitted()
        return len(self.user_ids_)

    @property
    def n_items_(self) -> int:
        """Number of training items."""
        self._check_fitted()
        return len(self.item_ids_)

    def _workers(self) -> int:
        if self.n_jobs is None:
            return max(1, min(4, os.cpu_count() or 1))
        return max(1, int(self.n_jobs))

    def _blocks(self, n: int) -> list[slice]:
        per_row = max(1, len(self.item_ids_)) * 8
        size = max(1, self.block_bytes // per_row)
        return [slice(s, min(s + size, n)) for s in range(0, n, size)]

    def _map_blocks(self, fn: Callable[[slice], Any], n: int, desc: str) -> list[Any]:
        """Apply ``fn`` to bounded-memory blocks of ``range(n)``, in threads, in order."""
        blocks = self._blocks(n)
        workers = min(self._workers(), len(blocks))
        if workers <= 1:
            it: Iterator[Any] = map(fn, blocks)
        else:
            pool = ThreadPoolExecutor(max_workers=workers)
            it = pool.map(fn, blocks)
        it = progress_bar(it, total=len(blocks), desc=desc, unit="block", enabled=self.progress)
        try:
            return list(it)
        finally:
            if workers > 1:
                pool.shutdown()

    # ---------------------------------------------------------------------- fit
    def _train_data(self, df: pd.DataFrame) -> TrainData:
        """Validate and code ``df`` once into :class:`TrainData` (sets the id maps)."""
        use_rating = self._needs_rating() and self.col_rating is not None
        columns = [self.col_user, self.col_item]
        if use_rating:
            columns.append(self.col_rating)
        if self.needs_timestamp:
            columns.append(self.col_timestamp)
        check_columns(df, columns, name="train")
        if len(df) == 0:
            raise DataError("cannot fit on an empty frame.")
        u_idx, user_ids = _factorize(df[self.col_user])
        i_idx, item_ids = _factorize(df[self.col_item])
        if use_rating:
            col = df[self.col_rating]
            if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                raise DataError(f"{self.col_rating} must be numeric, got dtype {col.dtype}.")
            rating = col.to_numpy(dtype=np.float64, na_value=np.nan)
            n_nan = int(np.isnan(rating).sum())
            if n_nan:
                raise DataError(
                    f"{self.col_rating} has {n_nan} NaN value(s); drop or impute them before fit."
                )
            if not np.isfinite(rating).all():
                raise DataError(f"{self.col_rating} has infinite values.")
        else:
            rating = np.ones(len(df), dtype=np.float64)
        timestamp = _as_seconds(df[self.col_timestamp]) if self.needs_timestamp else None
        self.user_ids_ = user_ids
        self.item_ids_ = item_ids
        data = TrainData(u_idx, i_idx, rating, timestamp, len(user_ids), len(item_ids))
        data, rows = self._apply_duplicate_policy(data)
        return replace(data, frame=self._side_frame(df, rows))

    def _apply_duplicate_policy(self, data: TrainData) -> tuple[TrainData, np.ndarray | None]:
        """``data`` with repeated pairs combined, and the input rows kept (``None``: all)."""
        policy = self.duplicates
        if policy not in _DUPLICATE_POLICIES:
            raise ConfigError(f"duplicates={policy!r}; allowed: {list(_DUPLICATE_POLICIES)}.")
        if policy == "keep":
            return data, None
        keys = data.user_idx * data.n_items + data.item_idx
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        if uniq.size == keys.size:
            return data, None
        n_dup = keys.size - uniq.size
        if policy == "error":
            raise DataError(
                f"{n_dup} duplicate ({self.col_user}, {self.col_item}) row(s); "
                f"{type(self).__name__} needs one row per pair: aggregate them first."
            )
        logger.info("%d duplicate (user, item) rows combined with policy %r", n_dup, policy)
        if policy == "sum":
            rating = np.bincount(inverse, weights=data.rating, minlength=uniq.size)
            ts = None
            if data.timestamp is not None:
                ts = np.full(uniq.size, -np.inf)
                np.maximum.at(ts, inverse, data.timestamp)
            keep = first
        else:
            if policy == "last":
                _, last_rev = np.unique(keys[::-1], return_index=True)
                keep = keys.size - 1 - last_rev
            else:
                keep = first
            rating = data.rating[keep]
            ts = None if data.timestamp is None else data.timestamp[keep]
        return replace(
            data,
            user_idx=data.user_idx[keep],
            item_idx=data.item_idx[keep],
            rating=rating,
            timestamp=ts,
        ), keep

    def fit(self, df: pd.DataFrame) -> BaseRecommender:
        """Fit the model on a long interactions frame (never modified); return ``self``.

        Raises:
            ColumnMismatchError: a required column is missing.
            DataError: empty frame, NaN ratings or ids, duplicates under
                ``duplicates="error"``.
        """
        return self._fit_frames(df)

    def _fit_frames(
        self,
        df: pd.DataFrame,
        *,
        user_features: pd.DataFrame | None = None,
        item_features: pd.DataFrame | None = None,
    ) -> BaseRecommender:
        """The fit machinery: clear fitted state, code the data once, ``seen_``, ``_fit``.

        A model whose ``fit`` takes side frames passes them here; they reach ``_fit``
        as :attr:`TrainData.user_features` / :attr:`TrainData.item_features`.
        """
        self._clear_fitted()
        try:
            data = self._train_data(df)
            data = self._with_side_frames(
                replace(data, user_features=user_features, item_features=item_features)
            )
            self.seen_ = sp.csr_matrix(
                (np.ones(data.user_idx.size, dtype=np.int8), (data.user_idx, data.item_idx)),
                shape=(data.n_users, data.n_items),
            )
            self.seen_.sum_duplicates()
            self.seen_.data[:] = 1
            logger.info(
                "fitting %s on %d rows, %d users, %d items",
                type(self).__name__,
                data.user_idx.size,
                data.n_users,
                data.n_items,
            )
            self._fit(data)
        except BaseException:
            # a failed fit (bad data, a diverged run, an interrupt) leaves no half-fitted
            # model behind: is_fitted is False and using the model raises NotFittedError
            self._clear_fitted()
            raise
        return self

    def _clear_fitted(self) -> None:
        """Drop every fitted attribute (public names ending in ``_``)."""
        for attr in [a for a in self.__dict__ if a.endswith("_") and not a.startswith("_")]:
            del self.__dict__[attr]

    def _with_side_frames(self, data: TrainData) -> TrainData:
        """Training data once the per-id side frames are attached (default: as is).

        A model may add the ids that only its side frames hold (LightFM's cold start)
        by extending ``user_ids_`` / ``item_ids_`` and returning recoded data.
        """
        return data

    def _fit(self, data: TrainData) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ scoring
    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _score_pairs(
        self,
        user_idx: np.ndarray,
        item_idx: np.ndarray,
        *,
        frame: pd.DataFrame | None = None,
        **kwargs: Any,
    ) -> np.ndarray:
        """Scores of (user, item) pairs; default: rows of ``_score_users`` by user blocks.

        ``frame``: the scoring rows of the pairs (aligned with ``user_idx``) with the ids
        and the declared side columns (:meth:`_side_columns`), ``None`` when the model
        declares none; the default ignores it.
        """
        out = np.empty(user_idx.size, dtype=np.float64)
        if user_idx.size == 0:
            return out
        uniq, inverse = np.unique(user_idx, return_inverse=True)

        def block(sl: slice) -> None:
            scores = self._score_users(uniq[sl], **kwargs)
            mask = (inverse >= sl.start) & (inverse < sl.stop)
            out[mask] = scores[inverse[mask] - sl.start, item_idx[mask]]

        self._map_blocks(block, uniq.size, "predict")
        return out

    def _unknown_user_scores(self, **kwargs: Any) -> np.ndarray | None:
        """Scores over items for users not seen in training, or ``None`` to skip them."""
        return None

    def predict(self, df: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
        """Score each (user, item) row of ``df``.

        Returns:
            ``DataFrame[col_user, col_item, col_prediction]`` with the same length and
            order as ``df`` (fresh index 0..n-1). Pairs with a user or item not seen
            in training get ``NaN``, with one :class:`DataWarning`.
        """
        self._check_fitted()
        check_columns(df, [self.col_user, self.col_item], name="df")
        u = _positions(self.user_ids_, df[self.col_user])
        i = _positions(self.item_ids_, df[self.col_item])
        known = (u >= 0) & (i >= 0)
        pred = np.full(len(df), np.nan, dtype=np.float64)
        if known.any():
            rows = np.flatnonzero(known)
            pred[known] = self._score_pairs(
                u[rows].astype(np.int64),
                i[rows].astype(np.int64),
                frame=self._side_frame(df, rows),
                **kwargs,
            )
        n_unknown = int((~known).sum())
        if n_unknown:
            warnings.warn(
                f"{n_unknown} of {len(df)} pair(s) have a user ({int((u < 0).sum())}) or item "
                f"({int((i < 0).sum())}) not seen in training; their {self.col_prediction} is NaN.",
                DataWarning,
                stacklevel=2,
            )
        return pd.DataFrame(
            {
                self.col_user: df[self.col_user].to_numpy(),
                self.col_item: df[self.col_item].to_numpy(),
                self.col_prediction: pred,
            }
        )

    def _topk_block(
        self, user_idx: np.ndarray, k: int, remove_seen: bool, **kwargs: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = np.asarray(self._score_users(user_idx, **kwargs))
        if scores.dtype not in (np.float32, np.float64):
            scores = scores.astype(np.float64)
        if remove_seen:
            seen = self.seen_[user_idx]
            rows = np.repeat(np.arange(user_idx.size), np.diff(seen.indptr))
            scores[rows, seen.indices] = -np.inf
        return top_k_per_row(scores, k)

    def recommend_k_items(
        self,
        users: pd.DataFrame | Sequence[Any] | np.ndarray | pd.Series,
        top_k: int = DEFAULT_K,
        remove_seen: bool = True,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """Top-``top_k`` items for each requested user.

        Args:
            users: A frame with ``col_user`` or a sequence of ids; repeated ids are
                served once, in order of first appearance.
            top_k: Items per user (>= 1).
            remove_seen: Never recommend an item the user had in training.
            **kwargs: Model-specific scoring options.

        Returns:
            ``DataFrame[col_user, col_item, col_prediction, col_rank]``: users in
            request order, at most ``top_k`` rows each, by rank 1..k (score
            descending, ties by item index ascending). Unknown users follow the
            model's policy (default: skipped with one :class:`DataWarning`).

        Raises:
            ConfigError: ``top_k`` is not a positive integer.
        """
        self._check_fitted()
        k = check_top_k(top_k)
        requested = _to_user_list(users, self.col_user)
        u = self.user_ids_.get_indexer(requested)
        known_pos = np.flatnonzero(u >= 0)
        unknown_pos = np.flatnonzero(u < 0)
        parts_pos, parts_idx, parts_val = [], [], []
        if known_pos.size:
            uk = u[known_pos].astype(np.int64)
            results = self._map_blocks(
                lambda sl: self._topk_block(uk[sl], k, remove_seen, **kwargs), uk.size, "recommend"
            )
            idx = np.concatenate([r[0] for r in results])
            val = np.concatenate([r[1] for r in results])
            parts_pos.append(np.broadcast_to(known_pos[:, None], idx.shape))
            parts_idx.append(idx)
            parts_val.append(val)
        if unknown_pos.size:
            row = self._unknown_user_scores(**kwargs)
            if row is None:
                warnings.warn(
                    f"{unknown_pos.size} user(s) not seen in training were skipped "
                    f"(e.g. {requested[unknown_pos[:3]].tolist()}).",
                    DataWarning,
                    stacklevel=2,
                )
            else:
                warnings.warn(
                    f"{unknown_pos.size} user(s) not seen in training get "
                    f"{type(self).__name__}'s fallback ranking "
                    f"(e.g. {requested[unknown_pos[:3]].tolist()}).",
                    DataWarning,
                    stacklevel=2,
                )
                idx1, val1 = top_k_per_row(np.array(row, dtype=np.float64)[None, :], k)
                shape = (unknown_pos.size, idx1.shape[1])
                parts_pos.append(np.broadcast_to(unknown_pos[:, None], shape))
                parts_idx.append(np.broadcast_to(idx1, shape))
                parts_val.append(np.broadcast_to(val1, shape))
        return self._ranking_frame(requested, parts_pos, parts_idx, parts_val)

    def _ranking_frame(
        self,
        requested: pd.Index,
        parts_pos: list[np.ndarray],
        parts_idx: list[np.ndarray],
        parts_val: list[np.ndarray],
        user_col: bool = True,
    ) -> pd.DataFrame:
        """Long ranking frame from per-user (position, item index, score) blocks."""
        return ranking_frame(
            requested,
            self.item_ids_,
            parts_pos,
            parts_idx,
            parts_val,
            col_user=self.col_user if user_col else None,
            col_item=self.col_item,
            col_prediction=self.col_prediction,
            col_rank=self.col_rank,
        )

    # ---------------------------------------------------------------- save/load
    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Fitted arrays (numeric, pickle-free) and JSON-able metadata of the subclass."""
        return {}, {}

    def _set_state(self, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        """Restore what :meth:`_state` returned."""

    def save(self, path: str | Path) -> Path:
        """Write the model to the folder ``path`` (created if needed).

        Layout: ``manifest.json`` (format version, recutils version, model name,
        columns, config, fitted metadata) and ``arrays.npz`` (id maps, the training
        matrix, the model's arrays). Nothing is pickled.

        Returns:
            The folder.
        """
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        manifest = persistence.model_manifest(
            self,
            {
                "col_user": self.col_user,
                "col_item": self.col_item,
                "col_rating": self.col_rating,
                "col_timestamp": self.col_timestamp,
                "col_prediction": self.col_prediction,
            },
        )
        arrays: dict[str, np.ndarray] = {}
        if self.is_fitted:
            uid, udt = _ids_to_array(self.user_ids_, "user")
            iid, idt = _ids_to_array(self.item_ids_, "item")
            arrays.update(
                user_ids=uid,
                item_ids=iid,
                seen_indptr=self.seen_.indptr,
                seen_indices=self.seen_.indices,
            )
            model_arrays, meta = self._state()
            clash = set(model_arrays) & set(arrays)
            if clash:
                raise ConfigError(f"state array names {sorted(clash)} are reserved.")
            arrays.update(model_arrays)
            manifest["ids"] = {"user_dtype": udt, "item_dtype": idt}
            manifest["state"] = meta
            manifest["arrays"] = sorted(arrays)
        persistence.write_manifest(folder, manifest)
        if arrays:
            np.savez(folder / ARRAYS, **arrays)
        logger.info("saved %s to %s", type(self).__name__, folder)
        return folder

    @classmethod
    def read_manifest(cls, path: str | Path) -> dict[str, Any]:
        """The manifest of a saved model, checked for format and version.

        Raises:
            ConfigError: not a model folder or a newer format version (an
                :class:`~recutils.models.persistence.ArtifactError`).
        """
        manifest = persistence.read_manifest(path)
        persistence.check_versions(manifest, Path(path), require_artifact=False)
        return manifest

    @classmethod
    def load(cls, path: str | Path, *, trust: bool = False) -> BaseRecommender:
        """Rebuild a model written by :meth:`save` (or an artifact of it).

        Called on :class:`BaseRecommender` itself, the class is found in the
        registry by the manifest's model name; called on a model class, the
        manifest must be for that model. An artifact's checksums are verified (and
        its signature, when a signing key is configured). Every array is checked
        (dtype, shape, index ranges, finiteness) before use. Runs
        :func:`recutils.models.persistence.load_saved`, the one loader.

        Args:
            path: The folder.
            trust: Allow pickled files (refused by default; no registered model's
                ``save`` writes any).

        Raises:
            ConfigError: not a model folder, a newer format version, a manifest for
                another model, or a malformed array (an
                :class:`~recutils.models.persistence.ArtifactError`).
        """
        model, _ = persistence.load_saved(
            path, trust=trust, require_artifact=False, cls=None if cls is BaseRecommender else cls
        )
        return model

    @classmethod
    def _from_saved(cls, folder: Path, manifest: Mapping[str, Any]) -> BaseRecommender:
        """Rebuild from a checked folder and its manifest (the loader's last step).

        A model with files of its own overrides this, calls ``super()._from_saved`` and
        reads them; :meth:`_set_state` receives the arrays and the ``state`` metadata
        and checks its own arrays (:func:`~recutils.models.persistence.check_array`)
        before using them. Here: the id arrays (1-D, numbers or strings, unique) and
        the training matrix (a CSR structure of shape ``n_users x n_items``).

        Raises:
            ArtifactArrayError: a malformed id or training-matrix array.
        """
        model = cls(config=cls.config_class.from_dict(manifest["config"]), **manifest["columns"])
        if manifest.get("fitted"):
            arrays = persistence.read_arrays(folder)
            ids = manifest["ids"]
            for name in ("user_ids", "item_ids"):
                persistence.check_array(arrays, name, persistence.IDS, (None,))
            model.user_ids_ = _ids_from_array(arrays.pop("user_ids"), ids["user_dtype"])
            model.item_ids_ = _ids_from_array(arrays.pop("item_ids"), ids["item_dtype"])
            for name, index in (("user_ids", model.user_ids_), ("item_ids", model.item_ids_)):
                if not index.is_unique:
                    raise persistence.ArtifactArrayError(
                        f"{arrays.source}: array {name!r} holds repeated ids."
                    )
            shape = (len(model.user_ids_), len(model.item_ids_))
            indptr, indices = persistence.check_csr(arrays, "seen_indptr", "seen_indices", shape)
            del arrays["seen_indptr"], arrays["seen_indices"]
            model.seen_ = sp.csr_matrix(
                (np.ones(indices.size, dtype=np.int8), indices, indptr), shape=shape
            )
            model._set_state(arrays, manifest.get("state", {}))
        return model

    # ------------------------------------------------------------- contract
    @classmethod
    def contract_case(cls) -> ContractCase:
        """Parameters and a known answer for :mod:`recutils.testing.contract`."""
        return ContractCase()


__all__ = [
    "ARRAYS",
    "BaseRecommender",
    "ContractCase",
    "FORMAT_VERSION",
    "KnownAnswer",
    "MANIFEST",
    "TrainData",
    "check_top_k",
    "top_k_per_row",
]
