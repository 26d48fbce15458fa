"""Keras callbacks for GAN training."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import keras

from ganzoo.images import save_grid

__all__ = ["SampleGrid", "LossPlot", "EvaluationCallback", "NearestNeighbourPanel", "nearest_training_images",
           "training_images"]


class SampleGrid(keras.callbacks.Callback):
    """Write a grid of samples for a fixed seed at the end of every ``every`` epochs
    (``epoch_0001.png``, ...), so the same latents can be watched improving.

    Conditional models draw labels 0, 1, 2, ... (one class per column for 10 classes).
    ``use_ema`` as in ``model.generate``: None (default) samples from the EMA generator once it
    is warm and from the raw G before; False always from G. Each grid's metadata says which
    (``generator``), and a line is printed at the first grid and when the choice changes.
    """

    def __init__(self, out_dir, n: int = 64, seed: int = 0, every: int = 1, labels=None,
                 nrow: Optional[int] = None, truncation: Optional[float] = None, use_ema: Optional[bool] = None,
                 verbose: bool = True):
        super().__init__()
        if n <= 0 or every <= 0:
            raise ValueError("SampleGrid needs n > 0 and every > 0")
        self.out_dir = Path(out_dir)
        self.n, self.seed, self.every, self.labels, self.truncation = n, seed, every, labels, truncation
        self.nrow = nrow
        self.use_ema, self.verbose = use_ema, verbose
        self.paths: list[Path] = []
        #: The ``SamplingChoice`` of each grid written (``.description`` says which generator).
        self.generators: list = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        model = self.model
        choice = model.sampling_choice(self.use_ema)
        if self.verbose and (not self.generators or self.generators[-1].ema != choice.ema):
            print(f"\nsample grids ({self.out_dir}) from the {choice}")
        self.generators.append(choice)
        images = model.generate(self.n, labels=self.labels, seed=self.seed, truncation=self.truncation,
                                use_ema=choice.ema)
        nrow = self.nrow or (model.num_classes if getattr(model, "num_classes", None) and self.labels is None
                             and self.n % model.num_classes == 0 else None)
        path = self.out_dir / f"epoch_{epoch + 1:04d}.png"
        save_grid(images, path, nrow=nrow, metadata={
            "model": model.name, "epoch": epoch + 1, "generator": choice.description, "seed": self.seed,
            "labels": None if not getattr(model, "conditional", False) else
            model.resolve_labels(self.n, self.labels), "truncation": self.truncation})
        self.paths.append(path)


class TranslationGrid(keras.callbacks.Callback):
    """Image-to-image counterpart of :class:`SampleGrid`: every ``every`` epochs, run the model
    on one fixed batch of its inputs and write ``epoch_NNNN.png`` with one row per image kind
    (SRGAN: bicubic, SR, HR; CycleGAN: A, A->B, B, B->A; see ``preview_images``).

    ``batch`` is an ``(inputs, targets)`` pair of arrays, or None to take the first batch of
    the entry's own data (unshuffled) when training starts.
    """

    def __init__(self, out_dir, config=None, batch=None, every: int = 1, n: int = 4, data_dir=None):
        super().__init__()
        if every <= 0 or n <= 0:
            raise ValueError("TranslationGrid needs every > 0 and n > 0")
        self.out_dir = Path(out_dir)
        self.config, self.batch, self.every, self.n, self.data_dir = config, batch, every, n, data_dir
        self.paths: list[Path] = []

    def on_train_begin(self, logs=None):
        if self.batch is None:
            from ganzoo.data import load_dataset  # noqa: PLC0415

            ds = load_dataset(self.config, data_dir=self.data_dir, shuffle=False, batch_size=self.n,
                              drop_remainder=False)
            self.batch = tuple(x.numpy()[:self.n] for x in next(iter(ds)))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every or self.batch is None:
            return
        rows = self.model.preview_images(self.batch)
        images = [img for _, row in rows for img in row]
        path = self.out_dir / f"epoch_{epoch + 1:04d}.png"
        save_grid(images, path, nrow=len(rows[0][1]), metadata={
            "model": self.model.name, "epoch": epoch + 1, "rows": [name for name, _ in rows]})
        self.paths.append(path)


def sample_callback(config, out_dir, every: int = 1, data_dir=None, dataset=None, use_ema: Optional[bool] = None):
    """The per-epoch sample writer of an entry: :class:`SampleGrid` for latent GANs (``use_ema``
    as there), :class:`TranslationGrid` (on the first batch of ``dataset`` or of the entry's
    data) for image-to-image models."""
    from ganzoo.model_registry import model_class_info  # noqa: PLC0415

    if model_class_info(config.model.cls).image_to_image:
        batch = None
        if dataset is not None:
            batch = tuple(x.numpy()[:4] for x in next(iter(dataset)))
        return TranslationGrid(out_dir, config=config, batch=batch, every=every, data_dir=data_dir)
    return SampleGrid(out_dir, n=64 if not config.conditional else 10 * config.model.get("num_classes"), every=every,
                      use_ema=use_ema)


class LossPlot(keras.callbacks.Callback):
    """Plot every logged loss per epoch into a PNG (matplotlib, headless) after each epoch."""

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        # A bare Figure with its own Agg canvas: no pyplot, so the user's backend (a notebook's
        # inline plots, a GUI window) is left as it was.
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415

        fig = Figure(figsize=(6, 4))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for key, values in self.history.items():
            ax.plot(range(1, len(values) + 1), values, marker="o", label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel("value")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(self.path, dpi=100)


class EvaluationCallback(keras.callbacks.Callback):
    """Every ``every`` epochs, evaluate the model the way ``ganzoo eval`` does (fresh samples,
    cached reference statistics of the train split) and put the numbers into the epoch logs
    as ``eval_<metric>`` (so History, and CSVLogger/TensorBoard listed *after* this callback,
    see them), into ``self.history`` and, with ``path``, into a JSON-lines file.

    ``n`` defaults to 2,000 images: the numbers track progress within a run; report final
    numbers with ``ganzoo eval`` and its full protocol (10,000 / 50,000 images).

    Args:
        metrics: names as in ``ganzoo eval --metrics`` (default: by dataset, see
            :func:`ganzoo.evaluation.evaluate.default_metrics`).
        every: evaluate after epochs ``every``, ``2 * every``, ...
        n, seed: images per evaluation and their latent seed (the same each time).
        path: JSON-lines file to append one record per evaluation to.
        **evaluate_kwargs: passed to :func:`ganzoo.zoo_eval.evaluate`
            (``config``, ``ref_split``, ``data_dir``, ``cache``, ``inception_weights``, ...).
    """

    def __init__(self, metrics=None, every: int = 1, n: int = 2000, seed: int = 0, path=None, **evaluate_kwargs):
        super().__init__()
        if every <= 0 or n < 2:
            raise ValueError("EvaluationCallback needs every > 0 and n >= 2")
        from ganzoo.evaluation.evaluate import parse_metrics  # noqa: PLC0415

        self.metrics = parse_metrics(metrics)
        self.every, self.n, self.seed = every, n, seed
        self.path = None if path is None else Path(path)
        self.evaluate_kwargs = evaluate_kwargs
        self.history: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        import json  # noqa: PLC0415

        from ganzoo.zoo_eval import evaluate  # noqa: PLC0415

        result = evaluate(self.model, self.metrics, self.n, seed=self.seed, **self.evaluate_kwargs)
        record = {"epoch": epoch + 1, **result["metrics"], **result["details"]}
        if result["protocol"].get("card"):  # what the Inception numbers mean (network, weights, protocol, N)
            record["card"] = result["protocol"]["card"]
        self.history.append(record)
        if logs is not None:
            logs.update({f"eval_{k}": v for k, v in result["metrics"].items()})
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as f:
                f.write(json.dumps(record) + "\n")



# ---------------------------------------------------------------------- memorisation check

def training_images(config, data_dir=None, limit: Optional[int] = None):
    """The entry's training images as one float32 array in [-1, 1] (unshuffled, no labels):
    what :class:`NearestNeighbourPanel` compares samples with."""
    import numpy as np  # noqa: PLC0415

    from ganzoo.data import load_dataset  # noqa: PLC0415

    ds = load_dataset(config, data_dir=data_dir, shuffle=False, batch_size=256, drop_remainder=False,
                      with_labels=False, limit=limit)
    return np.concatenate([batch.numpy() for batch in ds], axis=0).astype("float32")


def nearest_training_images(samples, train, exclude_self: bool = False, batch_size: int = 256):
    """For each image in ``samples``: (index of the nearest image in ``train``, its RMS pixel
    distance), by L2 over all pixels of the [-1, 1] images. ``exclude_self`` (``samples`` is
    ``train``) skips each image's own row: the leave-one-out distances between training images."""
    import numpy as np  # noqa: PLC0415

    a = np.asarray(samples, np.float32).reshape(len(samples), -1)
    b = np.asarray(train, np.float32).reshape(len(train), -1)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"samples of {np.asarray(samples).shape[1:]} cannot be compared with training images "
                         f"of {np.asarray(train).shape[1:]}")
    b_sq = np.einsum("ij,ij->i", b, b)
    index = np.empty(len(a), np.int64)
    dist = np.empty(len(a), np.float32)
    for start in range(0, len(a), batch_size):
        chunk = a[start:start + batch_size]
        d2 = np.einsum("ij,ij->i", chunk, chunk)[:, None] - 2.0 * chunk @ b.T + b_sq[None, :]
        if exclude_self:
            rows = np.arange(len(chunk))
            d2[rows, start + rows] = np.inf
        best = np.argmin(d2, axis=1)
        index[start:start + len(chunk)] = best
        dist[start:start + len(chunk)] = np.sqrt(np.maximum(d2[np.arange(len(chunk)), best], 0.0) / a.shape[1])
    return index, dist


