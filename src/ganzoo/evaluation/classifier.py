"""Domain classifiers: a small CNN trained on the dataset itself judges generated images.

Inception-V3 was trained on ImageNet photographs and is a poor judge of 28x28 digits, so
for MNIST-like data ganzoo measures quality in the feature space of a classifier trained
on the dataset's train split (Frechet classifier distance, classifier score, predicted-class
coverage, label accuracy of conditional models).

* MNIST (28x28x1): the classifier ships with ganzoo (``ganzoo/pretrained/mnist_classifier.keras``
  and its metadata ``mnist_classifier.json``: test accuracy, training recipe, sha256), so
  every user gets identical numbers offline. ``scripts/train_mnist_classifier.py``
  regenerates it with :func:`train_classifier`. Entries that pad MNIST to 32x32
  (``data.pad: 2``) use it too: the border is cut off first.
* Any other labelled dataset: trained once on first use and cached under
  ``$GANZOO_CACHE_DIR/classifiers/`` (default ``~/.cache/ganzoo``), keyed by dataset and
  resolution.

Input convention is ganzoo's: float images in [-1, 1], shaped like the entry's images.
The penultimate layer is named ``features``; the last layer ``logits``.

The functions here take a :class:`~ganzoo.evaluation.real.RealData` (the images to train on)
or a data description (``ganzoo.config.DataConfig`` fields, to choose a shipped or cached
file); ``ganzoo.zoo_eval.load_classifier(entry_or_config)`` / ``train_classifier(...)`` join them
to the registry and the data loaders.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ganzoo.evaluation import legacy
from ganzoo.evaluation.features import FeatureExtractor
from ganzoo.evaluation.paths import cache_dir, data_description, dataset_key, sha256_file
from ganzoo.evaluation.real import RealData

__all__ = [
    "DomainClassifier",
    "build_classifier",
    "train_classifier",
    "save_classifier",
    "load_classifier",
    "classifier_path",
    "PRETRAINED_CLASSIFIERS",
    "DEFAULT_RECIPE",
]

logger = logging.getLogger(__name__)

PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"

#: dataset key -> file stem in ganzoo/pretrained/ of the classifiers that ship with ganzoo.
PRETRAINED_CLASSIFIERS = {"tfds-mnist-28x28x1": "mnist_classifier"}

#: How the shipped classifier was trained (and the default for cached ones).
DEFAULT_RECIPE = {
    "epochs": 4,
    "batch_size": 128,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "seed": 0,
    "augment": "random shift of up to 2 pixels",
}


def build_classifier(image_shape: tuple, num_classes: int, width: int = 32, feature_dim: int = 128,
                     dropout: float = 0.3, name: str = "domain_classifier"):
    """Conv(w)-pool-Conv(2w)-pool-Conv(2w, valid)-pool-flatten-Dense(``features``, ReLU)-Dropout-
    Dense(``logits``); ReLU everywhere, no normalisation layer (inference = training behaviour).

    About 90k parameters for MNIST (w=32; 28 -> 14 -> 7 -> 5 -> 2x2x64 before the dense
    layers): small enough to ship (~0.4 MB), >99% test accuracy after a few CPU minutes.
    """
    import keras  # noqa: PLC0415
    from keras import layers  # noqa: PLC0415

    inputs = keras.Input(shape=tuple(image_shape), name="image")
    x = layers.Conv2D(width, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(2 * width, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Conv2D(2 * width, 3, padding="valid", activation="relu", name="conv3")(x)
    x = layers.MaxPooling2D(name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    features = layers.Dense(feature_dim, activation="relu", name="features")(x)
    x = layers.Dropout(dropout, name="dropout")(features)
    logits = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name=name)


# ====================================================================== training

def dataset_num_classes(config, data_dir: Optional[str] = None) -> int:
    """Deprecated here: ``ganzoo.zoo_eval.dataset_num_classes`` (a :class:`RealData` has ``num_classes()``)."""
    return legacy.forward("dataset_num_classes", "ganzoo.evaluation.classifier.dataset_num_classes")(config, data_dir)


def train_classifier(data="cgan_mnist", *, epochs: int = DEFAULT_RECIPE["epochs"],
                     batch_size: int = DEFAULT_RECIPE["batch_size"],
                     learning_rate: float = DEFAULT_RECIPE["learning_rate"], seed: int = DEFAULT_RECIPE["seed"],
                     max_shift: int = 2, train_split: str = "train", test_split: Optional[str] = "test",
                     steps_per_epoch: Optional[int] = None, data_dir: Optional[str] = None, verbose="auto"):
    """Train a domain classifier on a dataset's train split; return ``(keras model, metadata)``.

    Args:
        data: the labelled images, a :class:`~ganzoo.evaluation.real.RealData`
            (``ganzoo.zoo_eval.real_data(entry)``; an entry name or config here is the
            deprecated form of ``ganzoo.zoo_eval.train_classifier``).
        epochs, batch_size, learning_rate, seed: the recipe (Adam, cross-entropy on logits).
        max_shift: training-time random shift in pixels (robustness to imperfect samples).
        train_split / test_split: splits of ``data``; the test accuracy goes into the metadata
            (None or a missing split: not measured).
        steps_per_epoch: cut epochs short (tests).
    """
    if not isinstance(data, RealData):
        return legacy.forward("train_classifier", "ganzoo.evaluation.classifier.train_classifier")(
            data, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed, max_shift=max_shift,
            train_split=train_split, test_split=test_split, steps_per_epoch=steps_per_epoch, data_dir=data_dir,
            verbose=verbose)
    if data_dir is not None:
        raise TypeError("train_classifier(RealData, data_dir=...): the RealData already knows where its images are")
    import keras  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    num_classes = data.num_classes()
    image_shape = tuple(data.image_shape)
    keras.utils.set_random_seed(seed)
    train_ds = data.dataset(train_split, batch_size=batch_size, shuffle=True, with_labels=True, seed=seed,
                            drop_remainder=False, repeat=steps_per_epoch is not None)
    if max_shift:
        # Per-image random shifts of whole pixels; the border is the background (-1).
        shift = keras.layers.RandomTranslation(max_shift / image_shape[0], max_shift / image_shape[1],
                                               fill_mode="constant", fill_value=-1.0, interpolation="nearest",
                                               seed=seed)
        train_ds = train_ds.map(lambda x, y: (shift(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)

    model = build_classifier(image_shape, num_classes)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    start = time.time()
    # shuffle=False: load_dataset already shuffles (Keras would only warn that it ignores it).
    history = model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=verbose, shuffle=False)
    seconds = time.time() - start

    test_accuracy, test_examples = None, None
    if test_split:
        try:
            test_ds = data.dataset(test_split, batch_size=500, shuffle=False, with_labels=True, drop_remainder=False)
        except data.unavailable as err:
            logger.warning("no test accuracy for the classifier: %s", err)
        else:
            correct = total = 0
            for images, labels in test_ds:
                pred = np.argmax(keras.ops.convert_to_numpy(model(images.numpy(), training=False)), axis=1)
                correct += int(np.sum(pred == labels.numpy()))
                total += len(pred)
            test_accuracy, test_examples = correct / total, total

    metadata = {
        "dataset": data.key,
        "tfds_name": data.tfds_name,
        "train_split": train_split,
        "test_split": test_split if test_accuracy is not None else None,
        "test_accuracy": test_accuracy,
        "test_examples": test_examples,
        "final_train_accuracy": float(history.history["accuracy"][-1]),
        "num_classes": num_classes,
        "input": f"float32 images in [-1, 1], shape {list(image_shape)}",
        "feature_layer": "features",
        "feature_dim": int(model.get_layer("features").units),
        "parameters": int(model.count_params()),
        "recipe": {"epochs": epochs, "steps_per_epoch": steps_per_epoch, "batch_size": batch_size,
                   "optimizer": "adam", "learning_rate": learning_rate, "seed": seed,
                   "loss": "sparse categorical cross-entropy on logits",
                   "augment": f"random shift of up to {max_shift} pixels" if max_shift else "none",
                   "architecture": "conv32-pool-conv64-pool-conv64valid-pool-flatten-dense128(features)-dropout0.3-dense(logits)"},
        "train_seconds": round(seconds, 1),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }
    return model, metadata


def save_classifier(model, metadata: dict, path: Union[str, Path]) -> dict:
    """Write ``path`` (.keras) and its metadata ``path.with_suffix('.json')`` (with the sha256 of
    the .keras file); return the metadata as written."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"a classifier is saved as a .keras file, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    import keras  # noqa: PLC0415

    # An uncompiled model over the same layers: the file holds architecture and weights, not
    # the optimizer's moments (3x smaller).
    bare = keras.Model(model.inputs, model.outputs[0], name=model.name)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    bare.save(tmp)
    tmp.replace(path)
    metadata = {**metadata, "file": path.name, "sha256": sha256_file(path)}
    path.with_suffix(".json").write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata


