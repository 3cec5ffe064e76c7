"""SAR (Smart Adaptive Recommendations) as Spark DataFrame operations.

The building blocks of :class:`recutils.models.sar.SparkSAR` (also importable as
``recutils.spark.sar.SparkSAR``), each a few DataFrame operations that run on the
cluster; nothing here collects a matrix to the driver:

* :func:`sar_affinity`: the user-item affinity, a ``groupBy(user, item)`` sum of the
  (time-decayed) ratings, ``decay(t) = min(1, 0.5 ** ((t_now - t) / T))`` with ``T``
  the half-life in days (the pandas SAR's formula and reference time);
* :func:`sar_cooccurrence_upper`: item co-occurrence counts by a self-join of the
  distinct (user, item) pairs on the user (upper triangle, mirrored by :func:`mirrored`),
  entries below ``threshold`` dropped (the diagonal included);
  :func:`sar_cooccurrence_upper_blocks` gives the same counts as one sparse ``B^T B``
  per block of users on the executors, summed by a ``groupBy``;
* :func:`sar_similarity`: the similarity of each stored pair from its count and the two
  item frequencies (the diagonal), by the formulas of
  :mod:`recutils.models.sar.similarity`;
* :func:`sar_scores`: ``score(u, j) = sum_k A[u, k] S[k, j]`` as a join of the
  affinities with the similarity on ``k`` and a ``groupBy(user, j)`` sum;
* :func:`sar_top_k`: remove-seen (the training pairs join the score aggregation with a
  flag, so no extra shuffle), ``row_number`` over (score desc, item asc) per user, and
  items with no co-occurrence path (score 0 in the pandas SAR) for the users with fewer
  than ``k`` positive scores;
* :func:`sar_top_k_blocks`: the same top-``k`` by blocks of users, each block's scores a
  sparse product on an executor (the similarity is replicated to every block by a cross
  join on the cluster, so it must fit one executor's memory): one row per (user, item)
  pair of the product never goes through a shuffle, which makes it the fast path while
  the similarity fits.

:func:`fit_sar` and ``SparkSAR`` take ``method="blocks"`` (the default: the two block
functions) or ``method="join"`` (the self-join and :func:`sar_top_k`, every product term a
row: for a similarity larger than one executor's memory).

The frames use the internal columns of :data:`USER`, :data:`ITEM` (and :data:`OTHER`
for the second item of a pair); callers rename at the boundary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recutils.exceptions import ConfigError
from recutils.spark._utils import F
from recutils.utils.deps import require
from recutils.utils.validation import check_choice, check_positive_int

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame

logger = logging.getLogger(__name__)
Window = require("pyspark.sql.window", "spark").Window

USER, ITEM, OTHER = "u", "i", "j"
RATING, TIME = "r", "t"
SECONDS_PER_DAY = 24 * 60 * 60
#: The ``method`` of :func:`fit_sar` and ``SparkSAR``: by blocks of users, or by joins.
METHODS = ("blocks", "join")


@dataclass
class SARTables:
    """A fitted SAR on Spark: its frames and the numbers scoring needs.

    Attributes:
        affinity: ``[u, i, affinity, unity]``, one row per distinct training pair
            (``unity``: the affinity with ratings replaced by 1, for ``normalize``).
        similarity: ``[i, j, sim]``, the stored pairs (co-occurrence >= threshold).
        frequencies: ``[i, freq]`` for every training item (0 below ``threshold``).
        n_items: Number of training items.
        time_now: Reference time of the decay (``None`` without decay).
        rating_min, rating_max: Rating range used by ``normalize``.
    """

    affinity: DataFrame
    similarity: DataFrame
    frequencies: DataFrame
    n_items: int
    time_now: float | None
    rating_min: float
    rating_max: float

    def unpersist(self) -> None:
        """Release the cached frames."""
        for frame in (self.affinity, self.similarity, self.frequencies):
            frame.unpersist()


def sar_affinity(
    events: DataFrame, half_life_days: float | None, time_now: float | None = None
) -> tuple[DataFrame, float | None]:
    """Affinity ``[u, i, affinity, unity]`` of ``events`` ``[u, i, r(, t)]``.

    Args:
        events: Ratings (double) and, with decay, timestamps in seconds (double).
        half_life_days: Half-life of the decay in days; ``None``: no decay.
        time_now: Reference time (seconds); ``None``: the latest timestamp.

    Returns:
        The affinity frame and the reference time used (``None`` without decay).
    """
    if half_life_days is None:
        weight, unity = F.col(RATING), F.lit(1.0)
        t_now = None
    else:
        t_now = float(events.agg(F.max(TIME)).first()[0]) if time_now is None else float(time_now)
        half_life = float(half_life_days) * SECONDS_PER_DAY
        unity = F.least(
            F.lit(1.0), F.pow(F.lit(0.5), (F.lit(t_now) - F.col(TIME)) / F.lit(half_life))
        )
        weight = F.col(RATING) * unity
    affinity = (
        events.select(USER, ITEM, weight.alias("w"), unity.alias("one"))
        .groupBy(USER, ITEM)
        .agg(F.sum("w").alias("affinity"), F.sum("one").alias("unity"))
    )
    return affinity, t_now


def sar_cooccurrence_upper(affinity: DataFrame, threshold: float = 1) -> DataFrame:
    """Item co-occurrence ``[i, j, c]`` for ``i <= j``: users with both items, by a self-join
    of the distinct pairs on the user (the matrix is symmetric: the upper triangle is
    enough). Pairs with ``c < threshold`` are dropped, the diagonal included."""
    pairs = affinity.select(USER, ITEM)
    joined = pairs.join(pairs.select(USER, F.col(ITEM).alias(OTHER)), on=USER)
    upper = (
        joined.filter(F.col(ITEM) <= F.col(OTHER))
        .groupBy(ITEM, OTHER)
        .agg(F.count(F.lit(1)).cast("double").alias("c"))
    )
    return upper.filter(F.col("c") >= F.lit(float(threshold))) if threshold > 1 else upper


def _block_cooccurrence(pairs: Any) -> Any:
    """Upper-triangle co-occurrence counts ``[i, j, c]`` of one block of users' distinct
    ``[u, i]`` pairs (pandas, on an executor): ``B^T B`` of its binary user x item matrix."""
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    if pairs.empty:
        empty = np.asarray(pairs[ITEM], dtype=object)[:0]
        return pd.DataFrame({ITEM: empty, OTHER: empty, "c": np.empty(0, dtype=np.float64)})
    rows, _ = pd.factorize(pairs[USER])
    cols, items = pd.factorize(pairs[ITEM], sort=True)  # code order = id order
    binary = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.int64), (rows, cols)), shape=(rows.max() + 1, len(items))
    )
    counts = sp.triu(binary.T.tocsr() @ binary, format="coo")
    ids = np.asarray(items)
    return pd.DataFrame(
        {ITEM: ids[counts.row], OTHER: ids[counts.col], "c": counts.data.astype(np.float64)}
    )


def sar_cooccurrence_upper_blocks(
    affinity: DataFrame, threshold: float = 1, n_blocks: int | None = None
) -> DataFrame:
    """:func:`sar_cooccurrence_upper` by blocks of users: each block's ``B^T B`` (upper
    triangle) is a sparse product on an executor (``applyInPandas``), and the blocks'
    counts are summed by a ``groupBy(i, j)``. The rows shuffled are the blocks' distinct
    item pairs, not one row per (user, i, j) as in the self-join."""
    blocks = _n_blocks(affinity, n_blocks)
    item_type = affinity.schema[ITEM].dataType.simpleString()
    pairs = affinity.select(USER, ITEM).withColumn("b", F.pmod(F.xxhash64(USER), F.lit(blocks)))
    upper = (
        pairs.groupBy("b")
        .applyInPandas(
            lambda frame: _block_cooccurrence(frame.drop(columns="b")),
            f"{ITEM} {item_type}, {OTHER} {item_type}, c double",
        )
        .groupBy(ITEM, OTHER)
        .agg(F.sum("c").alias("c"))
    )
    return upper.filter(F.col("c") >= F.lit(float(threshold))) if threshold > 1 else upper


def _n_blocks(frame: DataFrame, n_blocks: int | None) -> int:
    """``n_blocks``, checked, or the default parallelism of ``frame``'s Spark context."""
    if n_blocks is None:
        return int(frame.sparkSession.sparkContext.defaultParallelism)
    return check_positive_int("n_blocks", n_blocks)


