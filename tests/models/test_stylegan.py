"""StyleGAN: the networks' signal scale (lrelu gain), truncation in W, style mixing
regularisation, lazy R1 (separate steps, optimizer correction), w average, noise (const for
sampling, random for evaluation), the style-layer groups, projection, and save/load. (An EMA
decay of 0.5 lets four steps show.)"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganzoo
from ganzoo import art
from ganzoo.builders import build_model, compile_model, make_optimizers
from ganzoo.config import ConfigError
from ganzoo.evaluation.evaluate import generated_source
from ganzoo.models.stylegan import StyleGAN
from ganzoo.networks.pggan import EqualizedConv2D, EqualizedDense
from ganzoo.networks.stylegan import (ModulatedConv2D, NoiseInjection, ScaledActivation, build_mapping_network,
                                      build_stylegan_discriminator, build_synthesis_network)
from tests.helpers import tiny_config

# Passes on JAX too (KERAS_BACKEND=jax pytest -m "" this file); not in CI's JAX phase, which
# keeps to the harness, the losses and the backend-specific tests to stay within its time.

BACKEND = keras.backend.backend()

#: 16x16: style layers act at 4, 8, 8, 16, 16, 16 px (num_ws = 6).
SMALL = {"data.image_size": 16, "data.pad": 2, "model.r1_interval": 2, "model.ema_decay": 0.5}


def _build(**extra):
    config = tiny_config("stylegan_mnist", **{**SMALL, **extra})
    model = build_model(config)
    compile_model(model, config)
    return model


def _data():
    x = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    return tf.data.Dataset.from_tensors(x).repeat()


class _RecordR1(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(float(logs["r1"]))


@pytest.fixture(scope="module")
def trained():
    """Four training steps (R1 every 2nd D step): w_avg, EMA and the noise strengths have moved."""
    model = _build()
    record = _RecordR1()
    history = model.fit(_data(), epochs=1, steps_per_epoch=4, verbose=0, callbacks=[record])
    history.r1_per_step = record.seen
    return model, history


def test_training_updates_w_avg_ema_and_applies_r1_lazily(trained):
    model, history = trained
    assert np.all(np.isfinite(history.history["d_loss"]))
    # The r1 tracker averages R1 over the regularised D steps of the epoch (0 and 2 with
    # interval 2): it changes at those steps only.
    seen = history.r1_per_step
    assert seen[0] > 0 and seen[1] == seen[0] and seen[2] != seen[1] and seen[3] == seen[2]
    assert np.abs(model.w_avg.numpy()).max() > 0
    ema = model.ema_generator.get_layer("synthesis").get_layer("conv_0").kernel.numpy()
    raw = model.generator.get_layer("synthesis").get_layer("conv_0").kernel.numpy()
    assert np.abs(ema - raw).max() > 0, "generate() must use the moving average, not the raw weights"
    # The mapping network learns 100x slower than the synthesis network (lr multiplier 0.01):
    # its stored weights are drawn 100x larger and scaled down at run time.
    fc0 = model.generator.get_layer("mapping").get_layer("fc0")
    assert fc0.lr_multiplier == pytest.approx(0.01) and fc0.kernel.numpy().std() > 20


def test_style_mixing_regularisation_structure():
    model = _build(**{"model.style_mixing_prob": 1.0})
    mapping = model.mapping(model.generator)
    ws, w = model.mixed_styles(mapping, 64)
    ws, w = keras.ops.convert_to_numpy(ws), keras.ops.convert_to_numpy(w)
    assert ws.shape == (64, model.num_ws, model.latent_dim)
    cutoffs = []
    for row, first in zip(ws, w):
        from_w1 = np.all(np.isclose(row, first[None]), axis=1)
        cut = int(np.argmin(from_w1))  # first layer that is not w1
        assert 1 <= cut < model.num_ws and from_w1[:cut].all() and not from_w1[cut:].any()
        assert np.allclose(row[cut:], row[cut][None])  # the rest is one other w
        cutoffs.append(cut)
    assert len(set(cutoffs)) > 1  # the crossover point is random
    model.style_mixing_prob = 0.0
    ws, w = model.mixed_styles(mapping, 8)
    ws, w = keras.ops.convert_to_numpy(ws), keras.ops.convert_to_numpy(w)
    np.testing.assert_allclose(ws, np.repeat(w[:, None], model.num_ws, axis=1))


def test_truncation_zero_gives_the_w_avg_image_for_every_seed(trained):
    model, _ = trained
    a = model.generate(3, seed=1, truncation=0.0)
    b = model.generate(3, seed=2, truncation=0.0)
    np.testing.assert_allclose(a, b, atol=1e-6)
    w_avg = np.repeat(model.w_avg.numpy()[None, None], model.num_ws, axis=1)
    np.testing.assert_allclose(a[0], model.synthesize(w_avg)[0], atol=1e-6)
    full = model.generate(3, seed=1)
    assert np.abs(full[0] - full[1]).max() > 1e-3
    # psi = 0.5 sits halfway between w_avg and w in W.
    z = model.latents(1, seed=1)
    np.testing.assert_allclose(model.styles(z, truncation=0.5), 0.5 * (model.styles(z) + w_avg), rtol=1e-5,
                               atol=1e-6)


def test_noise_changes_detail_only_when_asked(trained):
    model, _ = trained
    np.testing.assert_array_equal(model.generate(2, seed=4), model.generate(2, seed=4))  # const noise
    images, std = art.noise_variations(model, seed=4, n=4)
    assert images.shape == (4, 16, 16, 1) and std.shape == (16, 16, 1)
    assert np.abs(images[0] - images[1]).max() > 1e-4  # the learned strengths are no longer 0
    assert std.max() == pytest.approx(1.0) and std.min() >= -1.0
    np.testing.assert_allclose(images, art.noise_variations(model, seed=4, n=4)[0])  # repeatable
    zero = model.generate(1, seed=4, noise="none")
    assert np.abs(zero - model.generate(1, seed=4)).max() > 0
    with pytest.raises(ValueError, match="noise"):
        model.generate(1, noise="loud")


def test_style_layer_groups():
    model = _build(**{"data.image_size": 32, "data.pad": 2})  # styles at 4, 8, 8, 16, 16, 32, 32, 32
    assert model.style_layers("coarse") == [0, 1, 2]
    assert model.style_layers("middle") == [3, 4]
    assert model.style_layers("fine") == [5, 6, 7]
    assert model.style_layers([1, 3, 3]) == [1, 3] and model.style_layers(slice(0, 2)) == [0, 1]
    with pytest.raises(ValueError, match="out of range"):
        model.style_layers([8])
    with pytest.raises(ValueError, match="coarse"):
        model.style_layers("medium")
    small = _build()  # 16x16: coarse 4-8 px, fine 16 px, no middle layers
    with pytest.raises(ValueError, match="no 'middle'"):
        small.style_layers("middle")


def test_projection_reconstructs_a_generated_image(trained):
    model, _ = trained
    target = model.generate(1, seed=9)[0]
    ws, image, losses = art.project(model, target, steps=60, learning_rate=0.1, w_plus=True)
    assert ws.shape == (1, model.num_ws, model.latent_dim) and image.shape == target.shape
    assert losses[-1] < 0.5 * losses[0]
    np.testing.assert_allclose(np.mean((image - target) ** 2), losses[-1], rtol=0.5, atol=1e-4)
    with pytest.raises(ValueError, match="shape"):
        art.project(model, np.zeros((8, 8, 1)), steps=1)


def test_save_and_load_keep_styles_noise_and_w_avg(trained, tmp_path):
    model, _ = trained
    path = tmp_path / "stylegan.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    # w_avg and every other weight load equal: the per-class harness (tests/harness.py) checks them.
    np.testing.assert_allclose(again.generate(2, seed=3, truncation=0.7), model.generate(2, seed=3, truncation=0.7),
                               atol=1e-6)
    np.testing.assert_allclose(art.noise_variations(again, seed=1, n=2)[0], art.noise_variations(model, seed=1, n=2)[0],
                               atol=1e-6)
    # Four minibatches, two of them with a separate R1 step (interval 2): the lazy-R1 clock is
    # a model weight, so a checkpoint resumes it.
    assert int(again.d_optimizer.iterations.numpy()) == 6 and int(again.d_steps.numpy()) == 4


def test_config_checks():
    with pytest.raises(ConfigError, match="style_mixing_prob"):
        ganzoo.get_config("stylegan_mnist", **{"model.style_mixing_prob": 1.5})
    with pytest.raises(ConfigError, match="Wasserstein"):
        ganzoo.get_config("stylegan_mnist", **{"model.loss": "wasserstein"})
    with pytest.raises(ConfigError, match="discriminator.arch"):
        ganzoo.get_config("stylegan_mnist", **{"discriminator.arch": "pggan"})


# ---------------------------------------------------------------------- signal scale at initialisation
def _rms(x) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64)))))


def _probe(model, tensors):
    return keras.Model(model.inputs, tensors)


@pytest.mark.parametrize("size", [32, 64])
def test_activation_rms_stays_near_one_through_every_layer_at_initialisation(size):
    """StyleGAN2's lrelu has gain sqrt(2) (``bias_act``): after a demodulated convolution
    (unit-variance output whatever the weights) a plain LeakyReLU keeps ~0.72 of the RMS, so
    without the gain the signal shrinks layer by layer (before the fix: 0.07 after the 7
    convolutions at 32x32, 0.04 after the 9 at 64x64, to-RGB 0.09 / 0.08)."""
    keras.utils.set_random_seed(1)
    w_dim, n = 64, 4
    synthesis = build_synthesis_network(size, 3, w_dim, filters=64)
    mods = [layer for layer in synthesis.layers if isinstance(layer, ModulatedConv2D)]
    # What every modulated convolution (styled conv or to-RGB) takes in, and each to-RGB output.
    rgb = [layer for layer in mods if layer.name.startswith("to_rgb")]
    tensors = [layer.input[0] for layer in mods] + [layer.output for layer in rgb]
    names = [f"input of {layer.name}" for layer in mods] + [layer.name for layer in rgb]
    levels = int(np.log2(size)) - 1  # 4 px .. size
    assert len(tensors) == (2 * levels - 1) + 2 * levels  # every conv, every to-RGB in and out
    rng = np.random.default_rng(0)
    ws = np.repeat(rng.standard_normal((n, 1, w_dim)).astype("float32"), synthesis.inputs[0].shape[1], axis=1)
    noise = [rng.standard_normal((n,) + tuple(t.shape[1:])).astype("float32") for t in synthesis.inputs[1:]]
    rms = {name: _rms(v) for name, v in zip(names, _probe(synthesis, tensors)([ws] + noise))}
    bad = {name: round(v, 3) for name, v in rms.items() if not 0.5 <= v <= 2.0}
    assert not bad, f"activation RMS outside [0.5, 2] at {size}x{size}: {bad}"

    # The mapping network (lrelu after every layer) keeps w at unit scale.
    mapping = build_mapping_network(w_dim, 8, 0.01)
    assert 0.5 <= _rms(mapping(rng.standard_normal((64, w_dim)).astype("float32"))) <= 2.0


def test_discriminator_gains_follow_the_reference():
    """Weight gain 1 everywhere; lrelu x sqrt(2) after every convolution and the hidden dense
    layer; the skip convolutions and the logit linear (stylegan2-ada-pytorch's D)."""
    D = build_stylegan_discriminator(16, 3, filters=16)
    equalized = [layer for layer in D.layers if isinstance(layer, (EqualizedConv2D, EqualizedDense))]
    assert {layer.gain for layer in equalized} == {1.0}
    acts = [layer for layer in D.layers if isinstance(layer, ScaledActivation)]
    assert {a.activation for a in acts} == {"lrelu"} and np.allclose([a.gain for a in acts], np.sqrt(2))
    skips = [layer for layer in equalized if isinstance(layer, EqualizedConv2D) and not layer.use_bias]
    assert len(acts) == len(equalized) - len(skips) - 1  # all but the skips and the logit


def test_scaled_activation_and_the_float16_clamp():
    x = np.array([[-2.0, -0.5, 0.0, 1.0, 300.0]], np.float32)
    lrelu = np.where(x > 0, x, 0.2 * x)
    np.testing.assert_allclose(ScaledActivation("lrelu")(x), np.sqrt(2) * lrelu, rtol=1e-6)
    np.testing.assert_allclose(ScaledActivation("lrelu", clamp=256)(x), np.clip(np.sqrt(2) * lrelu, -256, 256),
                               rtol=1e-6)
    np.testing.assert_allclose(ScaledActivation("linear", clamp=256)(x), np.clip(x, -256, 256))
    with pytest.raises(ValueError, match="activation"):
        ScaledActivation("relu6")

    def clamps(net):
        return {layer.clamp for layer in net.layers if isinstance(layer, ScaledActivation)}

    assert clamps(build_synthesis_network(8, 3, 16, filters=16)) == {None}
    # The official code clamps at 256 where it trains in float16 ("auto": under mixed_float16).
    with _policy("mixed_float16"):
        synthesis = build_synthesis_network(8, 3, 16, filters=16)
        D = build_stylegan_discriminator(8, 3, filters=16)
    assert clamps(synthesis) == {256.0}
    rgb_clamps = [layer for layer in synthesis.layers if isinstance(layer, ScaledActivation)
                  and layer.activation == "linear"]
    assert len(rgb_clamps) == 2  # one per to-RGB (4 and 8 px)
    assert 256.0 in clamps(D)


class _policy:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.old = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.name)

    def __exit__(self, *exc):
        keras.config.set_dtype_policy(self.old)


