"""Sequence augmentations (crop, mask, reorder) for contrastive learning (CL4SRec).

Each transform maps a left-padded ``[B, L]`` int matrix of item tokens (0 = padding) to a
new one of the same shape, row by row, with every draw taken from the
``numpy.random.Generator`` it is given (seeded transforms: the same generator state gives
the same views). All of them are vectorized over the batch (Xie et al., "Contrastive
Learning for Sequential Recommendation", ICDE 2022, section 4.2):

* :func:`crop`: a random contiguous sub-sequence of ``max(1, floor(eta * n))`` items;
* :func:`mask`: each item replaced by the mask token with probability ``gamma``;
* :func:`reorder`: a random contiguous window of ``floor(beta * n)`` items shuffled;
* :func:`random_augment`: one of the given transforms per row, chosen uniformly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recutils.exceptions import ConfigError

AUGMENTATIONS = ("crop", "mask", "reorder")


def _lengths(seqs: np.ndarray) -> np.ndarray:
    return np.count_nonzero(seqs, axis=1)


def crop(seqs: np.ndarray, eta: float, rng: np.random.Generator) -> np.ndarray:
    """Keep a random contiguous run of ``max(1, floor(eta * n))`` of each row's ``n`` items."""
    b, width = seqs.shape
    n = _lengths(seqs)
    keep = np.maximum(1, np.floor(eta * n).astype(np.int64))
    keep = np.minimum(keep, np.maximum(n, 1))
    start = (rng.random(b) * (n - keep + 1)).astype(np.int64)
    cols = np.arange(width)[None, :]
    src = cols + (start + keep - n)[:, None]  # output column p takes source p + start + keep - n
    valid = cols >= (width - keep)[:, None]
    out = np.where(valid, np.take_along_axis(seqs, np.clip(src, 0, width - 1), axis=1), 0)
    return np.where(n[:, None] > 0, out, seqs)


def mask(seqs: np.ndarray, gamma: float, mask_token: int, rng: np.random.Generator) -> np.ndarray:
    """Replace each real item by ``mask_token`` with probability ``gamma``."""
    hit = (rng.random(seqs.shape) < gamma) & (seqs != 0)
    return np.where(hit, mask_token, seqs)


def reorder(seqs: np.ndarray, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Shuffle a random contiguous window of ``floor(beta * n)`` of each row's ``n`` items."""
    b, width = seqs.shape
    n = _lengths(seqs)
    size = np.floor(beta * n).astype(np.int64)
    start = (width - n) + (rng.random(b) * (n - size + 1)).astype(np.int64)
    cols = np.arange(width)[None, :]
    inside = (cols >= start[:, None]) & (cols < (start + size)[:, None])
    keys = np.where(inside, start[:, None] + rng.random((b, width)) * size[:, None], cols)
    return np.take_along_axis(seqs, np.argsort(keys, axis=1, kind="stable"), axis=1)


def random_augment(
    seqs: np.ndarray,
    methods: Sequence[str],
    rng: np.random.Generator,
    *,
    eta: float,
    gamma: float,
    beta: float,
    mask_token: int,
) -> np.ndarray:
    """Each row transformed by one of ``methods``, chosen uniformly per row."""
    unknown = [m for m in methods if m not in AUGMENTATIONS]
    if unknown or not methods:
        raise ConfigError(
            f"augmentations must be a non-empty subset of {list(AUGMENTATIONS)}, got {list(methods)}."
        )
    choice = rng.integers(0, len(methods), len(seqs))
    out = seqs.copy()
    for j, method in enumerate(methods):  # a loop over the (at most three) transforms, not rows
        rows = np.flatnonzero(choice == j)
        if rows.size == 0:
            continue
        part = seqs[rows]
        if method == "crop":
            out[rows] = crop(part, eta, rng)
        elif method == "mask":
            out[rows] = mask(part, gamma, mask_token, rng)
        else:
            out[rows] = reorder(part, beta, rng)
    return out


__all__ = ["AUGMENTATIONS", "crop", "mask", "random_augment", "reorder"]
