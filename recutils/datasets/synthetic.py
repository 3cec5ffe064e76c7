"""Synthetic, MovieLens-like interaction logs with structure a model can learn.

**The data made here is synthetic**: random draws from the generative model
below, not real user behaviour. It is meant for fast unit tests, examples and
sanity checks (a model that learns anything should beat popularity on it).

Generative model (all draws from ``np.random.default_rng(seed)``, vectorized):

* ``n_groups`` latent taste groups. Genre ``g`` (of the 18 MovieLens genres)
  belongs to group ``g mod n_groups``.
* Items: a group ``c_i`` uniform over groups; 1-3 genres, the first drawn from
  the group's genres, the others from all genres; a popularity weight
  ``w_i = rank_i ** -popularity_exponent`` for a random permutation of ranks
  (a Zipf-like long tail); a quality ``q_i ~ N(0, 0.4)``; a release year.
* Users: a group ``c_u`` uniform over groups; an activity ``a_u ~ LogNormal(0, 0.8)``;
  a bias ``b_u ~ N(0, 0.3)``; age, gender and occupation (age and occupation
  shifted by group, so side features carry signal too).
* Interactions: user ``u`` drawn with probability proportional to ``a_u``; item
  ``i`` drawn with probability proportional to ``w_i * (affinity if c_i == c_u else 1)``;
  duplicate (user, item) pairs are dropped and redrawn.
* Rating: ``clip(round(3.2 + b_u + q_i + taste + N(0, noise)), 1, 5)`` with
  ``taste = +in_group_bonus`` when ``c_i == c_u`` and ``-out_group_malus`` otherwise.
* Timestamp: each user joins at a uniform time in the first half of the
  ``time_span_days`` window and rates uniformly between joining and the end.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_GENRE_COL,
    DEFAULT_ITEM_COL,
    DEFAULT_RATING_COL,
    DEFAULT_TIMESTAMP_COL,
    DEFAULT_TITLE_COL,
    DEFAULT_USER_COL,
    DEFAULT_YEAR_COL,
    SEED,
)
from recutils.exceptions import ConfigError, DataWarning
from recutils.utils.arrays import in_sorted, join_flags

logger = logging.getLogger(__name__)

GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
OCCUPATIONS: tuple[str, ...] = (
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "librarian",
    "marketing",
    "none",
    "other",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
)
_START_TS = 1_577_836_800  # 2020-01-01T00:00:00Z


@dataclass
class SyntheticData:
    """The three frames of a synthetic data set; unpacks as ``ratings, items, users``.

    Attributes:
        ratings: ``[col_user, col_item, col_rating, col_timestamp]``, one row per
            distinct (user, item), sorted by user then time.
        items: ``[col_item, title, genres ('|'-joined), year, group, popularity]``;
            ``group`` is the latent taste group (ground truth), ``popularity``
            the sampling weight.
        users: ``[col_user, age, gender, occupation, zip_code, group]``.
    """

    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter((self.ratings, self.items, self.users))


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, np.integer)) and value > 0):
            raise ConfigError(f"{name} must be a positive integer, got {value!r}.")


def make_interactions(
    n_users: int = 1000,
    n_items: int = 500,
    n_interactions: int = 20_000,
    n_groups: int = 5,
    *,
    popularity_exponent: float = 1.0,
    affinity: float = 6.0,
    in_group_bonus: float = 0.9,
    out_group_malus: float = 0.6,
    noise: float = 0.6,
    time_span_days: int = 365,
    seed: int | None = SEED,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
) -> SyntheticData:
    """Generate a synthetic MovieLens-like data set (see the module docstring).

    Args:
        n_users, n_items: Sizes of the id spaces; ids run from 1.
        n_interactions: Number of distinct (user, item) ratings. At most half of
            ``n_users * n_items``.
        n_groups: Number of latent taste groups (1..18).
        popularity_exponent: Zipf exponent of item popularity (0 = uniform).
        affinity: How much more likely a user picks an item of their own group.
        in_group_bonus, out_group_malus: Rating shift for in/out-of-group items.
        noise: Standard deviation of the rating noise.
        time_span_days: Length of the time window of the timestamps.
        seed: Seed for ``np.random.default_rng``; same seed, same data.
        col_user, col_item, col_rating, col_timestamp: Output column names.

    Returns:
        A :class:`SyntheticData` (``ratings, items, users = make_interactions(...)``).

    Raises:
        ConfigError: on non-positive sizes, too many groups or a matrix too
            dense to fill with distinct pairs.
    """
    _check_positive(
        n_users=n_users,
        n_items=n_items,
        n_interactions=n_interactions,
        n_groups=n_groups,
        time_span_days=time_span_days,
    )
    if n_groups > len(GENRES):
        raise ConfigError(f"n_groups must be at most {len(GENRES)}, got {n_groups}.")
    if n_interactions > 0.5 * n_users * n_items:
        raise ConfigError(
            f"n_interactions={n_interactions} is more than half of n_users*n_items="
            f"{n_users * n_items}; allowed: at most {n_users * n_items // 2}."
        )
    rng = np.random.default_rng(seed)
    n_genres = len(GENRES)
    genre_group = np.arange(n_genres) % n_groups

    # ---- items
    item_group = rng.integers(0, n_groups, size=n_items)
    ranks = rng.permutation(n_items) + 1
    popularity = ranks.astype(float) ** (-float(popularity_exponent))
    popularity /= popularity.sum()
    quality = rng.normal(0.0, 0.4, size=n_items)
    # first genre: one of the group's genres (genres are laid out round-robin)
    genres_per_group = np.bincount(genre_group, minlength=n_groups)
    pick = (rng.random(n_items) * genres_per_group[item_group]).astype(int)
    first_genre = item_group + n_groups * pick
    n_extra = rng.integers(0, 3, size=n_items)
    extra = rng.integers(0, n_genres, size=(n_items, 2))
    flags = np.zeros((n_items, n_genres), dtype=bool)
    flags[np.arange(n_items), first_genre] = True
    for j in range(2):  # two extra-genre slots, vectorized over items
        rows = np.flatnonzero(n_extra > j)
        flags[rows, extra[rows, j]] = True
    genre_names = np.array(GENRES, dtype=object)
    genre_str = join_flags(flags, genre_names)
    year = rng.integers(1950, 2020, size=n_items)
    item_ids = np.arange(1, n_items + 1)
    titles = (
        "Synthetic Movie "
        + pd.Series(item_ids).astype("str")
        + " ("
        + pd.Series(year).astype("str")
        + ")"
    )
    items = pd.DataFrame(
        {
            col_item: item_ids,
            DEFAULT_TITLE_COL: titles,
            DEFAULT_GENRE_COL: genre_str,
            DEFAULT_YEAR_COL: year,
            "group": item_group,
            "popularity": popularity,
        }
    )

    # ---- users
    user_group = rng.integers(0, n_groups, size=n_users)
    activity = rng.lognormal(0.0, 0.8, size=n_users)
    activity /= activity.sum()
    user_bias = rng.normal(0.0, 0.3, size=n_users)
    age = np.clip(rng.normal(22 + 6 * (user_group % 6), 7, size=n_users), 7, 73).astype(int)
    gender = np.where(rng.random(n_users) < 0.3 + 0.4 * (user_group % 2), "F", "M")
    occ_idx = (user_group * 3 + rng.integers(0, 4, size=n_users)) % len(OCCUPATIONS)
    occupation = np.array(OCCUPATIONS, dtype=object)[occ_idx]
    zip_code = np.char.zfill(rng.integers(0, 100_000, size=n_users).astype(str), 5)
    users = pd.DataFrame(
        {
            col_user: np.arange(1, n_users + 1),
            "age": age,
            "gender": pd.Series(gender, dtype="str"),
            "occupation": pd.Series(occupation, dtype="str"),
            "zip_code": pd.Series(zip_code, dtype="str"),
            "group": user_group,
        }
    )

    # ---- interactions: draw in bulk, drop duplicate pairs, redraw the shortfall
    item_probs = np.tile(popularity, (n_groups, 1))
    item_probs[item_group, np.arange(n_items)] *= affinity
    item_probs /= item_probs.sum(axis=1, keepdims=True)
    item_cdf = np.cumsum(item_probs, axis=1)
    user_cdf = np.cumsum(activity)

    # accepted keys in draw order, and the same keys sorted for the membership test;
    # each round draws only the shortfall and de-duplicates only the new draws
    chunks: list[np.ndarray] = []
    accepted = np.empty(0, dtype=np.int64)
    for _ in range(60):
        short = n_interactions - accepted.size
        if short <= 0:
            break
        n_draw = int(short * 1.5) + 16
        u = np.minimum(
            np.searchsorted(user_cdf, rng.random(n_draw) * user_cdf[-1], side="right"), n_users - 1
        )
        g = user_group[u]
        r = rng.random(n_draw)
        # per-draw inverse CDF lookup in the row of the user's group (vectorized)
        i = np.empty(n_draw, dtype=np.int64)
        order = np.argsort(g, kind="stable")
        bounds = np.searchsorted(g[order], np.arange(n_groups + 1))
        for grp in range(n_groups):  # loop over groups only, never rows
            idx = order[bounds[grp] : bounds[grp + 1]]
            i[idx] = np.searchsorted(item_cdf[grp], r[idx] * item_cdf[grp, -1], side="right")
        i = np.minimum(i, n_items - 1)
        new = u.astype(np.int64) * n_items + i
        uniq, first = np.unique(new, return_index=True)
        fresh = ~in_sorted(accepted, uniq)
        chunks.append(new[np.sort(first[fresh])])  # first draws of new pairs, in draw order
        accepted = np.insert(accepted, np.searchsorted(accepted, uniq[fresh]), uniq[fresh])
    keys = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int64)
    if keys.size < n_interactions:
        warnings.warn(
            f"could only draw {keys.size} distinct pairs of the {n_interactions} asked for; "
            "lower n_interactions or the popularity skew.",
            DataWarning,
            stacklevel=2,
        )
    keys = keys[:n_interactions]
    u = keys // n_items
    i = keys % n_items
    n = keys.size

    same = user_group[u] == item_group[i]
    taste = np.where(same, in_group_bonus, -out_group_malus)
    raw = 3.2 + user_bias[u] + quality[i] + taste + rng.normal(0.0, noise, size=n)
    rating = np.clip(np.rint(raw), 1, 5).astype(np.float64)

    span = int(time_span_days) * 86_400
    join = rng.integers(0, span // 2, size=n_users)
    ts = _START_TS + join[u] + (rng.random(n) * (span - join[u])).astype(np.int64)

    ratings = pd.DataFrame(
        {
            col_user: u + 1,
            col_item: i + 1,
            col_rating: rating,
            col_timestamp: ts.astype(np.int64),
        }
    )
    ratings = ratings.sort_values([col_user, col_timestamp], kind="stable").reset_index(drop=True)
    logger.debug("synthetic data: %d ratings, %d users, %d items", n, n_users, n_items)
    return SyntheticData(ratings=ratings, items=items, users=users)


__all__ = ["GENRES", "OCCUPATIONS", "SyntheticData", "make_interactions"]
