"""Subprocess side of tests/test_distribute.py's JAX tests: the host's CPU is split into two
XLA devices, which must be set before JAX initialises, so this runs in a fresh interpreter.

    KERAS_BACKEND=jax python tests/jax_distribute_helper.py equivalence OUT.json
        For cgan_mnist (with its batch norm) and dcgan_mnist under mixed_float16: train a tiny
        entry a few steps on one device and under keras.distribution.DataParallel over two
        devices (``distribute.get_strategy("mirrored")``), same data, same global batch; write
        how far apart the two runs' weight updates and optimizer moments are relative to the
        state (and a different seed's, as a control), the logs and where the weights live.
    KERAS_BACKEND=jax python tests/jax_distribute_helper.py train RUN OUT.json
        ``ganzoo.training.train(..., strategy="mirrored")`` of tiny cgan_mnist into RUN; writes
        how its batches were sharded, its logs and the devices of the saved model's weights.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_ROOT / "src"), str(_ROOT)]  # this checkout's ganzoo, and tests.*

from tests.distribute_helper import _relative_diff, _slots  # noqa: E402  (after the path and the flags)

STEPS = 3


def _data(config, steps: int):
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    n, size, channels = config.train.batch_size * steps, config.data.image_size, config.data.channels
    x = rng.uniform(-1, 1, (n, size, size, channels)).astype("float32")
    y = rng.integers(0, 10, (n,)).astype("int32")
    return tf.data.Dataset.from_tensor_slices((x, y) if config.conditional else x).batch(config.train.batch_size)


def _train(config, strategy, steps: int = STEPS):
    import keras

    from ganzoo import distribute
    from ganzoo.builders import build_model, compile_model

    keras.utils.set_random_seed(config.train.seed)
    with strategy.scope():
        model = build_model(config)
        compile_model(model, config)
    initial = [v.numpy() for v in model.variables]
    with distribute.fit_scope(strategy):
        history = model.fit(_data(config, steps), epochs=1, verbose=0)
    return model, initial, {k: [float(v) for v in vals] for k, vals in history.history.items()}


def _record_batch_shardings() -> list:
    """Record, for every input array Keras hands the step under a distribution, its global
    rows, how many devices hold it and the rows on each (Keras's JAX trainer shards a batch in
    ``_distribute_data`` only while a distribution is set)."""
    import jax
    from keras.src.backend.jax import trainer

    seen, original = [], trainer._distribute_data

    def recording(data, layouts=None):
        out = original(data, layouts)
        for x in jax.tree_util.tree_leaves(out):
            seen.append({"rank": len(x.shape), "rows": int(x.shape[0]), "devices": len(x.sharding.device_set),
                         "rows_per_device": sorted({int(s.data.shape[0]) for s in x.addressable_shards})})
        return out

    trainer._distribute_data = recording
    return seen


def equivalence(out: str) -> None:
    import jax
    import keras
    import numpy as np

    from ganzoo import distribute
    from tests.helpers import tiny_config

    assert keras.backend.backend() == "jax", keras.backend.backend()
    assert len(jax.devices()) == 2, jax.devices()
    batches = _record_batch_shardings()
    strategy = distribute.get_strategy("mirrored")
    results = {"devices": [str(d) for d in jax.devices()], "strategy": repr(strategy)}
    one_device = distribute.get_strategy("none")
    scenarios = (("cgan_mnist", "cgan_mnist", {}),
                 ("dcgan_mnist@mixed_float16", "dcgan_mnist", {"train.precision": "mixed_float16"}))
    base = None
    for name, entry, extra in scenarios:
        config = tiny_config(entry, **{"train.batch_size": 8, **extra})
        one, one_initial, one_logs = _train(config, one_device)
        batches.clear()
        two, two_initial, two_logs = _train(config, strategy)
        images = [b for b in batches if b["rank"] == 4]  # (batch, height, width, channels)
        base = base or one
        one_w, two_w = ([v.numpy() for v in m.variables] for m in (one, two))
        kernel = two.generator.trainable_variables[0].value
        results[name] = {
            "replicas": strategy.num_replicas_in_sync,
            "compute_dtype": one.dtype_policy.compute_dtype,
            "initial_weight_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(one_initial, two_initial)),
            "update_relative_diff": _relative_diff([w - w0 for w, w0 in zip(one_w, one_initial)],
                                                   [w - w0 for w, w0 in zip(two_w, one_initial)]),
            "update_norm_relative": _relative_diff(one_initial, one_w),
            "optimizer_relative_diff": _relative_diff(_slots(one), _slots(two)),
            "logs_one_device": one_logs,
            "logs_data_parallel": two_logs,
            "g_steps": int(two.g_optimizer.iterations.numpy()),
            "weight_devices": len(kernel.sharding.device_set),
            "weight_replicated": bool(kernel.sharding.is_fully_replicated),
            # How fit fed the image batches to the step: (global rows, devices, rows per device).
            "image_batches": images,
        }
    other, _, _ = _train(tiny_config("cgan_mnist", **{"train.batch_size": 8, "train.seed": 1}), one_device)
    results["control_other_seed_optimizer_relative_diff"] = _relative_diff(_slots(base), _slots(other))
    Path(out).write_text(json.dumps(results, indent=1))


def train(run: str, out: str) -> None:
    import keras

    from ganzoo import training
    from tests.helpers import tiny_config

    batches = _record_batch_shardings()
    config = tiny_config("cgan_mnist", **{"train.batch_size": 8, "train.epochs": 1})
    model, history = training.train(config, out=Path(run), dataset=_data(config, 3), strategy="mirrored", verbose=0)
    again = keras.saving.load_model(Path(run) / "model.keras")
    Path(out).write_text(json.dumps({
        "image_batches": [b for b in batches if b["rank"] == 4],
        "history": history.history,
        "g_steps": int(model.g_optimizer.iterations.numpy()),
        "weight_devices": len(model.generator.trainable_variables[0].value.sharding.device_set),
        "loaded_sample_shape": list(again.generate(2, seed=0).shape),
        "files": sorted(p.name for p in Path(run).iterdir()),
    }, indent=1))


if __name__ == "__main__":
    {"equivalence": equivalence, "train": train}[sys.argv[1]](*sys.argv[2:])
