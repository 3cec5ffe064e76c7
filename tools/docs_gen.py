"""Build-time generation of the documentation site: an MkDocs hook (see ``mkdocs.yml``).

Nothing here is written into the repository; every generated page exists only inside the build,
so the site cannot drift from the files it is made of:

* README sections become pages (getting started, what is inside with the algorithm table, the
  benchmark tables), copied verbatim at build time (:data:`README_PAGES`).
* ``SETUP.md``, the notebooks and their READMEs under ``notebooks/`` and ``scenarios/`` and the
  Markdown under ``tools/`` join the site at their repository paths (:data:`MIRRORED`); the
  notebooks are rendered by mkdocs-jupyter with whatever outputs they are committed with.
* One API reference page per public module of ``recutils``, found by walking the package tree, so
  a new module appears without editing anything. mkdocstrings reads the docstrings statically
  (griffe parses the source: the package is neither imported nor built).
* The navigation: the notebook curriculum in the order of ``notebooks/README.md``'s table (any
  notebook the table does not list is added after it), the scenarios, the guides in ``docs/``
  and the API reference.
* Links written for GitHub (relative to the file's place in the repository) are rewritten to the
  page's place in the site, so the Markdown files stay readable on GitHub and in the site; a link
  to a file that is not in the site is left alone and fails the strict build.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LOG = logging.getLogger("mkdocs.hooks.docs_gen")
PACKAGE = "recutils"

#: site page -> (title, README sections (``##`` headings, each taken with its subsections)).
README_PAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "getting_started.md": ("Getting started", ("Fresh machine: two commands", "In Python")),
    "inside.md": ("What is inside", ("What is inside",)),
    "benchmark_results.md": ("Benchmark results", ("Benchmarks",)),
}

#: repository files that join the site at their own path (globs relative to the repository root).
MIRRORED: tuple[str, ...] = (
    "SETUP.md",
    "notebooks/**/*.md",
    "notebooks/**/*.ipynb",
    "scenarios/**/*.md",
    "scenarios/**/*.ipynb",
    "tools/**/*.md",
)

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_LINK = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_ANCHOR_HREF = re.compile(r'(<a\s[^>]*?href=")([^"]+)(")')
_SPHINX_ROLE = re.compile(
    r":(?:func|class|meth|mod|attr|data|exc|obj|const|py:\w+):<code>(~?)([^<]*)</code>"
)
_TABLE_LINK = re.compile(r"\[[^\]]*\]\(([^)\s#]+\.ipynb)\)")


class DocsBuildError(Exception):
    """A source the site is generated from does not have the shape the generator expects."""


def _outside_fences(lines: Iterable[str]) -> Iterable[tuple[str, bool]]:
    """Yield each line with whether it lies outside fenced code blocks."""
    fence: str | None = None
    for line in lines:
        match = _FENCE.match(line)
        if match and (fence is None or match.group(1) == fence):
            fence = match.group(1) if fence is None else None
            yield line, False
            continue
        yield line, fence is None


def markdown_section(text: str, heading: str) -> str:
    """Return the section of ``text`` under ``heading``, subsections included.

    The section runs from the heading line to the next heading of the same or a higher level
    (headings inside fenced code blocks are code, not headings).

    Args:
        text: Markdown source.
        heading: the heading's text, without the leading ``#``.

    Returns:
        The section's lines, heading first, joined with newlines.

    Raises:
        DocsBuildError: no heading has that text.
    """
    lines = text.splitlines()
    start: int | None = None
    level = 0
    for number, (line, prose) in enumerate(_outside_fences(lines)):
        match = _HEADING.match(line) if prose else None
        if match is None:
            continue
        if start is None:
            if match.group(2) == heading:
                start, level = number, len(match.group(1))
        elif len(match.group(1)) <= level:
            return "\n".join(lines[start:number]).rstrip() + "\n"
    if start is None:
        raise DocsBuildError(f"no heading {heading!r} in the Markdown source")
    return "\n".join(lines[start:]).rstrip() + "\n"


def readme_page(readme: str, title: str, sections: Iterable[str]) -> str:
    """Build a site page from README sections, copied verbatim under a ``#`` title."""
    parts = [
        f"# {title}\n",
        "<!-- generated from README.md at build time by tools/docs_gen.py -->\n",
    ]
    parts += [markdown_section(readme, heading) for heading in sections]
    return "\n".join(parts)


