"""The SN-GAN "standard CNN" (Miyato et al. 2018, arXiv:1802.05957, table 3), CIFAR-10 sizes
with ``filters=64``, ``base_size=4``, ``image_size=32``:

Generator: z in R^128 ~ N(0, I) -> dense 4x4x512 -> [4x4 stride-2 deconv, BN, ReLU] x 3 at 256,
128, 64 channels -> 3x3 stride-1 conv to 3 channels, tanh.
Discriminator: 3x3 s1 conv 64, 4x4 s2 conv 64, 3x3 s1 128, 4x4 s2 128, 3x3 s1 256, 4x4 s2 256,
3x3 s1 512, dense -> 1; LeakyReLU 0.1 after every conv; spectral normalisation on every layer.

What the table leaves open follows the authors' reference implementation (pfnet-research
chainer-gan-lib ``common/net.py``: ``DCGANGenerator`` and ``SNDCGANDiscriminator``):
batch norm and ReLU after the generator's dense layer, over each of its 4*4*512 features
(``bn0``); all weights drawn from N(0, 0.02). Where that code differs from the paper, ganzoo
follows the paper: the discriminator's widths (chainer-gan-lib: 64, 128, 128, 256, 256, 512,
512), the LeakyReLU slope (chainer-gan-lib: chainer's default 0.2) and z ~ N(0, I) (its
default: U(-1, 1)). The generator's last layer is a 3x3 convolution as in the table (the
reference: a 3x3 stride-1 deconvolution, the same family of maps).

Other sizes: ``image_size = base_size * 2**k`` (the paper: base_size 6 for 48x48 STL-10);
widths halve at each doubling and end at ``filters``.
"""

from typing import Annotated

import keras
from keras import layers

from ganzoo.networks.dcgan import (check_downsampling_discriminator, check_upsampling_generator, downsampling_count,
                                   upsampling_count)
from ganzoo.constraints import Positive
from ganzoo.network_registry import register_network
from ganzoo.networks.layers import (Conditioning, Dropout, LeakySlope, Norm, discriminator_inputs, generator_inputs,
                                    logit_head, maybe_spectral, norm_act_dropout, wrap_generator)

#: chainer-gan-lib's ``wscale=0.02``: every SN-GAN weight starts from N(0, 0.02).
SNGAN_INIT = keras.initializers.RandomNormal(stddev=0.02)


@register_network("generator", "sngan", config_arguments={"latent_dim": "model.latent_dim"},
                  check=check_upsampling_generator)
def build_sngan_generator(image_size, channels, latent_dim, filters: Annotated[int, Positive()] = 64,
                          base_size: int = 4, kernel_size: Annotated[int, Positive()] = 4,
                          num_classes=None, embedding_dim: Annotated[int, Positive()] = 50, norm: Norm = "batch",
                          spectral_norm: bool = False, dropout: Dropout = 0.0,
                          leaky_slope: LeakySlope = 0.0, name="generator"):
    """SN-GAN standard-CNN generator: z (and an embedded label) -> dense to ``base_size`` x
    ``base_size`` x ``filters * 2**k``, ``k`` stride-2 transposed convolutions down to ``filters``
    channels, then a 3x3 stride-1 convolution to the image (tanh in [-1, 1]).
    """
    n_up = upsampling_count(image_size, base_size)
    inputs, x = generator_inputs(latent_dim, num_classes, embedding_dim)
    width = filters * 2 ** n_up
    x = maybe_spectral(layers.Dense(base_size * base_size * width, use_bias=norm == "none",
                                    kernel_initializer=SNGAN_INIT), spectral_norm)(x)
    if norm == "batch":  # the reference normalises each feature of the dense output, before the reshape
        x = layers.Reshape((base_size, base_size, width))(norm_act_dropout(x, norm, leaky_slope, dropout))
    else:
        x = norm_act_dropout(layers.Reshape((base_size, base_size, width))(x), norm, leaky_slope, dropout)
    for i in range(n_up):
        x = maybe_spectral(layers.Conv2DTranspose(filters * 2 ** (n_up - 1 - i), kernel_size, strides=2,
                                                  padding="same", use_bias=norm == "none",
                                                  kernel_initializer=SNGAN_INIT), spectral_norm)(x)
        x = norm_act_dropout(x, norm, leaky_slope, dropout)
    x = maybe_spectral(layers.Conv2D(channels, 3, padding="same", kernel_initializer=SNGAN_INIT), spectral_norm)(x)
    x = layers.Activation("tanh", dtype="float32", name="image")(x)
    return wrap_generator(inputs, x, num_classes, embedding_dim, name)


@register_network("discriminator", "sngan", fixed=("embedding_dim",), check=check_downsampling_discriminator)
def build_sngan_discriminator(image_size, channels, filters: Annotated[int, Positive()] = 64,
                              kernel_size: Annotated[int, Positive()] = 4, num_classes=None,
                              embedding_dim=50, conditioning: Conditioning = "projection",
                              norm: Norm = "none", spectral_norm: bool = True,
                              dropout: Dropout = 0.0, leaky_slope: LeakySlope = 0.1,
                              name="discriminator"):
    """SN-GAN standard-CNN discriminator: pairs of (3x3 stride-1, ``kernel_size`` stride-2)
    convolutions at ``filters * 2**i`` down to 4x4, a 3x3 convolution at ``filters * 2**k``,
    then the logit (plus the projection term <embed(y), h> for ``projection`` conditioning).
    """
    inputs, x, label = discriminator_inputs(image_size, channels, num_classes, conditioning, embedding_dim)
    n_down = downsampling_count(image_size)
    for i in range(n_down):
        width = filters * 2 ** i
        for k, stride in ((3, 1), (kernel_size, 2)):
            x = maybe_spectral(layers.Conv2D(width, k, strides=stride, padding="same", kernel_initializer=SNGAN_INIT),
                               spectral_norm)(x)
            x = norm_act_dropout(x, norm if i > 0 else "none", leaky_slope, 0.0)
    x = maybe_spectral(layers.Conv2D(filters * 2 ** n_down, 3, padding="same", kernel_initializer=SNGAN_INIT),
                       spectral_norm)(x)
    x = layers.Flatten()(norm_act_dropout(x, "none", leaky_slope, dropout))
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                       logit_head(x, label, num_classes, conditioning, spectral_norm), name=name)
