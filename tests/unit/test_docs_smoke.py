"""The site's headless-browser smoke check (tools/docs_smoke.py): URLs, expectations, verdicts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _load_docs_smoke() -> Any:
    spec = importlib.util.spec_from_file_location("docs_smoke", REPO / "tools" / "docs_smoke.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs_smoke = _load_docs_smoke()


def test_page_url_follows_directory_urls() -> None:
    assert docs_smoke.page_url("index.md") == "/"
    assert docs_smoke.page_url("notebooks/README.md") == "/notebooks/"
    assert docs_smoke.page_url("notebooks/00_quick_start/sar_movielens.ipynb") == (
        "/notebooks/00_quick_start/sar_movielens/"
    )


def test_expected_outputs_counts_png_images_and_html_tables(tmp_path: Path) -> None:
    cells = [
        {"cell_type": "markdown", "source": "# t"},
        {"cell_type": "code", "outputs": []},
        {"cell_type": "code", "outputs": [{"data": {"image/png": "AAAA", "text/plain": "fig"}}]},
        {
            "cell_type": "code",
            "outputs": [{"data": {"text/html": ["<div>", "<table>", "</table>"]}}],
        },
        {"cell_type": "code", "outputs": [{"name": "stdout", "text": "<table>"}]},
    ]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    assert docs_smoke.expected_outputs(path) == {"images": 1, "tables": 1}


def _page(**counts: int) -> dict[str, int]:
    return {"tables": 0, "images": 0, "broken_images": 0, "code_cells": 3, **counts}


def test_check_passes_a_site_that_shows_what_the_notebook_holds() -> None:
    result = {"/": _page(tables=1), "/nb/": _page(tables=2, images=1)}
    assert docs_smoke.check(result, {"images": 1, "tables": 1}, "/", "/nb/") == []
    bare = {"/": _page(tables=1), "/nb/": _page()}
    assert docs_smoke.check(bare, {"images": 0, "tables": 0}, "/", "/nb/") == []


def test_check_names_each_thing_that_did_not_render() -> None:
    result = {"/": _page(), "/nb/": _page(code_cells=0, images=0, broken_images=1)}
    failures = docs_smoke.check(result, {"images": 1, "tables": 1}, "/", "/nb/")
    assert failures == [
        "the index / shows no table",
        "the notebook page /nb/ shows no code cell",
        "the notebook page /nb/ shows 0 images of the notebook's 1 (1 broken)",
        "the notebook page /nb/ shows none of the notebook's tables",
    ]
    assert docs_smoke.check({"/": None}, {"images": 0, "tables": 0}, "/", "/nb/") == [
        "the index / did not render",
        "the notebook page /nb/ did not render",
    ]
