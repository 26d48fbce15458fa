"""The EMA generator: StyleGAN2-ADA's ramp-up (golden values), batch-norm statistics of its own
weights, re-estimating them, and its update count surviving save/load and old files."""

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import ganzoo
from ganzoo.builders import build_model, compile_model
from ganzoo.config import NULL, ConfigError
from ganzoo.models.base import batch_norm_layers, ema_beta
from tests.helpers import tiny_config

# Passes on JAX too (KERAS_BACKEND=jax pytest -m "" this file); not in CI's JAX phase, which
# keeps to the harness, the losses and the backend-specific tests to stay within its time.

_np = keras.ops.convert_to_numpy


def _beta(t, decay=0.999, rampup=0.05):
    return float(ema_beta(t, decay, rampup))


def test_ema_rampup_golden_values():
    # decay 0.999: half-life ln 0.5 / ln 0.999 = 692.80 steps, capped at 0.05 * t while ramping.
    assert _beta(0) == 0.0  # the first update copies G: the random initial weights are gone
    np.testing.assert_allclose([_beta(t) for t in (1, 10, 100, 1000, 13000)],
                               [0.5 ** 20, 0.25, 0.5 ** 0.2, 0.5 ** 0.02, 0.5 ** (1 / 650)], rtol=1e-6)
    assert _beta(14000) == pytest.approx(0.999, rel=1e-7) and _beta(10 ** 7) == pytest.approx(0.999, rel=1e-7)
    assert all(_beta(t, rampup=None) == pytest.approx(0.999, rel=1e-7) for t in (0, 1, 10 ** 6))  # no ramp-up
    model = build_model(tiny_config("dcgan_mnist"))
    assert model.ema_state.rampup_steps == 13857  # ceil(692.80 / 0.05)
    # StyleGAN2-ADA's training loop at batch 32, ema_kimg 10, ema_rampup 0.05 (its cur_nimg is the
    # images seen before the update): the same betas from the per-step decay 0.5 ** (32 / 10000).
    for t in (0, 1, 7, 50, 1000, 6249, 6250, 6251, 10 ** 5):
        ema_nimg = min(10_000, 32 * t * 0.05)
        reference = 0.5 ** (32 / max(ema_nimg, 1e-8))
        assert _beta(t, decay=0.5 ** (32 / 10_000)) == pytest.approx(reference, rel=1e-6, abs=1e-12), t


def test_ema_rampup_is_a_checked_config_key():
    assert ganzoo.get_config("dcgan_mnist").model.ema_rampup == 0.05
    assert build_model(tiny_config("dcgan_mnist", **{"model.ema_rampup": NULL})).ema_rampup is None
    with pytest.raises(ConfigError, match="model.ema_rampup"):
        ganzoo.get_config("dcgan_mnist", **{"model.ema_rampup": 0.0})
    with pytest.raises(ConfigError, match="model.ema_rampup.*model.ema_decay set"):  # nothing to ramp up
        ganzoo.get_config("dcgan_mnist", **{"model.ema_decay": NULL, "model.ema_rampup": 0.1})
    model = build_model(tiny_config("dcgan_mnist"))
    with pytest.raises(ValueError, match=r"ema_rampup: must be > 0 .*got -1.0$"):  # the model checks too
        type(model)(model.generator, model.discriminator, ema_decay=0.999, ema_rampup=-1.0)


def _random_images(n=64, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 28, 28, 1)).astype("float32")


@pytest.fixture(scope="module")
def trained():
    """Tiny dcgan_mnist (batch norm in G, ema_decay 0.999, default ramp-up) after 200 steps on
    random images, with the EMA generator's images of fixed latents before and after."""
    config = tiny_config("dcgan_mnist")
    model = build_model(config)
    compile_model(model, config)
    z = model.latents(32, seed=1)
    initial = model.generate_from_latents(z)
    dataset = tf.data.Dataset.from_tensor_slices(_random_images()).repeat().batch(4)
    model.fit(dataset, epochs=1, steps_per_epoch=200, verbose=0)
    return dict(model=model, z=z, initial=initial)


def test_ema_generator_follows_the_generator_after_200_steps(trained):
    model, z = trained["model"], trained["z"]
    assert int(_np(model.ema_state.updates)) == 200
    ema, raw = model.generate_from_latents(z), model.generate_from_latents(z, use_ema=False)
    rms = lambda a, b: float(np.sqrt(np.mean((a - b) ** 2)))  # noqa: E731
    # Measured: 0.04 vs 0.32. Without the ramp-up (decay 0.999 from step 0) the average still holds
    # 0.999 ** 200 = 82% of the initial weights and its images stay nearer the initial ones.
    assert rms(ema, raw) < 0.5 * rms(ema, trained["initial"]), (rms(ema, raw), rms(ema, trained["initial"]))