def mirrored(upper: DataFrame) -> DataFrame:
    """The full symmetric ``[i, j, c]`` from its upper triangle."""
    lower = upper.filter(F.col(ITEM) != F.col(OTHER)).select(
        F.col(OTHER).alias(ITEM), F.col(ITEM).alias(OTHER), "c"
    )
    return upper.unionByName(lower)


def _formula(similarity_type: str, c: Column, di: Column, dj: Column, n: int) -> Column:
    """The similarity of a stored pair (see :mod:`recutils.models.sar.similarity`)."""
    lift = c / (di * dj)
    mutual_information = F.log2(F.lit(float(n)) * lift)
    formulas = {
        "cooccurrence": c,
        "cosine": c / F.sqrt(di * dj),
        "inclusion index": c / F.least(di, dj),
        "jaccard": c / (di + dj - c),
        "lift": lift,
        "mutual information": mutual_information,
        "lexicographers mutual information": c * mutual_information,
    }
    if similarity_type not in formulas:
        raise ConfigError(
            f"similarity_type={similarity_type!r} is unknown; allowed: {sorted(formulas)}."
        )
    return formulas[similarity_type]


def sar_similarity(
    cooccurrence: DataFrame, n_items: int, similarity_type: str
) -> tuple[DataFrame, DataFrame]:
    """Similarity ``[i, j, sim]`` of the stored pairs and the item frequencies ``[i, freq]``
    (the co-occurrence diagonal: items below ``threshold`` are absent)."""
    diag = cooccurrence.filter(F.col(ITEM) == F.col(OTHER)).select(ITEM, F.col("c").alias("freq"))
    pairs = cooccurrence.join(diag.select(F.col(ITEM), F.col("freq").alias("di")), on=ITEM).join(
        diag.select(F.col(ITEM).alias(OTHER), F.col("freq").alias("dj")), on=OTHER
    )
    sim = _formula(similarity_type, F.col("c"), F.col("di"), F.col("dj"), n_items)
    return pairs.select(ITEM, OTHER, sim.alias("sim")), diag


