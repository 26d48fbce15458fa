"""The one table of model classes: ``model.cls`` name -> the class that trains it.

A class joins the zoo with the :func:`register_model_class` decorator in the module that
defines it (as timm's ``@register_model``)::

    @register_model_class
    @keras.saving.register_keras_serializable(package="my_gans")
    class RelativisticGAN(GAN):
        ...

after which ``model.cls: RelativisticGAN`` is a valid config value and ``ganzoo.load`` builds
it. ``ganzoo.models.MODEL_CLASSES`` and ``ganzoo.config.MODEL_CLASSES`` /
``IMAGE_TO_IMAGE_CLASSES`` are read-only views of this table.

What data and training need from a class (its data kind, the minibatches one training step
consumes, ...) the class itself declares as class attributes (documented on
:class:`ganzoo.models.base.AdversarialModel`); code that used to test ``model.cls`` against
class names asks the class (:func:`model_class`) or its record (:func:`model_class_info`).

Nothing here imports TensorFlow. The zoo's own classes are known by name, module and data
kind before their module is imported, read from their decorators in the source of
:data:`BUILT_IN_MODEL_MODULES` (:mod:`ganzoo.source_reader`), so that configs validate without
TensorFlow (``GANZOO_LAZY_IMPORT=1``, ``ganzoo list``); when the module is imported, its
decorator checks that the class declares the data kind its source was read as.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import typing
from typing import Optional, Union

from ganzoo.constraints import first_problem, split_annotated
from ganzoo.source_reader import (PROVENANCE_ARGUMENTS, ClassSignature, NetworkSpec, Setting,  # noqa: F401 (re-exported)
                                  check_config_free_names, class_layers, compile_check_config, network_arch_names,
                                  network_spec, signature_from_layers, source_layers, source_model_classes)

__all__ = ["DATA_KINDS", "ModelClassInfo", "Setting", "ClassSignature", "class_signature", "model_settings",
           "loaded_model_class", "register_model_class", "unregister_model_class", "model_class",
           "model_class_info", "model_class_names", "image_to_image_class_names", "compile_check_config",
           "check_config_free_names", "source_class_signature", "NetworkSpec", "network_spec", "network_arch_names",
           "argument_constraints", "check_constructor_arguments", "BUILT_IN_MODEL_MODULES"]

#: What ``ganzoo.load_dataset`` yields for a class of each data kind (its ``data_kind``).
DATA_KINDS = {
    "latent": "single images (with int labels for a conditional model); the model draws its own latents",
    "paired_lr_hr": "(low-resolution, high-resolution) pairs of the same pictures",
    "unpaired_ab": "(a, b) pictures from two domains, not matched to each other",
}


@dataclasses.dataclass(frozen=True)
class ModelClassInfo:
    """What the registry knows of a model class without importing it: its ``model.cls`` name,
    the module that defines it and its :data:`DATA_KINDS` entry."""

    name: str
    module: str
    data_kind: str

    @property
    def image_to_image(self) -> bool:
        """Whether the class maps images to images (its data are pairs, not single images)."""
        return self.data_kind != "latent"


#: The modules of ganzoo's own model classes, in the order of the zoo table. Their classes are
#: registered by their decorators like any other class; the decorators are also read from the
#: modules' source (ganzoo.source_reader.source_model_classes: name, module and data kind), so
#: that the names are known (for config validation) before the modules, and TensorFlow, are imported.
BUILT_IN_MODEL_MODULES = ("ganzoo.models.gan", "ganzoo.models.wgan", "ganzoo.models.srgan", "ganzoo.models.cyclegan",
                          "ganzoo.models.pggan", "ganzoo.models.stylegan")
#: ganzoo's own classes as read from the source of BUILT_IN_MODEL_MODULES: name -> record.
_BUILT_IN: dict[str, ModelClassInfo] = {name: ModelClassInfo(name, module, kind) for name, (module, kind)
                                        in source_model_classes(BUILT_IN_MODEL_MODULES).items()}
_INFO: dict[str, ModelClassInfo] = dict(_BUILT_IN)
_CLASSES: dict[str, type] = {}


def register_model_class(cls: Optional[type] = None, *, name: Optional[str] = None):
    """Class decorator: register ``cls`` as ``model.cls: <name>`` (default: the class's name).

    Usable bare (``@register_model_class``) or with a name (``@register_model_class(name="X")``).
    The class must declare a ``data_kind`` of :data:`DATA_KINDS` (the base classes do). A name
    taken by another class is refused (:func:`unregister_model_class` frees it); registering
    a class of the same module and name again (a re-executed module) replaces it.
    """
    def register(klass: type) -> type:
        key = name or klass.__name__
        kind = getattr(klass, "data_kind", None)
        if kind not in DATA_KINDS:
            raise TypeError(f"{klass.__qualname__}.data_kind must be one of {', '.join(DATA_KINDS)}, got {kind!r}; "
                            "subclass a ganzoo model class (ganzoo.models.GAN, ...) or declare it")
        known = _INFO.get(key)
        if known is not None and known.module != klass.__module__ and key in _BUILT_IN:
            raise ValueError(f"model.cls '{key}' is one of ganzoo's own classes ({known.module}); "
                             f"register {klass.__module__}.{klass.__qualname__} under another name "
                             "(register_model_class(name=...))")
        if key in _BUILT_IN and _BUILT_IN[key].data_kind != kind:
            raise TypeError(f"{klass.__module__}.{klass.__qualname__} declares data_kind '{kind}' but its source reads "
                            f"as '{_BUILT_IN[key].data_kind}' (configs validate from the source, without importing "
                            "it): set data_kind as a literal class attribute of the class or of a base")
        old = _CLASSES.get(key)
        if old is not None and (old.__module__, old.__qualname__) != (klass.__module__, klass.__qualname__):
            raise ValueError(f"model.cls '{key}' is already registered to {old.__module__}.{old.__qualname__}; "
                             "choose another name (register_model_class(name=...)) or unregister_model_class "
                             f"('{key}') first")
        _INFO[key] = ModelClassInfo(key, klass.__module__, kind)
        _CLASSES[key] = klass
        class_signature.cache_clear()
        _check_settings_are_typed(key)
        return klass

    return register if cls is None else register(cls)


def unregister_model_class(name: str) -> None:
    """Remove a class registered with :func:`register_model_class` (not one of ganzoo's own)."""
    if name in _BUILT_IN:
        raise ValueError(f"'{name}' is one of ganzoo's own model classes and stays registered")
    if name not in _INFO:
        raise KeyError(f"no model class '{name}' is registered")
    del _INFO[name]
    _CLASSES.pop(name, None)
    class_signature.cache_clear()


def model_class_names() -> tuple:
    """The registered ``model.cls`` names: ganzoo's own, then the others in registration order."""
    return tuple(_INFO)


def image_to_image_class_names() -> tuple:
    """The registered classes that map images to images (see :attr:`ModelClassInfo.image_to_image`)."""
    return tuple(name for name, info in _INFO.items() if info.image_to_image)


def model_class_info(name: str) -> ModelClassInfo:
    """The record of ``name`` (no import, no TensorFlow); KeyError naming the registered classes."""
    try:
        return _INFO[name]
    except KeyError:
        raise KeyError(f"unknown model class '{name}' (registered: {', '.join(_INFO)}); a class of your own "
                       "needs @ganzoo.registry.register_model_class and its module imported first") from None


def model_class(name: str) -> type:
    """The class registered as ``name``, importing its module first if needed (TensorFlow)."""
    info = model_class_info(name)
    if name not in _CLASSES:
        importlib.import_module(info.module)
        if name not in _CLASSES:
            raise ImportError(f"{info.module} was imported but registered no model class '{name}' "
                              "(is its @register_model_class missing?)")
    return _CLASSES[name]


def loaded_model_class(name: str) -> Optional[type]:
    """The class registered as ``name`` if its module is imported already, else None (no import)."""
    return _CLASSES.get(name)


# ---------------------------------------------------------------------- settings: the constructor
# A class's ``model:`` settings are its constructors' keyword arguments with a default (how they
# are read, from the imported class or from its module's source: ganzoo.source_reader).

@functools.lru_cache(maxsize=None)
def class_signature(name: str) -> ClassSignature:
    """The :class:`ClassSignature` of the class registered as ``name``, read from its
    constructors: with :mod:`inspect` when its module is imported, else from its module's
    source (configs validate without TensorFlow); tests/test_model_settings.py checks that
    both readings agree for every class of the zoo."""
    klass = _CLASSES.get(name)
    if klass is not None:
        return signature_from_layers(class_layers(klass))
    return source_class_signature(name) or signature_from_layers(class_layers(model_class(name)))


def source_class_signature(name: str) -> Optional[ClassSignature]:
    """The :class:`ClassSignature` of the class registered as ``name`` read from its module's
    source, whether or not the module is imported (its ``check_config`` methods compiled from
    the source); None for a class whose source is not a ganzoo module."""
    layers = source_layers(model_class_info(name).module, name)
    return signature_from_layers(layers) if layers else None


def model_settings(name: str) -> dict:
    """``model:`` key -> :class:`Setting` of the class registered as ``name``: the keyword
    arguments with a default of its constructors (see :func:`class_signature`)."""
    return class_signature(name).settings


def _check_settings_are_typed(name: str) -> None:
    untyped = [s.name for s in model_settings(name).values() if s.type is None]
    if untyped:
        raise TypeError(f"model class {name}: constructor argument(s) {', '.join(untyped)} have a default but no "
                        "type annotation; a model: setting needs one (the config loader coerces YAML values to it), "
                        "or list the argument in the class's network_keys / config_arguments if the builder "
                        "supplies it")




# ---------------------------------------------------------------------- a direct constructor call
# A setting's range is written once, in its annotation, and holds for a config (Config.validate)
# and for a direct call (``StyleGAN(g, d, style_mixing_prob=2)`` from a pipeline of one's own):
# the zoo's base model class calls check_constructor_arguments with the arguments of every
# construction, keras.saving's from_config included, before any constructor runs.

@functools.lru_cache(maxsize=None)
def argument_constraints(klass: type) -> dict:
    """Constructor argument -> ``(type, constraints)`` of ``klass`` and its bases, for every
    argument whose annotation carries :mod:`ganzoo.constraints`; a subclass's annotation of an
    argument replaces its base's (as for :func:`class_signature`'s settings). Read at runtime
    (:func:`typing.get_type_hints`); any argument counts, a setting or not (a base's argument a
    subclass refuses as a setting is still checked when passed)."""
    found = {}
    for layer in class_layers(klass):
        for name, tp, _, _ in layer["params"]:
            found.setdefault(name, split_annotated(tp))
    return {name: pair for name, pair in found.items() if pair[1]}


def _type_text(tp) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) is Union and len(args) == 1:
        return f"{_type_text(args[0])} or None"
    return getattr(tp, "__name__", str(tp))


def check_constructor_arguments(klass: type, args: tuple, kwargs: dict) -> None:
    """Check the arguments of a call ``klass(*args, **kwargs)`` against the constraints of
    their annotations (:func:`argument_constraints`): a ValueError names the class, each bad
    argument and the constraint's problem in the config's words without the ``model.`` prefix
    (``StyleGAN argument style_mixing_prob: must be in [0, 1], got 2``). Keyword arguments that
    ``klass``'s constructor passes on to its bases (``**kwargs``) are checked against the
    bases' annotations; None passes (an optional setting left unset); arguments not given are
    left to their defaults. Arguments that do not bind are left to the constructor's own
    TypeError."""
    limits = argument_constraints(klass)
    if not limits:
        return
    signature = inspect.signature(klass.__init__)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return
    values = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            values.update(value)
        elif kind is not inspect.Parameter.VAR_POSITIONAL:
            values[name] = value
    problems = []
    for name, (tp, found) in limits.items():
        if name not in values:
            continue
        try:
            problem = first_problem(found, values[name])
        except TypeError:  # a value the constraint cannot compare ("0.5" for a float)
            problem = f"must be {_type_text(tp)}, got {values[name]!r}"
        if problem:
            problems.append(f"{name}: {problem}")
    if problems:
        raise ValueError(f"{klass.__name__} argument{'s' if len(problems) > 1 else ''} {'; '.join(problems)}")
