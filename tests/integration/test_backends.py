"""Saving is backend-neutral: a ``.keras`` file and a ``.weights.h5`` written on TensorFlow load
and sample on JAX as they sample on TensorFlow, and the other way round; the bundled pretrained
generator samples the same on both. Each backend runs in its own process
(tests/integration/backend_worker.py), whatever backend runs this test."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import CHECKOUT_PYTHONPATH

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("tensorflow", "jax")
#: Images are floats in [-1, 1]; the two backends' convolutions round differently (measured: a few 1e-7).
ATOL = 1e-5

pytestmark = [pytest.mark.slow,  # four processes, two on each backend
              pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")]


def _workers(*jobs):
    """Run ``(backend, mode, src, out)`` workers side by side; fail with a worker's stderr."""
    env = dict(os.environ, PYTHONPATH=CHECKOUT_PYTHONPATH, TF_CPP_MIN_LOG_LEVEL="2")
    procs = []
    for backend, mode, src, out in jobs:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "tests.integration.backend_worker", mode, str(src), str(out)], cwd=ROOT,
            env=dict(env, KERAS_BACKEND=backend), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for (backend, mode, _, _), proc in zip(jobs, procs):
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"{mode} on {backend} failed:\n{err[-4000:]}"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("backends")
    _workers(*[(b, "train", "-", root / f"train_{b}") for b in BACKENDS])
    other = dict(zip(BACKENDS, reversed(BACKENDS)))
    # Each backend loads the files the other one wrote.
    _workers(*[(b, "load", root / f"train_{other[b]}", root / f"load_{b}") for b in BACKENDS])
    return {name: dict(np.load(root / name / "samples.npz"))
            for name in [f"{step}_{b}" for step in ("train", "load") for b in BACKENDS]}


@pytest.mark.parametrize("trained_on, loaded_on", [("tensorflow", "jax"), ("jax", "tensorflow")])
@pytest.mark.parametrize("kind", ["keras_file", "weights_file"])
def test_files_written_on_one_backend_sample_identically_on_the_other(results, trained_on, loaded_on, kind):
    written, loaded = results[f"train_{trained_on}"], results[f"load_{loaded_on}"]
    assert str(written["backend"]) == trained_on and str(loaded["backend"]) == loaded_on
    for suffix in ("", "_raw"):  # the sampling (EMA) generator and the raw one
        expected, got = written[f"trained{suffix}"], loaded[f"{kind}{suffix}"]
        assert got.shape == expected.shape == (6, 28, 28, 1)
        np.testing.assert_allclose(got, expected, atol=ATOL, err_msg=f"{kind}{suffix}")
    # The EMA generator is not the raw one after two steps: both were saved and loaded.
    assert np.abs(written["trained"] - written["trained_raw"]).max() > 1e-3


def test_bundled_pretrained_generator_samples_the_same_on_both_backends(results):
    samples = {b: results[f"train_{b}"]["pretrained"] for b in BACKENDS}
    assert np.abs(samples["tensorflow"]).max() > 0.5  # digits, not a blank
    np.testing.assert_allclose(samples["jax"], samples["tensorflow"], atol=ATOL)
    for b in BACKENDS:  # and the second loading in each process draws the same again
        np.testing.assert_array_equal(results[f"load_{b}"]["pretrained"], results[f"train_{b}"]["pretrained"])