class NearestNeighbourPanel(keras.callbacks.Callback):
    """Does the model copy its training images? Every ``every`` epochs, write
    ``epoch_NNNN.png``: ``n`` samples (fixed seed), each followed by its nearest training
    image (pixel L2), ``pairs_per_row`` pairs per row, and append a line to ``nearest.jsonl``.

    The number to watch is ``ratio``: the median sample-to-nearest-training-image distance
    divided by the median distance between a training image and its nearest *other*
    training image. Near or above 1, samples are as far from the training set as its images
    are from each other; far below 1 (say < 0.5), samples are near-copies of training images.

    Args:
        out_dir: folder for the panels and ``nearest.jsonl``.
        train_images: float array (N, H, W, C) in [-1, 1] (see :func:`training_images`).
        n: samples per panel; seed: their latent seed (the same every time); every: epochs.
        pairs_per_row: sample/neighbour pairs in each row of the panel.
    """

    def __init__(self, out_dir, train_images, n: int = 16, seed: int = 0, every: int = 1, pairs_per_row: int = 4):
        super().__init__()
        import numpy as np  # noqa: PLC0415

        if n <= 0 or every <= 0 or pairs_per_row <= 0:
            raise ValueError("NearestNeighbourPanel needs n > 0, every > 0 and pairs_per_row > 0")
        self.train = np.asarray(train_images, np.float32)
        if self.train.ndim != 4 or len(self.train) < 2:
            raise ValueError(f"NearestNeighbourPanel needs at least 2 training images (N, H, W, C), got "
                             f"{self.train.shape}")
        self.out_dir = Path(out_dir)
        self.n, self.seed, self.every, self.pairs_per_row = n, seed, every, pairs_per_row
        _, own = nearest_training_images(self.train, self.train, exclude_self=True)
        #: Median distance between a training image and its nearest other training image.
        self.train_spacing = float(np.median(own))
        self.paths: list[Path] = []
        self.history: list[dict] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        import json  # noqa: PLC0415

        import numpy as np  # noqa: PLC0415

        samples = self.model.generate(self.n, seed=self.seed)
        if samples.shape[1:] != self.train.shape[1:]:
            raise ValueError(f"the model makes {samples.shape[1:]} images but the training images are "
                             f"{self.train.shape[1:]}")
        index, dist = nearest_training_images(samples, self.train)
        pairs = np.stack([samples, self.train[index]], axis=1).reshape((-1,) + samples.shape[1:])
        path = self.out_dir / f"epoch_{epoch + 1:04d}.png"
        record = {"epoch": epoch + 1, "median_distance": float(np.median(dist)),
                  "min_distance": float(dist.min()), "train_spacing": self.train_spacing,
                  "ratio": float(np.median(dist)) / max(self.train_spacing, 1e-8),
                  "nearest_index": index.tolist(), "distances": [round(float(d), 4) for d in dist]}
        save_grid(pairs, path, nrow=2 * self.pairs_per_row, metadata={
            "model": self.model.name, "epoch": epoch + 1, "seed": self.seed,
            "layout": "sample, nearest training image (pixel L2), ...", "ratio": record["ratio"]})
        self.paths.append(path)
        self.history.append(record)
        with open(self.out_dir / "nearest.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
