"""One function that trains an entry into a run folder (used by ``ganzoo train``, the
pretrained-weights script and the notebooks).

A run folder holds::

    config.yaml          the exact config used (re-loadable with ganzoo.load(path))
    checkpoints/         epoch_0001.keras, ... (full model: networks, optimizers, counters)
    log.csv              losses per epoch (CSVLogger)
    tensorboard/         TensorBoard scalars
    losses.png           the losses per epoch
    samples/             a grid of fixed-seed samples per epoch
    model.keras          the final model (keras.saving.load_model trains on from it)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

import keras

from ganzoo.config import Config

__all__ = ["train", "prepare_run_dir"]


def prepare_run_dir(out: Path) -> Path:
    from ganzoo.images import ensure_writable_dir  # noqa: PLC0415

    return ensure_writable_dir(out, "run folder", "--out")


def train(config: Config, out: Optional[Path] = None, data_dir: Optional[str] = None, verbose="auto",
          samples_every: int = 1, extra_callbacks=(), dataset=None):
    """Build, compile and ``fit`` ``config``; return ``(model, history)``.

    ``config.train.epochs`` / ``steps_per_epoch`` set the length; with ``out`` every artefact
    listed in the module docstring is written there.
    """
    from ganzoo.builders import build_model, compile_model  # noqa: PLC0415
    from ganzoo.callbacks import LossPlot, SampleGrid  # noqa: PLC0415
    from ganzoo.data import load_dataset  # noqa: PLC0415

    t = config.train
    callbacks = list(extra_callbacks)
    if out is not None:
        out = prepare_run_dir(out)
        (out / "config.yaml").write_text(config.to_yaml())
        (out / "checkpoints").mkdir(exist_ok=True)
        callbacks += [
            keras.callbacks.ModelCheckpoint(str(out / "checkpoints" / "epoch_{epoch:04d}.keras")),
            keras.callbacks.CSVLogger(str(out / "log.csv"), append=False),
            keras.callbacks.TensorBoard(str(out / "tensorboard"), write_graph=False),
            LossPlot(out / "losses.png"),
            SampleGrid(out / "samples", n=64 if not config.conditional else 10 * config.model.num_classes,
                       every=samples_every),
        ]
    if dataset is None:
        dataset = load_dataset(config, data_dir=data_dir, repeat=t.steps_per_epoch is not None)
    model = build_model(config)
    compile_model(model, config)
    start = time.time()
    history = model.fit(dataset, epochs=t.epochs, steps_per_epoch=t.steps_per_epoch, callbacks=callbacks,
                        verbose=verbose)
    seconds = time.time() - start
    if out is not None:
        model.save(str(out / "model.keras"))
        (out / "train_time.txt").write_text(f"{seconds:.1f}\n")
    return model, history
