"""Feature extractors: images in [-1, 1] -> (features, class probabilities).

Three kinds judge generated images:

* :class:`ganzoo.evaluation.fid_extractor.FIDInceptionExtractor` (the default of FID, KID, IS
  and precision/recall): the 2015 Inception graph of the published tables, with its protocol
  (uint8 quantisation, the reference tools' resize and normalisation) written on every result.
* :class:`InceptionExtractor` (``--inception keras``): ``keras.applications.InceptionV3`` with
  Keras' ImageNet weights (``inception_v3_weights_tf_dim_ordering_tf_kernels.h5``), images
  resized bilinearly to 299x299 (no antialiasing), grayscale repeated to 3 channels, pixels
  in [-1, 1] as they are; pool3 is layer ``avg_pool``, IS the softmax of the 1000 logits
  (``predictions``). These are not the 2015 graph's weights, so its FID/KID/IS compare
  between ganzoo runs only, never with published numbers (its card says so).
* :class:`ganzoo.evaluation.classifier.DomainClassifier`: a small CNN trained on the
  dataset itself, for data where Inception is a poor judge (MNIST-like digits).

This module holds the base class (:class:`FeatureExtractor`: traced once per image shape on
TensorFlow and JAX, numpy in and out) and the Keras Inception.

An extractor is a plain Python object (not a Keras layer), so a Keras metric can hold
one without the extractor's weights being saved into every GAN checkpoint.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable, Optional, Union

import numpy as np

__all__ = [
    "FeatureExtractor",
    "InceptionExtractor",
    "InceptionWeightsError",
    "resolve_inception_weights",
    "INCEPTION_WEIGHTS_ENV",
]

#: Environment variable naming a local copy of the Inception-V3 ImageNet weights (.h5).
INCEPTION_WEIGHTS_ENV = "GANZOO_INCEPTION_WEIGHTS"

#: The files ``keras.applications.InceptionV3(weights="imagenet")`` downloads into
#: ``~/.keras/models/`` (name, URL, md5 that Keras checks), with and without the classifier top.
_KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
INCEPTION_FILES = {
    True: ("inception_v3_weights_tf_dim_ordering_tf_kernels.h5", "9a0d58056eeedaa3f26cb7ebd46da564"),
    False: ("inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5", "bcbd6486424b2319ff4ef7d526e38f63"),
}


class InceptionWeightsError(FileNotFoundError):
    """The Inception-V3 ImageNet weights are neither cached, nor given, nor downloadable."""


class FeatureExtractor:
    """Images (N, H, W, C) float in [-1, 1] -> ``(features (N, D), probs (N, K) or None)``.

    Subclasses set ``self.model``: a Keras model mapping the preprocessed images to
    ``[features, logits]`` (or ``[features]``), and implement :meth:`preprocess`.

    Attributes:
        name: identity of the extractor *and its weights*; reference statistics are cached
            under it, so two extractors with the same name must compute the same features.
        cacheable: False for extractors whose weights are not reproducible (random init).
    """

    name: str = "extractor"
    cacheable: bool = True
    model = None

    # ------------------------------------------------------------ graph-mode API
    def preprocess(self, images):
        """Turn float images in [-1, 1] into the network's input (identity here; subclasses resize, crop, ...)."""
        return images

    def __call__(self, images):
        """Backend tensors ``(features, probs-or-None)`` in keras.ops; traceable (used inside
        ``test_step``, on TensorFlow and on JAX)."""
        import keras  # noqa: PLC0415

        ops = keras.ops
        outputs = self.model(self.preprocess(ops.cast(images, "float32")), training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        features = ops.cast(outputs[0], "float32")
        probs = ops.softmax(ops.cast(outputs[1], "float32"), axis=-1) if len(outputs) > 1 else None
        return features, probs

    @property
    def has_probs(self) -> bool:
        """Whether the extractor also returns class probabilities (needed by IS, coverage, label accuracy)."""
        return len(self.model.outputs) > 1

    @property
    def feature_dim(self) -> int:
        """Size of the feature vectors (2048 for Inception pool3, 128 for the MNIST classifier)."""
        return int(self.model.outputs[0].shape[-1])

    # ------------------------------------------------------------ numpy API
    def _compiled(self, image_shape: tuple):
        """One traced function per image shape, for any batch size (tracing costs seconds).

        TensorFlow: a ``tf.function`` with a batch-polymorphic signature. JAX: ``jax.jit`` of the
        call as a pure function of the network's weights (a ``keras.StatelessScope``), so the
        weights are arguments, not constants folded into each compiled program; JAX compiles
        once per batch size (a run has one, plus its last partial batch)."""
        import keras  # noqa: PLC0415

        fns = self.__dict__.setdefault("_predict_fns", {})
        if image_shape not in fns:
            if keras.backend.backend() == "jax":
                fns[image_shape] = self._jax_function()
            else:
                import tensorflow as tf  # noqa: PLC0415

                fns[image_shape] = tf.function(self.__call__,
                                               input_signature=[tf.TensorSpec((None, *image_shape), tf.float32)])
        return fns[image_shape]

    def _jax_function(self):
        import jax  # noqa: PLC0415
        import keras  # noqa: PLC0415

        variables = list(self.model.variables)

        def pure(values, images):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return self(images)

        jitted = jax.jit(pure)
        return lambda images: jitted([v.value for v in variables], images)

    def predict_batch(self, images: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """One batch as numpy: ``(features float32, probs float32 or None)``."""
        images = np.asarray(images, np.float32)
        features, probs = self._compiled(tuple(images.shape[1:]))(images)
        return np.asarray(features), None if probs is None else np.asarray(probs)

    def predict(self, images: Union[np.ndarray, Iterable[np.ndarray]], batch_size: int = 100):
        """Features (and probabilities) of an array of images, or of an iterable of batches."""
        if isinstance(images, np.ndarray):
            batches = (images[i:i + batch_size] for i in range(0, len(images), batch_size))
        else:
            batches = images
        feats, probs = [], []
        for batch in batches:
            f, p = self.predict_batch(batch)
            feats.append(f)
            if p is not None:
                probs.append(p)
        if not feats:
            raise ValueError("no images to extract features from")
        return np.concatenate(feats), (np.concatenate(probs) if probs else None)

    def describe(self) -> dict:
        """JSON-ready description (name, feature size, probabilities) recorded in evaluation results."""
        return {"name": self.name, "feature_dim": self.feature_dim, "has_probs": self.has_probs}


# ====================================================================== Inception

def _keras_models_dirs() -> list[Path]:
    """Where ``keras.utils.get_file(cache_subdir="models")`` keeps downloads: ``$KERAS_HOME``
    (default ``~/.keras``), or ``/tmp/.keras`` when that is not writable."""
    from keras.src.backend import config as keras_config  # noqa: PLC0415

    home = Path(os.path.expanduser(keras_config.keras_home()))
    return [home / "models", Path("/tmp/.keras/models")]


def _offline() -> bool:
    from ganzoo.network import network_reachable  # noqa: PLC0415 (one probe, shared with TFDS)

    return not network_reachable()


def _md5(path: Path) -> str:
    digest = hashlib.md5()  # noqa: S324 - the checksum Keras publishes for these files
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _missing_weights_message(include_top: bool, searched: list[Path], reason: str) -> str:
    fname, md5 = INCEPTION_FILES[include_top]
    where = ", ".join(str(d / fname) for d in searched)
    need = "FID, KID, precision/recall and IS" if include_top else "FID, KID and precision/recall"
    return (
        f"the Inception-V3 ImageNet weights that {need} need are not available: no file at {where}, "
        f"no --inception-weights PATH and env {INCEPTION_WEIGHTS_ENV} is not set, {reason}. To provide them:\n"
        f"  * on a machine with internet, download {_KERAS_URL}{fname} (md5 {md5}) and copy it to "
        f"{searched[0]}/ here (where Keras looks), or\n"
        f"  * pass its path: `ganzoo eval ... --inception-weights PATH`, or set {INCEPTION_WEIGHTS_ENV}=PATH "
        f"(ganzoo.evaluation.InceptionExtractor(weights=PATH) in Python).\n"
        "For MNIST-like data use --metrics fcd,coverage instead: the domain classifier ships with ganzoo."
    )


def resolve_inception_weights(weights: Optional[str] = "imagenet", include_top: bool = True) -> Optional[str]:
    """What to pass to ``keras.applications.InceptionV3(weights=...)``, decided without any download
    attempt when the weights cannot be had.

    ``weights``: ``"imagenet"`` (a path in env ``GANZOO_INCEPTION_WEIGHTS``, else the file Keras
    caches in ``~/.keras/models/``, else a Keras download if the network is reachable and
    ``GANZOO_OFFLINE`` is not set), a path to an ``.h5`` file, or None (random weights, tests).
    Raises :class:`InceptionWeightsError` at once, with instructions, when none is available.
    """
    if weights is None:
        return None
    if weights != "imagenet":
        path = Path(weights).expanduser()
        if not path.is_file():
            raise InceptionWeightsError(f"--inception-weights: '{weights}' is not a file (expected the Keras "
                                        f"Inception-V3 ImageNet weights, {INCEPTION_FILES[True][0]})")
        return str(path)
    env = os.environ.get(INCEPTION_WEIGHTS_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise InceptionWeightsError(f"env {INCEPTION_WEIGHTS_ENV}={env} is not a file (expected the Keras "
                                        f"Inception-V3 ImageNet weights, {INCEPTION_FILES[True][0]})")
        return str(path)
    searched = _keras_models_dirs()
    for directory in searched:
        if (directory / INCEPTION_FILES[include_top][0]).is_file():
            return "imagenet"  # Keras finds it in its cache and does not download
    if _offline():
        raise InceptionWeightsError(_missing_weights_message(
            include_top, searched, "and they cannot be downloaded (no network, or env GANZOO_OFFLINE=1)"))
    return "imagenet"  # Keras downloads it into ~/.keras/models/ once


class InceptionExtractor(FeatureExtractor):
    """Inception-V3 pool3 features (2048-d) and ImageNet class probabilities.

    Args:
        weights: ``"imagenet"`` (see :func:`resolve_inception_weights`), a path to the Keras
            ``.h5`` weights, or None (random weights: for tests and throughput benchmarks).
        resize: side the images are resized to (299 is the protocol; >= 75 for tests).
        logits: also compute the 1000 ImageNet logits (needed for IS). The weights without
            the classifier top (``..._notop.h5``) suffice when False.
    """

    def __init__(self, weights: Optional[str] = "imagenet", resize: int = 299, logits: bool = True):
        import keras  # noqa: PLC0415

        if resize < 75:
            raise ValueError(f"InceptionV3 needs images of at least 75x75, got resize={resize}")
        self.resize = int(resize)
        self.weights_spec = weights
        try:
            resolved = resolve_inception_weights(weights, include_top=logits)
        except InceptionWeightsError:
            if logits:
                raise
            # Features only, but only the full file (with the classifier top) is cached: use it.
            resolved, logits = resolve_inception_weights(weights, include_top=True), True
        try:
            base = keras.applications.InceptionV3(
                include_top=logits, weights=resolved, input_shape=(self.resize, self.resize, 3),
                pooling=None if logits else "avg", classifier_activation=None)
        except ValueError as err:
            if resolved in (None, "imagenet"):
                raise
            raise InceptionWeightsError(
                f"{resolved} does not fit Keras' InceptionV3 {'with' if logits else 'without'} its classifier top "
                f"({err}). IS needs {INCEPTION_FILES[True][0]}; {INCEPTION_FILES[False][0]} serves FID, KID and "
                "precision/recall only") from None
        if logits:
            outputs = [base.get_layer("avg_pool").output, base.get_layer("predictions").output]
        else:
            outputs = [base.output]
        self.model = keras.Model(base.inputs, outputs, name="inception_v3_features")
        self.cacheable = resolved is not None
        self.name = f"inception_v3-{self._weights_tag(resolved, logits)}-pool3-{self.resize}px"

    @staticmethod
    def _weights_tag(resolved: Optional[str], logits: bool) -> str:
        if resolved is None:
            return "random"
        if resolved == "imagenet":
            return "imagenet"
        md5 = _md5(Path(resolved))
        return "imagenet" if md5 in {h for _, h in INCEPTION_FILES.values()} else f"file{md5[:12]}"

    def preprocess(self, images):
        """Resize bilinearly to ``resize`` x ``resize`` and repeat grayscale to three channels
        (``keras.ops.image.resize``: ``tf.image.resize`` on TensorFlow, ``jax.image`` on JAX)."""
        import keras  # noqa: PLC0415

        images = keras.ops.image.resize(images, (self.resize, self.resize), interpolation="bilinear",
                                        antialias=False, data_format="channels_last")
        if images.shape[-1] == 1:
            images = keras.ops.repeat(images, 3, axis=-1)
        return images

    def card(self) -> dict:
        """What the numbers depend on (printed with them): this network is not the FID standard."""
        return {"network": "Keras InceptionV3, ImageNet weights (comparable between ganzoo runs only, not with "
                           "published FID/IS)",
                "weights": self.name.split("-")[1], "standard_weights": False,
                "quantise": "none (float images)", "resize": f"bilinear to {self.resize}x{self.resize}",
                "normalise": "none (images in [-1, 1])"}

    def describe(self) -> dict:
        """The base description plus the Inception protocol (resize, grayscale handling, layers used)."""
        return {**super().describe(), "resize": f"bilinear to {self.resize}x{self.resize}",
                "grayscale": "repeated to 3 channels", "feature_layer": "avg_pool (pool3)",
                "logits_layer": "predictions" if self.has_probs else None}
