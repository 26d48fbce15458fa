"""Spectral normalisation as SN-GAN defines it (ganzoo/networks/spectral.py) and the SN-GAN
entries' networks (ganzoo/networks/sngan.py).

The gradient reference is NumPy: one power-iteration step from the layer's stored u, then
dL/dW = (G - <G, W_bar> v u^T) / sigma in ganzoo's (inputs, outputs) orientation of the kernel
(the paper's eq. 12 with W of shape outputs x inputs), G being the loss gradient with respect
to the applied kernel W_bar (taken from a plain Keras layer holding W_bar).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import ganzoo
from ganzoo.networks import build_discriminator, build_generator
from ganzoo.networks.layers import maybe_spectral
from ganzoo.networks.spectral import (SNConv2D, SNConv2DTranspose, SNDense, SNEmbedding, SpectralNormalized,
                                      spectral_normalized)
from tests.helpers import CHECKOUT_PYTHONPATH, tiny_config

EPS = 1e-12


def _unit(x):
    return x / (np.linalg.norm(x) + EPS)


# ------------------------------------------------------------------ layer cases
# (factory of the plain layer, input, how the kernel becomes the (inputs, outputs) matrix and back)
def _dense_case():
    return (lambda: layers.Dense(3), np.random.default_rng(1).normal(size=(5, 4)).astype("float32"),
            lambda k: k, lambda m, shape: m)


def _conv_case():
    return (lambda: layers.Conv2D(3, 3, strides=2, padding="same"),
            np.random.default_rng(2).normal(size=(2, 5, 5, 2)).astype("float32"),
            lambda k: k.reshape(-1, k.shape[-1]), lambda m, shape: m.reshape(shape))


def _deconv_case():
    return (lambda: layers.Conv2DTranspose(2, 3, strides=2, padding="same"),
            np.random.default_rng(3).normal(size=(2, 3, 3, 3)).astype("float32"),
            # Keras stores (kh, kw, out, in); the matrix is (kh*kw*in, out).
            lambda k: k.transpose(0, 1, 3, 2).reshape(-1, k.shape[2]),
            lambda m, shape: m.reshape(shape[0], shape[1], shape[3], shape[2]).transpose(0, 1, 3, 2))


def _embedding_case():
    return (lambda: layers.Embedding(4, 3), np.array([0, 2, 3, 2, 1], "int32"), lambda k: k, lambda m, shape: m)


CASES = {"dense": _dense_case, "conv2d": _conv_case, "conv2d_transpose": _deconv_case, "embedding": _embedding_case}


def _kernel_var(layer):
    return layer.embeddings if isinstance(layer, layers.Embedding) else layer.kernel


def _grad_of_applied_kernel(make_plain, x, applied_kernel, other_weights, c):
    """G = dL/dW_bar for L = sum(c * layer(x)) from a plain Keras layer holding W_bar."""
    plain = make_plain()
    plain.build(x.shape)
    plain.set_weights([applied_kernel] + other_weights)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(c * plain(x))
    return tf.convert_to_tensor(tape.gradient(loss, _kernel_var(plain))).numpy().astype("float64")


def _numpy_reference(kernel, u0, to_matrix, from_matrix, grad_fn):
    """One power iteration from u0, sigma = v^T M u, W_bar and the analytic dL/dW (float64)."""
    m = to_matrix(kernel.astype("float64"))
    v = _unit(m @ u0)
    u = _unit(m.T @ v)
    sigma = v @ m @ u
    w_bar = from_matrix(m / sigma, kernel.shape)
    g = to_matrix(grad_fn(w_bar.astype("float32")))
    grad = (g - np.sum(g * (m / sigma)) * np.outer(v, u)) / sigma
    return u, v, sigma, w_bar, from_matrix(grad, kernel.shape), from_matrix(g, kernel.shape)


def _sn_layer(name):
    make_plain, x, to_matrix, from_matrix = CASES[name]()
    layer = spectral_normalized(make_plain())
    layer.build(x.shape)
    return layer, make_plain, x, to_matrix, from_matrix


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "tf_function"])
@pytest.mark.parametrize("name", list(CASES))
def test_gradient_flows_through_sigma_as_in_the_paper(name, graph):
    layer, make_plain, x, to_matrix, from_matrix = _sn_layer(name)
    kernel = _kernel_var(layer).numpy()
    u0 = _unit(np.random.default_rng(7).normal(size=layer.sn_u.shape))
    layer.sn_u.assign(u0.astype("float32"))
    # L = sum(c * y) with c the layer's current output: <G, W_bar> is large, so is the sigma term.
    c = tf.constant(layer(x, training=False).numpy())

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(c * layer(x, training=True))
        return tf.convert_to_tensor(tape.gradient(loss, _kernel_var(layer)))

    grad = (tf.function(step) if graph else step)().numpy()
    others = [w.numpy() for w in layer.trainable_weights if w is not _kernel_var(layer)]
    u, v, sigma, _, want, g = _numpy_reference(
        kernel, u0, to_matrix, from_matrix, lambda w_bar: _grad_of_applied_kernel(make_plain, x, w_bar, others, c))
    np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-5)
    # The sigma term is not negligible here: the gradient differs from G / sigma.
    assert np.max(np.abs(want - g / sigma)) > 0.2 * np.max(np.abs(want))
    # Scale invariance of W / sigma(W): the gradient is orthogonal to W (Euler).
    assert abs(np.sum(grad * kernel)) < 1e-4 * np.linalg.norm(grad) * np.linalg.norm(kernel)
    # One power iteration per training call, stored.
    np.testing.assert_allclose(layer.sn_u.numpy(), u, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.sn_v.numpy(), v, rtol=1e-5, atol=1e-6)


def test_analytic_gradient_matches_finite_differences():
    """The reference formula itself: d/dW of L(W / (v^T W u)) with u, v fixed (float64)."""
    rng = np.random.default_rng(0)
    w, x, c = rng.normal(size=(4, 3)), rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    v, u = _unit(rng.normal(size=4)), _unit(rng.normal(size=3))

    def loss(w):
        return np.sum(c * (x @ (w / (v @ w @ u))))

    sigma = v @ w @ u
    g = x.T @ c
    analytic = (g - np.sum(g * w / sigma) * np.outer(v, u)) / sigma
    numeric = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        step = np.zeros_like(w)
        step[i] = 1e-6
        numeric[i] = (loss(w + step) - loss(w - step)) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_keras_spectral_normalization_wrapper_fails_the_gradient_check():
    """What ganzoo used before: keras.layers.SpectralNormalization writes W / sigma into the
    kernel, so its gradient is G (no sigma term) and the kernel itself is overwritten."""
    make_plain, x, to_matrix, from_matrix = _dense_case()
    wrapper = layers.SpectralNormalization(make_plain())
    wrapper.build(x.shape)
    kernel = wrapper.layer.kernel.numpy()
    u0 = _unit(np.random.default_rng(7).normal(size=3))
    wrapper.vector_u.assign(u0[None].astype("float32"))
    c = tf.constant(np.random.default_rng(8).normal(size=(5, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(c * wrapper(x, training=True))
    grad = tape.gradient(loss, wrapper.layer.kernel).numpy()
    others = [wrapper.layer.bias.numpy()]
    _, _, _, w_bar, want, g = _numpy_reference(
        kernel, u0, to_matrix, from_matrix, lambda wb: _grad_of_applied_kernel(make_plain, x, wb, others, c))
    assert not np.allclose(grad, want, rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(grad, g, rtol=1e-4, atol=1e-5)  # dL/dW_bar, applied to the raw weights
    np.testing.assert_allclose(wrapper.layer.kernel.numpy(), w_bar, rtol=1e-5, atol=1e-6)  # W was overwritten


def test_maybe_spectral_builds_the_paper_layers():
    for plain, cls in ((layers.Dense(2), SNDense), (layers.Conv2D(2, 3), SNConv2D),
                       (layers.Conv2DTranspose(2, 3), SNConv2DTranspose), (layers.Embedding(3, 2), SNEmbedding)):
        sn = maybe_spectral(plain, True)
        assert type(sn) is cls and sn.name == plain.name
        assert maybe_spectral(plain, False) is plain
    with pytest.raises(TypeError, match="DepthwiseConv2D"):
        maybe_spectral(layers.DepthwiseConv2D(3), True)


@pytest.mark.parametrize("name", list(CASES))
def test_sigma_converges_to_the_largest_singular_value(name):
    layer, _, x, to_matrix, from_matrix = _sn_layer(name)
    shape = tuple(_kernel_var(layer).shape)
    rows, cols = to_matrix(np.zeros(shape)).shape
    # A kernel with a known spectrum: singular values 2.0, 1.6, 1.2, ...
    rng = np.random.default_rng(4)
    left = np.linalg.qr(rng.normal(size=(rows, rows)))[0][:, :cols]
    right = np.linalg.qr(rng.normal(size=(cols, cols)))[0]
    spectrum = 2.0 - 0.4 * np.arange(cols)
    _kernel_var(layer).assign(from_matrix(left @ np.diag(spectrum) @ right.T, shape).astype("float32"))
    for _ in range(30):
        normalized = layer.normalized_kernel(training=True).numpy()
    assert float(layer.sigma()) == pytest.approx(2.0, rel=1e-4)
    assert np.linalg.svd(to_matrix(normalized.astype("float64")), compute_uv=False)[0] == pytest.approx(1.0, rel=1e-4)
    # power_iterations=30 in one call gets there too; one iteration from a random u does not.
    for iterations, close in ((30, True), (1, False)):
        again, *_ = _sn_layer(name)
        again.power_iterations = iterations
        _kernel_var(again).assign(_kernel_var(layer).numpy())
        again.normalized_kernel(training=True)
        assert (float(again.sigma()) == pytest.approx(2.0, rel=1e-4)) is close


def test_inference_changes_no_state_and_divides_by_the_stored_estimate():
    layer, _, x, _, _ = _sn_layer("dense")
    layer(x, training=True)
    u, v = layer.sn_u.numpy().copy(), layer.sn_v.numpy().copy()
    w, b = layer.kernel.numpy().astype("float64"), layer.bias.numpy()
    want = x @ (w / (v @ w @ u)) + b
    model = keras.Sequential([keras.Input((4,)), layer])
    for out in (layer(x, training=False), layer(x), model(x), model.predict(x, verbose=0)):
        np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(layer.sn_u.numpy(), u)
        np.testing.assert_array_equal(layer.sn_v.numpy(), v)
    layer(x, training=True)
    assert not np.array_equal(layer.sn_u.numpy(), u)  # training does advance the estimate


def test_untrained_layer_divides_by_a_positive_estimate():
    for name in CASES:
        layer, *_ = _sn_layer(name)
        assert float(layer.sigma()) > 0


def test_mixed_precision_keeps_sigma_in_float32():
    make_plain, x, *_ = _dense_case()
    full = SNDense(3)
    half = SNDense(3, dtype="mixed_float16")
    full.build(x.shape)
    half.build(x.shape)
    half.set_weights(full.get_weights())
    grads = []
    for layer in (full, half):
        with tf.GradientTape() as tape:
            out = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(out, "float32"))
        grads.append(tape.gradient(loss, layer.kernel).numpy())
    assert out.dtype == tf.float16
    assert half.kernel.dtype == "float32" and half.sn_u.dtype == "float32"
    np.testing.assert_array_equal(half.sn_u.numpy(), full.sn_u.numpy())  # the same float32 power iteration
    np.testing.assert_allclose(grads[1], grads[0], rtol=2e-2, atol=2e-3)


def test_layers_save_and_load(tmp_path):
    image = keras.Input((6, 6, 2))
    label = keras.Input((), dtype="int32")
    h = SNConv2D(3, 3, strides=2, padding="same", power_iterations=2)(image)
    h = SNConv2DTranspose(2, 3, strides=2, padding="same")(h)
    h = layers.Flatten()(h)
    out = layers.Add()([SNDense(1)(h), layers.Dot(axes=1)([SNEmbedding(4, 72)(label), h])])
    model = keras.Model([image, label], out)
    data = [np.random.default_rng(0).normal(size=(3, 6, 6, 2)).astype("float32"), np.array([0, 1, 3], "int32")]
    model(data, training=True)  # move u, v away from their initial values
    path = tmp_path / "sn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert [type(l).__name__ for l in loaded.layers if isinstance(l, SpectralNormalized)] == \
        ["SNConv2D", "SNConv2DTranspose", "SNEmbedding", "SNDense"]
    assert loaded.layers[1].power_iterations == 2
    np.testing.assert_allclose(loaded(data).numpy(), model(data).numpy(), rtol=1e-6)
    for a, b in zip(model.non_trainable_weights, loaded.non_trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


_MIRRORED = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from ganzoo.networks.spectral import SNDense

    rng = np.random.default_rng(0)
    kernel, u0 = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=3).astype("float32")
    x = rng.normal(size=(8, 4)).astype("float32")
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        layer = SNDense(3)
        layer.build((None, 4))
        layer.kernel.assign(kernel)
        layer.sn_u.assign(u0 / np.linalg.norm(u0))
    data = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(x).batch(8))

    @tf.function
    def step(batch):
        def replica(xb):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(xb, training=True))
            return tape.gradient(loss, layer.kernel)
        grads = strategy.run(replica, args=(batch,))
        return strategy.reduce("SUM", grads, axis=None)

    grad = step(next(iter(data)))
    u = [t.numpy().tolist() for t in strategy.experimental_local_results(layer.sn_u.value)]
    v = [t.numpy().tolist() for t in strategy.experimental_local_results(layer.sn_v.value)]
    json.dump({"u": u, "v": v, "grad": grad.numpy().tolist(), "kernel": kernel.tolist(), "u0": u0.tolist(),
               "x": x.tolist()}, open(sys.argv[1], "w"))
""")


