"""Every registered entry builds, trains on mock data, samples and survives save/load."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import ganzoo
from ganzoo.builders import build_model, compile_model
from ganzoo.config import NULL
from ganzoo.models import MODEL_CLASSES
from tests.helpers import tiny_config


def _task(name):
    """``image2image`` for SRGAN/CycleGAN entries (pairs in, images out), else ``generation``."""
    return getattr(MODEL_CLASSES[ganzoo.get_config(name).model.cls], "task", "generation")


GENERATION_ENTRIES = [n for n in ganzoo.list_models() if _task(n) == "generation"]
IMAGE_TO_IMAGE_ENTRIES = [n for n in ganzoo.list_models() if _task(n) == "image2image"]
#: The first image-to-image entry of each class trains in graph mode (what ``fit`` normally
#: runs); the others, which differ only in data and domain names, run the same train_step
#: eagerly, because tracing four networks' step costs ~10 s of CPU per entry.
GRAPH_ENTRIES = {min(n for n in IMAGE_TO_IMAGE_ENTRIES if ganzoo.get_config(n).model.cls == cls)
                 for cls in {ganzoo.get_config(n).model.cls for n in IMAGE_TO_IMAGE_ENTRIES}}


def test_every_entry_has_a_smoke_test():
    assert sorted(GENERATION_ENTRIES + IMAGE_TO_IMAGE_ENTRIES) == ganzoo.list_models()
    assert {"srgan_div2k", "cyclegan_monet2photo", "cyclegan_horse2zebra"} <= set(IMAGE_TO_IMAGE_ENTRIES)


def tiny_entry_config(name, tmp_path):
    """The tiny config of an entry; entries that read a folder of the user's images
    (``data.source: folder``) get a folder of 12 generated PNGs of mixed sizes in ``tmp_path``."""
    config = tiny_config(name)
    if config.data.source != "folder":
        return config
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        size = (20 + 4 * (i % 3), 24)
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return tiny_config(name, **{"data.path": str(folder)})


#: The smoke test trains entries of more than 32 px at 32 px: the training scheme, losses and
#: layers are the entry's own, with fewer up/downsampling blocks (tracing a 128 px StyleGAN step
#: alone cost minutes of CPU). test_full_resolution_networks_build checks the full size.
SMOKE_MAX_SIZE = 32
#: StyleGAN and ProgressiveGAN entries train at 16 px (4 -> 8 -> 16): tracing their step is
#: what the test pays for (7-11 s of CPU for a StyleGAN entry's first fit at 32 px, against
#: ~1 s for the same step run eagerly), and it grows with every resolution level
#: (ProgressiveGAN traces a branch per level: its first fit cost 6.3 s at 32 px, 3.6 s at
#: 16 px). Each level above 8 px is the same block again (the tiny width is 8 channels at
#: every level), so 16 px still runs every layer kind, style mixing, lazy R1, ADA and a growth
#: step through a fade-in. Training at 16 px is what tests/test_stylegan.py and
#: tests/test_pggan.py do too; the entries' own sizes are checked by
#: test_full_resolution_networks_build, and the slow proof grows pggan_mnist to 32 px.
SMOKE_SIZE_BY_CLASS = {"StyleGAN": 16, "ProgressiveGAN": 16}


def smoke_size(config) -> int:
    """The image size an entry's smoke test trains at (its own size when that is smaller)."""
    return min(config.data.image_size, SMOKE_SIZE_BY_CLASS.get(config.model.cls, SMOKE_MAX_SIZE))


FULL_SIZE_ENTRIES = [n for n in GENERATION_ENTRIES
                     if ganzoo.get_config(n).data.image_size > smoke_size(ganzoo.get_config(n))]


def _networks(name):
    config = ganzoo.get_config(name)
    return config.model.cls, config.generator.arch, config.discriminator.arch


#: After save/load, the first entry (smallest image size, then name) of each model class and
#: network pair trains on in graph mode: the reloaded model traces its own train_step. The
#: other entries of that class and those networks train on eagerly: the check there is that the
#: optimizers' state came back with the weights, and the step they run is the same train_step
#: code, already traced for this entry before saving; a second trace cost as much as the first
#: (7-11 s of CPU for a StyleGAN entry).
RELOAD_GRAPH_ENTRIES = {min((n for n in GENERATION_ENTRIES if _networks(n) == key),
                            key=lambda n: (ganzoo.get_config(n).data.image_size, n))
                        for key in {_networks(n) for n in GENERATION_ENTRIES}}


