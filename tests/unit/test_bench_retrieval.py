"""tools/benchmarks/bench_retrieval.py's pieces on toy sizes: the right rows, sane figures (no speeds asserted)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("faiss")

from recutils.exceptions import DataError  # noqa: E402
from recutils.retrieval import gaussian_mixture_vectors  # noqa: E402

TOOL = Path(__file__).resolve().parents[2] / "tools" / "benchmarks" / "bench_retrieval.py"
TOY = {"n_users": 60, "n_items": 120, "n_interactions": 1500}


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_retrieval", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def frame(bench):
    df, what = bench.load_frame("synthetic", **TOY)
    assert what.startswith("synthetic") and "1,500 rows" in what
    return df


@pytest.fixture(scope="module")
def trained(bench, frame):
    return {
        loss: bench.training_speed(frame, loss, batch_size=256, negatives=64, repeat=2)
        for loss in bench.LOSSES
    }


def _sane(row, unit):
    assert row["unit"] == unit
    assert math.isfinite(row["rate"]) and row["rate"] > 0
    assert row["recall"] is None or 0.0 <= row["recall"] <= 1.0


def test_synthetic_frame_has_the_preset_features(frame):
    for column in ("userID", "itemID", "age", "gender", "occupation", "genres", "year"):
        assert column in frame.columns and frame[column].notna().all()
    assert len(frame) == TOY["n_interactions"]


def test_unknown_data_is_an_error(bench):
    with pytest.raises(DataError, match="synthetic"):
        bench.load_frame("criteo")


def test_training_rows_per_loss(trained, frame):
    for loss, (row, model) in trained.items():
        _sane(row, "samples/s")
        assert row["section"] == "train" and row["case"].startswith(loss) and row["epoch s"] > 0
        assert len(model.history_) == 3  # a warm-up epoch and two timed ones
        assert model.item_vectors_.shape[0] == frame["itemID"].nunique()
    assert "64 negatives" in trained["sampled_softmax"][0]["case"]


def test_index_rows_brute_force_first_with_recall_one(bench):
    vectors = gaussian_mixture_vectors(2100, 16, n_clusters=8, seed=0)
    rows = bench.index_speed(vectors[:2000], vectors[2000:], k=5, repeat=1, section="index mixture")
    assert [r["case"].split()[0] for r in rows] == ["brute_force", *bench.INDEX_KINDS]
    for row in rows:
        _sane(row, "queries/s")
        assert row["build s"] >= 0
    assert (
        rows[0]["recall"] == 1.0 and rows[1]["recall"] >= 0.99
    )  # faiss flat is exact too (ties aside)


def test_item_index_and_recommend_rows(bench, trained):
    model = trained["in_batch_softmax"][1]
    items = bench.item_index_speed(model, k=5, kinds=["hnsw"], repeat=1)
    assert [r["section"] for r in items] == ["index items"] * 2
    assert (
        items[0]["case"] == f"brute_force ({len(model.item_ids_)} x {model.item_vectors_.shape[1]})"
    )
    served = bench.recommend_speed(model, k=5, kind="flat", repeat=1)
    for row in items + served:
        _sane(row, "users/s" if row["section"] == "recommend" else "queries/s")
    assert served[1]["recall"] >= 0.98  # an exact index finds the exact path's items (ties aside)


def test_table_and_help(bench, trained, capsys):
    rows = [
        trained["in_batch_softmax"][0],
        {
            "section": "recommend",
            "case": "recommend_k_items",
            "build s": None,
            "rate": 100.0,
            "unit": "users/s",
            "recall": 1.0,
        },
        {
            "section": "recommend",
            "case": "hnsw index search",
            "build s": 0.5,
            "rate": 400.0,
            "unit": "users/s",
            "recall": 0.98,
        },
        {
            "section": "recommend",
            "case": "ivf index search",
            "build s": 0.1,
            "rate": 5.0,
            "unit": "users/s",
            "recall": 0.9,
        },
    ]
    lines = bench.format_table(rows, k=10).splitlines()
    assert "recall@10" in lines[0] and len(lines) == 2 + len(rows)
    assert [line.split()[-1] for line in lines[-3:]] == ["1.0x", "4.0x", "0.05x"]
    with pytest.raises(SystemExit) as done:
        bench.main(["--help"])
    assert done.value.code == 0
    assert "--index-n" in capsys.readouterr().out


def test_recommend_refuses_users_short_of_k(bench, trained):
    model = trained["in_batch_softmax"][1]
    with pytest.raises(DataError):
        bench.recommend_speed(model, k=len(model.item_ids_), repeat=1)
