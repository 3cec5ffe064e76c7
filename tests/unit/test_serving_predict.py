"""Serving a LightGBM click-through artifact: ``POST /v1/predict`` scores feature rows.

Before this route the service refused every artifact that does not recommend items to
users, so a ``lightgbm_ctr`` artifact could be saved but not served.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("lightgbm")
pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from recutils.datasets.criteo import CAT_COLS, INT_COLS  # noqa: E402
from recutils.models.lightgbm import LightGBMCTR  # noqa: E402
from recutils.models.sar import SAR  # noqa: E402
from recutils.serving import batch_recommend, create_app, save_artifact  # noqa: E402
from recutils.serving.artifacts import ArtifactError  # noqa: E402
from recutils.serving.service import RecommendationService, ServiceError, is_row_scorer  # noqa: E402
from recutils.testing.contract import toy_interactions  # noqa: E402
from tests.unit.test_lightgbm_ctr import dac_like  # noqa: E402

FEATURES = [*INT_COLS, *CAT_COLS]


@pytest.fixture(scope="module")
def frame():
    return dac_like(600, seed=1)


@pytest.fixture(scope="module")
def model(frame):
    return LightGBMCTR(
        seed=0, num_boost_round=40, early_stopping_rounds=0, valid_fraction=0.0, num_threads=1
    ).fit(frame.iloc[:500])


@pytest.fixture(scope="module")
def artifact(tmp_path_factory, model):
    return save_artifact(
        model, tmp_path_factory.mktemp("ctr") / "lightgbm_ctr", metrics={"auc": 0.7}
    )


@pytest.fixture(scope="module")
def client(artifact):
    with TestClient(create_app(artifact=artifact, max_batch=50)) as c:
        yield c


def _rows(frame, n: int) -> list[dict]:
    """Rows as a client sends them: JSON, missing values as null."""
    part = frame[FEATURES].iloc[:n].astype(object)
    return json.loads(part.where(part.notna(), None).to_json(orient="records"))


def _error(resp, status: int) -> str:
    assert resp.status_code == status, resp.text
    return resp.json()["error"]["code"]


def test_is_row_scorer(model) -> None:
    assert is_row_scorer(model)
    assert not is_row_scorer(SAR().fit(toy_interactions(n_users=5, n_items=4)))
    assert not is_row_scorer(None)


def test_served_scores_equal_in_process_scores(client, model, frame) -> None:
    rows = _rows(frame.iloc[500:], 50)
    out = client.post("/v1/predict", json={"rows": rows})
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["model"] == "lightgbm_ctr" and len(body["version"]) == 12
    expected = model.predict_proba(frame.iloc[500:550])
    # float64 survives the JSON round trip exactly
    np.testing.assert_array_equal(np.asarray(body["predictions"]), expected)
    assert all(0.0 < p < 1.0 for p in body["predictions"])


def test_missing_and_absent_columns_are_missing_values(client, model, frame) -> None:
    row = _rows(frame.iloc[500:], 1)[0]
    absent = {k: v for k, v in row.items() if k not in ("I1", "C1")}
    as_null = {**row, "I1": None, "C1": None}
    out = client.post("/v1/predict", json={"rows": [absent, as_null, {}]}).json()["predictions"]
    expected_frame = frame.iloc[[500]].copy()
    expected_frame[["I1", "C1"]] = np.nan
    expected = model.predict_proba(expected_frame)[0]
    assert out[0] == out[1] == expected
    empty = frame.iloc[[500]].copy()
    empty[FEATURES] = np.nan
    assert out[2] == model.predict_proba(empty)[0]


def test_model_info_lists_the_features(client) -> None:
    info = client.get("/v1/model").json()["artifact"]
    assert info["model"] == "lightgbm_ctr" and info["features"] == FEATURES
    assert info["metrics"] == {"auc": 0.7} and "n_users" not in info
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/predict" in paths


def test_bad_rows_get_json_errors(client, frame) -> None:
    row = _rows(frame, 1)[0]
    assert (
        _error(client.post("/v1/predict", json={"rows": [{**row, "I99": 1}]}), 422)
        == "unknown_feature"
    )
    assert (
        _error(client.post("/v1/predict", json={"rows": [{**row, "I1": "many"}]}), 422)
        == "invalid_feature"
    )
    inf = client.post(
        "/v1/predict",
        content='{"rows": [{"I1": Infinity}]}',
        headers={"content-type": "application/json"},
    )
    assert inf.status_code == 422
    assert _error(client.post("/v1/predict", json={"rows": []}), 422) == "empty_batch"
    assert _error(client.post("/v1/predict", json={"rows": [row] * 51}), 413) == "batch_too_large"
    assert _error(client.post("/v1/predict", json={"rows": [1]}), 422) == "invalid_request"
    assert (
        _error(client.post("/v1/predict", json={"rows": [row], "k": 3}), 422) == "invalid_request"
    )


def test_user_item_routes_answer_400(client) -> None:
    assert _error(client.get("/v1/recommendations/1"), 400) == "unsupported"
    assert _error(client.post("/v1/recommendations", json={"user_ids": [1]}), 400) == "unsupported"
    assert (
        _error(client.post("/v1/score", json={"pairs": [{"user_id": 1, "item_id": 2}]}), 400)
        == "unsupported"
    )
    assert _error(client.get("/v1/similar-items/1"), 400) == "unsupported"
    assert _error(client.post("/v1/retrieve", json={"user_id": 1}), 400) == "unsupported"
    assert client.get("/health").json()["status"] == "ok"


def test_predict_on_a_recommender_answers_400(tmp_path) -> None:
    sar = save_artifact(SAR().fit(toy_interactions(n_users=10, n_items=8)), tmp_path / "sar")
    service = RecommendationService(artifact=sar)
    with pytest.raises(ServiceError) as err:
        service.predict_rows([{"I1": 1}])
    assert err.value.status == 400 and err.value.code == "unsupported"


def test_click_through_artifact_is_served_alone(tmp_path, artifact) -> None:
    url = f"sqlite:///{tmp_path / 'recs.db'}"
    batch_recommend(
        SAR().fit(toy_interactions(n_users=10, n_items=8)), top_k=3, store=url, progress=False
    )
    with pytest.raises(ArtifactError, match="serve it alone"):
        RecommendationService(artifact=artifact, store=url)


def test_hot_swap_between_recommender_and_click_through(tmp_path, artifact, frame, model) -> None:
    sar = save_artifact(SAR().fit(toy_interactions(n_users=10, n_items=8)), tmp_path / "sar")
    service = RecommendationService(artifact=sar)
    service.swap_artifact(artifact)
    got = service.predict_rows(_rows(frame.iloc[500:], 3))["predictions"]
    assert got == model.predict_proba(frame.iloc[500:503]).tolist()
    service.swap_artifact(sar)
    assert service.recommend(1, 2)["source"] in ("model", "popularity")
    assert service.model_info()["artifact"]["n_users"] == 10
