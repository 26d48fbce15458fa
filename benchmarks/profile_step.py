"""Where the time of one training step goes: data, D step, G step, optimizer, overhead.

    python benchmarks/profile_step.py cgan_mnist [--precision mixed_bfloat16] [--batch-size 64]

All pieces run in one process, interleaved over ``--rounds`` rounds (ABBA order), each a
``tf.function`` in graph mode on a fixed batch unless said otherwise:

* ``d_grads``: the D half of ``GAN.train_step`` up to D's gradients (G forward for the fakes,
  D on real and fake, loss, backward), no update;
* ``g_grads``: the G half up to G's gradients (G forward, D forward, backward through D and G);
* ``optimizer``: both Adam updates (``optimizer.apply`` with fixed gradients);
* ``train_step``: the model's own ``train_step`` (all of the above plus random draws and
  loss trackers), so ``train_step - (d_grads + g_grads + optimizer)`` is what the pieces miss;
* ``fit_memory``: ``model.fit`` on one in-memory batch repeated, per step: adds Keras's
  Python loop, callbacks and the transfer of logs (the "Python overhead");
* ``fit_pipeline``: ``model.fit`` on the entry's real input pipeline: adds waiting for data;
* ``data_only``: iterating the input pipeline alone, per batch (it runs concurrently with the
  step in ``fit``, competing for the same cores).

Wall and process-CPU milliseconds per step are both reported: on a shared machine the CPU time
of this process is the steadier of the two. The D/G halves mirror
``ganzoo.models.gan.GAN.train_step`` line by line (GAN and ConditionalGAN entries only).
An op-type breakdown of ``train_step`` (TensorFlow's run metadata: time per op type,
summed over both cores) shows how much is convolution vs everything else.
"""

from __future__ import annotations

import collections
import os
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / p) for p in ("src", "")]  # checkout's ganzoo, benchmarks.*
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PIECES = ("d_grads", "g_grads", "optimizer", "train_step", "fit_memory", "fit_pipeline", "data_only")


def _op_breakdown(fn, calls: int = 3) -> dict:
    """ms per call by op type, from a TensorFlow profiler trace of ``calls`` calls.

    Each op's duration on TensorFlow's executor threads (``tf_Compute``, where an op runs and
    waits for the intra-op threads it fans out to), summed: ops that run side by side each
    count, so the total can exceed the wall time of a step.
    """
    import glob  # noqa: PLC0415
    import shutil  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    import tensorflow as tf  # noqa: PLC0415
    from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: PLC0415

    logdir = tempfile.mkdtemp(prefix="ganzoo-profile-")
    try:
        tf.profiler.experimental.start(logdir)
        try:
            for _ in range(calls):
                fn()
        finally:
            tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        for path in glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True):
            space.MergeFromString(Path(path).read_bytes())
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    per_type: collections.Counter = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if "::" in name or ":" not in name:  # executor bookkeeping, not an op
                    continue
                per_type[name.rsplit(":", 1)[1]] += event.duration_ps / 1e9 / calls
    return dict(per_type.most_common())


def op_groups(per_type: dict) -> dict:
    """Op types grouped: convolution / matmul / batch norm and elementwise / optimizer / other."""
    groups = collections.Counter()
    for kind, ms in per_type.items():
        k = kind.lower()
        if "conv" in k:
            groups["convolution"] += ms
        elif "matmul" in k:
            groups["matmul"] += ms
        elif "applyadam" in k or "resourceapply" in k or "assign" in k:
            groups["optimizer/variables"] += ms
        elif k in ("cast", "_mklcast", "_mklnativecast"):
            groups["dtype casts"] += ms
        else:
            groups["elementwise/bn/other"] += ms
    return dict(groups.most_common())


