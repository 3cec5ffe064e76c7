"""BaseRecommender: id mapping, policies, top-k, predict, save/load; config helpers."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recutils.config import BaseConfig, load_config
from recutils.exceptions import (
    ColumnMismatchError,
    ConfigError,
    DataError,
    DataWarning,
    NotFittedError,
)
from recutils.models.base import BaseRecommender, TrainData, check_top_k, top_k_per_row
from recutils.protocols import Recommender


@dataclass
class ToyConfig(BaseConfig):
    offset: float = 0.0


class ToyModel(BaseRecommender):
    """Score = item popularity (rows) + offset; a minimal subclass."""

    name = "toy"
    config_class = ToyConfig
    needs_rating = False

    def _fit(self, data: TrainData) -> None:
        self.pop_ = np.bincount(data.item_idx, minlength=data.n_items).astype(np.float64)
        self.fit_rows_ = data.user_idx.size

    def _score_users(self, user_idx: np.ndarray, **_: Any) -> np.ndarray:
        return np.tile(self.pop_ + self.config.offset, (user_idx.size, 1))

    def _state(self):
        return {"pop": self.pop_}, {"fit_rows": self.fit_rows_}

    def _set_state(self, arrays, meta):
        self.pop_ = arrays["pop"]
        self.fit_rows_ = meta["fit_rows"]


@pytest.fixture
def df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "userID": ["a", "a", "b", "c", "c", "c"],
            "itemID": ["x", "y", "x", "x", "z", "w"],
            "rating": [1.0, 2, 3, 4, 5, 1],
        }
    )


def test_protocol_and_lifecycle(df) -> None:
    model = ToyModel()
    assert isinstance(model, Recommender)
    with pytest.raises(NotFittedError):
        model.recommend_k_items(["a"])
    with pytest.raises(NotFittedError):
        _ = model.pop_
    assert not hasattr(model, "pop_")  # NotFittedError is an AttributeError
    assert model.fit(df) is model and model.is_fitted
    assert model.user_ids_.tolist() == ["a", "b", "c"]
    assert model.item_ids_.tolist() == ["w", "x", "y", "z"]  # sorted ids


def test_recommend_ties_by_item_index_and_remove_seen(df) -> None:
    model = ToyModel().fit(df)
    rec = model.recommend_k_items(["b", "a"], top_k=2)
    # popularity: x=3, w=y=z=1; ties go to the lower (sorted) item id
    assert rec["userID"].tolist() == ["b", "b", "a", "a"]
    assert rec["itemID"].tolist() == ["w", "y", "w", "z"]
    assert rec["rank"].tolist() == [1, 2, 1, 2]
    full = model.recommend_k_items(pd.DataFrame({"userID": ["c"]}), top_k=10)
    assert full["itemID"].tolist() == ["y"]  # fewer than top_k when little is unseen
    kept = model.recommend_k_items(["c"], top_k=10, remove_seen=False)
    assert kept["itemID"].tolist() == ["x", "w", "y", "z"]


def test_unknown_users_skipped_with_one_warning(df) -> None:
    model = ToyModel().fit(df)
    with pytest.warns(DataWarning, match="skipped") as rec_w:
        out = model.recommend_k_items(["zz", "a", "yy"], top_k=1)
    assert len(rec_w) == 1 and out["userID"].tolist() == ["a"]


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "3", None])
def test_top_k_must_be_positive_int(df, bad) -> None:
    model = ToyModel().fit(df)
    with pytest.raises(ConfigError, match="top_k"):
        model.recommend_k_items(["a"], top_k=bad)
    assert check_top_k(np.int64(4)) == 4


def test_predict_order_and_unknowns(df) -> None:
    model = ToyModel(offset=0.5).fit(df)
    pairs = pd.DataFrame(
        {"userID": ["c", "q", "a"], "itemID": ["x", "x", "nope"]}, index=[10, 5, 7]
    )
    with pytest.warns(DataWarning) as w:
        pred = model.predict(pairs)
    assert len(w) == 1
    assert pred["prediction"].iloc[0] == 3.5 and pred["prediction"].iloc[1:].isna().all()
    assert pred["userID"].tolist() == ["c", "q", "a"]


def test_fit_validation(df) -> None:
    with pytest.raises(ColumnMismatchError, match="user"):
        ToyModel(col_user="user").fit(df)
    with pytest.raises(DataError, match="empty"):
        ToyModel().fit(df.iloc[:0])
    bad = df.copy()
    bad.loc[0, "userID"] = None
    with pytest.raises(DataError, match="missing"):
        ToyModel().fit(bad)


def test_duplicate_policies(df) -> None:
    dup = pd.concat([df, df.iloc[[0]]], ignore_index=True)

    class Strict(ToyModel):
        duplicates = "error"

    class Summing(ToyModel):
        duplicates = "sum"
        needs_rating = True

        def _fit(self, data: TrainData) -> None:
            super()._fit(data)
            self.ratings_ = data.rating

    with pytest.raises(DataError, match="1 duplicate"):
        Strict().fit(dup)
    m = Summing().fit(dup)
    assert m.fit_rows_ == len(df) and m.ratings_.max() == 5.0 and 2.0 in m.ratings_


def test_nan_rating_is_an_error(df) -> None:
    class Rated(ToyModel):
        needs_rating = True

    bad = df.copy()
    bad.loc[1, "rating"] = np.nan
    with pytest.raises(DataError, match="NaN"):
        Rated().fit(bad)


def test_save_load_round_trip_and_refusals(df, tmp_path) -> None:
    model = ToyModel(offset=2.0, col_prediction="score").fit(df)
    folder = model.save(tmp_path / "m")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"] == "toy" and manifest["config"] == {"offset": 2.0}
    assert manifest["columns"]["col_prediction"] == "score"
    loaded = ToyModel.load(folder)
    assert loaded.fit_rows_ == model.fit_rows_ and loaded.col_prediction == "score"
    pd.testing.assert_frame_equal(
        model.recommend_k_items(["a", "c"]), loaded.recommend_k_items(["a", "c"])
    )

    # another model's class refuses the folder
    class Other(ToyModel):
        name = "other"

    with pytest.raises(ConfigError, match="holds a 'toy' model"):
        Other.load(folder)
    # a newer format version is refused
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="format version 99"):
        ToyModel.load(folder)
    with pytest.raises(ConfigError, match="manifest"):
        ToyModel.load(tmp_path / "missing")


def test_unfitted_save_load(tmp_path) -> None:
    ToyModel(offset=1.0).save(tmp_path / "u")
    loaded = ToyModel.load(tmp_path / "u")
    assert not loaded.is_fitted and loaded.config.offset == 1.0


def test_config_from_dict_to_dict_yaml(tmp_path) -> None:
    cfg = ToyConfig.from_dict({"offset": 1.5})
    assert ToyConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match=r"\['ofset'\].*allowed: \['offset'\]"):
        ToyConfig.from_dict({"ofset": 1})
    assert load_config("offset: 3", ToyConfig).offset == 3
    path = tmp_path / "c.yaml"
    path.write_text("offset: 4\n")
    assert load_config(path, ToyConfig).offset == 4
    assert load_config(str(path), ToyConfig).offset == 4
    assert load_config(None, ToyConfig) == ToyConfig()
    with pytest.raises(ConfigError, match="mapping"):
        load_config("- 1\n- 2\n", ToyConfig)
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config("a: [1,\n", ToyConfig)
    with pytest.raises(ConfigError):
        ToyModel(offsett=1)
    assert ToyModel(config="offset: 7").config.offset == 7
    assert ToyModel(config={"offset": 7}, offset=8).offset == 8  # config fields as attributes


def test_top_k_per_row_ties_and_inf() -> None:
    s = np.array([[1.0, 3.0, 3.0, 3.0, -np.inf, np.nan], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    idx, val = top_k_per_row(s.copy(), 2)
    assert idx.tolist() == [[1, 2], [0, 1]]
    idx, val = top_k_per_row(s.copy(), 6)
    assert idx[0].tolist() == [1, 2, 3, 0, 4, 5] and np.isneginf(val[0, 4:]).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 9), st.integers(1, 12), st.integers(0, 2**31))
def test_top_k_per_row_matches_full_sort(n, m, k, seed) -> None:
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 4, (n, m)).astype(np.float64)  # many ties
    idx, val = top_k_per_row(s.copy(), k)
    expected = np.lexsort((np.broadcast_to(np.arange(m), (n, m)), -s), axis=1)[:, : min(k, m)]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_array_equal(val, np.take_along_axis(s, expected, axis=1))


def test_progress_and_threads_do_not_change_results(df) -> None:
    a = ToyModel(n_jobs=1).fit(df)
    b = ToyModel(n_jobs=3, progress=True).fit(df)
    b.block_bytes = 8  # one user per block
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pd.testing.assert_frame_equal(
            a.recommend_k_items(["a", "b", "c"]), b.recommend_k_items(["a", "b", "c"])
        )


# ------------------------------------------------------- side data through the contract
class SideModel(ToyModel):
    """Declares a side column: records what the contract hands to _fit and _score_pairs."""

    name = "toy_side"
    duplicates = "last"

    def _side_columns(self) -> list[str]:
        return ["genre"]

    def _fit(self, data: TrainData) -> None:
        super()._fit(data)
        self.train_frame_ = data.frame
        self.train_codes_ = (data.user_idx.copy(), data.item_idx.copy())

    def _score_pairs(self, user_idx, item_idx, *, frame=None, **kwargs):
        self.__dict__.setdefault("scoring_frames", []).append(frame)
        return (frame["genre"] == "drama").to_numpy(dtype=np.float64) + item_idx


def test_declared_side_columns_reach_fit_and_score_pairs(df) -> None:
    train = df.assign(
        genre=["drama", "comedy", "drama", "drama", "noir", "comedy"], other=range(len(df))
    )
    train = pd.concat([train, train.iloc[[1]].assign(genre="horror")], ignore_index=True)
    model = SideModel().fit(train)
    frame = model.train_frame_
    # ids + the declared column only, rows aligned with the codes ("last" kept the repeat)
    assert list(frame.columns) == ["userID", "itemID", "genre"]
    users, items = model.train_codes_
    assert len(frame) == users.size == len(df)
    assert (model.user_ids_.take(users) == frame["userID"].to_numpy()).all()
    assert (model.item_ids_.take(items) == frame["itemID"].to_numpy()).all()
    assert frame.loc[frame["itemID"] == "y", "genre"].tolist() == ["horror"]
    pairs = pd.DataFrame(
        {
            "userID": ["a", "zz", "c"],
            "itemID": ["x", "x", "w"],
            "genre": ["drama", "drama", "noir"],
            "other": [1, 2, 3],
        }
    )
    with pytest.warns(DataWarning):
        pred = model.predict(pairs)
    scoring = model.scoring_frames[-1]
    # the known pairs' rows, in order, with the ids and the side column
    assert scoring["genre"].tolist() == ["drama", "noir"]
    assert list(scoring.columns) == ["userID", "itemID", "genre"]
    np.testing.assert_array_equal(pred["prediction"].to_numpy(), [1.0 + 1, np.nan, 0.0 + 0])
    assert ToyModel().fit(df)._side_frame(df) is None  # no declared columns: no frame


def test_needs_rating_is_decided_by_a_method_not_an_instance_attribute(df) -> None:
    class Configured(ToyModel):
        def _needs_rating(self) -> bool:
            return self.config.offset > 0

    with pytest.raises(ColumnMismatchError, match="rating"):
        Configured(offset=1.0).fit(df.drop(columns="rating"))
    model = Configured(offset=0.0).fit(df.drop(columns="rating"))
    assert "needs_rating" not in model.__dict__ and Configured.needs_rating is False


def test_persistence_and_top_k_names_resolve_from_base() -> None:
    from recutils.models import base, persistence, topk

    assert base.top_k_per_row is topk.top_k_per_row and base.check_top_k is topk.check_top_k
    assert base.FORMAT_VERSION == persistence.FORMAT_VERSION == 1
    assert (base.MANIFEST, base.ARRAYS) == ("manifest.json", "arrays.npz")
    assert base._json_default is persistence._json_default


def test_base_and_registry_do_not_import_each_other() -> None:
    """Import order models.base -> registry -> base was a cycle; neither imports the other now."""
    import ast
    import inspect

    from recutils.models import base, persistence, registry

    def imported(module) -> set[str]:
        """Modules imported at run time (``if TYPE_CHECKING:`` blocks left out)."""
        tree = ast.parse(inspect.getsource(module))
        tree.body = [
            n
            for n in tree.body
            if not (
                isinstance(n, ast.If)
                and isinstance(n.test, ast.Name)
                and n.test.id == "TYPE_CHECKING"
            )
        ]
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        return names

    assert "recutils.models.registry" not in imported(base)
    assert "recutils.models.base" not in imported(registry)
    assert "recutils.models.base" not in imported(persistence)


def test_recommend_accepts_the_unique_ids_of_a_string_column() -> None:
    """``df[col].unique()`` is an ExtensionArray for string columns (pandas 3's default
    string dtype); it used to be refused as 'not a 1-D sequence of ids'."""
    from recutils.models import create_model

    df = pd.DataFrame(
        {
            "userID": pd.array(["a", "a", "b", "c"], dtype="string"),
            "itemID": pd.array(["x", "y", "x", "z"], dtype="string"),
            "rating": [5.0, 3.0, 4.0, 2.0],
        }
    )
    users = df["userID"].unique()
    assert isinstance(users, pd.api.extensions.ExtensionArray)
    model = create_model("popularity").fit(df)
    top = model.recommend_k_items(users, top_k=2, remove_seen=False)
    assert sorted(top["userID"].unique().tolist()) == ["a", "b", "c"]
