"""Item cold start on MovieLens: recall@k over items never seen in training.

Protocol (``cold20``, docs/cold_start.md): a seeded draw of 20% of the items is held out of
training entirely (all their rows removed, :func:`cold_item_split`); the models train on
the other rows; every user with a held-out-item interaction (and training rows) is then
scored against the held-out items only, and the recall@k of that user's held-out items is
recorded (:func:`recall_at_k`). Models (:data:`MODELS`):

* ``dropoutnet``: :class:`~recutils.models.retrieval.DropoutNetModel` over the user profile and
  the item content (genres, year, title words); cold items are embedded from their content.
  Its knobs (dropout rate, epochs, tower width) are chosen per seed on a second cold split
  carved from the *training* items (:func:`tune_dropoutnet`), never on the test items;
* ``genre_popularity``: a cold item's score is the mean, over its genres, of the genre's
  popularity (the mean training count of the training items of that genre), the same for
  every user (:func:`genre_popularity_scores`);
* ``genre_popularity_user``: the same, each genre weighted by the user's smoothed share of
  training rows in that genre;
* ``lightfm``: :class:`~recutils.models.lightfm.LightFMRecommender` (WARP) with the genres,
  decade and title words as item features and no item identity feature, so a cold item is
  the sum of its features' embeddings;
* ``random``: uniform random scores (the floor);
* ``dropoutnet_rate0``: an ablation, not a baseline: DropoutNet with the knobs chosen for
  ``dropoutnet`` but ``dropout_rate: 0`` (a content two-tower model whose id inputs are
  never dropped; a cold item's id embedding is the untrained out-of-vocabulary row).

:func:`run_cold_start` runs every model over the seeds and returns one row per seed x model
and the per-user values for :func:`recutils.benchmark.stats.paired_tests`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recutils.constants import DEFAULT_ITEM_COL, DEFAULT_USER_COL
from recutils.exceptions import ConfigError, DataError
from recutils.models.topk import top_k_per_row
from recutils.utils.validation import check_columns

logger = logging.getLogger(__name__)

#: The models of the benchmark, in report order.
MODELS = (
    "dropoutnet",
    "dropoutnet_rate0",
    "genre_popularity",
    "genre_popularity_user",
    "lightfm",
    "random",
)
#: Models that are not baselines of the bar (DropoutNet's own ablation, the floor).
NOT_BASELINES = ("dropoutnet", "dropoutnet_rate0", "random")
#: Share of the items held out of training.
COLD_FRACTION = 0.2
#: The cut-off of the recall.
K = 50
PROTOCOL = "cold20"
#: The DropoutNet candidates tried on the validation cold split (dropout_rate, epochs, width).
DROPOUTNET_GRID: tuple[dict[str, Any], ...] = (
    {"dropout_rate": 0.3, "epochs": 5, "width": 64},
    {"dropout_rate": 0.5, "epochs": 5, "width": 64},
    {"dropout_rate": 0.5, "epochs": 10, "width": 64},
    {"dropout_rate": 0.5, "epochs": 5, "width": 128},
)
#: LightFM's settings (the MovieLens benchmark's: WARP, 20 components, 20 epochs).
LIGHTFM_PARAMS: dict[str, Any] = {
    "loss": "warp",
    "no_components": 20,
    "epochs": 20,
    "item_identity_features": False,
}
_WORD = re.compile(r"[a-z0-9]+")
_YEAR_SUFFIX = re.compile(r"\s*\(\d{4}\)\s*$")


@dataclass
class ColdSplit:
    """A cold-item split: ``train`` (rows of warm items), ``test`` (every row of a cold item)
    and ``cold_items`` (the held-out item ids, sorted)."""

    train: pd.DataFrame
    test: pd.DataFrame
    cold_items: np.ndarray


def cold_item_split(
    df: pd.DataFrame,
    fraction: float = COLD_FRACTION,
    seed: int = 42,
    *,
    col_item: str = DEFAULT_ITEM_COL,
) -> ColdSplit:
    """Hold a seeded draw of ``round(fraction * n_items)`` items out of training entirely.

    Raises:
        ConfigError: ``fraction`` outside ``(0, 1)`` or leaving no item on a side.
    """
    check_columns(df, [col_item], name="df")
    if not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise ConfigError(f"fraction must be in (0, 1), got {fraction!r}.")
    items = np.sort(df[col_item].unique())
    n_cold = int(round(fraction * items.size))
    if not 0 < n_cold < items.size:
        raise ConfigError(f"fraction {fraction} of {items.size} items leaves no item on one side.")
    rng = np.random.default_rng(seed)
    cold = np.sort(rng.choice(items, n_cold, replace=False))
    is_cold = df[col_item].isin(cold).to_numpy()
    return ColdSplit(df[~is_cold], df[is_cold], cold)


def title_words(titles: pd.Series, sep: str = "|") -> pd.Series:
    """Lower-cased words of MovieLens titles (the ``" (1995)"`` suffix dropped), ``sep``-joined."""
    cleaned = titles.fillna("").astype(str).str.replace(_YEAR_SUFFIX, "", regex=True).str.lower()
    return cleaned.str.findall(_WORD).str.join(sep)


def item_content(items: pd.DataFrame, *, col_item: str = DEFAULT_ITEM_COL) -> pd.DataFrame:
    """``[col_item, genres, year, title_words]`` from a MovieLens item table
    (:func:`recutils.datasets.movielens.load_item_df`: ``title``, ``genres``, ``year``)."""
    check_columns(items, [col_item, "title", "genres", "year"], name="items")
    return pd.DataFrame(
        {
            col_item: items[col_item].to_numpy(),
            "genres": items["genres"].fillna("").astype(str).to_numpy(),
            "year": pd.to_numeric(items["year"], errors="coerce").to_numpy(dtype=np.float64),
            "title_words": title_words(items["title"]).to_numpy(),
        }
    )


def relevance(
    test: pd.DataFrame,
    users: pd.Index,
    items: pd.Index,
    *,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> sp.csr_matrix:
    """Binary ``[len(users), len(items)]`` matrix of the ``test`` rows (other ids ignored)."""
    u = users.get_indexer(pd.Index(test[col_user]))
    i = items.get_indexer(pd.Index(test[col_item]))
    keep = (u >= 0) & (i >= 0)
    m = sp.csr_matrix(
        (np.ones(int(keep.sum())), (u[keep], i[keep])), shape=(len(users), len(items))
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def recall_at_k(scores: np.ndarray, relevant: sp.csr_matrix, k: int = K) -> np.ndarray:
    """Per row: the share of its relevant columns among its ``k`` best-scored columns
    (ties by column index; rows without relevant columns give NaN)."""
    scores = np.array(scores, dtype=np.float64)
    if scores.shape != relevant.shape:
        raise DataError(f"scores {scores.shape} and relevance {relevant.shape} differ in shape.")
    top, _ = top_k_per_row(scores, k)
    hits = np.asarray(relevant[np.arange(top.shape[0])[:, None], top].sum(axis=1)).ravel()
    n_rel = np.diff(relevant.indptr)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, hits / n_rel, np.nan)


def _genre_matrix(
    genres: pd.Series, vocab: pd.Index | None = None
) -> tuple[sp.csr_matrix, pd.Index]:
    """Binary ``[items, genres]`` matrix of ``'|'``-joined genre strings."""
    tokens = genres.fillna("").astype(str).str.split("|")
    lengths = tokens.str.len().to_numpy()
    flat = pd.Series(
        np.concatenate(tokens.to_numpy()) if len(tokens) else np.array([], dtype=object)
    )
    rows = np.repeat(np.arange(len(genres)), lengths)
    keep = (flat != "").to_numpy()
    if vocab is None:
        vocab = pd.Index(sorted(set(flat[keep])))
    cols = vocab.get_indexer(flat[keep])
    ok = cols >= 0
    m = sp.csr_matrix(
        (np.ones(int(ok.sum())), (rows[keep][ok], cols[ok])), shape=(len(genres), len(vocab))
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m, vocab


def genre_popularity_scores(
    train: pd.DataFrame,
    content: pd.DataFrame,
    users: pd.Index,
    items: pd.Index,
    *,
    weighted: bool = False,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> np.ndarray:
    """Popularity within genre: ``[len(users), len(items)]`` scores of ``items`` (e.g. cold items).

    A genre's popularity ``pop(g)`` is the mean training count (rows of ``train``) of the
    training items of that genre. An item's score is the mean of ``pop(g)`` over its genres
    (0 without a genre). With ``weighted``, genre ``g`` is weighted by the user's smoothed
    share of training rows in it, ``(n_ug + 1) / (n_u + n_genres)``: score
    ``sum_g [g in item] pop(g) share_u(g) / n_genres(item)``.

    Args:
        train: Training rows (``col_user``, ``col_item``).
        content: One row per item with ``col_item`` and ``genres`` (``'|'``-joined), covering
            the training items and ``items``.
    """
    check_columns(content, [col_item, "genres"], name="content")
    check_columns(train, [col_user, col_item], name="train")
    by_item = content.drop_duplicates(col_item).set_index(col_item)["genres"]
    counts = train[col_item].value_counts()
    warm = counts.index
    g_warm, vocab = _genre_matrix(by_item.reindex(warm))
    per_genre = g_warm.T @ counts.to_numpy(dtype=np.float64)
    n_per_genre = np.asarray(g_warm.sum(axis=0)).ravel()
    pop = np.divide(per_genre, n_per_genre, out=np.zeros_like(per_genre), where=n_per_genre > 0)
    g_items, _ = _genre_matrix(by_item.reindex(items), vocab)
    n_genres_item = np.maximum(np.asarray(g_items.sum(axis=1)).ravel(), 1.0)
    if not weighted:
        row = (g_items @ pop) / n_genres_item
        return np.broadcast_to(row, (len(users), len(items))).copy()
    u = users.get_indexer(pd.Index(train[col_user]))
    keep = u >= 0
    item_rows = warm.get_indexer(pd.Index(train[col_item]))[keep]
    rows_user = sp.csr_matrix(
        (np.ones(int(keep.sum())), (u[keep], item_rows)), shape=(len(users), len(warm))
    )
    n_ug = (rows_user @ g_warm).toarray()
    n_u = np.asarray(rows_user.sum(axis=1)).ravel()
    share = (n_ug + 1.0) / (n_u[:, None] + len(vocab))
    return (share * pop[None, :]) @ g_items.T.toarray() / n_genres_item[None, :]


def random_scores(n_users: int, n_items: int, seed: int) -> np.ndarray:
    """Uniform random scores ``[n_users, n_items]`` (seeded)."""
    return np.random.default_rng(seed).random((n_users, n_items))


def _decade(year: pd.Series) -> pd.Series:
    decade = pd.to_numeric(year, errors="coerce") // 10 * 10
    return decade.map(lambda v: f"{int(v)}s" if np.isfinite(v) else None).astype(object)


def lightfm_item_features(
    content: pd.DataFrame, *, col_item: str = DEFAULT_ITEM_COL
) -> pd.DataFrame:
    """LightFM item features of ``content``: genres, decade and title words (``'|'``-joined)."""
    return pd.DataFrame(
        {
            col_item: content[col_item].to_numpy(),
            "genres": content["genres"].to_numpy(),
            "decade": _decade(content["year"]).to_numpy(),
            "title": content["title_words"].to_numpy(),
        }
    )


def lightfm_scores(
    train: pd.DataFrame,
    content: pd.DataFrame,
    users: pd.Index,
    items: pd.Index,
    *,
    seed: int,
    params: Mapping[str, Any] | None = None,
    num_threads: int = 1,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> np.ndarray:
    """LightFM with item features: ``[len(users), len(items)]`` scores; ``items`` (cold) join
    the catalogue from their features (``cold_start``)."""
    from recutils.models.lightfm import LightFMRecommender

    settings = {**LIGHTFM_PARAMS, **(params or {})}
    features = lightfm_item_features(content, col_item=col_item)
    model = LightFMRecommender(
        seed=seed, num_threads=num_threads, col_user=col_user, col_item=col_item, **settings
    )
    model.fit(train[[col_user, col_item]], item_features=features)
    pairs = pd.DataFrame(
        {
            col_user: np.repeat(users.to_numpy(), len(items)),
            col_item: np.tile(items.to_numpy(), len(users)),
        }
    )
    return model.predict(pairs)[model.col_prediction].to_numpy().reshape(len(users), len(items))


def _with_features(
    rows: pd.DataFrame,
    user_table: pd.DataFrame,
    content: pd.DataFrame,
    col_user: str,
    col_item: str,
) -> pd.DataFrame:
    return (
        rows[[col_user, col_item]]
        .merge(user_table, on=col_user, how="left")
        .merge(content, on=col_item, how="left")
    )


def dropoutnet_scores(
    train: pd.DataFrame,
    user_table: pd.DataFrame,
    content: pd.DataFrame,
    users: pd.Index,
    items: pd.Index,
    *,
    seed: int,
    dropout_rate: float = 0.5,
    epochs: int = 10,
    width: int = 64,
    num_threads: int = 1,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> np.ndarray:
    """DropoutNet (the shipped preset with ``dropout_rate``, ``epochs`` and towers of
    ``2 * width, width`` units) trained on ``train`` with the users' and items' features:
    ``[len(users), len(items)]`` scores, the items (cold) embedded from their content.

    Args:
        user_table: One row per user: ``col_user``, ``age``, ``gender``, ``occupation``.
        content: One row per item: :func:`item_content`.
    """
    from recutils.models.retrieval import DropoutNetConfig, DropoutNetModel

    check_columns(user_table, [col_user, "age", "gender", "occupation"], name="user_table")
    frame = _with_features(train, user_table, content, col_user, col_item)
    towers = DropoutNetConfig().model_config.to_dict()
    for block in towers["backbone"]["blocks"]:
        block["layer"] = {
            "class_name": "MLP",
            "params": {"hidden_units": [2 * width, width], "use_final_bn": False},
        }
    towers["model_params"]["match"]["output_dim"] = width
    model = DropoutNetModel(
        col_user=col_user,
        col_item=col_item,
        seed=seed,
        dropout_rate=dropout_rate,
        model_config=towers,
        train={"epochs": epochs, "num_threads": num_threads, "progress": False},
    )
    model.fit(frame)
    user_rows = user_table.set_index(col_user).reindex(pd.Index(users, name=col_user)).reset_index()
    item_rows = content.set_index(col_item).reindex(pd.Index(items, name=col_item)).reset_index()
    return model.user_embeddings(user_rows) @ model.item_embeddings(item_rows).T


@dataclass
class _Task:
    """One evaluation: training rows, the evaluated users and candidate items, the truth."""

    train: pd.DataFrame
    users: pd.Index
    items: pd.Index
    relevant: sp.csr_matrix


def _task(split: ColdSplit, col_user: str, col_item: str) -> _Task:
    """Users with a cold-item row and training rows; candidates: the cold items."""
    users = pd.Index(
        np.sort(np.intersect1d(split.test[col_user].unique(), split.train[col_user].unique()))
    )
    items = pd.Index(split.cold_items)
    return _Task(
        split.train,
        users,
        items,
        relevance(split.test, users, items, col_user=col_user, col_item=col_item),
    )


def tune_dropoutnet(
    train: pd.DataFrame,
    user_table: pd.DataFrame,
    content: pd.DataFrame,
    *,
    seed: int,
    grid: Sequence[Mapping[str, Any]] = DROPOUTNET_GRID,
    k: int = K,
    num_threads: int = 1,
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Choose DropoutNet's knobs on a cold split of the *training* items (the same fraction,
    seed ``seed + 1000``): each candidate of ``grid`` is trained on the rest and scored by
    the mean recall@k over the validation cold items; returns the best candidate and the table."""
    if not grid:
        raise ConfigError("the DropoutNet grid is empty.")
    task = _task(
        cold_item_split(train, COLD_FRACTION, seed + 1000, col_item=col_item), col_user, col_item
    )
    rows = []
    for candidate in grid:
        scores = dropoutnet_scores(
            task.train,
            user_table,
            content,
            task.users,
            task.items,
            seed=seed,
            num_threads=num_threads,
            col_user=col_user,
            col_item=col_item,
            **candidate,
        )
        value = float(np.nanmean(recall_at_k(scores, task.relevant, k)))
        rows.append({**candidate, "seed": seed, f"val_recall@{k}": value})
        logger.info("seed %d: DropoutNet %s: validation recall@%d %.4f", seed, candidate, k, value)
    table = pd.DataFrame(rows)
    best = dict(grid[int(np.argmax(table[f"val_recall@{k}"].to_numpy()))])
    return best, table


