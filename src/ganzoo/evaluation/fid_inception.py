"""The FID Inception network: the Inception graph of 2015-12-05 in Keras.

Every published FID (TTUR, TF-GAN, StudioGAN, mimicry, clean-fid, NVlabs) comes from one
network: the Inception-v3 graph that Google released on 2015-12-05 (``classify_image_graph_def.pb``,
1,008 classes). pytorch-fid ported it to PyTorch (``pt_inception-2015-12-05-6726825d.pth``,
built as torchvision's ``Inception3`` with its ``FIDInceptionA/C/E_1/E_2`` blocks); this module
builds the same network from Keras layers (backend-neutral: TensorFlow and JAX), with layer
names equal to the PyTorch module paths, so that the PyTorch state dict maps onto it one to one.

What differs from ``keras.applications.InceptionV3`` (and from torchvision's ImageNet
Inception) and is reproduced here:

* the 3x3 average pools inside the A, C and first E blocks do not count the zero padding
  (TensorFlow's ``SAME`` average pool; PyTorch ``count_include_pad=False``);
* the last E block (``Mixed_7c``) pools its fourth branch with a 3x3 **max** pool, not an
  average pool (a quirk of the 2015 graph);
* 1,008 output classes, batch norm epsilon 0.001, convolutions without bias.

The network maps images already resized and normalised to [-1, 1] (NHWC, 3 channels) to the
2,048 "pool3" features (global average of ``Mixed_7c``) and the 1,008 logits of ``fc``. The
protocol around it (uint8 quantisation, resize, normalisation) is
:class:`ganzoo.evaluation.fid_extractor.FIDInceptionExtractor`'s.
"""

from __future__ import annotations

from typing import Optional, Sequence

__all__ = ["build_fid_inception", "NUM_CLASSES", "FEATURE_DIM", "BLOCKS", "torch_to_keras_weights",
           "keras_weight_names"]

#: Classes of the 2015 graph's softmax (1,000 ImageNet classes plus 8 unused).
NUM_CLASSES = 1008
#: Size of the pool3 features.
FEATURE_DIM = 2048
#: The network's blocks in order (PyTorch module names); each is a named Keras layer whose
#: output is that block's output (``Mixed_*`` a concatenation, ``Conv2d_*`` a ReLU).
BLOCKS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
          "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
          "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool")

_BN_EPSILON = 0.001


def _layers():
    import keras  # noqa: PLC0415

    return keras.layers


