"""Every public module, class, function and method of ganzoo has a docstring.

Public means: in a module whose dotted name has no part starting with ``_``, a name not
starting with ``_`` that the module itself defines (imports are checked where they are
defined). Methods and properties count when a public class defines them; methods inherited
from Keras count through their inherited docstring (``inspect.getdoc``). Exempt are the
overrides of the Keras layer and model protocol listed in ``KERAS_PROTOCOL``: their contract
is Keras's (``call`` computes the layer's output, ``get_config`` returns the constructor
arguments, ...), and what a class does in them is its class docstring's job.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import ganzoo

KERAS_PROTOCOL = {"call", "build", "compute_output_shape", "get_config", "from_config", "train_step",
                  "test_step", "get_build_config", "build_from_config"}


def public_modules() -> list[str]:
    names = ["ganzoo"]
    for info in pkgutil.walk_packages(ganzoo.__path__, "ganzoo."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return sorted(names)


def _has_doc(obj) -> bool:
    doc = inspect.getdoc(obj)
    return bool(doc and doc.strip())


def undocumented(module_name: str) -> list[str]:
    """Qualified names of the module's public objects without a docstring."""
    module = importlib.import_module(module_name)
    missing = [] if _has_doc(module) else [f"{module_name} (module docstring)"]
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
            continue
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if not (obj.__doc__ or "").strip():  # own docstring: a class or function must say what it is
            missing.append(f"{module_name}.{name}")
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if attr.startswith("_") or attr in KERAS_PROTOCOL:
                    continue
                if isinstance(value, property):
                    target = value
                elif isinstance(value, (staticmethod, classmethod)):
                    target = value.__func__
                elif inspect.isfunction(value):
                    target = getattr(obj, attr)
                else:
                    continue
                if not _has_doc(target):
                    missing.append(f"{module_name}.{name}.{attr}")
    return missing


def test_the_walk_finds_the_package():
    modules = public_modules()
    assert {"ganzoo.builders", "ganzoo.models.gan", "ganzoo.commands.train", "ganzoo.evaluation.evaluate"} <= set(modules)
    assert not [m for m in modules if "._" in m]


@pytest.mark.parametrize("module_name", public_modules())
def test_public_names_have_docstrings(module_name):
    missing = undocumented(module_name)
    assert not missing, "missing docstrings:\n  " + "\n  ".join(missing)
