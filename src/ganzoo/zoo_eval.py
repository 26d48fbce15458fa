"""Evaluation of zoo entries: :mod:`ganzoo.evaluation` joined to configs, the registry and the data.

:mod:`ganzoo.evaluation` computes on arrays, datasets (:class:`~ganzoo.evaluation.real.RealData`)
and generators and never reads a config. This module is the join, one layer up beside
training: it turns an entry name, a YAML file or a :class:`~ganzoo.config.Config` into the real
data evaluation needs (:func:`real_data`, read through :func:`ganzoo.load_dataset`) and calls
the evaluation functions. ``ganzoo eval``, :class:`ganzoo.callbacks.EvaluationCallback` and
``scripts/train_pretrained.py`` use it::

    import ganzoo
    from ganzoo.zoo_eval import evaluate
    model = ganzoo.load("cgan_mnist")
    result = evaluate(model, ["fcd", "coverage", "label_accuracy"], n=10000)   # the model's own dataset
    floor = evaluate("real:mnist:test", ["fcd", "coverage"])                    # real images, the floor

The names here are those the 0.1 API had in :mod:`ganzoo.evaluation` (``evaluate``,
``load_classifier``, ``train_classifier``, ``reference_statistics``, ...) with their
signatures; called there with an entry or a config they still work, with a DeprecationWarning.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ganzoo.config import Config, DataConfig
from ganzoo.data import DataError, load_dataset, scan_folder
from ganzoo.evaluation import classifier as classifiers
from ganzoo.evaluation import digit_translation, reference, sr_digits
from ganzoo.evaluation import evaluate as evaluation
from ganzoo.evaluation.paths import dataset_key
from ganzoo.evaluation.real import RealData
from ganzoo.registry import get_config, list_models

__all__ = [
    "ZooData",
    "real_data",
    "model_config",
    "evaluate",
    "real_source",
    "parse_real_source",
    "real_batches",
    "reference_statistics",
    "load_classifier",
    "train_classifier",
    "classifier_path",
    "dataset_num_classes",
    "hr_evaluation_images",
    "labelled_test_images",
    "evaluate_digit_super_resolution",
    "plain_resize_baselines",
    "digit_translation_scores",
]


# ====================================================================== the data of an entry

def _as_config(data: Union[str, Config, DataConfig]) -> Config:
    """An entry name (or YAML path), Config or DataConfig -> a Config whose data section describes the dataset."""
    if isinstance(data, DataConfig):
        return Config(data=data)
    if isinstance(data, Config):
        return data
    return get_config(data)


class ZooData(RealData):
    """The real images of a zoo config's data section (TFDS, a folder, the UCI digits), read
    with :func:`ganzoo.load_dataset`."""

    unavailable = (DataError,)

    def __init__(self, config: Union[str, Config, DataConfig], data_dir: Optional[str] = None):
        self.config = _as_config(config)
        self.data_dir = data_dir
        data = self.config.data
        self.description = data
        self.key = dataset_key(data)
        self.name = data.name if data.source == "tfds" else data.path
        self.tfds_name = data.name if data.source == "tfds" else None
        self.image_shape = (data.image_size, data.image_size, data.channels)

    def dataset(self, split, *, batch_size, shuffle=False, with_labels=False, seed=None, drop_remainder=False,
                repeat=False, limit=None):
        return load_dataset(self.config, split=split, data_dir=self.data_dir, batch_size=batch_size, shuffle=shuffle,
                            with_labels=with_labels, seed=seed, drop_remainder=drop_remainder, repeat=repeat,
                            limit=limit)

    def batches(self, split, n=None, batch_size=200, with_labels=False):
        limits = [v for v in (n, self.config.data.limit) if v]
        ds = self.dataset(split, batch_size=batch_size, with_labels=with_labels, limit=min(limits) if limits else None)
        yield from ds.as_numpy_iterator()

    def _tfds_info(self):
        import tensorflow_datasets as tfds  # noqa: PLC0415

        data_dir = self.data_dir or os.environ.get("TFDS_DATA_DIR") or None
        return tfds.builder(self.config.data.name, data_dir=data_dir).info

    def has_labels(self) -> bool:
        data = self.config.data
        if data.source == "folder":
            return len(scan_folder(data.path).classes) > 1
        try:
            info = self._tfds_info()
        except Exception:  # noqa: BLE001 - unknown/unprepared: load_dataset reports it properly
            return False
        return data.label_key in info.features

    def num_classes(self) -> int:
        """Number of classes of the label feature (``config.model.get("num_classes")`` when set)."""
        config = self.config
        if config.model.get("num_classes"):
            return int(config.model.get("num_classes"))
        data = config.data
        if data.source == "folder":
            classes = scan_folder(data.path).classes
            if len(classes) < 2:
                raise ValueError(f"the folder {data.path} has no class subfolders: a domain classifier needs labels; "
                                 "use --metrics fid,kid,is instead")
            return len(classes)
        info = self._tfds_info()
        feature = info.features[data.label_key] if data.label_key in info.features else None
        num = getattr(feature, "num_classes", None)
        if not num:
            raise ValueError(f"TFDS '{data.name}' has no class label '{data.label_key}': domain-classifier metrics "
                             "(fcd, cs, coverage, label_accuracy) need a labelled dataset; use fid,kid,is")
        return int(num)

    def num_examples(self, split) -> Optional[int]:
        data = self.config.data
        if data.source != "tfds":
            return None
        try:
            count = int(self._tfds_info().splits[split].num_examples)
        except Exception:  # noqa: BLE001 - unknown/unprepared datasets, split expressions: count while reading
            return None
        return min(count, data.limit) if data.limit else count


def real_data(data: Union[str, Config, DataConfig, RealData], data_dir: Optional[str] = None) -> RealData:
    """The :class:`RealData` of an entry name, YAML path, Config or DataConfig (a RealData as it is)."""
    if isinstance(data, RealData):
        return data
    return ZooData(data, data_dir)


def model_config(model) -> Config:
    """The config a ganzoo model carries (``model.zoo_config``); ValueError when it has none."""
    zoo = getattr(model, "zoo_config", None)
    if not zoo:
        raise ValueError(f"the model '{model.name}' carries no ganzoo config, so its dataset is unknown; pass "
                         "config= (the entry it was trained as), or --config ENTRY on the command line")
    return Config.from_dict(zoo, origin=f"the zoo_config of model '{model.name}'")


def dataset_num_classes(config: Union[str, Config, DataConfig], data_dir: Optional[str] = None) -> int:
    """Number of classes of the dataset's label feature (``config.model.get("num_classes")`` when set)."""
    return ZooData(config, data_dir).num_classes()