def run_cold_start(
    ratings: pd.DataFrame,
    user_table: pd.DataFrame,
    items: pd.DataFrame,
    seeds: Sequence[int] = (1, 2, 3),
    *,
    models: Sequence[str] = MODELS,
    k: int = K,
    grid: Sequence[Mapping[str, Any]] = DROPOUTNET_GRID,
    num_threads: int = 1,
    dataset: str = "movielens",
    col_user: str = DEFAULT_USER_COL,
    col_item: str = DEFAULT_ITEM_COL,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The cold-start benchmark; see the module docstring.

    Args:
        ratings: Interactions (``col_user``, ``col_item``; every row a positive).
        user_table: One row per user: ``col_user``, ``age``, ``gender``, ``occupation``.
        items: The item table (``col_item``, ``title``, ``genres``, ``year``).
        seeds: One cold split (and model seed) per seed.
        models: A subset of :data:`MODELS`.
        grid: DropoutNet's candidates (a single one skips the tuning).

    Returns:
        ``(results, per_user, tuning)``: one row per seed x model (``recall@k``, ``n_users``,
        ``n_cold_items`` and DropoutNet's chosen knobs), the per-user recall (the frame of
        :func:`recutils.benchmark.stats.paired_tests`) and the tuning table.
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ConfigError(f"unknown model(s) {unknown}; allowed: {list(MODELS)}.")
    check_columns(ratings, [col_user, col_item], name="ratings")
    content = item_content(items, col_item=col_item)
    metric = f"recall@{k}"
    results, per_user, tuning = [], [], []
    for seed in seeds:
        task = _task(
            cold_item_split(ratings, COLD_FRACTION, seed, col_item=col_item), col_user, col_item
        )
        tuned: dict[str, Any] = dict(grid[0]) if grid else {}
        if len(grid) > 1 and any(m.startswith("dropoutnet") for m in models):
            tuned, table = tune_dropoutnet(
                task.train,
                user_table,
                content,
                seed=seed,
                grid=grid,
                k=k,
                num_threads=num_threads,
                col_user=col_user,
                col_item=col_item,
            )
            tuning.append(table)
        for name in models:
            chosen: dict[str, Any] = {}
            if name.startswith("dropoutnet"):
                chosen = (
                    {**tuned, "dropout_rate": 0.0} if name == "dropoutnet_rate0" else dict(tuned)
                )
                scores = dropoutnet_scores(
                    task.train,
                    user_table,
                    content,
                    task.users,
                    task.items,
                    seed=seed,
                    num_threads=num_threads,
                    col_user=col_user,
                    col_item=col_item,
                    **chosen,
                )
            elif name in ("genre_popularity", "genre_popularity_user"):
                scores = genre_popularity_scores(
                    task.train,
                    content,
                    task.users,
                    task.items,
                    weighted=name.endswith("_user"),
                    col_user=col_user,
                    col_item=col_item,
                )
            elif name == "lightfm":
                scores = lightfm_scores(
                    task.train,
                    content,
                    task.users,
                    task.items,
                    seed=seed,
                    num_threads=num_threads,
                    col_user=col_user,
                    col_item=col_item,
                )
            else:
                scores = random_scores(len(task.users), len(task.items), seed)
            values = recall_at_k(scores, task.relevant, k)
            results.append(
                {
                    "dataset": dataset,
                    "protocol": PROTOCOL,
                    "model": name,
                    "seed": seed,
                    metric: float(np.nanmean(values)),
                    "n_users": len(task.users),
                    "n_cold_items": len(task.items),
                    **chosen,
                }
            )
            per_user.append(
                pd.DataFrame(
                    {
                        "dataset": dataset,
                        "protocol": PROTOCOL,
                        "model": name,
                        "seed": seed,
                        col_user: task.users.to_numpy(),
                        metric: values,
                    }
                )
            )
            logger.info("seed %d: %s recall@%d %.4f", seed, name, k, results[-1][metric])
    tuning_frame = pd.concat(tuning, ignore_index=True) if tuning else pd.DataFrame()
    return pd.DataFrame(results), pd.concat(per_user, ignore_index=True), tuning_frame


def summarize_cold_start(results: pd.DataFrame, k: int = K) -> pd.DataFrame:
    """Mean, standard deviation (``ddof=1``) and seeds of recall@k per model, best first."""
    metric = f"recall@{k}"
    out = (
        results.groupby("model")[metric]
        .agg(["mean", "std", "count"])
        .rename(columns={"mean": f"{metric}_mean", "std": f"{metric}_sd", "count": "n_seeds"})
    )
    return out.sort_values(f"{metric}_mean", ascending=False)


def cold_start_bar(
    per_user: pd.DataFrame, k: int = K, *, col_user: str = DEFAULT_USER_COL
) -> tuple[pd.DataFrame, str]:
    """Paired tests (per user, :func:`~recutils.benchmark.stats.paired_tests`) of DropoutNet
    against the best baseline (highest mean recall@k among the baselines, :data:`NOT_BASELINES`
    left out), and the verdict on the bar (DropoutNet beats popularity within genre and LightFM).
    The means here pool every (seed, user) row of a model."""
    from recutils.benchmark.stats import paired_tests

    metric = f"recall@{k}"
    means = per_user.groupby("model")[metric].mean()
    baselines = means.drop(labels=list(NOT_BASELINES), errors="ignore")
    if "dropoutnet" not in means or baselines.empty:
        raise DataError("the bar needs DropoutNet and at least one baseline in the per-user frame.")
    best = str(baselines.idxmax())
    tests = paired_tests(
        per_user[per_user["model"].isin(["dropoutnet", best])],
        reference=best,
        metrics=[metric],
        col_user=col_user,
    )
    row = tests.iloc[0]
    beats = bool(means["dropoutnet"] > baselines.max())
    verdict = (
        f"bar {'met' if beats else 'NOT met'}: DropoutNet {metric} {means['dropoutnet']:.4f} vs best baseline "
        f"{best} {baselines.max():.4f} (paired over {int(row['n_users'])} users: diff "
        f"{row['mean_diff']:+.4f}, t-test p={row['t_pvalue']:.3g}, Wilcoxon p={row['wilcoxon_pvalue']:.3g})"
    )
    return tests, verdict


__all__ = [
    "COLD_FRACTION",
    "DROPOUTNET_GRID",
    "K",
    "LIGHTFM_PARAMS",
    "MODELS",
    "NOT_BASELINES",
    "PROTOCOL",
    "ColdSplit",
    "cold_item_split",
    "cold_start_bar",
    "dropoutnet_scores",
    "genre_popularity_scores",
    "item_content",
    "lightfm_item_features",
    "lightfm_scores",
    "random_scores",
    "recall_at_k",
    "relevance",
    "run_cold_start",
    "summarize_cold_start",
    "title_words",
    "tune_dropoutnet",
]
