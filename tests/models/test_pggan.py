"""ProgressiveGAN: the growth schedule, every phase's shapes, fade-in, growth and resume
inside ``fit``, the optimizer reset at each new level of detail, sampling at finished phases,
and MNIST's 28 -> 32 padding."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import ganzoo
from ganzoo.builders import build_model, compile_model
from ganzoo.checkpoint import CheckpointManager
from ganzoo.config import ConfigError
from ganzoo.models.pggan import growth_schedule
from ganzoo.networks.pggan import downsample, upsample2x, upsample_to
from tests.helpers import tiny_config

#: 16x16, 3 phases (4, 8, 16), a 4-image first phase and 8-image fades: with batches of 4,
#: phase/alpha per step go (0, 1), (1, 0), (1, .5), (1, 1), (2, 0), (2, .5), (2, 1), ...
SMALL = {"data.image_size": 16, "model.stabilize_images": 4, "model.fade_images": 8, "train.batch_size": 4}
EXPECTED = [(0, 1.0), (1, 0.0), (1, 0.5), (1, 1.0), (2, 0.0), (2, 0.5), (2, 1.0)]


def _model(**extra):
    return _model_and_config(**extra)[0]


def _model_and_config(**extra):
    config = tiny_config("pggan_mnist", **{**SMALL, **extra})
    model = build_model(config)
    compile_model(model, config)
    return model, config


def _one_batch_dataset(seed=0):
    """The same batch for ever: two runs see identical data however they are split."""
    x = np.random.default_rng(seed).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    return tf.data.Dataset.from_tensors(x).repeat()


#: The optimizers restart at each new level of detail (a fade-in starts or ends), as the official
#: code: their step counts after each step of EXPECTED (1, 2, ... without the reset).
EXPECTED_ITERATIONS = [1, 1, 2, 1, 1, 2, 1]


class _Record(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = []
        self.iterations = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append((int(logs["phase"]), round(float(logs["alpha"]), 6)))
        self.iterations.append((int(self.model.g_optimizer.iterations.numpy()),
                                int(self.model.d_optimizer.iterations.numpy())))


def test_growth_schedule_golden_values():
    def at(n, fade=8, stable=4, phases=3):
        phase, alpha = growth_schedule(n, phases, fade, stable)
        return int(phase), round(float(alpha), 6)

    assert [at(4 * k) for k in range(7)] == EXPECTED
    assert at(3) == (0, 1.0) and at(10) == (1, 0.75) and at(10 ** 9) == (2, 1.0)
    assert at(16 + 4 + 3, fade=0) == (2, 1.0) and at(4, fade=0) == (1, 1.0)  # no fade: instant growth
    assert at(5, phases=1) == (0, 1.0)  # a single phase never grows


def test_generator_weights_alone_load_fully_grown(tmp_path):
    """Bundled PGGAN weights are the generator alone (no growth counters): loading them marks the
    model fully grown, at the schedule's first image of the last phase at alpha 1."""
    from ganzoo.weights import load_weights

    model, config = _model_and_config()
    assert model.grown_images == 4 + 12 + 8  # stabilise 4, fade+stabilise 12, fade 8 (EXPECTED: 24 = 6 steps)
    assert growth_schedule(model.grown_images, 3, 8, 4)[0] == 2
    assert float(growth_schedule(model.grown_images, 3, 8, 4)[1]) == 1.0
    assert float(growth_schedule(model.grown_images - 1, 3, 8, 4)[1]) < 1.0
    assert not model.fully_grown
    path = tmp_path / "g.weights.h5"
    model.generator.save_weights(str(path))
    fresh = _model()
    load_weights(fresh, str(path), config)  # not a whole-model file: loaded as the generator
    assert fresh.fully_grown and int(fresh.images_seen.numpy()) == fresh.grown_images
    z = np.random.default_rng(0).normal(size=(2, fresh.latent_dim)).astype("float32")
    assert fresh.generate_from_latents(z, native_resolution=True).shape == (2, 16, 16, 1)