# ====================================================================== classifiers

def train_classifier(data: Union[str, Config, DataConfig] = "cgan_mnist", *, data_dir: Optional[str] = None,
                     **recipe):
    """:func:`ganzoo.evaluation.classifier.train_classifier` on the train split of an entry's dataset
    (entry name, Config or DataConfig); ``recipe``: its keyword arguments. Returns ``(model, metadata)``."""
    return classifiers.train_classifier(real_data(data, data_dir), **recipe)


def load_classifier(data=None, *, cache=None, train: bool = True, data_dir: Optional[str] = None,
                    recipe: Optional[dict] = None, verbose="auto"):
    """The domain classifier of an entry's dataset (entry name, Config or DataConfig; default the
    shipped MNIST one), trained on it and cached when missing; a shipped name or ``.keras`` path
    as :func:`ganzoo.evaluation.classifier.load_classifier` takes them."""
    if data is None or (isinstance(data, str) and ("@pad" in data or data.endswith(".keras")
                                                    or data in classifiers.PRETRAINED_CLASSIFIERS.values())):
        return classifiers.load_classifier(data, cache=cache, train=train, recipe=recipe, verbose=verbose)
    return classifiers.load_classifier(real_data(data, data_dir), cache=cache, train=train, recipe=recipe,
                                       verbose=verbose)


