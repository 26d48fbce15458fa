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
"""

from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["BASELINE_METHODS", "digit_translation_scores", "plain_resize_baselines"]

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


def _predict(classifier, images, batch_size: int = 500) -> np.ndarray:
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
    """The classifier's accuracy on UCI digits resized without a model: ``{"<method>_full": acc,
    "<method>_box": acc, ..., "best": acc, "best_method": "<method>_<framing>"}``; ``full`` fills
    the 28x28 frame, ``box`` is MNIST's 20x20 box with a 4-pixel border."""
    from ganzoo.data.digits import load_uci_digits  # noqa: PLC0415

    classifier = _classifier(classifier)
    scores = {}
    for method in BASELINE_METHODS:
        for framing, pad in (("full", 0), ("box", MNIST_BOX_PAD)):
            images, labels = load_uci_digits(split, CLASSIFIER_SIZE, 1, pad=pad, method=method, limit=limit)
            scores[f"{method}_{framing}"] = float(np.mean(_predict(classifier, images) == labels))
    best = max(scores, key=scores.get)
    return {**scores, "best": scores[best], "best_method": best}


def _translate(generator, images, batch_size: int = 500) -> np.ndarray:
    images = _to_float(images)
    return np.concatenate([np.clip(np.asarray(generator(images[i:i + batch_size], training=False)), -1.0, 1.0)
                           for i in range(0, len(images), batch_size)])


def _mnist_test(config, n: int, data_dir: Optional[str]):
    """The first ``n`` MNIST test digits (float [-1, 1], as domain A of ``config``) and their labels."""
    import dataclasses  # noqa: PLC0415

    import ganzoo  # noqa: PLC0415

    data = dataclasses.replace(config.data, source="tfds", split="test", pad=0, crop=None, limit=None)
    latent = dataclasses.replace(config, model=config.model.replace(cls="ConditionalGAN", num_classes=10),
                                 data=data)
    images, labels = [], []
    for x, y in ganzoo.load_dataset(latent, batch_size=1000, shuffle=False, with_labels=True, drop_remainder=False,
                                    data_dir=data_dir, limit=n):
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def digit_translation_scores(model, config=None, classifier=None, n_mnist: int = 10_000,
                             n_uci: Optional[int] = None, data_dir: Optional[str] = None,
                             baselines: bool = True) -> dict:
    """The translation measurement of an MNIST (A) <-> UCI digits (B) CycleGAN.

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
    from ganzoo.config import Config  # noqa: PLC0415
    from ganzoo.data.digits import load_uci_domain_b, uci_domain_b_framing  # noqa: PLC0415

    if config is None:
        if not getattr(model, "zoo_config", None):
            raise ValueError("pass the model's zoo config (config=): the model does not carry one")
        config = Config.from_dict(model.zoo_config)
    data = config.data
    classifier = _classifier(classifier)
    uci, uci_labels = load_uci_domain_b(config, "test", limit=n_uci)  # as the model saw domain B in training
    translated = _translate(model.generator_ba, uci)
    mnist, mnist_labels = _mnist_test(config, n_mnist, data_dir)
    cycled = _translate(model.generator_ba, _translate(model.generator_ab, mnist))
    result = {
        "uci_accuracy_translated": float(np.mean(_predict(classifier, translated) == uci_labels)),
        "uci_accuracy_untranslated": float(np.mean(_predict(classifier, uci) == uci_labels)),
        "cycle_class_kept": float(np.mean(_predict(classifier, cycled) == mnist_labels)),
        "mnist_accuracy": float(np.mean(_predict(classifier, mnist) == mnist_labels)),
        "uci_test_digits": int(len(uci)),
        "mnist_test_digits": int(len(mnist)),
    }
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