def strip_sphinx_roles(html: str) -> str:
    """Drop the Sphinx roles (``:class:``, ``:func:`` ...) that docstrings put before code spans.

    Markdown renders ``:class:`Foo``` as ``:class:<code>Foo</code>``; the role is noise on a
    page, the code span stays. Sphinx's ``~`` prefix keeps only the last part of the name.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(2).rpartition(".")[2] if match.group(1) else match.group(2)
        return f"<code>{name}</code>"

    return _SPHINX_ROLE.sub(replace, html)


def site_path(repo_path: str) -> str:
    """Where a repository file sits in the site: ``docs/`` is the site's root, README the index."""
    if repo_path == "README.md":
        return "index.md"
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/") :]
    return repo_path


def rewrite_links(markdown: str, repo_path: str, site_files: set[str]) -> str:
    """Rewrite relative links written for GitHub into links between the site's pages.

    A link is resolved against ``repo_path`` (the file's place in the repository); when its
    target is in the site (a folder counts through its ``README.md``), the link is replaced by
    the relative path from the page's place in the site to the target's. Absolute URLs, anchors
    within the page, code blocks and links to files outside the site are left as they are.

    Args:
        markdown: the page's Markdown.
        repo_path: the file's path in the repository, POSIX, relative to the root.
        site_files: the site's files (their paths relative to the site's root).

    Returns:
        The Markdown with its links rewritten.
    """
    page_dir = posixpath.dirname(site_path(repo_path))

    def replace(match: re.Match[str]) -> str:
        target = match.group(2)
        if _SCHEME.match(target) or target.startswith(("#", "/")):
            return match.group(0)
        hash_, anchor = target.partition("#")[1:]
        found = _site_target(target, repo_path, site_files)
        if found is None:
            return match.group(0)
        relative = posixpath.relpath(found, page_dir or ".")
        return f"{match.group(1)}{relative}{hash_}{anchor}{match.group(3)}"

    out = []
    for line, prose in _outside_fences(markdown.splitlines(keepends=True)):
        out.append(_LINK.sub(replace, line) if prose else line)
    return "".join(out)


def _site_target(target: str, repo_path: str, site_files: Iterable[str]) -> str | None:
    """The site file a relative link in ``repo_path`` points to (a folder through its README)."""
    path = target.partition("#")[0]
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(repo_path), path))
    candidates = (site_path(resolved), site_path(posixpath.join(resolved, "README.md")))
    files = set(site_files)
    return next((c for c in candidates if c in files), None)


def rewrite_html_links(
    html: str, repo_path: str, site_files: Iterable[str], href: Callable[[str], str]
) -> tuple[str, list[str]]:
    """Rewrite the relative ``<a href>`` links of a rendered notebook into the site's URLs.

    A notebook's Markdown cells link to files relative to the notebook in the repository
    (``../00_quick_start/sar_movielens.ipynb``); mkdocs-jupyter renders them as HTML, which
    MkDocs neither rewrites nor validates.

    Args:
        html: the rendered page.
        repo_path: the notebook's path in the repository.
        site_files: the site's files (paths relative to the site's root).
        href: the URL of a site file relative to the page being rewritten.

    Returns:
        The HTML with its links rewritten, and the links whose target is not in the site.
    """
    files = set(site_files)
    broken: list[str] = []

    def replace(match: re.Match[str]) -> str:
        target = match.group(2)
        if _SCHEME.match(target) or target.startswith(("#", "/")):
            return match.group(0)
        found = _site_target(target, repo_path, files)
        if found is None:
            broken.append(target)
            return match.group(0)
        anchor = target.partition("#")[2]
        url = href(found) + (f"#{anchor}" if anchor else "")
        return f"{match.group(1)}{url}{match.group(3)}"

    return _ANCHOR_HREF.sub(replace, html), broken


