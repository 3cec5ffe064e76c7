"""Benchmark specs whose models take the data set's user and item features (``side_data: features``)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import recutils.benchmark as bm
from recutils.benchmark import data as data_mod
from recutils.benchmark import run as run_mod
from recutils.exceptions import ConfigError

SPEC = """
dataset: movielens
data_size: mock2000
protocols: [ms_stratified]
seeds: [1]
k: 5
models:
  - name: bias
    rating_metrics: true
  - name: geoimc
    params: {rank: 2, max_iterations: 5, mean_center: true}
    rating_metrics: true
    side_data: features
"""


def test_side_features_reach_fit_of_the_models_that_ask(monkeypatch) -> None:
    pytest.importorskip("pymanopt")
    from recutils.models.riemannian import GeoIMC

    seen: list[set[str]] = []
    fit = GeoIMC.fit

    def recording_fit(self, df, **kwargs):
        seen.append({k for k, v in kwargs.items() if isinstance(v, pd.DataFrame)})
        return fit(self, df, **kwargs)

    monkeypatch.setattr(GeoIMC, "fit", recording_fit)
    loads: list[tuple[str, str]] = []
    loader = data_mod.SIDE_DATA["movielens"]["features"]
    monkeypatch.setitem(
        data_mod.SIDE_DATA,
        "movielens",
        {
            **data_mod.SIDE_DATA["movielens"],
            "features": lambda size: loads.append(("movielens", size)) or loader(size),
        },
    )
    results = bm.run_benchmark(bm.load_spec(SPEC), progress=False)
    assert seen == [{"user_features", "item_features"}]
    assert loads == [("movielens", "mock2000")]  # loaded once, only for the model that asks
    assert set(results["model"]) == {"bias", "geoimc"}
    assert results["rmse"].notna().all()
    key = json.loads(results.loc[results["model"] == "geoimc", "params"].iloc[0])
    assert key["side_data"] == "features"


def test_params_key_of_models_without_side_data_is_unchanged() -> None:
    spec = bm.load_spec(SPEC)
    key = json.loads(run_mod._params_key(spec.models[0]))
    assert key == {"model": "bias", "params": {}, "rating_metrics": True}


def test_side_data_names_and_datasets_are_checked() -> None:
    with pytest.raises(ConfigError, match="no side data 'maybe'"):
        bm.load_spec(SPEC.replace("side_data: features", "side_data: maybe"))
    with pytest.raises(ConfigError, match="has no side data"):
        data_mod.load_side_data("criteo", "features", "100k")
    frames = data_mod.load_side_data("movielens", "features", "mock2000")
    assert set(frames) == {"user_features", "item_features"}
    assert {"age", "gender", "occupation"} <= set(frames["user_features"].columns)
