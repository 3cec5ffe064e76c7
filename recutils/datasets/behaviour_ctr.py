"""Click-through samples with user behaviour histories, for DIN / DIEN / BST / SLi-Rec-style models.

A behaviour-sequence click-through model scores a **target** item for a user given the
user's earlier behaviours. Both builders here turn an interaction log (user, item, time,
optionally the item's category and the behaviour type) into such samples: one row per
(target, label) with the history as Python lists, oldest first, which
:class:`recutils.nn.features.FeatureEncoder` reads as ``type: sequence`` features (it keeps
the last ``max_length`` values of a list):

* :func:`history_samples` (DIN on Taobao / Amazon): every behaviour of a user with enough
  history is a positive target; ``n_negatives`` rows with sampled items share its history;
* :func:`leave_last_out_samples` (Microsoft Recommenders' sequential setting, the data of
  its ``sequential_recsys_amazondataset`` notebook made by
  ``recommenders.datasets.amazon_reviews.data_preprocessing``): each user's last behaviour
  is the test target, the one before the validation target, the earlier ones training
  targets; every target comes with sampled negatives (their defaults: 4 for training and
  validation, 9 for test), and a ``group`` column names the user, so gAUC, MRR and NDCG
  are computed per group (:func:`recutils.evaluation.gauc`, ``mrr_at_k``, ``ndcg_at_k``
  with ``col_user="group"``).

Columns of a sample frame: ``col_user``, the target's ``col_item`` and ``col_category``,
its ``col_timestamp``, the history lists ``hist_<col_item>``, ``hist_<col_category>``,
``hist_<col_behavior>`` (see :func:`history_column`), :data:`TIME_GAP_COL` (hours from each
history behaviour to the target, floats >= 0) and :data:`~recutils.constants.DEFAULT_LABEL_COL`
(1 for the observed target, 0 for a sampled one). Each positive row is followed by its
negatives, which hold the **same** list objects as their positive (read them, do not
mutate them in place).

Histories hold behaviours **strictly before** the target: earlier in time with
``strict_time=True`` (behaviours at the same timestamp as the target are left out), or
earlier in the user's time-sorted order with ``strict_time=False`` (ties keep input order,
as Microsoft Recommenders' files do). Everything is seeded and vectorized: one stable sort,
one gather of every history, one ``groupby`` that builds the lists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_LABEL_COL,
    DEFAULT_TIMESTAMP_COL,
    DEFAULT_USER_COL,
    SEED,
)
from recutils.datasets.amazon import DEFAULT_CATEGORY_COL
from recutils.datasets.taobao import DEFAULT_BEHAVIOR_COL
from recutils.evaluation.next_item import draw_negatives
from recutils.exceptions import ConfigError, DataError
from recutils.utils.arrays import factorize, group_order, group_starts
from recutils.utils.validation import (
    check_bool,
    check_choice,
    check_columns,
    check_number,
    check_positive_int,
    check_seed,
)

logger = logging.getLogger(__name__)

#: Prefix of the history list columns (``hist_itemID``, ``hist_category``, ...).
HISTORY_PREFIX = "hist_"
#: History list column: hours between each history behaviour and the target (floats).
TIME_GAP_COL = "hist_time_gap_hours"
#: Column naming the evaluation group (the user) of :func:`leave_last_out_samples`.
GROUP_COL = "group"
#: How negatives are drawn: ``uniform`` over the catalogue, or ``popularity``
#: (proportional to the item's number of rows, as Microsoft Recommenders draws them).
NEGATIVE_SAMPLING = ("uniform", "popularity", "contemporary")
_SECONDS_PER_HOUR = 3600.0


def history_column(col: str) -> str:
    """The name of the history list column of ``col``: ``hist_<col>``."""
    return f"{HISTORY_PREFIX}{col}"


@dataclass(frozen=True)
class _Log:
    """An interaction log sorted by user then time, with each row's history range."""

    frame: pd.DataFrame  # sorted, RangeIndex
    seconds: np.ndarray  # float64 time of each sorted row
    user_codes: np.ndarray  # user code of each sorted row (codes follow the user order)
    from_end: np.ndarray  # 0 for a user's last row, 1 for the one before, ...
    hist_start: np.ndarray  # first history row of each sorted row (after max_len)
    hist_end: np.ndarray  # one past its last history row
    n_earlier: np.ndarray  # history length before the max_len cut