def profile(name: str, batch: int = 64, precision: str = "float32", rounds: int = 5, calls: int = 5,
            fit_steps: int = 10) -> dict:
    import keras  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    import ganzoo  # noqa: PLC0415
    from benchmarks.worker import _threads, ganzoo_dataset  # noqa: PLC0415
    from ganzoo import losses  # noqa: PLC0415
    from ganzoo.builders import build_model, compile_model  # noqa: PLC0415

    config = ganzoo.get_config(name, **{"train.batch_size": batch, "train.precision": precision,
                                        "train.jit_compile": False})
    if config.model.cls not in ("GAN", "ConditionalGAN"):
        raise ValueError(f"profile_step covers GAN/ConditionalGAN entries, not {config.model.cls}")
    model = build_model(config)
    compile_model(model, config)
    pipeline, source = ganzoo_dataset(config)
    data = next(iter(pipeline))
    memory = tf.data.Dataset.from_tensors(data).repeat()
    G, D = model.generator, model.discriminator

    def d_half():
        real, labels = model.unpack(data)
        labels = model._check_labels(labels)
        batch_size = tf.shape(real)[0]
        z = model.sample_latent(batch_size)
        fake_labels = model.sample_labels(batch_size) if model.conditional else None
        with tf.GradientTape() as tape:
            fake = G(model.generator_inputs(z, fake_labels), training=True)
            real_logits = D(model.discriminator_inputs(real, labels), training=True)
            fake_logits = D(model.discriminator_inputs(fake, fake_labels), training=True)
            d_loss = losses.discriminator_loss(model.loss_name, real_logits, fake_logits,
                                               label_smoothing=model.label_smoothing)
        return tape.gradient(d_loss, D.trainable_variables)

    def g_half():
        real, _ = model.unpack(data)
        batch_size = tf.shape(real)[0]
        z = model.sample_latent(batch_size)
        fake_labels = model.sample_labels(batch_size) if model.conditional else None
        with tf.GradientTape() as tape:
            fake = G(model.generator_inputs(z, fake_labels), training=True)
            fake_logits = D(model.discriminator_inputs(fake, fake_labels), training=True)
            g_loss = losses.generator_loss(model.loss_name, fake_logits)
        return tape.gradient(g_loss, G.trainable_variables)

    d_grads_fn, g_grads_fn = tf.function(d_half), tf.function(g_half)
    d_fixed = [tf.convert_to_tensor(g) * 0.0 for g in d_grads_fn()]
    g_fixed = [tf.convert_to_tensor(g) * 0.0 for g in g_grads_fn()]

    @tf.function
    def apply_both():
        model.d_optimizer.apply(d_fixed, D.trainable_variables)
        model.g_optimizer.apply(g_fixed, G.trainable_variables)
        return tf.constant(0)

    step_fn = tf.function(lambda: model.train_step(data))

    def fit_timed(ds):
        """ms per step of fit between the ends of its first and last steps (iterator creation,
        the shuffle buffer's fill and fit's own start and end are outside)."""
        marks = {}

        class Marks(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if batch in (0, fit_steps):
                    keras.tree.map_structure(np.asarray, logs)  # wait for the step's results
                    marks[batch] = time.perf_counter(), time.process_time()

        def run():
            model.fit(ds, epochs=1, steps_per_epoch=fit_steps + 1, verbose=0, callbacks=[Marks()])
            (t0, c0), (t1, c1) = marks[0], marks[fit_steps]
            return (t1 - t0) / fit_steps, (c1 - c0) / fit_steps
        return run

    data_iter = iter(pipeline)

    def data_only():
        for _ in range(calls):
            next(data_iter)

    funcs = {"d_grads": d_grads_fn, "g_grads": g_grads_fn, "optimizer": apply_both, "train_step": step_fn}
    fits = {"fit_memory": fit_timed(memory), "fit_pipeline": fit_timed(pipeline)}
    for fn in funcs.values():
        for _ in range(2):
            fn()
    for fn in fits.values():
        fn()
    data_only()
    wall = {k: [] for k in PIECES}
    cpu = {k: [] for k in PIECES}
    for r in range(rounds):
        names = list(PIECES) if r % 2 == 0 else list(reversed(PIECES))
        for k in names:
            if k in funcs:
                t, c = time.perf_counter(), time.process_time()
                for _ in range(calls):
                    out = funcs[k]()
                tf.nest.map_structure(lambda x: x.numpy() if hasattr(x, "numpy") else x, out)
                wall[k].append((time.perf_counter() - t) / calls * 1000)
                cpu[k].append((time.process_time() - c) / calls * 1000)
            elif k in fits:
                w, c = fits[k]()
                wall[k].append(w * 1000)
                cpu[k].append(c * 1000)
            else:
                t, c = time.perf_counter(), time.process_time()
                data_only()
                wall[k].append((time.perf_counter() - t) / calls * 1000)
                cpu[k].append((time.process_time() - c) / calls * 1000)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    ops = _op_breakdown(step_fn)
    return {
        "entry": name, "batch": batch, "precision": precision, "data": source, "rounds": rounds,
        "threads": _threads(),
        "wall_ms": {k: {"median": med[k], "min": min(wall[k]), "max": max(wall[k])} for k in PIECES},
        "cpu_ms": {k: {"median": med_cpu[k], "min": min(cpu[k]), "max": max(cpu[k])} for k in PIECES},
        "breakdown_cpu_ms": breakdown(med_cpu),
        "breakdown_wall_ms": breakdown(med),
        "op_types_ms": {k: round(v, 2) for k, v in list(ops.items())[:25]},
        "op_groups_ms": op_groups(ops),
    }


def breakdown(m: dict) -> dict:
    """Split one fit step (on the real pipeline) into its parts."""
    pieces = m["d_grads"] + m["g_grads"] + m["optimizer"]
    return {
        "D step (fwd+bwd)": m["d_grads"],
        "G step (fwd+bwd)": m["g_grads"],
        "optimizer (2x Adam)": m["optimizer"],
        "rest of train_step (random draws, trackers)": m["train_step"] - pieces,
        "Keras loop / Python overhead": m["fit_memory"] - m["train_step"],
        "waiting for data": m["fit_pipeline"] - m["fit_memory"],
        "fit step total": m["fit_pipeline"],
    }


def format_profile(p: dict) -> str:
    total = p["breakdown_cpu_ms"]["fit step total"]
    lines = [f"{p['entry']} batch {p['batch']} {p['precision']} ({p['data']} data): ms per step, "
             f"median of {p['rounds']} interleaved rounds",
             f"  {'part':<46}{'CPU ms':>9}{'share':>8}{'wall ms':>10}"]
    for k, v in p["breakdown_cpu_ms"].items():
        share = f"{100 * v / total:7.0f}%" if k != "fit step total" else ""
        lines.append(f"  {k:<46}{v:>9.1f}{share:>8}{p['breakdown_wall_ms'][k]:>10.1f}")
    lines.append(f"  data pipeline alone: {p['cpu_ms']['data_only']['median']:.2f} CPU ms per batch")
    groups = ", ".join(f"{k} {v:.0f}" for k, v in p["op_groups_ms"].items())
    lines.append(f"  train_step by op group (ms per step, ops side by side each count): {groups}")
    top = ", ".join(f"{k} {v:.1f}" for k, v in list(p["op_types_ms"].items())[:10])
    lines.append(f"  top op types: {top}")
    lines.append(f"  TensorFlow threads (intra/inter): {p.get('threads', '?')}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse  # noqa: PLC0415
    import json  # noqa: PLC0415

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("entry", nargs="?", default="cgan_mnist")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--precision", default="float32")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json")
    args = p.parse_args(argv)
    result = profile(args.entry, args.batch_size, args.precision, args.rounds)
    print(format_profile(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
