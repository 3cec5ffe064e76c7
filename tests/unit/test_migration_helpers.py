"""Microsoft Recommenders' pandas helpers, timer and notebook utilities under recutils names.

Expected values computed by hand (and checked once against Microsoft Recommenders 1.2.1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, StateError


@pytest.fixture
def users() -> pd.DataFrame:
    return pd.DataFrame({"userID": [1, 2, 3], "age": [20, 30, 40]})


@pytest.fixture
def items() -> pd.DataFrame:
    return pd.DataFrame({"itemID": [7, 8], "genre": ["a", "b"]})


# ---------------------------------------------------------------- filter_by / user_item_pairs
def test_filter_by_drops_keys_present_in_the_filter():
    from recutils.datasets import filter_by

    df = pd.DataFrame({"u": [1, 1, 2, 2], "i": [5, 6, 5, 6], "x": [0.1, 0.2, 0.3, 0.4]})
    out = filter_by(df, pd.DataFrame({"u": [1, 2, 9], "i": [6, 5, 9]}), ["u", "i"])
    assert out.index.tolist() == [0, 3] and out["x"].tolist() == [0.1, 0.4]
    assert filter_by(df, pd.DataFrame({"u": [2]}), ["u"])["u"].tolist() == [1, 1]


def test_user_item_pairs_cross_join_filter_and_shuffle(users, items):
    from recutils.datasets import user_item_pairs

    before = users.copy()
    plain = user_item_pairs(users, items, shuffle=False)
    assert plain.columns.tolist() == ["userID", "age", "itemID", "genre"]
    assert plain["userID"].tolist() == [1, 1, 2, 2, 3, 3]
    assert plain["itemID"].tolist() == [7, 8, 7, 8, 7, 8]
    pd.testing.assert_frame_equal(users, before)  # input untouched
    shuffled = user_item_pairs(
        users, items, user_item_filter_df=pd.DataFrame({"userID": [2], "itemID": [8]}), seed=5
    )
    # the same rows as DataFrame.sample(frac=1, random_state=5) of the filtered cross join
    assert shuffled["userID"].tolist() == [3, 1, 1, 2, 3]
    assert shuffled["itemID"].tolist() == [8, 7, 8, 7, 7]
    assert shuffled.index.tolist() == list(range(5))


def test_user_item_pairs_refuses_repeated_ids(users, items):
    from recutils.datasets import user_item_pairs

    with pytest.raises(DataError, match="drop_duplicates"):
        user_item_pairs(pd.concat([users, users.iloc[:1]]), items)
    with pytest.raises(DataError, match="share"):
        user_item_pairs(users, items.assign(age=1))


# ---------------------------------------------------------------- negative_feedback_sampler
def test_negative_feedback_sampler_counts_and_layout():
    from recutils.datasets import negative_feedback_sampler

    df = pd.DataFrame({"userID": [2, 1, 1, 3], "itemID": [2, 1, 2, 3], "rating": [3, 5, 4, 2]})
    out = negative_feedback_sampler(df, ratio_neg_per_user=1, seed=1)
    assert out.columns.tolist() == ["userID", "itemID", "rating", "feedback"]
    # users sorted; positives first, in df order; negatives: max(round(n * 1), 1) but at
    # most the unseen items (items 1, 2, 3): u1 has 1 left, u2 2 -> 1, u3 2 -> 1
    assert out["userID"].tolist() == [1, 1, 1, 2, 2, 3, 3]
    assert out["feedback"].tolist() == [1, 1, 0, 1, 0, 1, 0]
    assert out.loc[2, "itemID"] == 3  # u1's only unseen item
    neg = out[out.feedback == 0]
    seen = set(zip(df.userID, df.itemID))
    assert not any((u, i) in seen for u, i in zip(neg.userID, neg.itemID))
    assert neg["rating"].isna().all() and out["feedback"].dtype == np.int64
    again = negative_feedback_sampler(df, ratio_neg_per_user=1, seed=1)
    pd.testing.assert_frame_equal(out, again)


def test_negative_feedback_sampler_ratio_and_values():
    from recutils.datasets import negative_feedback_sampler

    # candidates are the items of df: user 3 has all 40, so it gets no negative at all
    df = pd.DataFrame(
        {
            "userID": np.repeat([1, 2, 3], [4, 4, 40]),
            "itemID": np.r_[[0, 5, 9, 30], [1, 2, 3, 4], np.arange(40)],
        }
    )
    out = negative_feedback_sampler(
        df,
        ratio_neg_per_user=2.5,
        pos_value=1.0,
        neg_value=-1.0,
        col_feedback="y",
        col_label="ignored",
        seed=3,
    )
    assert out.groupby(["userID", "y"]).size().to_dict() == {
        (1, -1.0): 10,
        (1, 1.0): 4,
        (2, -1.0): 10,
        (2, 1.0): 4,
        (3, 1.0): 40,
    }
    with pytest.raises(DataError, match="duplicate"):
        negative_feedback_sampler(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(ConfigError, match="ratio_neg_per_user"):
        negative_feedback_sampler(df, ratio_neg_per_user=0)


# ---------------------------------------------------------------- LibffmConverter
def test_libffm_converter_known_answer(tmp_path):
    from recutils.datasets import LibffmConverter

    df = pd.DataFrame(
        {
            "rating": [1, 0, 0, 1, 1],
            "field1": ["xxx1", "xxx2", "xxx4", "xxx4", "xxx4"],
            "field2": [3, 4, 5, 6, 7],
            "field3": [1.0, 2.0, 3.0, 4.0, 5.0],
            "field4": ["1", "2", "3", "4", "5"],
        }
    )
    before = df.copy()
    conv = LibffmConverter(filepath=tmp_path / "out.ffm")
    out = conv.fit_transform(df, col_rating="rating")
    assert out.to_dict("list") == {
        "rating": [1, 0, 0, 1, 1],
        "field1": ["1:1:1", "1:2:1", "1:3:1", "1:3:1", "1:3:1"],
        "field2": ["2:4:3", "2:4:4", "2:4:5", "2:4:6", "2:4:7"],
        "field3": ["3:5:1.0", "3:5:2.0", "3:5:3.0", "3:5:4.0", "3:5:5.0"],
        "field4": ["4:6:1", "4:7:1", "4:8:1", "4:9:1", "4:10:1"],
    }
    assert conv.get_params() == {
        "field count": 4,
        "feature count": 10,
        "file path": tmp_path / "out.ffm",
    }
    assert (tmp_path / "out.ffm").read_text().splitlines()[0] == "1 1:1:1 2:4:3 3:5:1.0 4:6:1"
    pd.testing.assert_frame_equal(df, before)  # input untouched (theirs rewrites it)


def test_libffm_converter_errors():
    from recutils.datasets import LibffmConverter

    with pytest.raises(StateError):
        LibffmConverter().transform(pd.DataFrame({"rating": [1]}))
    with pytest.raises(ColumnMismatchError, match="bool"):
        LibffmConverter().fit(pd.DataFrame({"rating": [1], "f": [True]}))
    with pytest.raises(ColumnMismatchError, match="label"):
        LibffmConverter().fit(pd.DataFrame({"rating": [1]}), col_rating="label")


def test_libffm_converter_refuses_fields_missing_from_rows_nan_and_none():
    from recutils.datasets import LibffmConverter

    df = pd.DataFrame(
        {"rating": [1, 0, 1], "city": ["a", None, "b"], "age": [3.0, 4.0, np.nan], "n": [1, 2, 3]}
    )
    conv = LibffmConverter().fit(df, col_rating="rating")
    with pytest.raises(DataError, match=r"\{'city': 1, 'age': 1\}"):
        conv.transform(df)
    # the complete rows convert, numbered from those rows
    out = conv.transform(df.iloc[[0]])
    assert out.to_dict("list") == {
        "rating": [1],
        "city": ["1:1:1"],
        "age": ["2:2:3.0"],
        "n": ["3:3:1"],
    }


# ---------------------------------------------------------------- timer and notebook utilities
def test_timer_has_microsoft_interface():
    from recutils.utils.timer import Timer

    with Timer() as t:
        sum(range(100))
    assert not t.running and t.interval >= 0 and str(t) == f"{t.interval:0.4f}"
    t2 = Timer()
    t2.start()
    assert t2.running
    t2.stop()
    assert t2.interval >= 0
    with pytest.raises(StateError):
        Timer().stop()


def test_notebook_utils_names(monkeypatch, tmp_path):
    from recutils.utils import notebook
    from recutils.utils import notebook_utils as nu

    assert (
        nu.store_metadata is notebook.store_metadata and nu.read_notebook is notebook.read_notebook
    )
    assert nu.is_jupyter() is False  # plain pytest process
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    assert nu.is_databricks() is False
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "13.3")
    assert nu.is_databricks() is True
    calls = {}

    def fake(path, output_path, parameters=None, kernel_name=None, timeout=None):
        calls.update(
            path=path,
            output_path=output_path,
            parameters=parameters,
            kernel_name=kernel_name,
            timeout=timeout,
        )
        return {"x": 1}

    monkeypatch.setattr(notebook, "execute_notebook", fake)
    got = nu.execute_notebook(
        input_notebook="a.ipynb", output_notebook="b.ipynb", parameters={"K": 1}
    )
    assert got == {"x": 1}
    assert calls == {
        "path": "a.ipynb",
        "output_path": "b.ipynb",
        "parameters": {"K": 1},
        "kernel_name": "python3",
        "timeout": 2200,
    }
