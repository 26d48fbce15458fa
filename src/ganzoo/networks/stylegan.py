"""StyleGAN networks with StyleGAN2's weight modulation/demodulation (Karras et al. 2020,
"Analyzing and Improving the Image Quality of StyleGAN"), trained by
:class:`ganzoo.models.stylegan.StyleGAN`.

Why modulation/demodulation and not StyleGAN1's AdaIN: AdaIN normalises every feature map
by its own mean and variance, which lets the generator smuggle signal past the
normalisation through one strong local spike: the "droplet" artefacts of StyleGAN1
(Karras et al. 2020, sec. 2). Demodulation scales the convolution weights by the style and
then by the statistics they *would* produce for unit-variance inputs, removing the artefact
while keeping per-layer style control, scale-specific mixing and truncation; it needs no
progressive growing (skip generator, residual discriminator at a fixed resolution), and it
is cheaper (no per-sample statistics of the activations). It is implemented in the
"non-fused" form of the official code: scale the input channels by the style, convolve with
the shared weights, scale the output channels by the demodulation coefficient, which equals
convolving with the modulated, demodulated per-sample weights.

Networks:

* ``mapping``: z -> pixel norm -> ``mapping_layers`` equalized dense layers (learning rate x
  ``lr_mul`` = 0.01), each followed by lrelu -> w;
* ``synthesis``: a learned 4x4 constant, then per resolution (upsample) modulated 3x3
  convolutions, each followed by per-pixel noise scaled by a learned strength, a bias and
  lrelu; a modulated 1x1 to-RGB per resolution (linear), summed over resolutions (skip
  architecture); inputs: ``ws`` (one w per style layer, shape ``(num_ws, w_dim)``) and one
  noise map ``noise_i`` (shape ``(res, res, 1)``) per convolution;
* ``generator``: ``[z, noise_0, ...] -> mapping -> broadcast to num_ws -> synthesis``;
* ``discriminator``: residual blocks (two 3x3 convolutions and a 1x1 linear skip, both
  downsampled by average pooling, summed and scaled by 1/sqrt(2)), minibatch stddev, logit.

"lrelu" is the official code's activation (``bias_act`` in NVlabs/stylegan2-ada-pytorch):
LeakyReLU(0.2) *times sqrt(2)*, applied after the bias (:class:`ScaledActivation`). The gain
matters most after a demodulated convolution, which outputs unit variance whatever its weight
scale: a plain LeakyReLU keeps ~0.72 of the RMS, so the signal would shrink 0.72x per layer
(measured at initialisation: 0.04 after the 9 convolutions of a 64x64 network), while the
noise, the biases and the to-RGB layers work on absolute scales. The equalized dense/conv
layers therefore use weight gain 1 and the activation carries sqrt(2), as in the reference
(which also places the bias before the gain). The to-RGB layers, the discriminator's skip
convolutions and its logit are linear. ``conv_clamp`` clips every activation (and to-RGB
output) to +-256, the official code's guard against float16 overflow; ``"auto"`` turns it on
under the ``mixed_float16`` policy only, as the official configs do with their float16 layers.

Style layer i (an index into ``ws``) drives convolution i; the to-RGB layer at a resolution
uses the index of the next resolution's first convolution, the last one index ``num_ws - 1``
(StyleGAN2's indexing: 2 * log2(resolution) - 2 styles, 18 at 1024x1024).
"""

from __future__ import annotations

import math
from typing import Annotated

import keras
from keras import layers

from ganzoo.constraints import Positive
from ganzoo.network_registry import register_network

from ganzoo.networks.pggan import (EqualizedConv2D, EqualizedDense, MinibatchStdDev, PixelNorm, block_width,
                                   check_doubling, resolution_levels, upsample2x)

__all__ = ["ConstantInput", "ModulatedConv2D", "NoiseInjection", "ScaledActivation", "build_mapping_network",
           "build_synthesis_network", "build_stylegan_generator", "build_stylegan_discriminator",
           "style_layer_resolutions"]


#: Why the StyleGAN networks take none of the generic layer options (shown when one is set).
STYLEGAN_NOTE = ("the StyleGAN networks are the papers' own (modulated convolutions, equalized learning rate, "
                 "minibatch stddev)")


