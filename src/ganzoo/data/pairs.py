"""Input pipelines of the image-to-image entries (``ganzoo.load_dataset`` dispatches here).

* **Super-resolution** (SRGAN): batches of ``(lr, hr)`` pairs. ``hr`` is a random
  ``image_size`` x ``image_size`` crop of a high-resolution image (TFDS ``div2k``'s ``hr``
  feature, or any folder of photos), ``lr`` its bicubic downscale by ``data.scale``
  (:func:`ganzoo.images.bicubic_downscale`: antialiased, rounded to uint8 like a real LR file), as in Ledig et al. 2017. Images smaller
  than the crop are skipped for TFDS and refused with the file names for a folder. With
  ``data.channels: 1`` the images are grey (``srgan_mnist``: the whole 28x28 digit is the HR
  crop, its 7x7 downscale the LR input).
* **Unpaired translation** (CycleGAN): batches of ``(a, b)``, one image of each domain, from
  TFDS ``cycle_gan/<name>`` (splits ``trainA``/``trainB``; ``data.split: test`` reads
  ``testA``/``testB``), two folders (``data.path_a``, ``data.path_b``), or, with
  ``data.source: uci_digits``, the TFDS dataset ``data.name`` (split ``data.split``; MNIST) as
  domain A and the UCI digits (:mod:`ganzoo.data.digits`, same split name, framed by ``data.pad_b``
  and ``data.resize_b``) as domain B. Each image is
  squared (center crop) and resized to ``data.load_size``, then randomly cropped to
  ``image_size`` and flipped (Zhu et al. 2017's jitter). An epoch is as long as the larger
  domain; the smaller one repeats, as in the reference code.

Both yield float32 images in [-1, 1] with static shapes (CycleGAN: ``data.channels`` 1 or 3;
SRGAN: RGB); randomness is seeded
(``train.seed``) and differs from epoch to epoch.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from ganzoo.config import Config
from ganzoo.data.digits import load_uci_domain_b
from ganzoo.data.errors import DataError, few_paths
from ganzoo.data.folder import check_readable, list_images, read_folder, read_image_file
from ganzoo.data.pipeline import batch_to_float, check_sizes
from ganzoo.data.tfds import tf_square_resize, tfds_images
from ganzoo.images import bicubic_downscale  # the SR degradation (evaluation uses it too)
from ganzoo.model_registry import model_class_info

__all__ = ["load_image_to_image_dataset"]

logger = logging.getLogger(__name__)


def load_image_to_image_dataset(config: Config, split: Optional[str] = None, data_dir: Optional[str] = None,
                                batch_size: Optional[int] = None, shuffle: bool = True, repeat: bool = False,
                                drop_remainder: bool = True, seed: Optional[int] = None,
                                limit: Optional[int] = None, download: Optional[bool] = None):
    """``(lr, hr)`` batches for SRGAN, ``(a, b)`` batches for CycleGAN (arguments as in
    :func:`ganzoo.data.load_dataset`)."""
    data = config.data
    batch_size = config.train.batch_size if batch_size is None else batch_size
    seed = config.train.seed if seed is None else seed
    limit = data.limit if limit is None else limit
    split = split or data.split
    check_sizes(batch_size, limit)
    opts = dict(data_dir=data_dir, shuffle=shuffle, seed=seed, limit=limit, download=download)
    if model_class_info(config.model.cls).data_kind == "paired_lr_hr":
        ds, count, where = _super_resolution_pairs(config, split, repeat=repeat, **opts)
    else:
        ds, count, where = _unpaired_pairs(config, split, repeat=repeat, **opts)
    if drop_remainder and not repeat and count is not None and count < batch_size:
        raise DataError(f"{where} gives only {count} examples per epoch, fewer than one batch of {batch_size}; "
                        "lower the batch size (train.batch_size / batch_size=) or pass drop_remainder=False")
    return batch_to_float(ds, batch_size, drop_remainder=drop_remainder, pairs=True)


def _with_seeds(ds, seed):
    """Zip each example with a fresh stateless seed pair, different on every pass over ``ds``."""
    import tensorflow as tf

    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((ds, seeds))


def _random_crop_flip(image, size: int, seed, flip: bool):
    import tensorflow as tf

    crop = tf.image.stateless_random_crop(image, (size, size, image.shape[-1]), seed=seed)
    if flip:
        crop = tf.image.stateless_random_flip_left_right(crop, seed=seed[::-1])
    return crop


# ====================================================================== super-resolution

def _super_resolution_pairs(config: Config, split, *, data_dir, shuffle, seed, limit, download, repeat):
    import tensorflow as tf

    data = config.data
    hr_size, scale = data.image_size, data.scale
    if data.source == "folder":
        images, count = _folder_full_images(Path(data.path), hr_size, limit, data.cache, data.channels)
        where = f"the folder {data.path}"
    else:
        images, count = tfds_images(config, split, data_dir, shuffle, seed, limit, download, config.data.channels)
        # Unlike a folder (refused with file names), a TFDS split cannot be listed cheaply:
        # too-small examples are skipped. DIV2K's are all >= 1356 px.
        images = images.filter(lambda im: tf.reduce_min(tf.shape(im)[:2]) >= hr_size)
        count = None
        if data.cache:
            images = images.cache()
        where = f"TFDS '{data.name}' split '{split}'"
    if shuffle:
        images = images.shuffle(min(data.shuffle_buffer, 256), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        images = images.repeat()
    k = data.crops_per_image
    if k > 1:  # several crops of each decoded (large) image, mixed by a shuffle buffer
        images = images.flat_map(lambda im: tf.data.Dataset.from_tensors(im).repeat(k))

    def pair(image, seed_pair):
        hr = _random_crop_flip(image, hr_size, seed_pair, data.flip)
        return bicubic_downscale(hr, scale), hr

    pairs = _with_seeds(images, seed).map(pair, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle and k > 1:
        pairs = pairs.shuffle(8 * k, seed=seed, reshuffle_each_iteration=True)
    return pairs, (None if count is None else count * k), where


def _folder_full_images(root: Path, min_side: int, limit: Optional[int], cache: bool, channels: int = 3):
    """Full-size uint8 images (``channels``: 3 RGB, 1 grayscale) of a folder (decoded once to
    check them; kept in memory when ``cache``, else decoded again on every pass). Unreadable files are skipped with a warning;
    images smaller than ``min_side`` are refused."""
    import tensorflow as tf

    root = root.expanduser()
    if not root.is_dir():
        raise DataError(f"the image folder {root} does not exist or is not a folder; set data.path "
                        "(or --data-path) to a folder of high-resolution images")
    paths = list_images(root)
    if not paths:
        raise DataError(f"{root} holds no image files; put images there or fix data.path")
    if limit is not None:
        paths = paths[:limit]
    kept, arrays, unreadable, small = [], [], [], []
    for path in paths:
        try:
            array = read_image_file(path, channels)
        except DataError:
            unreadable.append(path)
            continue
        if min(array.shape[:2]) < min_side:
            small.append(f"{path.relative_to(root)} ({array.shape[1]}x{array.shape[0]})")
            continue
        kept.append(path)
        if cache:
            arrays.append(array)
    if unreadable:
        logger.warning("skipped %d unreadable image files in %s: %s", len(unreadable), root, few_paths(unreadable, root))
    if small:
        raise DataError(f"{len(small)} of the images in {root} are smaller than the {min_side}px "
                        f"high-resolution crop (data.image_size): {few_paths(small)}; remove them, or "
                        f"lower data.image_size (a multiple of data.scale)")
    if not kept:
        raise DataError(f"none of the {len(paths)} image files in {root} could be read "
                        f"(e.g. {few_paths(unreadable, root)}); check that they are valid images")

    def generate():
        if cache:
            yield from arrays
        else:
            for path in kept:
                yield read_image_file(path, channels)

    ds = tf.data.Dataset.from_generator(generate, output_signature=tf.TensorSpec((None, None, channels), tf.uint8))
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(kept)))
    return ds, len(kept)


# ====================================================================== unpaired translation

def _unpaired_pairs(config: Config, split, *, data_dir, shuffle, seed, limit, download, repeat):
    import tensorflow as tf

    data = config.data
    load = data.load_size or data.image_size
    domains = []
    for index, letter in enumerate("AB"):
        if data.source == "uci_digits" and letter == "B":
            array, _ = load_uci_domain_b(config, split, load, limit=limit)  # data.pad_b / data.resize_b
            ds, count, cache = tf.data.Dataset.from_tensor_slices(array), len(array), False
        elif data.source == "folder":
            path = (data.path_a, data.path_b)[index] or str(Path(data.path) / f"{split}{letter}")
            report, array, _ = read_folder(Path(path), image_size=load, channels=data.channels, limit=limit)
            check_readable(report)
            ds, count, cache = tf.data.Dataset.from_tensor_slices(array), len(array), False
        else:
            # uci_digits: domain A is the whole TFDS dataset (MNIST), not a cycle_gan/* trainA split.
            tfds_split = split if data.source == "uci_digits" else f"{split}{letter}"
            ds, count = tfds_images(config, tfds_split, data_dir, shuffle, seed, limit, download, data.channels)
            ds = ds.map(lambda im: tf_square_resize(im, load, data.channels, None),
                        num_parallel_calls=tf.data.AUTOTUNE)
            cache = data.cache
            if count == 0:
                raise DataError(f"TFDS '{data.name}' split '{tfds_split}' is empty")
        if cache:
            ds = ds.cache()
        if shuffle:
            ds = ds.shuffle(min(data.shuffle_buffer, max(count or 1, 1)), seed=seed + index,
                            reshuffle_each_iteration=True)
        ds = _with_seeds(ds.repeat(), seed + 7919 * (index + 1))
        ds = ds.map(lambda im, s: _random_crop_flip(im, data.image_size, s, data.flip),
                    num_parallel_calls=tf.data.AUTOTUNE)
        domains.append((ds, count))
    pairs = tf.data.Dataset.zip((domains[0][0], domains[1][0]))
    counts = [c for _, c in domains]
    if repeat:
        return pairs, None, "the two domains"
    if None in counts:
        raise DataError(f"the sizes of the splits of TFDS '{data.name}' are unknown; pass repeat=True and "
                        "steps_per_epoch to fit")
    epoch = max(counts)
    where = (f"the folders {data.path_a or data.path}, {data.path_b or data.path}" if data.source == "folder"
             else f"TFDS '{data.name}' split '{split}' and the UCI digits" if data.source == "uci_digits"
             else f"TFDS '{data.name}' splits '{split}A'/'{split}B'")
    return pairs.take(epoch), epoch, where
