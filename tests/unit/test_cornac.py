"""cornac BPR and BiVAE wrappers: configs, bad input, missing extras, scoring and save/load."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ConfigError, MissingDependencyError
from recutils.models import create_model, list_models
from recutils.models.cornac import CornacBiVAE, CornacBPR
from recutils.models.factors import appearance_order, block_toy
from recutils.testing import toy_interactions

BPR_FAST = {"k": 8, "max_iter": 20, "learning_rate": 0.05, "lambda_reg": 0.001, "seed": 3}
BIVAE_FAST = {"k": 4, "encoder_structure": [8], "n_epochs": 3, "batch_size": 16, "seed": 3}


def test_registered() -> None:
    assert {"cornac_bpr", "cornac_bivae"} <= set(list_models())
    assert isinstance(create_model("cornac_bpr", k=4), CornacBPR)
    assert isinstance(create_model("cornac_bivae", k=4), CornacBiVAE)


def test_appearance_order_round_trip() -> None:
    codes = np.array([2, 0, 2, 1, 0])
    new, inverse = appearance_order(codes, 3)
    assert new.tolist() == [0, 1, 0, 2, 1]
    by_rank = np.array([20.0, 0.0, 10.0])  # values of codes 2, 0, 1 in appearance order
    assert by_rank[inverse].tolist() == [0.0, 10.0, 20.0]


@pytest.mark.parametrize(
    "field,value,allowed",
    [
        ("likelihood", "poison", "bern"),
        ("act_fn", "gelu", "relu6"),
    ],
)
def test_bivae_unknown_names_list_allowed(field, value, allowed) -> None:
    with pytest.raises(ConfigError, match=rf"{field}='{value}'.*allowed.*{allowed}"):
        CornacBiVAE(**{field: value})


@pytest.mark.parametrize(
    "params",
    [
        {"k": 0},
        {"max_iter": 1.5},
        {"learning_rate": -0.1},
        {"lambda_reg": float("nan")},
        {"seed": -1},
        {"use_bias": "yes"},
        {"extra": {"k": 3}},
        {"extra": [1]},
    ],
)
def test_bpr_bad_config(params) -> None:
    with pytest.raises(ConfigError):
        CornacBPR(**params)


def test_bivae_bad_config() -> None:
    for params in (
        {"encoder_structure": []},
        {"encoder_structure": [0]},
        {"n_epochs": 0},
        {"batch_size": -4},
        {"use_gpu": 1},
        {"extra": {"n_epochs": 3}},
    ):
        with pytest.raises(ConfigError):
            CornacBiVAE(**params)
    # tuples are normalised so the config round-trips
    cfg = CornacBiVAE(encoder_structure=(16, 8)).config
    assert cfg.encoder_structure == [16, 8]
    assert type(cfg).from_dict(cfg.to_dict()) == cfg


def test_likelihood_aliases() -> None:
    assert CornacBiVAE(likelihood="poisson").config.likelihood == "poisson"


def test_unknown_extra_option_lists_cornac_options() -> None:
    pytest.importorskip("cornac")
    model = CornacBPR(**BPR_FAST, extra={"not_an_option": 1})
    with pytest.raises(ConfigError, match=r"not_an_option.*allowed.*init_params"):
        model.fit(toy_interactions())


@pytest.mark.parametrize(
    "cls,params,blocked,extra",
    [
        (CornacBPR, BPR_FAST, "cornac", "cornac"),
        (CornacBiVAE, BIVAE_FAST, "cornac", "cornac"),
        (CornacBiVAE, BIVAE_FAST, "torch", "torch"),
    ],
)
def test_missing_library_names_the_extra(monkeypatch, cls, params, blocked, extra) -> None:
    for name in [m for m in sys.modules if m == blocked or m.startswith(blocked + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, blocked, None)  # "import blocked" now raises ImportError
    model = cls(**params)  # building a model needs no library
    with pytest.raises(MissingDependencyError, match=rf"recutils\[{extra}\]") as info:
        model.fit(toy_interactions())
    assert info.value.extra == extra


def test_bpr_matches_cornac_used_directly() -> None:
    """Same factors as cornac's own Dataset.from_uir + BPR on the same rows (seeded)."""
    cornac = pytest.importorskip("cornac")
    df = toy_interactions(string_ids=True)
    model = CornacBPR(**BPR_FAST).fit(df)
    ds = cornac.data.Dataset.from_uir(
        df[["userID", "itemID", "rating"]].itertuples(index=False), seed=BPR_FAST["seed"]
    )
    ref = cornac.models.BPR(**BPR_FAST, verbose=False).fit(ds)
    user, item = df["userID"].iloc[5], df["itemID"].iloc[7]
    got = model.predict(pd.DataFrame({"userID": [user], "itemID": [item]}))["prediction"][0]
    want = float(ref.score(ds.uid_map[user], ds.iid_map[item]))
    assert got == pytest.approx(want, rel=1e-5)
    scores = ref.score(ds.uid_map[user])
    rec = model.recommend_k_items([user], top_k=5, remove_seen=False)
    want_items = [ds.item_ids[j] for j in np.argsort(-scores, kind="stable")[:5]]
    assert rec["itemID"].tolist() == want_items


