#!/usr/bin/env bash
# Build the documentation site in strict mode into site/ (git-ignored): a broken link, a
# missing page or an unresolved cross-reference fails the build.
#
#   bash tools/docs.sh                 # build into site/
#   bash tools/docs.sh --serve         # serve it with live reload on http://127.0.0.1:8000
#
# Environment: PYTHON (interpreter for the venv, default python3), RECUTILS_VENV (venv
# folder, default .venv; tools/test.sh creates it with every extra, docs included).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${RECUTILS_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if ! "$VENV/bin/python" -c "import mkdocs, material, mkdocstrings, mkdocstrings_handlers.python, mkdocs_jupyter" 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q -e ".[docs]"
fi

# Material's notice about MkDocs 2 is not a warning about this site.
export NO_MKDOCS_2_WARNING=1
start=$(date +%s)
if [ "${1:-}" = "--serve" ]; then
    exec "$VENV/bin/python" -m mkdocs serve --strict
fi
"$VENV/bin/python" -m mkdocs build --strict --clean --site-dir site
echo "docs built into site/ in $(( $(date +%s) - start )) s"
