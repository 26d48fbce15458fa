"""ganzoo: a Keras 3 model zoo of generative adversarial networks.

Public API::

    ganzoo.list_models("wgan*")
    model = ganzoo.load("cgan_mnist")
    ds = ganzoo.load_dataset("cgan_mnist")
    model.fit(ds, epochs=5, callbacks=[ganzoo.callbacks.SampleGrid("runs/cgan/samples")])

``import ganzoo`` registers ganzoo's Keras classes (models, layers, schedules), so
``keras.saving.load_model("cgan.keras")`` works in a fresh process after it. Set
``GANZOO_LAZY_IMPORT=1`` to skip that: TensorFlow is then imported on first use (about 3 s
saved for scripts that only read configs). The ``ganzoo`` command (and ``python -m ganzoo``)
skips it too: each subcommand imports what it needs, so ``ganzoo list`` answers without TensorFlow.
"""

from __future__ import annotations

import importlib
import os
import sys

from ganzoo.config import Config, ConfigError
from ganzoo.registry import UnknownModelError, get_config, list_models

from ganzoo.version import __version__

__all__ = [
    "Config",
    "ConfigError",
    "UnknownModelError",
    "get_config",
    "list_models",
    "load",
    "load_dataset",
    "build_model",
    "callbacks",
    "losses",
    "models",
    "networks",
    "data",
    "images",
]

_LAZY_FUNCTIONS = {
    "load": ("ganzoo.builders", "load"),
    "build_model": ("ganzoo.builders", "build_model"),
    "load_dataset": ("ganzoo.data", "load_dataset"),
}
_LAZY_MODULES = {"callbacks", "losses", "models", "networks", "data", "images", "builders", "evaluation", "cli"}


def __getattr__(name):
    if name in _LAZY_FUNCTIONS:
        module, attr = _LAZY_FUNCTIONS[name]
        return getattr(importlib.import_module(module), attr)
    if name in _LAZY_MODULES:
        return importlib.import_module(f"ganzoo.{name}")
    raise AttributeError(f"module 'ganzoo' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def _running_the_cli() -> bool:
    """True when this process is the ``ganzoo`` command: the console script (``sys.argv[0]``
    named ``ganzoo``) or ``python [options] -m ganzoo`` / ``-m ganzoo.cli``."""
    if sys.argv and os.path.splitext(os.path.basename(sys.argv[0]))[0] in ("ganzoo", "ganzoo-script"):
        return True
    argv = list(getattr(sys, "orig_argv", []))
    return any(a == "-m" and b in ("ganzoo", "ganzoo.cli") for a, b in zip(argv, argv[1:]))


if os.environ.get("GANZOO_LAZY_IMPORT", "") not in ("1", "true") and not _running_the_cli():
    import ganzoo.models  # noqa: E402,F401  (registers the Keras classes for load_model)
