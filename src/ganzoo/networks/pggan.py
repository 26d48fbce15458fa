"""Progressive GAN networks (Karras et al. 2018, "Progressive Growing of GANs for Improved
Quality, Stability, and Variation") and the layers StyleGAN shares with them.

All resolution blocks exist from the start (every variable is created when the network is
built, so the optimizers are built once and checkpoints always hold every weight). Two ways
to run them, with the same result:

* ``call(x, level, alpha)`` with a Python ``level`` (0 = 4x4, 1 = 8x8, ...) runs only the
  blocks up to that level, at its resolution (sampling, tests);
* ``grow(x, level, alpha)`` with ``level`` and ``alpha`` as *tensors* runs every block at
  full resolution and gates the unused ones to zero (the official code's "linear" network
  structure): one fixed graph for all phases, so training grows without retracing, and
  XLA-friendly. Inputs/outputs are full-resolution images that are nearest-upsampled copies
  of the level's images, so the result equals the upsampled ``call`` output.

The training scheme that grows them is :class:`ganzoo.models.pggan.ProgressiveGAN`.

Paper details kept here (section 4 and appendix A of the paper):

* **equalized learning rate**: weights drawn from N(0, 1) and scaled at run time by He's
  constant ``gain / sqrt(fan_in)`` (:class:`EqualizedDense`, :class:`EqualizedConv2D`), so
  Adam's per-parameter step sizes are equal for all layers;
* **pixel normalization** after each generator convolution (:class:`PixelNorm`);
* **minibatch standard deviation** before the discriminator's last block
  (:class:`MinibatchStdDev`, groups of 4);
* **fade-in**: the new block's RGB output (G) or input (D) is blended with the upsampled
  (downsampled) output of the previous resolution by ``alpha`` going 0 -> 1;
* channel widths constant (``filters``, the paper's 512) up to 32x32, halving at each
  larger resolution (256 at 64x64, 128 at 128x128).
"""

from __future__ import annotations

import math
from typing import Annotated

import keras
from keras import layers, ops

from ganzoo.constraints import Positive
from ganzoo.network_registry import register_network

__all__ = [
    "EqualizedDense", "EqualizedConv2D", "PixelNorm", "MinibatchStdDev", "ProgressiveGenerator",
    "ProgressiveDiscriminator", "build_pggan_generator", "build_pggan_discriminator", "resolution_levels",
    "block_width", "upsample2x", "upsample_to", "downsample", "blend_levels", "level_weights",
]

SQRT2 = math.sqrt(2.0)


#: Why the Karras networks take none of the generic layer options (shown when one is set).
PGGAN_NOTE = "the PGGAN networks are the paper's own (pixel norm, equalized learning rate, minibatch stddev)"


def check_doubling(config, role, fail):
    """The networks that double from 4x4 (pggan, stylegan) need a power-of-two image size."""
    size = config.data.image_size
    if size < 4 or size & (size - 1):
        fail("data.image_size", f"{config.model.cls} doubles its resolution from 4x4, so image_size must be a power "
             f"of two (e.g. 32, 64, 128), got {size}; pad small images with data.pad (MNIST: image_size 32, pad 2)")


def resolution_levels(resolution: int) -> list:
    """[4, 8, ..., resolution]; ``resolution`` must be a power of two >= 4."""
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"progressive networks grow 4x4 -> 8x8 -> ... by doubling: the resolution must be a "
                         f"power of two >= 4, got {resolution}")
    return [4 * 2 ** k for k in range(int(math.log2(resolution)) - 1)]