# ---------------------------------------------------------------------- evaluation noise
def test_evaluation_samples_random_noise_repeatably():
    """The official metrics sample with random noise; ganzoo eval too, drawn per image from the seed."""
    model = _build()
    for layer in model.synthesis(model.sampling_generator()).layers:
        if isinstance(layer, NoiseInjection):
            layer.strength.assign(0.5)  # untrained strengths are 0: make the noise visible

    def images(batch_size, **kwargs):
        source = generated_source(model, 6, seed=3, **kwargs)
        return np.concatenate([batch for batch, _ in source.batches(batch_size)])

    def per_image_diff(a, b):
        return np.abs(a - b).max(axis=(1, 2, 3))

    random = images(4)
    np.testing.assert_array_equal(random, images(4))  # same seed, same images
    np.testing.assert_allclose(random, images(6), atol=1e-6)  # whatever the batching
    np.testing.assert_allclose(random, model.generate(6, seed=3, noise="random"), atol=1e-6)
    const = images(4, noise="const")
    np.testing.assert_allclose(const, model.generate(6, seed=3), atol=1e-6)  # generate's default stays const
    assert per_image_diff(random, const).min() > 1e-2  # every image has its own noise
    # Another seed draws other noise (same latents here, to isolate the noise).
    other = model.generate_from_latents(model.latents(6, seed=3), noise="random", noise_seed=4)
    assert per_image_diff(random, other).min() > 1e-2
    assert generated_source(model, 6, seed=3).noise == "random"  # what eval's protocol records
    dcgan = ganzoo.load("dcgan_mnist", compile=False, **{"generator.filters": 8, "discriminator.filters": 8})
    with pytest.raises(ValueError, match="no noise inputs"):
        generated_source(dcgan, 4, noise="random")


