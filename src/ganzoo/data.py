"""Input pipelines: a zoo config in, a batched ``tf.data.Dataset`` of real images out.

Conventions every model in the zoo relies on:

* **Images** are float32 in ``[-1, 1]`` (``x / 127.5 - 1``, matching a ``tanh`` generator),
  shaped ``(batch, image_size, image_size, channels)`` with fully static shapes (batches are
  cut with ``drop_remainder=True``), so ``train_step`` can be traced once and compiled by XLA.
* **Labels** (only when the model is conditional, ``config.conditional``) are int32 of shape
  ``(batch,)`` and the dataset yields ``(images, labels)`` tuples; unconditional models get
  the image batches alone. For TFDS the label is the ``data.label_key`` feature (``label``
  for MNIST and CIFAR-10); for a folder it is the index of the image's first-level subfolder
  in alphabetical order of the subfolder names.
* **Caching**: examples are decoded, cropped, resized and converted to the configured
  channels once, and kept as uint8 (``data.cache``: in memory, 4x smaller than float32).
  Shuffling, batching and the float conversion happen after the cache, on every epoch.

Three sources, chosen by ``data.source``:

* ``tfds``: a TensorFlow Datasets name (``mnist``, ``cifar10``, ``celeb_a``). Prepared data is
  looked up in ``data_dir`` (default: env ``TFDS_DATA_DIR``, else ``~/tensorflow_datasets``).
  If it is missing the dataset is downloaded when the network is reachable, otherwise a
  :class:`DataError` says within seconds where to put it.
* ``uci_digits``: the UCI handwritten digits that scikit-learn ships (:mod:`ganzoo.data_digits`;
  splits ``train`` and ``test``, labels 0-9).
* ``folder``: any folder of image files (searched recursively), decoded once with Pillow.
  :func:`scan_folder` reports what is in a folder (unreadable files, modes, sizes,
  duplicates, classes) without building a dataset.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from ganzoo.config import Config
from ganzoo.data_io import (IMAGE_EXTENSIONS, DataError, FolderReport, few_paths, read_folder, tf_square_resize,
                            tfds_load)
from ganzoo.model_registry import model_class, model_class_info

if TYPE_CHECKING:  # TensorFlow is imported on first use, not with the module.
    import tensorflow as tf

__all__ = ["DataError", "FolderReport", "IMAGE_EXTENSIONS", "load_dataset", "scan_folder"]

logger = logging.getLogger(__name__)


# ====================================================================== public API

def load_dataset(
    name_or_config: Union[str, Config],
    split: Optional[str] = None,
    data_dir: Optional[str] = None,
    batch_size: Optional[int] = None,
    shuffle: bool = True,
    repeat: bool = False,
    with_labels: Optional[bool] = None,
    drop_remainder: bool = True,
    seed: Optional[int] = None,
    limit: Optional[int] = None,
    download: Optional[bool] = None,
) -> "tf.data.Dataset":
    """The batched training data of a zoo entry.

    Args:
        name_or_config: a registry entry name (``"dcgan_mnist"``) or a :class:`Config`.
        split: TFDS split (default ``config.data.split``); ignored for folders.
        data_dir: TFDS data folder (default env ``TFDS_DATA_DIR``, else ``~/tensorflow_datasets``).
        batch_size: default ``config.train.batch_size`` (times ``n_critic`` for a WassersteinGAN).
        shuffle: shuffle files and examples (buffer ``config.data.shuffle_buffer``).
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        with_labels: yield ``(images, labels)``; default ``config.conditional``.
        drop_remainder: drop the last partial batch so that shapes are static.
        seed: shuffle seed (default ``config.train.seed``).
        limit: use only the first N examples (default ``config.data.limit``); for a folder the
            first N files in sorted path order.
        download: TFDS only, when the dataset is not prepared: True downloads, False raises
            :class:`DataError`, None downloads only if the network is reachable (never when env
            ``GANZOO_OFFLINE=1``).

    Returns:
        A ``tf.data.Dataset`` of float32 images in [-1, 1] shaped
        ``(batch, image_size, image_size, channels)``, or of ``(images, int32 labels)``.
    """
    config = _resolve_config(name_or_config)
    if model_class_info(config.model.cls).image_to_image:  # (LR, HR) or (A, B) pairs: ganzoo/data_image2image.py
        from ganzoo.data_image2image import load_image_to_image_dataset  # noqa: PLC0415

        if with_labels:
            raise DataError(f"{config.model.cls} trains on image pairs and takes no class labels")
        return load_image_to_image_dataset(config, split=split, data_dir=data_dir, batch_size=batch_size,
                                           shuffle=shuffle, repeat=repeat, drop_remainder=drop_remainder,
                                           seed=seed, limit=limit, download=download)
    data = config.data
    if batch_size is None:
        # One step may take several minibatches (a WassersteinGAN's n_critic: one per critic update).
        batch_size = model_class(config.model.cls).examples_per_step(config)
    with_labels = config.conditional if with_labels is None else with_labels
    seed = config.train.seed if seed is None else seed
    limit = data.limit if limit is None else limit
    if batch_size <= 0:
        raise DataError(f"batch_size must be > 0, got {batch_size}")
    if limit is not None and limit <= 0:
        raise DataError(f"limit must be > 0 (or None for the whole split), got {limit}")

    if data.source == "folder":
        examples, count = _folder_examples(config, with_labels, limit)
        cache = False  # already a numpy array in memory
        where = f"the folder {data.path}"
    elif data.source == "uci_digits":
        examples, count = _uci_digits_examples(config, split or data.split, with_labels, limit)
        cache = False  # a numpy array in memory
        where = f"the UCI digits' split '{split or data.split}'"
    else:
        examples, count = _tfds_examples(config, split or data.split, data_dir, shuffle,
                                         with_labels, seed, limit, download)
        cache = data.cache
        where = f"TFDS '{data.name}' split '{split or data.split}'"
    if data.pad:  # a black border (e.g. MNIST 28 -> 32 for networks that double from 4x4)
        examples = examples.map(functools.partial(_pad_example, pad=data.pad))
    if drop_remainder and not repeat and count is not None and 0 <= count < batch_size:
        raise DataError(f"{where} has only {count} examples, fewer than one batch of {batch_size}, "
                        "so every batch would be dropped; lower the batch size (train.batch_size / "
                        "batch_size=) or pass drop_remainder=False")
    return _batch_pipeline(examples, batch_size=batch_size, shuffle=shuffle,
                           shuffle_buffer=data.shuffle_buffer, seed=seed, repeat=repeat,
                           drop_remainder=drop_remainder, cache=cache)


def scan_folder(path: Union[str, Path], image_size: Optional[int] = None,
                crop: Optional[int] = None) -> FolderReport:
    """Decode every image file under ``path`` once and report what is there.

    ``image_size`` (and ``crop``) only serve to count the images that would be upscaled.
    Raises :class:`DataError` if the path does not exist.
    """
    report, _, _ = read_folder(Path(path), image_size=image_size, crop=crop)
    return report


# ====================================================================== shared tail

def _batch_pipeline(examples: "tf.data.Dataset", *, batch_size: int, shuffle: bool,
                    shuffle_buffer: int, seed: Optional[int], repeat: bool,
                    drop_remainder: bool, cache: bool) -> "tf.data.Dataset":
    """uint8 examples (image or (image, label)) -> cached, shuffled, batched float [-1, 1]."""
    import tensorflow as tf

    ds = examples
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(_to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _pad_example(image, labels=None, *, pad: int):
    import tensorflow as tf

    image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    return image if labels is None else (image, labels)


def _to_float(images, labels=None):
    import tensorflow as tf

    images = tf.cast(images, tf.float32) / 127.5 - 1.0
    return images if labels is None else (images, labels)


def _resolve_config(name_or_config: Union[str, Config]) -> Config:
    if isinstance(name_or_config, Config):
        return name_or_config
    from ganzoo.registry import get_config

    return get_config(name_or_config)


# ====================================================================== TFDS source

def _tfds_examples(config: Config, split: str, data_dir: Optional[str], shuffle: bool,
                   with_labels: bool, seed: Optional[int], limit: Optional[int],
                   download: Optional[bool]):
    """(dataset of uint8 images or (image, label) pairs, number of examples or None)."""
    import tensorflow as tf

    data = config.data
    ds, info = tfds_load(data.name, split, data_dir, shuffle=shuffle and limit is None,
                          seed=seed, download=download)
    spec = ds.element_spec
    features = sorted(spec) if isinstance(spec, dict) else []
    if data.image_key not in features:
        raise DataError(f"TFDS '{data.name}' has no image feature '{data.image_key}' (features: "
                        f"{', '.join(features)}); set data.image_key")
    image_spec = spec[data.image_key]
    if image_spec.dtype != tf.uint8 or image_spec.shape.rank != 3 or image_spec.shape[-1] not in (1, 3):
        raise DataError(f"TFDS '{data.name}' feature '{data.image_key}' is {image_spec.dtype.name} "
                        f"{image_spec.shape}; ganzoo expects uint8 images of shape (height, width, 1 or 3)")
    height, width, _ = image_spec.shape
    if data.crop is not None and height is not None and width is not None and data.crop > min(height, width):
        raise DataError(f"data.crop={data.crop} is larger than the {width}x{height} images of "
                        f"'{data.name}'; use a crop of at most {min(height, width)} or none")
    if with_labels:
        _check_tfds_labels(config, spec, features, info)

    if limit is not None:
        ds = ds.take(limit)

    def prepare(example):
        image = tf_square_resize(example[data.image_key], data.image_size - 2 * data.pad, data.channels, data.crop)
        if not with_labels:
            return image
        return image, tf.cast(example[data.label_key], tf.int32)

    ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    count = int(ds.cardinality())
    return ds, (count if count >= 0 else None)


def _check_tfds_labels(config: Config, spec: dict, features: list, info) -> None:
    data = config.data
    if data.label_key not in features:
        raise DataError(f"TFDS '{data.name}' has no label feature '{data.label_key}' (features: "
                        f"{', '.join(features)}); a conditional model needs integer class labels: set "
                        "data.label_key, or train an unconditional model (with_labels=False)")
    if not spec[data.label_key].dtype.is_integer or spec[data.label_key].shape.rank != 0:
        raise DataError(f"TFDS '{data.name}' feature '{data.label_key}' is {spec[data.label_key]}, "
                        "not a scalar integer class label; set data.label_key")
    try:
        num_classes = getattr(info.features[data.label_key], "num_classes", None)
    except (AttributeError, KeyError, TypeError):
        num_classes = None
    wanted = config.model.get("num_classes")
    if num_classes is not None and wanted is not None and num_classes != wanted:
        raise DataError(f"TFDS '{data.name}' has {num_classes} classes but model.num_classes is {wanted}; "
                        f"set model.num_classes: {num_classes}")


# ====================================================================== UCI digits source

def _uci_digits_examples(config: Config, split: str, with_labels: bool, limit: Optional[int]):
    """(dataset of uint8 images or (image, label) pairs, number of examples) of ``data.source: uci_digits``
    (:mod:`ganzoo.data_digits`); the ``data.pad`` border is added by the caller."""
    import tensorflow as tf

    from ganzoo.data_digits import load_uci_digits  # noqa: PLC0415

    data = config.data
    images, labels = load_uci_digits(split, data.image_size - 2 * data.pad, data.channels, limit=limit)
    return tf.data.Dataset.from_tensor_slices((images, labels) if with_labels else images), len(images)


# ====================================================================== folder source

_REPORTED: set = set()


def _first_time(key) -> bool:
    """True the first time ``key`` is seen in this process (for warnings worth saying once)."""
    if key in _REPORTED:
        return False
    _REPORTED.add(key)
    return True


def _folder_examples(config: Config, with_labels: bool, limit: Optional[int]):
    """(dataset of uint8 images or (image, label) pairs, number of examples) of a folder source."""
    import tensorflow as tf

    data = config.data
    report, images, labels = read_folder(Path(data.path), image_size=data.image_size - 2 * data.pad,
                                          crop=data.crop, channels=data.channels,
                                          with_labels=with_labels, limit=limit)
    logger.info("folder source:\n%s", report.summary())
    if report.unreadable:
        logger.warning("skipped %d unreadable image files in %s: %s", len(report.unreadable),
                       report.path, few_paths(report.unreadable, report.path))
    if report.too_small and _first_time(("too_small", str(report.path), data.image_size)):
        # Once per folder and size: a run reads its folder several times (training stream,
        # fixed-sample grid, nearest-image panel, each resumed segment).
        logger.warning("%d of %d images in %s are smaller than %dpx and were upscaled",
                       report.too_small, report.readable, report.path, data.image_size)
    if report.readable == 0:
        raise DataError(f"none of the {report.files} image files in {report.path} could be read "
                        f"(e.g. {few_paths(report.unreadable, report.path)}); check that they are valid images")
    if with_labels:
        wanted = config.model.get("num_classes")
        if wanted is not None and wanted != len(report.classes):
            raise DataError(f"{report.path} has {len(report.classes)} class subfolders "
                            f"({', '.join(report.classes)}) but model.num_classes is {wanted}; set "
                            f"model.num_classes: {len(report.classes)} or fix the folders")
        elements = (images, labels)
    else:
        elements = images
    return tf.data.Dataset.from_tensor_slices(elements), len(images)


