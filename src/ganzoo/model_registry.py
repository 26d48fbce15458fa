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
kind before their module is imported, so that configs validate without TensorFlow
(``GANZOO_LAZY_IMPORT=1``, ``ganzoo list``); when the module is imported, its decorator
checks that the class declares the same data kind.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Optional

__all__ = ["DATA_KINDS", "ModelClassInfo", "register_model_class", "unregister_model_class", "model_class",
           "model_class_info", "model_class_names", "image_to_image_class_names"]

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


#: The zoo's own classes, in the order of the zoo table: name -> (module, data kind). Their
#: modules register them with the decorator like any other class; this row only makes the
#: name known (for config validation) before the module, and TensorFlow, is imported.
_BUILT_IN = {
    "GAN": ("ganzoo.models.gan", "latent"),
    "ConditionalGAN": ("ganzoo.models.gan", "latent"),
    "WassersteinGAN": ("ganzoo.models.wgan", "latent"),
    "SRGAN": ("ganzoo.models.srgan", "paired_lr_hr"),
    "CycleGAN": ("ganzoo.models.cyclegan", "unpaired_ab"),
    "ProgressiveGAN": ("ganzoo.models.pggan", "latent"),
    "StyleGAN": ("ganzoo.models.stylegan", "latent"),
}
_INFO: dict[str, ModelClassInfo] = {name: ModelClassInfo(name, module, kind)
                                    for name, (module, kind) in _BUILT_IN.items()}
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
        if key in _BUILT_IN and _BUILT_IN[key][1] != kind:
            raise TypeError(f"{klass.__module__}.{klass.__qualname__} declares data_kind '{kind}' but the registry "
                            f"lists {key} as '{_BUILT_IN[key][1]}' (ganzoo/model_registry.py): make them agree")
        old = _CLASSES.get(key)
        if old is not None and (old.__module__, old.__qualname__) != (klass.__module__, klass.__qualname__):
            raise ValueError(f"model.cls '{key}' is already registered to {old.__module__}.{old.__qualname__}; "
                             "choose another name (register_model_class(name=...)) or unregister_model_class "
                             f"('{key}') first")
        _INFO[key] = ModelClassInfo(key, klass.__module__, kind)
        _CLASSES[key] = klass
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
