"""Small-data benchmark: does discriminator augmentation help on 1,000 images?

Trains the ``dcgan_mnist_1k`` entry (DCGAN on the first 1,000 MNIST training images) three
times with the same seed, networks and step budget, changing only the discriminator's
augmentation:

* ``none``        no augmentation (the discriminator can memorise the 1,000 images);
* ``diffaugment`` DiffAugment ``color,translation,cutout`` (Zhao et al. 2020);
* ``ada``         adaptive discriminator augmentation (Karras et al. 2020), target 0.6.

Each run is judged with ganzoo's evaluation protocol for MNIST (the shipped MNIST classifier:
FCD against the full train split, coverage of the ten classes) on 10,000 samples of the EMA
generator. Every ``--eval-every`` steps it also records FCD on 2,000 samples and the
discriminator's overfitting signal: the mean ``sign(D(x))`` on the 1,000 training images and
on 1,000 held-out test images (without augmentation). A discriminator that memorises its
training set scores its own images "real" and the unseen ones "fake".

Writes ``docs/images/small_data_benchmark.json`` and ``docs/images/small_data_grid.png`` (64
samples of each run side by side, same latents)::

    TFDS_DATA_DIR=/work/shared/tfds python scripts/small_data_benchmark.py
    python scripts/small_data_benchmark.py --steps 300 --variants none,ada   # a quick look

The variants can also run in parallel processes, each into its own ``--out`` folder, and be
merged afterwards (the JSON's runs in the given order, the grids side by side)::

    python scripts/small_data_benchmark.py --variants none --out runs/small/none &
    python scripts/small_data_benchmark.py --variants diffaugment --out runs/small/diffaugment &
    wait; python scripts/small_data_benchmark.py --merge runs/small/none runs/small/diffaugment
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's ganzoo (src layout), whichever one is installed
VARIANTS = {
    "none": {"augment.ada": False, "augment.policy": ""},
    "diffaugment": {"augment.ada": False, "augment.policy": "color,translation,cutout"},
    "ada": {"augment.ada": True, "augment.policy": ""},
}


def parse_args(argv=None):
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entry", default="dcgan_mnist_1k", help="zoo entry (default dcgan_mnist_1k)")
    p.add_argument("--steps", type=int, default=None,
                   help="training steps per variant (default: the entry's epochs * steps_per_epoch)")
    p.add_argument("--eval-every", type=int, default=None, help="steps between progress evaluations "
                                                                "(default: the entry's steps_per_epoch)")
    p.add_argument("--variants", default="none,diffaugment,ada", help="comma-separated: none, diffaugment, ada")
    p.add_argument("--policy", default="color,translation,cutout",
                   help="DiffAugment ops of the diffaugment variant (default color,translation,cutout)")
    p.add_argument("-n", "--eval-samples", type=int, default=10000, help="samples for the final FCD/coverage")
    p.add_argument("--data-dir", default=None, help="TFDS data folder (default $TFDS_DATA_DIR)")
    p.add_argument("--out", default=str(ROOT / "docs" / "images"), help="folder for the JSON and the grid")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra config override for every variant (repeatable)")
    p.add_argument("--merge", nargs="+", metavar="DIR", default=None,
                   help="merge the results of earlier runs (their --out folders) into --out, train nothing")
    args = p.parse_args(argv)
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    if args.steps is not None and args.steps <= 0:
        p.error("--steps must be positive")
    return args


def dataset_images(config, data_dir, **kwargs):
    """All images of ``ganzoo.load_dataset(config, ...)`` in order, float in [-1, 1]: the entry's
    training images (its ``data.limit`` first ones) by default; ``split="test", limit=n`` gives
    the first ``n`` held-out test images (never trained on)."""
    import numpy as np  # noqa: PLC0415

    from ganzoo.data import load_dataset  # noqa: PLC0415

    ds = load_dataset(config, data_dir=data_dir, shuffle=False, batch_size=500, drop_remainder=False,
                      with_labels=False, **kwargs)
    return np.concatenate([b.numpy() for b in ds], axis=0)


def sign_mean(model, images, batch_size: int) -> float:
    """E[sign(D(x))] of the discriminator without augmentation, as in training (batch
    statistics over batches of ``batch_size``: D's batch norm never runs in inference mode
    during training, so its moving averages are not what it was trained with). D's
    moving averages are put back afterwards."""
    import numpy as np  # noqa: PLC0415

    D = model.discriminator
    saved = [v.numpy() for v in D.non_trainable_weights]
    usable = len(images) - len(images) % batch_size
    logits = np.concatenate([np.asarray(D(images[i:i + batch_size], training=True)).reshape(-1)
                             for i in range(0, usable, batch_size)])
    for v, value in zip(D.non_trainable_weights, saved):
        v.assign(value)
    return float(np.mean(np.sign(logits)))


def run_variant(name, args, classifier, eval_config, train_x, test_x):
    """Train one variant; returns (record dict, 64 sample images)."""
    import keras  # noqa: PLC0415

    import ganzoo  # noqa: PLC0415
    from ganzoo.builders import build_model, compile_model  # noqa: PLC0415
    from ganzoo.config import parse_set_option  # noqa: PLC0415
    from ganzoo.zoo_eval import evaluate  # noqa: PLC0415

    overrides = dict(parse_set_option(s) for s in args.set)
    overrides.update(VARIANTS[name])
    if name == "diffaugment":
        overrides["augment.policy"] = args.policy
    overrides["train.seed"] = args.seed
    config = ganzoo.get_config(args.entry, **overrides)
    per_epoch = args.eval_every or config.train.steps_per_epoch or 250
    steps = args.steps or config.train.epochs * (config.train.steps_per_epoch or per_epoch)
    if steps % per_epoch:
        raise SystemExit(f"--steps ({steps}) must be a multiple of --eval-every ({per_epoch})")
    batch = config.train.batch_size
    keras.utils.set_random_seed(args.seed)
    model = build_model(config)
    compile_model(model, config)
    dataset = ganzoo.load_dataset(config, data_dir=args.data_dir, repeat=True)
    progress = []

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            step = (epoch + 1) * per_epoch
            quick = evaluate(model, ["fcd", "coverage"], 2000, config=eval_config, seed=args.seed + 1,
                             data_dir=args.data_dir, classifier=classifier)
            row = {"step": step, "images_seen": step * config.train.batch_size,
                   "fcd_2k": quick["metrics"]["fcd"], "coverage_2k": quick["metrics"]["coverage"],
                   "d_sign_train": sign_mean(model, train_x, batch), "d_sign_heldout": sign_mean(model, test_x, batch),
                   **{k: float(v) for k, v in (logs or {}).items()}}
            progress.append(row)
            print(f"  [{name}] step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()
                                                          if isinstance(v, float)), flush=True)

    start = time.time()
    model.fit(dataset, epochs=steps // per_epoch, steps_per_epoch=per_epoch, verbose=0, callbacks=[Progress()])
    train_seconds = time.time() - start
    final = evaluate(model, ["fcd", "coverage"], args.eval_samples, config=eval_config, seed=args.seed,
                     data_dir=args.data_dir, classifier=classifier)
    record = {
        "variant": name,
        "augment": {"policy": config.augment.policy, "ada": config.augment.ada,
                    "ada_target": config.augment.ada_target, "ada_kimg": config.augment.ada_kimg},
        "images": len(train_x),
        "steps": steps,
        "batch_size": config.train.batch_size,
        "fcd": final["metrics"]["fcd"],
        "coverage": final["metrics"]["coverage"],
        "class_histogram": final["details"].get("class_histogram"),
        "eval_samples": args.eval_samples,
        "final_p": float(model.augment_pipe.p.numpy()) if getattr(model, "augment_pipe", None) is not None
        and config.augment.ada else None,
        # The last progress row was taken at the final step (steps is a multiple of per_epoch).
        "d_sign_train": progress[-1]["d_sign_train"],
        "d_sign_heldout": progress[-1]["d_sign_heldout"],
        "wall_clock_seconds": round(time.time() - start, 1),
        "train_seconds_incl_progress_evals": round(train_seconds, 1),
        "progress": progress,
    }
    samples = model.generate(64, seed=1234)
    return record, samples


def write_grid(samples_by_variant, path: Path, records):
    """Side-by-side 8x8 grids (same latents), titled with the variant and its FCD/coverage."""
    import numpy as np  # noqa: PLC0415
    from PIL import Image, ImageDraw  # noqa: PLC0415

    from ganzoo.images import make_grid  # noqa: PLC0415

    scale, title_h, gap = 2, 30, 12
    panels = []
    for name, samples in samples_by_variant.items():
        grid = make_grid(samples, nrow=8, padding=2, pad_value=255)
        img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).convert("RGB")
        panels.append((name, img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)))
    width = sum(p.width for _, p in panels) + gap * (len(panels) + 1)
    height = max(p.height for _, p in panels) + title_h + gap
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    x = gap
    for name, panel in panels:
        rec = records[name]
        draw.text((x, 8), f"{name}: FCD {rec['fcd']:.2f}, coverage {rec['coverage']:.3f}", fill="black")
        canvas.paste(panel, (x, title_h))
        x += panel.width + gap
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return np.asarray(canvas).shape


def merge(folders, out: Path) -> dict:
    """Combine the JSON and grids of runs written into separate ``--out`` folders: the runs in
    the order given (each variant once), the grids pasted side by side (same latents)."""
    from PIL import Image  # noqa: PLC0415

    results, grids, seen = [], [], set()
    for folder in map(Path, folders):
        json_path, grid_path = folder / "small_data_benchmark.json", folder / "small_data_grid.png"
        if not json_path.is_file() or not grid_path.is_file():
            raise SystemExit(f"{folder} has no small_data_benchmark.json and small_data_grid.png: "
                             "give the --out folders of finished runs")
        result = json.loads(json_path.read_text())
        variants = [r["variant"] for r in result["runs"]]
        if seen & set(variants):
            raise SystemExit(f"variant(s) {', '.join(sorted(seen & set(variants)))} appear in more than one folder")
        seen |= set(variants)
        results.append(result)
        grids.append(Image.open(grid_path).convert("RGB"))
    first = results[0]
    for other in results[1:]:
        for key in ("entry", "protocol"):
            if other[key] != first[key]:
                raise SystemExit(f"cannot merge runs with different {key}: {first[key]!r} vs {other[key]!r}")
        steps = {r["steps"] for r in first["runs"] + other["runs"]}
        if len(steps) > 1:
            raise SystemExit(f"cannot merge runs of different step budgets: {sorted(steps)}")
    merged = dict(first, runs=[run for r in results for run in r["runs"]],
                  command=" ; ".join(r["command"] for r in results))
    out.mkdir(parents=True, exist_ok=True)
    (out / "small_data_benchmark.json").write_text(json.dumps(merged, indent=2) + "\n")
    canvas = Image.new("RGB", (sum(g.width for g in grids), max(g.height for g in grids)), "white")
    x = 0
    for grid in grids:
        canvas.paste(grid, (x, 0))
        x += grid.width
    canvas.save(out / "small_data_grid.png")
    return merged


def print_table(records) -> None:
    """The results as a markdown table."""
    print("\n| images | steps | augmentation | FCD | coverage | D sign train / held-out | wall-clock |")
    print("|---|---|---|---|---|---|---|")
    for r in records:
        print(f"| {r['images']:,} | {r['steps']:,} | {r['variant']} | {r['fcd']:.2f} | {r['coverage']:.4f} | "
              f"{r['d_sign_train']:+.2f} / {r['d_sign_heldout']:+.2f} | {r['wall_clock_seconds'] / 60:.1f} min |")


def main(argv=None) -> int:
    """Run the variants and write the JSON and the grid; prints the table."""
    args = parse_args(argv)
    if args.merge:
        merged = merge(args.merge, Path(args.out))
        print_table(merged["runs"])
        print(f"\nwrote {Path(args.out) / 'small_data_benchmark.json'} and {Path(args.out) / 'small_data_grid.png'}")
        return 0
    if args.data_dir:
        os.environ["TFDS_DATA_DIR"] = args.data_dir
    import ganzoo  # noqa: PLC0415
    from ganzoo.evaluation.classifier import load_classifier  # noqa: PLC0415

    config = ganzoo.get_config(args.entry)
    # Judge against the whole distribution: the full train split (not the 1,000 images trained
    # on) and the shipped MNIST classifier (a config with data.limit would key both on the subset).
    eval_config = config.copy()
    eval_config.data.limit = None
    classifier = load_classifier(eval_config, data_dir=args.data_dir, train=False)
    train_x = dataset_images(config, args.data_dir)
    test_x = dataset_images(config, args.data_dir, split="test", limit=len(train_x))
    print(f"{args.entry}: {len(train_x)} training images, {len(test_x)} held-out test images")
    records, samples = {}, {}
    for name in args.variants.split(","):
        print(f"== {name}", flush=True)
        records[name], samples[name] = run_variant(name, args, classifier, eval_config, train_x, test_x)
        r = records[name]
        print(f"  {name}: FCD {r['fcd']:.2f}, coverage {r['coverage']:.4f}, {r['wall_clock_seconds']:.0f} s",
              flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "entry": args.entry,
        "protocol": f"FCD and coverage with the shipped MNIST classifier, {args.eval_samples} EMA-generator "
                    "samples vs the full MNIST train split (ganzoo.evaluation.evaluate)",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
        "command": "python scripts/small_data_benchmark.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "runs": list(records.values()),
    }
    (out / "small_data_benchmark.json").write_text(json.dumps(result, indent=2) + "\n")
    write_grid(samples, out / "small_data_grid.png", records)
    print_table(records.values())
    print(f"\nwrote {out / 'small_data_benchmark.json'} and {out / 'small_data_grid.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