@pytest.mark.slow  # ~20 s: a fresh interpreter (logical devices must be set before TensorFlow starts)
def test_mirrored_replicas_share_one_power_iteration(tmp_path):
    """Under MirroredStrategy each replica computes u, v from the same mirrored kernel; the
    update is kept once (only_first_replica) and the summed gradient is the one-device one."""
    script, out = tmp_path / "mirrored.py", tmp_path / "out.json"
    script.write_text(_MIRRORED)
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=CHECKOUT_PYTHONPATH)
    proc = subprocess.run([sys.executable, str(script), str(out)], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    kernel, x = np.array(r["kernel"]), np.array(r["x"], "float32")
    u, v, _, _, want, _ = _numpy_reference(kernel, _unit(np.array(r["u0"])), lambda k: k, lambda m, s: m,
                                           lambda wb: np.tile(x.sum(0)[:, None], (1, 3)))
    assert len(r["u"]) == 2 and len(r["v"]) == 2
    for replica_u, replica_v in zip(r["u"], r["v"]):
        np.testing.assert_allclose(replica_u, u, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(replica_v, v, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r["grad"], want, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ the SN-GAN entries
def _scale_every_sn_kernel(net, factor):
    for layer in net.layers:
        if isinstance(layer, keras.Model):
            _scale_every_sn_kernel(layer, factor)
        elif isinstance(layer, SpectralNormalized):
            var = layer._sn_kernel()
            var.assign(var.numpy() * factor)


@pytest.mark.parametrize("entry", ["hinge_cifar10", "cgan_cifar10"])
def test_discriminator_is_invariant_to_the_scale_of_its_raw_weights(entry):
    """D uses W / sigma(W) for every layer, the projection's class embedding included: scaling
    any raw kernel leaves the logits unchanged (the old wrapper used the raw kernel at inference,
    and the class embedding had no spectral norm at all)."""
    config = tiny_config(entry)
    D = build_discriminator(config)
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    inputs = [images, np.array([0, 3, 5, 9], "int32")] if config.conditional else images
    before = D(inputs, training=False).numpy()
    if config.conditional:
        embedding = D.get_layer("projection_embedding")
        assert isinstance(embedding, SNEmbedding)
        embedding.embeddings.assign(embedding.embeddings.numpy() * 50.0)
        np.testing.assert_allclose(D(inputs, training=False).numpy(), before, rtol=1e-4, atol=1e-6)
    _scale_every_sn_kernel(D, 7.0)
    np.testing.assert_allclose(D(inputs, training=False).numpy(), before, rtol=1e-4, atol=1e-6)


def _layout(net):
    rows = []
    for layer in net.layers:
        if isinstance(layer, keras.Model):
            rows += _layout(layer)
        elif isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
            rows.append((type(layer).__name__, layer.kernel_size[0], layer.strides[0], layer.filters))
        elif isinstance(layer, layers.Dense):
            rows.append((type(layer).__name__, layer.units))
        elif isinstance(layer, (layers.LeakyReLU, layers.ReLU, layers.BatchNormalization)):
            rows.append((type(layer).__name__,))
    return rows


@pytest.mark.parametrize("entry", ["hinge_cifar10", "cgan_cifar10"])
def test_sngan_entries_use_the_standard_cnn_of_table_3(entry):
    config = ganzoo.get_config(entry)
    assert config.model.latent_dim == 128
    G, D = build_generator(config), build_discriminator(config)
    bn_relu = [("BatchNormalization",), ("ReLU",)]
    assert _layout(G) == [("Dense", 4 * 4 * 512), *bn_relu,
                          ("Conv2DTranspose", 4, 2, 256), *bn_relu, ("Conv2DTranspose", 4, 2, 128), *bn_relu,
                          ("Conv2DTranspose", 4, 2, 64), *bn_relu, ("Conv2D", 3, 1, 3)]
    lrelu = ("LeakyReLU",)
    assert _layout(D) == [("SNConv2D", 3, 1, 64), lrelu, ("SNConv2D", 4, 2, 64), lrelu,
                          ("SNConv2D", 3, 1, 128), lrelu, ("SNConv2D", 4, 2, 128), lrelu,
                          ("SNConv2D", 3, 1, 256), lrelu, ("SNConv2D", 4, 2, 256), lrelu,
                          ("SNConv2D", 3, 1, 512), lrelu, ("SNDense", 1)]
    assert {float(l.negative_slope) for l in D.layers if isinstance(l, layers.LeakyReLU)} == {0.1}
    assert G.outputs[0].shape[1:] == (32, 32, 3)
