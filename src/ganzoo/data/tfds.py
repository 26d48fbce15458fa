"""TensorFlow Datasets as a source: loading without surprise downloads, and the TFDS images' checks.

* :func:`tfds_load`: ``tfds.load`` that never downloads unasked. A dataset that is not prepared in
  ``data_dir`` (default: env ``TFDS_DATA_DIR``, else ``~/tensorflow_datasets``) is downloaded
  only when the network is reachable (:func:`ganzoo.network.network_reachable`, never with env
  ``GANZOO_OFFLINE=1``); otherwise a :class:`~ganzoo.data.errors.DataError` says within seconds
  where to put it (for CelebA: which files, from where).
* :func:`tfds_examples`: the uint8 examples of ``load_dataset`` for ``data.source: tfds``
  (squared and resized by :func:`tf_square_resize`, with labels for a conditional model).
* :func:`tfds_images`: full-size uint8 images of a split for the image-to-image pipelines
  (:mod:`ganzoo.data.pairs`).

TensorFlow and TFDS are imported on first use, not with the module.
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ganzoo.config import Config
from ganzoo.data.errors import DataError
from ganzoo.network import network_reachable  # the one probe (Keras' weights share it)

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["tf_square_resize", "tfds_examples", "tfds_image_spec", "tfds_images", "tfds_load"]

logger = logging.getLogger(__name__)

#: Files the TFDS ``celeb_a`` builder (tensorflow-datasets 4.9.x) downloads from Google Drive,
#: with the names its checksum file registers (TFDS checks their size and sha256).
_CELEBA_FILES = (
    "img_align_celeba.zip",
    "list_eval_partition.txt",
    "list_attr_celeba.txt",
    "list_landmarks_align_celeba.txt",
    "identity_CelebA.txt",
)


def tfds_load(name: str, split: str, data_dir: Optional[str], *, shuffle: bool,
               seed: Optional[int], download: Optional[bool]):
    """``tfds.load`` without download first; on a missing dataset download or fail fast."""
    import tensorflow_datasets as tfds

    # tfds reads TFDS_DATA_DIR once, when it is imported; read it here so that setting the
    # variable later (a notebook, ``--data-dir``) still counts.
    data_dir = str(Path(data_dir).expanduser()) if data_dir else os.environ.get("TFDS_DATA_DIR") or None
    kwargs = dict(split=split, data_dir=data_dir, shuffle_files=shuffle, with_info=True,
                  read_config=tfds.ReadConfig(shuffle_seed=seed, try_autocache=False))
    try:
        return tfds.load(name, download=False, **kwargs)
    except tfds.core.DatasetNotFoundError:
        raise DataError(_unknown_name_message(name)) from None
    except AssertionError:  # tfds 4.9: "Dataset <name>: could not find data in <data_dir>"
        pass
    except ValueError as err:
        if "split" in str(err).lower():
            raise DataError(f"TFDS '{name}': {err} Set data.split (or pass split=).") from None
        raise

    if download is False or (download is None and not network_reachable()):
        reason = (" and download=False" if download is False else
                  " and cannot be downloaded: no network (or env GANZOO_OFFLINE=1)")
        raise DataError(_missing_message(name, data_dir, reason))
    logger.info("TFDS '%s' is not prepared in %s: downloading and preparing it", name, _searched(data_dir))
    try:
        return tfds.load(name, download=True, **kwargs)
    except Exception as err:  # noqa: BLE001 - any download failure gets the manual instructions
        raise DataError(f"downloading TFDS '{name}' failed: {type(err).__name__}: {err}\n\n"
                        + _missing_message(name, data_dir, "")) from err


def _searched(data_dir: Optional[str]) -> str:
    return data_dir or str(Path("~/tensorflow_datasets").expanduser()) + " (the default; TFDS_DATA_DIR is not set)"


def _unknown_name_message(name: str) -> str:
    import tensorflow_datasets as tfds

    base = name.split(":")[0].split("/")[0]
    close = difflib.get_close_matches(base, tfds.list_builders(), n=5, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return (f"'{name}' is not a TensorFlow Datasets name.{hint} Set data.name to a TFDS dataset "
            "(see tfds.list_builders()), or use a local folder of images with data.source: folder "
            "and data.path.")


def _missing_message(name: str, data_dir: Optional[str], reason: str) -> str:
    base = name.split(":")[0].split("/")[0]
    text = (
        f"TFDS dataset '{name}' is not prepared in {_searched(data_dir)}{reason}. To provide it:\n"
        f"  * on a machine with internet, run `tfds build {base} --data_dir DIR` (or call "
        f"ganzoo.load_dataset(..., download=True) there once), copy DIR, which then holds "
        f"{base}/<version>/, to this machine, and point ganzoo at it: set TFDS_DATA_DIR=DIR, pass "
        "data_dir=DIR, or use `--data-dir DIR` on the command line;\n"
        "  * or train on a local folder of images instead: data.source: folder, data.path: FOLDER."
    )
    if base == "celeb_a":
        text += "\n\n" + _celeba_instructions(data_dir)
    return text


def _celeba_instructions(data_dir: Optional[str]) -> str:
    root = data_dir or "~/tensorflow_datasets"
    manual = f"{root}/downloads/manual"
    files = "\n".join(f"      {f}" for f in _CELEBA_FILES)
    return (
        "CelebA: the TFDS celeb_a builder downloads its files from Google Drive, which usually fails "
        "(download quota exceeded, or an HTML virus-scan page instead of the file, reported as a "
        "NonMatchingChecksumError). Place the files by hand instead:\n"
        "  1. get the original files from the CelebA page "
        "(https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, Google Drive or Baidu folders "
        "Img/, Eval/ and Anno/):\n"
        f"{files}\n"
        f"  2. put them, unmodified and with exactly these names, in {manual}/ "
        "(TFDS checks each file's size and sha256 against its registered checksums, so re-packed "
        "copies such as Kaggle's CSV files are rejected);\n"
        f"  3. run `tfds build celeb_a --data_dir {root}` (or pass --manual_dir FOLDER if the files "
        "are elsewhere). It reads the files from there instead of Google Drive and writes "
        f"{root}/celeb_a/2.1.0/.\n"
        "Or, for an unconditional model, unzip img_align_celeba.zip and use the folder source: "
        "data.source: folder, data.path: .../img_align_celeba, data.crop: 140."
    )


def tf_square_resize(image, size: int, channels: int, crop: Optional[int]):
    """uint8 (h, w, c) -> center square (``crop`` or the short side) -> uint8 (size, size, channels)."""
    import tensorflow as tf

    height, width, in_channels = image.shape
    if height is not None and width is not None:  # static: plain ints, nothing to trace
        side = min(height, width, crop or max(height, width))
        top, left = (height - side) // 2, (width - side) // 2
    else:
        shape = tf.shape(image)
        side = tf.minimum(shape[0], shape[1])
        if crop:
            side = tf.minimum(side, crop)
        top, left = (shape[0] - side) // 2, (shape[1] - side) // 2
    if not (isinstance(side, int) and side == height == width):
        image = tf.image.crop_to_bounding_box(image, top, left, side, side)

    convert = in_channels != channels
    if not convert and isinstance(side, int) and side == size:
        return image  # already the right size and channels: leave the bytes untouched
    image = tf.cast(image, tf.float32)
    if convert and channels == 1:
        image = tf.image.rgb_to_grayscale(image)  # before resizing: a third of the work
    if not (isinstance(side, int) and side == size):
        image = tf.image.resize(image, (size, size), method="bilinear", antialias=True)
    if convert and channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
    return tf.ensure_shape(image, (size, size, channels))


def tfds_image_spec(ds: "tf.data.Dataset", name: str, image_key: str, hint: str = ""):
    """``(element spec, sorted feature names, image feature spec)`` of a loaded TFDS split; a
    :class:`DataError` unless ``image_key`` is a uint8 image feature of shape (h, w, 1 or 3).
    ``hint`` is added to the message about a missing feature."""
    import tensorflow as tf

    spec = ds.element_spec
    features = sorted(spec) if isinstance(spec, dict) else []
    if image_key not in features:
        raise DataError(f"TFDS '{name}' has no image feature '{image_key}' (features: "
                        f"{', '.join(features)}); set data.image_key{hint}")
    image_spec = spec[image_key]
    if image_spec.dtype != tf.uint8 or image_spec.shape.rank != 3 or image_spec.shape[-1] not in (1, 3):
        raise DataError(f"TFDS '{name}' feature '{image_key}' is {image_spec.dtype.name} "
                        f"{image_spec.shape}; ganzoo expects uint8 images of shape (height, width, 1 or 3)")
    return spec, features, image_spec


def tfds_examples(config: Config, split: str, data_dir: Optional[str], shuffle: bool,
                  with_labels: bool, seed: Optional[int], limit: Optional[int],
                  download: Optional[bool]):
    """(dataset of uint8 images or (image, label) pairs, number of examples or None) of
    ``data.source: tfds``: each image squared and resized to ``image_size - 2 * pad``."""
    import tensorflow as tf

    data = config.data
    ds, info = tfds_load(data.name, split, data_dir, shuffle=shuffle and limit is None,
                         seed=seed, download=download)
    spec, features, image_spec = tfds_image_spec(ds, data.name, data.image_key)
    height, width, _ = image_spec.shape
    if data.crop is not None and height is not None and width is not None and data.crop > min(height, width):
        raise DataError(f"data.crop={data.crop} is larger than the {width}x{height} images of "
                        f"'{data.name}'; use a crop of at most {min(height, width)} or none")
    if with_labels:
        _check_labels(config, spec, features, info)

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


def _check_labels(config: Config, spec: dict, features: list, info) -> None:
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


def tfds_images(config: Config, split: str, data_dir, shuffle, seed, limit, download, channels: int = 3):
    """uint8 images (``channels``: 3 RGB, 1 grey) of a TFDS split at full size, and their number
    (None if unknown): the input of the image-to-image pipelines."""
    import tensorflow as tf

    data = config.data
    ds, _ = tfds_load(data.name, split, data_dir, shuffle=shuffle and limit is None, seed=seed,
                      download=download)
    tfds_image_spec(ds, data.name, data.image_key, " (div2k: hr)")
    if limit is not None:
        ds = ds.take(limit)
    ds = ds.map(lambda ex: _with_channels(ex[data.image_key], channels), num_parallel_calls=tf.data.AUTOTUNE)
    count = int(ds.cardinality())
    return ds, (count if count >= 0 else None)


def _with_channels(image, channels: int = 3):
    """uint8 (h, w, 1 or 3) -> (h, w, ``channels``)."""
    import tensorflow as tf

    if image.shape[-1] == channels:
        return image
    if channels == 3:
        return tf.image.grayscale_to_rgb(image)
    grey = tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))
    return tf.cast(tf.clip_by_value(tf.round(grey), 0.0, 255.0), tf.uint8)
