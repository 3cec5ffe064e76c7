"""A constructed entire-space click + conversion task on MovieLens ids, with known truth.

ESMM (Ma et al., SIGIR 2018) is built for the *sample-selection bias* of conversion-rate
(CVR) models: a CVR model is trained on clicked impressions only, but is used at serving
time on every impression, and the clicked population is not the whole one. On logged data
this bias cannot be measured, because the conversion probability of an impression that was
not clicked is never observed. Here it is known for every impression by construction, so a
CVR estimate can be scored over the entire impression space.

The generator (:func:`entire_space_impressions`), on MovieLens ids (default ``100k``: 943
users, 1682 items, with their real side features):

1. **Latent factors fitted on the real ratings.** ``W``: the user x item matrix with 1 where
   the user rated the item (what people watch); ``S``: the ratings minus each user's mean
   rating where rated, 0 elsewhere (what they liked). Each is replaced by its rank
   ``n_factors`` truncated SVD (deterministic; it does not depend on the signs of the
   singular vectors) and then by normal scores (each entry's rank among all user-item pairs
   mapped to the standard normal quantile, so that a few extreme pairs do not dominate):
   ``w`` and ``s``, standardised over all pairs. The part of ``s`` along ``w`` (least
   squares) is removed and ``s`` standardised again, so the two are uncorrelated over all
   pairs.
2. **True propensities.** ``logit p_ctr(u, i) = a + click_scale * w`` and
   ``logit p_cvr(u, i) = b + shared_scale * w + own_scale * s``: conversion shares the click
   factor (so the two are correlated, and clicked impressions convert more often than the
   average impression) but has a factor of its own (so they are different). The intercepts
   ``a`` and ``b`` are solved so that the exposure-weighted means of ``p_ctr`` and ``p_cvr``
   over all pairs are ``click_rate`` and ``conversion_rate``. ``p_cvr`` is
   ``p(conversion | impression, click)``: defined, and known, for every impression, clicked
   or not. Over all pairs the two logits correlate ``shared_scale / sqrt(shared_scale**2 +
   own_scale**2)`` (0.71 by default). With the defaults on ``100k`` a clicked impression's
   mean ``p_cvr`` is about 0.43 against 0.20 over all impressions: the clicked population is
   not the whole one.
3. **Impressions** (seeded, ``np.random.default_rng(seed)``): users are drawn with
   probability proportional to their number of ratings, items (independently) proportional
   to their number of ratings to the power ``item_exposure_power``; a pair may be shown more
   than once. Then ``click ~ Bernoulli(p_ctr)`` and, only after a click,
   ``conversion ~ Bernoulli(p_cvr)``; an impression without a click has ``conversion = 0``.

Steps 1 and 2 do not depend on ``seed``: every seed draws from the same world
(:func:`entire_space_world`). The models see ids and side features, never ``w`` or ``s``.

Columns of the returned frame: ``userID``, ``itemID``, ``click``, ``conversion`` (int8 0/1),
``true_ctr``, ``true_cvr`` (float64, the probabilities the draws used), and the side
features ``age`` (bucket), ``gender``, ``occupation``, ``genres`` (``'|'``-joined) and
``year`` (decade) of :mod:`recutils.datasets.movielens_features`.

Pandas, numpy and scipy only; the MovieLens files are read through
:func:`recutils.datasets.movielens.load_pandas_df` (``RECUTILS_DATA_MIRROR`` and the cache
apply; ``size="mock<N>"`` builds the same task on synthetic ids without touching disk).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import eigh
from scipy.optimize import brentq
from scipy.special import expit, ndtri
from scipy.stats import rankdata

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_RATING_COL, DEFAULT_USER_COL
from recutils.exceptions import ConfigError, DataError
from recutils.utils.validation import (
    check_number,
    check_positive_int,
    check_probability,
    check_seed,
)

logger = logging.getLogger(__name__)

#: Label columns.
CLICK_COL = "click"
CONVERSION_COL = "conversion"
#: The true probabilities of each impression.
TRUE_CTR_COL = "true_ctr"
TRUE_CVR_COL = "true_cvr"
#: Side features joined to each impression.
USER_FEATURES: tuple[str, ...] = ("age", "gender", "occupation")
ITEM_FEATURES: tuple[str, ...] = ("genres", "year")


@dataclass(frozen=True)
class EntireSpaceWorld:
    """The true click and conversion propensities of every user-item pair.

    Attributes:
        users: ``[col_user]`` + :data:`USER_FEATURES`, one row per user (row ``k`` is user code ``k``).
        items: ``[col_item]`` + :data:`ITEM_FEATURES`, one row per item.
        ctr_logit: ``[users, items]`` logits of ``p(click | impression)``.
        cvr_logit: ``[users, items]`` logits of ``p(conversion | impression, click)``.
        user_exposure: Probability of each user being drawn for an impression (sums to 1).
        item_exposure: Probability of each item being drawn (sums to 1).
    """

    users: pd.DataFrame
    items: pd.DataFrame
    ctr_logit: np.ndarray
    cvr_logit: np.ndarray
    user_exposure: np.ndarray
    item_exposure: np.ndarray

    def true_ctr(self, user_code: np.ndarray, item_code: np.ndarray) -> np.ndarray:
        """``p(click | impression)`` of pairs given as user and item codes (row numbers)."""
        return expit(self.ctr_logit[user_code, item_code])

    def true_cvr(self, user_code: np.ndarray, item_code: np.ndarray) -> np.ndarray:
        """``p(conversion | impression, click)`` of pairs given as user and item codes."""
        return expit(self.cvr_logit[user_code, item_code])

    def expected(self, logit: np.ndarray) -> float:
        """The exposure-weighted mean of ``sigmoid(logit)`` over all pairs."""
        return float(self.user_exposure @ expit(logit) @ self.item_exposure)


def _normal_scores_of_low_rank(matrix: np.ndarray, n_factors: int) -> np.ndarray:
    """The rank-``n_factors`` truncated SVD of ``matrix`` (rows projected on the top
    ``n_factors`` left singular vectors, from the eigenvectors of ``matrix @ matrix.T``), as
    normal scores: each entry replaced by the standard normal quantile of its rank among all
    entries (ties share the mean rank)."""
    n = matrix.shape[0]
    _, top = eigh(matrix @ matrix.T, subset_by_index=[n - n_factors, n - 1])
    low = top @ (top.T @ matrix)
    flat = low.ravel()
    if np.ptp(flat) <= 1e-12 * max(1.0, float(np.abs(flat).max())):
        raise DataError(
            f"the rank-{n_factors} fit of the ratings is constant; the ratings are too few "
            "to build the task."
        )
    ranks = rankdata(flat)
    return ndtri(ranks / (flat.size + 1)).reshape(low.shape)


def _intercept(offsets: np.ndarray, target: float, user_w: np.ndarray, item_w: np.ndarray) -> float:
    """The intercept ``c`` with exposure-weighted mean ``sigmoid(c + offsets)`` equal to ``target``."""

    def gap(c: float) -> float:
        return float(user_w @ expit(c + offsets) @ item_w) - target

    return float(brentq(gap, -40.0, 40.0, xtol=1e-12))


def entire_space_world(
    size: str = "100k",
    *,
    n_factors: int = 8,
    click_rate: float = 0.1,
    conversion_rate: float = 0.2,
    click_scale: float = 1.5,
    shared_scale: float = 1.0,
    own_scale: float = 1.0,
    item_exposure_power: float = 0.5,
    local_cache_path: str | os.PathLike | None = None,
    progress: bool = False,
) -> EntireSpaceWorld:
    """The true propensities of the task (steps 1 and 2 of the module docstring).

    Args:
        size: A MovieLens size with a user file (``"100k"``, ``"1m"``) or ``"mock<N>"``.
        n_factors: Rank of the two latent-factor fits.
        click_rate: Exposure-weighted mean ``p_ctr``, in (0, 1).
        conversion_rate: Exposure-weighted mean ``p_cvr`` (conversion given a click), in (0, 1).
        click_scale: Weight of the click factor in the click logit (>= 0).
        shared_scale: Weight of the click factor in the conversion logit (>= 0): the
            larger, the more the clicked population over-represents high ``p_cvr``.
        own_scale: Weight of the conversion's own factor (>= 0).
        item_exposure_power: Items are shown in proportion to ``n_ratings ** power`` (>= 0).
        local_cache_path, progress: Passed to the MovieLens loaders.

    Raises:
        ConfigError: a parameter out of range.
        DataError: too few ratings for ``n_factors``.
    """
    from recutils.datasets import movielens
    from recutils.datasets.movielens_features import (
        movielens_item_features,
        movielens_user_features,
    )

    check_positive_int("n_factors", n_factors)
    for name, value in (("click_rate", click_rate), ("conversion_rate", conversion_rate)):
        check_probability(name, value)
        if value in (0.0, 1.0):
            raise ConfigError(f"{name} must be strictly between 0 and 1, got {value!r}.")
    for name, value in (
        ("click_scale", click_scale),
        ("shared_scale", shared_scale),
        ("own_scale", own_scale),
        ("item_exposure_power", item_exposure_power),
    ):
        check_number(name, value)

    ratings = movielens.load_pandas_df(size, local_cache_path=local_cache_path, progress=progress)
    users = movielens_user_features(
        movielens.load_user_df(size, local_cache_path=local_cache_path, progress=progress)
    )
    items = movielens_item_features(
        movielens.load_item_df(size, local_cache_path=local_cache_path, progress=progress)
    )
    user_ids = np.sort(ratings[DEFAULT_USER_COL].unique())
    item_ids = np.sort(ratings[DEFAULT_ITEM_COL].unique())
    if n_factors >= min(len(user_ids), len(item_ids)):
        raise DataError(
            f"n_factors={n_factors} needs more than {n_factors} users and items with ratings; "
            f"MovieLens {size} has {len(user_ids)} users and {len(item_ids)} items."
        )
    u = np.searchsorted(user_ids, ratings[DEFAULT_USER_COL].to_numpy())
    i = np.searchsorted(item_ids, ratings[DEFAULT_ITEM_COL].to_numpy())
    rating = ratings[DEFAULT_RATING_COL].to_numpy(dtype=np.float64)
    watched = np.zeros((len(user_ids), len(item_ids)))
    watched[u, i] = 1.0
    n_user = np.bincount(u, minlength=len(user_ids)).astype(np.float64)
    user_mean = np.bincount(u, weights=rating, minlength=len(user_ids)) / n_user
    liked = np.zeros_like(watched)
    liked[u, i] = rating - user_mean[u]  # a repeated pair keeps its last rating

    w = _normal_scores_of_low_rank(watched, n_factors)
    s = _normal_scores_of_low_rank(liked, n_factors)
    w = (w - w.mean()) / w.std()
    s = s - s.mean()
    s = s - (s * w).mean() * w  # remove the least-squares part along w
    s /= s.std()

    user_w = n_user / n_user.sum()
    item_count = np.bincount(i, minlength=len(item_ids)).astype(np.float64)
    item_w = item_count**item_exposure_power
    item_w /= item_w.sum()
    ctr_offsets = click_scale * w
    cvr_offsets = shared_scale * w + own_scale * s
    ctr_logit = _intercept(ctr_offsets, click_rate, user_w, item_w) + ctr_offsets
    cvr_logit = _intercept(cvr_offsets, conversion_rate, user_w, item_w) + cvr_offsets

    users = _one_row_each(users, DEFAULT_USER_COL, user_ids, USER_FEATURES, "user")
    items = _one_row_each(items, DEFAULT_ITEM_COL, item_ids, ITEM_FEATURES, "item")
    logger.info(
        "entire-space world on MovieLens %s: %d users, %d items", size, len(user_ids), len(item_ids)
    )
    return EntireSpaceWorld(users, items, ctr_logit, cvr_logit, user_w, item_w)


def _one_row_each(
    table: pd.DataFrame, col: str, ids: np.ndarray, features: tuple[str, ...], what: str
) -> pd.DataFrame:
    """``table``'s rows of ``ids``, in that order; every id must be there."""
    indexed = table.drop_duplicates(col).set_index(col)
    missing = ids[~np.isin(ids, indexed.index.to_numpy())]
    if missing.size:
        raise DataError(
            f"{missing.size} {what}(s) with ratings have no {what} features, e.g. {missing[:5].tolist()}."
        )
    out = indexed.loc[ids, list(features)].reset_index()
    return out.rename(columns={out.columns[0]: col})