def style_layer_resolutions(resolution: int) -> list:
    """The resolution each style index (each row of ``ws``) acts at."""
    levels = resolution_levels(resolution)
    return [4] + [res for res in levels[1:] for _ in range(2)] + [resolution]


@keras.saving.register_keras_serializable(package="ganzoo")
class ConstantInput(layers.Layer):
    """The synthesis network's learned constant input (size x size x channels, from N(0, 1)),
    repeated for every row of the batch of its input (the ``ws``)."""

    def __init__(self, channels: int, size: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.size = int(size)

    def build(self, input_shape):
        self.const = self.add_weight(shape=(self.size, self.size, self.channels), name="const",
                                     initializer=keras.initializers.RandomNormal(0.0, 1.0))

    def call(self, ws):
        batch = keras.ops.shape(ws)[0]
        return keras.ops.tile(self.const[None], [batch, 1, 1, 1])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "size": self.size}


@keras.saving.register_keras_serializable(package="ganzoo")
class ModulatedConv2D(layers.Layer):
    """Convolution modulated by style ``ws[:, style_index]`` (StyleGAN2, sec. 2.2).

    ``call([x, ws])``: the affine map A (an equalized dense layer, bias initialised to 1) turns
    w into one scale per input channel s; the output is ``conv(x * s, W) * d`` with
    ``d = 1 / sqrt(sum_{k,i} (W_{k,i,o} s_i)^2 + 1e-8)`` when ``demodulate`` (the to-RGB layers do
    not demodulate). ``upsample`` doubles the resolution first (nearest). Adds a bias.
    """

    def __init__(self, filters: int, kernel_size: int, style_index: int, demodulate: bool = True,
                 upsample: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.style_index = int(style_index)
        self.demodulate = bool(demodulate)
        self.upsample = bool(upsample)
        self.affine = None

    def build(self, input_shape):
        x_shape, ws_shape = input_shape
        channels = int(x_shape[-1])
        self.affine = EqualizedDense(channels, gain=1.0, bias_initial_value=1.0, name="affine")
        self.affine.build((None, int(ws_shape[-1])))
        self.scale = 1.0 / math.sqrt(channels * self.kernel_size ** 2)
        self.kernel = self.add_weight(shape=(self.kernel_size, self.kernel_size, channels, self.filters),
                                      name="kernel", initializer=keras.initializers.RandomNormal(0.0, 1.0))
        self.bias = self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")

    def call(self, inputs):
        x, ws = inputs
        styles = self.affine(ws[:, self.style_index])  # (batch, in_channels)
        if self.upsample:
            x = upsample2x(x)
        weight = self.kernel * self.scale
        x = x * styles[:, None, None, :]
        x = keras.ops.conv(x, weight, strides=1, padding="same")
        if self.demodulate:
            sum_sq = keras.ops.sum(keras.ops.square(weight), axis=(0, 1))  # (in, out)
            demod = keras.ops.rsqrt(keras.ops.matmul(keras.ops.square(styles), sum_sq) + 1e-8)
            x = x * demod[:, None, None, :]
        return x + self.bias

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape[0]
        factor = 2 if self.upsample else 1
        return (n, None if h is None else h * factor, None if w is None else w * factor, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "kernel_size": self.kernel_size, "style_index": self.style_index,
                       "demodulate": self.demodulate, "upsample": self.upsample})
        return config


@keras.saving.register_keras_serializable(package="ganzoo")
class NoiseInjection(layers.Layer):
    """``call([x, noise])``: x + strength * noise, with one learned strength per layer
    (initialised to 0) and a single-channel noise map broadcast over the channels (StyleGAN,
    sec. 3.2). Also holds a fixed noise map ``const_noise`` drawn at initialisation, which the
    model feeds for deterministic ("const") sampling."""

    def __init__(self, resolution: int, **kwargs):
        super().__init__(**kwargs)
        self.resolution = int(resolution)

    def build(self, input_shape):
        self.strength = self.add_weight(shape=(), name="strength", initializer="zeros")
        self.const_noise = self.add_weight(shape=(self.resolution, self.resolution, 1), name="const_noise",
                                           initializer=keras.initializers.RandomNormal(0.0, 1.0), trainable=False)

    def call(self, inputs):
        x, noise = inputs
        return x + self.strength * keras.ops.cast(noise, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "resolution": self.resolution}