def _seconds(values: pd.Series, col: str) -> np.ndarray:
    """Times as float seconds: unix seconds (numbers) or datetimes."""
    if values.isna().any():
        raise DataError(
            f"column {col!r} has {int(values.isna().sum())} missing timestamp(s); "
            "every behaviour needs its time."
        )
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        values, dtype = values.dt.tz_convert(None), np.dtype("datetime64[ns]")
    if dtype.kind == "M":
        return values.to_numpy(dtype="datetime64[ns]").view(np.int64) / 1e9
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        seconds = values.to_numpy(dtype=np.float64)
        if not np.isfinite(seconds).all():
            raise DataError(f"column {col!r} holds non-finite timestamps.")
        return seconds
    raise DataError(
        f"column {col!r} must hold unix seconds (numbers) or datetimes, got "
        f"{dtype}; convert it first (pd.to_datetime or pd.to_numeric)."
    )


def _prepare(
    df: pd.DataFrame,
    columns: list[str],
    *,
    col_user: str,
    col_item: str,
    col_timestamp: str,
    max_len: int,
    strict_time: bool,
) -> _Log:
    check_columns(df, columns, "df")
    if len(set(columns)) != len(columns):
        raise ConfigError(f"column names must be distinct, got {columns}.")
    if len(df) == 0:
        raise DataError("df has no rows: there is no behaviour to build samples from.")
    if df[col_item].isna().any():
        raise DataError(f"column {col_item!r} has missing values; every behaviour needs an item.")
    seconds = _seconds(df[col_timestamp], col_timestamp)
    codes, n_users = factorize(
        df[col_user],
        sort=True,
        missing=lambda n: (
            f"column {col_user!r} has {n} missing value(s); every behaviour needs a user."
        ),
    )
    order = group_order(codes, n_users, seconds)
    frame = df[columns].iloc[order].reset_index(drop=True)
    codes, seconds = codes[order], seconds[order]
    rows = np.arange(len(frame), dtype=np.int64)
    user_start = group_starts(codes, n_users)[codes]
    counts = np.bincount(codes, minlength=n_users)
    if strict_time:  # the first row of each run of equal (user, time)
        new_run = np.r_[True, (codes[1:] != codes[:-1]) | (seconds[1:] != seconds[:-1])]
        hist_end = np.maximum.accumulate(np.where(new_run, rows, 0))
    else:
        hist_end = rows
    return _Log(
        frame=frame,
        seconds=seconds,
        user_codes=codes,
        from_end=counts[codes] - 1 - (rows - user_start),
        hist_start=np.maximum(user_start, hist_end - max_len),
        hist_end=hist_end,
        n_earlier=hist_end - user_start,
    )


def _histories(log: _Log, targets: np.ndarray, columns: dict[str, str]) -> pd.DataFrame:
    """History lists of the ``targets`` (sorted row numbers), one gather and one groupby.

    ``columns`` maps a log column to its list column. Every target has at least one
    history row (``min_history >= 1``).
    """
    start, end = log.hist_start[targets], log.hist_end[targets]
    lengths = end - start
    sample = np.repeat(np.arange(len(targets), dtype=np.int64), lengths)
    offsets = np.cumsum(lengths) - lengths
    flat = np.arange(int(lengths.sum()), dtype=np.int64) - offsets[sample] + start[sample]
    # object columns stay object (pandas would turn text into its string dtype, many times
    # slower to cut into lists)
    parts = {
        list_col: pd.Series(
            log.frame[col].to_numpy()[flat],
            copy=False,
            dtype=object if log.frame[col].dtype.kind not in "iufb" else None,
        )
        for col, list_col in columns.items()
    }
    parts[TIME_GAP_COL] = pd.Series(
        (log.seconds[targets][sample] - log.seconds[flat]) / _SECONDS_PER_HOUR
    )
    lists = pd.DataFrame(parts).groupby(sample, sort=True).agg(list)
    return lists.reset_index(drop=True)


