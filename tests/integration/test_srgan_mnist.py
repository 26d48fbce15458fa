"""srgan_mnist: 7x7 -> 28x28 SR pairs from real MNIST, both training phases, the digit SR
evaluation (PSNR/SSIM against bicubic, classifier accuracy), packaging as pretrained weights
and `ganzoo upscale` / the README picture from them."""

import importlib.util
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds
import yaml
from PIL import Image

import ganzoo
from ganzoo import registry
from ganzoo.cli import main as cli
from ganzoo.evaluation import sr_digits
from ganzoo.evaluation.classifier import load_classifier
from ganzoo.images import bicubic_downscale, read_metadata
from tests.helpers import shared_tfds_dir, tiny_config

ROOT = Path(__file__).resolve().parents[2]
MNIST = shared_tfds_dir()
needs_mnist = pytest.mark.skipif(MNIST is None, reason="real MNIST not found (../shared/tfds)")

#: A few steps of each phase on real MNIST: tiny networks, 2 pixel-loss steps, then adversarial.
TINY_RUN = {"generator.filters": 8, "generator.residual_blocks": 1, "discriminator.filters": 4,
            "model.pretrain_steps": 2, "train.batch_size": 8, "train.epochs": 1, "train.steps_per_epoch": 4,
            "train.jit_compile": False, "data.limit": 64, "data.shuffle_buffer": 64}


def _first_mnist(split, n):
    ds = tfds.load("mnist", split=f"{split}[:{n}]", data_dir=MNIST, shuffle_files=False)
    rows = list(ds.as_numpy_iterator())
    return np.stack([r["image"] for r in rows]), np.array([r["label"] for r in rows])


def test_entry_is_grayscale_x4_from_7x7_and_its_content_loss_works_offline():
    config = ganzoo.get_config("srgan_mnist")
    assert (config.data.image_size, config.data.scale, config.data.channels) == (28, 4, 1)
    assert config.model.content_loss == "pixel" and not config.data.flip
    assert 0 < config.model.pretrain_steps < config.train.epochs * config.train.steps_per_epoch
    model = ganzoo.load("srgan_mnist", compile=False)  # no VGG file needed
    assert model.generator(np.zeros((2, 7, 7, 1), np.float32)).shape == (2, 28, 28, 1)
    assert model.discriminator(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 1)


def test_image_to_image_channels_are_grey_or_rgb():
    ganzoo.get_config("srgan_div2k", **{"data.channels": 1, "model.content_loss": "pixel"})
    ganzoo.get_config("cyclegan_monet2photo", **{"data.channels": 1})  # grey: cyclegan_mnist2uci
    with pytest.raises(ganzoo.config.ConfigError, match="data.channels"):
        ganzoo.get_config("cyclegan_monet2photo", **{"data.channels": 2})
    with pytest.raises(ganzoo.config.ConfigError, match="data.channels"):
        ganzoo.get_config("srgan_mnist", **{"data.channels": 2})



def test_image_to_image_models_say_their_channels_alike():
    """SRGAN and CycleGAN answer ``model.channels`` the same way (the CLI reads grey pictures for
    grey models through it)."""
    small = {"generator.filters": 8, "discriminator.filters": 8}
    assert ganzoo.load("srgan_mnist", compile=False, **small).channels == 1
    assert ganzoo.load("cyclegan_mnist2uci", compile=False, **small).channels == 1
    assert ganzoo.load("cyclegan_mnist2uci", compile=False, **small, **{"data.channels": 3}).channels == 3
    assert ganzoo.load("srgan_div2k", compile=False, **small, **{"model.content_loss": "pixel"}).channels == 3


@needs_mnist
def test_pairs_are_whole_mnist_digits_and_their_bicubic_downscale():
    config = ganzoo.get_config("srgan_mnist", **{"data.limit": 8})
    ds = ganzoo.load_dataset(config, data_dir=MNIST, batch_size=8, shuffle=False)
    lr, hr = (x.numpy() for x in next(iter(ds)))
    assert lr.shape == (8, 7, 7, 1) and hr.shape == (8, 28, 28, 1)
    digits, _ = _first_mnist("train", 8)
    np.testing.assert_allclose(hr, digits / 127.5 - 1.0, atol=1e-6)  # no crop, no flip
    expected_lr = bicubic_downscale(digits, 4).numpy()
    assert expected_lr.dtype == np.uint8 and expected_lr.shape == (8, 7, 7, 1)
    np.testing.assert_allclose(lr, expected_lr / 127.5 - 1.0, atol=1e-6)
    # Antialiased: each LR pixel is a weighted mean of its 4x4 block and neighbours, so the
    # LR mean stays near the HR mean (plain 4x subsampling would keep 1 pixel in 16).
    assert abs(expected_lr.astype(float).mean() - digits.astype(float).mean()) < 2.0


