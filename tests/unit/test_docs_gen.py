"""The documentation site's generator (tools/docs_gen.py): README pages, links, navigation."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_docs_gen() -> Any:
    spec = importlib.util.spec_from_file_location("docs_gen", REPO / "tools" / "docs_gen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs_gen = _load_docs_gen()

README = """# title

intro

## Fresh machine

```bash
# a comment, not a heading
bash run.sh
```

### Sub

sub text

## Next

next text
"""


def test_markdown_section_keeps_subsections_and_code_and_stops_at_same_level() -> None:
    section = docs_gen.markdown_section(README, "Fresh machine")
    assert section.startswith("## Fresh machine\n")
    assert "# a comment, not a heading" in section
    assert "### Sub\n\nsub text" in section
    assert "## Next" not in section and "intro" not in section


def test_markdown_section_runs_to_the_end_and_rejects_an_unknown_heading() -> None:
    assert docs_gen.markdown_section(README, "Next").strip() == "## Next\n\nnext text"
    with pytest.raises(docs_gen.DocsBuildError, match="Nowhere"):
        docs_gen.markdown_section(README, "Nowhere")


def test_every_readme_page_section_exists_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for title, sections in docs_gen.README_PAGES.values():
        page = docs_gen.readme_page(readme, title, sections)
        assert page.startswith(f"# {title}\n")
        for heading in sections:
            assert f"## {heading}\n" in page
    getting_started = docs_gen.readme_page(
        readme, "x", docs_gen.README_PAGES["getting_started.md"][1]
    )
    assert "bash tools/quickstart.sh" in getting_started and "bash tools/test.sh" in getting_started


SITE = {
    "index.md",
    "serving.md",
    "SETUP.md",
    "notebooks/README.md",
    "notebooks/05_operationalize/README.md",
    "notebooks/00_quick_start/sar_movielens.ipynb",
}


def test_rewrite_links_maps_github_paths_to_site_paths() -> None:
    readme = (
        "[setup](SETUP.md) [guide](docs/serving.md#routes) [nb](notebooks/00_quick_start/sar_movielens.ipynb)"
        " [folder](notebooks/05_operationalize/) [web](https://example.org/a.md) [here](#top)"
    )
    out = docs_gen.rewrite_links(readme, "README.md", SITE)
    assert "[setup](SETUP.md)" in out
    assert "[guide](serving.md#routes)" in out
    assert "[nb](notebooks/00_quick_start/sar_movielens.ipynb)" in out
    assert "[folder](notebooks/05_operationalize/README.md)" in out
    assert "[web](https://example.org/a.md)" in out and "[here](#top)" in out


def test_rewrite_links_from_docs_and_from_a_notebook_folder() -> None:
    page = '[ops](../notebooks/05_operationalize/README.md "Ops") and [home](../README.md)'
    out = docs_gen.rewrite_links(page, "docs/serving.md", SITE)
    assert out == '[ops](notebooks/05_operationalize/README.md "Ops") and [home](index.md)'
    back = docs_gen.rewrite_links(
        "[s](../../docs/serving.md)", "notebooks/05_operationalize/README.md", SITE
    )
    assert back == "[s](../../serving.md)"


def test_rewrite_links_leaves_code_blocks_and_files_outside_the_site_alone() -> None:
    page = "```python\nx = a[0](docs/serving.md)\n```\n[code](../recutils/cli/main.py)\n"
    assert docs_gen.rewrite_links(page, "docs/serving.md", SITE) == page


def test_rewrite_html_links_maps_a_notebooks_links_and_reports_broken_ones() -> None:
    html = (
        '<a href="../00_quick_start/sar_movielens.ipynb#split">q</a> <a href="README.md">r</a>'
        ' <a class="x" href="../../docs/serving.md">s</a> <a href="https://example.org">w</a>'
        ' <a href="#top">t</a> <a href="gone.ipynb">g</a> <link href="style.css">'
    )
    out, broken = docs_gen.rewrite_html_links(
        html, "notebooks/05_operationalize/als_movie_o16n.ipynb", SITE, lambda path: f"URL({path})"
    )
    assert '<a href="URL(notebooks/00_quick_start/sar_movielens.ipynb)#split">q</a>' in out
    assert '<a href="URL(notebooks/05_operationalize/README.md)">r</a>' in out
    assert '<a class="x" href="URL(serving.md)">s</a>' in out
    assert '<a href="https://example.org">w</a>' in out and '<a href="#top">t</a>' in out
    assert '<a href="gone.ipynb">g</a>' in out and '<link href="style.css">' in out
    assert broken == ["gone.ipynb"]


def test_strip_sphinx_roles_keeps_the_code_span() -> None:
    html = "see :class:<code>SARConfig</code> and :func:<code>load</code>; a:b <code>c</code>"
    assert docs_gen.strip_sphinx_roles(html) == (
        "see <code>SARConfig</code> and <code>load</code>; a:b <code>c</code>"
    )
    short = "raises :class:<code>~recutils.exceptions.DataError</code>"
    assert docs_gen.strip_sphinx_roles(short) == "raises <code>DataError</code>"


def _touch(root: Path, *paths: str) -> None:
    for path in paths:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("", encoding="utf-8")


def test_public_modules_skips_private_modules_and_folders_without_init(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "pkg/__init__.py",
        "pkg/a.py",
        "pkg/_private.py",
        "pkg/sub/__init__.py",
        "pkg/sub/b.py",
        "pkg/_hidden/__init__.py",
        "pkg/_hidden/c.py",
        "pkg/loose/d.py",
    )
    assert docs_gen.public_modules(tmp_path, "pkg") == ["pkg", "pkg.a", "pkg.sub", "pkg.sub.b"]


def test_reference_nav_nests_modules_under_their_package() -> None:
    nav = docs_gen.reference_nav(["pkg", "pkg.a", "pkg.sub", "pkg.sub.b"])
    assert nav == [
        "reference/pkg.md",
        {"pkg.a": "reference/pkg/a.md"},
        {"pkg.sub": ["reference/pkg/sub.md", {"pkg.sub.b": "reference/pkg/sub/b.md"}]},
    ]
    assert docs_gen.reference_page("pkg.sub.b") == "# `pkg.sub.b`\n\n::: pkg.sub.b\n"


INDEX = """# Notebooks

