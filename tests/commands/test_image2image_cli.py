"""``ganzoo upscale`` and ``ganzoo stylize`` on real picture files, progress grids of
image-to-image runs, and clear errors for bad inputs."""

import numpy as np
import pytest
from PIL import Image

import keras

import ganzoo
from ganzoo.builders import build_model, compile_model
from ganzoo.callbacks import TranslationGrid, sample_callback
from ganzoo.cli import main
from ganzoo.images import read_metadata
from tests.helpers import tiny_config


def _photo(path, size=(61, 45), mode="RGB"):
    """A photo-like picture: a sky gradient over green hills, with some noise."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    sky = np.stack([120 + 80 * yy, 170 + 60 * yy, 255 - 30 * yy], -1)
    hills = yy > 0.55 + 0.1 * np.sin(xx * 9)
    sky[hills] = np.stack([60 + 40 * xx, 140 - 50 * yy, 50 + 0 * xx], -1)[hills]
    rgb = np.clip(sky + np.random.default_rng(0).normal(0, 6, sky.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(rgb)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return path


@pytest.fixture(scope="module")
def sr_model_file(tmp_path_factory):
    model = build_model(tiny_config("srgan_div2k", **{"model.content_loss": "pixel"}))
    path = tmp_path_factory.mktemp("sr") / "sr.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory):
    """A run folder holding a (tiny, untrained) CycleGAN's model.keras."""
    run = tmp_path_factory.mktemp("cyclegan_run")
    model = build_model(tiny_config("cyclegan_monet2photo"))
    model.save(run / "model.keras")
    return run


def test_upscale_a_picture_from_disk_of_any_size(sr_model_file, tmp_path, capsys):
    photo = _photo(tmp_path / "in.jpg", size=(45, 30), mode="L")  # grayscale JPEG: converted to RGB
    out = tmp_path / "big.png"
    assert main(["upscale", str(sr_model_file), str(photo), "-o", str(out), "--tile", "16", "--overlap", "8"]) == 0
    assert "45x30 -> 180x120" in capsys.readouterr().out
    img = Image.open(out)
    assert img.size == (180, 120) and img.mode == "RGB"
    meta = read_metadata(out)
    assert meta["task"] == "upscale" and meta["scale"] == 4 and meta["input"] == str(photo)
    assert meta["source"] == str(sr_model_file) and len(meta["weights_sha256"]) == 64
    # The pixels of the Python API.
    model = keras.saving.load_model(sr_model_file)
    picture = np.asarray(Image.open(photo).convert("RGB"))
    expected = np.clip(np.rint((model.upscale(picture, tile=16, overlap=8) + 1) * 127.5), 0, 255)
    assert np.abs(np.asarray(img, np.float64) - expected).max() <= 1
    # Default output name next to the input.
    assert main(["upscale", str(sr_model_file), str(photo)]) == 0
    assert (tmp_path / "in_x4.png").is_file()


def test_stylize_a_photo_from_disk(cyclegan_run, tmp_path, capsys):
    photo = _photo(tmp_path / "photo.png", mode="RGBA")  # transparency is composited on white
    out = tmp_path / "painting.png"
    assert main(["stylize", str(cyclegan_run), str(photo), "--direction", "photo2painting", "-o", str(out)]) == 0
    assert "61x45, photo2painting" in capsys.readouterr().out
    img = Image.open(out)
    assert img.size == (61, 45) and img.mode == "RGB"
    meta = read_metadata(out)
    assert meta["direction"] == "photo2painting" and meta["task"] == "stylize"
    assert meta["source"].endswith("model.keras")
    # photo2painting is the default; the other direction gives another picture.
    assert main(["stylize", str(cyclegan_run), str(photo), "-o", str(tmp_path / "default.png")]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "default.png")), np.asarray(img))
    assert main(["stylize", str(cyclegan_run), str(photo), "--direction", "b2a", "--tile", "32", "--overlap", "8",
                 "-o", str(tmp_path / "tiled.png")]) == 0
    assert Image.open(tmp_path / "tiled.png").size == (61, 45)