def entire_space_impressions(
    n_impressions: int,
    seed: int,
    *,
    world: EntireSpaceWorld | None = None,
    size: str = "100k",
    local_cache_path: str | os.PathLike | None = None,
    progress: bool = False,
    **world_params: float,
) -> pd.DataFrame:
    """Draw impressions with clicks, conversions and their true probabilities.

    Args:
        n_impressions: Number of impressions (rows).
        seed: Seed of the draws (users, items, clicks, conversions, in that order).
        world: The true propensities (:func:`entire_space_world`); default: built from
            ``size`` and ``world_params`` (pass one ``world`` to draw several seeds
            without rebuilding it).
        size, local_cache_path, progress: See :func:`entire_space_world`.
        **world_params: Other parameters of :func:`entire_space_world`
            (``click_rate``, ``shared_scale``, ...); only without ``world``.

    Returns:
        One row per impression, in draw order (columns: see the module docstring).

    Raises:
        ConfigError: a bad ``n_impressions`` or ``seed``, or ``world_params`` given with ``world``.
    """
    check_positive_int("n_impressions", n_impressions)
    if check_seed(seed) is None:
        raise ConfigError("seed must be an integer, got None.")
    if world is None:
        world = entire_space_world(
            size, local_cache_path=local_cache_path, progress=progress, **world_params
        )
    elif world_params:
        raise ConfigError(
            f"world parameters {sorted(world_params)} have no effect with a given world; "
            "pass them to entire_space_world instead."
        )
    rng = np.random.default_rng(seed)
    u = rng.choice(len(world.user_exposure), size=n_impressions, p=world.user_exposure)
    i = rng.choice(len(world.item_exposure), size=n_impressions, p=world.item_exposure)
    true_ctr = world.true_ctr(u, i)
    true_cvr = world.true_cvr(u, i)
    click = rng.random(n_impressions) < true_ctr
    conversion = click & (rng.random(n_impressions) < true_cvr)
    user_side = world.users.iloc[u].reset_index(drop=True)
    item_side = world.items.iloc[i].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            DEFAULT_USER_COL: user_side[DEFAULT_USER_COL].to_numpy(),
            DEFAULT_ITEM_COL: item_side[DEFAULT_ITEM_COL].to_numpy(),
            CLICK_COL: click.astype(np.int8),
            CONVERSION_COL: conversion.astype(np.int8),
            TRUE_CTR_COL: true_ctr,
            TRUE_CVR_COL: true_cvr,
        }
    )
    for col in USER_FEATURES:
        frame[col] = user_side[col].to_numpy()
    for col in ITEM_FEATURES:
        frame[col] = item_side[col].to_numpy()
    return frame


__all__ = [
    "CLICK_COL",
    "CONVERSION_COL",
    "EntireSpaceWorld",
    "ITEM_FEATURES",
    "TRUE_CTR_COL",
    "TRUE_CVR_COL",
    "USER_FEATURES",
    "entire_space_impressions",
    "entire_space_world",
]