def classifier_path(data: Union[str, Config, DataConfig], cache=None) -> Path:
    """Where the classifier of an entry's dataset lives: the shipped file, or the cache."""
    return classifiers.classifier_path(_as_config(data).data, cache)


# ====================================================================== reference statistics, sources

def real_batches(config: Union[str, Config], split: str, n: Optional[int] = None, batch_size: int = 200,
                 data_dir: Optional[str] = None, with_labels: bool = False):
    """The first ``n`` images (all if None) of a split of an entry's dataset in file order, float
    [-1, 1] numpy batches (``(images, labels)`` pairs with ``with_labels``)."""
    return real_data(config, data_dir).batches(split, n, batch_size, with_labels=with_labels)


def reference_statistics(config: Union[str, Config], extractor, split: str = "train", n: Optional[int] = None, *,
                         keep: int = reference.DEFAULT_KEEP, batch_size: int = 200, data_dir: Optional[str] = None,
                         cache=None, refresh: bool = False) -> dict:
    """:func:`ganzoo.evaluation.reference.reference_statistics` of a split of an entry's dataset."""
    return reference.reference_statistics(real_data(config, data_dir), extractor, split, n, keep=keep,
                                          batch_size=batch_size, cache=cache, refresh=refresh)


def real_source(config: Union[str, Config], split: str = "test", n: Optional[int] = None,
                data_dir: Optional[str] = None):
    """The first ``n`` (default all) images of a split of an entry's dataset, with their labels
    when it has them (an :class:`~ganzoo.evaluation.evaluate.ImageSource`)."""
    return evaluation.real_source(real_data(config, data_dir), split, n)


def parse_real_source(spec: str) -> tuple[Config, str]:
    """``real:DATASET_OR_ENTRY[:SPLIT]`` -> (config describing the dataset, split); DATASET may be a
    TFDS name (``mnist``: the resolution of its first zoo entry) or an entry (``dcgan_cifar10``)."""
    parts = spec.split(":")
    if parts[0] != "real" or len(parts) not in (2, 3) or not parts[1]:
        raise ValueError(f"a real-data source is real:DATASET[:SPLIT] (e.g. real:mnist:test), got '{spec}'")
    name, split = parts[1], (parts[2] if len(parts) == 3 and parts[2] else "test")
    if name in list_models() or name.endswith((".yaml", ".yml")):
        return get_config(name), split
    entries = [e for e in list_models() if get_config(e).data.name == name and get_config(e).data.source == "tfds"]
    if not entries:
        datasets = sorted({get_config(e).data.name for e in list_models()})
        raise ValueError(f"real:{name}: no zoo entry uses the dataset '{name}' (datasets: {', '.join(datasets)}); "
                         f"name an entry instead (real:ENTRY:SPLIT) to fix the resolution")
    return get_config(entries[0]), split


def evaluate(source, metrics=None, n: Optional[int] = None, *, config: Optional[Config] = None,
             data: Optional[RealData] = None, data_dir: Optional[str] = None, **kwargs) -> dict:
    """Evaluate a ganzoo model, an :class:`~ganzoo.evaluation.evaluate.ImageSource` or the real images
    ``"real:DATASET[:SPLIT]"`` against the dataset of ``config`` (default: the model's own
    ``zoo_config``; for real images, that dataset).

    ``data`` (a :class:`RealData`) replaces ``config``; ``data_dir`` is the TFDS folder; every
    other argument is :func:`ganzoo.evaluation.evaluate.evaluate`'s, which this calls.
    """
    if data is None and config is not None:
        data = real_data(config, data_dir)
    if isinstance(source, str):
        ref_config, split = parse_real_source(source)
        data = data or real_data(ref_config, data_dir)
        source = evaluation.real_source(data, split, n)
    elif isinstance(source, evaluation.ImageSource):
        data = data or source.data
        if data is None:
            raise ValueError(f"{source.description}: the source names no dataset to compare with; pass config=")
    else:
        data = data or real_data(model_config(source), data_dir)
    return evaluation.evaluate(source, metrics, n, data=data, **kwargs)


