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

from ganzoo.model_registry import network_spec
from ganzoo.network_registry import BUILDERS, CONTEXT_ARGUMENTS, DISCRIMINATORS, GENERATORS

# GENERATORS / DISCRIMINATORS (arch -> builder) are the tables ganzoo.network_registry's
# decorator fills: each builder imported above registers itself where it is defined.


def _config_value(config, path: str):
    section, key = path.split(".", 1)
    if section == "model":  # num_classes of a class that takes none: None (unconditional)
        return config.model.get(key)
    return getattr(getattr(config, section), key)


def build_network(role: str, config):
    """Build the ``role`` network (``generator`` / ``discriminator``) of a
    :class:`ganzoo.config.Config`: the builder registered for its ``arch``, called with the
    section's keys, the context it takes (image size, channels, number of classes) and its
    config arguments (e.g. ``model.latent_dim``)."""
    net = getattr(config, role)
    spec = network_spec(role, net.arch)
    kwargs = {name: _config_value(config, CONTEXT_ARGUMENTS[name]) for name in spec.context}
    kwargs.update({name: _config_value(config, path) for name, path in spec.config_arguments.items()})
    kwargs.update({name: getattr(net, name) for name in spec.options})
    return BUILDERS[role][net.arch](**kwargs)


def build_generator(config):
    """Build the generator described by a :class:`ganzoo.config.Config`."""
    return build_network("generator", config)


def build_discriminator(config):
    """Build the discriminator described by a :class:`ganzoo.config.Config`."""
    return build_network("discriminator", config)


__all__ = ["GENERATORS", "DISCRIMINATORS", "build_network", "build_generator", "build_discriminator"]
