"""CycleGAN networks (Zhu et al. 2017, appendix 7.2): the ResNet generator of Johnson et al.
2016 and the 70x70 PatchGAN discriminator of Isola et al. 2017.

Both are fully convolutional. The generator keeps the image size (any multiple of 4: two
stride-2 downsamplings and two upsamplings) and ends in tanh; the discriminator returns a
map of logits, one per overlapping 70x70 patch (30x30 for a 256x256 image), which the
losses average.
"""

from typing import Annotated, Optional

import keras
from keras import layers

from ganzoo.constraints import Positive
from ganzoo.network_registry import register_network
from ganzoo.networks.layers import LeakySlope, Norm, normalization


@keras.saving.register_keras_serializable(package="ganzoo")
class ReflectionPadding2D(layers.Layer):
    """Pad height and width by ``padding`` pixels, mirroring the image (no dark borders)."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return keras.ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        p = 2 * self.padding
        return (b, None if h is None else h + p, None if w is None else w + p, c)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def _norm_act(x, norm, act=True, slope=0.0):
    layer = normalization(norm)
    if layer is not None:
        x = layer(x)
    if act:
        x = layers.LeakyReLU(negative_slope=slope)(x) if slope else layers.ReLU()(x)
    return x


@register_network("generator", "resnet")
def build_resnet_generator(channels=3, filters: Annotated[int, Positive()] = 64,
                           residual_blocks: Annotated[Optional[int], Positive()] = None,
                           norm: Norm = "instance", name="generator"):
    """c7s1-64, d128, d256, R256 x blocks, u128, u64, c7s1-3 (paper's notation; widths scale
    with ``filters``). 9 blocks (None: the paper's) for 256x256 images, 6 for 128x128."""
    residual_blocks = 9 if residual_blocks is None else residual_blocks
    image = keras.Input(shape=(None, None, channels), name="image")
    x = ReflectionPadding2D(3)(image)
    x = _norm_act(layers.Conv2D(filters, 7, use_bias=norm == "none")(x), norm)
    for mult in (2, 4):
        x = _norm_act(layers.Conv2D(filters * mult, 3, strides=2, padding="same", use_bias=norm == "none")(x), norm)
    for i in range(residual_blocks):
        skip = x
        x = ReflectionPadding2D(1)(x)
        x = _norm_act(layers.Conv2D(filters * 4, 3, use_bias=norm == "none", name=f"res{i}_conv1")(x), norm)
        x = ReflectionPadding2D(1)(x)
        x = _norm_act(layers.Conv2D(filters * 4, 3, use_bias=norm == "none", name=f"res{i}_conv2")(x), norm,
                      act=False)
        x = layers.Add()([skip, x])
    for mult in (2, 1):
        x = _norm_act(layers.Conv2DTranspose(filters * mult, 3, strides=2, padding="same",
                                             use_bias=norm == "none")(x), norm)
    x = ReflectionPadding2D(3)(x)
    x = layers.Conv2D(channels, 7, dtype="float32", name="to_rgb")(x)
    out = layers.Activation("tanh", dtype="float32", name="translated")(x)
    return keras.Model(image, out, name=name)


@register_network("discriminator", "patchgan", fixed=("n_layers",))
def build_patchgan_discriminator(channels=3, filters: Annotated[int, Positive()] = 64, n_layers=3,
                                 norm: Norm = "instance", leaky_slope: LeakySlope = 0.2,
                                 name="discriminator"):
    """C64 (no norm), C128, C256 with stride 2, C512 with stride 1, then a 1-channel conv:
    4x4 kernels, padding 1, LeakyReLU 0.2 (receptive field 70x70 for n_layers=3)."""
    image = keras.Input(shape=(None, None, channels), name="image")
    x = image
    for i in range(n_layers + 1):
        stride = 2 if i < n_layers else 1
        width = filters * min(2 ** i, 8)
        x = layers.ZeroPadding2D(1)(x)
        x = layers.Conv2D(width, 4, strides=stride, use_bias=i == 0 or norm == "none")(x)
        x = _norm_act(x, norm if i > 0 else "none", slope=leaky_slope)
    x = layers.ZeroPadding2D(1)(x)
    logits = layers.Conv2D(1, 4, dtype="float32", name="patch_logits")(x)
    return keras.Model(image, logits, name=name)
