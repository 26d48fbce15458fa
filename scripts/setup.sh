#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install ganzoo into it.
# Usage: bash scripts/setup.sh [test]   (test: add the test extras: pytest, xdist, nbclient, ...)
# Prints the venv's python path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=${GANZOO_VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
case "${1:-}" in
  test) "$VENV/bin/python" -m pip install --quiet -e ".[test]" ;;
  "") "$VENV/bin/python" -m pip install --quiet -e . ;;
  *) echo "usage: bash scripts/setup.sh [test]" >&2; exit 2 ;;
esac
echo "$VENV/bin/python"
