"""The zoo's registry: entry name -> ``zoo_configs/<name>.yaml``, and model class name -> class.

The YAML files are the registry of entries: adding a file adds an entry; a folder of your
own YAML files joins with :func:`add_config_dir`. Model classes register themselves with the
:func:`register_model_class` decorator where they are defined (:mod:`ganzoo.model_registry`,
whose only table ``ganzoo.models.MODEL_CLASSES`` views); network builders are looked up in
explicit, greppable tables (``ganzoo.networks.GENERATORS`` / ``DISCRIMINATORS``), never by
import magic.

A new GAN in your own folder (the README's "Add a new GAN")::

    @register_model_class
    @keras.saving.register_keras_serializable(package="my_gans")
    class MyGAN(ganzoo.models.GAN): ...

    ganzoo.registry.add_config_dir("my_configs")   # my_configs/mygan_mnist.yaml: model.cls: MyGAN
    model = ganzoo.load("mygan_mnist")
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib.resources
from pathlib import Path
from typing import Optional, Union

from ganzoo.config import Config, ConfigError, apply_overrides
from ganzoo.model_registry import (model_class, model_class_info, model_class_names, register_model_class,
                                   unregister_model_class)

__all__ = ["config_dir", "config_path", "list_models", "get_config", "UnknownModelError", "add_config_dir",
           "register_model_class", "unregister_model_class", "model_class", "model_class_info",
           "model_class_names"]

#: Folders of extra entries added with :func:`add_config_dir`, in the order added.
_EXTRA_DIRS: list[Path] = []


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


def add_config_dir(folder: Union[str, Path]) -> list[str]:
    """Register every ``*.yaml`` file of ``folder`` as an entry (file stem = name), next to
    the zoo's own: ``ganzoo.load(name)``, ``get_config`` and ``list_models`` then know them.
    Returns the names added. A name that is already an entry (the zoo's or another added
    folder's) is refused, so an entry never silently means a different file. Adding the same
    folder again does nothing."""
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise FileNotFoundError(f"add_config_dir: '{folder}' is not a folder")
    if path in _EXTRA_DIRS or path == config_dir().resolve():
        return []
    known = _entries()
    new = {p.stem: p for p in sorted(path.glob("*.yaml"))}
    clash = sorted(set(new) & set(known))
    if clash:
        raise ValueError(f"add_config_dir: {', '.join(f'{n}.yaml' for n in clash)} in {path} would shadow the "
                         f"entr{'y' if len(clash) == 1 else 'ies'} of the same name ({known[clash[0]]}); rename "
                         "the file(s)")
    _EXTRA_DIRS.append(path)
    _entries.cache_clear()
    return sorted(new)


@functools.lru_cache(maxsize=None)
def _entries() -> dict[str, Path]:
    entries = {p.stem: p for p in sorted(config_dir().glob("*.yaml"))}
    for folder in _EXTRA_DIRS:
        for p in sorted(folder.glob("*.yaml")):
            entries.setdefault(p.stem, p)
    return entries


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
