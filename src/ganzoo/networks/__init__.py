"""Network builders: kwargs -> functional ``keras.Model``; no training logic here.

Generators take ``z`` (and an int label for conditional models) and end in ``tanh``;
discriminators take images in [-1, 1] (and a label) and return one logit per image.
Image-to-image generators (``srresnet``, ``resnet``) take images of any size instead of
``z``; the PatchGAN discriminator returns a map of logits, one per image patch.
The last layer of every network runs in float32 so mixed precision keeps outputs and
losses in full precision.
"""

from ganzoo.networks.cyclegan import build_patchgan_discriminator, build_resnet_generator
from ganzoo.networks.dcgan import build_dcgan_discriminator, build_dcgan_generator
from ganzoo.networks.mlp import build_mlp_discriminator, build_mlp_generator
from ganzoo.networks.pggan import build_pggan_discriminator, build_pggan_generator
from ganzoo.networks.sngan import build_sngan_discriminator, build_sngan_generator
from ganzoo.networks.srresnet import build_srgan_discriminator, build_srresnet_generator
from ganzoo.networks.stylegan import build_stylegan_discriminator, build_stylegan_generator

from ganzoo.network_registry import DISCRIMINATORS, GENERATORS

# GENERATORS / DISCRIMINATORS (arch -> builder) are the tables ganzoo.network_registry's
# decorator fills: each builder imported above registers itself where it is defined. Building
# a network from a config (ganzoo.builders.build_network) happens above this layer.


def __getattr__(name):
    """``build_generator`` / ``build_discriminator`` (config -> network) moved to ganzoo.builders."""
    if name in ("build_generator", "build_discriminator"):
        import warnings  # noqa: PLC0415

        from ganzoo import builders  # noqa: PLC0415 (the one allowed back-edge of networks: tests/integration/test_layering.py)

        warnings.warn(f"ganzoo.networks.{name} moved to ganzoo.builders.{name}", DeprecationWarning, stacklevel=2)
        return getattr(builders, name)
    raise AttributeError(f"module 'ganzoo.networks' has no attribute '{name}'")


__all__ = ["GENERATORS", "DISCRIMINATORS"]
