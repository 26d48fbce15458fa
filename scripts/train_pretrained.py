"""Retrain a bundled pretrained generator with one command:

    python scripts/train_pretrained.py cgan_mnist [--data-dir ../shared/tfds] [--out runs/pretrained]

Trains the registry entry with its config unchanged (``ganzoo.training.train``; an existing
run folder of the same recipe is resumed, so raising ``train.epochs`` extends it exactly),
then writes ``src/ganzoo/pretrained/<name>.weights.h5`` (the sampling generator: EMA when the
entry keeps one) and ``src/ganzoo/pretrained/<name>.json`` (config hash, epochs, training time,
the commit that trained it, machine, and the evaluation: FCD against the real-vs-real floor,
coverage, label accuracy) and ``docs/images/pretrained/<name>.png``, the sample grid the README
shows (``ganzoo generate``, seed 7; a conditional entry one digit per column).
``--evaluate-only`` re-evaluates the bundled weights, ``--grid-only`` redraws the grid.

A CycleGAN entry (``cyclegan_mnist2uci``) ships both generators (the cycle needs both
directions: ``CycleGAN.sampling_generator``), is evaluated by
``ganzoo.evaluation.digit_translation`` (the MNIST classifier's accuracy on UCI test digits
translated to MNIST against plain resizes, and the classes kept by the MNIST -> UCI -> MNIST
cycle), and its grid is a before/after pair: 64 UCI test digits framed as the model's domain B
(``data.pad_b`` / ``data.resize_b``: its input; ``NAME_before.png``) and the
same picture through ``ganzoo stylize NAME --direction uci2mnist`` (``NAME.png``).

A super-resolution entry (``srgan_mnist``) ships its upscaling generator; its evaluation is
PSNR/SSIM against bicubic and the MNIST classifier's accuracy on SR, bicubic and HR test images
(``ganzoo.evaluation.sr_digits``), and its picture rows of LR | bicubic | ``ganzoo upscale`` | HR.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's ganzoo (src layout), whichever one is installed


def _commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha.stdout.strip() + ("+uncommitted-changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package(model, config, dest: Path, seconds: float, commit: str, data: str, final_losses: dict) -> dict:
    """Write the sampling generator's weights and the metadata JSON into ``dest``."""
    from ganzoo.evaluation.paths import sha256_file  # noqa: PLC0415

    if not getattr(model, "fully_grown", True):
        raise SystemExit(f"{config.name}: the model has not finished growing (phase {int(model.phase.numpy())}, alpha "
                         f"{float(model.alpha.numpy()):.3f}); bundled generator weights are loaded as fully grown: "
                         "train more epochs")
    dest.mkdir(parents=True, exist_ok=True)
    weights = dest / f"{config.name}.weights.h5"
    # GANs ship their sampling (EMA) generator, an SR entry its upscaling generator.
    generator = model.sampling_generator() if hasattr(model, "sampling_generator") else model.generator
    generator.save_weights(str(weights))
    meta = {
        "entry": config.name,
        "config_hash": config.hash(),
        "epochs": config.train.epochs,
        "steps": int(model.g_optimizer.iterations.numpy()),
        "batch_size": config.train.batch_size,
        "training_seconds": round(seconds, 1),
        "commit": commit,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "data": data,
        "weights": weights.name,
        "weights_sha256": sha256_file(weights),
        "final_losses": final_losses,
        "evaluation": None,
    }
    (dest / f"{config.name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


#: The evaluation protocol of the bundled weights (the README's "Evaluation" section).
EVAL_SAMPLES = 10_000


def evaluate_translation(model, config, data_dir: str) -> dict:
    """The digit translation measurement of an MNIST <-> UCI digits CycleGAN (see the module docstring)."""
    from ganzoo.zoo_eval import digit_translation_scores  # noqa: PLC0415

    if config.data.source != "uci_digits":
        raise SystemExit(f"{config.name}: scripts/train_pretrained.py evaluates only the MNIST <-> UCI digits "
                         "CycleGAN (data.source: uci_digits)")
    scores = digit_translation_scores(model, config, n_mnist=EVAL_SAMPLES, data_dir=data_dir)
    protocol = scores.pop("protocol")
    return {"metrics": scores, "bar": translation_bar(scores), "protocol": protocol}


#: The bar of a shipped digit translation (issue 17): the classifier reads translated UCI digits
#: this much better than the best plain resize, and the MNIST -> UCI -> MNIST cycle keeps this
#: share of the test digits' classes.
TRANSLATION_GAIN = 0.10
TRANSLATION_CYCLE = 0.97


def translation_bar(scores: dict) -> dict:
    """Issue 17's bar, checked on :func:`digit_translation_scores`' numbers."""
    return {"gain_over_best_resize_at_least": TRANSLATION_GAIN, "cycle_class_kept_at_least": TRANSLATION_CYCLE,
            "met": bool(scores["gain_over_best_resize"] >= TRANSLATION_GAIN
                        and scores["cycle_class_kept"] >= TRANSLATION_CYCLE)}


def evaluate_weights(model, config, data_dir: str) -> dict:
    """FCD, coverage (and label accuracy for a conditional entry) of ``EVAL_SAMPLES`` samples
    against the whole train split, with the shipped MNIST classifier; and the real-vs-real
    floor (10,000 test images against the same reference) measured the same way. An SR entry
    gets :func:`evaluate_super_resolution_weights` instead."""
    from ganzoo.zoo_eval import evaluate  # noqa: PLC0415

    if model.data_kind == "unpaired_ab":
        return evaluate_translation(model, config, data_dir)
    if model.data_kind == "paired_lr_hr":
        return evaluate_super_resolution_weights(model, config, data_dir)

    metrics = ["fcd", "coverage"] + (["label_accuracy"] if model.conditional else [])
    ours = evaluate(model, metrics, n=EVAL_SAMPLES, config=config, data_dir=data_dir, seed=0)
    floor = evaluate(f"real:{config.data.name}:test", ["fcd", "coverage"], n=EVAL_SAMPLES, config=config,
                     data_dir=data_dir)
    values = {k: round(float(v), 4) for k, v in ours["metrics"].items()}
    values["fcd_floor"] = round(float(floor["metrics"]["fcd"]), 4)
    values["fcd_over_floor"] = round(values["fcd"] / values["fcd_floor"], 2)
    return {"metrics": values, "samples": EVAL_SAMPLES, "seed": 0,
            "protocol": "ganzoo.evaluation.evaluate: shipped mnist_classifier features, "
                        f"{EVAL_SAMPLES} samples vs the {config.data.name} train split; "
                        "floor: the test split vs the train split"}


#: The bar of a shipped SR entry (issue 17): PSNR at least this far above bicubic, and its outputs
#: classified within this many points of the HR originals.
SR_PSNR_GAIN_DB = 2.0
SR_ACCURACY_GAP = 0.03


def evaluate_super_resolution_weights(model, config, data_dir: str, limit=None) -> dict:
    """PSNR/SSIM of the model and of bicubic, and the shipped MNIST classifier's accuracy on SR,
    bicubic and HR images, on the whole test split (``ganzoo.evaluation.sr_digits``), with the
    bar of the shipped weights checked."""
    from ganzoo.zoo_eval import evaluate_digit_super_resolution  # noqa: PLC0415

    result = evaluate_digit_super_resolution(model, config, limit=limit, data_dir=data_dir)
    values = {k: round(float(v), 4) for k, v in result["metrics"].items()}
    values["images"] = int(values["images"])
    bar = {"psnr_gain_db_at_least": SR_PSNR_GAIN_DB, "accuracy_gap_at_most": SR_ACCURACY_GAP,
           "met": bool(values["psnr_gain"] >= SR_PSNR_GAIN_DB
                       and values["hr_accuracy"] - values["accuracy"] <= SR_ACCURACY_GAP)}
    return {"metrics": values, "bar": bar, "protocol": result["protocol"]}


GRIDS = ROOT / "docs" / "images" / "pretrained"
#: The README picture of an SR entry: these MNIST test images (the first of each digit 0-9).
SR_PICTURE_DIGITS = 10
#: Black LR pixels between the digits of the strip handed to `ganzoo upscale`.
SR_PICTURE_GAP = 3


def write_upscale_picture(name: str, grids: Path = GRIDS, data_dir=None) -> Path:
    """The README picture of an SR entry, rows LR (nearest) | bicubic | the model | HR, of the
    first test image of each digit. The model's row is the output of ``ganzoo upscale NAME``
    on a strip of the LR digits (so the PNG carries its provenance); the other rows are the
    same strip's LR, its bicubic upscale and the originals."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    import ganzoo  # noqa: PLC0415
    from ganzoo.cli import main as cli  # noqa: PLC0415
    from ganzoo.evaluation.sr_metrics import bicubic_upscale  # noqa: PLC0415
    from ganzoo.images import bicubic_downscale, read_metadata, save_image  # noqa: PLC0415
    from ganzoo.zoo_eval import labelled_test_images  # noqa: PLC0415

    config = ganzoo.get_config(name)
    scale = config.data.scale
    hr, labels = labelled_test_images(config, limit=1000, data_dir=data_dir)
    picks = [int(np.flatnonzero(labels == d)[0]) for d in range(SR_PICTURE_DIGITS)]
    lr = bicubic_downscale(hr[picks], scale).numpy()
    gap = np.zeros((lr.shape[1], SR_PICTURE_GAP, lr.shape[3]), np.uint8)
    strip = np.concatenate([part for image in lr for part in (image, gap)][:-1], axis=1)
    hr_gap = np.zeros((hr.shape[1], SR_PICTURE_GAP * scale, hr.shape[3]), np.uint8)
    hr_strip = np.concatenate([part for image in hr[picks] for part in (image, hr_gap)][:-1], axis=1)
    grids.mkdir(parents=True, exist_ok=True)
    lr_file, sr_file = grids / f".{name}_lr.png", grids / f".{name}_sr.png"
    Image.fromarray(strip[..., 0] if strip.shape[-1] == 1 else strip).save(lr_file)
    try:
        if cli(["upscale", name, str(lr_file), "-o", str(sr_file)]) != 0:
            raise SystemExit(f"ganzoo upscale {name} failed")
        provenance = read_metadata(sr_file)
        sr = np.asarray(Image.open(sr_file)).reshape(hr_strip.shape)
    finally:
        for file in (lr_file, sr_file):
            file.unlink(missing_ok=True)
    rows = [strip.repeat(scale, axis=0).repeat(scale, axis=1), bicubic_upscale(strip, scale), sr, hr_strip]
    line = np.full((2, hr_strip.shape[1], hr_strip.shape[2]), 128, np.uint8)
    picture = np.concatenate([part for row in rows for part in (row, line)][:-1], axis=0)
    picture = picture.repeat(2, axis=0).repeat(2, axis=1)  # 28 px digits are small on a page
    path = grids / f"{name}.png"
    save_image(picture, path, metadata={**provenance, "rows": "LR (nearest) | bicubic | ganzoo upscale | HR",
                                        "test_images": picks, "enlarged": 2})
    return path


def train_time_callback(path: Path, previous: float, start: float):
    """A callback that writes the run's training time so far (``previous`` seconds of earlier
    processes plus this one's) to ``path`` at every epoch end, so a run that is interrupted and
    resumed still reports the time of all its segments."""
    import keras  # noqa: PLC0415

    class _TrainTime(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            path.write_text(f"{previous + time.time() - start:.1f}\n")

    return _TrainTime()


def last_logged_losses(run: Path) -> dict:
    """The last epoch's losses from the run's log.csv (when this call trained nothing: the run
    had already reached its epochs, e.g. extended with `ganzoo train --resume`)."""
    import csv  # noqa: PLC0415

    log = run / "log.csv"
    if not log.is_file():
        return {}
    rows = list(csv.DictReader(log.open()))
    if not rows:
        return {}
    return {k: float(v) for k, v in rows[-1].items() if k != "epoch" and v not in ("", "NA")}


def write_translation_grid(name: str, grids: Path = GRIDS, weights: str = "pretrained") -> Path:
    """The before/after pair of a digit CycleGAN: 64 UCI test digits framed as its domain B, i.e. the
    model's input (``load_uci_domain_b``; 8x8 grid, no gaps, ``NAME_before.png``), then ``ganzoo
    stylize`` on that picture, 28-pixel tiles without overlap so that every digit is translated
    alone (``NAME.png``)."""
    import ganzoo  # noqa: PLC0415
    from ganzoo.cli import main as cli  # noqa: PLC0415
    from ganzoo.data.digits import load_uci_domain_b  # noqa: PLC0415
    from ganzoo.images import make_grid, save_image  # noqa: PLC0415

    config = ganzoo.get_config(name)
    size = config.data.image_size
    grids.mkdir(parents=True, exist_ok=True)
    before, after = grids / f"{name}_before.png", grids / f"{name}.png"
    digits, labels = load_uci_domain_b(config, "test", limit=64)
    save_image(make_grid(digits, nrow=8, padding=0), before,
               metadata={"content": "the first 64 UCI test digits, framed as the model's domain B "
                                    "(ganzoo.data.digits)",
                         "labels": " ".join(map(str, labels))})
    a, b = config.model.domains
    if cli(["stylize", name, str(before), "--direction", f"{b}2{a}", "--tile", str(size), "--overlap", "0",
            "--weights", weights, "-o", str(after)]) != 0:
        raise SystemExit(f"ganzoo stylize {name} failed")
    return after


def write_grid(name: str, conditional: bool, grids: Path = GRIDS, data_dir=None) -> Path:
    """Draw the README's sample grid of the bundled weights with ``ganzoo generate`` (so the PNG
    carries its provenance): 64 samples, seed 7; a conditional entry 100, digits 0-9 per column.
    An SR entry gets :func:`write_upscale_picture` (its test digits from TFDS in ``data_dir``)."""
    from ganzoo.cli import main as cli  # noqa: PLC0415
    from ganzoo.registry import get_config, model_class_info  # noqa: PLC0415

    kind = model_class_info(get_config(name).model.cls).data_kind
    if kind == "unpaired_ab":
        return write_translation_grid(name, grids)
    if kind == "paired_lr_hr":
        return write_upscale_picture(name, grids, data_dir)
    grids.mkdir(parents=True, exist_ok=True)
    path = grids / f"{name}.png"
    extra = ["-n", "100", "--labels", "0-9"] if conditional else ["-n", "64"]
    if cli(["generate", name, *extra, "--seed", "7", "-o", str(path)]) != 0:
        raise SystemExit(f"ganzoo generate {name} failed")
    return path


def main(argv=None) -> int:
    """Train (or resume) the entry, package its generator, evaluate it and draw its grid."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name")
    p.add_argument("--data-dir", default=os.environ.get("TFDS_DATA_DIR") or str(ROOT.parent / "shared" / "tfds"))
    p.add_argument("--out", default=str(ROOT / "runs" / "pretrained"))
    p.add_argument("--dest", default=str(ROOT / "src" / "ganzoo" / "pretrained"))
    p.add_argument("--evaluate-only", action="store_true",
                   help="only (re)evaluate the bundled weights and update their metadata")
    p.add_argument("--grid-only", action="store_true",
                   help="only redraw docs/images/pretrained/NAME.png from the bundled weights")
    args = p.parse_args(argv)

    import ganzoo  # noqa: PLC0415
    from ganzoo.training import train  # noqa: PLC0415

    config = ganzoo.get_config(args.name)
    dest = Path(args.dest)
    if args.grid_only:
        print(f"wrote {write_grid(args.name, config.conditional, data_dir=args.data_dir)}")
        return 0
    if args.evaluate_only:
        model = ganzoo.load(args.name, weights="pretrained", compile=False)
        meta_path = dest / f"{args.name}.json"
        meta = json.loads(meta_path.read_text())
        meta["evaluation"] = evaluate_weights(model, config, args.data_dir)
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
        print(json.dumps(meta, indent=2))
        return 0
    commit = _commit()
    run = Path(args.out) / args.name
    # A run folder with checkpoints of this recipe is continued (exactly: see ganzoo.training),
    # e.g. after an interruption or when the recipe's epochs were raised.
    resume = (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("ckpt-*.keras"))
    done = run / "train_time.txt"
    previous = float(done.read_text()) if resume and done.is_file() else 0.0
    start = time.time()
    model, history = train(config, out=run, data_dir=args.data_dir, verbose=2, samples_every=1, resume=resume,
                           keep_checkpoints=1000, extra_callbacks=[train_time_callback(done, previous, start)])
    seconds = previous + time.time() - start
    done.write_text(f"{seconds:.1f}\n")
    losses = {k: float(v[-1]) for k, v in history.history.items()} if history.epoch else last_logged_losses(run)
    data = f"TFDS {config.data.name} {config.data.split}"
    if config.data.source == "uci_digits":
        data += f" and the UCI digits' {config.data.split} split (ganzoo.data.digits)"
    meta = package(model, config, dest, seconds, commit, data,
                   final_losses=losses)
    meta["evaluation"] = evaluate_weights(model, config, args.data_dir)
    (dest / f"{config.name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))
    if Path(args.dest).resolve() == (ROOT / "src" / "ganzoo" / "pretrained").resolve():
        print(f"wrote {write_grid(config.name, config.conditional, data_dir=args.data_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
