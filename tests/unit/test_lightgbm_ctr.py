"""LightGBM CTR model and its feature encoder on synthetic DAC-like rows."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from recutils.datasets.criteo import CAT_COLS, DEFAULT_HEADER, INT_COLS
from recutils.exceptions import (
    ColumnMismatchError,
    ConfigError,
    DataError,
    MissingDependencyError,
    NotFittedError,
)
from recutils.models.lightgbm import (
    CTRFeatureEncoder,
    LightGBMCTR,
    LightGBMCTRConfig,
    base_rate_metrics,
    ctr_metrics,
    learn_vocabulary,
    stratified_label_split,
)


def dac_like(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Rows in read_dac's dtypes; the click depends on C1 and I1."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for j, col in enumerate(INT_COLS):
        x = rng.poisson(3 + j, n).astype(np.float64)
        x[rng.random(n) < 0.2] = np.nan
        data[col] = x
    for j, col in enumerate(CAT_COLS):
        pool = np.array([f"{rng.integers(0, 2**32):08x}" for _ in range(3 + j)], dtype=object)
        values = pool[rng.integers(0, len(pool), n)]
        values[rng.random(n) < 0.1] = None
        data[col] = pd.array(values, dtype="str")
    df = pd.DataFrame(data)
    c1 = df["C1"].fillna("").to_numpy()
    hot = np.isin(c1, sorted(set(c1) - {""})[:2])
    logit = -1.5 + 2.5 * hot + 0.3 * np.nan_to_num(df["I1"].to_numpy() - 3)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    df.insert(0, "label", label)
    return df[list(DEFAULT_HEADER)]


# ------------------------------------------------------------------ encoder
def test_vocabulary_frequency_threshold_and_order():
    values = pd.Series(["b", "a", "a", "c", "b", None, "d", "a", "c", "b"])
    # a:3, b:3 (b first seen), c:2, d:1
    assert learn_vocabulary(values, 1) == ["b", "a", "c", "d"]
    assert learn_vocabulary(values, 2) == ["b", "a", "c"]
    assert learn_vocabulary(values, 3) == ["b", "a"]
    assert learn_vocabulary(values, 4) == []


def test_encoder_codes_missing_unknown_and_rare():
    train = pd.DataFrame({"n": [1.0, 2.0, np.nan, 4.0], "c": ["x", "x", "y", None]})
    enc = CTRFeatureEncoder(["n"], ["c"], min_count=2).fit(train)
    assert enc.vocabularies_ == {"c": ["x"]}
    assert enc.transform(train)["c"].tolist() == [2, 2, 1, 0]  # y is rare -> unknown bucket
    test = pd.DataFrame({"n": [5.0, np.nan], "c": ["never-seen", "x"]})
    out = enc.transform(test)
    assert out["c"].tolist() == [1, 2]
    assert out["c"].dtype == np.int32 and out["n"].dtype == np.float64
    assert np.isnan(out["n"].iloc[1])  # numeric_missing="keep"
    assert enc.vocabulary_size("c") == 3


def test_encoder_numeric_options():
    train = pd.DataFrame({"n": [1.0, 3.0, np.nan, -2.0], "c": ["a"] * 4})
    med = CTRFeatureEncoder(["n"], ["c"], numeric_missing="median").fit(train)
    assert med.transform(train)["n"].tolist() == [1.0, 3.0, 1.0, -2.0]
    zero = CTRFeatureEncoder(["n"], ["c"], numeric_missing="zero").fit(train)
    assert zero.transform(train)["n"].iloc[2] == 0.0
    log = CTRFeatureEncoder(["n"], ["c"], log_transform=True).fit(train)
    got = log.transform(train)["n"].to_numpy()
    np.testing.assert_allclose(got[[0, 1, 3]], [np.log(2), np.log(4), -np.log(3)])
    assert np.isnan(got[2])


def test_encoder_consistent_between_train_and_predict():
    df = dac_like(300)
    enc = CTRFeatureEncoder(min_count=3)
    full = enc.fit_transform(df)
    # a row encodes the same alone, in another order or in another frame
    shuffled = df.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(enc.transform(shuffled), full.loc[shuffled.index])
    pd.testing.assert_frame_equal(enc.transform(df.iloc[[7]]), full.iloc[[7]])
    # object columns (not the pandas string dtype) encode identically
    as_object = df.astype({c: object for c in CAT_COLS})
    pd.testing.assert_frame_equal(enc.transform(as_object), full)
    assert list(full.columns) == [*INT_COLS, *CAT_COLS]


def test_encoder_compares_categorical_values_as_strings():
    train = pd.DataFrame({"c": pd.Series([7, 7, 8], dtype=object)})
    enc = CTRFeatureEncoder([], ["c"], min_count=1).fit(train)
    assert enc.transform(pd.DataFrame({"c": ["7", "8", "9"]}))["c"].tolist() == [2, 3, 1]


def test_encoder_does_not_mutate_input():
    df = dac_like(100)
    before = df.copy()
    CTRFeatureEncoder(min_count=2, numeric_missing="median", log_transform=True).fit_transform(df)
    pd.testing.assert_frame_equal(df, before)


def test_encoder_save_load_round_trip(tmp_path):
    df = dac_like(200)
    enc = CTRFeatureEncoder(min_count=2, numeric_missing="median", log_transform=True).fit(df)
    path = enc.save(tmp_path / "encoder.json")
    state = json.loads(path.read_text())  # plain JSON, no pickle
    assert state["format"] == "recutils-ctr-encoder" and state["min_count"] == 2
    again = CTRFeatureEncoder.load(path)
    other = dac_like(50, seed=3)  # mostly unseen hashes
    pd.testing.assert_frame_equal(again.transform(other), enc.transform(other))
    assert again.vocabularies_ == enc.vocabularies_ and again.fill_values_ == enc.fill_values_


def test_encoder_errors(tmp_path):
    df = dac_like(50)
    with pytest.raises(NotFittedError):
        CTRFeatureEncoder().transform(df)
    with pytest.raises(ColumnMismatchError, match="C26"):
        CTRFeatureEncoder().fit(df.drop(columns=["C26"]))
    enc = CTRFeatureEncoder().fit(df)
    with pytest.raises(ColumnMismatchError, match="I3"):
        enc.transform(df.drop(columns=["I3"]))
    bad = df.astype({"I2": object})
    bad.loc[4, "I2"] = "many"
    with pytest.raises(DataError, match="'I2'.*'many'"):
        enc.transform(bad)
    with pytest.raises(ConfigError, match="min_count"):
        CTRFeatureEncoder(min_count=0)
    with pytest.raises(ConfigError, match="numeric_missing"):
        CTRFeatureEncoder(numeric_missing="mean")
    with pytest.raises(ConfigError, match="both numeric and categorical"):
        CTRFeatureEncoder(["a"], ["a"])
    (tmp_path / "x.json").write_text('{"format": "other"}')
    with pytest.raises(ConfigError):
        CTRFeatureEncoder.load(tmp_path / "x.json")


# --------------------------------------------------------------------- config
def test_config_round_trip_and_unknown_keys():
    cfg = LightGBMCTRConfig(params={"num_leaves": 3}, min_count=2)
    assert LightGBMCTRConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.lightgbm_params()["num_leaves"] == 3
    assert cfg.lightgbm_params()["num_threads"] == 1 and cfg.lightgbm_params()["verbosity"] == -1
    with pytest.raises(ConfigError, match="num_leaves.*allowed"):
        LightGBMCTR(num_leaves=3)  # a LightGBM option belongs in params
    with pytest.raises(ConfigError, match="'n_estimators'.*num_boost_round"):
        LightGBMCTRConfig(params={"n_estimators": 10})
    with pytest.raises(ConfigError, match="'nthread'.*num_threads"):
        LightGBMCTRConfig(params={"nthread": 4})
    with pytest.raises(ConfigError, match="objective"):
        LightGBMCTRConfig(params={"objective": "regression"})
    with pytest.raises(ConfigError, match="valid_fraction"):
        LightGBMCTRConfig(valid_fraction=1.0)
    model = LightGBMCTR("num_boost_round: 7\nparams:\n  learning_rate: 0.2\n")
    assert model.config.num_boost_round == 7 and model.config.params == {"learning_rate": 0.2}


# ---------------------------------------------------------------------- model
@pytest.fixture(scope="module")
def lgb():
    return pytest.importorskip("lightgbm")


def small(**kw):
    return LightGBMCTR(num_boost_round=60, early_stopping_rounds=10, min_count=3, **kw)


def test_fit_predict_learns_signal(lgb):
    df = dac_like(800)
    train, test = stratified_label_split(df, 0.75, seed=0)
    model = small().fit(train)
    p = model.predict_proba(test)
    assert p.shape == (len(test),) and p.dtype == np.float64
    assert ((p > 0) & (p < 1)).all()
    metrics = model.evaluate(test)
    assert metrics["auc"] > 0.70  # 0.725-0.793 over split seeds 0-4 (0.733 for seed 0)
    assert metrics["logloss"] < metrics["baseline_logloss"]
    assert metrics["baseline_auc"] == 0.5
    assert {k: metrics[k] for k in ("auc", "logloss")} == ctr_metrics(test["label"], p)
    # the baseline predicts the click rate of the rows the booster trained on
    base = base_rate_metrics(np.full(10, model.base_rate_), test["label"])
    assert metrics["baseline_logloss"] == pytest.approx(base["logloss"], rel=1e-12)
    assert abs(model.base_rate_ - train["label"].mean()) < 0.01  # stratified carve
    assert model.n_valid_ > 0 and model.n_train_ + model.n_valid_ == len(train)
    assert 1 <= model.best_iteration_ <= 60
    assert set(model.evals_result_) == {"train", "valid"}
    pred = model.predict(test)
    assert list(pred.columns) == ["prediction"] and pred.index.equals(test.index)
    imp = model.feature_importance()
    assert set(imp.index) == set(INT_COLS) | set(CAT_COLS) and imp.index[0] in ("C1", "I1")


def test_deterministic_under_seed_and_no_mutation(lgb):
    df = dac_like(400)
    before = df.copy()
    a = small(seed=3).fit(df).predict_proba(df)
    b = small(seed=3).fit(df).predict_proba(df)
    np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(df, before)


def test_explicit_valid_df_and_no_validation(lgb):
    df = dac_like(500)
    train, valid = stratified_label_split(df, 0.8, seed=1)
    model = small().fit(train, valid)
    assert model.n_train_ == len(train) and model.n_valid_ == len(valid)
    full = LightGBMCTR(num_boost_round=15, valid_fraction=0.0).fit(df)
    assert full.n_valid_ == 0 and full.best_iteration_ == 15
    assert set(full.evals_result_) == {"train"}


def test_non_default_label_column(lgb):
    df = dac_like(300).rename(columns={"label": "click"})
    model = small(col_label="click").fit(df)
    assert model.predict_proba(df.drop(columns=["click"])).shape == (300,)
    with pytest.raises(ColumnMismatchError, match="'click'"):
        model.evaluate(df.drop(columns=["click"]))


def test_save_load_identical_predictions(lgb, tmp_path):
    df = dac_like(400)
    model = small(numeric_missing="median").fit(df)
    folder = model.save(tmp_path / "ctr")
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["encoder.json", "manifest.json", "model.txt"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"] == "lightgbm_ctr"
    assert manifest["state"]["best_iteration"] == model.best_iteration_
    loaded = LightGBMCTR.load(folder)
    other = dac_like(200, seed=9)
    np.testing.assert_array_equal(loaded.predict_proba(other), model.predict_proba(other))
    assert loaded.config == model.config and loaded.base_rate_ == model.base_rate_
    # an unfitted model saves and loads too
    LightGBMCTR(min_count=2).save(tmp_path / "empty")
    assert not LightGBMCTR.load(tmp_path / "empty").is_fitted
    with pytest.raises(ConfigError, match="manifest"):
        LightGBMCTR.load(tmp_path)


def test_not_fitted(lgb):
    model = LightGBMCTR()
    with pytest.raises(NotFittedError):
        model.predict_proba(dac_like(10))
    with pytest.raises(NotFittedError):
        model.booster_  # noqa: B018


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda d: d.drop(columns=["C7", "I4"]), ColumnMismatchError, "I4.*C7"),
        (lambda d: d.drop(columns=["label"]), ColumnMismatchError, "label"),
        (lambda d: d.assign(label=d["label"] * 2), DataError, "0 or 1"),
        (
            lambda d: d.assign(label=d["label"].astype(float).where(d.index != 5)),
            DataError,
            "0 or 1",
        ),
        (lambda d: d.assign(label=d["label"].astype(str)), DataError, "numeric 0/1"),
        (lambda d: d.assign(label=0), DataError, "one class"),
        (lambda d: d.iloc[:0], DataError, "empty"),
    ],
)
def test_fit_bad_input(lgb, change, error, match):
    with pytest.raises(error, match=match):
        small().fit(change(dac_like(200)))


def test_bad_valid_df_and_unknown_lightgbm_param(lgb):
    df = dac_like(200)
    with pytest.raises(ColumnMismatchError, match="valid_df"):
        small().fit(df, df.drop(columns=["C1"]))
    with pytest.raises(DataError, match="valid_df"):
        small().fit(df, df.assign(label=3))
    with pytest.raises(ConfigError, match="num_leafs"):
        LightGBMCTR(params={"num_leafs": 3}).fit(df)


def test_missing_lightgbm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # import lightgbm -> ImportError
    model = LightGBMCTR()
    with pytest.raises(MissingDependencyError, match=r"recutils\[lightgbm\]"):
        model.fit(dac_like(50))


def test_lightgbm_pipeline_does_not_import_torch(lgb):
    code = (
        "import sys\n"
        "from recutils.models.lightgbm import LightGBMCTR, CTRFeatureEncoder\n"
        "assert 'lightgbm' not in sys.modules, 'lightgbm imported eagerly'\n"
        "import numpy as np, pandas as pd\n"
        "from recutils.datasets.criteo import INT_COLS, CAT_COLS\n"
        "rng = np.random.default_rng(0)\n"
        "df = pd.DataFrame({c: rng.random(200) for c in INT_COLS})\n"
        "for c in CAT_COLS: df[c] = rng.choice(['a', 'b', 'c'], 200)\n"
        "df['label'] = (rng.random(200) < 0.3).astype('int8')\n"
        "LightGBMCTR(num_boost_round=3).fit(df).predict_proba(df)\n"
        "bad = [m for m in ('torch', 'tensorflow', 'pyspark') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_one_class_validation_warns(lgb):
    from recutils.exceptions import DataWarning

    df = dac_like(300)
    with pytest.warns(DataWarning, match="one class"):
        small().fit(df, df[df["label"] == 0])
