"""Vectorized neighbour terms of surprise's KNNBaseline, for many (anchor, group) pairs at once.

KNNBaseline estimates ``r_xy = b_xy + sum_N s(x, c) (r_cy - b_cy) / sum_N s(x, c)``: for the
anchor ``x`` (the user, or the item when ``user_based=False``) and the group ``y`` (the item,
or the user), the candidates are the group's members (the users who rated the item, or the
items the user rated) in surprise's list order; ``N`` holds the ``k`` candidates most similar
to ``x`` (``heapq.nlargest``: among equal similarities the earlier in the list first), of
which only positive similarities count; with fewer than ``min_k`` of those, or a zero sum,
the term is 0.

:class:`NeighbourTerms` computes that term for a block of anchors against every group:

* groups with at most ``k`` members need no selection: their terms are three products of the
  block's positive similarities with sparse member matrices (residuals, ones);
* larger groups are laid out once as rows of a padded member table, bucketed by size (less
  than a quarter of padding). Per block of anchors, every member gets one integer sort key,
  ``(dense rank of its similarity to the anchor) * 2**b + (its position in the list)``, so
  that one ``np.sort`` along the rows (vectorized, much cheaper than a partition) puts each
  row in surprise's exact order, equal similarities by list position; the first ``k`` keys
  of a row name its neighbours.

The result equals the per-pair rule up to the order of the floating-point sums (about
1e-15), checked against surprise's own ``predict`` in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Elements of the keyed (anchor, group, member) block, per chunk of anchors.
_CHUNK_ELEMENTS = 1 << 18


@dataclass
class _Bucket:
    groups: np.ndarray  # group ids of the rows
    members: np.ndarray  # [n_groups, width] candidate ids, padding -> the dummy candidate
    resid: np.ndarray  # [n_groups * width] residuals in the same layout, flat (0 on padding)


class NeighbourTerms:
    """Neighbour terms of anchors against groups (see the module docstring).

    Args:
        member: Candidate id of every membership (a rating), in surprise's list order
            within each group.
        group: Group id of every membership.
        resid: ``r - b`` of every membership.
        n_candidates: Number of candidates (columns of the similarity rows).
        n_groups: Number of groups.
        k: Maximum number of neighbours.
        min_k: Minimum number of positive-similarity neighbours.
    """

    def __init__(
        self,
        member: np.ndarray,
        group: np.ndarray,
        resid: np.ndarray,
        n_candidates: int,
        n_groups: int,
        k: int,
        min_k: int,
    ) -> None:
        self.k, self.min_k = int(k), int(min_k)
        self.n_candidates, self.n_groups = int(n_candidates), int(n_groups)
        member = np.asarray(member, dtype=np.int64)
        group = np.asarray(group, dtype=np.int64)
        order = np.argsort(group, kind="stable")  # list order kept inside each group
        member, group, resid = (
            member[order],
            group[order],
            np.asarray(resid, dtype=np.float64)[order],
        )
        sizes = np.bincount(group, minlength=self.n_groups)
        small = sizes[group] <= self.k
        shape = (self.n_candidates, self.n_groups)
        # small groups: every positive member is a neighbour
        self._resid_small = sp.csr_matrix(
            (resid[small], (member[small], group[small])), shape=shape
        )
        self._ones_small = sp.csr_matrix(
            (np.ones(int(small.sum())), (member[small], group[small])), shape=shape
        )
        # large groups: padded rows in list order, bucketed by size
        starts = np.concatenate([[0], np.cumsum(sizes)])
        large = np.flatnonzero(sizes > self.k)
        self._buckets: list[_Bucket] = []
        if large.size:
            steps = np.ceil(4 * np.log2(sizes[large]))
            widths = np.maximum(np.ceil(2.0 ** (steps / 4)).astype(np.int64), sizes[large])
            for width in np.unique(widths):
                gids = large[widths == width]
                pos = np.arange(width)[None, :]
                valid = pos < sizes[gids][:, None]
                idx = np.where(valid, starts[gids][:, None] + pos, 0)
                self._buckets.append(
                    _Bucket(
                        gids,
                        np.where(valid, member[idx], self.n_candidates),
                        np.ascontiguousarray(np.where(valid, resid[idx], 0.0)).ravel(),
                    )
                )

    def __call__(
        self, sim: np.ndarray, ranking: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """Terms ``[n_anchors, n_groups]`` of anchors with similarity rows ``sim`` ``[n_anchors, n_candidates]``.

        ``ranking``: :func:`dense_ranking` of ``sim`` when the caller keeps it (it depends on
        the similarities only); computed here otherwise.
        """
        n = sim.shape[0]
        out = np.zeros((n, self.n_groups))
        if n == 0:
            return out
        pos = np.maximum(sim, 0.0)
        # small groups: sums over every positive member (sparse products, transposed)
        num = (self._resid_small.T @ pos.T).T
        den = (self._ones_small.T @ pos.T).T
        cnt = (self._ones_small.T @ (sim > 0).T.astype(np.float64)).T if self.min_k > 1 else None
        out[:] = self._terms(num, den, cnt)
        if not self._buckets:
            return out
        ranks, sim_of_rank = dense_ranking(sim) if ranking is None else ranking
        c = self.n_candidates
        width_bits = max(int(max(b.members.shape[1] for b in self._buckets) - 1).bit_length(), 1)
        for bucket in self._buckets:
            rows = max(1, _CHUNK_ELEMENTS // bucket.members.size)
            # a key holds (anchor in the chunk, dense rank) above the member's list position:
            # the anchor part keeps rows apart (it is constant along a sorted row) and makes
            # the upper bits a flat index into the chunk's ``sim_of_rank`` rows
            key_dtype = np.int32 if (rows * (c + 1)) << width_bits < 2**31 else np.int64
            local = (np.arange(rows, dtype=key_dtype) * (c + 1))[:, None]
            for lo in range(0, n, rows):
                sl = slice(lo, min(lo + rows, n))
                rank_keys = (ranks[sl].astype(key_dtype) + local[: sl.stop - lo]) << width_bits
                self._large(out, rank_keys, sim_of_rank[sl].ravel(), sl, bucket, width_bits)
        return out

    def _terms(self, num: np.ndarray, den: np.ndarray, cnt: np.ndarray | None) -> np.ndarray:
        # with min_k <= 1 the count test is the sum test: a positive sum needs a neighbour
        ok = den != 0 if cnt is None else (cnt >= self.min_k) & (den != 0)
        return np.where(ok, num / np.where(den != 0, den, 1.0), 0.0)

    def _large(
        self,
        out: np.ndarray,
        rank_keys: np.ndarray,
        sim_of_rank: np.ndarray,
        rows: slice,
        bucket: _Bucket,
        width_bits: int,
    ) -> None:
        """Terms of one chunk of anchors against one bucket of large groups. Chunks are
        small (:data:`_CHUNK_ELEMENTS`) so that the passes below stay in the CPU's cache.

        ``rank_keys``: the chunk's rank keys (see :meth:`__call__`); ``sim_of_rank``: the
        chunk's rows of similarity by rank, flat."""
        k = self.k
        keys = np.take(rank_keys, bucket.members, axis=1)  # [anchors, groups, width]
        keys |= np.arange(bucket.members.shape[1], dtype=keys.dtype)
        top = np.sort(keys, axis=2)[:, :, :k]  # surprise's k nearest, in order
        s = sim_of_rank[top >> width_bits]
        position = top & ((1 << width_bits) - 1)
        position += (np.arange(top.shape[1], dtype=top.dtype) * bucket.members.shape[1])[
            None, :, None
        ]
        resid = bucket.resid[position]
        w = np.maximum(s, 0.0)
        num = np.einsum("agk,agk->ag", w, resid)
        den = w.sum(axis=2)
        cnt = (s > 0).sum(axis=2) if self.min_k > 1 else None
        out[rows, bucket.groups] = self._terms(num, den, cnt)


def dense_ranking(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense rank of every candidate in each row's descending order of similarity (equal
    similarities share a rank) and the similarity of each rank.

    Returns ``(ranks [n, c + 1] int32, sim_of_rank [n, c + 1])``: the extra last column
    is the padding's dummy candidate, ranked last with similarity 0 (never a neighbour).
    """
    n, c = sim.shape
    order = np.argsort(-sim, axis=1)
    by_rank = np.take_along_axis(sim, order, axis=1)
    dense = np.zeros((n, c), dtype=np.int32)
    np.cumsum(by_rank[:, 1:] != by_rank[:, :-1], axis=1, out=dense[:, 1:])
    ranks = np.empty((n, c + 1), dtype=np.int32)
    np.put_along_axis(ranks, order, dense, axis=1)
    ranks[:, c] = c
    sim_of_rank = np.zeros((n, c + 1))
    np.put_along_axis(sim_of_rank, dense, by_rank, axis=1)  # equal sims: the same value
    return ranks, sim_of_rank