def mirrored_files(root: Path = REPO) -> list[str]:
    """The repository files (POSIX paths) that join the site at their own path, sorted."""
    found: set[str] = set()
    for pattern in MIRRORED:
        for path in root.glob(pattern):
            relative = path.relative_to(root).as_posix()
            if ".ipynb_checkpoints" in relative or relative.endswith(".output.ipynb"):
                continue
            found.add(relative)
    return sorted(found)


def public_modules(root: Path = REPO, package: str = PACKAGE) -> list[str]:
    """Dotted names of the package's public modules (no part starting with ``_``), sorted.

    A package is listed by its own name (its ``__init__``).
    """
    names = []
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        elif not (path.parent / "__init__.py").exists():
            continue
        if any(part.startswith("_") for part in parts):
            continue
        if not all(
            (root / Path(*parts[:i]) / "__init__.py").exists() for i in range(1, len(parts))
        ):
            continue
        names.append(".".join(parts))
    return sorted(names)


def reference_path(module: str) -> str:
    """The site page of a module's API reference (``reference/<dotted/path>.md``)."""
    return "reference/" + module.replace(".", "/") + ".md"


def reference_page(module: str) -> str:
    """The Markdown of a module's API reference page (one mkdocstrings directive)."""
    return f"# `{module}`\n\n::: {module}\n"


def reference_nav(modules: Iterable[str]) -> list[Any]:
    """Nested navigation for the API reference: one section per package, its own page first."""
    modules = sorted(modules)
    packages = {m for m in modules for other in modules if other.startswith(m + ".")}

    def children(parent: str) -> list[Any]:
        entries: list[Any] = []
        for module in modules:
            if module.rpartition(".")[0] != parent:
                continue
            if module in packages:
                entries.append({module: [reference_path(module), *children(module)]})
            else:
                entries.append({module: reference_path(module)})
        return entries

    roots = [m for m in modules if "." not in m]
    return [entry for root in roots for entry in [reference_path(root), *children(root)]]


def notebook_nav(index: str, notebooks: Iterable[str], folder: str = "notebooks") -> list[Any]:
    """The curriculum: the notebooks in the order of the index's table, grouped by stage.

    Args:
        index: the Markdown of ``notebooks/README.md``; its first table's rows read
            ``| stage | [name](path.ipynb) | ...`` (later tables are not read).
        notebooks: every notebook (repository paths) and every folder README under ``folder``.
        folder: the folder the index lies in (links are relative to it).

    Returns:
        Navigation entries: the index, one section per stage in the table's order (the stage's
        folder README first when there is one) and a last section with the notebooks the table
        does not list.
    """
    available = set(notebooks)
    stages: dict[str, list[str]] = {}
    for line, prose in _outside_fences(index.splitlines()):
        is_row = prose and line.lstrip().startswith("|")
        if stages and not is_row and line.strip():
            break  # the curriculum is the first table; later tables (the map of Microsoft's
            # notebooks to these) link the same notebooks again
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not is_row or len(cells) < 2:
            continue
        match = _TABLE_LINK.search(cells[1])
        if match is None:
            continue
        path = posixpath.normpath(posixpath.join(folder, match.group(1)))
        if path not in available:
            raise DocsBuildError(f"{folder}/README.md lists {path}, which does not exist")
        stages.setdefault(cells[0], []).append(path)
    listed = {path for paths in stages.values() for path in paths}
    nav: list[Any] = [f"{folder}/README.md"]
    readmes_used: set[str] = set()
    for stage, paths in stages.items():
        entries: list[str] = []
        for path in paths:
            readme = posixpath.join(posixpath.dirname(path), "README.md")
            if readme in available and readme not in readmes_used:
                readmes_used.add(readme)
                entries.append(readme)
            entries.append(path)
        nav.append({stage: entries})
    used = listed | readmes_used | {f"{folder}/README.md"}
    # notebooks first, then any other page (a folder README the table does not reach, notes)
    rest = sorted(
        (p for p in available if p not in used), key=lambda p: (not p.endswith(".ipynb"), p)
    )
    if rest:
        nav.append({"Other notebooks": rest})
    return nav