def _conv(x, name: str, filters: int, kernel, strides=1, padding: str = "valid"):
    """torchvision's ``BasicConv2d``: convolution without bias, batch norm (eps 0.001), ReLU.
    ``padding="same"`` stands for PyTorch's symmetric ``(k - 1) / 2`` padding at stride 1."""
    layers = _layers()
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=f"{name}.conv")(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{name}.bn")(x)
    return layers.ReLU(name=name)(x)


def _avg_pool_same(x, name: str):
    # TensorFlow's SAME average pool divides by the number of real (not padded) pixels, as the
    # 2015 graph does (PyTorch: count_include_pad=False); Keras keeps that on every backend.
    return _layers().AveragePooling2D(3, strides=1, padding="same", name=name)(x)


def _block_a(x, name: str, pool_features: int):
    b1 = _conv(x, f"{name}.branch1x1", 64, 1)
    b5 = _conv(x, f"{name}.branch5x5_1", 48, 1)
    b5 = _conv(b5, f"{name}.branch5x5_2", 64, 5, padding="same")
    b3 = _conv(x, f"{name}.branch3x3dbl_1", 64, 1)
    b3 = _conv(b3, f"{name}.branch3x3dbl_2", 96, 3, padding="same")
    b3 = _conv(b3, f"{name}.branch3x3dbl_3", 96, 3, padding="same")
    bp = _conv(_avg_pool_same(x, f"{name}.avg_pool"), f"{name}.branch_pool", pool_features, 1)
    return _layers().Concatenate(axis=-1, name=name)([b1, b5, b3, bp])


def _block_b(x, name: str):
    b3 = _conv(x, f"{name}.branch3x3", 384, 3, strides=2)
    bd = _conv(x, f"{name}.branch3x3dbl_1", 64, 1)
    bd = _conv(bd, f"{name}.branch3x3dbl_2", 96, 3, padding="same")
    bd = _conv(bd, f"{name}.branch3x3dbl_3", 96, 3, strides=2)
    bp = _layers().MaxPooling2D(3, strides=2, name=f"{name}.max_pool")(x)
    return _layers().Concatenate(axis=-1, name=name)([b3, bd, bp])


def _block_c(x, name: str, c7: int):
    b1 = _conv(x, f"{name}.branch1x1", 192, 1)
    b7 = _conv(x, f"{name}.branch7x7_1", c7, 1)
    b7 = _conv(b7, f"{name}.branch7x7_2", c7, (1, 7), padding="same")
    b7 = _conv(b7, f"{name}.branch7x7_3", 192, (7, 1), padding="same")
    bd = _conv(x, f"{name}.branch7x7dbl_1", c7, 1)
    bd = _conv(bd, f"{name}.branch7x7dbl_2", c7, (7, 1), padding="same")
    bd = _conv(bd, f"{name}.branch7x7dbl_3", c7, (1, 7), padding="same")
    bd = _conv(bd, f"{name}.branch7x7dbl_4", c7, (7, 1), padding="same")
    bd = _conv(bd, f"{name}.branch7x7dbl_5", 192, (1, 7), padding="same")
    bp = _conv(_avg_pool_same(x, f"{name}.avg_pool"), f"{name}.branch_pool", 192, 1)
    return _layers().Concatenate(axis=-1, name=name)([b1, b7, bd, bp])


def _block_d(x, name: str):
    b3 = _conv(x, f"{name}.branch3x3_1", 192, 1)
    b3 = _conv(b3, f"{name}.branch3x3_2", 320, 3, strides=2)
    b7 = _conv(x, f"{name}.branch7x7x3_1", 192, 1)
    b7 = _conv(b7, f"{name}.branch7x7x3_2", 192, (1, 7), padding="same")
    b7 = _conv(b7, f"{name}.branch7x7x3_3", 192, (7, 1), padding="same")
    b7 = _conv(b7, f"{name}.branch7x7x3_4", 192, 3, strides=2)
    bp = _layers().MaxPooling2D(3, strides=2, name=f"{name}.max_pool")(x)
    return _layers().Concatenate(axis=-1, name=name)([b3, b7, bp])


def _block_e(x, name: str, max_pool: bool):
    layers = _layers()
    b1 = _conv(x, f"{name}.branch1x1", 320, 1)
    b3 = _conv(x, f"{name}.branch3x3_1", 384, 1)
    b3 = layers.Concatenate(axis=-1, name=f"{name}.branch3x3")([
        _conv(b3, f"{name}.branch3x3_2a", 384, (1, 3), padding="same"),
        _conv(b3, f"{name}.branch3x3_2b", 384, (3, 1), padding="same")])
    bd = _conv(x, f"{name}.branch3x3dbl_1", 448, 1)
    bd = _conv(bd, f"{name}.branch3x3dbl_2", 384, 3, padding="same")
    bd = layers.Concatenate(axis=-1, name=f"{name}.branch3x3dbl")([
        _conv(bd, f"{name}.branch3x3dbl_3a", 384, (1, 3), padding="same"),
        _conv(bd, f"{name}.branch3x3dbl_3b", 384, (3, 1), padding="same")])
    if max_pool:  # the 2015 graph's quirk in Mixed_7c (pytorch-fid's FIDInceptionE_2)
        pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}.max_pool")(x)
    else:
        pooled = _avg_pool_same(x, f"{name}.avg_pool")
    bp = _conv(pooled, f"{name}.branch_pool", 192, 1)
    return layers.Concatenate(axis=-1, name=name)([b1, b3, bd, bp])


def build_fid_inception(input_shape: Sequence[Optional[int]] = (299, 299, 3), outputs: Sequence[str] = ("pool3", "logits"),
                        name: str = "fid_inception_2015_12_05"):
    """The 2015 FID Inception as a functional ``keras.Model`` with random weights.

    Args:
        input_shape: NHWC input without the batch axis; images already normalised to [-1, 1].
            299x299 is the protocol; the network is fully convolutional up to pool3, so other
            sizes (>= 75 px, or ``(None, None, 3)``) work for the features (logits too).
        outputs: which outputs, in order: ``"pool3"`` (N, 2048), ``"logits"`` (N, 1008, the
            ``fc`` layer with its bias), or any name in :data:`BLOCKS` (that block's NHWC output).

    The layers compute in float32 even under a global mixed-precision policy.
    """
    import keras  # noqa: PLC0415

    # The standard features are float32 whatever the process's policy (a mixed_float16 training
    # must not score in half precision): build under float32, then restore the caller's policy.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        return _build(keras, input_shape, outputs, name)
    finally:
        keras.config.set_dtype_policy(previous)