def fit_sar(
    events: DataFrame,
    *,
    similarity_type: str,
    threshold: float,
    half_life_days: float | None,
    time_now: float | None = None,
    method: str = "blocks",
    n_blocks: int | None = None,
) -> SARTables:
    """Fit SAR on ``events`` ``[u, i, r(, t)]``; the returned frames are cached.

    The rating range is that of the aggregated (decayed) affinities with time decay,
    of the raw ratings without, as in the pandas SAR. ``method``: the co-occurrence by
    blocks of users (:func:`sar_cooccurrence_upper_blocks`, ``n_blocks`` of them) or by
    the self-join (:func:`sar_cooccurrence_upper`, ``"join"``).
    """
    check_choice("method", method, METHODS)
    affinity, t_now = sar_affinity(events, half_life_days, time_now)
    affinity = affinity.cache()
    source = (
        affinity.select(F.col("affinity").alias(RATING), ITEM)
        if half_life_days is not None
        else events.select(RATING, ITEM)
    )
    # the rating range and the number of items in one job
    stats = source.agg(
        F.min(RATING).alias("lo"), F.max(RATING).alias("hi"), F.countDistinct(ITEM).alias("n")
    ).first()
    n_items = int(stats["n"])
    items = affinity.select(ITEM).distinct()
    if method == "blocks":
        upper = sar_cooccurrence_upper_blocks(affinity, threshold, n_blocks).cache()
    else:
        upper = sar_cooccurrence_upper(affinity, threshold).cache()
    similarity, diag = sar_similarity(mirrored(upper), n_items, similarity_type)
    similarity = similarity.cache()
    frequencies = (
        items.join(diag, on=ITEM, how="left")
        .select(ITEM, F.coalesce(F.col("freq"), F.lit(0.0)).alias("freq"))
        .cache()
    )
    n_pairs = similarity.count()
    frequencies.count()
    upper.unpersist()
    logger.info("SAR on Spark: %d items, %d stored similarity pairs", n_items, n_pairs)
    return SARTables(
        affinity=affinity,
        similarity=similarity,
        frequencies=frequencies,
        n_items=int(n_items),
        time_now=t_now,
        rating_min=float(stats["lo"]),
        rating_max=float(stats["hi"]),
    )