def _item_categories(frame: pd.DataFrame, col_item: str, col_category: str) -> pd.Series:
    """Each item's category: its most frequent one (ties: the smallest), indexed by item."""
    pairs = frame.groupby([col_item, col_category], sort=True, observed=True).size()
    pairs = pairs.reset_index(name="n").sort_values("n", ascending=False, kind="stable")
    return pairs.drop_duplicates(col_item).set_index(col_item)[col_category]


@dataclass(frozen=True)
class _Catalogue:
    """The items negatives are drawn from, with their popularity and category."""

    items: np.ndarray  # sorted distinct items
    popularity: np.ndarray  # rows per item
    categories: np.ndarray | None  # category per item
    times: np.ndarray | None = None  # every behaviour's seconds, sorted ("contemporary")
    time_items: np.ndarray | None = None  # the catalogue position of each of those behaviours

    @classmethod
    def of(cls, frame: pd.DataFrame, col_item: str, col_category: str | None) -> _Catalogue:
        counts = frame[col_item].value_counts(sort=False).sort_index()
        categories = None
        if col_category is not None:
            by_item = _item_categories(frame, col_item, col_category)
            categories = by_item.reindex(counts.index).to_numpy()
        return cls(counts.index.to_numpy(), counts.to_numpy(dtype=np.float64), categories)

    def restricted(self, items: pd.Series) -> _Catalogue:
        """The catalogue of the behaviours whose items are ``items`` (popularity counted there),
        each item keeping its category."""
        counts = items.value_counts(sort=False).sort_index()
        keep = counts.index.to_numpy()
        categories = None
        if self.categories is not None:
            categories = self.categories[np.searchsorted(self.items, keep)]
        return _Catalogue(keep, counts.to_numpy(dtype=np.float64), categories)


def _draw_contemporary(
    catalogue: _Catalogue,
    target_pos: np.ndarray,
    seconds: np.ndarray,
    n_negatives: int,
    window: float,
    seed: int,
) -> np.ndarray:
    """``[n, n_negatives]`` catalogue positions: items of behaviours in the ``window`` seconds
    up to each target's time (so in proportion to their popularity then), never the target,
    distinct per row; rows whose window holds too few other items draw among every
    behaviour up to the target's time, and the log's first targets, with too few items
    before them at all, over the whole catalogue in proportion to popularity. Otherwise
    never an item of a later behaviour: a negative drawn from the future puts the items of
    a later (test) period into the training rows, each with label 0, so that a model
    learns them as negatives before they appear as the test period's positives."""
    rng = np.random.default_rng([seed, 1])
    times, time_items = catalogue.times, catalogue.time_items
    hi = np.searchsorted(times, seconds, side="right")  # behaviours at or before the target
    lo = np.searchsorted(times, seconds - window, side="left")
    out = np.full((len(target_pos), n_negatives), -1, dtype=np.int64)
    p = catalogue.popularity / catalogue.popularity.sum()
    for col in range(n_negatives):
        todo = np.arange(len(target_pos))
        for attempt in range(60):
            if not todo.size:
                break
            if attempt < 40:  # within the window, then (too few other items) the whole past
                start = lo[todo] if attempt < 20 else np.zeros(todo.size, dtype=np.int64)
                span = hi[todo] - start
                cand = time_items[start + (rng.random(todo.size) * span).astype(np.int64)]
            else:  # the log's first targets: too few items before them at all
                if attempt == 40:
                    logger.info(
                        "contemporary negatives: %d target(s) with too few earlier items "
                        "drawn over the whole catalogue",
                        todo.size,
                    )
                cand = rng.choice(len(catalogue.items), size=todo.size, p=p)
            bad = (cand == target_pos[todo]) | (out[todo, :col] == cand[:, None]).any(axis=1)
            out[todo[~bad], col] = cand[~bad]
            todo = todo[bad]
        if todo.size:
            raise DataError(
                f"could not draw {n_negatives} distinct negatives for {todo.size} target(s)."
            )
    return out


