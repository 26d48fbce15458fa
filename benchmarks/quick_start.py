"""The README's "Start here" path as a newcomer with a CPU walks it, timed and scored.

    python -m benchmarks.quick_start [--minutes 10] [--cores 2] [--json benchmarks/results/quick_start.json]

1. Writes 500 MNIST training digits (the first 500 of the train split, read from TFDS in
   ``$TFDS_DATA_DIR``) as grey 28x28 PNG files into a folder: a "folder of your own pictures".
2. Runs the README's training command in a subprocess, exactly as written there apart from the
   paths: ``ganzoo train dcgan_folder_quick --data-path DIGITS --out RUN`` (``python -m ganzoo``
   with this checkout's ``src`` on ``PYTHONPATH``). While it runs, records the wall clock from the start
   of ``train`` to each per-epoch sample grid and checkpoint (polled every 0.25 s), and
   hard-links every checkpoint as it appears (the run keeps only its newest 3). It stops the
   run with SIGINT (Ctrl-C) after ``--minutes`` unless the recipe finishes first.
3. After the run (so that scoring takes no CPU from training), scores the newest checkpoint
   written by each mark (default 2, 5 and 10 minutes): 1,000 samples (seed 0) from the
   generator ``ganzoo sample RUN`` would use (the EMA generator once warm, else the raw one),
   also from the raw generator for comparison, judged by the shipped MNIST classifier
   (``mnist_classifier``, 28x28 grey digits). The samples are 32x32 RGB: they are made grey
   by the mean of the three channels (the training digits are grey, so R = G = B there) and
   resized to 28x28 with an antialiased bilinear filter (the data layer made the 28 px digits
   32 px with Lanczos; no crop, the digits fill the frame as in MNIST). Reported: class
   coverage (``ganzoo.evaluation.class_coverage``: normalised entropy of the predicted-class
   histogram, 1 = all ten digits equally often) and the mean of the classifier's maximum
   probability (how confidently each sample reads as some digit; MNIST test digits: ~0.99).
4. Writes the JSON (machine, CPU count, load average before/during/after, the command, the
   timeline, the scores, whether the bar is met: coverage >= 0.9 and mean max-probability
   >= 0.8 by 10 minutes).

``--cores N`` pins the training process to N CPUs (``os.sched_setaffinity``; a 2-core laptop on
a larger machine) and is recorded either way; on a machine with N cores or fewer it is only a
note. Other machines' jobs are not controlled: the load average in the JSON says how busy the
machine was. ``--entry`` / ``--set`` try another recipe the same way (probes).

``--step-cost dcgan_folder_64,stylegan_folder_128`` times a few steps of other recipes on the
same folder instead (seconds per step, and their whole budget at that speed), for the README's
cost table::

    python -m benchmarks.quick_start --step-cost dcgan_folder_64,stylegan_folder_128 --steps 5 \
        --json benchmarks/results/quick_start_step_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))  # this checkout's ganzoo (src layout) for the scoring
#: The README's "Start here" training command for a CPU (paths filled in by the benchmark).
START_HERE = ["train", "{entry}", "--data-path", "{data}", "--out", "{run}"]
BAR = {"coverage": 0.9, "mean_max_prob": 0.8}


def write_digits(folder: Path, n: int = 500, data_dir: str | None = None) -> int:
    """The first ``n`` MNIST training digits as grey 28x28 PNG files ``folder/NNNN.png``."""
    import tensorflow_datasets as tfds
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR")
    ds = tfds.load("mnist", split=f"train[:{n}]", data_dir=data_dir, download=False)
    count = 0
    for count, example in enumerate(tfds.as_numpy(ds), start=1):
        Image.fromarray(example["image"][..., 0], mode="L").save(folder / f"{count - 1:04d}.png")
    if count != n:
        raise RuntimeError(f"MNIST gave {count} digits, wanted {n}")
    return count


def _load() -> list[float]:
    """The 1, 5 and 15-minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def run_training(command: list[str], run: Path, minutes: float, cores: int | None, log) -> dict:
    """Run ``command`` (a ganzoo CLI call), watching ``run``; return the timeline."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    snapshots = run.parent / (run.name + "_snapshots")
    snapshots.mkdir(parents=True, exist_ok=True)
    pin = None
    if cores and hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > cores:
        pin = sorted(os.sched_getaffinity(0))[:cores]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ganzoo", *command], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, preexec_fn=(lambda: os.sched_setaffinity(0, pin)) if pin else None)
    grids, checkpoints, loads, stopped = {}, {}, [], None
    next_load = 0.0
    while True:
        now = time.perf_counter() - start
        if now >= next_load:
            loads.append(os.getloadavg()[0])
            next_load = now + 10
        for path in sorted((run / "samples").glob("epoch_*.png")) if (run / "samples").is_dir() else []:
            grids.setdefault(path.name, round(now, 1))
        for path in sorted((run / "checkpoints").glob("ckpt-*.keras")) if (run / "checkpoints").is_dir() else []:
            if path.name not in checkpoints:
                try:
                    os.link(path, snapshots / path.name)
                except FileExistsError:
                    pass
                except OSError:  # pruned meanwhile, or a file system without hard links
                    try:
                        shutil.copy2(path, snapshots / path.name)
                    except OSError:
                        continue
                checkpoints[path.name] = round(now, 1)
        if proc.poll() is not None:
            break
        if stopped is None and now > minutes * 60:
            proc.send_signal(signal.SIGINT)  # Ctrl-C, as a user would
            stopped = round(now, 1)
        if stopped is not None and now > stopped + 120:
            proc.kill()
        time.sleep(0.25)
    return {"seconds": round(time.perf_counter() - start, 1), "returncode": proc.returncode,
            "stopped_by_ctrl_c_at_s": stopped, "pinned_cpus": pin, "sample_grids_s": grids,
            "checkpoints_s": checkpoints, "snapshots": str(snapshots),
            "load_avg_1min_during": {"mean": round(sum(loads) / len(loads), 2), "min": round(min(loads), 2),
                                     "max": round(max(loads), 2), "samples_every_s": 10}}


def to_classifier_input(images):
    """Generated images in [-1, 1] (n, H, W, C) -> (n, 28, 28, 1) for the MNIST classifier:
    grey by the channel mean, then an antialiased bilinear resize to 28x28."""
    import numpy as np
    import tensorflow as tf

    grey = np.asarray(images, np.float32).mean(axis=-1, keepdims=True)
    if grey.shape[1:3] != (28, 28):
        grey = tf.image.resize(grey, (28, 28), method="bilinear", antialias=True).numpy()
    return np.clip(grey, -1.0, 1.0)


def score(model_file: Path, n: int = 1000, seed: int = 0) -> dict:
    """Coverage and mean max-probability of ``n`` samples of a run's checkpoint, for the
    generator ``ganzoo sample`` would use and for the raw generator."""
    import keras
    import numpy as np

    import ganzoo.models  # noqa: F401  (registers the classes)
    from ganzoo.commands.common import saved_step
    from ganzoo.evaluation import class_coverage
    from ganzoo.evaluation.classifier import load_classifier

    classifier = load_classifier("mnist_classifier")
    model = keras.saving.load_model(str(model_file))
    choice = model.sampling_choice(None)
    out = {"file": model_file.name, "step": saved_step(model_file), "generator": str(choice)}
    for key, use_ema in (("sampled", None), ("raw", False)):
        images = model.generate(n, seed=seed, use_ema=use_ema)
        probs = np.concatenate([np.asarray(classifier(to_classifier_input(images[i:i + 250]))[1])
                                for i in range(0, n, 250)])
        cov = class_coverage(probs, 10)
        out[key] = {"coverage": round(float(cov["coverage"]), 4),
                    "mean_max_prob": round(float(probs.max(axis=1).mean()), 4),
                    "histogram": [int(x) for x in cov["histogram"]]}
    return out


def step_cost(entries: list[str], folder: Path, steps: int = 5) -> dict:
    """Seconds per training step of each entry's full recipe on ``folder``, in this process
    (after 2 warm-up steps that build and trace), and its whole step budget at that speed."""
    import ganzoo

    rows = {}
    for entry in entries:
        config = ganzoo.get_config(entry, **{"data.source": "folder", "data.path": str(folder)})
        model = ganzoo.load(config)
        data = ganzoo.load_dataset(config, repeat=True)
        model.fit(data, epochs=1, steps_per_epoch=2, verbose=0)
        start = time.perf_counter()
        model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
        seconds = (time.perf_counter() - start) / steps
        total = config.train.epochs * config.train.steps_per_epoch
        rows[entry] = {"seconds_per_step": round(seconds, 3), "steps_timed": steps, "recipe_steps": total,
                       "recipe_hours_at_this_speed": round(seconds * total / 3600, 1),
                       "load_avg_after": _load()}
        print(f"{entry}: {seconds:.2f} s/step; {total:,} steps = {seconds * total / 3600:.1f} h", flush=True)
    return rows


def parse_args(argv=None):
    """Command-line options (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10.0, help="stop the run (Ctrl-C) after this many minutes "
                                                              "(default 10)")
    p.add_argument("--marks", default="2,5,10", help="minutes at which to score the newest checkpoint "
                                                     "(default 2,5,10; marks past --minutes are dropped)")
    p.add_argument("--cores", type=int, default=None, help="CPUs to pin training to, and the note in the JSON "
                                                           "(default: all this process may use)")
    p.add_argument("--entry", default="dcgan_folder_quick", help="zoo entry (default: the README's "
                                                                 "dcgan_folder_quick)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra --set for the training command (probes; the README's command has none)")
    p.add_argument("--images", type=int, default=500, help="MNIST digits in the folder (default 500)")
    p.add_argument("-n", "--samples", type=int, default=1000, help="samples scored per mark (default 1000)")
    p.add_argument("--work", default=None, help="folder for the digits and the run (default: a temporary one, "
                                                "removed afterwards)")
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results" / "quick_start.json"))
    p.add_argument("--note", default="", help="free text stored in the JSON")
    p.add_argument("--step-cost", default=None, metavar="ENTRIES",
                   help="instead of the run: time a few steps of each of these comma-separated entries' "
                        "full recipes on the digit folder (s/step and the whole recipe at that speed)")
    p.add_argument("--steps", type=int, default=5, help="--step-cost: steps timed per entry (default 5)")
    args = p.parse_args(argv)
    if args.minutes <= 0:
        p.error("--minutes must be positive")
    try:
        args.marks = sorted(float(m) for m in args.marks.split(",") if m.strip())
    except ValueError:
        p.error(f"--marks must be comma-separated minutes, e.g. 2,5,10; got {args.marks!r}")
    return args


