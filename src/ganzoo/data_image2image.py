"""Deprecated: the image-to-image pipelines moved to :mod:`ganzoo.data.pairs`, ``read_image_file``
to :mod:`ganzoo.data.folder` and ``bicubic_downscale`` to :mod:`ganzoo.images`; import from there
(or from :mod:`ganzoo.data`)."""

import warnings

from ganzoo.data.folder import read_image_file
from ganzoo.data.pairs import load_image_to_image_dataset
from ganzoo.images import bicubic_downscale

__all__ = ["bicubic_downscale", "load_image_to_image_dataset", "read_image_file"]

warnings.warn("ganzoo.data_image2image is deprecated and will be removed: import from ganzoo.data.pairs "
              "(load_image_to_image_dataset), ganzoo.data.folder (read_image_file) or ganzoo.images "
              "(bicubic_downscale)", DeprecationWarning, stacklevel=2)