def sar_scores(affinity: DataFrame, similarity: DataFrame) -> DataFrame:
    """``[u, i, score, unity, seen]``: ``A S`` and ``A1 S`` for the users of ``affinity`` on
    the items reachable through the similarity and on their training items (``seen`` 1);
    every other item scores 0. One join and one ``groupBy``."""
    reached = affinity.join(similarity, on=ITEM).select(
        USER,
        F.col(OTHER).alias(ITEM),
        (F.col("affinity") * F.col("sim")).alias("score"),
        (F.col("unity") * F.col("sim")).alias("unity"),
        F.lit(0).alias("seen"),
    )
    seen = affinity.select(
        USER, ITEM, F.lit(0.0).alias("score"), F.lit(0.0).alias("unity"), F.lit(1).alias("seen")
    )
    return (
        reached.unionByName(seen)
        .groupBy(USER, ITEM)
        .agg(
            F.sum("score").alias("score"),
            F.sum("unity").alias("unity"),
            F.max("seen").alias("seen"),
        )
    )


def normalized(
    score: Column, lo: Column, hi: Column, rating_min: float, rating_max: float
) -> Column:
    """The pandas SAR's ``normalize``: scores rescaled to the rating range per user."""
    return (score - lo) / (hi - lo) * F.lit(rating_max - rating_min) + F.lit(rating_min)


def _bounds(tables: SARTables, nmin: Column, nmax: Column, n: Column) -> tuple[Column, Column]:
    """``lo``, ``hi`` of ``normalize`` from the smallest and largest ``A1 S`` of the
    ``n`` scored items of a user (every other item has 0)."""
    partial = n < F.lit(tables.n_items)
    nmin = F.when(partial, F.least(nmin, F.lit(0.0))).otherwise(nmin)
    nmax = F.when(partial, F.greatest(nmax, F.lit(0.0))).otherwise(nmax)
    return nmin * F.lit(tables.rating_min), nmax * F.lit(tables.rating_max)


def user_bounds(scores: DataFrame, tables: SARTables) -> DataFrame:
    """``[u, lo, hi]`` of ``normalize`` for the users of ``scores`` (:func:`sar_scores`)."""
    agg = scores.groupBy(USER).agg(
        F.min("unity").alias("nmin"), F.max("unity").alias("nmax"), F.count(F.lit(1)).alias("n")
    )
    lo, hi = _bounds(tables, F.col("nmin"), F.col("nmax"), F.col("n"))
    return agg.select(USER, lo.alias("lo"), hi.alias("hi"))


def _rank(frame: DataFrame, k: int) -> DataFrame:
    """Rows ranked per user by (valid, score desc, item asc), the first ``k`` valid kept."""
    order = Window.partitionBy(USER).orderBy(
        F.col("valid").desc(), F.col("score").desc(), F.col(ITEM).asc()
    )
    ranked = frame.withColumn("rank", F.row_number().over(order))
    return ranked.filter(F.col("valid") & (F.col("rank") <= F.lit(k)))