def main(argv=None) -> int:
    """Write the digits, run and watch the training, score the marks, write the JSON."""
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ganzoo_quick_start_"))
    digits, run = work / "digits", work / "run"
    if run.exists():
        raise SystemExit(f"{run} exists: pass a fresh --work folder")
    if not digits.is_dir():
        write_digits(digits, args.images)
    if args.step_cost:
        load_before = _load()
        rows = step_cost([e.strip() for e in args.step_cost.split(",") if e.strip()], digits, args.steps)
        report = {"benchmark": "quick_start --step-cost", "images": args.images,
                  "machine": {"platform": platform.platform(), "cpus_visible": os.cpu_count(),
                              "cores_note": args.cores, "load_avg_before": load_before},
                  "entries": rows, "note": args.note}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
        return 0
    command = [part.format(entry=args.entry, data=digits, run=run) for part in START_HERE]
    for item in args.set:
        command += ["--set", item]
    load_before = _load()
    print(f"ganzoo {' '.join(command)}  (load average {load_before}, stops after {args.minutes:g} min)", flush=True)
    with open(work / "train.log", "w") as log:
        timeline = run_training(command, run, args.minutes, args.cores, log)
    load_after = _load()
    if not timeline["checkpoints_s"]:
        tail = (work / "train.log").read_text()[-3000:]
        raise SystemExit(f"the run wrote no checkpoint (exit {timeline['returncode']}):\n{tail}")

    snapshots = Path(timeline["snapshots"])
    marks = [m for m in args.marks if m <= args.minutes + 1e-9]
    results = []
    for mark in marks:
        written = [(t, name) for name, t in timeline["checkpoints_s"].items() if t <= mark * 60]
        if not written:
            results.append({"minutes": mark, "checkpoint": None})
            continue
        t, name = max(written)
        row = {"minutes": mark, "checkpoint_written_s": t, **score(snapshots / name, args.samples)}
        results.append(row)
        s = row["sampled"]
        print(f"{mark:5g} min  step {row['step']:>6}  coverage {s['coverage']:.3f}  mean max-prob "
              f"{s['mean_max_prob']:.3f}  ({row['generator']}; raw G: {row['raw']['coverage']:.3f} / "
              f"{row['raw']['mean_max_prob']:.3f})", flush=True)
    met = [r["minutes"] for r in results if r.get("sampled") and r["sampled"]["coverage"] >= BAR["coverage"]
           and r["sampled"]["mean_max_prob"] >= BAR["mean_max_prob"]]
    first_grid = min(timeline["sample_grids_s"].values(), default=None)
    report = {
        "benchmark": "quick_start", "entry": args.entry,
        "command": "ganzoo " + " ".join(command).replace(str(work), "WORK"),
        "images": args.images, "samples_scored": args.samples,
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus_visible": os.cpu_count(), "cores_note": args.cores,
                    "load_avg_before": load_before, "load_avg_after": load_after,
                    "load_avg_1min_during": timeline["load_avg_1min_during"]},
        "timeline": {k: v for k, v in timeline.items() if k != "snapshots"},
        "first_sample_grid_s": first_grid,
        "scores": results,
        "bar": {**BAR, "by_minutes": 10, "met_at_minutes": met, "met": any(m <= 10 for m in met)},
        "how_scored": "1,000 samples (seed 0) of the generator `ganzoo sample` uses; grey = mean of RGB; "
                      "antialiased bilinear resize 32->28; shipped mnist_classifier; coverage = "
                      "ganzoo.evaluation.class_coverage, mean_max_prob = mean of the max softmax probability",
        "note": args.note,
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    grids = sorted((run / "samples").glob("epoch_*.png"))
    if grids:
        shutil.copy2(grids[-1], out.with_suffix(".png"))
    print(f"wrote {out}; bar {'met' if report['bar']['met'] else 'NOT met'} "
          f"(coverage >= {BAR['coverage']}, mean max-prob >= {BAR['mean_max_prob']} by 10 min)")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
