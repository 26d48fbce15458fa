"""One function that trains an entry into a run folder (used by ``ganzoo train``, the
pretrained-weights script and the notebooks), resumable and fault tolerant.

A run folder holds::

    config.yaml          the exact config used (re-loadable with ganzoo.load(path))
    run_options.json     how ``ganzoo train`` drove the run (checkpoint/sample cadence, --quiet, ...),
                         reused by ``ganzoo train --resume``
    checkpoints/         ckpt-00000500.keras, ... (the newest ``keep`` of them; each a full model
                         with both optimizers, plus step/epoch counters, RNG and metric state;
                         written atomically, see ganzoo.checkpoint)
    log.csv              losses per epoch (CSVLogger; appended to on resume)
    tensorboard/         TensorBoard scalars
    losses.png           the losses per epoch (of the current session)
    samples/             a grid of fixed-seed samples per epoch
    model.keras          the final model (keras.saving.load_model trains on from it)
    train_time.txt       seconds spent in fit (of the last session)

**Exact resume.** Training reads one endless, deterministic stream of batches (the entry's
pipeline, shuffled with ``train.seed`` and repeated); the step count is the position in it.
``train(config, out, resume=True)`` loads the newest good checkpoint, restores the random
generators, skips the stream to the saved step and finishes the interrupted epoch before
the remaining ones, so a run killed at any point and resumed ends with the step count and,
with ``deterministic=True`` (TensorFlow's op determinism), the weights of an uninterrupted
run (tests/test_resume.py kills one with SIGKILL). The same holds on JAX (XLA on CPU is
deterministic; tests/test_cli_backend.py resumes a cgan_mnist run bitwise): Keras's JAX
trainer keeps the training state outside the variables during an epoch, and every callback
here that saves reads ``self.model``, which syncs it first (``model.jax_state_sync()``).

**Distribution.** On JAX, ``strategy="mirrored"`` is ``keras.distribution.DataParallel`` over the
local devices (``fit`` runs in its scope); the other strategies are TensorFlow's and refused
there by :func:`check_strategy_backend`.
``strategy="mirrored"|"multiworker"|"tpu"`` (see ganzoo.distribute) builds
the model under the strategy's scope; only the chief writes the run folder, other workers
write into a temporary folder that is deleted.

**Divergence.** A NaN/Inf loss raises :class:`ganzoo.guard.TrainingDiverged` at that step;
nothing after it is saved (``ganzoo train`` exits with status 3).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Optional

import keras

from ganzoo.checkpoint import CheckpointManager, atomic_copy, atomic_write_text, restore_metrics
from ganzoo.config import Config
from ganzoo.guard import DivergenceGuard, StepCallback
from ganzoo.model_registry import model_class

__all__ = ["train", "prepare_run_dir", "CheckpointEvery", "steps_per_epoch_of", "check_strategy_backend"]

logger = logging.getLogger(__name__)


def prepare_run_dir(out: Path) -> Path:
    """Create ``out`` (and parents) and check that it is writable; PermissionError otherwise."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PermissionError(f"cannot create the run folder {out}: {err.strerror}; choose another --out") from None
    if not out.is_dir():
        raise PermissionError(f"the run folder {out} is not a folder; choose another --out")
    probe = out / f".ganzoo-write-test-{id(out)}"
    try:  # os.access is always true for root; an actual write is the honest test
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise PermissionError(f"the run folder {out} is not writable ({err.strerror}); choose another --out") from None
    return out