def sar_top_k(
    users: DataFrame,
    tables: SARTables,
    k: int,
    *,
    remove_seen: bool = True,
    normalize: bool = False,
) -> tuple[DataFrame, DataFrame]:
    """Top-``k`` ``[u, i, score, rank]`` for the training users of ``users`` ``[u]``.

    Equal to the pandas SAR's ranking: scores descending, ties by item ascending, NaN
    scores dropped, items without a co-occurrence path scoring 0. The scores are
    computed once (:func:`sar_scores`) and ranked with one window per user; the few
    users with fewer than ``k`` positive scores then also rank the lowest-id items
    they cannot reach (score 0). With ``normalize`` the ranking is that of the raw
    scores (the rescaling is increasing) and the values are rescaled.

    The ranked frame (``k`` rows per user at most) is cached and materialized by one
    small job that counts the users needing the zero-score fill; when there are none
    (the usual case: every user reaches ``k`` items), the fill, a second join with the
    similarity and a dozen small stages, is left out of the plan.

    Returns:
        ``(top, ranked)``: the result, and the cached ranked frame it reads; the caller
        unpersists ``ranked`` when done with ``top``.
    """
    req = users.select(USER).distinct()
    affinity = tables.affinity.join(req, on=USER, how="left_semi")
    scores = sar_scores(affinity, tables.similarity)
    valid = F.col("score").isNotNull() & ~F.isnan("score")
    if remove_seen:
        valid = valid & (F.col("seen") == 0)
    by_user = Window.partitionBy(USER)
    scores = scores.withColumn("valid", valid).withColumn(
        "n_pos", F.sum((F.col("valid") & (F.col("score") > 0)).cast("long")).over(by_user)
    )
    if normalize:
        lo, hi = _bounds(
            tables,
            F.min("unity").over(by_user),
            F.max("unity").over(by_user),
            F.count(F.lit(1)).over(by_user),
        )
        scores = scores.withColumn("lo", lo).withColumn("hi", hi)
    else:
        scores = scores.withColumn("lo", F.lit(None).cast("double")).withColumn(
            "hi", F.lit(None).cast("double")
        )
    ranked = _rank(scores, k).select(USER, ITEM, "score", "rank", "n_pos", "lo", "hi").cache()

    # users with fewer than k positive scores also rank the items they cannot reach
    full = ranked.filter(F.col("n_pos") >= F.lit(k)).select(USER, ITEM, "score", "rank", "lo", "hi")
    short = (
        ranked.filter(F.col("n_pos") < F.lit(k))
        .select(USER)
        .union(affinity.select(USER).distinct().join(ranked.select(USER), on=USER, how="left_anti"))
        .distinct()
    )
    if short.isEmpty():  # materializes ``ranked``; no user needs the fill
        top = full
    else:
        top = full.unionByName(_zero_score_fill(short, affinity, ranked, tables, k))
    if normalize:
        top = top.withColumn(
            "score",
            normalized(
                F.col("score"), F.col("lo"), F.col("hi"), tables.rating_min, tables.rating_max
            ),
        )
        top = top.filter(~F.isnan("score") & F.col("score").isNotNull())
    return top.select(USER, ITEM, "score", "rank"), ranked


def _zero_score_fill(
    short: DataFrame, affinity: DataFrame, ranked: DataFrame, tables: SARTables, k: int
) -> DataFrame:
    """The top-``k`` of the ``short`` users (fewer than ``k`` positive scores): their ranked
    rows and the lowest-id items they cannot reach (score 0 in the pandas SAR), re-ranked."""
    short_aff = affinity.join(short, on=USER, how="left_semi")
    reach = (
        short_aff.join(tables.similarity, on=ITEM)
        .select(USER, F.col(OTHER).alias(ITEM))
        .union(short_aff.select(USER, ITEM))
        .distinct()
    )
    limit = reach.groupBy(USER).agg((F.count(F.lit(1)) + F.lit(k)).alias("limit"))
    ordered = tables.frequencies.select(
        ITEM, F.row_number().over(Window.orderBy(ITEM)).alias("pos")
    )
    fill = limit.join(F.broadcast(ordered), F.col("pos") <= F.col("limit")).select(USER, ITEM)
    fill = fill.join(reach, on=[USER, ITEM], how="left_anti")
    bounds = ranked.groupBy(USER).agg(F.first("lo").alias("lo"), F.first("hi").alias("hi"))
    fill = fill.join(bounds, on=USER, how="left").select(
        USER, ITEM, F.lit(0.0).alias("score"), "lo", "hi", F.lit(True).alias("valid")
    )
    kept = ranked.join(short, on=USER, how="left_semi").select(
        USER, ITEM, "score", "lo", "hi", F.lit(True).alias("valid")
    )
    return _rank(kept.unionByName(fill), k).select(USER, ITEM, "score", "rank", "lo", "hi")


#: Most scores a block densifies at once (users x items): 4M float64, 32 MB.
_DENSE_CELLS = 1 << 22


