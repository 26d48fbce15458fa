"""Shared pytest fixtures."""

import pytest


def pytest_collection_modifyitems(config, items):
    """Tests marked ``longest`` first: under ``-n 2 --dist worksteal`` (scripts/test.sh) one worker
    starts the long proof at once and the other takes every other test beside it, instead of the
    proof starting last and running alone."""
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may download anything: ganzoo.data treats a missing dataset as offline."""
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
