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
* ``uci_digits``: the UCI handwritten digits that scikit-learn ships (:mod:`ganzoo.data.digits`;
  splits ``train`` and ``test``, labels 0-9).
* ``folder``: any folder of image files (searched recursively), decoded once with Pillow.
  :func:`scan_folder` reports what is in a folder (unreadable files, modes, sizes,
  duplicates, classes) without building a dataset.

Image-to-image entries (SRGAN's ``(lr, hr)`` pairs, CycleGAN's unpaired ``(a, b)``) get their
batches from :mod:`ganzoo.data.pairs`; ``load_dataset`` dispatches there by what the model class
declares in the model registry.

The modules, each about one thing (data flows one way, down this list; none imports the
package's ``__init__``):

* :mod:`~ganzoo.data.loader`: :func:`load_dataset`, the dispatch.
* :mod:`~ganzoo.data.pairs`: the image-to-image pipelines (the SR degradation is
  :func:`ganzoo.images.bicubic_downscale`).
* :mod:`~ganzoo.data.tfds`: :func:`tfds_load` (no surprise downloads; the offline probe is
  :func:`ganzoo.network.network_reachable`).
* :mod:`~ganzoo.data.folder`: image folders and files (:func:`read_folder`, :func:`scan_folder`,
  :func:`read_image_file`, :class:`FolderReport`).
* :mod:`~ganzoo.data.digits`: the UCI digits (:func:`load_uci_digits`).
* :mod:`~ganzoo.data.pipeline`: the shared tail (shuffle, repeat, batch, scale to [-1, 1]).
* :mod:`~ganzoo.data.errors`: :class:`DataError`.
"""


from ganzoo.data.digits import UCI_DIGITS_SPLITS, load_uci_digits, load_uci_domain_b, uci_digit_grids
from ganzoo.data.errors import DataError, few_paths
from ganzoo.data.folder import (IMAGE_EXTENSIONS, FolderReport, list_images, pil_convert, read_folder, read_image_file,
                                scan_folder)
from ganzoo.data.loader import load_dataset
from ganzoo.data.pairs import load_image_to_image_dataset
from ganzoo.data.tfds import tf_square_resize, tfds_load

__all__ = ["DataError", "FolderReport", "IMAGE_EXTENSIONS", "UCI_DIGITS_SPLITS", "few_paths",
           "list_images", "load_dataset", "load_image_to_image_dataset", "load_uci_digits", "load_uci_domain_b",
           "pil_convert", "read_folder", "read_image_file", "scan_folder", "tf_square_resize",
           "tfds_load", "uci_digit_grids"]
