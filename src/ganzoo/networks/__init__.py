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

#: arch name -> builder. Explicit so that ``grep`` finds every architecture.
GENERATORS = {
    "mlp": build_mlp_generator,
    "dcgan": build_dcgan_generator,
    "sngan": build_sngan_generator,
    "srresnet": build_srresnet_generator,
    "resnet": build_resnet_generator,
    "pggan": build_pggan_generator,
    "stylegan": build_stylegan_generator,
}
DISCRIMINATORS = {
    "mlp": build_mlp_discriminator,
    "dcgan": build_dcgan_discriminator,
    "sngan": build_sngan_discriminator,
    "srgan": build_srgan_discriminator,
    "patchgan": build_patchgan_discriminator,
    "pggan": build_pggan_discriminator,
    "stylegan": build_stylegan_discriminator,
}

#: Image-to-image networks: arch -> the paper's default number of residual blocks.
_RESIDUAL_BLOCKS = {"srresnet": 16, "resnet": 9}


def _common(config, net):
    return dict(
        image_size=config.data.image_size,
        channels=config.data.channels,
        num_classes=config.model.get("num_classes"),
        embedding_dim=net.embedding_dim,
        norm=net.norm,
        spectral_norm=net.spectral_norm,
        dropout=net.dropout,
        leaky_slope=net.leaky_slope,
    )


def _image_to_image_kwargs(config, net, generator: bool) -> dict:
    kwargs = dict(channels=config.data.channels, filters=net.filters, norm=net.norm)
    if generator:
        kwargs["residual_blocks"] = net.residual_blocks or _RESIDUAL_BLOCKS[net.arch]
        if net.arch == "srresnet":
            kwargs["scale"] = config.data.scale
    else:
        kwargs["leaky_slope"] = net.leaky_slope
        if net.arch == "srgan":
            kwargs["image_size"] = config.data.image_size
    return kwargs


def _karras_kwargs(config, net, generator: bool) -> dict:
    """Builder arguments of the ``pggan`` / ``stylegan`` networks (their papers' own layers:
    no norm/dropout/spectral-norm options; ``filters`` is the widest layer)."""
    kwargs = dict(image_size=config.data.image_size, channels=config.data.channels, filters=net.filters)
    if generator:
        kwargs["latent_dim"] = config.model.latent_dim
        if net.arch == "stylegan":
            kwargs.update(mapping_layers=config.model.mapping_layers, mapping_lr_mul=config.model.mapping_lr_mul)
    return kwargs


def build_generator(config):
    """Build the generator described by a :class:`ganzoo.config.Config`."""
    net = config.generator
    if net.arch in ("pggan", "stylegan"):
        return GENERATORS[net.arch](**_karras_kwargs(config, net, generator=True))
    if net.arch in _RESIDUAL_BLOCKS:
        return GENERATORS[net.arch](**_image_to_image_kwargs(config, net, generator=True))
    kwargs = _common(config, net)
    kwargs["latent_dim"] = config.model.latent_dim
    if net.arch == "mlp":
        kwargs["hidden"] = list(net.hidden)
    else:
        kwargs.update(filters=net.filters, base_size=net.base_size, kernel_size=net.kernel_size)
    return GENERATORS[net.arch](**kwargs)


def build_discriminator(config):
    """Build the discriminator described by a :class:`ganzoo.config.Config`."""
    net = config.discriminator
    if net.arch in ("pggan", "stylegan"):
        return DISCRIMINATORS[net.arch](**_karras_kwargs(config, net, generator=False))
    if net.arch in ("srgan", "patchgan"):
        return DISCRIMINATORS[net.arch](**_image_to_image_kwargs(config, net, generator=False))
    kwargs = _common(config, net)
    kwargs["conditioning"] = net.conditioning
    if net.arch == "mlp":
        kwargs["hidden"] = list(net.hidden)
    else:
        kwargs.update(filters=net.filters, kernel_size=net.kernel_size)
    return DISCRIMINATORS[net.arch](**kwargs)


__all__ = ["GENERATORS", "DISCRIMINATORS", "build_generator", "build_discriminator"]
