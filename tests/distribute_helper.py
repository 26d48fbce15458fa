"""Subprocess side of tests/test_distribute.py (logical devices and TF_CONFIG must be set
before TensorFlow initialises, so each scenario runs in a fresh interpreter).

    python tests/distribute_helper.py equivalence OUT.json
        Two logical CPU devices. For GAN, ConditionalGAN and WassersteinGAN-GP: train a tiny
        entry N steps on one device and under MirroredStrategy over both devices, same data,
        same global batch; write how far apart the two runs' weight updates and optimizer
        moments are relative to the state, and a different seed's as a control, as JSON.
    python tests/distribute_helper.py validation OUT.json
        Two logical CPU devices. For ConditionalGAN, StyleGAN and ProgressiveGAN (the three
        ways of drawing validation fakes): evaluate quality metrics on the same validation
        data on one device and under MirroredStrategy; write both results as JSON.
    python tests/distribute_helper.py worker RUN OUT.npz      (TF_CONFIG set by the caller)
        One MultiWorkerMirroredStrategy worker training a tiny entry into RUN with
        ganzoo.training.train; writes its final variables to OUT.npz.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_ROOT / "src"), str(_ROOT)]  # this checkout's ganzoo, and tests.*

#: No batch norm: each replica would normalise its half batch by its own statistics (see
#: ganzoo/distribute.py), which is a different computation, not an error.
NO_BATCH_NORM = {"generator.norm": "none", "discriminator.norm": "none"}
STEPS = 2


def _tiny(name: str, **extra):
    from tests.helpers import tiny_config

    return tiny_config(name, **{**NO_BATCH_NORM, "train.batch_size": 4, **extra})


def _data(config, steps: int):
    import numpy as np
    import tensorflow as tf

    per_step = config.train.batch_size * (config.model.n_critic if config.model.cls == "WassersteinGAN" else 1)
    rng = np.random.default_rng(0)
    size, channels = config.data.image_size, config.data.channels
    x = rng.uniform(-1, 1, (per_step * steps, size, size, channels)).astype("float32")
    y = rng.integers(0, 10, (per_step * steps,)).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y) if config.conditional else x).batch(per_step)


def _train(config, strategy, steps: int = STEPS):
    """Build, compile and fit under ``strategy``; also returns the initial weights (what
    training started from) and the fit logs."""
    from ganzoo.builders import build_model, compile_model

    with strategy.scope():
        model = build_model(config)
        compile_model(model, config)
    initial = [v.numpy() for v in model.variables]
    history = model.fit(_data(config, steps), epochs=1, verbose=0)
    return model, initial, {k: [float(v) for v in vals] for k, vals in history.history.items()}


def _max_diff(a_vars, b_vars) -> float:
    import numpy as np

    assert len(a_vars) == len(b_vars)
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(a_vars, b_vars))


def _relative_diff(a_vars, b_vars) -> float:
    """||a - b|| / ||a|| over all the variables together (L2 of every element): how far apart
    two states are as a fraction of the state itself. Scale-free, so one bound serves weight
    updates and optimizer moments, with or without loss scaling; taken over all variables, so
    a near-zero variable (a bias whose gradients cancel) cannot blow the ratio up."""
    import numpy as np

    assert len(a_vars) == len(b_vars)
    diff = sum(float(np.sum((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)) for a, b in zip(a_vars, b_vars))
    norm = sum(float(np.sum(np.asarray(a, np.float64) ** 2)) for a in a_vars)
    return (diff / norm) ** 0.5


def _slots(model):
    """Adam's moments of both optimizers: the variables with the shape of a weight (the
    scalar step counters and loss scale are not moments; step counts are checked as g_steps)."""
    return [v.numpy() for v in model.g_optimizer.variables + model.d_optimizer.variables if len(v.shape) > 0]


def equivalence(out: str) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])  # one instance: collective keys are per strategy
    results, one_device_models = {}, {}
    scenarios = (("dcgan_mnist", "dcgan_mnist", {}), ("cgan_mnist", "cgan_mnist", {}),
                 ("wgan_gp_mnist", "wgan_gp_mnist", {"model.n_critic": 2}),
                 # Loss-scaled optimizers under a strategy (their finiteness check is made global).
                 ("dcgan_mnist@mixed_float16", "dcgan_mnist", {"train.precision": "mixed_float16"}))
    for name, entry, extra in scenarios:
        config = _tiny(entry, **extra)
        one, one_initial, one_logs = _train(config, tf.distribute.get_strategy())
        one_device_models[name] = one
        two, two_initial, two_logs = _train(config, mirrored)
        one_w, two_w = ([v.numpy() for v in m.variables] for m in (one, two))
        results[name] = {
            "replicas": int(mirrored.num_replicas_in_sync),
            "compute_dtype": one.dtype_policy.compute_dtype,
            "initial_weight_diff": _max_diff(one_initial, two_initial),
            # What training changed, compared: (w_one - w0) vs (w_two - w0).
            "update_relative_diff": _relative_diff([w - w0 for w, w0 in zip(one_w, one_initial)],
                                                       [w - w0 for w, w0 in zip(two_w, one_initial)]),
            "optimizer_relative_diff": _relative_diff(_slots(one), _slots(two)),
            "logs_one_device": one_logs,
            "logs_mirrored": two_logs,
            "g_steps": int(two.g_optimizer.iterations.numpy()),
        }
    # Control: a different seed on one device, measured the same ways. The seed-0 run is the
    # dcgan_mnist scenario's one-device run above (the same config, data and steps).
    base = one_device_models["dcgan_mnist"]
    other, _, _ = _train(_tiny("dcgan_mnist", **{"train.seed": 1}), tf.distribute.get_strategy())
    results["control_other_seed_optimizer_relative_diff"] = _relative_diff(_slots(base), _slots(other))
    Path(out).write_text(json.dumps(results, indent=1))


def validation(out: str) -> None:
    import numpy as np
    import tensorflow as tf

    from ganzoo.builders import build_model, compile_model
    from ganzoo.evaluation import keras_metrics as km
    from ganzoo.evaluation.classifier import load_classifier
    from tests.helpers import tiny_config

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {}
    for entry in ("cgan_mnist", "stylegan_mnist", "pggan_mnist"):
        config = tiny_config(entry, **{"train.batch_size": 4})
        classifier = load_classifier(config, train=False)  # the shipped MNIST classifier (cropped if padded)
        size, channels = config.data.image_size, config.data.channels
        rng = np.random.default_rng(0)
        # Real digits are not needed: any fixed images; 3 global batches of 8 (4 per replica).
        x = rng.uniform(-1, 1, (24, size, size, channels)).astype("float32")
        y = (np.arange(24) % 10).astype("int32")
        data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
        per_strategy = {}
        for name, strategy in (("one_device", tf.distribute.get_strategy()), ("mirrored", mirrored)):
            with strategy.scope():
                model = build_model(config)
                compile_model(model, config)
                metrics = [km.FrechetClassifierDistance(classifier=classifier), km.ClassCoverage(classifier=classifier),
                           km.ClassifierScore(classifier=classifier)]
                if config.conditional:
                    metrics.append(km.LabelAccuracy(classifier=classifier))
                model.compile(g_optimizer=model.g_optimizer, d_optimizer=model.d_optimizer, jit_compile=False,
                              metrics=metrics)
            logs = model.evaluate(data, return_dict=True, verbose=0)
            per_strategy[name] = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in logs.items()}
            per_strategy[name + "_replicas"] = int(strategy.num_replicas_in_sync)
        results[entry] = per_strategy
    Path(out).write_text(json.dumps(results, indent=1))


def worker(run: str, out: str) -> None:
    from ganzoo.distribute import get_strategy

    strategy = get_strategy("multiworker")  # before any other TensorFlow op
    import numpy as np
    import tensorflow as tf

    from ganzoo.training import train

    config = _tiny("dcgan_mnist", **{"train.epochs": 2})
    x = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(4, drop_remainder=True)
    model, history = train(config, out=run, dataset=dataset, strategy=strategy, verbose=0, checkpoint_every=3)
    np.savez(out, *[v.numpy() for v in model.variables])
    Path(out).with_suffix(".json").write_text(json.dumps({
        "pid": os.getpid(), "replicas": int(strategy.num_replicas_in_sync),
        "g_steps": int(model.g_optimizer.iterations.numpy()),
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()}}))


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    {"equivalence": equivalence, "validation": validation, "worker": worker}[mode](*args)
