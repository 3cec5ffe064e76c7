"""MovieLens as a news click-through task: item text and knowledge-graph entities.

:func:`movielens_click_task` turns MovieLens ratings into the impression layout of
:func:`recutils.datasets.mind.load_mind`, so the news models (NRMS, DKN, ...) and the
click-through models (DeepFM, ...) train and are scored on the same rows:

* **Items are news.** Each movie's ``title`` is its name without the year followed by its
  genres (``"Toy Story Animation Children's Comedy"``); ``category`` is its first genre and
  ``subcategory`` its whole genre list as one label (``"Animation|Children's|Comedy"``), a
  finer class under the category as MIND's subcategory is (NAML and LSTUR embed both). There
  is no ``abstract``: the genres are already in the title, and an abstract would enter the
  word vocabulary (built from titles and abstracts) and change the title models' inputs.
* **Entities.** With a knowledge graph (``kg``, e.g. :func:`recutils.datasets.kg.load_kg`
  ``("ml-100k")``, the KB4Rec Freebase linkage), a linked movie's entity (its Freebase id)
  is put under every word of its name, so ``title_entities`` is aligned with the words as
  DKN's KCNN expects; genre words get no entity. ``neighbours`` maps each linked entity
  to its KG neighbours (tails of the triples it heads, then heads of the triples it
  tails, in triple order; first ``max_neighbours``): DKN's context.
* **Rows and labels.** One row per rating; ``label`` is 1 when the rating is at least
  ``like_threshold`` (4 of 5), else 0.
* **Histories.** A row's ``history`` holds the user's liked movies rated *strictly
  before* the row's timestamp (ratings in the same second are not history), oldest first,
  the latest ``his_size`` of them, space-separated: nothing the row itself reveals.
* **Split.** Per user, chronologically: the last ``test_fraction`` of each user's ratings
  (at least one when the user has two or more) are the test rows. Test histories include
  earlier test likes, as an online system would know them.
* **Impressions.** A user's training rows are one impression (``impressionID`` = the
  user's number), so the news models draw their non-clicked samples from the movies
  that user rated below the threshold; each test row is scored on its own.

Item ids become strings (the news models read histories as space-separated ids).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recutils.constants import (
    DEFAULT_ITEM_COL,
    DEFAULT_LABEL_COL,
    DEFAULT_RATING_COL,
    DEFAULT_TIMESTAMP_COL,
    DEFAULT_USER_COL,
)
from recutils.datasets.mind import HISTORY_COL, IMPRESSION_COL, tokenize
from recutils.exceptions import ConfigError
from recutils.utils.validation import check_number, check_positive_int


@dataclass
class MovieLensClickTask:
    """The task's frames.

    Attributes:
        train, test: ``impressionID, userID, itemID, label, rating, timestamp, history``.
        news: One row per movie: ``itemID, title, category, subcategory, title_entities``
            (a tuple of entity labels aligned with the title words; empty without a KG).
        neighbours: ``{entity: [neighbour entities]}`` of the linked movies (empty without
            a KG), the layout of DKN's ``kg_neighbours_path``.
        report: Counts: ``n_rows``, ``n_train``, ``n_test``, ``n_users``, ``n_items``,
            ``positive_rate``, ``linked_items`` (movies with an entity), ``rated_linked_share``.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    news: pd.DataFrame
    neighbours: dict[str, list[str]]
    report: dict[str, float]