def _with_negatives(
    positives: pd.DataFrame,
    catalogue: _Catalogue,
    n_negatives: int,
    method: str,
    seed: int,
    *,
    col_item: str,
    col_category: str | None,
    col_label: str,
    seconds: np.ndarray | None = None,
    window: float = 0.0,
) -> pd.DataFrame:
    """Each positive row followed by ``n_negatives`` rows with distinct sampled items
    (never its own item), the same other columns and label 0."""
    out_of = np.repeat(np.arange(len(positives)), n_negatives + 1)
    slot = np.tile(np.arange(n_negatives + 1), len(positives))
    out = positives.iloc[out_of].reset_index(drop=True)
    out[col_label] = (slot == 0).astype(np.int64)
    if n_negatives == 0 or len(positives) == 0:
        return out
    n_items = len(catalogue.items)
    if n_items <= n_negatives:
        raise DataError(
            f"the catalogue has {n_items} item(s): too few to draw {n_negatives} "
            "negative(s) other than the target."
        )
    target_pos = np.searchsorted(catalogue.items, positives[col_item].to_numpy())
    if method == "contemporary":
        drawn = _draw_contemporary(catalogue, target_pos, seconds, n_negatives, window, seed)  # type: ignore[arg-type]
    else:
        exclude = sp.csr_matrix(
            (np.ones(len(positives), dtype=bool), (np.arange(len(positives)), target_pos)),
            shape=(len(positives), n_items),
        )
        drawn = draw_negatives(
            n_items, exclude, n_negatives, method, catalogue.popularity, seed=seed
        ).items
    neg_rows = slot > 0
    neg_pos = drawn[out_of[neg_rows], slot[neg_rows] - 1]
    items = out[col_item].to_numpy().copy()
    items[neg_rows] = catalogue.items[neg_pos]
    out[col_item] = items
    if col_category is not None:
        categories = out[col_category].to_numpy().copy()
        categories[neg_rows] = catalogue.categories[neg_pos]
        out[col_category] = categories
    return out


def _check_params(
    max_len: object, min_history: object, strict_time: object, seed: object, negatives: object
) -> None:
    check_positive_int("max_len", max_len, 1)
    check_positive_int("min_history", min_history, 1)
    check_bool("strict_time", strict_time)
    if check_seed(seed) is None:
        raise ConfigError("seed must be an integer >= 0: the samples must be reproducible.")
    check_choice("negative_sampling", negatives, NEGATIVE_SAMPLING)


def _targets(log: _Log, min_history: int, what: str) -> np.ndarray:
    """Sorted rows with at least ``min_history`` earlier behaviours; logs the users left out."""
    targets = np.flatnonzero(log.n_earlier >= min_history)
    n_users = int(log.user_codes.max()) + 1  # codes of sorted distinct users: all present
    kept = np.bincount(log.user_codes[targets], minlength=n_users)
    skipped = n_users - int(np.count_nonzero(kept))
    if skipped:
        logger.info(
            "%s: skipped %d user(s) with no behaviour after %d earlier one(s)",
            what,
            skipped,
            min_history,
        )
    return targets


def _samples(
    log: _Log,
    targets: np.ndarray,
    catalogue: _Catalogue,
    n_negatives: int,
    method: str,
    seed: int,
    *,
    col_user: str,
    col_item: str,
    col_category: str | None,
    col_behavior: str | None,
    col_timestamp: str,
    col_label: str,
    window: float = 0.0,
) -> pd.DataFrame:
    """Positive rows of ``targets`` with their histories, then the negatives."""
    listed = [c for c in (col_item, col_category, col_behavior) if c is not None]
    lists = _histories(log, targets, {c: history_column(c) for c in listed})
    head = [c for c in (col_user, col_item, col_category, col_timestamp) if c is not None]
    positives = pd.concat([log.frame[head].iloc[targets].reset_index(drop=True), lists], axis=1)
    if method == "contemporary":
        order = np.argsort(log.seconds, kind="stable")
        catalogue = replace(
            catalogue,
            times=log.seconds[order],
            time_items=np.searchsorted(catalogue.items, log.frame[col_item].to_numpy()[order]),
        )
    return _with_negatives(
        positives,
        catalogue,
        n_negatives,
        method,
        seed,
        col_item=col_item,
        col_category=col_category,
        col_label=col_label,
        seconds=log.seconds[targets],
        window=window,
    )


