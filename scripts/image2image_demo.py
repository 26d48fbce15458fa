"""Brief image-to-image demo on synthesised pictures (no downloads): trains a small CycleGAN
on two folders ("photos" and "paintings") and a small SRGAN (pixel content loss) on a folder
of photos, then runs ``ganzoo stylize`` / ``ganzoo upscale`` on picture files from disk and
writes before/after PNGs to docs/images/ with PSNR/SSIM against bicubic.

    python scripts/image2image_demo.py --work /tmp/i2i --seconds 60

The pictures are procedural landscapes (sky gradient, sun, hills, trees, grass texture):
"photos" are rendered smoothly with sensor noise; "paintings" are the same kind of scenes
posterised into a warm palette with visible diagonal brush strokes. Numbers and images are
what a minute or two of CPU training gives, not the entries' full recipes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # this checkout's ganzoo (src layout), whichever one is installed


def landscape(h: int, w: int, rng) -> np.ndarray:
    """A photo-like uint8 landscape."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    y, x = yy / h, xx / w
    top, bottom = rng.uniform([60, 110, 190], [120, 170, 250]), rng.uniform([170, 200, 230], [230, 230, 255])
    img = top + (bottom - top) * y[..., None]
    sun_x, sun_y, sun_r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.35), rng.uniform(0.04, 0.09)
    sun = np.exp(-(((x - sun_x) ** 2 + (y - sun_y) ** 2) / sun_r ** 2))
    img += sun[..., None] * (np.array([255, 240, 200]) - img) * 0.9
    for layer in range(3):  # hills, far to near: darker and greener
        base = 0.45 + 0.15 * layer + rng.uniform(-0.05, 0.05)
        ridge = base + 0.08 * np.sin(x * rng.uniform(4, 12) + rng.uniform(0, 6)) + 0.03 * np.sin(x * 31 + layer)
        color = np.array([70 - 15 * layer, 120 + 10 * layer, 60 - 10 * layer]) * rng.uniform(0.8, 1.2)
        mask = y > ridge
        texture = 18 * np.sin(xx * 1.7 + yy * 0.9) * np.sin(yy * 2.3)  # grass
        img[mask] = (color + texture[..., None] * 0.5)[mask]
    for _ in range(rng.integers(2, 6)):  # trees
        tx, ty, tr = rng.uniform(0, 1), rng.uniform(0.65, 0.9), rng.uniform(0.02, 0.05)
        tree = ((x - tx) / tr) ** 2 + ((y - ty) / (1.6 * tr)) ** 2 < 1
        img[tree] = np.array([30, 80, 35]) + rng.normal(0, 10, 3)
    img += rng.normal(0, 4, img.shape)  # sensor noise
    return np.clip(img, 0, 255).astype(np.uint8)


def paint(photo: np.ndarray, rng) -> np.ndarray:
    """A "painting" of a photo: warm palette, 5 tone levels, diagonal brush strokes."""
    f = photo.astype(np.float64) / 255
    f = np.stack([f[..., 0] * 1.15 + 0.05, f[..., 1] * 0.95 + 0.03, f[..., 2] * 0.7 + 0.08], -1)
    f = np.round(np.clip(f, 0, 1) * 5) / 5
    h, w = photo.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    strokes = 0.07 * np.sin((xx + yy) * 0.9 + rng.uniform(0, 6)) * np.sin((xx - 2 * yy) * 0.25)
    return np.clip((f + strokes[..., None]) * 255, 0, 255).astype(np.uint8)


