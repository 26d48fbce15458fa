"""Size the ``srgan_mnist`` recipe on this machine: steps/s of both phases, and what a few
minutes of SRResNet pre-training reach against bicubic on the MNIST test split.

    python -m benchmarks.srgan_mnist_probe --pretrain-seconds 150 --eval-images 10000 \
        [--set generator.filters=32 ...] [--json out.json]

Prints the bicubic baseline and the model's scores (``ganzoo.evaluation.sr_digits``), the
pre-training and adversarial steps/s (after the first steps, which trace the graph) and the
wall time the entry's schedule would take at those speeds.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _Clock:
    """A Keras callback: times batches after ``skip`` warm-up steps; stops after ``seconds``."""

    def __new__(cls, seconds, skip=5):
        import keras

        class Clock(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times, self.start = [], time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.times.append(time.perf_counter())
                if time.perf_counter() - self.start > seconds:
                    self.model.stop_training = True

            def steps_per_second(self):
                t = self.times[skip:]
                return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 2 else float("nan")

        return Clock()


def _fit(model, ds, seconds):
    clock = _Clock(seconds)
    model.fit(ds, epochs=10_000, steps_per_epoch=25, callbacks=[clock], verbose=0)
    return clock.steps_per_second(), len(clock.times)


def main(argv=None) -> int:
    """Measure, print and (``--json``) write the numbers."""
    from ganzoo.config import parse_set_option

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--entry", default="srgan_mnist")
    p.add_argument("--pretrain-seconds", type=float, default=150)
    p.add_argument("--adversarial-seconds", type=float, default=30)
    p.add_argument("--eval-images", type=int, default=10_000)
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    p.add_argument("--data-dir", default=os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--json")
    args = p.parse_args(argv)

    import ganzoo
    from ganzoo.zoo_eval import evaluate_digit_super_resolution

    overrides = dict(parse_set_option(s) for s in args.overrides)
    config = ganzoo.get_config(args.entry, **overrides)
    ds = ganzoo.load_dataset(config, data_dir=args.data_dir, repeat=True)
    model = ganzoo.load(config)
    pre_rate, pre_steps = _fit(model, ds, args.pretrain_seconds)
    result = evaluate_digit_super_resolution(model, config, limit=args.eval_images, data_dir=args.data_dir)
    adversarial = ganzoo.load(ganzoo.get_config(args.entry, **{**overrides, "model.pretrain_steps": 0}))
    adv_rate, adv_steps = _fit(adversarial, ds, args.adversarial_seconds)
    total = config.train.epochs * config.train.steps_per_epoch
    pre = min(config.model.pretrain_steps, total)
    estimate = pre / pre_rate + (total - pre) / adv_rate
    out = {"entry": args.entry, "overrides": overrides, "pretrain_steps_run": pre_steps,
           "pretrain_steps_per_s": round(pre_rate, 2), "adversarial_steps_per_s": round(adv_rate, 2),
           "schedule": {"pretrain_steps": pre, "adversarial_steps": total - pre,
                        "estimated_minutes": round(estimate / 60, 1)},
           "scores_after_pretraining": {k: round(v, 4) for k, v in result["metrics"].items()},
           "protocol": result["protocol"], "cores": os.cpu_count(), "load_average": os.getloadavg()}
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
