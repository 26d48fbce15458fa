"""Every registered model class and every registry entry builds, trains on mock data, samples and
survives save/load (through tests/harness.py); the sampling API's own checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganzoo
from ganzoo import model_registry
from ganzoo.builders import build_model, compile_model
from ganzoo.config import NULL
from ganzoo.models import MODEL_CLASSES
from tests.harness import (CLASS_ENTRIES, class_entry, harness_config, is_image_to_image, run_model_saving_test,
                           smoke_size, tiny_entry_config)
from tests.helpers import tiny_config

pytestmark = pytest.mark.both_backends

_np = keras.ops.convert_to_numpy


ENTRIES = ganzoo.list_models()
#: The entries the per-class test runs (one per class); the per-entry test runs the others.
CLASS_TEST_ENTRIES = set(CLASS_ENTRIES.values())


def _networks(name):
    config = ganzoo.get_config(name)
    return config.model.cls, config.generator.arch, config.discriminator.arch


#: After save/load, the per-class test's entry trains on in graph mode: the reloaded model
#: traces its own train_step (and before saving it trains eagerly: the other entries of its
#: class trace the step of a freshly built model). Of the other entries, the first (smallest
#: image size, then name) of each model class and network pair that the per-class test does
#: not cover traces after loading too; the rest train on eagerly: the check there is that the
#: optimizers' state came back with the weights, and the step they run is the same train_step
#: code, already traced for this entry before saving; a second trace cost as much as the first
#: (7-11 s of CPU for a StyleGAN entry). Image-to-image entries other than the class's own run
#: eagerly before saving too: they differ only in data and domain names, and tracing four
#: networks' step costs ~10 s of CPU per entry.
_CLASS_TEST_KEYS = {_networks(n) for n in CLASS_TEST_ENTRIES}
RELOAD_GRAPH_ENTRIES = {min((n for n in ENTRIES if _networks(n) == key),
                            key=lambda n: (ganzoo.get_config(n).data.image_size, n))
                        for key in {_networks(n) for n in ENTRIES} - _CLASS_TEST_KEYS}


def test_every_entry_and_class_has_a_harness_run():
    assert set(CLASS_ENTRIES) == set(MODEL_CLASSES), "CLASS_ENTRIES in tests/harness.py names a class not registered"
    assert {ganzoo.get_config(CLASS_ENTRIES[c]).model.cls for c in CLASS_ENTRIES} == set(CLASS_ENTRIES)
    assert {"srgan_div2k", "cyclegan_monet2photo", "cyclegan_horse2zebra"} <= set(ENTRIES)


def test_a_class_without_a_tiny_config_fails_by_name():
    with pytest.raises(pytest.fail.Exception, match="NewGAN has no tiny config"):
        class_entry("NewGAN")


@pytest.mark.parametrize("cls_name", model_registry.model_class_names())
def test_model_class_trains_saves_loads_and_trains_on(cls_name, tmp_path):
    """The harness over every class of the model registry: a class registered without a tiny
    config in tests/harness.py fails here by name."""
    config = harness_config(class_entry(cls_name), tmp_path)
    assert config.model.cls == cls_name
    run_model_saving_test(config, tmp_path, eager_before=True, eager_after=False)


@pytest.mark.parametrize("name", sorted(set(ENTRIES) - CLASS_TEST_ENTRIES))
def test_entry_trains_samples_and_round_trips(name, tmp_path):
    """Every other registry entry through the same harness (its data, networks and settings)."""
    config = harness_config(name, tmp_path)
    run_model_saving_test(config, tmp_path, eager_before=is_image_to_image(config),
                          eager_after=name not in RELOAD_GRAPH_ENTRIES)


GENERATION_ENTRIES = [n for n in ENTRIES if not is_image_to_image(ganzoo.get_config(n))]
FULL_SIZE_ENTRIES = [n for n in GENERATION_ENTRIES
                     if ganzoo.get_config(n).data.image_size > smoke_size(ganzoo.get_config(n))]


@pytest.mark.parametrize("name", FULL_SIZE_ENTRIES)
def test_full_resolution_networks_build(name, tmp_path):
    """What the smoke test leaves out for entries over 32 px: the networks at the entry's own
    size (tiny widths) make images of that size, and D gives one logit per image."""
    config = tiny_entry_config(name, tmp_path)
    model = build_model(config)
    if hasattr(model, "phase"):  # ProgressiveGAN: judge the fully grown networks
        model.phase.assign(model.num_phases - 1)
    images = model.generate(2, seed=0, use_ema=False)
    size, channels = config.data.image_size, config.data.channels
    assert images.shape == (2, size, size, channels)
    logits = keras.ops.convert_to_numpy(model.discriminator(model.discriminator_inputs(images), training=False))
    assert logits.shape[0] == 2 and logits.size == 2 and np.all(np.isfinite(logits))


def test_load_returns_compiled_model_ready_to_fit():
    model = ganzoo.load("cgan_mnist", **{"generator.filters": 8, "discriminator.filters": 8})
    assert model.compiled
    assert model.num_classes == 10 and model.latent_dim == 100
    assert _np(model.g_optimizer.learning_rate) == pytest.approx(2e-4)


def test_same_seed_same_images_and_different_seed_differs():
    model = ganzoo.load("dcgan_mnist", **{"generator.filters": 8, "discriminator.filters": 8})
    a = model.generate(4, seed=11)
    b = model.generate(4, seed=11)
    c = model.generate(4, seed=12)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_generate_labels_are_respected_and_validated():
    model = ganzoo.load("cgan_mnist", **{"generator.filters": 8, "discriminator.filters": 8})
    assert model.resolve_labels(4, 3).tolist() == [3, 3, 3, 3]
    assert model.resolve_labels(12, None).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    with pytest.raises(ValueError, match="out of range"):
        model.generate(2, labels=[1, 10])
    with pytest.raises(ValueError, match="2 images"):
        model.generate(2, labels=[1, 2, 3])
    with pytest.raises(ValueError, match="positive integer"):
        model.generate(0)
    # Different labels, same latents: different images.
    assert np.abs(model.generate(2, labels=0, seed=1) - model.generate(2, labels=7, seed=1)).max() > 1e-4
    unconditional = ganzoo.load("gan_mnist", **{"generator.hidden": [8], "discriminator.hidden": [8]})
    with pytest.raises(ValueError, match="unconditional"):
        unconditional.generate(2, labels=[1, 2])


def test_truncation_zero_gives_one_image_for_every_seed():
    model = ganzoo.load("dcgan_mnist", **{"generator.filters": 8, "discriminator.filters": 8})
    a = model.generate(2, seed=1, truncation=0.0)
    b = model.generate(2, seed=2, truncation=0.0)
    np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="truncation"):
        model.generate(2, truncation=5.0)


@pytest.mark.parametrize("rampup", [NULL, 0.05], ids=["constant_decay", "ramped_up"])
def test_ema_generator_is_the_moving_average_of_g(rampup):
    config = tiny_config("dcgan_mnist", **{"model.ema_decay": 0.25, "model.ema_rampup": rampup})
    model = build_model(config)
    compile_model(model, config)
    trainable = [i for i, w in enumerate(model.generator.weights) if w.trainable]
    before = [_np(w).copy() for w in model.generator.weights]
    np.testing.assert_array_equal(_np(model.ema_generator.weights[trainable[0]]), before[trainable[0]])
    x = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), epochs=1, verbose=0)  # one G update
    after = [_np(w) for w in model.generator.weights]
    ema = [_np(w) for w in model.ema_generator.weights]
    assert any(np.abs(after[i] - before[i]).max() > 0 for i in trainable)
    # ema = 0.25 * old + 0.75 * new; the ramp-up's first update copies G (tests/models/test_ema.py: the schedule).
    beta = 0.25 if rampup is NULL else 0.0
    for i in trainable:
        np.testing.assert_allclose(ema[i], beta * before[i] + (1 - beta) * after[i], rtol=1e-5, atol=1e-6)
    # Batch-norm statistics are the EMA generator's own, not G's (tests/models/test_ema.py).
    assert all(np.abs(ema[i] - after[i]).max() > 0 for i, w in enumerate(model.generator.weights) if not w.trainable)
    # generate() samples from the EMA generator once it is warm (ramp-up: after its first update;
    # constant decay 0.25: a quarter of the average is still the initial weights, warm after 4
    # updates), else from G; use_ema=True / False force one.
    z = model.latents(2, seed=0)
    ema_images = _np(model.ema_generator(z, training=False))
    raw_images = _np(model.generator(z, training=False))
    np.testing.assert_allclose(model.generate(2, seed=0, use_ema=True), ema_images, atol=1e-6)
    np.testing.assert_allclose(model.generate(2, seed=0, use_ema=False), raw_images, atol=1e-6)
    np.testing.assert_allclose(model.generate(2, seed=0), raw_images if rampup is NULL else ema_images, atol=1e-6)
    assert np.abs(ema_images - raw_images).max() > 0


def test_wgan_needs_n_critic_minibatches():
    config = tiny_config("wgan_gp_mnist")
    model = build_model(config)
    compile_model(model, config)
    x = np.zeros((7, 28, 28, 1), "float32")
    with pytest.raises(ValueError, match="n_critic"):  # static batch size: caught while tracing
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(7, drop_remainder=True), epochs=1, verbose=0)
    # Unknown batch size: TensorFlow checks at run time; on JAX every traced shape is concrete,
    # so the same batch is refused while tracing.
    error = ValueError if keras.backend.backend() == "jax" else tf.errors.InvalidArgumentError
    with pytest.raises(error, match="n_critic"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(7), epochs=1, verbose=0)


def test_wgan_weight_clipping_bounds_critic():
    config = tiny_config("wgan_mnist", **{"train.batch_size": 2})
    model = build_model(config)
    compile_model(model, config)
    x = np.random.default_rng(0).uniform(-1, 1, (10, 28, 28, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(10), epochs=1, verbose=0)
    for v in model.discriminator.trainable_variables:
        assert float(np.abs(_np(v)).max()) <= 0.01 + 1e-7, v.path


def test_class_interpolation_endpoints_match_labels():
    model = ganzoo.load("cgan_mnist", **{"generator.filters": 8, "discriminator.filters": 8})
    frames = model.interpolate_classes(1, 5, steps=4, seed=3)
    assert frames.shape == (4, 28, 28, 1)
    np.testing.assert_allclose(frames[0], model.generate(1, labels=1, seed=3)[0], atol=1e-5)
    np.testing.assert_allclose(frames[-1], model.generate(1, labels=5, seed=3)[0], atol=1e-5)


def test_models_refuse_mismatched_networks():
    from ganzoo.models import GAN

    cond = tiny_config("cgan_mnist")
    uncond = tiny_config("dcgan_mnist")
    cond_model = build_model(cond)
    with pytest.raises(ValueError, match="input"):
        GAN(cond_model.generator, build_model(uncond).discriminator)
    big = tiny_config("dcgan_cifar10")
    with pytest.raises(ValueError, match="shape"):
        GAN(build_model(uncond).generator, build_model(big).discriminator)