#: The official code's clamp for float16 training (``conv_clamp`` in its configs).
FLOAT16_CONV_CLAMP = 256.0
SQRT2 = math.sqrt(2.0)


@keras.saving.register_keras_serializable(package="ganzoo")
class ScaledActivation(layers.Layer):
    """``clip(gain * act(x), -clamp, clamp)``: the official code's ``bias_act`` after the bias.

    ``activation``: ``lrelu`` (LeakyReLU with slope 0.2; default gain sqrt(2), which keeps
    the RMS of unit-variance inputs at ~1) or ``linear`` (default gain 1). ``clamp`` None:
    no clipping.
    """

    DEFAULT_GAINS = {"lrelu": SQRT2, "linear": 1.0}

    def __init__(self, activation: str = "lrelu", gain: float = None, clamp: float = None, **kwargs):
        super().__init__(**kwargs)
        if activation not in self.DEFAULT_GAINS:
            raise ValueError(f"activation must be one of {', '.join(self.DEFAULT_GAINS)}, got {activation!r}")
        self.activation = activation
        self.gain = float(self.DEFAULT_GAINS[activation] if gain is None else gain)
        self.clamp = None if clamp is None else float(clamp)

    def call(self, x):
        if self.activation == "lrelu":
            x = keras.ops.leaky_relu(x, negative_slope=0.2)
        if self.gain != 1.0:
            x = x * self.gain
        if self.clamp is not None:
            x = keras.ops.clip(x, -self.clamp, self.clamp)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": self.activation, "gain": self.gain, "clamp": self.clamp}


def _lrelu(clamp=None, gain: float = SQRT2):
    return ScaledActivation("lrelu", gain=gain, clamp=clamp)


def resolve_conv_clamp(conv_clamp):
    """``"auto"`` -> 256 under the ``mixed_float16`` policy, else None; a number or None as given."""
    if conv_clamp == "auto":
        return FLOAT16_CONV_CLAMP if keras.config.dtype_policy().name == "mixed_float16" else None
    if conv_clamp is not None and float(conv_clamp) <= 0:
        raise ValueError(f"conv_clamp must be > 0, None or 'auto', got {conv_clamp!r}")
    return None if conv_clamp is None else float(conv_clamp)


def build_mapping_network(latent_dim: int, num_layers: int = 8, lr_multiplier: float = 0.01, name: str = "mapping"):
    """z -> w: pixel norm then ``num_layers`` equalized dense layers of width latent_dim, each
    followed by lrelu (gain sqrt(2), so w keeps an RMS of ~1)."""
    z = keras.Input(shape=(latent_dim,), name="z")
    x = PixelNorm()(z)
    for i in range(num_layers):
        x = _lrelu()(EqualizedDense(latent_dim, gain=1.0, lr_multiplier=lr_multiplier, name=f"fc{i}")(x))
    return keras.Model(z, x, name=name)


def build_synthesis_network(image_size: int, channels: int, w_dim: int, filters: int = 512, conv_clamp="auto",
                            name: str = "synthesis"):
    """``[ws, noise_0, ..., noise_k] -> images`` (tanh) with the skip architecture."""
    conv_clamp = resolve_conv_clamp(conv_clamp)
    levels = resolution_levels(image_size)
    num_ws = len(style_layer_resolutions(image_size))
    ws = keras.Input(shape=(num_ws, w_dim), name="ws")
    noises = []

    def styled_conv(x, res, index, upsample):
        noise = keras.Input(shape=(res, res, 1), name=f"noise_{index}")
        noises.append(noise)
        x = ModulatedConv2D(block_width(res, filters), 3, index, upsample=upsample, name=f"conv_{index}")([x, ws])
        x = NoiseInjection(res, name=f"noise_strength_{index}")([x, noise])
        return _lrelu(conv_clamp)(x)

    def to_rgb(x, res, index):
        y = ModulatedConv2D(channels, 1, index, demodulate=False, name=f"to_rgb_{res}")([x, ws])
        return y if conv_clamp is None else ScaledActivation("linear", clamp=conv_clamp)(y)

    x = ConstantInput(block_width(4, filters), name="const")(ws)
    x = styled_conv(x, 4, 0, upsample=False)
    image = to_rgb(x, 4, 1)
    index = 1
    for res in levels[1:]:
        x = styled_conv(x, res, index, upsample=True)
        x = styled_conv(x, res, index + 1, upsample=False)
        image = layers.Add()([layers.UpSampling2D(2, interpolation="bilinear")(image), to_rgb(x, res, index + 2)])
        index += 2
    image = layers.Activation("tanh", dtype="float32", name="image")(image)
    return keras.Model([ws] + noises, image, name=name)