def _bn_inputs(net, layers, inputs):
    """The inputs of ``layers`` in ``net`` run in training mode (this updates their statistics too)."""
    probe = keras.Model(net.inputs, [layer.input for layer in layers])
    return [_np(a) for a in probe([inputs], training=True)]


def _moments(x):
    axes = tuple(range(x.ndim - 1))
    return x.mean(axis=axes), x.var(axis=axes)


def test_ema_batch_norm_statistics_are_its_own(trained):
    """After an EMA update, each batch-norm layer of the EMA generator has moved its statistics
    towards the batch statistics of the EMA generator's own activations (not copied G's)."""
    model = trained["model"]
    layers = batch_norm_layers(model.ema_generator)
    assert len(layers) == 2
    g_layers = batch_norm_layers(model.generator)
    old = [(_np(layer.moving_mean), _np(layer.moving_variance)) for layer in layers]
    z = tf.constant(model.latents(16, seed=7))
    model.update_ema(z)
    new = [(_np(layer.moving_mean), _np(layer.moving_variance)) for layer in layers]
    activations = _bn_inputs(model.ema_generator, layers, z)  # with the weights update_ema left
    for layer, g_layer, (old_mean, old_var), (mean, var), x in zip(layers, g_layers, old, new, activations):
        m = layer.momentum
        batch_mean, batch_var = _moments(x)
        np.testing.assert_allclose(mean, m * old_mean + (1 - m) * batch_mean, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(var, m * old_var + (1 - m) * batch_var, rtol=1e-4, atol=1e-6)
        assert np.abs(mean - _np(g_layer.moving_mean)).max() > 1e-4, "the EMA generator copied G's statistics"


def test_reestimate_batch_norm_averages_its_own_batch_statistics(trained):
    model = trained["model"]
    layers = batch_norm_layers(model.ema_generator)
    before = model.generate_from_latents(trained["z"])
    assert model.reestimate_batch_norm(batches=3, batch_size=8, seed=5) == 2
    assert [layer.momentum for layer in layers] == [0.9, 0.9]  # restored
    got = [(_np(layer.moving_mean), _np(layer.moving_variance)) for layer in layers]
    rng = np.random.default_rng(5)  # the draws reestimate_batch_norm makes
    batches = [_bn_inputs(model.ema_generator, layers, rng.standard_normal((8, model.latent_dim)).astype("float32"))
               for _ in range(3)]
    for i, (mean, var) in enumerate(got):
        moments = [_moments(b[i]) for b in batches]
        np.testing.assert_allclose(mean, np.mean([mu for mu, _ in moments], axis=0), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(var, np.mean([v for _, v in moments], axis=0), rtol=1e-4, atol=1e-6)
    assert np.abs(model.generate_from_latents(trained["z"]) - before).max() > 0
    with pytest.raises(ValueError, match="batches"):
        model.reestimate_batch_norm(batches=0)
    progressive = build_model(tiny_config("pggan_mnist"))
    assert progressive.reestimate_batch_norm(batches=1) == 0  # no batch norm (pixel norm): nothing to do


def test_ema_update_count_survives_save_load_and_old_files(tmp_path):
    config = tiny_config("dcgan_mnist")
    model = build_model(config)
    compile_model(model, config)
    model.run_eagerly = True  # (the compiled step: the fixture above and tests/test_resume.py)
    dataset = tf.data.Dataset.from_tensor_slices(_random_images(16)).repeat().batch(4)
    model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0)
    model.save(tmp_path / "model.keras")
    again = keras.saving.load_model(tmp_path / "model.keras")
    assert int(_np(again.ema_state.updates)) == 3 and again.ema_rampup == 0.05
    again.run_eagerly = True
    again.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0)
    assert int(_np(again.ema_state.updates)) == 5

    # A file written before the update count existed loads, and its average continues at the full
    # decay; a saved config without ema_rampup (an older model) keeps averaging without ramp-up.
    model.save_weights(tmp_path / "old.weights.h5")
    with h5py.File(tmp_path / "old.weights.h5", "r+") as f:
        del f["ema_state"]
    fresh = build_model(config)
    fresh.load_weights(tmp_path / "old.weights.h5")
    assert int(_np(fresh.ema_state.updates)) == fresh.ema_state.rampup_steps
    old_config = {k: v for k, v in model.get_config().items() if k != "ema_rampup"}
    assert type(model).from_config(old_config).ema_rampup is None