def block_width(res: int, filters: int) -> int:
    """Channels at resolution ``res``: ``filters`` up to 32x32, halving at each doubling beyond
    (the paper's 512/256/128 at 32/64/128 with filters=512)."""
    return max(1, min(filters, filters * 32 // res))


def upsample2x(x):
    """Nearest-neighbour 2x upsampling (the paper's ``upscale2d``)."""
    return ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)


def downsample(x, factor: int):
    """Average pooling by an integer factor (the paper's ``downscale2d``); exact block means."""
    return x if factor == 1 else ops.average_pool(x, factor, factor, "valid")


def lerp(a, b, t):
    """Linear interpolation ``a + (b - a) * t`` (the fade-in of a new resolution block)."""
    return a + (b - a) * ops.cast(t, a.dtype)


def upsample_to(x, size: int):
    """Nearest-neighbour upsampling of square images to ``size`` (an integer multiple)."""
    factor = size // x.shape[1]
    return x if factor == 1 else ops.repeat(ops.repeat(x, factor, axis=1), factor, axis=2)


def level_weights(num_levels: int, level, alpha):
    """Weight of each level's image in the faded output: ``alpha`` for ``level``, ``1 - alpha``
    for the level below, 0 elsewhere (tensors)."""
    k = ops.arange(num_levels, dtype="int32")
    level = ops.cast(level, "int32")
    alpha = ops.cast(alpha, "float32")
    return ops.where(k == level, alpha, 0.0) + ops.where(k == level - 1, 1.0 - alpha, 0.0)


def blend_levels(images, level, alpha):
    """Full-resolution images (one per level, each an upsampled copy of its level's images)
    -> the faded image of ``level``: ``lerp(images[level - 1], images[level], alpha)``."""
    weights = level_weights(len(images), level, alpha)
    terms = [ops.cast(weights[k], x.dtype) * x for k, x in enumerate(images)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


# ====================================================================== layers

@keras.saving.register_keras_serializable(package="ganzoo")
class EqualizedDense(layers.Layer):
    """Dense layer with the equalized learning rate (Karras et al. 2018, sec. 4.1).

    Weights are initialised from N(0, 1 / lr_multiplier^2) and multiplied at every call by
    ``gain / sqrt(fan_in) * lr_multiplier``; the bias by ``lr_multiplier``. With
    ``lr_multiplier`` < 1 the layer learns that much slower under Adam (StyleGAN's mapping
    network: 0.01, Karras et al. 2019, appendix C).
    """

    def __init__(self, units: int, gain: float = SQRT2, lr_multiplier: float = 1.0, use_bias: bool = True,
                 bias_initial_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.gain = float(gain)
        self.lr_multiplier = float(lr_multiplier)
        self.use_bias = bool(use_bias)
        self.bias_initial_value = float(bias_initial_value)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.scale = self.gain / math.sqrt(fan_in) * self.lr_multiplier
        self.kernel = self.add_weight(shape=(fan_in, self.units), name="kernel",
                                      initializer=keras.initializers.RandomNormal(0.0, 1.0 / self.lr_multiplier))
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), name="bias", initializer=keras.initializers.Constant(
                self.bias_initial_value / self.lr_multiplier))

    def call(self, x):
        y = keras.ops.matmul(x, self.kernel * self.scale)
        if self.bias is not None:
            y = y + self.bias * self.lr_multiplier
        return y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "gain": self.gain, "lr_multiplier": self.lr_multiplier,
                       "use_bias": self.use_bias, "bias_initial_value": self.bias_initial_value})
        return config


