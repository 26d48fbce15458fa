"""How a config becomes a hash: its dict in the legacy shape (:data:`~ganzoo.config.legacy.
LEGACY_MODEL_DEFAULTS`), without metadata, speed-only keys and keys at their legacy values,
digested as sorted-key JSON (:meth:`ganzoo.config.Config.hash`, ``ganzoo.checkpoint.config_identity``)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json

from ganzoo.config.legacy import LEGACY_MODEL_DEFAULTS, LEGACY_VALUES, UNHASHED_KEYS
from ganzoo.config.schema import METADATA_KEYS, SECTION_TYPES
from ganzoo.config.sections import ModelConfig


def drop_legacy_values(d: dict, *, defaults_only: bool = False) -> dict:
    """Remove from the config dict ``d`` (in place; returned) every key of
    :data:`LEGACY_VALUES` that sits at its legacy value. ``defaults_only``: only those whose
    legacy value is also today's default (what :func:`ganzoo.checkpoint.config_identity` drops)."""
    default = None
    if defaults_only:  # the sections of a default Config(): the default class's model keys
        default = {"model": ModelConfig().defaults(),
                   **{section: dataclasses.asdict(tp()) for section, tp in SECTION_TYPES.items()}}
    for (section, key), legacy in LEGACY_VALUES:
        if (default is None or legacy == default[section][key]) and d[section].get(key) == legacy:
            d[section].pop(key, None)
    return d


def dict_digest(d: dict) -> str:
    """The first 16 hex digits of the sha256 of ``d`` as sorted-key JSON (:meth:`Config.hash`,
    :func:`ganzoo.checkpoint.config_identity`)."""
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]



def legacy_shape(d: dict) -> dict:
    """The config dict ``d`` (a :meth:`~ganzoo.config.Config.to_dict`; changed in place and
    returned) with its ``model`` section in the legacy shape: the keys of
    :data:`LEGACY_MODEL_DEFAULTS` that the class does not read, at their values there."""
    d["model"] = {**copy.deepcopy(dict(LEGACY_MODEL_DEFAULTS)), **d["model"]}
    return d


def config_digest(d: dict) -> str:
    """The hash of a config dict in the legacy shape (:func:`legacy_shape`; changed in place):
    without its metadata, the speed-only keys (:data:`UNHASHED_KEYS`) and keys at their legacy
    values."""
    for key in METADATA_KEYS:
        d.pop(key, None)
    for section, key in UNHASHED_KEYS:
        d[section].pop(key, None)
    return dict_digest(drop_legacy_values(d))
