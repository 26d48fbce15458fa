"""One benchmark configuration in its own process, driven line by line over stdin/stdout.

    python benchmarks/worker.py '{"kind": "train", "impl": "ganzoo", "entry": "cgan_mnist", ...}'

The worker builds its configuration, warms up (tracing / XLA compilation) and calibrates how
many steps make a repeat of about ``repeat_s`` seconds, prints one JSON line
``{"event": "ready", ...}`` and then waits. For every ``run`` line it reads it runs one timed
repeat and prints ``{"event": "result", "seconds": s, "images": n}``; ``quit`` prints
``{"event": "done", "peak_rss_mb": ...}`` and exits. A waiting worker uses no CPU, so the
coordinator (:mod:`benchmarks.suite`) can keep several alive and interleave their repeats
(A B C C B A A B C ...): slow drifts of a shared machine's load then hit every configuration
alike, and the per-round ratios cancel them.

Kinds:

* ``train``: ``model.fit`` on the entry's real input pipeline (TFDS when prepared, else
  synthetic uint8 data through the same ganzoo pipeline) for ``impl: ganzoo``, or on the plain
  pipeline for ``impl: baseline`` (:mod:`benchmarks.baseline_gan`). One ``fit`` call spans the
  whole life of the worker (a callback blocks between repeats), so iterators and shuffle
  buffers are created once, as in real training.
* ``step``: the training step alone on one device-resident batch (no input pipeline, no
  ``fit`` loop): ganzoo's own compiled step (``impl: ganzoo``; on TensorFlow the
  ``train_function`` of ``fit``, on JAX the jitted step over the model's state), or the
  hand-written Keras-on-JAX step on the entry's networks (``impl: handwritten``,
  :mod:`benchmarks.handwritten_jax`; JAX only). What :mod:`benchmarks.backends` compares.
* ``generate``: the generator at inference (``training=False``) in a ``tf.function``
  (``jit`` on/off), or ``model.generate`` itself with ``jit: "api"``.
* ``evaluate``: feature extraction of the domain classifier (ganzoo.evaluation's
  ``build_classifier`` for the entry's image shape; the FCD / label-accuracy path), in a
  ``tf.function`` or through ``FeatureExtractor.predict`` (``jit: "api"``).

  Inference kinds take ``variants`` (a list of ``{jit, precision}``) and time them all in
  one process, one repeat of each per ``run``.

Spec keys: kind, entry, impl, backend ("tensorflow" default, or "jax": set as KERAS_BACKEND
before Keras is imported), ema (False: the entry with ``model.ema_decay: null``), jit (bool,
or "api"), precision, batch, threads (None = all
cores; n pins the process to n cores and sets TF's thread pools to n),
steps_per_execution, repeat_s, warmup_s.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / p) for p in ("src", "")]  # checkout's ganzoo, benchmarks.*


def _emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def _command() -> str:
    line = sys.stdin.readline()
    return line.strip() if line else "quit"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _threads() -> str:
    """TensorFlow's intra-op / inter-op thread counts in this process ("default" when unset)."""
    import tensorflow as tf  # noqa: PLC0415

    counts = (tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
    return "default" if counts == (0, 0) else f"{counts[0]}/{counts[1]}"


def _images_per_step(config) -> int:
    from ganzoo.registry import model_class  # noqa: PLC0415

    return model_class(config.model.cls).examples_per_step(config)


def _synthetic_examples(config, n=2048):
    """uint8 examples shaped like the entry's data, for datasets that are not prepared here."""
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    rng = np.random.default_rng(0)
    size, ch = config.data.image_size, config.data.channels
    x = rng.integers(0, 256, (n, size, size, ch), dtype=np.uint8)
    if config.conditional:
        y = rng.integers(0, config.model.get("num_classes"), n).astype(np.int32)
        return tf.data.Dataset.from_tensor_slices((x, y))
    return tf.data.Dataset.from_tensor_slices(x)


def ganzoo_dataset(config):
    """(the entry's training pipeline, repeated; "real" or "synthetic")."""
    import ganzoo  # noqa: PLC0415
    from ganzoo.data.pipeline import batch_pipeline  # noqa: PLC0415

    try:
        return ganzoo.load_dataset(config, repeat=True, download=False), "real"
    except Exception as err:  # noqa: BLE001 - any missing dataset: same shapes, synthetic pixels
        print(f"# {config.name}: real data unavailable ({type(err).__name__}); synthetic", file=sys.stderr)
    return batch_pipeline(_synthetic_examples(config), batch_size=_images_per_step(config), shuffle=True,
                          shuffle_buffer=config.data.shuffle_buffer, seed=0, repeat=True,
                          drop_remainder=True, cache=True), "synthetic"


def baseline_dataset(config):
    from benchmarks.baseline_gan import baseline_dataset as plain  # noqa: PLC0415

    try:
        return plain(config), "real"
    except Exception as err:  # noqa: BLE001
        print(f"# baseline {config.name}: real data unavailable ({type(err).__name__}); synthetic",
              file=sys.stderr)
    import tensorflow as tf  # noqa: PLC0415

    def normalize(*example):
        image = tf.cast(example[0], tf.float32) / 127.5 - 1.0
        return (image, tf.one_hot(example[1], config.model.get("num_classes"))) if config.conditional else image

    return (_synthetic_examples(config).map(normalize).shuffle(1024)
            .batch(config.train.batch_size, drop_remainder=True).repeat()), "synthetic"


def entry_config(spec):
    import ganzoo  # noqa: PLC0415

    overrides = {"train.batch_size": spec["batch"], "train.precision": spec.get("precision", "float32")}
    if isinstance(spec.get("jit"), bool):
        overrides["train.jit_compile"] = spec["jit"]
    if spec.get("cpu_threads") == "tensorflow":  # ganzoo without its bfloat16 thread layout
        overrides["train.cpu_threads"] = "tensorflow"
    if spec.get("ema") is False:
        overrides["model.ema_decay"] = None
    return ganzoo.get_config(spec["entry"], **overrides)


def _sync(values) -> None:
    """Wait until ``values`` (a step's logs or losses) are computed: JAX dispatches steps
    asynchronously, so a clock read before this would time the dispatch, not the work."""
    import keras  # noqa: PLC0415

    for value in (values.values() if isinstance(values, dict) else values):
        keras.ops.convert_to_numpy(value)


# ---------------------------------------------------------------------- train

def run_train(spec) -> None:
    import keras  # noqa: PLC0415

    config = entry_config(spec)
    spe = int(spec.get("steps_per_execution", 1))
    if spec.get("impl", "ganzoo") == "baseline":
        from benchmarks.baseline_gan import build_baseline  # noqa: PLC0415

        keras.config.set_dtype_policy(spec.get("precision", "float32"))
        model = build_baseline(config, jit_compile=spec["jit"], steps_per_execution=spe)
        ds, source = baseline_dataset(config)
    else:
        from ganzoo.builders import build_model, compile_model  # noqa: PLC0415

        model = build_model(config)
        compile_model(model, config, jit_compile=spec["jit"], steps_per_execution=spe)
        ds, source = ganzoo_dataset(config)
    per_step = _images_per_step(config)
    warmup_s, repeat_s = float(spec.get("warmup_s", 4.0)), float(spec.get("repeat_s", 3.0))

    class Driver(keras.callbacks.Callback):
        """Between repeats, block on the coordinator; count steps inside a repeat."""

        def __init__(self):
            super().__init__()
            self.t_start = time.perf_counter()
            self.phase, self.steps, self.target, self.t0 = "trace", 0, 0, 0.0
            self.first_step_s = None

        def on_train_batch_end(self, batch, logs=None):
            if self.phase != "timed" or self.steps + spe >= self.target:
                # JAX dispatches asynchronously: wait for the step's work before the clock is read
                # (in a timed repeat only at its end, so the repeat keeps its pipelining).
                _sync(logs or {})
            now = time.perf_counter()
            if self.phase == "trace":  # the first execution traces (and compiles)
                self.first_step_s = now - self.t_start
                self.phase, self.t0, self.steps = "warmup", now, 0
                return
            self.steps += spe
            if self.phase == "warmup":
                if now - self.t0 < warmup_s and self.steps < 1000:
                    return
                step_s = (now - self.t0) / self.steps
                self.target = max(spe, int(round(repeat_s / step_s / spe)) * spe)
                _emit("ready", steps_per_repeat=self.target, images_per_step=per_step, data=source,
                      threads=_threads(),
                      first_step_s=self.first_step_s, warmup_step_s=step_s,
                      jit_compile=bool(getattr(self.model, "jit_compile", False)))
            elif self.steps < self.target:
                return
            else:
                _emit("result", seconds=now - self.t0, images=self.steps * per_step, steps=self.steps)
            if _command() != "run":
                self.model.stop_training = True
                return
            self.phase, self.steps, self.t0 = "timed", 0, time.perf_counter()

    model.fit(ds, epochs=1, steps_per_epoch=10 ** 9, verbose=0, callbacks=[Driver()])


# ---------------------------------------------------------------------- step

def _step_fn(spec):
    """``(one, batch)``: ``one()`` runs one training step on a fixed device-resident batch and
    returns something :func:`_sync` can wait on."""
    import keras  # noqa: PLC0415

    config = entry_config(spec)
    batch = spec["batch"]
    if spec.get("impl", "ganzoo") == "handwritten":
        import jax  # noqa: PLC0415

        from benchmarks.handwritten_jax import build_step  # noqa: PLC0415

        keras.config.set_dtype_policy(spec.get("precision", "float32"))
        step, state, make_inputs = build_step(config)
        data, key, count = make_inputs(batch), jax.random.PRNGKey(0), [0]

        def one():
            nonlocal state
            count[0] += 1
            state, d_loss, g_loss = step(state, data, jax.random.fold_in(key, count[0]))
            return [d_loss, g_loss]

        return one, batch
    import numpy as np  # noqa: PLC0415

    from ganzoo.builders import build_model, compile_model  # noqa: PLC0415

    model = build_model(config)
    compile_model(model, config, jit_compile=spec["jit"])
    rng = np.random.default_rng(0)
    size, ch = config.data.image_size, config.data.channels
    images = keras.ops.convert_to_tensor(rng.uniform(-1, 1, (batch, size, size, ch)).astype("float32"))
    data = images
    if config.conditional:
        data = (images, keras.ops.convert_to_tensor(rng.integers(0, model.num_classes, batch).astype("int32")))
    model.make_train_function()
    if keras.backend.backend() == "jax":
        state = model._get_jax_state(trainable_variables=True, non_trainable_variables=True,
                                     optimizer_variables=True, metrics_variables=True)

        def one():
            nonlocal state
            logs, state = model.train_function(state, iter([data]))
            return logs

        return one, batch
    return (lambda: model.train_function(iter([data]))), batch


def run_step(spec) -> None:
    one, per_step = _step_fn(spec)
    warmup_s, repeat_s = float(spec.get("warmup_s", 4.0)), float(spec.get("repeat_s", 3.0))
    t = time.perf_counter()
    _sync(one())
    first = time.perf_counter() - t
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < warmup_s or n < 3:
        out = one()
        n += 1
    _sync(out)
    per = (time.perf_counter() - t0) / n
    target = max(1, int(round(repeat_s / per)))
    import keras  # noqa: PLC0415

    _emit("ready", steps_per_repeat=target, images_per_step=per_step, data="synthetic (device-resident)",
          first_step_s=first, warmup_step_s=per, backend=keras.backend.backend())
    while _command() == "run":
        t0 = time.perf_counter()
        for _ in range(target):
            out = one()
        _sync(out)
        _emit("result", seconds=time.perf_counter() - t0, images=target * per_step, steps=target)


# ---------------------------------------------------------------------- inference

def _inference_fn(spec):
    """(callable running one batch, images per call) for one inference configuration."""
    import keras  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    from ganzoo.builders import build_model  # noqa: PLC0415
    from ganzoo.precision import policy_scope  # noqa: PLC0415

    config = entry_config(spec)
    batch = spec["batch"]
    if spec["kind"] == "generate":
        model = build_model(config)
        if spec["jit"] == "api":
            return (lambda: model.generate(batch, batch_size=batch)), batch
        z = tf.random.normal((batch, model.latent_dim))
        inputs = [z, tf.zeros((batch,), tf.int32)] if model.conditional else z
        fn = tf.function(lambda x: model.generator(x, training=False), jit_compile=bool(spec["jit"]))
        return (lambda: fn(inputs).numpy()), batch
    from ganzoo.evaluation.classifier import build_classifier  # noqa: PLC0415
    from ganzoo.evaluation.features import FeatureExtractor  # noqa: PLC0415

    shape = (config.data.image_size, config.data.image_size, config.data.channels)
    with policy_scope(config.train.precision):
        net = build_classifier(shape, config.model.get("num_classes") or 10)
    extractor = FeatureExtractor()
    extractor.model = keras.Model(net.inputs, [net.get_layer("features").output, net.output])
    images = np.random.default_rng(0).uniform(-1, 1, (batch, *shape)).astype(np.float32)
    if spec["jit"] == "api":
        return (lambda: extractor.predict(images, batch_size=batch)), batch
    fn = tf.function(extractor.__call__, jit_compile=bool(spec["jit"]))
    return (lambda: fn(images)[0].numpy()), batch


def run_inference(spec) -> None:
    """All ``spec["variants"]`` (jit x precision) in this one process; a ``run`` times each
    variant once, in ABBA order across runs. (Inference has no per-variant state worth a
    process of its own; the peak RSS is the group's.)"""
    variants = [{**spec, **v} for v in spec["variants"]]
    calls, targets = [], []
    warmup_s, repeat_s = float(spec.get("warmup_s", 2.0)), float(spec.get("repeat_s", 2.0))
    first = []
    for v in variants:
        call, per_call = _inference_fn(v)
        t = time.perf_counter()
        call()
        first.append(time.perf_counter() - t)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < warmup_s or n < 2:
            call()
            n += 1
        per = (time.perf_counter() - t0) / n
        calls.append((call, per_call))
        targets.append(max(1, int(round(repeat_s / per))))
    _emit("ready", calls_per_repeat=targets, first_call_s=first, data="synthetic")
    rounds = 0
    while _command() == "run":
        order = range(len(variants)) if rounds % 2 == 0 else reversed(range(len(variants)))
        parts = [None] * len(variants)
        for i in order:
            call, per_call = calls[i]
            t0 = time.perf_counter()
            for _ in range(targets[i]):
                call()
            parts[i] = {"seconds": time.perf_counter() - t0, "images": targets[i] * per_call, "steps": targets[i]}
        rounds += 1
        _emit("result", parts=parts)


def main(argv=None) -> int:
    spec = json.loads((argv or sys.argv[1:])[0])
    # The backend is chosen before Keras is imported (TensorFlow itself is imported either way:
    # tf.data feeds both backends).
    os.environ["KERAS_BACKEND"] = spec.get("backend", "tensorflow")
    threads = spec.get("threads")
    if threads:
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(cores[:threads]))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # noqa: PLC0415

    from ganzoo.precision import configure_cpu_threads, cpu_thread_layout  # noqa: PLC0415

    precision = spec.get("precision", "float32")
    if spec.get("cpu_threads") == "ganzoo":  # the baseline under ganzoo's thread layout
        configure_cpu_threads("auto", precision, spec.get("jit", False))
    elif threads and not (spec.get("impl", "ganzoo") == "ganzoo" and cpu_thread_layout("auto", precision,
                                                                                        spec.get("jit", False))):
        # TensorFlow's default for this many cores; ganzoo's own layout (bfloat16) is sized by
        # build_model from the cores this process may use.
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    try:
        if spec["kind"] == "train":
            run_train(spec)
        elif spec["kind"] == "step":
            run_step(spec)
        else:
            run_inference(spec)
    except Exception as err:  # noqa: BLE001 - report, the coordinator decides
        import traceback  # noqa: PLC0415

        traceback.print_exc()
        _emit("error", message=f"{type(err).__name__}: {err}")
        return 1
    _emit("done", peak_rss_mb=_peak_rss_mb())
    return 0


if __name__ == "__main__":
    sys.exit(main())