# ====================================================================== super-resolution

def hr_evaluation_images(config: Union[str, Config], split: str = "validation", limit: Optional[int] = 10,
                         data_dir: Optional[str] = None) -> list:
    """Full-size uint8 HR test images of an SR entry (RGB, or grey for ``data.channels: 1``): its
    TFDS dataset's ``split`` (div2k: 100 validation images) or, for a folder source, the folder's images;
    what :func:`ganzoo.evaluation.sr_metrics.super_resolution_scores` compares on."""
    from ganzoo.data.folder import list_images, read_image_file  # noqa: PLC0415
    from ganzoo.data.tfds import tfds_load  # noqa: PLC0415

    data = _as_config(config).data
    if data.source == "folder":
        return [read_image_file(p, data.channels) for p in list_images(Path(data.path))[:limit]]
    ds, _ = tfds_load(data.name, split, data_dir, shuffle=False, seed=None, download=None)
    if limit is not None:
        ds = ds.take(limit)
    images = []
    for example in ds:
        image = example[data.image_key].numpy()
        images.append(np.repeat(image, 3, axis=-1) if image.shape[-1] < data.channels else image)
    return images


def labelled_test_images(config: Union[str, Config], split: str = "test", limit: Optional[int] = None,
                         data_dir: Optional[str] = None) -> tuple:
    """``(hr, labels)``: uint8 ``(N, H, W, channels)`` images and int labels of the entry's TFDS
    dataset ``split`` (in the dataset's order; the first ``limit`` when given)."""
    from ganzoo.data.tfds import tfds_load  # noqa: PLC0415

    config = _as_config(config)
    data = config.data
    if data.source != "tfds":
        raise DataError(f"the digit SR evaluation reads a labelled TFDS split; '{config.name}' reads a folder")
    ds, _ = tfds_load(data.name, split, data_dir, shuffle=False, seed=None, download=None)
    if limit is not None:
        ds = ds.take(limit)
    images, labels = [], []
    for batch in ds.batch(1000):
        images.append(batch[data.image_key].numpy())
        labels.append(batch[data.label_key].numpy())
    if not images:
        raise DataError(f"TFDS '{data.name}' split '{split}' is empty")
    hr = np.concatenate(images)
    if hr.shape[-1] != data.channels:
        raise DataError(f"TFDS '{data.name}' has {hr.shape[-1]}-channel images, the entry data.channels: "
                        f"{data.channels}")
    return hr, np.concatenate(labels).astype(np.int64)


def evaluate_digit_super_resolution(model, config: Union[str, Config], split: str = "test",
                                    limit: Optional[int] = None, data_dir: Optional[str] = None,
                                    classifier="mnist_classifier") -> dict:
    """:func:`ganzoo.evaluation.sr_digits.digit_super_resolution_scores` on the entry's labelled
    ``split`` (default: all 10,000 MNIST test images), with the protocol recorded next to the numbers."""
    config = _as_config(config)
    hr, labels = labelled_test_images(config, split=split, limit=limit, data_dir=data_dir)
    if not hasattr(classifier, "check_images"):
        classifier = classifiers.load_classifier(classifier)
    scores = sr_digits.digit_super_resolution_scores(model, hr, labels, classifier)
    return {"metrics": scores,
            "protocol": sr_digits.digit_super_resolution_protocol(config.data.name, split, len(hr), int(model.scale),
                                                                   classifier)}


# ====================================================================== digit translation

