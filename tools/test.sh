#!/usr/bin/env bash
# Set up a virtual environment with recutils and its test extras, then run the tests.
#
#   bash tools/test.sh                 # every tier
#   bash tools/test.sh -m unit         # one tier (markers: unit smoke integration notebooks ...)
#
# Environment: PYTHON (interpreter for the venv, default python3), RECUTILS_VENV
# (venv folder, default .venv), RECUTILS_DATA_MIRROR (local data sets; defaults to
# ../shared/data when that folder exists), RECUTILS_TEST_WORKERS (test processes, default 2;
# 0 for one process).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${RECUTILS_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# torch first and pinned, so that the torch extra finds it satisfied. On a machine whose pip
# does not serve a CPU build, this pin still takes PyPI's default (CUDA) build: see SETUP.md.
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -e ".[dev,all]"
"$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null

if [ -z "${RECUTILS_DATA_MIRROR:-}" ] && [ -d ../shared/data ]; then
    RECUTILS_DATA_MIRROR="$(cd ../shared/data && pwd)"
    export RECUTILS_DATA_MIRROR
fi

# Same floating-point kernels on every x86 machine: torch's matrix products go through
# MKL, whose AVX-512 paths sum in another order than its AVX2 ones, and the deep models'
# committed figures and test bars were measured with AVX2 (see SETUP.md, "Reproducible
# numbers"). An explicit setting in the environment wins.
export MKL_ENABLE_INSTRUCTIONS="${MKL_ENABLE_INSTRUCTIONS:-AVX2}"

# Two test processes (pytest-xdist; one per core of the CI machine). Each test file stays on
# one process, so module fixtures (a Spark fit shared by a file's tests, a spawned process
# group) run once, except the notebook runs, which are spread one by one (tests/conftest.py
# gives every other test its file as xdist group). RECUTILS_TEST_WORKERS=0 runs everything in
# one process.
WORKERS=${RECUTILS_TEST_WORKERS:-2}
if [ "$WORKERS" != 0 ]; then
    set -- -n "$WORKERS" --dist loadgroup "$@"
fi

exec "$VENV/bin/python" -m pytest "$@"