def scenario_nav(files: Iterable[str], folder: str = "scenarios") -> list[Any]:
    """The scenarios: the index, then one section per scenario (its guide, its other pages, then
    its notebooks)."""
    files = sorted(files)
    nav: list[Any] = [f"{folder}/README.md"]
    scenarios = sorted({f.split("/")[1] for f in files if f.count("/") >= 2})
    for scenario in scenarios:
        prefix = f"{folder}/{scenario}/"
        inside = [f for f in files if f.startswith(prefix)]
        # the guide first, then its other pages, then the notebooks
        inside.sort(key=lambda f: (f != prefix + "README.md", f.endswith(".ipynb"), f))
        nav.append({scenario: inside})
    return nav


def build_nav(root: Path = REPO) -> list[Any]:
    """The whole site's navigation."""
    mirrored = mirrored_files(root)
    guides = sorted(p.name for p in (root / "docs").glob("*.md") if p.name != "index.md")
    index = (root / "notebooks" / "README.md").read_text(encoding="utf-8")
    return [
        {"Home": "index.md"},
        {"Getting started": "getting_started.md"},
        {"Setup": "SETUP.md"},
        {"What is inside": "inside.md"},
        {"Notebooks": notebook_nav(index, [p for p in mirrored if p.startswith("notebooks/")])},
        {"Scenarios": scenario_nav([p for p in mirrored if p.startswith("scenarios/")])},
        {"Guides": guides},
        {"Benchmarks": ["benchmark_results.md", *[p for p in mirrored if p.startswith("tools/")]]},
        {"API reference": reference_nav(public_modules(root))},
    ]


# --------------------------------------------------------------------------- MkDocs events

_ORIGIN: dict[str, str] = {}  # site file -> the repository file its Markdown was written in


def on_config(config: Any) -> Any:
    """Set the navigation, computed from the repository."""
    config["nav"] = build_nav()
    return config


def on_files(files: Any, config: Any) -> Any:
    """Add the README pages, the mirrored files and the API reference to the site."""
    from mkdocs.structure.files import File

    _ORIGIN.clear()
    for file in files:
        _ORIGIN[file.src_uri] = "docs/" + file.src_uri
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for page, (title, sections) in README_PAGES.items():
        files.append(File.generated(config, page, content=readme_page(readme, title, sections)))
        _ORIGIN[page] = "README.md"
    for path in mirrored_files():
        files.append(
            File(
                path,
                src_dir=str(REPO),
                dest_dir=config["site_dir"],
                use_directory_urls=config["use_directory_urls"],
            )
        )
        _ORIGIN[path] = path
    for module in public_modules():
        files.append(File.generated(config, reference_path(module), content=reference_page(module)))
    return files


# mkdocs-jupyter turns .ipynb files into pages in its own on_files: the notebooks must be in the
# collection before it runs (higher priorities run first; plugins default to 0).
on_files.mkdocs_priority = 50  # type: ignore[attr-defined]


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Rewrite the GitHub links of a page written in the repository."""
    origin = _ORIGIN.get(page.file.src_uri)
    if origin is None:
        return markdown
    return rewrite_links(markdown, origin, {file.src_uri for file in files})


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """Clean the API reference of Sphinx roles; map a notebook's links to the site (or fail)."""
    source = page.file.src_uri
    if source.startswith("reference/"):
        return strip_sphinx_roles(html)
    if not source.endswith(".ipynb"):
        return html

    def href(target: str) -> str:
        return files.get_file_from_path(target).url_relative_to(page.file)

    html, broken = rewrite_html_links(html, _ORIGIN.get(source, source), files.src_uris, href)
    for target in broken:
        LOG.warning("Notebook '%s' links to '%s', which is not in the site", source, target)
    return html
