"""Smoke check of the built documentation site in a headless browser.

Serves ``site/`` on a local port, opens the index and the quick-start notebook's page in headless
Chromium and checks what a reader would see: the index renders a table; the notebook page renders
its code cells, and every table and PNG image that the committed notebook holds in its outputs
(an image counts when the browser has decoded it). A notebook committed without outputs needs
only its code cells.

    bash tools/docs.sh && python tools/docs_smoke.py [--site site] [--browser chromium]

Exits 0 when every check passes, 1 when one fails, 2 when no browser is found. Only the standard
library is used; the browser comes from the system (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/00_quick_start/sar_movielens.ipynb"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HARNESS = "/__docs_smoke__.html"

# Loads each page in a same-origin iframe; once every frame has loaded (the parent's load event
# waits for them), counts what rendered in the article and writes it as JSON into the body.
_HARNESS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>docs smoke</title></head>
<body>
<script>
const pages = %(pages)s;
for (const page of pages) {
  const frame = document.createElement("iframe");
  frame.src = page;
  frame.style.width = "1280px";
  frame.style.height = "900px";
  document.body.appendChild(frame);
}
window.addEventListener("load", () => {
  const result = {};
  for (const frame of document.querySelectorAll("iframe")) {
    const doc = frame.contentDocument;
    const article = doc && doc.querySelector(".md-content");
    if (!article) { result[frame.getAttribute("src")] = null; continue; }
    const shown = (el) => el.getBoundingClientRect().height > 0;
    result[frame.getAttribute("src")] = {
      title: doc.title,
      tables: [...article.querySelectorAll("table")].filter(shown).length,
      images: [...article.querySelectorAll("img")].filter(
        (img) => img.complete && img.naturalWidth > 0 && shown(img)).length,
      broken_images: [...article.querySelectorAll("img")].filter(
        (img) => img.complete && img.naturalWidth === 0).length,
      code_cells: article.querySelectorAll(".jp-CodeCell, .jp-Cell-inputWrapper").length,
    };
  }
  const out = document.createElement("pre");
  out.id = "docs-smoke-result";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
</body></html>
"""


def page_url(source: str) -> str:
    """The site URL (directory URLs) of a page built from ``source``."""
    stem = re.sub(r"\.(md|ipynb)$", "", source)
    if stem in ("index", "README") or stem.endswith("/README") or stem.endswith("/index"):
        stem = stem.rpartition("/")[0]
    return "/" + (stem + "/" if stem else "")


def expected_outputs(notebook: Path) -> dict[str, int]:
    """How many PNG images and HTML tables the notebook holds in its stored outputs."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    images = tables = 0
    for cell in cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            images += "image/png" in data
            html = data.get("text/html", "")
            tables += "<table" in ("".join(html) if isinstance(html, list) else html)
    return {"images": images, "tables": tables}


def find_browser(name: str | None) -> str | None:
    """The browser executable: ``name`` when given, else the first Chromium found on PATH."""
    for candidate in (name,) if name else BROWSERS:
        path = shutil.which(candidate)
        if path:
            return path
    return None


def _serve(site: Path, pages: list[str]) -> http.server.ThreadingHTTPServer:
    harness = (_HARNESS_HTML % {"pages": json.dumps(pages)}).encode()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the base class's name)
            if self.path == HARNESS:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(harness)))
                self.end_headers()
                self.wfile.write(harness)
                return
            super().do_GET()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def render(site: Path, pages: list[str], browser: str, timeout: float) -> dict[str, Any]:
    """Open the pages in the headless browser and return what rendered on each."""
    server = _serve(site, pages)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}{HARNESS}"
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        server.shutdown()
    match = re.search(r'<pre id="docs-smoke-result">(.*?)</pre>', done.stdout, re.S)
    if match is None:
        raise RuntimeError(
            f"the browser returned no result (exit {done.returncode}): {done.stderr[-2000:]}"
        )
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def check(result: dict[str, Any], expected: dict[str, int], index: str, notebook: str) -> list[str]:
    """The failed checks, as sentences (empty when the site passes)."""
    failures = []
    home = result.get(index)
    if not home:
        failures.append(f"the index {index} did not render")
    elif home["tables"] < 1:
        failures.append(f"the index {index} shows no table")
    page = result.get(notebook)
    if not page:
        failures.append(f"the notebook page {notebook} did not render")
        return failures
    if page["code_cells"] < 1:
        failures.append(f"the notebook page {notebook} shows no code cell")
    if page["images"] < expected["images"] or page["broken_images"]:
        failures.append(
            f"the notebook page {notebook} shows {page['images']} images of the notebook's "
            f"{expected['images']} ({page['broken_images']} broken)"
        )
    if expected["tables"] and page["tables"] < 1:
        failures.append(f"the notebook page {notebook} shows none of the notebook's tables")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=REPO / "site", help="the built site")
    parser.add_argument("--browser", help="the browser to run (default: Chromium on PATH)")
    parser.add_argument("--notebook", default=NOTEBOOK, help="the notebook whose page to open")
    parser.add_argument("--root", type=Path, default=REPO, help="where the notebook's path starts")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for the browser")
    args = parser.parse_args(argv)

    browser = find_browser(args.browser)
    if browser is None:
        print("docs smoke check: no headless browser found (apt-get install chromium)")
        return 2
    if not (args.site / "index.html").exists():
        print(f"docs smoke check: no built site in {args.site} (run bash tools/docs.sh)")
        return 1
    start = time.monotonic()
    index, notebook = page_url("index.md"), page_url(args.notebook)
    result = render(args.site, [index, notebook], browser, args.timeout)
    expected = expected_outputs(args.root / args.notebook)
    failures = check(result, expected, index, notebook)
    seconds = time.monotonic() - start
    print(f"docs smoke check ({seconds:.1f} s): {json.dumps(result)}; expected {expected}")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
