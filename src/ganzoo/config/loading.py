"""Typed loading: a YAML-shaped dict (or file) becomes the sections of a config, each value
coerced to its key's type (a dataclass field's, a constructor's or builder's annotation); an
unknown key is a :class:`~ganzoo.config.schema.ConfigError` with the closest valid key."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from ganzoo.config.legacy import LEGACY_NETWORK_DEFAULTS
from ganzoo.config.schema import DEFAULT_MODEL_CLASS, ConfigError, did_you_mean
from ganzoo.config.sections import (ModelConfig, NetworkConfig, all_model_key_types, all_network_key_types,
                                    model_key_types, network_options)
from ganzoo.model_registry import model_class_names


def type_name(tp) -> str:
    """A type in the words of an error message (``int or null``, ``list of float``)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {type_name(typing.get_args(tp)[0])}"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp, where: str, origin: str):
    """Return ``value`` as type ``tp`` or raise ConfigError; accepts ints for floats and
    numeric strings such as ``2e-4`` (YAML 1.1 reads those as strings)."""
    type_origin = typing.get_origin(tp)
    if type_origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        # Try exact type matches first so that ``true`` stays a bool in Union[bool, str].
        for arg in sorted((a for a in args if a is not type(None)), key=lambda a: a is str):
            try:
                return coerce(value, arg, where, origin)
            except ConfigError as err:
                errors.append(err)
        raise ConfigError(f"{origin}: {where}: expected {type_name(tp)}, got {value!r}")
    if type_origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{origin}: {where}: expected {type_name(tp)}, got {value!r}")
        (item,) = typing.get_args(tp)
        return [coerce(v, item, f"{where}[{i}]", origin) for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - schema uses only the types above
        return value
    raise ConfigError(f"{origin}: {where}: expected {type_name(tp)}, got {value!r} ({type(value).__name__})")



def build_model_section(raw, origin: str) -> ModelConfig:
    """The ``model`` section: ``cls`` must be a registered class; each other key a setting of its
    constructor (coerced to the annotation's type) or a network's (:data:`NETWORK_MODEL_SETTINGS`).
    A key some other class takes is kept for :meth:`Config.validate` to refuse as unused (with
    which classes take it); any other key is unknown."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: model: expected a mapping of model keys, got {raw!r}")
    cls = coerce(raw.get("cls", DEFAULT_MODEL_CLASS), str, "model.cls", origin)
    if cls not in model_class_names():
        hint = did_you_mean(cls, model_class_names())
        raise ConfigError(f"{origin}: model.cls: '{cls}' is not one of {', '.join(model_class_names())}{hint}")
    ours, everyone = model_key_types(cls), all_model_key_types()
    values = {}
    for key, value in raw.items():
        if key == "cls":
            continue
        tp = ours.get(key, everyone.get(key))
        if tp is None:
            valid = ["cls", *ours]
            hint = did_you_mean(str(key), valid, cutoff=0.5)
            raise ConfigError(f"{origin}: unknown key 'model.{key}' in 'model'{hint} (valid keys for {cls}, from "
                              f"its constructor and its networks: {', '.join(valid)})")
        values[key] = coerce(value, tp, f"model.{key}", origin)
    return ModelConfig(cls, **values)


def build_network_section(role: str, raw, origin: str) -> NetworkConfig:
    """A ``generator`` / ``discriminator`` section: ``arch`` (checked by :meth:`Config.validate`)
    and the keyword arguments of its builder, coerced to their annotations. A key another
    builder of the role takes is kept for validation to refuse as unused; any other is unknown."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: {role}: expected a mapping of NetworkConfig keys, got {raw!r}")
    arch = coerce(raw.get("arch", "dcgan"), str, f"{role}.arch", origin)
    ours = {k: o.type for k, o in network_options(role, arch).items()}
    everyone = all_network_key_types(role)
    legacy = {k: type(v) for k, v in LEGACY_NETWORK_DEFAULTS.items()}
    values = {}
    for key, value in raw.items():
        if key == "arch":
            continue
        tp = ours.get(key, everyone.get(key))
        if tp is None and key in LEGACY_NETWORK_DEFAULTS:  # no builder takes it any more: must be at its old default
            tp = legacy[key] if LEGACY_NETWORK_DEFAULTS[key] is not None else Any
        if tp is None:
            valid = ["arch", *(ours or everyone)]
            hint = did_you_mean(str(key), valid, cutoff=0.5)
            raise ConfigError(f"{origin}: unknown key '{role}.{key}' in '{role}'{hint} (valid keys: {', '.join(valid)})")
        values[key] = value if tp is Any else coerce(value, tp, f"{role}.{key}", origin)
    return NetworkConfig(arch, role, **values)


def build(cls, raw: dict, origin: str, prefix: str):
    """The dataclass ``cls`` (a config or one of its sections) from ``raw``, each key checked and
    coerced to its field's type; ``prefix`` is the dotted path of ``raw`` in the config. Not
    validated (:func:`ganzoo.config.validate.validate_config`)."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        where = f"{prefix}{key}"
        if key not in names:
            hint = did_you_mean(str(key), names, cutoff=0.5)
            section = f" in '{prefix[:-1]}'" if prefix else ""
            raise ConfigError(f"{origin}: unknown key '{where}'{section}{hint} "
                              f"(valid keys: {', '.join(names)})")
        tp = hints[key]
        if tp is ModelConfig:
            kwargs[key] = build_model_section(value, origin)
        elif tp is NetworkConfig:
            kwargs[key] = build_network_section(key, value, origin)
        elif dataclasses.is_dataclass(tp):
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: {where}: expected a mapping of {tp.__name__} keys, got {value!r}")
            kwargs[key] = build(tp, value, origin, prefix=f"{where}.")
        else:
            kwargs[key] = coerce(value, tp, where, origin)
    return cls(**kwargs)


def read_yaml(path: Union[str, Path], name: Optional[str] = None) -> dict:
    """The sections of the YAML file ``path`` (safe loader) as a dict, before typing; ``name``
    (default: the file stem) is the entry name unless the file sets one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    raw = dict(raw)
    raw.setdefault("name", name or path.stem)
    return raw
