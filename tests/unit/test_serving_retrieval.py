"""Retrieval in the service: /v1/retrieve, similar items from the index, the two-stage route,
index version checks and the 4xx answers to bad input (toy two-tower and DeepFM models)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from recutils.datasets.synthetic import make_interactions  # noqa: E402
from recutils.models import create_model  # noqa: E402
from recutils.retrieval import IndexVersionError  # noqa: E402
from recutils.serving import save_artifact  # noqa: E402
from recutils.serving.app import create_app  # noqa: E402
from recutils.serving.artifacts import ArtifactError, ArtifactIntegrityError  # noqa: E402
from recutils.serving.retrieval import (  # noqa: E402
    INDEX_DIR,
    RETRIEVAL_ERROR_CODES,
    ServedRetrieval,
    save_retrieval_artifact,
)
from recutils.serving.service import RecommendationService, ServiceError  # noqa: E402

TRAIN = {
    "epochs": 2,
    "num_threads": 1,
    "progress": False,
    "batch_size": 256,
    "early_stopping_metric": None,
    "validation_fraction": 0.0,
}
USER = {"age": 31, "gender": "F", "occupation": "writer"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    ratings, items, users = make_interactions(60, 120, 1500, seed=1)
    df = ratings.merge(users[["userID", "age", "gender", "occupation"]], on="userID").merge(
        items[["itemID", "genres", "year"]], on="itemID"
    )
    df["label"] = (df["rating"] >= 4).astype(float)
    return df


@pytest.fixture(scope="module")
def models(frame):
    dssm = create_model("dssm", train=TRAIN).fit(frame)
    other = create_model("dssm", train=TRAIN, seed=7).fit(frame)
    deepfm = create_model("deepfm", col_rating="label", train=TRAIN).fit(frame)
    return dssm, other, deepfm


@pytest.fixture(scope="module")
def root(tmp_path_factory, models) -> Path:
    dssm, other, deepfm = models
    root = tmp_path_factory.mktemp("retrieval")
    save_retrieval_artifact(dssm, root / "dssm", dssm.build_index("brute_force"))
    save_artifact(dssm, root / "dssm_plain")
    save_artifact(other, root / "other")
    other.build_index("brute_force").save(root / "other_index")
    save_artifact(deepfm, root / "deepfm")
    return root


@pytest.fixture(scope="module")
def service(root) -> RecommendationService:
    return RecommendationService(artifact=root / "dssm", ranker_artifact=root / "deepfm", max_k=200)


@pytest.fixture(scope="module")
def client(service) -> TestClient:
    return TestClient(create_app(service))


def _ids(body: dict) -> list:
    return [i["item_id"] for i in body["items"]]


def test_retrieve_known_user_matches_the_model_top_k_without_seen_items(service, models) -> None:
    dssm = models[0]
    body = service.retrieve(user_id=3, k=10)
    expected = dssm.recommend_k_items([3], top_k=10, remove_seen=True)["itemID"].tolist()
    assert body["known_user"] is True and body["index"] == "brute_force"
    assert _ids(body) == expected
    seen = set(dssm.item_ids_[dssm.seen_[dssm.user_ids_.get_loc(3)].indices])
    assert not seen & set(_ids(body))
    assert [i["rank"] for i in body["items"]] == list(range(1, 11))
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True) and body["timings_ms"]["retrieve"] > 0
    with_seen = service.retrieve(user_id=3, k=10, exclude_seen=False)
    assert set(_ids(with_seen)) & seen  # the toy users' seen items rank high


def test_retrieve_new_user_from_features_searches_the_user_tower_embedding(service, models) -> None:
    dssm = models[0]
    body = service.retrieve(features=USER, k=5)
    vector = dssm.user_embeddings(
        pd.DataFrame({"userID": [None], **{c: [v] for c, v in USER.items()}})
    )
    exact = np.argsort(
        -(vector @ dssm.item_vectors_.T / np.linalg.norm(dssm.item_vectors_, axis=1))[0],
        kind="stable",
    )[:5]
    assert body["known_user"] is False and body["user_id"] is None
    assert _ids(body) == dssm.item_ids_[exact].tolist()
    # an id the model does not know, with features: the same user tower, the id out of vocabulary
    assert service.retrieve(user_id=987654, features=USER, k=5)["known_user"] is False


def test_similar_items_of_a_two_tower_model_come_from_its_index(service, models, client) -> None:
    dssm = models[0]
    body = service.similar_items(5, 4)
    assert _ids(body) == dssm.similar_items([5], k=4)["similar_item"].tolist()
    assert client.get("/v1/similar-items/5?k=4").json()["items"] == body["items"]
    assert client.get("/v1/model").json()["artifact"]["similar_items"] is True


def test_two_stage_ranks_the_retrieved_candidates_with_the_ranker(service, models) -> None:
    dssm, _, deepfm = models
    body = service.two_stage(user_id=3, k=5, candidates=30)
    candidates = _ids(service.retrieve(user_id=3, k=30))
    pred = deepfm.predict(pd.DataFrame({"userID": [3] * 30, "itemID": candidates}))[
        "prediction"
    ].to_numpy()
    best = np.argsort(-pred, kind="stable")[:5]
    assert _ids(body) == [candidates[i] for i in best]
    assert [i["retrieval_rank"] for i in body["items"]] == [int(i) + 1 for i in best]
    assert np.allclose([i["score"] for i in body["items"]], pred[best])
    assert body["candidates"] == 30 and body["ranker_version"] and body["version"]
    timings = body["timings_ms"]
    assert timings["retrieve"] > 0 and timings["rank"] > 0
    assert timings["total"] == pytest.approx(timings["retrieve"] + timings["rank"], abs=0.01)
    new = service.two_stage(
        features=USER, k=3
    )  # default candidates: max(100, k) capped by the index
    assert new["candidates"] == 100 and len(new["items"]) == 3
    n_seen = dssm.seen_[dssm.user_ids_.get_loc(3)].nnz  # by default, as many as the unseen items
    assert service.two_stage(user_id=3, k=3)["candidates"] == min(100, len(dssm.item_ids_) - n_seen)


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"user_id": 987654}, 422, "unknown_user"),
        ({}, 422, "missing_user"),
        ({"features": {"age": float("nan")}}, 422, "invalid_feature"),
        ({"features": {"age": float("inf")}}, 422, "invalid_feature"),
        ({"features": {"age": [1, 2]}}, 422, "invalid_feature"),
        ({"features": {"zip_code": "12345"}}, 422, "unknown_feature"),
        ({"user_id": 3, "history": []}, 422, "empty_history"),
        ({"history": [1, 2]}, 422, "history_unsupported"),
        ({"user_id": 3, "k": 121}, 422, "k_exceeds_index"),
        ({"user_id": 3, "k": 119}, 422, "too_few_items"),
        ({"user_id": 3, "k": 0}, 422, "invalid_k"),
        ({"user_id": "x"}, 422, "invalid_id"),
    ],
)
def test_bad_retrieval_requests_are_refused_with_a_code(service, kwargs, status, code) -> None:
    with pytest.raises(ServiceError) as err:
        service.retrieve(**{"k": 5, **kwargs})
    assert (err.value.status, err.value.code) == (status, code)
    assert code in RETRIEVAL_ERROR_CODES or code in ("invalid_k", "invalid_id")
    assert service.retrieve(user_id=3, k=5)["items"]  # the service is still fine


def test_nan_user_embeddings_are_a_422_not_a_500(root, monkeypatch) -> None:
    svc = RecommendationService(artifact=root / "dssm")
    model = svc.state.retrieval.model
    monkeypatch.setattr(
        model, "user_embeddings", lambda df: np.full((1, model.item_vectors_.shape[1]), np.nan)
    )
    with pytest.raises(ServiceError) as err:
        svc.retrieve(user_id=3, features=USER, k=5)
    assert (err.value.status, err.value.code) == (422, "non_finite_embedding")
    served = svc.state.retrieval
    monkeypatch.setattr(served, "user_vectors", np.full_like(served.user_vectors, np.nan))
    with pytest.raises(ServiceError) as err:
        svc.retrieve(user_id=3, k=5)  # a cached embedding
    assert (err.value.status, err.value.code) == (422, "non_finite_embedding")


def test_http_errors_are_json_4xx_and_the_next_request_succeeds(client) -> None:
    bad = [
        b'{"features": {"age": NaN}, "k": 3}',
        b'{"features": {"age": -Infinity}}',
        b'{"user_id": 987654}',
        b'{"history": []}',
        b'{"user_id": 3, "k": 500}',
        b'{"user_id": 3, "features": {"age": true}}',
        b'{"user_id": 3, "bogus": 1}',
        b'{"user_id": 3, "exclude_seen": "no"}',
    ]
    for body in bad:
        r = client.post("/v1/retrieve", content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        assert r.json()["error"]["code"]
        r = client.post("/v1/two-stage", content=body, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
    r = client.post("/v1/two-stage", json={"user_id": 3, "k": 5, "candidates": 2})
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_candidates")
    r = client.post("/v1/retrieve", json={"user_id": 3, "k": 5})
    assert r.status_code == 200 and len(r.json()["items"]) == 5
    r = client.post("/v1/two-stage", json={"features": USER, "k": 4, "candidates": 20})
    assert r.status_code == 200 and len(r.json()["items"]) == 4
    info = client.get("/v1/model").json()
    assert (
        info["retrieval"]["index"] == "brute_force" and info["retrieval"]["index_source"] == "saved"
    )
    assert info["retrieval"]["user_features"] == ["age", "gender", "occupation"]
    assert info["ranker"]["model"] == "deepfm"
    schema = client.get("/openapi.json").json()["paths"]
    assert "/v1/retrieve" in schema and "/v1/two-stage" in schema


def test_an_index_built_for_another_model_version_is_refused_at_start_and_swap(root) -> None:
    with pytest.raises(IndexVersionError, match="model version"):
        RecommendationService(artifact=root / "dssm", index=root / "other_index")
    svc = RecommendationService(artifact=root / "other", index=root / "other_index")
    assert svc.state.retrieval.index_source == "saved"
    before = svc.state
    with pytest.raises(IndexVersionError):
        svc.swap_artifact(root / "dssm", index=root / "other_index")
    assert svc.state is before and svc.retrieve(user_id=3, k=3)["items"]


def test_without_a_saved_index_an_exact_one_is_built(root) -> None:
    svc = RecommendationService(artifact=root / "dssm_plain")
    assert (svc.state.retrieval.index.kind, svc.state.retrieval.index_source) == (
        "brute_force",
        "built",
    )
    with pytest.raises(ServiceError) as err:
        svc.two_stage(user_id=3, k=3)
    assert (err.value.status, err.value.code) == (400, "unsupported")


def test_the_index_inside_an_artifact_is_covered_by_its_checksums(root, tmp_path) -> None:
    copy = shutil.copytree(root / "dssm", tmp_path / "dssm")
    manifest = json.loads((copy / "manifest.json").read_text())
    assert f"{INDEX_DIR}/arrays.npz" in manifest["artifact"]["files"]
    with open(copy / INDEX_DIR / "arrays.npz", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ArtifactIntegrityError):
        RecommendationService(artifact=copy)


def test_save_retrieval_artifact_refuses_an_index_of_another_model(models, tmp_path) -> None:
    dssm, other, _ = models
    with pytest.raises(ArtifactError, match="model version"):
        save_retrieval_artifact(dssm, tmp_path / "x", other.build_index("brute_force"))
    assert not (tmp_path / "x").exists()


def test_a_ranker_needs_a_two_tower_artifact_and_swaps_with_it(root, frame, tmp_path) -> None:
    sar = create_model("sar").fit(frame)
    save_artifact(sar, tmp_path / "sar")
    with pytest.raises(ArtifactError, match="two-tower"):
        RecommendationService(artifact=tmp_path / "sar", ranker_artifact=root / "deepfm")
    svc = RecommendationService(
        artifact=root / "dssm_plain", artifact_root=root, admin_token="t" * 8
    )
    assert svc.state.ranker is None
    svc.admin_swap("dssm", "t" * 8, ranker="deepfm")
    state = svc.state
    assert state.ranker is not None and state.retrieval.index_source == "saved"
    assert svc.two_stage(user_id=3, k=3)["items"]
    with pytest.raises(ServiceError) as err:  # a failed swap keeps both served
        svc.admin_swap("dssm", "t" * 8, ranker="missing")
    assert err.value.status == 404 and svc.state is state
    svc.swap_artifact(root / "other")  # the ranker stays with the new retriever
    assert svc.state.ranker is state.ranker and svc.two_stage(user_id=3, k=3)["items"]


def test_history_reaches_a_user_tower_that_reads_one(frame) -> None:
    df = frame.copy()
    first = (
        df.sort_values("timestamp")
        .groupby("userID")["itemID"]
        .apply(lambda s: "|".join(map(str, s.iloc[:5])))
    )
    df["history"] = df["userID"].map(first)
    features = [
        {"name": "user_id", "column": "@user"},
        {
            "name": "hist",
            "column": "history",
            "type": "sequence",
            "separator": "|",
            "side": "user",
            "max_length": 5,
        },
        {"name": "movie_id", "column": "@item"},
    ]
    model = create_model(
        "dssm",
        features=features,
        feature_groups={"user": ["user_id", "hist"], "item": ["movie_id"]},
        default_embedding_dim=8,
        train=TRAIN,
    ).fit(df)
    served = ServedRetrieval(model)
    assert served.history_feature == ("history", "|") and served.describe()["history"] is True
    found = served.retrieve(None, None, [1, 2, 3], 5)
    vector = model.user_embeddings(pd.DataFrame({"userID": [None], "history": ["1|2|3"]}))
    ids, _ = served.index.search(vector, 5, exclude=[[1, 2, 3]])
    assert found.ids.tolist() == ids[0].tolist() and not {1, 2, 3} & set(found.ids.tolist())
    with pytest.raises(ServiceError) as err:
        served.retrieve(None, None, [], 5)
    assert err.value.code == "empty_history"


def test_known_users_embeddings_are_cached_and_features_override_them(service, models) -> None:
    dssm = models[0]
    served = service.state.retrieval
    assert served.user_vectors is not None and served.user_vectors.shape == (
        len(dssm.user_ids_),
        64,
    )
    cached, _, _ = served.user_vector(3, None, None)
    fresh = dssm.user_embeddings(pd.DataFrame({"userID": [3]}))
    assert np.allclose(cached, fresh, atol=1e-6)
    override, _, clean = served.user_vector(3, {"age": 70}, None)
    assert clean == {"age": 70} and not np.allclose(override, cached)


def test_num_threads_must_be_a_positive_integer(root) -> None:
    from recutils.exceptions import ConfigError

    with pytest.raises(ConfigError, match="num_threads"):
        RecommendationService(artifact=root / "dssm", num_threads=0)
