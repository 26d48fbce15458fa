"""Where evaluation artefacts live, and the names that key them.

Cached artefacts (reference statistics of a dataset split, domain classifiers trained for
datasets other than MNIST) go under one cache folder: env ``GANZOO_CACHE_DIR``, else
``~/.cache/ganzoo``. Every file name is built from a key that names everything that
changes its content, so a stale file is never read for a different protocol.

Nothing here imports TensorFlow, nor ganzoo's config: a data description is read by its
fields (those of ``ganzoo.config.DataConfig``).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Optional, Union

__all__ = ["cache_dir", "data_description", "dataset_key", "safe_name", "sha256_file"]

#: Environment variable naming the cache folder.
CACHE_ENV = "GANZOO_CACHE_DIR"


def cache_dir(override: Optional[Union[str, Path]] = None) -> Path:
    """The cache folder: ``override``, else env ``GANZOO_CACHE_DIR``, else ``~/.cache/ganzoo``."""
    path = override or os.environ.get(CACHE_ENV) or Path("~/.cache/ganzoo")
    return Path(path).expanduser()


def dataset_key(data) -> str:
    """A file-name-safe identity of what a dataset source yields: source, name (or folder),
    crop, the resolution images are resized to and any black border, e.g. ``tfds-mnist-28x28x1``,
    ``tfds-mnist-32x32x1-pad2`` or ``tfds-celeb_a-crop140-64x64x3``. The split is not part of it
    (keys add it).

    ``data``: a data description (the fields of ``ganzoo.config.DataConfig``: source, name, path,
    crop, limit, image_size, channels, pad), a config holding one as ``.data``, or a
    :class:`~ganzoo.evaluation.real.RealData` (its ``key``)."""
    key = getattr(data, "key", None)
    if isinstance(key, str):
        return key
    data = data_description(data)
    if data.source == "folder":
        folder = str(Path(data.path).expanduser().resolve()) if data.path else ""
        name = f"folder-{safe_name(Path(folder).name)}-{hashlib.sha1(folder.encode()).hexdigest()[:8]}"
    elif data.source == "uci_digits":
        name = "uci_digits"
    else:
        name = f"{data.source}-{safe_name(data.name)}"
    crop = f"-crop{data.crop}" if data.crop else ""
    limit = f"-first{data.limit}" if data.limit else ""
    pad = f"-pad{data.pad}" if getattr(data, "pad", 0) else ""
    return f"{name}{crop}{limit}-{data.image_size}x{data.image_size}x{data.channels}{pad}"


def data_description(data):
    """The data description in ``data``: itself when it has the fields of a ``DataConfig``
    (``image_size``, ``source``, ...), else its ``.data`` (a ``Config``); None for anything else."""
    if hasattr(data, "image_size") and hasattr(data, "source"):
        return data
    inner = getattr(data, "data", None)
    return inner if hasattr(inner, "image_size") else None


def safe_name(text: str) -> str:
    """``text`` with anything but letters, digits, ``._-`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("_") or "unnamed"


def sha256_file(path: Union[str, Path], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (identifies weights files in cache keys and metadata)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
