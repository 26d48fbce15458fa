"""Model classes, one per training scheme.

``MODEL_CLASSES`` maps the ``model.cls`` names of the zoo configs to classes; it is the
only place the registry looks them up.
"""

import ganzoo.schedules  # noqa: F401  (registers the learning-rate schedules for load_model)
from ganzoo.models.base import GANBase
from ganzoo.models.cyclegan import CycleGAN
from ganzoo.models.gan import GAN, ConditionalGAN
from ganzoo.models.image_pool import ImagePool
from ganzoo.models.pggan import ProgressiveGAN
from ganzoo.models.srgan import SRGAN
from ganzoo.models.stylegan import StyleGAN
from ganzoo.models.wgan import WassersteinGAN

MODEL_CLASSES = {
    "GAN": GAN,
    "ConditionalGAN": ConditionalGAN,
    "WassersteinGAN": WassersteinGAN,
    "SRGAN": SRGAN,
    "CycleGAN": CycleGAN,
    "ProgressiveGAN": ProgressiveGAN,
    "StyleGAN": StyleGAN,
}

__all__ = ["GANBase", "GAN", "ConditionalGAN", "WassersteinGAN", "SRGAN", "CycleGAN", "ImagePool",
           "ProgressiveGAN", "StyleGAN", "MODEL_CLASSES"]
