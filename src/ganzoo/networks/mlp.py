"""Fully connected networks of the original GAN paper (Goodfellow et al. 2014).

The paper's MNIST code used ReLU/sigmoid generators and maxout discriminators; the
widely reproduced Keras/PyTorch recipe keeps the fully connected structure with LeakyReLU
and dropout, which is what these builders provide (widths set by ``hidden``).
"""

from typing import Annotated

import keras
from keras import layers

from ganzoo.constraints import Positive
from ganzoo.network_registry import register_network
from ganzoo.networks.layers import (Conditioning, Dropout, LeakySlope, Norm, check_hidden, discriminator_inputs,
                                    generator_inputs, logit_head, maybe_spectral, norm_act_dropout, wrap_generator)


@register_network("generator", "mlp", config_arguments={"latent_dim": "model.latent_dim"}, check=check_hidden)
def build_mlp_generator(image_size, channels, latent_dim, hidden: list[int] = (256, 512, 1024), num_classes=None,
                        embedding_dim: Annotated[int, Positive()] = 50, norm: Norm = "batch", spectral_norm: bool = False,
                        dropout: Dropout = 0.0, leaky_slope: LeakySlope = 0.2,
                        name="generator"):
    """Fully connected generator (Goodfellow et al. 2014): z (and an embedded label) through ``hidden``
    layers to a tanh image of ``image_size`` x ``image_size`` x ``channels``.
    """
    inputs, x = generator_inputs(latent_dim, num_classes, embedding_dim)
    for width in hidden:
        x = maybe_spectral(layers.Dense(width), spectral_norm)(x)
        x = norm_act_dropout(x, norm, leaky_slope, dropout)
    x = maybe_spectral(layers.Dense(image_size * image_size * channels), spectral_norm)(x)
    x = layers.Activation("tanh", dtype="float32")(x)
    x = layers.Reshape((image_size, image_size, channels), dtype="float32", name="image")(x)
    return wrap_generator(inputs, x, num_classes, embedding_dim, name)


@register_network("discriminator", "mlp", fixed=("embedding_dim",), check=check_hidden)
def build_mlp_discriminator(image_size, channels, hidden: list[int] = (1024, 512, 256), num_classes=None,
                            embedding_dim=50, conditioning: Conditioning = "concat",
                            norm: Norm = "none", spectral_norm: bool = False,
                            dropout: Dropout = 0.3, leaky_slope: LeakySlope = 0.2, name="discriminator"):
    """Fully connected discriminator: the flattened image (and label) through ``hidden`` layers to one logit."""
    inputs, image, label = discriminator_inputs(image_size, channels, num_classes, conditioning, embedding_dim)
    x = layers.Flatten()(image)
    for width in hidden:
        x = maybe_spectral(layers.Dense(width), spectral_norm)(x)
        x = norm_act_dropout(x, norm, leaky_slope, dropout)
    logit = logit_head(x, label, num_classes, conditioning, spectral_norm)
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, logit, name=name)