def make_folders(root: Path, n: int, size: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    photos, paintings = root / "photos", root / "paintings"
    photos.mkdir(parents=True, exist_ok=True)
    paintings.mkdir(parents=True, exist_ok=True)
    for i in range(n):  # unpaired: the paintings are of other scenes
        Image.fromarray(landscape(size, size, rng)).save(photos / f"{i:03d}.jpg", quality=92)
        Image.fromarray(paint(landscape(size, size, rng), rng)).save(paintings / f"{i:03d}.png")
    return photos, paintings


def train_for(config, out: Path, seconds: float):
    """Train into a ganzoo run folder, stopping at the first epoch end after ``seconds``."""
    import keras

    from ganzoo.training import train

    class TimeLimit(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.time()

        def on_epoch_end(self, epoch, logs=None):
            if time.time() - self.start > seconds:
                self.model.stop_training = True

    config.train.epochs = 10_000
    start = time.time()
    model, history = train(config, out=out, verbose=0, extra_callbacks=[TimeLimit()])
    last = {k: round(float(v[-1]), 4) for k, v in history.history.items()}
    return int(model.g_optimizer.iterations.numpy()), time.time() - start, last


def side_by_side(images, path: Path, gap: int = 4) -> None:
    h = max(i.shape[0] for i in images)
    canvas = np.full((h, sum(i.shape[1] for i in images) + gap * (len(images) - 1), 3), 255, np.uint8)
    x = 0
    for image in images:
        canvas[:image.shape[0], x:x + image.shape[1]] = image
        x += image.shape[1] + gap
    Image.fromarray(canvas).save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default="/tmp/ganzoo_i2i_demo")
    parser.add_argument("--seconds", type=float, default=60.0, help="training time of each model")
    parser.add_argument("--sr-seconds", type=float, help="training time of the SRGAN (default --seconds)")
    parser.add_argument("--docs", default=str(REPO / "docs" / "images"))
    args = parser.parse_args()
    import ganzoo
    from ganzoo.cli import main as cli
    from ganzoo.evaluation.sr_metrics import super_resolution_scores

    work, docs = Path(args.work), Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    report = {}

    # ------------------------------------------------------------ CycleGAN: photo -> painting
    photos, paintings = make_folders(work / "data", n=40, size=72)
    config = ganzoo.get_config("cyclegan_monet2photo", **{
        "data.source": "folder", "data.path_a": str(paintings), "data.path_b": str(photos),
        "data.image_size": 64, "data.load_size": 72, "generator.filters": 16, "discriminator.filters": 16,
        "generator.residual_blocks": 3, "train.batch_size": 1, "train.steps_per_epoch": 50,
        "train.lr_schedule": "constant", "train.decay_start": 0, "train.jit_compile": False})
    run = work / "cyclegan_run"
    trained, seconds, losses = train_for(config, run, args.seconds)
    report["cyclegan"] = {"steps": trained, "seconds": round(seconds, 1), "last_epoch": losses}
    photo_path = work / "my_photo.jpg"  # a new scene, larger than the training crops, not square
    Image.fromarray(landscape(144, 224, np.random.default_rng(123))).save(photo_path, quality=92)
    after = work / "my_painting.png"
    assert cli(["stylize", str(run), str(photo_path), "--direction", "photo2painting", "-o", str(after)]) == 0
    before_img = np.asarray(Image.open(photo_path).convert("RGB"))
    Image.fromarray(before_img).save(docs / "stylize_before.png", optimize=True)
    Image.fromarray(np.asarray(Image.open(after).convert("RGB"))).save(docs / "stylize_after.png", optimize=True)

    # ------------------------------------------------------------ SRGAN x4 (pixel content loss)
    hr_dir = work / "hr_photos"
    hr_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for i in range(24):
        Image.fromarray(landscape(160, 200, rng)).save(hr_dir / f"{i:03d}.png")
    config = ganzoo.get_config("srgan_div2k", **{
        "data.source": "folder", "data.path": str(hr_dir), "data.image_size": 64, "data.crops_per_image": 4,
        "data.cache": True, "model.content_loss": "pixel", "model.pretrain_steps": 600,
        "generator.filters": 32, "generator.residual_blocks": 4, "discriminator.filters": 16,
        "train.batch_size": 8, "train.steps_per_epoch": 50, "train.learning_rate": 5e-4,
        "train.jit_compile": False})
    run = work / "srgan_run"
    trained, seconds, losses = train_for(config, run, args.sr_seconds or args.seconds)
    model = __import__("keras").saving.load_model(run / "model.keras")
    test = [landscape(128, 160, np.random.default_rng(1000 + i)) for i in range(4)]  # unseen scenes
    scores = super_resolution_scores(model, test)
    report["srgan"] = {"steps": trained, "seconds": round(seconds, 1), "last_epoch": losses, **{k: round(v, 3) if isinstance(v, float)
                                                                         else v for k, v in scores.items()}}
    lr_path = work / "small.png"
    hr = test[0]
    from ganzoo.images import bicubic_downscale

    Image.fromarray(bicubic_downscale(hr, 4).numpy()).save(lr_path)
    up = work / "small_x4.png"
    assert cli(["upscale", str(run), str(lr_path), "-o", str(up)]) == 0
    lr = np.asarray(Image.open(lr_path))
    bicubic = np.asarray(Image.fromarray(lr).resize((lr.shape[1] * 4, lr.shape[0] * 4), Image.Resampling.BICUBIC))
    nearest = np.repeat(np.repeat(lr, 4, 0), 4, 1)
    side_by_side([nearest, bicubic, np.asarray(Image.open(up).convert("RGB")), hr], docs / "upscale_lr_bicubic_sr_hr.png")
    print(json.dumps(report, indent=2))
    (work / "report.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