class _Bicubic:
    """An 'SR model' that is bicubic interpolation: its scores must equal bicubic's."""

    scale = 4

    def __call__(self, x, training=False):
        from ganzoo.evaluation.sr_metrics import bicubic_upscale

        return bicubic_upscale(np.round((x + 1.0) * 127.5).astype(np.uint8), 4) / 127.5 - 1.0


@needs_mnist
def test_digit_evaluation_keys_and_bicubic_golden_values():
    hr, labels = _first_mnist("test", 200)
    scores = sr_digits.digit_super_resolution_scores(_Bicubic(), hr, labels)
    assert set(scores) == set(sr_digits.SCORE_KEYS) and scores["images"] == 200
    # Bicubic from 7x7 on the first 200 test digits (measured: 14.334 dB, SSIM 0.4004; the
    # classifier reads 99.0% of the originals and 66.5% of the bicubic upscales).
    assert scores["bicubic_psnr"] == pytest.approx(14.334, abs=0.02)
    assert scores["bicubic_ssim"] == pytest.approx(0.4004, abs=0.002)
    assert scores["hr_accuracy"] == pytest.approx(0.990, abs=0.006)
    assert scores["bicubic_accuracy"] == pytest.approx(0.665, abs=0.011)
    assert scores["psnr"] == pytest.approx(scores["bicubic_psnr"], abs=1e-6) and abs(scores["psnr_gain"]) < 1e-6
    assert scores["accuracy"] == scores["bicubic_accuracy"]
    with pytest.raises(ValueError, match="label"):
        sr_digits.digit_super_resolution_scores(_Bicubic(), hr, labels[:3])
    with pytest.raises(ValueError, match="uint8"):
        sr_digits.digit_super_resolution_scores(_Bicubic(), hr.astype(np.float32), labels)


def _train_pretrained_module():
    spec = importlib.util.spec_from_file_location("train_pretrained", ROOT / "scripts" / "train_pretrained.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny srgan_mnist trained a few steps of each phase on real MNIST into a run folder."""
    if MNIST is None:
        pytest.skip("real MNIST not found (../shared/tfds)")
    from ganzoo.training import train

    out = tmp_path_factory.mktemp("srgan_mnist_run")
    config = ganzoo.get_config("srgan_mnist", **TINY_RUN)
    keras.utils.set_random_seed(0)
    model, history = train(config, out=out / "run", data_dir=MNIST, verbose=0, samples_every=1)
    return config, model, history, out


def test_tiny_entry_trains_both_phases_on_real_mnist_and_round_trips(tiny_run):
    config, model, history, out = tiny_run
    assert int(model.g_optimizer.iterations.numpy()) == 4
    assert int(model.d_optimizer.iterations.numpy()) == 2  # steps 3-4 are adversarial
    for key, values in history.history.items():
        assert np.all(np.isfinite(values)), key
    again = keras.saving.load_model(out / "run" / "model.keras")
    lr = bicubic_downscale(_first_mnist("test", 4)[0], 4).numpy() / 127.5 - 1.0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(again(lr)), keras.ops.convert_to_numpy(model(lr)),
                               atol=1e-6)
    assert again.channels == 1 and again.scale == 4


def test_upscale_command_on_a_tiny_run_writes_a_grey_x4_png(tiny_run, tmp_path, capsys):
    _, model, _, out = tiny_run
    digit = bicubic_downscale(_first_mnist("test", 1)[0][0], 4).numpy()
    Image.fromarray(digit[..., 0]).save(tmp_path / "lr.png")
    assert cli(["upscale", str(out / "run"), str(tmp_path / "lr.png"), "-o", str(tmp_path / "sr.png")]) == 0
    assert "7x7 -> 28x28 (x4)" in capsys.readouterr().out
    sr = np.asarray(Image.open(tmp_path / "sr.png"))
    assert sr.shape == (28, 28)
    expected = model.upscale(digit)
    np.testing.assert_array_equal(sr, np.clip(np.rint((expected[..., 0] + 1.0) * 127.5), 0, 255).astype(np.uint8))
    assert read_metadata(tmp_path / "sr.png")["task"] == "upscale"