# ====================================================================== loading

class DomainClassifier(FeatureExtractor):
    """A trained classifier as a feature extractor: ``features`` layer + softmax of ``logits``.

    ``name`` carries the dataset key and the file's sha256 prefix, so reference statistics
    computed with one classifier are never reused with another.
    """

    def __init__(self, model, metadata: Optional[dict] = None, path: Optional[Path] = None, pad: int = 0):
        import keras  # noqa: PLC0415

        self.classifier = model
        self.metadata = dict(metadata or {})
        self.path = None if path is None else Path(path)
        self.pad = int(pad)
        logits = model.outputs[0]
        self.model = keras.Model(model.inputs, [model.get_layer("features").output, logits],
                                 name=f"{model.name}_features")
        self.num_classes = int(logits.shape[-1])
        h, w, c = (int(d) for d in model.inputs[0].shape[1:])
        self.image_shape = (h + 2 * self.pad, w + 2 * self.pad, c)
        sha = self.metadata.get("sha256") or "unsaved"
        self.name = f"classifier-{self.metadata.get('dataset', 'custom')}-{sha[:12]}"
        if self.pad:
            self.name += f"-unpad{self.pad}"

    def with_pad(self, pad: int) -> "DomainClassifier":
        """The same classifier for images with a ``pad``-pixel border (``data.pad``): the border
        is cut off before classifying, so padded MNIST is judged by the MNIST classifier."""
        return self if pad == self.pad else DomainClassifier(self.classifier, self.metadata, self.path, pad)

    def preprocess(self, images):
        """Crop the ``data.pad`` border off padded images so the classifier sees the size it was trained on."""
        if not self.pad:
            return images
        p = self.pad
        return images[:, p:-p, p:-p, :]

    def check_images(self, image_shape) -> None:
        """Raise ValueError unless images of ``image_shape`` (H, W, C) fit this classifier."""
        if tuple(image_shape) != self.image_shape:
            raise ValueError(f"the domain classifier {self.name} takes images of shape {self.image_shape}, "
                             f"got {tuple(image_shape)}")

    def describe(self) -> dict:
        """The extractor's description plus the classifier's provenance (accuracy, split, sha256, file), for ``eval.json``."""
        keep = ("test_accuracy", "train_split", "sha256", "file")
        return {**super().describe(), **{k: self.metadata.get(k) for k in keep},
                "num_classes": self.num_classes, "feature_layer": "features"}

    @property
    def spec(self) -> str:
        """What :func:`load_classifier` needs to load this classifier again (a serialisable string)."""
        if self.path is None:
            raise ValueError("this classifier was never saved: save_classifier() it first")
        spec = self.path.stem if self.path.parent == PRETRAINED_DIR else str(self.path)
        return f"{spec}@pad{self.pad}" if self.pad else spec