def test_each_phase_has_its_resolution_and_fade_in_starts_from_the_previous_phase():
    model = _model()
    G = model.generator.get_layer("progressive_generator")
    D = model.discriminator.get_layer("progressive_discriminator")
    z = model.latents(4, seed=0)
    for level, res in enumerate([4, 8, 16]):
        images = G(z, level=level).numpy()
        assert images.shape == (4, res, res, 1)
        assert D(images, level=level).shape == (4, 1)
    for level in (1, 2):
        # G: at alpha 0 the new block is invisible: the previous phase's image, upsampled.
        np.testing.assert_allclose(G(z, level=level, alpha=0.0).numpy(),
                                   upsample2x(G(z, level=level - 1)).numpy(), atol=1e-6)
        np.testing.assert_allclose(G(z, level=level, alpha=1.0).numpy(), G(z, level=level).numpy(), atol=1e-6)
        assert np.abs(G(z, level=level, alpha=0.5).numpy() - G(z, level=level).numpy()).max() > 1e-4
        # D: at alpha 0 it judges the 2x-downsampled images with the previous phase's network.
        x = G(z, level=level).numpy()
        np.testing.assert_allclose(D(x, level=level, alpha=0.0).numpy(),
                                   D(downsample(x, 2), level=level - 1).numpy(), rtol=1e-5, atol=1e-5)
    # Training runs every block at full resolution with the unused ones gated off (grow):
    # the same images and logits as running the level's own blocks.
    for level, alpha in ((0, 1.0), (1, 0.3), (2, 0.0), (2, 1.0)):
        native = G(z, level=level, alpha=alpha).numpy()
        np.testing.assert_allclose(G.grow(z, level, alpha).numpy(), np.asarray(upsample_to(native, 16)), atol=1e-5)
        np.testing.assert_allclose(D.grow(upsample_to(native, 16), level, alpha).numpy(),
                                   D(native, level=level, alpha=alpha).numpy(), rtol=1e-4, atol=1e-5)
    # ... and the critic's input gradient norm at the phase's resolution is what the penalty sees.
    native = tf.constant(G(z, level=1).numpy())
    with tf.GradientTape() as tape:
        tape.watch(native)
        out = tf.reduce_sum(D(native, level=1, alpha=0.6))
    want = np.sqrt(np.sum(tape.gradient(out, native).numpy() ** 2, axis=(1, 2, 3)))
    factor = 2.0  # 8x8 phase images travel as 16x16 copies
    u = tf.constant(np.asarray(upsample_to(native, 16)) / factor)
    with tf.GradientTape() as tape:
        tape.watch(u)
        out = tf.reduce_sum(D.grow(u * factor, 1, 0.6))
    got = np.sqrt(np.sum(tape.gradient(out, u).numpy() ** 2, axis=(1, 2, 3)))
    np.testing.assert_allclose(got, want, rtol=1e-4)
    # Reals fade exactly like fakes: at alpha 0 they are the previous phase's reals, upsampled.
    x = np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(model.real_images(x, 1, 0.0).numpy(), upsample2x(downsample(x, 4)).numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(model.real_images(x, 2, 1.0).numpy(), x, atol=1e-6)
    np.testing.assert_allclose(model.grown_reals(x, 1, 0.25).numpy(),
                               np.asarray(upsample_to(model.real_images(x, 1, 0.25), 16)), atol=1e-6)


@pytest.fixture(scope="module")
def grown(tmp_path_factory):
    """One uninterrupted run of 7 steps through all three phases (fits of 1, 1, 1 and 4 steps),
    with a .keras file after step 2 and a ganzoo checkpoint after step 3 (mid-fade)."""
    folder = tmp_path_factory.mktemp("pggan")
    model, config = _model_and_config()
    traces = []
    step = model.train_step
    model.train_step = lambda data: (traces.append(1), step(data))[1]
    body = model.generator.get_layer("progressive_generator")
    rgb16 = body.to_rgb[2].weights[0].numpy().copy()
    record = _Record()
    model.fit(_one_batch_dataset(), epochs=1, steps_per_epoch=1, verbose=0, callbacks=[record])
    rgb16_after_phase0 = body.to_rgb[2].weights[0].numpy().copy()
    model.fit(_one_batch_dataset(), epochs=1, steps_per_epoch=1, verbose=0, callbacks=[record])
    model.save(folder / "step2.keras")
    model.fit(_one_batch_dataset(), epochs=1, steps_per_epoch=1, verbose=0, callbacks=[record])
    manager = CheckpointManager(folder / "checkpoints")
    manager.save(model, step=3, epoch=0, config=config)
    model.fit(_one_batch_dataset(), epochs=1, steps_per_epoch=4, verbose=0, callbacks=[record])
    return dict(model=model, config=config, record=record.steps, iterations=record.iterations, traces=len(traces),
                rgb16=rgb16, rgb16_after_phase0=rgb16_after_phase0, step2=folder / "step2.keras", manager=manager)


def test_model_grows_inside_fit_without_retracing(grown):
    model = grown["model"]
    assert grown["record"] == EXPECTED, "phase/alpha per step do not follow the images seen"
    assert grown["iterations"] == [(n, n) for n in EXPECTED_ITERATIONS], "optimizers not reset at new levels of detail"
    assert grown["traces"] <= 2, "growing must not retrace train_step once per phase"
    # Phase 0 trains 4x4 only: the 16x16 output layer did not move until it was faded in.
    np.testing.assert_array_equal(grown["rgb16_after_phase0"], grown["rgb16"])
    current = model.generator.get_layer("progressive_generator").to_rgb[2].weights[0].numpy()
    assert np.abs(current - grown["rgb16"]).max() > 0
    assert int(model.images_seen.numpy()) == 28 and int(model.phase.numpy()) == 2


def test_resume_mid_phase_continues_exactly(grown):
    plain = keras.saving.load_model(grown["step2"])  # a plain .keras file carries the growth state too
    assert (int(plain.phase.numpy()), float(plain.alpha.numpy()), int(plain.images_seen.numpy())) == (1, 0.0, 8)
    resumed, checkpoint = grown["manager"].load_latest(grown["config"])
    assert checkpoint.step == 3
    assert (int(resumed.phase.numpy()), float(resumed.alpha.numpy()), int(resumed.images_seen.numpy())) == (1, 0.5, 12)
    record = _Record()
    resumed.fit(_one_batch_dataset(), epochs=1, steps_per_epoch=4, verbose=0, callbacks=[record])
    assert record.steps == EXPECTED[3:]
    assert record.iterations == [(n, n) for n in EXPECTED_ITERATIONS[3:]]  # the resets resume exactly too
    full = grown["model"]
    assert int(resumed.images_seen.numpy()) == 28
    # Same data, same restored random stream and optimizer state: the uninterrupted weights.
    for a, b in zip(resumed.generator.weights + resumed.discriminator.weights,
                    full.generator.weights + full.discriminator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=a.path)


def _optimizer_state(model):
    return [v.numpy() for opt in (model.g_optimizer, model.d_optimizer) for v in opt.variables]


def test_new_level_of_detail_trains_with_fresh_optimizers(tmp_path):
    """The official code (reset_opt_for_new_lod) re-initialises both Adam optimizers, moments and
    bias correction, when a fade-in starts and when it ends (EXPECTED_ITERATIONS): the step that
    starts a fade-in must equal that step taken with freshly initialised optimizers."""
    steps_before = 1
    model = _model()
    model.run_eagerly = True  # (the compiled step's reset: test_model_grows_inside_fit_without_retracing)
    model.fit(_one_batch_dataset(), epochs=1, steps_per_epoch=steps_before, verbose=0)
    before = EXPECTED[steps_before - 1]
    assert before != EXPECTED[steps_before] and int(model.g_optimizer.iterations.numpy()) > 0
    assert any(np.abs(v).max() > 0 for v in _optimizer_state(model)[2:]), "Adam's moments should be non-zero here"
    model.save(tmp_path / "before.keras")
    grown, fresh = (keras.saving.load_model(tmp_path / "before.keras") for _ in range(2))
    for opt in (fresh.g_optimizer, fresh.d_optimizer):  # what a re-initialised optimizer holds
        for v in opt.variables:
            if v is not opt._learning_rate:
                v.assign(np.zeros(v.shape, v.dtype))
    for m in (grown, fresh):
        m.run_eagerly = True
        m.fit(_one_batch_dataset(), epochs=1, steps_per_epoch=1, verbose=0)
    assert int(grown.g_optimizer.iterations.numpy()) == int(grown.d_optimizer.iterations.numpy()) == 1
    for a, b in zip(_optimizer_state(grown), _optimizer_state(fresh)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    for a, b in zip(grown.weights, fresh.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7, err_msg=a.path)
    assert float(grown.g_optimizer.learning_rate.numpy()) == pytest.approx(1e-3)  # the rate is not state


def test_reset_keeps_learning_rate_and_loss_scale_and_refuses_schedules():
    from ganzoo.models.pggan import reset_optimizer_state

    var = keras.Variable(np.ones(3, np.float32))
    opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(0.01))
    opt.build([var])
    opt.apply([tf.ones(3) * opt.dynamic_scale], [var])
    scale = float(opt.dynamic_scale.numpy())
    reset_optimizer_state([opt], tf.constant(False))
    assert int(opt.iterations.numpy()) == 1
    reset_optimizer_state([opt], tf.constant(True))
    assert int(opt.iterations.numpy()) == 0
    inner = opt.inner_optimizer
    assert all(not np.any(v.numpy()) for v in inner.variables if v is not inner._learning_rate)
    assert float(opt.learning_rate.numpy()) == pytest.approx(0.01) and float(opt.dynamic_scale.numpy()) == scale

    model, config = _model_and_config()
    schedule = keras.optimizers.schedules.PolynomialDecay(1e-3, 100)
    with pytest.raises(ValueError, match="constant learning rate"):
        model.compile(g_optimizer=keras.optimizers.Adam(schedule), d_optimizer=keras.optimizers.Adam(1e-3))
    with pytest.raises(ConfigError, match="train.lr_schedule"):
        ganzoo.get_config("pggan_mnist", **{"train.lr_schedule": "linear", "train.decay_steps": 100})


def test_generate_at_finished_phases_only(grown):
    model = keras.saving.load_model(grown["step2"])  # phase 1, alpha 0
    assert model.generate(2, seed=1).shape == (2, 16, 16, 1)  # current phase, upsampled
    assert model.generate(2, seed=1, native_resolution=True).shape == (2, 8, 8, 1)
    old = model.generate(2, seed=1, phase=0, native_resolution=True)
    assert old.shape == (2, 4, 4, 1)
    # At alpha 0 the current phase shows exactly the finished phase 0, upsampled.
    np.testing.assert_allclose(model.generate(2, seed=1), np.repeat(np.repeat(old, 4, 1), 4, 2), atol=1e-6)
    with pytest.raises(ValueError, match="not been trained yet"):
        model.generate(2, phase=2)
    with pytest.raises(ValueError, match="phase must be"):
        model.generate(2, phase=7)


def test_mnist_is_padded_to_32_and_config_is_checked():
    config = tiny_config("pggan_mnist")
    with tfds.testing.mock_data(num_examples=8):
        images = next(iter(ganzoo.load_dataset(config, shuffle=False))).numpy()
    assert images.shape == (4, 32, 32, 1)
    border = np.concatenate([images[:, :2].ravel(), images[:, -2:].ravel(), images[:, :, :2].ravel(),
                             images[:, :, -2:].ravel()])
    assert np.all(border == -1.0) and np.any(images[:, 2:-2, 2:-2] > -1.0)
    with pytest.raises(ConfigError, match="power of two"):
        ganzoo.get_config("pggan_mnist", **{"data.image_size": 28, "data.pad": 0})
    with pytest.raises(ConfigError, match="start_resolution"):
        ganzoo.get_config("pggan_mnist", **{"model.start_resolution": 64})
    with pytest.raises(ConfigError, match="WGAN-GP"):
        ganzoo.get_config("pggan_mnist", **{"model.gradient_penalty": 0.0})
    with pytest.raises(ConfigError, match="generator.arch"):
        ganzoo.get_config("pggan_mnist", **{"generator.arch": "dcgan"})
