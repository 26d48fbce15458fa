"""Small shared pieces of the network builders."""

from typing import Annotated

import keras
from keras import layers

from ganzoo.constraints import Interval, NonNegative, OneOf
from ganzoo.networks.spectral import spectral_normalized


#: Label embeddings start on the scale of z ~ N(0, 1) and of images in [-1, 1]; Keras' default
#: U(-0.05, 0.05) makes the label a whisper that both networks first learn to ignore.
LABEL_INIT = keras.initializers.RandomNormal(stddev=1.0)


#: Normalisations a network's ``norm`` may name (:func:`normalization`).
NORMS = ("batch", "layer", "instance", "none")
#: How a conditional discriminator takes its label (:func:`discriminator_inputs`).
CONDITIONINGS = ("concat", "projection")

#: The types of the options several builders share, each range written once (builders annotate
#: ``norm: Norm = "batch"``; ganzoo.source_reader reads these aliases from source, without TensorFlow).
Norm = Annotated[str, OneOf(NORMS)]
Conditioning = Annotated[str, OneOf(CONDITIONINGS)]
Dropout = Annotated[float, Interval(0, 1, open_high=True)]
LeakySlope = Annotated[float, NonNegative()]


def check_hidden(config, role, fail):
    """An ``mlp`` network's ``hidden`` widths: a non-empty list of positive numbers."""
    hidden = getattr(config, role).hidden
    if not hidden or any(h <= 0 for h in hidden):
        fail(f"{role}.hidden", f"must be a non-empty list of positive widths, got {hidden}")


def maybe_spectral(layer, spectral_norm: bool):
    """The layer, or when asked its spectrally normalised twin (SN-GAN, Miyato et al. 2018:
    ``W / sigma(W)`` in the forward pass, see :mod:`ganzoo.networks.spectral`)."""
    return spectral_normalized(layer) if spectral_norm else layer


def normalization(norm: str, name=None):
    """``batch`` | ``layer`` | ``instance`` (per image and channel, no affine terms: PyTorch's
    InstanceNorm2d as in CycleGAN) | ``none``.

    ``layer`` is the layer norm of WGAN-GP's critic (Gulrajani et al. 2017, sec. 4; reference
    ``tflib/ops/layernorm.py`` over axes (C, H, W) of NCHW): mean and variance over *all* of a
    sample's features, (H, W, C) for a feature map, with one scale and offset per channel, eps
    1e-5. In Keras terms that is ``GroupNormalization(groups=1)``; ``LayerNormalization(axis=-1)``
    would normalise each pixel alone, and ``LayerNormalization(axis=[1, 2, 3])`` would learn a
    scale per element. On a (batch, features) input both reduce to the usual layer norm.
    """
    if norm == "batch":
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)
    if norm == "layer":
        return layers.GroupNormalization(groups=1, epsilon=1e-5, name=name)
    if norm == "instance":
        return layers.GroupNormalization(groups=-1, center=False, scale=False, epsilon=1e-5, name=name)
    return None


def activation(x, leaky_slope: float):
    """LeakyReLU with ``leaky_slope``, or ReLU when the slope is 0."""
    return layers.LeakyReLU(negative_slope=leaky_slope)(x) if leaky_slope > 0 else layers.ReLU()(x)


def norm_act_dropout(x, norm: str, leaky_slope: float, dropout: float):
    """The post-layer sequence every builder uses: normalisation, activation, dropout."""
    norm_layer = normalization(norm)
    if norm_layer is not None:
        x = norm_layer(x)
    x = activation(x, leaky_slope)
    return layers.Dropout(dropout)(x) if dropout else x


def generator_inputs(latent_dim, num_classes, embedding_dim):
    """Inputs of a generator's trunk and the vector fed to its first layer.

    Unconditional: the trunk takes ``z``. Conditional: the trunk takes ``z`` and an
    already-embedded label, and :func:`wrap_generator` puts the label embedding in front;
    keeping the embedding outside the trunk lets tools feed mixed embeddings (class
    interpolation) straight into ``generator.get_layer("trunk")``.
    """
    z = keras.Input(shape=(latent_dim,), name="z")
    if num_classes is None:
        return [z], z
    embedded = keras.Input(shape=(embedding_dim,), name="label_embedding_in")
    return [z, embedded], layers.Concatenate(name="z_and_label")([z, embedded])


def wrap_generator(trunk_inputs, output, num_classes, embedding_dim, name):
    """The generator model: the trunk itself, or label -> embedding -> trunk when conditional."""
    if num_classes is None:
        return keras.Model(trunk_inputs[0], output, name=name)
    trunk = keras.Model(trunk_inputs, output, name="trunk")
    z = keras.Input(shape=trunk_inputs[0].shape[1:], name="z")
    label = keras.Input(shape=(), dtype="int32", name="label")
    embedded = layers.Embedding(num_classes, embedding_dim, embeddings_initializer=LABEL_INIT,
                                name="label_embedding")(label)
    return keras.Model([z, label], trunk([z, embedded]), name=name)


def discriminator_inputs(image_size, channels, num_classes, conditioning, embedding_dim):
    """Inputs of a discriminator, the image tensor to process, and the label (or None).

    With ``concat`` conditioning the label becomes an extra image channel through a learned
    embedding of size H*W (conditional DCGAN); with ``projection`` the label is returned for
    the projection head (Miyato & Koyama 2018).
    """
    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    if num_classes is None:
        return [image], image, None
    label = keras.Input(shape=(), dtype="int32", name="label")
    if conditioning == "concat":
        label_map = layers.Embedding(num_classes, image_size * image_size, embeddings_initializer=LABEL_INIT,
                                     name="label_map")(label)
        label_map = layers.Reshape((image_size, image_size, 1))(label_map)
        return [image, label], layers.Concatenate(name="image_and_label")([image, label_map]), label
    return [image, label], image, label


def logit_head(features, label, num_classes, conditioning, spectral_norm):
    """Final logit; adds the projection term <embed(y), h> for projection discriminators.

    With ``spectral_norm`` the class embedding is normalised too (sngan_projection's
    ``SNEmbedID``), so the class term stays under the same Lipschitz control as the rest of D.
    """
    logit = maybe_spectral(layers.Dense(1, dtype="float32"), spectral_norm)(features)
    if num_classes is not None and conditioning == "projection":
        width = features.shape[-1]
        embed = maybe_spectral(layers.Embedding(num_classes, width, name="projection_embedding"),
                               spectral_norm)(label)
        projection = layers.Dot(axes=1, dtype="float32")([embed, features])
        logit = layers.Add(name="logit", dtype="float32")([logit, projection])
    return logit
