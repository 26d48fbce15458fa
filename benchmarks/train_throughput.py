"""Training throughput of a zoo entry: images/s with XLA on and off, and peak memory.

    python benchmarks/train_throughput.py cgan_mnist dcgan_mnist [--steps 50 --repeats 5 --batch-size 64]

Each (entry, jit) pair runs in its own subprocess so its peak resident memory is its own.
In a subprocess: build and compile the entry (its config unchanged apart from --batch-size),
run ``--warmup`` steps (tracing/compilation), then ``--repeats`` timed runs of ``--steps``
steps through ``model.fit`` on the entry's real input pipeline (TFDS data when available,
else an in-memory synthetic dataset of the same shape). Reports the median images/s, the
spread (min-max) and the peak RSS. Numbers are comparable only within one run: the
machine is shared, so read ratios, not absolute values.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _dataset(config, synthetic: bool):
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    import ganzoo  # noqa: PLC0415
    from ganzoo.registry import model_class  # noqa: PLC0415

    batch = model_class(config.model.cls).examples_per_step(config)
    if not synthetic:
        try:
            return ganzoo.load_dataset(config, repeat=True, download=False), "real"
        except Exception as err:  # noqa: BLE001 - fall back and say so
            print(f"# {config.name}: real data unavailable ({type(err).__name__}); using synthetic", file=sys.stderr)
    size, ch = config.data.image_size, config.data.channels
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch * 8, size, size, ch)).astype("float32")
    if config.conditional:
        y = rng.integers(0, config.model.get("num_classes"), batch * 8).astype("int32")
        ds = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        ds = tf.data.Dataset.from_tensor_slices(x)
    return ds.batch(batch, drop_remainder=True).cache().repeat().prefetch(2), "synthetic"


def measure(name: str, jit: bool, steps: int, repeats: int, warmup: int, batch_size, synthetic: bool) -> dict:
    import ganzoo  # noqa: PLC0415
    from ganzoo.builders import build_model, compile_model  # noqa: PLC0415
    from ganzoo.registry import model_class  # noqa: PLC0415

    overrides = {"train.batch_size": batch_size} if batch_size else {}
    config = ganzoo.get_config(name, **overrides)
    ds, source = _dataset(config, synthetic)
    model = build_model(config)
    compile_model(model, config, jit_compile=jit)
    images_per_step = model_class(config.model.cls).examples_per_step(config)
    t0 = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=warmup, verbose=0)
    warmup_s = time.perf_counter() - t0
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
        rates.append(steps * images_per_step / (time.perf_counter() - t0))
    return {"entry": name, "jit_compile": jit, "batch_size": config.train.batch_size, "data": source,
            "images_per_step": images_per_step, "median_images_per_s": statistics.median(rates),
            "min_images_per_s": min(rates), "max_images_per_s": max(rates), "repeats": repeats, "steps": steps,
            "warmup_s": warmup_s, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("entries", nargs="+")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--jit", choices=["both", "on", "off"], default="both")
    p.add_argument("--synthetic", action="store_true", help="in-memory data instead of the TFDS pipeline")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        name, jit = args.worker.split(":")
        print(json.dumps(measure(name, jit == "on", args.steps, args.repeats, args.warmup, args.batch_size,
                                 args.synthetic)))
        return 0
    results = []
    jits = {"both": ["off", "on"], "on": ["on"], "off": ["off"]}[args.jit]
    for name in args.entries:
        for jit in jits:
            cmd = [sys.executable, __file__, "--worker", f"{name}:{jit}", "--steps", str(args.steps),
                   "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
            if args.batch_size:
                cmd += ["--batch-size", str(args.batch_size)]
            if args.synthetic:
                cmd.append("--synthetic")
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                print(out.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"benchmark of {name} (jit {jit}) failed")
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'entry':<18}{'jit':<5}{'batch':>6}{'images/s (median)':>19}{'min-max':>17}{'peak MB':>9}  data")
    for r in results:
        print(f"{r['entry']:<18}{'on' if r['jit_compile'] else 'off':<5}{r['batch_size']:>6}"
              f"{r['median_images_per_s']:>19.0f}{r['min_images_per_s']:>8.0f}-{r['max_images_per_s']:<8.0f}"
              f"{r['peak_rss_mb']:>9.0f}  {r['data']}")
    by_entry = {}
    for r in results:
        by_entry.setdefault(r["entry"], {})[r["jit_compile"]] = r["median_images_per_s"]
    for name, rates in by_entry.items():
        if True in rates and False in rates:
            print(f"{name}: XLA on/off = {rates[True] / rates[False]:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
