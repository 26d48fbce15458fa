"""Super-resolution of digits judged by what matters for digits: can they still be read?

For an SR entry trained on MNIST (``srgan_mnist``: 7x7 -> 28x28) the HR test images are
downscaled by the entry's own degradation (:func:`ganzoo.images.bicubic_downscale`,
antialiased bicubic, rounded to uint8), then upscaled by the model and by plain bicubic
interpolation (:func:`ganzoo.evaluation.sr_metrics.bicubic_upscale`). Reported, each as the
mean over the images:

* PSNR and SSIM against the HR original, of the model and of bicubic, on the whole 28x28
  grey image (one channel, so no luma conversion; no border is shaved: the digits are whole
  images, not crops of a larger picture, and their strokes may reach the border);
* the accuracy of the shipped MNIST classifier (``load_classifier("mnist_classifier")``, the
  network behind FCD and label accuracy) on the SR outputs, on the bicubic upscales and on the
  HR originals (the ceiling). The classifier is never a training loss of an SR entry, so it is
  an independent judge.

Both upscales are rounded to uint8 before scoring, as a saved PNG would be.
:func:`digit_super_resolution_scores` takes the HR images and labels;
:func:`ganzoo.zoo_eval.evaluate_digit_super_resolution` reads them from an entry's test split::

    from ganzoo.zoo_eval import evaluate_digit_super_resolution
    scores = evaluate_digit_super_resolution(model, config, limit=1000)["metrics"]
    # {'psnr': ..., 'bicubic_psnr': ..., 'psnr_gain': ..., 'accuracy': ..., 'hr_accuracy': ..., ...}
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ganzoo.evaluation import legacy
from ganzoo.images import bicubic_downscale, to_uint8

__all__ = ["labelled_test_images", "digit_super_resolution_scores", "evaluate_digit_super_resolution",
           "digit_super_resolution_protocol", "SCORE_KEYS"]

#: The keys :func:`digit_super_resolution_scores` returns.
SCORE_KEYS = ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "psnr_gain", "accuracy", "bicubic_accuracy",
              "hr_accuracy", "images")


def labelled_test_images(config, split: str = "test", limit: Optional[int] = None,
                         data_dir: Optional[str] = None) -> tuple:
    """Deprecated here: :func:`ganzoo.zoo_eval.labelled_test_images` (it reads the entry's data)."""
    return legacy.forward("labelled_test_images", "ganzoo.evaluation.sr_digits.labelled_test_images")(
        config, split=split, limit=limit, data_dir=data_dir)


def _upscale(model, lr: np.ndarray, batch_size: int) -> np.ndarray:
    """uint8 LR batch -> uint8 SR batch, whole images (the model's call), ``batch_size`` at a time."""
    import keras

    out = []
    for start in range(0, len(lr), batch_size):
        x = lr[start:start + batch_size].astype(np.float32) / 127.5 - 1.0
        out.append(to_uint8(keras.ops.convert_to_numpy(model(x, training=False))))
    return np.concatenate(out)


def _accuracy(classifier, images: np.ndarray, labels: np.ndarray, batch_size: int) -> float:
    import keras

    classifier.check_images(images.shape[1:])
    correct = 0
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].astype(np.float32) / 127.5 - 1.0
        logits = keras.ops.convert_to_numpy(classifier.model([classifier.preprocess(x)], training=False)[1])
        correct += int(np.sum(np.argmax(logits, axis=-1) == labels[start:start + batch_size]))
    return correct / len(images)


def digit_super_resolution_scores(model, hr, labels, classifier="mnist_classifier", batch_size: int = 500) -> dict:
    """PSNR/SSIM of the model and of bicubic, and classifier accuracy on SR, bicubic and HR.

    Args:
        model: an SR model: ``model.scale`` and ``model(lr_batch)`` in [-1, 1] (an SRGAN).
        hr: uint8 HR images ``(N, H, W, C)`` (H and W multiples of the scale).
        labels: their classes.
        classifier: a :class:`~ganzoo.evaluation.classifier.DomainClassifier` or what
            :func:`~ganzoo.evaluation.classifier.load_classifier` takes (default: the shipped MNIST one).
    Returns: a dict with :data:`SCORE_KEYS` (accuracies as fractions, PSNR in dB).
    """
    from ganzoo.evaluation.classifier import load_classifier
    from ganzoo.evaluation.sr_metrics import bicubic_upscale, psnr, ssim

    hr, labels = np.asarray(hr), np.asarray(labels)
    scale = int(model.scale)
    if hr.dtype != np.uint8 or hr.ndim != 4 or hr.shape[1] % scale or hr.shape[2] % scale:
        raise ValueError(f"HR images must be a uint8 batch (n, height, width, channels) with sides divisible by "
                         f"the scale {scale}, got {hr.dtype} {hr.shape}")
    if len(hr) == 0 or len(labels) != len(hr):
        raise ValueError(f"need one label per HR image, got {len(hr)} images and {len(labels)} labels")
    if not hasattr(classifier, "check_images"):
        classifier = load_classifier(classifier)
    lr = bicubic_downscale(hr, scale).numpy()
    sr = _upscale(model, lr, batch_size)
    bicubic = bicubic_upscale(lr, scale)
    scores = {
        "psnr": float(np.mean(psnr(hr, sr))), "ssim": float(np.mean(ssim(hr, sr))),
        "bicubic_psnr": float(np.mean(psnr(hr, bicubic))), "bicubic_ssim": float(np.mean(ssim(hr, bicubic))),
        "accuracy": _accuracy(classifier, sr, labels, batch_size),
        "bicubic_accuracy": _accuracy(classifier, bicubic, labels, batch_size),
        "hr_accuracy": _accuracy(classifier, hr, labels, batch_size),
        "images": int(len(hr)),
    }
    scores["psnr_gain"] = scores["psnr"] - scores["bicubic_psnr"]
    return {key: scores[key] for key in SCORE_KEYS}


def evaluate_digit_super_resolution(model, config, split: str = "test", limit: Optional[int] = None,
                                    data_dir: Optional[str] = None, classifier="mnist_classifier") -> dict:
    """Deprecated here: :func:`ganzoo.zoo_eval.evaluate_digit_super_resolution` (it reads the entry's data)."""
    return legacy.forward("evaluate_digit_super_resolution",
                          "ganzoo.evaluation.sr_digits.evaluate_digit_super_resolution")(
        model, config, split=split, limit=limit, data_dir=data_dir, classifier=classifier)


def digit_super_resolution_protocol(name: str, split: str, images: int, scale: int, classifier) -> str:
    """The protocol line recorded next to :func:`digit_super_resolution_scores`' numbers."""
    return (f"ganzoo.evaluation.sr_digits: TFDS {name} {split} ({images} images), "
            f"LR = antialiased bicubic /{scale} rounded to uint8; SR and bicubic "
            "upscales rounded to uint8; PSNR/SSIM on the whole grey image (no border shaved); "
            f"accuracy of the shipped classifier {classifier.name} on SR, bicubic and HR images")
