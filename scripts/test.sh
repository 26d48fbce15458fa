#!/usr/bin/env bash
# The test command: set up .venv from setup.cfg (with the test extras), point TFDS at
# ../shared/tfds when it is there (real MNIST, offline), and run the test suite.
#
# Without arguments: the fast tests, then the slow ones (real-data learning proofs, long
# trainings: `-m slow`), then the tests marked both_backends again on Keras's JAX backend
# (KERAS_BACKEND=jax, slow ones included: the JAX-only device tests), each phase timed, all run even if one fails. With arguments: one pytest
# run with them (e.g. `bash scripts/test.sh tests/test_losses.py -k hinge`; prefix
# KERAS_BACKEND=jax for the JAX backend).
set -euo pipefail
cd "$(dirname "$0")/.."
phase_start=$(date +%s)
PY=$(bash scripts/setup.sh test | tail -n 1)
install_s=$(( $(date +%s) - phase_start ))
echo "test.sh: install ${install_s} s"
if [ -z "${TFDS_DATA_DIR:-}" ] && [ -d ../shared/tfds ]; then
  export TFDS_DATA_DIR="$(cd ../shared/tfds && pwd)"
fi
export GANZOO_OFFLINE=${GANZOO_OFFLINE:-1}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
PYTEST=("$PY" -m pytest -n 2 --dist worksteal --durations=15)
if [ $# -gt 0 ]; then
  exec "${PYTEST[@]}" "$@"
fi
status=0
phase_start=$(date +%s)
"${PYTEST[@]}" -m "not slow" || status=$?
fast_s=$(( $(date +%s) - phase_start ))
echo "test.sh: fast tests ${fast_s} s (exit ${status})"
slow_status=0
phase_start=$(date +%s)
"${PYTEST[@]}" -m slow || slow_status=$?
slow_s=$(( $(date +%s) - phase_start ))
echo "test.sh: slow tests ${slow_s} s (exit ${slow_status})"
jax_status=0
phase_start=$(date +%s)
KERAS_BACKEND=jax "${PYTEST[@]}" -m both_backends || jax_status=$?
jax_s=$(( $(date +%s) - phase_start ))
echo "test.sh: jax tests ${jax_s} s (exit ${jax_status})"
echo "test.sh: install ${install_s} s, fast tests ${fast_s} s, slow tests ${slow_s} s, jax tests ${jax_s} s"
[ "$status" -eq 0 ] && [ "$slow_status" -eq 0 ] && [ "$jax_status" -eq 0 ]
