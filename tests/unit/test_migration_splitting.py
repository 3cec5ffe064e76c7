"""numpy_stratified_split: Microsoft Recommenders' name and per-user counts, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.exceptions import ConfigError
from recutils.splitting import numpy_stratified_split
from recutils.splitting.numpy_splitters import numpy_stratified_split as direct


@pytest.fixture
def X() -> np.ndarray:
    rng = np.random.default_rng(0)
    n_rated = np.array([4, 10, 1, 0, 2, 6, 8, 3])  # ratings per user
    x = np.zeros((8, 12), dtype=np.int64)
    for u, n in enumerate(n_rated):  # test data only
        x[u, rng.choice(12, n, replace=False)] = rng.integers(1, 6, n)
    return x


def test_counts_per_user_follow_the_ratio(X):
    assert numpy_stratified_split is direct
    train, test = numpy_stratified_split(X, ratio=0.75, seed=42)
    # test items per user: round(n * 25 / 100), halves to even: 4 -> 1, 10 -> 2.5 -> 2,
    # 1 -> 0.25 -> 0, 0 -> 0, 2 -> 0.5 -> 0, 6 -> 1.5 -> 2, 8 -> 2, 3 -> 0.75 -> 1
    assert (test != 0).sum(axis=1).tolist() == [1, 2, 0, 0, 0, 2, 2, 1]
    assert ((train != 0).sum(axis=1) + (test != 0).sum(axis=1)).tolist() == [
        4,
        10,
        1,
        0,
        2,
        6,
        8,
        3,
    ]
    np.testing.assert_array_equal(train + test, X)
    assert not ((train != 0) & (test != 0)).any()
    assert train.dtype == X.dtype and test.shape == X.shape


def test_percentage_is_rounded_not_truncated(X):
    # Microsoft Recommenders takes int((1 - 0.8) * 100) = 19 %; here 20 %: 10 ratings -> 2
    _, test = numpy_stratified_split(X, ratio=0.8)
    assert (test != 0).sum(axis=1)[1] == 2
    assert (test != 0).sum(axis=1)[6] == 2  # 8 * 0.2 = 1.6 -> 2


def test_seeded_and_input_untouched(X):
    before = X.copy()
    a = numpy_stratified_split(X, seed=1)
    b = numpy_stratified_split(X, seed=1)
    c = numpy_stratified_split(X, seed=2)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(X, before)


def test_sparse_input_gives_the_same_split_as_csr(X):
    dense = numpy_stratified_split(X, seed=7)
    train, test = numpy_stratified_split(sp.csr_matrix(X), seed=7)
    assert sp.issparse(train) and sp.issparse(test)
    np.testing.assert_array_equal(train.toarray(), dense[0])
    np.testing.assert_array_equal(test.toarray(), dense[1])


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.2, True, "0.75"])
def test_bad_ratio(X, ratio):
    with pytest.raises(ConfigError, match="ratio"):
        numpy_stratified_split(X, ratio=ratio)


def test_bad_shape():
    with pytest.raises(ConfigError, match="2-D"):
        numpy_stratified_split(np.ones(5))
