"""Feature configs and the fitted encoder (numpy only), incl. train/serve consistency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ColumnMismatchError, ConfigError
from recutils.nn.features import OOV, PAD, FeatureConfig, FeatureEncoder, infer_feature_configs


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user": [10, 10, 11, 12, 12, 12],
            "item": ["a", "b", "a", "c", "a", "b"],
            "age": [30, 30, 41, 25, 25, 25],
            "price": [1.0, 3.0, 1.0, np.nan, 1.0, 3.0],
            "genres": ["x|y", "y", "x|y", "", "x|y", "y"],
            "hist": ["a|b|c", "a", "", "b|c", "c|a|b|a", "b"],
        }
    )


def _encoder(**kw) -> FeatureEncoder:
    feats = [
        FeatureConfig(name="user", column="@user"),
        FeatureConfig(name="item", column="@item"),
        FeatureConfig(name="age", type="numeric", boundaries=[28, 35]),
        FeatureConfig(name="price", type="numeric"),
        FeatureConfig(name="genres", type="tags"),
        FeatureConfig(name="hist", type="sequence", max_length=2, embedding_name="item"),
    ]
    return FeatureEncoder(feats, column_map={"@user": "user", "@item": "item"}, **kw)


def test_vocabulary_by_frequency_then_first_appearance(frame):
    enc = _encoder().fit(frame, col_user="user", col_item="item")
    out = enc.transform(frame)
    # user 12 (3 rows) first, then 10 (2), then 11 (1): ids 2, 3, 4
    assert out["user"].tolist() == [3, 3, 4, 2, 2, 2]
    assert out["user"].dtype == np.int64


def test_oov_missing_and_buckets(frame):
    enc = _encoder().fit(frame, col_user="user", col_item="item")
    serve = frame.iloc[:2].copy()
    serve["user"] = [999, 10]
    serve["age"] = [np.nan, 50]
    out = enc.transform(serve)
    assert out["user"].tolist() == [OOV, 3]
    assert out["age"].tolist() == [PAD, 4]  # 50 >= 35: bucket 2 -> id 4
    price = enc.transform(frame)["price"]
    assert price.dtype == np.float32 and price[3] == 0.0  # NaN -> the mean -> 0
    assert abs(float(np.mean(np.delete(price, 3)))) < 1e-6


def test_tags_and_sequence_padding(frame):
    enc = _encoder().fit(frame, col_user="user", col_item="item")
    out = enc.transform(frame)
    assert out["genres"].shape == (6, 2)
    assert (out["genres"][3] == 0).all()  # empty string -> all padding
    # sequence keeps the last max_length=2 tokens, in order, and shares the item vocabulary
    item_id = dict(zip(frame["item"], enc.transform(frame)["item"]))
    assert out["hist"][0].tolist() == [item_id["b"], item_id["c"]]
    assert out["hist"][1].tolist() == [item_id["a"], 0]
    assert enc.specs["hist"].table == "item" == enc.specs["item"].table


def test_hashing_is_stable():
    df = pd.DataFrame({"c": ["x", "y", "z", "x"]})
    enc = FeatureEncoder([FeatureConfig(name="c", hash_buckets=7)]).fit(df)
    a = enc.transform(df)["c"]
    b = FeatureEncoder([FeatureConfig(name="c", hash_buckets=7)]).fit(df).transform(df)["c"]
    assert a.tolist() == b.tolist() and a[0] == a[3] and (a >= 2).all() and (a < 9).all()


def test_min_count():
    df = pd.DataFrame({"c": ["x", "x", "y"]})
    enc = FeatureEncoder([FeatureConfig(name="c", min_count=2)]).fit(df)
    assert enc.transform(df)["c"].tolist() == [2, 2, OOV]


def test_sides_detected(frame):
    enc = _encoder().fit(frame, col_user="user", col_item="item")
    assert enc.side_of("user") == "user" and enc.side_of("age") == "user"
    assert enc.side_of("item") == "item" and enc.side_of("genres") == "item"
    assert enc.side_of("hist") == "context"


def test_train_serve_consistency_after_save_load(frame, tmp_path):
    enc = _encoder().fit(frame, col_user="user", col_item="item")
    enc.save(tmp_path / "enc")
    loaded = FeatureEncoder.load(tmp_path / "enc")
    serve = frame.sample(frac=1.0, random_state=3)  # another order, same rows
    a, b = enc.transform(serve), loaded.transform(serve)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    # a single row encodes exactly as inside a batch
    single = loaded.transform(serve.iloc[[2]])
    for name in a:
        np.testing.assert_array_equal(single[name][0], a[name][2])


def test_input_not_mutated(frame):
    before = frame.copy()
    _encoder().fit(frame, col_user="user", col_item="item").transform(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_config_errors():
    with pytest.raises(ConfigError, match="type"):
        FeatureConfig(name="a", type="image")
    with pytest.raises(ConfigError, match="increasing"):
        FeatureConfig(name="a", type="numeric", boundaries=[3, 1])
    with pytest.raises(ConfigError, match="unknown"):
        FeatureConfig.from_dict({"name": "a", "embeding_dim": 3})
    with pytest.raises(ConfigError, match="unique"):
        FeatureEncoder([FeatureConfig(name="a"), FeatureConfig(name="a")])


def test_missing_column_and_inference(frame):
    with pytest.raises(ColumnMismatchError, match="nope"):
        FeatureEncoder([FeatureConfig(name="nope")]).fit(frame)
    kinds = {f.name: f.type for f in infer_feature_configs(frame, ["user", "item", "genres"])}
    assert kinds == {"user": "categorical", "item": "categorical", "genres": "tags"}
