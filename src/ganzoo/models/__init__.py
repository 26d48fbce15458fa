"""Model classes, one per training scheme.

Each class registers itself with :func:`ganzoo.registry.register_model_class` where it is
defined; ``MODEL_CLASSES`` is a read-only view of that registry (``model.cls`` name -> class),
so a class registered later (the README's "Add a new GAN") appears in it too.
"""

from collections.abc import Mapping

import ganzoo.schedules  # noqa: F401  (registers the learning-rate schedules for load_model)
from ganzoo import model_registry
from ganzoo.models.base import GANBase
from ganzoo.models.cyclegan import CycleGAN
from ganzoo.models.gan import GAN, ConditionalGAN
from ganzoo.models.image_pool import ImagePool
from ganzoo.models.pggan import ProgressiveGAN
from ganzoo.models.srgan import SRGAN
from ganzoo.models.stylegan import StyleGAN
from ganzoo.models.wgan import WassersteinGAN


class _ModelClasses(Mapping):
    """``model.cls`` name -> class: a live, read-only view of :mod:`ganzoo.model_registry`."""

    def __getitem__(self, name):
        if name not in model_registry.model_class_names():
            raise KeyError(name)
        return model_registry.model_class(name)

    def __iter__(self):
        return iter(model_registry.model_class_names())

    def __len__(self):
        return len(model_registry.model_class_names())

    def __setitem__(self, name, cls):
        raise TypeError(f"ganzoo.models.MODEL_CLASSES is a view of the registry; register {name} with the "
                        "@ganzoo.registry.register_model_class decorator on its class instead")

    def __repr__(self):
        return f"MODEL_CLASSES({dict(self)!r})"


MODEL_CLASSES = _ModelClasses()

__all__ = ["GANBase", "GAN", "ConditionalGAN", "WassersteinGAN", "SRGAN", "CycleGAN", "ImagePool",
           "ProgressiveGAN", "StyleGAN", "MODEL_CLASSES"]