Start from [template.ipynb](template.ipynb).

| stage | notebook | what |
|---|---|---|
| 00 quick start | [sar](00_quick_start/sar.ipynb) | sar |
| 05 ops | [o16n](05_ops/o16n.ipynb) | ops |
| 00 quick start | [als](00_quick_start/als.ipynb) | als |
"""


def test_notebook_nav_follows_the_table_and_adds_what_it_does_not_list() -> None:
    files = [
        "notebooks/README.md",
        "notebooks/template.ipynb",
        "notebooks/00_quick_start/als.ipynb",
        "notebooks/00_quick_start/sar.ipynb",
        "notebooks/05_ops/README.md",
        "notebooks/05_ops/o16n.ipynb",
        "notebooks/07_new/new.ipynb",
    ]
    assert docs_gen.notebook_nav(INDEX, files) == [
        "notebooks/README.md",
        {
            "00 quick start": [
                "notebooks/00_quick_start/sar.ipynb",
                "notebooks/00_quick_start/als.ipynb",
            ]
        },
        {"05 ops": ["notebooks/05_ops/README.md", "notebooks/05_ops/o16n.ipynb"]},
        {"Other notebooks": ["notebooks/07_new/new.ipynb", "notebooks/template.ipynb"]},
    ]


def test_notebook_nav_rejects_a_table_row_whose_notebook_is_missing() -> None:
    with pytest.raises(docs_gen.DocsBuildError, match="notebooks/05_ops/o16n.ipynb"):
        docs_gen.notebook_nav(
            INDEX, ["notebooks/00_quick_start/sar.ipynb", "notebooks/00_quick_start/als.ipynb"]
        )


def _nav_pages(entries: Any) -> list[str]:
    if isinstance(entries, str):
        return [entries]
    if isinstance(entries, dict):
        return [page for value in entries.values() for page in _nav_pages(value)]
    return [page for entry in entries for page in _nav_pages(entry)]


def test_the_site_navigation_holds_every_notebook_and_module_once() -> None:
    pages = _nav_pages(docs_gen.build_nav(REPO))
    assert len(pages) == len(set(pages))
    notebooks = {
        path.relative_to(REPO).as_posix()
        for folder in ("notebooks", "scenarios")
        for path in (REPO / folder).rglob("*.ipynb")
        if ".ipynb_checkpoints" not in path.parts
    }
    assert notebooks and notebooks <= set(pages)
    assert docs_gen.reference_path("recutils.models.sar.model") in pages
    assert not any("/_" in page for page in pages if page.startswith("reference/"))
    assert {
        "index.md",
        "getting_started.md",
        "SETUP.md",
        "inside.md",
        "benchmark_results.md",
    } <= set(pages)
    first_stage = next(
        entry
        for entry in _nav_section(docs_gen.build_nav(REPO), "Notebooks")
        if isinstance(entry, dict)
    )
    assert list(first_stage) == ["00 quick start"]


def _nav_section(nav: list[Any], title: str) -> list[Any]:
    return next(entry[title] for entry in nav if isinstance(entry, dict) and title in entry)