def test_ratings_are_ignored_and_duplicates_collapse() -> None:
    pytest.importorskip("cornac")
    df = toy_interactions()
    a = CornacBPR(**BPR_FAST).fit(df)
    noisy = df.assign(rating=-7.0)
    b = CornacBPR(**BPR_FAST).fit(noisy)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)
    doubled = pd.concat([df, df.iloc[:10]], ignore_index=True)
    c = CornacBPR(**BPR_FAST).fit(doubled)  # no DataError: a repeated pair is one positive
    assert c.seen_.nnz == len(df) and c.user_factors_.shape == a.user_factors_.shape
    assert not np.isnan(CornacBPR(**BPR_FAST, col_rating=None).fit(df).item_bias_).any()


def test_bpr_unknown_user_gets_item_bias_ranking() -> None:
    pytest.importorskip("cornac")
    model = CornacBPR(**BPR_FAST).fit(toy_interactions())
    with pytest.warns(Warning, match="fallback"):
        rec = model.recommend_k_items([-1], top_k=3)
    best = np.argsort(-model.item_bias_, kind="stable")[:3]
    assert rec["itemID"].tolist() == model.item_ids_[best].tolist()


def test_bpr_save_load_scores_without_cornac(tmp_path, monkeypatch) -> None:
    pytest.importorskip("cornac")
    df = toy_interactions()
    model = CornacBPR(**BPR_FAST).fit(df)
    model.save(tmp_path / "m")
    monkeypatch.setitem(sys.modules, "cornac", None)
    loaded = CornacBPR.load(tmp_path / "m")
    pd.testing.assert_frame_equal(
        loaded.recommend_k_items(df, top_k=4), model.recommend_k_items(df, top_k=4)
    )
    np.testing.assert_array_equal(loaded.item_bias_, model.item_bias_)


def test_bivae_leaves_global_torch_rng_alone() -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("cornac")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    CornacBiVAE(**BIVAE_FAST).fit(toy_interactions())
    assert torch.equal(torch.rand(3), expected)


def test_bivae_scores_are_logits_of_posterior_means(tmp_path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("cornac")
    train, expected = block_toy()
    model = CornacBiVAE(**{**BIVAE_FAST, "k": 2, "n_epochs": 60}).fit(train)
    assert model.item_bias_ is None
    assert model.user_factors_.shape == (12, 2) and model.item_factors_.shape == (10, 2)
    pred = model.predict(train.iloc[:3])["prediction"].to_numpy()
    u = model.user_ids_.get_indexer(train["userID"].iloc[:3])
    i = model.item_ids_.get_indexer(train["itemID"].iloc[:3])
    np.testing.assert_allclose(
        pred,
        np.einsum(
            "ij,ij->i", model.user_factors_[u].astype(float), model.item_factors_[i].astype(float)
        ),
    )
    model.save(tmp_path / "b")
    loaded = CornacBiVAE.load(tmp_path / "b")
    assert loaded.recommend_k_items([1, 7], top_k=1)["itemID"].tolist() == expected[1] + expected[7]
