"""Convolutional networks of DCGAN (Radford et al. 2016); the SN-GAN "standard CNN" is in
:mod:`ganzoo.networks.sngan`.

The DCGAN generator projects z to a ``base_size`` x ``base_size`` map and doubles the
resolution with strided transposed convolutions until ``image_size`` (so image_size must be
``base_size * 2**k``; 7 -> 28 for MNIST, 4 -> 32/64 for CIFAR-10/CelebA). Channel widths
halve at each doubling and end at ``filters`` before the RGB/gray output.
"""

import math
from typing import Annotated

import keras
from keras import layers

from ganzoo.constraints import Positive
from ganzoo.network_registry import register_network
from ganzoo.networks.layers import (Conditioning, Dropout, LeakySlope, Norm, discriminator_inputs, generator_inputs,
                                    logit_head, maybe_spectral, norm_act_dropout, wrap_generator)


def upsampling_count(image_size, base_size):
    """How many 2x upsamplings take ``base_size`` to ``image_size`` (a power-of-two ratio >= 2); ValueError otherwise."""
    ratio = image_size // base_size
    if base_size <= 0 or image_size % base_size or ratio < 2 or ratio & (ratio - 1):
        raise ValueError(f"a DCGAN generator with base_size={base_size} cannot produce {image_size}x{image_size}: "
                         f"image_size must be base_size * 2**k with k >= 1")
    return int(math.log2(ratio))


def check_upsampling_generator(config, role, fail):
    """A generator that doubles ``base_size`` up to ``data.image_size`` (dcgan, sngan)."""
    arch, size, base = getattr(config, role).arch, config.data.image_size, getattr(config, role).base_size
    ratio = size // base if base > 0 else 0
    if base <= 0 or size % base or ratio < 2 or ratio & (ratio - 1):
        examples = ", ".join(str(base * 2 ** k) for k in range(1, 5)) if base > 0 else "32"
        fail("data.image_size",
             f"the {arch} generator doubles {role}.base_size={base} at each block, so it cannot "
             f"produce {size}x{size}; use an image_size of base_size * 2**k (e.g. {examples}) "
             f"or change {role}.base_size (7 gives 28 for MNIST)")


def check_downsampling_discriminator(config, role, fail):
    """A discriminator that halves the image down to 4x4 (dcgan, sngan) needs 8x8 at least."""
    if config.data.image_size < 8:
        fail("data.image_size", f"the {getattr(config, role).arch} discriminator needs images of at least 8x8, "
             f"got {config.data.image_size}")


def downsampling_count(image_size):
    """Stride-2 convolutions until the feature map is 4x4 or smaller."""
    n, size = 0, image_size
    while size > 4:
        size = math.ceil(size / 2)
        n += 1
    return max(n, 1)


@register_network("generator", "dcgan", config_arguments={"latent_dim": "model.latent_dim"},
                  check=check_upsampling_generator)
def build_dcgan_generator(image_size, channels, latent_dim, filters: Annotated[int, Positive()] = 64,
                          base_size: int = 4, kernel_size: Annotated[int, Positive()] = 4,
                          num_classes=None, embedding_dim: Annotated[int, Positive()] = 50, norm: Norm = "batch",
                          spectral_norm: bool = False, dropout: Dropout = 0.0,
                          leaky_slope: LeakySlope = 0.0, name="generator"):
    """DCGAN generator: z (and an embedded label) -> Dense projection to ``base_size`` x ``base_size``,
    then stride-2 transposed convolutions doubling to ``image_size``, tanh output in [-1, 1].
    """
    n_up = upsampling_count(image_size, base_size)
    inputs, x = generator_inputs(latent_dim, num_classes, embedding_dim)
    width = filters * 2 ** (n_up - 1)
    x = maybe_spectral(layers.Dense(base_size * base_size * width, use_bias=norm == "none"), spectral_norm)(x)
    x = layers.Reshape((base_size, base_size, width))(x)
    for i in range(n_up):
        x = norm_act_dropout(x, norm, leaky_slope, dropout)
        last = i == n_up - 1
        out_channels = channels if last else filters * 2 ** (n_up - 2 - i)
        x = maybe_spectral(layers.Conv2DTranspose(out_channels, kernel_size, strides=2, padding="same",
                                                  use_bias=last or norm == "none"), spectral_norm)(x)
    x = layers.Activation("tanh", dtype="float32", name="image")(x)
    return wrap_generator(inputs, x, num_classes, embedding_dim, name)


@register_network("discriminator", "dcgan", fixed=("embedding_dim",), check=check_downsampling_discriminator)
def build_dcgan_discriminator(image_size, channels, filters: Annotated[int, Positive()] = 64,
                              kernel_size: Annotated[int, Positive()] = 4, num_classes=None,
                              embedding_dim=50, conditioning: Conditioning = "concat",
                              norm: Norm = "batch", spectral_norm: bool = False,
                              dropout: Dropout = 0.0, leaky_slope: LeakySlope = 0.2,
                              name="discriminator"):
    """DCGAN discriminator: stride-2 convolutions (no normalisation on the input layer) down to 4x4,
    then one logit; conditional by a label channel (``concat``) or a projection head.
    """
    inputs, x, label = discriminator_inputs(image_size, channels, num_classes, conditioning, embedding_dim)
    for i in range(downsampling_count(image_size)):
        x = maybe_spectral(layers.Conv2D(filters * 2 ** i, kernel_size, strides=2, padding="same"), spectral_norm)(x)
        # DCGAN: no normalisation on D's input layer.
        x = norm_act_dropout(x, norm if i > 0 else "none", leaky_slope, dropout)
    logit = logit_head(layers.Flatten()(x), label, num_classes, conditioning, spectral_norm)
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, logit, name=name)