def _description(data):
    """The data description (DataConfig fields) of a RealData, a config or a description; None if unknown."""
    if isinstance(data, RealData):
        return data.description
    return data_description(data)


def _shipped_with_pad(data) -> tuple[Optional[str], int]:
    """(shipped classifier name, border to cut) for a dataset a shipped classifier can judge."""
    key = dataset_key(data)
    if key in PRETRAINED_CLASSIFIERS:
        return PRETRAINED_CLASSIFIERS[key], 0
    description = _description(data)
    pad = getattr(description, "pad", 0)
    if pad:
        inner = dataclasses.replace(description, image_size=description.image_size - 2 * pad, pad=0)
        if dataset_key(inner) in PRETRAINED_CLASSIFIERS:
            return PRETRAINED_CLASSIFIERS[dataset_key(inner)], pad
    return None, 0


def _entry_name(data) -> bool:
    """A string that names neither a shipped classifier nor a file: a zoo entry (the deprecated form)."""
    return isinstance(data, str) and data not in PRETRAINED_CLASSIFIERS.values() and not data.endswith(".keras")


def classifier_path(data, cache: Optional[Union[str, Path]] = None) -> Path:
    """Where the classifier of a dataset (a :class:`RealData` or a data description) lives: the
    shipped file, or the cache."""
    if _entry_name(data):
        return legacy.forward("classifier_path", "ganzoo.evaluation.classifier.classifier_path")(data, cache)
    shipped, _ = _shipped_with_pad(data)
    if shipped:
        return PRETRAINED_DIR / f"{shipped}.keras"
    return cache_dir(cache) / "classifiers" / f"{dataset_key(data)}.keras"