@keras.saving.register_keras_serializable(package="ganzoo")
class EqualizedConv2D(layers.Layer):
    """'Same'-padded, stride-1 convolution with the equalized learning rate (see
    :class:`EqualizedDense`); ``padding="valid"`` for the 4x4 head of the discriminator."""

    def __init__(self, filters: int, kernel_size: int = 3, gain: float = SQRT2, use_bias: bool = True,
                 padding: str = "same", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.gain = float(gain)
        self.use_bias = bool(use_bias)
        self.padding = padding

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.scale = self.gain / math.sqrt(channels * self.kernel_size ** 2)
        self.kernel = self.add_weight(shape=(self.kernel_size, self.kernel_size, channels, self.filters),
                                      name="kernel", initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.bias = (self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
                     if self.use_bias else None)

    def call(self, x):
        y = keras.ops.conv(x, self.kernel * self.scale, strides=1, padding=self.padding)
        if self.bias is not None:
            y = y + self.bias
        return y

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        if self.padding == "valid":
            h = None if h is None else h - self.kernel_size + 1
            w = None if w is None else w - self.kernel_size + 1
        return (n, h, w, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "kernel_size": self.kernel_size, "gain": self.gain,
                       "use_bias": self.use_bias, "padding": self.padding})
        return config


@keras.saving.register_keras_serializable(package="ganzoo")
class PixelNorm(layers.Layer):
    """Normalise each pixel's feature vector to unit average square (Karras et al. 2018,
    sec. 4.2): ``x / sqrt(mean(x^2 over channels) + 1e-8)``. Also normalises z."""

    def __init__(self, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        return x * keras.ops.rsqrt(keras.ops.mean(keras.ops.square(x), axis=-1, keepdims=True) + self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="ganzoo")
class MinibatchStdDev(layers.Layer):
    """Append the average standard deviation of features over groups of images as one more
    channel (Karras et al. 2018, sec. 3): a collapsed generator's batches have a low one,
    which the discriminator can then see.

    Groups hold ``group_size`` images (4 in the paper; image i is in group i mod (N/G)); for a
    batch that 4 does not divide, the largest divisor of the batch below it is used.
    """

    def __init__(self, group_size: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.group_size = int(group_size)

    def _group(self, x):
        n = x.shape[0]
        if n is not None:  # static batch (fit with drop_remainder): a plain int
            return max(g for g in range(1, min(self.group_size, n) + 1) if n % g == 0)
        # A batch dimension unknown while tracing (TensorFlow graphs without drop_remainder;
        # JAX shapes are always static): the largest candidate that divides it, as a tensor.
        n = ops.shape(x)[0]
        candidates = ops.arange(self.group_size, 0, -1, dtype="int32")
        ok = ops.logical_and(candidates <= n, ops.mod(n, candidates) == 0)
        return ops.take(candidates, ops.argmax(ops.cast(ok, "int32")))

    def call(self, x):
        h, w, c = x.shape[1], x.shape[2], x.shape[3]
        g = self._group(x)
        y = ops.reshape(ops.cast(x, "float32"), (g, -1, h, w, c))
        y = y - ops.mean(y, axis=0, keepdims=True)
        y = ops.sqrt(ops.mean(ops.square(y), axis=0) + 1e-8)
        y = ops.mean(y, axis=(1, 2, 3))  # one number per group
        y = ops.tile(ops.reshape(y, (-1, 1, 1, 1)), (g, h, w, 1))
        return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + 1,)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size}


# ====================================================================== growing networks

def _lrelu():
    return layers.LeakyReLU(negative_slope=0.2)


def _generator_block(res: int, in_shape: tuple, filters: int, latent_dim: int):
    """4x4: z -> pixel norm -> dense -> 4x4 map -> conv; larger: upsample -> conv -> conv;
    each convolution followed by LeakyReLU(0.2) and pixel norm (paper, table 2)."""
    width = block_width(res, filters)
    if res == 4:
        inp = keras.Input(shape=(latent_dim,), name="z")
        x = PixelNorm()(inp)
        x = EqualizedDense(16 * width, gain=SQRT2 / 4)(x)  # the paper's 4x4 "convolution" on a 1x1 input
        x = layers.Reshape((4, 4, width))(x)
        x = PixelNorm()(_lrelu()(x))
    else:
        inp = keras.Input(shape=in_shape, name="features")
        x = layers.UpSampling2D(2, interpolation="nearest")(inp)
        x = PixelNorm()(_lrelu()(EqualizedConv2D(width, 3)(x)))
    x = PixelNorm()(_lrelu()(EqualizedConv2D(width, 3)(x)))
    return keras.Model(inp, x, name=f"g_block_{res}")


def _discriminator_block(res: int, filters: int, mbstd_group: int):
    """Larger than 4x4: conv -> conv -> average pool; 4x4: minibatch stddev -> conv -> 4x4
    conv (dense) -> logit (paper, table 2)."""
    width = block_width(res, filters)
    inp = keras.Input(shape=(res, res, width), name="features")
    if res == 4:
        x = MinibatchStdDev(mbstd_group)(inp)
        x = _lrelu()(EqualizedConv2D(width, 3)(x))
        x = _lrelu()(EqualizedConv2D(width, 4, padding="valid")(x))
        x = layers.Flatten()(x)
        x = EqualizedDense(1, gain=1.0, dtype="float32")(x)
        return keras.Model(inp, x, name="d_block_4")
    x = _lrelu()(EqualizedConv2D(width, 3)(inp))
    x = _lrelu()(EqualizedConv2D(block_width(res // 2, filters), 3)(x))
    x = layers.AveragePooling2D(2)(x)
    return keras.Model(inp, x, name=f"d_block_{res}")


def _rgb_layer(res: int, channels_in: int, channels_out: int, name: str, activation: bool):
    inp = keras.Input(shape=(res, res, channels_in), name="x")
    x = EqualizedConv2D(channels_out, 1, gain=1.0 if not activation else SQRT2)(inp)
    if activation:
        x = _lrelu()(x)
    return keras.Model(inp, x, name=name)


@keras.saving.register_keras_serializable(package="ganzoo")
class ProgressiveGenerator(layers.Layer):
    """All of a progressive generator's blocks and to-RGB layers; ``call(z, level, alpha)``
    runs the network grown to ``level`` (None: fully grown) with the newest block faded in by
    ``alpha`` (None: 1, no blending). Outputs tanh images at the level's resolution."""

    def __init__(self, resolution: int, channels: int, latent_dim: int, filters: int = 512, **kwargs):
        super().__init__(**kwargs)
        self.resolution = int(resolution)
        self.channels = int(channels)
        self.latent_dim = int(latent_dim)
        self.filters = int(filters)
        self.levels = resolution_levels(self.resolution)
        self.blocks, self.to_rgb = [], []
        for res in self.levels:
            prev = block_width(res // 2, filters)
            self.blocks.append(_generator_block(res, (res // 2, res // 2, prev), filters, latent_dim))
            self.to_rgb.append(_rgb_layer(res, block_width(res, filters), channels, f"to_rgb_{res}", False))

    def build(self, input_shape):
        self.built = True  # every sub-network is a functional model, built on creation

    def call(self, z, level=None, alpha=None, training=None):
        level = len(self.levels) - 1 if level is None else int(level)
        x = self.blocks[0](z, training=training)
        previous = x
        for k in range(1, level + 1):
            previous = x
            x = self.blocks[k](x, training=training)
        rgb = self.to_rgb[level](x, training=training)
        if alpha is not None and level > 0:
            old = upsample2x(self.to_rgb[level - 1](previous, training=training))
            rgb = lerp(old, rgb, alpha)
        return ops.tanh(ops.cast(rgb, "float32"))

    def grow(self, z, level, alpha, training=None):
        """Full-resolution images of the network grown to ``level`` (int tensor) with the
        newest block faded in by ``alpha`` (every block runs; unused ones get weight 0)."""
        x = self.blocks[0](z, training=training)
        rgbs = [upsample_to(ops.cast(self.to_rgb[0](x, training=training), "float32"), self.resolution)]
        for k in range(1, len(self.levels)):
            x = self.blocks[k](x, training=training)
            rgbs.append(upsample_to(ops.cast(self.to_rgb[k](x, training=training), "float32"), self.resolution))
        return ops.tanh(blend_levels(rgbs, level, alpha))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.resolution, self.resolution, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update({"resolution": self.resolution, "channels": self.channels, "latent_dim": self.latent_dim,
                       "filters": self.filters})
        return config


@keras.saving.register_keras_serializable(package="ganzoo")
class ProgressiveDiscriminator(layers.Layer):
    """All of a progressive discriminator's from-RGB layers and blocks; ``call(images, level,
    alpha)`` takes images at the resolution of ``level`` and returns float32 logits. While
    fading in (alpha < 1) the new block's output is blended with the from-RGB features of the
    2x downsampled images, as in the paper (fig. 2)."""

    def __init__(self, resolution: int, channels: int, filters: int = 512, mbstd_group: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.resolution = int(resolution)
        self.channels = int(channels)
        self.filters = int(filters)
        self.mbstd_group = int(mbstd_group)
        self.levels = resolution_levels(self.resolution)
        self.from_rgb = [_rgb_layer(res, channels, block_width(res, filters), f"from_rgb_{res}", True)
                         for res in self.levels]
        self.blocks = [_discriminator_block(res, filters, mbstd_group) for res in self.levels]

    def build(self, input_shape):
        self.built = True

    def call(self, images, level=None, alpha=None, training=None):
        level = len(self.levels) - 1 if level is None else int(level)
        x = self.blocks[level](self.from_rgb[level](images, training=training), training=training)
        if alpha is not None and level > 0:
            old = self.from_rgb[level - 1](downsample(images, 2), training=training)
            x = lerp(old, x, alpha)
        for k in range(level - 1, -1, -1):
            x = self.blocks[k](x, training=training)
        return ops.cast(x, "float32")

    def grow(self, images, level, alpha, training=None):
        """Logits of the network grown to ``level`` (int tensor) for full-resolution images
        that are upsampled copies of the level's images. Every block runs; a block above the
        level is bypassed (gate 0) by the from-RGB features of the downsampled images, the
        newest one is faded in by ``alpha``: D's input gradient is the level's, divided by
        the upsampling factor."""
        top = len(self.levels) - 1
        features = [self.from_rgb[k](downsample(images, self.resolution // res), training=training)
                    for k, res in enumerate(self.levels)]
        alpha = ops.cast(alpha, "float32")
        level = ops.cast(level, "int32")
        x = features[top]
        for k in range(top, 0, -1):
            y = self.blocks[k](x, training=training)
            gate = ops.where(level < k, 0.0, ops.where(level == k, alpha, 1.0))
            x = lerp(features[k - 1], y, gate)
        return ops.cast(self.blocks[0](x, training=training), "float32")

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def get_config(self):
        config = super().get_config()
        config.update({"resolution": self.resolution, "channels": self.channels, "filters": self.filters,
                       "mbstd_group": self.mbstd_group})
        return config


@register_network("generator", "pggan", config_arguments={"latent_dim": "model.latent_dim"}, check=check_doubling,
                  note=PGGAN_NOTE)
def build_pggan_generator(image_size: int, channels: int, latent_dim: int, filters: Annotated[int, Positive()] = 512,
                          name: str = "generator"):
    """Functional wrapper ``z -> images (image_size, fully grown)`` around a
    :class:`ProgressiveGenerator` layer named ``progressive_generator``."""
    z = keras.Input(shape=(latent_dim,), name="z")
    body = ProgressiveGenerator(image_size, channels, latent_dim, filters, name="progressive_generator")
    return keras.Model(z, body(z), name=name)


@register_network("discriminator", "pggan", fixed=("mbstd_group",), check=check_doubling, note=PGGAN_NOTE)
def build_pggan_discriminator(image_size: int, channels: int, filters: Annotated[int, Positive()] = 512,
                              mbstd_group: int = 4, name: str = "discriminator"):
    """Functional wrapper ``images -> logits`` around a :class:`ProgressiveDiscriminator` layer
    named ``progressive_discriminator``."""
    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    body = ProgressiveDiscriminator(image_size, channels, filters, mbstd_group, name="progressive_discriminator")
    return keras.Model(image, body(image), name=name)
