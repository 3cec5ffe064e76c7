"""SAR against Microsoft Recommenders 1.2.1 reference values, and its policies.

tests/resources/sar_ms_reference.json holds Microsoft's full score matrices on two
toy data sets for every similarity type, time decay on/off, threshold 1/2 and
normalize on/off (made by tools/sar_reference_fixtures.py in a venv with
recommenders==1.2.1).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.exceptions import ColumnMismatchError, ConfigError, DataError, DataWarning
from recutils.models.sar import SAR, SIMILARITY_TYPES, SARConfig

REF = json.loads(
    (Path(__file__).resolve().parents[1] / "resources" / "sar_ms_reference.json").read_text()
)
CASES = REF["cases"]
LMI = "lexicographers mutual information"


def _frame(name: str) -> pd.DataFrame:
    df = pd.DataFrame(REF["data"][name])
    df["rating"] = df["rating"].astype(float)
    return df


def _case_id(c: dict) -> str:
    return (
        f"{c['data']}-{c['similarity_type'].replace(' ', '_')}-decay{int(c['timedecay_formula'])}"
        f"-thr{c['threshold']}-norm{int(c['normalize'])}"
    )


def _fit(case: dict, **kw) -> SAR:
    return SAR(
        similarity_type=case["similarity_type"],
        timedecay_formula=case["timedecay_formula"],
        time_decay_coefficient=30,
        threshold=case["threshold"],
        normalize=case["normalize"],
        **kw,
    ).fit(_frame(case["data"]))


def _ours(model: SAR, case: dict) -> np.ndarray:
    u = model.user_ids_.get_indexer(case["users"])
    i = model.item_ids_.get_indexer(case["items"])
    return model._score_users(u)[:, i]


@pytest.mark.parametrize("case", [c for c in CASES if c["similarity_type"] != LMI], ids=_case_id)
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-10), ("float32", 2e-5)])
def test_scores_match_microsoft(case, dtype, rtol) -> None:
    model = _fit(case, score_dtype=dtype)
    ms = np.array([[np.nan if x is None else x for x in row] for row in case["scores"]])
    finite = np.isfinite(ms)  # MS has -inf where mutual information has no co-occurrence
    ours = _ours(model, case)
    np.testing.assert_allclose(
        ours[finite], ms[finite], rtol=rtol, atol=1e-9 if dtype == "float64" else 1e-5
    )
    i = model.item_ids_.get_indexer(case["items"])
    np.testing.assert_allclose(model.item_frequencies_[i], case["item_frequencies"])
    if case["similarity_type"] == "mutual information" and not case["normalize"]:
        assert (~finite).any()  # where we deliberately differ (0 instead of -inf)


def test_every_similarity_type_is_covered() -> None:
    assert {c["similarity_type"] for c in CASES} == set(SIMILARITY_TYPES)
    assert len(SIMILARITY_TYPES) == 7


@pytest.mark.parametrize("threshold", [1, 2])
def test_lexicographers_mutual_information_formula(threshold) -> None:
    # Microsoft 1.2.1 computes C @ MI (a matrix product) here; we use c_ij * MI_ij.
    df = _frame("base")
    lmi = SAR(similarity_type=LMI, threshold=threshold).fit(df)
    mi = SAR(similarity_type="mutual information", threshold=threshold).fit(df)
    co = SAR(similarity_type="cooccurrence", threshold=threshold).fit(df)
    expected = co.item_similarity_.multiply(mi.item_similarity_).toarray()
    np.testing.assert_allclose(lmi.item_similarity_.toarray(), expected)
    c = co.item_similarity_.toarray()
    d = np.diag(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        hand = np.where(c > 0, c * np.log2(len(d) * c / np.outer(d, d)), 0.0)
    np.testing.assert_allclose(lmi.item_similarity_.toarray(), hand)


def test_similarity_formulas_by_hand() -> None:
    df = _frame("base")
    c = SAR(similarity_type="cooccurrence").fit(df).item_similarity_.toarray()
    d = np.diag(c)
    nz = c > 0
    expected = {
        "cosine": c / np.sqrt(np.outer(d, d)),
        "inclusion index": c / np.minimum.outer(d, d),
        "jaccard": c / (d[:, None] + d[None, :] - c),
        "lift": c / np.outer(d, d),
    }
    for name, value in expected.items():
        got = SAR(similarity_type=name).fit(df).item_similarity_.toarray()
        np.testing.assert_allclose(got[nz], value[nz])
        assert (got[~nz] == 0).all()


def test_time_decay_by_hand() -> None:
    day = 86400
    df = pd.DataFrame(
        {
            "userID": [1, 1, 2],
            "itemID": [1, 2, 1],
            "rating": [4.0, 2.0, 1.0],
            "timestamp": [0, 30 * day, 60 * day],
        }
    )
    model = SAR(timedecay_formula=True, time_decay_coefficient=30).fit(df)
    assert model.time_now_ == 60 * day
    np.testing.assert_allclose(model.user_affinity_.toarray(), [[4 * 0.25, 2 * 0.5], [1.0, 0]])
    fixed = SAR(timedecay_formula=True, time_decay_coefficient=30, time_now=90 * day).fit(df)
    np.testing.assert_allclose(fixed.user_affinity_.toarray()[1, 0], 0.5)
    future = SAR(timedecay_formula=True, time_now=-10 * day).fit(df)  # decay capped at 1
    np.testing.assert_allclose(future.user_affinity_.toarray(), [[4, 2], [1, 0]])
    dt = df.assign(timestamp=pd.to_datetime(df["timestamp"], unit="s"))
    np.testing.assert_allclose(
        SAR(timedecay_formula=True).fit(dt).user_affinity_.toarray(), model.user_affinity_.toarray()
    )
    with pytest.raises(ColumnMismatchError, match="timestamp"):
        SAR(timedecay_formula=True).fit(df.drop(columns="timestamp"))
    SAR().fit(df.drop(columns="timestamp"))  # not needed without decay


def test_duplicates_aggregated_with_decay_match_microsoft() -> None:
    # the "dup" data repeats (1, 12) and (4, 11) at other times; Microsoft sums the decayed
    # ratings (checked in test_scores_match_microsoft); here the affinity directly
    case = next(
        c
        for c in CASES
        if c["data"] == "dup" and c["similarity_type"] == "jaccard" and c["threshold"] == 1
    )
    model = _fit(case)
    assert model.user_affinity_.nnz == len(_frame("base").drop_duplicates(["userID", "itemID"]))
    assert model.seen_.nnz == model.user_affinity_.nnz


def test_duplicates_without_decay_sum_affinity_count_once() -> None:
    df = pd.DataFrame(
        {"userID": [1, 1, 1, 2], "itemID": [1, 1, 2, 1], "rating": [2.0, 3.0, 1.0, 4.0]}
    )
    model = SAR(similarity_type="cooccurrence").fit(df)
    np.testing.assert_allclose(model.user_affinity_.toarray(), [[5, 1], [4, 0]])
    np.testing.assert_allclose(model.item_similarity_.toarray(), [[2, 1], [1, 1]])


def test_threshold_drops_rare_pairs_and_items() -> None:
    df = _frame("base")
    c1 = SAR(similarity_type="cooccurrence").fit(df).item_similarity_.toarray()
    c2 = SAR(similarity_type="cooccurrence", threshold=2).fit(df).item_similarity_.toarray()
    np.testing.assert_array_equal(c2, np.where(c1 >= 2, c1, 0))
    assert (np.diag(c1) == 1).any() and (np.diag(c2)[np.diag(c1) == 1] == 0).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"similarity_type": "pearson"}, r"similarity_type='pearson'.*allowed.*jaccard"),
        ({"threshold": 0}, "threshold"),
        ({"time_decay_coefficient": 0}, "time_decay_coefficient"),
        ({"timedecay_formula": "yes"}, "timedecay_formula"),
        ({"score_dtype": "float16"}, "score_dtype"),
    ],
)
def test_bad_config(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        SAR(**kwargs)


def test_config_round_trip_and_yaml() -> None:
    cfg = SARConfig(similarity_type="lift", threshold=3, timedecay_formula=True)
    assert SARConfig.from_dict(cfg.to_dict()) == cfg
    model = SAR(config="similarity_type: cosine\nthreshold: 2\n", normalize=True)
    assert (model.similarity_type, model.threshold, model.normalize) == ("cosine", 2, True)
    with pytest.raises(ConfigError, match="unknown parameter"):
        SAR(config={"half_life": 3})


def test_bad_data() -> None:
    df = _frame("base")
    with pytest.raises(DataError, match="NaN"):
        SAR().fit(df.assign(rating=np.where(df.index == 3, np.nan, df["rating"])))
    with pytest.raises(DataError, match="numeric"):
        SAR().fit(df.assign(rating="5"))
    model = SAR().fit(df)
    for bad in (0, -1):
        with pytest.raises(ConfigError, match="top_k"):
            model.recommend_k_items([1], top_k=bad)
        with pytest.raises(ConfigError, match="top_k"):
            model.get_popularity_based_topk(top_k=bad)


def test_unknown_users_get_popularity_with_warning() -> None:
    model = SAR().fit(_frame("base"))
    pop = model.get_popularity_based_topk(top_k=3)
    with pytest.warns(DataWarning, match="fallback"):
        rec = model.recommend_k_items([999, 1], top_k=3)
    got = rec[rec["userID"] == 999]
    assert got["itemID"].tolist() == pop["itemID"].tolist()
    np.testing.assert_allclose(got["prediction"], pop["prediction"])
    assert rec["userID"].tolist()[:3] == [999] * 3  # request order kept


def test_popularity_items_and_users() -> None:
    df = _frame("base")
    model = SAR().fit(df)
    pop = model.get_popularity_based_topk(top_k=2)
    counts = df.groupby("itemID").size().sort_values(ascending=False, kind="stable")
    assert pop["itemID"].tolist() == counts.index[:2].tolist()
    users = model.get_popularity_based_topk(top_k=1, items=False)
    assert users["userID"].tolist() == [6] and users["prediction"].tolist() == [4.0]


def test_item_based_topk() -> None:
    df = _frame("base")
    model = SAR(score_dtype="float64").fit(df)
    seeds = pd.DataFrame(
        {"userID": ["s1", "s1", "s2"], "itemID": [11, 12, 17], "rating": [1.0, 2.0, 1.0]}
    )
    out = model.get_item_based_topk(seeds, top_k=3)
    s = model.item_similarity_.toarray()
    i11, i12, i17 = model.item_ids_.get_indexer([11, 12, 17])
    expected = s[i11] + 2 * s[i12]
    expected[[i11, i12]] = -np.inf
    first = out[out["userID"] == "s1"]
    order = np.lexsort((np.arange(expected.size), -expected))[:3]
    assert first["itemID"].tolist() == model.item_ids_[order].tolist()
    np.testing.assert_allclose(first["prediction"], expected[order])
    assert 17 not in out.loc[out["userID"] == "s2", "itemID"].tolist()
    with pytest.warns(DataWarning, match="seed item"):
        single = model.get_item_based_topk(pd.DataFrame({"itemID": [11, 424242]}), top_k=2)
    assert list(single.columns) == ["userID", "itemID", "prediction"] and len(single) == 2


def test_predict_equals_recommend_scores_and_normalize() -> None:
    df = _frame("base")
    for normalize in (False, True):
        model = SAR(similarity_type="cosine", normalize=normalize, score_dtype="float64").fit(df)
        rec = model.recommend_k_items(df, top_k=3)
        pred = model.predict(rec[["userID", "itemID"]])
        np.testing.assert_allclose(pred["prediction"], rec["prediction"], rtol=1e-12)
    plain = SAR(similarity_type="cosine").fit(df)
    norm = plain.recommend_k_items([1], top_k=7, remove_seen=False, normalize=True)
    assert norm["prediction"].max() <= 5 + 1e-6 and norm["prediction"].min() >= 1 - 1e-6


def test_sparse_scoring_path_matches_dense(tmp_path) -> None:
    df = _frame("dup")
    dense = SAR(timedecay_formula=True, score_dtype="float64").fit(df)
    sparse = SAR(timedecay_formula=True, score_dtype="float64", dense_similarity_max_mb=0).fit(df)
    assert isinstance(dense._scoring_similarity, np.ndarray)
    assert not isinstance(sparse._scoring_similarity, np.ndarray)
    pd.testing.assert_frame_equal(dense.recommend_k_items(df), sparse.recommend_k_items(df))
    loaded = SAR.load(sparse.save(tmp_path / "s"))
    assert loaded.config == sparse.config and loaded.time_now_ == sparse.time_now_
    pd.testing.assert_frame_equal(loaded.predict(df), dense.predict(df))


def test_microsoft_style_keywords_and_input_untouched() -> None:
    df = _frame("base")
    before = df.copy()
    model = SAR(
        col_user="userID",
        col_item="itemID",
        col_rating="rating",
        col_timestamp="timestamp",
        col_prediction="prediction",
        similarity_type="jaccard",
        time_decay_coefficient=30,
        time_now=None,
        timedecay_formula=True,
        threshold=1,
        normalize=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        top = model.fit(df).recommend_k_items(df, top_k=10, sort_top_k=True, remove_seen=True)
    pd.testing.assert_frame_equal(df, before)
    assert top.groupby("userID").size().max() <= 10


def test_sar_ratings_beyond_float32_range_are_scored_in_float64_not_dropped():
    # ratings above float32's range used to become inf in the float32 scoring copy,
    # and the user's scores turned into NaN / -inf, so the user got no recommendation
    train = pd.DataFrame(
        {
            "userID": [1, 1, 2, 2, 3],
            "itemID": [10, 11, 10, 12, 11],
            "rating": [1e39, 2.0, 3.0, 1e39, 1.0],
        }
    )
    model = SAR(similarity_type="cooccurrence")
    with pytest.warns(DataWarning, match="float64"):
        model.fit(train)
    top = model.recommend_k_items([1, 2, 3], top_k=2, remove_seen=True)
    assert set(top["userID"]) == {1, 2, 3}
    assert np.isfinite(top["prediction"]).all()


def test_sar_refuses_ratings_that_overflow_even_float64():
    train = pd.DataFrame(
        {"userID": [1, 1, 2], "itemID": [10, 11, 10], "rating": [1e307, 1e307, 1.0]}
    )
    with pytest.raises(DataError, match="overflow even in float64"):
        SAR(similarity_type="cooccurrence").fit(train)
