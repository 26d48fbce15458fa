"""How well a CycleGAN between MNIST and the UCI digits (``cyclegan_mnist2uci``) translates.

The judge is the MNIST classifier that ships with ganzoo (99.12% on MNIST test). Three numbers:

* **the domain gap** (:func:`plain_resize_baselines`, no model needed): the classifier's accuracy on
  the UCI test digits resized from their 8x8 grid by a plain interpolation (bilinear, bicubic,
  area), filling the frame and inside MNIST's 20x20 box with a 4-pixel border; the best of them is
  what translation must beat;
* **translation** (``uci_accuracy_translated``): its accuracy on the same UCI test digits, framed
  as the entry's domain B was in training (``data.pad_b``, ``data.resize_b``, read through
  :func:`ganzoo.data.digits.load_uci_domain_b`), after the B -> A generator;
  ``uci_accuracy_untranslated`` is the same digits without the generator (one of the baselines
  when the framing is one of theirs);
* **the cycle** (``cycle_class_kept``): MNIST test digits translated to UCI and back, the share still
  classified as their label (``mnist_accuracy``, the originals' share, is the ceiling).

Images are judged at 28x28; larger entries (32 px) are centre-cropped to 28.

The functions here take the digits as arrays (:func:`translation_scores`,
:func:`resize_baseline_scores`); :func:`ganzoo.zoo_eval.digit_translation_scores` and
:func:`ganzoo.zoo_eval.plain_resize_baselines` read them from the entry's data and call them.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ganzoo.evaluation import legacy

__all__ = ["BASELINE_METHODS", "digit_translation_scores", "plain_resize_baselines", "translation_scores",
           "resize_baseline_scores", "predict_digits", "MNIST_BOX_PAD", "CLASSIFIER_SIZE"]

#: Interpolations of the plain-resize baselines.
BASELINE_METHODS = ("bilinear", "bicubic", "area")
#: MNIST's digits sit in a 20x20 box with a 4-pixel border.
MNIST_BOX_PAD = 4
CLASSIFIER_SIZE = 28


def _classifier(classifier):
    from ganzoo.evaluation.classifier import load_classifier  # noqa: PLC0415

    return load_classifier("mnist_classifier") if classifier is None else classifier


def _to_float(images) -> np.ndarray:
    images = np.asarray(images)
    return images.astype(np.float32) / 127.5 - 1.0 if images.dtype == np.uint8 else images.astype(np.float32)


def predict_digits(classifier, images, batch_size: int = 500) -> np.ndarray:
    """Predicted classes of float [-1, 1] (or uint8) images (n, s, s, 1 or 3), s >= 28: centre-cropped to 28, grey."""
    images = _to_float(images)
    if images.shape[-1] == 3:
        images = images.mean(axis=-1, keepdims=True)
    size = images.shape[1]
    if size < CLASSIFIER_SIZE or images.shape[2] != size:
        raise ValueError(f"the MNIST classifier judges 28x28 digits; got images of {images.shape[1:3]}")
    if size > CLASSIFIER_SIZE:
        top = (size - CLASSIFIER_SIZE) // 2
        images = images[:, top:top + CLASSIFIER_SIZE, top:top + CLASSIFIER_SIZE]
    net = getattr(classifier, "classifier", classifier)
    logits = np.concatenate([np.asarray(net(images[i:i + batch_size], training=False))
                             for i in range(0, len(images), batch_size)])
    return logits.argmax(axis=-1)


def plain_resize_baselines(classifier=None, split: str = "test", limit: Optional[int] = None) -> dict:
    """Deprecated here: :func:`ganzoo.zoo_eval.plain_resize_baselines` (it reads the UCI digits)."""
    return legacy.forward("plain_resize_baselines", "ganzoo.evaluation.digit_translation.plain_resize_baselines")(
        classifier, split, limit)


def resize_baseline_scores(resized: dict, classifier=None) -> dict:
    """The classifier's accuracy on digits resized without a model: ``resized`` maps a name
    (``"<method>_<framing>"``, see :data:`BASELINE_METHODS`) to ``(images, labels)``; returns
    ``{name: accuracy, ..., "best": acc, "best_method": name}``."""
    classifier = _classifier(classifier)
    scores = {name: float(np.mean(predict_digits(classifier, images) == labels))
              for name, (images, labels) in resized.items()}
    best = max(scores, key=scores.get)
    return {**scores, "best": scores[best], "best_method": best}


def _translate(generator, images, batch_size: int = 500) -> np.ndarray:
    images = _to_float(images)
    return np.concatenate([np.clip(np.asarray(generator(images[i:i + batch_size], training=False)), -1.0, 1.0)
                           for i in range(0, len(images), batch_size)])


def translation_scores(model, uci, uci_labels, mnist, mnist_labels, classifier=None) -> dict:
    """The translation measurement of an MNIST (A) <-> UCI digits (B) CycleGAN on arrays.

    Args:
        model: a :class:`~ganzoo.models.cyclegan.CycleGAN` (A = MNIST, B = UCI digits).
        uci, uci_labels: UCI test digits framed as the model's domain B, and their classes.
        mnist, mnist_labels: MNIST test digits (domain A) and their classes.
        classifier: default the shipped ``mnist_classifier``.

    Returns:
        ``{"uci_accuracy_translated", "uci_accuracy_untranslated", "cycle_class_kept",
        "mnist_accuracy", "uci_test_digits", "mnist_test_digits"}``.
    """
    classifier = _classifier(classifier)
    translated = _translate(model.generator_ba, uci)
    cycled = _translate(model.generator_ba, _translate(model.generator_ab, mnist))
    return {
        "uci_accuracy_translated": float(np.mean(predict_digits(classifier, translated) == uci_labels)),
        "uci_accuracy_untranslated": float(np.mean(predict_digits(classifier, uci) == uci_labels)),
        "cycle_class_kept": float(np.mean(predict_digits(classifier, cycled) == mnist_labels)),
        "mnist_accuracy": float(np.mean(predict_digits(classifier, mnist) == mnist_labels)),
        "uci_test_digits": int(len(uci)),
        "mnist_test_digits": int(len(mnist)),
    }


def digit_translation_scores(model, config=None, classifier=None, n_mnist: int = 10_000,
                             n_uci: Optional[int] = None, data_dir: Optional[str] = None,
                             baselines: bool = True) -> dict:
    """Deprecated here: :func:`ganzoo.zoo_eval.digit_translation_scores` (it reads the entry's data)."""
    return legacy.forward("digit_translation_scores", "ganzoo.evaluation.digit_translation.digit_translation_scores")(
        model, config, classifier=classifier, n_mnist=n_mnist, n_uci=n_uci, data_dir=data_dir, baselines=baselines)
