"""Top-k indexes over item vectors: exact answers, faiss recall, exclusion, save/load refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recutils.exceptions import ConfigError, DataError, MissingDependencyError, NotFittedError
from recutils.models.persistence import ArtifactError, ArtifactIntegrityError, ArtifactVersionError
from recutils.retrieval import (
    FAISS_KINDS,
    METRICS,
    BruteForceIndex,
    FaissIndex,
    IndexVersionError,
    gaussian_mixture_vectors,
    load_index,
    recall_at_k,
)

REPO = Path(__file__).resolve().parents[2]

# four 2-d items: a along x, b along y, c diagonal and long, d opposite of a
TOY = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [-1.0, 0.0]], dtype=np.float32)
TOY_IDS = np.array(["a", "b", "c", "d"])


@pytest.fixture(scope="module")
def clustered():
    """5,000 indexed and 200 query vectors of dimension 32 from one Gaussian mixture."""
    vectors = gaussian_mixture_vectors(5200, 32, n_clusters=64, spread=1.0, seed=0)
    return vectors[:5000], np.arange(5000) * 3 + 1, vectors[5000:]


@pytest.fixture(scope="module")
def exact(clustered):
    """Brute-force top-10 ids for every metric."""
    data, ids, queries = clustered
    return {m: BruteForceIndex(m).build(data, ids).search(queries, 10)[0] for m in METRICS}


# ----------------------------------------------------------------- brute force: known answers
@pytest.mark.parametrize(
    "metric, expected_ids, expected_scores",
    [
        ("ip", [["c", "a", "b"]], [[2.0, 1.0, 0.0]]),
        ("cosine", [["a", "c", "b"]], [[1.0, np.sqrt(0.5), 0.0]]),
        ("l2", [["a", "b", "d"]], [[0.0, 2.0, 4.0]]),  # squared distances, nearest first
    ],
)
def test_brute_force_known_answers(metric, expected_ids, expected_scores):
    index = BruteForceIndex(metric).build(TOY, TOY_IDS)
    ids, scores = index.search([[1.0, 0.0]], 3)
    assert ids.tolist() == expected_ids
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6, atol=1e-6)
    assert scores.dtype == np.float32 and ids.dtype == TOY_IDS.dtype


def test_brute_force_blocks_give_the_same_answer_as_one_block():
    rng = np.random.default_rng(1)
    data, queries = rng.standard_normal((300, 8)), rng.standard_normal((40, 8))
    for metric in METRICS:
        whole = BruteForceIndex(metric).build(data, np.arange(300)).search(queries, 7)
        tiny = BruteForceIndex(metric, block_size=5).build(data, np.arange(300)).search(queries, 7)
        np.testing.assert_array_equal(whole[0], tiny[0])
        np.testing.assert_allclose(whole[1], tiny[1], rtol=1e-5, atol=1e-5)
        full = data.astype(np.float32) @ queries.astype(np.float32).T
        if metric == "ip":  # the reference: a full sort of every score
            np.testing.assert_array_equal(whole[0], np.argsort(-full.T, axis=1)[:, :7])


def test_ties_are_ordered_by_build_order():
    data = np.ones((5, 2), dtype=np.float32)
    ids, _ = BruteForceIndex().build(data, [50, 40, 30, 20, 10]).search([[1.0, 1.0]], 5)
    assert ids.tolist() == [[50, 40, 30, 20, 10]]


def test_build_copies_and_never_changes_the_input():
    data = TOY.astype(np.float64)
    before = data.copy()
    index = BruteForceIndex("cosine").build(data, TOY_IDS)
    data[:] = 99.0
    assert np.array_equal(index.search([[1.0, 0.0]], 1)[0], [["a"]])
    assert not np.array_equal(before, data)  # the caller's array is theirs to change


# ----------------------------------------------------------------- exclusion
def test_excluded_items_never_appear_list_and_csr():
    rng = np.random.default_rng(2)
    data, queries = rng.standard_normal((200, 6)), rng.standard_normal((30, 6))
    ids = np.arange(200) + 1000
    index = BruteForceIndex("ip").build(data, ids)
    plain, _ = index.search(queries, 10)
    # exclude each query's own top 5 plus a few random items and an unknown id
    excluded = [np.concatenate([plain[i, :5], rng.choice(ids, 3), [-7]]) for i in range(30)]
    got, scores = index.search(queries, 10, exclude=excluded)
    for row, banned in zip(got, excluded):
        assert not set(row) & set(banned)
    assert np.all(np.diff(scores, axis=1) <= 0)
    # the same exclusion as a CSR over build-order columns gives the same answer
    rows = np.repeat(np.arange(30), [len(e) - 1 for e in excluded])
    cols = np.concatenate([e[:-1] for e in excluded]) - 1000
    seen = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(30, 200))
    got_csr, _ = index.search(queries, 10, exclude=seen)
    np.testing.assert_array_equal(got, got_csr)
    # the survivors are the next best: the exact answer of a search without the excluded rows
    keep = np.ones(200, dtype=bool)
    keep[cols[rows == 0]] = False
    alone = BruteForceIndex("ip").build(data[keep], ids[keep]).search(queries[:1], 10)[0]
    np.testing.assert_array_equal(got[0], alone[0])


def test_exclusion_leaving_fewer_than_k_items_is_an_error():
    index = BruteForceIndex().build(TOY, TOY_IDS)
    assert index.search([[1.0, 0.0]], 2, exclude=[["a", "c"]])[0].tolist() == [["b", "d"]]
    with pytest.raises(DataError, match="query 0 excludes 3 of the 4 items"):
        index.search([[1.0, 0.0]], 2, exclude=[["a", "b", "c"]])
    with pytest.raises(DataError, match="1 entries for 2 queries"):
        index.search([[1.0, 0.0], [0.0, 1.0]], 1, exclude=[["a"]])
    with pytest.raises(DataError, match=r"shape \(queries, items\) = \(1, 4\)"):
        index.search([[1.0, 0.0]], 1, exclude=sp.csr_matrix((1, 3)))


# ----------------------------------------------------------------- bad input
def test_bad_input_gives_clear_errors():
    index = BruteForceIndex()
    with pytest.raises(NotFittedError, match="call build"):
        index.search([[1.0, 0.0]], 1)
    with pytest.raises(DataError, match="empty"):
        index.build(np.zeros((0, 4)), [])
    with pytest.raises(DataError, match="NaN or infinite values in 1 row"):
        index.build([[1.0, np.nan], [1.0, 2.0]], [1, 2])
    with pytest.raises(DataError, match="ids must be unique; 1 repeat, e.g. 'x'"):
        index.build(TOY, ["x", "y", "x", "z"])
    with pytest.raises(DataError, match="ids has 3 entries but vectors has 4 rows"):
        index.build(TOY, [1, 2, 3])
    with pytest.raises(DataError, match="integers or strings"):
        index.build(TOY, [1.5, 2.5, 3.5, 4.5])
    index.build(TOY, TOY_IDS)
    with pytest.raises(DataError, match=r"number of indexed items \(4\), got k=5"):
        index.search([[1.0, 0.0]], 5)
    with pytest.raises(DataError, match="got k=0"):
        index.search([[1.0, 0.0]], 0)
    with pytest.raises(DataError, match="queries have dimension 3 but the index has dimension 2"):
        index.search([[1.0, 0.0, 0.0]], 1)
    with pytest.raises(DataError, match="queries hold NaN or infinite"):
        index.search([[np.inf, 0.0]], 1)
    with pytest.raises(DataError, match="2-D"):
        index.search([1.0, 0.0], 1)
    cosine = BruteForceIndex("cosine").build(TOY, TOY_IDS)
    with pytest.raises(DataError, match="cosine metric: 1 of the queries have zero norm"):
        cosine.search([[1.0, 0.0], [0.0, 0.0]], 1)
    with pytest.raises(DataError, match="vectors have zero norm"):
        BruteForceIndex("cosine").build(np.zeros((2, 2)), [1, 2])
    with pytest.raises(ConfigError, match="metric must be one of"):
        BruteForceIndex("dot")
    with pytest.raises(ConfigError, match="block_size"):
        BruteForceIndex(block_size=0)


# ----------------------------------------------------------------- recall_at_k
def test_recall_at_k_known_answer_and_errors():
    exact = np.array([[1, 2, 3], [4, 5, 6]])
    approx = np.array([[3, 9, 1], [7, 8, 4]])
    assert recall_at_k(approx, exact, 3) == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert recall_at_k(approx, exact, 1) == 0.0
    assert recall_at_k(exact, exact, 3) == 1.0
    assert recall_at_k(np.array([["b", "a"]]), np.array([["a", "b"]]), 2) == 1.0
    with pytest.raises(DataError, match="k=4 is more than the columns"):
        recall_at_k(approx, exact, 4)
    with pytest.raises(DataError, match="same number of queries"):
        recall_at_k(approx[:1], exact, 2)


# ----------------------------------------------------------------- save / load
def test_save_load_round_trip_and_refusals(tmp_path):
    index = BruteForceIndex("l2", block_size=64).build(TOY, TOY_IDS, model_version="v1")
    folder = index.save(tmp_path / "idx")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {manifest[k] for k in ("kind", "metric", "model_version")} == {"brute_force", "l2", "v1"}
    assert (manifest["dim"], manifest["n"], manifest["params"]) == (2, 4, {"block_size": 64})
    assert set(manifest["artifact"]["files"]) == {"arrays.npz"}
    loaded = load_index(folder, expected_model_version="v1")
    assert isinstance(loaded, BruteForceIndex)
    assert BruteForceIndex.load(folder).model_version_ == "v1"
    queries = [[1.0, 0.0], [0.3, -2.0]]
    for got, want in zip(loaded.search(queries, 3), index.search(queries, 3)):
        np.testing.assert_array_equal(got, want)

    with pytest.raises(IndexVersionError, match="model version 'v1', not the expected 'v2'"):
        load_index(folder, expected_model_version="v2")
    with pytest.raises(ArtifactError, match="exists"):
        index.save(folder)
    index.save(folder, overwrite=True)

    arrays = folder / "arrays.npz"
    good = arrays.read_bytes()
    arrays.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(ArtifactIntegrityError, match="'arrays.npz' does not match"):
        load_index(folder)
    arrays.unlink()
    with pytest.raises(ArtifactIntegrityError, match="'arrays.npz' is missing"):
        load_index(folder)
    arrays.write_bytes(good)
    (folder / "extra.npy").write_bytes(b"x")
    with pytest.raises(ArtifactIntegrityError, match="not in its manifest"):
        load_index(folder)
    (folder / "extra.npy").unlink()
    load_index(folder)  # restored: loads again


def test_manifest_edits_and_unknown_kinds_are_refused(tmp_path):
    folder = BruteForceIndex().build(TOY, TOY_IDS, model_version="v1").save(tmp_path / "idx")
    file = folder / "manifest.json"
    original = json.loads(file.read_text())

    def write(**changes):
        file.write_text(json.dumps({**original, **changes}))

    write(model_version="v2")  # claiming another version without re-digesting the manifest
    with pytest.raises(ArtifactIntegrityError, match="modified after the index was written"):
        load_index(folder, expected_model_version="v2")
    write(kind="annoy")
    with pytest.raises(ArtifactError, match="unknown index kind 'annoy'"):
        load_index(folder)
    write(format_version=99)
    with pytest.raises(ArtifactVersionError, match="newer than this recutils reads"):
        load_index(folder)
    write(format="recutils-model")
    with pytest.raises(ArtifactError, match="not a recutils index manifest"):
        load_index(folder)
    with pytest.raises(ArtifactError, match="not a saved index folder"):
        load_index(tmp_path / "nowhere")
    with pytest.raises(NotFittedError):
        BruteForceIndex().save(tmp_path / "empty")


def test_import_does_not_load_faiss_or_torch():
    code = (
        "import sys, recutils.retrieval; "
        "print([m for m in ('faiss', 'torch', 'pyspark') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout
    assert out.strip() == "[]"


def test_faiss_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # "import faiss" now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"recutils\[retrieval\]"):
        FaissIndex("flat").build(TOY, TOY_IDS)
    with pytest.raises(ConfigError, match="kind must be one of"):
        FaissIndex("lsh")


def test_gaussian_mixture_is_seeded():
    a = gaussian_mixture_vectors(50, 4, n_clusters=3, seed=5)
    assert a.dtype == np.float32 and a.shape == (50, 4)
    np.testing.assert_array_equal(a, gaussian_mixture_vectors(50, 4, n_clusters=3, seed=5))
    assert not np.array_equal(a, gaussian_mixture_vectors(50, 4, n_clusters=3, seed=6))


# ----------------------------------------------------------------- faiss
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("kind", FAISS_KINDS)
def test_faiss_recall_against_brute_force(clustered, exact, kind, metric):
    pytest.importorskip("faiss")
    data, ids, queries = clustered
    found, scores = FaissIndex(kind, metric).build(data, ids).search(queries, 10)
    recall = recall_at_k(found, exact[metric], 10)
    assert recall >= (0.999 if kind == "flat" else 0.9), recall
    assert found.dtype == ids.dtype and scores.shape == (200, 10)


def test_faiss_defaults_and_seeded_ivf(clustered):
    pytest.importorskip("faiss")
    data, ids, queries = clustered
    first = FaissIndex("ivf").build(data, ids)
    assert (first.nlist_, first.nprobe_) == (128, 12)  # min(4 sqrt(5000), 5000 // 39), sqrt
    again = FaissIndex("ivf").build(data, ids)
    np.testing.assert_array_equal(first.search(queries, 10)[0], again.search(queries, 10)[0])
    with pytest.raises(ConfigError, match="nlist must be a positive integer or None"):
        FaissIndex("ivf", nlist=0)


def test_tune_search_trades_recall_for_speed_without_rebuilding(clustered, tmp_path):
    pytest.importorskip("faiss")
    data, ids, queries = clustered
    exact, _ = BruteForceIndex().build(data, ids).search(queries, 10)
    ivf = FaissIndex("ivf").build(data, ids)
    recalls = [
        recall_at_k(ivf.tune_search(nprobe=p).search(queries, 10)[0], exact, 10)
        for p in (1, 4, 128)
    ]
    assert recalls[0] < recalls[1] <= recalls[2] and recalls[2] > 0.999, recalls
    ivf.save(tmp_path / "ivf")
    assert load_index(tmp_path / "ivf").nprobe_ == 128  # the tuned width is saved
    hnsw = FaissIndex("hnsw", ef_search=16).build(data, ids)
    low = recall_at_k(hnsw.search(queries, 10)[0], exact, 10)
    high = recall_at_k(hnsw.tune_search(ef_search=256).search(queries, 10)[0], exact, 10)
    assert high >= low and hnsw.ef_search == 256
    with pytest.raises(ConfigError, match="a hnsw index has no \\['nprobe'\\] to tune"):
        hnsw.tune_search(nprobe=3)
    with pytest.raises(ConfigError, match="exceeds the index's 128 cells"):
        ivf.tune_search(nprobe=129)
    with pytest.raises(ConfigError, match="tunes nothing"):
        FaissIndex("flat").tune_search(ef_search=3)
    with pytest.raises(NotFittedError):
        FaissIndex("ivf").tune_search(nprobe=2)


def test_search_width_is_k_without_exclusions_and_a_power_of_two_with(monkeypatch):
    """A query without exclusions is searched exactly k wide (so HNSW's ef_search below the
    next power of two is honoured); one with exclusions as wide as k plus them, rounded up."""
    index = BruteForceIndex().build(np.eye(40, dtype=np.float32), np.arange(40))
    widths = []
    search_rows = index._search_rows

    def spy(matrix, width, exhaustive):
        widths.append((len(matrix), width))
        return search_rows(matrix, width, exhaustive)

    monkeypatch.setattr(index, "_search_rows", spy)
    index.search(np.eye(40, dtype=np.float32)[:3], 10)
    assert widths == [(3, 10)]
    widths.clear()
    index.search(np.eye(40, dtype=np.float32)[:3], 10, exclude=[[], [5, 6], []])
    assert sorted(widths) == [(1, 16), (2, 10)]


def test_ivf_query_short_of_candidates_goes_exhaustive_at_once(monkeypatch):
    """nprobe=1 over cells smaller than k: no ladder of ever wider searches of the same cell,
    one exhaustive pass, and the exact answer."""
    pytest.importorskip("faiss")
    rng = np.random.default_rng(5)
    data = rng.standard_normal((400, 8)).astype(np.float32)
    queries = rng.standard_normal((5, 8)).astype(np.float32)
    index = FaissIndex("ivf", "l2", nlist=10, nprobe=1).build(data, np.arange(400))
    calls = []
    search_rows = index._search_rows

    def spy(matrix, width, exhaustive):
        calls.append((width, exhaustive))
        return search_rows(matrix, width, exhaustive)

    monkeypatch.setattr(index, "_search_rows", spy)
    got, _ = index.search(queries, 60)  # a cell holds about 40 vectors
    assert calls == [(60, False), (120, True)], calls
    exact, _ = BruteForceIndex("l2").build(data, np.arange(400)).search(queries, 60)
    assert np.array_equal(got, exact)


@pytest.mark.parametrize("kind", FAISS_KINDS)
def test_faiss_exclusion_widens_until_every_row_is_full(kind):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(3)
    data = rng.standard_normal((400, 8)).astype(np.float32)
    queries = rng.standard_normal((20, 8)).astype(np.float32)
    # ivf scanning one cell of 10 cannot find 390 items: only the exhaustive pass can
    index = FaissIndex(kind, "l2", nlist=10, nprobe=1, ef_search=16).build(data, np.arange(400))
    banned = [rng.choice(400, 380, replace=False) for _ in range(20)]
    got, scores = index.search(queries, 20, exclude=banned)
    for row, b in zip(got, banned):
        assert not set(row) & set(b) and len(set(row)) == 20
    exact, _ = BruteForceIndex("l2").build(data, np.arange(400)).search(queries, 20, exclude=banned)
    assert np.array_equal(np.sort(got, axis=1), np.sort(exact, axis=1))
    assert np.all(np.diff(scores, axis=1) >= 0)  # l2: nearest first


@pytest.mark.parametrize("kind", FAISS_KINDS)
def test_faiss_save_load_round_trip(tmp_path, clustered, kind):
    pytest.importorskip("faiss")
    data, ids, queries = clustered
    index = FaissIndex(kind, "cosine").build(data[:1000], ids[:1000], model_version="m-7")
    folder = index.save(tmp_path / kind)
    assert set(json.loads((folder / "manifest.json").read_text())["artifact"]["files"]) == {
        "arrays.npz",
        "index.faiss",
    }
    loaded = FaissIndex.load(folder, expected_model_version="m-7")
    assert (loaded.kind, loaded.metric, loaded.params()) == (kind, "cosine", index.params())
    for got, want in zip(loaded.search(queries, 10), index.search(queries, 10)):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(IndexVersionError, match="'m-7', not the expected 'm-8'"):
        load_index(folder, expected_model_version="m-8")
    with pytest.raises(ArtifactError, match="not a BruteForceIndex"):
        BruteForceIndex.load(folder)
    blob = folder / "index.faiss"
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    blob.write_bytes(bytes(raw))
    with pytest.raises(ArtifactIntegrityError, match="'index.faiss' does not match"):
        load_index(folder)


def test_docs_example_runs(tmp_path):
    from tests._docsnippets import run_snippet

    out = run_snippet(REPO / "docs" / "retrieval_index.md", "ann-brute-force", cwd=tmp_path).stdout
    assert out.splitlines() == ["[['c', 'b']]", "True"]  # d, the closest, was excluded
