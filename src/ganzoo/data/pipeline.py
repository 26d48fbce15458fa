"""The tail every input pipeline shares: size checks, padding, shuffle/repeat, batching, [-1, 1].

Sources (:mod:`~ganzoo.data.tfds`, :mod:`~ganzoo.data.folder`, :mod:`~ganzoo.data.digits`,
:mod:`~ganzoo.data.pairs`) produce uint8 examples; the functions here turn them into the batched
float32 ``tf.data.Dataset`` a model trains on. TensorFlow is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ganzoo.data.errors import DataError

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["batch_pipeline", "batch_to_float", "check_sizes", "pad_example", "to_float"]


def check_sizes(batch_size: int, limit: Optional[int]) -> None:
    """Refuse a batch size below 1 and a ``limit`` below 1 (None: the whole split)."""
    if batch_size <= 0:
        raise DataError(f"batch_size must be > 0, got {batch_size}")
    if limit is not None and limit <= 0:
        raise DataError(f"limit must be > 0 (or None for the whole split), got {limit}")


def to_float(images, labels=None):
    """uint8 images -> float32 in [-1, 1] (``x / 127.5 - 1``); labels, if given, pass through."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32) / 127.5 - 1.0
    return images if labels is None else (images, labels)


def pad_example(image, labels=None, *, pad: int):
    """A black border of ``pad`` pixels around one uint8 (h, w, c) image; labels pass through."""
    import tensorflow as tf

    image = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    return image if labels is None else (image, labels)


def batch_to_float(ds: "tf.data.Dataset", batch_size: int, *, drop_remainder: bool,
                   pairs: bool = False) -> "tf.data.Dataset":
    """Batch uint8 examples, scale them to float [-1, 1] and prefetch. Elements are an image,
    an ``(image, label)`` tuple, or with ``pairs`` two images (both scaled)."""
    import tensorflow as tf

    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=tf.data.AUTOTUNE)
    scale = (lambda x, y: (to_float(x), to_float(y))) if pairs else to_float
    ds = ds.map(scale, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def batch_pipeline(examples: "tf.data.Dataset", *, batch_size: int, shuffle: bool,
                   shuffle_buffer: int, seed: Optional[int], repeat: bool,
                   drop_remainder: bool, cache: bool) -> "tf.data.Dataset":
    """uint8 examples (image or (image, label)) -> cached, shuffled, batched float [-1, 1]."""
    ds = examples
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return batch_to_float(ds, batch_size, drop_remainder=drop_remainder)
