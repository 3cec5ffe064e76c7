#!/usr/bin/env bash
# Set up a virtual environment with the core of recutils and run the quick start:
# MovieLens 100k, a train/test split, SAR, popularity and item-KNN, a metrics table and
# the top-10 lists in quickstart_top10.csv. Extra arguments go to `recutils quickstart`.
#
# Environment: PYTHON (interpreter for the venv, default python3), RECUTILS_VENV (venv
# folder, default .venv), RECUTILS_DATA_MIRROR (local data sets; defaults to
# ../shared/data when that folder exists).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${RECUTILS_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e .

if [ -z "${RECUTILS_DATA_MIRROR:-}" ] && [ -d ../shared/data ]; then
    RECUTILS_DATA_MIRROR="$(cd ../shared/data && pwd)"
    export RECUTILS_DATA_MIRROR
fi

exec "$VENV/bin/recutils" quickstart "$@"
