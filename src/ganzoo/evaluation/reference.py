"""Reference statistics of a real dataset split, computed once and cached.

FID/FCD compare generated images with the Gaussian fitted to a dataset split's features;
KID and precision/recall need the features themselves. Running an extractor over a whole
split (60,000 MNIST images, or 50,000 CIFAR-10 images through Inception at 299x299) is
the slow part of an evaluation, so the result is stored as an ``.npz`` under
``$GANZOO_CACHE_DIR/reference/`` (default ``~/.cache/ganzoo``), in a file keyed by
everything that changes it: dataset (source, name, crop, resolution, channels), split,
feature extractor (with its weights' identity) and the number of images::

    tfds-mnist-28x28x1-train-classifier-tfds-mnist-28x28x1-3f2a9c...-nall.npz

The file holds ``mu`` and ``sigma`` (float64, over all images), ``count``, and up to
``keep`` feature rows (float32, a fixed random subset) for KID and precision/recall.

The dataset is a :class:`~ganzoo.evaluation.real.RealData`; ``ganzoo.zoo_eval.reference_statistics``
takes a zoo entry's config instead.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ganzoo.evaluation import legacy, stats
from ganzoo.evaluation.features import FeatureExtractor
from ganzoo.evaluation.paths import cache_dir, dataset_key, safe_name
from ganzoo.evaluation.real import RealData

__all__ = ["reference_statistics", "reference_path", "real_batches", "DEFAULT_KEEP"]

logger = logging.getLogger(__name__)

#: Feature rows kept in a reference file for KID / precision-recall.
DEFAULT_KEEP = 10000


def reference_path(data, split: str, extractor: FeatureExtractor, n: Optional[int] = None,
                   cache: Optional[Union[str, Path]] = None) -> Path:
    """The cache file of the reference statistics of ``data``'s ``split`` under ``extractor``
    (keyed by dataset, split, extractor and image count); ``data``: a :class:`RealData` or a
    data description (see :func:`~ganzoo.evaluation.paths.dataset_key`).
    """
    key = f"{dataset_key(data)}-{safe_name(split)}-{safe_name(extractor.name)}-n{n if n else 'all'}"
    return cache_dir(cache) / "reference" / f"{key}.npz"


def real_batches(data, split: str, n: Optional[int] = None, batch_size: int = 200,
                 data_dir: Optional[str] = None, with_labels: bool = False):
    """The first ``n`` images (all if None) of a split of a :class:`RealData` in file order, float
    [-1, 1] numpy batches (``(images, labels)`` pairs with ``with_labels``). A config here is the
    deprecated form of ``ganzoo.zoo_eval.real_batches``."""
    if not isinstance(data, RealData):
        return legacy.forward("real_batches", "ganzoo.evaluation.reference.real_batches")(
            data, split, n, batch_size, data_dir, with_labels)
    if data_dir is not None:
        raise TypeError("real_batches(RealData, data_dir=...): the RealData already knows where its images are")
    return data.batches(split, n, batch_size, with_labels=with_labels)


def reference_statistics(data, extractor: FeatureExtractor, split: str = "train",
                         n: Optional[int] = None, *, keep: int = DEFAULT_KEEP, batch_size: int = 200,
                         data_dir: Optional[str] = None, cache: Optional[Union[str, Path]] = None,
                         refresh: bool = False) -> dict:
    """``{"mu", "sigma", "features", "count", "path", "cached"}`` of the first ``n`` images (all by
    default) of ``split``, read from the cache or computed and written there.

    ``data`` is a :class:`RealData` (a config here is the deprecated form of
    ``ganzoo.zoo_eval.reference_statistics``). ``features`` is a random subset (seed 0) of at most
    ``keep`` rows. Extractors that are not reproducible (``extractor.cacheable`` False, e.g. random
    Inception weights) are never cached.
    """
    if not isinstance(data, RealData):
        return legacy.forward("reference_statistics", "ganzoo.evaluation.reference.reference_statistics")(
            data, extractor, split, n, keep=keep, batch_size=batch_size, data_dir=data_dir, cache=cache,
            refresh=refresh)
    if data_dir is not None:
        raise TypeError("reference_statistics(RealData, data_dir=...): the RealData already knows where its images are")
    path = reference_path(data, split, extractor, n, cache)
    if extractor.cacheable and not refresh and path.is_file():
        with np.load(path) as f:
            stored = {k: f[k] for k in f.files}
        count = int(stored["count"])
        if len(stored["features"]) >= min(keep, count):
            logger.info("reference statistics from %s", path)
            features = stored["features"][:keep]
            return {"mu": stored["mu"], "sigma": stored["sigma"], "features": features, "count": count,
                    "path": str(path), "cached": True}

    features, _ = extractor.predict(data.batches(split, n, batch_size))
    mu, sigma = stats.activation_statistics(features)
    count = len(features)
    if count > keep:
        rows = np.sort(np.random.default_rng(0).choice(count, keep, replace=False))
        kept = features[rows]
    else:
        kept = features
    kept = kept.astype(np.float32)
    result = {"mu": mu, "sigma": sigma, "features": kept, "count": count, "path": None, "cached": False}
    if extractor.cacheable:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.savez(f, mu=mu, sigma=sigma, features=kept, count=np.int64(count),
                     extractor=np.str_(extractor.name), dataset=np.str_(dataset_key(data)), split=np.str_(split))
        os.replace(tmp, path)
        result["path"] = str(path)
        logger.info("reference statistics written to %s", path)
    return result
