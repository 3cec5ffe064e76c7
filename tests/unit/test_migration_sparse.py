"""Microsoft Recommenders' ``AffinityMatrix`` under ``recutils.datasets``.

Expected values computed by hand (and checked once against Microsoft Recommenders 1.2.1:
same matrix, maps, id order and output frames on these frames).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recutils.datasets import AffinityMatrix
from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, NotFittedError


@pytest.fixture
def ratings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "userID": [3, 1, 3, 2, 1, 2, 1],
            "itemID": [30, 10, 20, 20, 40, 10, 30],
            "rating": [5.0, 4.0, 3.0, 2.0, 1.0, 4.0, 2.0],
        }
    )


# users sorted 1, 2, 3; items by first appearance once sorted by user:
# user 1 rates 10, 40, 30 (frame order), user 2 adds 20
EXPECTED = np.array(
    [
        [4.0, 1.0, 2.0, 0.0],
        [4.0, 0.0, 0.0, 2.0],
        [0.0, 0.0, 5.0, 3.0],
    ]
)


def test_gen_affinity_matrix_orders_users_by_id_and_items_by_first_appearance(ratings):
    before = ratings.copy()
    am = AffinityMatrix(ratings)
    matrix, map_users, map_items = am.gen_affinity_matrix()
    assert isinstance(matrix, np.ndarray) and matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix, EXPECTED)
    assert map_users == {1: 0, 2: 1, 3: 2}
    assert list(map_items.items()) == [(10, 0), (40, 1), (30, 2), (20, 3)]
    assert am.map_back_users == {0: 1, 1: 2, 2: 3}
    assert am.map_back_items == {0: 10, 1: 40, 2: 30, 3: 20}
    assert am.user_ids_.tolist() == [1, 2, 3] and am.item_ids_.tolist() == [10, 40, 30, 20]
    pd.testing.assert_frame_equal(ratings, before)  # input untouched


def test_item_order_within_a_user_is_frame_order_on_large_frames():
    # 40 rows of one user: the sort by user must keep their order (a stable sort)
    items = np.arange(40)[::-1] * 3
    df = pd.DataFrame(
        {
            "userID": np.r_[np.full(40, 7), [5]],
            "itemID": np.r_[items, [1000]],
            "rating": np.ones(41),
        }
    )
    _, map_users, map_items = AffinityMatrix(df).gen_affinity_matrix()
    assert list(map_users) == [5, 7]
    assert list(map_items) == [1000, *items.tolist()]


@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_matrix_takes_the_rating_dtype(ratings, dtype):
    matrix, _, _ = AffinityMatrix(ratings.astype({"rating": dtype})).gen_affinity_matrix()
    assert matrix.dtype == dtype
    np.testing.assert_array_equal(matrix, EXPECTED.astype(dtype))


def test_items_list_fixes_the_columns(ratings):
    am = AffinityMatrix(ratings, items_list=np.array([40, 30, 20, 10, 50]))
    matrix, _, map_items = am.gen_affinity_matrix()
    assert list(map_items) == [40, 30, 20, 10, 50]
    np.testing.assert_array_equal(matrix, [[1, 2, 0, 4, 0], [0, 0, 2, 4, 0], [0, 5, 3, 0, 0]])
    with pytest.raises(DataError, match="not in items_list.*40"):
        AffinityMatrix(ratings, items_list=[10, 20, 30]).gen_affinity_matrix()
    with pytest.raises(DataError, match="items_list must be unique"):
        AffinityMatrix(ratings, items_list=[10, 20, 30, 40, 10]).gen_affinity_matrix()


def test_repeated_user_item_rows_are_refused_not_summed(ratings):
    doubled = pd.concat([ratings, ratings.iloc[[0]]])
    with pytest.raises(DataError, match=r"1 repeated \(userID, itemID\).*drop_duplicates.*groupby"):
        AffinityMatrix(doubled).gen_affinity_matrix()


def test_bad_input_is_refused(ratings):
    with pytest.raises(ColumnMismatchError, match="score"):
        AffinityMatrix(ratings, col_rating="score").gen_affinity_matrix()
    with pytest.raises(DataError, match="NaN"):
        AffinityMatrix(ratings.assign(rating=[np.nan, 4, 3, 2, 1, 4, 2])).gen_affinity_matrix()
    with pytest.raises(DataError, match="missing id"):
        AffinityMatrix(ratings.assign(userID=[np.nan, 1, 3, 2, 1, 2, 1])).gen_affinity_matrix()


def test_map_back_sparse_ratings_round_trip(ratings):
    am = AffinityMatrix(ratings)
    matrix, _, _ = am.gen_affinity_matrix()
    back = am.map_back_sparse(matrix, kind="ratings")
    # row-major: user 1's items in column order 10, 40, 30, then user 2: 10, 20, user 3: 30, 20
    expected = pd.DataFrame(
        {
            "userID": [1, 1, 1, 2, 2, 3, 3],
            "itemID": [10, 40, 30, 10, 20, 30, 20],
            "rating": [4.0, 1.0, 2.0, 4.0, 2.0, 5.0, 3.0],
        }
    )
    pd.testing.assert_frame_equal(back, expected)
    pd.testing.assert_frame_equal(
        am.map_back_sparse(sp.csr_matrix(matrix), kind="ratings"), expected
    )


def test_map_back_sparse_predictions_keep_the_matrix_dtype(ratings):
    am = AffinityMatrix(
        ratings.rename(columns={"userID": "u", "itemID": "i"}),
        col_user="u",
        col_item="i",
        col_pred="score",
    )
    am.gen_affinity_matrix()
    top = np.zeros((3, 4), dtype=np.float32)
    top[0, 3], top[2, 1], top[2, 0] = 0.5, 0.25, np.nan
    out = am.map_back_sparse(top, kind="prediction")
    assert out.columns.tolist() == ["u", "i", "score"]
    assert out.dtypes.tolist() == [np.int64, np.int64, np.float32]
    assert out["u"].tolist() == [1, 3, 3] and out["i"].tolist() == [20, 10, 40]
    np.testing.assert_array_equal(
        out["score"].to_numpy(), np.array([0.5, np.nan, 0.25], dtype=np.float32)
    )
    # explicit zeros of a sparse matrix are not entries
    stored = sp.csr_matrix(
        (np.array([0.0, 1.5]), (np.array([0, 1]), np.array([0, 1]))), shape=(3, 4)
    )
    assert am.map_back_sparse(stored, kind="prediction")[["u", "i"]].values.tolist() == [[2, 40]]
    empty = am.map_back_sparse(np.zeros((3, 4)), kind="prediction")
    assert len(empty) == 0 and empty.columns.tolist() == ["u", "i", "score"]


def test_map_back_sparse_refuses_misuse(ratings):
    am = AffinityMatrix(ratings)
    with pytest.raises(NotFittedError, match="gen_affinity_matrix"):
        am.map_back_sparse(EXPECTED, kind="ratings")
    am.gen_affinity_matrix()
    with pytest.raises(ConfigError, match="'predictions'.*allowed"):
        am.map_back_sparse(EXPECTED, kind="predictions")
    with pytest.raises(DataError, match=r"shape \(3, 3\)"):
        am.map_back_sparse(EXPECTED[:, :3], kind="ratings")


def test_round_trip_through_numpy_stratified_split(ratings):
    from recutils.splitting import numpy_stratified_split

    am = AffinityMatrix(ratings)
    matrix, _, _ = am.gen_affinity_matrix()
    train, test = numpy_stratified_split(matrix, ratio=0.5, seed=3)
    both = pd.concat(
        [am.map_back_sparse(train, kind="ratings"), am.map_back_sparse(test, kind="ratings")]
    )
    key = ["userID", "itemID"]
    pd.testing.assert_frame_equal(
        both.sort_values(key).reset_index(drop=True),
        ratings.sort_values(key).reset_index(drop=True),
    )


def test_save_path_writes_plain_id_arrays(ratings, tmp_path):
    named = ratings.assign(itemID=ratings["itemID"].map(lambda i: f"m{i}"))
    AffinityMatrix(named, save_path=str(tmp_path / "maps")).gen_affinity_matrix()
    assert np.load(tmp_path / "maps" / "user_ids.npy", allow_pickle=False).tolist() == [1, 2, 3]
    assert np.load(tmp_path / "maps" / "item_ids.npy", allow_pickle=False).tolist() == [
        "m10",
        "m40",
        "m30",
        "m20",
    ]
    mixed = ratings.assign(itemID=pd.Series([30, "a", 20, 20, 40, 10, 30], dtype=object))
    with pytest.raises(DataError, match="without pickling"):
        AffinityMatrix(mixed, save_path=tmp_path / "mixed").gen_affinity_matrix()
    assert not (tmp_path / "mixed").exists()
