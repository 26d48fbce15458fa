"""ProgressiveGAN: the growth schedule, every phase's shapes, fade-in, growth and resume
inside ``fit``, the optimizer reset at each new level of detail, sampling at finished phases,
and MNIST's 28 -> 32 padding. Every test runs on the backend of the process (TensorFlow or
``KERAS_BACKEND=jax``); :func:`test_jax_and_tensorflow_steps_follow_the_same_schedule_and_trend`
trains the same model on the other backend in a subprocess and compares."""

import json
import os
import subprocess
import sys

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
from tests.helpers import CHECKOUT_PYTHONPATH, REPO, tiny_config

# Passes on JAX too (KERAS_BACKEND=jax pytest -m "" this file); not in CI's JAX phase, which
# keeps to the harness, the losses and the backend-specific tests to stay within its time.

BACKEND = keras.backend.backend()

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
        self.losses = []  # (d_loss, g_loss, gp) per step (the epoch's means)

    def on_train_batch_end(self, batch, logs=None):
        if BACKEND == "jax":  # the step's new state lives in the trainer until synced
            self.model.jax_state_sync()
        self.steps.append((int(logs["phase"]), round(float(logs["alpha"]), 6)))
        self.iterations.append((int(self.model.g_optimizer.iterations.numpy()),
                                int(self.model.d_optimizer.iterations.numpy())))
        self.losses.append(tuple(float(logs[key]) for key in ("d_loss", "g_loss", "gp")))


_np = keras.ops.convert_to_numpy


class _np_call:
    """A progressive network body whose ``call`` and ``grow`` return NumPy arrays (either backend)."""

    def __init__(self, layer):
        self.layer = layer

    def __call__(self, *args, **kwargs):
        return _np(self.layer(*args, **kwargs))

    def grow(self, *args, **kwargs):
        return _np(self.layer.grow(*args, **kwargs))


def _input_gradient(fn, x):
    """Gradient of the scalar ``fn(x)`` with respect to the array ``x`` (outside a step)."""
    if BACKEND == "jax":
        import jax
        return np.asarray(jax.grad(fn)(keras.ops.convert_to_tensor(x)))
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = fn(x)
    return tape.gradient(out, x).numpy()


