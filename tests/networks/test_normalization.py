"""``networks.layers.normalization``: the axes each norm reduces over, against NumPy (issue 16)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ganzoo.builders import build_model
from ganzoo.networks.layers import normalization
from tests.helpers import tiny_config

EPS = 1e-5


def _layer_norm_reference(x, gamma, beta):
    """WGAN-GP's critic layer norm (tflib/ops/layernorm.py, NHWC here): statistics over every
    axis but the batch, one scale and offset per channel (the last axis)."""
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * gamma + beta


def _with_random_affine(layer, x, rng):
    layer.build(x.shape)
    channels = x.shape[-1]
    gamma, beta = rng.normal(1.0, 0.5, channels), rng.normal(0.0, 0.5, channels)
    layer.set_weights([gamma.astype("float32"), beta.astype("float32")])
    return gamma, beta


def test_layer_norm_of_a_feature_map_uses_all_of_h_w_c_with_a_per_channel_affine():
    rng = np.random.default_rng(0)
    # Channels with different means and scales, so per-pixel and per-sample statistics differ.
    x = (rng.normal(size=(3, 5, 6, 4)) * [0.5, 1.0, 2.0, 4.0] + [0.0, 1.0, -2.0, 3.0]).astype("float32")
    layer = normalization("layer")
    gamma, beta = _with_random_affine(layer, x, rng)
    assert [tuple(w.shape) for w in layer.weights] == [(4,), (4,)], "one scale and one offset per channel"
    want = _layer_norm_reference(x.astype("float64"), gamma, beta)
    np.testing.assert_allclose(np.asarray(layer(x)), want, rtol=1e-4, atol=1e-4)

    # The old per-pixel layer norm (statistics over C alone) is far from it: the test can fail.
    per_pixel = keras.layers.LayerNormalization(axis=-1, epsilon=EPS)
    per_pixel.build(x.shape)
    per_pixel.set_weights(layer.get_weights())
    assert np.abs(np.asarray(per_pixel(x)) - want).max() > 0.5


def test_layer_norm_of_a_vector_normalises_over_its_features():
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(5, 7)) * 3.0 + 1.0).astype("float32")
    layer = normalization("layer")
    gamma, beta = _with_random_affine(layer, x, rng)
    np.testing.assert_allclose(np.asarray(layer(x)), _layer_norm_reference(x.astype("float64"), gamma, beta),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("entry", ["wgan_gp_mnist", "wgan_gp_cifar10", "dcgan_mnist_1k"])
def test_the_critics_layer_norms_match_the_reference(entry):
    """Every normalisation layer of a critic configured with ``norm: layer``, fed a random
    feature map, normalises each sample over (H, W, C)."""
    model = build_model(tiny_config(entry))
    norms = [layer for layer in model.discriminator.layers
             if isinstance(layer, (keras.layers.GroupNormalization, keras.layers.LayerNormalization,
                                   keras.layers.BatchNormalization))]
    assert norms, f"{entry}: its critic has no normalisation layer"
    rng = np.random.default_rng(2)
    for layer in norms:
        shape = (2,) + tuple(layer.input.shape[1:])
        x = (rng.normal(size=shape) * 2.0 + rng.normal(size=shape[-1:])).astype("float32")
        want = _layer_norm_reference(x.astype("float64"), *[w.numpy() for w in layer.weights])
        np.testing.assert_allclose(np.asarray(layer(x)), want, rtol=1e-4, atol=1e-4, err_msg=layer.name)


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_the_other_norms_are_unchanged(norm):
    layer = normalization(norm)
    if norm == "none":
        assert layer is None
        return
    x = np.random.default_rng(3).normal(size=(2, 4, 4, 3)).astype("float32") * 3 + 1
    y = np.asarray(layer(x, training=True))
    if norm == "instance":  # per sample and channel, no affine terms
        want = (x - x.mean(axis=(1, 2), keepdims=True)) / np.sqrt(x.var(axis=(1, 2), keepdims=True) + EPS)
        assert layer.weights == []
    else:  # per channel over the batch and pixels
        want = (x - x.mean(axis=(0, 1, 2))) / np.sqrt(x.var(axis=(0, 1, 2)) + EPS)
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
