"""Evaluation of generated images.

* ``stats``: the pure NumPy/SciPy math (FD, KID, IS, precision/recall, coverage), imported here.
* ``fid_inception``, ``fid_weights``, ``fid_extractor``: the standard FID/KID/IS network (the
  2015 Inception graph as pytorch-fid ported it) in Keras, its weights (found offline,
  checked, converted from the ``.pth`` without PyTorch) and its protocol (uint8, resize,
  normalisation); ``resize``: the reference tools' resize functions; ``torch_file``: reading a
  ``.pth`` without PyTorch.
* ``features``: the extractor base and Keras' ImageNet InceptionV3 (``--inception keras``).
* ``classifier``: domain classifiers (shipped for MNIST) for FCD, classifier score,
  coverage and label accuracy.
* ``reference``: cached reference statistics of a dataset split.
* ``keras_metrics``: the metrics as ``keras.metrics.Metric`` for ``fit(validation_data=...)``.
* ``real``: :class:`RealData`, the real images evaluation compares with (``ArrayData`` for arrays).
* ``evaluate``: ``ganzoo.evaluation.evaluate.evaluate(model_or_source, metrics, n, data=real)``
  (a module, so the function is not re-exported under the same name).
* ``sr_metrics``, ``sr_digits``, ``digit_translation``: super-resolution and digit-translation scores.

Nothing here reads a config, the registry or the data loaders: :mod:`ganzoo.zoo_eval` joins
these functions to a zoo entry (``ganzoo.zoo_eval.evaluate(model)``, behind ``ganzoo eval``).

The TensorFlow-backed names below are imported on first use, so ``import ganzoo.evaluation``
stays light.
"""

import importlib

from ganzoo.evaluation.stats import (
    activation_statistics,
    class_coverage,
    classifier_score,
    frechet_distance,
    frechet_distance_from_activations,
    inception_score,
    kernel_inception_distance,
    label_accuracy,
    precision_recall,
)

_LAZY = {
    "InceptionExtractor": "ganzoo.evaluation.features",
    "InceptionWeightsError": "ganzoo.evaluation.features",
    "FIDInceptionExtractor": "ganzoo.evaluation.fid_extractor",
    "FIDWeightsError": "ganzoo.evaluation.fid_weights",
    "convert_pth": "ganzoo.evaluation.fid_weights",
    "DomainClassifier": "ganzoo.evaluation.classifier",
    "load_classifier": "ganzoo.evaluation.classifier",
    "train_classifier": "ganzoo.evaluation.classifier",
    "reference_statistics": "ganzoo.evaluation.reference",
    "RealData": "ganzoo.evaluation.real",
    "ArrayData": "ganzoo.evaluation.real",
}

__all__ = [
    "activation_statistics",
    "frechet_distance",
    "frechet_distance_from_activations",
    "kernel_inception_distance",
    "inception_score",
    "classifier_score",
    "precision_recall",
    "class_coverage",
    "label_accuracy",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ganzoo.evaluation' has no attribute '{name}'")