@pytest.mark.parametrize("name", GENERATION_ENTRIES)
def test_entry_trains_samples_and_round_trips(name, tmp_path):
    config = tiny_entry_config(name, tmp_path)
    if config.data.image_size > smoke_size(config):
        config = ganzoo.get_config(config, **{"data.image_size": smoke_size(config)})
    with tfds.testing.mock_data(num_examples=48):
        ds = ganzoo.load_dataset(config)
        model = build_model(config)
        compile_model(model, config)
        history = model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
    for key, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name}: {key} is not finite: {values}"
    assert {"d_loss", "g_loss"} <= set(history.history)
    # ProgressiveGAN's optimizers restart at each new level of detail: the tiny config's second
    # step starts a fade-in and the third ends it (tests/test_pggan.py).
    steps = (1, 1) if config.model.cls == "ProgressiveGAN" else (2, 3)
    assert int(model.g_optimizer.iterations.numpy()) == steps[0]
    images = model.generate(5, seed=3)
    size, channels = config.data.image_size, config.data.channels
    assert images.shape == (5, size, size, channels)
    assert images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.std() > 0, "generator output is constant"

    path = tmp_path / f"{name}.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert type(again) is type(model)
    np.testing.assert_allclose(again.generate(5, seed=3), images, atol=1e-6)
    # Trains on without compile(): the optimizers' state came back with the weights.
    assert int(again.g_optimizer.iterations.numpy()) == steps[0]
    again.run_eagerly = name not in RELOAD_GRAPH_ENTRIES
    with tfds.testing.mock_data(num_examples=48):
        again.fit(ganzoo.load_dataset(config), epochs=1, steps_per_epoch=1, verbose=0)
    assert int(again.g_optimizer.iterations.numpy()) == steps[1]


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
    assert model.g_optimizer.learning_rate.numpy() == pytest.approx(2e-4)


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
    before = [w.numpy().copy() for w in model.generator.weights]
    np.testing.assert_array_equal(model.ema_generator.weights[trainable[0]].numpy(), before[trainable[0]])
    x = np.random.default_rng(0).uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), epochs=1, verbose=0)  # one G update
    after = [w.numpy() for w in model.generator.weights]
    ema = [w.numpy() for w in model.ema_generator.weights]
    assert any(np.abs(after[i] - before[i]).max() > 0 for i in trainable)
    # ema = 0.25 * old + 0.75 * new; the ramp-up's first update copies G (tests/test_ema.py: the schedule).
    beta = 0.25 if rampup is NULL else 0.0
    for i in trainable:
        np.testing.assert_allclose(ema[i], beta * before[i] + (1 - beta) * after[i], rtol=1e-5, atol=1e-6)
    # Batch-norm statistics are the EMA generator's own, not G's (tests/test_ema.py).
    assert all(np.abs(ema[i] - after[i]).max() > 0 for i, w in enumerate(model.generator.weights) if not w.trainable)
    # generate() samples from the EMA generator once it is warm (ramp-up: after its first update;
    # constant decay 0.25: a quarter of the average is still the initial weights, warm after 4
    # updates), else from G; use_ema=True / False force one.
    z = model.latents(2, seed=0)
    ema_images = model.ema_generator(z, training=False).numpy()
    raw_images = model.generator(z, training=False).numpy()
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
    with pytest.raises(tf.errors.InvalidArgumentError, match="n_critic"):  # unknown batch size: at run time
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(7), epochs=1, verbose=0)


def test_wgan_weight_clipping_bounds_critic():
    config = tiny_config("wgan_mnist", **{"train.batch_size": 2})
    model = build_model(config)
    compile_model(model, config)
    x = np.random.default_rng(0).uniform(-1, 1, (10, 28, 28, 1)).astype("float32")
    model.fit(tf.data.Dataset.from_tensor_slices(x).batch(10), epochs=1, verbose=0)
    for v in model.discriminator.trainable_variables:
        assert float(np.abs(v.numpy()).max()) <= 0.01 + 1e-7, v.path


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


@pytest.mark.parametrize("name", IMAGE_TO_IMAGE_ENTRIES)
def test_image_to_image_entry_trains_transforms_and_round_trips(name, tmp_path):
    """The image-to-image counterpart: fit on mock pairs, transform a batch, save/load, train on."""
    config = tiny_config(name)
    with tfds.testing.mock_data(num_examples=48):
        ds = ganzoo.load_dataset(config)
        source, target = (x.numpy() for x in next(iter(ds)))
        model = build_model(config)
        compile_model(model, config)
        model.run_eagerly = name not in GRAPH_ENTRIES
        history = model.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
    for key, values in history.history.items():
        assert np.all(np.isfinite(values)), f"{name}: {key} is not finite: {values}"
    assert {"d_loss", "g_loss"} <= set(history.history)
    assert int(model.g_optimizer.iterations.numpy()) == 2
    assert int(model.d_optimizer.iterations.numpy()) >= 1
    size = config.data.image_size
    scale = config.data.scale if config.model.cls == "SRGAN" else 1
    channels = config.data.channels  # 3, or 1 for srgan_mnist
    assert target.shape == (4, size, size, channels)
    assert source.shape == (4, size // scale, size // scale, channels)
    assert source.min() >= -1.0 and source.max() <= 1.0 and target.min() >= -1.0 and target.max() <= 1.0
    out = keras.ops.convert_to_numpy(model(source, training=False))
    assert out.shape == target.shape and out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
    assert out.std() > 0, "generator output is constant"

    path = tmp_path / f"{name}.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert type(again) is type(model)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(source, training=False)), out, atol=1e-6)
    # Trains on without compile(): the optimizers' state came back with the weights. (The graph
    # path was traced above; eager keeps this second check fast.)
    assert int(again.g_optimizer.iterations.numpy()) == 2
    again.run_eagerly = True
    with tfds.testing.mock_data(num_examples=48):
        again.fit(ganzoo.load_dataset(config), epochs=1, steps_per_epoch=1, verbose=0)
    assert int(again.g_optimizer.iterations.numpy()) == 3