def _histories(
    users: np.ndarray, times: np.ndarray, items: np.ndarray, liked: np.ndarray, his_size: int
) -> pd.Series:
    """Rows sorted by (user, time): each row's earlier liked items (strictly before), latest
    ``his_size``, oldest first, space-separated."""
    n = users.size
    like_rows = np.flatnonzero(liked)
    if like_rows.size == 0:
        return pd.Series([""] * n, dtype=object)
    likes_before = np.cumsum(liked) - liked  # likes in rows above, in sorted order
    new_user = np.r_[True, users[1:] != users[:-1]]
    new_block = new_user | np.r_[True, times[1:] != times[:-1]]
    user_start = np.maximum.accumulate(np.where(new_user, np.arange(n), 0))
    block_start = np.maximum.accumulate(np.where(new_block, np.arange(n), 0))
    end = likes_before[block_start]  # likes of earlier rows, not of the same second
    count = np.minimum(end - likes_before[user_start], his_size)
    start = end - count
    liked_items = items[like_rows]
    cols = [
        pd.Series(
            np.where(j < count, liked_items[np.minimum(start + j, like_rows.size - 1)], ""),
            dtype=object,
        )
        for j in range(his_size)  # columns, not rows: his_size vectorised passes
    ]
    joined = cols[0].str.cat(cols[1:], sep=" ") if his_size > 1 else cols[0]
    return joined.str.strip().str.replace(r"\s+", " ", regex=True)


def _neighbours(kg: Any, entities: np.ndarray, max_neighbours: int) -> dict[str, list[str]]:
    triples = kg.triples
    heads, tails = triples["head"].to_numpy(), triples["tail"].to_numpy()
    pairs = pd.DataFrame({"entity": np.r_[heads, tails], "neighbour": np.r_[tails, heads]})
    pairs = pairs[pairs["entity"].isin(entities)].drop_duplicates()
    pairs = pairs[pairs.groupby("entity").cumcount() < max_neighbours]
    labels = kg.entities
    grouped = pd.Series(
        labels[pairs["neighbour"].to_numpy()], index=labels[pairs["entity"].to_numpy()]
    )
    return {str(k): [str(x) for x in v] for k, v in grouped.groupby(level=0, sort=False)}


