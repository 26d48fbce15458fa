"""SRGAN networks (Ledig et al. 2017, fig. 4): the SRResNet generator and the SRGAN discriminator.

The generator is fully convolutional: it upscales an LR image of any size by ``scale``
(pixel-shuffle sub-pixel convolutions, Shi et al. 2016). It works in ganzoo's [-1, 1]
convention on both sides (the paper feeds LR in [0, 1]) and ends in tanh. The discriminator
judges fixed-size HR crops and returns one logit per image.
"""

from typing import Annotated, Optional

import keras
from keras import layers

from ganzoo.constraints import Positive
from ganzoo.network_registry import register_network
from ganzoo.networks.layers import LeakySlope, Norm, normalization


@keras.saving.register_keras_serializable(package="ganzoo")
class PixelShuffle(layers.Layer):
    """(h, w, c * r * r) -> (h * r, w * r, c): the sub-pixel convolution's rearrangement."""

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, x):
        return keras.ops.depth_to_space(x, self.factor)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        r = self.factor
        return (b, None if h is None else h * r, None if w is None else w * r, c // (r * r))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def upsampling_factors(scale: int) -> list:
    """x2 pixel-shuffle blocks for powers of two (x4 = two blocks, as in the paper), one x3 block for 3."""
    if scale == 3:
        return [3]
    if scale < 2 or scale & (scale - 1):
        raise ValueError(f"SRResNet upscales by 2, 3, 4 or 8, got {scale}")
    return [2] * (scale.bit_length() - 1)


def _prelu(x, name=None):
    return layers.PReLU(shared_axes=[1, 2], name=name)(x)


@register_network("generator", "srresnet", config_arguments={"scale": "data.scale"})
def build_srresnet_generator(scale=4, channels=3, filters: Annotated[int, Positive()] = 64,
                             residual_blocks: Annotated[Optional[int], Positive()] = None,
                             norm: Norm = "batch", name="generator"):
    """k9n64 conv + PReLU; B residual blocks (k3n64 conv, BN, PReLU, k3n64 conv, BN, skip);
    k3n64 conv + BN + long skip; per x2: k3n256 conv, pixel shuffle, PReLU; k9 conv to RGB.
    ``residual_blocks`` None: the paper's 16."""
    residual_blocks = 16 if residual_blocks is None else residual_blocks
    lr = keras.Input(shape=(None, None, channels), name="lr")
    x = head = _prelu(layers.Conv2D(filters, 9, padding="same", name="head_conv")(lr))
    for i in range(residual_blocks):
        skip = x
        x = layers.Conv2D(filters, 3, padding="same", name=f"res{i}_conv1")(x)
        x = _norm(x, norm)
        x = _prelu(x)
        x = layers.Conv2D(filters, 3, padding="same", name=f"res{i}_conv2")(x)
        x = _norm(x, norm)
        x = layers.Add()([skip, x])
    x = _norm(layers.Conv2D(filters, 3, padding="same", name="trunk_conv")(x), norm)
    x = layers.Add(name="long_skip")([head, x])
    for i, factor in enumerate(upsampling_factors(scale)):
        x = layers.Conv2D(filters * factor * factor, 3, padding="same", name=f"up{i}_conv")(x)
        x = PixelShuffle(factor, name=f"up{i}_shuffle")(x)
        x = _prelu(x)
    x = layers.Conv2D(channels, 9, padding="same", dtype="float32", name="tail_conv")(x)
    sr = layers.Activation("tanh", dtype="float32", name="sr")(x)
    return keras.Model(lr, sr, name=name)


def _norm(x, norm):
    layer = normalization(norm)
    return x if layer is None else layer(x)


@register_network("discriminator", "srgan")
def build_srgan_discriminator(image_size, channels=3, filters: Annotated[int, Positive()] = 64,
                              norm: Norm = "batch", leaky_slope: LeakySlope = 0.2,
                              name="discriminator"):
    """k3n64s1 conv + LReLU; seven k3 conv + BN + LReLU blocks (n64s2, n128s1, n128s2, n256s1,
    n256s2, n512s1, n512s2); Dense(1024) + LReLU; Dense(1) logit (the paper's sigmoid lives in
    the loss)."""
    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    x = layers.LeakyReLU(negative_slope=leaky_slope)(layers.Conv2D(filters, 3, padding="same")(image))
    plan = [(1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)]
    for width, stride in plan:
        x = layers.Conv2D(filters * width, 3, strides=stride, padding="same")(x)
        x = _norm(x, norm)
        x = layers.LeakyReLU(negative_slope=leaky_slope)(x)
    x = layers.Flatten()(x)
    x = layers.LeakyReLU(negative_slope=leaky_slope)(layers.Dense(filters * 16)(x))
    logit = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(image, logit, name=name)


#: File name Keras gives the ImageNet VGG19 weights without the classifier (in ~/.keras/models).
VGG19_NOTOP_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


def resolve_vgg19_weights(weights=None):
    """Where the content loss's VGG19 weights come from, without any download.

    ``None``: env ``GANZOO_VGG19_WEIGHTS`` if set, else the ImageNet file if Keras already has
    it in ``~/.keras/models`` (``$KERAS_HOME/models``); ``"random"``: untrained (tests only);
    anything else: a path to a local ``.h5`` file. Raises FileNotFoundError naming the options
    when no weights are available.
    """
    import os  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    if weights == "random":
        return None
    if weights is None:
        weights = os.environ.get("GANZOO_VGG19_WEIGHTS") or None
    if weights is None:
        home = Path(os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser())
        cached = home / "models" / VGG19_NOTOP_FILE
        if cached.is_file():
            return str(cached)
        raise FileNotFoundError(
            f"the VGG19 content loss needs the ImageNet VGG19 weights ({VGG19_NOTOP_FILE}), which are not in "
            f"{cached.parent} and are not downloaded by ganzoo. Either put that file there (or anywhere and "
            "point to it with model.vgg_weights: PATH or env GANZOO_VGG19_WEIGHTS=PATH), or train with a "
            "pixel loss instead: model.content_loss: pixel (--set model.content_loss=pixel).")
    path = Path(str(weights)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"VGG19 weights file '{weights}' (model.vgg_weights / GANZOO_VGG19_WEIGHTS) does "
                                f"not exist; give the path of {VGG19_NOTOP_FILE}, or use model.content_loss: pixel")
    return str(path)


def build_vgg19_features(layer="block5_conv4", weights=None, name="vgg19_features"):
    """Frozen VGG19 (keras.applications) up to ``layer``'s activations, for any image size.
    Its input is VGG's own: BGR, 0-255, ImageNet mean subtracted (see ``SRGAN.vgg_features``).
    ``weights``: a local ``.h5`` path or None (random init)."""
    vgg = keras.applications.VGG19(include_top=False, weights=weights, input_shape=(None, None, 3))
    features = keras.Model(vgg.input, vgg.get_layer(layer).output, name=name)
    features.trainable = False
    return features
