"""The UCI handwritten digits as a data source (``data.source: uci_digits``).

scikit-learn ships 1,797 of the UCI "Optical Recognition of Handwritten Digits" images
(``sklearn.datasets.load_digits``): 32x32 bitmaps of digits written by people other than
MNIST's writers, each counted in 4x4 blocks into an 8x8 grid of 17 grey levels (0-16). They
are a second, genuinely different domain of the same ten classes as MNIST: coarse, blocky,
and the digit fills the frame, where an MNIST digit is anti-aliased and sits in a 20x20 box
centred in 28x28.

* **Values and polarity.** A grid value is the number of ink pixels of its 4x4 block, so
  ``v * 255 / 16`` gives MNIST's polarity (white digit on black) and range (0-255).
* **Resolution.** The grid is resized to ``image_size - 2 * pad`` pixels (bilinear by default,
  like the TFDS pipeline's resize, rounded to uint8 like an image file) and padded with a black
  border of ``pad`` pixels; ``channels: 3`` repeats the grey level.
* **Domain B of a CycleGAN** (:func:`load_uci_domain_b`): framed by the entry's ``data.pad_b`` and
  ``data.resize_b`` (default: bilinear to the full frame, the shipped ``cyclegan_mnist2uci``;
  ``pad_b: 4, resize_b: bicubic`` puts them in MNIST's 20x20 box with a 4-pixel border).
  Everything that feeds UCI digits to such a model (its data pipeline, its evaluation, its
  before/after grid) frames them through that one function.
* **Split** (the data has none): a fixed permutation (``numpy.random.RandomState(0)``, frozen
  by NumPy's compatibility policy, so every NumPy version gives the same split) puts
  1,347 images in ``train`` and the other 450 in ``test`` (about 3:1, like the 60,000 / 10,000
  of MNIST); the labels 0-9 come with both.

scikit-learn is an optional dependency: ``pip install ganzoo[digits]``.
"""

from __future__ import annotations

import functools
from typing import Optional

import numpy as np

from ganzoo.config import UCI_RESIZE_METHODS
from ganzoo.data.errors import DataError

__all__ = ["UCI_DIGITS_SPLITS", "UCI_DIGITS_SPLIT_SEED", "load_uci_digits", "load_uci_domain_b", "uci_digit_grids",
           "uci_digits_examples", "uci_domain_b_framing"]

#: Split name -> number of images.
UCI_DIGITS_SPLITS = {"train": 1347, "test": 450}
#: Seed of the permutation that splits the 1,797 images.
UCI_DIGITS_SPLIT_SEED = 0
#: Resize methods of :func:`load_uci_digits` (``tf.image.resize`` names).
RESIZE_METHODS = UCI_RESIZE_METHODS


@functools.lru_cache(maxsize=1)
def _all_digits() -> tuple:
    try:
        from sklearn.datasets import load_digits  # noqa: PLC0415
    except ImportError:
        raise DataError("data.source: uci_digits reads the UCI digits that scikit-learn ships, and scikit-learn "
                        "is not installed: pip install ganzoo[digits] (or pip install 'scikit-learn>=1.3')") from None
    digits = load_digits()
    return np.asarray(digits.images, np.float32), np.asarray(digits.target, np.int32)


def uci_digit_grids(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The raw 8x8 grids of a split as float32 ``(n, 8, 8)`` in [0, 1] (ink = 1) and their int32 labels."""
    if split not in UCI_DIGITS_SPLITS:
        raise DataError(f"the UCI digits have the splits {', '.join(UCI_DIGITS_SPLITS)} (a fixed 1,347 / 450 "
                        f"split of scikit-learn's 1,797 images), not '{split}'; set data.split")
    grids, labels = _all_digits()
    order = np.random.RandomState(UCI_DIGITS_SPLIT_SEED).permutation(len(labels))
    n_train = UCI_DIGITS_SPLITS["train"]
    index = order[:n_train] if split == "train" else order[n_train:]
    return grids[index] / 16.0, labels[index]


def load_uci_digits(split: str = "train", image_size: int = 28, channels: int = 1, pad: int = 0,
                    method: str = "bilinear", limit=None) -> tuple[np.ndarray, np.ndarray]:
    """UCI digits as images: uint8 ``(n, image_size, image_size, channels)``, white on black, and int32 labels.

    The 8x8 grid is resized to ``image_size - 2 * pad`` with ``method`` (a ``tf.image.resize``
    method) and given a black border of ``pad`` pixels (``image_size=28, pad=4``: MNIST's 20x20
    box). ``limit`` keeps the first N images of the split.
    """
    import tensorflow as tf  # noqa: PLC0415

    if method not in RESIZE_METHODS:
        raise ValueError(f"method must be one of {', '.join(RESIZE_METHODS)}, got '{method}'")
    inner = image_size - 2 * pad
    if inner < 1 or pad < 0:
        raise DataError(f"image_size {image_size} with a border of {pad} pixels leaves no room for the digit")
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels}")
    grids, labels = uci_digit_grids(split)
    if limit is not None:
        grids, labels = grids[:limit], labels[:limit]
    images = tf.image.resize(grids[..., None] * 255.0, (inner, inner), method=method).numpy()
    images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    if pad:
        images = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    if channels == 3:
        images = np.repeat(images, 3, axis=-1)
    return images, labels


def uci_domain_b_framing(config, size: Optional[int] = None) -> dict:
    """How ``config`` (a CycleGAN on ``data.source: uci_digits``) frames its domain B at ``size``
    pixels (default ``data.image_size``): ``{"pad": border, "method": resize method}``, the keyword
    arguments of :func:`load_uci_digits`. ``data.pad_b`` is in pixels of ``image_size``; at another
    size (the ``load_size`` jitter) the border scales with the image, as domain A's does."""
    data = config.data
    size = data.image_size if size is None else size
    return {"pad": int(round(data.pad_b * size / data.image_size)), "method": data.resize_b}


def load_uci_domain_b(config, split: str = "test", size: Optional[int] = None,
                      limit=None) -> tuple[np.ndarray, np.ndarray]:
    """UCI digits as ``config``'s domain B: uint8 ``(n, size, size, data.channels)`` framed by
    :func:`uci_domain_b_framing` (``data.pad_b``, ``data.resize_b``), and int32 labels. The one
    place that says what a digit CycleGAN sees: its training data, its evaluation and its
    before/after grid all come from here."""
    size = config.data.image_size if size is None else size
    return load_uci_digits(split, size, config.data.channels, limit=limit, **uci_domain_b_framing(config, size))


def uci_digits_examples(config, split: str, with_labels: bool, limit: Optional[int]):
    """(dataset of uint8 images or (image, label) pairs, number of examples) of ``data.source: uci_digits``
    for :func:`ganzoo.data.load_dataset`; the ``data.pad`` border is added by the caller."""
    import tensorflow as tf  # noqa: PLC0415

    data = config.data
    images, labels = load_uci_digits(split, data.image_size - 2 * data.pad, data.channels, limit=limit)
    return tf.data.Dataset.from_tensor_slices((images, labels) if with_labels else images), len(images)
