"""Real images as evaluation sees them: a dataset's splits, its identity and its labels.

Evaluation never reads a config or calls a data loader; it takes a :class:`RealData`.
:func:`ganzoo.zoo_eval.real_data` builds one from a zoo entry or config (TFDS, folders, the
UCI digits: whatever ``ganzoo.load_dataset`` reads); :class:`ArrayData` wraps arrays you
already hold::

    from ganzoo.evaluation.real import ArrayData
    from ganzoo.evaluation.evaluate import evaluate
    real = ArrayData({"train": (x_train, y_train), "test": (x_test, y_test)}, key="my-digits-28x28x1")
    evaluate(model, ["fcd", "coverage"], 2000, data=real, classifier=my_classifier)

Images are float32 in [-1, 1], shaped ``(N, H, W, C)``; labels are integers.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

__all__ = ["RealData", "ArrayData"]


class RealData:
    """A real dataset with named splits (abstract).

    Attributes:
        key: file-name-safe identity of what the dataset yields (source, name, crop,
            resolution, border): reference statistics and domain classifiers are cached under
            it, so two datasets with the same key must yield the same images.
        name: what protocols print (a TFDS name, a folder).
        image_shape: ``(H, W, C)`` of the images.
        description: the data description a shipped classifier is chosen by (a
            ``ganzoo.config.DataConfig`` for zoo data), or None.
        tfds_name: the TFDS name, recorded in a trained classifier's metadata, or None.
        unavailable: the exception types :meth:`dataset` raises for a split that is not there.
    """

    key: str = "unnamed"
    name: str = "real data"
    image_shape: tuple = ()
    description = None
    tfds_name: Optional[str] = None
    unavailable: tuple = (LookupError,)

    def dataset(self, split: str, *, batch_size: int, shuffle: bool = False, with_labels: bool = False,
                seed: Optional[int] = None, drop_remainder: bool = False, repeat: bool = False,
                limit: Optional[int] = None):
        """A ``tf.data.Dataset`` of image batches (``(images, labels)`` with ``with_labels``) of
        ``split``: its first ``limit`` examples, shuffled with ``seed`` when asked, repeated forever
        with ``repeat``."""
        raise NotImplementedError

    def batches(self, split: str, n: Optional[int] = None, batch_size: int = 200, with_labels: bool = False):
        """The first ``n`` images (all if None) of ``split`` in file order, as numpy batches
        (``(images, labels)`` pairs with ``with_labels``)."""
        ds = self.dataset(split, batch_size=batch_size, with_labels=with_labels, limit=n)
        yield from ds.as_numpy_iterator()

    def has_labels(self) -> bool:
        """Whether the examples carry class labels."""
        return False

    def num_classes(self) -> int:
        """The number of classes; ValueError when the dataset has no labels."""
        raise ValueError(f"{self.name} has no class labels: domain-classifier metrics (fcd, cs, coverage, "
                         "label_accuracy) need a labelled dataset; use fid,kid,is")

    def num_examples(self, split: str) -> Optional[int]:
        """Examples in ``split``, or None when unknown before reading it."""
        return None


class ArrayData(RealData):
    """:class:`RealData` over arrays in memory.

    Args:
        splits: split name -> images, or ``(images, labels)``; images float in [-1, 1]
            (uint8 in [0, 255] is converted), ``(N, H, W, C)``.
        key: the dataset's identity for cache files (see :attr:`RealData.key`).
        name: printed in protocols (default: the key).
        num_classes: number of classes (default: the largest label + 1).
    """

    def __init__(self, splits: Mapping, key: str, name: Optional[str] = None, num_classes: Optional[int] = None):
        if not splits:
            raise ValueError("ArrayData needs at least one split, e.g. {'train': images}")
        self._splits = {}
        for split, value in splits.items():
            images, labels = value if isinstance(value, tuple) else (value, None)
            images = np.asarray(images)
            images = images.astype(np.float32) / 127.5 - 1.0 if images.dtype == np.uint8 else images.astype(np.float32)
            if images.ndim != 4:
                raise ValueError(f"split '{split}': images must be (N, H, W, C), got shape {images.shape}")
            if labels is not None:
                labels = np.asarray(labels).astype(np.int64).reshape(-1)
                if len(labels) != len(images):
                    raise ValueError(f"split '{split}': {len(images)} images but {len(labels)} labels")
            self._splits[split] = (images, labels)
        shapes = {v[0].shape[1:] for v in self._splits.values()}
        if len(shapes) > 1:
            raise ValueError(f"the splits' images differ in shape: {sorted(shapes)}")
        self.image_shape = tuple(int(d) for d in shapes.pop())
        self.key = str(key)
        self.name = name or self.key
        self._num_classes = num_classes

    def _split(self, split: str):
        if split not in self._splits:
            raise KeyError(f"ArrayData '{self.name}' has no split '{split}' (it has {', '.join(self._splits)})")
        return self._splits[split]

    def dataset(self, split, *, batch_size, shuffle=False, with_labels=False, seed=None, drop_remainder=False,
                repeat=False, limit=None):
        import tensorflow as tf  # noqa: PLC0415

        images, labels = self._split(split)
        if with_labels and labels is None:
            raise ValueError(f"ArrayData '{self.name}' split '{split}' has no labels")
        if limit is not None:
            images, labels = images[:limit], None if labels is None else labels[:limit]
        ds = tf.data.Dataset.from_tensor_slices((images, labels) if with_labels else images)
        if shuffle:
            ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
        return ds.batch(batch_size, drop_remainder=drop_remainder)

    def has_labels(self) -> bool:
        return all(labels is not None for _, labels in self._splits.values())

    def num_classes(self) -> int:
        if self._num_classes:
            return int(self._num_classes)
        if not self.has_labels():
            return super().num_classes()
        return int(max(labels.max() for _, labels in self._splits.values())) + 1

    def num_examples(self, split: str) -> Optional[int]:
        return len(self._split(split)[0])