def test_growth_schedule_golden_values():
    def at(n, fade=8, stable=4, phases=3):
        phase, alpha = growth_schedule(n, phases, fade, stable)
        return int(phase), round(float(alpha), 6)

    assert [at(4 * k) for k in range(7)] == EXPECTED
    assert at(3) == (0, 1.0) and at(10) == (1, 0.75) and at(10 ** 9) == (2, 1.0)
    assert at(16 + 4 + 3, fade=0) == (2, 1.0) and at(4, fade=0) == (1, 1.0)  # no fade: instant growth
    assert at(5, phases=1) == (0, 1.0)  # a single phase never grows
    # The paper's 800k-image phases, on either backend (JAX counts in 32 bits): each phase
    # boundary to the image, alpha's first step.
    paper = dict(fade=800_000, stable=800_000, phases=7)
    assert at(800_000 + 1_600_000 - 1, **paper) == (1, 1.0) and at(800_000 + 1_600_000, **paper) == (2, 0.0)
    assert at(800_000 + 5 * 1_600_000 - 1, **paper) == (5, 1.0) and at(800_000 + 5 * 1_600_000, **paper) == (6, 0.0)
    assert float(growth_schedule(800_000 + 1_600_000 + 1, 7, 800_000, 800_000)[1]) == np.float32(1 / 800_000)


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
    G, D = _np_call(model.generator.get_layer("progressive_generator")), \
        _np_call(model.discriminator.get_layer("progressive_discriminator"))
    z = model.latents(4, seed=0)
    for level, res in enumerate([4, 8, 16]):
        images = G(z, level=level)
        assert images.shape == (4, res, res, 1)
        assert D(images, level=level).shape == (4, 1)
    for level in (1, 2):
        # G: at alpha 0 the new block is invisible: the previous phase's image, upsampled.
        np.testing.assert_allclose(G(z, level=level, alpha=0.0), _np(upsample2x(G(z, level=level - 1))), atol=1e-6)
        np.testing.assert_allclose(G(z, level=level, alpha=1.0), G(z, level=level), atol=1e-6)
        assert np.abs(G(z, level=level, alpha=0.5) - G(z, level=level)).max() > 1e-4
        # D: at alpha 0 it judges the 2x-downsampled images with the previous phase's network.
        x = G(z, level=level)
        np.testing.assert_allclose(D(x, level=level, alpha=0.0), D(downsample(x, 2), level=level - 1),
                                   rtol=1e-5, atol=1e-5)
    # Training runs every block at full resolution with the unused ones gated off (grow):
    # the same images and logits as running the level's own blocks.
    for level, alpha in ((0, 1.0), (1, 0.3), (2, 0.0), (2, 1.0)):
        native = G(z, level=level, alpha=alpha)
        np.testing.assert_allclose(G.grow(z, level, alpha), _np(upsample_to(native, 16)), atol=1e-5)
        np.testing.assert_allclose(D.grow(upsample_to(native, 16), level, alpha),
                                   D(native, level=level, alpha=alpha), rtol=1e-4, atol=1e-5)
    # ... and the critic's input gradient norm at the phase's resolution is what the penalty sees.
    body = D.layer
    native = G(z, level=1)
    want = _input_gradient(lambda x: keras.ops.sum(body(x, level=1, alpha=0.6)), native)
    want = np.sqrt(np.sum(want ** 2, axis=(1, 2, 3)))
    factor = 2.0  # 8x8 phase images travel as 16x16 copies
    u = _np(upsample_to(native, 16)) / factor
    got = _input_gradient(lambda x: keras.ops.sum(body.grow(x * factor, 1, 0.6)), u)
    got = np.sqrt(np.sum(got ** 2, axis=(1, 2, 3)))
    np.testing.assert_allclose(got, want, rtol=1e-4)
    # Reals fade exactly like fakes: at alpha 0 they are the previous phase's reals, upsampled.
    x = np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(_np(model.real_images(x, 1, 0.0)), _np(upsample2x(downsample(x, 4))), atol=1e-6)
    np.testing.assert_allclose(_np(model.real_images(x, 2, 1.0)), x, atol=1e-6)
    np.testing.assert_allclose(_np(model.grown_reals(x, 1, 0.25)),
                               _np(upsample_to(model.real_images(x, 1, 0.25), 16)), atol=1e-6)


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
    grads = [keras.ops.ones(3) * opt.dynamic_scale]
    if BACKEND == "jax":  # Keras's LossScaleOptimizer applies statelessly on JAX (as inside a step)
        _, values = opt.stateless_apply([v.value for v in opt.variables], grads, [var.value])
        for v, value in zip(opt.variables, values):
            v.assign(value)
    else:
        opt.apply(grads, [var])
    scale = float(opt.dynamic_scale.numpy())
    reset_optimizer_state([opt], keras.ops.convert_to_tensor(False))
    assert int(opt.iterations.numpy()) == 1
    reset_optimizer_state([opt], keras.ops.convert_to_tensor(True))
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


# ------------------------------------------------------------------ TensorFlow and JAX

#: Fixed inputs of the cross-backend forward check: latents, images at full resolution.
_PROBE_Z = np.random.default_rng(7).normal(size=(4, 8)).astype("float32")
_PROBE_X = np.random.default_rng(8).uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
_PROBE_LEVELS = ((0, 1.0), (1, 0.25), (2, 0.5), (2, 1.0))


def _cross_backend_run(weights: str, out: str) -> dict:
    """The tiny 16 px model with the initial weights in ``weights`` (a .weights.h5 file): its
    networks' outputs and critic input-gradients on fixed probes at each (level, alpha) of
    :data:`_PROBE_LEVELS`, then 7 one-step epochs of ``fit`` on one fixed batch (phase, alpha,
    optimizer step counts and losses per step). Written to ``out`` as JSON; run on either
    backend (the test starts the other one in a subprocess)."""
    model, _ = _model_and_config()
    model.load_weights(weights)
    G = model.generator.get_layer("progressive_generator")
    D = model.discriminator.get_layer("progressive_discriminator")
    probes = {}
    for level, alpha in _PROBE_LEVELS:
        key = f"{level}/{alpha}"
        probes[f"G {key}"] = _np(G.grow(_PROBE_Z, level, alpha)).tolist()
        probes[f"D {key}"] = _np(D.grow(_PROBE_X, level, alpha)).tolist()
        probes[f"dD/dx {key}"] = _input_gradient(lambda x: keras.ops.sum(D.grow(x, level, alpha)), _PROBE_X).tolist()
    record = _Record()
    model.fit(_one_batch_dataset(), epochs=7, steps_per_epoch=1, verbose=0, callbacks=[record])
    result = dict(backend=BACKEND, probes=probes, steps=record.steps, iterations=record.iterations,
                  losses=record.losses, images_seen=int(model.images_seen.numpy()))
    with open(out, "w") as f:
        json.dump(result, f)
    return result


