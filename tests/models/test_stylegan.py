"""StyleGAN: the networks' signal scale (lrelu gain), truncation in W, style mixing
regularisation, lazy R1 (separate steps, optimizer correction), w average, noise (const for
sampling, random for evaluation), the style-layer groups, projection, and save/load. (An EMA
decay of 0.5 lets four steps show.)"""

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
    ws, w = ws.numpy(), w.numpy()
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
    np.testing.assert_allclose(ws.numpy(), np.repeat(w.numpy()[:, None], model.num_ws, axis=1))


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
    real = next(iter(_data()))

    def fresh(r1_gamma):
        model = _build(**{"model.r1_gamma": r1_gamma, "model.r1_interval": k})
        model.compile(g_optimizer=keras.optimizers.SGD(lr), d_optimizer=keras.optimizers.SGD(lr), jit_compile=False)
        return model

    lazy, plain = fresh(gamma), fresh(0.0)
    for a, b in zip(lazy.variables, plain.variables):
        b.assign(a)
    lazy.train_step(real)
    plain.train_step(real)
    D = plain.discriminator
    x = tf.constant(real)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            inner.watch(x)
            total = tf.reduce_sum(D(x, training=True))
        g = inner.gradient(total, x)
        r1 = tf.reduce_mean(tf.reduce_sum(tf.square(g), axis=[1, 2, 3]))
        loss = 0.5 * gamma * k * r1
    grads = outer.gradient(loss, D.trainable_variables)
    for w_lazy, w_plain, grad in zip(lazy.discriminator.trainable_variables, D.trainable_variables, grads):
        expected = w_plain.numpy() - (0.0 if grad is None else lr * grad.numpy())  # None: the logit's bias
        np.testing.assert_allclose(w_lazy.numpy(), expected, rtol=1e-4, atol=1e-6, err_msg=w_lazy.path)
    assert int(lazy.d_optimizer.iterations.numpy()) == 2 and int(plain.d_optimizer.iterations.numpy()) == 1
    assert float(lazy.r1_tracker.result()) == pytest.approx(float(r1), rel=1e-4)


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