def _load_file(path: Path) -> DomainClassifier:
    import keras  # noqa: PLC0415

    meta_path = path.with_suffix(".json")
    metadata = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    expected = metadata.get("sha256")
    if expected and sha256_file(path) != expected:
        raise ValueError(f"{path} does not match the sha256 in {meta_path.name}: the file is corrupt or was "
                         "replaced without its metadata; regenerate both (scripts/train_mnist_classifier.py "
                         "for MNIST) or delete them to retrain")
    return DomainClassifier(keras.saving.load_model(path, compile=False), metadata, path)


_LOADED: dict = {}


def load_classifier(data=None, *, cache: Optional[Union[str, Path]] = None, train: bool = True,
                    data_dir: Optional[str] = None, recipe: Optional[dict] = None, verbose="auto") -> DomainClassifier:
    """The domain classifier of a dataset (default: the shipped MNIST one).

    ``data``: a shipped classifier's name (``"mnist_classifier"``), the path of a ``.keras``
    file, a :class:`~ganzoo.evaluation.real.RealData` (its classifier is trained on it when
    missing) or a data description (a ``Config`` / ``DataConfig``: finds the shipped or cached
    file). A missing cached classifier is trained with :data:`DEFAULT_RECIPE` and saved
    (``train=False`` raises FileNotFoundError instead; ``recipe`` overrides arguments of
    :func:`train_classifier`). An entry name, or a description whose classifier must be trained
    first, is the deprecated form of ``ganzoo.zoo_eval.load_classifier``. Loaded classifiers are
    memoised per file.
    """
    if data is None:
        data = PRETRAINED_CLASSIFIERS["tfds-mnist-28x28x1"]
    pad = 0
    if isinstance(data, str) and "@pad" in data:  # a spec written by DomainClassifier.spec
        data, _, pad_text = data.rpartition("@pad")
        pad = int(pad_text)
    if _entry_name(data):
        return legacy.forward("load_classifier", "ganzoo.evaluation.classifier.load_classifier")(
            data, cache=cache, train=train, data_dir=data_dir, recipe=recipe, verbose=verbose)
    if isinstance(data, str) and data in PRETRAINED_CLASSIFIERS.values():
        path = PRETRAINED_DIR / f"{data}.keras"
    elif isinstance(data, str):
        path = Path(data).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"classifier file '{data}' does not exist")
    else:
        pad = _shipped_with_pad(data)[1]
        path = classifier_path(data, cache)
    if not path.is_file():
        if path.parent == PRETRAINED_DIR:
            raise FileNotFoundError(f"the shipped classifier {path} is missing from the installation; "
                                    "regenerate it with `python scripts/train_mnist_classifier.py`")
        if not train:
            raise FileNotFoundError(f"no domain classifier cached at {path}")
        if not isinstance(data, RealData):  # a description: the images to train on come from the data loaders
            return legacy.forward("load_classifier", "ganzoo.evaluation.classifier.load_classifier")(
                data, cache=cache, train=train, data_dir=data_dir, recipe=recipe, verbose=verbose)
        logger.warning("training a domain classifier for %s (cached at %s)", data.key, path)
        model, metadata = train_classifier(data, verbose=verbose, **(recipe or {}))
        save_classifier(model, metadata, path)
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _LOADED:
        _LOADED[key] = _load_file(path)
    return _LOADED[key].with_pad(pad)