def plain_resize_baselines(classifier=None, split: str = "test", limit: Optional[int] = None) -> dict:
    """The classifier's accuracy on UCI digits resized without a model: ``{"<method>_full": acc,
    "<method>_box": acc, ..., "best": acc, "best_method": "<method>_<framing>"}``; ``full`` fills
    the 28x28 frame, ``box`` is MNIST's 20x20 box with a 4-pixel border."""
    from ganzoo.data.digits import load_uci_digits  # noqa: PLC0415

    resized = {}
    for method in digit_translation.BASELINE_METHODS:
        for framing, pad in (("full", 0), ("box", digit_translation.MNIST_BOX_PAD)):
            resized[f"{method}_{framing}"] = load_uci_digits(split, digit_translation.CLASSIFIER_SIZE, 1, pad=pad,
                                                             method=method, limit=limit)
    return digit_translation.resize_baseline_scores(resized, classifier)


def _mnist_test(config: Config, n: int, data_dir: Optional[str]):
    """The first ``n`` MNIST test digits (float [-1, 1], as domain A of ``config``) and their labels."""
    data = dataclasses.replace(config.data, source="tfds", split="test", pad=0, crop=None, limit=None)
    latent = dataclasses.replace(config, model=config.model.replace(cls="ConditionalGAN", num_classes=10),
                                 data=data)
    images, labels = [], []
    for x, y in load_dataset(latent, batch_size=1000, shuffle=False, with_labels=True, drop_remainder=False,
                             data_dir=data_dir, limit=n):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def digit_translation_scores(model, config: Optional[Config] = None, classifier=None, n_mnist: int = 10_000,
                             n_uci: Optional[int] = None, data_dir: Optional[str] = None,
                             baselines: bool = True) -> dict:
    """The translation measurement of an MNIST (A) <-> UCI digits (B) CycleGAN
    (:mod:`ganzoo.evaluation.digit_translation`).

    Args:
        model: a :class:`~ganzoo.models.cyclegan.CycleGAN` (A = MNIST, B = UCI digits).
        config: its zoo config (default: the one saved in the model); fixes image size and channels.
        classifier: default the shipped ``mnist_classifier``.
        n_mnist: MNIST test digits for the cycle (10,000: the whole split).
        n_uci: UCI test digits (None: all 450).
        baselines: also measure :func:`plain_resize_baselines` (on the same UCI digits).

    Returns:
        ``{"uci_accuracy_translated", "uci_accuracy_untranslated" (the digits as the model gets them:
        its ``data.pad_b`` / ``data.resize_b`` framing),
        "cycle_class_kept", "mnist_accuracy", "baselines": {...}, "gain_over_best_resize", "protocol"}``.
    """
    from ganzoo.data.digits import load_uci_domain_b, uci_domain_b_framing  # noqa: PLC0415

    if config is None:
        if not getattr(model, "zoo_config", None):
            raise ValueError("pass the model's zoo config (config=): the model does not carry one")
        config = Config.from_dict(model.zoo_config)
    data = config.data
    classifier = classifiers.load_classifier("mnist_classifier") if classifier is None else classifier
    uci, uci_labels = load_uci_domain_b(config, "test", limit=n_uci)  # as the model saw domain B in training
    mnist, mnist_labels = _mnist_test(config, n_mnist, data_dir)
    result = digit_translation.translation_scores(model, uci, uci_labels, mnist, mnist_labels, classifier)
    if baselines:
        result["baselines"] = plain_resize_baselines(classifier, limit=n_uci)
        result["gain_over_best_resize"] = result["uci_accuracy_translated"] - result["baselines"]["best"]
    framing = uci_domain_b_framing(config)
    frame = (f"{framing['method']} into {data.image_size - 2 * framing['pad']}x{data.image_size - 2 * framing['pad']}"
             f" with a {framing['pad']}-pixel border" if framing["pad"] else f"{framing['method']}, full frame")
    result["protocol"] = (f"shipped mnist_classifier on 28x28 (centre crop); UCI test split of ganzoo.data_digits "
                          f"framed as the entry's domain B ({frame}, {data.image_size} px), translated by "
                          f"generator_ba; cycle: MNIST test digits through generator_ab then generator_ba, "
                          f"classified as their label")
    return result
