"""``load_dataset``: a zoo entry in, its batched training data out.

It reads the entry's ``data:`` section and asks the model registry what the class trains on:
image pairs go to :mod:`ganzoo.data.pairs`; otherwise the source (:mod:`ganzoo.data.tfds`,
:mod:`ganzoo.data.folder`, :mod:`ganzoo.data.digits`) gives uint8 examples and
:mod:`ganzoo.data.pipeline` pads, shuffles, batches and scales them. The conventions are
described in :mod:`ganzoo.data`.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Optional, Union

from ganzoo.config import Config
from ganzoo.data.digits import uci_digits_examples
from ganzoo.data.errors import DataError
from ganzoo.data.folder import folder_examples
from ganzoo.data.pairs import load_image_to_image_dataset
from ganzoo.data.pipeline import batch_pipeline, check_sizes, pad_example
from ganzoo.data.tfds import tfds_examples
from ganzoo.model_registry import model_class, model_class_info
from ganzoo.registry import get_config

if TYPE_CHECKING:  # TensorFlow is imported on first use, not with the module.
    import tensorflow as tf

__all__ = ["load_dataset"]


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
    if model_class_info(config.model.cls).image_to_image:  # (LR, HR) or (A, B) pairs: ganzoo/data/pairs.py
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
    check_sizes(batch_size, limit)

    if data.source == "folder":
        examples, count = folder_examples(config, with_labels, limit)
        cache = False  # already a numpy array in memory
        where = f"the folder {data.path}"
    elif data.source == "uci_digits":
        examples, count = uci_digits_examples(config, split or data.split, with_labels, limit)
        cache = False  # a numpy array in memory
        where = f"the UCI digits' split '{split or data.split}'"
    else:
        examples, count = tfds_examples(config, split or data.split, data_dir, shuffle,
                                        with_labels, seed, limit, download)
        cache = data.cache
        where = f"TFDS '{data.name}' split '{split or data.split}'"
    if data.pad:  # a black border (e.g. MNIST 28 -> 32 for networks that double from 4x4)
        examples = examples.map(functools.partial(pad_example, pad=data.pad))
    if drop_remainder and not repeat and count is not None and 0 <= count < batch_size:
        raise DataError(f"{where} has only {count} examples, fewer than one batch of {batch_size}, "
                        "so every batch would be dropped; lower the batch size (train.batch_size / "
                        "batch_size=) or pass drop_remainder=False")
    return batch_pipeline(examples, batch_size=batch_size, shuffle=shuffle,
                          shuffle_buffer=data.shuffle_buffer, seed=seed, repeat=repeat,
                          drop_remainder=drop_remainder, cache=cache)


def _resolve_config(name_or_config: Union[str, Config]) -> Config:
    if isinstance(name_or_config, Config):
        return name_or_config
    return get_config(name_or_config)
