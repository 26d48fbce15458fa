#!/usr/bin/env bash
# The test command: set up .venv from setup.cfg, point TFDS at ../shared/tfds when it is
# there (real MNIST, offline), and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(bash scripts/setup.sh | tail -n 1)
if [ -z "${TFDS_DATA_DIR:-}" ] && [ -d ../shared/tfds ]; then
  export TFDS_DATA_DIR="$(cd ../shared/tfds && pwd)"
fi
export GANZOO_OFFLINE=${GANZOO_OFFLINE:-1}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
exec "$PY" -m pytest -n 2 --durations=15 "$@"
