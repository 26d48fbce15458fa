"""The one table of network builders: ``(role, arch)`` -> the function that builds it.

A builder joins the zoo with :func:`register_network` in the module that defines it::

    @register_network("generator", "dcgan", config_arguments={"latent_dim": "model.latent_dim"},
                      check=check_upsampling_generator)
    def build_dcgan_generator(image_size, channels, latent_dim,
                              filters: Annotated[int, Positive()] = 64, ...): ...

after which ``generator: {arch: dcgan}`` is a valid config and its keyword arguments are the
keys of that ``generator:`` section. What the builder's signature says (which keys, their
types and ranges, its ``check`` across keys) is read by :mod:`ganzoo.model_registry`
(:func:`~ganzoo.model_registry.network_spec`), from the source of ganzoo's own network
modules so that configs validate without TensorFlow. This module imports nothing of ganzoo.

Which arguments of a builder are section keys: every keyword argument with a default, less

* the context every network may take by parameter name (:data:`CONTEXT_ARGUMENTS`:
  ``image_size``, ``channels`` from ``data``, ``num_classes`` from a conditional class),
* ``config_arguments``: argument -> the dotted key of another section it is built from
  (``{"latent_dim": "model.latent_dim"}``; that key is then read by this network),
* ``fixed``: arguments the builder keeps at their default (no config key), and ``name``.
"""

from __future__ import annotations

from typing import Callable, Optional

__all__ = ["ROLES", "CONTEXT_ARGUMENTS", "BUILT_IN_NETWORK_MODULES", "GENERATORS", "DISCRIMINATORS", "BUILDERS",
           "NETWORK_OPTIONS", "register_network", "unregister_network", "on_change"]

ROLES = ("generator", "discriminator")
#: Builder arguments every network may take by name, from other sections; not keys of its own.
#: ``num_classes`` is None unless the entry's class takes ``model.num_classes`` (conditional).
CONTEXT_ARGUMENTS = {"image_size": "data.image_size", "channels": "data.channels", "num_classes": "model.num_classes"}
#: The modules of ganzoo's own builders, in the order of the zoo's tables; their registrations
#: are read from their source (no import) by ganzoo.model_registry.
BUILT_IN_NETWORK_MODULES = ("ganzoo.networks.mlp", "ganzoo.networks.dcgan", "ganzoo.networks.sngan",
                            "ganzoo.networks.srresnet", "ganzoo.networks.cyclegan", "ganzoo.networks.pggan",
                            "ganzoo.networks.stylegan")

#: arch -> builder of each role, filled by :func:`register_network` (``ganzoo.networks.GENERATORS``
#: / ``DISCRIMINATORS`` are these dicts).
GENERATORS: dict = {}
DISCRIMINATORS: dict = {}
BUILDERS = {"generator": GENERATORS, "discriminator": DISCRIMINATORS}
#: (role, arch) -> the decorator's arguments: ``config_arguments``, ``fixed``, ``check``, ``note``.
NETWORK_OPTIONS: dict = {}


def register_network(role: str, arch: str, *, config_arguments: Optional[dict] = None, fixed: tuple = (),
                     check: Optional[Callable] = None, note: Optional[str] = None):
    """Function decorator: register a builder as ``<role>: {arch: <arch>}``.

    ``check(config, fail)`` holds the arch's rules across keys (``fail(key, message)`` on a
    bad config); like a model class's ``check_config`` it may read its arguments, builtins and
    module-level constants with literal values only (configs validate without importing it).
    ``note`` says why the arch takes none of the generic layer options (shown when one is set).
    """
    if role not in ROLES:
        raise ValueError(f"register_network: role must be one of {', '.join(ROLES)}, got {role!r}")

    def register(builder):
        old = BUILDERS[role].get(arch)
        if old is not None and (old.__module__, old.__qualname__) != (builder.__module__, builder.__qualname__):
            raise ValueError(f"{role}.arch '{arch}' is already registered to {old.__module__}.{old.__qualname__}; "
                             f"choose another name or unregister_network('{role}', '{arch}') first")
        BUILDERS[role][arch] = builder
        NETWORK_OPTIONS[(role, arch)] = {"config_arguments": dict(config_arguments or {}), "fixed": tuple(fixed),
                                         "check": check, "note": note}
        for listener in _LISTENERS:
            listener()
        return builder

    return register


def unregister_network(role: str, arch: str) -> None:
    """Remove a builder registered with :func:`register_network` (not one of ganzoo's own)."""
    builder = BUILDERS[role].get(arch)
    if builder is not None and builder.__module__ in BUILT_IN_NETWORK_MODULES:
        raise ValueError(f"'{arch}' is one of ganzoo's own {role}s and stays registered")
    if builder is None:
        raise KeyError(f"no {role} '{arch}' is registered")
    del BUILDERS[role][arch]
    NETWORK_OPTIONS.pop((role, arch), None)
    for listener in _LISTENERS:
        listener()


#: Called after each (un)registration (ganzoo.model_registry clears its caches).
_LISTENERS: list = []


def on_change(listener: Callable) -> None:
    """Call ``listener()`` after every registration or removal (a cache to clear)."""
    _LISTENERS.append(listener)