class CheckpointEvery(StepCallback):
    """Save a checkpoint every ``every`` steps (None: at the end of every epoch).

    On the first epoch of a resumed run it also puts back the saved running means of the
    losses (Keras resets them when an epoch begins), so the log of the interrupted epoch
    matches the uninterrupted run's.
    """

    def __init__(self, manager: CheckpointManager, config: Config, steps_per_epoch: int,
                 every: Optional[int] = None, start_step: int = 0, resumed_state: Optional[dict] = None):
        super().__init__(start_step)
        if every is not None and every <= 0:
            raise ValueError(f"--checkpoint-every must be a positive number of steps, got {every}")
        self.manager, self.config, self.every = manager, config, every
        self.steps_per_epoch = steps_per_epoch
        self.last_saved_step = start_step if resumed_state is not None else None
        self.last_path: Optional[Path] = None
        self._resumed_state = resumed_state if start_step % steps_per_epoch else None

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        if self._resumed_state is not None:
            restore_metrics(self.model, self._resumed_state)
            self._resumed_state = None

    def on_train_batch_end(self, batch, logs=None):
        before = self.step
        step = self._advance(batch)
        if self.every is not None and step // self.every > before // self.every:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        if self.every is None:
            self.save()

    def save(self) -> Optional[Path]:
        """Write a checkpoint of the current step and return its path (the existing file if this
        step is already saved; None on a worker that is not the chief).
        """
        if self.last_saved_step == self.step:
            return self.last_path
        path = self.manager.save(self.model, self.step, self.step // self.steps_per_epoch, self.config)
        self.last_saved_step = self.step
        if path is not None:
            self.last_path = path
        return path


def steps_per_epoch_of(dataset, config: Config) -> int:
    """``train.steps_per_epoch``, else the number of batches in one pass over ``dataset``."""
    import tensorflow as tf  # noqa: PLC0415

    if config.train.steps_per_epoch is not None:
        return config.train.steps_per_epoch
    n = int(dataset.cardinality())
    if n == tf.data.INFINITE_CARDINALITY:
        raise ValueError("the dataset repeats forever: set train.steps_per_epoch (or --steps)")
    if n == tf.data.UNKNOWN_CARDINALITY:
        n = int(dataset.reduce(0, lambda count, _: count + 1))
    if n <= 0:
        raise ValueError("the dataset yields no complete batch; lower train.batch_size")
    return n


def _stream(config: Config, data_dir, dataset, strategy):
    """(function step -> endless stream of batches from that step on, steps per epoch)."""
    import tensorflow as tf  # noqa: PLC0415

    from ganzoo.data import load_dataset  # noqa: PLC0415

    def make_stream(dataset):
        stream = dataset if int(dataset.cardinality()) == tf.data.INFINITE_CARDINALITY else dataset.repeat()
        if _is_multi_worker(strategy):
            options = tf.data.Options()
            # In-memory sources have no files to shard by: every worker reads all and keeps its share.
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            stream = stream.with_options(options)
        return stream

    own = dataset is None
    if own:
        dataset = load_dataset(config, data_dir=data_dir, repeat=False)
    per_epoch = steps_per_epoch_of(dataset, config)
    first = [make_stream(dataset)]

    def from_step(step: int):
        # The shuffle order of a dataset's *first* iterator is a function of the seed only, so
        # skipping reproduces the position (one pass through the skipped batches, not a re-read
        # of decoded files). A second iterator of the same dataset object reshuffles
        # differently (its seed generator has moved on), so every fit after the first gets a
        # freshly built pipeline: a resumed run then sees exactly the batches of an
        # uninterrupted one. A caller's own dataset cannot be rebuilt; it is reused as it is.
        if first:
            stream = first.pop()
        else:
            stream = make_stream(load_dataset(config, data_dir=data_dir, repeat=False) if own else dataset)
        return stream.skip(step) if step else stream

    return from_step, per_epoch


def _is_multi_worker(strategy) -> bool:
    import tensorflow as tf  # noqa: PLC0415

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def train(config: Config, out: Optional[Path] = None, data_dir: Optional[str] = None, verbose="auto",
          samples_every: int = 1, extra_callbacks=(), dataset=None, strategy=None, resume: bool = False,
          checkpoint_every: Optional[int] = None, keep_checkpoints: int = 3, deterministic: bool = False,
          collapse_patience: Optional[int] = 500, run_options: Optional[dict] = None,
          samples_use_ema: Optional[bool] = None):
    """Build, compile and ``fit`` ``config`` (or resume it); return ``(model, history)``.

    Args:
        config: the entry's config; on resume it must be the run's (only ``train.epochs`` may
            differ, to extend a run).
        out: run folder (see the module docstring); None trains without writing anything.
        dataset: a ``tf.data.Dataset`` of batches to use instead of the entry's pipeline; it is
            repeated, and a resumed run skips the batches already trained on.
        strategy: None, ``"mirrored"``, ``"multiworker"``, ``"tpu"`` or a ``tf.distribute.Strategy``.
        resume: continue from the newest good checkpoint in ``out/checkpoints``.
        checkpoint_every: save every N steps (and at the end); None: at the end of every epoch.
        keep_checkpoints: how many checkpoints to keep.
        deterministic: enable TensorFlow's op determinism (bitwise-reproducible runs, slower).
        collapse_patience: steps of d_loss < 1e-3 before a collapse warning (None: never).
        run_options: JSON-able options of the command line that drives the run, written to
            ``out/run_options.json`` (``ganzoo train --resume`` reads them back).

    The run folder is created only once the data has loaded (a missing dataset leaves nothing).
        samples_use_ema: generator of the sample grids, as ``use_ema`` of ``model.generate``
            (None: the EMA generator once it is warm, else G; False: G).

    Raises:
        ganzoo.guard.TrainingDiverged: a loss became NaN/Inf (the newest checkpoint is the last good one).
        ganzoo.checkpoint.CheckpointError: ``resume`` without a usable checkpoint, or one of another run.
        ganzoo.checkpoint.CheckpointWriteError: a checkpoint could not be written (e.g. disk full).
        FileExistsError: ``out`` already holds checkpoints and ``resume`` is False.
    """
    from ganzoo import distribute  # noqa: PLC0415
    from ganzoo.precision import configure_cpu_threads  # noqa: PLC0415

    check_strategy_backend(strategy)
    # First, while TensorFlow's thread pools can still be sized (the data pipeline and the
    # strategy start them).
    configure_cpu_threads(config.train.cpu_threads, config.train.precision, config.train.jit_compile)
    strategy = distribute.get_strategy(strategy)
    batches = model_class(config.model.cls).batches_per_step(config)
    distribute.check_global_batch(config.train.batch_size, strategy, batches)
    if deterministic:
        import tensorflow as tf  # noqa: PLC0415

        tf.config.experimental.enable_op_determinism()
    if resume and out is None:
        raise ValueError("resume needs the run folder (out)")
    run_dir, worker_tmp = distribute.worker_run_dir(out, strategy)
    try:
        return _train(config, Path(out) if out is not None else None, run_dir, worker_tmp is None, strategy,
                      data_dir, verbose, samples_every, extra_callbacks, dataset, resume, checkpoint_every,
                      keep_checkpoints, collapse_patience, run_options, samples_use_ema)
    finally:
        distribute.remove_worker_dir(worker_tmp)


def _train(config, out, run_dir, chief, strategy, data_dir, verbose, samples_every, extra_callbacks, dataset,
           resume, checkpoint_every, keep_checkpoints, collapse_patience, run_options=None,
           samples_use_ema=None):
    from ganzoo.builders import build_model, compile_model  # noqa: PLC0415
    from ganzoo.callbacks import LossPlot, sample_callback  # noqa: PLC0415

    t = config.train
    manager = CheckpointManager(out / "checkpoints", keep=keep_checkpoints, chief=chief) if out else None
    if out is not None:
        if resume and not (out / "config.yaml").is_file() and not (out / "checkpoints").is_dir():
            raise FileNotFoundError(f"{out} is not a ganzoo run folder (no config.yaml, no checkpoints/): "
                                    "nothing to resume")
        if chief and not resume and manager.paths():
            raise FileExistsError(f"{out} already holds checkpoints of a run (newest: {manager.paths()[-1].name}); "
                                  f"resume it with `ganzoo train --resume {out}`, or choose another --out")

    # The data stream is created after seeding so that its shuffle order is the same in a
    # fresh and in a resumed process.
    keras.utils.set_random_seed(t.seed)
    ckpt = None
    if resume:
        model, ckpt = manager.load_latest(config, strategy=strategy)
        logger.info("resuming %s from %s (step %d)", config.name, ckpt.path, ckpt.step)
    start_step = ckpt.step if ckpt else 0
    stream_from, per_epoch = _stream(config, data_dir, dataset, strategy)
    total_steps = t.epochs * per_epoch
    if out is not None:  # only now that the data has loaded: a missing dataset leaves no empty run folder
        run_dir = prepare_run_dir(run_dir)
        if chief:
            manager.remove_stale_temporaries()
    if ckpt is not None and verbose != 0:
        epoch = min(ckpt.step // per_epoch + 1, t.epochs)
        print(f"continuing from step {ckpt.step} of {total_steps} (epoch {epoch} of {t.epochs}; "
              f"checkpoint {ckpt.path.name})")
    if ckpt is None:
        with strategy.scope():
            model = build_model(config)
            compile_model(model, config)

    callbacks = []
    if out is not None:
        guard = DivergenceGuard(start_step, last_checkpoint=lambda: _newest(manager),
                                collapse_patience=collapse_patience)
        saver = CheckpointEvery(manager, config, per_epoch, every=checkpoint_every, start_step=start_step,
                                resumed_state=ckpt.state if ckpt else None)
        callbacks += [guard, saver]
    else:
        guard = DivergenceGuard(start_step, collapse_patience=collapse_patience)
        saver = None
        callbacks.append(guard)
    callbacks += list(extra_callbacks)
    if out is not None:
        if chief:
            atomic_write_text(run_dir / "config.yaml", config.to_yaml())
            if run_options is not None:
                atomic_write_text(run_dir / "run_options.json", json.dumps(run_options, indent=2) + "\n")
        callbacks += [
            keras.callbacks.CSVLogger(str(run_dir / "log.csv"), append=resume),
            keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False),
            LossPlot(run_dir / "losses.png"),
            sample_callback(config, run_dir / "samples", samples_every, data_dir=data_dir, dataset=dataset,
                            use_ema=samples_use_ema),
        ]

    start = time.time()
    history = keras.callbacks.History()
    history.history, history.epoch = {}, []
    if start_step >= total_steps:
        logger.info("%s is already trained for %d steps (%d epochs); nothing to do", config.name, start_step, t.epochs)
    step = start_step
    # On JAX, Keras splits the input batches over the devices only while a distribution is set.
    from ganzoo import distribute  # noqa: PLC0415

    with distribute.fit_scope(strategy):
        for first_epoch, steps, last_epoch in _segments(start_step, per_epoch, t.epochs):
            # shuffle=False: the stream is already shuffled by its pipeline (Keras ignores shuffle for a
            # tf.data.Dataset, and warns on every fit when it is left at its default True).
            part = model.fit(stream_from(step), initial_epoch=first_epoch, epochs=last_epoch,
                             steps_per_epoch=steps, callbacks=callbacks, verbose=verbose, shuffle=False)
            step += steps * (last_epoch - first_epoch)
            history.epoch += part.epoch
            for key, values in part.history.items():
                history.history.setdefault(key, []).extend(values)
    history.set_model(model)
    seconds = time.time() - start
    if out is not None:
        final = saver.save()  # at the end, unless just saved
        if chief:
            final = final or _newest(manager)
            if final is not None:
                atomic_copy(Path(final), run_dir / "model.keras")
            else:  # pragma: no cover - a save always happens above
                model.save(str(run_dir / "model.keras"))
            atomic_write_text(run_dir / "train_time.txt", f"{seconds:.1f}\n")
    return model, history


#: ``tf.distribute`` strategies by name (ganzoo.distribute) with no JAX counterpart (on JAX,
#: "mirrored" is keras.distribution.DataParallel over the local devices).
TF_STRATEGIES = ("multiworker", "tpu")


def check_strategy_backend(strategy) -> None:
    """ValueError, before anything is built, when a ``tf.distribute`` strategy without a JAX
    counterpart (``multiworker``, ``tpu``, a ``tf.distribute.Strategy`` object) is asked for on
    a backend other than TensorFlow: it places TensorFlow variables and runs TensorFlow steps,
    so on JAX it would silently train on one device (or fail deep inside Keras). ``mirrored`` is
    ``keras.distribution.DataParallel`` there (:func:`ganzoo.distribute.get_strategy`)."""
    backend = keras.backend.backend()
    if backend == "tensorflow" or strategy is None or strategy == "none":
        return
    import sys  # noqa: PLC0415

    tf = sys.modules.get("tensorflow")
    is_tf_strategy = strategy in TF_STRATEGIES or (
        tf is not None and isinstance(strategy, tf.distribute.Strategy)
        and not isinstance(strategy, type(tf.distribute.get_strategy())))
    if is_tf_strategy:
        name = strategy if isinstance(strategy, str) else type(strategy).__name__
        raise ValueError(f"--strategy {name} is a tf.distribute strategy, which runs on the TensorFlow backend "
                         f"only; this process runs Keras on {backend}. Train with --backend tensorflow (or "
                         "KERAS_BACKEND=tensorflow), or on JAX use --strategy mirrored (keras.distribution."
                         "DataParallel over the local devices) or pass a keras.distribution object")


def _segments(start_step: int, per_epoch: int, epochs: int):
    """``(initial_epoch, steps_per_epoch, epochs)`` of the ``fit`` calls that continue from
    ``start_step``: the rest of an interrupted epoch on its own, then the remaining epochs."""
    epoch, offset = divmod(start_step, per_epoch)
    if offset and epoch < epochs:
        yield epoch, per_epoch - offset, epoch + 1
        epoch += 1
    if epoch < epochs:
        yield epoch, per_epoch, epochs


def _newest(manager: CheckpointManager):
    paths = manager.paths()
    return paths[-1] if paths else None
