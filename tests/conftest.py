"""Shared pytest fixtures."""

import os

import pytest

#: The Keras backend of this test process (KERAS_BACKEND; TensorFlow by default).
BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``longest`` first: under ``-n 2 --dist worksteal`` (scripts/test.sh) one worker
    starts the long proof at once and the other takes every other test beside it, instead of the
    proof starting last and running alone.

    Under ``KERAS_BACKEND=jax`` only tests marked ``both_backends`` run (CI's JAX phase); the rest
    are TensorFlow's (tf.distribute, SavedModel export, the TF-specific checks) and are skipped
    with that reason, never silently."""
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)
    if BACKEND != "tensorflow":
        skip = pytest.mark.skip(reason=f"not marked both_backends: runs on TensorFlow only (this run: {BACKEND})")
        for item in items:
            if item.get_closest_marker("both_backends") is None:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may download anything: ganzoo.data treats a missing dataset as offline."""
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