@pytest.mark.slow  # the other backend's run in a subprocess (~40 s of CPU, mostly imports and tracing)
def test_jax_and_tensorflow_steps_follow_the_same_schedule_and_trend(tmp_path):
    """The same initial weights and data trained on this backend and on the other one (a
    subprocess with KERAS_BACKEND set): the networks agree on fixed probes (outputs and the
    critic's input gradient, within float32 tolerance), the step crosses the same growth
    schedule with the same optimizer restarts, and the losses follow the same trend. The
    random streams (z, the penalty's interpolation weights) differ between backends, and with
    batches of 4 a step's losses are mostly that noise (the first critic loss of one start was
    0.61 on JAX, 1.48 on TensorFlow), so the losses are compared as courses, not per step: the
    critic loss and the penalty follow the growth schedule alike (correlation over the 7 steps
    > 0.8; measured 0.98 from two starts) with means within 25% (measured 0.2-4%), and the
    generator loss's mean is within 0.5 (measured 0.02)."""
    other = "jax" if BACKEND == "tensorflow" else "tensorflow"
    model, _ = _model_and_config()
    weights = tmp_path / "initial.weights.h5"
    model.save_weights(weights)
    env = {**os.environ, "KERAS_BACKEND": other, "PYTHONPATH": CHECKOUT_PYTHONPATH}
    code = "import sys; from tests.models.test_pggan import _cross_backend_run as run; run(sys.argv[1], sys.argv[2])"
    proc = subprocess.run([sys.executable, "-c", code, str(weights), str(tmp_path / "other.json")], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    here = _cross_backend_run(str(weights), str(tmp_path / "here.json"))
    there = json.loads((tmp_path / "other.json").read_text())
    assert there["backend"] == other and here["backend"] == BACKEND
    for key, value in here["probes"].items():
        np.testing.assert_allclose(np.asarray(value), np.asarray(there["probes"][key]), rtol=1e-4, atol=1e-5,
                                   err_msg=key)
    # One schedule (through all three phases), one set of optimizer restarts.
    assert here["steps"] == [tuple(s) for s in there["steps"]] == EXPECTED
    assert here["iterations"] == [tuple(i) for i in there["iterations"]] == [(n, n) for n in EXPECTED_ITERATIONS]
    assert here["images_seen"] == there["images_seen"] == 28
    a, b = np.asarray(here["losses"]), np.asarray(there["losses"])
    print(f"(d_loss, g_loss, gp) per step\n{BACKEND}: {np.round(a, 4).tolist()}\n{other}: {np.round(b, 4).tolist()}")
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(b))
    # The critic loss's course over the schedule (it jumps as each block fades in) and the
    # penalty's are the same; measured (d_loss) TensorFlow 1.85 4.60 7.32 6.44 7.82 8.06 5.68,
    # JAX 2.61 5.17 7.17 5.96 7.81 8.32 6.60 from one start; 1.48 4.00 4.03 2.07 4.55 6.88 7.58
    # and 0.61 3.64 4.59 2.07 5.11 6.62 7.90 from another.
    for column, name in ((0, "d_loss"), (2, "gp")):
        assert np.corrcoef(a[:, column], b[:, column])[0, 1] > 0.8, name
        assert abs(a[:, column].mean() - b[:, column].mean()) < 0.25 * max(a[:, column].mean(), b[:, column].mean()), name
    assert abs(a[:, 1].mean() - b[:, 1].mean()) < 0.5, "g_loss"
