"""Knowledge-graph files (``recutils.datasets.kg``): vocabularies, links, bad input counted."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recutils.datasets import download as dl
from recutils.datasets import kg as kgmod
from recutils.exceptions import ConfigError, CorruptDataError, DataError, DataWarning

pytestmark = pytest.mark.unit

KG = "head_id:token\trelation_id:token\ttail_id:token\n"
LINK = "item_id:token\tentity_id:token\n"


def _write(tmp_path: Path, kg: str, link: str, name: str = "g") -> tuple[Path, Path]:
    a, b = tmp_path / f"{name}.kg", tmp_path / f"{name}.link"
    a.write_bytes(kg.encode())
    b.write_bytes(link.encode())
    return a, b


def test_recbole_files_give_integer_triples_and_linked_items_first(tmp_path):
    a, b = _write(
        tmp_path, KG + "m.z\tr.b\tm.a\nm.x\tr.a\tm.z\nm.y\tr.a\tm.z\n", LINK + "7\tm.y\n3\tm.x\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # clean input: no warning
        g = kgmod.read_kg_files(a, b)
    # linked entities first in link order, then the others sorted
    assert list(g.entities) == ["m.y", "m.x", "m.a", "m.z"]
    assert list(g.relations) == ["r.a", "r.b"]
    assert g.triples.dtypes.tolist() == [np.int64] * 3
    assert g.triples.values.tolist() == [[3, 1, 2], [1, 0, 3], [0, 0, 3]]
    assert g.links.values.tolist() == [[7, 0], [3, 1]]
    assert g.item_entities([3, 99, 7]).tolist() == [1, -1, 0]
    assert g.labelled().iloc[0].tolist() == ["m.z", "r.b", "m.a"]
    assert (g.n_entities, g.n_relations) == (4, 2)


def test_bad_input_is_counted_dropped_and_reported(tmp_path):
    # a line with 2 fields, one with 4, one with an empty field, a duplicate triple,
    # a link to an entity in no triple, an item linked twice, a non-numeric item id
    kg = KG + "a\tr\tb\nbroken\tline\na\tr\tb\tc\n\tr\tb\nb\tr\tc\na\tr\tb\n"
    link = LINK + "1\ta\n2\tnowhere\n1\tb\nx1\tc\n4\tc\n"
    a, b = _write(tmp_path, kg, link)
    with pytest.warns(DataWarning, match="dropped bad input"):
        g = kgmod.read_kg_files(a, b)
    assert g.report == {
        "triples_read": 6,
        "malformed_triple_lines": 3,
        "links_read": 5,
        "malformed_link_lines": 1,
        "duplicate_triples": 1,
        "missing_link_targets": 1,
        "duplicate_links": 1,
    }
    assert len(g.triples) == 2
    assert g.links.values.tolist() == [[1, 0], [4, 1]]


def test_errors_raise_names_the_file_and_line(tmp_path):
    a, b = _write(tmp_path, KG + "a\tr\tb\nbroken\tline\n", LINK + "1\ta\n")
    with pytest.raises(CorruptDataError, match=r"g\.kg, line 3"):
        kgmod.read_kg_files(a, b, errors="raise")
    with pytest.raises(ConfigError, match="errors"):
        kgmod.read_kg_files(a, b, errors="ignore")
    with pytest.raises(ConfigError, match="fmt"):
        kgmod.read_kg_files(a, b, fmt="rdf")


def test_header_and_empty_files_are_refused(tmp_path):
    a, b = _write(tmp_path, "h\tr\tt\na\tr\tb\n", LINK + "1\ta\n")
    with pytest.raises(CorruptDataError, match="expected the header"):
        kgmod.read_kg_files(a, b)
    a, b = _write(tmp_path, KG, LINK + "1\ta\n", name="empty")
    with pytest.raises(CorruptDataError, match="no data rows"):
        kgmod.read_kg_files(a, b)


def test_mkr_format_with_crlf_and_integer_indices(tmp_path):
    a, b = _write(
        tmp_path,
        "0\tfilm.film.genre\t2\r\n1\tfilm.film.genre\t2\r\n1\tx\tminus\r\n",
        "10\t0\r\n20\t1\r\n",
        name="mkr",
    )
    with pytest.warns(DataWarning):
        g = kgmod.read_kg_files(a, b, fmt="mkr")
    assert g.report["malformed_triple_lines"] == 1  # "minus" is not an entity index
    assert list(g.entities) == [0, 1, 2]  # MKR: entity id == index when items come first
    assert list(g.relations) == ["film.film.genre"]
    assert g.links.values.tolist() == [[10, 0], [20, 1]]
    with pytest.warns(DataWarning):
        book = kgmod.read_kg_files(a, b, fmt="mkr", numeric_items=False, col_item="isbn")
    assert book.links["isbn"].tolist() == ["10", "20"]


def test_build_kg_checks_its_frames():
    with pytest.raises(DataError, match="columns"):
        kgmod.build_kg(pd.DataFrame({"h": [1]}), pd.DataFrame({"i": [1], "e": [1]}))
    with pytest.raises(DataError, match="no triple"):
        kgmod.build_kg(
            pd.DataFrame(columns=["head", "relation", "tail"]), pd.DataFrame({"i": [1], "e": [1]})
        )


def test_load_kg_unknown_name_and_mirror_lookup(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="known"):
        kgmod.load_kg("freebase")
    # a mirror holding the folder with files that are not the published ones
    folder = tmp_path / "mirror" / "ml-100k-kg-recbole"
    folder.mkdir(parents=True)
    _write(folder, KG + "a\tr\tb\n", LINK + "1\ta\n", name="ml-100k")
    monkeypatch.setenv(dl.ENV_DATA_MIRROR, str(tmp_path / "mirror"))
    monkeypatch.setenv(dl.ENV_OFFLINE, "1")
    monkeypatch.setenv(dl.ENV_DATA_HOME, str(tmp_path / "cache"))
    with pytest.raises(CorruptDataError, match="not the published"):
        kgmod.load_kg("ml-100k", progress=False)
    g = kgmod.load_kg("ml-100k", progress=False, verify=False)
    assert len(g.triples) == 1 and g.links.values.tolist() == [[1, 0]]
