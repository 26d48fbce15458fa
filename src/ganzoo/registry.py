"""The zoo's registry: entry name -> ``zoo_configs/<name>.yaml``.

The YAML files are the registry: adding a file adds an entry. Model classes and network
builders are looked up in explicit, greppable tables (``ganzoo.models.MODEL_CLASSES``,
``ganzoo.networks.GENERATORS`` / ``DISCRIMINATORS``), never by import magic.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib.resources
from pathlib import Path
from typing import Optional, Union

from ganzoo.config import Config, ConfigError, apply_overrides

__all__ = ["config_dir", "config_path", "list_models", "get_config", "UnknownModelError"]


class UnknownModelError(KeyError):
    """The name is not a registered zoo entry (nor a YAML file)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def config_dir() -> Path:
    """The folder holding the zoo's YAML files: ``ganzoo/zoo_configs/`` in an installed package
    (setup.py copies them there), ``zoo_configs/`` at the root of a source checkout otherwise
    (``src/ganzoo/`` is two levels below it; an editable install)."""
    try:
        path = Path(str(importlib.resources.files("ganzoo.zoo_configs")))
        if path.is_dir() and any(path.glob("*.yaml")):
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parents[2] / "zoo_configs"


@functools.lru_cache(maxsize=None)
def _entries() -> dict[str, Path]:
    return {p.stem: p for p in sorted(config_dir().glob("*.yaml"))}


def list_models(pattern: Optional[str] = None) -> list[str]:
    """Sorted names of the registered entries, optionally filtered by a shell-style
    wildcard (``"wgan*"``, ``"*_mnist"``)."""
    names = sorted(_entries())
    if pattern:
        names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    return names


def _looks_like_file(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or "/" in name or "\\" in name


def config_path(name: str) -> Path:
    """Path of an entry's YAML file; ``name`` may also be a path to a user's own YAML file."""
    if _looks_like_file(name):
        path = Path(name).expanduser()
        if not path.is_file():
            raise UnknownModelError(f"config file '{name}' does not exist")
        return path
    entries = _entries()
    if name not in entries:
        close = difflib.get_close_matches(name, entries, n=3, cutoff=0.4)
        hint = f" Closest: {', '.join(close)}." if close else ""
        raise UnknownModelError(
            f"unknown model '{name}'.{hint} Run `ganzoo list` or ganzoo.list_models() for all "
            f"{len(entries)} entries, or pass the path of your own YAML file.")
    return entries[name]


def get_config(name: Union[str, Config], **overrides) -> Config:
    """The validated config of an entry (a fresh copy), with optional overrides
    (see :func:`ganzoo.config.apply_overrides` for the accepted key forms)."""
    base = None
    if isinstance(name, Config):
        config = name.copy()
    else:
        path = config_path(name)
        config = Config.from_yaml(path, name=path.stem)
        base = f"{path.parent.name}/{path.name}" if path.parent == config_dir() else str(path)
    if overrides:
        config = apply_overrides(config, overrides, base=base)
    return config
