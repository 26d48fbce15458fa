"""SRGAN: networks, VGG weights without downloads, the two training phases, tiled upscaling,
SR data pipelines and PSNR/SSIM."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

import keras

import ganzoo
from ganzoo.builders import build_model, compile_model
from ganzoo.data import DataError
from ganzoo.evaluation import sr_metrics
from ganzoo.images import bicubic_downscale
from ganzoo.models import SRGAN
from ganzoo.networks.srresnet import (VGG19_NOTOP_FILE, PixelShuffle, build_srgan_discriminator,
                                      build_srresnet_generator, build_vgg19_features, resolve_vgg19_weights)
from ganzoo.tiling import blend_window, tile_starts, tiled_apply
from tests.helpers import tiny_config


def _tiny_srgan(content_loss="pixel", pretrain_steps=0, filters=8, blocks=1, hr=16, extractor=None):
    keras.utils.set_random_seed(0)
    generator = build_srresnet_generator(scale=4, filters=filters, residual_blocks=blocks)
    discriminator = build_srgan_discriminator(hr, filters=4)
    return SRGAN(generator, discriminator, extractor, scale=4, content_loss=content_loss,
                 pretrain_steps=pretrain_steps, seed=0)


def _smooth_image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.sin(yy / 5.0)[..., None] * np.cos(xx / 7.0)[..., None] * np.array([1.0, 0.5, -0.7]) * 0.8
    return np.clip(base + rng.normal(0, 0.1, (h, w, 3)), -1, 1).astype(np.float32)


# ---------------------------------------------------------------------- networks

@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_srresnet_upscales_any_size_by_its_scale(scale):
    g = build_srresnet_generator(scale=scale, filters=8, residual_blocks=2)
    out = g(np.zeros((2, 7, 9, 3), np.float32)).numpy()
    assert out.shape == (2, 7 * scale, 9 * scale, 3)
    assert np.all(np.abs(out) <= 1.0)


def test_srresnet_has_the_papers_structure_by_default():
    g = build_srresnet_generator()  # 16 residual blocks, 64 filters, two x2 shuffles, 9x9 head/tail
    names = [layer.name for layer in g.layers]
    assert sum(n.endswith("_conv1") and n.startswith("res") for n in names) == 16
    assert [n for n in names if n.endswith("_shuffle")] == ["up0_shuffle", "up1_shuffle"]
    assert g.get_layer("head_conv").kernel_size == (9, 9) and g.get_layer("tail_conv").kernel_size == (9, 9)
    assert g.get_layer("up0_conv").filters == 256


def test_pixel_shuffle_is_depth_to_space():
    x = np.arange(2 * 3 * 4 * 8, dtype=np.float32).reshape(2, 3, 4, 8)
    np.testing.assert_array_equal(PixelShuffle(2)(x).numpy(), tf.nn.depth_to_space(x, 2).numpy())
    assert PixelShuffle(2).compute_output_shape((None, 3, None, 8)) == (None, 6, None, 2)


def test_srgan_discriminator_gives_one_logit_per_hr_crop():
    d = build_srgan_discriminator(96, filters=8)
    assert d(np.zeros((3, 96, 96, 3), np.float32)).shape == (3, 1)
    strides = [layer.strides[0] for layer in d.layers if isinstance(layer, keras.layers.Conv2D)]
    assert strides == [1, 2, 1, 2, 1, 2, 1, 2]  # k3n64s1, then the seven blocks of fig. 4


# ---------------------------------------------------------------------- VGG19 without downloads

def test_vgg_weights_missing_offline_fail_at_once_naming_both_options(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("GANZOO_VGG19_WEIGHTS", raising=False)
    with pytest.raises(FileNotFoundError) as err:
        resolve_vgg19_weights(None)
    message = str(err.value)
    assert VGG19_NOTOP_FILE in message and "GANZOO_VGG19_WEIGHTS" in message
    assert "model.vgg_weights" in message and "content_loss: pixel" in message
    # The entry fails the same way, before any network is built.
    with pytest.raises(FileNotFoundError, match="content_loss: pixel"):
        build_model(tiny_config("srgan_div2k", **{"model.vgg_weights": None}))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_vgg19_weights(str(tmp_path / "nope.h5"))


def test_vgg_weights_found_in_keras_cache_env_or_path(monkeypatch, tmp_path):
    cached = tmp_path / "models" / VGG19_NOTOP_FILE
    cached.parent.mkdir()
    cached.write_bytes(b"stand-in")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("GANZOO_VGG19_WEIGHTS", raising=False)
    assert resolve_vgg19_weights(None) == str(cached)
    other = tmp_path / "mine.h5"
    other.write_bytes(b"x")
    monkeypatch.setenv("GANZOO_VGG19_WEIGHTS", str(other))
    assert resolve_vgg19_weights(None) == str(other)
    assert resolve_vgg19_weights(str(cached)) == str(cached)
    assert resolve_vgg19_weights("random") is None


def test_vgg_content_loss_uses_vgg_preprocessing_and_paper_scale():
    extractor = build_vgg19_features("block2_conv2", weights=None)
    model = _tiny_srgan(content_loss="vgg", extractor=extractor)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(
        extractor(keras.applications.vgg19.preprocess_input((images + 1.0) * 127.5))) / 12.75
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.vgg_features(images)), expected, rtol=1e-4, atol=1e-5)
    assert float(model.content_term(images, images)) == 0.0
    assert float(model.content_term(images, images[::-1])) > 0.0
    with pytest.raises(ValueError, match="feature_extractor"):
        _tiny_srgan(content_loss="vgg", extractor=None)


# ---------------------------------------------------------------------- training phases

def test_pixel_pretraining_then_adversarial_phase():
    model = _tiny_srgan(pretrain_steps=2)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(1e-3))
    model.run_eagerly = True  # the graph path of the same switch: tests/models/test_models.py (pretrain_steps=1)
    rng = np.random.default_rng(0)
    hr = rng.uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    lr = bicubic_downscale(((hr + 1) * 127.5).astype(np.uint8), 4).numpy().astype(np.float32) / 127.5 - 1
    ds = tf.data.Dataset.from_tensors((lr, hr)).repeat()
    d_before = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    history = model.fit(ds, epochs=2, steps_per_epoch=1, verbose=0)  # two pre-training steps
    assert int(model.d_optimizer.iterations.numpy()) == 0
    for before, w in zip(d_before, model.discriminator.trainable_weights):
        np.testing.assert_array_equal(before, w.numpy())
    assert history.history["d_loss"] == [0.0, 0.0]  # not measured while D rests
    assert model.discriminator_training is False  # the divergence guard's collapse check skips this phase
    np.testing.assert_allclose(history.history["content_loss"], history.history["pixel_loss"])
    history = model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0)  # the first adversarial step
    assert int(model.d_optimizer.iterations.numpy()) == 1 and int(model.g_optimizer.iterations.numpy()) == 3
    assert model.discriminator_training is True
    assert any(np.abs(b - w.numpy()).max() > 0 for b, w in zip(d_before, model.discriminator.trainable_weights))
    assert history.history["d_loss"][0] > 0 and np.isfinite(history.history["g_loss"][0])
    expected_g = history.history["content_loss"][0] + 1e-3 * history.history["adversarial_loss"][0]
    assert history.history["g_loss"][0] == pytest.approx(expected_g, rel=1e-5)


def test_pixel_model_saves_and_loads_without_a_feature_extractor(tmp_path):
    model = _tiny_srgan()
    model.compile()
    path = tmp_path / "sr.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert isinstance(again, SRGAN) and again.feature_extractor is None and again.scale == 4
    image = _smooth_image(9, 11)
    np.testing.assert_allclose(again.upscale(image), model.upscale(image), atol=1e-6)


# ---------------------------------------------------------------------- tiled upscaling

def _away_from_seams(h, w, tile, overlap, radius, scale):
    """Output pixels farther than ``radius`` LR pixels from every tile side inside the image."""
    far = np.ones((h, w), bool)
    for axis, length in ((0, h), (1, w)):
        starts = tile_starts(length, tile, overlap)
        edges = sorted({s for s in starts if s > 0} | {s + tile for s in starts if s + tile < length})
        dist = np.min([np.abs(np.arange(length) + 0.5 - e) for e in edges], axis=0)
        ok = dist > radius
        far &= ok[:, None] if axis == 0 else ok[None, :]
    return np.repeat(np.repeat(far, scale, 0), scale, 1)


#: Seams: the largest difference anywhere between tiled and untiled x4 upscaling, in [-1, 1]
#: units (0.03 = 3.8 of 255 grey levels), for tiles whose 4-pixel blend margin is smaller
#: than the network's receptive field (~16 LR pixels).
SEAM_BOUND = 0.03


def test_tiled_upscaling_equals_untiled_away_from_seams_and_has_no_visible_seams():
    model = _tiny_srgan(filters=16, blocks=4)
    image = _smooth_image(70, 120)
    untiled = model.upscale(image, tile=None)
    assert untiled.shape == (280, 480, 3)
    # The network's receptive field, measured: how far a change of one LR pixel reaches.
    poked = image.copy()
    poked[35, 60] += 0.5
    ys, xs = np.nonzero(np.abs(model.upscale(poked, tile=None) - untiled).max(-1) > 1e-6)
    radius = max(35 - ys.min() / 4, ys.max() / 4 - 35, 60 - xs.min() / 4, xs.max() / 4 - 60) + 1
    assert 8 < radius < 30

    tile, overlap = 64, 16
    tiled = model.upscale(image, tile=tile, overlap=overlap)
    assert tiled.shape == untiled.shape
    away = _away_from_seams(70, 120, tile, overlap, radius, 4)
    assert away.mean() > 0.05, "the layout leaves no region away from seams to compare"
    np.testing.assert_allclose(tiled[away], untiled[away], atol=1e-5)
    diff = np.abs(tiled - untiled)
    assert diff.max() < SEAM_BOUND
    # Seams are invisible as lines: across each tile boundary, the step between neighbouring
    # output columns/rows is the untiled one within the bound.
    for axis, length in ((0, 70), (1, 120)):
        for start in tile_starts(length, tile, overlap)[1:]:
            for c in (start * 4, (start + overlap) * 4):
                step_t = np.take(tiled, c, axis) - np.take(tiled, c - 1, axis)
                step_u = np.take(untiled, c, axis) - np.take(untiled, c - 1, axis)
                assert np.abs(step_t - step_u).max() < SEAM_BOUND
    # Without blending (hard seams, no overlap) the same network does show them.
    hard = model.upscale(image, tile=tile, overlap=0)
    assert np.abs(hard - untiled).max() > 2 * diff.max()


def test_upscale_takes_any_size_uint8_and_batches_and_refuses_bad_images():
    model = _tiny_srgan()
    small = (np.random.default_rng(1).uniform(0, 255, (5, 3, 3))).astype(np.uint8)  # smaller than a tile
    out = model.upscale(small, tile=8, overlap=2)
    assert out.shape == (20, 12, 3) and out.dtype == np.float32 and np.all(np.abs(out) <= 1)
    np.testing.assert_allclose(out, model.upscale(small, tile=None), atol=1e-6)  # one tile: the whole image
    assert model.upscale(small, tile=4, overlap=2).shape == (20, 12, 3)  # taller than the tile: 2 tiles
    batch = np.stack([_smooth_image(6, 7, s) for s in range(2)])
    assert model.upscale(batch).shape == (2, 24, 28, 3)
    with pytest.raises(ValueError, match="3-channel"):
        model.upscale(np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        model.upscale(np.full((8, 8, 3), 200.0, np.float32))
    with pytest.raises(ValueError, match="shape"):
        model.upscale(np.zeros((8, 8), np.uint8))


def test_tiling_blends_exactly_for_a_pointwise_network():
    image = np.random.default_rng(0).uniform(-1, 1, (37, 53, 3)).astype(np.float32)
    nearest = lambda x: np.repeat(np.repeat(x, 2, 1), 2, 2)  # noqa: E731 - a pointwise x2 "network"
    for tile, overlap in ((16, 8), (16, 0), (20, 12), (64, 8)):
        np.testing.assert_allclose(tiled_apply(nearest, image, tile=tile, overlap=overlap, scale=2),
                                   nearest(image[None])[0], atol=1e-6)
    assert tile_starts(53, 16, 8) == [0, 8, 16, 24, 32, 37] and tile_starts(10, 16, 8) == [0]
    left = blend_window(16, False, True, 8, 2)
    right = blend_window(16, True, False, 8, 2)
    np.testing.assert_allclose(left[8:] + right[:8], 1.0)  # neighbours' weights sum to 1
    assert right[:2].tolist() == [0.0, 0.0] and left[:8].tolist() == [1.0] * 8


# ---------------------------------------------------------------------- data

def _write(path, array, mode=None):
    Image.fromarray(array, mode).save(path)


def test_folder_pairs_are_random_hr_crops_with_their_bicubic_lr(tmp_path):
    rng = np.random.default_rng(0)
    _write(tmp_path / "a.png", rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    _write(tmp_path / "b.png", rng.integers(0, 256, (33, 70), dtype=np.uint8))  # grayscale
    rgba = rng.integers(0, 256, (36, 36, 4), dtype=np.uint8)
    _write(tmp_path / "c.png", rgba)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    config = tiny_config("srgan_div2k", **{"data.source": "folder", "data.path": str(tmp_path),
                                           "data.crops_per_image": 1, "train.batch_size": 3})
    ds = ganzoo.load_dataset(config)
    lr, hr = next(iter(ds))
    assert lr.shape == (3, 4, 4, 3) and hr.shape == (3, 16, 16, 3)
    assert lr.dtype == tf.float32 and float(tf.reduce_min(hr)) >= -1 and float(tf.reduce_max(hr)) <= 1
    hr_u8 = np.round((hr.numpy() + 1) * 127.5).astype(np.uint8)
    np.testing.assert_array_equal(np.round((lr.numpy() + 1) * 127.5).astype(np.uint8),
                                  bicubic_downscale(hr_u8, 4).numpy())
    epoch1 = np.concatenate([h.numpy() for _, h in ds])
    epoch2 = np.concatenate([h.numpy() for _, h in ds])
    assert epoch1.shape == (3, 16, 16, 3) and np.abs(epoch1 - epoch2).max() > 0  # fresh crops every epoch


def test_folder_images_too_small_for_the_crop_are_named(tmp_path):
    _write(tmp_path / "big.png", np.zeros((40, 40, 3), np.uint8))
    _write(tmp_path / "thumb.png", np.zeros((12, 30, 3), np.uint8))
    config = tiny_config("srgan_div2k", **{"data.source": "folder", "data.path": str(tmp_path)})
    with pytest.raises(DataError, match=r"thumb\.png \(30x12\).*data\.image_size"):
        ganzoo.load_dataset(config)
    (tmp_path / "thumb.png").unlink()
    (tmp_path / "big.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match="could be read"):
        ganzoo.load_dataset(config)


def test_div2k_mock_pairs_skip_images_smaller_than_the_crop():
    config = tiny_config("srgan_div2k", **{"data.image_size": 40})  # most mock images (5-49 px) are smaller
    with tfds.testing.mock_data(num_examples=30):
        batches = list(ganzoo.load_dataset(config, drop_remainder=False))
    assert batches, "some mock images are large enough"
    for lr, hr in batches:
        assert lr.shape[1:] == (10, 10, 3) and hr.shape[1:] == (40, 40, 3)
    assert sum(int(hr.shape[0]) for _, hr in batches) < 30 * config.data.crops_per_image


def test_config_refuses_impossible_sr_settings():
    with pytest.raises(ganzoo.ConfigError, match="data.scale"):
        ganzoo.get_config("srgan_div2k", **{"data.scale": 5})
    with pytest.raises(ganzoo.ConfigError, match="multiple of data.scale"):
        ganzoo.get_config("srgan_div2k", **{"data.image_size": 90})
    with pytest.raises(ganzoo.ConfigError, match="did you mean 'pixel'"):
        ganzoo.get_config("srgan_div2k", **{"model.content_loss": "pixle"})
    with pytest.raises(ganzoo.ConfigError, match="vgg_layer"):
        ganzoo.get_config("srgan_div2k", **{"model.vgg_layer": "block6_conv1"})
    with pytest.raises(ganzoo.ConfigError, match="srresnet"):
        ganzoo.get_config("srgan_div2k", **{"generator.arch": "dcgan"})


# ---------------------------------------------------------------------- PSNR / SSIM

def test_psnr_ssim_and_luma_golden_values():
    ref = np.full((1, 16, 16, 3), -1.0, np.float32)  # 0.0 on [0, 1]
    off = ref + 0.2  # 0.1 on [0, 1]: MSE 0.01 -> 20 dB
    assert sr_metrics.psnr(ref, off)[0] == pytest.approx(20.0, abs=1e-4)
    assert sr_metrics.ssim(ref[0], ref[0]) == pytest.approx(1.0)
    np.testing.assert_allclose(sr_metrics.rgb_to_luma(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])),
                               [[235 / 255], [16 / 255]], rtol=1e-5)
    u8 = np.zeros((16, 16, 3), np.uint8)
    assert sr_metrics.psnr(u8, u8 + 10, border=4) == pytest.approx(20 * np.log10(255 / 10), abs=1e-3)
    with pytest.raises(ValueError, match="11x11"):
        sr_metrics.ssim(u8[:12, :12], u8[:12, :12], border=2)
    with pytest.raises(ValueError, match="shapes"):
        sr_metrics.psnr(u8, u8[:8])


def test_super_resolution_scores_against_bicubic():
    class Bicubic:  # a "model" that is bicubic upscaling: it must score exactly like the baseline
        scale = 4

        def upscale(self, lr, tile=None, overlap=0):
            up = tf.image.resize(lr.astype(np.float32), (lr.shape[0] * 4, lr.shape[1] * 4), method="bicubic")
            return np.round(np.clip(up.numpy(), 0, 255)).astype(np.uint8)

    hr = [np.asarray(Image.fromarray(((_smooth_image(50, 66, s) + 1) * 127.5).astype(np.uint8))) for s in range(2)]
    scores = sr_metrics.super_resolution_scores(Bicubic(), hr)
    assert scores["images"] == 2 and 15 < scores["bicubic_psnr"] < 60
    assert scores["psnr"] == pytest.approx(scores["bicubic_psnr"]) and scores["ssim"] == pytest.approx(scores["bicubic_ssim"])
    real = sr_metrics.super_resolution_scores(_tiny_srgan(), hr, y_channel=False)
    assert np.isfinite(real["psnr"]) and real["psnr"] < real["bicubic_psnr"]  # untrained: worse than bicubic
