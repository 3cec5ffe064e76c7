"""implicit ALS and BPR wrappers: configs, bad input, missing extra, threads, scoring, save/load."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, DataError, MissingDependencyError
from recutils.models import create_model, list_models
from recutils.models.implicit import ImplicitALS, ImplicitBPR
from recutils.testing import toy_interactions

ALS_FAST = {"factors": 8, "regularization": 0.1, "iterations": 5, "seed": 3}
BPR_FAST = {"factors": 8, "learning_rate": 0.05, "iterations": 20, "seed": 3}


def test_registered() -> None:
    assert {"implicit_als", "implicit_bpr"} <= set(list_models())
    assert isinstance(create_model("implicit_als", factors=4), ImplicitALS)
    assert isinstance(create_model("implicit_bpr", factors=4), ImplicitBPR)


@pytest.mark.parametrize(
    "cls,params",
    [
        (ImplicitALS, {"factors": 0}),
        (ImplicitALS, {"alpha": 0}),
        (ImplicitALS, {"iterations": 2.0}),
        (ImplicitALS, {"regularization": -1}),
        (ImplicitALS, {"num_threads": -1}),
        (ImplicitALS, {"use_cg": "no"}),
        (ImplicitALS, {"extra": {"alpha": 2}}),
        (ImplicitALS, {"extra": {"random_state": 2}}),
        (ImplicitBPR, {"learning_rate": 0}),
        (ImplicitBPR, {"seed": 1.5}),
        (ImplicitBPR, {"extra": {"factors": 4}}),
    ],
)
def test_bad_config(cls, params) -> None:
    with pytest.raises(ConfigError):
        cls(**params)


@pytest.mark.parametrize(
    "cls,field,value,allowed",
    [
        (ImplicitALS, "confidence", "log", "binary"),
        (ImplicitALS, "dtype", "float16", "float32"),
        (ImplicitBPR, "dtype", "int8", "float64"),
    ],
)
def test_unknown_names_list_allowed(cls, field, value, allowed) -> None:
    with pytest.raises(ConfigError, match=rf"{field}='{value}'.*allowed.*{allowed}"):
        cls(**{field: value})


def test_unknown_extra_option_lists_implicit_options() -> None:
    pytest.importorskip("implicit")
    with pytest.raises(ConfigError, match=r"bogus.*allowed.*use_gpu|bogus.*allowed"):
        ImplicitALS(**ALS_FAST, extra={"bogus": 1}).fit(toy_interactions())


@pytest.mark.parametrize("cls,params", [(ImplicitALS, ALS_FAST), (ImplicitBPR, BPR_FAST)])
def test_missing_library_names_the_extra(monkeypatch, cls, params) -> None:
    for name in [m for m in sys.modules if m == "implicit" or m.startswith("implicit.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "implicit", None)
    model = cls(**params)
    with pytest.raises(MissingDependencyError, match=r"recutils\[implicit\]") as info:
        model.fit(toy_interactions())
    assert info.value.extra == "implicit"


def test_rating_confidence_needs_positive_ratings() -> None:
    pytest.importorskip("implicit")
    df = toy_interactions()
    bad = df.copy()
    bad.loc[:2, "rating"] = [0.0, -2.0, 0.0]
    with pytest.raises(DataError, match=r"> 0.*3 row\(s\)"):
        ImplicitALS(**ALS_FAST, confidence="rating").fit(bad)
    # binary confidence does not read the ratings at all
    ImplicitALS(**ALS_FAST).fit(bad)
    ImplicitALS(**ALS_FAST).fit(df.drop(columns="rating"))


def test_rating_confidence_sums_repeated_pairs() -> None:
    pytest.importorskip("implicit")
    df = toy_interactions()[["userID", "itemID", "rating"]]
    # (rows sorted by user then item: the order a frame with repeated pairs is reduced to)
    summed = df.groupby(["userID", "itemID"], as_index=False)["rating"].sum()
    split = pd.concat([df.assign(rating=df["rating"] / 2)] * 2, ignore_index=True)
    a = ImplicitALS(**ALS_FAST, confidence="rating").fit(summed)
    b = ImplicitALS(**ALS_FAST, confidence="rating").fit(split)
    assert b.seen_.nnz == len(summed)
    np.testing.assert_allclose(
        a.predict(summed)["prediction"], b.predict(summed)["prediction"], rtol=1e-4, atol=1e-5
    )


def test_matches_implicit_used_directly() -> None:
    implicit = pytest.importorskip("implicit")
    import scipy.sparse as sp
    from threadpoolctl import threadpool_limits

    df = toy_interactions()
    model = ImplicitALS(**ALS_FAST, alpha=2.0).fit(df)
    uc, uids = pd.factorize(df["userID"])  # order of first appearance
    ic, iids = pd.factorize(df["itemID"])
    m = sp.csr_matrix((np.ones(len(df), np.float32), (uc, ic)))
    with threadpool_limits(1, "blas"):
        ref = implicit.cpu.als.AlternatingLeastSquares(
            factors=8, regularization=0.1, iterations=5, alpha=2.0, random_state=3, num_threads=1
        )
        ref.fit(m, show_progress=False)
    pairs = df.iloc[:20]
    want = np.einsum("ij,ij->i", ref.user_factors[uc[:20]], ref.item_factors[ic[:20]])
    np.testing.assert_allclose(model.predict(pairs)["prediction"], want, rtol=1e-5, atol=1e-6)


def test_no_blas_thread_warning(monkeypatch) -> None:
    """implicit warns when OpenBLAS is threaded; the wrapper limits BLAS while fitting."""
    pytest.importorskip("implicit")
    import implicit.utils

    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ImplicitALS(**ALS_FAST).fit(toy_interactions())


def test_als_deterministic_across_threads_and_loss_history(tmp_path) -> None:
    pytest.importorskip("implicit")
    df = toy_interactions()
    one = ImplicitALS(**ALS_FAST, calculate_training_loss=True).fit(df)
    two = ImplicitALS(**ALS_FAST, calculate_training_loss=True, num_threads=2).fit(df)
    np.testing.assert_allclose(one.user_factors_, two.user_factors_, rtol=1e-5, atol=1e-6)
    assert len(one.loss_history_) == ALS_FAST["iterations"]
    assert one.loss_history_[-1] <= one.loss_history_[0]
    one.save(tmp_path / "als")
    loaded = ImplicitALS.load(tmp_path / "als")
    assert loaded.loss_history_ == one.loss_history_
    assert ImplicitALS(**ALS_FAST).fit(df).loss_history_ == []


def test_bpr_bias_split_and_save_load_without_implicit(tmp_path, monkeypatch) -> None:
    pytest.importorskip("implicit")
    df = toy_interactions()
    model = ImplicitBPR(**BPR_FAST).fit(df)
    assert model.user_factors_.shape[1] == BPR_FAST["factors"]
    assert model.item_bias_.shape == (model.n_items_,)
    model.save(tmp_path / "bpr")
    monkeypatch.setitem(sys.modules, "implicit", None)
    loaded = ImplicitBPR.load(tmp_path / "bpr")
    pd.testing.assert_frame_equal(
        loaded.recommend_k_items(df, top_k=3), model.recommend_k_items(df, top_k=3)
    )