@register_network("generator", "stylegan", config_arguments={"latent_dim": "model.latent_dim", "mapping_layers":
                  "model.mapping_layers", "mapping_lr_mul": "model.mapping_lr_mul"}, fixed=("conv_clamp",),
                  check=check_doubling, note=STYLEGAN_NOTE)
def build_stylegan_generator(image_size: int, channels: int, latent_dim: int, filters: Annotated[int, Positive()] = 512,
                             mapping_layers: int = 8, mapping_lr_mul: float = 0.01, conv_clamp="auto",
                             name: str = "generator"):
    """``[z, noise_0, ..., noise_k] -> images``: the mapping and synthesis networks (nested
    models named ``mapping`` and ``synthesis``) with w broadcast to every style layer."""
    mapping = build_mapping_network(latent_dim, mapping_layers, mapping_lr_mul)
    synthesis = build_synthesis_network(image_size, channels, latent_dim, filters, conv_clamp=conv_clamp)
    num_ws = synthesis.inputs[0].shape[1]
    z = keras.Input(shape=(latent_dim,), name="z")
    noises = [keras.Input(shape=t.shape[1:], name=t.name) for t in synthesis.inputs[1:]]
    ws = layers.RepeatVector(num_ws, name="broadcast_w")(mapping(z))
    return keras.Model([z] + noises, synthesis([ws] + noises), name=name)


@register_network("discriminator", "stylegan", fixed=("mbstd_group", "conv_clamp"), check=check_doubling,
                  note=STYLEGAN_NOTE)
def build_stylegan_discriminator(image_size: int, channels: int, filters: Annotated[int, Positive()] = 512,
                                 mbstd_group: int = 4, conv_clamp="auto", name: str = "discriminator"):
    """Residual discriminator of StyleGAN2 (fig. 7c) with the minibatch-stddev head.

    As the official code: every convolution and the hidden dense layer end in lrelu (gain
    sqrt(2)); the skip branch and the logit are linear. The official block scales its second
    convolution's activation and its skip by sqrt(1/2) each; here the sum is scaled once (the
    same thing, the clamp included: clamp(y) / sqrt(2) = clamp(y / sqrt(2)) at sqrt(1/2) of the
    bound). Deliberate difference: downsampling is 2x2 average pooling after the activation, not
    the official [1, 3, 3, 1] low-pass filter with a strided convolution.
    """
    conv_clamp = resolve_conv_clamp(conv_clamp)
    levels = resolution_levels(image_size)
    image = keras.Input(shape=(image_size, image_size, channels), name="image")
    x = _lrelu(conv_clamp)(EqualizedConv2D(block_width(image_size, filters), 1, gain=1.0,
                                           name=f"from_rgb_{image_size}")(image))
    for res in levels[:0:-1]:
        width, out = block_width(res, filters), block_width(res // 2, filters)
        y = _lrelu(conv_clamp)(EqualizedConv2D(width, 3, gain=1.0)(x))
        y = layers.AveragePooling2D(2)(_lrelu(conv_clamp)(EqualizedConv2D(out, 3, gain=1.0)(y)))
        skip = EqualizedConv2D(out, 1, gain=1.0, use_bias=False)(layers.AveragePooling2D(2)(x))
        x = layers.Rescaling(1.0 / math.sqrt(2.0))(layers.Add()([y, skip]))
    x = MinibatchStdDev(mbstd_group)(x)
    x = _lrelu(conv_clamp)(EqualizedConv2D(block_width(4, filters), 3, gain=1.0)(x))
    x = _lrelu()(EqualizedDense(block_width(4, filters), gain=1.0)(layers.Flatten()(x)))
    logit = EqualizedDense(1, gain=1.0, dtype="float32", name="logit")(x)
    return keras.Model(image, logit, name=name)
