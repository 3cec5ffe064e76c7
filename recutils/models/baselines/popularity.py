"""Non-personalized baselines: most popular (optionally time-decayed) and random.

:class:`Popularity` scores every item by its number of training interactions,

.. math::

    \\mathrm{pop}(i) = \\sum_{(u, i, t) \\in \\text{train}} w(t), \\qquad
    w(t) = \\begin{cases}
        1 & \\text{without decay}\\\\
        \\min\\left(1, 0.5^{(t_{now} - t) / T}\\right) & \\text{with a half-life } T
    \\end{cases}

with ``T = half_life_days`` days and ``t_now = time_now`` or the latest training
timestamp (the decay of :class:`~recutils.models.sar.SAR`). Every user gets the
same ranking, minus the items they have seen.

:class:`RandomRecommender` ranks the catalogue in a seeded, uniformly random
order per user. The score of item ``i`` for user ``u`` is
``1 - pos_u(i) / n_items`` where ``pos_u`` is the item's position (0-based) in a
random permutation of the items drawn for ``u``: scores lie in ``(0, 1]`` and the
top item always scores 1. The permutation is a pure function of the seed and of
the order in which the user and the items first appear in the training rows (a
SplitMix64 hash sorted per user; not of how the ids sort, so renaming ids keeps
the ranking), so ``predict`` and ``recommend_k_items`` agree, calls in any order
give the same result and a saved model reloads identical.

Policies:

* **Ratings** are not used (``needs_rating = False``): the rating column may be
  absent, and NaN ratings are ignored.
* **Duplicate (user, item) rows**: :class:`Popularity` counts every row (a log of
  repeated events counts each event); the pair is "seen" once.
  :class:`RandomRecommender` ignores them.
* **Unknown users**: :class:`Popularity` serves them the popularity ranking
  (nothing to remove) with a :class:`~recutils.exceptions.DataWarning`;
  :class:`RandomRecommender` skips them with a warning. ``predict`` gives NaN for
  unknown users or items (one warning), as every model.
* **Ties** (equal popularity) go to the lower item index (sorted item ids).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from recutils.config import BaseConfig
from recutils.exceptions import ConfigError
from recutils.models import persistence
from recutils.models.base import BaseRecommender, ContractCase, KnownAnswer, TrainData
from recutils.utils.validation import check_number, check_seed

logger = logging.getLogger(__name__)

_SECONDS_PER_DAY = 24 * 60 * 60


@dataclass
class PopularityConfig(BaseConfig):
    """Hyper-parameters of :class:`Popularity`.

    Attributes:
        half_life_days: Half-life of the time decay in days (> 0), or ``None``
            (default) for plain counts. With a half-life, fit needs ``col_timestamp``
            in seconds (or datetimes).
        time_now: Reference time of the decay (seconds); ``None``: the latest
            training timestamp. Events after ``time_now`` weigh 1.
    """

    half_life_days: float | None = None
    time_now: float | None = None

    def __post_init__(self) -> None:
        hl = self.half_life_days
        if hl is not None:
            check_number("half_life_days", hl, strict=True)
        if self.time_now is not None:
            check_number("time_now", self.time_now, minimum=-math.inf)


class Popularity(BaseRecommender):
    """Most-popular items, optionally time-decayed (see the module docstring).

    Args:
        config: A :class:`PopularityConfig`, a mapping or YAML; keyword arguments
            (``half_life_days``, ``time_now``) override it.
        col_user, col_item, col_rating, col_timestamp, col_prediction, progress, n_jobs: see :class:`~recutils.models.base.BaseRecommender`.

    Fitted attributes:
        item_popularity_: float64 ``pop(i)`` per item (training item order).
        time_now_: Reference time of the decay (``None`` without decay).

    Examples:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"userID": [1, 2, 2, 3], "itemID": ["a", "a", "b", "c"]})
        >>> Popularity().fit(df).recommend_k_items([3], top_k=2)["itemID"].tolist()
        ['a', 'b']
    """

    name = "popularity"
    config_class = PopularityConfig
    duplicates = "keep"
    needs_rating = False
    config: PopularityConfig

    @property
    def needs_timestamp(self) -> bool:  # type: ignore[override]
        return self.config.half_life_days is not None

    def _fit(self, data: TrainData) -> None:
        cfg = self.config
        weight = None
        self.time_now_ = None
        if cfg.half_life_days is not None:
            assert data.timestamp is not None  # guaranteed by needs_timestamp
            t_now = float(data.timestamp.max()) if cfg.time_now is None else float(cfg.time_now)
            half_life = float(cfg.half_life_days) * _SECONDS_PER_DAY
            weight = np.minimum(1.0, np.power(0.5, (t_now - data.timestamp) / half_life))
            self.time_now_ = t_now
        self.item_popularity_ = np.bincount(
            data.item_idx, weights=weight, minlength=data.n_items
        ).astype(np.float64)

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        return np.tile(self.item_popularity_, (user_idx.size, 1))

    def _score_pairs(self, user_idx: np.ndarray, item_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        return self.item_popularity_[item_idx].astype(np.float64)

    def _unknown_user_scores(self, **kwargs: Any) -> np.ndarray:
        return self.item_popularity_

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"item_popularity": self.item_popularity_}, {"time_now": self.time_now_}

    def _set_state(self, arrays: Any, meta: Any) -> None:
        persistence.check_array(
            arrays, "item_popularity", persistence.NUMBER, (len(self.item_ids_),)
        )
        self.item_popularity_ = np.asarray(arrays["item_popularity"], dtype=np.float64)
        self.time_now_ = meta.get("time_now")

    @classmethod
    def contract_case(cls) -> ContractCase:
        import pandas as pd

        # counts: a=3, b=2, c=1, d=1 (tie c/d -> lower id first)
        train = pd.DataFrame(
            {
                "userID": [1, 1, 2, 2, 3, 3, 4],
                "itemID": ["a", "b", "a", "c", "a", "b", "d"],
                "rating": [1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0],
                "timestamp": [0, 1, 2, 3, 4, 5, 6],
            }
        )
        return ContractCase(
            known_answer=KnownAnswer(
                train=train,
                users=[1, 4],
                top_k=2,
                remove_seen=True,
                expected={1: ["c", "d"], 4: ["a", "b"]},
                expected_scores={1: [1.0, 1.0], 4: [3.0, 2.0]},
            )
        )


# ----------------------------------------------------------------------- random
@dataclass
class RandomConfig(BaseConfig):
    """Hyper-parameters of :class:`RandomRecommender`.

    Attributes:
        seed: Seed of the per-user permutations (an int >= 0).
    """

    seed: int = 42

    def __post_init__(self) -> None:
        if self.seed is None:
            raise ConfigError("seed must be an integer >= 0, got None.")
        check_seed(self.seed)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser of uint64 values (vectorized; wraps around mod 2**64)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def _first_appearance(codes: np.ndarray, n: int) -> np.ndarray:
    """For each code in ``range(n)``, the rank of its first row among the first rows."""
    first = np.full(n, codes.size, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(codes.size, dtype=np.int64))
    keys = np.empty(n, dtype=np.int64)
    keys[np.argsort(first, kind="stable")] = np.arange(n, dtype=np.int64)
    return keys


class RandomRecommender(BaseRecommender):
    """A seeded, uniformly random ranking per user (see the module docstring).

    Args:
        config: A :class:`RandomConfig`, a mapping or YAML; ``seed=`` overrides it.
        col_user, col_item, col_rating, col_timestamp, col_prediction, progress, n_jobs: see :class:`~recutils.models.base.BaseRecommender`.

    Examples:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"userID": [1, 1, 2], "itemID": [1, 2, 3]})
        >>> rec = RandomRecommender(seed=1).fit(df).recommend_k_items([1, 2], top_k=3)
        >>> rec.groupby("userID").size().tolist()   # 3 items minus the seen ones
        [1, 2]
    """

    name = "random"
    config_class = RandomConfig
    duplicates = "keep"
    needs_rating = False
    config: RandomConfig

    def _fit(self, data: TrainData) -> None:
        # key users and items by order of first appearance in the training rows, so
        # the permutations do not depend on how the ids sort (or on their type)
        self.user_keys_ = _first_appearance(data.user_idx, data.n_users)
        self.item_keys_ = _first_appearance(data.item_idx, data.n_items)

    def _score_users(self, user_idx: np.ndarray, **kwargs: Any) -> np.ndarray:
        n = self.item_keys_.size
        seed_key = splitmix64(np.array([self.config.seed], dtype=np.uint64))[0]
        with np.errstate(over="ignore"):
            ukeys = splitmix64(self.user_keys_[user_idx].astype(np.uint64) ^ seed_key)
            h = splitmix64(ukeys[:, None] ^ self.item_keys_.astype(np.uint64)[None, :])
        order = np.argsort(h, axis=1, kind="stable")
        pos = np.empty(order.shape, dtype=np.float64)
        np.put_along_axis(
            pos, order, np.broadcast_to(np.arange(n, dtype=np.float64), order.shape), axis=1
        )
        return 1.0 - pos / n

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"user_keys": self.user_keys_, "item_keys": self.item_keys_}, {}

    def _set_state(self, arrays: Any, meta: Any) -> None:
        persistence.check_array(arrays, "user_keys", persistence.INTEGER, (len(self.user_ids_),))
        persistence.check_array(arrays, "item_keys", persistence.INTEGER, (len(self.item_ids_),))
        self.user_keys_ = np.asarray(arrays["user_keys"], dtype=np.int64)
        self.item_keys_ = np.asarray(arrays["item_keys"], dtype=np.int64)

    @classmethod
    def contract_case(cls) -> ContractCase:
        return ContractCase(params={"seed": 3}, stochastic=True)


__all__ = ["Popularity", "PopularityConfig", "RandomConfig", "RandomRecommender", "splitmix64"]
