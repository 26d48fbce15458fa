"""Every zoo entry's ``Config.hash()`` and ``ganzoo.checkpoint.config_identity`` are pinned.

Shipped weights record ``config_hash`` in their metadata and runs resume by ``config_identity``,
so a refactoring of the config schema must leave both unchanged for every entry
(tests/config/zoo_config_hashes.json was written before the model section moved to the classes'
constructors). A new entry adds its row; a changed recipe changes its row on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import ganzoo
from ganzoo.checkpoint import config_identity

PINNED = json.loads((Path(__file__).parent / "zoo_config_hashes.json").read_text())


def test_every_entry_is_pinned():
    assert sorted(PINNED) == sorted(ganzoo.list_models())


@pytest.mark.parametrize("name", sorted(PINNED))
def test_hash_and_identity_are_unchanged(name):
    config = ganzoo.get_config(name)
    assert {"hash": config.hash(), "config_identity": config_identity(config)} == PINNED[name]
    # A run folder's config.yaml (the whole config, written by to_yaml) loads to the same hashes.
    again = ganzoo.Config.from_dict(yaml.safe_load(config.to_yaml()), origin=f"{name} config.yaml")
    assert (again.hash(), config_identity(again)) == (config.hash(), config_identity(config))
