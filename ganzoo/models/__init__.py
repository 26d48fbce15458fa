"""Model classes, one per training scheme.

``MODEL_CLASSES`` maps the ``model.cls`` names of the zoo configs to classes; it is the
only place the registry looks them up.
"""

from ganzoo.models.base import GANBase
from ganzoo.models.gan import GAN, ConditionalGAN
from ganzoo.models.wgan import WassersteinGAN

MODEL_CLASSES = {
    "GAN": GAN,
    "ConditionalGAN": ConditionalGAN,
    "WassersteinGAN": WassersteinGAN,
}

__all__ = ["GANBase", "GAN", "ConditionalGAN", "WassersteinGAN", "MODEL_CLASSES"]
