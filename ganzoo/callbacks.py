"""Keras callbacks for GAN training."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import keras

from ganzoo.images import save_grid

__all__ = ["SampleGrid", "LossPlot"]


class SampleGrid(keras.callbacks.Callback):
    """Write a grid of samples for a fixed seed at the end of every ``every`` epochs
    (``epoch_0001.png``, ...), so the same latents can be watched improving.

    Conditional models draw labels 0, 1, 2, ... (one class per column for 10 classes).
    """

    def __init__(self, out_dir, n: int = 64, seed: int = 0, every: int = 1, labels=None,
                 nrow: Optional[int] = None, truncation: Optional[float] = None):
        super().__init__()
        if n <= 0 or every <= 0:
            raise ValueError("SampleGrid needs n > 0 and every > 0")
        self.out_dir = Path(out_dir)
        self.n, self.seed, self.every, self.labels, self.truncation = n, seed, every, labels, truncation
        self.nrow = nrow
        self.paths: list[Path] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        model = self.model
        images = model.generate(self.n, labels=self.labels, seed=self.seed, truncation=self.truncation)
        nrow = self.nrow or (model.num_classes if getattr(model, "num_classes", None) and self.labels is None
                             and self.n % model.num_classes == 0 else None)
        path = self.out_dir / f"epoch_{epoch + 1:04d}.png"
        save_grid(images, path, nrow=nrow, metadata={
            "model": model.name, "epoch": epoch + 1, "seed": self.seed,
            "labels": None if not getattr(model, "conditional", False) else
            model.resolve_labels(self.n, self.labels), "truncation": self.truncation})
        self.paths.append(path)


class LossPlot(keras.callbacks.Callback):
    """Plot every logged loss per epoch into a PNG (matplotlib, headless) after each epoch."""

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415

        fig, ax = plt.subplots(figsize=(6, 4))
        for key, values in self.history.items():
            ax.plot(range(1, len(values) + 1), values, marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel("value")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(self.path, dpi=100)
        plt.close(fig)
