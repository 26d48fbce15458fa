"""ganzoo on JAX against ganzoo on TensorFlow, side by side on this machine (issue 20).

    python -m benchmarks.backends                       # dcgan_mnist, cgan_mnist; batch 128
    python -m benchmarks.backends --batches 128,1024 --precisions float32,mixed_bfloat16 --json out.json

For every entry, batch and precision policy, one process per configuration (:mod:`benchmarks.worker`),
repeats interleaved ABBA (:mod:`benchmarks.runner`), so the ratios of one round are measured under
the same load:

* ``fit``: ``model.fit`` on the entry's real input pipeline (tf.data on both backends), TensorFlow
  (graph mode, the CPU default; ``--tf-jit`` adds XLA) and JAX (``jax.jit``);
* ``step``: the training step alone on a device-resident batch: ganzoo's step on each backend,
  ganzoo's JAX step without the EMA generator (``no-ema``), and the hand-written Keras-on-JAX step
  (:mod:`benchmarks.handwritten_jax`) on the same networks, which does the same work as ``no-ema``.

Printed: images/s (median, min-max) per configuration, and per-round ratios: JAX / TensorFlow
(fit and step) and ganzoo's JAX step / the hand-written one (the issue's bar: >= 0.9). On a GPU
machine the same command measures the GPU (JAX and TensorFlow pick the accelerator by themselves).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / p) for p in ("src", "")]

from benchmarks.runner import interleave, ratio  # noqa: E402


def specs_for(entry: str, batch: int, precision: str, tf_jit: bool, common: dict) -> dict:
    """name -> worker spec of every configuration measured for one (entry, batch, precision)."""
    base = {"entry": entry, "batch": batch, "precision": precision, **common}
    specs = {
        "fit tensorflow": {**base, "kind": "train", "backend": "tensorflow", "jit": False},
        "fit jax": {**base, "kind": "train", "backend": "jax", "jit": True},
        "step tensorflow": {**base, "kind": "step", "backend": "tensorflow", "jit": False},
        "step jax": {**base, "kind": "step", "backend": "jax", "jit": True},
        "step jax no-ema": {**base, "kind": "step", "backend": "jax", "jit": True, "ema": False},
        "step handwritten jax": {**base, "kind": "step", "backend": "jax", "jit": True, "impl": "handwritten"},
    }
    if tf_jit:
        specs["fit tensorflow xla"] = {**base, "kind": "train", "backend": "tensorflow", "jit": True}
        specs["step tensorflow xla"] = {**base, "kind": "step", "backend": "tensorflow", "jit": True}
    return specs


#: (numerator, denominator, what the ratio says)
RATIOS = (
    ("fit jax", "fit tensorflow", "fit: JAX / TensorFlow"),
    ("step jax", "step tensorflow", "step: JAX / TensorFlow"),
    ("step jax no-ema", "step handwritten jax", "ganzoo JAX step (no EMA) / hand-written JAX step"),
    ("step jax", "step handwritten jax", "ganzoo JAX step (entry's EMA) / hand-written JAX step"),
    ("fit tensorflow xla", "fit tensorflow", "fit: TensorFlow XLA / graph"),
)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entries", default="dcgan_mnist,cgan_mnist")
    p.add_argument("--batches", default="128")
    p.add_argument("--precisions", default="float32")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--repeat-s", type=float, default=3.0)
    p.add_argument("--warmup-s", type=float, default=4.0)
    p.add_argument("--tf-jit", action="store_true", help="also TensorFlow with XLA")
    p.add_argument("--json", help="write every result here")
    args = p.parse_args(argv)
    common = {"repeat_s": args.repeat_s, "warmup_s": args.warmup_s}
    report = {"machine": {"platform": platform.platform(), "python": platform.python_version()}, "groups": []}
    for entry in args.entries.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            for precision in args.precisions.split(","):
                named = specs_for(entry, batch, precision, args.tf_jit, common)
                print(f"# {entry} batch {batch} {precision}", flush=True)
                results = interleave(list(named.values()), repeats=args.repeats,
                                     log=lambda m: print(m, file=sys.stderr, flush=True))
                by_name = dict(zip(named, results))
                ratios = {what: ratio(by_name[a], by_name[b]) for a, b, what in RATIOS
                          if a in by_name and b in by_name}
                report["groups"].append({"entry": entry, "batch": batch, "precision": precision,
                                         "results": by_name, "ratios": ratios})
                for name, r in by_name.items():
                    print(f"  {name:<24}{r['median']:>10.0f} img/s  ({r['min']:.0f}-{r['max']:.0f})", flush=True)
                for what, r in ratios.items():
                    print(f"  {what:<52}{r['median']:>6.2f}x  ({r['min']:.2f}-{r['max']:.2f})", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