@pytest.mark.parametrize("command, fragment", [
    (["stylize", "{cyclegan}", "{photo}", "--direction", "photo2zebra"], "unknown direction 'photo2zebra'"),
    (["stylize", "{cyclegan}", "{broken}"], "cannot read the image"),
    (["stylize", "{cyclegan}", "{missing}"], "does not exist"),
    (["stylize", "{cyclegan}", "{photo}", "-o", "out.jpg"], "-o must name a .png file"),
    (["upscale", "{cyclegan}", "{photo}"], "`ganzoo upscale` needs a super-resolution model (e.g. srgan_div2k). "
                                           "Use `ganzoo stylize"),
    (["stylize", "{sr}", "{photo}"], "`ganzoo stylize` needs a CycleGAN (e.g. cyclegan_monet2photo). Use `ganzoo upscale"),
    (["upscale", "{sr}", "{photo}", "--tile", "8", "--overlap", "8"], "--overlap"),
    (["upscale", "srgan_div2k", "{photo}"], "no trained weights are bundled for 'srgan_div2k'"),
    (["stylize", "cyclegan_monet2phot", "{photo}"], "Closest: cyclegan_monet2photo"),
])
def test_bad_inputs_are_one_clear_line(command, fragment, cyclegan_run, sr_model_file, tmp_path, capsys):
    paths = {"cyclegan": cyclegan_run, "sr": sr_model_file, "photo": _photo(tmp_path / "p.png"),
             "broken": tmp_path / "broken.png", "missing": tmp_path / "missing.png"}
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    argv = [part.format(**paths) for part in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_translation_grid_writes_rows_per_image_kind(tmp_path):
    for name, rows in (("srgan_div2k", ["bicubic", "sr", "hr"]),
                       ("cyclegan_monet2photo", ["painting", "painting2photo", "photo", "photo2painting"])):
        config = tiny_config(name, **{"model.content_loss": "pixel"} if name.startswith("srgan") else {})
        model = build_model(config)
        size = config.data.image_size
        lr_size = size // (config.data.scale if name.startswith("srgan") else 1)
        rng = np.random.default_rng(0)
        batch = (rng.uniform(-1, 1, (3, lr_size, lr_size, 3)).astype(np.float32),
                 rng.uniform(-1, 1, (3, size, size, 3)).astype(np.float32))
        callback = TranslationGrid(tmp_path / name, batch=batch)
        callback.set_model(model)
        callback.on_epoch_end(0)
        grid = Image.open(tmp_path / name / "epoch_0001.png")
        assert grid.size == (3 * (size + 2) + 2, len(rows) * (size + 2) + 2)
        assert read_metadata(grid.filename)["rows"] == rows
    assert isinstance(sample_callback(ganzoo.get_config("dcgan_mnist"), tmp_path), ganzoo.callbacks.SampleGrid)
    assert isinstance(sample_callback(ganzoo.get_config("cyclegan_horse2zebra"), tmp_path), TranslationGrid)


def _folders(root, n=6, size=40):
    """Two tiny collections: smooth "photos" and striped "paintings"."""
    (root / "paintings").mkdir(parents=True)
    (root / "photos").mkdir()
    for i in range(n):
        yy, xx = np.mgrid[0:size, 0:size]
        stripes = (127 + 120 * np.sin((xx + 2 * yy + 7 * i) / 2.0))[..., None] * np.array([1.0, 0.8, 0.4])
        Image.fromarray(stripes.astype(np.uint8)).save(root / "paintings" / f"{i}.png")
        _photo(root / "photos" / f"{i}.jpg", size=(size + 5 * i, size))


@pytest.mark.slow
def test_train_cyclegan_on_two_folders_then_stylize(tmp_path):
    _folders(tmp_path)
    run = tmp_path / "run"
    code = main(["train", "cyclegan_monet2photo", "--epochs", "1", "--steps", "2", "--batch-size", "2", "--out", str(run),
                 "--quiet", "--set", "data.source=folder", "--set", f"data.path_a={tmp_path / 'paintings'}",
                 "--set", f"data.path_b={tmp_path / 'photos'}", "--set", "data.image_size=32",
                 "--set", "data.load_size=36", "--set", "generator.filters=8", "--set", "discriminator.filters=8",
                 "--set", "generator.residual_blocks=1", "--set", "train.jit_compile=false"])
    assert code == 0
    assert (run / "model.keras").is_file() and (run / "samples" / "epoch_0001.png").is_file()
    assert main(["stylize", str(run), str(_photo(tmp_path / "p.jpg")), "-o", str(tmp_path / "out.png")]) == 0
    assert Image.open(tmp_path / "out.png").size == (61, 45)


def test_eval_reports_psnr_ssim_of_a_super_resolution_model_against_bicubic(sr_model_file, tmp_path, capsys):
    import json

    from ganzoo.evaluation.sr_metrics import super_resolution_scores

    folder = tmp_path / "hr"
    folder.mkdir()
    for i, size in enumerate([(64, 48), (52, 60)]):
        _photo(folder / f"{i}.png", size=size)
    out = tmp_path / "sr_eval.json"
    # A model trained on a folder of photos: its held-out HR images are that folder's.
    model = keras.saving.load_model(sr_model_file)
    model.zoo_config = ganzoo.get_config("srgan_div2k", **{"data.source": "folder", "data.path": str(folder)}).to_dict()
    model_file = tmp_path / "sr_folder.keras"
    model.save(model_file)
    assert main(["eval", str(model_file), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 HR images of" in printed and "bicubic" in printed
    result = json.loads(out.read_text())
    images = [np.asarray(Image.open(folder / f"{i}.png").convert("RGB")) for i in range(2)]
    expected = super_resolution_scores(keras.saving.load_model(model_file), images)
    for key in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim"):
        assert result["metrics"][key] == pytest.approx(expected[key], rel=1e-6)
    assert result["metrics"]["bicubic_psnr"] > 20  # bicubic of a smooth picture is close
    assert main(["eval", str(model_file), "--metrics", "fid"]) == 2  # clear one-line error
    assert "psnr,ssim" in capsys.readouterr().err
