"""Deprecated: the image-to-image pipelines moved to :mod:`ganzoo.data.pairs` and
``read_image_file`` to :mod:`ganzoo.data.folder`; import from there (or from :mod:`ganzoo.data`)."""

import warnings

from ganzoo.data.folder import read_image_file
from ganzoo.data.pairs import bicubic_downscale, load_image_to_image_dataset

__all__ = ["bicubic_downscale", "load_image_to_image_dataset", "read_image_file"]

warnings.warn("ganzoo.data_image2image is deprecated and will be removed: import from ganzoo.data.pairs "
              "(bicubic_downscale, load_image_to_image_dataset) or ganzoo.data.folder (read_image_file)",
              DeprecationWarning, stacklevel=2)
