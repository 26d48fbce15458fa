"""Overrides on top of a config: ``ganzoo.get_config(name, **overrides)``, the CLI's
``--set key=value`` (:func:`parse_set_option`) and its flags, applied by :func:`apply_overrides`
and validated as the YAML was."""

from __future__ import annotations

import copy
import dataclasses
import typing
from typing import Any, Optional

import yaml

from ganzoo.config.entry import Config
from ganzoo.config.keys import used_keys
from ganzoo.config.legacy import LEGACY_NETWORK_DEFAULTS
from ganzoo.config.loading import build
from ganzoo.config.schema import ConfigError
from ganzoo.config.sections import ModelConfig, NetworkConfig, all_model_key_types, all_network_key_types
from ganzoo.network_registry import ROLES


def _set_path(raw: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _leaf_paths() -> dict[str, list[str]]:
    """Map each leaf key name to the dotted paths that end in it (``learning_rate`` -> ``train.learning_rate``)."""
    paths: dict[str, list[str]] = {}
    hints = typing.get_type_hints(Config)
    for f in dataclasses.fields(Config):
        tp = hints[f.name]
        if tp is ModelConfig:
            for name in all_model_key_types():
                paths.setdefault(name, []).append(f"model.{name}")
        elif tp is NetworkConfig:
            for name in {**LEGACY_NETWORK_DEFAULTS, **all_network_key_types(f.name)}:
                paths.setdefault(name, []).append(f"{f.name}.{name}")
        elif dataclasses.is_dataclass(tp):
            for sub in dataclasses.fields(tp):
                paths.setdefault(sub.name, []).append(f"{f.name}.{sub.name}")
        else:
            paths.setdefault(f.name, []).append(f.name)
    return paths


class _Null:
    """The value ``null`` in an override: unlike ``None`` (ignored), it sets the key to None."""

    def __repr__(self):
        return "NULL"


#: Pass this to set an optional key to None (``--set model.ema_decay=null`` on the CLI);
#: a plain ``None`` override is ignored.
NULL = _Null()


def apply_overrides(config: Config, overrides: dict, origin: str = "overrides", base: Optional[str] = None) -> Config:
    """Return a new config with ``overrides`` applied and validated; errors name ``origin`` on top
    of ``base`` (default: the config's name; ``ganzoo.get_config`` passes its YAML file).

    Keys may be dotted paths (``"train.learning_rate"``), section names with a dict value
    (``train={"learning_rate": 1e-4}``), a double-underscore path (``train__learning_rate``)
    or a leaf name that is unique across sections (``learning_rate``). ``None`` values are
    ignored, as in ``timm.create_model``, so callers can pass optional CLI flags through;
    :data:`NULL` sets a key to None (e.g. ``{"model.ema_decay": NULL}`` turns EMA off).
    """
    raw = config.to_dict()
    given = set()  # the dotted keys the overrides set
    leaves = _leaf_paths()
    sections = {f.name for f in dataclasses.fields(Config) if dataclasses.is_dataclass(f.type) or
                f.name in ("model", "generator", "discriminator", "data", "train", "augment")}
    for key, value in overrides.items():
        if value is None:
            continue
        if value is NULL:
            value = None
        key = key.replace("__", ".")
        if "." not in key and key in sections and isinstance(value, dict):
            for sub_key, sub_value in value.items():
                _set_path(raw, f"{key}.{sub_key}", None if sub_value is NULL else sub_value)
                given.add(f"{key}.{sub_key}")
            continue
        if "." not in key and key not in raw:
            paths = leaves.get(key)
            if paths and len(paths) > 1:
                raise ConfigError(f"{origin}: '{key}' is ambiguous: say which one of {', '.join(paths)}")
            if paths:
                key = paths[0]
        _set_path(raw, key, value)
        given.add(key)
    where = f"{origin} on top of {base or config.name}"
    _drop_settings_left_behind(config, raw, given, where)
    return Config.from_dict(raw, origin=where)


def _drop_settings_left_behind(config: Config, raw: dict, given: set, origin: str) -> None:
    """An override that switches a mode (``data.source: folder``, ``train.optimizer: rmsprop``,
    ``train.lr_schedule: constant``, ``model.cls``, a network's ``arch``) leaves the base entry's
    settings of the old mode unread: reset those to their defaults instead of refusing them. Keys
    the overrides set themselves are never reset (validation refuses them if unread)."""
    try:
        switched = build(Config, raw, origin, prefix="")
        before, after = used_keys(config), used_keys(switched)
    except (ConfigError, KeyError):
        return  # an invalid choice: Config.from_dict reports it
    default = Config()
    for key in before - after - given:
        section, name = key.split(".", 1)
        if section in ("model", *ROLES):  # a key the new class / builder does not take goes with the old one
            raw[section].pop(name, None)
        else:
            raw[section][name] = copy.deepcopy(getattr(getattr(default, section), name))


def parse_set_option(text: str) -> tuple[str, Any]:
    """Parse a CLI ``--set key=value``; the value is read as a YAML scalar (``2e-4``, ``true``,
    ``[1, 2]``); ``null`` (or ``~``) gives :data:`NULL`, which sets the key to None."""
    if "=" not in text:
        raise ConfigError(f"--set expects key=value (e.g. --set train.learning_rate=2e-4), got '{text}'")
    key, value = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"--set expects key=value, got '{text}'")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    if parsed is None:  # YAML null: `null`, `Null`, `~` ("none" stays a string: norm=none is a value)
        parsed = NULL
    return key, parsed