def _build(keras, input_shape, outputs, name):
    layers = keras.layers
    inputs = keras.Input(shape=tuple(input_shape), name="images")
    x = _conv(inputs, "Conv2d_1a_3x3", 32, 3, strides=2)
    x = _conv(x, "Conv2d_2a_3x3", 32, 3)
    x = _conv(x, "Conv2d_2b_3x3", 64, 3, padding="same")
    x = layers.MaxPooling2D(3, strides=2, name="maxpool1")(x)
    x = _conv(x, "Conv2d_3b_1x1", 80, 1)
    x = _conv(x, "Conv2d_4a_3x3", 192, 3)
    x = layers.MaxPooling2D(3, strides=2, name="maxpool2")(x)
    x = _block_a(x, "Mixed_5b", 32)
    x = _block_a(x, "Mixed_5c", 64)
    x = _block_a(x, "Mixed_5d", 64)
    x = _block_b(x, "Mixed_6a")
    for block, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x = _block_c(x, block, c7)
    x = _block_d(x, "Mixed_7a")
    x = _block_e(x, "Mixed_7b", max_pool=False)
    x = _block_e(x, "Mixed_7c", max_pool=True)
    pool3 = layers.GlobalAveragePooling2D(name="avgpool")(x)
    logits = layers.Dense(NUM_CLASSES, name="fc")(pool3)
    model_outputs = []
    body = keras.Model(inputs, [pool3, logits])  # to look blocks up by name
    for out in outputs:
        if out == "pool3":
            model_outputs.append(pool3)
        elif out == "logits":
            model_outputs.append(logits)
        elif out in BLOCKS:
            model_outputs.append(body.get_layer(out).output)
        else:
            raise ValueError(f"unknown output '{out}': choose 'pool3', 'logits' or a block of {BLOCKS}")
    return keras.Model(inputs, model_outputs, name=name)


# ====================================================================== weights

def keras_weight_names(model) -> list[str]:
    """``layer/variable`` names of the network's weights in the order of ``model.weights``."""
    names = []
    for layer in model.layers:
        for variable in layer.weights:
            names.append(f"{layer.name}/{variable.name}")
    return names


def torch_to_keras_weights(state_dict: dict, model) -> dict:
    """The Keras weights of ``model`` (``{layer name: [arrays in layer.get_weights() order]}``)
    from pytorch-fid's state dict (numpy arrays keyed like ``Mixed_5b.branch1x1.conv.weight``).

    Convolution kernels go from (out, in, kh, kw) to (kh, kw, in, out), ``fc.weight`` is
    transposed, batch norm takes weight, bias, running mean and variance (``num_batches_tracked``
    is unused). Every key must be used and every layer filled, else a ValueError names the
    difference (a wrong file fails here, not as silently wrong features).
    """
    import numpy as np  # noqa: PLC0415

    state = {k: np.asarray(v) for k, v in state_dict.items()}
    used = set()

    def take(key, shape=None):
        if key not in state:
            raise ValueError(f"the state dict has no '{key}' (is it pytorch-fid's FID Inception, "
                             "pt_inception-2015-12-05-6726825d.pth?)")
        used.add(key)
        return state[key].astype(np.float32)

    out = {}
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            w = take(f"{layer.name}.weight").transpose(2, 3, 1, 0)
            out[layer.name] = [w]
        elif kind == "BatchNormalization":
            out[layer.name] = [take(f"{layer.name}.weight"), take(f"{layer.name}.bias"),
                               take(f"{layer.name}.running_mean"), take(f"{layer.name}.running_var")]
            used.add(f"{layer.name}.num_batches_tracked")
        elif kind == "Dense":
            out[layer.name] = [take(f"{layer.name}.weight").T, take(f"{layer.name}.bias")]
        elif layer.weights:
            raise ValueError(f"layer {layer.name} ({kind}) has weights that the converter does not map")
        if layer.name in out:
            expected = [tuple(w.shape) for w in layer.weights]
            got = [tuple(a.shape) for a in out[layer.name]]
            if expected != got:
                raise ValueError(f"{layer.name}: the state dict's shapes {got} do not fit the network's {expected}")
    unused = sorted(set(state) - used)
    if unused:
        raise ValueError(f"the state dict has {len(unused)} keys the FID Inception does not use, e.g. {unused[:4]} "
                         "(is it pytorch-fid's FID Inception, not torchvision's ImageNet Inception?)")
    return out
