"""Shared pytest fixtures."""

import pytest


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may download anything: ganzoo.data treats a missing dataset as offline."""
    monkeypatch.setenv("GANZOO_OFFLINE", "1")
