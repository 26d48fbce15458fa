"""StyleGAN: truncation in W, style mixing regularisation, lazy R1, w average, noise, the
style-layer groups, projection, and save/load. (An EMA decay of 0.5 lets four steps show.)"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganzoo
from ganzoo import art
from ganzoo.builders import build_model, compile_model
from ganzoo.config import ConfigError
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
    np.testing.assert_array_equal(again.w_avg.numpy(), model.w_avg.numpy())
    np.testing.assert_allclose(again.generate(2, seed=3, truncation=0.7), model.generate(2, seed=3, truncation=0.7),
                               atol=1e-6)
    np.testing.assert_allclose(art.noise_variations(again, seed=1, n=2)[0], art.noise_variations(model, seed=1, n=2)[0],
                               atol=1e-6)
    assert int(again.d_optimizer.iterations.numpy()) == 4


def test_config_checks():
    with pytest.raises(ConfigError, match="style_mixing_prob"):
        ganzoo.get_config("stylegan_mnist", **{"model.style_mixing_prob": 1.5})
    with pytest.raises(ConfigError, match="Wasserstein"):
        ganzoo.get_config("stylegan_mnist", **{"model.loss": "wasserstein"})
    with pytest.raises(ConfigError, match="discriminator.arch"):
        ganzoo.get_config("stylegan_mnist", **{"discriminator.arch": "pggan"})