def movielens_click_task(
    ratings: pd.DataFrame,
    items: pd.DataFrame,
    kg: Any | None = None,
    *,
    like_threshold: float = 4.0,
    his_size: int = 50,
    test_fraction: float = 0.2,
    max_neighbours: int = 20,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
    col_rating: str = DEFAULT_RATING_COL,
    col_timestamp: str = DEFAULT_TIMESTAMP_COL,
    col_label: str = DEFAULT_LABEL_COL,
) -> MovieLensClickTask:
    """Build the MovieLens click-through task with text and entities (module docstring).

    Args:
        ratings: ``[col_user, col_item, col_rating, col_timestamp]``
            (:func:`recutils.datasets.movielens.load_pandas_df`).
        items: ``[col_item, "title", "genres"]``
            (:func:`recutils.datasets.movielens.load_item_df`; genres ``|``-joined).
        kg: A :class:`recutils.datasets.kg.KnowledgeGraph` whose links use the same item
            ids, or ``None`` (no entities).
        like_threshold: Ratings at or above it are clicks.
        his_size: Liked movies kept per history.
        test_fraction: Share of each user's latest ratings held out.
        max_neighbours: KG neighbours kept per entity.

    Raises:
        ConfigError: a bad fraction or size.
        ColumnMismatchError: missing columns.
    """
    from recutils.utils.validation import check_columns

    check_columns(ratings, [col_user, col_item, col_rating, col_timestamp], name="ratings")
    check_columns(items, [col_item, "title", "genres"], name="items")
    check_positive_int("his_size", his_size)
    check_positive_int("max_neighbours", max_neighbours)
    check_number("test_fraction", test_fraction, strict=True, maximum=0.99)
    if not np.isfinite(like_threshold):
        raise ConfigError(f"like_threshold must be a number, got {like_threshold!r}.")

    frame = ratings[[col_user, col_item, col_rating, col_timestamp]]
    user_codes, user_ids = pd.factorize(frame[col_user], sort=True)
    times = pd.to_numeric(frame[col_timestamp]).to_numpy(dtype=np.float64)
    order = np.lexsort((frame[col_item].to_numpy(), times, user_codes))
    frame = frame.iloc[order].reset_index(drop=True)
    users, times = user_codes[order], times[order]
    item_str = frame[col_item].astype(str).to_numpy()
    liked = frame[col_rating].to_numpy() >= like_threshold
    history = _histories(users, times, item_str, liked, his_size)

    rank = frame.groupby(users).cumcount().to_numpy()
    size = np.bincount(users)[users]
    n_test = np.where(size >= 2, np.maximum(1, np.floor(size * test_fraction)), 0)
    is_test = rank >= size - n_test
    rows = pd.DataFrame(
        {
            IMPRESSION_COL: users + 1,
            col_user: frame[col_user].to_numpy(),
            col_item: item_str,
            col_label: liked.astype(np.int64),
            col_rating: frame[col_rating].to_numpy(),
            col_timestamp: frame[col_timestamp].to_numpy(),
            HISTORY_COL: history.to_numpy(),
        }
    )
    train = rows[~is_test].reset_index(drop=True)
    test = rows[is_test].reset_index(drop=True)
    test[IMPRESSION_COL] = np.arange(len(test)) + 1 + int(users.max(initial=0)) + 1

    names = items["title"].astype(str).str.replace(r"\s*\(\d{4}[^)]*\)\s*$", "", regex=True)
    genres = items["genres"].fillna("").astype(str).str.split("|")
    genre_text = genres.str.join(" ")
    news = pd.DataFrame(
        {
            col_item: items[col_item].astype(str).to_numpy(),
            "title": (names + " " + genre_text).str.strip().to_numpy(),
            "category": genres.str[0].fillna("").to_numpy(),
            "subcategory": genres.str.join("|").to_numpy(),
        }
    )
    n_words = tokenize(names).str.len().to_numpy()
    neighbours: dict[str, list[str]] = {}
    entity_labels = np.full(len(items), "", dtype=object)
    if kg is not None:
        ent = kg.item_entities(items[col_item].to_numpy())
        linked = ent >= 0
        entity_labels[linked] = np.asarray(kg.entities[ent[linked]], dtype=object)
        neighbours = _neighbours(kg, np.unique(ent[linked]), max_neighbours)
    repeat = np.where(entity_labels != "", n_words, 0)
    news["title_entities"] = (
        pd.Series(entity_labels + " ", dtype=object).str.repeat(repeat).str.split().map(tuple)
    ).to_numpy()
    linked_items = set(news.loc[repeat > 0, col_item])
    report = {
        "n_rows": len(rows),
        "n_train": len(train),
        "n_test": len(test),
        "n_users": len(user_ids),
        "n_items": int(rows[col_item].nunique()),
        "positive_rate": float(liked.mean()) if liked.size else 0.0,
        "linked_items": len(linked_items),
        "rated_linked_share": float(rows[col_item].isin(linked_items).mean()) if len(rows) else 0.0,
    }
    return MovieLensClickTask(train, test, news, neighbours, report)


def load_movielens_click_task(
    size: str = "100k",
    local_cache_path: str | os.PathLike | None = None,
    *,
    with_kg: bool = True,
    progress: bool = False,
    **kwargs: Any,
) -> MovieLensClickTask:
    """:func:`movielens_click_task` on a MovieLens size, with the ml-100k KG when
    ``with_kg`` (only ``100k`` has one; :func:`recutils.datasets.kg.load_kg`).

    Raises:
        ConfigError: ``with_kg`` for a size without a KG.
    """
    from recutils.datasets import movielens

    ratings = movielens.load_pandas_df(size, local_cache_path, progress=progress)
    items = movielens.load_item_df(size, local_cache_path, progress=progress)
    kg = None
    if with_kg:
        if size != "100k":
            raise ConfigError(f"only MovieLens 100k has a linked KG; got size={size!r}.")
        from recutils.datasets.kg import load_kg

        kg = load_kg("ml-100k", progress=progress)
    return movielens_click_task(ratings, items, kg, **kwargs)


__all__ = ["MovieLensClickTask", "load_movielens_click_task", "movielens_click_task"]
