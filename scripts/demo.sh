#!/usr/bin/env bash
# The main job: set up .venv from setup.cfg, then make pictures offline from the weights
# bundled in the package (ganzoo demo). Extra arguments go to `ganzoo demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(bash scripts/setup.sh | tail -n 1)
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
exec "$(dirname "$PY")/ganzoo" demo "$@"