def history_samples(
    df: pd.DataFrame,
    *,
    max_len: int = 50,
    n_negatives: int = 1,
    seed: int = SEED,
    min_history: int = 1,
    negative_sampling: str = "uniform",
    negative_window_hours: float = 24.0,
    strict_time: bool = True,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_category: str | None = DEFAULT_CATEGORY_COL,
    col_behavior: str | None = DEFAULT_BEHAVIOR_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    col_label: str = DEFAULT_LABEL_COL,
) -> pd.DataFrame:
    """Click-through samples: every behaviour with a history, plus sampled negatives.

    For each behaviour of a user that has at least ``min_history`` earlier behaviours
    (by default: from the user's second one), a positive row holds the target item, its
    category, its time and the lists of the at most ``max_len`` latest earlier behaviours
    (items, categories, behaviour types, hours to the target), oldest first; then
    ``n_negatives`` rows hold distinct items drawn from the catalogue (every item of ``df``)
    other than the target, each with its category (the item's most frequent category in
    ``df``) and the same history, with label 0.

    Args:
        df: Behaviours: one row each, with user, item, time (unix seconds or datetimes)
            and, where named, category and behaviour type.
        max_len: Keep at most this many latest history behaviours, >= 1.
        n_negatives: Negatives per positive, >= 0.
        seed: Seed of the negative draw.
        min_history: Earlier behaviours a target needs, >= 1. Users with no such
            behaviour (one behaviour with the default) give no sample; their count is logged.
        negative_sampling: ``"uniform"`` over the catalogue, ``"popularity"`` (proportional
            to the item's rows), or ``"contemporary"``: the item of a behaviour drawn at random
            among all behaviours in the ``negative_window_hours`` up to the target's time
            (popularity at that time; the log's first targets, with too few earlier items,
            draw over the whole catalogue). With a split by time, use ``"contemporary"``:
            ``"uniform"`` and ``"popularity"`` draw over the whole log, so the training rows
            hold the later (test) period's items as negatives, and a model that learns
            those items as label 0 ranks the test period's positives, often new items,
            *below* its negatives (AUC under 0.5 on Taobao's last day). For the same reason
            the contemporary window looks back only: a window centred on the target also
            put the test day's items into the last training day's negatives.
        negative_window_hours: Length of the ``"contemporary"`` window before the target, > 0.
        strict_time: Histories hold behaviours strictly earlier in time (behaviours at the
            target's timestamp are left out); ``False``: earlier in the user's sorted order.
        col_user, col_item, col_timestamp: Input columns.
        col_category, col_behavior: Input columns, or ``None`` when the data has none (no
            target category / history list of it).
        col_label: Output label column.

    Returns:
        The sample frame described in the module docstring, positives in user then time
        order, each followed by its negatives, with a fresh ``RangeIndex``.

    Raises:
        ColumnMismatchError: a named column is missing.
        ConfigError: a bad parameter or clashing column names.
        DataError: no rows, missing users/items/times, times that are neither numbers nor
            datetimes, or too few items to draw the negatives from.
    """
    _check_params(max_len, min_history, strict_time, seed, negative_sampling)
    n_negatives = check_positive_int("n_negatives", n_negatives, 0)
    columns = [
        c for c in (col_user, col_item, col_category, col_behavior, col_timestamp) if c is not None
    ]
    if col_label in columns:
        raise ConfigError(f"col_label {col_label!r} clashes with an input column.")
    log = _prepare(
        df,
        columns,
        col_user=col_user,
        col_item=col_item,
        col_timestamp=col_timestamp,
        max_len=max_len,
        strict_time=strict_time,
    )
    targets = _targets(log, min_history, "history_samples")
    catalogue = _Catalogue.of(log.frame, col_item, col_category)
    window = (
        check_number("negative_window_hours", negative_window_hours, strict=True)
        * _SECONDS_PER_HOUR
    )
    out = _samples(
        log,
        targets,
        catalogue,
        n_negatives,
        negative_sampling,
        seed,
        col_user=col_user,
        col_item=col_item,
        col_category=col_category,
        col_behavior=col_behavior,
        col_timestamp=col_timestamp,
        col_label=col_label,
        window=window,
    )
    logger.info("history_samples: %d positives, %d rows", len(targets), len(out))
    return out