def _block_top_k(
    aff: Any,
    right: Any,
    *,
    k: int,
    remove_seen: bool,
    normalize: bool,
    rating_min: float,
    rating_max: float,
) -> Any:
    """The top-``k`` rows ``[u, i, score, rank]`` of one block of users (pandas, on an executor).

    ``aff``: the block's affinity rows ``[u, i, affinity, unity]``; ``right``: the
    catalogue (rows with ``j`` null: item ``i``) and the similarity (``[i, j, sim]``).
    Items are ordered by id, so ties go to the lower id as in the pandas SAR.
    """
    import numpy as np
    import pandas as pd
    import scipy.sparse as sp

    from recutils.utils.arrays import top_k_per_row

    if aff.empty:
        return pd.DataFrame(
            {
                USER: np.asarray(aff[USER], dtype=object)[:0],
                ITEM: np.asarray(right[ITEM], dtype=object)[:0],
                "score": np.empty(0, dtype=np.float64),
                "rank": np.empty(0, dtype=np.int32),
            }
        )
    catalogue = right[OTHER].isna().to_numpy()
    # ids go back to Spark as numpy arrays (object for strings: PySpark's Arrow conversion
    # does not take pandas' Arrow-backed string columns)
    item_ids = np.sort(np.asarray(right.loc[catalogue, ITEM]))
    items = pd.Index(item_ids)
    pairs = right.loc[~catalogue]
    n = len(items)
    similarity = sp.csr_matrix(
        (
            pairs["sim"].to_numpy(np.float64),
            (items.get_indexer(pairs[ITEM]), items.get_indexer(pairs[OTHER])),
        ),
        shape=(n, n),
    )
    user_codes, users = pd.factorize(aff[USER])
    users = np.asarray(users)
    rows, cols = user_codes.astype(np.int64), items.get_indexer(aff[ITEM])
    shape = (len(users), n)
    affinity = sp.csr_matrix((aff["affinity"].to_numpy(np.float64), (rows, cols)), shape=shape)
    unity = sp.csr_matrix((aff["unity"].to_numpy(np.float64), (rows, cols)), shape=shape)
    seen = sp.csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=shape)
    step = max(1, _DENSE_CELLS // max(n, 1))
    parts = []
    for start in range(0, shape[0], step):
        block = slice(start, start + step)
        scores = (affinity[block] @ similarity).toarray()
        if remove_seen:
            mask = seen[block].tocoo()
            scores[mask.row, mask.col] = -np.inf
        idx, val = top_k_per_row(scores, k)
        if normalize:
            counts = (unity[block] @ similarity).toarray()
            lo = counts.min(axis=1, keepdims=True) * rating_min
            hi = counts.max(axis=1, keepdims=True) * rating_max
            with np.errstate(invalid="ignore", divide="ignore"):
                val = (val - lo) / (hi - lo) * (rating_max - rating_min) + rating_min
        keep = np.isfinite(val)
        row, col = np.nonzero(keep)
        parts.append(
            pd.DataFrame(
                {
                    USER: users[start + row],
                    ITEM: item_ids[idx[row, col]],
                    "score": val[row, col],
                    "rank": (col + 1).astype(np.int32),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def sar_top_k_blocks(
    users: DataFrame,
    tables: SARTables,
    k: int,
    *,
    remove_seen: bool = True,
    normalize: bool = False,
    n_blocks: int | None = None,
) -> DataFrame:
    """Top-``k`` ``[u, i, score, rank]`` for the training users of ``users`` ``[u]``, by
    blocks of users; the ranking of :func:`sar_top_k` (and of the pandas SAR).

    The users are hashed into ``n_blocks`` blocks (default: the context's default
    parallelism). A cross join gives every block its own copy of the similarity and the
    catalogue, a ``cogroup`` brings each block's affinities to it, and one pandas function
    per block (``applyInPandas``) computes the block's scores as a sparse product,
    removes its seen items and ranks them (value descending, ties by item id; items
    without a co-occurrence path score 0), densifying a few thousand users at a time.
    The similarity therefore has to fit the memory of one executor's Python worker; for a
    catalogue beyond that, :func:`sar_top_k` (``method="join"``) keeps every step a
    DataFrame join. Nothing is collected to the driver either way.
    """
    spark = users.sparkSession
    blocks = _n_blocks(users, n_blocks)
    item_type = tables.frequencies.schema[ITEM].dataType
    req = users.select(USER).distinct()
    aff = (
        tables.affinity.join(req, on=USER, how="left_semi")
        .select(USER, ITEM, "affinity", "unity")
        .withColumn("b", F.pmod(F.xxhash64(USER), F.lit(blocks)))
    )
    right = (
        tables.similarity.select(ITEM, OTHER, "sim")
        .unionByName(
            tables.frequencies.select(
                ITEM,
                F.lit(None).cast(item_type).alias(OTHER),
                F.lit(None).cast("double").alias("sim"),
            )
        )
        .crossJoin(spark.range(blocks).select(F.col("id").alias("b")))
        # fresh names: both sides descend from the affinity frame, and Spark refuses to
        # group two frames of one lineage by columns it cannot tell apart
        .toDF("ri", "rj", "rsim", "rb")
    )
    schema = (
        f"{USER} {tables.affinity.schema[USER].dataType.simpleString()}, "
        f"{ITEM} {item_type.simpleString()}, score double, rank int"
    )
    options = dict(
        k=int(k),
        remove_seen=bool(remove_seen),
        normalize=bool(normalize),
        rating_min=tables.rating_min,
        rating_max=tables.rating_max,
    )

    def rank_block(left: Any, other: Any) -> Any:
        other = other.drop(columns="rb").set_axis([ITEM, OTHER, "sim"], axis=1)
        return _block_top_k(left.drop(columns="b"), other, **options)

    return aff.groupBy("b").cogroup(right.groupBy("rb")).applyInPandas(rank_block, schema)


def popularity_top_k(users: DataFrame, tables: SARTables, k: int) -> DataFrame:
    """``[u, i, score, rank]``: the ``k`` most frequent items (ties by item) for each of
    ``users`` ``[u]`` (the pandas SAR's ranking for users not seen in training)."""
    order = Window.orderBy(F.col("freq").desc(), F.col(ITEM).asc())
    top = tables.frequencies.select(
        ITEM, F.col("freq").alias("score"), F.row_number().over(order).alias("rank")
    )
    return (
        users.select(USER).distinct().crossJoin(F.broadcast(top.filter(F.col("rank") <= F.lit(k))))
    )


def sar_predict(pairs: DataFrame, tables: SARTables, *, normalize: bool = False) -> DataFrame:
    """``[u, i, score]`` for the distinct pairs ``[u, i]``: ``sum_k A[u, k] S[k, i]``, 0
    without a path, ``NaN`` where the user or the item was not seen in training."""
    distinct = pairs.select(USER, ITEM).distinct()
    affinity = tables.affinity.join(distinct.select(USER).distinct(), on=USER, how="left_semi")
    left = affinity.select(USER, F.col(ITEM).alias("k"), "affinity", "unity")
    right = tables.similarity.select(F.col(ITEM).alias("k"), F.col(OTHER).alias(ITEM), "sim")
    wanted = distinct.join(left, on=USER).join(right, on=["k", ITEM])
    scored = wanted.groupBy(USER, ITEM).agg(F.sum(F.col("affinity") * F.col("sim")).alias("score"))
    users = tables.affinity.select(USER).distinct().withColumn("ku", F.lit(True))
    items = tables.frequencies.select(ITEM).withColumn("ki", F.lit(True))
    out = (
        distinct.join(scored, on=[USER, ITEM], how="left")
        .join(users, on=USER, how="left")
        .join(F.broadcast(items), on=ITEM, how="left")
    )
    known = F.col("ku").isNotNull() & F.col("ki").isNotNull()
    score = F.coalesce(F.col("score"), F.lit(0.0))
    if normalize:
        bounds = user_bounds(sar_scores(affinity, tables.similarity), tables)
        out = out.join(bounds, on=USER, how="left")
        score = normalized(score, F.col("lo"), F.col("hi"), tables.rating_min, tables.rating_max)
    return out.select(
        USER, ITEM, F.when(known, score).otherwise(F.lit(float("nan"))).alias("score")
    )


def __getattr__(name: str) -> Any:
    """``recutils.spark.sar.SparkSAR``: the model lives in :mod:`recutils.models.sar.spark`."""
    if name == "SparkSAR":
        from recutils.models.sar.spark import SparkSAR

        return SparkSAR
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ITEM",
    "OTHER",
    "USER",
    "METHODS",
    "SARTables",
    "fit_sar",
    "popularity_top_k",
    "sar_affinity",
    "mirrored",
    "sar_cooccurrence_upper",
    "sar_predict",
    "sar_scores",
    "sar_similarity",
    "sar_top_k_blocks",
    "sar_cooccurrence_upper_blocks",
    "sar_top_k",
    "user_bounds",
]