# ---------------------------------------------------------------------- lazy R1
class _RecordSteps(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.iterations, self.r1 = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.iterations.append(int(self.model.d_optimizer.iterations.numpy()))
        self.r1.append(float(logs["r1"]))


@pytest.mark.parametrize("interval", [3, 1])
def test_lazy_r1_takes_a_separate_step_every_interval_minibatches(interval):
    model = _build(**{"model.r1_interval": interval})
    record = _RecordSteps()
    model.fit(_data(), epochs=1, steps_per_epoch=7, verbose=0, callbacks=[record])
    if interval == 1:  # R1 inside every D step: one optimizer step per minibatch
        assert record.iterations == [1, 2, 3, 4, 5, 6, 7]
        assert all(r > 0 for r in record.r1)
        return
    # Minibatches 0, 3 and 6 are regularised (the official batch_idx % interval == 0): D's
    # optimizer steps twice there, once elsewhere.
    assert record.iterations == [2, 3, 4, 6, 7, 8, 10]
    # The r1 log is the mean over the regularised minibatches so far: it moves only at 0, 3, 6.
    moved = [i for i in range(1, 7) if record.r1[i] != record.r1[i - 1]]
    assert record.r1[0] > 0 and moved == [3, 6]
    assert int(model.d_steps.numpy()) == 7  # the clock: minibatches, not optimizer steps


def test_lazy_r1_step_is_gamma_half_interval_times_the_penalty_on_its_own():
    """On a regularised minibatch, D's weights are those of a run without R1 followed by one
    optimizer step on gamma / 2 * k * E||grad D(real)||^2 (SGD, so the step is the gradient)."""
    gamma, k, lr = 2.0, 4, 0.05
    real = next(iter(_data())).numpy()

    def fresh(r1_gamma):
        model = _build(**{"model.r1_gamma": r1_gamma, "model.r1_interval": k})
        model.compile(g_optimizer=keras.optimizers.SGD(lr), d_optimizer=keras.optimizers.SGD(lr), jit_compile=False)
        return model

    lazy, plain = fresh(gamma), fresh(0.0)
    for a, b in zip(lazy.variables, plain.variables):
        # A copy: on JAX assigning a variable shares its buffer, which lazy's jitted step
        # then donates (deletes).
        b.assign(np.array(keras.ops.convert_to_numpy(a)))
    lazy.train_on_batch(real)
    plain.train_on_batch(real)
    D = plain.discriminator
    loss, r1, grads = _r1_step_gradients(D, np.asarray(real), gamma, k)
    for w_lazy, w_plain, grad in zip(lazy.discriminator.trainable_variables, D.trainable_variables, grads):
        expected = keras.ops.convert_to_numpy(w_plain) - (0.0 if grad is None else lr * grad)  # None: the logit's bias
        np.testing.assert_allclose(keras.ops.convert_to_numpy(w_lazy), expected, rtol=1e-4, atol=1e-6,
                                   err_msg=w_lazy.path)
    assert int(lazy.d_optimizer.iterations) == 2 and int(plain.d_optimizer.iterations) == 1
    assert float(lazy.r1_tracker.result()) == pytest.approx(float(r1), rel=1e-4)


def _r1_step_gradients(D, x, gamma, k):
    """``(loss, R1, grads)``: gamma / 2 * k * E||grad_x D(x)||^2 and its gradients for D's
    trainable variables, by double backprop written directly in the backend (not through
    ganzoo's seam): a tape in a tape on TensorFlow, jax.grad of jax.grad on JAX."""
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp
        trainable = [v.value for v in D.trainable_variables]
        fixed = [v.value for v in D.non_trainable_variables]

        def loss_of(values):
            def total(inputs):
                return jnp.sum(D.stateless_call(values, fixed, inputs, training=True)[0])
            g = jax.grad(total)(jnp.asarray(x))
            r1 = jnp.mean(jnp.sum(jnp.square(g), axis=(1, 2, 3)))
            return 0.5 * gamma * k * r1, r1

        (loss, r1), grads = jax.value_and_grad(loss_of, has_aux=True)(trainable)
        return float(loss), float(r1), [np.asarray(g) for g in grads]
    x = tf.constant(x)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(x)
            total = tf.reduce_sum(D(x, training=True))
        g = inner.gradient(total, x)
        r1 = tf.reduce_mean(tf.reduce_sum(tf.square(g), axis=[1, 2, 3]))
        loss = 0.5 * gamma * k * r1
    grads = outer.gradient(loss, D.trainable_variables)
    return float(loss), float(r1), [None if g is None else g.numpy() for g in grads]


def test_lazy_r1_optimizer_correction_follows_the_official_formula():
    """lr x c and betas ** c with c = k / (k + 1), from r1_interval (the YAML holds 0.0025, 0, 0.99)."""
    config = ganzoo.get_config("stylegan_mnist")
    assert config.train.d_learning_rate is None and config.model.r1_interval == 16
    g_opt, d_opt = make_optimizers(config)
    c = 16 / 17
    assert float(d_opt.learning_rate.numpy()) == pytest.approx(0.0025 * c, rel=1e-6)
    assert d_opt.beta_1 == 0.0 and d_opt.beta_2 == pytest.approx(0.99 ** c, rel=1e-12)
    assert float(g_opt.learning_rate.numpy()) == pytest.approx(0.0025, rel=1e-6) and g_opt.beta_2 == 0.99
    _, d4 = make_optimizers(ganzoo.get_config("stylegan_mnist", **{"model.r1_interval": 4,
                                                                    "train.beta_1": 0.5}))
    assert float(d4.learning_rate.numpy()) == pytest.approx(0.0025 * 0.8, rel=1e-6)
    assert d4.beta_1 == pytest.approx(0.5 ** 0.8) and d4.beta_2 == pytest.approx(0.99 ** 0.8)
    for overrides in ({"model.r1_interval": 1}, {"model.r1_gamma": 0.0}):  # no separate R1 step: no correction
        _, d = make_optimizers(ganzoo.get_config("stylegan_mnist", **overrides))
        assert float(d.learning_rate.numpy()) == pytest.approx(0.0025, rel=1e-6) and d.beta_2 == 0.99
    assert StyleGAN.lazy_regularization_ratio(16) == pytest.approx(16 / 17)


# ---------------------------------------------------------------------- TensorFlow and JAX
#: The cross-backend run: 16x16, R1 every 2nd minibatch, 6 minibatches of 4 images.
CROSS = {"model.r1_interval": 2, "model.style_mixing_prob": 0.0, "train.batch_size": 4}
CROSS_STEPS = 6


def _pseudo_random(model):
    """Replace the model's latent and noise draws by a smooth function of a draw counter (a
    model variable, advanced inside the step): both backends then see the same "random"
    numbers, which keras.random cannot give (each backend has its own generator), and the
    runs can be compared step by step. Style mixing is off (its draws stay keras.random)."""
    clock = model.add_weight(shape=(), dtype="float32", initializer="zeros", trainable=False, name="test_clock")

    def draw(shape):
        # Read the clock into a tensor before advancing it (on TensorFlow ``clock.value`` is
        # the variable itself, which would read the advanced value afterwards).
        c = keras.ops.convert_to_tensor(clock.value) * 1.0
        size = int(np.prod(shape[1:]))
        i = keras.ops.cast(keras.ops.arange(shape[0] * size), "float32")
        out = keras.ops.reshape(keras.ops.sin(0.7311 * i + 1.913 * c + 0.5) * 1.2, shape)
        clock.assign(c + 1.0)
        return out

    batch = CROSS["train.batch_size"]
    model.sample_latent = lambda n: draw((batch, model.latent_dim))
    model._random_noise = lambda n: [draw((batch,) + s) for s in model.noise_shapes]


def cross_backend_run(weights: str) -> dict:
    """Train the CROSS model from ``weights`` for CROSS_STEPS minibatches on this process's
    backend with pseudo-random draws; the per-minibatch logs and the lazy-R1 clock."""
    model = _build(**CROSS)
    model.load_weights(weights)
    _pseudo_random(model)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    record = _RecordSteps()
    seen = {"d_loss": [], "g_loss": []}

    class Losses(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for key in seen:
                seen[key].append(float(logs[key]))

    model.fit(tf.data.Dataset.from_tensors(x).repeat(), epochs=1, steps_per_epoch=CROSS_STEPS, verbose=0,
              callbacks=[record, Losses()])
    return {"backend": BACKEND, "iterations": record.iterations, "r1": record.r1, **seen,
            "d_steps": int(model.d_steps.numpy()), "w_avg": keras.ops.convert_to_numpy(model.w_avg).tolist()}


def _run_on(backend: str, weights: Path) -> dict:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    code = ("import json, sys; from tests.models.test_stylegan import cross_backend_run; "
            "print('RESULT' + json.dumps(cross_backend_run(sys.argv[1])))")
    done = subprocess.run([sys.executable, "-c", code, str(weights)], cwd=root, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT")][-1]
    return json.loads(line[len("RESULT"):])


def test_tensorflow_and_jax_train_the_same_steps(tmp_path):
    """The same model (weights saved here) trained 6 minibatches on TensorFlow and on JAX
    (a subprocess with KERAS_BACKEND=jax or tensorflow, whichever this process is not) with
    the same pseudo-random draws: the same lazy-R1 schedule (D's optimizer steps twice on
    minibatches 0, 2, 4), and the same losses, R1 and w_avg within float32 rounding: rtol
    1e-4 (measured on CPU: losses and R1 agree to 4e-7, w_avg to 1.5e-5 relative; a wrong
    draw or schedule moved d_loss by 2% at the first step)."""
    weights = tmp_path / "start.weights.h5"
    _build(**CROSS).save_weights(weights)
    other = "jax" if BACKEND == "tensorflow" else "tensorflow"
    here, there = cross_backend_run(str(weights)), _run_on(other, weights)
    assert there["backend"] == other
    for run in (here, there):
        assert run["iterations"] == [2, 3, 5, 6, 8, 9] and run["d_steps"] == CROSS_STEPS
        # r1 is the mean over the regularised minibatches: it moves at 2 and 4 only.
        assert run["r1"][0] > 0 and [i for i in range(1, CROSS_STEPS) if run["r1"][i] != run["r1"][i - 1]] == [2, 4]
    for key in ("d_loss", "g_loss", "r1", "w_avg"):
        a, b = np.asarray(here[key]), np.asarray(there[key])
        print(f"{key}: largest relative difference {BACKEND} vs {other}: "
              f"{np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-5)):.2e}")
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6, err_msg=key)
    # The losses move: the comparison is of a training run, not of six copies of one step.
    assert np.ptp(here["d_loss"]) > 1e-3