def _sample_items(
    frame: pd.DataFrame, col_item: str, sample_rate: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Microsoft Recommenders' ``sample_rate``: keep the rows of ``int(n_items * sample_rate)``
    distinct items drawn without replacement with probability proportional to their rows."""
    counts = frame[col_item].value_counts(sort=False).sort_index()
    n_keep = int(len(counts) * sample_rate)
    if n_keep == 0:
        raise DataError(f"sample_rate={sample_rate} keeps no item of {len(counts)}.")
    keep = rng.choice(
        counts.index.to_numpy(), size=n_keep, replace=False, p=counts.to_numpy() / counts.sum()
    )
    return frame[frame[col_item].isin(keep)]


def leave_last_out_samples(
    df: pd.DataFrame,
    *,
    max_len: int = 50,
    n_train_negatives: int = 4,
    n_valid_negatives: int = 4,
    n_test_negatives: int = 9,
    sample_rate: float = 1.0,
    seed: int = SEED,
    min_history: int = 1,
    negative_sampling: str = "popularity",
    strict_time: bool = False,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_category: str | None = DEFAULT_CATEGORY_COL,
    col_behavior: str | None = None,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    col_label: str = DEFAULT_LABEL_COL,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Microsoft Recommenders' sequential setting: last behaviour for test, the one before
    for validation, the earlier ones for training, each with sampled negatives.

    The rules of ``recommenders.datasets.amazon_reviews.data_preprocessing`` (with
    ``is_history_expanding=True``), re-implemented vectorized:

    * with ``sample_rate < 1``, only the rows of ``int(n_items * sample_rate)`` items are
      kept, the items drawn without replacement in proportion to their rows;
    * each user's behaviours are sorted by time (ties keep input order); position ``-1`` is
      the test target, ``-2`` the validation target, earlier positions training targets;
    * a target needs ``min_history`` earlier behaviours (theirs: 1), so the first behaviour
      of a user is never a target, and a user with two behaviours gives only a test target;
      the history is every earlier behaviour (training, then validation ones), cut to the
      latest ``max_len``;
    * each target is followed by distinct negatives that are not the target, drawn in
      proportion to item popularity (``negative_sampling="popularity"``; their items may
      be in the user's history, as in theirs): ``n_valid_negatives`` (4) for validation,
      ``n_test_negatives`` (9) for test, over every behaviour's item. Their training file
      holds positives only and the model draws ``train_num_ngs=4`` negatives per positive
      from the other positives of each batch; here ``n_train_negatives`` (4; 0 for
      positives only) are drawn once, in proportion to the items' popularity among the
      **training behaviours** (every one but each user's last two). Drawn over the whole
      log, the training negatives would hold the items of the held-out behaviours as
      label-0 rows: a model learns the items users turn to last as negatives and ranks
      the validation and test positives below chance.

    Each frame has a :data:`GROUP_COL` column holding the user: a validation or test group
    is one positive and its negatives (no item twice), so per-group gAUC, MRR@k and NDCG@k
    come from :mod:`recutils.evaluation` with ``col_user="group"``.

    Args:
        df: Behaviours: user, item, time (unix seconds or datetimes), and where named the
            item's category and the behaviour type.
        max_len: Keep at most this many latest history behaviours, >= 1.
        n_train_negatives, n_valid_negatives, n_test_negatives: Negatives per positive, >= 0.
        sample_rate: Fraction of the items to keep, in ``(0, 1]``.
        seed: Seed of the item sampling and of the negative draws (one stream each).
        min_history: Earlier behaviours a target needs, >= 1; users with none are skipped
            (their count is logged).
        negative_sampling: ``"popularity"`` (theirs) or ``"uniform"``.
        strict_time: ``True`` leaves behaviours at the target's timestamp out of its history;
            ``False`` (theirs) takes every behaviour earlier in the sorted order.
        col_user, col_item, col_category, col_behavior, col_timestamp, col_label: As in
            :func:`history_samples` (no behaviour column by default: Amazon reviews have none).

    Returns:
        ``(train, valid, test)`` sample frames (module docstring) with :data:`GROUP_COL`,
        positives in user then time order, each followed by its negatives.

    Raises:
        ColumnMismatchError, ConfigError, DataError: as :func:`history_samples`.
    """
    _check_params(max_len, min_history, strict_time, seed, negative_sampling)
    if negative_sampling == "contemporary":
        raise ConfigError(
            "negative_sampling='contemporary' belongs to history_samples; Microsoft's setting "
            "draws by 'popularity' (or 'uniform')."
        )
    n_negatives = [
        check_positive_int(name, value, 0)
        for name, value in (
            ("n_train_negatives", n_train_negatives),
            ("n_valid_negatives", n_valid_negatives),
            ("n_test_negatives", n_test_negatives),
        )
    ]
    sample_rate = check_number("sample_rate", sample_rate, 0.0, strict=True, maximum=1.0)
    columns = [
        c for c in (col_user, col_item, col_category, col_behavior, col_timestamp) if c is not None
    ]
    if col_label in columns or GROUP_COL in columns:
        raise ConfigError(f"col_label {col_label!r} and {GROUP_COL!r} must not be input columns.")
    check_columns(df, columns, "df")
    streams = np.random.default_rng(seed).integers(0, 2**31, size=4)
    if sample_rate < 1.0:
        df = _sample_items(df, col_item, sample_rate, np.random.default_rng(streams[0]))
    log = _prepare(
        df,
        columns,
        col_user=col_user,
        col_item=col_item,
        col_timestamp=col_timestamp,
        max_len=max_len,
        strict_time=strict_time,
    )
    targets = _targets(log, min_history, "leave_last_out_samples")
    catalogue = _Catalogue.of(log.frame, col_item, col_category)
    # training negatives come from the training behaviours only (Microsoft's model draws them
    # from the other positives of its training batch); drawn over the whole log, they hold the
    # items of the held-out last behaviours as label-0 rows, so that a model learns the items
    # that users turn to last as negatives and ranks the test positives below chance
    training = catalogue.restricted(log.frame[col_item][log.from_end >= 2])
    split_of = np.minimum(log.from_end[targets], 2)  # 0: test, 1: valid, 2: train
    frames = []
    for split, n_neg, stream in zip((2, 1, 0), n_negatives, streams[1:]):  # three splits
        out = _samples(
            log,
            targets[split_of == split],
            training if split == 2 else catalogue,
            n_neg,
            negative_sampling,
            int(stream),
            col_user=col_user,
            col_item=col_item,
            col_category=col_category,
            col_behavior=col_behavior,
            col_timestamp=col_timestamp,
            col_label=col_label,
        )
        out.insert(0, GROUP_COL, out[col_user].to_numpy())
        frames.append(out)
    logger.info("leave_last_out_samples: %s rows (train, valid, test)", [len(f) for f in frames])
    return frames[0], frames[1], frames[2]


__all__ = [
    "GROUP_COL",
    "HISTORY_PREFIX",
    "NEGATIVE_SAMPLING",
    "TIME_GAP_COL",
    "history_column",
    "history_samples",
    "leave_last_out_samples",
]