@pytest.fixture
def tiny_entry_with_weights(tiny_run, tmp_path, monkeypatch):
    """The tiny run packaged by scripts/train_pretrained.py into a temporary ganzoo/pretrained,
    with the registry's srgan_mnist pointing at the tiny recipe (never the real folder)."""
    config, model, _, _ = tiny_run
    script = _train_pretrained_module()
    dest = tmp_path / "pretrained"
    meta = script.package(model, config, dest, seconds=1.0, commit="test", data="TFDS mnist train",
                          final_losses={})
    yaml_file = tmp_path / "srgan_mnist.yaml"
    yaml_file.write_text(yaml.safe_dump({k: v for k, v in config.to_dict().items() if k != "name"}))
    entries = registry._entries()
    monkeypatch.setattr(registry, "_entries", lambda: {**entries, "srgan_mnist": yaml_file})
    monkeypatch.setattr("ganzoo.weights.PRETRAINED_DIR", dest)
    return script, model, meta, dest


def test_packaged_weights_load_as_pretrained_and_upscale_by_entry_name(tiny_entry_with_weights, tmp_path):
    script, model, meta, dest = tiny_entry_with_weights
    assert meta["weights"] == "srgan_mnist.weights.h5" and (dest / "srgan_mnist.json").is_file()
    loaded = ganzoo.load("srgan_mnist", weights="pretrained", compile=False)
    lr = bicubic_downscale(_first_mnist("test", 4)[0], 4).numpy()
    np.testing.assert_allclose(loaded.upscale(lr), model.upscale(lr), atol=1e-6)
    # The README picture goes through `ganzoo upscale srgan_mnist` (bundled weights).
    picture = script.write_grid("srgan_mnist", False, grids=tmp_path / "grids", data_dir=MNIST)
    assert picture == tmp_path / "grids" / "srgan_mnist.png"
    image = np.asarray(Image.open(picture))
    gap = script.SR_PICTURE_GAP * 4
    width = 10 * 28 + 9 * gap
    assert image.shape == (2 * (4 * 28 + 3 * 2), 2 * width)
    provenance = read_metadata(picture)
    assert provenance["task"] == "upscale" and "pretrained" in provenance["source"]
    assert provenance["rows"].startswith("LR")
    # The model row is the model's upscale of the LR strip.
    hr, labels = _first_mnist("test", 100)
    picks = [int(np.flatnonzero(labels == d)[0]) for d in range(10)]
    sr_row = image[2 * (2 * 28 + 2 * 2):2 * (3 * 28 + 2 * 2):2, ::2]
    strip_lr = np.concatenate([np.pad(bicubic_downscale(hr[i], 4).numpy(), ((0, 0), (0, 3 if k < 9 else 0), (0, 0)))
                               for k, i in enumerate(picks)], axis=1)
    expected = np.clip(np.rint((model.upscale(strip_lr)[..., 0] + 1.0) * 127.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(sr_row, expected)
    assert not list((tmp_path / "grids").glob(".*"))  # the strip files are cleaned up


def test_evaluation_of_packaged_weights_records_scores_and_the_bar(tiny_entry_with_weights):
    script, model, _, _ = tiny_entry_with_weights
    config = ganzoo.get_config("srgan_mnist")
    result = script.evaluate_super_resolution_weights(model, config, MNIST, limit=50)
    assert set(result["metrics"]) == set(sr_digits.SCORE_KEYS) and result["metrics"]["images"] == 50
    assert result["bar"]["met"] is False  # four steps of a tiny network do not beat bicubic by 2 dB
    assert "mnist_classifier" in result["protocol"] or "classifier-" in result["protocol"]
    json.dumps(result)
    # evaluate_weights (what the script runs after training) takes this path for an SR entry.
    script.evaluate_super_resolution_weights = lambda *args: {"sr": args[1].name}
    assert script.evaluate_weights(model, config, MNIST) == {"sr": "srgan_mnist"}


def test_eval_command_reports_digit_scores_of_a_tiny_run(tiny_run, tmp_path, capsys):
    _, _, _, out = tiny_run
    assert cli(["eval", str(out / "run"), "-n", "40", "-o", str(tmp_path / "eval.json"), "--data-dir", MNIST]) == 0
    printed = capsys.readouterr().out
    assert "bicubic" in printed and "accuracy" in printed
    result = json.loads((tmp_path / "eval.json").read_text())
    assert set(result["metrics"]) == set(sr_digits.SCORE_KEYS) and result["metrics"]["images"] == 40

