"""The published item knowledge graphs from the data mirror: sizes, links to MovieLens ids."""

from __future__ import annotations

import pytest

from recutils.datasets import download as dl
from recutils.datasets import kg as kgmod

pytestmark = pytest.mark.realdata


@pytest.fixture(autouse=True)
def _offline_private_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))


@pytest.mark.parametrize(
    ("name", "sizes"),
    [
        ("ml-100k", (91_631, 34_628, 24, 1_598)),
        ("mkr-movie", (20_782, 7_008, 7, 2_347)),
        ("mkr-book", (19_876, 24_127, 10, 14_910)),
        ("mkr-music", (15_518, 9_366, 60, 3_846)),
    ],
)
def test_published_kg_sizes_and_clean_report(require_dataset, name, sizes):
    require_dataset(kgmod.SOURCES[name].folder)
    g = kgmod.load_kg(name, progress=False)
    assert (len(g.triples), g.n_entities, g.n_relations, len(g.links)) == sizes
    assert all(v == 0 for k, v in g.report.items() if not k.endswith("_read"))
    # linked items' entities are the first ids
    assert sorted(g.links["entity"]) == list(range(len(g.links)))


def test_ml100k_links_use_movielens_item_ids(require_dataset, ml100k):
    require_dataset("ml-100k-kg-recbole")
    g = kgmod.load_kg("ml-100k", progress=False)
    items = set(ml100k["itemID"])
    assert set(g.links["itemID"]) <= items
    assert len(items - set(g.links["itemID"])) == 1_682 - 1_598
